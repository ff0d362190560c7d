#!/usr/bin/python3
"""Watch semantics of berth-apiserver, driven with curl -N and a Python client."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer, quote, wait_for  # noqa: E402


class CurlWatch:
    """`curl -N` on a watch URL; collects the event lines as they arrive."""

    def __init__(self, server, path):
        self.proc = subprocess.Popen(server.curl("-N", path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.events = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line:
                with self.lock:
                    self.events.append(json.loads(line))

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def wait_count(self, n, timeout=30):
        return wait_for(lambda: len(self.snapshot()) >= n and self.snapshot(), timeout, what=f"{n} watch events")

    def close(self):
        self.proc.kill()
        self.proc.wait()


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ApiServer(extra_args=["--bookmark-interval-ms", "200"]).start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def make_ns(self, name):
        r = self.c.post("/api/v1/namespaces", {"metadata": {"name": name}})
        self.assertEqual(r.status, 201, r.body)

    def test_every_write_from_8_clients_exactly_once_in_order(self):
        self.make_ns("w-order")
        base = "/api/v1/namespaces/w-order/configmaps"
        start_rv = self.c.get(base).json()["metadata"]["resourceVersion"]
        watch = CurlWatch(self.server, f"{base}?watch=1&resourceVersion={start_rv}")
        try:
            acked = []
            lock = threading.Lock()
            per_client = 250

            def writer(w):
                for i in range(per_client):
                    name = f"c{w}-{i // 2}"
                    if i % 2 == 0:
                        r = self.c.post(base, {"metadata": {"name": name}, "data": {"i": str(i)}})
                    else:
                        r = self.c.patch(f"{base}/{name}", {"data": {"i": str(i)}})
                    assert r.status in (200, 201), r.body
                    with lock:
                        acked.append((r.json()["metadata"]["name"], int(r.json()["metadata"]["resourceVersion"])))

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            total = 8 * per_client
            self.assertEqual(len(acked), total)
            events = watch.wait_count(total)
            time.sleep(0.3)  # any duplicate would arrive right behind
            events = watch.snapshot()
            self.assertEqual(len(events), total)
            revs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
            self.assertEqual(revs, sorted(revs))
            self.assertEqual(len(set(revs)), total)
            self.assertEqual(sorted((e["object"]["metadata"]["name"], int(e["object"]["metadata"]["resourceVersion"])) for e in events),
                             sorted(acked))
            self.assertEqual({e["type"] for e in events}, {"ADDED", "MODIFIED"})
        finally:
            watch.close()

    def test_curl_shows_each_event_at_once(self):
        self.make_ns("w-live")
        base = "/api/v1/namespaces/w-live/configmaps"
        watch = CurlWatch(self.server, base + "?watch=true")
        try:
            for i in range(3):
                self.assertEqual(self.c.post(base, {"metadata": {"name": f"live{i}"}}).status, 201)
                # Each event arrives on its own, without waiting for a buffer to fill.
                watch.wait_count(i + 1, timeout=5)
            self.assertEqual([e["type"] for e in watch.snapshot()], ["ADDED"] * 3)
        finally:
            watch.close()

    def test_initial_state_then_changes_and_deleted_carries_final_state(self):
        self.make_ns("w-init")
        base = "/api/v1/namespaces/w-init/configmaps"
        for i in range(3):
            self.c.post(base, {"metadata": {"name": f"pre{i}"}})
        events = []
        gen = self.c.watch(base + "?timeoutSeconds=2")
        for i in range(3):
            events.append(next(gen))
        d = self.c.delete(base + "/pre1").json()
        events.append(next(gen))
        self.assertEqual([e["type"] for e in events], ["ADDED", "ADDED", "ADDED", "DELETED"])
        deleted = events[-1]["object"]
        self.assertEqual(deleted["metadata"]["name"], "pre1")
        self.assertGreater(int(deleted["metadata"]["resourceVersion"]), int(events[2]["object"]["metadata"]["resourceVersion"]))
        self.assertEqual(d["status"], "Success")
        rest = list(gen)  # the stream ends at timeoutSeconds
        self.assertEqual(rest, [])

    def test_resume_from_resource_version(self):
        self.make_ns("w-resume")
        base = "/api/v1/namespaces/w-resume/configmaps"
        first = self.c.post(base, {"metadata": {"name": "a"}}).json()
        rv = first["metadata"]["resourceVersion"]
        self.c.post(base, {"metadata": {"name": "b"}})
        self.c.patch(base + "/a", {"data": {"x": "1"}})
        events = list(self.c.watch(f"{base}?resourceVersion={rv}&timeoutSeconds=1"))
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events], [("ADDED", "b"), ("MODIFIED", "a")])

    def test_selector_watch_reports_leaving_as_deleted(self):
        self.make_ns("w-sel")
        base = "/api/v1/namespaces/w-sel/configmaps"
        rv = self.c.get(base).json()["metadata"]["resourceVersion"]
        gen = self.c.watch(f"{base}?resourceVersion={rv}&labelSelector={quote('app=web')}&timeoutSeconds=3")
        self.c.post(base, {"metadata": {"name": "x", "labels": {"app": "web"}}})
        self.c.post(base, {"metadata": {"name": "other", "labels": {"app": "db"}}})
        self.c.patch(base + "/x", {"metadata": {"labels": {"app": "db"}}})
        self.c.patch(base + "/x", {"metadata": {"labels": {"app": "web"}}})
        got = [(next(gen)["type"]) for _ in range(3)]
        self.assertEqual(got, ["ADDED", "DELETED", "ADDED"])

    def test_server_sent_events_with_curl(self):
        path = "/api/v1/namespaces/default/configmaps"
        first = self.c.post(path, {"metadata": {"name": "sse-1"}}).json()["metadata"]["resourceVersion"]
        proc = subprocess.Popen(self.server.curl("-N", "-H", "Accept: text/event-stream",
                                                 f"{path}?watch=1&resourceVersion={first}&timeoutSeconds=2"),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.3)
        second = self.c.post(path, {"metadata": {"name": "sse-2"}}).json()["metadata"]["resourceVersion"]
        out, _ = proc.communicate(timeout=20)
        blocks = [b for b in out.split("\n\n") if b.strip()]
        self.assertEqual(len(blocks), 1, out)
        fields = dict(line.split(": ", 1) for line in blocks[0].splitlines())
        self.assertEqual((fields["event"], fields["id"]), ("ADDED", second))
        self.assertEqual(json.loads(fields["data"])["metadata"]["name"], "sse-2")
        # An EventSource reconnecting with Last-Event-ID resumes after that event.
        third = self.c.post(path, {"metadata": {"name": "sse-3"}}).json()["metadata"]["resourceVersion"]
        out = subprocess.run(self.server.curl("-sN", "-H", "Accept: text/event-stream", "-H", f"Last-Event-ID: {second}",
                                              f"{path}?watch=1&timeoutSeconds=1"), capture_output=True, text=True,
                             timeout=20).stdout
        self.assertIn(f"id: {third}", out)
        self.assertNotIn("sse-2", out)

    def test_bookmarks_when_allowed(self):
        self.make_ns("w-bm")
        base = "/api/v1/namespaces/w-bm/configmaps"
        rv = self.c.get(base).json()["metadata"]["resourceVersion"]
        gen = self.c.watch(f"{base}?resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5")
        ev = next(gen)
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["kind"], "ConfigMap")
        self.assertGreaterEqual(int(ev["object"]["metadata"]["resourceVersion"]), int(rv))

    def test_watch_of_one_object_by_field_selector(self):
        self.make_ns("w-one")
        base = "/api/v1/namespaces/w-one/configmaps"
        self.c.post(base, {"metadata": {"name": "mine"}})
        self.c.post(base, {"metadata": {"name": "theirs"}})
        gen = self.c.watch(f"{base}?fieldSelector={quote('metadata.name=mine')}&timeoutSeconds=2")
        self.assertEqual(next(gen)["object"]["metadata"]["name"], "mine")
        self.c.patch(base + "/theirs", {"data": {"a": "b"}})
        self.c.patch(base + "/mine", {"data": {"a": "b"}})
        ev = next(gen)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("MODIFIED", "mine"))

    def test_bad_watch_parameters(self):
        r = self.c.get("/api/v1/namespaces/default/pods?watch=1&resourceVersion=abc")
        self.assertEqual(r.status, 400, r.body)
        r = self.c.get("/api/v1/namespaces/default/pods?watch=1&fieldSelector=spec.nope%3D1")
        self.assertEqual(r.status, 400, r.body)


class CompactionTest(unittest.TestCase):
    def test_410_after_compaction_then_relist(self):
        args = ["--retention-events", "5", "--retention-seconds", "0", "--compaction-interval-ms", "50",
                "--watch-window-events", "5"]
        with ApiServer(extra_args=args) as server:
            c = server.client()
            base = "/api/v1/namespaces/default/configmaps"
            for i in range(30):
                self.assertEqual(c.post(base, {"metadata": {"name": f"old{i}"}}).status, 201)

            def expired():
                events = list(c.watch(f"{base}?resourceVersion=2&timeoutSeconds=1"))
                return events and events[0]["type"] == "ERROR" and events[0]["object"]
            status = wait_for(expired, timeout=10, what="compaction")
            self.assertEqual(status["code"], 410)
            self.assertEqual(status["reason"], "Expired")
            # The client relists and watches from the list's revision.
            rv = c.get(base).json()["metadata"]["resourceVersion"]
            gen = c.watch(f"{base}?resourceVersion={rv}&timeoutSeconds=2")
            c.post(base, {"metadata": {"name": "fresh"}})
            ev = next(gen)
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "fresh"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
