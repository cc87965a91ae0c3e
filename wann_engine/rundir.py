"""A run directory: its files, the engine's lock, and checkpoints.

Layout of ``runs/<name>/``::

    config.json        resolved configuration (written once, at the start)
    events.jsonl       the event stream (append-only)
    checkpoint.json    everything needed to continue (replaced atomically)
    champion.json      best network so far, project format (replaced atomically)
    champion.out       the same network in the original matrix format
    control.json       requests to the running engine (see control.py)
    engine.lock        held (flock) by the engine process while it runs; holds its pid
    engine.log         stdout/stderr of an engine started in the background
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from .atomic import fsync_dir, write_bytes
from .config import OLDER_RUNS, Config, ConfigError
from .docformat import check_header
from .events import encode

CONFIG = "config.json"
EVENTS = "events.jsonl"
CHECKPOINT = "checkpoint.json"
CHAMPION_JSON = "champion.json"
CHAMPION_OUT = "champion.out"
CONTROL = "control.json"
LOCK = "engine.lock"
LOG = "engine.log"
STAGING = ".new"  # RUNS/.new/NAME.<pid>: a run being made (see NewRun)

CHECKPOINT_FORMAT = "wann-checkpoint"
CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why."""


def check_name(name: str) -> str:
    if not name:
        raise RunDirError("run name is empty: give one with --name, or leave --name out for task-date-time")
    if not _NAME.fullmatch(name):
        raise RunDirError(f"run name {name!r}: use letters, digits, '.', '_' or '-' (max 128, no '/')")
    return name


def check_runs_dir(runs_dir: Path) -> Path:
    """``runs_dir`` as a folder that exists or can be made (not a file)."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunDirError(f"--runs-dir {runs_dir}: not a folder")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(f"--runs-dir {runs_dir}: not a folder (a part of the path is a file)") from None
    except OSError as e:
        raise RunDirError(f"--runs-dir {runs_dir}: cannot create it ({e.strerror})") from None
    return runs_dir


def check_new(runs_dir: Path, name: str) -> Path:
    """The path of a new run ``runs_dir/name``: refused when it exists; writes nothing."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunDirError(f"--runs-dir {runs_dir}: not a folder")
    path = runs_dir / check_name(name)
    if path.exists() or path.is_symlink():
        raise RunDirError(f"{path} already exists (resume it with `wann-engine resume {path}`)")
    return path


class NewRun:
    """A run directory built where nobody looks (``RUNS/.new/NAME.<pid>``) and renamed into place once it
    holds everything a resume needs, so a run killed while being made leaves no half-made folder: either
    ``RUNS/NAME`` exists complete, or it does not exist and ``run`` can make it again.

    Folders left in ``.new`` by killed engines are removed by the next ``create`` of that name."""

    def __init__(self, runs_dir: Path, name: str) -> None:
        self.final = check_new(check_runs_dir(runs_dir), name)
        staging = self.final.parent / STAGING
        for old in staging.glob(f"{name}.*"):  # an engine killed while making this run
            if old.name[len(name) + 1:].isdigit() and old.is_dir() and not engine_alive(old):
                shutil.rmtree(old, ignore_errors=True)
        self.path = staging / f"{name}.{os.getpid()}"
        shutil.rmtree(self.path, ignore_errors=True)
        for attempt in range(3):
            try:
                staging.mkdir(exist_ok=True)
                self.path.mkdir()
                break
            except FileNotFoundError:  # another engine removed the empty staging folder just then
                if attempt == 2:
                    raise RunDirError(f"cannot create {self.final}: the runs folder keeps changing") from None
            except OSError as e:
                raise RunDirError(f"cannot create {self.final}: {e.strerror}") from None

    def commit(self) -> Path:
        """Move the finished folder into place (atomic); refused if the name was taken meanwhile."""
        try:
            if self.final.exists():
                raise FileExistsError
            os.rename(self.path, self.final)
        except OSError as e:
            self.discard()
            if isinstance(e, FileExistsError) or e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise RunDirError(f"{self.final} already exists (resume it with "
                                  f"`wann-engine resume {self.final}`)") from None
            raise RunDirError(f"cannot create {self.final}: {e.strerror}") from None
        fsync_dir(self.final.parent)
        try:
            self.final.parent.joinpath(STAGING).rmdir()  # only when empty: others may be making runs
        except OSError:
            pass
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        try:
            self.path.parent.rmdir()  # only when empty
        except OSError:
            pass


def write_config(path: Path, cfg: Config) -> None:
    write_bytes(path / CONFIG, encode(cfg.to_dict(), indent=True))


def read_config(path: Path) -> Config:
    """The run's config; one a newer engine wrote (with keys this engine does not know) is refused,
    since this engine would not run it as that engine does."""
    return _read_config(path, ignore_unknown=False)[0]


