"""Asking a run's engine to act, from any process: the one module the console uses for that.

Requests go through ``control.json`` in the run directory: it holds the wanted
state (``run``, ``pause`` or ``stop``), which the engine reads at every
generation boundary (and several times a second while paused). Signals work too:
SIGTERM/SIGINT stop gracefully, SIGUSR1 pauses, SIGUSR2 continues. Requests and
kills are made only to a run whose engine is running (``NotRunning`` otherwise),
and a kill only to the process holding the run's lock on this machine.

A new run is a ``LaunchSpec`` (the console's form and ``wann-tui --batch`` build
one; ``default_name`` names it): checked by ``config.for_run`` as ``wann-engine
run`` is, turned into the engine's arguments by ``argv()``. ``spawn`` starts an
engine the caller waits for (``--batch``); ``launch``/``resume`` start one detached
from the caller (new session, stdin from /dev/null, output to ``engine.log``), so
closing the console or losing the SSH link leaves the run going.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import orjson

from . import rundir
from .atomic import write_bytes
from .config import Config, for_run
from .events import STATE_TYPES, Event, Generation, RunStart, encode, read_tail

Want = Literal["run", "pause", "stop"]
State = Literal["starting", "running", "paused", "stopped", "finished", "crashed", "damaged"]


# --- requests -------------------------------------------------------------------------------
WANTS: tuple[Want, ...] = ("run", "pause", "stop")
#: ``control.json`` holds a few dozen bytes; a larger file is not a request and reads as "run"
MAX_CONTROL_BYTES = 4096


class NotRunning(rundir.RunDirError):
    """A request or a kill for a run whose engine is not running."""


class RunExists(rundir.RunDirError):
    """A new run's directory exists already."""

    def __init__(self, run: Path) -> None:
        super().__init__(f"{run} already exists")
        self.run = run


def request(run: Path, want: Want) -> None:
    """Record ``want`` in ``control.json`` (the engine's own record; others go through :func:`ask`)."""
    if want not in WANTS:
        raise ValueError(f"unknown request {want!r}")
    path = Path(run) / rundir.CONTROL
    try:
        write_bytes(path, encode({"want": want, "t": time.time()}))
    except OSError as e:
        raise rundir.RunDirError(f"cannot write {path}: {e.strerror or e}") from None


def ask(run: Path, want: Want) -> None:
    """Ask the running engine of ``run`` to run, pause or stop at its next generation boundary;
    :class:`NotRunning` (nothing written) when no engine holds the run's lock."""
    run = Path(run)
    if not rundir.engine_alive(run):
        raise NotRunning(f"{run}: no engine is running")
    request(run, want)


def pause(run: Path) -> None:
    ask(run, "pause")


def resume_paused(run: Path) -> None:
    ask(run, "run")


def stop(run: Path) -> None:
    ask(run, "stop")


_seen: dict[Path, tuple[tuple[int, ...], Want]] = {}  # control.json -> (its stat, what it asked)


def wanted(run: Path) -> Want:
    """The engine's side: the state asked for (``run`` if nothing readable was asked).

    Called at every generation boundary: the file is read only when its stat (inode, size,
    mtime) changed, and never more than :data:`MAX_CONTROL_BYTES` of it, so a huge or
    damaged ``control.json`` costs one ``stat``. Never raises.
    """
    path = Path(run) / rundir.CONTROL
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        _seen.pop(path, None)
        return "run"
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode)
    hit = _seen.get(path)
    # a file changed in the last seconds may share its stat with the one before it (a recycled inode,
    # a coarse clock tick): read it again; reads are bounded, so this stays cheap
    settled = time.time_ns() - st.st_mtime_ns > 2_000_000_000
    if hit is not None and hit[0] == key and settled:
        return hit[1]
    want = _read_want(path, key, st)
    _seen[path] = (key, want)
    return want


def _read_want(path: Path, key: tuple[int, ...], st: os.stat_result) -> Want:
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CONTROL_BYTES:
        return "run"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if replaced by a FIFO
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "run"
            data = os.read(fd, MAX_CONTROL_BYTES + 1)
        finally:
            os.close(fd)
        doc = orjson.loads(data) if len(data) <= MAX_CONTROL_BYTES else None
    except (OSError, orjson.JSONDecodeError):
        return "run"
    want = doc.get("want") if isinstance(doc, dict) else None
    return want if isinstance(want, str) and want in WANTS else "run"  # type: ignore[return-value]


