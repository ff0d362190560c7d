#!/usr/bin/python3
"""berth-apiserver benchmark with references measured in the same run.

Builds nothing. Starts berth-apiserver (RocksDB, synced), Debian's etcd (default fsync) and nginx
(a 1 KB static JSON file), all on loopback with temporary dirs, then measures:
  * durable creates/s of ~1 KB Pods at concurrency 1 and 64 vs etcd puts of the same size;
  * creates/s at concurrency 1 vs the raw fdatasync rate of the same file system;
  * GET by name/s vs nginx serving the static file, and the same GET over TLS vs plain;
  * GET and durable creates over TLS with a bearer token, Node,RBAC (1,000 RoleBindings) and the
    default audit policy writing every request to a file vs the same over TLS, holding the same
    RoleBindings, without authentication or audit, and the authorization decision's own p99;
  * watch latency (write sent -> event received) p50/p99 with N watchers, measured by the C++
    client build/bin/berth-watch-latency (events lost or out of order are counted).
Prints every figure with its reference and the ratio. `--smoke` runs each step briefly.
Usage: bench/apiserver_bench.py [--smoke] [--duration S] [--watchers N] [--out FILE]
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("BERTH_BIN", os.path.join(HERE, "..", "build", "bin"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import bench_table  # noqa: E402
from quiet_disk import settle_disk  # noqa: E402
from berth_e2e import ApiServer, wait_for  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pod_body(pad):
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"generateName": "bench-", "labels": {"app": "bench"},
                                    "annotations": {"pad": "x" * pad}},
                       "spec": {"containers": [{"name": "main", "image": "host", "command": ["sleep", "3600"]}]}})


def sized_pod_body(target=1024):
    pad = 1
    while len(pod_body(pad)) < target:
        pad += 1
    return pod_body(pad)


def lua_string(s):
    return "[==[" + s + "]==]"


def run_wrk(url, lua, connections, duration, headers=()):
    threads = max(1, min(2, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        extra = [a for h in headers for a in ("-H", h)]
        proc = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(duration)}s", "--latency",
                               "-s", script, *extra, url], capture_output=True, text=True, timeout=duration + 60)
        out = proc.stdout
        if "Requests/sec" not in out:
            raise RuntimeError(f"wrk against {url} failed: {proc.stdout} {proc.stderr}")
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else (v if m.group(2) == "ms" else v * 1000)
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "non2xx": errors}


POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
"""

GET_LUA = """
wrk.method = "GET"
"""

ETCD_LUA = """
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b %% 2 ^ i - b %% 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%%d%%d%%d?%%d?%%d?%%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data %% 3 + 1])
end
local value = b64(%s)
local counter = 0
local thread_id = 0
local threads_seen = 0
function setup(thread)
  threads_seen = threads_seen + 1
  thread:set("thread_id", threads_seen)
end
function request()
  counter = counter + 1
  local key = b64("/bench/" .. thread_id .. "/" .. counter)
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"},
                    '{"key":"' .. key .. '","value":"' .. value .. '"}')
end
"""


def fdatasync_rate(directory, duration):
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    block = b"x" * 1024
    n = 0
    end = time.monotonic() + duration
    try:
        while time.monotonic() < end:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
    finally:
        os.close(fd)
        os.unlink(path)
    return n / duration


