#!/usr/bin/python3
"""Controllers and the scheduler end to end: real berth-apiserver and berth-controller-manager
processes, simulated nodes (Node objects plus a stand-in kubelet)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, ControllerManager, SimulatedKubelet, node, pod, quote, wait_for  # noqa: E402

RS = "/apis/apps/v1/namespaces/default/replicasets"
PODS = "/api/v1/namespaces/default/pods"


def replicaset(name, replicas, cpu="100m"):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"rs": name}},
                     "template": {"metadata": {"labels": {"rs": name}},
                                  "spec": {"containers": [{"name": "c", "image": "host",
                                                           "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]}}}}


class ControllersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.nodes = ["sim-1", "sim-2", "sim-3"]
        for n in cls.nodes:
            assert cls.c.post("/api/v1/nodes", node(n)).status == 201
        cls.kubelet = SimulatedKubelet(cls.c, cls.nodes).start()
        args = ["--leader-elect", "--lease-duration-seconds", "3"]
        cls.cm = ControllerManager(cls.server, args + ["--identity", "first"]).start()
        wait_for(lambda: cls.c.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager").status == 200,
                 timeout=20, what="the first controller-manager to lead")
        cls.standby = ControllerManager(cls.server, args + ["--identity", "second"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        for cm in (cls.cm, cls.standby):
            cm.stop()
        cls.server.cleanup()

    def pods_of(self, name):
        return [p for p in self.c.get(PODS + "?labelSelector=" + quote(f"rs={name}")).json()["items"]
                if not p["metadata"].get("deletionTimestamp")]

    def wait_converged(self, name, replicas, timeout=30):
        def done():
            rs = self.c.get(f"{RS}/{name}").json()
            st = rs.get("status", {})
            pods = self.pods_of(name)
            return (len(pods) == replicas and st.get("readyReplicas", 0) == replicas and st.get("replicas") == replicas
                    and st.get("observedGeneration") == rs["metadata"]["generation"]
                    and all(p["spec"].get("nodeName") in self.nodes for p in pods))
        wait_for(done, timeout=timeout, what=f"{name} to converge to {replicas}")

    def test_replicaset_converges_and_scales(self):
        self.assertEqual(self.c.post(RS, replicaset("web", 5)).status, 201)
        self.wait_converged("web", 5)
        pods = self.pods_of("web")
        rs = self.c.get(f"{RS}/web").json()
        for p in pods:
            refs = p["metadata"]["ownerReferences"]
            self.assertEqual((refs[0]["uid"], refs[0]["controller"]), (rs["metadata"]["uid"], True))
            self.assertEqual(p["status"]["conditions"][0]["type"], "PodScheduled")
        # Least-allocated scoring spreads the pods over the three nodes.
        self.assertEqual(len({p["spec"]["nodeName"] for p in pods}), 3)
        self.c.patch(f"{RS}/web/scale", {"spec": {"replicas": 10}})
        self.wait_converged("web", 10)
        self.c.patch(f"{RS}/web", {"spec": {"replicas": 2}})
        self.wait_converged("web", 2)

    def test_orphans_are_adopted_and_deleted_pods_replaced(self):
        orphan = pod("orphan-1", {"rs": "adopt"})
        self.assertEqual(self.c.post(PODS, orphan).status, 201)
        self.assertEqual(self.c.post(RS, replicaset("adopt", 3)).status, 201)
        self.wait_converged("adopt", 3)
        self.assertIn("orphan-1", [p["metadata"]["name"] for p in self.pods_of("adopt")])
        victim = self.pods_of("adopt")[0]["metadata"]["name"]
        self.c.delete(f"{PODS}/{victim}")
        wait_for(lambda: victim not in [p["metadata"]["name"] for p in self.pods_of("adopt")], timeout=20, what="deletion")
        self.wait_converged("adopt", 3)

    def test_unschedulable_pod_says_why_and_is_retried(self):
        big = pod("huge")
        big["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "64"}}
        self.assertEqual(self.c.post(PODS, big).status, 201)

        def unschedulable():
            conds = self.c.get(f"{PODS}/huge").json().get("status", {}).get("conditions", [])
            return [c for c in conds if c["type"] == "PodScheduled" and c["status"] == "False"]
        cond = wait_for(unschedulable, timeout=20, what="PodScheduled=False")[0]
        self.assertEqual(cond["reason"], "Unschedulable")
        self.assertIn("nodes are available", cond["message"])
        self.assertIn("Insufficient cpu", cond["message"])
        # A node big enough arrives: the pod is scheduled onto it.
        self.assertEqual(self.c.post("/api/v1/nodes", node("sim-big", cpu="128")).status, 201)
        wait_for(lambda: self.c.get(f"{PODS}/huge").json()["spec"].get("nodeName") == "sim-big", timeout=20,
                 what="the big pod to be bound")

    def test_standby_takes_over_without_duplicates(self):
        self.assertEqual(self.c.post(RS, replicaset("ha", 4)).status, 201)
        self.wait_converged("ha", 4)
        lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controller-manager"
        holder = self.c.get(lease_path).json()["spec"]["holderIdentity"]
        leader, other = (self.cm, self.standby) if holder == "first" else (self.standby, self.cm)
        leader.stop(__import__("signal").SIGKILL)
        wait_for(lambda: self.c.get(lease_path).json()["spec"]["holderIdentity"] != holder, timeout=20,
                 what="the standby to take the lease")
        self.c.patch(f"{RS}/ha", {"spec": {"replicas": 6}})
        self.wait_converged("ha", 6)
        self.assertEqual(len(self.pods_of("ha")), 6)
        leader.start()  # back as the standby


if __name__ == "__main__":
    unittest.main(verbosity=2)
