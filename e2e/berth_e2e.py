"""End-to-end test helpers: start the real berth-apiserver binary and talk to it.

Every test reaches the apiserver through `ApiServer.client()` (Python) or `ApiServer.curl()`
(the curl command line): they know the address and, once TLS and tokens are the default, the
CA and credentials, so switching is a change here only.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

BIN_DIR = os.environ.get("BERTH_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "bin"))


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

    def __init__(self, host, port):
        self.host = host
        self.port = port

    def request(self, method, path, body=None, content_type="application/json", headers=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
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

    def watch(self, path, timeout=30):
        """Yields parsed watch events from a streaming GET until the server ends it."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        sep = "&" if "?" in path else "?"
        conn.request("GET", path + sep + "watch=1")
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
    """Runs build/bin/berth-apiserver on a free loopback port with its own data dir."""

    def __init__(self, data_dir=None, extra_args=None):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="berth-e2e-")
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(self.data_dir, "apiserver.stderr")

    def start(self):
        self.port = None
        cmd = [os.path.join(BIN_DIR, "berth-apiserver"), "--data-dir", os.path.join(self.data_dir, "db"),
               "--listen", "127.0.0.1:0"] + self.extra_args
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        line_box = []

        def read_first_line():
            line_box.append(self.proc.stdout.readline())

        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(20)
        line = line_box[0] if line_box else ""
        if not line.startswith("listening on http://"):
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

    def client(self):
        return Client("127.0.0.1", self.port)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def curl(self, *args):
        """A curl command line aimed at this server (paths are relative to the base URL)."""
        out = ["curl", "-sS"]
        for a in args:
            out.append(self.url + a if a.startswith("/") else a)
        return out

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