def kill(run: Path) -> bool:
    """SIGKILL the engine of ``run`` (the checkpoint stays; the run can be resumed). False if none runs.

    Only the process that holds the run's lock on this machine is signalled: a lock written on
    another host (a runs folder shared between machines) is refused with that host's name, and a
    pid that ``/proc/locks`` does not show holding the lock is never signalled.
    """
    run = Path(run)
    if not rundir.engine_alive(run):
        return False
    info = rundir.lock_info(run)
    info = info if isinstance(info, dict) else {}
    host, here = info.get("host"), socket.gethostname()
    if isinstance(host, str) and host != here:
        raise rundir.RunDirError(f"{run.name}: its engine runs on host {host!r}, not on this one ({here}): "
                                 f"kill it there")
    pid = info.get("pid")
    if not (type(pid) is int and 1 < pid < 2**31) or not _holds_lock(pid, run / rundir.LOCK):
        raise rundir.RunDirError(f"{run / rundir.LOCK}: pid {pid!r} is not the process holding the lock on "
                                 f"this machine; nothing killed")
    try:
        os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _holds_lock(pid: int, lock: Path) -> bool:
    """True if ``/proc/locks`` shows ``pid`` holding the flock on ``lock`` (True where there is no
    ``/proc/locks`` to ask)."""
    try:
        ino = os.stat(lock).st_ino
        table = Path("/proc/locks").read_text()
    except FileNotFoundError:
        return not Path("/proc/locks").exists()
    except OSError:
        return False
    for line in table.splitlines():
        f = line.split()
        if len(f) >= 6 and f[1] == "FLOCK" and f[4] == str(pid) and f[5].rsplit(":", 1)[-1] == str(ino):
            return True
    return False


# --- starting engines -----------------------------------------------------------------------
def engine_command() -> list[str]:
    return [sys.executable, "-m", "wann_engine"]


def default_name(task: str, when: float | None = None) -> str:
    """A valid run name for ``task`` (any task string): ``<task>-<date>-<time>``, with every
    character a run name cannot hold replaced by ``_``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", task).lstrip("._-")[:100].rstrip("._-") or "run"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(when))}"


@dataclass(frozen=True)
class LaunchSpec:
    """A new run as the console's form and ``wann-tui --batch`` ask for it: checked by
    :meth:`check` (the configuration by ``config.for_run``, as ``wann-engine run`` does), turned
    into the engine's command line by :meth:`argv`. ``name=None`` takes :func:`default_name`."""

    task: str = "swingup"
    name: str | None = None
    runs_dir: Path = Path("runs")
    pop: int | None = None
    gens: int | None = None
    seed: int = 0
    workers: int = 1
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs_dir", Path(self.runs_dir))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if self.name is None:
            object.__setattr__(self, "name", default_name(self.task))

    @property
    def run(self) -> Path:
        return self.runs_dir / str(self.name)

    def check(self) -> Config:
        """The run's configuration; ConfigError or RunDirError (one line, naming the problem) otherwise."""
        rundir.check_name(str(self.name))
        cfg = for_run(self.task, self.pop, self.gens, self.seed, self.workers, 0, self.overrides)
        if self.runs_dir.exists() and not self.runs_dir.is_dir():
            raise rundir.RunDirError(f"--runs-dir {self.runs_dir}: not a directory")
        if self.run.exists() or self.run.is_symlink():
            raise RunExists(self.run)
        return cfg

    def argv(self) -> list[str]:
        """The engine's arguments (after ``python -m wann_engine``)."""
        args = ["run", "--task", self.task, "--name", str(self.name), "--runs-dir", str(self.runs_dir),
                "--seed", str(self.seed), "--workers", str(self.workers), "--quiet"]
        if self.pop is not None:
            args += ["--pop", str(self.pop)]
        if self.gens is not None:
            args += ["--gens", str(self.gens)]
        for o in self.overrides:
            args += ["--set", o]
        return args


def resume_argv(run: Path) -> list[str]:
    """The engine's arguments to continue ``run``, after checking it can be continued."""
    run = Path(run)
    if not run.is_dir():
        raise rundir.RunDirError(f"{run}: no such run directory")
    rundir.read_config(run)
    if rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run} is already running (an engine holds its lock)")
    return ["resume", str(run), "--quiet"]


def spawn(args: list[str], out: IO[bytes]) -> subprocess.Popen:
    """Start an engine with ``args``, its output to ``out``, in a session of its own (a Ctrl-C at
    the caller's terminal reaches only the caller, which decides what to ask the engine).
    The caller waits for it: :func:`spawn_detached` for engines nobody waits for."""
    with open(os.devnull, "rb") as devnull:
        return subprocess.Popen(engine_command() + args, stdin=devnull, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)


