"""A sweep: seeds × a grid of ``--set`` values, each member an ordinary run directory.

Layout of a sweep folder (it is also a runs folder: ``wann-engine status SWEEP`` lists the members)::

    sweep.json            what the sweep is: task, fixed --set values, grid, seeds, budget, members
    sweep-control.json    the sweep's wanted state (``run`` or ``stop``), written by ``sweep stop``/``resume``
    sweep.lock            held (flock) by the scheduler while it runs; holds its pid
    sweep.log             output of a scheduler started with ``--detach``
    slurm/                array scripts and their output, for ``--slurm``
    <member>/             one ordinary run directory per setting × seed

A member's name is readable and deterministic: the grid values and the seed
(``select_tournSize8-prob_addNode0.1-s3``; ``s3`` without a grid). Members are
listed seed-major (every setting of seed 0, then of seed 1, ...), so a sweep cut
short still holds comparable settings.

Budgets: ``gens`` (each member runs ``maxGen = gens`` generations; reproducible, as
resume is exact) or ``minutes`` of the run's own elapsed time (a member is stopped at
the first generation boundary past it; not reproducible, as generations per minute
vary). Extending a generation budget rewrites a finished member's ``maxGen`` and
resumes it: the search does not depend on ``maxGen``, so the member continues
exactly as if it had been given the longer budget from the start.

Everything here reads and writes files only; ``sweep_local`` runs members on this
machine, ``slurm`` submits them as a job array.
"""

from __future__ import annotations

import dataclasses
import fcntl
import itertools
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from . import control, rundir
from .atomic import write_bytes
from .docformat import check_header
from .events import encode

SWEEP_FILE = "sweep.json"
CONTROL_FILE = "sweep-control.json"
SCHEDULER_LOCK = "sweep.lock"
WRITE_LOCK = ".sweep.write.lock"
LOG = "sweep.log"
SLURM_DIR = "slurm"
FORMAT = "wann-sweep"
VERSION = 1
WALL_MAX_GEN = 1_000_000_000  # maxGen of a member with a wall budget: it is stopped by time, not by count


def gens_text(done: int, total: int | None) -> str:
    """A run's progress as ``done/total``: ``done/?`` when the total is unknown, and ``done`` alone for a
    run stopped by time rather than by count (a member of a sweep with a wall budget)."""
    if not total:
        return f"{done}/?"
    return str(done) if total >= WALL_MAX_GEN else f"{done}/{total}"
MAX_RETRIES = 1  # a crashed member is resumed this many times before it is reported failed

MemberState = Literal["pending", "starting", "running", "paused", "stopping", "done", "stopped",
                      "crashed", "failed"]


class SweepError(ValueError):
    """Bad sweep arguments or an unusable sweep folder; the message says why."""


# --- parsing ------------------------------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    """``0-7``, ``0,3,9`` or a mix (``0-3,10``): the seeds in the order given, without repeats."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise SweepError(f"--seeds {text!r}: expected seeds like 0-7 or 0,3,5 (non-negative integers)")
        lo, hi = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
        if hi < lo:
            raise SweepError(f"--seeds {text!r}: range {part} runs backwards")
        if hi - lo >= 100_000:
            raise SweepError(f"--seeds {text!r}: range {part} is too long")
        out.extend(s for s in range(lo, hi + 1) if s not in out)
    return out


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """Repeated ``key=v1,v2``: one axis per key, values in the order given."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, vals = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SweepError(f"--grid {item!r}: expected key=value1,value2")
        values = [v.strip() for v in vals.split(",")]
        if not values or any(v == "" for v in values):
            raise SweepError(f"--grid {item!r}: empty value")
        if len(set(values)) != len(values):
            raise SweepError(f"--grid {item!r}: a value is repeated")
        if any(k == key for k, _ in grid):
            raise SweepError(f"--grid {key}: given twice")
        grid.append((key, values))
    return grid


def settings_of(grid: list[tuple[str, list[str]]]) -> list[dict[str, str]]:
    """The cartesian product of the grid, first key slowest; one empty setting without a grid."""
    keys = [k for k, _ in grid]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in grid))]


def setting_label(setting: dict[str, str]) -> str:
    """``key=value key=value`` (``base`` for the empty setting)."""
    return " ".join(f"{k}={v}" for k, v in setting.items()) or "base"


def _name_part(setting: dict[str, str]) -> str:
    return "-".join(k + re.sub(r"[^A-Za-z0-9._-]", "_", v) for k, v in setting.items())


def member_names(settings: list[dict[str, str]], seeds: list[int]) -> list[tuple[str, int, dict[str, str]]]:
    """(name, seed, setting) for every member, seed-major. Names spell the setting when that is
    unambiguous and short enough; otherwise the setting's index (``set2-s5``)."""
    parts = [_name_part(s) for s in settings]
    readable = len(set(parts)) == len(parts) and all(len(p) <= 100 for p in parts)
    out = []
    for seed in seeds:
        for i, s in enumerate(settings):
            prefix = (parts[i] if readable else f"set{i}") if s else ""
            out.append((f"{prefix}-s{seed}" if prefix else f"s{seed}", seed, s))
    return out


