#!/usr/bin/python3
"""B6 and B3 of the Network brief: the endpointslice controller under load, and the time until
every agent's Service rules hold each change.

berth-apiserver + berth-controller-manager; this script plays the kubelet of ten simulated
nodes (it writes each pod's Running/Ready status with its own IP, as an agent would).
1. Create: S Services (selector app=svc-i) and P pods each, then every pod's status. Measured:
   the time from the first write until every Service has one slice holding exactly its P ready
   pod IPs, the lag after the last pod write, and the slice writes (seen on a watch) per pod
   change. Each pod changes twice (create, then Ready with an IP); a controller that wrote once
   per change would make 2*S*P writes, so the reference is that count.
2. Churn: C pods are replaced, R per second (deleted, a new one created and made Ready with a
   new IP). The same figures; each replacement is three pod changes.
3. B3, with --agents A (root): A real agents, each with the pod network in a network namespace
   this script makes (and deletes), program the Services' rules through both phases. Their
   kubeproxy_network_programming_duration_seconds (the trigger time the controller stamps on a
   slice -> the agent's rules holding it, kube-proxy's method) over the churn: p50 and p99 as the
   histogram's bucket bounds, and the mean.
Usage: bench/endpointslice_bench.py [--smoke] [--services S] [--pods P] [--churn C] [--churn-rate R] [--agents A]
       [--out FILE]
"""
import argparse
import os
import re
import ssl
import subprocess
import sys
import urllib.request
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import bench_table  # noqa: E402
from berth_e2e import Agent, ApiServer, ControllerManager, node  # noqa: E402

NS = "default"
NODES = [f"slice-node-{i}" for i in range(10)]


class SliceWatch:
    """Keeps the endpointslices of the namespace, and counts the writes it sees."""

    def __init__(self, client):
        self.c = client
        self.slices = {}
        self.writes = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.stop = False
        rv = self.c.get(f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices").json()["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.thread.start()

    def _run(self, rv):
        while not self.stop:
            path = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices?resourceVersion={rv}&timeoutSeconds=30"
            for ev in self.c.watch(path, timeout=60):
                if ev["type"] == "BOOKMARK":
                    continue
                o = ev["object"]
                rv = o["metadata"]["resourceVersion"]
                with self.lock:
                    self.writes += 1
                    if ev["type"] == "DELETED":
                        self.slices.pop(o["metadata"]["name"], None)
                    else:
                        self.slices[o["metadata"]["name"]] = o
                    self.changed.notify_all()
                if self.stop:
                    return

    def ready_ips_by_service(self):
        out = {}
        for s in self.slices.values():
            svc = s["metadata"].get("labels", {}).get("kubernetes.io/service-name")
            ips = out.setdefault(svc, [])
            for e in s.get("endpoints") or []:
                if e.get("conditions", {}).get("ready"):
                    ips.extend(e.get("addresses", []))
        return out

    def wait_for(self, want, timeout):
        """Until the ready IPs per Service equal `want` ({service: set of IPs}); the time it held."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                got = self.ready_ips_by_service()
                if all(sorted(got.get(s, [])) == sorted(ips) for s, ips in want.items()):
                    return time.monotonic()
                left = deadline - time.monotonic()
                if left <= 0:
                    bad = [s for s, ips in want.items() if sorted(got.get(s, [])) != sorted(ips)]
                    raise AssertionError(f"{len(bad)} Services' slices still wrong, e.g. {bad[:3]}")
                self.changed.wait(left)


METRIC = "kubeproxy_network_programming_duration_seconds"


def programming_histogram(server, agent):
    """{bucket bound: cumulative count}, the sum and the count of the agent's histogram."""
    ctx = ssl._create_unverified_context()  # the agent's self-signed serving certificate
    ctx.load_cert_chain(*server.admin_cert)
    with urllib.request.urlopen(f"https://127.0.0.1:{agent.port}/metrics", context=ctx, timeout=10) as r:
        text = r.read().decode()
    buckets = {float(le): int(n) for le, n in re.findall(rf'^{METRIC}_bucket{{le="([^"]+)"}} (\d+)$', text, re.M)}
    total = float(re.findall(rf"^{METRIC}_sum (\S+)$", text, re.M)[0])
    count = int(re.findall(rf"^{METRIC}_count (\d+)$", text, re.M)[0])
    return buckets, total, count


def quantile_bound(buckets, q):
    """The smallest bucket bound holding fraction q of the observations (bucket deltas)."""
    total = buckets[float("inf")]
    for bound in sorted(buckets):
        if total and buckets[bound] >= q * total:
            return bound
    return float("nan")


class NodeNamespaces:
    """Network namespaces for the agents' pod networks, each with its own address on a wire."""

    def __init__(self):
        self.names = []

    def create(self, count):
        for i in range(count):
            ns = f"bsb{os.getpid() % 100000}-{i}"
            subprocess.run(["ip", "netns", "add", ns], check=True)
            self.names.append(ns)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            # No dummy links in this kernel: an empty bridge holds the node's address.
            subprocess.run(["ip", "-n", ns, "link", "add", "wire", "type", "bridge"], check=True)
            subprocess.run(["ip", "-n", ns, "addr", "add", f"172.31.0.{i + 1}/24", "dev", "wire"], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "wire", "up"], check=True)

    def cleanup(self):
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], check=False)