def spawn_detached(args: list[str], log: Path) -> subprocess.Popen:
    """Start an engine that outlives the caller, its output appended to ``log``. A daemon thread
    waits for it, so an engine that ends while the caller lives leaves no zombie (a zombie would
    also look alive to ``kill``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = spawn(args, out)
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc


def launch(spec: LaunchSpec) -> Path:
    """Start a new run in the background; returns its directory (created by the engine)."""
    spec.check()
    # the log lives beside the run folder until the engine has made the folder, then the engine
    # (``--detached``) writes to the run's engine.log; an empty launch log is removed by
    # :func:`tidy_launch_log`
    spawn_detached([*spec.argv(), "--detached"], launch_log(spec.runs_dir, str(spec.name)))
    return spec.run


@dataclass(frozen=True)
class SweepSpec:
    """A new sweep as the console's form asks for it: ``wann-engine sweep start RUNS/NAME ... --detach``.
    :meth:`check` refuses what ``sweep start`` would refuse (seeds, grid, every setting's configuration,
    an existing folder) before anything is started."""

    task: str = "swingup"
    name: str | None = None
    runs_dir: Path = Path("runs")
    seeds: str = "0"
    grid: tuple[str, ...] = ()
    pop: int | None = None
    gens: int | None = None  # None: the task's maxGen
    threads: int = 1
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs_dir", Path(self.runs_dir))
        object.__setattr__(self, "grid", tuple(self.grid))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if self.name is None:
            object.__setattr__(self, "name", "sweep-" + default_name(self.task))

    @property
    def path(self) -> Path:
        return self.runs_dir / str(self.name)

    def check(self) -> int:
        """The members' generation budget; SweepError, ConfigError or RunDirError (one line) otherwise."""
        from . import sweep as sweepmod

        rundir.check_name(str(self.name))
        seeds = sweepmod.parse_seeds(self.seeds)
        if not seeds:
            raise sweepmod.SweepError("--seeds: no seeds")
        if self.threads < 1:
            raise sweepmod.SweepError(f"--threads {self.threads}: must be at least 1")
        grid = sweepmod.parse_grid(list(self.grid))
        budget = self.gens
        for setting in sweepmod.settings_of(grid):
            cfg = for_run(self.task, self.pop, self.gens, seeds[0], 1, self.threads,
                          (*self.overrides, *(f"{k}={v}" for k, v in setting.items())))
            budget = budget or cfg.maxGen
        for m, _, _ in sweepmod.member_names(sweepmod.settings_of(grid), seeds):
            rundir.check_name(m)
        if self.runs_dir.exists() and not self.runs_dir.is_dir():
            raise rundir.RunDirError(f"--runs-dir {self.runs_dir}: not a directory")
        if self.path.exists() or self.path.is_symlink():
            raise RunExists(self.path)
        return int(budget or 1)

    def argv(self, gens: int) -> list[str]:
        """The engine's arguments (after ``python -m wann_engine``)."""
        args = ["sweep", "start", str(self.path), "--task", self.task, "--seeds", self.seeds, "--gens", str(gens),
                "--threads", str(self.threads), "--detach", "--quiet"]
        if self.pop is not None:
            args += ["--pop", str(self.pop)]
        for g in self.grid:
            args += ["--grid", g]
        for o in self.overrides:
            args += ["--set", o]
        return args


def launch_sweep(spec: SweepSpec) -> Path:
    """Start a new sweep whose scheduler runs in the background; returns its folder (made by the engine).
    The starting command's output goes to the launch log beside it."""
    gens = spec.check()
    spawn_detached(spec.argv(gens), launch_log(spec.runs_dir, str(spec.name)))
    return spec.path


def resume(run: Path) -> subprocess.Popen:
    """Continue a stopped or crashed run in the background."""
    return spawn_detached(resume_argv(run), Path(run) / rundir.LOG)


def launch_log(runs_dir: Path, name: str) -> Path:
    """Where ``launch`` sends the engine's output until the engine has made the run directory."""
    return Path(runs_dir) / f".{name}.launch.log"


def tidy_launch_log(run: Path) -> None:
    """Remove the launch log of a run that exists, if the log stayed empty (the engine wrote all its
    output to the run's engine.log)."""
    run = Path(run)
    log = launch_log(run.parent, run.name)
    try:
        if run.is_dir() and log.stat().st_size == 0:
            log.unlink()
    except OSError:
        pass


def delete(run: Path) -> None:
    """Remove a run directory (and its launch log); refuses anything but a stopped run directory."""
    run = Path(run)
    rundir.read_config_newer_ok(run)  # only ever delete real run directories (a newer engine's too)
    if rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run.name} is running: stop or kill it first")
    shutil.rmtree(run)
    launch_log(run.parent, run.name).unlink(missing_ok=True)


