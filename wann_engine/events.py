"""The ``events.jsonl`` stream: one JSON object per line, appended atomically, read back tolerantly.

Every event has ``v`` (schema version), ``type`` and ``t`` (unix time). Numbers
that are not finite are written as the strings "NaN", "Infinity", "-Infinity"
(JSON has no such numbers; null would be ambiguous). See docs/events.md.

This module is the schema's one home: writing (:class:`EventWriter`), and reading a line into a
typed event (:func:`decode`), which checks the type of every field it reads, so nothing past it
(run states, the console, ``wann-tui --batch``) ever handles raw JSON or meets a field of the
wrong type. A line that does not pass is an :class:`EventError` naming the field. The large
fields of a generation event (:data:`LARGE`: objectives, fronts, per-weight scores) are checked
when first read rather than when the line is decoded; a damaged one reads as absent and
:meth:`Generation.damage` says why.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar, TypeVar

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


def _clean_big(obj: Any) -> Any:
    """``_clean`` for large documents (a checkpoint holds millions of numbers): orjson writes both ``None``
    and non-finite floats as ``null``, so a long list whose encoding has no ``null`` has nothing to replace
    and is kept as it is instead of being walked number by number in Python."""
    if isinstance(obj, dict):
        return {k: _clean_big(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if len(obj) >= 16 and b"null" not in orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY):
            return obj
        return [_clean_big(v) for v in obj]
    return _clean(obj)


def encode(obj: Any, indent: bool = False) -> bytes:
    opts = orjson.OPT_SERIALIZE_NUMPY if not indent else orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2
    data = orjson.dumps(obj, default=_default, option=opts)
    if b"null" not in data:  # no None and no non-finite float anywhere: nothing to spell out
        return data
    return orjson.dumps(_clean_big(obj), default=_default, option=opts)


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


#: Event types after which no engine writes to the run (until a resume starts a new session).
TERMINAL = frozenset({"finished", "stopped", "error"})
#: Event types that change the state a run is in (the last one wins).
STATE_TYPES = ("run_start", "paused", "resumed", "stopped", "finished", "error")
#: The longest line a reader decodes; a longer one is a damaged line (the engine's lines are far
#: shorter: a generation of a population of 100,000 is about 6 MB).
MAX_LINE = 16 << 20

_INT64 = 1 << 63


class EventError(ValueError):
    """A line that is not a valid event; the message says which field is wrong and why."""


def _kind(x: Any) -> str:
    return "null" if x is None else {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(x), type(x).__name__)


def _int(d: dict[str, Any], key: str, required: bool = False, lo: int = 0) -> int | None:
    x = d.get(key)
    if x is None:
        if required:
            raise EventError(f"{key}: missing" if key not in d else f"{key}: null, expected an integer")
        return None
    if type(x) is not int:
        raise EventError(f"{key}: expected an integer, got {_kind(x)}")
    if not lo <= x < _INT64:
        raise EventError(f"{key}: {x} is out of range")
    return x


def _float(d: dict[str, Any], key: str) -> float:
    """An optional number field: NaN when missing or null, non-finite spellings decoded."""
    x = d.get(key)
    if x is None:
        return math.nan
    if type(x) is float or type(x) is int:
        return float(x)
    if type(x) is str and x in _NONFINITE:
        return _NONFINITE[x]
    raise EventError(f"{key}: expected a number, got {_kind(x)}")


def _str(d: dict[str, Any], key: str, default: str = "") -> str:
    x = d.get(key)
    if x is None:
        return default
    if type(x) is not str:
        raise EventError(f"{key}: expected a string, got {_kind(x)}")
    return x


def _bool(d: dict[str, Any], key: str) -> bool:
    x = d.get(key, False)
    if x is None:
        return False
    if type(x) is not bool and not (type(x) is int and x in (0, 1)):
        raise EventError(f"{key}: expected true or false, got {_kind(x)}")
    return bool(x)


def _list(d: dict[str, Any], key: str) -> list[Any]:
    x = d.get(key)
    if x is None:
        return []
    if type(x) is not list:
        raise EventError(f"{key}: expected a list, got {_kind(x)}")
    return x


def _floats(d: dict[str, Any], key: str) -> tuple[float, ...]:
    out = []
    for i, x in enumerate(_list(d, key)):
        if type(x) is float or type(x) is int:
            out.append(float(x))
        elif type(x) is str and x in _NONFINITE:
            out.append(_NONFINITE[x])
        else:
            raise EventError(f"{key}[{i}]: expected a number, got {_kind(x)}")
    return tuple(out)


def _strs(d: dict[str, Any], key: str) -> tuple[str, ...]:
    xs = _list(d, key)
    for i, x in enumerate(xs):
        if type(x) is not str:
            raise EventError(f"{key}[{i}]: expected a string, got {_kind(x)}")
    return tuple(xs)


def _indices(d: dict[str, Any], key: str, n: int) -> tuple[int, ...]:
    xs = _list(d, key)
    for x in xs:
        if type(x) is not int or not 0 <= x < n:
            raise EventError(f"{key}: {x!r} is not an index of the population (0..{n - 1})")
    return tuple(xs)


def _naturals(d: dict[str, Any], key: str) -> tuple[int, ...]:
    """An optional list of integers >= 0 (an island's number, ...): empty when missing or null."""
    xs = _list(d, key)
    for x in xs:
        if type(x) is not int or not 0 <= x < _INT64:
            raise EventError(f"{key}: expected integers >= 0, got {_kind(x)} {x!r}"[:120])
    return tuple(xs)


def _matrix(d: dict[str, Any], key: str, cols: int) -> np.ndarray:
    """Rows of ``cols`` numbers (non-finite spellings decoded) as a float array."""
    raw = _list(d, key)
    if not raw:
        return np.zeros((0, cols))
    try:
        arr = np.array(raw)  # the common case: numbers only
    except (TypeError, ValueError, OverflowError):
        arr = None
    if arr is not None and arr.dtype.kind in "fiu" and arr.shape == (len(raw), cols):
        return arr.astype(float, copy=False)
    for i, row in enumerate(raw):
        if type(row) is not list or len(row) != cols:
            raise EventError(f"{key}[{i}]: expected a list of {cols} numbers, got {_kind(row)}")
    arr = np.empty((len(raw), cols))
    for i, row in enumerate(raw):
        for j, x in enumerate(row):
            if type(x) is float or type(x) is int:
                arr[i, j] = x
            elif type(x) is str and x in _NONFINITE:
                arr[i, j] = _NONFINITE[x]
            else:
                raise EventError(f"{key}[{i}][{j}]: expected a number, got {_kind(x)}")
    return arr


def _int_rows(rows: list[Any], width: int) -> bool:
    """True if ``rows`` are lists of ``width`` integers, all in int64 range (no per-item Python loop)."""
    if not rows:
        return True
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {width}:
        return False
    flat = list(chain.from_iterable(rows))
    return set(map(type, flat)) == {int} and -_INT64 <= min(flat) and max(flat) < _INT64


def _genome(x: Any) -> dict[str, list[list[int]]] | None:
    """A champion genome ``{"nodes": [[id, type, act]...], "conns": [[innov, src, dst, on]...]}``,
    checked for shape and integer range (what it means as a network is the genome's own check)."""
    if x is None:
        return None
    if type(x) is not dict:
        raise EventError(f"champion: expected an object, got {_kind(x)}")
    out: dict[str, list[list[int]]] = {}
    for key, width in (("nodes", 3), ("conns", 4)):
        rows = x.get(key)
        if type(rows) is not list:
            raise EventError(f"champion.{key}: expected a list, got {_kind(rows)}")
        if _int_rows(rows, width):  # the common case, checked in C loops
            out[key] = rows
            continue
        for i, row in enumerate(rows):
            if type(row) is not list or len(row) != width or any(
                    type(v) is not int or not -_INT64 <= v < _INT64 for v in row):
                raise EventError(f"champion.{key}[{i}]: expected {width} integers")
        out[key] = rows
    return out


@dataclass(frozen=True, slots=True)
class Event:
    """An event of any type not described below (readers ignore those)."""

    TYPE: ClassVar[str] = ""
    t: float
    type: str = ""

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Event:
        return cls(t=t, type=d["type"])


@dataclass(frozen=True, slots=True)
class RunStart(Event):
    """An engine started the run, or resumed it from generation ``resumed_from``."""

    TYPE: ClassVar[str] = "run_start"
    name: str = ""
    task: str = ""
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    total: int = 0  # total_generations (maxGen)
    resumed_from: int | None = None
    workers: int = 1
    threads: int = 0
    pop: int = 0
    keep_disabled_hidden: bool = False
    engine_version: str = ""
    pid: int | None = None
    host: str = ""

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> RunStart:
        cfg = d.get("config")
        if cfg is None:
            cfg = {}
        elif type(cfg) is not dict:
            raise EventError(f"config: expected an object, got {_kind(cfg)}")
        total, max_gen = _int(d, "total_generations"), _int(cfg, "maxGen")  # every field is checked
        task, cfg_task = _str(d, "task"), _str(cfg, "task")
        weights, cfg_weights = _floats(d, "weights"), _floats(cfg, "weights")
        return cls(
            t=t, type=cls.TYPE, name=_str(d, "name"), task=task or cfg_task,
            input_names=_strs(d, "input_names"), output_names=_strs(d, "output_names"),
            weights=weights if "weights" in d else cfg_weights,
            total=total if total is not None else (max_gen or 0),
            resumed_from=_int(d, "resumed_from"), workers=_int(cfg, "workers") or 1,
            threads=_int(cfg, "threads") or 0, pop=_int(cfg, "popSize") or 0,
            keep_disabled_hidden=_bool(cfg, "keep_disabled_hidden"), engine_version=_str(d, "engine_version"),
            pid=_int(d, "pid"), host=_str(d, "host"),
        )


#: The fields of a generation event whose size grows with the population (or the weight series). They
#: are kept as read and checked only when first asked for (:meth:`Generation.damage` or the property of
#: the same name), once per event: a reader keeps only the latest generation's, so checking every line's
#: would be wasted work (it was most of the cost of opening a long run).
LARGE = ("objectives", "front", "front_peak", "best_per_weight", "pop_best_per_weight", "retest_per_weight")
#: The population-sized fields (``objectives``, ``front``, ``front_peak``) are written in a generation event
#: only when at least this many seconds passed since the last event that carried them, and always in the
#: first generation of an engine session and the last one before a checkpoint, pause, stop or finish:
#: the live Pareto pane is at most this far behind, and a long run's file grows by the scalars only.
POPULATION = ("objectives", "front", "front_peak")
POPULATION_SECONDS = 10.0
_EMPTY_OBJECTIVES = np.zeros((0, 3))
_EMPTY_OBJECTIVES.flags.writeable = False
_VIA_OBJECTIVES = "indexes objectives, which are damaged"


@dataclass(frozen=True, slots=True, eq=False)
class Generation(Event):
    """One finished generation ``gen``; number fields the event lacks are NaN (counts: None).

    Scalars and the champion are checked when the line is read. The fields in :data:`LARGE` are
    checked and converted when first read, once: ``objectives`` (an n×3 float array [mean, peak,
    conns]), ``front`` and ``front_peak`` (indices into it), ``best_per_weight`` and
    ``pop_best_per_weight``. A damaged one reads as absent (an empty array or tuple), never raises;
    :meth:`damage` says which and why.
    """

    TYPE: ClassVar[str] = "generation"
    gen: int = 0
    evaluations: int | None = None
    episodes: int | None = None
    fit_median: float = math.nan
    fit_mean: float = math.nan
    fit_max: float = math.nan
    best_mean: float = math.nan
    best_peak: float = math.nan
    best_conns: int | None = None
    best_nodes: int | None = None
    best_gen: int | None = None
    nodes_median: float = math.nan
    conns_median: float = math.nan
    ranking: str = ""
    champion: dict[str, list[list[int]]] | None = field(default=None, repr=False)
    elapsed: float = math.nan
    gen_time: float = math.nan
    eval_time: float = math.nan
    evals_per_s: float = math.nan
    episodes_per_s: float = math.nan
    env_steps: int | None = None
    env_steps_per_s: float = math.nan
    # the re-tested champion (config retest_top > 0; the best_* fields are the raw alg_nReps-episode figures):
    # its mean over retest_episodes fresh episodes (all weights), generation, connections; NaN/None without
    retest_mean: float = math.nan
    retest_episodes: int | None = None
    retest_gen: int | None = None
    retest_conns: int | None = None
    retest_raw_mean: float = math.nan
    gen_retest_max: float = math.nan  # the best re-tested mean of this generation's re-tests
    restarts: tuple[int, ...] = ()  # islands re-seeded in this generation (config restart_stall)
    _raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the LARGE fields as read, unchecked
    _checked: dict[str, tuple[Any, str | None]] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Generation:
        f = _float
        return cls(
            t=t, type=cls.TYPE, gen=_int(d, "gen", required=True) or 0, evaluations=_int(d, "evaluations"),
            episodes=_int(d, "episodes"), fit_median=f(d, "fit_median"), fit_mean=f(d, "fit_mean"),
            fit_max=f(d, "fit_max"), best_mean=f(d, "best_mean"), best_peak=f(d, "best_peak"),
            best_conns=_int(d, "best_conns"), best_nodes=_int(d, "best_nodes"), best_gen=_int(d, "best_gen"),
            nodes_median=f(d, "nodes_median"), conns_median=f(d, "conns_median"), ranking=_str(d, "ranking"),
            champion=_genome(d.get("champion")), elapsed=f(d, "elapsed"), gen_time=f(d, "gen_time"),
            eval_time=f(d, "eval_time"), evals_per_s=f(d, "evals_per_s"), episodes_per_s=f(d, "episodes_per_s"),
            env_steps=_int(d, "env_steps"), env_steps_per_s=f(d, "env_steps_per_s"),
            retest_mean=f(d, "retest_mean"), retest_episodes=_int(d, "retest_episodes"),
            retest_gen=_int(d, "retest_gen"), retest_conns=_int(d, "retest_conns"),
            retest_raw_mean=f(d, "retest_raw_mean"), gen_retest_max=f(d, "gen_retest_max"),
            restarts=_naturals(d, "restarts"), _raw={k: d[k] for k in LARGE if k in d},
        )

    def _large(self, key: str) -> tuple[Any, str | None]:
        """The checked value of a :data:`LARGE` field and, if it is damaged, why (then the value is empty)."""
        got = self._checked.get(key)
        if got is not None:
            return got
        empty: Any = _EMPTY_OBJECTIVES if key == "objectives" else ()
        try:
            if key == "objectives":
                value: Any = _matrix(self._raw, key, 3)
                value.flags.writeable = False  # shared by every reader of this event
            elif key in ("front", "front_peak"):
                obj, why = self._large("objectives")
                if why is not None and self._raw.get(key):
                    raise EventError(f"{key}: {_VIA_OBJECTIVES}")
                value = _indices(self._raw, key, len(obj))
            else:
                value = _floats(self._raw, key)
            got = (value, None)
        except EventError as e:
            got = (empty, str(e))
        except (TypeError, ValueError, OverflowError) as e:  # never expected; a damaged field all the same
            got = (empty, f"{key}: {e}")
        self._checked[key] = got  # the same result whichever thread asked first
        return got

    def damage(self, *keys: str) -> str | None:
        """Why the :data:`LARGE` fields ``keys`` (all of them if none is given) that are damaged cannot
        be read (one line, "; " between fields), or None when they are all sound."""
        keys = keys or LARGE
        why = [w for k in keys if (w := self._large(k)[1]) is not None]
        if "objectives" in keys and self._large("objectives")[1] is not None:  # said once is enough
            why = [w for w in why if not w.endswith(_VIA_OBJECTIVES)]
        return "; ".join(why) if why else None

    @property
    def has_population(self) -> bool:
        """Whether this event carries the population's ``objectives`` (the engine writes them only for some
        generations: see :data:`POPULATION_SECONDS`)."""
        return "objectives" in self._raw

    @property
    def objectives(self) -> np.ndarray:
        """The population's [mean, peak, connections] rows, n×3 (read-only; empty if absent or damaged)."""
        return self._large("objectives")[0]

    @property
    def front(self) -> tuple[int, ...]:
        """Indices of the first front on (mean, connections) (empty if absent or damaged)."""
        return self._large("front")[0]

    @property
    def front_peak(self) -> tuple[int, ...]:
        """Indices of the first front on (mean, peak) (empty if absent or damaged)."""
        return self._large("front_peak")[0]

    @property
    def best_per_weight(self) -> tuple[float, ...]:
        """The champion's score at each shared weight (empty if absent or damaged)."""
        return self._large("best_per_weight")[0]

    @property
    def pop_best_per_weight(self) -> tuple[float, ...]:
        """The population's best score at each shared weight (empty if absent or damaged)."""
        return self._large("pop_best_per_weight")[0]

    @property
    def retest_per_weight(self) -> tuple[float, ...]:
        """The re-tested champion's score at each shared weight (empty without re-tests, or damaged)."""
        return self._large("retest_per_weight")[0]


@dataclass(frozen=True, slots=True)
class Checkpoint(Event):
    """A checkpoint holding generation ``gen`` onwards is on disk."""

    TYPE: ClassVar[str] = "checkpoint"
    gen: int | None = None
    bytes: int | None = None

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Checkpoint:
        return cls(t=t, type=cls.TYPE, gen=_int(d, "gen"), bytes=_int(d, "bytes"))


@dataclass(frozen=True, slots=True)
class _AtGeneration(Event):
    gen: int | None = None

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Event:
        return cls(t=t, type=cls.TYPE, gen=_int(d, "gen"))


@dataclass(frozen=True, slots=True)
class Paused(_AtGeneration):
    """The engine paused at a generation boundary (after a checkpoint)."""

    TYPE: ClassVar[str] = "paused"


@dataclass(frozen=True, slots=True)
class Resumed(_AtGeneration):
    """A paused engine continued."""

    TYPE: ClassVar[str] = "resumed"


@dataclass(frozen=True, slots=True)
class Stopped(_AtGeneration):
    """A graceful stop: a checkpoint was written first."""

    TYPE: ClassVar[str] = "stopped"


@dataclass(frozen=True, slots=True)
class Finished(Event):
    TYPE: ClassVar[str] = "finished"
    gen: int | None = None
    best_mean: float = math.nan
    elapsed: float = math.nan
    retest_mean: float = math.nan  # the re-tested champion's mean (NaN without re-tests)
    retest_episodes: int | None = None

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Finished:
        return cls(t=t, type=cls.TYPE, gen=_int(d, "gen"), best_mean=_float(d, "best_mean"),
                   elapsed=_float(d, "elapsed"), retest_mean=_float(d, "retest_mean"),
                   retest_episodes=_int(d, "retest_episodes"))


@dataclass(frozen=True, slots=True)
class Error(Event):
    """The run failed; ``message`` names the cause."""

    TYPE: ClassVar[str] = "error"
    gen: int | None = None
    message: str = "unknown error"

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Error:
        return cls(t=t, type=cls.TYPE, gen=_int(d, "gen"), message=_str(d, "message", "unknown error"))


@dataclass(frozen=True, slots=True)
class Progress(Event):
    """How far the engine is within generation ``gen``: ``done`` of ``total`` episodes (network × weight ×
    repetition) of ``phase`` (``scoring`` the population, or ``retest``-ing candidates), ``gen_elapsed``
    seconds after the generation began. Written at most every :data:`PROGRESS_SECONDS`, and only once a
    generation has taken that long (a fast run writes none); superseded by the generation's own event."""

    TYPE: ClassVar[str] = "progress"
    gen: int = 0
    phase: str = "scoring"
    done: int = 0
    total: int = 0
    gen_elapsed: float = math.nan

    @classmethod
    def _read(cls, d: dict[str, Any], t: float) -> Progress:
        done, total = _int(d, "done", required=True) or 0, _int(d, "total", required=True) or 0
        if done > total:
            raise EventError(f"done: {done} is more than total ({total})")
        return cls(t=t, type=cls.TYPE, gen=_int(d, "gen", required=True) or 0, phase=_str(d, "phase", "scoring"),
                   done=done, total=total, gen_elapsed=_float(d, "gen_elapsed"))


#: Seconds between two ``progress`` events, and before the first one of a generation.
PROGRESS_SECONDS = 2.0

TYPES: dict[str, type[Event]] = {c.TYPE: c for c in (RunStart, Generation, Checkpoint, Paused, Resumed, Stopped,
                                                     Finished, Error, Progress)}


def from_dict(d: Any) -> Event:
    """The typed event of a decoded JSON value; :class:`EventError` if it is not a valid event."""
    if type(d) is not dict:
        raise EventError(f"not a JSON object but {_kind(d)}")
    kind = d.get("type")
    if type(kind) is not str:
        raise EventError("type: missing" if kind is None else f"type: expected a string, got {_kind(kind)}")
    t = d.get("t")
    if (type(t) is not float and type(t) is not int) or not math.isfinite(t):
        raise EventError(f"t: expected a time in seconds, got {_kind(t)}")
    cls = TYPES.get(kind, Event)
    try:
        return cls._read(d, float(t))
    except EventError as e:
        raise EventError(f"{kind} event: {e}") from None


def decode(line: bytes) -> Event:
    """One line of the events file as a typed event; :class:`EventError` says why it is not one."""
    if len(line) > MAX_LINE:
        raise EventError(f"a line of {len(line) / 2**20:.1f} MiB (longer than {MAX_LINE >> 20} MiB)")
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise EventError("not JSON") from None
    return from_dict(d)


def try_decode(line: bytes) -> Event | None:
    """:func:`decode`, or None for a line that is not a valid event."""
    try:
        return decode(line)
    except EventError:
        return None


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One line as a raw JSON object with a ``type``, or None (for scripts; the project reads :func:`decode`)."""
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(ev, dict) or "type" not in ev:
        return None
    return ev


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """All complete lines of a file that are valid events, as raw dicts (for scripts and tests).

    The engine's tests compare what was written; anything that shows a run reads :func:`read`."""
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            ev = parse_line(line)
            if ev is not None and try_decode(line) is not None:
                yield ev


def read(path: Path, on_bad: Callable[[int, str], None] | None = None) -> Iterator[Event]:
    """The typed events of a file, in order. A line that is not a valid event is skipped and passed
    to ``on_bad(line_number, reason)``; a last line without its newline (still being written, or cut
    by a kill) is not read. A missing or unreadable file holds no events."""
    try:
        f = open(path, "rb")
    except OSError:
        return
    with f:
        for n, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                break
            if not line.strip():
                continue
            try:
                yield decode(line)
            except EventError as e:
                if on_bad is not None:
                    on_bad(n, str(e))


def supersedes(start: RunStart, gen: int) -> bool:
    """The resume rule: a ``run_start`` with ``resumed_from: g`` supersedes the generation events
    numbered g or later written before it (the resumed engine computes them again, identically)."""
    return start.resumed_from is not None and gen >= start.resumed_from


E = TypeVar("E", Event, dict)


def effective_generations(events: Iterable[E]) -> list[E]:
    """The generation events of the run as it stands (:func:`supersedes` applied), as given: typed
    events or raw dicts (a raw dict that is not a valid event is skipped)."""
    gens: list[tuple[Generation, E]] = []
    for item in events:
        ev: Event | None
        if isinstance(item, Event):
            ev = item
        else:
            try:
                ev = from_dict(item)
            except EventError:
                continue
        if isinstance(ev, RunStart):
            while gens and supersedes(ev, gens[-1][0].gen):
                gens.pop()
        elif isinstance(ev, Generation):
            gens.append((ev, item))
    return [item for _, item in gens]


@dataclass
class Tail:
    """What the end of an events file says: the last valid event of each type asked for (in the
    order found, so newest first), and the damaged lines met on the way (newest first)."""

    last: dict[str, Event] = field(default_factory=dict)
    damaged: list[str] = field(default_factory=list)
    bytes_read: int = 0

    def newest(self, types: Iterable[str]) -> Event | None:
        """The newest of the events found whose type is in ``types``."""
        types = set(types)
        return next((ev for k, ev in self.last.items() if k in types), None)


def read_tail(path: Path, want: Iterable[str], stop: Callable[[dict[str, Event]], bool] | None = None,
              max_bytes: int = 4 << 20, max_scan: int = 256 << 20, block: int = 256 << 10) -> Tail:
    """Read ``path`` backwards for the last valid event of each type in ``want``.

    Stops when every type was found, when ``stop(found)`` holds, after ``max_bytes`` of valid
    events, or after ``max_scan`` bytes in all. Damaged lines do not count towards ``max_bytes``:
    a giant line appended to a run hides nothing before it (a line longer than ``MAX_LINE`` is
    stepped over without being kept in memory). A last line without its newline is not read (nor
    called damaged): it is still being written, or was cut by a kill.
    """
    want = set(want)
    out = Tail()
    try:
        f = open(path, "rb")
    except OSError:
        return out
    valid = 0
    with f:
        try:
            pos = f.seek(0, 2)
        except OSError:
            return out
        carry = b""  # the start of the line that goes on after this block
        carry_len = 0  # its true length (a giant line is counted, not kept)
        first = True  # the segment after the last newline is a line still being written
        while pos > 0 and out.bytes_read < max_scan and valid < max_bytes:
            step = min(pos, block)
            pos -= step
            f.seek(pos)
            buf = f.read(step)
            out.bytes_read += step
            parts = buf.split(b"\n")
            if len(parts) == 1:  # no newline in this block: one long line goes on
                carry_len += len(buf)
                carry = buf + carry if carry_len <= MAX_LINE else b""
                continue
            lines = [parts[-1] + carry, *parts[-2:0:-1]]  # complete lines, newest first
            lens = [len(parts[-1]) + carry_len, *(len(x) for x in parts[-2:0:-1])]
            carry, carry_len = parts[0], len(parts[0])
            if first:
                lines, lens, first = lines[1:], lens[1:], False
            for line, n in zip(lines, lens, strict=True):
                valid += _take(line, n, want, out)
            if len(out.last) == len(want) or (stop is not None and stop(out.last)):
                return out
        if pos == 0 and not first:
            _take(carry, carry_len, want, out)
    return out


def _take(line: bytes, n: int, want: set[str], out: Tail) -> int:
    """Decode one complete line read backwards; returns its length if it was a valid event."""
    if n > MAX_LINE:
        out.damaged.append(f"a line of {n / 2**20:.1f} MiB (longer than {MAX_LINE >> 20} MiB)")
        return 0
    if not line.strip():
        return 0
    try:
        ev = decode(line)
    except EventError as e:
        out.damaged.append(str(e))
        return 0
    if ev.type in want and ev.type not in out.last:
        out.last[ev.type] = ev
    return n