class Etcd:
    def __init__(self, workdir):
        self.port = free_port()
        peer = free_port()
        self.log = open(os.path.join(workdir, "etcd.log"), "w")
        self.proc = subprocess.Popen(["etcd", "--data-dir", os.path.join(workdir, "etcd"),
                                      "--listen-client-urls", f"http://127.0.0.1:{self.port}",
                                      "--advertise-client-urls", f"http://127.0.0.1:{self.port}",
                                      "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                                      "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                                      "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
                                     stdout=self.log, stderr=self.log)
        wait_for(self.healthy, 30, 0.1, "etcd")

    def healthy(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).status == 200
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


class Nginx:
    def __init__(self, workdir, body):
        self.port = free_port()
        root = os.path.join(workdir, "www")
        os.makedirs(root)
        # nginx workers run as www-data: they must be able to reach the file.
        os.chmod(workdir, 0o755)
        with open(os.path.join(root, "pod.json"), "w") as f:
            f.write(body)
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {os.cpu_count()};
pid {workdir}/nginx.pid;
error_log {workdir}/nginx.err;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  default_type application/json;
  client_body_temp_path {workdir}/tmp; proxy_temp_path {workdir}/tmp; fastcgi_temp_path {workdir}/tmp;
  uwsgi_temp_path {workdir}/tmp; scgi_temp_path {workdir}/tmp;
  server {{ listen 127.0.0.1:{self.port}; root {root}; }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.up, 10, 0.05, "nginx")

    def up(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/pod.json", timeout=1).status == 200
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def start_tls_apiserver(workdir):
    """A second apiserver (RocksDB, like the first) serving HTTPS with a throwaway certificate."""
    d = os.path.join(workdir, "tls")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")],
                   check=True, capture_output=True)
    return ApiServer(data_dir=d, extra_args=["--tls-cert-file", os.path.join(d, "cert.pem"),
                                             "--tls-private-key-file", os.path.join(d, "key.pem"),
                                             "--authorization-mode", "AlwaysAllow"]).start()


def json_poster(port, workdir, token=None):
    """A function POSTing a JSON object over HTTPS (the bench CA) and returning the answer."""
    import ssl
    ctx = ssl.create_default_context(cafile=os.path.join(workdir, "tls", "cert.pem"))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def post(path, obj):
        req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=json.dumps(obj).encode(), method="POST",
                                     headers=headers)
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return json.loads(r.read())
    return post


