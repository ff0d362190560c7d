#!/usr/bin/python3
"""Durability of berth-apiserver: state survives restarts, and kill -9 during a write load
loses no acknowledged write."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from berth_e2e import ApiServer  # noqa: E402

BASE = "/api/v1/namespaces/default/configmaps"


class DurabilityTest(unittest.TestCase):
    def test_restart_keeps_objects_revision_and_change_log(self):
        server = ApiServer().start()
        try:
            c = server.client()
            rvs = [int(c.post(BASE, {"metadata": {"name": f"keep{i}"}, "data": {"i": str(i)}}).json()["metadata"]["resourceVersion"])
                   for i in range(5)]
            self.assertEqual(server.stop(), 0)  # SIGTERM exits cleanly
            server.start()
            c = server.client()
            items = c.get(BASE).json()["items"]
            self.assertEqual(sorted(i["metadata"]["name"] for i in items), [f"keep{i}" for i in range(5)])
            new_rv = int(c.post(BASE, {"metadata": {"name": "after"}}).json()["metadata"]["resourceVersion"])
            self.assertGreater(new_rv, max(rvs))
            # The change log survived too: a watch can resume from before the restart.
            events = list(c.watch(f"{BASE}?resourceVersion={rvs[2]}&timeoutSeconds=1"))
            self.assertEqual([e["object"]["metadata"]["name"] for e in events], ["keep3", "keep4", "after"])
        finally:
            server.cleanup()

    def test_kill9_during_writes_loses_no_acknowledged_write(self):
        server = ApiServer().start()
        try:
            c = server.client()
            acked = {}
            lock = threading.Lock()
            stop = threading.Event()

            def writer(w):
                i = 0
                while not stop.is_set():
                    name = f"k{w}-{i}"
                    try:
                        r = c.post(BASE, {"metadata": {"name": name}, "data": {"w": str(w)}}, timeout=5)
                    except OSError:
                        return  # the server died under us: this write was never acknowledged
                    if r.status == 201:
                        with lock:
                            acked[name] = int(r.json()["metadata"]["resourceVersion"])
                    i += 1

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
            for t in threads:
                t.start()
            # Kill once a fair number of writes is in, while the writers are still going.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with lock:
                    if len(acked) >= 400:
                        break
                time.sleep(0.01)
            server.kill9()
            stop.set()
            for t in threads:
                t.join()
            self.assertGreaterEqual(len(acked), 400)
            server.start()
            c = server.client()
            stored = {i["metadata"]["name"]: int(i["metadata"]["resourceVersion"]) for i in c.get(BASE).json()["items"]}
            missing = [n for n in acked if n not in stored]
            self.assertEqual(missing, [], f"{len(missing)} acknowledged writes lost")
            for name, rv in acked.items():
                self.assertEqual(stored[name], rv)
            # Revisions never go backwards.
            new_rv = int(c.post(BASE, {"metadata": {"name": "after-crash"}}).json()["metadata"]["resourceVersion"])
            self.assertGreater(new_rv, max(acked.values()))
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
