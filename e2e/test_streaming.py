#!/usr/bin/python3
"""exec, attach, port-forward and cp through the real binaries (`cli/berth up`), as kubectl 1.32
and the official Python client speak them: kubectl's WebSocket v5 channels and SPDY/3.1 tunnelled
in WebSocket for port-forward, the Python client's v4 channels and portforward channels. The
apiserver relays each upgraded connection to the node's agent, which runs the session."""
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BIN_DIR, BerthUp, free_port, wait_for  # noqa: E402

SKIP = None if os.geteuid() == 0 else "the agent needs root (namespaces, cgroups)"
CLUSTER = None
KUBECTL = None
WEB_PORT = None

PODS = """apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: host
    stdin: true
    command: ["sh", "-c", "echo ready; while read line; do echo got:$line; done; sleep 3600"]
  - name: side
    image: host
    env: [{name: GREETING, value: from-the-spec}]
    workingDir: /tmp
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: web, annotations: {berth.dev/network: isolated}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: http
    image: host
    command: ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "WEB_PORT", "--directory", "/etc"]
---
apiVersion: v1
kind: Pod
metadata: {name: done}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: host, command: ["true"]}
"""


def setUpModule():
    global CLUSTER, KUBECTL, WEB_PORT
    if SKIP:
        return
    CLUSTER = BerthUp(node_name="streaming-node").start()
    KUBECTL = CLUSTER.kubectl()
    WEB_PORT = free_port()
    KUBECTL.run("apply", "-f", "-", stdin=PODS.replace("WEB_PORT", str(WEB_PORT)))

    def ready():
        phases = KUBECTL.run("get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}").stdout
        return "shell=Running" in phases and "web=Running" in phases and "done=Succeeded" in phases
    wait_for(ready, timeout=60, what="the pods to run")

    def serving():
        r = KUBECTL.run("exec", "web", "--", "/usr/bin/python3", "-c",
                        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{WEB_PORT}/hostname')",
                        check=False)
        return r.returncode == 0
    wait_for(serving, timeout=30, what="the web pod to serve")


def tearDownModule():
    if CLUSTER:
        CLUSTER.stop()
    if KUBECTL:
        KUBECTL.cleanup()


def processes_matching(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@unittest.skipIf(SKIP, SKIP)
class KubectlExec(unittest.TestCase):
    def test_exec_prints_output_and_propagates_the_exit_code(self):
        r = KUBECTL.run("exec", "shell", "-c", "side", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
        self.assertEqual(r.returncode, 3, r)
        self.assertEqual(r.stdout, "out\n")
        self.assertIn("err\n", r.stderr)
        self.assertIn("command terminated with exit code 3", r.stderr)

    def test_exec_runs_with_the_containers_environment_and_working_directory(self):
        r = KUBECTL.run("exec", "shell", "-c", "side", "--", "sh", "-c", "echo $GREETING; pwd")
        self.assertEqual(r.stdout, "from-the-spec\n/tmp\n")

    def test_exec_joins_the_containers_pid_namespace(self):
        r = KUBECTL.run("exec", "shell", "-c", "side", "--", "sh", "-c", "ls /proc | grep -c '^[0-9]'")
        self.assertLess(int(r.stdout), 10, "the exec sees the host's processes")

    def test_exec_with_stdin_streams_until_end_of_file(self):
        data = "".join(f"line {i}\n" for i in range(2000))
        r = KUBECTL.run("exec", "-i", "shell", "-c", "side", "--", "sh", "-c", "cat; echo END", stdin=data)
        self.assertEqual(r.stdout, data + "END\n")

    def test_exec_under_a_terminal_gets_a_tty_and_its_size(self):
        cmd = (f"stty cols 123 rows 45; HOME={KUBECTL.home} kubectl --kubeconfig {CLUSTER.kubeconfig} exec -it shell -c side -- "
               "sh -c 'tty; stty size; exit 4'")
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], stdin=subprocess.PIPE, capture_output=True,
                           text=True, timeout=60)
        self.assertIn("/dev/pts/", r.stdout)
        self.assertIn("45 123", r.stdout)
        self.assertEqual(r.returncode, 4, r)

    def test_errors_are_statuses_kubectl_prints(self):
        cases = [
            (["exec", "nosuch", "--", "true"], 'pods "nosuch" not found'),
            (["exec", "shell", "-c", "nope", "--", "true"], "container nope is not valid for pod shell"),
            (["exec", "shell", "-c", "side", "--", "/no/such/binary"], "executable file not found"),
            (["exec", "done", "--", "true"], "completed pod"),
            (["attach", "-i", "web"], "stdin is not enabled for container http"),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                r = KUBECTL.run(*args, check=False, timeout=30)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(message, r.stderr)

    def test_the_apiserver_answers_before_upgrading(self):
        upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}
        c = CLUSTER.client()
        r = c.get("/api/v1/namespaces/default/pods/shell/exec?command=true", headers=upgrade)
        self.assertEqual(r.status, 400)
        self.assertIn("a container name must be specified for pod shell, choose one of: [main side]", r.json()["message"])
        r = c.get("/api/v1/namespaces/default/pods/shell/exec?command=true&container=side")
        self.assertEqual((r.status, r.json()["message"]), (400, "Upgrade request required"))
        r = c.get("/api/v1/namespaces/default/pods/web/portforward?ports=1", headers=dict(upgrade, **{"Sec-WebSocket-Protocol": "nope"}))
        self.assertEqual(r.status, 400)
        self.assertIn("none of the offered protocols", r.json()["message"])

    def test_a_client_that_leaves_ends_its_command(self):
        marker = "sleep 4242"
        p = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "exec", "shell", "-c", "side", "--", "sleep", "4242"],
                             env=dict(os.environ, HOME=KUBECTL.home), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: processes_matching(f"^{marker}$"), timeout=20, what="the exec'd command to run")
        finally:
            p.kill()
            p.wait()
        wait_for(lambda: not processes_matching(f"^{marker}$"), timeout=20, what="the command to end with its client")

    def test_kubectl_cp_both_ways(self):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.bin")
            payload = os.urandom(300_000)
            with open(src, "wb") as f:
                f.write(payload)
            KUBECTL.run("cp", src, "default/shell:/tmp/berth-cp-test.bin", "-c", "side")
            back = os.path.join(d, "out.bin")
            KUBECTL.run("cp", "default/shell:/tmp/berth-cp-test.bin", back, "-c", "side")
            with open(back, "rb") as f:
                self.assertEqual(f.read(), payload)
            KUBECTL.run("exec", "shell", "-c", "side", "--", "rm", "/tmp/berth-cp-test.bin")


