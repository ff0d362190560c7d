#!/usr/bin/python3
"""A clean stop: Ctrl-C (SIGINT) on `berth up` with 50 running pods stops the agent first (every
container concurrently, within its grace period, nothing restarted), then the controller-manager,
then the apiserver; the prompt returns within the longest grace period plus 5 s, and no container
process, cgroup or mount is left. That run has the pod network on (berth up's default, in a
namespace of the test's own): every pod has its own address from the node's podCIDR, and
the stop leaves none of the pods' namespaces or links. After a kill -9 of everything, `berth up`
again brings every pod back without duplicates."""
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import (BIN_DIR, BerthUp, agent_checkpoints, cleanup_agent_leftovers, own_cgroup_dirs,  # noqa: E402
                        stop_supervisor, wait_for)

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


@unittest.skipIf(SKIP, SKIP)
class TheReadmesBerthUpTest(unittest.TestCase):
    """`berth up` with no network flags, as the README's first command runs it, on a "machine"
    that is a network namespace of the test's own: its one interface and default route lead to a
    second namespace (the "router"), and nothing leaves the two. The pod network is on; the
    apiserver advertises the default route's interface address, and a pod reaches the API through
    the kubernetes Service with its ServiceAccount token, and finds it by its DNS name."""
    NODE = "readme-node"
    MACHINE_ADDRESS = "198.18.255.253"  # RFC 2544's benchmarking range, routed nowhere

    def setUp(self):
        tag = os.getpid() % 100000
        self.machine, self.router = f"bmm{tag}", f"bmr{tag}"
        self.data_dir = tempfile.mkdtemp(prefix="berth-up-readme-")
        self.home = tempfile.mkdtemp(prefix="berth-kubectl-home-")
        self.proc = None
        self.out = None
        self.addCleanup(self.clean_up)  # also when the set-up fails half-way
        for cmd in (["ip", "netns", "add", self.machine], ["ip", "netns", "add", self.router],
                    ["ip", "-n", self.machine, "link", "set", "lo", "up"],
                    ["ip", "-n", self.machine, "link", "add", "uplink", "type", "veth", "peer", "name", "wan",
                     "netns", self.router],
                    ["ip", "-n", self.machine, "addr", "add", f"{self.MACHINE_ADDRESS}/30", "dev", "uplink"],
                    ["ip", "-n", self.machine, "link", "set", "uplink", "up"],
                    ["ip", "-n", self.router, "addr", "add", "198.18.255.254/30", "dev", "wan"],
                    ["ip", "-n", self.router, "link", "set", "wan", "up"],
                    ["ip", "-n", self.machine, "route", "add", "default", "via", "198.18.255.254"]):
            subprocess.run(cmd, check=True, capture_output=True)
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli", "berth")
        self.out = open(os.path.join(self.data_dir, "berth-up.out"), "ab")
        # nsenter, not `ip netns exec`: that remounts /sys, and the agent needs the machine's cgroups.
        self.proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.machine}", "bash", script, "up", "--data-dir",
                                      self.data_dir, "--node-name", self.NODE], stdout=self.out, stderr=self.out,
                                     env=dict(os.environ, BERTH_BIN=BIN_DIR))

    def clean_up(self):
        stop_supervisor(self.proc)
        subprocess.run(["pkill", "-KILL", "-f", f"berth-.* .*{self.data_dir}/"], capture_output=True)
        if self.out:
            self.out.close()
        cleanup_agent_leftovers(os.path.join(self.data_dir, "agent"), self.NODE)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        for ns in (self.machine, self.router):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def kubectl(self, *args, stdin=None, check=True):
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.machine}", "kubectl", "--kubeconfig",
                               os.path.join(self.data_dir, "kubeconfig"), *args], input=stdin, capture_output=True,
                              text=True, timeout=60, check=check, env=dict(os.environ, HOME=self.home))

    def test_a_pod_reaches_the_api_through_the_kubernetes_service(self):
        wait_for(lambda: self.kubectl("get", "node", self.NODE, "-o",
                                      "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False).stdout == "True",
                 timeout=60, what="berth up: the node to be Ready")
        # Nodes joined later route this node's pods through the same address.
        self.assertEqual(self.kubectl("get", "node", self.NODE, "-o",
                                      "jsonpath={.metadata.annotations.berth\\.dev/pod-network-ip}").stdout, self.MACHINE_ADDRESS)
        slice_ = json.loads(self.kubectl("get", "endpointslice", "kubernetes", "-o", "json").stdout)
        self.assertEqual([e["addresses"] for e in slice_["endpoints"]], [[self.MACHINE_ADDRESS]])
        self.kubectl("label", "namespace", "default", "pod-security.kubernetes.io/enforce=privileged")
        script = ("D=/var/run/secrets/kubernetes.io/serviceaccount; ip -4 -o addr show eth0; "
                  "curl -sS --cacert $D/ca.crt -H \"Authorization: Bearer $(cat $D/token)\" "
                  "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api; echo; "
                  "getent hosts kubernetes.default")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "incluster"},
               "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "host", "command": ["sh", "-c", script]}]}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
        wait_for(lambda: self.kubectl("get", "pod", "incluster", "-o", "jsonpath={.status.phase}").stdout in ("Succeeded", "Failed"),
                 timeout=60, what="the in-cluster pod to finish")
        logs = self.kubectl("logs", "incluster").stdout
        self.assertEqual(self.kubectl("get", "pod", "incluster", "-o", "jsonpath={.status.phase}").stdout, "Succeeded", logs)
        cidr = ipaddress.ip_network(self.kubectl("get", "node", self.NODE, "-o", "jsonpath={.spec.podCIDR}").stdout)
        pod_ip = self.kubectl("get", "pod", "incluster", "-o", "jsonpath={.status.podIP}").stdout
        self.assertIn(ipaddress.ip_address(pod_ip), cidr)
        self.assertIn(f"inet {pod_ip}/{cidr.prefixlen}", logs)
        api = json.loads(logs.splitlines()[1])
        self.assertEqual(api["kind"], "APIVersions")
        self.assertEqual(api["serverAddressByClientCIDRs"][0]["serverAddress"], f"{self.MACHINE_ADDRESS}:6443")
        self.assertRegex(logs, r"10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local")


if __name__ == "__main__":
    unittest.main(verbosity=2)
