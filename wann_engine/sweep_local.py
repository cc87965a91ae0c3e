"""The local queue: a scheduler that runs a sweep's members on this machine, K at a time.

Members are ordinary engines started detached (``wann-engine run``/``resume`` in their own
session), so killing the scheduler, even with SIGKILL, leaves them running; a new scheduler
(``wann-engine sweep resume``) finds every member's state in its run directory and carries
on. Nothing the scheduler knows is needed to continue except ``sweep.json`` (members, budget,
crash retries), which it rewrites atomically.

Per poll the scheduler reads, for each unfinished member, the engine lock and the last events
(``control.summary``); finished members are not read again until ``sweep.json`` changes.

Rules: a member that crashes (or whose engine cannot start) is resumed ``MAX_RETRIES`` time(s),
then reported failed with the cause, never dropped. A member stopped by someone else while
the scheduler runs (``wann-engine control RUN stop``, the console) is held, not restarted,
until the next ``sweep resume``. With a wall budget the scheduler asks a member to stop at
its first generation boundary past the budget.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import control, rundir
from .exits import Exit
from .sweep import (
    MAX_RETRIES,
    Member,
    MemberStatus,
    SchedulerLock,
    Sweep,
    SweepError,
    counts,
    editing,
    extend_run_budget,
    last_error,
    load,
    member_status,
    set_wanted,
    setting_label,
    wanted,
)

ALIVE = ("starting", "running", "paused", "stopping")


def spawn_engine(args: list[str], log: Path) -> subprocess.Popen:
    """Start ``wann-engine ARGS`` in a session of its own (so it outlives this process), output
    appended to ``log``: the one place this module starts engines. The scheduler polls it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return control.spawn(args, out)


def ask_stop(run: Path) -> bool:
    """Ask the engine of ``run`` to stop at its next generation boundary; False if none runs."""
    try:
        control.stop(run)
    except rundir.RunDirError:
        return False
    return True