@unittest.skipIf(SKIP, SKIP)
class KubectlAttachAndPortForward(unittest.TestCase):
    def test_attach_sends_stdin_to_the_main_process_and_shows_its_output(self):
        p = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "attach", "-i", "shell", "-c", "main"],
                             env=dict(os.environ, HOME=KUBECTL.home), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            seen = []

            def read():
                for line in p.stdout:
                    seen.append(line)
            t = threading.Thread(target=read, daemon=True)
            t.start()
            deadline = time.time() + 30
            while not any("got:hello-attach" in s for s in seen) and time.time() < deadline:
                p.stdin.write("hello-attach\n")
                p.stdin.flush()
                time.sleep(0.5)
            self.assertTrue(any("got:hello-attach" in s for s in seen), seen)
        finally:
            p.kill()
            p.wait()

    def test_port_forward_to_a_server_in_the_pods_network_namespace(self):
        local = free_port()
        p = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "port-forward", "pod/web", f"{local}:{WEB_PORT}"],
                             env=dict(os.environ, HOME=KUBECTL.home), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: "Forwarding from" in (p.stdout.readline() or ""), timeout=20, what="port-forward to listen")
            for _ in range(3):  # several connections over one session
                with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
                    s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.0 200"), data[:80])
                with open("/etc/hostname", "rb") as f:
                    self.assertTrue(data.endswith(f.read()))
            # Nothing listens on the host's loopback at WEB_PORT: the pod's namespace answered.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", WEB_PORT), timeout=2).close()
        finally:
            p.kill()
            p.wait()


