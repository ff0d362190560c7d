#!/usr/bin/python3
"""Exec round trip with references measured in the same run.

Starts a whole cluster (`cli/berth up`), runs a pod, then times, alternating so that machine
noise hits both alike:
  * `kubectl exec POD -- true` (kubectl 1.32: process start, GET of the pod, WebSocket v5 upgrade
    relayed by the apiserver to the agent, the command in the container's namespaces and cgroups);
  * `nsenter -t PID -a true` on the same container (the floor: entering the namespaces and
    running the command, nothing else);
  * the same exec as one WebSocket round trip from an already started client (Python
    websocket-client against the apiserver), which leaves out kubectl's own start-up;
  * `kubectl get pod POD`: what kubectl's start-up and one request cost on their own.
Prints p50 of each with ratios. `--smoke` runs a few rounds.
Usage: bench/exec_bench.py [--smoke] [--rounds N] [--out FILE]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import bench_table  # noqa: E402
from berth_e2e import BerthUp, wait_for  # noqa: E402

POD = """apiVersion: v1
kind: Pod
metadata: {name: exec-bench}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: host, command: ["sleep", "3607"]}
"""


def websocket_exec(cluster):
    """One exec of `true` over a fresh WebSocket (TLS, the admin's client certificate): connect,
    upgrade, read until the status."""
    import websocket
    cert, key = cluster.admin_cert
    ws = websocket.create_connection(cluster.url.replace("https://", "wss://") +
                                     "/api/v1/namespaces/default/pods/exec-bench/exec?command=true&stdout=true&stderr=true",
                                     subprotocols=["v5.channel.k8s.io"],
                                     sslopt={"ca_certs": cluster.ca_file, "certfile": cert, "keyfile": key})
    status = b""
    try:
        while True:
            op, data = ws.recv_data()
            if data[:1] == b"\x03":
                status = data[1:]
                break
    finally:
        ws.close()
    if b"Success" not in status:
        raise RuntimeError(f"exec failed: {status!r}")


def timed(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def p50(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--out")
    args = ap.parse_args()
    rounds = 3 if args.smoke else args.rounds
    cluster = BerthUp(node_name="exec-bench-node").start()
    kubectl = cluster.kubectl()
    try:
        kubectl.run("apply", "-f", "-", stdin=POD)
        wait_for(lambda: kubectl.run("get", "pod", "exec-bench", "-o", "jsonpath={.status.phase}").stdout == "Running",
                 timeout=60, what="the pod to run")
        pid = int(subprocess.run(["pgrep", "-fx", "sleep 3607"], capture_output=True, text=True).stdout.split()[0])
        kubectl_ms, nsenter_ms, ws_ms, get_ms = [], [], [], []
        kubectl.run("exec", "exec-bench", "--", "true")  # kubectl's discovery cache, warmed once
        for _ in range(rounds):
            kubectl_ms.append(timed(lambda: kubectl.run("exec", "exec-bench", "--", "true")))
            nsenter_ms.append(timed(lambda: subprocess.run(["nsenter", "-t", str(pid), "-a", "true"], check=True)))
            ws_ms.append(timed(lambda: websocket_exec(cluster)))
            get_ms.append(timed(lambda: kubectl.run("get", "pod", "exec-bench", "-o", "name")))
        rows = [
            ("kubectl exec pod -- true, p50 ms", p50(kubectl_ms), "nsenter -t PID -a true, p50 ms", p50(nsenter_ms)),
            ("exec over one WebSocket (no kubectl start), p50 ms", p50(ws_ms), "nsenter -t PID -a true, p50 ms",
             p50(nsenter_ms)),
            ("kubectl exec pod -- true, p50 ms", p50(kubectl_ms), "kubectl get pod (start-up + one GET), p50 ms",
             p50(get_ms)),
        ]
    finally:
        cluster.stop()
        kubectl.cleanup()
    bench_table.emit(rows, args.out)


if __name__ == "__main__":
    main()
