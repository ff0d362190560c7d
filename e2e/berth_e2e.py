"""End-to-end test helpers: start the real berth-apiserver binary and talk to it.

Every test reaches the apiserver through `ApiServer.client()` (Python) or `ApiServer.curl()`
(the curl command line): they know the address and, once TLS and tokens are the default, the
CA and credentials, so switching is a change here only.
"""
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BIN_DIR = os.environ.get("BERTH_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "bin"))


def json_lines(path):
    """The JSON objects of a JSON-lines file another process may be appending to (an audit
    log): a last line without its newline is not written yet and is left out."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"Response({self.status}, {self.body[:300]!r})"


class Client:
    """A tiny HTTP client for the API (one connection per call, like curl)."""

    def __init__(self, host, port, ssl_context=None):
        self.host = host
        self.port = port
        self.ssl_context = ssl_context  # HTTPS when set (a cluster started by `berth up`)

    def _connection(self, timeout):
        if self.ssl_context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, content_type="application/json", headers=None, timeout=30):
        conn = self._connection(timeout)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            hdrs.setdefault("Content-Type", content_type)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body, content_type="application/merge-patch+json", **kw):
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    def watch(self, path, timeout=30, headers=None):
        """Yields parsed watch events from a streaming GET until the server ends it."""
        conn = self._connection(timeout)
        sep = "&" if "?" in path else "?"
        conn.request("GET", path + sep + "watch=1", headers=headers or {})
        resp = conn.getresponse()
        if resp.status != 200:
            raise AssertionError(f"watch failed: {resp.status} {resp.read()!r}")
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                line = line.strip()
                if line:
                    yield json.loads(line)
        finally:
            conn.close()


class ApiServer:
    """Runs build/bin/berth-apiserver on a free loopback port with its own data dir, secure as it is
    with no flags: TLS from the certificates it generates in its --cert-dir, x509 client
    certificates, Node,RBAC. The helper issues itself an admin certificate (system:admin in
    system:masters) and each component its own identity from that directory, as `berth up` does.
    A test that brings its own --tls-cert-file manages its clients itself; only the development
    flag test (test_tls) and the benchmark of the plain HTTP core run with --insecure-loopback-http."""

    def __init__(self, data_dir=None, extra_args=None, admin_token=False):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="berth-e2e-")
        self.extra_args = list(extra_args or [])
        # A static bearer token for the admin, for load generators (wrk) that cannot present a
        # client certificate.
        self.admin_token = None
        if admin_token:
            self.admin_token = secrets.token_hex(16)
            tokens = os.path.join(self.data_dir, "admin-token.csv")
            with open(os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(f"{self.admin_token},token-admin,token-admin,system:masters\n")
            self.extra_args += ["--token-auth-file", tokens]
        self.insecure = "--insecure-loopback-http" in self.extra_args
        self.cert_dir = None  # set when this helper holds the cluster's CAs and issues credentials
        if not self.insecure and "--tls-cert-file" not in self.extra_args:
            if "--cert-dir" in self.extra_args:
                self.cert_dir = self.extra_args[self.extra_args.index("--cert-dir") + 1]
            else:
                self.cert_dir = os.path.join(self.data_dir, "tls")
                self.extra_args += ["--cert-dir", self.cert_dir]
        self.cred_dir = os.path.join(self.data_dir, "cred")
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(self.data_dir, "apiserver.stderr")

    def start(self, port=0):
        """Starts the server; `port` reuses a known port (a restart that clients must find again)."""
        self.port = None
        cmd = [os.path.join(BIN_DIR, "berth-apiserver"), "--data-dir", os.path.join(self.data_dir, "db"),
               "--listen", f"127.0.0.1:{port}"] + self.extra_args
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        line_box = []

        def read_first_line():
            line_box.append(self.proc.stdout.readline())

        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(20)
        line = line_box[0] if line_box else ""
        if not line.startswith(("listening on http://", "listening on https://")):
            self.stop()
            raise AssertionError(f"apiserver did not start: {line!r}; stderr: {self.stderr()}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        return self

    def stderr(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    @property
    def managed(self):
        return self.cert_dir is not None

    @property
    def ca_file(self):
        return os.path.join(self.cert_dir, "server-ca.crt")

    @property
    def client_ca_file(self):
        return os.path.join(self.cert_dir, "client-ca.crt")

    @property
    def admin_cert(self):
        self.kubeconfig_for("system:admin", ["system:masters"], pem=True)
        return os.path.join(self.cred_dir, "admin.crt"), os.path.join(self.cred_dir, "admin.key")

    @property
    def kubeconfig(self):
        """The admin's kubeconfig (system:admin in system:masters), for kubectl and the SDK."""
        return self.kubeconfig_for("system:admin", ["system:masters"], pem=True)

    def kubeconfig_for(self, user, groups=(), pem=False):
        """A kubeconfig with a client certificate for `user` in `groups`, issued by berth-kubeconfig
        from the apiserver's client CA (kept while valid for this server, as berth up keeps them)."""
        assert self.managed, "this apiserver's certificates are the test's own"
        os.makedirs(self.cred_dir, mode=0o700, exist_ok=True)
        name = "admin" if user == "system:admin" else user.replace(":", "-")
        out = os.path.join(self.cred_dir, name + ".kubeconfig")
        args = [os.path.join(BIN_DIR, "berth-kubeconfig"), "--keep-valid", "--cert-dir", self.cert_dir,
                "--server", self.url, "--user", user, "--out", out]
        if groups:
            args += ["--groups", ",".join(groups)]
        if pem:
            args += ["--pem-out", os.path.join(self.cred_dir, name)]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"berth-kubeconfig {user} failed: {r.stderr}")
        return out

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(*self.admin_cert)
        return ctx

    def client(self):
        """A client as the cluster admin (system:masters)."""
        if not self.managed:
            return Client("127.0.0.1", self.port)
        return Client("127.0.0.1", self.port, ssl_context=self.ssl_context())

    def kubectl(self):
        return Kubectl(self.url, kubeconfig=self.kubeconfig if self.managed else None)

    def python_client_configuration(self):
        """A kubernetes.client.Configuration for the official Python client, as the admin."""
        from kubernetes import client as k8s
        cfg = k8s.Configuration()
        cfg.host = self.url
        if self.managed:
            cfg.ssl_ca_cert = self.ca_file
            cfg.cert_file, cfg.key_file = self.admin_cert
        return cfg

    @property
    def url(self):
        return f"{'http' if self.insecure else 'https'}://127.0.0.1:{self.port}"

    def curl_args(self):
        if not self.managed:
            return []
        cert, key = self.admin_cert
        return ["--cacert", self.ca_file, "--cert", cert, "--key", key]

    def curl(self, *args):
        """A curl command line aimed at this server as the admin (paths are relative to the base URL)."""
        out = ["curl", "-sS"] + self.curl_args()
        for a in args:
            out.append(self.url + a if a.startswith("/") else a)
        return out

    def component_args(self, user, groups=()):
        """--kubeconfig and --server for a component running as `user` (nothing extra when the
        apiserver is the test's own or plain HTTP)."""
        if not self.managed:
            return ["--server", self.url]
        return ["--kubeconfig", self.kubeconfig_for(user, groups), "--server", self.url]

    def publish_namespace_defaults(self, namespace="default"):
        """What the controller-manager's serviceaccount and root-ca-cert-publisher controllers put in
        every namespace: for harnesses that run an agent without a controller-manager, whose pods'
        kube-api-access volume would otherwise wait forever for them."""
        c = self.client()
        r = c.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "default"}})
        assert r.status in (201, 409), r
        if self.managed:
            with open(self.ca_file) as f:
                ca = f.read()
            r = c.post(f"/api/v1/namespaces/{namespace}/configmaps",
                       {"metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": ca}})
            assert r.status in (201, 409), r

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        self._stderr.close()
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def pod(name, labels=None, node=None, image="host"):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "labels": labels or {}},
         "spec": {"containers": [{"name": "main", "image": image}]}}
    if node:
        p["spec"]["nodeName"] = node
    return p


