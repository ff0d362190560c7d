#!/usr/bin/python3
"""Authentication and RBAC through the real apiserver (--authorization-mode=RBAC) over TLS, with
kubectl and the official Python client: client certificates and static tokens, 401 and 403 with
Kubernetes' Status bodies, `kubectl auth can-i` / `auth can-i --list` / `auth whoami`, Roles and
bindings created with kubectl granting exactly what they say, the bootstrap roles, and the
authorizer rebuilt from storage after a restart."""
import base64
import calendar
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, ApiServer, ControllerManager, Pki, cleanup_agent_leftovers, json_lines, wait_for  # noqa: E402

BOB_TOKEN = "bob-8c1f0e-token"


class Security(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.pki.issue("jane", "/CN=jane/O=developers", "")
        cls.tokens = cls.pki.path("tokens.csv")
        with open(cls.tokens, "w") as f:
            f.write(f'{BOB_TOKEN},bob,1002,"viewers,qa"\n')
        p = cls.pki
        cls.data_dir = tempfile.mkdtemp(prefix="berth-e2e-")
        cls.args = ["--tls-cert-file", p.path("server.crt"), "--tls-private-key-file", p.path("server.key"),
                    "--client-ca-file", p.path("ca.crt"), "--authorization-mode", "RBAC", "--token-auth-file", cls.tokens]
        cls.server = ApiServer(data_dir=cls.data_dir, extra_args=cls.args).start()
        cls.url = f"https://127.0.0.1:{cls.server.port}"
        cls.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")
        cls.as_admin("create", "namespace", "team")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.pki.cleanup()
        shutil.rmtree(cls.data_dir, ignore_errors=True)  # ours: the server removes only a directory it made
        shutil.rmtree(cls.home, ignore_errors=True)

    @classmethod
    def kubectl(cls, who, *args, check=True):
        cmd = ["kubectl", "--server", cls.url, "--certificate-authority", cls.pki.path("ca.crt")]
        if who == "bob":
            cmd += ["--token", BOB_TOKEN]
        else:
            cmd += ["--client-certificate", cls.pki.path(who + ".crt"), "--client-key", cls.pki.path(who + ".key")]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=cls.home))
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl as {who} {args} failed: {r.stderr}")
        return r

    @classmethod
    def as_admin(cls, *args, **kw):
        return cls.kubectl("admin", *args, **kw)

    def request(self, method, path, body=None, cert=None, token=None, content_type="application/json", headers=None):
        ctx = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        if cert:
            ctx.load_cert_chain(self.pki.path(cert + ".crt"), self.pki.path(cert + ".key"))
        headers = dict(headers or {}, **{"Content-Type": content_type})
        if token:
            headers["Authorization"] = token
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null") if "json" in r.headers.get("Content-Type", "") else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def test_anonymous_requests_get_401_except_health_and_version(self):
        status, body = self.request("GET", "/api/v1/namespaces/default/pods")
        self.assertEqual(status, 401)
        self.assertEqual(body, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        ctx = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        for path in ("/healthz", "/livez", "/readyz", "/version"):
            with urllib.request.urlopen(self.url + path, context=ctx, timeout=10) as r:
                self.assertEqual(r.status, 200, path)

    def test_a_wrong_token_is_401_even_where_anonymous_would_do(self):
        status, body = self.request("GET", "/version", token="Bearer not-a-token")
        self.assertEqual((status, body["reason"]), (401, "Unauthorized"))

    def test_forbidden_answers_name_user_verb_resource_and_scope(self):
        status, body = self.request("GET", "/api/v1/namespaces/kube-system/secrets/x", cert="jane")
        self.assertEqual(status, 403)
        self.assertEqual(body["reason"], "Forbidden")
        self.assertEqual(body["message"], 'secrets "x" is forbidden: User "jane" cannot get resource "secrets" in API group "" '
                                          'in the namespace "kube-system"')
        self.assertEqual(body["details"], {"name": "x", "kind": "secrets"})
        status, body = self.request("GET", "/apis/apps/v1/deployments", cert="jane")
        self.assertEqual(body["message"], 'deployments.apps is forbidden: User "jane" cannot list resource "deployments" '
                                          'in API group "apps" at the cluster scope')
        status, body = self.request("GET", "/metrics", cert="jane")
        self.assertEqual((status, body["message"]), (403, 'forbidden: User "jane" cannot get path "/metrics"'))
        # A denied write changes nothing.
        status, _ = self.request("POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "nope"}}, cert="jane")
        self.assertEqual(status, 403)
        self.assertEqual(self.as_admin("get", "configmap", "nope", "-n", "team", check=False).returncode, 1)

    def test_whoami_for_certificates_and_tokens(self):
        r = self.kubectl("jane", "auth", "whoami", "-o", "json")
        info = json.loads(r.stdout)["status"]["userInfo"]
        self.assertEqual(info["username"], "jane")
        self.assertEqual(info["groups"], ["developers", "system:authenticated"])
        r = self.kubectl("bob", "auth", "whoami", "-o", "json")
        info = json.loads(r.stdout)["status"]["userInfo"]
        self.assertEqual((info["username"], info["uid"]), ("bob", "1002"))
        self.assertEqual(info["groups"], ["viewers", "qa", "system:authenticated"])

    def test_roles_created_with_kubectl_grant_exactly_what_they_say(self):
        self.assertEqual(self.kubectl("jane", "auth", "can-i", "list", "pods", "-n", "team", check=False).stdout.strip(), "no")
        self.as_admin("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods", "-n", "team")
        self.as_admin("create", "rolebinding", "jane-reads-pods", "--role=pod-reader", "--user=jane", "-n", "team")
        wait_for(lambda: self.kubectl("jane", "auth", "can-i", "list", "pods", "-n", "team", check=False).returncode == 0,
                 timeout=10, what="the binding to apply")
        self.assertEqual(self.kubectl("jane", "auth", "can-i", "list", "pods", "-n", "team").stdout.strip(), "yes")
        r = self.kubectl("jane", "auth", "can-i", "delete", "pods", "-n", "team", check=False)
        self.assertEqual((r.returncode, r.stdout.strip()), (1, "no"))
        self.assertEqual(self.kubectl("jane", "auth", "can-i", "list", "pods", "-n", "default", check=False).returncode, 1)
        # The grant works on the real endpoint, not only in reviews.
        self.assertEqual(self.kubectl("jane", "get", "pods", "-n", "team").returncode, 0)
        r = self.kubectl("jane", "get", "pods", "-n", "default", check=False)
        self.assertIn('User "jane" cannot list resource "pods" in API group "" in the namespace "default"', r.stderr)
        r = self.kubectl("jane", "auth", "can-i", "--list", "-n", "team")
        self.assertRegex(r.stdout, r"pods\s+\[\]\s+\[\]\s+\[get list watch\]")
        # Removing the binding takes the grant away.
        self.as_admin("delete", "rolebinding", "jane-reads-pods", "-n", "team")
        wait_for(lambda: self.kubectl("jane", "auth", "can-i", "list", "pods", "-n", "team", check=False).returncode == 1,
                 timeout=10, what="the grant to go")

    def test_bootstrap_view_role_for_a_token_group(self):
        self.as_admin("create", "clusterrolebinding", "viewers-view", "--clusterrole=view", "--group=viewers")
        from kubernetes import client
        c = client.Configuration()
        c.host = self.url
        c.ssl_ca_cert = self.pki.path("ca.crt")
        c.api_key = {"authorization": BOB_TOKEN}
        c.api_key_prefix = {"authorization": "bearer"}  # lower case, as in-cluster config sends it
        apps = client.AppsV1Api(client.ApiClient(c))
        wait_for(lambda: self.can(apps), timeout=10, what="view to apply")
        core = client.CoreV1Api(client.ApiClient(c))
        with self.assertRaises(client.exceptions.ApiException) as e:
            core.list_namespaced_secret("team")
        self.assertEqual(e.exception.status, 403)
        with self.assertRaises(client.exceptions.ApiException) as e:
            core.create_namespaced_config_map("team", {"metadata": {"name": "x"}})
        self.assertEqual(e.exception.status, 403)

    @staticmethod
    def can(apps):
        from kubernetes import client
        try:
            apps.list_namespaced_deployment("team")
            return True
        except client.exceptions.ApiException:
            return False

    def test_bootstrap_roles_are_stored_and_put_back(self):
        r = self.as_admin("get", "clusterrole", "cluster-admin", "-o", "json")
        role = json.loads(r.stdout)
        self.assertEqual(role["metadata"]["labels"]["kubernetes.io/bootstrapping"], "rbac-defaults")
        self.assertEqual(role["rules"][0], {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
        names = self.as_admin("get", "clusterrolebindings", "-o", "name").stdout.split()
        for n in ("cluster-admin", "system:discovery", "system:basic-user", "system:public-info-viewer"):
            self.assertIn(f"clusterrolebinding.rbac.authorization.k8s.io/{n}", names)

    def test_invalid_roles_and_bindings_are_refused_naming_the_field(self):
        status, body = self.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
                                    {"metadata": {"name": "bad"}, "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
                                    cert="admin")
        self.assertEqual(status, 422)
        self.assertIn("rules[0].verbs: Required value: verbs must contain at least one value", body["message"])
        status, body = self.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles",
                                    {"metadata": {"name": "bad"}, "rules": [{"nonResourceURLs": ["/x"], "verbs": ["get"]}]},
                                    cert="admin")
        self.assertEqual(status, 422)
        self.assertIn("namespaced rules cannot apply to non-resource URLs", body["message"])
        binding = {"metadata": {"name": "b"}, "subjects": [{"kind": "User", "name": "nobody"}],
                   "roleRef": {"kind": "ClusterRole", "name": "view"}}
        path = "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings"
        self.assertEqual(self.request("POST", path, binding, cert="admin")[0], 201)
        binding["roleRef"]["name"] = "edit"
        status, body = self.request("PUT", path + "/b", binding, cert="admin")
        self.assertEqual(status, 422)
        self.assertIn("roleRef: Invalid value", body["message"])
        self.assertIn("cannot change roleRef", body["message"])
        status, body = self.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                                    {"metadata": {"name": "c"}, "subjects": [{"kind": "Robot", "name": "r"}],
                                     "roleRef": {"kind": "Role", "name": "view"}}, cert="admin")
        self.assertEqual(status, 422)
        self.assertIn('roleRef.kind: Unsupported value: "Role"', body["message"])
        self.assertIn('subjects[0].kind: Unsupported value: "Robot"', body["message"])

    def test_escalation_needs_the_permissions_or_escalate_and_bind(self):
        # jane may manage roles and bindings in "esc" (admin there) but holds no secrets rights
        # beyond what admin gives; she may not grant what she does not hold.
        self.as_admin("create", "namespace", "esc")
        self.as_admin("create", "rolebinding", "jane-admin", "--clusterrole=admin", "--user=jane", "-n", "esc")
        wait_for(lambda: self.kubectl("jane", "auth", "can-i", "create", "roles", "-n", "esc", check=False).returncode == 0,
                 timeout=10, what="admin in esc")
        self.kubectl("jane", "create", "role", "ok", "--verb=get", "--resource=secrets", "-n", "esc")
        r = self.kubectl("jane", "create", "role", "too-much", "--verb=get", "--resource=nodes", "-n", "esc", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('roles.rbac.authorization.k8s.io "too-much" is forbidden: user "jane" '
                      '(groups=["developers" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
                      '{APIGroups:[""], Resources:["nodes"], Verbs:["get"]}', r.stderr)
        r = self.kubectl("jane", "create", "rolebinding", "me-admin", "--clusterrole=cluster-admin", "--user=jane", "-n", "esc",
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('rolebindings.rbac.authorization.k8s.io "me-admin" is forbidden: user "jane"', r.stderr)
        self.assertIn("is attempting to grant RBAC permissions not currently held", r.stderr)
        # Binding what she holds is fine; with `bind` on cluster-admin she may bind it too.
        self.kubectl("jane", "create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "esc")
        self.as_admin("create", "clusterrole", "bind-admin", "--verb=bind", "--resource=clusterroles",
                      "--resource-name=cluster-admin")
        self.as_admin("create", "rolebinding", "jane-bind", "--clusterrole=bind-admin", "--user=jane", "-n", "esc")
        wait_for(lambda: self.kubectl("jane", "create", "rolebinding", "me-admin", "--clusterrole=cluster-admin",
                                      "--user=jane", "-n", "esc", check=False).returncode == 0, timeout=10, what="bind")

    def test_impersonation_needs_the_impersonate_verb(self):
        # (kubectl prints "unknown" for a refused discovery request, as with kube-apiserver.)
        status, body = self.request("GET", "/api/v1/namespaces/team/pods", cert="jane", headers={"Impersonate-User": "bob"})
        self.assertEqual((status, body["message"]), (403, 'users "bob" is forbidden: User "jane" cannot impersonate resource '
                                                          '"users" in API group "" at the cluster scope'))
        # An administrator acting as jane is judged as jane.
        r = self.kubectl("admin", "auth", "whoami", "--as=jane", "--as-group=developers", "-o", "json")
        info = json.loads(r.stdout)["status"]["userInfo"]
        self.assertEqual((info["username"], info["groups"]), ("jane", ["developers", "system:authenticated"]))
        r = self.kubectl("admin", "get", "secrets", "-n", "kube-system", "--as=jane", check=False)
        self.assertIn('User "jane" cannot list resource "secrets"', r.stderr)
        # jane may act as bob once allowed to, but not with groups she may not impersonate.
        self.as_admin("create", "clusterrole", "as-bob", "--verb=impersonate", "--resource=users", "--resource-name=bob")
        self.as_admin("create", "clusterrolebinding", "jane-as-bob", "--clusterrole=as-bob", "--user=jane")
        wait_for(lambda: self.kubectl("jane", "auth", "whoami", "--as=bob", check=False).returncode == 0, timeout=10,
                 what="impersonation grant")
        status, body = self.request("GET", "/api/v1/namespaces/team/pods", cert="jane",
                                    headers={"Impersonate-User": "bob", "Impersonate-Group": "system:masters"})
        self.assertEqual(status, 403)
        self.assertIn('groups "system:masters" is forbidden: User "jane" cannot impersonate resource "groups"', body["message"])
        status, body = self.request("GET", "/api/v1/namespaces/team/pods", cert="jane", headers={"Impersonate-Group": "x"})
        self.assertEqual(status, 400)

    def test_subject_access_review_for_another_user(self):
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": "carol", "groups": ["system:masters"],
                           "resourceAttributes": {"verb": "delete", "resource": "nodes", "name": "n1"}}}
        status, body = self.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review, cert="admin")
        self.assertEqual((status, body["status"]["allowed"]), (201, True))
        review["spec"]["groups"] = []
        status, body = self.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review, cert="admin")
        self.assertEqual((status, body["status"]["allowed"]), (201, False))
        # Asking about others is itself authorized: jane may not.
        status, _ = self.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review, cert="jane")
        self.assertEqual(status, 403)

    def test_zz_the_authorizer_is_rebuilt_from_storage_after_a_restart(self):
        self.as_admin("create", "clusterrole", "node-reader", "--verb=get,list", "--resource=nodes")
        self.as_admin("create", "clusterrolebinding", "jane-nodes", "--clusterrole=node-reader", "--user=jane")
        wait_for(lambda: self.kubectl("jane", "auth", "can-i", "list", "nodes", check=False).returncode == 0,
                 timeout=10, what="the binding")
        port = self.server.port
        self.server.stop()
        self.server.start(port=port)
        self.assertEqual(self.kubectl("jane", "auth", "can-i", "list", "nodes").stdout.strip(), "yes")
        self.assertEqual(self.kubectl("jane", "get", "nodes").returncode, 0)


