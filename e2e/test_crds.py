#!/usr/bin/python3
"""CustomResourceDefinitions end to end, and the example custom controller."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, ApiServer, Kubectl, ControllerManager, Process, SimulatedKubelet, node, wait_for  # noqa: E402

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                    "statusReplicasPath": ".status.replicas"}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "required": ["size"], "properties": {
                                   "size": {"type": "integer", "minimum": 1},
                                   "color": {"type": "string", "default": "blue", "enum": ["blue", "red"]},
                                   "replicas": {"type": "integer"},
                                   "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
                               "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                                           "ready": {"type": "boolean"}}}}}},
                           "additionalPrinterColumns": [
                               {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                               {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                               {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "priority": 1},
                               {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]}]}}


def widget(name, size=3, **spec):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": dict({"size": size}, **spec)}


class CrdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer().start()
        cls.c = cls.server.client()
        r = cls.c.post(CRDS, WIDGET_CRD)
        assert r.status == 201, r.body

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_established_and_in_discovery_at_once(self):
        crd = self.c.get(f"{CRDS}/widgets.example.com").json()
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds["Established"], "True")
        self.assertIn("example.com", [g["name"] for g in self.c.get("/apis").json()["groups"]])
        names = [r["name"] for r in self.c.get("/apis/example.com/v1").json()["resources"] if r["name"].startswith("widgets")]
        self.assertEqual(names, ["widgets", "widgets/status", "widgets/scale"])

    def test_crud_defaults_pruning_and_validation(self):
        r = self.c.post(WIDGETS, widget("w1", junk=1, free={"anything": [1, 2]}))
        self.assertEqual(r.status, 201, r.body)
        w = r.json()
        self.assertEqual(w["spec"]["color"], "blue")              # defaulted
        self.assertNotIn("junk", w["spec"])                        # pruned
        self.assertEqual(w["spec"]["free"], {"anything": [1, 2]})  # preserved
        bad = self.c.post(WIDGETS, widget("w2", size=0, color="green"))
        self.assertEqual(bad.status, 422, bad.body)
        self.assertEqual(sorted(c["field"] for c in bad.json()["details"]["causes"]), ["spec.color", "spec.size"])
        strict = self.c.post(WIDGETS + "?fieldValidation=Strict", widget("w3", junk=1))
        self.assertEqual(strict.status, 400, strict.body)
        self.assertEqual(strict.json()["message"], 'strict decoding error: unknown field "spec.junk"')
        # apiVersion, kind and metadata are implied at a custom resource's root (kubectl sends Strict).
        self.assertEqual(self.c.post(WIDGETS + "?fieldValidation=Strict", widget("w5")).status, 201)
        missing = self.c.post(WIDGETS, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w4"}, "spec": {}})
        self.assertEqual(missing.status, 422)
        self.assertEqual(self.c.patch(f"{WIDGETS}/w1", {"spec": {"size": 5}}).json()["spec"]["size"], 5)
        smp = self.c.patch(f"{WIDGETS}/w1", {"spec": {"size": 6}}, content_type="application/strategic-merge-patch+json")
        self.assertEqual(smp.status, 415)
        self.assertEqual(self.c.get("/apis/example.com/v1/widgets").json()["kind"], "WidgetList")

    def test_kubectl_get_prints_the_printer_columns(self):
        self.assertEqual(self.c.post(WIDGETS, widget("printed", size=7, replicas=2)).status, 201)
        kubectl = self.server.kubectl()
        try:
            out = kubectl.run("get", "widgets").stdout.splitlines()
            self.assertEqual(out[0].split(), ["NAME", "SIZE", "COLOR", "AGE"])
            row = next(line.split() for line in out if line.startswith("printed "))
            self.assertEqual(row[:3], ["printed", "7", "blue"])
            self.assertRegex(row[3], r"^\d+s$")  # humanized by the server
            wide = kubectl.run("get", "wd", "printed", "-o", "wide").stdout.splitlines()
            self.assertEqual(wide[0].split(), ["NAME", "SIZE", "COLOR", "REPLICAS", "AGE"])
            self.assertEqual(wide[1].split()[3], "2")
        finally:
            kubectl.cleanup()

    def test_status_and_scale_subresources(self):
        self.assertEqual(self.c.post(WIDGETS, widget("ws", replicas=2)).status, 201)
        main = self.c.patch(f"{WIDGETS}/ws", {"status": {"ready": True}})
        self.assertNotIn("status", main.json())
        st = self.c.patch(f"{WIDGETS}/ws/status", {"status": {"ready": True, "replicas": 2}})
        self.assertEqual(st.json()["status"], {"ready": True, "replicas": 2})
        scale = self.c.get(f"{WIDGETS}/ws/scale").json()
        self.assertEqual((scale["spec"]["replicas"], scale["status"]["replicas"]), (2, 2))
        self.c.patch(f"{WIDGETS}/ws/scale", {"spec": {"replicas": 7}})
        self.assertEqual(self.c.get(f"{WIDGETS}/ws").json()["spec"]["replicas"], 7)

    def test_watch_custom_resources(self):
        rv = self.c.get(WIDGETS).json()["metadata"]["resourceVersion"]
        gen = self.c.watch(f"{WIDGETS}?resourceVersion={rv}&timeoutSeconds=3")
        self.c.post(WIDGETS, widget("watched"))
        ev = next(gen)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "watched"))

    def test_deleting_the_crd_deletes_its_objects(self):
        crd = json.loads(json.dumps(WIDGET_CRD).replace("widgets", "gadgets").replace("Widget", "Gadget")
                         .replace('"widget"', '"gadget"').replace('"wd"', '"gd"'))
        self.assertEqual(self.c.post(CRDS, crd).status, 201)
        path = "/apis/example.com/v1/namespaces/default/gadgets"
        g = widget("g1")
        g["kind"] = "Gadget"
        self.assertEqual(self.c.post(path, g).status, 201)
        self.assertEqual(self.c.delete(f"{CRDS}/gadgets.example.com").status, 200)
        wait_for(lambda: self.c.get(f"{CRDS}/gadgets.example.com").status == 404, timeout=20, what="CRD removal")
        self.assertEqual(self.c.get(path).status, 404)
        # Recreating it starts empty.
        self.assertEqual(self.c.post(CRDS, crd).status, 201)
        self.assertEqual(self.c.get(path).json()["items"], [])

    def test_custom_resources_survive_restart(self):
        self.assertEqual(self.c.post(WIDGETS, widget("durable")).status, 201)
        self.server.stop()
        self.server.start()
        self.__class__.c = self.server.client()
        self.assertEqual(self.server.client().get(f"{WIDGETS}/durable").status, 200)


class ExampleControllerTest(unittest.TestCase):
    def test_taskrun_controller_reconciles_into_pods(self):
        with ApiServer() as server:
            c = server.client()
            self.assertEqual(c.post("/api/v1/nodes", node("ex-1")).status, 201)
            kubelet = SimulatedKubelet(c, ["ex-1"]).start()
            cm = ControllerManager(server).start()
            crd = os.path.join(os.path.dirname(__file__), "..", "controllers", "examples", "taskrun", "taskrun_crd.json")
            example = Process([os.path.join(BIN_DIR, "berth-example-taskrun-controller"), "--kubeconfig",
                               server.kubeconfig, "--crd", crd], server.data_dir).start()
            try:
                path = "/apis/example.berth.dev/v1/namespaces/default/taskruns"
                wait_for(lambda: c.get(path).status == 200, timeout=20, what="the TaskRun CRD")
                tr = {"apiVersion": "example.berth.dev/v1", "kind": "TaskRun", "metadata": {"name": "hello"},
                      "spec": {"image": "host", "command": ["echo", "hi"], "count": 3,
                               "podAnnotations": {"berth.test/exit": "0"}}}
                self.assertEqual(c.post(path, tr).status, 201)
                wait_for(lambda: c.get(f"{path}/hello").json().get("status", {}).get("phase") == "Succeeded", timeout=30,
                         what="the TaskRun to succeed")
                st = c.get(f"{path}/hello").json()["status"]
                self.assertEqual((st["succeeded"], st["failed"]), (3, 0))
                pods = c.get("/api/v1/namespaces/default/pods?labelSelector=example.berth.dev%2Ftaskrun%3Dhello").json()["items"]
                self.assertEqual(sorted(p["metadata"]["name"] for p in pods), ["hello-0", "hello-1", "hello-2"])
                # The garbage collector follows custom kinds too: deleting the TaskRun (background
                # propagation) removes the pods it owns.
                self.assertEqual(c.delete(f"{path}/hello").status, 200)
                wait_for(lambda: not c.get("/api/v1/namespaces/default/pods?labelSelector=example.berth.dev%2Ftaskrun%3Dhello")
                         .json()["items"], timeout=30, what="the TaskRun's pods to be collected")
            finally:
                example.stop()
                cm.stop()
                kubelet.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
