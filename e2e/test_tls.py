#!/usr/bin/python3
"""The apiserver over TLS (--tls-cert-file, --tls-private-key-file, --client-ca-file) with real
clients: kubectl and the Python client with and without a client certificate, a certificate
from another CA refused, and a rotated serving certificate used by the next connection."""
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, ApiServer, Pki, wait_for  # noqa: E402


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.other = Pki()
        p = cls.pki
        cls.server = ApiServer(extra_args=["--tls-cert-file", p.path("server.crt"), "--tls-private-key-file",
                                           p.path("server.key"), "--client-ca-file", p.path("ca.crt"),
                                           "--authorization-mode", "AlwaysAllow"]).start()
        cls.url = f"https://127.0.0.1:{cls.server.port}"
        cls.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.pki.cleanup()
        cls.other.cleanup()
        shutil.rmtree(cls.home, ignore_errors=True)

    def kubectl(self, *args, cert=None, ca=None, check=True):
        cmd = ["kubectl", "--server", self.url, "--certificate-authority", ca or self.pki.path("ca.crt")]
        if cert:
            cmd += ["--client-certificate", cert.path("admin.crt"), "--client-key", cert.path("admin.key")]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, HOME=self.home))
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {args} failed: {r.stderr}")
        return r

    def test_kubectl_with_a_client_certificate(self):
        self.kubectl("create", "configmap", "tls-cm", "--from-literal=k=v", cert=self.pki)
        r = self.kubectl("get", "configmap", "tls-cm", "-o", "jsonpath={.data.k}", cert=self.pki)
        self.assertEqual(r.stdout, "v")

    def test_a_client_without_a_certificate_is_anonymous_but_served(self):
        # (kubectl with no credentials at all prompts for a user name; the Python client does not.)
        from kubernetes import client
        c = client.Configuration()
        c.host = self.url
        c.ssl_ca_cert = self.pki.path("ca.crt")
        names = [n.metadata.name for n in client.CoreV1Api(client.ApiClient(c)).list_namespace().items]
        self.assertIn("default", names)

    def test_a_client_certificate_from_another_ca_is_refused(self):
        r = self.kubectl("get", "namespaces", cert=self.other, check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_a_client_that_does_not_trust_the_server_stops(self):
        r = self.kubectl("get", "namespaces", cert=self.pki, ca=self.other.path("ca.crt"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate", r.stderr)

    def test_python_client_with_a_client_certificate(self):
        from kubernetes import client
        c = client.Configuration()
        c.host = self.url
        c.ssl_ca_cert = self.pki.path("ca.crt")
        c.cert_file = self.pki.path("admin.crt")
        c.key_file = self.pki.path("admin.key")
        names = [n.metadata.name for n in client.CoreV1Api(client.ApiClient(c)).list_namespace().items]
        self.assertIn("kube-system", names)

    def test_plain_http_on_the_tls_port_gets_no_api(self):
        with self.assertRaises(Exception):
            urllib.request.urlopen(f"http://127.0.0.1:{self.server.port}/api", timeout=5).read()

    def test_plain_http_is_for_loopback_only(self):
        r = subprocess.run([os.path.join(BIN_DIR, "berth-apiserver"), "--listen", "0.0.0.0:0", "--insecure-loopback-http"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("plain HTTP is served on loopback addresses only", r.stderr)
        # Without the development flag there is no plain HTTP at all: an in-memory server has no
        # place to keep the certificates it would make, and says so.
        r = subprocess.run([os.path.join(BIN_DIR, "berth-apiserver"), "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("give --cert-dir, --tls-cert-file, or --insecure-loopback-http", r.stderr)

    def test_zz_a_rotated_certificate_serves_the_next_connection(self):
        new = Pki()
        try:
            for name in ("server.crt", "server.key"):
                shutil.copy(new.path(name), self.pki.path(name) + ".new")
                os.replace(self.pki.path(name) + ".new", self.pki.path(name))

            def served_by(ca):
                ctx = ssl.create_default_context(cafile=ca)
                try:
                    urllib.request.urlopen(f"{self.url}/version", context=ctx, timeout=5).read()
                    return True
                except (ssl.SSLError, OSError):
                    return False
            wait_for(lambda: served_by(new.path("ca.crt")), timeout=10, what="the new certificate to be served")
            self.assertFalse(served_by(self.pki.path("ca.crt")))
        finally:
            new.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