class Scheduler:
    """Runs the members of the sweep at ``path`` (or only those named in ``only``) to their budget."""

    def __init__(self, path: Path, parallel: int | None = None, only: list[str] | None = None,
                 poll: float = 1.0, say: Callable[[str], None] | None = None, hold_lock: bool = True) -> None:
        self.path = Path(path)
        self.sw: Sweep = load(self.path)
        self.parallel = parallel or self.sw.parallel
        self.only = set(only) if only is not None else None
        self.poll = poll
        self.say = say or (lambda line: print(line, flush=True))
        self.hold_lock = hold_lock
        self.procs: dict[str, subprocess.Popen] = {}
        self.asked_stop: set[str] = set()  # wall budget reached: stop requested
        self.seen_alive: set[str] = set()
        self.took_lock: set[str] = set()  # members whose engine in ``procs`` has been seen holding its lock
        self.held: set[str] = set()  # stopped by someone else during this session
        self.bad_attempt: dict[str, str] = {}  # an engine we started ended badly: treat as a crash
        self.final: dict[str, MemberStatus] = {}  # done or failed: not read again
        self.reported: dict[str, str] = {}
        self.stopping = False
        self.interrupts = 0
        self._mtime = self._sweep_mtime()
        self.polls = 0

    # --- helpers --------------------------------------------------------------------------------
    def _sweep_mtime(self) -> float:
        try:
            return (self.path / "sweep.json").stat().st_mtime_ns
        except OSError:
            return 0

    def _reload(self) -> None:
        t = self._sweep_mtime()
        if t != self._mtime:
            self._mtime = t
            self.sw = load(self.path)
            self.final.clear()
            self.held.clear()  # an extension continues held members too
            self.seen_alive.clear()

    def members(self) -> list[Member]:
        return [m for m in self.sw.members if self.only is None or m.name in self.only]

    def _note(self, m: Member, what: str, line: str) -> None:
        if self.reported.get(m.name) != what:
            self.reported[m.name] = what
            self.say(line)

    def _update_member(self, name: str, **changes: Any) -> Member:
        with editing(self.path) as sw:
            m = sw.member(name)
            for k, v in changes.items():
                setattr(m, k, v)
        self._mtime = self._sweep_mtime()
        self.sw = load(self.path)
        return self.sw.member(name)

    # --- starting engines -----------------------------------------------------------------------
    def _spawn(self, m: Member, args: list[str], log: Path) -> None:
        """Start an engine for ``m``: a new run (``--detached``: its output moves from the launch log to
        the run's engine.log once the run directory exists) or a resumed one."""
        self.took_lock.discard(m.name)
        self.procs[m.name] = spawn_engine(args, log)

    def _launch(self, m: Member) -> None:
        run = self.sw.run_dir(m)
        if run.exists():
            self._resume(m)
            return
        self._spawn(m, ["run", *self.sw.run_args(m), "--detached"], control.launch_log(self.path, m.name))
        self._note(m, "start", f"start   {m.name}  (seed {m.seed}, {setting_label(m.setting)})")

    def _resume(self, m: Member) -> None:
        run = self.sw.run_dir(m)
        if not (run / rundir.CONFIG).is_file():  # a launch that died before writing its config
            self._spawn(m, ["run", *self.sw.run_args(m), "--detached"], control.launch_log(self.path, m.name))
            self._note(m, "start", f"start   {m.name}  (seed {m.seed}, {setting_label(m.setting)})")
            return
        try:
            extended = extend_run_budget(run, self.sw.budget.max_gen)
        except (rundir.RunDirError, OSError) as e:  # a config this scheduler cannot read: the member fails
            self._fail(m, str(e))  # (not the sweep: the other members go on)
            return
        self._spawn(m, ["resume", str(run), "--quiet"], run / rundir.LOG)
        what = "extend" if extended else "resume"
        self._note(m, what, f"{what:7} {m.name}")

    def _retry_or_fail(self, m: Member, why: str) -> None:
        if m.retries < MAX_RETRIES:
            m = self._update_member(m.name, retries=m.retries + 1)
            self.say(f"retry   {m.name}  ({why})")
            self.reported.pop(m.name, None)
            self._resume(m)
        else:
            self._fail(m, why)

    def _fail(self, m: Member, why: str) -> None:
        m = self._update_member(m.name, failed=why)
        self.final[m.name] = MemberStatus(m, "failed", message=why)
        self.say(f"FAILED  {m.name}  ({why}); `wann-engine sweep resume {self.path}` tries it again")

    # --- one poll -------------------------------------------------------------------------------
    def _reap(self) -> None:
        for name, p in list(self.procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            del self.procs[name]
            if rc in (Exit.OK, Exit.INTERRUPTED):
                continue
            m = self.sw.member(name)
            st = member_status(self.sw, m)
            if st.state in ("done", "failed") or st.alive:
                continue
            self.bad_attempt[name] = last_error(self.sw.run_dir(m)) or f"the engine exited with code {rc}"

    def step(self) -> list[MemberStatus]:
        """One poll: read states, stop members past a wall budget, start members; returns the states."""
        self.polls += 1
        self._reload()
        self._reap()
        sts: list[MemberStatus] = []
        for m in self.members():
            st = self.final.get(m.name) or member_status(self.sw, m)
            if m.name in self.procs and st.alive and m.name not in self.took_lock:
                self.took_lock.add(m.name)
                control.tidy_launch_log(self.sw.run_dir(m))  # the engine writes to its run's engine.log now
            elif m.name in self.procs and not st.alive and st.state != "failed" and m.name not in self.took_lock:
                # an engine we started has not taken the run's lock yet: the files still tell the past
                # (once it has held the lock, a free lock means it ended or is ending: the files tell that)
                st = dataclasses.replace(st, state="starting", alive=True)
            if st.state in ("done", "failed"):
                self.final[m.name] = st
                if st.state == "done":
                    best = f"{st.best:.2f}" if st.best is not None else "-"
                    self._note(m, "done", f"done    {m.name}  gen {st.gen}  best {best}")
            elif st.alive:
                self.seen_alive.add(m.name)
                if st.state == "stopping" and m.name not in self.asked_stop:
                    ask_stop(self.sw.run_dir(m))
                    self.asked_stop.add(m.name)
            sts.append(st)
        if self.stopping:
            return sts
        active = sum(1 for st in sts if st.alive or st.member.name in self.procs)
        for st in sts:
            m = st.member
            if active >= self.parallel:
                break
            if m.name in self.procs or st.alive or st.state in ("done", "failed") or m.name in self.held:
                continue
            if m.name in self.bad_attempt:
                self._retry_or_fail(m, self.bad_attempt.pop(m.name))
            elif st.state == "crashed":
                self._retry_or_fail(m, st.message)
            elif st.state == "stopped":
                if m.name in self.seen_alive and m.name not in self.asked_stop and not st.extendable:
                    self.held.add(m.name)
                    self.say(f"held    {m.name}  (stopped outside the sweep; `sweep resume` continues it)")
                    continue
                self._resume(m)
            elif st.state == "pending":
                self._launch(m)
            else:
                continue
            active += 1 if m.name in self.procs else 0
        return sts

    def finished(self, sts: list[MemberStatus]) -> bool:
        if self.procs:
            return False
        if self.stopping:
            return not any(st.alive for st in sts)
        return all(st.state in ("done", "failed") or st.member.name in self.held for st in sts)

    # --- the loop -------------------------------------------------------------------------------
    def _signal(self, signum: int, _frame: Any) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.stopping = True
            self.say("stopping the sweep: members write a checkpoint and stop (interrupt again to leave them)")
        else:
            raise KeyboardInterrupt

    def stop_members(self) -> int:
        """Ask every running member to stop that has not been asked yet; returns how many were asked.
        (An engine that takes its lock after a round of asking resets its ``control.json`` to ``run``:
        the scheduler repeats this every poll while the sweep stops.)"""
        asked = 0
        for m in self.members():
            run = self.sw.run_dir(m)
            if (run / rundir.CONFIG).is_file() and control.wanted(run) != "stop":
                asked += ask_stop(run)
        return asked

    def run(self) -> int:
        """Run until every member is done or failed (or the sweep is stopped); returns the exit code."""
        lock = SchedulerLock(self.path).acquire() if self.hold_lock else None
        if lock is not None:
            # a launch of this sweep (the console's) is over once its scheduler runs: its output is in
            # sweep.log from now on; a launch that failed never gets here and keeps its log and reason
            try:
                control.launch_log(self.path.parent, self.path.name).unlink(missing_ok=True)
            except OSError:
                pass
        old = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                old[sig] = signal.signal(sig, self._signal)
        try:
            n = len(self.members())
            if self.only is None:
                self.say(f"sweep {self.path}: {n} members, {self.sw.budget.describe()} each, "
                         f"{self.parallel} at a time, {self.sw.threads} thread(s) each")
            else:
                self.say(f"sweep {self.path}: member(s) {', '.join(sorted(self.only))}, "
                         f"{self.sw.budget.describe()} each")
            last_counts: dict[str, int] = {}
            stop_sent = False
            while True:
                if wanted(self.path) == "stop" and not self.stopping:
                    self.stopping = True
                    self.say("the sweep was asked to stop")
                if self.stopping:
                    if not stop_sent:
                        set_wanted(self.path, "stop")
                        stop_sent = True
                    self.stop_members()  # again each poll: a member whose engine was starting is asked too
                sts = self.step()
                c = counts(sts)
                if c != last_counts:
                    last_counts = c
                    self.say("        " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())))
                if self.finished(sts):
                    break
                time.sleep(self.poll)
            if self.stopping:
                self.say(f"stopped; `wann-engine sweep resume {self.path}` continues it")
                return Exit.INTERRUPTED
            failed = [st.member.name for st in sts if st.state == "failed"]
            held = [st.member.name for st in sts if st.member.name in self.held]
            if held:
                self.say(f"{len(held)} member(s) held (stopped outside the sweep): {', '.join(held)}")
            if failed:
                self.say(f"{len(failed)} member(s) failed: {', '.join(failed)}")
                return Exit.FAILED
            self.say(f"sweep {self.path}: all {n} members done" if self.only is None else
                     f"sweep {self.path}: member(s) {', '.join(sorted(self.only))} done")
            return Exit.OK
        except KeyboardInterrupt:
            self.say("left the members to stop on their own")
            return Exit.INTERRUPTED
        finally:
            for sig, fn in old.items():
                signal.signal(sig, fn)
            if lock:
                lock.release()


def reset_failures(path: Path) -> int:
    """Give failed members (and retry counts) a fresh start; returns how many were failed."""
    with editing(path) as sw:
        n = 0
        for m in sw.members:
            n += m.failed is not None
            m.failed, m.retries = None, 0
    return n


def detach(args: list[str], path: Path) -> int:
    """Start ``wann-engine ARGS`` (a scheduler) in its own session, output to ``sweep.log``; its pid."""
    p = spawn_engine(args, Path(path) / "sweep.log")
    return p.pid


def check_scheduler_free(path: Path) -> None:
    from .sweep import scheduler_pid

    pid = scheduler_pid(path)
    if pid is not None:
        raise SweepError(f"{path}: a scheduler is already running it (pid {pid}); "
                         f"`wann-engine sweep stop {path}` stops it")