def quote(s):
    return urllib.parse.quote(s, safe="")


class Process:
    """Any of the project's binaries, with its stderr kept in the data dir."""

    def __init__(self, args, log_dir):
        self.args = args
        self.log_dir = log_dir
        self.proc = None

    def start(self):
        log = open(os.path.join(self.log_dir, f"{os.path.basename(self.args[0])}-{time.monotonic_ns()}.log"), "ab")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ControllerManager:
    """Runs build/bin/berth-controller-manager against an apiserver."""

    def __init__(self, server, extra_args=None, log_dir=None):
        self.server = server
        self.extra_args = list(extra_args or [])
        self.log_dir = log_dir or server.data_dir
        self.proc = None

    def start(self):
        log = open(os.path.join(self.log_dir, f"controller-manager-{time.monotonic_ns()}.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(BIN_DIR, "berth-controller-manager")]
                                     + self.server.component_args("system:kube-controller-manager") + self.extra_args, stdout=subprocess.PIPE, stderr=log)
        log.close()
        # The status endpoint starts first and prints its address (port 0 picked a free one).
        line = self.proc.stdout.readline().decode()
        self.metrics_url = line.split(" on ", 1)[1].strip() if line.startswith("serving metrics on ") else None
        return self

    def get_status(self, path):
        """GET path from the controller-manager's own /healthz, /readyz, /metrics endpoint."""
        try:
            with urllib.request.urlopen(self.metrics_url + path, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code


class SimulatedKubelet:
    """Stands in for the agent on simulated nodes: marks bound pods Running and Ready, and
    finishes graceful deletions (as a kubelet does once the processes are gone)."""

    def __init__(self, client, nodes, lease_interval=0.5):
        self.c = client
        self.nodes = set(nodes)
        self.lease_interval = lease_interval
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.lease_thread = threading.Thread(target=self._renew_leases, daemon=True)

    def start(self):
        self.thread.start()
        self.lease_thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)
        self.lease_thread.join(10)

    def kill_node(self, name):
        """The node's kubelet dies: no more lease renewals, pod updates or deletions."""
        self.nodes.discard(name)

    def _renew_leases(self):
        while not self.stop_flag.wait(self.lease_interval):
            now = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".%06dZ" % (time.time_ns() // 1000 % 1000000)
            for n in list(self.nodes):
                path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{n}"
                try:
                    r = self.c.patch(path, {"spec": {"holderIdentity": n, "renewTime": now, "leaseDurationSeconds": 40}})
                    if r.status == 404:
                        self.c.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                                    {"metadata": {"name": n}, "spec": {"holderIdentity": n, "renewTime": now,
                                                                       "leaseDurationSeconds": 40}})
                except OSError:
                    pass

    def _sync(self, pod):
        meta, spec = pod["metadata"], pod.get("spec", {})
        if spec.get("nodeName") not in self.nodes:
            return
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        if meta.get("deletionTimestamp"):
            self.c.delete(path, {"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}})
            return
        exit_code = meta.get("annotations", {}).get("berth.test/exit")
        if exit_code is not None and pod.get("status", {}).get("phase") in ("Pending", "Running"):
            # A simulated process that ends: the pod finishes with that exit code.
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            code = int(exit_code)
            status = {"phase": "Succeeded" if code == 0 else "Failed", "startTime": now,
                      "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
                      "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                                             "restartCount": 0,
                                             "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                                                      "startedAt": now, "finishedAt": now}}}
                                            for c in spec.get("containers", [])]}
            self.c.patch(path + "/status", {"status": status})
            return
        if pod.get("status", {}).get("phase") == "Pending":
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            status = {"phase": "Running", "podIP": "10.0.0.1", "startTime": now,
                      "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                     for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                      "containerStatuses": [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": True,
                                             "restartCount": 0, "state": {"running": {"startedAt": now}}}
                                            for c in spec.get("containers", [])]}
            self.c.patch(path + "/status", {"status": status})

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                rv = self.c.get("/api/v1/pods").json()["metadata"]["resourceVersion"]
                for pod in self.c.get("/api/v1/pods").json()["items"]:
                    self._sync(pod)
                for ev in self.c.watch(f"/api/v1/pods?resourceVersion={rv}&timeoutSeconds=2"):
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self._sync(ev["object"])
                    if self.stop_flag.is_set():
                        break
            except Exception:  # the apiserver may be restarting; try again
                time.sleep(0.1)


