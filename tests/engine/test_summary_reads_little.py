"""A run's summary (status, the console's browser, the sweep scheduler's poll) reads the end of the event
stream only: a long live run costs no more to look at than a short one, and its state is still right."""

from __future__ import annotations

import time

import orjson
from tui_support import copy_run

from wann_engine import control, events, rundir


def long_live_run(tmp_path, recorded, extra: int = 6000):
    """The recorded run with ``extra`` more generation events and no ``finished`` (as if still running)."""
    run = copy_run(recorded, tmp_path, "long")
    lines = (run / rundir.EVENTS).read_bytes().splitlines(keepends=True)
    assert b'"finished"' in lines[-1]
    gen = orjson.loads(next(line for line in reversed(lines) if b'"generation"' in line))
    more = []
    for _ in range(extra):
        gen["gen"] += 1
        gen["t"] = time.time()
        more.append(orjson.dumps(gen) + b"\n")
    (run / rundir.EVENTS).write_bytes(b"".join(lines[:-1] + more))
    return run, gen["gen"]


def test_a_long_live_runs_summary_reads_only_its_end(tmp_path, recorded, monkeypatch):
    run, last = long_live_run(tmp_path, recorded)
    assert (run / rundir.EVENTS).stat().st_size > 4 << 20
    read = []
    real = events.read_tail

    def counting(*a, **k):
        tail = real(*a, **k)
        read.append(tail.bytes_read)
        return tail

    monkeypatch.setattr(control, "read_tail", counting)
    lock = rundir.Lock(run).acquire()
    try:
        s = control.summary(run)
        assert (s.state, s.gen) == ("running", last + 1)
        control.request(run, "pause")
        with open(run / rundir.EVENTS, "ab") as f:  # what a pausing engine writes
            f.write(orjson.dumps({"v": 1, "type": "paused", "t": time.time(), "gen": last}) + b"\n")
        assert control.summary(run).state == "paused"
    finally:
        lock.release()
    assert control.summary(run).state == "crashed"  # no engine, no stopped/finished: it did not end cleanly
    assert max(read) <= 512 << 10, f"read {max(read)} bytes of a {(run / rundir.EVENTS).stat().st_size}-byte stream"
