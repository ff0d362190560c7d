#!/usr/bin/python3
"""Sharing one cluster: priorities and what every resource counts, end to end through the real
berth-apiserver and berth-controller-manager binaries, kubectl and the official Python client.
Nodes are hollow (Node objects plus the stand-in kubelet); the scheduler runs with one worker so
that order-sensitive scenarios are exact (scenarios S1, S2 and S12 of the seed-scheduling brief)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, ControllerManager, Kubectl, SimulatedKubelet, node, pod, wait_for  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"
NODES = "/api/v1/nodes"


def with_requests(p, requests=None, limits=None, priority_class=None):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    p["spec"]["containers"][0]["resources"] = res
    if priority_class:
        p["spec"]["priorityClassName"] = priority_class
    return p


class SharingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.kubelet = SimulatedKubelet(cls.c, []).start()
        cls.cm = ControllerManager(cls.server, ["--scheduler-workers", "1"]).start()
        cls.k = Kubectl(cls.server.url)

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.cm.stop()
        cls.k.cleanup()
        cls.server.cleanup()

    def add_node(self, name, **kw):
        self.assertEqual(self.c.post(NODES, node(name, **kw)).status, 201)
        self.kubelet.nodes.add(name)

        def remove():
            self.kubelet.kill_node(name)
            self.c.delete(f"{NODES}/{name}")
        self.addCleanup(remove)

    def add_pod(self, p):
        r = self.c.post(PODS, p)
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"{PODS}/{p['metadata']['name']}", {"gracePeriodSeconds": 0})
        return r.json()

    def scheduled_condition(self, name):
        for c in self.c.get(f"{PODS}/{name}").json().get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled":
                return c
        return None

    def wait_unschedulable(self, name, message):
        wait_for(lambda: (self.scheduled_condition(name) or {}).get("message") == message, timeout=20,
                 what=f"{name} to be unschedulable with {message!r}, has {self.scheduled_condition(name)}")

    def node_of(self, name):
        return self.c.get(f"{PODS}/{name}").json()["spec"].get("nodeName")

    def test_s1_priority_classes_resolve_and_refuse_as_kubernetes(self):
        r = self.k.run("create", "priorityclass", "high", "--value=1000", "--description=e2e")  # a protobuf body
        self.addCleanup(self.c.delete, f"{PCS}/high")
        self.assertIn("created", r.stdout)
        created = self.add_pod(with_requests(pod("s1-high"), priority_class="high"))
        self.assertEqual(created["spec"]["priority"], 1000)
        self.assertEqual(created["spec"]["preemptionPolicy"], "PreemptLowerPriority")

        nope = self.c.post(PODS, with_requests(pod("s1-nope"), priority_class="nope"))
        self.assertEqual(nope.status, 403, nope.body)
        self.assertEqual(nope.json()["reason"], "Forbidden")
        self.assertEqual(nope.json()["message"], 'pods "s1-nope" is forbidden: no PriorityClass with name nope was found')
        self.assertEqual(self.c.get(f"{PODS}/s1-nope").status, 404)

        self.assertEqual(self.c.post(PCS, {"metadata": {"name": "s1-default"}, "value": 5, "globalDefault": True}).status, 201)
        self.addCleanup(self.c.delete, f"{PCS}/s1-default")
        second = self.c.post(PCS, {"metadata": {"name": "s1-second"}, "value": 6, "globalDefault": True})
        self.assertEqual(second.status, 403, second.body)
        self.assertIn("PriorityClass s1-default is already marked as default. Only one default can exist",
                      second.json()["message"])
        defaulted = self.add_pod(pod("s1-defaulted"))
        self.assertEqual((defaulted["spec"]["priorityClassName"], defaulted["spec"]["priority"]), ("s1-default", 5))

        too_high = self.k.run("create", "priorityclass", "too-high", "--value=1000000001", check=False)
        self.assertNotEqual(too_high.returncode, 0)
        self.assertIn("maximum allowed value of a user defined priority is 1000000000", too_high.stderr)

        items = {pc["metadata"]["name"]: pc["value"] for pc in self.c.get(PCS).json()["items"]}
        self.assertEqual(items["system-cluster-critical"], 2000000000)
        self.assertEqual(items["system-node-critical"], 2000001000)
        gone = self.c.delete(f"{PCS}/system-node-critical")
        self.assertEqual(gone.status, 403, gone.body)
        self.assertIn("system-node-critical", self.k.run("get", "priorityclasses").stdout)

    def test_s1_python_client_sees_resolved_priority(self):
        from kubernetes import client as kclient
        cfg = kclient.Configuration()
        cfg.host = self.server.url
        api = kclient.ApiClient(cfg)
        sched = kclient.SchedulingV1Api(api)
        sched.create_priority_class(kclient.V1PriorityClass(metadata=kclient.V1ObjectMeta(name="py-low"), value=-10,
                                                            preemption_policy="Never"))
        self.addCleanup(self.c.delete, f"{PCS}/py-low")
        core = kclient.CoreV1Api(api)
        body = kclient.V1Pod(metadata=kclient.V1ObjectMeta(name="py-pod"),
                             spec=kclient.V1PodSpec(priority_class_name="py-low",
                                                    containers=[kclient.V1Container(name="c", image="host")]))
        got = core.create_namespaced_pod("default", body)
        self.addCleanup(self.c.delete, f"{PODS}/py-pod", {"gracePeriodSeconds": 0})
        self.assertEqual((got.spec.priority, got.spec.preemption_policy), (-10, "Never"))
        api.close()

    def test_s2_higher_priority_pod_gets_the_room_first(self):
        self.assertEqual(self.c.post(PCS, {"metadata": {"name": "s2-high"}, "value": 1000}).status, 201)
        self.addCleanup(self.c.delete, f"{PCS}/s2-high")
        self.add_node("s2-node", cpu="1")
        self.assertEqual(self.c.patch(f"{NODES}/s2-node", {"spec": {"unschedulable": True}}).status, 200)
        # Named and created so that arrival, age and name order would all favour the low one.
        self.add_pod(with_requests(pod("s2-a-low"), {"cpu": "600m"}))
        self.add_pod(with_requests(pod("s2-b-high"), {"cpu": "600m"}, priority_class="s2-high"))
        self.wait_unschedulable("s2-a-low", "0/1 nodes are available: 1 node(s) were unschedulable.")
        self.wait_unschedulable("s2-b-high", "0/1 nodes are available: 1 node(s) were unschedulable.")
        self.assertEqual(self.c.patch(f"{NODES}/s2-node", {"spec": {"unschedulable": False}}).status, 200)
        wait_for(lambda: self.node_of("s2-b-high") == "s2-node", timeout=20, what="the high-priority pod to bind")
        self.wait_unschedulable("s2-a-low", "0/1 nodes are available: 1 Insufficient cpu.")
        self.assertIsNone(self.node_of("s2-a-low"))

    def test_s12_extended_resources_are_counted(self):
        self.add_node("s12-node")
        self.add_pod(with_requests(pod("s12-gpu"), limits={"nvidia.com/gpu": "1"}))
        self.wait_unschedulable("s12-gpu", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")
        self.assertIsNone(self.node_of("s12-gpu"))
        described = self.k.run("describe", "pod", "s12-gpu").stdout
        self.assertIn("Insufficient nvidia.com/gpu", described)
        # The operator advertises the device by patching node status, as in Kubernetes.
        r = self.c.patch(f"{NODES}/s12-node/status", {"status": {"capacity": {"nvidia.com/gpu": "1"},
                                                                 "allocatable": {"nvidia.com/gpu": "1"}}})
        self.assertEqual(r.status, 200, r.body)
        wait_for(lambda: self.node_of("s12-gpu") == "s12-node", timeout=20, what="the GPU pod to bind")
        # The one device is taken: a second pod asking for it waits.
        self.add_pod(with_requests(pod("s12-gpu-2"), limits={"nvidia.com/gpu": "1"}))
        self.wait_unschedulable("s12-gpu-2", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.")

    def test_extended_resource_requests_must_equal_limits(self):
        r = self.c.post(PODS, with_requests(pod("bad-gpu"), {"nvidia.com/gpu": "2"}, {"nvidia.com/gpu": "1"}))
        self.assertEqual(r.status, 422, r.body)
        cause = r.json()["details"]["causes"][0]
        self.assertEqual(cause["field"], "spec.containers[0].resources.requests[nvidia.com/gpu]")
        self.assertIn("must be equal to nvidia.com/gpu limit of 1", cause["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
