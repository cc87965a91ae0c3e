"""A sweep being stopped reads as stopping/stopped, never crashed; members stopped short of their
budget count as stopped, not pending; a sweep's launch log goes once its scheduler runs."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from tui_support import copy_run

from wann_engine import control, rundir, sweep_local
from wann_engine import sweep as sweepmod
from wann_engine.exits import Exit


def append_event(run: Path, type_: str, **fields) -> None:
    with open(run / rundir.EVENTS, "ab") as f:
        f.write(orjson.dumps({"v": 1, "type": type_, "t": time.time(), **fields}) + b"\n")


def running_member(tmp_path: Path, recorded: Path, seeds: str = "0") -> tuple[sweepmod.Sweep, Path]:
    """A sweep whose member ``s0`` is the recorded run with its engine "running": its ``finished``
    event dropped and its lock held by this process."""
    sw = sweepmod.create(tmp_path / "runs" / "sw", "swingup", sweepmod.parse_seeds(seeds), [],
                         sweepmod.Budget(gens=20))
    run = copy_run(recorded, sw.path, "s0")
    lines = (run / rundir.EVENTS).read_bytes().splitlines(keepends=True)
    assert b'"finished"' in lines[-1]
    (run / rundir.EVENTS).write_bytes(b"".join(lines[:-1]))
    return sw, run


def engine_ends_during_the_next_tail_read(monkeypatch, run: Path, lock: rundir.Lock) -> None:
    """The engine writes ``stopped`` and releases its lock right after a reader has read the events."""
    real = control.read_tail
    done = []

    def read_then_engine_stops(*a, **k):
        got = real(*a, **k)
        if not done:
            done.append(True)
            append_event(run, "stopped", gen=7)
            lock.release()
        return got

    monkeypatch.setattr(control, "read_tail", read_then_engine_stops)


def test_a_member_whose_engine_stops_while_it_is_read_is_never_crashed(tmp_path, recorded, monkeypatch):
    sw, run = running_member(tmp_path, recorded)
    lock = rundir.Lock(run).acquire()
    assert sweepmod.member_status(sw, sw.members[0]).state == "running"
    engine_ends_during_the_next_tail_read(monkeypatch, run, lock)
    first = sweepmod.member_status(sw, sw.members[0])
    assert first.state == "running", first.message  # (read the other way round: "crashed")
    assert control.summary(run).state == "stopped"
    assert sweepmod.member_status(sw, sw.members[0]).state == "stopped"


def test_members_of_a_sweep_asked_to_stop_read_stopping_then_stopped(tmp_path, recorded):
    sw, run = running_member(tmp_path, recorded)
    lock = rundir.Lock(run).acquire()
    sweepmod.set_wanted(sw.path, "stop")
    assert [s.state for s in sweepmod.statuses(sw)] == ["stopping"]
    assert sweepmod.counts(sweepmod.statuses(sw)) == {"stopping": 1}
    append_event(run, "stopped", gen=7)
    lock.release()
    assert sweepmod.counts(sweepmod.statuses(sw)) == {"stopped": 1}


def test_stop_asks_an_engine_again_that_reset_its_request_while_starting(tmp_path, recorded):
    """An engine that takes its lock after ``sweep stop`` asked the members writes ``run`` into its
    control.json: the stopping scheduler asks it again (a one-shot request left it running to its budget)."""
    sw, run = running_member(tmp_path, recorded)
    sched = sweep_local.Scheduler(sw.path, hold_lock=False)
    assert sched.stop_members() == 0  # no engine holds the lock yet: nothing asked
    lock = rundir.Lock(run).acquire()
    control.request(run, "run")  # what a starting engine does
    assert sched.stop_members() == 1 and control.wanted(run) == "stop"
    assert sched.stop_members() == 0  # asked already
    time.sleep(0.01)
    control.request(run, "run")
    assert sched.stop_members() == 1
    lock.release()


class _Proc:
    """An engine process the scheduler started that has not exited yet."""

    def poll(self):
        return None


def test_the_schedulers_line_calls_an_ending_member_stopped_not_starting(tmp_path, recorded):
    sw, run = running_member(tmp_path, recorded)
    lock = rundir.Lock(run).acquire()
    sched = sweep_local.Scheduler(sw.path, hold_lock=False, say=lambda line: None)
    sched.stopping = True
    sched.procs["s0"] = _Proc()
    assert [s.state for s in sched.step()] == ["running"]
    append_event(run, "stopped", gen=7)
    lock.release()  # the engine released its lock; its process has not exited yet
    assert [s.state for s in sched.step()] == ["stopped"]  # (was "starting")


def test_stopped_members_are_counted_apart_from_pending_ones(tmp_path, recorded):
    sw, run = running_member(tmp_path, recorded, seeds="0-1")
    append_event(run, "stopped", gen=5)
    assert sweepmod.counts(sweepmod.statuses(sw)) == {"stopped": 1, "pending": 1}


def test_the_scheduler_removes_the_launch_log_of_its_sweep(tmp_path):
    sw = sweepmod.create(tmp_path / "runs" / "sw", "swingup", [0], [], sweepmod.Budget(gens=3))
    with sweepmod.editing(sw.path) as s:
        s.members[0].failed = "given up"  # nothing to run: the scheduler ends after one poll
    log = control.launch_log(sw.path.parent, sw.path.name)
    log.write_text(f"sweep {sw.path}: 1 setting(s) × 1 seed(s) = 1 members, 3 generations each\n")
    keep = control.launch_log(sw.path.parent, "other")
    keep.write_text("wann-engine: error: other: something\n")
    lines: list[str] = []
    assert sweep_local.Scheduler(sw.path, poll=0.01, say=lines.append).run() == Exit.FAILED
    assert not log.exists()
    assert keep.exists()  # another launch's log (maybe the reason it failed) stays


def test_a_member_whose_config_cannot_be_read_fails_alone_and_the_sweep_goes_on(tmp_path):
    """A member's config this scheduler cannot read (damaged, or written by a newer engine) fails that
    member with its one-line reason; the scheduler does not die and the other members finish."""
    from conftest import engine

    sweep_dir = tmp_path / "sw"
    engine("sweep", "start", str(sweep_dir), "--pop", "32", "--seeds", "0-1", "--gens", "2", "--parallel", "2",
           "--quiet", check=True, timeout=300)
    cfg = sweep_dir / "s0" / rundir.CONFIG
    cfg.write_bytes(cfg.read_bytes().replace(b'"seed"', b'"no_such_key": 1, "seed"', 1))
    p = engine("sweep", "extend", str(sweep_dir), "--gens", "4", "--parallel", "2", timeout=300)
    assert "Traceback" not in p.stderr + p.stdout
    assert p.returncode == Exit.FAILED, p.stdout + p.stderr
    failed = [line for line in p.stdout.splitlines() if line.startswith("FAILED  s0")]
    assert len(failed) == 1 and "damaged config" in failed[0] and "no_such_key" in failed[0], p.stdout
    sts = {st.member.name: st for st in sweepmod.statuses(sweepmod.load(sweep_dir))}
    assert sts["s0"].state == "failed" and sts["s1"].state == "done" and sts["s1"].gen == 4


def test_a_member_resumed_by_hand_after_the_sweep_stopped_reads_running(tmp_path, recorded):
    sw, run = running_member(tmp_path, recorded)
    sweepmod.set_wanted(sw.path, "stop")  # `sweep stop`; the scheduler has gone
    time.sleep(0.01)
    lock = rundir.Lock(run).acquire()  # `wann-engine resume` of this one member, afterwards
    assert [s.state for s in sweepmod.statuses(sw)] == ["running"]  # (was "stopping", for ever)
    lock.release()
    sched_lock = sweepmod.SchedulerLock(sw.path).acquire()  # with a scheduler, it is asked to stop
    lock = rundir.Lock(run).acquire()
    assert [s.state for s in sweepmod.statuses(sw)] == ["stopping"]
    lock.release()
    sched_lock.release()
