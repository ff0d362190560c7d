#!/usr/bin/python3
"""The pod network end to end (networking brief section 4): two simulated nodes, each a network
namespace this test creates and hands to its agent with --node-netns, joined by a veth "wire"
(172.30.0.1 <-> 172.30.0.2). Every packet stays inside namespaces the test made; they are
deleted at the end, and stale ones of an earlier run (bt*) at the start."""
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import Agent, ApiServer, ControllerManager, wait_for  # noqa: E402
from test_agent import SKIP  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
PY = "/usr/bin/python3"
TAG = f"bt{os.getpid() % 100000}"
NODES = {"net-a": ("172.30.0.1", f"{TAG}-a"), "net-b": ("172.30.0.2", f"{TAG}-b")}
# A name only the nodes' own nameserver knows, with an address from TEST-NET-2 (never contacted).
UPSTREAM_NAME, UPSTREAM_ADDRESS = "www.outside.example", "198.51.100.7"
# Answers every request with "<pod name> <client address>", and "ok" on /healthz.
SERVER = ("import http.server,os\n"
          "class H(http.server.BaseHTTPRequestHandler):\n"
          "  def do_GET(self):\n"
          "    b=(os.environ.get('POD','?')+' '+self.client_address[0]).encode()\n"
          "    self.send_response(200);self.send_header('Content-Length',str(len(b)));self.end_headers();self.wfile.write(b)\n"
          "  def log_message(self,*a): pass\n"
          "http.server.ThreadingHTTPServer(('0.0.0.0',8080),H).serve_forever()\n")
# N new connections to URL: prints {"<pod name>": count, ...} and the failures under "!".
COUNT = ("import sys,json,urllib.request,collections\n"
         "c=collections.Counter()\n"
         "for i in range(int(sys.argv[2])):\n"
         "  try: c[urllib.request.urlopen(sys.argv[1],timeout=3).read().decode().split()[0]]+=1\n"
         "  except Exception as e: c['!']+=1\n"
         "print(json.dumps(c))\n")
# Connects once to HOST PORT: prints "refused", "timeout" or "connected", and the seconds it took.
CONNECT = ("import socket,sys,time\n"
           "s=socket.socket();s.settimeout(2);t=time.monotonic()\n"
           "try:\n  s.connect((sys.argv[1],int(sys.argv[2])));r='connected'\n"
           "except socket.timeout: r='timeout'\n"
           "except ConnectionRefusedError: r='refused'\n"
           "except OSError as e: r=type(e).__name__\n"
           "print(r, round(time.monotonic()-t,3))\n")
# Serves like SERVER but ignores SIGTERM (a replica that keeps serving while it terminates).
STUBBORN = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + SERVER
# Fetches http://ADDR/ once and prints the body.
FETCH = "import sys,urllib.request;print(urllib.request.urlopen(sys.argv[1],timeout=5).read().decode())"