def openssl_out(*args, stdin=""):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, text=True, timeout=30)


class SecureByDefault(unittest.TestCase):
    """berth-apiserver with no security flags: it makes its CAs and serving certificate in
    --cert-dir, serves only HTTPS (TLS 1.2+, modern ciphers), authenticates client certificates of
    its client CA, and authorizes with RBAC; berth-kubeconfig issues the credentials."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="berth-e2e-secure-")
        cls.tls = os.path.join(cls.dir, "tls")
        cls.server = ApiServer(data_dir=cls.dir, extra_args=["--cert-dir", cls.tls]).start()
        cls.url = f"https://127.0.0.1:{cls.server.port}"
        cls.ca = os.path.join(cls.tls, "server-ca.crt")
        cls.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)
        shutil.rmtree(cls.home, ignore_errors=True)

    def kubeconfig(self, user, *groups):
        path = os.path.join(self.dir, user.replace(":", "_") + ".kubeconfig")
        cmd = [os.path.join(BIN_DIR, "berth-kubeconfig"), "--cert-dir", self.tls, "--server", self.url, "--user", user,
               "--out", path]
        if groups:
            cmd += ["--groups", ",".join(groups)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        return path

    def kubectl(self, kubeconfig, *args, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, HOME=self.home))
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {args} failed: {r.stderr}")
        return r

    def get(self, path):
        ctx = ssl.create_default_context(cafile=self.ca)
        try:
            with urllib.request.urlopen(self.url + path, context=ctx, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_https_only_and_anonymous_only_for_health_and_version(self):
        code, body = self.get("/api/v1/namespaces")
        self.assertEqual(code, 401)
        self.assertEqual(json.loads(body), {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        for path in ("/readyz", "/livez", "/healthz", "/version"):
            self.assertEqual(self.get(path)[0], 200, path)
        self.assertEqual(self.get("/metrics")[0], 401)
        with self.assertRaises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{self.server.port}/version", timeout=5).read()

    def test_admin_kubeconfig_is_system_admin_and_a_plain_user_is_forbidden(self):
        admin = self.kubeconfig("system:admin", "system:masters")
        self.assertEqual(os.stat(admin).st_mode & 0o777, 0o600)
        who = self.kubectl(admin, "auth", "whoami", "-o", "json")
        user = json.loads(who.stdout)["status"]["userInfo"]
        self.assertEqual(user["username"], "system:admin")
        self.assertIn("system:masters", user["groups"])
        self.kubectl(admin, "get", "namespaces")
        alice = self.kubeconfig("alice", "dev")
        r = self.kubectl(alice, "get", "pods", "-n", "default", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('User "alice" cannot list resource "pods" in API group "" in the namespace "default"', r.stderr)
        from kubernetes import client, config
        c = client.Configuration()
        config.load_kube_config(config_file=admin, client_configuration=c)
        names = [n.metadata.name for n in client.CoreV1Api(client.ApiClient(c)).list_namespace().items]
        self.assertIn("kube-system", names)

    def test_component_identities_get_their_bootstrap_roles(self):
        admin = self.kubeconfig("system:admin", "system:masters")

        def can(user, groups, *check):
            args = ["auth", "can-i", *check, "--as", user] + [a for g in groups for a in ("--as-group", g)]
            return self.kubectl(admin, *args, check=False).stdout.strip()
        node = ("system:node:n1", ["system:nodes"])
        self.assertEqual(can(*node, "patch", "nodes", "--subresource=status"), "yes")
        self.assertEqual(can(*node, "update", "pods", "--subresource=status", "-n", "default"), "yes")
        self.assertEqual(can(*node, "create", "pods", "--subresource=binding", "-n", "default"), "no")
        self.assertEqual(can(*node, "list", "secrets", "-n", "default"), "no - No Object name found")
        self.assertEqual(can(*node, "get", "secrets/unrelated", "-n", "default"),
                         "no - no relationship found between node 'n1' and this object")
        self.assertEqual(can(*node, "update", "leases/n1", "-n", "kube-node-lease"), "yes")
        self.assertEqual(can(*node, "update", "leases/n2", "-n", "kube-node-lease"),
                         "no - can only access node lease with the same name as the requesting node")
        cm = ("system:kube-controller-manager", [])
        self.assertEqual(can(*cm, "create", "pods", "--subresource=binding", "-n", "default"), "yes")
        self.assertEqual(can(*cm, "delete", "widgets.example.com", "-n", "default"), "yes")
        self.assertEqual(can(*cm, "create", "clusterrolebindings"), "no")
        self.assertEqual(can(*cm, "impersonate", "users"), "no")

    def test_approving_and_signing_need_the_signer_verbs(self):
        """CertificateApproval, CertificateSigning and CertificateSubjectRestriction: `approve` and
        `sign` on certificates.k8s.io signers (by name or "<domain>/*"), and no system:masters
        certificate from the general client signer."""
        admin = self.kubeconfig("system:admin", "system:masters")
        work = tempfile.mkdtemp(prefix="berth-e2e-csr-", dir=self.dir)

        def csr_manifest(name, signer, subject):
            key, req = os.path.join(work, name + ".key"), os.path.join(work, name + ".csr")
            r = openssl_out("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", key, "-out", req, "-subj", subject)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(req, "rb") as f:
                request = base64.b64encode(f.read()).decode()
            path = os.path.join(work, name + ".json")
            with open(path, "w") as f:
                json.dump({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                           "metadata": {"name": name},
                           "spec": {"request": request, "signerName": signer, "usages": ["client auth"]}}, f)
            return path

        r = self.kubectl(admin, "create", "-f", csr_manifest("masters", "kubernetes.io/kube-apiserver-client",
                                                            "/CN=mallory/O=system:masters"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('certificatesigningrequests.certificates.k8s.io "masters" is forbidden: use of '
                      'kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed', r.stderr)
        self.kubectl(admin, "create", "-f", csr_manifest("widget", "example.com/widgets", "/CN=widget"))
        self.kubectl(admin, "create", "clusterrole", "csr-writer", "--verb=get,list,update,patch",
                     "--resource=certificatesigningrequests,certificatesigningrequests/approval,"
                     "certificatesigningrequests/status")
        self.kubectl(admin, "create", "clusterrolebinding", "carol-csr-writer", "--clusterrole=csr-writer", "--user=carol")
        carol = self.kubeconfig("carol")
        r = self.kubectl(carol, "certificate", "approve", "widget", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('certificatesigningrequests.certificates.k8s.io "widget" is forbidden: user not permitted to '
                      'approve requests with signerName "example.com/widgets"', r.stderr)
        def signer_role(name, verb, signer):
            # A manifest: kubectl create clusterrole checks resources against discovery, and
            # signers are no served resource.
            path = os.path.join(work, name + ".role.json")
            with open(path, "w") as f:
                json.dump({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name},
                           "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                                      "resourceNames": [signer], "verbs": [verb]}]}, f)
            self.kubectl(admin, "create", "-f", path)

        # The domain wildcard names every signer of example.com.
        signer_role("widget-approver", "approve", "example.com/*")
        self.kubectl(admin, "create", "clusterrolebinding", "carol-approves", "--clusterrole=widget-approver", "--user=carol")
        wait_for(lambda: self.kubectl(carol, "certificate", "approve", "widget", check=False).returncode == 0, timeout=10,
                 what="carol approves once she may")
        cert = os.path.join(work, "issued.crt")
        r = openssl_out("req", "-x509", "-key", os.path.join(work, "widget.key"), "-subj", "/CN=widget", "-days", "1",
                        "-out", cert)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(cert, "rb") as f:
            patch = json.dumps({"status": {"certificate": base64.b64encode(f.read()).decode()}})
        r = self.kubectl(carol, "patch", "csr", "widget", "--subresource=status", "--type=merge", "-p", patch, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('user not permitted to sign requests with signerName "example.com/widgets"', r.stderr)
        csr = json.loads(self.kubectl(admin, "get", "csr", "widget", "-o", "json").stdout)
        self.assertNotIn("certificate", csr.get("status", {}))
        signer_role("widget-signer", "sign", "example.com/widgets")
        self.kubectl(admin, "create", "clusterrolebinding", "carol-signs", "--clusterrole=widget-signer", "--user=carol")
        wait_for(lambda: self.kubectl(carol, "patch", "csr", "widget", "--subresource=status", "--type=merge", "-p", patch,
                                      check=False).returncode == 0, timeout=10, what="carol signs once she may")
        csr = json.loads(self.kubectl(admin, "get", "csr", "widget", "-o", "json").stdout)
        self.assertTrue(csr["status"]["certificate"])
        self.assertEqual([c["type"] for c in csr["status"]["conditions"]], ["Approved"])

    def test_a_node_reaches_only_its_own_objects(self):
        """Node authorizer + NodeRestriction: system:node:n1 reads what pods bound to n1 use, by
        name, and modifies only its own Node, Lease and pods' status."""
        admin = self.kubeconfig("system:admin", "system:masters")
        n1 = self.kubeconfig("system:node:n1", "system:nodes")
        n1_pem = os.path.join(self.dir, "n1")
        subprocess.run([os.path.join(BIN_DIR, "berth-kubeconfig"), "--cert-dir", self.tls, "--server", self.url, "--user",
                        "system:node:n1", "--groups", "system:nodes", "--out", n1 + ".2", "--pem-out", n1_pem],
                       check=True, capture_output=True, timeout=30)

        def patch_status(path, body):
            # As the agent does: a merge patch of /status, which NodeRules grant without a read.
            ctx = ssl.create_default_context(cafile=self.ca)
            ctx.load_cert_chain(n1_pem + ".crt", n1_pem + ".key")
            req = urllib.request.Request(self.url + path + "/status", data=json.dumps(body).encode(), method="PATCH",
                                         headers={"Content-Type": "application/merge-patch+json"})
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read().decode())["message"]

        def apply(kubeconfig, doc, check=True):
            return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "create", "-f", "-"], input=json.dumps(doc),
                                  capture_output=True, text=True, timeout=60, env=dict(os.environ, HOME=self.home),
                                  check=check)

        def pod(name, node, secret):
            return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "host", "command": ["true"]}],
                             "volumes": [{"name": "s", "secret": {"secretName": secret}}]}}

        def refused(r, text):
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn(text, r.stderr)

        for name in ("s1", "s2"):
            self.kubectl(admin, "create", "secret", "generic", name, "--from-literal=k=v")
        apply(n1, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
        apply(admin, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}})
        apply(admin, pod("p1", "n1", "s1"))
        apply(admin, pod("p2", "n2", "s2"))

        self.assertIn("s1", self.kubectl(n1, "get", "secret", "s1").stdout)
        refused(self.kubectl(n1, "get", "secret", "s2", check=False),
                'secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in '
                "the namespace \"default\": no relationship found between node 'n1' and this object")
        refused(self.kubectl(n1, "get", "secrets", check=False), "forbidden")
        self.kubectl(n1, "get", "pods", "-A")  # NodeRules: every pod may be read

        refused(apply(n1, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n3"}}, check=False),
                'nodes "n3" is forbidden: node "n1" is not allowed to modify node "n3"')
        refused(self.kubectl(n1, "label", "node", "n2", "x=y", check=False),
                'node "n1" is not allowed to modify node "n2"')
        self.assertEqual(patch_status("/api/v1/nodes/n2", {"status": {"phase": "Running"}}),
                         (403, 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'))
        self.assertEqual(patch_status("/api/v1/nodes/n1", {"status": {"phase": "Running"}})[0], 200)
        self.kubectl(n1, "label", "node", "n1", "example.com/disk=ssd")
        refused(self.kubectl(n1, "label", "node", "n1", "node-role.kubernetes.io/control-plane=", check=False),
                'node "n1" is not allowed to modify labels: node-role.kubernetes.io/control-plane')
        refused(self.kubectl(n1, "taint", "node", "n1", "k=v:NoSchedule", check=False),
                'node "n1" is not allowed to modify taints')

        status = {"status": {"message": "seen"}}
        self.assertEqual(patch_status("/api/v1/namespaces/default/pods/p1", status)[0], 200)
        self.assertEqual(patch_status("/api/v1/namespaces/default/pods/p2", status),
                         (403, 'pods "p2" is forbidden: node "n1" can only update pod status for pods with '
                               'spec.nodeName set to itself'))
        refused(self.kubectl(n1, "delete", "pod", "p2", "--wait=false", check=False),
                'node "n1" can only delete pods with spec.nodeName set to itself')
        refused(apply(n1, pod("p3", "n1", "s2"), check=False),
                'pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods')

        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "n1"}}
        apply(n1, lease)
        lease["metadata"]["name"] = "n2"
        refused(apply(n1, lease, check=False), "can only access node lease with the same name as the requesting node")

        # The graph follows deletions: once p1 is gone, so is n1's access to s1.
        self.kubectl(admin, "delete", "pod", "p1", "--grace-period=0", "--force")
        wait_for(lambda: self.kubectl(n1, "get", "secret", "s1", check=False).returncode != 0, timeout=10,
                 what="n1 to lose s1 with p1")

    def token_kubeconfig(self, token):
        """A kubeconfig that trusts the cluster CA and carries only a bearer token."""
        path = os.path.join(self.dir, f"token-{abs(hash(token))}.kubeconfig")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "t",
                       "clusters": [{"name": "c", "cluster": {"server": self.url, "certificate-authority": self.ca}}],
                       "users": [{"name": "u", "user": {"token": token}}],
                       "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}]}, f)
        return path

    def admin_call(self, method, path, body=None):
        pem = os.path.join(self.dir, "admin-pem")
        if not os.path.exists(pem + ".crt"):
            subprocess.run([os.path.join(BIN_DIR, "berth-kubeconfig"), "--cert-dir", self.tls, "--server", self.url,
                            "--user", "system:admin", "--groups", "system:masters", "--out", pem + ".kubeconfig",
                            "--pem-out", pem], check=True, capture_output=True, timeout=30)
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(pem + ".crt", pem + ".key")
        req = urllib.request.Request(self.url + path, data=None if body is None else json.dumps(body).encode(),
                                     method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode())

    def review(self, token, audiences=None):
        spec = {"token": token}
        if audiences:
            spec["audiences"] = audiences
        code, body = self.admin_call("POST", "/apis/authentication.k8s.io/v1/tokenreviews",
                                     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec})
        self.assertEqual(code, 201, body)
        return body["status"]

    def test_service_account_tokens_from_kubectl_create_token(self):
        """TokenRequest (`kubectl create token`), the JWT's claims, RBAC for the ServiceAccount,
        TokenReview, bound tokens ending with their pod, and the lifetime limits."""
        admin = self.kubeconfig("system:admin", "system:masters")
        self.kubectl(admin, "create", "namespace", "demo")
        self.kubectl(admin, "create", "serviceaccount", "viewer", "-n", "demo")
        self.kubectl(admin, "create", "rolebinding", "viewer-view", "--clusterrole=view",
                     "--serviceaccount=demo:viewer", "-n", "demo")
        token = self.kubectl(admin, "create", "token", "viewer", "-n", "demo").stdout.strip()
        header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in token.split(".")[:2])
        self.assertEqual(header["alg"], "RS256")
        self.assertEqual(len(header["kid"]), 43)
        self.assertEqual(claims["iss"], "https://kubernetes.default.svc.cluster.local")
        self.assertEqual(claims["aud"], ["https://kubernetes.default.svc.cluster.local"])
        self.assertEqual(claims["sub"], "system:serviceaccount:demo:viewer")
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        sa_uid = self.kubectl(admin, "get", "sa", "viewer", "-n", "demo", "-o", "jsonpath={.metadata.uid}").stdout
        self.assertEqual(claims["kubernetes.io"]["serviceaccount"], {"name": "viewer", "uid": sa_uid})

        viewer = self.token_kubeconfig(token)
        self.kubectl(viewer, "get", "pods", "-n", "demo")
        r = self.kubectl(viewer, "create", "configmap", "x", "-n", "demo", check=False)
        # kubectl 1.32 words it "error: failed to create configmap: <the Status message>".
        self.assertIn('configmaps is forbidden: User "system:serviceaccount:demo:viewer" '
                      'cannot create resource "configmaps" in API group "" in the namespace "demo"', r.stderr)
        self.assertIn("system:serviceaccounts:demo", self.kubectl(viewer, "auth", "whoami").stdout)
        self.assertEqual(self.kubectl(viewer, "auth", "can-i", "list", "pods", "-n", "demo").stdout.strip(), "yes")

        status = self.review(token)
        self.assertTrue(status["authenticated"])
        self.assertEqual(status["user"]["username"], "system:serviceaccount:demo:viewer")
        self.assertEqual(status["user"]["uid"], sa_uid)
        self.assertEqual(status["user"]["groups"],
                         ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"])
        self.assertEqual(status["audiences"], ["https://kubernetes.default.svc.cluster.local"])
        status = self.review(token, ["vault"])
        self.assertFalse(status["authenticated"])
        self.assertIn("is invalid for the target audiences", status["error"])

        r = self.kubectl(admin, "create", "token", "viewer", "-n", "demo", "--duration=5m", check=False)
        self.assertIn('TokenRequest.authentication.k8s.io "viewer" is invalid: spec.expirationSeconds: Invalid value: 300: '
                      "may not specify a duration less than 10 minutes", r.stderr)
        long_lived = self.kubectl(admin, "create", "token", "viewer", "-n", "demo", "--duration=720h").stdout.strip()
        claims = json.loads(base64.urlsafe_b64decode(long_lived.split(".")[1] + "=="))
        self.assertEqual(claims["exp"] - claims["iat"], 48 * 3600)  # --service-account-max-token-expiration
        r = self.kubectl(admin, "create", "token", "ghost", "-n", "demo", check=False)
        self.assertIn('serviceaccounts "ghost" not found', r.stderr)

        # Bound to a pod: valid while the pod exists, and only then.
        self.kubectl(admin, "run", "holder", "-n", "demo", "--image=host", "--overrides",
                     '{"spec":{"serviceAccountName":"viewer"}}', "--command", "--", "sleep", "1")
        bound = self.kubectl(admin, "create", "token", "viewer", "-n", "demo", "--bound-object-kind=Pod",
                             "--bound-object-name=holder").stdout.strip()
        status = self.review(bound)
        self.assertTrue(status["authenticated"], status)
        self.assertEqual(status["user"]["extra"]["authentication.kubernetes.io/pod-name"], ["holder"])
        self.kubectl(admin, "delete", "pod", "holder", "-n", "demo", "--grace-period=0", "--force")
        status = self.review(bound)
        self.assertFalse(status["authenticated"])
        self.assertEqual(status["error"], "pod demo/holder has been deleted")
        r = self.kubectl(self.token_kubeconfig(bound), "get", "pods", "-n", "demo", check=False)
        self.assertIn("Unauthorized", r.stderr)
        # Deleting the ServiceAccount ends its tokens too.
        self.kubectl(admin, "delete", "sa", "viewer", "-n", "demo")
        self.assertEqual(self.review(token)["error"], "service account demo/viewer has been deleted")

    def test_bootstrap_tokens_authenticate_while_their_secret_says_so(self):
        """A kube-system bootstrap-token-<id> Secret makes <id>.<secret> a bearer token for
        system:bootstrap:<id>; expired or deleted, it is 401."""
        admin = self.kubeconfig("system:admin", "system:masters")
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                  "metadata": {"name": "bootstrap-token-07401b", "namespace": "kube-system"},
                  "stringData": {"token-id": "07401b", "token-secret": "f395accd246ae52d",
                                 "expiration": "2099-01-01T00:00:00Z", "usage-bootstrap-authentication": "true",
                                 "auth-extra-groups": "system:bootstrappers:berth:default-node-token"}}
        code, body = self.admin_call("POST", "/api/v1/namespaces/kube-system/secrets", secret)
        self.assertEqual(code, 201, body)
        joiner = self.token_kubeconfig("07401b.f395accd246ae52d")
        whoami = self.kubectl(joiner, "auth", "whoami", "-o", "json").stdout
        info = json.loads(whoami)["status"]["userInfo"]
        self.assertEqual(info["username"], "system:bootstrap:07401b")
        self.assertEqual(info["groups"], ["system:bootstrappers", "system:bootstrappers:berth:default-node-token",
                                          "system:authenticated"])
        self.assertIn("Unauthorized", self.kubectl(self.token_kubeconfig("07401b.0000000000000000"), "auth", "whoami",
                                                   check=False).stderr)
        self.kubectl(admin, "patch", "secret", "bootstrap-token-07401b", "-n", "kube-system", "-p",
                     '{"stringData":{"expiration":"2020-01-01T00:00:00Z"}}')
        self.assertIn("Unauthorized", self.kubectl(joiner, "auth", "whoami", check=False).stderr)
        self.assertEqual(self.review("07401b.f395accd246ae52d")["error"], "bootstrap token: the token has expired")
        self.kubectl(admin, "delete", "secret", "bootstrap-token-07401b", "-n", "kube-system")
        self.assertIn("Unauthorized", self.kubectl(joiner, "auth", "whoami", check=False).stderr)

    def test_pods_get_the_service_account_volume_unless_they_opt_out(self):
        """ServiceAccount admission: serviceAccountName defaulted and checked, the projected
        kube-api-access volume mounted in every container, automountServiceAccountToken honoured."""
        admin = self.kubeconfig("system:admin", "system:masters")
        self.kubectl(admin, "create", "namespace", "sa-admission")
        self.kubectl(admin, "create", "serviceaccount", "quiet", "-n", "sa-admission")
        self.kubectl(admin, "patch", "sa", "quiet", "-n", "sa-admission", "-p", '{"automountServiceAccountToken":false}')

        def create(name, **spec):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": dict({"initContainers": [{"name": "i", "image": "host", "command": ["true"]}],
                                  "containers": [{"name": "c", "image": "host", "command": ["true"]}]}, **spec)}
            return self.admin_call("POST", "/api/v1/namespaces/sa-admission/pods", body)

        code, pod = create("mounted")
        self.assertEqual(code, 201, pod)
        self.assertEqual(pod["spec"]["serviceAccountName"], "default")
        volume = pod["spec"]["volumes"][0]
        self.assertRegex(volume["name"], r"^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$")
        self.assertEqual(volume["projected"], {
            "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace",
                                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
            "defaultMode": 420})
        for c in pod["spec"]["initContainers"] + pod["spec"]["containers"]:
            self.assertEqual(c["volumeMounts"], [{"name": volume["name"], "readOnly": True,
                                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        code, pod = create("opted-out", automountServiceAccountToken=False)
        self.assertNotIn("volumes", pod["spec"])
        code, pod = create("quiet-account", serviceAccountName="quiet")
        self.assertNotIn("volumes", pod["spec"])
        code, pod = create("overridden", serviceAccountName="quiet", automountServiceAccountToken=True)
        self.assertEqual(len(pod["spec"]["volumes"]), 1)
        code, body = create("ghost", serviceAccountName="ghost")
        self.assertEqual(code, 403)
        self.assertEqual(body["message"], 'pods "ghost" is forbidden: error looking up service account '
                                          'sa-admission/ghost: serviceaccounts "ghost" not found')

    def test_a_node_asks_tokens_only_for_its_own_pods(self):
        """Node authorizer + NodeRestriction on serviceaccounts/token."""
        admin = self.kubeconfig("system:admin", "system:masters")
        n1 = self.kubeconfig("system:node:tn1", "system:nodes")
        self.kubectl(admin, "create", "namespace", "tokens")
        for sa in ("a", "b"):
            self.kubectl(admin, "create", "serviceaccount", sa, "-n", "tokens")
        uids = {}
        for name, node, sa in (("on-n1", "tn1", "a"), ("on-n2", "tn2", "b"), ("also-b", "tn1", "b")):
            code, pod = self.admin_call("POST", "/api/v1/namespaces/tokens/pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "serviceAccountName": sa,
                         "containers": [{"name": "c", "image": "host", "command": ["true"]}]}})
            self.assertEqual(code, 201, pod)
            uids[name] = pod["metadata"]["uid"]

        def request(kubeconfig, sa, pod=None, uid=None):
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
            if pod:
                body["spec"]["boundObjectRef"] = {"apiVersion": "v1", "kind": "Pod", "name": pod, "uid": uid or uids[pod]}
            return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "create", "--raw",
                                   f"/api/v1/namespaces/tokens/serviceaccounts/{sa}/token", "-f", "-"],
                                  input=json.dumps(body), capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, HOME=self.home))

        ok = request(n1, "a", "on-n1")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        claims = json.loads(base64.urlsafe_b64decode(json.loads(ok.stdout)["status"]["token"].split(".")[1] + "=="))
        self.assertEqual(claims["kubernetes.io"]["pod"], {"name": "on-n1", "uid": uids["on-n1"]})
        self.assertEqual(claims["kubernetes.io"]["node"]["name"], "tn1")
        self.assertIn("node requested token not bound to a pod", request(n1, "a").stderr)
        self.assertIn("node requested token bound to a pod scheduled on a different node",
                      request(n1, "b", "on-n2").stderr)
        self.assertEqual(request(n1, "b", "also-b").returncode, 0)
        r = request(n1, "a", "on-n1", uid="00000000-0000-0000-0000-000000000000")
        self.assertIn("the UID in the bound object reference (00000000-0000-0000-0000-000000000000) does not match",
                      r.stderr)
        # No pod of tn1 runs as tokens/c: the Node authorizer says no before anything is read.
        self.kubectl(admin, "create", "serviceaccount", "c", "-n", "tokens")
        self.assertIn("no relationship found between node 'tn1' and this object", request(n1, "c").stderr)

    def test_files_are_private_and_the_certificate_names_every_address(self):
        self.assertEqual(os.stat(self.tls).st_mode & 0o777, 0o700)
        for name in os.listdir(self.tls):
            self.assertEqual(os.stat(os.path.join(self.tls, name)).st_mode & 0o777, 0o600, name)
        for name in os.listdir(os.path.join(self.dir)):
            path = os.path.join(self.dir, name)
            if os.path.isfile(path) and name not in ("apiserver.stderr",):
                self.assertEqual(os.stat(path).st_mode & 0o077, 0, name)  # RocksDB's files too (umask 077)
        sans = openssl_out("x509", "-in", os.path.join(self.tls, "serving-apiserver.crt"), "-noout", "-ext",
                           "subjectAltName").stdout
        for san in ("DNS:localhost", "DNS:kubernetes.default.svc.cluster.local", "IP Address:127.0.0.1",
                    "IP Address:10.96.0.1"):
            self.assertIn(san, sans)

    def test_only_modern_tls(self):
        target = f"127.0.0.1:{self.server.port}"
        common = ["s_client", "-connect", target, "-CAfile", self.ca]
        self.assertNotEqual(openssl_out(*common, "-tls1_1").returncode, 0)
        self.assertNotEqual(openssl_out(*common, "-tls1_2", "-cipher", "AES128-SHA").returncode, 0)
        r = openssl_out(*common, "-tls1_3")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Verify return code: 0 (ok)", r.stdout)

    def test_zz_a_serving_certificate_near_expiry_is_renewed_at_start(self):
        crt, key = (os.path.join(self.tls, f"serving-apiserver.{ext}") for ext in ("crt", "key"))
        csr = os.path.join(self.dir, "short.csr")
        subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=berth-apiserver", "-out", csr], check=True,
                       capture_output=True)
        ext = os.path.join(self.dir, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                        os.path.join(self.tls, "server-ca.key"), "-CAcreateserial", "-days", "30", "-extfile", ext,
                        "-out", crt], check=True, capture_output=True)
        short_serial = openssl_out("x509", "-in", crt, "-noout", "-serial").stdout
        port = self.server.port
        self.server.stop()
        self.server.start(port=port)
        self.assertNotEqual(openssl_out("x509", "-in", crt, "-noout", "-serial").stdout, short_serial)
        self.assertIn("serving-apiserver", self.server.stderr())
        self.assertIn("expires within 90 days", self.server.stderr())
        self.assertEqual(openssl_out("x509", "-in", crt, "-noout", "-checkend", str(300 * 86400)).returncode, 0)
        self.assertEqual(self.get("/readyz")[0], 200)


