#!/usr/bin/python3
"""Every file in manifests/ applied with kubectl to a whole cluster (apiserver, controller-manager
with the scheduler, one real agent) reaches its expected state."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import Agent, ApiServer, ControllerManager, Kubectl, wait_for  # noqa: E402

MANIFESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "manifests")
NODE = "manifests-node"
SKIP = None if os.geteuid() == 0 else "the agent needs root (namespaces, cgroups)"


@unittest.skipIf(SKIP, SKIP)
class ManifestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.cm = ControllerManager(cls.server).start()
        cls.agent = Agent(cls.server, NODE).start()
        cls.kubectl = cls.server.kubectl()

    @classmethod
    def tearDownClass(cls):
        cls.kubectl.cleanup()
        cls.cm.stop()
        cls.agent.cleanup()
        cls.server.cleanup()

    def apply(self, name):
        out = self.kubectl.run("apply", "-f", os.path.join(MANIFESTS, name)).stdout
        self.assertIn("created", out)
        return out

    def get(self, path):
        r = self.c.get(path)
        return r.json() if r.status == 200 else {}

    COVERED = {"deployment-http.yaml", "job.yaml", "cronjob.yaml", "daemonset.yaml", "crd-backup.yaml",
               "backup-nightly.yaml", "pod-probes-limits.yaml", "configmap-pod.yaml"}

    def test_every_manifest_is_covered(self):
        self.assertEqual(set(os.listdir(MANIFESTS)), self.COVERED, "a manifest without a test here, or a test without its file")

    def test_deployment_http(self):
        self.apply("deployment-http.yaml")
        self.kubectl.run("rollout", "status", "deployment/hello-http", "--timeout=60s", timeout=90)
        d = self.get("/apis/apps/v1/namespaces/default/deployments/hello-http")
        self.assertEqual(d["status"]["readyReplicas"], 1)
        # The server answers on the node (host network).
        import urllib.request
        with urllib.request.urlopen("http://127.0.0.1:18081/hostname", timeout=5) as r:
            self.assertEqual(r.status, 200)

    def test_job(self):
        self.apply("job.yaml")
        self.kubectl.run("wait", "--for=condition=Complete", "job/count-to-three", "--timeout=60s", timeout=90)
        self.assertEqual(self.get("/apis/batch/v1/namespaces/default/jobs/count-to-three")["status"]["succeeded"], 3)

    def test_cronjob(self):
        self.apply("cronjob.yaml")
        wait_for(lambda: self.get("/apis/batch/v1/namespaces/default/cronjobs/every-minute").get("status", {})
                 .get("lastScheduleTime"), timeout=75, what="the first scheduled run")
        jobs = self.get("/apis/batch/v1/namespaces/default/jobs")["items"]
        self.assertTrue(any(j["metadata"]["ownerReferences"][0]["name"] == "every-minute"
                            for j in jobs if j["metadata"].get("ownerReferences")))

    def test_daemonset(self):
        self.apply("daemonset.yaml")
        wait_for(lambda: self.get("/apis/apps/v1/namespaces/default/daemonsets/node-reporter").get("status", {})
                 .get("numberReady") == 1, timeout=60, what="the daemon pod on the node")
        pods = self.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dnode-reporter")["items"]
        self.assertEqual([p["spec"]["nodeName"] for p in pods], [NODE])

    def test_crd_backup(self):
        self.apply("crd-backup.yaml")
        self.kubectl.run("wait", "--for=condition=Established", "crd/backups.example.berth.dev", "--timeout=30s")
        self.apply("backup-nightly.yaml")
        out = wait_for(lambda: self.kubectl.run("get", "backups", check=False).stdout, timeout=30, what="the backups")
        header, row = out.splitlines()[:2]
        self.assertEqual(header.split(), ["NAME", "SOURCE", "KEEP", "AGE"])
        self.assertEqual(row.split()[:3], ["nightly", "/var/lib/data", "7"], "keep defaulted from the schema")

    def test_pod_probes_limits(self):
        self.apply("pod-probes-limits.yaml")
        self.kubectl.run("wait", "--for=condition=Ready", "pod/probed", "--timeout=60s", timeout=90)

    def test_configmap_pod(self):
        self.apply("configmap-pod.yaml")
        self.kubectl.run("wait", "--for=condition=Ready", "pod/greeter", "--timeout=60s", timeout=90)
        log = wait_for(lambda: "teal" in self.kubectl.run("logs", "greeter").stdout and
                       self.kubectl.run("logs", "greeter").stdout, timeout=30, what="the greeter's output")
        self.assertEqual(log.splitlines()[:2], ["hello from a configMap", "teal"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
