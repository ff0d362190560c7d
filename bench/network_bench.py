#!/usr/bin/python3
"""The pod network's benchmarks (issue Network: B1 the Service data path, B2 rule programming, B4 pod wiring, B5 cluster DNS),
each next to its reference in the same run (nft -f exec, ip execs, dnsmasq). The work happens in a
network namespace berth-network-bench makes for itself: nothing leaves it. --smoke: tiny sizes (CI)."""
import json
import os
import subprocess
import sys

BIN = os.environ.get("BERTH_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "bin"))


def run(mode, n, *extra):
    out = subprocess.run([os.path.join(BIN, "berth-network-bench"), mode, str(n), *map(str, extra)], check=True, capture_output=True,
                         text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    smoke = "--smoke" in sys.argv
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return
    path = run("path", 20, 1) if smoke else run("path", 1000, 5)
    rules = run("rules", 20 if smoke else 1000)
    pods = run("pods", 5 if smoke else 100)
    dns = run("dns", 20 if smoke else 1000)
    print(json.dumps({"path": path, "rules": rules, "pods": pods, "dns": dns}, indent=1))
    print(f"B1 new connections/s through a ClusterIP with {path['services']} Services: {path['cluster_ip_conn_per_s']:.0f}; "
          f"to the backend directly: {path['direct_conn_per_s']:.0f} (ratio {path['ratio']}, target >= 0.75)")
    print(f"B2 one Service change with {rules['services']} Services: p50 {rules['change_p50_ms']} ms, p99 "
          f"{rules['change_p99_ms']} ms (target p99 < 250 ms); nft -f exec of the same: p50 {rules['nft_exec_p50_ms']} ms")
    print(f"B4 pod network set-up taking a spare sandbox (the agent's default): p50 {pods['setup_spare_p50_ms']} ms, p99 "
          f"{pods['setup_spare_p99_ms']} ms (target <= 2 ms)")
    print(f"B4 pod network set-up from scratch p50 {pods['setup_p50_ms']} ms, set-up + teardown p50 "
          f"{pods['setup_teardown_p50_ms']} ms; with ip execs {pods['ip_exec_p50_ms']} ms (ratio {pods['ratio_ours_to_ip']})")
    print(f"B5 DNS with {dns['services']} Services: {dns['berth_qps']:.0f} q/s p99 {dns['berth_p99_ms']} ms; dnsmasq "
          f"{dns['dnsmasq_qps']:.0f} q/s p99 {dns['dnsmasq_p99_ms']} ms (ratio {dns['qps_ratio']})")


if __name__ == "__main__":
    main()