# --- reading a run's state ------------------------------------------------------------------
#: files any of which makes a folder of a runs folder a run (maybe a damaged one)
_RUN_FILES = (rundir.CONFIG, rundir.EVENTS, rundir.LOCK, rundir.CHECKPOINT)


@dataclass
class RunSummary:
    path: Path
    name: str
    task: str
    state: State
    gen: int  # generations done
    total: int
    best: float | None
    evals_per_s: float | None
    updated: float  # mtime of the event stream
    damaged: str | None = None  # why the run (or the end of its event stream) cannot be read as it should
    retested: float | None = None  # the re-tested champion's mean (``best`` is the raw best mean)
    retest_episodes: int | None = None  # its episodes (all weights)
    newer_keys: tuple[str, ...] = ()  # config keys this engine does not know: a newer engine wrote the run


def newer_engine_note(keys: tuple[str, ...]) -> str:
    """What a listing says of a run whose config holds keys this engine does not know."""
    more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
    return f"written by a newer wann-engine (unknown option {keys[0]!r}{more}): upgrade to resume it"


def is_run_dir(path: Path) -> bool:
    """A folder that holds a run, or what is left of one (a damaged run is a run too)."""
    path = Path(path)
    try:
        return path.is_dir() and not path.name.startswith(".") and any((path / f).exists() for f in _RUN_FILES)
    except OSError:
        return False


def last_events(run: Path, want: set[str], max_bytes: int = 4 << 20) -> dict[str, Event]:
    """The last valid event of each type in ``want``, reading the events file backwards."""
    return read_tail(Path(run) / rundir.EVENTS, want, max_bytes=max_bytes).last


def _state_known(found: dict[str, Event]) -> bool:
    """Stop reading back at the newest generation: every state event newer than it has been met by then
    (it is the current state), and an older one says nothing more (a run that wrote a generation after
    it was running again; a run that ended wrote its ``stopped``/``finished`` after its last generation).
    Reading on to the ``run_start`` of a long live run would decode megabytes on every look."""
    return "generation" in found


def _start_found(found: dict[str, Event]) -> bool:
    """Without a config the ``run_start`` names the task and the budget: read back to it."""
    return "generation" in found and "run_start" in found


def _config(run: Path) -> tuple[Config | None, str | None, tuple[str, ...]]:
    """The run's config (or None and why), and the keys in it that this engine does not know."""
    if not (run / rundir.CONFIG).is_file():
        return None, f"no {rundir.CONFIG} (the engine never wrote it)", ()
    try:
        cfg, newer = rundir.read_config_newer_ok(run)
        return cfg, None, tuple(newer)
    except rundir.RunDirError as e:
        return None, str(e).replace(f"{run}{os.sep}", ""), ()
    except Exception as e:  # noqa: BLE001 - whatever is in the file, the run is listed as damaged
        return None, f"{rundir.CONFIG}: damaged config ({type(e).__name__}: {e})", ()


def summary(run: Path) -> RunSummary:
    """The state of one run, from its config and the end of its event stream; never raises: a run
    that cannot be read as it should is still summarised, with ``damaged`` saying why."""
    run = Path(run)
    try:
        return _summary(run)
    except Exception as e:  # noqa: BLE001 - an unreadable folder is a damaged run, not the end of a listing
        return RunSummary(path=run, name=run.name, task="?", state="damaged", gen=0, total=0, best=None,
                          evals_per_s=None, updated=0.0, damaged=f"cannot read it ({type(e).__name__}: {e})")