def create_bindings(post, bindings):
    """A Role that may get and create pods in default, and `bindings` RoleBindings to it there:
    user "bench"'s sorts after the `bindings - 1` others for other users (the evaluator walks them
    all). Both servers of the comparison hold them, so it compares the same data with and
    without authentication, authorization and audit (a larger store makes every read slower)."""
    rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/default"
    post(rbac + "/roles", {"metadata": {"name": "pods"},
                           "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "create"]}]})
    for i in range(bindings):
        user = "bench" if i == bindings - 1 else f"user-{i}"
        post(rbac + "/rolebindings", {"metadata": {"name": f"b-{i:05d}" if user != "bench" else "zzz-bench"},
                                      "subjects": [{"kind": "User", "name": user}],
                                      "roleRef": {"kind": "Role", "name": "pods"}})


def start_secure_apiserver(workdir, bindings, audit_mode="blocking"):
    """An HTTPS apiserver with --authorization-mode=Node,RBAC (the default), the default audit
    policy into a file, a token file (users "admin" in system:masters and "bench") and
    create_bindings' RoleBindings."""
    d = os.path.join(workdir, f"secure-{audit_mode}")
    os.makedirs(d, exist_ok=True)
    tokens = os.path.join(d, "tokens.csv")
    with open(tokens, "w") as f:
        f.write("admin-token,admin,0,system:masters\nbench-token,bench,1\n")
    cert_dir = os.path.join(workdir, "tls")
    api = ApiServer(data_dir=d, extra_args=["--tls-cert-file", os.path.join(cert_dir, "cert.pem"), "--tls-private-key-file",
                                            os.path.join(cert_dir, "key.pem"), "--authorization-mode", "Node,RBAC",
                                            "--token-auth-file", tokens,
                                            "--audit-log-path", os.path.join(d, "audit.log"),
                                            "--audit-log-mode", audit_mode]).start()
    admin_post = json_poster(api.port, workdir, "admin-token")
    create_bindings(admin_post, bindings)
    return api, admin_post


def secure_metrics(api, workdir):
    out = subprocess.run(["curl", "-sS", "--cacert", os.path.join(workdir, "tls", "cert.pem"), "-H",
                          "Authorization: Bearer admin-token", f"https://127.0.0.1:{api.port}/metrics"],
                         check=True, capture_output=True, text=True).stdout
    return out


def tls_post(port, workdir, path, body):
    """Creates an object over HTTPS (curl) and returns its name."""
    out = subprocess.run(["curl", "-sS", "--cacert", os.path.join(workdir, "tls", "cert.pem"), "-H",
                          "Content-Type: application/json", "--data-binary", body, f"https://127.0.0.1:{port}{path}"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["metadata"]["name"]


def histogram(metrics_text, name):
    """Cumulative bucket counts {le: count} of a Prometheus histogram."""
    out = {}
    for m in re.finditer(name + r'_bucket\{le="([^"]+)"\} (\d+)', metrics_text):
        out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return out


def histogram_percentile(before, after, p):
    """The bucket bound at or under which p% of the observations between two scrapes fall."""
    diff = sorted((le, after[le] - before.get(le, 0)) for le in after)
    total = diff[-1][1] if diff else 0
    for le, count in diff:
        if total and count >= total * p / 100:
            return le
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--out")
    args = ap.parse_args()
    duration = 1 if args.smoke else args.duration
    watchers = 20 if args.smoke else args.watchers
    workdir = tempfile.mkdtemp(prefix="berth-bench-")
    body = sized_pod_body()
    rows = []
    api = etcd = nginx = None
    try:
        # Plain HTTP on loopback (the development flag): this server measures the HTTP core and
        # storage against nginx and etcd, which serve plain HTTP too; TLS, authentication,
        # authorization and audit are measured below against it, each on its own server.
        api = ApiServer(data_dir=workdir, extra_args=["--insecure-loopback-http"]).start()
        c = api.client()
        c.post("/api/v1/namespaces", {"metadata": {"name": "bench"}})
        create_url = f"{api.url}/api/v1/namespaces/bench/pods"
        etcd = Etcd(workdir)
        nginx = Nginx(workdir, body)

        fsync = fdatasync_rate(workdir, duration)
        results = {}
        for conc in (1, 64):
            b = run_wrk(create_url, POST_LUA % lua_string(body), conc, duration)
            e = run_wrk(f"http://127.0.0.1:{etcd.port}", ETCD_LUA % lua_string(body), conc, duration)
            results[conc] = (b, e)
            rows.append((f"durable creates/s c={conc} (~1 KB Pod)", b["rps"], f"etcd put c={conc}", e["rps"]))
            rows.append((f"  create p99 ms c={conc}", b["p99_ms"], f"etcd put p99 ms c={conc}", e["p99_ms"]))
            if b["non2xx"]:
                print(f"warning: {b['non2xx']} non-2xx answers from berth at c={conc}", file=sys.stderr)
        rows.append(("durable creates/s c=1", results[1][0]["rps"], "raw fdatasync/s (1 KB appends)", fsync))

        name = c.post("/api/v1/namespaces/bench/pods", json.loads(body)).json()["metadata"]["name"]
        g = run_wrk(f"{api.url}/api/v1/namespaces/bench/pods/{name}", GET_LUA, 64, duration)
        n = run_wrk(f"http://127.0.0.1:{nginx.port}/pod.json", GET_LUA, 64, duration)
        rows.append(("GET by name/s c=64", g["rps"], "nginx static 1 KB c=64", n["rps"]))

        bindings = 50 if args.smoke else 1000
        tls = start_tls_apiserver(workdir)
        try:
            tc = tls_post(tls.port, workdir, "/api/v1/namespaces/default/pods", body)
            tls_get = f"https://127.0.0.1:{tls.port}/api/v1/namespaces/default/pods/{tc}"
            t = run_wrk(tls_get, GET_LUA, 64, duration)
            rows.append(("GET by name/s c=64 over TLS", t["rps"], "the same GET, plain HTTP", g["rps"]))
            # The reference of the secure server below: the same data (its RoleBindings), served
            # with no authentication, authorization or audit.
            create_bindings(json_poster(tls.port, workdir), bindings)
            t = run_wrk(tls_get, GET_LUA, 64, duration)
            tcreate = run_wrk(f"https://127.0.0.1:{tls.port}/api/v1/namespaces/default/pods", POST_LUA % lua_string(body), 64,
                              duration)
        finally:
            tls.stop()

        # The same over TLS with a bearer token and RBAC judging every request, 1,000
        # RoleBindings in the namespace: authentication and authorization's own cost.
        secure, admin_post = start_secure_apiserver(workdir, bindings)
        try:
            sname = admin_post("/api/v1/namespaces/default/pods", json.loads(body))["metadata"]["name"]
            token = ["Authorization: Bearer bench-token"]
            before = histogram(secure_metrics(secure, workdir), "berth_authorization_duration_seconds")
            sg = run_wrk(f"https://127.0.0.1:{secure.port}/api/v1/namespaces/default/pods/{sname}", GET_LUA, 64, duration,
                         token)
            sc = run_wrk(f"https://127.0.0.1:{secure.port}/api/v1/namespaces/default/pods", POST_LUA % lua_string(body), 64,
                         duration, token)
            after = histogram(secure_metrics(secure, workdir), "berth_authorization_duration_seconds")
            if sg["non2xx"] or sc["non2xx"]:
                raise RuntimeError(f"RBAC refused the bench user: {sg['non2xx']} GETs, {sc['non2xx']} creates")
            rows.append((f"GET by name/s c=64, TLS+token+Node,RBAC+audit ({bindings} bindings)", sg["rps"],
                         "the same GET over TLS, same data, no auth, no audit", t["rps"]))
            rows.append((f"durable creates/s c=64, TLS+token+Node,RBAC+audit", sc["rps"],
                         "the same creates over TLS, same data, no auth, no audit", tcreate["rps"]))
            rows.append((f"authorization decision p99 us ({bindings} bindings)",
                         histogram_percentile(before, after, 99) * 1e6, "p99 of a GET by name, us (same run)", sg["p99_ms"] * 1000))
        finally:
            secure.stop()
        # The same GET with --audit-log-mode=batch: events written together by a writer thread.
        batch, batch_post = start_secure_apiserver(workdir, bindings, "batch")
        try:
            bname = batch_post("/api/v1/namespaces/default/pods", json.loads(body))["metadata"]["name"]
            bg = run_wrk(f"https://127.0.0.1:{batch.port}/api/v1/namespaces/default/pods/{bname}", GET_LUA, 64, duration,
                         ["Authorization: Bearer bench-token"])
            rows.append((f"GET by name/s c=64, TLS+token+Node,RBAC+audit batch", bg["rps"],
                         "the same GET over TLS, same data, no auth, no audit", t["rps"]))
        finally:
            batch.stop()

        writes = 10 if args.smoke else 50

        # Each event's latency includes its create's fsync: measured after the writeback and
        # discards of the steps above (hundreds of MB of creates on four servers) have ended.
        settle_disk(limit_s=5 if args.smoke else 60)
        metrics = c.get("/metrics").body
        before = histogram(metrics, "berth_watch_delivery_seconds")
        commits_before = histogram(metrics, "berth_storage_commit_duration_seconds")
        rv = c.get("/api/v1/namespaces/bench/configmaps").json()["metadata"]["resourceVersion"]
        out = subprocess.run([os.path.join(BIN, "berth-watch-latency"), str(api.port),
                              f"/api/v1/namespaces/bench/configmaps?watch=1&resourceVersion={rv}",
                              "/api/v1/namespaces/bench/configmaps", str(watchers), str(writes), "10"],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"berth-watch-latency failed: {out.stderr}")
        w = json.loads(out.stdout)
        metrics = c.get("/metrics").body
        after = histogram(metrics, "berth_watch_delivery_seconds")
        commits_after = histogram(metrics, "berth_storage_commit_duration_seconds")
        expected = watchers * writes
        rows.append((f"watch commit->stream p50 ms, server ({watchers} w.)", histogram_percentile(before, after, 50) * 1000,
                     "target (bucket upper bound)", 10.0))
        rows.append((f"watch commit->stream p99 ms, server ({watchers} w.)", histogram_percentile(before, after, 99) * 1000,
                     "target (bucket upper bound)", 10.0))
        rows.append((f"watch POST->client p50 ms ({watchers} watchers)", w["p50_ms"], "target", 10.0))
        rows.append((f"watch POST->client p99 ms ({watchers} watchers)", w["p99_ms"], "target", 10.0))
        # Each event's latency includes its create's synced commit: one slow fsync of the 50 moves
        # the p99 of all its watchers, so the commits' own tail is shown beside it.
        rows.append(("  their creates' synced commit, max ms (bucket bound)", histogram_percentile(commits_before, commits_after, 100) * 1000,
                     "p50 ms (bucket bound)", histogram_percentile(commits_before, commits_after, 50) * 1000))
        rows.append((f"watch events delivered of {expected}", float(w["delivered"]), "expected", float(expected)))
        rows.append(("watch events out of order", float(w["reordered"]), "expected", 0.0))
    finally:
        for s in (nginx, etcd):
            if s:
                s.stop()
        if api:
            api.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    bench_table.emit(rows, args.out)


if __name__ == "__main__":
    main()
