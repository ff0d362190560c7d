#!/usr/bin/python3
"""A clean stop: Ctrl-C (SIGINT) on `berth up` with 50 running pods stops the agent first (every
container concurrently, within its grace period, nothing restarted), then the controller-manager,
then the apiserver; the prompt returns within the longest grace period plus 5 s, and no container
process, cgroup or mount is left. That run has the pod network on (berth up --pod-network bridge,
in a namespace of the test's own): every pod has its own address from the node's podCIDR, and
the stop leaves none of the pods' namespaces or links. After a kill -9 of everything, `berth up`
again brings every pod back without duplicates."""
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import BerthUp, agent_checkpoints, own_cgroup_dirs, wait_for  # noqa: E402

SKIP = None if os.geteuid() == 0 else "the agent needs root (namespaces, cgroups)"
REPLICAS = 50
GRACE = 5  # seconds; the stubborn pods ignore SIGTERM and need all of it
NODE = "clean-stop-node"


def deployment(name, replicas, command):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"terminationGracePeriodSeconds": GRACE,
                                           "containers": [{"name": "c", "image": "host", "command": command}]}}}}


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@unittest.skipIf(SKIP, SKIP)
class CleanStopTest(unittest.TestCase):
    def setUp(self):
        with_network = self._testMethodName == "test_ctrl_c_stops_everything_in_order_and_leaves_nothing"
        self.cluster = BerthUp(node_name=NODE, pod_network=with_network).start()
        self.agent_root = os.path.join(self.cluster.data_dir, "agent")

    def tearDown(self):
        self.cluster.stop()

    def running_pods(self):
        items = self.cluster.client().get("/api/v1/namespaces/default/pods").json()["items"]
        return [p for p in items if p.get("status", {}).get("phase") == "Running"
                and all(cs.get("ready") for cs in p["status"].get("containerStatuses", []))]

    def running_containers(self):
        return {cid: cp for cid, cp in agent_checkpoints(self.agent_root).items()
                if cp.get("state") == "running" and cp.get("pid") and alive(cp["pid"])}

    def start_pods(self):
        c = self.cluster.client()
        self.assertEqual(c.post("/apis/apps/v1/namespaces/default/deployments",
                                deployment("sleepers", REPLICAS - 2, ["sleep", "3600"])).status, 201)
        # Two that ignore SIGTERM: the stop must SIGKILL them when their grace period ends.
        self.assertEqual(c.post("/apis/apps/v1/namespaces/default/deployments",
                                deployment("stubborn", 2, ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"])).status,
                         201)
        wait_for(lambda: len(self.running_pods()) == REPLICAS, timeout=120, interval=0.5,
                 what=f"{REPLICAS} pods running")

    def node_links(self):
        out = subprocess.run(["ip", "-n", self.cluster.netns, "-j", "link", "show"], capture_output=True, text=True, check=True)
        return [link["ifname"] for link in json.loads(out.stdout)]

    def test_ctrl_c_stops_everything_in_order_and_leaves_nothing(self):
        self.start_pods()
        containers = self.running_containers()
        self.assertEqual(len(containers), REPLICAS)
        node = self.cluster.client().get(f"/api/v1/nodes/{NODE}").json()
        cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
        ips = [p["status"]["podIP"] for p in self.running_pods()]
        self.assertEqual(len(set(ips)), REPLICAS, ips)
        self.assertTrue(all(ipaddress.ip_address(ip) in cidr for ip in ips), (cidr, ips))
        self.assertTrue(any(name.startswith("veth") for name in self.node_links()))
        started = time.monotonic()
        self.cluster.proc.send_signal(signal.SIGINT)
        self.cluster.proc.wait(GRACE + 30)
        took = time.monotonic() - started
        print(f"stop took {took:.1f} s", file=sys.stderr)
        self.assertLessEqual(took, GRACE + 5, f"the stop took {took:.1f} s")
        self.assertEqual(self.cluster.proc.returncode, 0)
        with open(os.path.join(self.cluster.data_dir, "berth-up.out")) as f:
            out = f.read()
        order = [out.find(f"berth: stopping {c}") for c in ("agent", "controller-manager", "apiserver")]
        self.assertTrue(all(i >= 0 for i in order) and order == sorted(order), out[-2000:])
        for binary in ("berth-agent", "berth-controller-manager", "berth-apiserver"):
            self.assertIsNone(self.cluster.component_pid(binary), f"{binary} still runs")
        left = [cid for cid, cp in containers.items() if alive(cp["pid"])]
        self.assertEqual(left, [], "container processes left running")
        for d in own_cgroup_dirs(f"berth-agent-{NODE}"):
            subdirs = [x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x))] if os.path.isdir(d) else []
            self.assertEqual(subdirs, [], f"cgroups left in {d}")
        with open("/proc/self/mountinfo") as f:
            mounts = [line for line in f if self.cluster.data_dir in line]
        self.assertEqual(mounts, [], "mounts left")
        # The pods' veths and the spare sandboxes went with them: the bridge is what stays.
        self.assertEqual([n for n in self.node_links() if n.startswith(("veth", "bsp"))], [])
        # Nothing restarted while stopping: every checkpoint is of the one run it had.
        runs = {cid: cp.get("runs") for cid, cp in agent_checkpoints(self.agent_root).items()}
        self.assertTrue(all(r == 1 for r in runs.values()), runs)

    def test_after_kill_9_of_everything_berth_up_brings_every_pod_back(self):
        self.start_pods()
        before = set(self.running_containers())
        for binary in ("berth-agent", "berth-controller-manager", "berth-apiserver"):
            os.kill(self.cluster.component_pid(binary), signal.SIGKILL)
        self.cluster.proc.kill()
        self.cluster.proc.wait()
        self.cluster.out.close()
        # The containers outlive their agent (as in Mesos); the new one re-adopts them.
        self.cluster.start()
        wait_for(lambda: len(self.running_pods()) == REPLICAS, timeout=120, interval=0.5,
                 what=f"{REPLICAS} pods running again")
        wait_for(lambda: set(self.running_containers()) == before, timeout=30, interval=0.5,
                 what="the same containers, re-adopted and none added")
        pods = self.cluster.client().get("/api/v1/namespaces/default/pods").json()["items"]
        self.assertEqual(len(pods), REPLICAS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