# --- the sweep definition -----------------------------------------------------------------------
@dataclass
class Budget:
    gens: int | None = None
    minutes: float | None = None

    def __post_init__(self) -> None:
        if (self.gens is None) == (self.minutes is None):
            raise SweepError("give one budget per member: --gens N or --minutes M")
        if self.gens is not None and self.gens < 1:
            raise SweepError(f"--gens {self.gens}: must be at least 1")
        if self.minutes is not None and not (self.minutes > 0 and self.minutes < 1e7):
            raise SweepError(f"--minutes {self.minutes}: must be a positive number of minutes")

    @property
    def max_gen(self) -> int:
        """The members' ``maxGen``."""
        return self.gens if self.gens is not None else WALL_MAX_GEN

    @property
    def seconds(self) -> float | None:
        return None if self.minutes is None else self.minutes * 60.0

    def describe(self) -> str:
        return f"{self.gens} generations" if self.gens is not None else f"{self.minutes:g} minutes"

    def to_dict(self) -> dict[str, Any]:
        return {"gens": self.gens} if self.gens is not None else {"minutes": self.minutes}


@dataclass
class Member:
    name: str
    seed: int
    setting: dict[str, str]
    retries: int = 0  # resumes after a crash (persisted, so a restarted scheduler keeps counting)
    failed: str | None = None  # why it was given up, once retries are spent

    @property
    def sets(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.setting.items()]


