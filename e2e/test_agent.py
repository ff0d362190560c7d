#!/usr/bin/python3
"""The agent end to end on this machine: real berth-apiserver and berth-agent processes, real
namespaces and cgroups (root). Each test says what it needs; without root or the cgroup v1/v2
controllers the suite is skipped with the reason."""
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, Agent, ApiServer, own_cgroup_dirs, wait_for  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
NODE = "agent-e2e"


def cgroups_usable():
    if os.geteuid() != 0:
        return "needs root (namespaces, cgroups)"
    with open("/proc/self/cgroup") as f:
        text = f.read()
    if ":memory:" not in text and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "no memory cgroup controller here"
    return None


SKIP = cgroups_usable()


def shell_pod(name, script, node=NODE, restart="Always", **container):
    c = {"name": "c", "image": "host", "command": ["/bin/sh", "-c", script]}
    c.update(container)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": restart, "terminationGracePeriodSeconds": 2, "containers": [c]}}


class Cluster:
    def __init__(self, agent_args=(), node=NODE):
        # Suites that may run at the same time (ctest -j) need their own node names: an agent's
        # cgroups and its clean-up are named after its node.
        self.server = ApiServer().start()
        self.c = self.server.client()
        self.server.publish_namespace_defaults()
        self.agent = Agent(self.server, node, extra_args=list(agent_args)).start()

    def pod(self, name):
        r = self.c.get(f"{PODS}/{name}")
        return r.json() if r.status == 200 else None

    def status_of(self, name):
        p = self.pod(name)
        return p.get("status", {}) if p else {}

    def container(self, name):
        cs = self.status_of(name).get("containerStatuses") or [{}]
        return cs[0]

    def wait_phase(self, name, phase, timeout=30):
        return wait_for(lambda: self.status_of(name).get("phase") == phase and self.status_of(name), timeout=timeout,
                        what=f"{name} to be {phase} (now {self.status_of(name).get('phase')})")

    def log(self, name, query=""):
        r = self.c.get(f"{PODS}/{name}/log{query}")
        return r.body.decode() if isinstance(r.body, bytes) else r.body

    def main_pid(self, name):
        """Host PID of the pod's main process: the child of the container's init."""
        uid = self.pod(name)["metadata"]["uid"]
        cp = self.agent.checkpoints()[f"{uid}_c"]
        with open(f"/proc/{cp['pid']}/task/{cp['pid']}/children") as f:
            return int(f.read().split()[0])

    def delete_and_wait(self, name):
        self.c.delete(f"{PODS}/{name}")
        wait_for(lambda: self.c.get(f"{PODS}/{name}").status == 404, timeout=30, what=f"{name} to be gone")

    def close(self):
        self.agent.cleanup()
        self.server.cleanup()


