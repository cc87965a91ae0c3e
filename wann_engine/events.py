"""The ``events.jsonl`` stream: one JSON object per line, appended atomically, read back tolerantly.

Every event has ``v`` (schema version), ``type`` and ``t`` (unix time). Numbers
that are not finite are written as the strings "NaN", "Infinity", "-Infinity"
(JSON has no such numbers; null would be ambiguous). See docs/events.md.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

SCHEMA_VERSION = 1
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _finite(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    if isinstance(obj, np.bool_):
        return bool(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _clean(obj: Any) -> Any:
    """Replace non-finite floats (orjson would write null)."""
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.floating):
        return _finite(float(obj))
    return obj


def encode(obj: Any, indent: bool = False) -> bytes:
    opts = orjson.OPT_SERIALIZE_NUMPY if not indent else orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2
    return orjson.dumps(_clean(obj), default=_default, option=opts)


def number(x: Any) -> float:
    """A number field as a float, decoding the non-finite spellings."""
    if isinstance(x, str):
        return _NONFINITE[x]
    return float(x)


def numbers(xs: Any) -> np.ndarray:
    """A (nested) list of number fields as a float array."""
    arr = np.asarray(xs, dtype=object)
    return np.vectorize(number, otypes=[float])(arr) if arr.size else np.zeros(arr.shape)


class EventWriter:
    """Appends events; each line goes out in one ``write`` so readers never see half of a line
    unless the process dies inside that call."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        ev = {"v": SCHEMA_VERSION, "type": type_, "t": time.time(), **fields}
        os.write(self.fd, encode(ev) + b"\n")
        return ev

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


def repair_tail(path: Path) -> int:
    """Cut a half-written last line (a process killed mid-write); returns the bytes removed."""
    path = Path(path)
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        back = min(size, 1 << 20)
        while True:
            f.seek(size - back)
            chunk = f.read(back)
            cut = chunk.rfind(b"\n")
            if cut >= 0 or back == size:
                keep = size - back + cut + 1 if cut >= 0 else 0
                break
            back = min(size, back * 4)
        f.truncate(keep)
        os.fsync(f.fileno())
        return size - keep


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One event, or None for a line that is not a valid event object."""
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(ev, dict) or "type" not in ev:
        return None
    return ev


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """All complete, valid events of a file (malformed lines and a partial last line skipped)."""
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            ev = parse_line(line)
            if ev is not None:
                yield ev


def effective_generations(events: list[dict[str, Any]] | Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generation events of the run as it stands: a ``run_start`` with ``resumed_from: g``
    supersedes any earlier generation events numbered g or later (they were re-run)."""
    gens: list[dict[str, Any]] = []
    for ev in events:
        if ev["type"] == "run_start" and ev.get("resumed_from") is not None:
            g = ev["resumed_from"]
            while gens and gens[-1]["gen"] >= g:
                gens.pop()
        elif ev["type"] == "generation":
            gens.append(ev)
    return gens