class ClientCertificateRotation(unittest.TestCase):
    """A node that joined with a bootstrap token renews its client certificate before it
    expires (20 s certificates here): a CertificateSigningRequest sent as system:node:NAME,
    auto-approved as selfnodeclient and signed by the controller-manager, written over the
    credential file its kubeconfig names; the node keeps working past the first one's expiry."""

    def test_the_agent_renews_its_certificate_as_itself(self):
        d = tempfile.mkdtemp(prefix="berth-e2e-rotation-")
        server = ApiServer().start()
        cm = agent = None
        try:
            tls = server.cert_dir
            cm = ControllerManager(server, extra_args=[
                "--cluster-signing-cert-file", os.path.join(tls, "client-ca.crt"),
                "--cluster-signing-key-file", os.path.join(tls, "client-ca.key"),
                "--cluster-signing-duration", "20s"]).start()
            c = server.client()
            secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
                      "metadata": {"name": "bootstrap-token-r07a7e", "namespace": "kube-system"},
                      "stringData": {"token-id": "r07a7e", "token-secret": "0123456789abcdef",
                                     "usage-bootstrap-authentication": "true",
                                     "auth-extra-groups": "system:bootstrappers:berth:default-node-token"}}
            self.assertEqual(c.post("/api/v1/namespaces/kube-system/secrets", secret).status, 201)
            with open(server.ca_file) as f:
                ca = base64.b64encode(f.read().encode()).decode()
            bootstrap = os.path.join(d, "bootstrap.kubeconfig")
            with open(bootstrap, "w") as f:
                f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server.url}\n"
                        f"    certificate-authority-data: {ca}\nusers:\n- name: joiner\n  user:\n"
                        f"    token: r07a7e.0123456789abcdef\ncontexts:\n- name: c\n  context: {{cluster: c, user: joiner}}\n"
                        f"current-context: c\n")
            kubeconfig = os.path.join(d, "cred", "agent.kubeconfig")
            os.makedirs(os.path.dirname(kubeconfig))
            credential = os.path.join(d, "cred", "agent-client-current.pem")
            log = open(os.path.join(d, "agent.log"), "ab")
            agent = subprocess.Popen([os.path.join(BIN_DIR, "berth-agent"), "--bootstrap-kubeconfig", bootstrap,
                                      "--kubeconfig", kubeconfig, "--client-ca-file", os.path.join(d, "client-ca.crt"),
                                      "--node-name", "rotating", "--root-dir", os.path.join(d, "agent"),
                                      "--runtime=fake"], stdout=subprocess.DEVNULL, stderr=log)
            log.close()

            def ready():
                r = c.get("/api/v1/nodes/rotating")
                return r.status == 200 and any(x["type"] == "Ready" and x["status"] == "True"
                                               for x in r.json()["status"]["conditions"])
            wait_for(ready, timeout=60, what="the joined node to be Ready")

            def certificate():
                with open(credential) as f:
                    pem = f.read()
                out = openssl_out("x509", "-noout", "-serial", "-enddate", "-subject", stdin=pem).stdout
                return dict(line.split("=", 1) for line in out.splitlines())
            first = certificate()
            self.assertIn("system:node:rotating", first["subject"])
            self.assertEqual(os.stat(credential).st_mode & 0o777, 0o600)
            with open(kubeconfig) as f:
                self.assertIn(f'client-certificate: "{credential}"', f.read())
            wait_for(lambda: certificate()["serial"] != first["serial"], timeout=60,
                     what="the agent to replace its 20 s certificate")

            def renewal():
                items = c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests").json()["items"]
                mine = [x for x in items if x["spec"]["username"] == "system:node:rotating"]
                return mine[0] if mine and mine[0].get("status", {}).get("certificate") else None
            renewed = wait_for(renewal, timeout=10, what="the node's own signed request")
            self.assertEqual([(x["type"], x["reason"]) for x in renewed["status"]["conditions"]],
                             [("Approved", "AutoApproved")])
            self.assertEqual(renewed["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet")
            # Past the first certificate's expiry the node still renews its Lease as itself.
            expired_at = calendar.timegm(time.strptime(first["notAfter"], "%b %d %H:%M:%S %Y %Z"))

            def renewed_after_expiry():
                lease = c.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/rotating").json()
                renew = lease["spec"]["renewTime"]
                return calendar.timegm(time.strptime(renew[:19], "%Y-%m-%dT%H:%M:%S")) > expired_at + 2
            wait_for(renewed_after_expiry, timeout=60, what="a Lease renewal after the first certificate expired")
            self.assertIsNone(agent.poll())
        finally:
            if agent is not None:
                agent.terminate()
                agent.wait(30)
            if cm is not None:
                cm.stop()
            server.stop()
            server.cleanup()
            cleanup_agent_leftovers(os.path.join(d, "agent"), "rotating")
            shutil.rmtree(d, ignore_errors=True)


class KubernetesServiceEndpoints(unittest.TestCase):
    """--advertise-address: the kubernetes Service's EndpointSlice names where pods
    reach the apiserver (KUBERNETES_SERVICE_HOST is that Service's ClusterIP on the pod network)."""

    def test_the_advertised_address_and_serving_port_are_the_kubernetes_endpoints(self):
        d = tempfile.mkdtemp(prefix="berth-e2e-advertise-")
        try:
            for address in ("10.250.0.7", "10.250.0.8"):  # a restart with another address replaces it
                server = ApiServer(data_dir=d, extra_args=["--advertise-address", address]).start()
                try:
                    c = server.client()
                    slice_ = c.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes").json()
                    self.assertEqual(slice_["metadata"]["labels"]["kubernetes.io/service-name"], "kubernetes")
                    self.assertEqual(slice_["addressType"], "IPv4")
                    self.assertEqual([e["addresses"] for e in slice_["endpoints"]], [[address]])
                    self.assertTrue(slice_["endpoints"][0]["conditions"]["ready"])
                    self.assertEqual(slice_["ports"], [{"name": "https", "port": server.port, "protocol": "TCP"}])
                    svc = c.get("/api/v1/namespaces/default/services/kubernetes").json()
                    self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.1")
                    api = c.get("/api").json()
                    self.assertEqual(api["serverAddressByClientCIDRs"][0]["serverAddress"], f"{address}:{server.port}")
                    k = server.kubectl()
                    try:
                        described = k.run("describe", "service", "kubernetes").stdout
                    finally:
                        k.cleanup()
                    self.assertIn(f"{address}:{server.port}", described)
                finally:
                    server.stop()
            bad = subprocess.run([os.path.join(BIN_DIR, "berth-apiserver"), "--data-dir", d, "--listen", "127.0.0.1:0",
                                  "--cert-dir", os.path.join(d, "tls"), "--advertise-address", "0.0.0.0"],
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn('--advertise-address: Invalid value: "0.0.0.0": must be an IPv4 address other than 0.0.0.0',
                          bad.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class EncryptionAtRest(unittest.TestCase):
    """Secrets encrypted at rest with no flags (a generated EncryptionConfiguration, aesgcm), in
    the objects, the change log and the WAL; readable through restarts and a key rotation; the
    retired key's ciphertext rewritten and compacted away."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="berth-e2e-encryption-")
        self.tls = os.path.join(self.dir, "tls")
        self.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")
        self.server = ApiServer(data_dir=self.dir, extra_args=["--cert-dir", self.tls]).start()
        self.admin = os.path.join(self.dir, "admin.kubeconfig")

    def tearDown(self):
        self.server.stop()
        self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)

    def kubectl(self, *args):
        subprocess.run([os.path.join(BIN_DIR, "berth-kubeconfig"), "--keep-valid", "--cert-dir", self.tls, "--server",
                        f"https://127.0.0.1:{self.server.port}", "--user", "system:admin", "--groups", "system:masters",
                        "--out", self.admin], check=True, capture_output=True, timeout=30)
        return subprocess.run(["kubectl", "--kubeconfig", self.admin, *args], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, HOME=self.home), check=True).stdout

    def stored_bytes(self):
        """Every byte the apiserver keeps under its data directory but its keys and logs."""
        out = b""
        for root, _, files in os.walk(self.dir):
            if root.startswith(self.tls):
                continue
            for name in files:
                if name.endswith((".kubeconfig", ".stderr")) or name.startswith("LOG"):  # RocksDB's info log
                    continue
                with open(os.path.join(root, name), "rb") as f:
                    out += f.read()
        return out

    def restart(self):
        port = self.server.port
        self.server.stop()
        self.server.start(port=port)

    def test_secrets_never_reach_the_disk_in_plaintext_and_survive_key_rotation(self):
        config = os.path.join(self.tls, "encryption-config.yaml")
        self.assertEqual(os.stat(config).st_mode & 0o777, 0o600)
        with open(config) as f:
            text = f.read()
        self.assertIn("kind: EncryptionConfiguration", text)
        self.assertIn("- aesgcm:", text)
        canary = f"berth-canary-{os.getpid()}-{int.from_bytes(os.urandom(4), 'big')}"
        b64 = base64.b64encode(canary.encode())
        self.kubectl("create", "secret", "generic", "canary", f"--from-literal=v={canary}")
        self.kubectl("create", "configmap", "visible", "--from-literal=v=plain-configmap-value")
        stored = self.stored_bytes()
        self.assertNotIn(canary.encode(), stored)
        self.assertNotIn(b64, stored)
        self.assertIn(b"k8s:enc:aesgcm:v1:key1:", stored)  # the WAL holds the envelope
        self.assertIn(b"plain-configmap-value", stored)   # what is not listed is stored as written
        self.assertEqual(self.kubectl("get", "secret", "canary", "-o", "jsonpath={.data.v}"), b64.decode())

        # Rotation: a new key first, the old one still listed. The restart rewrites the Secret.
        key2 = base64.b64encode(os.urandom(32)).decode()
        with open(config, "w") as f:
            f.write(text.replace("          keys:\n", f"          keys:\n            - name: key2\n"
                                                       f"              secret: {key2}\n", 1))
        self.restart()
        self.assertIn("Rewrote objects with the current encryption key", self.server.stderr())
        self.assertEqual(self.kubectl("get", "secret", "canary", "-o", "jsonpath={.data.v}"), b64.decode())
        self.kubectl("create", "secret", "generic", "after-rotation", "--from-literal=v=x")
        self.assertIn(b"k8s:enc:aesgcm:v1:key2:", self.stored_bytes())  # new writes: the new key (WAL)
        # key1 retired: the Secret was rewritten with key2, so it reads on.
        with open(config) as f:
            rotated = f.read()
        old = rotated.split("            - name: key1\n")[1].split("\n", 1)[0]
        with open(config, "w") as f:
            f.write(rotated.replace("            - name: key1\n" + old + "\n", ""))
        self.restart()
        self.assertEqual(self.kubectl("get", "secret", "canary", "-o", "jsonpath={.data.v}"), b64.decode())
        stored = self.stored_bytes()
        self.assertNotIn(canary.encode(), stored)
        self.assertNotIn(b64, stored)

        # A configuration that cannot be honoured stops the start, naming the field.
        with open(config, "w") as f:
            f.write("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                    "- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key2 + "}]}\n")
        port = self.server.port
        self.server.stop()
        with self.assertRaises(Exception):
            self.server.start(port=port)
        self.assertIn("resources[0].providers[0].secretbox: Unsupported value", self.server.stderr())


class InflightLimit(unittest.TestCase):
    """--max-requests-inflight: past it, 429 with Retry-After before any work; watches are not
    counted."""

    def test_429_past_the_limit_and_watches_do_not_count(self):
        from berth_e2e import ApiServer as Server
        import threading
        d = tempfile.mkdtemp(prefix="berth-e2e-429-")
        log = os.path.join(d, "audit.log")
        server = Server(extra_args=["--max-requests-inflight", "1", "--max-mutating-requests-inflight", "1",
                                    "--audit-log-path", log]).start()
        try:
            c = server.client()
            # Three open watches, then a plain read: still served.
            watches = [http_watch(server) for _ in range(3)]
            self.assertEqual(c.get("/api/v1/namespaces/default/configmaps").status, 200)
            for w in watches:
                w.close()
            refused = []
            stop = threading.Event()

            def hammer():
                while not stop.is_set() and not refused:
                    r = c.get("/api/v1/namespaces/kube-system/configmaps")
                    if r.status == 429:
                        refused.append(r)
            threads = [threading.Thread(target=hammer) for _ in range(8)]
            for t in threads:
                t.start()
            try:
                wait_for(lambda: refused, timeout=30, what="a request past the limit")
            finally:
                stop.set()
                for t in threads:
                    t.join()
            r = refused[0]
            self.assertEqual(r.header_all("Retry-After"), ["1"])
            self.assertEqual(r.body, "Too many requests, please try again later.\n")
            # Audited as the authenticated user's request, as kube-apiserver does.
            audit_id = r.header_all("Audit-Id")[0]

            def event():
                return next((e for e in json_lines(log) if e["auditID"] == audit_id), None)
            e = wait_for(event, timeout=10, what="the refused request's audit event")
            self.assertEqual(e["responseStatus"]["code"], 429)
            self.assertEqual(e["user"]["username"], "system:admin")
        finally:
            server.stop()
            server.cleanup()
            shutil.rmtree(d, ignore_errors=True)


class PodSecurityAdmission(unittest.TestCase):
    """Namespace labels pod-security.kubernetes.io/{enforce,warn}: enforce refuses with
    Kubernetes' message, warn adds its Warning header, for pods and workload templates."""

    def test_enforce_and_warn_levels_from_namespace_labels(self):
        server = ApiServer().start()
        try:
            c = server.client()
            ns = {"metadata": {"name": "psa", "labels": {"pod-security.kubernetes.io/enforce": "baseline",
                                                          "pod-security.kubernetes.io/warn": "restricted"}}}
            self.assertEqual(c.post("/api/v1/namespaces", ns).status, 201)
            host = {"metadata": {"name": "h"}, "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx"}]}}
            r = c.post("/api/v1/namespaces/psa/pods", host)
            self.assertEqual(r.status, 403)
            self.assertEqual(r.json()["message"], 'pods "h" is forbidden: violates PodSecurity "baseline:latest": '
                                                  'host namespaces (hostNetwork=true)')
            self.assertEqual(c.get("/api/v1/namespaces/psa/pods/h").status, 404)
            plain = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            r = c.post("/api/v1/namespaces/psa/pods", plain)
            self.assertEqual(r.status, 201)
            warnings = " ".join(r.header_all("Warning"))
            self.assertIn('would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false', warnings)
            # A workload's template is warned about, not refused (its pods are).
            deploy = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}}, "spec": {"hostPID": True, "containers": [{"name": "c", "image": "x"}]}}}}
            r = c.post("/apis/apps/v1/namespaces/psa/deployments", deploy)
            self.assertEqual(r.status, 201)
            self.assertIn("host namespaces (hostPID=true)", " ".join(r.header_all("Warning")))
            # Other namespaces stay privileged; label values are validated.
            self.assertEqual(c.post("/api/v1/namespaces/default/pods", host).status, 201)
            r = c.patch("/api/v1/namespaces/psa", {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "strict"}}})
            self.assertEqual(r.status, 422)
            self.assertIn('Invalid value: "strict": must be one of privileged, baseline, restricted', r.json()["message"])
        finally:
            server.stop()
            server.cleanup()


    def test_audit_level_violations_are_annotations_of_the_audit_event(self):
        d = tempfile.mkdtemp(prefix="berth-e2e-psa-audit-")
        log = os.path.join(d, "audit.log")
        server = ApiServer(extra_args=["--audit-log-path", log]).start()
        try:
            c = server.client()
            ns = {"metadata": {"name": "psa-audit", "labels": {"pod-security.kubernetes.io/enforce": "baseline",
                                                                "pod-security.kubernetes.io/audit": "restricted"}}}
            self.assertEqual(c.post("/api/v1/namespaces", ns).status, 201)
            plain = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            r = c.post("/api/v1/namespaces/psa-audit/pods", plain)
            self.assertEqual(r.status, 201)
            self.assertEqual(r.header_all("Warning"), [], "audit mode warns no one")
            audit_id = r.header_all("Audit-Id")[0]

            def event():
                found = [e for e in json_lines(log) if e["auditID"] == audit_id and e["stage"] == "ResponseComplete"]
                return found[0] if found else None
            e = wait_for(event, timeout=10, what="the pod create's audit event")
            self.assertEqual(e["annotations"]["pod-security.kubernetes.io/enforce-policy"], "baseline:latest")
            self.assertIn('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false',
                          e["annotations"]["pod-security.kubernetes.io/audit-violations"])
        finally:
            server.stop()
            server.cleanup()
            shutil.rmtree(d, ignore_errors=True)

def http_watch(server):
    """An open watch as the admin: the connection, left for the caller to close."""
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=30, context=server.ssl_context())
    conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true")
    resp = conn.getresponse()
    assert resp.status == 200
    return conn


if __name__ == "__main__":
    unittest.main(verbosity=2)