@dataclass
class Sweep:
    path: Path
    task: str
    seeds: list[int]
    grid: list[tuple[str, list[str]]]
    budget: Budget
    base_set: list[str] = field(default_factory=list)
    pop: int | None = None
    threads: int = 1
    parallel: int = 1
    members: list[Member] = field(default_factory=list)
    slurm_jobs: list[str] = field(default_factory=list)
    created: float = 0.0

    # --- members --------------------------------------------------------------------------------
    def member(self, name: str) -> Member:
        for m in self.members:
            if m.name == name:
                return m
        raise SweepError(f"{self.path}: no member {name!r}")

    def run_dir(self, m: Member) -> Path:
        return self.path / m.name

    @property
    def settings(self) -> list[dict[str, str]]:
        return settings_of(self.grid)

    def run_args(self, m: Member) -> list[str]:
        """``wann-engine`` arguments that start member ``m`` (after ``run``)."""
        args = ["--task", self.task, "--name", m.name, "--runs-dir", str(self.path), "--seed", str(m.seed),
                "--threads", str(self.threads), "--gens", str(self.budget.max_gen), "--quiet"]
        if self.pop is not None:
            args += ["--pop", str(self.pop)]
        for s in self.base_set + m.sets:
            args += ["--set", s]
        return args

    def add_seeds(self, seeds: list[int]) -> list[Member]:
        """Members for seeds not in the sweep yet (appended, seed-major); returns them."""
        new = [s for s in seeds if s not in self.seeds]
        added = [Member(n, s, st) for n, s, st in member_names(self.settings, new)]
        taken = {m.name for m in self.members}
        for m in added:
            if m.name in taken:
                raise SweepError(f"member name {m.name} would repeat")
        self.seeds += new
        self.members += added
        return added

    # --- files ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "task": self.task, "pop": self.pop, "set": self.base_set,
            "grid": [[k, v] for k, v in self.grid], "seeds": self.seeds, "budget": self.budget.to_dict(),
            "threads": self.threads, "parallel": self.parallel, "created": self.created,
            "slurm_jobs": self.slurm_jobs,
            "members": [dataclasses.asdict(m) for m in self.members],
        }

    @classmethod
    def from_dict(cls, path: Path, d: dict[str, Any]) -> Sweep:
        f = Path(path) / SWEEP_FILE
        check_header(d, FORMAT, VERSION, f, SweepError, label="sweep")
        try:
            b = d["budget"]
            return cls(
                path=Path(path), task=str(d["task"]), seeds=[int(s) for s in d["seeds"]],
                grid=[(str(k), [str(x) for x in v]) for k, v in d["grid"]],
                budget=Budget(gens=b.get("gens"), minutes=b.get("minutes")),
                base_set=[str(s) for s in d.get("set", [])], pop=d.get("pop"),
                threads=int(d.get("threads", 1)), parallel=int(d.get("parallel", 1)),
                members=[Member(str(m["name"]), int(m["seed"]), {str(k): str(v) for k, v in m["setting"].items()},
                                int(m.get("retries", 0)), m.get("failed")) for m in d["members"]],
                slurm_jobs=[str(j) for j in d.get("slurm_jobs", [])], created=float(d.get("created", 0.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise SweepError(f"{f}: damaged sweep file ({type(e).__name__}: {e})") from None

    def save(self) -> None:
        write_bytes(self.path / SWEEP_FILE, encode(self.to_dict(), indent=True))


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def load(path: Path) -> Sweep:
    f = Path(path) / SWEEP_FILE
    if not f.is_file():
        raise SweepError(f"{path} is not a sweep folder (no {SWEEP_FILE})")
    try:
        d = orjson.loads(f.read_bytes())
    except OSError as e:
        raise SweepError(f"{f}: {e.strerror}") from None
    except orjson.JSONDecodeError as e:
        raise SweepError(f"{f}: not valid JSON ({e})") from None
    return Sweep.from_dict(Path(path), d)


@contextmanager
def editing(path: Path) -> Iterator[Sweep]:
    """Read-modify-write ``sweep.json`` under a short exclusive flock, so the scheduler, ``extend``
    and Slurm tasks never lose each other's changes."""
    fd = os.open(Path(path) / WRITE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        sw = load(path)
        yield sw
        sw.save()
    finally:
        os.close(fd)  # closing drops the flock


def create(path: Path, task: str, seeds: list[int], grid: list[tuple[str, list[str]]], budget: Budget,
           base_set: list[str] | None = None, pop: int | None = None, threads: int = 1,
           parallel: int = 1) -> Sweep:
    """Make the sweep folder and its ``sweep.json`` (never over an existing folder)."""
    path = Path(path)
    if not seeds:
        raise SweepError("--seeds: no seeds")
    if threads < 1:
        raise SweepError(f"--threads {threads}: must be at least 1")
    if parallel < 1:
        raise SweepError(f"--parallel {parallel}: must be at least 1")
    for k, _ in grid:
        if any(s.partition("=")[0].strip() == k for s in base_set or []):
            raise SweepError(f"{k} is both in --grid and in --set")
    members = [Member(n, s, st) for n, s, st in member_names(settings_of(grid), seeds)]
    for m in members:
        rundir.check_name(m.name)
    if path.exists():
        what = "a sweep" if is_sweep(path) else "a file or folder"
        raise SweepError(f"{path} already exists ({what}); use `wann-engine sweep resume` or `extend`"
                         if is_sweep(path) else f"{path} already exists ({what})")
    try:
        path.mkdir(parents=True)
    except OSError as e:
        raise SweepError(f"cannot create {path}: {e.strerror}") from None
    sw = Sweep(path=path, task=task, seeds=list(seeds), grid=grid, budget=budget, base_set=list(base_set or []),
               pop=pop, threads=threads, parallel=parallel, members=members, created=time.time())
    sw.save()
    set_wanted(path, "run")
    return sw


# --- the sweep's wanted state -------------------------------------------------------------------
def set_wanted(path: Path, want: Literal["run", "stop"]) -> None:
    write_bytes(Path(path) / CONTROL_FILE, encode({"want": want, "t": time.time()}))


def wanted(path: Path) -> Literal["run", "stop"]:
    try:
        want = orjson.loads((Path(path) / CONTROL_FILE).read_bytes()).get("want")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return "run"
    return "stop" if want == "stop" else "run"


def scheduler_pid(path: Path) -> int | None:
    """The pid of the scheduler running this sweep, or None (the lock is free)."""
    f = Path(path) / SCHEDULER_LOCK
    if not rundir.lock_held(f):
        return None
    try:
        return int(orjson.loads(f.read_bytes())["pid"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return -1


class SchedulerLock(rundir.HeldLock):
    """An exclusive flock on ``sweep.lock`` for the scheduler's lifetime."""

    def __init__(self, path: Path) -> None:
        super().__init__(Path(path) / SCHEDULER_LOCK, _scheduler_busy,
                         lambda: {"pid": os.getpid(), "started": time.time()})


def _scheduler_busy(sweep_dir: Path) -> SweepError:
    return SweepError(f"{sweep_dir}: a scheduler is already running it (pid {scheduler_pid(sweep_dir)})")


# --- a member's state, from its run directory ---------------------------------------------------
@dataclass
class MemberStatus:
    member: Member
    state: MemberState
    gen: int = 0  # generations done
    total: int = 0  # the run's maxGen
    best: float | None = None
    elapsed: float = 0.0
    alive: bool = False
    message: str = ""  # why it crashed or failed
    extendable: bool = False  # finished a shorter budget than the sweep's (the budget was extended)

    @property
    def short_of_budget(self) -> bool:
        return self.state in ("stopped", "crashed")


def _elapsed(run: Path) -> float:
    ev = control.last_events(run, {"generation"}).get("generation")
    x = getattr(ev, "elapsed", 0.0)
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else 0.0


def last_error(run: Path) -> str:
    """The run's error event message, else the last line of its engine log or launch log."""
    ev = control.last_events(run, {"error", "run_start"})
    err, start = ev.get("error"), ev.get("run_start")
    if err is not None and err.t >= (start.t if start is not None else 0.0):
        return str(getattr(err, "message", "error"))
    for log in (run / rundir.LOG, control.launch_log(run.parent, run.name)):
        try:
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            continue
        if lines:
            return lines[-1][-300:]
    return "the engine ended without a word (killed?)"


def member_status(sw: Sweep, m: Member, stopping: bool | None = None) -> MemberStatus:
    """Where member ``m`` stands against the sweep's budget (reads the run directory only). A member
    whose engine still runs while the sweep is asked to stop is ``stopping`` (``stopping``: whether the
    sweep is asked to stop, read from ``sweep-control.json`` when not given)."""
    run = sw.run_dir(m)
    if m.failed is not None:
        st = MemberStatus(m, "failed", message=m.failed)
        if (run / rundir.CONFIG).is_file():
            s = control.summary(run)
            st.gen, st.total, st.best, st.alive = s.gen, s.total, s.best, s.state in ("running", "paused")
        return st
    if not run.exists():
        return MemberStatus(m, "pending", total=sw.budget.max_gen)
    s = control.summary(run)
    st = MemberStatus(m, "running", gen=s.gen, total=s.total, best=s.best)
    wall = sw.budget.seconds
    if wall is not None:
        st.elapsed = _elapsed(run)
    if s.state in ("running", "paused", "starting"):
        st.alive = True
        st.state = s.state  # type: ignore[assignment]
        if wall is not None and st.elapsed >= wall:
            st.state = "stopping"
        elif (stopping if stopping is not None else wanted(sw.path) == "stop") and stop_reaches(sw, run):
            st.state = "stopping"
    elif s.state == "finished":
        st.extendable = wall is None and s.total < sw.budget.max_gen
        st.state = "stopped" if st.extendable else "done"
    elif s.state == "stopped":
        reached = st.elapsed >= wall if wall is not None else s.gen >= sw.budget.max_gen
        st.state = "done" if reached else "stopped"
    else:  # crashed, or damaged (a run directory the engine could not finish making)
        st.state = "crashed"
        st.message = s.damaged if s.state == "damaged" and s.damaged else last_error(run)
    return st


def stop_reaches(sw: Sweep, run: Path) -> bool:
    """Whether a live member of a sweep asked to stop is being stopped: always while the scheduler runs
    (it asks every engine, even one that starts later); without a scheduler, only an engine started before
    the stop was asked (a member resumed by hand after ``sweep stop`` simply runs)."""
    if scheduler_pid(sw.path) is not None:
        return True
    started = (rundir.lock_info(run) or {}).get("started")
    try:
        asked = orjson.loads((Path(sw.path) / CONTROL_FILE).read_bytes()).get("t")
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return True
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (started, asked))
    return not (numbers and started > asked)


def statuses(sw: Sweep) -> list[MemberStatus]:
    stopping = wanted(sw.path) == "stop"
    return [member_status(sw, m, stopping) for m in sw.members]


def extend_run_budget(run: Path, max_gen: int) -> bool:
    """Raise a stopped run's ``maxGen`` to ``max_gen`` (never lowers it); True if it changed."""
    cfg = rundir.read_config(run)
    if rundir.engine_alive(run) or cfg.maxGen >= max_gen:
        return False
    rundir.write_config(run, dataclasses.replace(cfg, maxGen=max_gen))
    return True


def default_parallel(threads: int) -> int:
    """Members at once: the cores this process may use, divided by each member's threads."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, threads))


def counts(sts: list[MemberStatus]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sts:
        out[s.state] = out.get(s.state, 0) + 1
    return out
