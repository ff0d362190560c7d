#!/usr/bin/python3
"""The hostile requests that stopped or bloated the cpprestsdk server, sent to the real
berth-apiserver binary: each is answered with a Status (or cut), nothing is stored or deleted by
accident, memory stays bounded, and the server keeps serving everyone else."""
import json
import os
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, rss_kb, wait_for  # noqa: E402


def raw_socket(api, rcvbuf=None):
    """A TLS connection to the apiserver as its admin (so each request gets past authentication to
    the framing under test); `rcvbuf` shrinks the receive buffer before the handshake."""
    s = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return api.ssl_context().wrap_socket(s, server_hostname="127.0.0.1")


class Raw:
    def __init__(self, api):
        self.s = raw_socket(api)

    def send(self, data):
        self.s.sendall(data)

    def response(self):
        """Reads one response (head and Content-Length body); (status, body)."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head:
            return None, b""
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(head.split()[1]), body

    def closed(self, timeout=10):
        self.s.settimeout(timeout)
        try:
            while self.s.recv(65536):
                pass
            return True
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
            return True  # closed without TLS close_notify, or reset: closed all the same
        except OSError:
            return False

    def close(self):
        self.s.close()


class Hostile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = ApiServer().start()
        cls.c = cls.api.client()
        cls.pid = cls.api.proc.pid

    @classmethod
    def tearDownClass(cls):
        cls.api.stop()
        cls.api.cleanup()

    def assertServing(self):
        self.assertEqual(self.c.get("/api/v1/namespaces/default").status, 200)

    def status_of(self, raw):
        code, body = raw.response()
        obj = json.loads(body)
        self.assertEqual(obj["kind"], "Status")
        return code, obj

    def test_a_negative_chunk_size_is_400_and_the_server_lives(self):
        r = Raw(self.api)
        r.send(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n")
        code, _ = self.status_of(r)
        self.assertEqual(code, 400)
        self.assertTrue(r.closed())
        self.assertServing()

    def test_conflicting_content_lengths_are_refused(self):
        r = Raw(self.api)
        body = b'{"metadata":{"name":"smuggled"}}'
        r.send(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 5\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        code, _ = self.status_of(r)
        self.assertEqual(code, 400)
        self.assertEqual(self.c.get("/api/v1/namespaces/default/configmaps/smuggled").status, 404)

    def test_a_nul_in_the_request_line_deletes_nothing(self):
        self.c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "p-nul"}})
        r = Raw(self.api)
        r.send(b"DELETE /api/v1/namespaces/default/configmaps/p-nul\x00junk HTTP/1.1\r\nHost: x\r\n\r\n")
        code, _ = self.status_of(r)
        self.assertEqual(code, 400)
        self.assertEqual(self.c.get("/api/v1/namespaces/default/configmaps/p-nul").status, 200)

    def test_a_bad_escape_is_a_status(self):
        r = Raw(self.api)
        r.send(b"GET /api/v1/namespaces/%zz/pods HTTP/1.1\r\nHost: x\r\n\r\n")
        code, obj = self.status_of(r)
        self.assertEqual(code, 400)
        self.assertIn("invalid URL escape", obj["message"])

    def test_expect_continue_is_answered(self):
        r = Raw(self.api)
        body = b'{"metadata":{"name":"continued"}}'
        r.send(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        self.assertEqual(r.s.recv(25), b"HTTP/1.1 100 Continue\r\n\r\n")
        r.send(body)
        self.assertEqual(r.response()[0], 201)

    def test_headers_that_never_end_are_cut_at_the_limit(self):
        before = rss_kb(self.pid)
        conns = []
        for _ in range(3):
            r = Raw(self.api)
            r.send(b"GET /api HTTP/1.1\r\nHost: x\r\nX-Endless: ")
            try:
                for _ in range(100):  # up to 100 MiB each, as in the issue
                    r.send(b"a" * (1 << 20))
            except OSError:
                pass  # the server answered 431 and closed
            conns.append(r)
        for r in conns:
            self.assertTrue(r.closed())
        self.assertLess(rss_kb(self.pid) - before, 50 * 1024)
        self.assertServing()

    def test_watchers_that_stop_reading_are_cut_and_their_memory_freed(self):
        before = rss_kb(self.pid)
        watchers = []
        for _ in range(5):
            s = raw_socket(self.api, rcvbuf=4096)
            s.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            watchers.append(s)  # never read again
        big = {"metadata": {"generateName": "fill-"}, "data": {"k": "x" * 200_000}}
        names = []

        def write():
            for _ in range(60):  # 12 MB of events for each watcher
                names.append(self.c.post("/api/v1/namespaces/default/configmaps", big).json()["metadata"]["name"])
        def registered():
            for line in self.c.get("/metrics").body.splitlines():
                if line.startswith("apiserver_registered_watchers "):
                    return float(line.split()[1])
            return -1
        wait_for(lambda: registered() == 5, timeout=10, what="the five watches to be registered")
        t = threading.Thread(target=write)
        t.start()
        t.join(120)
        # Each stopped reader was cut once 4 MiB waited for it (12 MB were written to each).
        wait_for(lambda: registered() == 0, timeout=20, what="the stopped watchers to be cut")
        self.assertLess(rss_kb(self.pid) - before, 100 * 1024)
        for s in watchers:
            s.close()
        for n in names:
            self.c.delete(f"/api/v1/namespaces/default/configmaps/{n}")
        self.assertServing()


if __name__ == "__main__":
    unittest.main(verbosity=2)
