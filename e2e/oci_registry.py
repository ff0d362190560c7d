"""A real OCI registry on loopback for the image tests: Debian's docker-registry started on an
ephemeral port (plain, or with htpasswd basic auth), and images built here from Debian's
busybox-static (OCI layers, a whiteout, a config with Entrypoint, Cmd, Env, WorkingDir and User)
pushed through the registry's HTTP API, as `docker push` would."""
import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from berth_e2e import free_port, wait_for

BUSYBOX = "/bin/busybox"
APPLETS = ["sh", "cat", "echo", "id", "ls", "pwd", "sleep", "touch", "test", "env", "grep", "head", "wc", "tr", "[", "true",
           "mkdir", "rm", "sed", "stat"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_layer(entries):
    """entries: list of (name, kind, payload): kind "file" (bytes), "dir", "symlink" (target),
    "hostfile" (a host path copied in, mode kept). Deterministic: fixed times and owners."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
                tar.addfile(info)
            else:
                if kind == "file":
                    data = payload
                else:
                    with open(payload, "rb") as f:
                        data = f.read()
                info.size = len(data)
                info.mode = 0o755 if kind == "hostfile" else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_layers(marker="base"):
    """Two layers: busybox with its applets, /etc/passwd and a file the second layer whites out;
    then the whiteout and /app/hello.txt."""
    base = [("bin", "dir", None), ("bin/busybox", "hostfile", BUSYBOX), ("etc", "dir", None), ("tmp", "dir", None),
            ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/app:/bin/sh\n"),
            ("etc/group", "file", b"root:x:0:\napp:x:1000:\n"),
            ("etc/removed-later", "file", b"lower\n"), ("etc/marker", "file", (marker + "\n").encode())]
    base += [(f"bin/{a}", "symlink", "busybox") for a in APPLETS]
    top = [("etc", "dir", None), ("etc/.wh.removed-later", "file", b""), ("app", "dir", None),
           ("app/hello.txt", "file", b"hello from the image\n")]
    return [tar_layer(base), tar_layer(top)]


class Image:
    """An image as blobs: its layers (gzip), its config and its manifest."""

    def __init__(self, layers_tar, entrypoint=None, cmd=None, env=None, workdir="", user=""):
        self.layers = [gzip.compress(t, mtime=0) for t in layers_tar]
        config = {"architecture": "amd64", "os": "linux",
                  "config": {"Env": env or ["PATH=/bin"], "WorkingDir": workdir, "User": user},
                  "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in layers_tar]}}
        if entrypoint is not None:
            config["config"]["Entrypoint"] = entrypoint
        if cmd is not None:
            config["config"]["Cmd"] = cmd
        self.config = json.dumps(config).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256(self.config), "size": len(self.config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256(l), "size": len(l)} for l in self.layers]}).encode()
        self.digest = sha256(self.manifest)
        self.id = sha256(self.config)

    def blobs(self):
        return [self.config] + self.layers


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """The registry's token service (Docker's token authentication): GET /token?scope=&service=
    with basic credentials answers {"token": <RS256 JWT>} naming the granted access. Keys and
    signatures by the openssl command line; the key ID is libtrust's, which the registry uses to
    find the key in its rootcertbundle."""

    SERVICE = "berth-e2e-registry"
    ISSUER = "berth-e2e-issuer"

    def __init__(self, workdir, user, password):
        self.key = os.path.join(workdir, "token.key")
        self.cert = os.path.join(workdir, "token.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
                        "-days", "2", "-subj", "/CN=berth-e2e-token"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", self.key, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
        self.kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
        self.user, self.password = user, password
        self.port = free_port()
        self.requests = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                issuer.requests.append(query)
                expected = "Basic " + base64.b64encode(f"{issuer.user}:{issuer.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": issuer.token(query.get("scope", [""])[0])}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def realm(self):
        return f"http://127.0.0.1:{self.port}/token"

    def token(self, scope):
        access = []
        if scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {"iss": self.ISSUER, "sub": self.user, "aud": self.SERVICE, "exp": now + 300, "nbf": now - 10, "iat": now,
                  "jti": f"{now}-{len(self.requests)}", "access": access}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input.encode(),
                                   check=True, capture_output=True).stdout
        return f"{signing_input}.{b64url(signature)}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Registry:
    def __init__(self, auth=None, token=False):
        self.dir = tempfile.mkdtemp(prefix="berth-e2e-registry-")
        self.port = free_port()
        self.auth = auth  # None, or (user, password): htpasswd basic auth, or the token service's
        self.issuer = TokenIssuer(self.dir, *auth) if token else None
        self.proc = None

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        config = {"version": 0.1, "log": {"level": "warn"},
                  "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "data")}, "delete": {"enabled": True}},
                  "http": {"addr": self.host}}
        if self.issuer:
            config["auth"] = {"token": {"realm": self.issuer.realm, "service": TokenIssuer.SERVICE,
                                        "issuer": TokenIssuer.ISSUER, "rootcertbundle": self.issuer.cert}}
        elif self.auth:
            htpasswd = subprocess.run(["htpasswd", "-Bbn", *self.auth], capture_output=True, text=True, check=True).stdout
            with open(os.path.join(self.dir, "htpasswd"), "w") as f:
                f.write(htpasswd)
            config["auth"] = {"htpasswd": {"realm": "berth-e2e", "path": os.path.join(self.dir, "htpasswd")}}
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            json.dump(config, f)  # JSON is YAML
        log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", path], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: self._up(), timeout=20, interval=0.1, what="docker-registry to listen")
        return self

    def _up(self):
        try:
            return self.request("GET", "/v2/")[0] in (200, 401)
        except OSError:
            return False

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if self.issuer and path.startswith("/v2/") and path.count("/") > 2:
            repo = path[4:].split("/blobs/")[0].split("/manifests/")[0]
            h["Authorization"] = "Bearer " + self.issuer.token(f"repository:{repo}:pull,push")
        elif self.auth and not self.issuer:
            h["Authorization"] = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict(r.getheaders()), data

    def push_blob(self, repo, data):
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        location = headers["Location"]
        if location.startswith("http"):
            location = "/" + location.split("/", 3)[3]
        sep = "&" if "?" in location else "?"
        status, _, body = self.request("PUT", f"{location}{sep}digest={sha256(data)}", body=data,
                                       headers={"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)

    def push(self, repo, tag, image):
        for blob in image.blobs():
            self.push_blob(repo, blob)
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", body=image.manifest,
                                       headers={"Content-Type": OCI_MANIFEST})
        assert status == 201, (status, body)
        return f"{self.host}/{repo}"

    def corrupt_blob(self, digest):
        """Flips bytes of a stored blob in place (same size): the registry serves it unchanged."""
        hexd = digest.split(":", 1)[1]
        path = os.path.join(self.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            for i in range(0, len(data), 97):
                data[i] ^= 0xFF
            f.seek(0)
            f.write(data)

    def stop(self):
        if self.issuer:
            self.issuer.stop()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def docker_save_archive(path, image, repo_tag):
    """A `docker save` archive (manifest.json with Config, RepoTags, Layers as uncompressed tars)."""
    layers_tar = [gzip.decompress(l) for l in image.layers]
    entries = [("manifest.json", "file", json.dumps([{"Config": "config.json", "RepoTags": [repo_tag],
                                                      "Layers": [f"l{i}/layer.tar" for i in range(len(layers_tar))]}]).encode()),
               ("config.json", "file", image.config)]
    for i, t in enumerate(layers_tar):
        entries += [(f"l{i}", "dir", None), (f"l{i}/layer.tar", "file", t)]
    with open(path, "wb") as f:
        f.write(tar_layer(entries))