def node(name, cpu="4", memory="8Gi", pods="110", labels=None, taints=None):
    n = {"apiVersion": "v1", "kind": "Node",
         "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name}, **(labels or {}))},
         "spec": {},
         "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": pods},
                    "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "simulated"}]}}
    if taints:
        n["spec"]["taints"] = taints
    return n


class Kubectl:
    """Runs /usr/bin/kubectl against a server with a fresh HOME, so no discovery cache from an
    earlier run (or another server on the same port) answers in its place."""

    def __init__(self, server_url, kubeconfig=None):
        self.server_url = server_url
        self.kubeconfig = kubeconfig
        self.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")

    @property
    def connection_args(self):
        """kubectl's flags for this server: its kubeconfig (TLS and credentials) or the bare URL."""
        if self.kubeconfig:
            return ["--kubeconfig", self.kubeconfig]
        return ["--server", self.server_url]

    def run(self, *args, check=True, timeout=60, stdin=None):
        env = dict(os.environ, HOME=self.home)
        env.pop("KUBECONFIG", None)
        r = subprocess.run(["kubectl", *self.connection_args, *args], env=env, input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def own_cgroup_dirs(subtree):
    """The cgroup directories an agent started by this process creates (its subtree under our own
    cgroup in the cpu, memory and pids hierarchies), as LinuxRuntime computes them."""
    out = []
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.strip().split(":", 2)
            for c in controllers.split(","):
                if c in ("cpu", "memory", "pids") and os.path.isdir(f"/sys/fs/cgroup/{c}"):
                    out.append(f"/sys/fs/cgroup/{c}{'' if path == '/' else path}/{subtree}")
    return out


class Agent:
    """Runs build/bin/berth-agent for one node; containers outlive it unless drained, so cleanup
    stops it with --drain semantics and kills whatever its checkpoints still name."""

    def __init__(self, server, node_name, root_dir=None, extra_args=None, drain=True, identity=None):
        """`identity` (user, groups) overrides the node's own, system:node:NAME in system:nodes."""
        self.server = server
        self.identity = identity or (f"system:node:{node_name}", ["system:nodes"])
        self.drain = drain
        self.node_name = node_name
        self.root_dir = root_dir or tempfile.mkdtemp(prefix="berth-agent-")
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.port = None

    def start(self, timeout=20):
        log = open(os.path.join(self.root_dir, "agent.stderr"), "ab")
        secure = []
        if self.server.managed:  # the agent's port then speaks HTTPS to client-CA certificates only
            secure = ["--client-ca-file", self.server.client_ca_file]
        self.proc = subprocess.Popen([os.path.join(BIN_DIR, "berth-agent")] + self.server.component_args(*self.identity)
                                     + secure + ["--node-name", self.node_name, "--root-dir", self.root_dir]
                                     + (["--drain"] if self.drain else []) + self.extra_args,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        line = box[0] if box else ""
        if " running on port " not in line:
            self.stop(signal.SIGKILL)
            raise AssertionError(f"agent did not start: {line!r}; stderr: {self.stderr()}")
        self.port = int(line.strip().rsplit(" ", 1)[1])
        return self

    def stderr(self):
        try:
            with open(os.path.join(self.root_dir, "agent.stderr")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            code = self.proc.returncode
            self.proc.stdout.close()
        self.proc = None
        return code

    def checkpoints(self):
        return agent_checkpoints(self.root_dir)

    def cleanup(self):
        self.stop()
        cleanup_agent_leftovers(self.root_dir, self.node_name)
        shutil.rmtree(self.root_dir, ignore_errors=True)


RECORD_SUFFIX = ".record"
EXIT_RECORD_OFFSET = 8192  # kExitRecordOffset: the checkpoint comes first, the init's exit record after


def agent_checkpoints(root_dir):
    """container id -> checkpoint (what an agent's runtime launched)."""
    out = {}
    base = os.path.join(root_dir, "state", "containers")
    for name in os.listdir(base) if os.path.isdir(base) else []:
        if not name.endswith(RECORD_SUFFIX):
            continue
        try:
            with open(os.path.join(base, name), "rb") as f:
                out[name[:-len(RECORD_SUFFIX)]] = json.loads(f.read(EXIT_RECORD_OFFSET))
        except (OSError, ValueError):
            pass
    return out


def mounts_under(root_dir):
    """Mount points below `root_dir` in this mount namespace, deepest first."""
    root = os.path.realpath(root_dir).rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # The mount point is the fifth field, with spaces and the like octal-escaped.
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point.startswith(root):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def cleanup_agent_leftovers(root_dir, node_name):
    """Kills what an agent's checkpoints still name as running and removes its cgroups, so a test
    leaves nothing behind even when the agent did not drain."""
    for cp in agent_checkpoints(root_dir).values():
        if cp.get("state") == "running" and cp.get("pid"):
            try:
                os.kill(cp["pid"], signal.SIGKILL)  # PID 1 of its namespace: all of it goes
            except OSError:
                pass
    # Whatever the agent mounted under its root and left for a restart to find (pod network
    # namespaces it pinned, volumes' tmpfs, container roots), deepest first.
    mounted = mounts_under(root_dir)
    if mounted:
        subprocess.run(["umount", "-l", *mounted], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    for d in own_cgroup_dirs(f"berth-agent-{node_name}"):
        for sub in sorted((os.path.join(d, x) for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))
                          if os.path.isdir(d) else [], reverse=True):
            while os.path.isdir(sub) and time.monotonic() < deadline:
                try:
                    os.rmdir(sub)
                except OSError:
                    time.sleep(0.05)
        try:
            os.rmdir(d)
        except OSError:
            pass


def rss_kb(pid):
    """Resident memory of a process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_supervisor(proc):
    """Stops a `berth up` as Ctrl-C would (SIGTERM: the agent drains first), or kills it after a
    minute."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class BerthUp:
    """The one command: `cli/berth up` supervising apiserver, controller-manager and an agent."""

    def __init__(self, node_name="berth-up-node", pod_network=True):
        self.data_dir = tempfile.mkdtemp(prefix="berth-up-")
        self.node_name = node_name
        self.port = free_port()
        self.proc = None
        # With the pod network (berth up's default), its bridge and nftables tables live in a
        # namespace of the test's own (deleted in stop), never in the machine's. A veth joins
        # that namespace to the machine, with a /30 from 198.18.0.0/15 (RFC 2544's benchmarking
        # range, routed nowhere) picked by the port: the apiserver is advertised at the machine's
        # end, so pods reach it through the kubernetes Service as on a real node.
        self.netns = f"bup{os.getpid() % 100000}-{self.port}" if pod_network else None
        base = (198 << 24) | (18 << 16) | ((self.port % 32768) * 4)
        self.host_address = ".".join(str((base + 1) >> shift & 255) for shift in (24, 16, 8, 0))
        self.node_address = ".".join(str((base + 2) >> shift & 255) for shift in (24, 16, 8, 0))

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "kubeconfig")

    @property
    def ca_file(self):
        return os.path.join(self.data_dir, "tls", "server-ca.crt")

    @property
    def admin_cert(self):
        """The admin's client certificate and key (system:admin in system:masters), for curl."""
        return os.path.join(self.data_dir, "cred", "admin.crt"), os.path.join(self.data_dir, "cred", "admin.key")

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(*self.admin_cert)
        return ctx

    def client(self):
        return Client("127.0.0.1", self.port, ssl_context=self.ssl_context())

    def kubectl(self):
        return Kubectl(self.url, kubeconfig=self.kubeconfig)

    @property
    def kubectl_args(self):
        return ["--kubeconfig", self.kubeconfig]

    def curl_args(self):
        cert, key = self.admin_cert
        return ["--cacert", self.ca_file, "--cert", cert, "--key", key]

    def start(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "berth")
        self.out = open(os.path.join(self.data_dir, "berth-up.out"), "ab")
        network = ["--pod-network", "none"]
        if self.netns:
            if not os.path.exists(f"/run/netns/{self.netns}"):  # a restart keeps the node's namespace
                host_end, node_end = f"bh{self.port}", f"bn{self.port}"
                for cmd in (["ip", "netns", "add", self.netns],
                            ["ip", "-n", self.netns, "link", "set", "lo", "up"],
                            ["ip", "link", "add", host_end, "type", "veth", "peer", "name", node_end, "netns", self.netns],
                            ["ip", "addr", "add", f"{self.host_address}/30", "dev", host_end],
                            ["ip", "link", "set", host_end, "up"],
                            ["ip", "-n", self.netns, "addr", "add", f"{self.node_address}/30", "dev", node_end],
                            ["ip", "-n", self.netns, "link", "set", node_end, "up"]):
                    subprocess.run(cmd, check=True, capture_output=True)
            network = ["--pod-network", "bridge", "--node-netns", f"/run/netns/{self.netns}",
                       "--advertise-address", self.host_address]
        self.proc = subprocess.Popen(["bash", script, "up", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}",
                                      "--node-name", self.node_name] + network, stdout=self.out, stderr=self.out,
                                     env=dict(os.environ, BERTH_BIN=BIN_DIR))

        def node_ready():
            r = self.client().get(f"/api/v1/nodes/{self.node_name}")
            return r.status == 200 and any(c["type"] == "Ready" and c["status"] == "True"
                                           for c in r.json()["status"]["conditions"])

        def ok():
            try:
                return node_ready()
            except (OSError, ssl.SSLError):  # also the certificates not written yet
                return False
        wait_for(ok, timeout=30, what="berth up: the node to be Ready")
        # berth up enforces Pod Security baseline; these suites run `image: host` pods (host
        # access) in `default`, which they therefore mark privileged, as an operator would.
        self.allow_host_pods("default")
        return self

    def allow_host_pods(self, namespace):
        r = self.client().patch(f"/api/v1/namespaces/{namespace}",
                                {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
                                content_type="application/merge-patch+json")
        assert r.status == 200, r

    def component_pid(self, binary):
        # The apiserver listens on every address when pods must reach it (0.0.0.0:PORT).
        out = subprocess.run(["pgrep", "-f", f"{binary} .*(127\\.0\\.0\\.1|0\\.0\\.0\\.0):{self.port}"],
                             capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
        return pids[0] if pids else None

    def stop(self):
        stop_supervisor(self.proc)
        for binary in ("berth-agent", "berth-controller-manager", "berth-apiserver"):
            pid = self.component_pid(binary)
            if pid:
                os.kill(pid, signal.SIGKILL)
        self.out.close()
        cleanup_agent_leftovers(os.path.join(self.data_dir, "agent"), self.node_name)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Pki:
    """A throwaway CA (EC P-256) with a serving certificate for 127.0.0.1 and an admin client
    certificate (CN alice, O system:masters); `issue` signs more."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-tls-")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=berth-test-ca", "-keyout", self.path("ca.key"), "-out", self.path("ca.crt"))
        self.issue("server", "/CN=berth-apiserver", "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.issue("admin", "/CN=alice/O=system:masters", "")

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, subject, san):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subject,
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"))
        ext = []
        if san:
            with open(self.path(name + ".ext"), "w") as f:
                f.write(san)
            ext = ["-extfile", self.path(name + ".ext")]
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path("ca.crt"), "-CAkey", self.path("ca.key"),
                "-CAcreateserial", "-days", "2", "-out", self.path(name + ".crt"), *ext)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
