#!/usr/bin/python3
"""No input can break the cluster: objects that once were stored and then stopped every
controller, broke clients or confused the agent are refused with 422/400 naming the field, or
handled while the controllers stay up; fields Berth stores but does not act on are warned about
(kubectl prints the warning); the agent tells what happened as Events that `kubectl describe`
shows. One `berth up` cluster is shared by the whole file."""
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BerthUp, Client, rss_kb, wait_for  # noqa: E402

SKIP = None if os.geteuid() == 0 else "the agent needs root (namespaces, cgroups)"
CLUSTER = None
NS = "/api/v1/namespaces/default"


def setUpModule():
    global CLUSTER
    if SKIP:
        return
    CLUSTER = BerthUp(node_name="robust-node").start()


def tearDownModule():
    if CLUSTER:
        CLUSTER.stop()


def pod(name, container_extra=None, spec_extra=None, command=None):
    c = {"name": "c", "image": "host", "command": command or ["sleep", "3600"]}
    c.update(container_extra or {})
    spec = {"terminationGracePeriodSeconds": 1, "containers": [c]}
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def causes(resp):
    return [c.get("field") for c in resp.json().get("details", {}).get("causes", [])]


# --- a tiny protobuf writer, as kubectl's generators encode bodies ---
def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_bytes(number, data):
    return varint(number << 3 | 2) + varint(len(data)) + data


def protobuf_configmap(name, key, value):
    meta = field_bytes(1, name)
    raw = field_bytes(1, meta) + field_bytes(2, field_bytes(1, key) + field_bytes(2, value))
    type_meta = field_bytes(1, b"v1") + field_bytes(2, b"ConfigMap")
    return b"k8s\x00" + field_bytes(1, type_meta) + field_bytes(2, raw)


