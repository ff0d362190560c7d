#!/usr/bin/python3
"""REST conformance of berth-apiserver: CRUD, conflicts, selectors, pagination, subresources,
discovery, and bad input. One apiserver for the whole file."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, pod, quote  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name, replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "host"}]}}}}


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def assertStatus(self, resp, code, reason=None):
        self.assertEqual(resp.status, code, resp.body)
        if code >= 400:
            body = resp.json()
            self.assertEqual(body["kind"], "Status")
            self.assertEqual(body["code"], code)
            if reason:
                self.assertEqual(body["reason"], reason, body)
            return body
        return resp.json() if resp.body else None

    # --- CRUD -----------------------------------------------------------------------------

    def test_create_get_update_delete(self):
        created = self.assertStatus(self.c.post(PODS, pod("crud-a", {"app": "a"})), 201)
        meta = created["metadata"]
        for field in ("uid", "resourceVersion", "creationTimestamp"):
            self.assertTrue(meta.get(field), field)
        self.assertEqual(meta["generation"], 1)
        self.assertEqual(created["status"]["phase"], "Pending")
        got = self.assertStatus(self.c.get(PODS + "/crud-a"), 200)
        self.assertEqual(got, created)
        self.assertStatus(self.c.post(PODS, pod("crud-a")), 409, "AlreadyExists")
        # Update with the current resourceVersion works; with a stale one it conflicts.
        got["spec"]["containers"][0]["image"] = "other"
        updated = self.assertStatus(self.c.put(PODS + "/crud-a", got), 200)
        self.assertGreater(int(updated["metadata"]["resourceVersion"]), int(meta["resourceVersion"]))
        self.assertEqual(updated["metadata"]["generation"], 2)
        body = self.assertStatus(self.c.put(PODS + "/crud-a", got), 409, "Conflict")
        self.assertIn("the object has been modified", body["message"])
        deleted = self.assertStatus(self.c.delete(PODS + "/crud-a"), 200)
        self.assertEqual(deleted["metadata"]["name"], "crud-a")
        self.assertStatus(self.c.get(PODS + "/crud-a"), 404, "NotFound")
        self.assertStatus(self.c.delete(PODS + "/crud-a"), 404, "NotFound")

    def test_generate_name_and_yaml_body(self):
        yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\ndata:\n  key: 'yes'\n"
        created = self.assertStatus(self.c.post("/api/v1/namespaces/default/configmaps", yaml_body,
                                                content_type="application/yaml"), 201)
        self.assertTrue(created["metadata"]["name"].startswith("gen-"))
        self.assertEqual(len(created["metadata"]["name"]), len("gen-") + 5)
        self.assertEqual(created["data"]["key"], "yes")

    def test_status_subresource_splits_spec_and_status(self):
        self.assertStatus(self.c.post(PODS, pod("split")), 201)
        cur = self.c.get(PODS + "/split").json()
        # The main resource ignores status...
        cur["status"] = {"phase": "Running"}
        after = self.assertStatus(self.c.put(PODS + "/split", cur), 200)
        self.assertEqual(after["status"]["phase"], "Pending")
        # ...and /status ignores everything else.
        after["status"] = {"phase": "Running"}
        after["metadata"]["labels"] = {"sneaky": "yes"}
        st = self.assertStatus(self.c.put(PODS + "/split/status", after), 200)
        self.assertEqual(st["status"]["phase"], "Running")
        self.assertNotIn("sneaky", st["metadata"].get("labels", {}))
        self.assertEqual(st["metadata"]["generation"], 1)
        patched = self.assertStatus(self.c.patch(PODS + "/split/status", {"status": {"podIP": "10.0.0.1"}}), 200)
        self.assertEqual(patched["status"]["podIP"], "10.0.0.1")
        self.assertEqual(self.c.get(PODS + "/split/status").json()["status"]["podIP"], "10.0.0.1")

    def test_generation_bumps_only_on_spec_change(self):
        d = self.assertStatus(self.c.post(DEPLOYS, deployment("gen")), 201)
        self.assertEqual(d["metadata"]["generation"], 1)
        self.assertEqual(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%")
        d2 = self.assertStatus(self.c.patch(DEPLOYS + "/gen", {"metadata": {"labels": {"x": "y"}}}), 200)
        self.assertEqual(d2["metadata"]["generation"], 1)
        d3 = self.assertStatus(self.c.patch(DEPLOYS + "/gen", {"spec": {"replicas": 5}}), 200)
        self.assertEqual(d3["metadata"]["generation"], 2)
        # A no-op patch keeps the resourceVersion.
        d4 = self.assertStatus(self.c.patch(DEPLOYS + "/gen", {"spec": {"replicas": 5}}), 200)
        self.assertEqual(d4["metadata"]["resourceVersion"], d3["metadata"]["resourceVersion"])

    def test_patch_types(self):
        self.assertStatus(self.c.post(DEPLOYS, deployment("pt")), 201)
        j = self.assertStatus(self.c.patch(DEPLOYS + "/pt", [{"op": "replace", "path": "/spec/replicas", "value": 7}],
                                           content_type="application/json-patch+json"), 200)
        self.assertEqual(j["spec"]["replicas"], 7)
        self.assertStatus(self.c.patch(DEPLOYS + "/pt", [{"op": "test", "path": "/spec/replicas", "value": 1}],
                                       content_type="application/json-patch+json"), 422, "Invalid")
        smp = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "host"}]}}}}
        s = self.assertStatus(self.c.patch(DEPLOYS + "/pt", smp, content_type="application/strategic-merge-patch+json"), 200)
        self.assertEqual([c["name"] for c in s["spec"]["template"]["spec"]["containers"]], ["web", "sidecar"])
        self.assertStatus(self.c.patch(DEPLOYS + "/pt", "{}", content_type="text/plain"), 415, "UnsupportedMediaType")
        # A patch carrying a stale resourceVersion is a precondition.
        self.assertStatus(self.c.patch(DEPLOYS + "/pt", {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1}}),
                          409, "Conflict")

    def test_server_side_apply_creates_then_updates(self):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}})
        path = "/api/v1/namespaces/default/configmaps/ssa?fieldManager=test"
        self.assertStatus(self.c.patch(path, body, content_type="application/apply-patch+yaml"), 201)
        # Another manager adds a field: both are kept, each owned by its applier.
        other = "/api/v1/namespaces/default/configmaps/ssa?fieldManager=other"
        r = self.assertStatus(self.c.patch(other, "data:\n  b: '2'\n", content_type="application/apply-patch+yaml"), 200)
        self.assertEqual(r["data"], {"a": "1", "b": "2"})
        self.assertEqual(sorted(e["manager"] for e in r["metadata"]["managedFields"]), ["other", "test"])
        # The first manager stops applying "a": it goes, "b" (not its own) stays.
        r = self.assertStatus(self.c.patch(path, "data:\n  c: '3'\n", content_type="application/apply-patch+yaml"), 200)
        self.assertEqual(r["data"], {"b": "2", "c": "3"})
        # Changing a field another manager owns is a conflict naming both.
        clash = self.assertStatus(self.c.patch(path, "data:\n  b: 'x'\n", content_type="application/apply-patch+yaml"),
                                  409, "Conflict")
        self.assertIn('conflict with "other": .data.b', clash["message"])
        self.assertStatus(self.c.patch("/api/v1/namespaces/default/configmaps/ssa", body,
                                       content_type="application/apply-patch+yaml"), 422, "Invalid")

    def test_dry_run_stores_nothing(self):
        r = self.assertStatus(self.c.post(PODS + "?dryRun=All", pod("dry")), 201)
        self.assertEqual(r["metadata"]["name"], "dry")
        self.assertStatus(self.c.get(PODS + "/dry"), 404)

    def test_namespaces_must_exist_and_not_terminate(self):
        self.assertStatus(self.c.post("/api/v1/namespaces/nope/pods", pod("x")), 404, "NotFound")
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.assertStatus(self.c.get("/api/v1/namespaces/" + ns), 200)
        self.assertStatus(self.c.post("/api/v1/namespaces", {"metadata": {"name": "doomed"}}), 201)
        ns = self.assertStatus(self.c.delete("/api/v1/namespaces/doomed"), 200)
        self.assertEqual(ns["status"]["phase"], "Terminating")
        body = self.assertStatus(self.c.post("/api/v1/namespaces/doomed/pods", pod("x")), 403, "Forbidden")
        self.assertIn("being terminated", body["message"])
        # Clearing the finalizers (what the namespace controller does) removes it.
        ns["spec"]["finalizers"] = []
        self.assertStatus(self.c.put("/api/v1/namespaces/doomed/finalize", ns), 200)
        self.assertStatus(self.c.get("/api/v1/namespaces/doomed"), 404)

    def test_finalizers_hold_deletion(self):
        cm = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {}}
        self.assertStatus(self.c.post("/api/v1/namespaces/default/configmaps", cm), 201)
        r = self.assertStatus(self.c.delete("/api/v1/namespaces/default/configmaps/held"), 200)
        self.assertIn("deletionTimestamp", r["metadata"])
        self.assertStatus(self.c.get("/api/v1/namespaces/default/configmaps/held"), 200)
        self.assertStatus(self.c.patch("/api/v1/namespaces/default/configmaps/held", {"metadata": {"finalizers": None}}), 200)
        self.assertStatus(self.c.get("/api/v1/namespaces/default/configmaps/held"), 404)

    def test_delete_preconditions_and_propagation(self):
        created = self.assertStatus(self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "pre"}}), 201)
        self.assertStatus(self.c.delete("/api/v1/namespaces/default/configmaps/pre",
                                        {"preconditions": {"uid": "wrong"}}), 409, "Conflict")
        self.assertStatus(self.c.delete("/api/v1/namespaces/default/configmaps/pre",
                                        {"propagationPolicy": "Sideways"}), 400, "BadRequest")
        r = self.assertStatus(self.c.delete("/api/v1/namespaces/default/configmaps/pre",
                                            {"preconditions": {"uid": created["metadata"]["uid"]}}), 200)
        self.assertEqual(r["status"], "Success")
        self.assertEqual(r["details"]["uid"], created["metadata"]["uid"])

    def test_graceful_pod_deletion_when_bound(self):
        self.assertStatus(self.c.post(PODS, pod("bound", node="n1")), 201)
        r = self.assertStatus(self.c.delete(PODS + "/bound"), 200)
        self.assertEqual(r["metadata"]["deletionGracePeriodSeconds"], 30)
        self.assertStatus(self.c.get(PODS + "/bound"), 200)
        self.assertStatus(self.c.delete(PODS + "/bound", {"gracePeriodSeconds": 0}), 200)
        self.assertStatus(self.c.get(PODS + "/bound"), 404)

    def test_binding_and_scale(self):
        self.assertStatus(self.c.post(PODS, pod("tobind")), 201)
        # A binding to anything but a Node is refused naming the field, and binds nothing.
        wrong = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "tobind"}, "target": {"kind": "Pod", "name": "n7"}}
        bad = self.assertStatus(self.c.post(PODS + "/tobind/binding", wrong), 422, "Invalid")
        self.assertEqual(bad["details"]["causes"][0]["field"], "target.kind")
        self.assertIn('Unsupported value: "Pod"', bad["details"]["causes"][0]["message"])
        self.assertNotIn("nodeName", self.c.get(PODS + "/tobind").json()["spec"])
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "tobind"}, "target": {"kind": "Node", "name": "n7"}}
        self.assertStatus(self.c.post(PODS + "/tobind/binding", binding), 201)
        p = self.c.get(PODS + "/tobind").json()
        self.assertEqual(p["spec"]["nodeName"], "n7")
        self.assertEqual(p["status"]["conditions"][0]["type"], "PodScheduled")
        self.assertStatus(self.c.post(PODS + "/tobind/binding", binding), 409, "Conflict")
        self.assertStatus(self.c.post(DEPLOYS, deployment("scaled", 2)), 201)
        sc = self.assertStatus(self.c.get(DEPLOYS + "/scaled/scale"), 200)
        self.assertEqual(sc["kind"], "Scale")
        self.assertEqual(sc["spec"]["replicas"], 2)
        self.assertEqual(sc["status"]["selector"], "app=scaled")
        sc2 = self.assertStatus(self.c.patch(DEPLOYS + "/scaled/scale", {"spec": {"replicas": 4}}), 200)
        self.assertEqual(sc2["spec"]["replicas"], 4)
        self.assertEqual(self.c.get(DEPLOYS + "/scaled").json()["spec"]["replicas"], 4)

    # --- lists ------------------------------------------------------------------------------

    def test_selectors_and_all_namespaces(self):
        self.assertStatus(self.c.post("/api/v1/namespaces", {"metadata": {"name": "sel"}}), 201)
        base = "/api/v1/namespaces/sel/pods"
        for name, labels, node in [("s1", {"app": "web", "tier": "fe"}, "n1"), ("s2", {"app": "web", "tier": "be"}, "n2"),
                                   ("s3", {"app": "db"}, "n1"), ("s4", {"legacy": "true"}, None)]:
            self.assertStatus(self.c.post(base, pod(name, labels, node)), 201)

        def names(query):
            r = self.assertStatus(self.c.get(base + "?" + query), 200)
            self.assertEqual(r["kind"], "PodList")
            self.assertTrue(int(r["metadata"]["resourceVersion"]) > 0)
            return sorted(i["metadata"]["name"] for i in r["items"])

        self.assertEqual(names("labelSelector=" + quote("app=web")), ["s1", "s2"])
        self.assertEqual(names("labelSelector=" + quote("app==web,tier!=be")), ["s1"])
        self.assertEqual(names("labelSelector=tier+in+%28fe%2Cbe%29"), ["s1", "s2"])
        self.assertEqual(names("labelSelector=" + quote("tier notin (fe),!legacy")), ["s2", "s3"])
        self.assertEqual(names("labelSelector=" + quote("tier")), ["s1", "s2"])
        self.assertEqual(names("fieldSelector=" + quote("spec.nodeName=n1")), ["s1", "s3"])
        self.assertEqual(names("fieldSelector=" + quote("metadata.name=s2")), ["s2"])
        self.assertEqual(names("fieldSelector=" + quote("spec.nodeName=n1,metadata.name!=s1")), ["s3"])
        self.assertStatus(self.c.get(base + "?fieldSelector=" + quote("spec.bogus=1")), 400, "BadRequest")
        self.assertStatus(self.c.get(base + "?labelSelector=" + quote("a in (b")), 400, "BadRequest")
        everywhere = self.c.get("/api/v1/pods?labelSelector=" + quote("app=web")).json()
        self.assertEqual(sorted(i["metadata"]["name"] for i in everywhere["items"]), ["s1", "s2"])
        empty = self.c.get("/api/v1/namespaces/sel/configmaps").json()
        self.assertEqual(empty["items"], [])

    def test_table_and_text_views(self):
        """kubectl get's Table (list, single object, watch) and the text/plain view for curl."""
        table_accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
        self.assertStatus(self.c.post("/api/v1/namespaces/default/configmaps",
                                      {"metadata": {"name": "tabled"}, "data": {"a": "1", "b": "2"}}), 201)
        r = self.c.get("/api/v1/namespaces/default/configmaps", headers=table_accept)
        self.assertEqual(r.status, 200)
        t = r.json()
        self.assertEqual((t["kind"], t["apiVersion"]), ("Table", "meta.k8s.io/v1"))
        self.assertEqual([c["name"] for c in t["columnDefinitions"]], ["Name", "Data", "Age"])
        row = next(r for r in t["rows"] if r["cells"][0] == "tabled")
        self.assertEqual(row["cells"][1], 2)
        self.assertEqual(row["object"]["kind"], "PartialObjectMetadata")
        self.assertEqual(row["object"]["metadata"]["namespace"], "default")
        one = self.c.get("/api/v1/namespaces/default/configmaps/tabled", headers=table_accept).json()
        self.assertEqual(len(one["rows"]), 1)
        text = self.c.get("/api/v1/configmaps?labelSelector=", headers={"Accept": "text/plain"})
        self.assertTrue(text.headers and any(v.startswith("text/plain") for v in text.header_all("Content-Type")))
        lines = text.body.decode().splitlines() if isinstance(text.body, bytes) else text.body.splitlines()
        self.assertEqual(lines[0].split(), ["NAMESPACE", "NAME", "DATA", "AGE"])
        self.assertTrue(any(line.split()[:3] == ["default", "tabled", "2"] for line in lines), lines)
        # Watch events carry one-row Tables; column definitions come with the first only.
        events = self.c.watch("/api/v1/namespaces/default/configmaps?timeoutSeconds=1", headers=table_accept)
        first = next(events)
        self.assertEqual(first["object"]["kind"], "Table")
        self.assertEqual(len(first["object"]["rows"]), 1)
        self.assertTrue(first["object"]["columnDefinitions"])
        for later in events:
            self.assertEqual(later["object"]["columnDefinitions"], [])

    def test_pagination_is_consistent(self):
        self.assertStatus(self.c.post("/api/v1/namespaces", {"metadata": {"name": "pages"}}), 201)
        base = "/api/v1/namespaces/pages/configmaps"
        for i in range(25):
            self.assertStatus(self.c.post(base, {"metadata": {"name": f"cm-{i:02d}", "labels": {"even": str(i % 2 == 0).lower()}}}), 201)
        seen, token, rv = [], None, None
        while True:
            q = "?limit=7" + (f"&continue={token}" if token else "")
            r = self.assertStatus(self.c.get(base + q), 200)
            rv = rv or r["metadata"]["resourceVersion"]
            self.assertEqual(r["metadata"]["resourceVersion"], rv)
            seen += [i["metadata"]["name"] for i in r["items"]]
            if len(seen) == 7:
                # A create between pages is not part of this list.
                self.assertStatus(self.c.post(base, {"metadata": {"name": "cm-99"}}), 201)
            token = r["metadata"].get("continue")
            if not token:
                break
            self.assertLessEqual(len(r["items"]), 7)
        self.assertEqual(seen, [f"cm-{i:02d}" for i in range(25)])
        # Pages with a selector are filled with matching items only.
        r = self.c.get(base + "?limit=5&labelSelector=even%3Dtrue").json()
        self.assertEqual(len(r["items"]), 5)
        self.assertTrue(all(i["metadata"]["labels"]["even"] == "true" for i in r["items"]))
        self.assertStatus(self.c.get(base + "?limit=5&continue=garbage"), 400, "BadRequest")

    # --- validation and bad input -------------------------------------------------------------

    def test_invalid_objects_get_422_with_causes(self):
        bad = pod("Bad_Name")
        body = self.assertStatus(self.c.post(PODS, bad), 422, "Invalid")
        self.assertIn("metadata.name", [c["field"] for c in body["details"]["causes"]])
        bad = pod("typed")
        bad["spec"]["containers"][0]["image"] = 42
        body = self.assertStatus(self.c.post(PODS, bad), 422, "Invalid")
        self.assertIn("spec.containers[0].image", [c["field"] for c in body["details"]["causes"]])
        bad = pod("nocontainers")
        del bad["spec"]["containers"]
        body = self.assertStatus(self.c.post(PODS, bad), 422, "Invalid")
        self.assertIn("spec.containers", [c["field"] for c in body["details"]["causes"]])
        d = deployment("mismatch")
        d["spec"]["selector"]["matchLabels"] = {"app": "other"}
        self.assertStatus(self.c.post(DEPLOYS, d), 422, "Invalid")
        d = deployment("negative", -1)
        body = self.assertStatus(self.c.post(DEPLOYS, d), 422, "Invalid")
        self.assertIn("spec.replicas", [c["field"] for c in body["details"]["causes"]])
        self.assertStatus(self.c.get(PODS + "/Bad_Name"), 404)

    def test_unknown_fields_by_field_validation(self):
        p = pod("unknown")
        p["spec"]["bogusField"] = 1
        body = self.assertStatus(self.c.post(PODS + "?fieldValidation=Strict", p), 400, "BadRequest")
        self.assertIn('unknown field "spec.bogusField"', body["message"])
        r = self.c.post(PODS + "?fieldValidation=Warn", p)
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(any("spec.bogusField" in w for w in r.header_all("Warning")))

    def test_malformed_bodies(self):
        self.assertStatus(self.c.post(PODS, "{not json"), 400, "BadRequest")
        self.assertStatus(self.c.post(PODS, "a: [1, 2", content_type="application/yaml"), 400, "BadRequest")
        self.assertStatus(self.c.post(PODS, "[]"), 400, "BadRequest")
        # Inputs on which Debian's yaml-cpp would loop forever, and an alias bomb.
        self.assertStatus(self.c.post(PODS, ",a\n", content_type="application/yaml"), 400, "BadRequest")
        bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(9))
        self.assertStatus(self.c.post(PODS, bomb, content_type="application/yaml"), 400, "BadRequest")
        # Protobuf: decoded for kubectl's generator kinds; garbage (no envelope) is a clear 400.
        garbage = self.assertStatus(self.c.post(PODS, b"\x08\x00", content_type="application/vnd.kubernetes.protobuf"), 400)
        self.assertIn("protobuf body is malformed", garbage["message"])
        self.assertStatus(self.c.post(PODS, "x", content_type="text/csv"), 415, "UnsupportedMediaType")
        deep = "[" * 5000 + "]" * 5000
        self.assertStatus(self.c.post(PODS, deep), 400, "BadRequest")
        wrong_kind = pod("wk")
        wrong_kind["kind"] = "Node"
        self.assertStatus(self.c.post(PODS, wrong_kind), 400, "BadRequest")
        other_ns = pod("wrongns")
        other_ns["metadata"]["namespace"] = "kube-system"
        self.assertStatus(self.c.post(PODS, other_ns), 400, "BadRequest")
        self.assertStatus(self.c.get("/api/v1/namespaces/default/widgets"), 404, "NotFound")
        self.assertStatus(self.c.get("/apis/nope/v1/things"), 404, "NotFound")
        big = {"metadata": {"name": "big"}, "data": {"x": "a" * (3 * 1024 * 1024 + 10)}}
        self.assertStatus(self.c.post("/api/v1/namespaces/default/configmaps", big), 413, "RequestEntityTooLarge")
        self.assertStatus(self.c.get("/api/v1/namespaces/default/configmaps/big"), 404)
        self.assertStatus(self.c.get(PODS + "?limit=abc"), 400)

    def test_chunked_oversized_upload_is_refused_with_curl(self):
        path = os.path.join(self.server.data_dir, "big.json")
        with open(path, "w") as f:
            f.write('{"metadata":{"name":"chunky"},"data":{"x":"' + "b" * (4 * 1024 * 1024) + '"}}')
        out = subprocess.run(self.server.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
                                              "-H", "Content-Type: application/json", "--data-binary", "@" + path,
                                              "/api/v1/namespaces/default/configmaps"),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout, "413", out.stderr)

    # --- discovery, openapi, health -------------------------------------------------------------

    def test_discovery(self):
        v = self.c.get("/version").json()
        self.assertEqual(v["gitVersion"], "v1.32.4")
        self.assertEqual(self.c.get("/api").json()["versions"], ["v1"])
        listed = {g["name"]: g for g in self.c.get("/apis").json()["groups"]}
        self.assertEqual(set(listed), {"apps", "batch", "coordination.k8s.io", "scheduling.k8s.io", "policy", "apiextensions.k8s.io",
                                       "scheduling.berth.dev", "discovery.k8s.io", "networking.k8s.io", "rbac.authorization.k8s.io",
                                       "authorization.k8s.io", "authentication.k8s.io", "certificates.k8s.io"})
        # Berth's own group (fair-share Queues) is served at its one version.
        self.assertEqual(listed["scheduling.berth.dev"]["preferredVersion"]["groupVersion"], "scheduling.berth.dev/v1alpha1")
        core = {r["name"]: r for r in self.c.get("/api/v1").json()["resources"]}
        for name in ("pods", "nodes", "namespaces", "configmaps", "secrets", "events", "serviceaccounts", "pods/status", "pods/binding"):
            self.assertIn(name, core)
        self.assertEqual(core["pods"]["shortNames"], ["po"])
        # kubectl drain checks this entry before it evicts.
        ev = core["pods/eviction"]
        self.assertEqual((ev["group"], ev["version"], ev["kind"], ev["verbs"]), ("policy", "v1", "Eviction", ["create"]))
        self.assertFalse(core["nodes"]["namespaced"])
        apps = {r["name"] for r in self.c.get("/apis/apps/v1").json()["resources"]}
        self.assertIn("deployments/scale", apps)
        self.assertEqual(self.c.get("/apis/apps").json()["preferredVersion"]["groupVersion"], "apps/v1")
        agg = self.c.get("/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
        self.assertEqual(agg.header_all("Content-Type")[0], "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        self.assertEqual(agg.json()["kind"], "APIGroupDiscoveryList")

    def test_openapi_and_health(self):
        root = self.c.get("/openapi/v3").json()
        self.assertIn("apis/apps/v1", root["paths"])
        doc = self.c.get(root["paths"]["apis/apps/v1"]["serverRelativeURL"]).json()
        patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
        self.assertEqual(patch["x-kubernetes-group-version-kind"]["kind"], "Deployment")
        self.assertIn("fieldValidation", [p["name"] for p in patch["parameters"]])
        self.assertIn("io.k8s.api.apps.v1.Deployment", doc["components"]["schemas"])
        v2 = self.c.get("/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
        self.assertEqual(v2.status, 200)
        self.assertEqual(v2.header_all("Content-Type")[0], "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        for path in ("/healthz", "/livez", "/readyz"):
            self.assertEqual(self.c.get(path).body, "ok")
        self.c.get(PODS)
        metrics = self.c.get("/metrics").body
        self.assertIn('apiserver_request_total{verb="list",resource="pods",code="200"}', metrics)
        self.assertIn("berth_storage_commit_batch_size_bucket", metrics)
        self.assertIn("apiserver_registered_watchers", metrics)


if __name__ == "__main__":
    unittest.main(verbosity=2)
