"""Waiting for a quiet disk before a measurement that syncs.

The root file system here is mounted with discard: the blocks one measurement freed are
discarded at the next journal commits, and whatever syncs then pays for them. A bench calls
settle_disk before such a measurement, so that it measures its own writes and not the writeback
of the step before it.

What it does not wait out: this ext4 has no journal, and without one each new inode is checked
against every inode of its block group freed in the last 30 s (ext4's recently_deleted). A step
that deleted many files makes the next 30 s of file creation in those groups slower. That, more
than discards, is why back-to-back runs of the launch bench fell from ~420 to ~230 launches/s
and came back after ~45 s idle (session 30; the runtime now spreads writable layers over the
block groups, which removed most of it).
"""
import os
import time


def settle_disk(quiet_s=2.0, limit_s=60.0):
    """Syncs, then waits until no block device has done any I/O (discards included) for quiet_s.
    The root here is mounted with discard: blocks freed by one measurement are discarded at the
    next journal commits, and whatever runs then pays for them."""
    os.sync()
    deadline = time.monotonic() + limit_s
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        with open("/proc/diskstats") as f:
            now = [line.split()[3:] for line in f if not line.split()[2].startswith(("loop", "ram"))]
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.2)
