#!/usr/bin/python3
"""Scheduler throughput, next to the apiserver's raw durable create rate in the same run.

Builds nothing. Starts berth-apiserver (RocksDB, synced), creates N simulated nodes (Node
objects) and M pending pods of mixed sizes with wrk, then starts berth-controller-manager and
measures pods bound per second (from the binding counter in the apiserver's /metrics). Then
times a Deployment of R replicas from create to all pods bound.
With --inter-pod every pod also carries a required pod anti-affinity (one pod of its group of
100 per node) and a topology spread constraint over ten zones (maxSkew 5, DoNotSchedule), as
upstream scheduler_perf's SchedulingPodAntiAffinity / TopologySpreading cases do.
With --pods N exactly N pending pods are created (instead of what wrk creates in --pod-seconds), so
that two trees whose apiservers admit pods at different rates are compared on the same queue.
Usage: bench/scheduler_bench.py [--smoke] [--inter-pod] [--nodes N] [--pod-seconds S | --pods N] [--replicas R] [--out FILE]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import bench_table  # noqa: E402
from berth_e2e import ApiServer, ControllerManager, wait_for  # noqa: E402

# -H headers (the bearer token) land in wrk.headers; an explicit header table replaces them.
HEADERS_LUA = r"""
function with_headers()
  local h = {["Content-Type"] = "application/json"}
  for k, v in pairs(wrk.headers) do h[k] = v end
  return h
end
"""

POD_LUA = HEADERS_LUA + r"""
math.randomseed(42)
function request()
  local cpu = math.random(1, 10) * 100
  local mem = math.random(1, 16) * 64
  local body = '{"metadata":{"generateName":"p-","namespace":"bench"},"spec":{"containers":[{"name":"c","image":"host",' ..
    '"resources":{"requests":{"cpu":"' .. cpu .. 'm","memory":"' .. mem .. 'Mi"}}}]}}'
  return wrk.format("POST", "/api/v1/namespaces/bench/pods", with_headers(), body)
end
"""

# The same pods, each in one of 100 groups that keep one pod per node and spread over zones.
INTER_POD_LUA = HEADERS_LUA + r"""
math.randomseed(42)
function request()
  local cpu = math.random(1, 10) * 100
  local mem = math.random(1, 16) * 64
  local group = 'g' .. math.random(0, 99)
  local sel = '{"matchLabels":{"group":"' .. group .. '"}}'
  local body = '{"metadata":{"generateName":"p-","namespace":"bench","labels":{"group":"' .. group .. '"}},"spec":{' ..
    '"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[' ..
    '{"labelSelector":' .. sel .. ',"topologyKey":"kubernetes.io/hostname"}]}},' ..
    '"topologySpreadConstraints":[{"maxSkew":5,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":' .. sel .. '}],' ..
    '"containers":[{"name":"c","image":"host",' ..
    '"resources":{"requests":{"cpu":"' .. cpu .. 'm","memory":"' .. mem .. 'Mi"}}}]}}'
  return wrk.format("POST", "/api/v1/namespaces/bench/pods", with_headers(), body)
end
"""


# Wraps a request() defined before it: each wrk thread creates exactly `quota` pods, then stops; a
# refused create (429 under load) is sent again. A connection that finds the quota sent while
# others still wait for answers asks for /healthz, and so does each thread's first call: wrk calls
# request() once on its first thread to check the script, and sends nothing of that call.
QUOTA_LUA = r"""
local calls, sent, created = 0, 0, 0
local quota = %d
local make_pod = request
function request()
  calls = calls + 1
  if calls == 1 or sent >= quota then
    return wrk.format("GET", "/healthz", {["Authorization"] = wrk.headers["Authorization"]})
  end
  sent = sent + 1
  return make_pod()
end
function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif body ~= "ok" then
    sent = sent - 1
  end
  if created >= quota then wrk.thread:stop() end
end
"""


def create_pod_count(api, client, count, connections=64, threads=2, lua=POD_LUA):
    """Creates exactly `count` pods (a multiple of `threads`) with wrk; returns the create rate."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua + QUOTA_LUA % (count // threads))
        script = f.name
    try:
        before = created(client, "pods")
        token = getattr(api, "admin_token", None)
        auth = ["-H", f"Authorization: Bearer {token}"] if token else []
        t0 = time.monotonic()
        wrk = subprocess.Popen(["wrk", "-t", str(threads), "-c", str(connections), "-d", "600s", "-s", script, *auth, api.url],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: created(client, "pods") - before >= count, timeout=600, interval=0.05, what=f"{count} pod creates")
            elapsed = time.monotonic() - t0
        finally:
            wrk.send_signal(signal.SIGINT)  # its threads stopped at their quota; the main one sleeps out -d
            wrk.communicate(timeout=60)
    finally:
        os.unlink(script)
    return count / elapsed