@unittest.skipIf(SKIP, SKIP)
class PoisonTest(unittest.TestCase):
    """Each object here was once accepted and then broke something."""

    def setUp(self):
        self.c = CLUSTER.client()

    def assert_refused(self, path, body, field, code=422, content_type="application/json"):
        r = self.c.post(path, body, content_type=content_type)
        self.assertEqual(r.status, code, r)
        if field:
            self.assertIn(field, causes(r), r)
        return r

    def test_quantities_and_integers_are_checked_at_admission(self):
        for cpu in [".", "1.5.3", "x"]:
            self.assert_refused(f"{NS}/pods", pod("q", {"resources": {"limits": {"cpu": cpu}}}),
                                "spec.containers[0].resources.limits.cpu")
        self.assert_refused(f"{NS}/pods", pod("q", {"resources": {"requests": {"memory": "10Gb"}}}),
                            "spec.containers[0].resources.requests.memory")
        for grace in ["18446744073709551617", "1e18"]:
            body = json.dumps(pod("g")).replace('"terminationGracePeriodSeconds": 1', f'"terminationGracePeriodSeconds": {grace}')
            self.assert_refused(f"{NS}/pods", body, "spec.terminationGracePeriodSeconds")

    def test_old_affinity_shape_is_refused(self):
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]}]}}
        self.assert_refused(f"{NS}/pods", pod("aff", spec_extra={"affinity": affinity}),
                            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution")

    def test_daemonset_with_bad_max_unavailable_is_refused(self):
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "bad-ds"},
              "spec": {"selector": {"matchLabels": {"a": "ds"}},
                       "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "x%"}},
                       "template": {"metadata": {"labels": {"a": "ds"}}, "spec": pod("x")["spec"]}}}
        self.assert_refused("/apis/apps/v1/namespaces/default/daemonsets", ds,
                            "spec.updateStrategy.rollingUpdate.maxUnavailable")

    def test_configmap_keys_and_size(self):
        for key in ["../../etc/x", "a/b", "", "k\u0000z", "k" * 300]:
            self.assert_refused(f"{NS}/configmaps", {"metadata": {"name": "cm"}, "data": {key: "v"}}, None)
        self.assert_refused(f"{NS}/configmaps", {"metadata": {"name": "cm"}, "data": {"k": "v"}, "binaryData": {"k": "dg=="}},
                            "binaryData[k]")
        r = self.assert_refused(f"{NS}/configmaps", {"metadata": {"name": "cm"}, "data": {"k": "x" * (1024 * 1024 + 1)}}, None)
        self.assertIn("1048576", r.json()["message"])
        self.assertEqual(self.c.get(f"{NS}/configmaps/cm").status, 404)

    def test_invalid_utf8_is_refused_for_yaml_and_protobuf(self):
        yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: latin1}\ndata: {k: caf\xe9}\n"
        r = self.c.post(f"{NS}/configmaps", yaml_body, content_type="application/yaml")
        self.assertEqual(r.status, 400, r)
        self.assertIn("UTF-8", r.json()["message"])
        r = self.c.post(f"{NS}/configmaps", protobuf_configmap(b"latin1", b"k", b"caf\xe9"),
                        content_type="application/vnd.kubernetes.protobuf")
        self.assertEqual(r.status, 400, r)
        self.assertIn("UTF-8", r.json()["message"])
        self.assertIn("data.k", r.json()["message"])
        # The same body in valid UTF-8 is accepted: the refusal is about encoding only.
        r = self.c.post(f"{NS}/configmaps", protobuf_configmap(b"utf8", b"k", "café".encode()),
                        content_type="application/vnd.kubernetes.protobuf")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.c.get(f"{NS}/configmaps/latin1").status, 404)

    def test_json_patch_copy_bomb_is_refused_and_memory_stays_bounded(self):
        self.assertEqual(self.c.post(f"{NS}/configmaps", {"metadata": {"name": "bomb"},
                                                           "data": {"seed": "x" * 100}}).status, 201)
        # Each copy doubles /x: 30 of them in a 3 KB patch would need 100 GB.
        ops = [{"op": "add", "path": "/x", "value": {"s": "x" * 100}}]
        ops += [{"op": "copy", "from": "/x", "path": f"/x/c{i}"} for i in range(30)]
        pid = CLUSTER.component_pid("berth-apiserver")
        before = rss_kb(pid)
        r = self.c.patch(f"{NS}/configmaps/bomb", ops, content_type="application/json-patch+json")
        self.assertEqual(r.status, 422, r)
        self.assertIn("copy", r.json()["message"])
        self.assertLess(rss_kb(pid) - before, 200 * 1024, "the apiserver grew by more than 200 MiB")
        too_many = [{"op": "test", "path": "/data/seed", "value": "x" * 100}] * 10001
        r = self.c.patch(f"{NS}/configmaps/bomb", too_many, content_type="application/json-patch+json")
        self.assertEqual(r.status, 422, r)
        self.assertIn("10000", r.json()["message"])

    def test_many_keys_decode_in_linear_time_and_are_refused_cleanly(self):
        body = '{"metadata":{"name":"wide","labels":{' + ",".join(f'"k{i}":"v"' for i in range(100000)) + "}}}"
        r = self.c.post(f"{NS}/configmaps", body, timeout=20)
        self.assertIn(r.status, (201, 422), r)  # answered well within the timeout, either way

    def test_dry_run_values_other_than_all_are_refused_and_change_nothing(self):
        self.assertEqual(self.c.post(f"{NS}/configmaps", {"metadata": {"name": "keep"}}).status, 201)
        r = self.c.delete(f"{NS}/configmaps/keep?dryRun=bogus")
        self.assertEqual(r.status, 400, r)
        self.assertIn("dryRun", r.json()["message"])
        self.assertEqual(self.c.get(f"{NS}/configmaps/keep").status, 200)
        r = self.c.post(f"{NS}/configmaps?dryRun=all", {"metadata": {"name": "nope"}})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.c.get(f"{NS}/configmaps/nope").status, 404)

    def test_indexed_jobs_are_refused_not_run_wrong(self):
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "indexed"},
               "spec": {"completionMode": "Indexed", "completions": 3, "parallelism": 3,
                        "template": {"spec": {"restartPolicy": "Never", "containers": [
                            {"name": "c", "image": "host", "command": ["true"]}]}}}}
        r = self.assert_refused("/apis/batch/v1/namespaces/default/jobs", job, "spec.completionMode")
        self.assertIn("Indexed", r.json()["message"])

    def test_controllers_stay_up_and_converge_after_the_poison(self):
        # Metrics address printed by the controller-manager that berth up started.
        with open(os.path.join(CLUSTER.data_dir, "controller-manager.stdout")) as f:
            match = re.search(r"serving metrics on http://([\d.]+):(\d+)", f.read())
        self.assertIsNotNone(match)
        cm = Client(match.group(1), int(match.group(2)))
        self.assertEqual(cm.get("/healthz").status, 200)
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "after-poison"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "after-poison"}},
                           "template": {"metadata": {"labels": {"app": "after-poison"}}, "spec": pod("x")["spec"]}}}
        self.assertEqual(self.c.post("/apis/apps/v1/namespaces/default/deployments", deploy).status, 201)

        def available():
            d = self.c.get("/apis/apps/v1/namespaces/default/deployments/after-poison").json()
            return d.get("status", {}).get("availableReplicas") == 2
        wait_for(available, timeout=60, what="the Deployment created after the poison to be available")
        self.assertEqual(cm.get("/healthz").status, 200)
        self.c.delete("/apis/apps/v1/namespaces/default/deployments/after-poison")


