#!/usr/bin/python3
"""Real clients against the whole cluster started by the one command (`cli/berth up`): kubectl
1.32 with a fresh HOME (no discovery cache from elsewhere) and the official Python client."""
import base64
import ipaddress
import json
import re
import os
import shutil
import socket
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, BerthUp, agent_checkpoints, cleanup_agent_leftovers, json_lines, wait_for  # noqa: E402

SKIP = None if os.geteuid() == 0 else "the agent needs root (namespaces, cgroups)"
CLUSTER = None

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: c
        image: host
        command: ["sh", "-c", "i=0; while true; do echo MARK $i; i=$((i+1)); sleep 0.2; done"]
"""

CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.kubectl.berth.dev}
spec:
  group: kubectl.berth.dev
  scope: Namespaced
  names: {plural: gizmos, singular: gizmo, kind: Gizmo, shortNames: [gz]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"""


def setUpModule():
    global CLUSTER
    if SKIP:
        return
    CLUSTER = BerthUp(node_name="kubectl-node").start()


def tearDownModule():
    if CLUSTER:
        CLUSTER.stop()


@unittest.skipIf(SKIP, SKIP)
class KubectlTest(unittest.TestCase):
    def setUp(self):
        self.k = CLUSTER.kubectl()
        self.c = CLUSTER.client()

    def tearDown(self):
        self.k.cleanup()

    def kubectl(self, *args, **kw):
        return self.k.run(*args, **kw).stdout

    def apply_text(self, text, *extra):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            return self.kubectl("apply", "-f", f.name, *extra)
        finally:
            os.unlink(f.name)

    def test_kubeconfig_from_berth_up_works(self):
        env = dict(os.environ, HOME=self.k.home, KUBECONFIG=CLUSTER.kubeconfig)
        out = subprocess.run(["kubectl", "get", "nodes", "-o", "name"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.strip(), "node/kubectl-node", out.stderr)

    def test_deployment_lifecycle(self):
        self.apply_text(DEPLOYMENT)
        self.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        wide = self.kubectl("get", "pods", "-l", "app=web", "-o", "wide").splitlines()
        self.assertEqual(wide[0].split()[:7], ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"])
        self.assertEqual(len(wide), 3)
        for line in wide[1:]:
            self.assertEqual(line.split()[1:3], ["1/1", "Running"])
            self.assertEqual(line.split()[6], "kubectl-node")
        # logs -f streams as the process writes.
        proc = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "logs", "-f", "deployment/web"],
                                env=dict(os.environ, HOME=self.k.home), stdout=subprocess.PIPE, text=True)
        first, second = proc.stdout.readline(), proc.stdout.readline()
        proc.kill()
        proc.wait()
        self.assertTrue(first.startswith("MARK") and second.startswith("MARK"), (first, second))
        self.kubectl("scale", "deployment", "web", "--replicas=3")
        self.kubectl("rollout", "status", "deployment/web", "--timeout=60s", timeout=90)
        self.assertEqual(len(self.kubectl("get", "pods", "-l", "app=web", "-o", "name").split()), 3)
        self.apply_text(DEPLOYMENT.replace("MARK", "NEXT"))
        self.kubectl("rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
        self.assertIn("2", self.kubectl("rollout", "history", "deployment/web"))
        self.kubectl("rollout", "undo", "deployment/web")
        self.kubectl("rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
        self.kubectl("rollout", "restart", "deployment/web")
        self.kubectl("rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
        pods = self.kubectl("get", "pods", "-l", "app=web", "-o", "name").split()
        uids = self.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.uid}").split()
        cps = agent_checkpoints(os.path.join(CLUSTER.data_dir, "agent"))
        pids = [cps[f"{u}_c"]["pid"] for u in uids if f"{u}_c" in cps]
        self.assertEqual(len(pids), len(pods))
        # delete --wait returns once the processes are gone.
        self.kubectl("delete", "deployment", "web", "--wait=true", "--timeout=60s", timeout=90)
        self.kubectl("wait", "--for=delete", "pod", "-l", "app=web", "--timeout=60s", timeout=90)
        for pid in pids:
            self.assertFalse(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z",
                             f"container init {pid} still running")

    def test_describe_logs_previous_and_orphan_cascade(self):
        pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: twice, labels: {app: twice}}\nspec:\n  containers:\n"
               "  - {name: main, image: host, command: [sh, -c, 'echo run; sleep 0.3; exit 1']}\n"
               "  - {name: side, image: host, command: [sh, -c, 'echo side; sleep 300']}\n")
        self.kubectl("apply", "-f", "-", stdin=pod)
        wait_for(lambda: self.c.get("/api/v1/namespaces/default/pods/twice").json().get("status", {})
                 .get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1, timeout=30, what="a restart")
        self.assertEqual(self.kubectl("logs", "twice", "-c", "main", "--previous").strip(), "run")
        self.assertEqual(self.kubectl("logs", "twice", "-c", "side", "--tail=1").strip(), "side")
        described = self.kubectl("describe", "pod", "twice")
        for expected in ("Restart Count:", "Last State:", "Events:", "Service Account:  default",
                         "/var/run/secrets/kubernetes.io/serviceaccount from kube-api-access-"):
            self.assertIn(expected, described)
        self.assertRegex(described, r"\nNode: +kubectl-node/")
        self.kubectl("delete", "pod", "twice", "--wait=true", "--timeout=60s", timeout=90)
        rs = ("apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: keep}\nspec:\n  replicas: 1\n"
              "  selector: {matchLabels: {app: keep}}\n  template:\n    metadata: {labels: {app: keep}}\n"
              "    spec: {containers: [{name: c, image: host, command: [sleep, '300']}]}\n")
        self.kubectl("apply", "-f", "-", stdin=rs)
        wait_for(lambda: self.kubectl("get", "pods", "-l", "app=keep", "-o", "name").strip(), timeout=30, what="the pod")
        self.kubectl("delete", "rs", "keep", "--cascade=orphan", "--wait=true", "--timeout=30s", timeout=60)
        # --wait returned once the ReplicaSet was gone, which the orphan finalizer allows only after
        # the pods lost their owner reference: nothing is left for the garbage collector to take.
        pods = self.c.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dkeep").json()["items"]
        self.assertEqual(len(pods), 1)
        self.assertFalse(pods[0]["metadata"].get("ownerReferences"), "the orphan lost its owner reference")
        self.kubectl("delete", "pods", "-l", "app=keep", "--wait=true", "--timeout=60s", timeout=90)

    def test_get_watch_prints_changes_as_they_happen(self):
        # Something to list first: with an empty list kubectl prints nothing until an event.
        self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "watch-seed"}})
        proc = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "get", "configmaps", "-w"],
                                env=dict(os.environ, HOME=self.k.home), stdout=subprocess.PIPE, text=True)
        try:
            header = proc.stdout.readline()
            self.assertEqual(header.split()[:3], ["NAME", "DATA", "AGE"])
            time.sleep(0.3)
            self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "watched"}, "data": {"a": "1"}})
            line = ""
            for _ in range(50):  # bounded: each readline returns a printed row
                line = proc.stdout.readline()
                if not line or line.startswith("watched"):
                    break
            self.assertEqual(line.split()[:2], ["watched", "1"])
        finally:
            proc.kill()
            proc.wait()

    def test_every_namespace_gets_a_default_serviceaccount_and_the_root_ca(self):
        self.kubectl("create", "namespace", "sa-check")
        with open(CLUSTER.ca_file) as f:
            ca = f.read()

        def root_ca():
            r = self.c.get("/api/v1/namespaces/sa-check/configmaps/kube-root-ca.crt")
            return r.status == 200 and r.json()["data"] == {"ca.crt": ca}
        wait_for(lambda: self.c.get("/api/v1/namespaces/sa-check/serviceaccounts/default").status == 200, timeout=30,
                 what="the default ServiceAccount")
        wait_for(root_ca, timeout=30, what="kube-root-ca.crt with the cluster's CA")
        # Put back when deleted or changed, as upstream's controllers do.
        self.kubectl("delete", "serviceaccount", "default", "-n", "sa-check")
        self.kubectl("patch", "configmap", "kube-root-ca.crt", "-n", "sa-check", "--type=merge", "-p",
                     '{"data":{"ca.crt":"forged"}}')
        wait_for(root_ca, timeout=30, what="kube-root-ca.crt restored")
        wait_for(lambda: self.c.get("/api/v1/namespaces/sa-check/serviceaccounts/default").status == 200, timeout=30,
                 what="the default ServiceAccount recreated")
        self.kubectl("delete", "namespace", "sa-check", "--wait=false")

    def berth(self, *args, **kw):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "berth")
        return subprocess.run(["bash", script, *args], capture_output=True, text=True, timeout=kw.pop("timeout", 60),
                              env=dict(os.environ, BERTH_BIN=BIN_DIR), **kw)

    def test_berth_join_brings_a_node_in_through_tls_bootstrap(self):
        """berth token create + berth join: the CA pinned by the token's hash, a bootstrap token
        traded for the node's own client certificate (CertificateSigningRequest auto-approved and
        signed by the controller-manager), the agent then confined as system:node:NAME."""
        made = self.berth("token", "create", "--data-dir", CLUSTER.data_dir)
        self.assertEqual(made.returncode, 0, made.stderr)
        token = made.stdout.strip()
        m = re.fullmatch(r"K10([0-9a-f]{64})::([a-z0-9]{6})\.([a-z0-9]{16})", token)
        self.assertIsNotNone(m, token)
        token_id = m.group(2)
        secret = self.c.get(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}").json()
        self.assertEqual(secret["type"], "bootstrap.kubernetes.io/token")
        join_dir = tempfile.mkdtemp(prefix="berth-join-")
        try:
            forged = self.berth("join", "--server", CLUSTER.url, "--token", "K10" + "0" * 64 + "::" + token.split("::")[1],
                                "--node-name", "joined", "--data-dir", join_dir)
            self.assertNotEqual(forged.returncode, 0)
            self.assertIn("refusing to send the token", forged.stderr)
            self.assertFalse(os.path.exists(os.path.join(join_dir, "cred", "bootstrap.kubeconfig")))

            script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "berth")
            # Joined through the address the cluster advertises (the machine's end of its veth),
            # as another machine would: the node's InternalIP is then the address this machine
            # reaches the server from, not loopback.
            server = f"https://{CLUSTER.host_address}:{CLUSTER.port}" if CLUSTER.netns else CLUSTER.url
            with open(os.path.join(join_dir, "join.out"), "wb") as out:
                proc = subprocess.Popen(["bash", script, "join", "--server", server, "--token", token, "--node-name",
                                         "joined", "--data-dir", join_dir, "--", "--runtime=fake"],
                                        stdout=out, stderr=out, env=dict(os.environ, BERTH_BIN=BIN_DIR))
            try:
                def joined_ready():
                    r = self.c.get("/api/v1/nodes/joined")
                    return r.status == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                                   for c in r.json()["status"]["conditions"])
                wait_for(joined_ready, timeout=60, what="the joined node to be Ready")
                if CLUSTER.netns:
                    node = self.c.get("/api/v1/nodes/joined").json()
                    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
                    self.assertEqual(addresses.get("InternalIP"), CLUSTER.host_address, node["status"])
                    # The agent's endpoint (logs, exec, port-forward relays) listens there too.
                    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                    socket.create_connection((CLUSTER.host_address, port), timeout=5).close()
                csrs = self.c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests").json()["items"]
                mine = [c for c in csrs if c["spec"]["username"] == f"system:bootstrap:{token_id}"]
                self.assertEqual(len(mine), 1, csrs)
                csr = mine[0]
                self.assertEqual(csr["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet")
                self.assertIn("system:bootstrappers:berth:default-node-token", csr["spec"]["groups"])
                self.assertEqual([(c["type"], c["reason"]) for c in csr["status"]["conditions"]], [("Approved", "AutoApproved")])
                self.assertIn("Approved,Issued", self.kubectl("get", "csr", csr["metadata"]["name"]))
                kubeconfig = os.path.join(join_dir, "cred", "agent.kubeconfig")
                self.assertEqual(os.stat(kubeconfig).st_mode & 0o777, 0o600)
                cert = base64.b64decode(csr["status"]["certificate"]).decode()
                subject = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=cert, capture_output=True,
                                         text=True).stdout
                self.assertIn("O = system:nodes, CN = system:node:joined", subject)
                # The node is confined like any other: no Secrets it has no pod for.
                env = dict(os.environ, HOME=self.k.home)
                r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "get", "secret", "-n", "kube-system",
                                    f"bootstrap-token-{token_id}"], capture_output=True, text=True, env=env, timeout=60)
                self.assertIn('User "system:node:joined" cannot get resource "secrets"', r.stderr)
            finally:
                proc.terminate()
                proc.wait(60)
        finally:
            cleanup_agent_leftovers(os.path.join(join_dir, "agent"), "joined")
            shutil.rmtree(join_dir, ignore_errors=True)
            self.c.delete("/api/v1/nodes/joined")

    def test_kubectl_certificate_approve_gets_a_client_certificate_signed(self):
        key_dir = tempfile.mkdtemp(prefix="berth-csr-")
        try:
            key, csr_path = os.path.join(key_dir, "k.key"), os.path.join(key_dir, "k.csr")
            subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-subj", "/CN=carol/O=developers", "-keyout", key, "-out", csr_path],
                           check=True, capture_output=True)
            with open(csr_path, "rb") as f:
                request = base64.b64encode(f.read()).decode()
            body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                    "metadata": {"name": "carol"},
                    "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client",
                             "usages": ["client auth"], "expirationSeconds": 3600, "username": "forged"}}
            r = self.c.post("/apis/certificates.k8s.io/v1/certificatesigningrequests", body)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json()["spec"]["username"], "system:admin")  # the requester, never the body
            self.assertIn("Pending", self.kubectl("get", "csr", "carol"))
            self.kubectl("certificate", "approve", "carol")
            wait_for(lambda: self.c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests/carol").json()
                     .get("status", {}).get("certificate"), timeout=30, what="the signer to issue the certificate")
            cert = base64.b64decode(self.c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests/carol")
                                    .json()["status"]["certificate"]).decode()
            out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-issuer", "-dates"], input=cert,
                                 capture_output=True, text=True).stdout
            self.assertIn("subject=O = developers, CN = carol", out)
            self.assertIn("berth-client-ca", out)
            bad = dict(body, metadata={"name": "garbage"})
            bad["spec"] = dict(body["spec"], request=base64.b64encode(b"not a csr").decode())
            r = self.c.post("/apis/certificates.k8s.io/v1/certificatesigningrequests", bad)
            self.assertEqual(r.status, 422, r)
            self.assertIn("spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST",
                          r.json()["message"])
        finally:
            shutil.rmtree(key_dir, ignore_errors=True)
            self.c.delete("/apis/certificates.k8s.io/v1/certificatesigningrequests/carol")

    def test_berth_up_enforces_pod_security_baseline_outside_kube_system(self):
        """berth up's AdmissionConfiguration: baseline enforced (image: host is host access),
        restricted warned, kube-system exempt, a namespace label overrides it."""
        self.kubectl("create", "namespace", "psa-default")
        host_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h"},
                    "spec": {"containers": [{"name": "c", "image": "host", "command": ["true"]}]}}
        r = self.c.post("/api/v1/namespaces/psa-default/pods", host_pod)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["message"], 'pods "h" is forbidden: violates PodSecurity "baseline:latest": host '
                                              'filesystem (container "c" must not use image "host" (the node\'s root '
                                              'file system))')
        plain = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
                 "spec": {"containers": [{"name": "c", "image": "registry.invalid/app:1"}]}}
        r = self.c.post("/api/v1/namespaces/psa-default/pods", plain)
        self.assertEqual(r.status, 201, r)
        warnings = " ".join(r.header_all("Warning"))  # 299 - "<quoted text>"
        self.assertIn('would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false', warnings)
        r = self.c.post("/api/v1/namespaces/kube-system/pods", dict(host_pod, metadata={"name": "psa-exempt"}))
        self.assertEqual(r.status, 201, r)
        self.c.delete("/api/v1/namespaces/kube-system/pods/psa-exempt", {"gracePeriodSeconds": 0})
        CLUSTER.allow_host_pods("psa-default")
        self.assertEqual(self.c.post("/api/v1/namespaces/psa-default/pods", host_pod).status, 201)
        self.kubectl("delete", "namespace", "psa-default", "--wait=false")

    def test_an_in_cluster_client_in_a_pod_uses_its_service_account(self):
        """The agent mounts the projected kube-api-access volume (a token bound to the pod, the
        cluster CA, the namespace) on a tmpfs and points KUBERNETES_SERVICE_HOST/PORT at the API:
        the official Python client's load_incluster_config() and kubectl work inside the pod with
        the ServiceAccount's permissions; the token dies with the pod."""
        self.kubectl("create", "namespace", "incluster")
        CLUSTER.allow_host_pods("incluster")
        self.kubectl("create", "serviceaccount", "viewer", "-n", "incluster")
        self.kubectl("create", "rolebinding", "viewer-view", "--clusterrole=view", "--serviceaccount=incluster:viewer",
                     "-n", "incluster")
        wait_for(lambda: self.c.get("/api/v1/namespaces/incluster/configmaps/kube-root-ca.crt").status == 200,
                 timeout=30, what="kube-root-ca.crt in the namespace")
        script = ("import json,os,sys\n"
                  "from kubernetes import client, config\n"
                  "config.load_incluster_config()\n"
                  "pods = client.CoreV1Api().list_namespaced_pod('incluster').items\n"
                  "d = '/var/run/secrets/kubernetes.io/serviceaccount/'\n"
                  "print('PODS', len(pods))\n"
                  "print('API', os.environ['KUBERNETES_SERVICE_HOST'], os.environ['KUBERNETES_SERVICE_PORT'])\n"
                  "print('NAMESPACE', open(d + 'namespace').read())\n"
                  "print('TOKEN', open(d + 'token').read())\n"
                  "try:\n"
                  "    client.CoreV1Api().create_namespaced_config_map('incluster', {'metadata': {'name': 'x'}})\n"
                  "except client.exceptions.ApiException as e:\n"
                  "    print('CREATE', e.status)\n")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py", "namespace": "incluster"},
               "spec": {"serviceAccountName": "viewer", "restartPolicy": "Never",
                        "containers": [
                            {"name": "py", "image": "host", "command": ["/usr/bin/python3", "-c", script]},
                            {"name": "kubectl", "image": "host", "env": [{"name": "HOME", "value": "/tmp"}],
                             "command": ["sh", "-c", "kubectl get pods -n incluster -o name; sleep 30"]}]}}
        r = self.c.post("/api/v1/namespaces/incluster/pods", pod)
        self.assertEqual(r.status, 201, r.body)
        uid = r.json()["metadata"]["uid"]

        def py_done():
            p = self.c.get("/api/v1/namespaces/incluster/pods/py").json()
            for cs in p.get("status", {}).get("containerStatuses", []):
                if cs["name"] == "py" and "terminated" in cs.get("state", {}):
                    return cs["state"]["terminated"]
            return None
        wait_for(py_done, timeout=90, what="the in-cluster Python client to finish")
        logs = self.kubectl("logs", "py", "-c", "py", "-n", "incluster")
        self.assertEqual(py_done()["exitCode"], 0, logs)
        self.assertIn("PODS 1", logs)
        # On the pod network (berth up's default): the pod has an address of its own from the
        # node's podCIDR and reached the API through the kubernetes Service.
        self.assertIn("API 10.96.0.1 443", logs)
        node_cidr = self.c.get("/api/v1/nodes/kubectl-node").json()["spec"]["podCIDR"]
        pod_ip = self.c.get("/api/v1/namespaces/incluster/pods/py").json()["status"]["podIP"]
        self.assertTrue(ipaddress.ip_address(pod_ip) in ipaddress.ip_network(node_cidr), (pod_ip, node_cidr))
        self.assertIn("NAMESPACE incluster", logs)
        self.assertIn("CREATE 403", logs)
        token = logs.split("TOKEN ")[1].split()[0]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        self.assertEqual(claims["sub"], "system:serviceaccount:incluster:viewer")
        self.assertEqual(claims["kubernetes.io"]["pod"], {"name": "py", "uid": uid})
        self.assertEqual(claims["kubernetes.io"]["node"]["name"], "kubectl-node")
        self.assertEqual(claims["exp"] - claims["iat"], 3607)
        wait_for(lambda: "pod/py" in self.kubectl("logs", "py", "-c", "kubectl", "-n", "incluster"), timeout=60,
                 what="kubectl inside the pod to list pods")
        # The volume is a tmpfs: the token never touched the node's disk.
        def pod_tmpfs_mounts():
            with open("/proc/self/mountinfo") as f:
                return [line.split()[4] for line in f if " - tmpfs " in line and uid in line]
        self.assertTrue(any("/volumes/kube-api-access-" in m for m in pod_tmpfs_mounts()), pod_tmpfs_mounts())

        def review():
            r = self.c.post("/apis/authentication.k8s.io/v1/tokenreviews",
                            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})
            return r.json()["status"]
        self.assertTrue(review()["authenticated"])
        self.kubectl("delete", "pod", "py", "-n", "incluster", "--grace-period=1", timeout=90)
        wait_for(lambda: not review()["authenticated"], timeout=90, what="the token to die with its pod")
        wait_for(lambda: not pod_tmpfs_mounts(), timeout=30, what="the pod's tmpfs volumes to be unmounted")
        self.kubectl("delete", "namespace", "incluster", "--wait=false")

    def test_the_audit_log_records_who_did_what_and_never_a_secret(self):
        self.kubectl("create", "secret", "generic", "audited", "--from-literal=password=s3cr3t-value")
        r = self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "audited-cm"}, "data": {"k": "v"}})
        self.assertEqual(r.status, 201)
        audit_id = r.header_all("Audit-Id")[0]
        path = os.path.join(CLUSTER.data_dir, "audit.log")

        def events():
            return json_lines(path)

        def by_id():
            return [e for e in events() if e["auditID"] == audit_id]
        wait_for(by_id, timeout=10, what="the configmap's audit event")
        cm = by_id()[0]
        self.assertEqual((cm["level"], cm["verb"], cm["stage"]), ("Metadata", "create", "ResponseComplete"))
        self.assertEqual(cm["user"]["username"], "system:admin")
        self.assertEqual(cm["objectRef"], {"resource": "configmaps", "namespace": "default", "apiVersion": "v1"})
        self.assertEqual(cm["responseStatus"]["code"], 201)
        # A long-running request: ResponseStarted when the watch begins, ResponseComplete when it ends.
        w = self.c.get("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1")
        self.assertEqual(w.status, 200)
        audit_id = w.header_all("Audit-Id")[0]
        wait_for(lambda: len(by_id()) == 2, timeout=10, what="both stages of the watch's audit events")
        self.assertEqual([(e["verb"], e["stage"]) for e in by_id()], [("watch", "ResponseStarted"), ("watch", "ResponseComplete")])
        secret = [e for e in events() if e.get("objectRef", {}).get("resource") == "secrets" and e["verb"] == "create"
                  and e["objectRef"].get("namespace") == "default"]  # not berth token create's, in kube-system
        self.assertEqual(secret[0]["level"], "Metadata")
        self.assertTrue(secret[0]["userAgent"].startswith("kubectl"))
        with open(path) as f:
            text = f.read()
        self.assertNotIn("s3cr3t-value", text)
        self.assertNotIn(base64.b64encode(b"s3cr3t-value").decode(), text)
        # Writes of other kinds carry their request body; health checks and lease renewals are not recorded.
        self.kubectl("create", "deployment", "audited-web", "--image=host", "--", "sleep", "3600")
        wait_for(lambda: any(e.get("objectRef", {}).get("name") == "audited-web" or
                             e.get("requestObject", {}).get("metadata", {}).get("name") == "audited-web"
                             for e in events() if e["level"] == "Request"), timeout=10, what="the deployment's body")
        self.assertFalse(any(e["requestURI"].startswith("/readyz") for e in events()))
        self.assertFalse(any(e.get("objectRef", {}).get("resource") == "leases" and e["verb"] == "update" for e in events()))
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.kubectl("delete", "deployment", "audited-web")

    def test_everyday_commands(self):
        self.assertIn("Server Version: v1.32.4", self.kubectl("version"))
        self.assertIn("deployments", self.kubectl("api-resources"))
        self.assertIn("apps/v1", self.kubectl("api-versions"))
        self.assertIn("containers", self.kubectl("explain", "pod.spec"))
        self.assertIn(f"Kubernetes control plane is running at {CLUSTER.url}", self.kubectl("cluster-info"))
        # Services get a clusterIP and are routed on the pod network (berth up's default): no warning.
        svc = self.k.run("apply", "-f", "-", stdin="apiVersion: v1\nkind: Service\nmetadata: {name: web-svc}\n"
                                                  "spec: {selector: {app: web}, ports: [{port: 80}]}\n")
        self.assertNotIn("Warning", svc.stderr)
        # ExternalName too: the cluster DNS serves it as a CNAME.
        external = self.k.run("apply", "-f", "-", stdin="apiVersion: v1\nkind: Service\nmetadata: {name: db-alias}\n"
                                                       "spec: {type: ExternalName, externalName: db.example.com}\n")
        self.assertNotIn("Warning", external.stderr)
        self.kubectl("delete", "svc", "db-alias")
        row = self.kubectl("get", "svc", "web-svc").splitlines()[1].split()
        self.assertEqual([row[0], row[1], row[3], row[4]], ["web-svc", "ClusterIP", "<none>", "80/TCP"])
        self.assertTrue(row[2].startswith("10.") and 96 <= int(row[2].split(".")[1]) <= 111, row)
        # Applied again without a clusterIP, it keeps its address.
        self.k.run("apply", "-f", "-", stdin="apiVersion: v1\nkind: Service\nmetadata: {name: web-svc, labels: {a: b}}\n"
                                             "spec: {selector: {app: web}, ports: [{port: 80}]}\n")
        self.assertEqual(self.kubectl("get", "svc", "web-svc").splitlines()[1].split()[2], row[2])
        self.apply_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: everyday}\ndata: {k: v}\n")
        self.kubectl("label", "configmap", "everyday", "tier=x")
        self.kubectl("annotate", "configmap", "everyday", "note=hello")
        self.kubectl("patch", "configmap", "everyday", "--type=merge", "-p", '{"data":{"m":"1"}}')
        self.kubectl("patch", "configmap", "everyday", "--type=json", "-p", '[{"op":"add","path":"/data/j","value":"2"}]')
        self.kubectl("patch", "configmap", "everyday", "-p", '{"data":{"s":"3"}}')
        self.assertEqual(self.kubectl("get", "cm", "-l", "tier=x", "-o", "jsonpath={.items[0].data}"),
                         '{"j":"2","k":"v","m":"1","s":"3"}')
        self.assertEqual(self.kubectl("get", "cm", "everyday", "-o", "name").strip(), "configmap/everyday")
        self.assertIn("note: hello", self.kubectl("get", "cm", "everyday", "-o", "yaml"))
        self.assertIn("default", self.kubectl("get", "cm", "-A", "--field-selector", "metadata.name=everyday"))
        self.kubectl("apply", "--server-side", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1'}\n")
        self.assertIn("configmap/ssa", self.kubectl("get", "cm", "ssa", "-o", "name"))
        # Another field manager setting the same field differently conflicts, until it forces.
        other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '2'}\n"
        clash = self.k.run("apply", "--server-side", "--field-manager=other", "-f", "-", stdin=other, check=False)
        self.assertNotEqual(clash.returncode, 0)
        self.assertIn('conflict with "kubectl": .data.a', clash.stderr)
        self.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-", stdin=other)
        self.assertEqual(self.kubectl("get", "cm", "ssa", "-o", "jsonpath={.data.a}"), "2")
        self.c.post("/api/v1/namespaces/default/events", {
            "metadata": {"name": "everyday.1"}, "involvedObject": {"kind": "ConfigMap", "name": "everyday", "namespace": "default"},
            "reason": "Checked", "message": "seen by the test", "type": "Normal", "count": 1})
        events = self.kubectl("get", "events", "-A").splitlines()
        self.assertEqual(events[0].split()[:4], ["NAMESPACE", "LAST", "SEEN", "TYPE"])
        self.kubectl("delete", "cm", "everyday", "ssa", "--wait=true")

    def test_crd_and_custom_resources(self):
        self.apply_text(CRD)
        self.kubectl("wait", "--for=condition=Established", "crd/gizmos.kubectl.berth.dev", "--timeout=30s")
        self.apply_text("apiVersion: kubectl.berth.dev/v1\nkind: Gizmo\nmetadata: {name: g1}\nspec: {size: 4}\n")
        lines = self.kubectl("get", "gz").splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "SIZE"])
        self.assertEqual(lines[1].split(), ["g1", "4"])
        self.apply_text("apiVersion: kubectl.berth.dev/v1\nkind: Gizmo\nmetadata: {name: g1}\nspec: {size: 5}\n")
        self.assertEqual(self.kubectl("get", "gizmo", "g1", "-o", "jsonpath={.spec.size}"), "5")
        self.kubectl("delete", "crd", "gizmos.kubectl.berth.dev", "--wait=true", "--timeout=30s", timeout=60)

    def test_generators_send_protobuf_and_it_is_decoded(self):
        self.kubectl("create", "namespace", "generated")
        CLUSTER.allow_host_pods("generated")
        self.kubectl("create", "configmap", "gen-cm", "--from-literal=a=b", "-n", "generated")
        self.kubectl("create", "secret", "generic", "gen-secret", "--from-literal=password=hunter2", "-n", "generated")
        self.kubectl("create", "serviceaccount", "gen-sa", "-n", "generated")
        self.kubectl("create", "job", "gen-job", "--image=host", "-n", "generated", "--", "echo", "generated")
        self.kubectl("create", "deployment", "gen-dep", "--image=host", "--replicas=1", "-n", "generated", "--",
                     "sleep", "300")
        self.assertEqual(self.kubectl("get", "cm", "gen-cm", "-n", "generated", "-o", "jsonpath={.data.a}"), "b")
        self.kubectl("wait", "--for=condition=Complete", "job/gen-job", "-n", "generated", "--timeout=60s", timeout=90)
        self.assertEqual(self.kubectl("logs", "job/gen-job", "-n", "generated").strip(), "generated")
        self.kubectl("rollout", "status", "deployment/gen-dep", "-n", "generated", "--timeout=60s", timeout=90)
        self.kubectl("delete", "namespace", "generated", "--wait=true", "--timeout=60s", timeout=90)

    def test_zz_supervisor_restarts_a_killed_apiserver(self):
        self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "survivor"}})
        old = CLUSTER.component_pid("berth-apiserver")
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: CLUSTER.component_pid("berth-apiserver") not in (None, old), timeout=30,
                 what="a new apiserver")

        def back():
            try:
                return self.c.get("/api/v1/namespaces/default/configmaps/survivor").status == 200
            except OSError:
                return False
        wait_for(back, timeout=30, what="the apiserver back with its data")


