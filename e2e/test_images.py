#!/usr/bin/python3
"""Images end to end: a real registry on loopback (Debian's docker-registry), images built here
from busybox-static and pushed over the registry API, pulled by a real berth-agent into its
content-addressed store, and run on overlay root file systems. Needs root (mounts, namespaces)."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, Agent, Kubectl, wait_for  # noqa: E402
from oci_registry import Image, Registry, TokenIssuer, busybox_layers, docker_save_archive, sha256  # noqa: E402
from test_agent import PODS, SKIP, Cluster  # noqa: E402

NODE = "images-e2e"  # its own: suites run side by side under ctest -j2

if not SKIP and not shutil.which("docker-registry"):
    SKIP = "needs Debian's docker-registry (cli/install-deps.sh installs it)"


def image_pod(name, image, command=None, restart="Never", **container):
    c = {"name": "c", "image": image}
    if command is not None:
        c["command"] = command
    c.update(container)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": NODE, "restartPolicy": restart, "terminationGracePeriodSeconds": 1, "containers": [c]}}


def image_cli(*args, root_dir):
    return subprocess.run([os.path.join(BIN_DIR, "berth-agent"), "image", *args, "--root-dir", root_dir],
                          capture_output=True, text=True, timeout=120)


@unittest.skipIf(SKIP, SKIP)
class RegistryPullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.registry = Registry().start()
        cls.k = Cluster(node=NODE)
        cls.kubectl = cls.k.server.kubectl()
        # Non-root image: Entrypoint + Cmd, Env, WorkingDir, User by name.
        cls.app = Image(busybox_layers("app"), entrypoint=["/bin/sh", "-c"],
                        cmd=['echo "$GREETING $(id -u):$(id -g) $(pwd)"; cat hello.txt; '
                             'test -e /etc/removed-later || echo whiteout-applied'],
                        env=["PATH=/bin", "GREETING=hi"], workdir="/app", user="app")
        cls.app_ref = cls.registry.push("e2e/app", "v1", cls.app)
        cls.root_image = Image(busybox_layers("root"), cmd=["/bin/sh", "-c", "id -u"])
        cls.root_ref = cls.registry.push("e2e/rooted", "v1", cls.root_image)

    @classmethod
    def tearDownClass(cls):
        cls.kubectl.cleanup()
        cls.k.close()
        cls.registry.stop()

    def waiting(self, name, *reasons, timeout=30):
        return wait_for(lambda: self.k.container(name).get("state", {}).get("waiting", {}).get("reason") in reasons
                        and self.k.container(name)["state"]["waiting"], timeout=timeout,
                        what=f"{name} waiting with {reasons} (now {self.k.container(name).get('state')})")

    def test_pull_by_tag_runs_the_image_config(self):
        self.assertEqual(self.k.c.post(PODS, image_pod("by-tag", f"{self.app_ref}:v1")).status, 201)
        self.k.wait_phase("by-tag", "Succeeded", timeout=60)
        self.assertEqual(self.k.log("by-tag").splitlines(),
                         ["hi 1000:1000 /app", "hello from the image", "whiteout-applied"])
        status = self.k.container("by-tag")
        self.assertEqual(status["imageID"], f"{self.app_ref}@{self.app.digest}")
        # The agent records its events asynchronously: wait for them rather than race them.
        wait_for(lambda: f'Successfully pulled image "{self.app_ref}:v1" in' in self.kubectl.run("describe", "pod", "by-tag").stdout,
                 timeout=30, what="the pull events")
        described = self.kubectl.run("describe", "pod", "by-tag").stdout
        self.assertIn(f'Pulling image "{self.app_ref}:v1"', described)
        self.assertIn(f'Successfully pulled image "{self.app_ref}:v1" in', described)
        self.assertIn("Image size: ", described)
        node = self.k.c.get(f"/api/v1/nodes/{NODE}").json()
        wait_for(lambda: any(f"{self.app_ref}:v1" in i["names"] for i in
                             self.k.c.get(f"/api/v1/nodes/{NODE}").json()["status"].get("images", [])),
                 timeout=30, what="the image in Node.status.images")
        self.assertTrue(node)

    def test_pull_by_digest_and_command_overrides(self):
        ref = f"{self.app_ref}@{self.app.digest}"
        pod = image_pod("by-digest", ref, command=["/bin/echo"], args=["from", "args"], env=[{"name": "GREETING", "value": "x"}])
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("by-digest", "Succeeded", timeout=60)
        self.assertEqual(self.k.log("by-digest").strip(), "from args")
        listed = image_cli("ls", root_dir=self.k.agent.root_dir)
        self.assertIn(f"{self.app_ref}", listed.stdout)

    def test_writes_stay_in_the_container(self):
        script = "echo mine > /app/hello.txt; touch /etc/new-file; cat /app/hello.txt; sleep 30"
        for name in ("writer-a", "writer-b"):
            pod = image_pod(name, f"{self.app_ref}:v1", command=["/bin/sh", "-c", script if name == "writer-a" else
                                                                "sleep 1; cat /app/hello.txt; test -e /etc/new-file || echo no-new-file"],
                            restart="Never", imagePullPolicy="IfNotPresent",
                            securityContext={"runAsUser": 0})  # the image's files are root's
            self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("writer-a", "Running", timeout=60)
        wait_for(lambda: "mine" in self.k.log("writer-a"), what="writer-a's write")
        self.k.wait_phase("writer-b", "Succeeded", timeout=60)
        self.assertEqual(self.k.log("writer-b").splitlines(), ["hello from the image", "no-new-file"])
        # The image's own layers are unchanged.
        layers = os.path.join(self.k.agent.root_dir, "images", "layers", "sha256")
        found = [os.path.join(d, "app", "hello.txt") for d in (os.path.join(layers, x) for x in os.listdir(layers))
                 if os.path.exists(os.path.join(d, "app", "hello.txt"))]
        self.assertTrue(found)
        for path in found:
            with open(path) as f:
                self.assertEqual(f.read(), "hello from the image\n")
        uids = [self.k.pod(n)["metadata"]["uid"] for n in ("writer-a", "writer-b")]
        self.k.delete_and_wait("writer-a")
        self.k.delete_and_wait("writer-b")
        # Each container's writable layer goes with it (just after the pod object does).
        rootfs = os.path.join(self.k.agent.root_dir, "state", "rootfs")
        wait_for(lambda: not [d for d in os.listdir(rootfs) if d.split("_")[0] in uids], timeout=10,
                 what="the writable layers of deleted pods to go")

    def test_corrupted_blob_is_refused_and_nothing_is_kept(self):
        bad = Image(busybox_layers("corrupt"), cmd=["/bin/true"])
        ref = self.registry.push("e2e/corrupt", "v1", bad)
        self.registry.corrupt_blob(sha256(bad.layers[0]))  # the top layer is shared with the other images
        self.assertEqual(self.k.c.post(PODS, image_pod("corrupt", f"{ref}:v1")).status, 201)
        # ErrImagePull, then ImagePullBackOff until the back-off ends: both carry the cause.
        waiting = self.waiting("corrupt", "ErrImagePull", "ImagePullBackOff", timeout=60)
        self.assertIn("does not match its digest", waiting["message"])
        self.waiting("corrupt", "ImagePullBackOff", timeout=30)
        self.assertNotIn("e2e/corrupt", image_cli("ls", root_dir=self.k.agent.root_dir).stdout)
        store = os.path.join(self.k.agent.root_dir, "images")
        bad_hex = sha256(bad.layers[0]).split(":")[1]
        self.assertFalse(os.path.exists(os.path.join(store, "blobs", "sha256", bad_hex)))
        self.assertFalse(os.path.exists(os.path.join(store, "layers", "sha256", bad_hex)))
        self.assertEqual(os.listdir(os.path.join(store, "tmp")), [])
        self.k.delete_and_wait("corrupt")

    def test_run_as_non_root(self):
        ok = image_pod("nonroot-ok", f"{self.app_ref}:v1", securityContext={"runAsNonRoot": True})
        self.assertEqual(self.k.c.post(PODS, ok).status, 201)
        self.k.wait_phase("nonroot-ok", "Succeeded", timeout=60)
        refused = image_pod("nonroot-refused", f"{self.root_ref}:v1", securityContext={"runAsNonRoot": True})
        self.assertEqual(self.k.c.post(PODS, refused).status, 201)
        waiting = self.waiting("nonroot-refused", "CreateContainerConfigError", timeout=60)
        uid = self.k.pod("nonroot-refused")["metadata"]["uid"]
        self.assertEqual(waiting["message"], 'container has runAsNonRoot and image will run as root '
                                             f'(pod: "nonroot-refused_default({uid})", container: c)')
        self.k.delete_and_wait("nonroot-refused")

    def test_missing_image_says_what_the_registry_said(self):
        self.assertEqual(self.k.c.post(PODS, image_pod("absent", f"{self.registry.host}/e2e/absent:v1")).status, 201)
        waiting = self.waiting("absent", "ErrImagePull", "ImagePullBackOff", timeout=60)
        self.assertIn("MANIFEST_UNKNOWN", waiting["message"])
        self.k.delete_and_wait("absent")

    def test_import_of_a_docker_save_archive(self):
        archive = os.path.join(tempfile.mkdtemp(prefix="berth-e2e-save-"), "saved.tar")
        saved = Image(busybox_layers("saved"), cmd=["/bin/cat", "/etc/marker"])
        docker_save_archive(archive, saved, "example.com/saved:1")
        r = image_cli("import", archive, root_dir=self.k.agent.root_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("example.com/saved:1", r.stdout)
        pod = image_pod("from-archive", "example.com/saved:1", imagePullPolicy="Never")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("from-archive", "Succeeded", timeout=60)
        self.assertEqual(self.k.log("from-archive").strip(), "saved")
        shutil.rmtree(os.path.dirname(archive), ignore_errors=True)
        self.k.delete_and_wait("from-archive")
        # Not in use any more: `berth image rm` removes it (once the agent dropped its lease).
        wait_for(lambda: image_cli("rm", "example.com/saved:1", root_dir=self.k.agent.root_dir).returncode == 0,
                 timeout=40, interval=1, what="the image to be removable")
        self.assertNotIn("example.com/saved", image_cli("ls", root_dir=self.k.agent.root_dir).stdout)


def capabilities(status_text, field="CapEff"):
    """The capability numbers a /proc/<pid>/status line holds."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            mask = int(line.split()[1], 16)
            return {i for i in range(64) if mask >> i & 1}
    raise AssertionError(f"no {field} in {status_text!r}")


