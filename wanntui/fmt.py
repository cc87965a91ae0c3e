"""Number, time and status-line formatting shared by the console and the batch mode (no Textual)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from wann_engine.events import Generation
from wann_engine.sweep import WALL_MAX_GEN, gens_text

from .model import C, Snapshot


def number(x: float | None, digits: int = 2) -> str:
    """A fitness-like number: fixed digits, '-' for missing, 'nan'/'inf' spelled out."""
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def rate(x: float | None) -> str:
    """A rate with an SI suffix: 950, 1.2k, 9.73M."""
    if x is None or not math.isfinite(x):
        return "-"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def duration(s: float | None) -> str:
    """Seconds as 42s, 3m05s, 2h07m, 3d04h."""
    if s is None or not math.isfinite(s) or s < 0:
        return "-"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def age(t: float | None, now: float) -> str:
    """How long ago ``t`` was, coarsely: 42s, 13m, 2h07m, 3d04h."""
    if t is None or not math.isfinite(t) or t <= 0:
        return "-"
    d = max(0.0, now - t)
    return (f"{int(d) // 60}m" if 60 <= d < 3600 else duration(d)) + " ago"


def recent_mean(snap: Snapshot, col: str, k: int = 10) -> float | None:
    rows = snap.recent[-k:, C[col]] if len(snap.recent) else np.zeros(0)
    rows = rows[np.isfinite(rows)]
    return float(rows.mean()) if rows.size else None


def seconds_per_generation(snap: Snapshot, k: int = 20) -> float | None:
    """Wall time per generation over the recent full-resolution rows (pauses excluded)."""
    rows = snap.recent[-k:]
    if len(rows) >= 2:
        dt = np.diff(rows[:, C["t"]])
        dt = dt[np.isfinite(dt) & (dt >= 0)]
        if dt.size:
            return float(np.median(dt))
    g = recent_mean(snap, "gen_time", k)
    return g


def eta(snap: Snapshot, state: str) -> str:
    if state in ("finished",):
        return "done"
    if state not in ("running", "starting"):
        return state
    total = snap.meta.total
    per = seconds_per_generation(snap)
    if not total or total >= WALL_MAX_GEN or per is None:  # no count to reach: the run is stopped by time
        return "-"
    return duration(max(0, total - snap.gen_done) * per)


def best_text(last: Generation | None) -> str:
    """The champion's score as the run reports it: the re-tested mean with its episode count when the run
    re-tests (``612.3 (120 ep)``), else the raw best mean marked as such (``raw 466.2``)."""
    if last is None:
        return "-"
    if math.isfinite(last.retest_mean):
        return f"{number(last.retest_mean)} ({last.retest_episodes} ep)"
    return f"raw {number(last.best_mean)}" if math.isfinite(last.best_mean) else "-"


def best_weight(last: Generation | None, weights: tuple[float, ...]) -> tuple[int, float, float] | None:
    """The champion's best shared weight as the run marks it: (index, weight, score), from the re-tested
    per-weight scores when the run re-tests, else the raw ones; None without any finite score."""
    if last is None:
        return None
    scores = list(last.retest_per_weight or last.best_per_weight)
    finite = [(c, i) for i, c in enumerate(scores) if math.isfinite(c)]
    if not finite:
        return None
    score, i = max(finite)
    return i, (weights[i] if i < len(weights) else math.nan), score


def status_fields(snap: Snapshot, state: str, now: float) -> list[tuple[str, str]]:
    """The status bar of a run, as (label, value) pairs. ETA only while the run goes on (or "done"): for
    a paused, stopped or crashed run it would only repeat the state."""
    m = snap.meta
    elapsed = snap.last.elapsed if snap.last else None
    workers = f"{m.workers}" + (f"x{m.threads}t" if m.threads else "")
    fields = [
        ("state", state),
        ("gen", gens_text(snap.gen_done, m.total)),
        ("best", best_text(snap.last)),
        ("evals/s", rate(recent_mean(snap, "evals_per_s"))),
        ("steps/s", rate(recent_mean(snap, "env_steps_per_s"))),
        ("elapsed", duration(elapsed)),
        ("ETA", eta(snap, state)),
        ("workers", workers),
        ("ckpt", age(snap.checkpoint_t, now)),
    ]
    return [f for f in fields if f[0] != "ETA" or state in ("running", "starting", "finished")]


def locale_is_utf8(env: Mapping[str, str] | None = None) -> bool:
    """Whether the user's locale is UTF-8, looking past Python's own C-locale coercion (PEP 538)."""
    env = os.environ if env is None else env
    lc_all, lc_ctype, lang = env.get("LC_ALL", ""), env.get("LC_CTYPE", ""), env.get("LANG", "")
    coerced = not lc_all and lc_ctype in ("C.UTF-8", "C.utf8", "UTF-8") and lang in ("", "C", "POSIX")
    value = lc_all or (lang if coerced else (lc_ctype or lang))
    return "utf-8" in value.lower() or "utf8" in value.lower()


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters by eliding its middle ("gym_Lunar…194113"): run names differ
    at both ends (the task in front, the date and time behind), so both ends stay."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return "…"
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def fit_columns(natural: Mapping[str, int], total: int, shrink: Sequence[tuple[str, int]],
                padding: int = 2) -> dict[str, int]:
    """Widths for table columns that must fit ``total`` cells: every column keeps its ``natural``
    width except those in ``shrink`` (``(key, floor)`` in the order they give way), which shrink
    down to their floor so that the others (state, generation, best...) stay on screen.
    ``padding``: cells each column adds around its content."""
    widths = dict(natural)
    over = sum(widths.values()) + padding * len(widths) - total
    for key, floor in shrink:
        if over <= 0:
            break
        if key in widths:
            give = min(over, max(0, widths[key] - floor))
            widths[key] -= give
            over -= give
    return widths