@unittest.skipIf(SKIP, SKIP)
class WarningsAndEventsTest(unittest.TestCase):
    def setUp(self):
        self.k = CLUSTER.kubectl()
        self.c = CLUSTER.client()

    def tearDown(self):
        self.k.cleanup()

    def apply(self, obj):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(obj, f)
        try:
            return self.k.run("apply", "-f", f.name)
        finally:
            os.unlink(f.name)

    def describe(self, name):
        return self.k.run("describe", "pod", name).stdout

    def test_kubectl_prints_a_warning_for_each_unhonoured_field(self):
        # The class must exist: Priority admission refuses a pod naming an unknown one.
        self.assertIn(self.c.post("/apis/scheduling.k8s.io/v1/priorityclasses",
                                  {"metadata": {"name": "high"}, "value": 1000}).status, (201, 409))
        p = pod("warned", {"resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                           "lifecycle": {"preStop": {"exec": {"command": ["true"]}}}},
                {"priorityClassName": "high", "securityContext": {"fsGroup": 2000},
                 "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["berth-e2e.example"]}]})
        r = self.apply(p)
        for field in ["spec.containers[0].resizePolicy"]:
            self.assertRegex(r.stderr, rf"Warning: {re.escape(field)}: ", r.stderr)
        self.assertNotIn("lifecycle", r.stderr, "hooks are run: no warning")
        self.assertNotIn("hostAliases", r.stderr, "the pod network (berth up's default) writes them: no warning")
        # Warned fields do not stop the pod.
        wait_for(lambda: self.c.get(f"{NS}/pods/warned").json().get("status", {}).get("phase") == "Running",
                 timeout=30, what="the warned pod to run")
        hosts = self.k.run("exec", "warned", "--", "cat", "/etc/hosts").stdout
        self.assertRegex(hosts, r"127\.0\.0\.1\s+berth-e2e\.example")
        self.k.run("delete", "pod", "warned", "--wait=false")

    def test_describe_tells_of_a_failing_probe(self):
        self.apply(pod("unhealthy", {"livenessProbe": {"exec": {"command": ["sh", "-c", "echo not-today; exit 1"]},
                                                       "periodSeconds": 1, "failureThreshold": 2}}))
        wait_for(lambda: "Liveness probe failed" in self.describe("unhealthy"), timeout=40,
                 what="an Unhealthy event in kubectl describe")
        out = self.describe("unhealthy")
        self.assertRegex(out, r"Warning\s+Unhealthy\s+.*Liveness probe failed")
        self.assertIn("not-today", out)  # the probe's output
        wait_for(lambda: re.search(r"Normal\s+Killing\s+.*failed liveness probe", self.describe("unhealthy")),
                 timeout=40, what="a Killing event")
        self.assertRegex(self.describe("unhealthy"), r"Normal\s+Started\s+.*Started container c")
        self.k.run("delete", "pod", "unhealthy", "--wait=false")

    def test_describe_tells_of_an_oom_kill(self):
        self.apply(pod("hog", {"resources": {"limits": {"memory": "32Mi"}}}, {"restartPolicy": "Never"},
                       command=["sh", "-c", "exec tail /dev/zero"]))
        wait_for(lambda: "OOMKilling" in self.describe("hog"), timeout=60, what="an OOMKilling event")
        self.assertRegex(self.describe("hog"), r"Warning\s+OOMKilling\s+.*memory limit of 32Mi")
        self.k.run("delete", "pod", "hog", "--wait=false")

    def test_a_missing_command_is_a_start_error_with_its_cause(self):
        self.apply(pod("missing", spec_extra={"restartPolicy": "Never"}, command=["/no/such/command"]))

        def terminated():
            st = self.c.get(f"{NS}/pods/missing").json().get("status", {})
            for cs in st.get("containerStatuses", []):
                if "terminated" in cs.get("state", {}):
                    return cs["state"]["terminated"]
            return None
        wait_for(terminated, timeout=30, what="the container to end")
        t = terminated()
        self.assertEqual(t["reason"], "StartError", t)
        self.assertIn("exec: /no/such/command", t["message"])
        self.assertIn("No such file or directory", t["message"])
        # The container's own status carries the same text: wait for the event itself, which the
        # agent posts asynchronously.
        failed = re.compile(r"Warning\s+Failed\s+.*exec: /no/such/command")
        wait_for(lambda: failed.search(self.describe("missing")), timeout=30, what="a Failed event")
        self.assertRegex(self.describe("missing"), failed)
        self.k.run("delete", "pod", "missing", "--wait=false")
        # A bare name is looked up in the container's PATH, as execvp does.
        self.apply(pod("missing-bare", spec_extra={"restartPolicy": "Never"}, command=["no-such-command"]))

        def bare_terminated():
            st = self.c.get(f"{NS}/pods/missing-bare").json().get("status", {})
            return next((cs["state"]["terminated"] for cs in st.get("containerStatuses", [])
                         if "terminated" in cs.get("state", {})), None)
        t = wait_for(bare_terminated, timeout=30, what="the bare-named container to end")
        self.assertEqual(t["reason"], "StartError", t)
        self.assertIn("exec: no-such-command: No such file or directory", t["message"])
        self.k.run("delete", "pod", "missing-bare", "--wait=false")

    def test_a_bad_working_directory_names_the_directory(self):
        self.apply(pod("nowd", {"workingDir": "/no/such/dir"}, {"restartPolicy": "Never"}))

        def message():
            st = self.c.get(f"{NS}/pods/nowd").json().get("status", {})
            for cs in st.get("containerStatuses", []):
                t = cs.get("state", {}).get("terminated")
                if t:
                    return t.get("message", "")
            return None
        wait_for(message, timeout=30, what="the container to end")
        self.assertIn("/no/such/dir", message())
        self.k.run("delete", "pod", "nowd", "--wait=false")


if __name__ == "__main__":
    unittest.main(verbosity=2)
