#!/usr/bin/python3
"""Sharing one cluster: priorities, what every resource counts, and placement among other pods
(pod affinity, anti-affinity, topology spread), end to end through the real berth-apiserver and
berth-controller-manager binaries, kubectl and the official Python client.
Nodes are hollow (Node objects plus the stand-in kubelet); the scheduler runs with one worker so
that order-sensitive scenarios are exact (scenarios S1, S2 and S12 of the seed-scheduling brief)."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, ControllerManager, Kubectl, SimulatedKubelet, node, pod, wait_for  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
PCS = "/apis/scheduling.k8s.io/v1/priorityclasses"
NODES = "/api/v1/nodes"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
RS = "/apis/apps/v1/namespaces/default/replicasets"
QUEUES = "/apis/scheduling.berth.dev/v1alpha1/queues"
SCHEDULER_CONFIG = """apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: binpack
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
        - name: memory
          weight: 1
"""
NO_VICTIMS = " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."


def unscheduled(p):
    """A pod no scheduler takes (another schedulerName): tests of admission must not leave pods
    that a later test's node would receive."""
    p["spec"]["schedulerName"] = "left-alone"
    return p


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


HOST = "kubernetes.io/hostname"


def with_affinity(p, kind, selector, key, **term):
    """Adds a required pod affinity (kind "podAffinity") or anti-affinity term."""
    t = dict({"labelSelector": {"matchLabels": selector}, "topologyKey": key}, **term)
    p["spec"].setdefault("affinity", {}).setdefault(kind, {}).setdefault(
        "requiredDuringSchedulingIgnoredDuringExecution", []).append(t)
    return p


def with_spread(p, key, max_skew, selector, when="DoNotSchedule"):
    p["spec"].setdefault("topologySpreadConstraints", []).append(
        {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when, "labelSelector": {"matchLabels": selector}})
    return p


class SharingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.kubelet = SimulatedKubelet(cls.c, []).start()
        # Two profiles (S15): Kubernetes' default, and a bin-packing one.
        cls.config_dir = tempfile.mkdtemp(prefix="berth-sched-config-")
        config = os.path.join(cls.config_dir, "scheduler.yaml")
        with open(config, "w") as f:
            f.write(SCHEDULER_CONFIG)
        cls.cm = ControllerManager(cls.server, ["--scheduler-workers", "1", "--scheduler-config", config]).start()
        cls.k = cls.server.kubectl()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.cm.stop()
        cls.k.cleanup()
        cls.server.cleanup()
        shutil.rmtree(cls.config_dir, ignore_errors=True)

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
        cfg = self.server.python_client_configuration()
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
        self.wait_unschedulable("s2-a-low", "0/1 nodes are available: 1 node(s) were unschedulable."
                                " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
        self.wait_unschedulable("s2-b-high", "0/1 nodes are available: 1 node(s) were unschedulable."
                                " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
        self.assertEqual(self.c.patch(f"{NODES}/s2-node", {"spec": {"unschedulable": False}}).status, 200)
        wait_for(lambda: self.node_of("s2-b-high") == "s2-node", timeout=20, what="the high-priority pod to bind")
        self.wait_unschedulable("s2-a-low", "0/1 nodes are available: 1 Insufficient cpu." + NO_VICTIMS)
        self.assertIsNone(self.node_of("s2-a-low"))

    def wait_until_full(self, nodes, cpu):
        """A pod that may not preempt proves the scheduler counts the pods already on `nodes` nodes
        before a test's preemptor comes (else, with a lagging cache, it could bind beside them as
        any scheduler would)."""
        if self.c.get(f"{PCS}/probe-never").status == 404:
            self.assertEqual(self.c.post(PCS, {"metadata": {"name": "probe-never"}, "value": 1000,
                                               "preemptionPolicy": "Never"}).status, 201)
            self.addCleanup(self.c.delete, f"{PCS}/probe-never")
        self.add_pod(with_requests(pod("probe"), {"cpu": cpu}, priority_class="probe-never"))
        self.wait_unschedulable("probe", f"0/{nodes} nodes are available: {nodes} Insufficient cpu."
                                " preemption: not eligible due to preemptionPolicy=Never.")
        self.c.delete(f"{PODS}/probe", {"gracePeriodSeconds": 0})
        wait_for(lambda: self.c.get(f"{PODS}/probe").status == 404, timeout=10, what="the probe to go")

    def start_pods(self, ns, node_name, names, cpu):
        """Bound pods reported Running, started one second apart in the order given (oldest
        first). The stand-in kubelet reports them Running first (with its own startTime); only
        then is startTime rewritten, so its report cannot overwrite ours."""
        base = f"/api/v1/namespaces/{ns}/pods"
        for name in names:
            r = self.c.post(base, with_requests(pod(name, node=node_name), {"cpu": cpu}))
            self.assertEqual(r.status, 201, r.body)
            self.addCleanup(self.c.delete, f"{base}/{name}", {"gracePeriodSeconds": 0})
        for i, name in enumerate(names, start=1):
            wait_for(lambda: self.c.get(f"{base}/{name}").json().get("status", {}).get("phase") == "Running", timeout=20,
                     what=f"{name} to run")
            status = {"startTime": f"2026-01-01T00:00:{i:02d}Z"}
            self.assertEqual(self.c.patch(f"{base}/{name}/status", {"status": status}).status, 200)

    def start_low_pods(self, node_name, count, cpu):
        """Bound pods reported Running, started one second apart (oldest first)."""
        self.start_pods("default", node_name, [f"{node_name}-low-{i}" for i in range(1, count + 1)], cpu)

    def test_s3_s4_preemption_evicts_the_newest_lower_priority_pods(self):
        for name, extra in (("s3-high", {}), ("s3-high-np", {"preemptionPolicy": "Never"})):
            self.assertEqual(self.c.post(PCS, dict({"metadata": {"name": name}, "value": 1000}, **extra)).status, 201)
            self.addCleanup(self.c.delete, f"{PCS}/{name}")
        self.add_node("s3", cpu="2")
        self.start_low_pods("s3", 4, "500m")

        # S4: preemptionPolicy Never takes no victims and says why.
        self.add_pod(with_requests(pod("s4-polite"), {"cpu": "1500m"}, priority_class="s3-high-np"))
        self.wait_unschedulable("s4-polite", "0/1 nodes are available: 1 Insufficient cpu."
                                " preemption: not eligible due to preemptionPolicy=Never.")
        self.c.delete(f"{PODS}/s4-polite", {"gracePeriodSeconds": 0})

        self.add_pod(with_requests(pod("s3-urgent"), {"cpu": "1500m"}, priority_class="s3-high"))
        wait_for(lambda: self.node_of("s3-urgent") == "s3", timeout=30, what="the high-priority pod to bind")
        urgent = self.c.get(f"{PODS}/s3-urgent").json()
        self.assertEqual(urgent["status"].get("nominatedNodeName"), "s3")
        # The oldest low pod keeps running; the three newest were preempted, with the reason.
        self.assertIsNone(self.c.get(f"{PODS}/s3-low-1").json()["metadata"].get("deletionTimestamp"))
        for i in (2, 3, 4):
            self.assertEqual(self.c.get(f"{PODS}/s3-low-{i}").status, 404)
        events = self.c.get("/api/v1/namespaces/default/events").json()["items"]
        events = [e for e in events if e["involvedObject"]["name"].startswith("s3-")]
        preempted = sorted(e["involvedObject"]["name"] for e in events if e["reason"] == "Preempted")
        self.assertEqual(preempted, ["s3-low-2", "s3-low-3", "s3-low-4"])
        uid = urgent["metadata"]["uid"]
        self.assertTrue(all(e["message"] == f"Preempted by pod {uid} on node s3" for e in events if e["reason"] == "Preempted"))

    def test_preemption_marks_victims_with_disruption_target(self):
        self.assertEqual(self.c.post(PCS, {"metadata": {"name": "dt-high"}, "value": 1000}).status, 201)
        self.addCleanup(self.c.delete, f"{PCS}/dt-high")
        self.add_node("dt", cpu="1")
        self.start_low_pods("dt", 1, "1")
        # Without its kubelet the victim stays terminating, so its condition can be read.
        self.kubelet.kill_node("dt")
        self.wait_until_full(1, "1")
        self.add_pod(with_requests(pod("dt-urgent"), {"cpu": "1"}, priority_class="dt-high"))

        def victim_condition():
            for c in self.c.get(f"{PODS}/dt-low-1").json().get("status", {}).get("conditions", []):
                if c["type"] == "DisruptionTarget":
                    return c
            return None
        cond = wait_for(victim_condition, timeout=20, what="the victim's DisruptionTarget condition")
        self.assertEqual((cond["status"], cond["reason"], cond["message"]),
                         ("True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod"))
        # As upstream, the scheduler writes the condition first and deletes the victim after, so
        # the deletion is waited for rather than expected in the same instant.
        victim = wait_for(lambda: (lambda p: p if p["metadata"].get("deletionTimestamp") else None)(
            self.c.get(f"{PODS}/dt-low-1").json()), timeout=20, what="the victim's deletion")
        self.assertEqual(victim["metadata"].get("deletionGracePeriodSeconds"), 30)
        wait_for(lambda: self.c.get(f"{PODS}/dt-urgent").json()["status"].get("nominatedNodeName") == "dt", timeout=20,
                 what="the preemptor to be nominated")
        # As upstream, a successful preemption adds nothing after the filter reasons; the pod
        # waits for the victim to go (the decision tests cover the message of a retry meanwhile).
        self.wait_unschedulable("dt-urgent", "0/1 nodes are available: 1 Insufficient cpu.")
        lines = self.k.run("get", "pod", "dt-urgent", "-o", "wide").stdout.splitlines()
        column = lines[0].index("NOMINATED NODE")
        self.assertEqual(lines[1][column:].split()[0], "dt", lines)

    def add_pdb(self, name, selector, **spec):
        body = {"metadata": {"name": name}, "spec": dict({"selector": {"matchLabels": selector}}, **spec)}
        r = self.c.post(PDBS, body)
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"{PDBS}/{name}")

    def pdb_status(self, name):
        return self.c.get(f"{PDBS}/{name}").json().get("status", {})

    def evict(self, name):
        return self.c.post(f"{PODS}/{name}/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                       "metadata": {"name": name, "namespace": "default"}})

    def test_s6_eviction_respects_the_disruption_budget(self):
        self.add_node("s6")
        for i in (1, 2):
            self.add_pod(pod(f"s6-a-{i}", {"app": "s6"}, node="s6"))
        wait_for(lambda: all(self.c.get(f"{PODS}/s6-a-{i}").json()["status"].get("phase") == "Running" for i in (1, 2)),
                 timeout=20, what="the pods to run")
        self.add_pdb("s6", {"app": "s6"}, minAvailable=2)
        wait_for(lambda: self.pdb_status("s6").get("currentHealthy") == 2, timeout=20, what="the budget's status")
        st = self.pdb_status("s6")
        self.assertEqual((st["desiredHealthy"], st["disruptionsAllowed"], st["expectedPods"]), (2, 0, 2))
        refused = self.evict("s6-a-1")
        self.assertEqual(refused.status, 429, refused.body)
        body = refused.json()
        self.assertEqual((body["reason"], body["message"]),
                         ("TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget."))
        self.assertEqual(body["details"]["causes"],
                         [{"reason": "DisruptionBudget", "message": "The disruption budget s6 needs 2 healthy pods and has 2 currently"}])

        # Keep the evicted pod terminating (its kubelet is gone) so the budget's record of it shows.
        self.kubelet.kill_node("s6")
        self.assertEqual(self.c.patch(f"{PDBS}/s6", {"spec": {"minAvailable": 1}}).status, 200)
        wait_for(lambda: self.pdb_status("s6").get("disruptionsAllowed") == 1, timeout=20, what="one disruption allowed")
        before = self.c.get(f"{PDBS}/s6").json()["metadata"]["resourceVersion"]
        granted = self.evict("s6-a-1")
        self.assertEqual(granted.status, 201, granted.body)
        self.assertEqual(granted.json()["status"], "Success")
        self.assertIsNotNone(self.c.get(f"{PODS}/s6-a-1").json()["metadata"].get("deletionTimestamp"))
        # The eviction records the pod in disruptedPods before deleting it; the disruption
        # controller drops the entry as soon as it sees the deletionTimestamp (as upstream's
        # does), so the record is read from the budget's history, not its latest state.
        history = list(self.c.watch(f"{PDBS}?fieldSelector=metadata.name%3Ds6&resourceVersion={before}&timeoutSeconds=1"))
        self.assertTrue(any("s6-a-1" in e["object"].get("status", {}).get("disruptedPods", {}) for e in history), history)
        again = self.evict("s6-a-2")
        self.assertEqual(again.status, 429, again.body)

        self.add_pdb("s6-second", {"app": "s6"}, maxUnavailable=1)
        two = self.evict("s6-a-2")
        self.assertEqual(two.status, 500, two.body)
        self.assertEqual(two.json()["message"], "Internal error occurred: This pod has more than one PodDisruptionBudget,"
                                                " which the eviction subresource does not support.")
        described = self.k.run("get", "pdb").stdout
        self.assertRegex(described, r"s6\s+1\s+N/A\s+0")

    def test_kubectl_create_pdb_and_drain_through_evictions(self):
        r = self.k.run("create", "pdb", "drain-web", "--selector=app=drain-web", "--min-available=1")  # protobuf
        self.addCleanup(self.c.delete, f"{PDBS}/drain-web")
        self.assertIn("created", r.stdout)
        self.add_node("drain-1")
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "drain-web"},
              "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "drain-web"}},
                       "template": {"metadata": {"labels": {"app": "drain-web"}},
                                    "spec": {"containers": [{"name": "c", "image": "host"}]}}}}
        self.assertEqual(self.c.post(RS, rs).status, 201)
        self.addCleanup(self.c.delete, f"{RS}/drain-web", {"propagationPolicy": "Background"})

        def running_on(node_name):
            items = self.c.get(f"{PODS}?labelSelector=app%3Ddrain-web").json()["items"]
            return [p for p in items if p["spec"].get("nodeName") == node_name and not p["metadata"].get("deletionTimestamp")
                    and p["status"].get("phase") == "Running"]
        wait_for(lambda: len(running_on("drain-1")) == 2, timeout=30, what="two replicas on drain-1")
        wait_for(lambda: self.pdb_status("drain-web").get("disruptionsAllowed") == 1, timeout=20, what="the budget")
        self.add_node("drain-2")
        # drain evicts one pod at once; the second waits (429, retried every 5 s) until the first
        # one's replacement runs on drain-2.
        out = self.k.run("drain", "drain-1", "--ignore-daemonsets", "--timeout=90s", timeout=120)
        self.assertIn("drained", out.stdout)
        self.assertEqual(running_on("drain-1"), [])
        wait_for(lambda: len(running_on("drain-2")) == 2, timeout=30, what="both replicas on drain-2")
        self.assertTrue(self.c.get(f"{NODES}/drain-1").json()["spec"].get("unschedulable"))

    def test_s5_preemption_prefers_victims_no_budget_protects(self):
        self.assertEqual(self.c.post(PCS, {"metadata": {"name": "s5-high"}, "value": 1000}).status, 201)
        self.addCleanup(self.c.delete, f"{PCS}/s5-high")
        for n in ("s5-1", "s5-2"):
            self.add_node(n, cpu="2")
            for app in ("a", "b"):
                p = with_requests(pod(f"{n}-{app}", {"app": f"s5-{app}"}, node=n), {"cpu": "1"})
                self.add_pod(p)
        self.add_pdb("s5-a", {"app": "s5-a"}, minAvailable=2)
        wait_for(lambda: self.pdb_status("s5-a").get("currentHealthy") == 2, timeout=20, what="the budget's status")
        self.wait_until_full(2, "1")
        self.add_pod(with_requests(pod("s5-high"), {"cpu": "1"}, priority_class="s5-high"))
        wait_for(lambda: self.node_of("s5-high") is not None, timeout=30, what="the high-priority pod to bind")
        events = self.c.get("/api/v1/namespaces/default/events").json()["items"]
        victims = sorted(e["involvedObject"]["name"] for e in events
                         if e["reason"] == "Preempted" and e["involvedObject"]["name"].startswith("s5-"))
        self.assertEqual(len(victims), 1, victims)
        self.assertRegex(victims[0], r"^s5-[12]-b$")
        full = victims[0][:4]
        self.assertEqual(self.node_of("s5-high"), full)
        other = "s5-2" if full == "s5-1" else "s5-1"

        # (c) A class marked Strict never breaks a budget: making 2 CPU on the other node would
        # evict its a-pod, so the pod waits and says which budget stops it.
        self.assertEqual(self.c.post(PCS, {"metadata": {"name": "s5-strict", "annotations": {"scheduling.berth.dev/pdb": "Strict"}},
                                           "value": 1000}).status, 201)
        self.addCleanup(self.c.delete, f"{PCS}/s5-strict")
        self.add_pod(with_requests(pod("s5-strict"), {"cpu": "2"}, priority_class="s5-strict"))
        self.wait_unschedulable("s5-strict", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available:"
                                " 1 No preemption victims found for incoming pod, 1 would violate PodDisruptionBudget default/s5-a.")
        self.assertIsNone(self.c.get(f"{PODS}/{other}-a").json()["metadata"].get("deletionTimestamp"))
        self.c.delete(f"{PODS}/s5-strict", {"gracePeriodSeconds": 0})

        # (b) Without it, budgets are best effort: the other node loses both its pods.
        self.add_pod(with_requests(pod("s5-high2"), {"cpu": "2"}, priority_class="s5-high"))
        wait_for(lambda: self.node_of("s5-high2") == other, timeout=30, what="the 2-CPU pod to bind")
        for app in ("a", "b"):
            self.assertEqual(self.c.get(f"{PODS}/{other}-{app}").status, 404)

    def test_s7_resource_quota_refuses_the_third_pod(self):
        ns = "t1"
        self.assertEqual(self.c.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status, 201)
        self.addCleanup(self.c.delete, f"/api/v1/namespaces/{ns}")
        # kubectl create quota sends a protobuf body.
        self.k.run("create", "quota", "q", "-n", ns, "--hard=requests.cpu=2,pods=10")
        pods = f"/api/v1/namespaces/{ns}/pods"
        for i in (1, 2):
            r = self.c.post(pods, unscheduled(with_requests(pod(f"q-{i}"), {"cpu": "1"})))
            self.assertEqual(r.status, 201, r.body)
        third = self.c.post(pods, unscheduled(with_requests(pod("q-3"), {"cpu": "1"})))
        self.assertEqual(third.status, 403, third.body)
        self.assertEqual(third.json()["message"], 'pods "q-3" is forbidden: exceeded quota: q, requested: requests.cpu=1,'
                                                  ' used: requests.cpu=2, limited: requests.cpu=2')
        out = self.k.run("get", "quota", "-n", ns).stdout
        self.assertIn("requests.cpu: 2/2", out)
        # Deleting a pod frees its share: the quota controller recomputes usage.
        self.assertEqual(self.c.delete(f"{pods}/q-1", {"gracePeriodSeconds": 0}).status, 200)
        wait_for(lambda: self.c.get(f"/api/v1/namespaces/{ns}/resourcequotas/q").json()["status"]["used"]["requests.cpu"] == "1",
                 timeout=20, what="the quota to free the deleted pod's cpu")
        self.assertEqual(self.c.post(pods, unscheduled(with_requests(pod("q-3"), {"cpu": "1"}))).status, 201)

    def test_limit_range_defaults_and_bounds(self):
        ns = "lr"
        self.assertEqual(self.c.post("/api/v1/namespaces", {"metadata": {"name": ns}}).status, 201)
        self.addCleanup(self.c.delete, f"/api/v1/namespaces/{ns}")
        lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": ns},
              "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"},
                                   "max": {"cpu": "1"}}]}}
        self.k.run("apply", "-f", "-", stdin=__import__("json").dumps(lr))
        pods = f"/api/v1/namespaces/{ns}/pods"
        created = self.c.post(pods, unscheduled(pod("lr-default")))
        self.assertEqual(created.status, 201, created.body)
        res = created.json()["spec"]["containers"][0]["resources"]
        self.assertEqual((res["limits"]["cpu"], res["requests"]["cpu"]), ("500m", "250m"))
        too_big = self.c.post(pods, unscheduled(with_requests(pod("lr-big"), {"cpu": "1"}, {"cpu": "2"})))
        self.assertEqual(too_big.status, 403, too_big.body)
        self.assertEqual(too_big.json()["message"], 'pods "lr-big" is forbidden: maximum cpu usage per Container is 1, but limit is 2')
        self.assertIn("Default Limit", self.k.run("describe", "limitrange", "lr", "-n", ns).stdout)

    def test_s12_extended_resources_are_counted(self):
        self.add_node("s12-node")
        self.add_pod(with_requests(pod("s12-gpu"), limits={"nvidia.com/gpu": "1"}))
        self.wait_unschedulable("s12-gpu", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." + NO_VICTIMS)
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
        self.wait_unschedulable("s12-gpu-2", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu." + NO_VICTIMS)

    def test_extended_resource_requests_must_equal_limits(self):
        r = self.c.post(PODS, with_requests(pod("bad-gpu"), {"nvidia.com/gpu": "2"}, {"nvidia.com/gpu": "1"}))
        self.assertEqual(r.status, 422, r.body)
        cause = r.json()["details"]["causes"][0]
        self.assertEqual(cause["field"], "spec.containers[0].resources.requests[nvidia.com/gpu]")
        self.assertIn("must be equal to nvidia.com/gpu limit of 1", cause["message"])

    # Placement among other pods: inter-pod rules, mirroring Kubernetes' own scheduler tests.

    def bound(self, names):
        return {n: self.node_of(n) for n in names}

    def test_required_anti_affinity_puts_one_replica_per_node_and_waits_for_room(self):
        for n in ("aa-1", "aa-2"):
            self.add_node(n)
        names = [f"aa-pod-{i}" for i in range(3)]
        for name in names:
            self.add_pod(with_affinity(pod(name, labels={"app": "aa"}), "podAntiAffinity", {"app": "aa"}, HOST))
        wait_for(lambda: sum(1 for n in self.bound(names).values() if n) == 2, timeout=20, what="two replicas to bind")
        placed = self.bound(names)
        self.assertEqual(sorted(n for n in placed.values() if n), ["aa-1", "aa-2"])
        waiting = [name for name, n in placed.items() if n is None][0]
        self.wait_unschedulable(waiting, "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
                                " preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
        # One replica leaves: the waiting one takes its node (woken by the pod change).
        gone = [name for name, n in placed.items() if n == "aa-1"][0]
        self.c.delete(f"{PODS}/{gone}", {"gracePeriodSeconds": 0})
        wait_for(lambda: self.node_of(waiting) == "aa-1", timeout=30, what=f"{waiting} to take aa-1")

    def test_prefer_no_schedule_taints_steer_away_pods_that_do_not_tolerate_them(self):
        # An empty node tainted PreferNoSchedule (with kubectl taint) against a busy clean one:
        # TaintToleration (weight 3) outweighs the resource scores unless the pod tolerates it.
        self.add_node("pns-spot")
        self.add_node("pns-busy")
        self.k.run("taint", "nodes", "pns-spot", "spot=yes:PreferNoSchedule")
        self.add_pod(with_requests(pod("pns-hog", node="pns-busy"), {"cpu": "3"}))
        plain = with_requests(pod("pns-plain"), {"cpu": "100m"})
        tolerant = with_requests(pod("pns-tolerant"), {"cpu": "100m"})
        tolerant["spec"]["tolerations"] = [{"key": "spot", "operator": "Equal", "value": "yes", "effect": "PreferNoSchedule"}]
        for p in (plain, tolerant):
            self.add_pod(p)
            name = p["metadata"]["name"]
            wait_for(lambda: self.node_of(name), timeout=20, what=f"{name} to bind")
        self.assertEqual(self.node_of("pns-plain"), "pns-busy")
        self.assertEqual(self.node_of("pns-tolerant"), "pns-spot")

    def test_existing_pods_anti_affinity_keeps_others_away(self):
        self.add_node("ea-1")
        self.add_node("ea-2")
        loner = with_affinity(pod("ea-loner", labels={"app": "loner"}), "podAntiAffinity", {"app": "ea-web"}, HOST)
        loner["spec"]["nodeName"] = "ea-1"
        self.add_pod(loner)
        web = pod("ea-web", labels={"app": "ea-web"})
        web["spec"]["nodeSelector"] = {HOST: "ea-1"}
        self.add_pod(web)
        self.wait_unschedulable("ea-web", "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector,"
                                " 1 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/2 nodes are"
                                " available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful"
                                " for scheduling.")
        # A pod the loner's term does not select may go there.
        self.add_pod(with_requests(pod("ea-other", labels={"app": "other"}), {"cpu": "1"}))
        other = pod("ea-other-pinned", labels={"app": "other"})
        other["spec"]["nodeSelector"] = {HOST: "ea-1"}
        self.add_pod(other)
        wait_for(lambda: self.node_of("ea-other-pinned") == "ea-1", timeout=20, what="an unselected pod beside the loner")

    def test_required_affinity_follows_the_pods_it_names_into_their_zone(self):
        self.add_node("pa-a1", labels={"zone": "pa-a"})
        self.add_node("pa-a2", labels={"zone": "pa-a"})
        self.add_node("pa-b1", labels={"zone": "pa-b"})
        self.add_pod(pod("pa-db", labels={"app": "pa-db"}, node="pa-a2"))
        names = [f"pa-api-{i}" for i in range(4)]
        for name in names:
            self.add_pod(with_requests(with_affinity(pod(name, labels={"app": "pa-api"}), "podAffinity", {"app": "pa-db"}, "zone"),
                                       {"cpu": "1"}))
        wait_for(lambda: all(self.bound(names).values()), timeout=20, what="the api pods to bind")
        self.assertEqual({n for n in self.bound(names).values()} - {"pa-a1", "pa-a2"}, set())
        # Nobody matches: refused everywhere, and preemption cannot help.
        self.add_pod(with_affinity(pod("pa-lost", labels={"app": "pa-api"}), "podAffinity", {"app": "pa-ghost"}, "zone"))
        self.wait_unschedulable("pa-lost", "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."
                                " preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")
        # The first of a group whose term names itself may start anywhere.
        self.add_pod(with_affinity(pod("pa-first", labels={"app": "pa-group"}), "podAffinity", {"app": "pa-group"}, "zone"))
        wait_for(lambda: self.node_of("pa-first") is not None, timeout=20, what="the first of a self-affine group to bind")

    def test_topology_spread_balances_zones_and_waits_for_a_cordoned_zone(self):
        self.add_node("ts-a1", labels={"zone": "ts-a"})
        self.add_node("ts-a2", labels={"zone": "ts-a"})
        self.add_node("ts-b1", labels={"zone": "ts-b"})
        names = [f"ts-{i}" for i in range(4)]
        for name in names:
            self.add_pod(with_spread(pod(name, labels={"app": "ts"}), "zone", 1, {"app": "ts"}))
        wait_for(lambda: all(self.bound(names).values()), timeout=20, what="the spread pods to bind")
        zones = [{"ts-a1": "a", "ts-a2": "a", "ts-b1": "b"}[n] for n in self.bound(names).values()]
        self.assertEqual(sorted(zones), ["a", "a", "b", "b"])
        # A cordoned zone is still a domain: the zone that is not cordoned takes one more, no more.
        self.add_node("ts2-a", labels={"zone": "ts2-a"})
        self.add_node("ts2-b", labels={"zone": "ts2-b"})
        self.assertEqual(self.c.patch(f"{NODES}/ts2-b", {"spec": {"unschedulable": True}}).status, 200)
        for name in ("ts2-0", "ts2-1"):
            p = with_spread(pod(name, labels={"app": "ts2"}), "zone", 1, {"app": "ts2"})
            p["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["ts2-a", "ts2-b"]}]}]}}}
            self.add_pod(p)
        wait_for(lambda: [self.node_of("ts2-0"), self.node_of("ts2-1")].count("ts2-a") == 1, timeout=20,
                 what="one pod in the open zone")
        waiting = "ts2-1" if self.node_of("ts2-0") == "ts2-a" else "ts2-0"
        self.wait_unschedulable(waiting, "0/5 nodes are available: 1 node(s) didn't match pod topology spread constraints,"
                                " 1 node(s) were unschedulable, 3 node(s) didn't match Pod's node affinity/selector."
                                " preemption: 0/5 nodes are available: 1 No preemption victims found for incoming pod,"
                                " 4 Preemption is not helpful for scheduling.")
        self.assertEqual(self.c.patch(f"{NODES}/ts2-b", {"spec": {"unschedulable": False}}).status, 200)
        wait_for(lambda: self.node_of(waiting) == "ts2-b", timeout=20, what="the waiting pod to take the reopened zone")

    def test_inter_pod_fields_are_no_longer_warned_about(self):
        p = with_spread(with_affinity(pod("nw-pod", labels={"app": "nw"}), "podAntiAffinity", {"app": "nw"}, HOST),
                        "zone", 1, {"app": "nw"})
        r = self.c.post(PODS, unscheduled(p))
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"{PODS}/nw-pod", {"gracePeriodSeconds": 0})
        warnings = " ".join(r.header_all("Warning"))
        self.assertNotIn("affinity", warnings)
        self.assertNotIn("spread", warnings)


    # Weighted fair share between tenants (Queue, DRF): scenarios S8, S9 and S11 of the brief.

    def add_namespace(self, name, labels=None):
        r = self.c.post("/api/v1/namespaces", {"metadata": {"name": name, "labels": labels or {}}})
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"/api/v1/namespaces/{name}")

    def add_queue(self, name, **spec):
        r = self.c.post(QUEUES, {"apiVersion": "scheduling.berth.dev/v1alpha1", "kind": "Queue",
                                 "metadata": {"name": name}, "spec": spec})
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"{QUEUES}/{name}")

    def add_ns_pod(self, ns, name, cpu, memory=None):
        requests = {"cpu": cpu}
        if memory:
            requests["memory"] = memory
        p = with_requests(pod(name), requests)
        r = self.c.post(f"/api/v1/namespaces/{ns}/pods", p)
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(self.c.delete, f"/api/v1/namespaces/{ns}/pods/{name}", {"gracePeriodSeconds": 0})

    def bound_in(self, ns, prefix):
        items = self.c.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
        return sum(1 for p in items if p["metadata"]["name"].startswith(prefix) and p["spec"].get("nodeName"))

    def run_cordoned(self, node_name, cpu, memory, create):
        """Creates the pods while the only node is cordoned, then opens it: every pod is in the
        queue at once, so the order is the scheduler's alone."""
        self.add_node(node_name, cpu=cpu, memory=memory)
        self.assertEqual(self.c.patch(f"{NODES}/{node_name}", {"spec": {"unschedulable": True}}).status, 200)
        create()
        self.assertEqual(self.c.patch(f"{NODES}/{node_name}", {"spec": {"unschedulable": False}}).status, 200)

    def test_s8_namespaces_share_by_dominant_resource_without_configuration(self):
        self.add_namespace("drf-a")
        self.add_namespace("drf-b")

        def create():
            # All of A first: by age alone A would take 4 and B 1.
            for i in range(10):
                self.add_ns_pod("drf-a", f"a-{i}", "1", "4Gi")
            for i in range(10):
                self.add_ns_pod("drf-b", f"b-{i}", "3", "1Gi")
            for name in ("a-9", "b-9"):
                ns = "drf-" + name[0]
                wait_for(lambda: self.c.get(f"/api/v1/namespaces/{ns}/pods/{name}").json().get("status", {}).get("conditions"),
                         timeout=20, what=f"{name} to be seen by the scheduler")
        self.run_cordoned("s8-node", "9", "18Gi", create)
        wait_for(lambda: (self.bound_in("drf-a", "a-"), self.bound_in("drf-b", "b-")) == (3, 2), timeout=30,
                 what="A 3 bound, B 2")

    def test_s9_queue_weights_divide_the_node(self):
        self.add_namespace("wq-a", {"wq": "a"})
        self.add_namespace("wq-b", {"wq": "b"})
        self.add_queue("wq-a", weight=1, namespaceSelector={"matchLabels": {"wq": "a"}})
        self.add_queue("wq-b", weight=2, namespaceSelector={"matchLabels": {"wq": "b"}})

        def create():
            # All of A first: by age alone A would take 10 and B 2.
            for i in range(10):
                self.add_ns_pod("wq-a", f"a-{i}", "1")
            for i in range(10):
                self.add_ns_pod("wq-b", f"b-{i}", "1")
            wait_for(lambda: self.c.get("/api/v1/namespaces/wq-b/pods/b-9").json().get("status", {}).get("conditions"),
                     timeout=20, what="the last pod to be seen by the scheduler")
        self.run_cordoned("s9-node", "12", "64Gi", create)
        wait_for(lambda: (self.bound_in("wq-a", "a-"), self.bound_in("wq-b", "b-")) == (4, 8), timeout=30,
                 what="A 4 bound, B 8")
        # The scheduler reports each queue's allocation and share in its status.
        wait_for(lambda: self.c.get(f"{QUEUES}/wq-b").json().get("status", {}).get("allocated", {}).get("cpu") == "8",
                 timeout=20, what="wq-b's status")
        status = self.c.get(f"{QUEUES}/wq-b").json()["status"]
        self.assertEqual(status["weightedDominantShare"], "0.333")
        self.assertEqual(status["pendingPods"], 2)

    def test_s11_queue_max_is_a_hard_cap(self):
        self.add_namespace("mq", {"mq": "a"})
        self.add_queue("mq-a", max={"cpu": "3"}, namespaceSelector={"matchLabels": {"mq": "a"}})
        self.add_node("s11-node", cpu="8")
        for i in range(3):
            self.add_ns_pod("mq", f"m-{i}", "1")
        wait_for(lambda: self.bound_in("mq", "m-") == 3, timeout=20, what="three pods under the cap")
        self.add_ns_pod("mq", "m-3", "1")

        def message():
            for c in self.c.get("/api/v1/namespaces/mq/pods/m-3").json().get("status", {}).get("conditions", []):
                if c["type"] == "PodScheduled":
                    return c["message"]
        wait_for(lambda: message() == "queue root.mq-a at max: cpu 3/3.", timeout=20, what="the cap message")
        wait_for(lambda: (self.why_pending("m-3", "mq") or {}).get("queue", {}).get("blockedBy") == "queue root.mq-a at max: cpu 3/3",
                 timeout=20, what="why-pending to name the cap")
        self.assertEqual(self.bound_in("mq", "m-"), 3)
        # Raising the cap lets it in.
        self.assertEqual(self.c.patch(f"{QUEUES}/mq-a", {"spec": {"max": {"cpu": "4"}}}).status, 200)
        wait_for(lambda: self.bound_in("mq", "m-") == 4, timeout=20, what="the fourth pod after the cap was raised")

    def test_queue_hierarchy_is_validated(self):
        self.add_queue("qv-top")
        bad = self.c.post(QUEUES, {"metadata": {"name": "qv-bad"}, "spec": {"guaranteed": {"cpu": "4"}, "max": {"cpu": "2"}}})
        self.assertEqual(bad.status, 422, bad.body)
        self.assertEqual(bad.json()["details"]["causes"][0]["field"], "spec.guaranteed[cpu]")
        self.add_queue("qv-child", parent="qv-top")
        loop = self.c.patch(f"{QUEUES}/qv-top", {"spec": {"parent": "qv-child"}})
        self.assertEqual(loop.status, 422, loop.body)
        self.assertIn("would form a cycle", loop.json()["message"])
        self.assertEqual(self.c.get(f"{QUEUES}/qv-top").json()["spec"].get("parent", ""), "")
        self.add_queue("qv-3", parent="qv-child")
        self.add_queue("qv-4", parent="qv-3")
        deep = self.c.post(QUEUES, {"metadata": {"name": "qv-5"}, "spec": {"parent": "qv-4"}})
        self.assertEqual(deep.status, 422, deep.body)
        self.assertEqual(deep.json()["details"]["causes"][0]["field"], "spec.parent")
        self.assertIn("at most 4 deep", deep.json()["message"])
        # kubectl sees the kind.
        listed = self.k.run("get", "queues.scheduling.berth.dev").stdout
        self.assertIn("qv-top", listed)
        self.assertIn("WEIGHT", listed)


    def test_s10_a_queue_below_its_guarantee_reclaims_from_one_above(self):
        self.add_namespace("rq-a", {"rq": "a"})
        self.add_namespace("rq-b", {"rq": "b"})
        self.add_queue("rq-a", guaranteed={"cpu": "5"}, namespaceSelector={"matchLabels": {"rq": "a"}})
        self.add_queue("rq-b", guaranteed={"cpu": "5"}, namespaceSelector={"matchLabels": {"rq": "b"}})
        self.add_node("s10-node", cpu="10")
        # B fills the node: ten pods started a second apart (b-1 oldest).
        self.start_pods("rq-b", "s10-node", [f"b-{i}" for i in range(1, 11)], "1")
        wait_for(lambda: self.c.get(f"{QUEUES}/rq-b").json().get("status", {}).get("allocated", {}).get("cpu") == "10",
                 timeout=20, what="the scheduler to count B's ten pods")
        for i in range(5):
            self.add_ns_pod("rq-a", f"a-{i}", "1")
        wait_for(lambda: self.bound_in("rq-a", "a-") == 5, timeout=60, what="A's five pods to take their guarantee")
        left = sorted(p["metadata"]["name"] for p in self.c.get("/api/v1/namespaces/rq-b/pods").json()["items"]
                      if not p["metadata"].get("deletionTimestamp"))
        self.assertEqual(left, sorted(f"b-{i}" for i in range(1, 6)), "B's five newest go, its oldest keep running")
        events = self.c.get("/api/v1/namespaces/rq-b/events").json()["items"]
        self.assertEqual(sorted(e["involvedObject"]["name"] for e in events if e["reason"] == "Preempted"),
                         sorted(f"b-{i}" for i in range(6, 11)))
        # A sixth: A is at its guarantee and B at its own: nobody to take from.
        self.add_ns_pod("rq-a", "a-5", "1")

        def message():
            for c in self.c.get("/api/v1/namespaces/rq-a/pods/a-5").json().get("status", {}).get("conditions", []):
                if c["type"] == "PodScheduled":
                    return c["message"]
        wait_for(lambda: message() == "0/1 nodes are available: 1 Insufficient cpu." + NO_VICTIMS, timeout=20,
                 what="the sixth pod to wait with no victims")
        self.assertEqual(len([p for p in self.c.get("/api/v1/namespaces/rq-b/pods").json()["items"]
                              if not p["metadata"].get("deletionTimestamp")]), 5)


    def test_s15_profiles_by_scheduler_name(self):
        self.add_node("pf-n1", cpu="4", memory="8Gi")
        self.add_node("pf-n2", cpu="4", memory="8Gi")
        self.add_pod(with_requests(pod("pf-half", node="pf-n1"), {"cpu": "2", "memory": "4Gi"}))
        packed = with_requests(pod("pf-packed"), {"cpu": "500m", "memory": "1Gi"})
        packed["spec"]["schedulerName"] = "binpack"
        spread = with_requests(pod("pf-spread"), {"cpu": "500m", "memory": "1Gi"})
        # Wait until the scheduler counts pf-half: a probe pinned to pf-n1 that does not fit.
        probe = with_requests(pod("pf-probe"), {"cpu": "2500m"})
        probe["spec"]["nodeSelector"] = {HOST: "pf-n1"}
        self.add_pod(probe)
        wait_for(lambda: "Insufficient cpu" in ((self.scheduled_condition("pf-probe") or {}).get("message") or ""), timeout=20,
                 what="the scheduler to count the half-full node")
        self.add_pod(packed)
        self.add_pod(spread)
        wait_for(lambda: self.node_of("pf-packed") and self.node_of("pf-spread"), timeout=20, what="both pods to bind")
        self.assertEqual(self.node_of("pf-packed"), "pf-n1")
        self.assertEqual(self.node_of("pf-spread"), "pf-n2")
        # Each profile reports its own Events, under its schedulerName (as upstream's profiles do).
        def scheduled_by(name):
            events = self.c.get("/api/v1/namespaces/default/events").json()["items"]
            return sorted({(e["source"].get("component"), e.get("reportingComponent")) for e in events
                           if e["involvedObject"]["name"] == name and e["reason"] == "Scheduled"})
        wait_for(lambda: scheduled_by("pf-packed") and scheduled_by("pf-spread"), timeout=20, what="the Scheduled events")
        self.assertEqual(scheduled_by("pf-packed"), [("binpack", "binpack")])
        self.assertEqual(scheduled_by("pf-spread"), [("default-scheduler", "default-scheduler")])
        # A scheduler nobody runs: the pod stays unbound, and nothing reports on it.
        other = with_requests(pod("pf-other"), {"cpu": "100m"})
        other["spec"]["schedulerName"] = "other"
        self.add_pod(other)
        marker = with_requests(pod("pf-marker"), {"cpu": "100m"})
        self.add_pod(marker)
        wait_for(lambda: self.node_of("pf-marker") is not None, timeout=20, what="a later pod to bind")
        self.assertIsNone(self.node_of("pf-other"))
        self.assertIsNone(self.scheduled_condition("pf-other"))
        events = self.c.get("/api/v1/namespaces/default/events").json()["items"]
        self.assertEqual([e for e in events if e["involvedObject"]["name"] == "pf-other"], [])


    def why_pending(self, name, ns="default"):
        annotation = self.c.get(f"/api/v1/namespaces/{ns}/pods/{name}").json()["metadata"].get("annotations", {}).get(
            "scheduling.berth.dev/why-pending")
        return json.loads(annotation) if annotation else None

    def test_why_pending_explains_and_hints_then_goes_when_bound(self):
        self.add_node("wp-1", cpu="2")
        self.add_node("wp-2", cpu="3")
        self.add_pod(with_requests(pod("wp-big"), {"cpu": "4"}))
        wait_for(lambda: self.why_pending("wp-big") is not None, timeout=20, what="the why-pending annotation")
        why = self.why_pending("wp-big")
        self.assertEqual(why["nodes"], 2)
        self.assertEqual(why["filtered"], {"Insufficient cpu": 2})
        self.assertEqual(why["preemption"]["result"], "NoVictims")
        self.assertEqual(why["queue"]["path"], "root.ns/default")
        self.assertNotIn("position", why["queue"])  # computed on request only
        self.assertEqual(why["largestFree"]["node"], "wp-2")
        self.assertEqual(why["largestFree"]["cpu"], "3")
        self.assertEqual(why["hint"], "request 4 cpu; largest free 3 cpu")
        # The PodScheduled message stays Kubernetes' own.
        self.wait_unschedulable("wp-big", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available:"
                                " 2 No preemption victims found for incoming pod.")
        # kubectl describe shows it with the other annotations.
        self.assertIn("scheduling.berth.dev/why-pending", self.k.run("describe", "pod", "wp-big").stdout)
        # The controller-manager recomputes it on request, without writing.
        code, body = self.cm.get_status("/debug/pending/default/wp-big")
        self.assertEqual(code, 200, body)
        self.assertEqual(json.loads(body)["hint"], "request 4 cpu; largest free 3 cpu")
        self.assertEqual(json.loads(body)["queue"]["position"], 1)
        code, body = self.cm.get_status("/debug/pending/default/no-such-pod")
        self.assertEqual(code, 404, body)
        # Room appears: the pod binds and its explanation goes.
        status = {"allocatable": {"cpu": "8", "memory": "8Gi", "pods": "110"}, "capacity": {"cpu": "8", "memory": "8Gi", "pods": "110"}}
        self.assertEqual(self.c.patch(f"{NODES}/wp-2/status", {"status": status}).status, 200)
        wait_for(lambda: self.node_of("wp-big") == "wp-2", timeout=20, what="the pod to bind once room appears")
        wait_for(lambda: self.why_pending("wp-big") is None, timeout=20, what="the explanation to go")


    def test_scheduling_gates_hold_a_pod_until_the_last_is_removed(self):
        self.add_node("sg-node")
        p = pod("sg-pod")
        p["spec"]["schedulingGates"] = [{"name": "example.com/quota"}, {"name": "example.com/data"}]
        self.add_pod(p)
        wait_for(lambda: (self.scheduled_condition("sg-pod") or {}).get("reason") == "SchedulingGated", timeout=20,
                 what="the gated condition")
        self.assertEqual(self.scheduled_condition("sg-pod")["message"], "Scheduling is blocked due to non-empty scheduling gates")
        # One gate off: still held.
        r = self.c.patch(f"{PODS}/sg-pod", {"spec": {"schedulingGates": [{"name": "example.com/data"}]}})
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNone(self.node_of("sg-pod"))
        # Gates can only be removed, as in Kubernetes.
        r = self.c.patch(f"{PODS}/sg-pod", {"spec": {"schedulingGates": [{"name": "example.com/data"}, {"name": "example.com/new"}]}})
        self.assertEqual(r.status, 422, r.body)
        self.assertEqual(r.json()["details"]["causes"][0]["field"], "spec.schedulingGates")
        self.assertIn("only deletion is allowed, but found new scheduling gate 'example.com/new'", r.json()["message"])
        r = self.c.patch(f"{PODS}/sg-pod", {"spec": {"schedulingGates": []}})
        self.assertEqual(r.status, 200, r.body)
        wait_for(lambda: self.node_of("sg-pod") == "sg-node", timeout=20, what="the pod to bind once ungated")


if __name__ == "__main__":
    unittest.main(verbosity=2)