def _summary(run: Path) -> RunSummary:
    cfg, damaged, newer_keys = _config(run)
    # the lock first: an engine writes its last state event before it releases the lock, so a tail read
    # after a free lock is complete (read the other way round, an engine stopping between the two reads
    # leaves a tail without its ``stopped`` event and a free lock: a stopping run read as crashed)
    alive = rundir.engine_alive(run)
    tail = read_tail(run / rundir.EVENTS, {"generation", *STATE_TYPES},
                     stop=_state_known if cfg is not None else _start_found)
    newest = tail.newest(STATE_TYPES)
    state: State
    if alive:
        if newest is None:
            state = "running" if "generation" in tail.last else "starting"
        else:
            state = "paused" if newest.type == "paused" else "running"
    elif cfg is None:
        state = "damaged"
    elif newest is not None and newest.type in ("finished", "stopped"):
        state = "finished" if newest.type == "finished" else "stopped"
    else:
        state = "crashed"
    if tail.damaged and damaged is None:
        more = len(tail.damaged) - 1
        damaged = f"{rundir.EVENTS}: {tail.damaged[0]}" + (f" (and {more} more damaged lines)" if more else "")
    gen = tail.last.get("generation")
    g = gen if isinstance(gen, Generation) else None
    try:
        updated = (run / rundir.EVENTS).stat().st_mtime
    except OSError:
        try:
            updated = run.stat().st_mtime
        except OSError:
            updated = 0.0
    start = tail.last.get("run_start")
    task = cfg.task if cfg is not None else (start.task if isinstance(start, RunStart) else "") or "?"
    total = cfg.maxGen if cfg is not None else (start.total if isinstance(start, RunStart) else 0)
    return RunSummary(
        path=run, name=run.name, task=task, state=state, gen=g.gen + 1 if g else 0, total=total,
        best=g.best_mean if g and math.isfinite(g.best_mean) else None,
        evals_per_s=g.evals_per_s if g and math.isfinite(g.evals_per_s) else None, updated=updated,
        damaged=damaged, retested=g.retest_mean if g and math.isfinite(g.retest_mean) else None,
        retest_episodes=g.retest_episodes if g else None, newer_keys=newer_keys,
    )


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Summaries of every run under ``runs_dir``, damaged ones included (other folders are skipped),
    newest first."""
    root = Path(runs_dir)
    try:
        dirs = [d for d in root.iterdir() if is_run_dir(d)]
    except OSError:
        return []
    return sorted((summary(d) for d in dirs), key=lambda s: s.updated, reverse=True)


# --- notes, tags, rename, archive -------------------------------------------------------------
#: a run's notes and tags (written by the console, never read by the engine)
NOTES = "notes.json"
#: where archived runs go: a hidden folder of the runs folder, so listings skip it
ARCHIVE = ".archive"
MAX_NOTES_BYTES = 64 << 10
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}$")


@dataclass(frozen=True)
class RunNotes:
    text: str = ""
    tags: tuple[str, ...] = ()


def read_notes(run: Path) -> RunNotes:
    """A run's notes and tags; a missing, oversized or damaged file reads as none (never raises)."""
    try:
        path = Path(run) / NOTES
        if path.stat().st_size > MAX_NOTES_BYTES:
            return RunNotes()
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return RunNotes()
    if not isinstance(doc, dict):
        return RunNotes()
    text = doc.get("text") if isinstance(doc.get("text"), str) else ""
    tags = doc.get("tags") if isinstance(doc.get("tags"), list) else []
    return RunNotes(text, tuple(t for t in tags if isinstance(t, str) and _TAG.fullmatch(t)))


def parse_tags(text: str) -> tuple[str, ...]:
    """Tags typed as words separated by spaces or commas; ValueError names the first bad one."""
    out: list[str] = []
    for t in re.split(r"[\s,]+", text.strip()):
        if not t:
            continue
        if not _TAG.fullmatch(t):
            raise ValueError(f"tag {t!r}: use letters, digits, '.', '_', ':', '+' or '-' (max 40)")
        if t not in out:
            out.append(t)
    return tuple(out)


def write_notes(run: Path, notes: RunNotes) -> None:
    """Replace a run's notes and tags (atomically: a reader sees the old file or the new one)."""
    run = Path(run)
    rundir.read_config_newer_ok(run)  # only into real run directories
    tags = parse_tags(" ".join(notes.tags))
    data = orjson.dumps({"text": notes.text, "tags": list(tags)}, option=orjson.OPT_INDENT_2)
    if len(data) > MAX_NOTES_BYTES:
        raise ValueError(f"notes: {len(data)} bytes, at most {MAX_NOTES_BYTES}")
    write_bytes(run / NOTES, data)


def _move(run: Path, dst: Path) -> Path:
    run = Path(run)
    rundir.read_config_newer_ok(run)  # only real run directories move
    if rundir.engine_alive(run):
        raise rundir.RunDirError(f"{run.name} is running: stop it first")
    if dst.exists() or dst.is_symlink():
        raise RunExists(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.rename(run, dst)
    launch_log(run.parent, run.name).unlink(missing_ok=True)
    return dst


def rename(run: Path, name: str) -> Path:
    """Give a run that is not running another name in the same runs folder; its new path."""
    run = Path(run)
    return _move(run, run.parent / rundir.check_name(name.strip()))


def archive(run: Path) -> Path:
    """Move a run that is not running into ``<runs>/.archive/`` (out of every listing, kept whole)."""
    run = Path(run)
    return _move(run, run.parent / ARCHIVE / run.name)