@unittest.skipIf(SKIP, SKIP)
class AgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Cluster(["--pod-pids-limit", "64"])

    @classmethod
    def tearDownClass(cls):
        cls.k.close()

    def test_node_is_registered_with_lease_and_node_info(self):
        node = self.k.c.get(f"/api/v1/nodes/{NODE}").json()
        info = node["status"]["nodeInfo"]
        for field in ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion",
                      "kubeletVersion", "kubeProxyVersion", "operatingSystem", "architecture"):
            self.assertIn(field, info)
        self.assertEqual(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], self.k.agent.port)
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"][0]
        self.assertEqual(ready["status"], "True")
        self.assertEqual({c["type"] for c in node["status"]["conditions"]},
                         {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"})
        lease = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}"
        first = wait_for(lambda: self.k.c.get(lease).status == 200 and self.k.c.get(lease).json(), what="the node Lease")
        wait_for(lambda: self.k.c.get(lease).json()["spec"]["renewTime"] != first["spec"]["renewTime"], timeout=10,
                 what="a Lease renewal")

    def test_pid_namespace_hostname_env_and_logs(self):
        pod = shell_pod("who", "echo pid=$$$$ ppid=$PPID; hostname; echo node=$NODE; ps -e | wc -l; sleep 30",
                        env=[{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}])
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("who", "Running")
        log = wait_for(lambda: len(self.k.log("who").splitlines()) >= 4 and self.k.log("who"), what="the log")
        lines = log.splitlines()
        self.assertEqual(lines[0], "pid=2 ppid=1", "the shell is the init's child in a PID namespace of its own")
        self.assertEqual(lines[1], "who", "the hostname is the pod's name")
        self.assertEqual(lines[2], f"node={NODE}")
        self.assertLessEqual(int(lines[3]), 5, "only the container's processes are visible")
        self.assertTrue(self.k.container("who")["ready"])
        self.assertEqual(self.k.container("who")["state"]["running"].keys(), {"startedAt"})

    def test_logs_follow_tail_and_timestamps_through_the_apiserver_with_curl(self):
        pod = shell_pod("talker", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; sleep 1", restart="Never")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        wait_for(lambda: self.k.container("talker").get("state", {}).get("running"), what="talker to run")
        out = subprocess.run(self.k.server.curl("-N", f"{PODS}/talker/log?follow=true"), capture_output=True, text=True,
                             timeout=30).stdout
        self.assertEqual(out.splitlines(), [f"line {i}" for i in range(1, 6)])
        self.k.wait_phase("talker", "Succeeded")
        tail = self.k.log("talker", "?tailLines=2&timestamps=true").splitlines()
        self.assertEqual([line.split(" ", 1)[1] for line in tail], ["line 4", "line 5"])
        self.assertRegex(tail[0].split(" ")[0], r"^\d{4}-\d\d-\d\dT.*Z$")
        term = self.k.container("talker")["state"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"]), (0, "Completed"))

    def test_memory_hog_ends_oom_killed(self):
        pod = shell_pod("hog", "exec tail /dev/zero", restart="Never",
                        resources={"limits": {"memory": "32Mi", "cpu": "500m"}})
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        st = self.k.wait_phase("hog", "Failed")
        term = st["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual((term["reason"], term["exitCode"]), ("OOMKilled", 137))

    def test_cpu_limit_holds_a_spinner_near_its_quota(self):
        script = ("/usr/bin/python3 -c \"import time,os\nt=time.time(); c=time.process_time()\n"
                  "while time.time()-t<2: pass\nprint('share %.3f' % ((time.process_time()-c)/(time.time()-t)))\"")
        pod = shell_pod("spinner", script, restart="Never", resources={"limits": {"cpu": "200m"}})
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("spinner", "Succeeded", timeout=30)
        share = float(self.k.log("spinner").split()[-1])
        self.assertGreater(share, 0.05)  # other tests may share the two cores
        self.assertLess(share, 0.35, "a 200m limit is about a fifth of a CPU")

    def test_fork_bomb_stops_at_the_pids_limit(self):
        script = ("/usr/bin/python3 -c \"import os,time\nn=0\ntry:\n  while n<1000:\n"
                  "    if os.fork()==0:\n      time.sleep(20); os._exit(0)\n    n+=1\n"
                  "except OSError as e:\n  print('stopped', n, e.errno)\"")
        pod = shell_pod("bomb", script, restart="Never")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("bomb", "Succeeded", timeout=30)
        words = self.k.log("bomb").split()
        self.assertEqual(words[0], "stopped", words)
        self.assertLess(int(words[1]), 64)
        self.assertEqual(int(words[2]), 11, "EAGAIN from fork at the pids limit")

    def test_killed_container_is_restarted_and_counted(self):
        self.assertEqual(self.k.c.post(PODS, shell_pod("victim", "sleep 300")).status, 201)
        self.k.wait_phase("victim", "Running")
        os.kill(self.k.main_pid("victim"), signal.SIGKILL)
        cs = wait_for(lambda: self.k.container("victim").get("restartCount") == 1
                      and self.k.container("victim")["state"].get("running") and self.k.container("victim"),
                      timeout=20, what="the restart")
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 137)
        self.assertEqual(cs["lastState"]["terminated"]["signal"], 9)

    def test_liveness_failure_restarts_and_readiness_failure_unreadies(self):
        live = shell_pod("unhealthy", "touch /probe/ok; sleep 1; rm /probe/ok; sleep 300",
                         livenessProbe={"exec": {"command": ["cat", "/probe/ok"]}, "periodSeconds": 1,
                                        "failureThreshold": 1},
                         volumeMounts=[{"name": "probe", "mountPath": "/probe"}])
        live["spec"]["volumes"] = [{"name": "probe", "emptyDir": {}}]
        self.assertEqual(self.k.c.post(PODS, live).status, 201)
        unready = shell_pod("unready", "sleep 300",
                            readinessProbe={"httpGet": {"path": "/", "port": 1}, "periodSeconds": 1})
        self.assertEqual(self.k.c.post(PODS, unready).status, 201)
        wait_for(lambda: self.k.container("unhealthy").get("restartCount", 0) >= 1, timeout=30,
                 what="a restart after the liveness probe failed")
        st = self.k.wait_phase("unready", "Running")
        ready = {c["type"]: c["status"] for c in st["conditions"]}
        self.assertEqual((ready["Ready"], ready["ContainersReady"]), ("False", "False"))
        self.assertFalse(self.k.container("unready")["ready"])

    def test_configmap_volume_and_env(self):
        cm = {"metadata": {"name": "settings"}, "data": {"greeting": "hello", "color": "blue"}}
        self.assertEqual(self.k.c.post("/api/v1/namespaces/default/configmaps", cm).status, 201)
        pod = shell_pod("configured", "echo env=$GREETING; while true; do echo file=$(cat /etc/settings/color); sleep 0.2; done",
                        env=[{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "greeting"}}}],
                        volumeMounts=[{"name": "cfg", "mountPath": "/etc/settings", "readOnly": True}])
        pod["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "settings"}}]
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        wait_for(lambda: "file=blue" in self.k.log("configured"), timeout=30, what="the mounted file")
        self.assertIn("env=hello", self.k.log("configured"))
        self.assertFalse(os.path.exists("/etc/settings/color"), "the mount stays in the container")
        self.k.c.patch("/api/v1/namespaces/default/configmaps/settings", {"data": {"color": "red"}})
        wait_for(lambda: "file=red" in self.k.log("configured", "?tailLines=3"), timeout=30,
                 what="the updated file inside the running container")

    def test_secret_volume_run_as_user_and_active_deadline(self):
        secret = {"metadata": {"name": "creds"}, "data": {"token": "czNjcjN0"}}  # "s3cr3t"
        self.assertEqual(self.k.c.post("/api/v1/namespaces/default/secrets", secret).status, 201)
        pod = shell_pod("unprivileged", "id -u; id -g; cat /var/run/creds/token; echo", restart="Never",
                        securityContext={"runAsUser": 65534, "runAsGroup": 65534},
                        volumeMounts=[{"name": "creds", "mountPath": "/var/run/creds", "readOnly": True}])
        pod["spec"]["volumes"] = [{"name": "creds", "secret": {"secretName": "creds"}}]
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("unprivileged", "Succeeded")
        self.assertEqual(self.k.log("unprivileged").splitlines(), ["65534", "65534", "s3cr3t"])
        bounded = shell_pod("bounded", "sleep 600", restart="Never")
        bounded["spec"]["activeDeadlineSeconds"] = 1
        self.assertEqual(self.k.c.post(PODS, bounded).status, 201)
        st = self.k.wait_phase("bounded", "Failed", timeout=20)
        self.assertEqual(st["reason"], "DeadlineExceeded")

    def test_dns_fields_an_agent_off_the_pod_network_cannot_apply_are_told(self):
        # This agent runs no pod network: the pod shares the node's /etc/hosts and resolv.conf.
        pod = shell_pod("aliased", "sleep 30")
        pod["spec"]["hostAliases"] = [{"ip": "10.1.2.3", "hostnames": ["db.example"]}]
        pod["spec"]["dnsConfig"] = {"searches": ["corp.example"]}
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("aliased", "Running")

        def told():
            items = self.k.c.get("/api/v1/namespaces/default/events").json()["items"]
            return [e for e in items if e["involvedObject"].get("name") == "aliased" and e["reason"] == "PodNetworkFieldsNotApplied"]
        event = wait_for(told, what="the PodNetworkFieldsNotApplied event")[0]
        self.assertEqual(event["type"], "Warning")
        self.assertEqual(event["message"], f"spec.dnsConfig and spec.hostAliases not applied: node {NODE} runs pods on its own "
                                           "network (its agent has no --pod-network=bridge)")
        self.k.delete_and_wait("aliased")

    def test_missing_image_and_configmap_say_why(self):
        # Never: no registry is asked (tests reach nothing beyond loopback).
        self.assertEqual(self.k.c.post(PODS, shell_pod("noimage", "true", image="busybox:1.36", imagePullPolicy="Never")).status, 201)
        waiting = wait_for(lambda: self.k.container("noimage").get("state", {}).get("waiting", {}).get("reason")
                           == "ErrImageNeverPull" and self.k.container("noimage")["state"]["waiting"], what="the waiting reason")
        self.assertEqual(waiting["message"], 'Container image "busybox:1.36" is not present with pull policy of Never')
        pod = shell_pod("nocm", "true", env=[{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}])
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        waiting = wait_for(lambda: self.k.container("nocm").get("state", {}).get("waiting", {}).get("reason")
                           == "CreateContainerConfigError" and self.k.container("nocm")["state"]["waiting"], what="the reason")
        self.assertIn("absent", waiting["message"])

    def test_deleting_a_pod_leaves_no_process_or_cgroup(self):
        pod = shell_pod("doomed", "trap 'exit 0' TERM; sleep 300 & wait")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("doomed", "Running")
        uid = self.k.pod("doomed")["metadata"]["uid"]
        init_pid = self.k.agent.checkpoints()[f"{uid}_c"]["pid"]
        main_pid = self.k.main_pid("doomed")
        self.k.delete_and_wait("doomed")
        for pid in (init_pid, main_pid):
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"process {pid} is gone")
        for d in own_cgroup_dirs(f"berth-agent-{NODE}"):
            self.assertFalse(os.path.exists(os.path.join(d, f"{uid}_c")), d)
        with open("/proc/self/mounts") as f:
            self.assertNotIn(uid, f.read())
        self.assertFalse(os.path.exists(os.path.join(self.k.agent.root_dir, "pods", uid)))


def minimal_rootfs(path, marker):
    """A root file system with just dash, cat and libc: enough to prove a container sees only it."""
    for binary in ("/bin/dash", "/bin/cat"):
        os.makedirs(os.path.join(path, "bin"), exist_ok=True)
        shutil.copy2(binary, os.path.join(path, "bin", os.path.basename(binary)))
    os.symlink("dash", os.path.join(path, "bin", "sh"))
    for lib in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"):
        dest = os.path.join(path, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dest)
    os.makedirs(os.path.join(path, "etc"), exist_ok=True)
    with open(os.path.join(path, "etc", "marker"), "w") as f:
        f.write(marker + "\n")


def oci_layout(path, layers):
    """An OCI image layout whose layers are the given {name: bytes-or-None} maps (None: a whiteout)."""
    os.makedirs(os.path.join(path, "blobs", "sha256"))

    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(path, "blobs", "sha256", digest), "wb") as f:
            f.write(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    descs = []
    for i, layer in enumerate(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, content in layer.items():
                if isinstance(content, str) and os.path.isdir(content):
                    tar.add(content, arcname=name)
                    continue
                info = tarfile.TarInfo(name)
                data = content or b""
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        data = gzip.compress(buf.getvalue()) if i % 2 else buf.getvalue()
        d = blob(data)
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if i % 2 else "")
        descs.append(d)
    config = blob(b"{}")
    manifest = blob(json.dumps({"schemaVersion": 2, "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                                "layers": descs}).encode())
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(manifest, mediaType="application/vnd.oci.image.manifest.v1+json")]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')


@unittest.skipIf(SKIP, SKIP)
class AgentImagesAndHollowNodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.k = Cluster()
        cls.tmp = tempfile.mkdtemp(prefix="berth-images-")

    @classmethod
    def tearDownClass(cls):
        cls.k.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def import_image(self, ref, source):
        r = subprocess.run([os.path.join(BIN_DIR, "berth-agent"), "image", "import", source, ref, "--root-dir", self.k.agent.root_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_image_root_is_entered_with_pivot_root(self):
        rootfs = os.path.join(self.tmp, "mini")
        minimal_rootfs(rootfs, "from-image")
        layout = os.path.join(self.tmp, "mini-layout")
        oci_layout(layout, [{".": rootfs}])
        self.import_image("mini:1", layout)
        pod = shell_pod("imaged", "cat /etc/marker; echo /*", image="mini:1", restart="Never", imagePullPolicy="Never")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("imaged", "Succeeded")
        lines = self.k.log("imaged").splitlines()
        self.assertEqual(lines[0], "from-image")
        self.assertNotIn("/usr", lines[1].split(), "the host's file system is out of sight")
        self.assertIn("/proc", lines[1].split())

    def test_oci_layout_layers_and_whiteouts(self):
        base = os.path.join(self.tmp, "oci-base")
        minimal_rootfs(base, "base")
        layout = os.path.join(self.tmp, "layout")
        oci_layout(layout, [{".": base, "etc/old": b"old\n"},
                            {"etc/.wh.old": None, "etc/new": b"new\n"}])
        self.import_image("layered:v2", layout)
        pod = shell_pod("layered", "cat /etc/new; test -e /etc/old || echo whiteout-applied; cat /etc/marker",
                        image="layered:v2", restart="Never", imagePullPolicy="IfNotPresent")
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("layered", "Succeeded")
        self.assertEqual(self.k.log("layered").splitlines(), ["new", "whiteout-applied", "base"])

    def test_isolated_network_has_only_loopback(self):
        pod = shell_pod("netns", "cat /proc/net/dev | tail -n +3 | cut -d: -f1", restart="Never")
        pod["metadata"]["annotations"] = {"berth.dev/network": "isolated"}
        self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        self.k.wait_phase("netns", "Succeeded")
        self.assertEqual([x.strip() for x in self.k.log("netns").splitlines()], ["lo"])

    def test_hollow_nodes_register_and_run_pods(self):
        # One process speaking for twenty nodes is a test device (kubemark's hollow nodes): no
        # single node identity fits it, so it runs as the admin.
        hollow = Agent(self.k.server, "hollow", extra_args=["--runtime=fake", "--hollow-nodes", "20"],
                       identity=("system:admin", ["system:masters"])).start()
        try:
            def ready_nodes():
                items = self.k.c.get("/api/v1/nodes?labelSelector=").json()["items"]
                return [n for n in items if n["metadata"]["name"].startswith("hollow-")
                        and any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])]
            wait_for(lambda: len(ready_nodes()) == 20, timeout=20, what="20 hollow nodes")
            self.assertEqual(self.k.c.post(PODS, shell_pod("on-hollow", "sleep 1", node="hollow-7")).status, 201)
            self.k.wait_phase("on-hollow", "Running")
            done = shell_pod("job-on-hollow", "true", node="hollow-3", restart="Never",
                             env=[{"name": "BERTH_FAKE_EXIT", "value": "0"}])
            self.assertEqual(self.k.c.post(PODS, done).status, 201)
            self.k.wait_phase("job-on-hollow", "Succeeded")
            self.k.delete_and_wait("on-hollow")
        finally:
            hollow.cleanup()


@unittest.skipIf(SKIP, SKIP)
class AgentRecoveryTest(unittest.TestCase):
    def setUp(self):
        self.k = Cluster()

    def tearDown(self):
        self.k.close()

    def test_agent_kill9_readopts_running_containers(self):
        names = [f"keep-{i}" for i in range(10)]
        for n in names:
            self.assertEqual(self.k.c.post(PODS, shell_pod(n, "sleep 600")).status, 201)
        for n in names:
            self.k.wait_phase(n, "Running")
        before = {n: self.k.main_pid(n) for n in names}
        self.k.agent.stop(signal.SIGKILL)
        for pid in before.values():
            self.assertTrue(os.path.exists(f"/proc/{pid}"), "containers outlive their agent")
        started = time.monotonic()
        self.k.agent.start()
        # Re-adopted: same processes, nothing restarted, statuses unchanged.
        self.assertEqual(self.k.c.post(PODS, shell_pod("after", "sleep 600")).status, 201)
        self.k.wait_phase("after", "Running")
        readopt = time.monotonic() - started
        for n in names:
            self.assertEqual(self.k.main_pid(n), before[n])
            cs = self.k.container(n)
            self.assertEqual(cs["restartCount"], 0)
            self.assertIn("running", cs["state"])
        self.assertLess(readopt, 10)
        print(f"\nre-adopted 10 running pods and started a new one within {readopt:.2f} s", file=sys.stderr)

    def test_after_a_reboot_like_loss_pods_are_restarted_per_policy(self):
        self.assertEqual(self.k.c.post(PODS, shell_pod("boot-always", "sleep 600")).status, 201)
        self.assertEqual(self.k.c.post(PODS, shell_pod("boot-never", "sleep 600", restart="Never")).status, 201)
        for n in ("boot-always", "boot-never"):
            self.k.wait_phase(n, "Running")
        old_pid = self.k.main_pid("boot-always")
        # A reboot, as far as the agent can tell: it dies, every container dies with it, and the
        # records in its state dir are gone (they are not fsynced: they outlive agents, not boots).
        inits = [cp["pid"] for cp in self.k.agent.checkpoints().values() if cp.get("state") == "running"]
        self.k.agent.stop(signal.SIGKILL)
        for pid in inits:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z"
                                 for p in inits), what="the containers to die")
        shutil.rmtree(os.path.join(self.k.agent.root_dir, "state"))
        self.k.agent.start()
        # Always: started again, the loss counted as a restart (the kubelet's ContainerStatusUnknown).
        cs = wait_for(lambda: (lambda c: c if "running" in c.get("state", {}) and c.get("restartCount") == 1 else None)(
            self.k.container("boot-always")), timeout=30, what="boot-always to run again")
        self.assertEqual(cs["lastState"]["terminated"]["reason"], "ContainerStatusUnknown")
        self.assertNotEqual(self.k.main_pid("boot-always"), old_pid)
        # Never: not run again; the pod fails with the lost run as its container's end.
        st = self.k.wait_phase("boot-never", "Failed", timeout=30)
        term = st["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual((term["exitCode"], term["reason"]), (137, "ContainerStatusUnknown"))
        uid = self.k.pod("boot-never")["metadata"]["uid"]
        self.assertNotIn(f"{uid}_c", self.k.agent.checkpoints(), "nothing was launched for the Never pod")

    def test_sigterm_leaves_containers_running_for_the_next_agent(self):
        self.k.agent.stop()
        self.k.agent.drain = False
        self.k.agent.start()
        self.assertEqual(self.k.c.post(PODS, shell_pod("stays", "sleep 600")).status, 201)
        self.k.wait_phase("stays", "Running")
        pid = self.k.main_pid("stays")
        self.assertEqual(self.k.agent.stop(signal.SIGTERM), 0, "a clean exit")
        self.assertTrue(os.path.exists(f"/proc/{pid}"), "SIGTERM without --drain leaves the containers running")
        self.k.agent.drain = True
        self.k.agent.start()
        wait_for(lambda: self.k.container("stays").get("state", {}).get("running"), what="the container, re-adopted")
        self.assertEqual(self.k.main_pid("stays"), pid)
        self.assertEqual(self.k.container("stays")["restartCount"], 0)
        self.assertEqual(self.k.agent.stop(signal.SIGTERM), 0)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="--drain to stop the container")

    def test_exits_during_an_apiserver_outage_are_all_reported(self):
        codes = {f"exit-{i}": i + 3 for i in range(3)}
        gates = {}
        for n, code in codes.items():
            pod = shell_pod(n, f"while [ ! -f /gate/go ]; do sleep 0.05; done; exit {code}", restart="Never",
                            volumeMounts=[{"name": "gate", "mountPath": "/gate"}])
            pod["spec"]["volumes"] = [{"name": "gate", "emptyDir": {}}]
            self.assertEqual(self.k.c.post(PODS, pod).status, 201)
        for n in codes:
            self.k.wait_phase(n, "Running")
            gates[n] = os.path.join(self.k.agent.root_dir, "pods", self.k.pod(n)["metadata"]["uid"], "volumes", "gate", "go")
        port = self.k.server.port
        self.k.server.stop()
        for gate in gates.values():
            open(gate, "w").close()  # the containers exit while nobody can hear them
        time.sleep(30)  # the outage the issue asks for; the agent keeps the statuses and retries
        self.k.server.start(port=port)
        for n, code in codes.items():
            st = self.k.wait_phase(n, "Failed", timeout=30)
            term = st["containerStatuses"][0]["state"]["terminated"]
            self.assertEqual((term["exitCode"], term["reason"]), (code, "Error"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
