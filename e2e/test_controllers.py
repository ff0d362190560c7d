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

    def delete_rs(self, name):
        """Removes a test's ReplicaSet and waits until its pods are gone from the API, so that the
        next test's placement starts from the same empty nodes (test_replicaset asserts spread)."""
        self.c.delete(f"{RS}/{name}", {"propagationPolicy": "Background"})
        wait_for(lambda: not self.c.get(PODS + "?labelSelector=" + quote(f"rs={name}")).json()["items"],
                 timeout=60, what=f"the pods of {name} to be gone")

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
        # What happened is recorded as Events, as `kubectl describe` shows them.
        def events(name):
            return self.c.get("/api/v1/namespaces/default/events?fieldSelector=" + quote(f"involvedObject.name={name}")).json()["items"]
        created = wait_for(lambda: [e for e in events("web") if e["reason"] == "SuccessfulCreate"], timeout=20, what="an event")
        self.assertEqual(created[0]["involvedObject"]["kind"], "ReplicaSet")
        self.assertEqual(created[0]["source"]["component"], "berth-controller-manager")
        scheduled = wait_for(lambda: [e for e in events(pods[0]["metadata"]["name"]) if e["reason"] == "Scheduled"], timeout=20,
                             what="a Scheduled event")
        self.assertIn(pods[0]["spec"]["nodeName"], scheduled[0]["message"])
        # Least-allocated scoring spreads the pods over the three nodes.
        self.assertEqual(len({p["spec"]["nodeName"] for p in pods}), 3)
        self.c.patch(f"{RS}/web/scale", {"spec": {"replicas": 10}})
        self.wait_converged("web", 10)
        self.c.patch(f"{RS}/web", {"spec": {"replicas": 2}})
        self.wait_converged("web", 2)

    def test_metrics_endpoint_reports_each_controller(self):
        self.assertEqual(self.c.post(RS, replicaset("metered", 1)).status, 201)
        self.addCleanup(self.delete_rs, "metered")
        self.wait_converged("metered", 1)
        leader = self.cm if self.cm.get_status("/readyz")[0] == 200 else self.standby
        self.assertEqual(leader.get_status("/healthz"), (200, "ok"))
        code, text = leader.get_status("/metrics")
        self.assertEqual(code, 200)
        counts = {}
        for line in text.splitlines():
            if line.startswith("berth_controller_reconciles_total{"):
                name = line.split('"')[1]
                counts[name] = int(line.rsplit(" ", 1)[1])
        self.assertGreater(counts.get("replicaset", 0), 0, text)
        self.assertGreater(counts.get("scheduler", 0), 0, text)
        self.assertIn('workqueue_depth{name="deployment"}', text)
        self.assertIn('berth_controller_reconcile_duration_seconds_count{name="replicaset"}', text)
        self.assertIn("berth_leader_is_leading 1", text)
        # The standby is alive but not ready: it does not act.
        other = self.standby if leader is self.cm else self.cm
        if other.proc is not None and other.proc.poll() is None:
            self.assertEqual(other.get_status("/readyz")[0], 503)

    def test_orphans_are_adopted_and_deleted_pods_replaced(self):
        orphan = pod("orphan-1", {"rs": "adopt"})
        self.assertEqual(self.c.post(PODS, orphan).status, 201)
        self.assertEqual(self.c.post(RS, replicaset("adopt", 3)).status, 201)
        self.addCleanup(self.delete_rs, "adopt")
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


DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name, replicas, image="host", strategy=None):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"dep": name}},
                  "template": {"metadata": {"labels": {"dep": name}},
                               "spec": {"containers": [{"name": "c", "image": image,
                                                        "resources": {"requests": {"cpu": "10m"}}}]}}}}
    if strategy:
        d["spec"]["strategy"] = strategy
    return d


class DeploymentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        cls.nodes = ["d-1", "d-2"]
        for n in cls.nodes:
            assert cls.c.post("/api/v1/nodes", node(n)).status == 201
        cls.kubelet = SimulatedKubelet(cls.c, cls.nodes).start()
        cls.cm = ControllerManager(cls.server).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.cm.stop()
        cls.server.cleanup()

    def pods(self, name):
        return [p for p in self.c.get(PODS + "?labelSelector=" + quote(f"dep={name}")).json()["items"]
                if not p["metadata"].get("deletionTimestamp")]

    def rollout_complete(self, name):
        """kubectl rollout status's condition (kubectl-wire.md section 13)."""
        d = self.c.get(f"{DEPLOYS}/{name}").json()
        st, want = d.get("status", {}), d["spec"]["replicas"]
        return (d["metadata"]["generation"] <= st.get("observedGeneration", 0) and st.get("updatedReplicas", 0) >= want
                and st.get("replicas", 0) <= st.get("updatedReplicas", 0) and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0)
                and len(self.pods(name)) == want)

    def test_deployment_converges_scales_and_rolls_out(self):
        self.assertEqual(self.c.post(DEPLOYS, deployment("roll", 5)).status, 201)
        wait_for(lambda: self.rollout_complete("roll"), timeout=30, what="first rollout")
        d = self.c.get(f"{DEPLOYS}/roll").json()
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual(conds["Available"]["status"], "True")
        self.assertEqual(conds["Progressing"]["reason"], "NewReplicaSetAvailable")
        for n in (10, 2, 4):
            scaled = self.c.patch(f"{DEPLOYS}/roll/scale", {"spec": {"replicas": n}})
            self.assertEqual(scaled.status, 200, scaled)
            self.assertEqual(scaled.json()["spec"]["replicas"], n)
            wait_for(lambda: self.rollout_complete("roll"), timeout=30, what=f"scale to {n}")
        # The rollout below is judged against 4 replicas: make sure that is what the cluster has.
        self.assertEqual(self.c.get(f"{DEPLOYS}/roll").json()["spec"]["replicas"], 4)
        self.assertEqual(len(self.pods("roll")), 4)
        # A template change rolls out without going below replicas - maxUnavailable (4 - 1) ready.
        low = [99]
        first_low = []  # what the cluster looked like the first time too few were ready
        stop = __import__("threading").Event()

        def is_ready(p):
            return any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))

        def monitor():
            while not stop.is_set():
                listed = self.c.get(PODS + "?labelSelector=" + quote("dep=roll")).json()
                pods = [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]
                ready = sum(1 for p in pods if is_ready(p))
                low[0] = min(low[0], ready)
                if ready < 3 and not first_low:
                    rss = self.c.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + quote("dep=roll")).json()
                    first_low.append({
                        "rv": listed["metadata"]["resourceVersion"],
                        "pods": [(p["metadata"]["name"], p["metadata"].get("deletionTimestamp"), is_ready(p),
                                  p.get("status", {}).get("phase")) for p in listed["items"]],
                        "replicasets": [(r["metadata"]["name"], r["spec"]["replicas"], r.get("status")) for r in rss["items"]]})
        t = __import__("threading").Thread(target=monitor)
        t.start()
        try:
            self.c.patch(f"{DEPLOYS}/roll", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}},
                         content_type="application/strategic-merge-patch+json")
            wait_for(lambda: self.rollout_complete("roll") and
                     all(p["spec"]["containers"][0]["image"] == "v2" for p in self.pods("roll")), timeout=60, what="rollout of v2")
        finally:
            stop.set()
            t.join()
        if low[0] < 3:
            events = self.c.get("/api/v1/namespaces/default/events").json()["items"]
            scaling = [(e.get("lastTimestamp") or e.get("eventTime"), e["involvedObject"]["name"], e["message"])
                       for e in events if e["involvedObject"].get("name", "").startswith("roll")]
            self.fail(f"{low[0]} ready during the rollout (at least 3 expected); first seen: {first_low}; events: {scaling}")
        rss = self.c.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + quote("dep=roll")).json()["items"]
        revisions = sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for r in rss)
        self.assertEqual(revisions, [1, 2])
        # Rollback, as `kubectl rollout undo` does it: the old template comes back as revision 3.
        self.c.patch(f"{DEPLOYS}/roll", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "host"}]}}}},
                     content_type="application/strategic-merge-patch+json")
        wait_for(lambda: self.rollout_complete("roll") and
                 all(p["spec"]["containers"][0]["image"] == "host" for p in self.pods("roll")), timeout=60, what="rollback")
        rss = self.c.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + quote("dep=roll")).json()["items"]
        self.assertEqual(sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) for r in rss), [2, 3])

    def test_recreate_strategy(self):
        self.assertEqual(self.c.post(DEPLOYS, deployment("re", 3, strategy={"type": "Recreate"})).status, 201)
        wait_for(lambda: self.rollout_complete("re"), timeout=30, what="first rollout")
        self.c.patch(f"{DEPLOYS}/re", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}},
                     content_type="application/strategic-merge-patch+json")
        wait_for(lambda: self.rollout_complete("re") and all(p["spec"]["containers"][0]["image"] == "v2" for p in self.pods("re")),
                 timeout=60, what="recreate rollout")

    def test_background_deletion_removes_replicasets_and_pods(self):
        self.assertEqual(self.c.post(DEPLOYS, deployment("gone", 3)).status, 201)
        wait_for(lambda: self.rollout_complete("gone"), timeout=30, what="rollout")
        self.assertEqual(self.c.delete(f"{DEPLOYS}/gone", {"propagationPolicy": "Background"}).status, 200)
        wait_for(lambda: not self.c.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + quote("dep=gone")).json()["items"]
                 and not self.c.get(PODS + "?labelSelector=" + quote("dep=gone")).json()["items"], timeout=30,
                 what="garbage collection")

    def test_foreground_and_orphan_deletion(self):
        self.assertEqual(self.c.post(DEPLOYS, deployment("fg", 2)).status, 201)
        wait_for(lambda: self.rollout_complete("fg"), timeout=30, what="rollout")
        self.assertEqual(self.c.delete(f"{DEPLOYS}/fg", {"propagationPolicy": "Foreground"}).status, 200)
        wait_for(lambda: self.c.get(f"{DEPLOYS}/fg").status == 404, timeout=30, what="foreground deletion")
        self.assertEqual(self.c.get(PODS + "?labelSelector=" + quote("dep=fg")).json()["items"], [])
        self.assertEqual(self.c.post(DEPLOYS, deployment("orph", 2)).status, 201)
        wait_for(lambda: self.rollout_complete("orph"), timeout=30, what="rollout")
        self.assertEqual(self.c.delete(f"{DEPLOYS}/orph", {"propagationPolicy": "Orphan"}).status, 200)
        wait_for(lambda: self.c.get(f"{DEPLOYS}/orph").status == 404, timeout=30, what="orphan deletion")
        rss = self.c.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=" + quote("dep=orph")).json()["items"]
        self.assertEqual(len(rss), 1)
        self.assertEqual(rss[0]["metadata"].get("ownerReferences", []), [])

    def test_daemonset_one_pod_per_node_follows_nodes_and_rolls(self):
        path = "/apis/apps/v1/namespaces/default/daemonsets"
        ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
              "spec": {"selector": {"matchLabels": {"ds": "agent"}},
                       "template": {"metadata": {"labels": {"ds": "agent"}},
                                    "spec": {"nodeSelector": {"role": "worker"},
                                             "containers": [{"name": "c", "image": "v1"}]}}}}
        for n in ("w-1", "w-2"):
            self.assertEqual(self.c.post("/api/v1/nodes", node(n, labels={"role": "worker"})).status, 201)
        self.kubelet.nodes.update({"w-1", "w-2", "w-3"})
        self.assertEqual(self.c.post(path, ds).status, 201)

        def placed(image=None):
            pods = [p for p in self.c.get(PODS + "?labelSelector=ds%3Dagent").json()["items"]
                    if not p["metadata"].get("deletionTimestamp")]
            if image and any(p["spec"]["containers"][0]["image"] != image for p in pods):
                return None
            return sorted(p["spec"]["nodeName"] for p in pods)
        wait_for(lambda: placed() == ["w-1", "w-2"], timeout=30, what="one pod on each worker")
        self.assertEqual(self.c.post("/api/v1/nodes", node("w-3", labels={"role": "worker"})).status, 201)
        wait_for(lambda: placed() == ["w-1", "w-2", "w-3"], timeout=30, what="a pod on the new node")
        self.assertEqual(self.c.delete("/api/v1/nodes/w-3").status, 200)
        wait_for(lambda: placed() == ["w-1", "w-2"], timeout=30, what="the pod of the removed node to go")
        self.c.patch(f"{path}/agent", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}},
                     content_type="application/strategic-merge-patch+json")
        wait_for(lambda: placed("v2") == ["w-1", "w-2"], timeout=30, what="the rolling update")
        st = self.c.get(f"{path}/agent").json()["status"]
        wait_for(lambda: self.c.get(f"{path}/agent").json()["status"].get("numberReady") == 2, timeout=30, what="ready")
        self.assertEqual(st["desiredNumberScheduled"], 2)

    def test_namespace_deletion_deletes_its_content(self):
        self.assertEqual(self.c.post("/api/v1/namespaces", {"metadata": {"name": "doomed"}}).status, 201)
        d = deployment("inside", 2)
        self.assertEqual(self.c.post("/apis/apps/v1/namespaces/doomed/deployments", d).status, 201)
        self.assertEqual(self.c.post("/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "cm"}}).status, 201)
        wait_for(lambda: len(self.c.get("/api/v1/namespaces/doomed/pods").json()["items"]) == 2, timeout=30, what="pods")
        self.assertEqual(self.c.delete("/api/v1/namespaces/doomed").status, 200)
        wait_for(lambda: self.c.get("/api/v1/namespaces/doomed").status == 404, timeout=30, what="namespace removal")
        self.assertEqual(self.c.get("/api/v1/namespaces/doomed/configmaps").json()["items"], [])


JOBS = "/apis/batch/v1/namespaces/default/jobs"


def job(name, exit_code, completions=3, parallelism=2, backoff_limit=6, **spec):
    j = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
         "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": backoff_limit,
                  "template": {"metadata": {"annotations": {"berth.test/exit": str(exit_code)}},
                               "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "host"}]}}}}
    j["spec"].update(spec)
    return j


class JobsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        assert cls.c.post("/api/v1/nodes", node("j-1")).status == 201
        cls.kubelet = SimulatedKubelet(cls.c, ["j-1"]).start()
        cls.cm = ControllerManager(cls.server, ["--job-backoff-base-ms", "100"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        cls.cm.stop()
        cls.server.cleanup()

    def condition(self, name, type_):
        st = self.c.get(f"{JOBS}/{name}").json().get("status", {})
        return [c for c in st.get("conditions", []) if c["type"] == type_ and c["status"] == "True"]

    def test_job_completes(self):
        self.assertEqual(self.c.post(JOBS, job("ok", 0)).status, 201)
        wait_for(lambda: self.condition("ok", "Complete"), timeout=30, what="Complete")
        st = self.c.get(f"{JOBS}/ok").json()["status"]
        self.assertEqual(st["succeeded"], 3)
        self.assertEqual(st["active"], 0)
        self.assertIn("completionTime", st)
        self.assertIn("startTime", st)

    def test_job_fails_past_backoff_limit(self):
        self.assertEqual(self.c.post(JOBS, job("bad", 1, completions=1, parallelism=1, backoff_limit=2)).status, 201)
        cond = wait_for(lambda: self.condition("bad", "Failed"), timeout=30, what="Failed")[0]
        self.assertEqual(cond["reason"], "BackoffLimitExceeded")
        self.assertEqual(self.c.get(f"{JOBS}/bad").json()["status"]["failed"], 3)

    def test_active_deadline_and_ttl(self):
        running = job("slow", 0, completions=1, parallelism=1, activeDeadlineSeconds=1, ttlSecondsAfterFinished=1)
        del running["spec"]["template"]["metadata"]["annotations"]  # runs forever
        self.assertEqual(self.c.post(JOBS, running).status, 201)
        cond = wait_for(lambda: self.condition("slow", "Failed"), timeout=30, what="DeadlineExceeded")[0]
        self.assertEqual(cond["reason"], "DeadlineExceeded")
        wait_for(lambda: self.c.get(f"{JOBS}/slow").status == 404, timeout=30, what="TTL deletion")

    def test_cronjob_creates_jobs_on_schedule(self):
        cj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
              "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Forbid",
                       "jobTemplate": {"spec": {"template": {"metadata": {"annotations": {"berth.test/exit": "0"}},
                                                             "spec": {"restartPolicy": "Never",
                                                                      "containers": [{"name": "c", "image": "host"}]}}}}}}
        self.assertEqual(self.c.post("/apis/batch/v1/namespaces/default/cronjobs", cj).status, 201)
        self.assertEqual(self.c.post("/apis/batch/v1/namespaces/default/cronjobs",
                                     dict(cj, metadata={"name": "bad"}, spec=dict(cj["spec"], schedule="61 * * * *"))).status, 422)

        def jobs():
            return [j for j in self.c.get(JOBS).json()["items"] if j["metadata"]["name"].startswith("tick-")]
        job = wait_for(jobs, timeout=75, what="the first scheduled Job")[0]
        minutes = int(job["metadata"]["name"].split("-")[1])
        self.assertEqual(minutes * 60 % 60, 0)
        self.assertEqual(job["metadata"]["ownerReferences"][0]["kind"], "CronJob")
        wait_for(lambda: self.c.get("/apis/batch/v1/namespaces/default/cronjobs/tick").json().get("status", {}).get("lastSuccessfulTime"),
                 timeout=30, what="lastSuccessfulTime")
        st = self.c.get("/apis/batch/v1/namespaces/default/cronjobs/tick").json()["status"]
        self.assertIn("lastScheduleTime", st)


class NodeLifecycleTest(unittest.TestCase):
    def test_silent_node_goes_not_ready_and_its_pods_are_replaced(self):
        with ApiServer() as server:
            c = server.client()
            for n in ("live", "dying"):
                self.assertEqual(c.post("/api/v1/nodes", node(n)).status, 201)
            kubelet = SimulatedKubelet(c, ["live", "dying"]).start()
            cm = ControllerManager(server, ["--node-monitor-grace-period-seconds", "2",
                                            "--pod-eviction-timeout-seconds", "2"]).start()
            try:
                self.assertEqual(c.post(RS, replicaset("spread", 4)).status, 201)

                def spread():
                    pods = [p for p in c.get(PODS + "?labelSelector=rs%3Dspread").json()["items"]
                            if p.get("status", {}).get("phase") == "Running"]
                    return len(pods) == 4 and {p["spec"]["nodeName"] for p in pods} == {"live", "dying"}
                wait_for(spread, timeout=30, what="pods on both nodes")
                kubelet.kill_node("dying")

                def unreachable():
                    n = c.get("/api/v1/nodes/dying").json()
                    ready = [x for x in n["status"]["conditions"] if x["type"] == "Ready"][0]
                    taints = {t["key"] + ":" + t["effect"] for t in n["spec"].get("taints", [])}
                    return ready["status"] == "Unknown" and "node.kubernetes.io/unreachable:NoExecute" in taints
                wait_for(unreachable, timeout=30, what="the silent node to be marked unreachable")
                # The live node keeps its Ready=True.
                live = c.get("/api/v1/nodes/live").json()
                self.assertEqual([x["status"] for x in live["status"]["conditions"] if x["type"] == "Ready"], ["True"])

                def replaced():
                    pods = c.get(PODS + "?labelSelector=rs%3Dspread").json()["items"]
                    active = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
                    return len(active) == 4 and all(p["spec"].get("nodeName") == "live" for p in active)
                wait_for(replaced, timeout=40, what="replacements on the live node")
                # The node comes back: the taint goes.
                kubelet.nodes.add("dying")
                c.patch("/api/v1/nodes/dying/status", {"status": {"conditions": [
                    {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "lastHeartbeatTime": __import__("time").strftime("%Y-%m-%dT%H:%M:%SZ", __import__("time").gmtime())}]}})
                wait_for(lambda: not c.get("/api/v1/nodes/dying").json()["spec"].get("taints"), timeout=30,
                         what="the unreachable taint to be removed")
            finally:
                kubelet.stop()
                cm.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