@unittest.skipIf(SKIP, SKIP)
class PythonClient(unittest.TestCase):
    def api(self):
        from kubernetes import client, config
        c = client.Configuration()
        config.load_kube_config(config_file=CLUSTER.kubeconfig, client_configuration=c)
        return client.CoreV1Api(client.ApiClient(c))

    def test_stream_exec(self):
        from kubernetes.stream import stream
        api = self.api()
        out = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="side",
                     command=["sh", "-c", "echo out; echo err >&2"], stderr=True, stdin=False, stdout=True, tty=False)
        self.assertEqual(out, "out\nerr\n")
        resp = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="side",
                      command=["sh", "-c", "exit 7"], stderr=True, stdin=False, stdout=True, tty=False,
                      _preload_content=False)
        resp.run_forever(timeout=20)
        self.assertEqual(resp.returncode, 7)
        ws = stream(api.connect_get_namespaced_pod_exec, "shell", "default", container="side", command=["cat"],
                    stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
        ws.write_stdin("from-python\n")
        got = ""
        deadline = time.time() + 20
        while "from-python" not in got and time.time() < deadline:
            ws.update(timeout=0.2)
            got += ws.read_stdout()
        ws.close()
        self.assertEqual(got, "from-python\n")

    def test_portforward_channels(self):
        from kubernetes.stream import portforward
        pf = portforward(self.api().connect_get_namespaced_pod_portforward, "web", "default", ports=str(WEB_PORT))
        s = pf.socket(WEB_PORT)
        s.setblocking(True)
        s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.0 200"), data[:80])
        self.assertIsNone(pf.error(WEB_PORT))


@unittest.skipIf(SKIP, SKIP)
class AgentPortProtection(unittest.TestCase):
    """The agent's own port, as the kubelet's: HTTPS only, a client certificate of the cluster's
    client CA (else 401), and the apiserver's SubjectAccessReview on nodes/proxy (else 403)."""

    def agent_url(self):
        node = CLUSTER.client().get("/api/v1/nodes/streaming-node").json()
        port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        return f"https://127.0.0.1:{port}"

    def fetch(self, url, cert=None):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the agent's certificate is its own, as a kubelet's
        if cert:
            ctx.load_cert_chain(*cert)
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def test_only_callers_the_apiserver_authorizes_reach_the_agent(self):
        base = self.agent_url()
        path = "/containerLogs/default/no-such-pod/c"
        with self.assertRaises(Exception):  # plain HTTP is not spoken
            urllib.request.urlopen(base.replace("https://", "http://") + path, timeout=10).read()
        self.assertEqual(self.fetch(base + path), (401, "Unauthorized\n"))
        alice = os.path.join(CLUSTER.data_dir, "alice")
        subprocess.run([os.path.join(BIN_DIR, "berth-kubeconfig"), "--cert-dir", os.path.join(CLUSTER.data_dir, "tls"),
                        "--server", CLUSTER.url, "--user", "alice", "--out", alice + ".kubeconfig", "--pem-out", alice],
                       check=True, capture_output=True, timeout=30)
        self.assertEqual(self.fetch(base + path, (alice + ".crt", alice + ".key")),
                         (403, "Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)\n"))
        # The admin passes authorization: the agent itself answers (no such pod).
        code, _ = self.fetch(base + path, CLUSTER.admin_cert)
        self.assertEqual(code, 404)
        self.assertEqual(self.fetch(base + "/healthz"), (200, "ok"))


class ZAgentRestart(unittest.TestCase):
    """Last: it restarts the agent under the other tests' pods."""

    def test_an_agent_restart_with_an_open_session_leaves_the_containers_running(self):
        def main_pid():
            out = KUBECTL.run("exec", "shell", "-c", "side", "--", "cat", "/proc/1/stat").stdout
            return out.split()[0]
        before = KUBECTL.run("get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[*].restartCount}").stdout
        p = subprocess.Popen(["kubectl", *CLUSTER.kubectl_args, "exec", "-i", "shell", "-c", "side", "--", "sleep", "4343"],
                             env=dict(os.environ, HOME=KUBECTL.home), stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: processes_matching("^sleep 4343$"), timeout=20, what="the session's command")
            agent = CLUSTER.component_pid("berth-agent")
            os.kill(agent, signal.SIGKILL)
            # The session's command goes with the agent; the containers stay.
            wait_for(lambda: not processes_matching("^sleep 4343$"), timeout=20, what="the session's command to end")
            wait_for(lambda: (CLUSTER.component_pid("berth-agent") or agent) != agent, timeout=30,
                     what="berth up to restart the agent")
        finally:
            p.kill()
            p.wait()
        wait_for(lambda: KUBECTL.run("exec", "shell", "-c", "side", "--", "true", check=False).returncode == 0,
                 timeout=60, what="exec after the agent restart")
        self.assertTrue(main_pid())
        after = KUBECTL.run("get", "pod", "shell", "-o", "jsonpath={.status.containerStatuses[*].restartCount}").stdout
        self.assertEqual(before, after, "a container restarted")


if __name__ == "__main__":
    unittest.main(verbosity=2)