def create_pods(url, token, seconds, connections=64, threads=2, lua=POD_LUA):
    """Creates pods with wrk for `seconds` as the holder of `token`; returns the rate wrk measured."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
        script = f.name
    try:
        auth = ["-H", f"Authorization: Bearer {token}"] if token else []  # none on plain HTTP
        out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", script, *auth, url],
                             capture_output=True, text=True, timeout=seconds + 120).stdout
    finally:
        os.unlink(script)
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if refused:  # a rate of refusals is no create rate
        raise RuntimeError(f"{refused.group(1)} pod creates were refused: {out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def create_nodes(client, n, threads=8, cpu="32", memory="128Gi"):
    """Posts n hollow Node objects (Ready, no heartbeats) named node-0 .. node-(n-1)."""
    def work(offset):
        for i in range(offset, n, threads):
            name = f"node-{i}"
            r = client.post("/api/v1/nodes", {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "zone": f"zone-{i % 10}"}},
                "status": {"capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
                           "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True"}]}})
            assert r.status == 201, r.body
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def created(client, resource):
    m = re.search(r'apiserver_request_total\{verb="create",resource="' + resource + r'",code="201"\} (\d+)',
                  client.get("/metrics").body)
    return int(m.group(1)) if m else 0


def bindings(client):
    return created(client, "pods/binding")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--inter-pod", action="store_true", help="anti-affinity and spread constraints on every pod")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pod-seconds", type=int, default=6, help="how long wrk creates pending pods")
    ap.add_argument("--pods", type=int, help="create exactly this many pending pods instead (rounded down to even)")
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--plain-http", action="store_true",
                    help="the apiserver on plain loopback HTTP without authentication, as trees before the Security work "
                         "ran: the scheduler's own throughput, for comparing with them")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.smoke:
        args.nodes, args.pod_seconds, args.replicas = 600, 1, 100
    rows = []
    with (ApiServer(extra_args=["--insecure-loopback-http"]) if args.plain_http else ApiServer(admin_token=True)) as api:
        c = api.client()
        c.post("/api/v1/namespaces", {"metadata": {"name": "bench"}})
        t0 = time.monotonic()
        create_nodes(c, args.nodes)
        t_nodes = time.monotonic() - t0
        lua = INTER_POD_LUA if args.inter_pod else POD_LUA
        if args.pods:
            create_rate = create_pod_count(api, c, args.pods - args.pods % 2, lua=lua)
        else:
            create_rate = create_pods(api.url, api.admin_token, args.pod_seconds, lua=lua)
        created_pods = created(c, "pods")
        # Simulated nodes send no heartbeats: keep the node lifecycle controller from marking them NotReady.
        cm = ControllerManager(api, ["--scheduler-workers", "32", "--node-monitor-grace-period-seconds", "86400"]).start()
        try:
            samples = []
            start = time.monotonic()
            deadline = start + 900
            while time.monotonic() < deadline:
                n = bindings(c)
                samples.append((time.monotonic(), n))
                if n >= created_pods:
                    break
                # Stalled for 10 s with pods left: they do not fit; report what was bound.
                recent = [x for t, x in samples if t > samples[-1][0] - 10]
                if samples[-1][0] - start > 30 and len(set(recent)) == 1:
                    print(f"warning: binding stalled at {n} of {created_pods}", file=sys.stderr)
                    break
                time.sleep(0.25)
            first = next((t for t, n in samples if n > 0), None)
            last_t, last_n = samples[-1]
            sched_rate = last_n / (last_t - first) if first and last_t > first else float("nan")
            kind = ", anti-affinity + spread" if args.inter_pod else ""
            rows.append((f"pods bound/s ({args.nodes} nodes, {created_pods} pods{kind})", sched_rate,
                         "apiserver durable pod creates/s, c=64", create_rate))
            rows.append(("  scheduler target", sched_rate, "1,620 pods/s (2x scheduler_perf at 5k nodes)", 1620.0))
            rows.append(("  time from start to all bound (s)", last_t - start, "pods bound", float(last_n)))
            # A Deployment of R replicas, create -> all pods bound.
            before = bindings(c)
            t0 = time.monotonic()
            c.post("/apis/apps/v1/namespaces/bench/deployments",
                   {"metadata": {"name": "big"}, "spec": {"replicas": args.replicas, "selector": {"matchLabels": {"app": "big"}},
                                                         "template": {"metadata": {"labels": {"app": "big"}},
                                                                      "spec": {"containers": [{"name": "c", "image": "host",
                                                                                               "resources": {"requests": {"cpu": "10m"}}}]}}}})
            # Pods of mixed sizes fill ~58 per node by CPU (32 cores): the nodes leave room for these.
            wait_for(lambda: bindings(c) - before >= args.replicas, timeout=120 if args.smoke else 600, interval=0.1,
                     what="the deployment's pods")
            t_dep = time.monotonic() - t0
            rows.append((f"Deployment of {args.replicas}: create -> all bound (s)", t_dep, "pods/s", args.replicas / t_dep))
        finally:
            cm.stop()
        rows.append((f"creating {args.nodes} nodes took (s)", t_nodes, "nodes", float(args.nodes)))
    bench_table.emit(rows, args.out)


if __name__ == "__main__":
    main()
