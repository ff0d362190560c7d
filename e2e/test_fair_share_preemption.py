#!/usr/bin/python3
"""Fair-share preemption (the controller-manager's --fair-share-preemption, after Kueue's
fairSharing): a tenant below another's weighted dominant share preempts the other's pods, at its
own priority or below, until their shares meet, and no further. End to end through the real
berth-apiserver and berth-controller-manager binaries on hollow nodes. Off by default: the
other suites run without it, so a tenant at equal priority never loses pods to another there."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, ControllerManager, SimulatedKubelet, pod, wait_for  # noqa: E402
import test_sharing as sharing  # noqa: E402  (a module, not its TestCase: its tests do not run twice)


class FairSharePreemptionTest(unittest.TestCase):
    # The sharing suite's helpers, on a cluster of this suite's own.
    add_node = sharing.SharingTest.add_node
    add_namespace = sharing.SharingTest.add_namespace
    add_ns_pod = sharing.SharingTest.add_ns_pod
    bound_in = sharing.SharingTest.bound_in
    start_pods = sharing.SharingTest.start_pods

    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.kubelet = SimulatedKubelet(cls.c, []).start()
        cls.cm = ControllerManager(cls.server, ["--scheduler-workers", "1", "--fair-share-preemption"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.cm.stop()
        cls.server.cleanup()

    def live(self, ns):
        return sorted(p["metadata"]["name"] for p in self.c.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
                      if not p["metadata"].get("deletionTimestamp"))

    def condition(self, ns, name, kind):
        for c in self.c.get(f"/api/v1/namespaces/{ns}/pods/{name}").json().get("status", {}).get("conditions", []):
            if c["type"] == kind:
                return c
        return {}

    def test_a_tenant_below_its_share_takes_from_one_above_until_they_meet(self):
        self.add_namespace("fs-a")
        self.add_namespace("fs-b")
        self.add_node("fs-node", cpu="8")
        # B holds the whole node: eight 1-CPU pods started a second apart (b-1 oldest).
        self.start_pods("fs-b", "fs-node", [f"b-{i}" for i in range(1, 9)], "1")
        # A, a namespace of its own (an implicit weight-1 queue), at the same priority: four 2-CPU pods.
        for i in range(4):
            self.add_ns_pod("fs-a", f"a-{i}", "2")
        # A takes 2 of 8, then 4 of 8 against B's 4: equal shares, and there it stops.
        wait_for(lambda: self.bound_in("fs-a", "a-") == 2 and len(self.live("fs-b")) == 4, timeout=60,
                 what=f"A 2 bound and B 4 left, have {self.bound_in('fs-a', 'a-')} and {self.live('fs-b')}")
        self.assertEqual(self.live("fs-b"), [f"b-{i}" for i in range(1, 5)], "B's newest go, its oldest keep running")
        events = self.c.get("/api/v1/namespaces/fs-b/events").json()["items"]
        self.assertEqual(sorted(e["involvedObject"]["name"] for e in events if e["reason"] == "Preempted"),
                         [f"b-{i}" for i in range(5, 9)])
        # The pods A still waits for: a third would put A above B, so nothing more is taken.
        waiting = [name for name in (f"a-{i}" for i in range(4))
                   if not self.c.get(f"/api/v1/namespaces/fs-a/pods/{name}").json()["spec"].get("nodeName")]
        self.assertEqual(len(waiting), 2)
        for name in waiting:
            wait_for(lambda: self.condition("fs-a", name, "PodScheduled").get("message") ==
                     "0/1 nodes are available: 1 Insufficient cpu." + sharing.NO_VICTIMS, timeout=20,
                     what=f"{name} to wait with no victims, has {self.condition('fs-a', name, 'PodScheduled')}")
        self.assertEqual(len(self.live("fs-b")), 4)

    def test_a_tenant_never_takes_from_higher_priority_pods(self):
        pcs = "/apis/scheduling.k8s.io/v1/priorityclasses"
        self.assertEqual(self.c.post(pcs, {"metadata": {"name": "fs-high"}, "value": 100}).status, 201)
        self.addCleanup(self.c.delete, f"{pcs}/fs-high")
        self.add_namespace("fs-low")
        self.add_namespace("fs-high")
        self.add_node("fs-node-2", cpu="4")
        base = "/api/v1/namespaces/fs-high/pods"
        for i in range(4):
            p = sharing.with_requests(pod(f"h-{i}", node="fs-node-2"), {"cpu": "1"}, priority_class="fs-high")
            self.assertEqual(self.c.post(base, p).status, 201)
            self.addCleanup(self.c.delete, f"{base}/h-{i}", {"gracePeriodSeconds": 0})
        wait_for(lambda: all(self.c.get(f"{base}/h-{i}").json().get("status", {}).get("phase") == "Running" for i in range(4)),
                 timeout=20, what="the high-priority pods to run")
        self.add_ns_pod("fs-low", "l-0", "1")
        wait_for(lambda: self.condition("fs-low", "l-0", "PodScheduled").get("message") ==
                 "0/1 nodes are available: 1 Insufficient cpu." + sharing.NO_VICTIMS, timeout=20,
                 what=f"l-0 to wait with no victims, has {self.condition('fs-low', 'l-0', 'PodScheduled')}")
        self.assertEqual(len(self.live("fs-high")), 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