# containerd's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
DEFAULT_CAPS = {0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31}
NET_ADMIN, SYS_ADMIN, NET_RAW = 12, 21, 13


@unittest.skipIf(SKIP, SKIP)
class HardeningTest(unittest.TestCase):
    """containerd's defaults, read from inside the containers; the agent runs with
    --seccomp-default as berth up does."""

    @classmethod
    def setUpClass(cls):
        cls.registry = Registry().start()
        cls.k = Cluster(agent_args=["--seccomp-default"], node=NODE)
        cls.image = Image(busybox_layers("hardened"), cmd=["/bin/true"])
        cls.ref = cls.registry.push("e2e/hardened", "v1", cls.image) + ":v1"

    @classmethod
    def tearDownClass(cls):
        cls.k.close()
        cls.registry.stop()

    def run_pod(self, name, script, image=None, **container):
        pod = image_pod(name, image or self.ref, command=["/bin/sh", "-c", script], **container)
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase(name, "Succeeded", timeout=60)
        return self.k.log(name)

    def test_default_capabilities_add_and_drop(self):
        self.assertEqual(capabilities(self.run_pod("caps", "cat /proc/self/status")), DEFAULT_CAPS)
        changed = self.run_pod("caps-changed", "cat /proc/self/status",
                               securityContext={"capabilities": {"add": ["NET_ADMIN"], "drop": ["NET_RAW", "CAP_KILL"]}})
        self.assertEqual(capabilities(changed), DEFAULT_CAPS - {NET_RAW, 5} | {NET_ADMIN})
        self.assertEqual(capabilities(changed, "CapBnd"), DEFAULT_CAPS - {NET_RAW, 5} | {NET_ADMIN})
        only = self.run_pod("caps-only", "cat /proc/self/status",
                            securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}})
        self.assertEqual(capabilities(only), {10})
        privileged = self.run_pod("caps-all", "cat /proc/self/status", securityContext={"privileged": True})
        self.assertIn(SYS_ADMIN, capabilities(privileged))
        self.assertIn("Seccomp:\t0", privileged)

    def test_no_new_privs_seccomp_and_masked_paths(self):
        # /proc/kcore is masked too where the kernel has it (this one has not); /proc/keys and
        # /proc/timer_list are here.
        out = self.run_pod("masked", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; "
                                     "cat /proc/keys /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
                                     "{ echo 1 > /proc/sys/kernel/ns_last_pid; } 2>/dev/null || echo proc-sys-read-only; "
                                     "unshare -U true 2>/dev/null || echo no-user-namespaces",
                           securityContext={"allowPrivilegeEscalation": False})
        lines = [l.replace("\t", " ") for l in out.splitlines()]
        self.assertEqual(lines, ["NoNewPrivs: 1", "Seccomp: 2", "0", "0", "proc-sys-read-only", "no-user-namespaces"])
        unconfined = self.run_pod("unconfined", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
                                  securityContext={"seccompProfile": {"type": "Unconfined"}})
        self.assertEqual(unconfined.replace("\t", " ").splitlines(), ["NoNewPrivs: 0", "Seccomp: 0"])

    def test_exec_is_confined_like_the_container(self):
        pod = image_pod("exec-target", self.ref, command=["/bin/sleep", "600"],
                        securityContext={"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}, "allowPrivilegeEscalation": False})
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("exec-target", "Running", timeout=60)
        kubectl = self.k.server.kubectl()
        try:
            out = kubectl.run("exec", "exec-target", "--", "cat", "/proc/self/status").stdout
        finally:
            kubectl.cleanup()
        self.assertEqual(capabilities(out), {0})
        self.assertEqual(capabilities(out, "CapBnd"), {0})
        self.assertIn("NoNewPrivs:\t1", out)
        self.assertIn("Seccomp:\t2", out)
        self.k.delete_and_wait("exec-target")

    def test_minimal_dev(self):
        out = self.run_pod("dev", "ls /dev | tr '\\n' ' '; echo; echo x > /dev/null && head -c 4 /dev/zero | wc -c")
        self.assertEqual(out.splitlines()[0].split(),
                         sorted(["core", "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
                                 "stdout", "termination-log", "tty", "urandom", "zero"]))
        self.assertEqual(out.splitlines()[1].strip(), "4")

    def test_host_image_sees_the_host_read_only(self):
        marker = os.path.join("/tmp", f"berth-e2e-hostmark-{os.getpid()}")
        with open(marker, "w") as f:
            f.write("host\n")
        try:
            out = self.run_pod("host-ro", f"test -e {marker} || echo private-tmp; touch /etc/berth-e2e-x 2>/dev/null "
                                          "|| echo root-read-only; touch /tmp/ok && echo tmp-writable; "
                                          "grep '^Seccomp:' /proc/self/status", image="host")
            self.assertEqual(out.replace("\t", " ").splitlines(), ["private-tmp", "root-read-only", "tmp-writable", "Seccomp: 2"])
            self.assertFalse(os.path.exists("/etc/berth-e2e-x"))
            self.assertFalse(os.path.exists("/tmp/ok") and os.path.getmtime("/tmp/ok") > os.path.getmtime(marker))
        finally:
            os.unlink(marker)

    def test_unknown_capability_is_refused(self):
        pod = image_pod("badcap", self.ref, command=["/bin/true"], securityContext={"capabilities": {"add": ["NOT_A_CAP"]}})
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        waiting = wait_for(lambda: self.k.container("badcap").get("state", {}).get("waiting", {}).get("reason")
                           == "CreateContainerError" and self.k.container("badcap")["state"]["waiting"], timeout=30)
        self.assertEqual(waiting["message"], 'securityContext.capabilities.add: unknown capability "NOT_A_CAP"')
        self.k.delete_and_wait("badcap")


@unittest.skipIf(SKIP, SKIP)
class RegistryAuthAndGcTest(unittest.TestCase):
    """A registry behind htpasswd basic auth; and an agent whose image GC thresholds are low."""

    @classmethod
    def setUpClass(cls):
        cls.registry = Registry(auth=("puller", "s3cret")).start()
        cls.k = Cluster(agent_args=["--image-gc-high-threshold=1", "--image-gc-low-threshold=0",
                                    "--image-gc-min-age-seconds=0", "--image-gc-period-seconds=1"], node=NODE)
        cls.image = Image(busybox_layers("private"), cmd=["/bin/sh", "-c", "cat /etc/marker; sleep 30"])
        cls.ref = cls.registry.push("team/private", "v1", cls.image)

    @classmethod
    def tearDownClass(cls):
        cls.k.close()
        cls.registry.stop()

    def test_basic_auth_with_image_pull_secrets(self):
        self.assertEqual(self.k.c.post(PODS, image_pod("no-secret", f"{self.ref}:v1")).status, 201)
        waiting = wait_for(lambda: self.k.container("no-secret").get("state", {}).get("waiting", {}).get("reason")
                           in ("ErrImagePull", "ImagePullBackOff") and self.k.container("no-secret")["state"]["waiting"],
                           timeout=60, what="the pull to fail")
        self.assertIn("401", waiting["message"])
        auth = base64.b64encode(b"puller:s3cret").decode()
        config = json.dumps({"auths": {f"http://{self.registry.host}/v2/": {"auth": auth}}})
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
                  "type": "kubernetes.io/dockerconfigjson",
                  "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}}
        self.assertEqual(self.k.c.post("/api/v1/namespaces/default/secrets", secret).status, 201)
        pod = image_pod("with-secret", f"{self.ref}:v1", restart="Never")
        pod["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("with-secret", "Running", timeout=60)
        wait_for(lambda: "private" in self.k.log("with-secret"), what="the private image's output")
        self.k.delete_and_wait("no-secret")

        # GC: with thresholds this low every unused image goes; the running pod's stays.
        other = Image(busybox_layers("unused"), cmd=["/bin/true"])
        other_ref = self.registry.push("team/unused", "v1", other)
        store = os.path.join(self.k.agent.root_dir)
        r = subprocess.run([os.path.join(BIN_DIR, "berth-agent"), "image", "pull", f"{other_ref}:v1", "--root-dir", store,
                            "--registry-config", self.write_registry_config()], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: "team/unused" not in image_cli("ls", root_dir=store).stdout, timeout=30,
                 what="image GC to remove the unused image")
        self.assertIn("team/private", image_cli("ls", root_dir=store).stdout)
        self.k.delete_and_wait("with-secret")
        wait_for(lambda: "team/private" not in image_cli("ls", root_dir=store).stdout, timeout=30,
                 what="image GC to remove the image once its pod is gone")
        self.assertEqual(os.listdir(os.path.join(store, "images", "layers", "sha256")), [])

    def test_bearer_token_flow(self):
        """A registry behind Docker's token authentication: the agent follows the challenge to the
        realm, authenticates there with the pull secret, and pulls with the token."""
        registry = Registry(auth=("robot", "t0ken-pass"), token=True).start()
        try:
            ref = registry.push("team/tokened", "v1", Image(busybox_layers("tokened"), cmd=["/bin/cat", "/etc/marker"]))
            auth = base64.b64encode(b"robot:t0ken-pass").decode()
            config = json.dumps({"auths": {registry.host: {"auth": auth}}})
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tokencred"},
                      "type": "kubernetes.io/dockerconfigjson",
                      "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}}
            self.assertEqual(self.k.c.post("/api/v1/namespaces/default/secrets", secret).status, 201)
            pod = image_pod("tokened", f"{ref}:v1")
            pod["spec"]["imagePullSecrets"] = [{"name": "tokencred"}]
            self.assertEqual(self.k.c.post(PODS, pod).status, 201)
            self.k.wait_phase("tokened", "Succeeded", timeout=60)
            self.assertEqual(self.k.log("tokened").strip(), "tokened")
            agent_requests = [q for q in registry.issuer.requests if q.get("scope") == ["repository:team/tokened:pull"]]
            self.assertTrue(agent_requests, registry.issuer.requests)
            self.assertEqual(agent_requests[0].get("service"), [TokenIssuer.SERVICE])
            self.k.delete_and_wait("tokened")
        finally:
            registry.stop()

    def write_registry_config(self):
        path = os.path.join(self.k.agent.root_dir, "registries.yaml")
        with open(path, "w") as f:
            f.write(f'registries:\n  "{self.registry.host}":\n    username: puller\n    password: s3cret\n')
        return path


if __name__ == "__main__":
    unittest.main(verbosity=2)
