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

import fcntl
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

import orjson

from .atomic import write_bytes
from .config import Config, ConfigError
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

CHECKPOINT_FORMAT = "wann-checkpoint"
CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RunDirError(RuntimeError):
    """A run directory that cannot be used as asked; the message says why."""


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise RunDirError(f"run name {name!r}: use letters, digits, '.', '_' or '-' (max 128, no '/')")
    return name


def create(runs_dir: Path, name: str) -> Path:
    """Make a new, empty run directory; never reuse an existing one."""
    path = Path(runs_dir) / check_name(name)
    try:
        Path(runs_dir).mkdir(parents=True, exist_ok=True)
        path.mkdir()
    except FileExistsError:
        raise RunDirError(f"{path} already exists (resume it with `wann-engine resume {path}`)") from None
    except OSError as e:
        raise RunDirError(f"cannot create {path}: {e.strerror}") from None
    return path


def write_config(path: Path, cfg: Config) -> None:
    write_bytes(path / CONFIG, encode(cfg.to_dict(), indent=True))


def read_config(path: Path) -> Config:
    f = Path(path) / CONFIG
    if not f.is_file():
        raise RunDirError(f"{path} is not a run directory (no {CONFIG})")
    try:
        return Config.from_dict(orjson.loads(f.read_bytes()))
    except (orjson.JSONDecodeError, ConfigError, TypeError) as e:
        raise RunDirError(f"{f}: damaged config ({e})") from None


class Lock:
    """An exclusive flock on ``engine.lock``: two engines never write one run. Released on exit,
    also when the process is killed (the kernel drops the lock)."""

    def __init__(self, path: Path) -> None:
        self.file = Path(path) / LOCK
        self.fd: int | None = None

    def acquire(self) -> Lock:
        fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = lock_info(self.file.parent)
            pid = info.get("pid", "?") if info else "?"
            raise RunDirError(f"{self.file.parent} is in use by another engine (pid {pid})") from None
        os.ftruncate(fd, 0)
        os.write(fd, encode({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def lock_info(path: Path) -> dict[str, Any] | None:
    try:
        return orjson.loads((Path(path) / LOCK).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def engine_alive(path: Path) -> bool:
    """True while an engine holds the run's lock."""
    f = Path(path) / LOCK
    try:
        fd = os.open(f, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


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
    return check_header(doc, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, f, RunDirError, label="checkpoint")