def read_config_newer_ok(path: Path) -> tuple[Config, list[str]]:
    """The run's config for reading it, not running it: keys this engine does not know (a newer engine
    wrote the run) are left out and returned, so a listing shows such a run as what it is, not damaged."""
    return _read_config(path, ignore_unknown=True)


def _read_config(path: Path, *, ignore_unknown: bool) -> tuple[Config, list[str]]:
    f = Path(path) / CONFIG
    if not f.is_file():
        raise RunDirError(f"{path} is not a run directory (no {CONFIG})")
    try:
        doc = orjson.loads(f.read_bytes())
        unknown: list[str] = []
        if isinstance(doc, dict):  # a run saved before an option existed continues as it ran
            doc = {**OLDER_RUNS, **doc}
            unknown = sorted(set(doc) - {fl.name for fl in fields(Config)})
        cfg = Config.from_dict(doc, ignore_unknown=ignore_unknown)
        return cfg, unknown
    except (orjson.JSONDecodeError, ConfigError, TypeError) as e:
        raise RunDirError(f"{f}: damaged config ({e}){_newer_hint(e)}") from None
    except OSError as e:
        raise RunDirError(f"{f}: cannot read it ({e.strerror})") from None


def _newer_hint(e: Exception) -> str:
    return "; written by a newer wann-engine?" if str(e).startswith("unknown config key") else ""


class HeldLock:
    """An exclusive, non-blocking flock on one file for a process's lifetime, with a small JSON
    note of who holds it (the kernel drops the lock when the process dies, also by SIGKILL).
    ``busy(folder)`` builds the exception raised when another process holds it."""

    def __init__(self, file: Path, busy: Callable[[Path], Exception], note: Callable[[], dict[str, Any]]) -> None:
        self.file = Path(file)
        self.fd: int | None = None
        self._busy = busy
        self._note = note

    def acquire(self) -> HeldLock:
        fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._busy(self.file.parent) from None
        os.ftruncate(fd, 0)
        os.write(fd, encode(self._note()))
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class Lock(HeldLock):
    """An exclusive flock on ``engine.lock``: two engines never write one run."""

    def __init__(self, path: Path) -> None:
        super().__init__(Path(path) / LOCK, _engine_busy,
                         lambda: {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})


def _engine_busy(run: Path) -> RunDirError:
    info = lock_info(run)
    pid = info.get("pid", "?") if isinstance(info, dict) else "?"
    return RunDirError(f"{run} is in use by another engine (pid {pid})")


def lock_info(path: Path) -> dict[str, Any] | None:
    try:
        return orjson.loads((Path(path) / LOCK).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def lock_held(file: Path) -> bool:
    """True while some process holds an exclusive flock on ``file`` (False when the file is missing)."""
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def engine_alive(path: Path) -> bool:
    """True while an engine holds the run's lock."""
    return lock_held(Path(path) / LOCK)


def remove_stale_temp_files(path: Path) -> None:
    """Temp files left by a process killed in the middle of an atomic write."""
    for f in Path(path).glob(".*.tmp*"):
        f.unlink(missing_ok=True)


def save_checkpoint(path: Path, search_state: dict[str, Any], extra: dict[str, Any]) -> int:
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "search": search_state, **extra}
    data = encode(doc)
    write_bytes(Path(path) / CHECKPOINT, data)
    return len(data)


def load_checkpoint(path: Path) -> dict[str, Any]:
    f = Path(path) / CHECKPOINT
    if not f.is_file():
        raise RunDirError(f"{path}: no checkpoint to resume from")
    try:
        doc = orjson.loads(f.read_bytes())
    except orjson.JSONDecodeError as e:
        raise RunDirError(f"{f}: damaged checkpoint ({e})") from None
    except OSError as e:
        raise RunDirError(f"{f}: cannot read it ({e.strerror})") from None
    return check_header(doc, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, f, RunDirError, label="checkpoint")


def checkpoint_counters(doc: dict[str, Any]) -> dict[str, Any]:
    """The run's totals saved beside the search (``elapsed`` seconds, ``episodes``, ``env_steps``),
    checked: ValueError names a field of the wrong type or range. Missing ones count from 0."""
    elapsed = doc.get("elapsed", 0.0)
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not (
            math.isfinite(elapsed) and elapsed >= 0):
        raise ValueError(f"elapsed: expected seconds (a number >= 0), found {elapsed!r:.40}")
    out: dict[str, Any] = {"elapsed": float(elapsed)}
    for key in ("episodes", "env_steps"):
        v = doc.get(key, 0)
        if type(v) is not int or not 0 <= v < 2**63:
            raise ValueError(f"{key}: expected a whole number >= 0, found {v!r:.40}")
        out[key] = v
    return out