def run(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def delete_stale_namespaces():
    for line in run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("bt") and "-" in name:
            run("ip", "netns", "del", name, check=False)


def server_pod(name, node, labels=None, **spec):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web"}},
         "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1, "containers": [
             {"name": "web", "image": "host", "command": [PY, "-c", SERVER],
              "env": [{"name": "POD", "value": name},
                      {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
              "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}}]}}
    p["spec"].update(spec)
    return p


@unittest.skipIf(SKIP, SKIP)
class PodNetworkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        delete_stale_namespaces()
        cls.netns = []
        try:
            for _, (_, ns) in NODES.items():
                run("ip", "netns", "add", ns)
                cls.netns.append(ns)
                run("ip", "-n", ns, "link", "set", "lo", "up")
            a, b = NODES["net-a"][1], NODES["net-b"][1]
            run("ip", "-n", a, "link", "add", "wire", "type", "veth", "peer", "name", "wire", "netns", b)
            for node, (ip, ns) in NODES.items():
                run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "wire")
                run("ip", "-n", ns, "link", "set", "wire", "up")
            # The nodes' nameserver, for names outside the cluster: dnsmasq on net-a's wire address,
            # knowing one name. The agents' cluster DNS relays other names to what --resolv-conf names.
            cls.upstream_dir = tempfile.mkdtemp(prefix="berth-e2e-upstream-dns-")
            cls.resolv_conf = os.path.join(cls.upstream_dir, "resolv.conf")
            with open(cls.resolv_conf, "w") as f:
                f.write(f"search corp.example\nnameserver {NODES['net-a'][0]}\n")
            cls.upstream = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{NODES['net-a'][1]}", "dnsmasq", "--keep-in-foreground", "--no-resolv",
                 "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces", f"--listen-address={NODES['net-a'][0]}",
                 "--port=53", "--user=root", f"--pid-file={cls.upstream_dir}/dnsmasq.pid",
                 f"--host-record={UPSTREAM_NAME},{UPSTREAM_ADDRESS}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cls.server = ApiServer().start()
            cls.c = cls.server.client()
            cls.cm = ControllerManager(cls.server, ["--allocate-node-cidrs", "--scheduler=false"]).start()
            cls.agents = {}
            for node, (ip, ns) in NODES.items():
                cls.agents[node] = Agent(cls.server, node, extra_args=[
                    "--pod-network", "bridge", "--node-netns", f"/run/netns/{ns}", "--pod-network-ip", ip,
                    "--cluster-dns", "10.96.0.10", "--resolv-conf", cls.resolv_conf]).start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for name in ("agents",):
            for agent in getattr(cls, name, {}).values():
                agent.cleanup()
        if getattr(cls, "cm", None):
            cls.cm.stop()
        if getattr(cls, "server", None):
            cls.server.cleanup()
        if getattr(cls, "upstream", None):
            cls.upstream.kill()
            cls.upstream.wait()
        if getattr(cls, "upstream_dir", None):
            shutil.rmtree(cls.upstream_dir, ignore_errors=True)
        for ns in getattr(cls, "netns", []):
            run("ip", "netns", "del", ns, check=False)

    # -- helpers --
    def create(self, body):
        r = self.c.post(PODS, body)
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(lambda: self.c.delete(f"{PODS}/{body['metadata']['name']}"))
        return r.json()

    def pod(self, name):
        r = self.c.get(f"{PODS}/{name}")
        return r.json() if r.status == 200 else None

    def wait_ready(self, name, timeout=30):
        def ready():
            p = self.pod(name)
            conds = {c["type"]: c["status"] for c in (p or {}).get("status", {}).get("conditions", [])}
            return p if conds.get("Ready") == "True" else None
        return wait_for(ready, timeout=timeout, what=f"{name} Ready")

    def wait_gone(self, name, timeout=30):
        self.c.delete(f"{PODS}/{name}")
        wait_for(lambda: self.c.get(f"{PODS}/{name}").status == 404, timeout=timeout, what=f"{name} gone")

    def init_pid(self, name, node="net-a", container="web"):
        uid = self.pod(name)["metadata"]["uid"]
        return self.agents[node].checkpoints()[f"{uid}_{container}"]["pid"]

    def in_pod(self, name, *cmd, node="net-a", container="web"):
        return run("nsenter", "-t", str(self.init_pid(name, node, container)), "-n", *cmd, check=False)

    def in_node(self, node, *cmd):
        return run("ip", "netns", "exec", NODES[node][1], *cmd, check=False)

    def node_cidr(self, node):
        return wait_for(lambda: self.c.get(f"/api/v1/nodes/{node}").json().get("spec", {}).get("podCIDR"),
                        what=f"{node} podCIDR")

    def root(self, node):
        return self.agents[node].root_dir

    # -- scenarios --
    def test_01_pod_ips_probe_and_pod_to_pod(self):
        cidr_a = self.node_cidr("net-a")
        self.create(server_pod("ip-1", "net-a"))
        self.create(server_pod("ip-2", "net-a"))
        p1, p2 = self.wait_ready("ip-1"), self.wait_ready("ip-2")  # readiness dialled the pod IP
        ip1, ip2 = p1["status"]["podIP"], p2["status"]["podIP"]
        self.assertNotEqual(ip1, ip2)
        net = cidr_a.split("/")[0].rsplit(".", 1)[0]
        for ip in (ip1, ip2):
            self.assertTrue(ip.startswith(net + "."), (ip, cidr_a))
            self.assertNotEqual(ip, f"{net}.1")  # the gateway
            self.assertNotEqual(ip, f"{net}.0")
        self.assertEqual(p1["status"]["podIPs"], [{"ip": ip1}])
        self.assertEqual(p1["status"]["hostIP"], "127.0.0.1")
        with open(os.path.join(self.root("net-a"), "network", "ipam", ip1)) as f:
            self.assertEqual(f.read().strip(), p1["metadata"]["uid"])
        # Pod to pod: the server sees the client's own pod address (no NAT).
        out = self.in_pod("ip-1", PY, "-c", FETCH, f"http://{ip2}:8080/")
        self.assertEqual(out.stdout.strip(), f"ip-2 {ip1}", out.stderr)
        # The node reaches its pods.
        out = self.in_node("net-a", PY, "-c", FETCH, f"http://{ip1}:8080/")
        self.assertEqual(out.stdout.strip().split()[0], "ip-1", out.stderr)
        # Files the kubelet writes: the pod's own name in /etc/hosts.
        hosts = self.in_pod("ip-1", "nsenter", "-t", str(self.init_pid("ip-1")), "-m", "cat", "/etc/hosts").stdout
        self.assertIn(f"{ip1}\tip-1", hosts)

    def test_02_downward_api_pod_ip(self):
        self.create(server_pod("dw", "net-a"))
        p = self.wait_ready("dw")
        pid = self.init_pid("dw")
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        with open(f"/proc/{children[0]}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        self.assertIn(f"MY_IP={p['status']['podIP']}".encode(), environ)

    def test_03_two_nodes(self):
        cidr_a, cidr_b = self.node_cidr("net-a"), self.node_cidr("net-b")
        self.assertNotEqual(cidr_a, cidr_b)
        for c in (cidr_a, cidr_b):
            self.assertTrue(c.startswith("10.244.") and c.endswith("/24"), c)
        # Each node routes the other's pods via the other's wire address.
        wait_for(lambda: f"{cidr_b} via 172.30.0.2" in self.in_node("net-a", "ip", "route").stdout, what="route on A")
        wait_for(lambda: f"{cidr_a} via 172.30.0.1" in self.in_node("net-b", "ip", "route").stdout, what="route on B")
        self.create(server_pod("cross-a", "net-a"))
        self.create(server_pod("cross-b", "net-b"))
        a, b = self.wait_ready("cross-a"), self.wait_ready("cross-b")
        ip_a, ip_b = a["status"]["podIP"], b["status"]["podIP"]
        self.assertTrue(ip_b.startswith(cidr_b.rsplit(".", 1)[0] + "."))
        out = self.in_pod("cross-a", PY, "-c", FETCH, f"http://{ip_b}:8080/")
        self.assertEqual(out.stdout.strip(), f"cross-b {ip_a}", out.stderr)  # client address preserved

    def test_04_shared_namespace_host_network_and_isolated(self):
        two = server_pod("two", "net-a")
        two["spec"]["containers"].append({"name": "side", "image": "host", "command": ["/bin/sleep", "1000"]})
        self.create(two)
        self.wait_ready("two")
        out = self.in_pod("two", PY, "-c", FETCH, "http://127.0.0.1:8080/", container="side")
        self.assertEqual(out.stdout.strip(), "two 127.0.0.1", out.stderr)
        host = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hostnet"},
                "spec": {"nodeName": "net-a", "hostNetwork": True, "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "web", "image": "host", "command": ["/bin/sleep", "1000"]}]}}
        self.create(host)
        p = wait_for(lambda: (self.pod("hostnet") or {}).get("status", {}).get("phase") == "Running" and self.pod("hostnet"),
                     what="hostnet running")
        self.assertEqual(p["status"]["podIP"], "127.0.0.1")
        iso = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "iso", "annotations": {"berth.dev/network": "isolated"}},
               "spec": {"nodeName": "net-a", "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "web", "image": "host", "command": ["/bin/sleep", "1000"]}]}}
        self.create(iso)
        wait_for(lambda: (self.pod("iso") or {}).get("status", {}).get("phase") == "Running", what="iso running")
        links = self.in_pod("iso", "ip", "-o", "link").stdout
        self.assertEqual([line.split(":")[1].strip() for line in links.splitlines()], ["lo"])

    def test_05_teardown_round_robin_and_restart(self):
        self.create(server_pod("rr-1", "net-a"))
        ip1 = self.wait_ready("rr-1")["status"]["podIP"]
        self.wait_gone("rr-1")
        self.create(server_pod("rr-2", "net-a"))
        ip2 = self.wait_ready("rr-2")["status"]["podIP"]
        self.assertNotEqual(ip1, ip2)  # a freed address is not handed out again at once
        # kill -9 and restart: the pod keeps its address and keeps serving.
        agent = self.agents["net-a"]
        table = self.in_node("net-a", "nft", "list", "table", "ip", "berth").stdout
        agent.stop(signal.SIGKILL)
        agent.start()
        time.sleep(0.5)
        p = self.wait_ready("rr-2")
        self.assertEqual(p["status"]["podIP"], ip2)
        out = self.in_node("net-a", PY, "-c", FETCH, f"http://{ip2}:8080/")
        self.assertEqual(out.stdout.strip().split()[0], "rr-2", out.stderr)
        # The Service table after the restart is the one before it.
        self.assertEqual(self.in_node("net-a", "nft", "list", "table", "ip", "berth").stdout, table)

    def test_06_removing_a_node_removes_its_route(self):
        cidr_b = self.node_cidr("net-b")
        wait_for(lambda: f"{cidr_b} via" in self.in_node("net-a", "ip", "route").stdout, what="route to B")
        ghost = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ghost",
                                                                   "annotations": {"berth.dev/pod-network-ip": "172.30.0.9"}}}
        self.assertEqual(self.c.post("/api/v1/nodes", ghost).status, 201)
        cidr = self.node_cidr("ghost")
        wait_for(lambda: f"{cidr} via 172.30.0.9" in self.in_node("net-a", "ip", "route").stdout, what="route to ghost")
        self.c.delete("/api/v1/nodes/ghost")
        start = time.monotonic()
        wait_for(lambda: cidr not in self.in_node("net-a", "ip", "route").stdout, timeout=2, what="ghost route gone")
        self.assertLess(time.monotonic() - start, 2)
        # podCIDR is set once.
        node = self.c.get("/api/v1/nodes/net-b").json()
        node["spec"]["podCIDR"] = "10.244.200.0/24"
        node["spec"]["podCIDRs"] = ["10.244.200.0/24"]
        r = self.c.put("/api/v1/nodes/net-b", node)
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.podCIDR", r.body.decode() if isinstance(r.body, bytes) else r.body)

    def test_07_host_port_and_egress_policy(self):
        web = server_pod("hp", "net-a")
        web["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 18080}]
        self.create(web)
        self.wait_ready("hp")
        # From the other node, the node's address and the hostPort reach the pod.
        out = self.in_node("net-b", PY, "-c", FETCH, "http://172.30.0.1:18080/")
        self.assertEqual(out.stdout.strip().split()[0], "hp", out.stderr)
        # Egress beyond the cluster's ranges is dropped (--pod-egress=drop): a connection to the
        # other node's own address times out, where a packet that arrived would be refused.
        probe = ("import socket,sys\n"
                 "s=socket.socket();s.settimeout(1)\n"
                 "try:\n  s.connect(('172.30.0.2',9));print('connected')\n"
                 "except socket.timeout:print('timeout')\n"
                 "except ConnectionRefusedError:print('refused')\n")
        self.assertEqual(self.in_pod("hp", PY, "-c", probe).stdout.strip(), "timeout")
        # The same from the node itself is refused: only pods are held in.
        self.assertEqual(self.in_node("net-a", PY, "-c", probe).stdout.strip(), "refused")

    # -- Services --
    def service(self, name, selector, port=80, target=8080, **spec):
        body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": target}]}}
        body["spec"].update(spec)
        r = self.c.post("/api/v1/namespaces/default/services", body)
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def slice_endpoints(self, service):
        items = self.c.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector="
                           f"kubernetes.io/service-name%3D{service}").json()["items"]
        return [e for s in items for e in (s.get("endpoints") or [])]

    def wait_endpoints(self, service, n, timeout=10):
        return wait_for(lambda: len([e for e in self.slice_endpoints(service) if e["conditions"]["ready"]]) == n,
                        timeout=timeout, what=f"{n} ready endpoints of {service}")

    def count(self, where, url, n, node="net-a", client="client"):
        out = self.in_pod(client, PY, "-c", COUNT, url, str(n), node=node) if where == "pod" else \
            self.in_node(node, PY, "-c", COUNT, url, str(n))
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def client_pod(self, name="client", node="net-a", labels=None):
        """One client pod the Service tests share (test_99 removes it with the rest)."""
        if self.pod(name) is None:
            r = self.c.post(PODS, server_pod(name, node, labels=labels or {"app": "client"}))
            self.assertEqual(r.status, 201, r.body)
        return self.wait_ready(name)

    def test_10_cluster_ip_spreads_over_replicas(self):
        for i, node in enumerate(["net-a", "net-a", "net-b"]):
            self.create(server_pod(f"spread-{i}", node, labels={"app": "spread"}))
        svc = self.service("spread", {"app": "spread"})
        ip = svc["spec"]["clusterIP"]
        self.assertTrue(ip.startswith("10.") and svc["spec"]["clusterIPs"] == [ip])
        for i in range(3):
            self.wait_ready(f"spread-{i}")
        ready_at = time.monotonic()
        self.wait_endpoints("spread", 3, timeout=5)
        self.assertLess(time.monotonic() - ready_at, 5)
        self.client_pod()
        counts = wait_for(lambda: (lambda c: c if c.get("!", 0) == 0 and len(c) == 3 else None)(
            self.count("pod", f"http://{ip}/", 30)), what="the ClusterIP to answer from all replicas")
        counts = self.count("pod", f"http://{ip}/", 300)
        self.assertEqual(counts.get("!", 0), 0, counts)
        for i in range(3):
            self.assertGreaterEqual(counts.get(f"spread-{i}", 0), 50, counts)
        # From the node itself (the output path).
        node_counts = self.count("node", f"http://{ip}/", 30)
        self.assertEqual(sum(v for k, v in node_counts.items() if k != "!"), 30, node_counts)
        # 20 Services, 20 distinct addresses in the range.
        ips = {self.service(f"many-{i}", {"app": "nothing"})["spec"]["clusterIP"] for i in range(20)}
        self.assertEqual(len(ips), 20)
        self.assertTrue(all(a.startswith("10.") and 96 <= int(a.split(".")[1]) <= 111 for a in ips), ips)

    def test_09_service_bad_input_changes_nothing(self):
        def post(name, **spec):
            body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                    "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}], **spec}}
            return self.c.post("/api/v1/namespaces/default/services", body)

        def text(r):
            return r.body.decode() if isinstance(r.body, bytes) else r.body
        r = post("outside", clusterIP="10.200.0.1")
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.clusterIPs", text(r))
        self.assertIn("not in the valid range", text(r))
        r = post("badport", ports=[{"port": 70000}])
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.ports[0].port", text(r))
        taken = post("first", clusterIP="10.96.0.200")
        self.assertEqual(taken.status, 201, taken.body)
        r = post("second", clusterIP="10.96.0.200", type="NodePort", ports=[{"port": 80, "nodePort": 30999}])
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("provided IP is already allocated", text(r))
        # The refused create allocated nothing: its nodePort is still free.
        self.assertEqual(post("third", type="NodePort", ports=[{"port": 80, "nodePort": 30999}]).status, 201)
        # clusterIP is immutable.
        svc = self.c.get("/api/v1/namespaces/default/services/first").json()
        svc["spec"]["clusterIP"] = "10.96.0.201"
        svc["spec"]["clusterIPs"] = ["10.96.0.201"]
        r = self.c.put("/api/v1/namespaces/default/services/first", svc)
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.clusterIPs[0]", text(r))
        # Deleting frees the address at once.
        self.assertEqual(self.c.delete("/api/v1/namespaces/default/services/first").status, 200)
        self.assertEqual(post("fourth", clusterIP="10.96.0.200").status, 201)
        for name in ("third", "fourth"):
            self.c.delete(f"/api/v1/namespaces/default/services/{name}")

    def test_11_no_endpoints_are_refused_at_once(self):
        svc = self.service("empty", {"app": "nobody"})
        self.client_pod()
        wait_for(lambda: self.in_pod("client", PY, "-c", CONNECT, svc["spec"]["clusterIP"], "80").stdout.startswith("refused"),
                 what="the empty Service to refuse")
        verdict, seconds = self.in_pod("client", PY, "-c", CONNECT, svc["spec"]["clusterIP"], "80").stdout.split()
        self.assertEqual(verdict, "refused")
        self.assertLess(float(seconds), 0.1)
        verdict, seconds = self.in_pod("client", PY, "-c", CONNECT, "10.100.200.1", "80").stdout.split()
        self.assertEqual(verdict, "refused")  # an address no Service has
        self.assertLess(float(seconds), 0.1)

    def test_12_a_deleted_replica_leaves_the_endpoints(self):
        stubborn = server_pod("slow-0", "net-a", labels={"app": "slow"}, terminationGracePeriodSeconds=30)
        stubborn["spec"]["containers"][0]["command"] = [PY, "-c", STUBBORN]
        self.create(stubborn)
        self.create(server_pod("slow-1", "net-b", labels={"app": "slow"}))
        svc = self.service("slow", {"app": "slow"})
        self.wait_ready("slow-0")
        self.wait_ready("slow-1")
        self.wait_endpoints("slow", 2)
        self.client_pod()
        url = f"http://{svc['spec']['clusterIP']}/"
        wait_for(lambda: len(self.count("pod", url, 20)) == 2, what="both replicas answering")
        self.c.delete(f"{PODS}/slow-0")
        deleted = time.monotonic()

        def marked():
            for e in self.slice_endpoints("slow"):
                if e["targetRef"]["name"] == "slow-0":
                    return e["conditions"] == {"ready": False, "serving": True, "terminating": True}
            return False
        wait_for(marked, timeout=2, interval=0.01, what="slow-0 terminating in its slice")
        self.assertLess(time.monotonic() - deleted, 0.5)
        started = []

        def all_on_the_other():
            started.append(time.monotonic())
            return self.count("pod", url, 100) == {"slow-1": 100}
        wait_for(all_on_the_other, timeout=3, interval=0.01, what="all connections on slow-1")
        # The first batch of 100 that all went to slow-1 began within 1 s of the DELETE.
        self.assertLess(started[-1] - deleted, 1.0)
        self.c.delete(f"{PODS}/slow-0", {"gracePeriodSeconds": 0})
        # Each agent measured how long its rules took to hold each slice change (kube-proxy's
        # network programming latency), on its own port for an authorized caller.
        for node, agent in self.agents.items():
            text = self.agent_metrics(agent)
            counts = re.findall(r"^kubeproxy_network_programming_duration_seconds_count (\d+)$", text, re.M)
            self.assertTrue(counts and int(counts[0]) >= 1, f"{node}: {text}")
            # Pods arriving after the first few seconds found a spare sandbox ready (the default
            # --pod-network-spares=2), and the pool was refilled behind them.
            taken = re.findall(r"^berth_pod_network_spares_taken_total (\d+)$", text, re.M)
            self.assertTrue(taken and int(taken[0]) >= 1, f"{node}: {text}")
            wait_for(lambda: self.agent_metric(agent, "berth_pod_network_spares_ready") == 2,
                     what=f"{node}'s spare sandboxes to be refilled")

    def agent_metrics(self, agent):
        ctx = ssl._create_unverified_context()  # the agent's self-signed serving certificate
        ctx.load_cert_chain(*self.server.admin_cert)
        with urllib.request.urlopen(f"https://127.0.0.1:{agent.port}/metrics", context=ctx, timeout=10) as r:
            return r.read().decode()

    def agent_metric(self, agent, name):
        found = re.findall(rf"^{name} (\S+)$", self.agent_metrics(agent), re.M)
        return float(found[0]) if found else None

    def test_13_node_port(self):
        for i, node in enumerate(["net-a", "net-a", "net-b"]):
            self.create(server_pod(f"np-{i}", node, labels={"app": "np"}))
        svc = self.service("np", {"app": "np"}, type="NodePort")
        node_port = svc["spec"]["ports"][0]["nodePort"]
        self.assertTrue(30000 <= node_port <= 32767, node_port)
        r = self.c.post("/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "np-dup"},
            "spec": {"type": "NodePort", "selector": {"app": "np"}, "ports": [{"port": 80, "nodePort": node_port}]}})
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.ports[0].nodePort", r.body.decode() if isinstance(r.body, bytes) else r.body)
        for i in range(3):
            self.wait_ready(f"np-{i}")
        self.wait_endpoints("np", 3)
        # From outside node A (node B's namespace, over the wire) to node A's address.
        wait_for(lambda: self.count("node", f"http://172.30.0.1:{node_port}/", 3, node="net-b").get("!", 0) == 0,
                 what="the NodePort to answer")
        counts = self.count("node", f"http://172.30.0.1:{node_port}/", 60, node="net-b")
        self.assertEqual(counts.get("!", 0), 0, counts)
        for i in range(3):
            self.assertGreaterEqual(counts.get(f"np-{i}", 0), 5, counts)

    def test_14_session_affinity_and_hairpin(self):
        for i in range(3):
            self.create(server_pod(f"aff-{i}", "net-a", labels={"app": "aff"}))
        svc = self.service("aff", {"app": "aff"}, sessionAffinity="ClientIP")
        self.assertEqual(svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800)
        for i in range(3):
            self.wait_ready(f"aff-{i}")
        self.wait_endpoints("aff", 3)
        self.client_pod()
        url = f"http://{svc['spec']['clusterIP']}/"
        wait_for(lambda: self.count("pod", url, 1).get("!", 0) == 0, what="aff answering")
        counts = self.count("pod", url, 50)
        self.assertEqual(len(counts), 1, counts)  # one replica took them all
        # Hairpin: a pod reaching itself through a Service that selects only it.
        self.create(server_pod("self", "net-a", labels={"app": "self"}))
        me = self.service("self", {"app": "self"})
        self.wait_ready("self")
        self.wait_endpoints("self", 1)
        url = f"http://{me['spec']['clusterIP']}/"
        wait_for(lambda: self.count("pod", url, 1, client="self").get("self") == 1, what="hairpin answer")
        self.assertEqual(self.count("pod", url, 20, client="self"), {"self": 20})

    def in_pod_fs(self, name, *cmd, node="net-a", ns="default"):
        """Runs cmd in the pod's network and mount namespaces (its /etc/resolv.conf and hosts)."""
        uid = self.c.get(f"/api/v1/namespaces/{ns}/pods/{name}").json()["metadata"]["uid"]
        pid = self.agents[node].checkpoints()[f"{uid}_web"]["pid"]
        return run("nsenter", "-t", str(pid), "-n", "-m", *cmd, check=False)

    def test_15_cluster_dns(self):
        web = self.service("dnsweb", {"app": "dnsweb"})
        ip = web["spec"]["clusterIP"]
        self.client_pod()
        # A pod created after the Service has its variables, and the kubernetes Service's.
        self.create(server_pod("envy", "net-a", labels={"app": "envy"}))
        self.wait_ready("envy")
        pid = self.init_pid("envy")
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            child = f.read().split()[0]
        with open(f"/proc/{child}/environ", "rb") as f:
            environ = set(f.read().decode().split("\0"))
        for kv in (f"DNSWEB_SERVICE_HOST={ip}", "DNSWEB_SERVICE_PORT=80", "DNSWEB_SERVICE_PORT_HTTP=80",
                   f"DNSWEB_PORT=tcp://{ip}:80", f"DNSWEB_PORT_80_TCP_ADDR={ip}", "KUBERNETES_SERVICE_HOST=10.96.0.1",
                   "KUBERNETES_SERVICE_PORT=443"):
            self.assertIn(kv, environ)
        resolv = self.in_pod_fs("client", "cat", "/etc/resolv.conf").stdout
        self.assertEqual(resolv, "search default.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
                                 "nameserver 10.96.0.10\noptions ndots:5\n")  # then the node's (--resolv-conf) search
        for name in ("dnsweb", "dnsweb.default", "dnsweb.default.svc.cluster.local"):
            out = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(self.in_pod_fs("client", "getent", "ahostsv4", name)),
                           what=f"{name} to resolve")
            self.assertEqual(out.stdout.split()[0], ip, (name, out.stdout))
        # From another namespace, the short name is not found and the namespaced one is.
        self.assertIn(self.c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": "other"}}).status, (201, 409))
        r = self.c.post("/api/v1/namespaces/other/pods", server_pod("far", "net-a", labels={"app": "far"}))
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(lambda: self.c.delete("/api/v1/namespaces/other/pods/far"))
        wait_for(lambda: self.c.get("/api/v1/namespaces/other/pods/far").json().get("status", {}).get("podIP"), what="far's IP")
        wait_for(lambda: "far" in self.in_pod_fs("far", "cat", "/etc/hosts", ns="other").stdout, what="far running")
        self.assertEqual(self.in_pod_fs("far", "getent", "ahostsv4", "dnsweb", ns="other").returncode, 2)
        self.assertEqual(self.in_pod_fs("far", "getent", "ahostsv4", "dnsweb.default", ns="other").stdout.split()[0], ip)
        # Headless: the ready pods' addresses, following a scale-up within a second.
        for i in range(2):
            self.create(server_pod(f"db-{i}", "net-a", labels={"app": "db"}))
        self.service("db", {"app": "db"}, clusterIP="None")
        ips = {self.wait_ready(f"db-{i}")["status"]["podIP"] for i in range(2)}

        def resolved():
            out = self.in_pod_fs("client", "getent", "ahostsv4", "db.default.svc.cluster.local").stdout
            return {line.split()[0] for line in out.splitlines()}
        wait_for(lambda: resolved() == ips, what=f"db to resolve to {ips}")
        self.create(server_pod("db-2", "net-a", labels={"app": "db"}))
        ips.add(self.wait_ready("db-2")["status"]["podIP"])
        ready_at = time.monotonic()
        wait_for(lambda: resolved() == ips, timeout=5, interval=0.02, what="the third db address")
        self.assertLess(time.monotonic() - ready_at, 1.5)
        # SRV and PTR, asked with dig.
        srv = self.in_pod_fs("client", "dig", "+short", "SRV", "_http._tcp.dnsweb.default.svc.cluster.local").stdout.split()
        self.assertEqual(srv, ["0", "100", "80", "dnsweb.default.svc.cluster.local."])
        ptr = self.in_pod_fs("client", "dig", "+short", "-x", ip).stdout.strip()
        self.assertEqual(ptr, "dnsweb.default.svc.cluster.local.")
        start = time.monotonic()
        self.assertEqual(self.in_pod_fs("client", "getent", "ahostsv4", "nosuch").returncode, 2)
        self.assertLess(time.monotonic() - start, 1.0)
        # Names outside the cluster are relayed to the node's nameserver (--resolv-conf), over UDP
        # and TCP, from pods on both nodes (net-b's reaches net-a's nameserver over the wire).
        self.client_pod("far-client", node="net-b", labels={"app": "far-client"})
        for pod, node in (("client", "net-a"), ("far-client", "net-b")):
            out = self.in_pod_fs(pod, "getent", "ahostsv4", UPSTREAM_NAME, node=node)
            self.assertEqual(out.returncode, 0, (pod, out.stderr))
            self.assertEqual(out.stdout.split()[0], UPSTREAM_ADDRESS)
        tcp = self.in_pod_fs("client", "dig", "+tcp", "+short", UPSTREAM_NAME).stdout.split()
        self.assertEqual(tcp, [UPSTREAM_ADDRESS])
        self.assertEqual(self.in_pod_fs("client", "getent", "ahostsv4", "nosuch.outside.example").returncode, 2)
        # An ExternalName Service is a CNAME, and the reply carries the target's address too.
        r = self.c.post("/api/v1/namespaces/default/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "outside"},
            "spec": {"type": "ExternalName", "externalName": UPSTREAM_NAME}})
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(lambda: self.c.delete("/api/v1/namespaces/default/services/outside"))
        aliased = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
            self.in_pod_fs("client", "getent", "ahostsv4", "outside")), what="the ExternalName to resolve")
        self.assertEqual(aliased.stdout.split()[0], UPSTREAM_ADDRESS)
        chain = self.in_pod_fs("client", "dig", "+noall", "+answer", "outside.default.svc.cluster.local").stdout
        self.assertRegex(chain, rf"outside\.default\.svc\.cluster\.local\.\s+\d+\s+IN\s+CNAME\s+{re.escape(UPSTREAM_NAME)}\.")
        self.assertRegex(chain, rf"{re.escape(UPSTREAM_NAME)}\.\s+\d+\s+IN\s+A\s+{re.escape(UPSTREAM_ADDRESS)}")

    def policy(self, name, spec):
        r = self.c.post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
                        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec})
        self.assertEqual(r.status, 201, r.body)
        self.addCleanup(lambda: self.c.delete(f"/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/{name}"))
        return time.monotonic()

    def test_16_network_policy(self):
        self.create(server_pod("guarded", "net-a", labels={"app": "guarded"}))
        self.create(server_pod("front", "net-b", labels={"role": "frontend"}))
        self.create(server_pod("stranger", "net-a", labels={"role": "other"}))
        ip = self.wait_ready("guarded")["status"]["podIP"]
        self.wait_ready("front")
        self.wait_ready("stranger")

        def reach(client, node):
            return self.in_pod(client, PY, "-c", CONNECT, ip, "8080", node=node).stdout.split()[0]
        self.assertEqual(reach("front", "net-b"), "connected")
        self.assertEqual(reach("stranger", "net-a"), "connected")
        # Default deny: a policy selecting the pod with no ingress rule.
        made = self.policy("deny-guarded", {"podSelector": {"matchLabels": {"app": "guarded"}}, "policyTypes": ["Ingress"]})
        wait_for(lambda: reach("stranger", "net-a") == "timeout", timeout=5, interval=0.05, what="stranger blocked")
        self.assertLess(time.monotonic() - made, 1.0 + 2.0)  # the probe itself waits 2 s for a blocked connection
        self.assertEqual(reach("front", "net-b"), "timeout")
        # The node itself still reaches the pod (its probes keep it Ready).
        out = self.in_node("net-a", PY, "-c", FETCH, f"http://{ip}:8080/")
        self.assertEqual(out.stdout.split()[0], "guarded", out.stderr)
        # An allow rule by label opens exactly that path, across nodes.
        made = self.policy("allow-front", {"podSelector": {"matchLabels": {"app": "guarded"}},
                                           "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}],
                                                        "ports": [{"port": 8080}]}]})
        wait_for(lambda: reach("front", "net-b") == "connected", timeout=1, interval=0.02, what="front allowed within 1 s")
        self.assertLess(time.monotonic() - made, 1.0)
        self.assertEqual(reach("stranger", "net-a"), "timeout")
        # Relabelling the stranger as a frontend lets it in too (pods are followed, not only policies).
        self.assertEqual(self.c.patch(f"{PODS}/stranger", {"metadata": {"labels": {"role": "frontend"}}}).status, 200)
        wait_for(lambda: reach("stranger", "net-a") == "connected", timeout=3, interval=0.05, what="relabelled stranger allowed")
        # Bad input: an except outside its cidr is refused, naming the field.
        r = self.c.post("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
                        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bad"},
                         "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/8"]}}]}]}})
        self.assertEqual(r.status, 422, r.body)
        self.assertIn("spec.ingress[0].from[0].ipBlock.except[0]", r.body.decode() if isinstance(r.body, bytes) else r.body)

    def test_99_nothing_left_after_all_pods_go(self):
        for p in self.c.get("/api/v1/pods").json()["items"]:
            self.c.delete(f"/api/v1/namespaces/{p['metadata']['namespace']}/pods/{p['metadata']['name']}")
        wait_for(lambda: not self.c.get("/api/v1/pods").json()["items"], timeout=60, what="all pods gone")
        for node in NODES:
            # A pod force-deleted while its stop runs (test_12) is torn down when its grace period ends.
            # What stays on the bridge is the agent's two spare sandboxes (--pod-network-spares), no pod's veth.
            def bridge_ports():
                out = self.in_node(node, "ip", "-o", "link", "show", "master", "berth0").stdout
                return sorted(re.findall(r"^\d+: ([^:@]+)", out, re.M))
            wait_for(lambda: [p[:3] for p in bridge_ports()] == ["bsp", "bsp"],
                     timeout=45, what=f"no pod's veth left on {node}'s bridge, only its spares")
            self.assertEqual(sorted(os.listdir(os.path.join(self.root(node), "netns-spares"))), bridge_ports())
            wait_for(lambda: not os.listdir(os.path.join(self.root(node), "netns")), what=f"{node} netns dir empty")
            ipam = [f for f in os.listdir(os.path.join(self.root(node), "network", "ipam"))
                    if f[0].isdigit()]
            self.assertEqual(ipam, [], node)
            # Every table change of the run applied as computed: no incremental Service sync
            # had to fall back to a full one, and no table was refused.
            with open(os.path.join(self.root(node), "agent.stderr")) as f:
                log = f.read()
            for failure in ("Incremental Service sync failed", "Cannot program"):
                self.assertNotIn(failure, log, node)


if __name__ == "__main__":
    unittest.main(verbosity=2)