@unittest.skipIf(SKIP, SKIP)
class PythonClientTest(unittest.TestCase):
    """The official client (Debian's python3-kubernetes): every response must deserialize."""

    @classmethod
    def setUpClass(cls):
        from kubernetes import client, config
        config.load_kube_config(config_file=CLUSTER.kubeconfig)
        cls.client = client
        cls.core = client.CoreV1Api()
        cls.apps = client.AppsV1Api()
        cls.custom = client.CustomObjectsApi()

    def test_pods_create_list_watch_patch_replace_delete(self):
        from kubernetes import watch
        c = self.client
        pod = c.V1Pod(metadata=c.V1ObjectMeta(name="py-pod", labels={"app": "py"}),
                      spec=c.V1PodSpec(containers=[c.V1Container(name="c", image="host", command=["sleep", "300"])]))
        self.core.create_namespaced_pod("default", pod)
        w = watch.Watch()
        running = False
        for ev in w.stream(self.core.list_namespaced_pod, "default", label_selector="app=py", timeout_seconds=20):
            if ev["object"].status.phase == "Running":
                running = True
                w.stop()
        self.assertTrue(running, "the pod ran on the agent and the watch saw it")
        pods = self.core.list_namespaced_pod("default", label_selector="app=py").items
        self.assertEqual([p.metadata.name for p in pods], ["py-pod"])
        self.assertEqual(pods[0].status.container_statuses[0].state.running is not None, True)
        self.core.patch_namespaced_pod("py-pod", "default", {"metadata": {"labels": {"patched": "yes"}}})
        current = self.core.read_namespaced_pod("py-pod", "default")
        current.metadata.annotations = {"replaced": "yes"}
        replaced = self.core.replace_namespaced_pod("py-pod", "default", current)
        self.assertEqual(replaced.metadata.labels["patched"], "yes")
        self.assertEqual(replaced.metadata.annotations["replaced"], "yes")
        self.core.delete_namespaced_pod("py-pod", "default")
        wait_for(lambda: not self.core.list_namespaced_pod("default", label_selector="app=py").items, timeout=30,
                 what="the pod to be gone")

    def test_deployments_and_nodes(self):
        c = self.client
        dep = c.V1Deployment(
            metadata=c.V1ObjectMeta(name="py-dep"),
            spec=c.V1DeploymentSpec(replicas=1, selector=c.V1LabelSelector(match_labels={"app": "py-dep"}),
                                    template=c.V1PodTemplateSpec(
                                        metadata=c.V1ObjectMeta(labels={"app": "py-dep"}),
                                        spec=c.V1PodSpec(containers=[c.V1Container(name="c", image="host",
                                                                                   command=["sleep", "300"])]))))
        self.apps.create_namespaced_deployment("default", dep)
        wait_for(lambda: (self.apps.read_namespaced_deployment_status("py-dep", "default").status.ready_replicas or 0) == 1,
                 timeout=60, what="the Deployment to be ready")
        self.apps.patch_namespaced_deployment_scale("py-dep", "default", {"spec": {"replicas": 2}})
        wait_for(lambda: (self.apps.read_namespaced_deployment("py-dep", "default").status.ready_replicas or 0) == 2,
                 timeout=60, what="two ready replicas")
        names = [d.metadata.name for d in self.apps.list_deployment_for_all_namespaces().items]
        self.assertIn("py-dep", names)
        self.apps.delete_namespaced_deployment("py-dep", "default", propagation_policy="Foreground")
        nodes = self.core.list_node().items
        self.assertEqual([n.metadata.name for n in nodes], ["kubectl-node"])
        info = nodes[0].status.node_info
        self.assertTrue(info.kubelet_version and info.machine_id is not None)
        self.core.patch_node("kubectl-node", {"metadata": {"labels": {"py": "labelled"}}})
        self.assertEqual(self.core.read_node("kubectl-node").metadata.labels["py"], "labelled")

    def test_custom_objects(self):
        ext = self.client.ApiextensionsV1Api()
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.py.berth.dev"},
               "spec": {"group": "py.berth.dev", "scope": "Namespaced",
                        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                          "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}
        ext.create_custom_resource_definition(crd)
        group, version, plural = "py.berth.dev", "v1", "widgets"
        self.custom.create_namespaced_custom_object(group, version, "default", plural, {
            "apiVersion": "py.berth.dev/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1}})
        self.custom.patch_namespaced_custom_object(group, version, "default", plural, "w1", {"spec": {"size": 2}})
        got = self.custom.get_namespaced_custom_object(group, version, "default", plural, "w1")
        self.assertEqual(got["spec"]["size"], 2)
        listed = self.custom.list_namespaced_custom_object(group, version, "default", plural)
        self.assertEqual([i["metadata"]["name"] for i in listed["items"]], ["w1"])
        self.custom.delete_namespaced_custom_object(group, version, "default", plural, "w1")
        ext.delete_custom_resource_definition("widgets.py.berth.dev")


@unittest.skipIf(SKIP, SKIP)
class PythonControllerTest(unittest.TestCase):
    """controllers/examples/python-scaler: a custom controller in Python reconciles its CRD."""

    def test_scaler_controller_scales_the_deployment(self):
        example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "controllers", "examples", "python-scaler")
        k = CLUSTER.kubectl()
        proc = None
        try:
            k.run("apply", "-f", os.path.join(example, "scaler_crd.yaml"))
            k.run("wait", "--for=condition=Established", "crd/scalers.example.berth.dev", "--timeout=30s")
            k.run("apply", "-f", "-", stdin=DEPLOYMENT.replace("name: web", "name: scaled").replace("app: web", "app: scaled"))
            proc = subprocess.Popen(["/usr/bin/python3", os.path.join(example, "scaler_controller.py"), "--kubeconfig",
                                     CLUSTER.kubeconfig, "--resync", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
            self.assertEqual(proc.stdout.readline().strip(), "scaler controller running")
            k.run("apply", "-f", "-", stdin="apiVersion: example.berth.dev/v1\nkind: Scaler\nmetadata: {name: s1}\n"
                                             "spec: {deployment: scaled, replicas: 3}\n")
            c = CLUSTER.client()
            dep = "/apis/apps/v1/namespaces/default/deployments/scaled"
            wait_for(lambda: c.get(dep).json()["spec"]["replicas"] == 3, timeout=30, what="the controller to scale to 3")
            scaler = "/apis/example.berth.dev/v1/namespaces/default/scalers/s1"
            wait_for(lambda: c.get(scaler).json().get("status", {}).get("readyReplicas") == 3, timeout=60,
                     what="the Scaler's status to report 3 ready")
            k.run("patch", "scaler", "s1", "--type=merge", "-p", '{"spec":{"replicas":1}}')
            wait_for(lambda: c.get(dep).json()["spec"]["replicas"] == 1, timeout=30, what="the controller to scale to 1")
            row = k.run("get", "scalers").stdout.splitlines()[1].split()
            self.assertEqual(row[:3], ["s1", "scaled", "1"])
        finally:
            if proc:
                proc.kill()
                proc.wait()
            k.run("delete", "deployment", "scaled", "--ignore-not-found", check=False)
            k.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