def ip_of(n):
    return f"10.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--pods", type=int, default=10)
    ap.add_argument("--churn", type=int, default=100)
    ap.add_argument("--agents", type=int, default=2)
    ap.add_argument("--churn-rate", type=float, default=20.0, help="pod replacements per second")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.smoke:
        args.services, args.pods, args.churn, args.agents, args.churn_rate = 5, 3, 5, 1, 50.0
    if os.geteuid() != 0:
        args.agents = 0  # no network namespaces without root: B6 only
    server = ApiServer().start()
    cm = None
    agents = []
    namespaces = NodeNamespaces()
    try:
        c = server.client()
        server.publish_namespace_defaults()
        for n in NODES:
            assert c.post("/api/v1/nodes", node(n)).status == 201
        cm = ControllerManager(server, ["--allocate-node-cidrs", "--scheduler=false"]).start()
        namespaces.create(args.agents)
        for i, ns in enumerate(namespaces.names):
            agents.append(Agent(server, f"slice-agent-{i}", extra_args=[
                "--pod-network", "bridge", "--node-netns", f"/run/netns/{ns}", "--pod-network-ip", f"172.31.0.{i + 1}",
                "--pod-network-spares", "0"]).start())
        watch = SliceWatch(c)
        pool = ThreadPoolExecutor(8)
        counter = iter(range(10**9))
        counter_lock = threading.Lock()

        def new_pod(svc, i):
            with counter_lock:
                n = next(counter)
            name = f"svc-{svc}-pod-{n}"
            pod = {"metadata": {"name": name, "labels": {"app": f"svc-{svc}"}},
                   "spec": {"nodeName": NODES[n % len(NODES)], "containers": [{"name": "c", "image": "host", "ports": [{"containerPort": 80}]}]}}
            r = c.post(f"/api/v1/namespaces/{NS}/pods", pod)
            assert r.status == 201, r.body
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            status = {"phase": "Running", "podIP": ip_of(n), "podIPs": [{"ip": ip_of(n)}], "hostIP": "192.0.2.1", "startTime": now,
                      "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                     for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                      "containerStatuses": [{"name": "c", "image": "host", "imageID": "", "ready": True, "restartCount": 0,
                                             "started": True, "state": {"running": {"startedAt": now}}}]}
            r = c.patch(f"/api/v1/namespaces/{NS}/pods/{name}/status", {"status": status})
            assert r.status == 200, r.body
            return svc, name, ip_of(n)

        rows = []
        # 1. Services, then their pods.
        t0 = time.monotonic()
        writes0 = watch.writes
        for s in range(args.services):
            svc = {"metadata": {"name": f"svc-{s}"},
                   "spec": {"selector": {"app": f"svc-{s}"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}
            assert c.post(f"/api/v1/namespaces/{NS}/services", svc).status == 201
        pods = list(pool.map(lambda a: new_pod(*a), [(s, i) for s in range(args.services) for i in range(args.pods)]))
        last_write = time.monotonic()
        want = {f"svc-{s}": [] for s in range(args.services)}
        for svc, _, ip in pods:
            want[f"svc-{svc}"].append(ip)
        done = watch.wait_for(want, 120)
        total = args.services * args.pods
        writes = watch.writes - writes0
        rows.append((f"create: {args.services} Services x {args.pods} pods, first write -> all slices right (s)", done - t0,
                     "the writes alone (s)", last_write - t0))
        rows.append(("create: last pod write -> all slices right (ms)", (done - last_write) * 1000, "kube-proxy minSyncPeriod (ms)", 1000.0))
        rows.append((f"create: slice writes ({total} pods x 2 changes)", float(writes), "one write per pod change", 2.0 * total))

        # 2. Churn: replace pods one by one, spread over the Services.
        by_name = {name: (svc, ip) for svc, name, ip in pods}
        victims = [pods[(i * 7919) % len(pods)][1] for i in range(args.churn)]
        victims = list(dict.fromkeys(victims))
        writes0 = watch.writes
        before = [programming_histogram(server, a) for a in agents]
        t0 = time.monotonic()

        def replace(item):
            i, name = item
            # Paced: a churn the machine keeps up with measures the pipeline, not a queue.
            delay = t0 + i / args.churn_rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            svc, ip = by_name[name]
            r = c.delete(f"/api/v1/namespaces/{NS}/pods/{name}", {"gracePeriodSeconds": 0})
            assert r.status == 200, r.body
            return ip, new_pod(svc, 0)

        for old_ip, (svc, name, ip) in pool.map(replace, enumerate(victims)):
            ips = want[f"svc-{svc}"]
            ips.remove(old_ip)
            ips.append(ip)
        last_write = time.monotonic()
        done = watch.wait_for(want, 120)
        writes = watch.writes - writes0
        rows.append((f"churn: {len(victims)} pods replaced at {args.churn_rate:.0f}/s, first write -> all slices right (s)", done - t0,
                     "the writes alone (s)", last_write - t0))
        rows.append(("churn: last pod write -> all slices right (ms)", (done - last_write) * 1000, "kube-proxy minSyncPeriod (ms)", 1000.0))
        rows.append((f"churn: slice writes ({len(victims)} replacements x 3 changes)", float(writes),
                     "one write per pod change", 3.0 * len(victims)))
        if agents:
            # Each slice change is measured once per agent, by the first sync after it (changes
            # to one slice between two syncs count once); wait until the counts stop growing.
            deadline = time.monotonic() + 60
            after, last = None, None
            while time.monotonic() < deadline:
                after = [programming_histogram(server, a) for a in agents]
                counts = [h[2] for h in after]
                if counts == last:
                    break
                last = counts
                time.sleep(0.5)
            deltas = {}
            total_sum, total_count = 0.0, 0
            for (b0, s0, n0), (b1, s1, n1) in zip(before, after):
                for bound, n in b1.items():
                    deltas[bound] = deltas.get(bound, 0) + n - b0.get(bound, 0)
                total_sum += s1 - s0
                total_count += n1 - n0
            p50, p99 = quantile_bound(deltas, 0.50) * 1000, quantile_bound(deltas, 0.99) * 1000
            mean = total_sum / total_count * 1000 if total_count else float("nan")
            rows.append((f"B3 churn: pod change -> rules on {len(agents)} agents, p50 bucket (ms)", p50,
                         "kube-proxy minSyncPeriod (ms)", 1000.0))
            rows.append((f"B3 churn: p99 bucket (ms), {total_count} slice changes programmed", p99,
                         "kube-proxy minSyncPeriod (ms)", 1000.0))
            rows.append(("B3 churn: mean (ms)", mean, "kube-proxy minSyncPeriod (ms)", 1000.0))
        watch.stop = True
        pool.shutdown()
    finally:
        for a in agents:
            a.cleanup()
        if cm:
            cm.stop()
        server.cleanup()
        namespaces.cleanup()
    bench_table.emit(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
