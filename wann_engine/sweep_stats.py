"""Statistics across seeds: curves with bands, per-setting tables, a test between two settings.

Pure numpy on what the engine writes (no Textual, no matplotlib), so the console's sweep view,
``wann-engine report`` and scripts share one set of numbers:

- ``RunCurve`` / ``CurveReader``: one run's per-generation scalars, read incrementally (byte
  offset) with the resume rule of ``docs/events.md`` applied, so a view can refresh cheaply.
- ``SweepData.load(path)``: a sweep folder (or a single run directory) as groups of runs, one
  group per setting, in the grid's order.
- ``band(curves, x)``: per x, the median and a quantile band (interquartile by default) across
  seeds of the best-mean curve; x is the generation, evaluations or wall time. A run that has
  not reached an x (shorter, or still running) is left out there, and ``n`` says how many counted.
- ``summarize(group, threshold)``: final best (and re-tested score when the events carry one),
  median and spread, time and generation to a threshold and how many seeds reached it,
  champion connections.
- ``mann_whitney(a, b)``: two-sided Mann–Whitney U on two settings' final values (scipy,
  imported only here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import rundir
from .events import STATE_TYPES, number, parse_line

XAxis = Literal["gen", "evaluations", "elapsed"]
X_AXES: tuple[str, ...] = ("gen", "evaluations", "elapsed")
X_LABELS = {"gen": "generation", "evaluations": "evaluations", "elapsed": "wall time (s)"}

#: The fields of a ``generation`` event that carry the re-tested champion's score and its episode count
#: (written by the runner when ``retest_top`` > 0).
RETEST_FIELDS = ("retest_mean",)
RETEST_EPISODES_FIELDS = ("retest_episodes",)

_COLUMNS = ("gen", "evaluations", "elapsed", "best_mean", "fit_max", "fit_median", "best_conns", "retest")


def _num(x: Any) -> float:
    """A number field (non-finite spellings decoded); NaN when missing or not a number."""
    try:
        return number(x) if isinstance(x, (int, float, str)) and not isinstance(x, bool) else math.nan
    except (KeyError, ValueError):
        return math.nan


@dataclass
class RunCurve:
    """One run's generation scalars (one row per effective generation) and its last champion facts."""

    path: Path
    name: str
    rows: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in _COLUMNS})
    best_per_weight: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    retest_episodes: int | None = None
    finished: bool = False
    last_state: str = ""  # the type of the newest state event (``events.STATE_TYPES``): running, paused...

    def col(self, name: str) -> np.ndarray:
        return np.asarray(self.rows[name], dtype=np.float64)

    @property
    def n(self) -> int:
        return len(self.rows["gen"])

    def final(self, what: str = "best_mean") -> float:
        """The last generation's value of a column (NaN when the run has none)."""
        col = self.rows[what]
        return float(col[-1]) if col else float("nan")

    @property
    def final_retest(self) -> float:
        """The last re-tested score the events carried (NaN if none)."""
        col = self.col("retest")
        ok = col[np.isfinite(col)]
        return float(ok[-1]) if ok.size else float("nan")


class CurveReader:
    """Reads a run's ``events.jsonl`` from where it stopped last time (complete lines only)."""

    def __init__(self, run: Path) -> None:
        self.curve = RunCurve(path=Path(run), name=Path(run).name)
        self.offset = 0
        self._ino: int | None = None

    def refresh(self) -> RunCurve:
        path = self.curve.path / rundir.EVENTS
        try:
            st = path.stat()
        except OSError:
            return self.curve
        if st.st_ino != self._ino or st.st_size < self.offset:  # replaced or cut: read again
            self.__init__(self.curve.path)  # type: ignore[misc]
            self._ino = st.st_ino
        if st.st_size == self.offset:
            return self.curve
        with open(path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].split(b"\n"):
            if line.strip():
                ev = parse_line(line)
                if ev is not None:
                    self._apply(ev)
        return self.curve

    def _apply(self, ev: dict[str, Any]) -> None:
        c, t = self.curve, ev["type"]
        if t in STATE_TYPES:
            c.last_state = t
        if t == "run_start":
            c.weights = [float(w) for w in ev.get("weights", [])]
            c.finished = False
            g = ev.get("resumed_from")
            if g is not None:
                gens = c.rows["gen"]
                k = int(np.searchsorted(np.asarray(gens), g)) if gens else 0
                for col in c.rows.values():
                    del col[k:]
        elif t == "generation":
            r = c.rows
            for name in ("gen", "evaluations", "elapsed", "best_mean", "fit_max", "fit_median", "best_conns"):
                r[name].append(_num(ev.get(name)))
            retest = next((ev[k] for k in RETEST_FIELDS if k in ev), None)
            r["retest"].append(_num(retest))
            eps = next((ev[k] for k in RETEST_EPISODES_FIELDS if k in ev), None)
            if isinstance(eps, int):
                c.retest_episodes = eps
            if isinstance(ev.get("best_per_weight"), list):
                c.best_per_weight = [_num(x) for x in ev["best_per_weight"]]
        elif t == "finished":
            c.finished = True


def read_curve(run: Path) -> RunCurve:
    return CurveReader(run).refresh()


# --- groups -------------------------------------------------------------------------------------
@dataclass
class Group:
    """The runs of one setting (one per seed)."""

    label: str
    setting: dict[str, str]
    curves: list[RunCurve]
    seeds: list[int]


@dataclass
class SweepData:
    path: Path
    groups: list[Group]
    is_sweep: bool

    @classmethod
    def load(cls, path: Path) -> SweepData:
        """A sweep folder (groups by setting) or one run directory (one group of one run)."""
        from . import sweep as sweepmod

        path = Path(path)
        if sweepmod.is_sweep(path):
            return SweepTracker(path).refresh()
        cfg = rundir.read_config(path)
        return cls(path, [Group(path.name, {}, [read_curve(path)], [cfg.seed])], False)

    def all_curves(self) -> list[RunCurve]:
        return [c for g in self.groups for c in g.curves]


class SweepTracker:
    """A sweep followed as it runs (for a view that refreshes on a timer): one ``CurveReader`` per
    member, so each ``refresh`` reads only the bytes appended since the last one, and members
    added by ``sweep extend`` are picked up."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.readers: dict[str, CurveReader] = {}

    def refresh(self) -> SweepData:
        from . import sweep as sweepmod

        sw = sweepmod.load(self.path)
        groups = []
        for setting in sw.settings:
            curves, seeds = [], []
            for m in sw.members:
                if m.setting != setting or not (sw.run_dir(m) / rundir.CONFIG).is_file():
                    continue
                reader = self.readers.setdefault(m.name, CurveReader(sw.run_dir(m)))
                curves.append(reader.refresh())
                seeds.append(m.seed)
            groups.append(Group(sweepmod.setting_label(setting), setting, curves, seeds))
        return SweepData(self.path, groups, True)


# --- curves across seeds ------------------------------------------------------------------------
@dataclass
class Band:
    x: np.ndarray
    median: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray  # runs that count at each x
    quantiles: tuple[float, float]


def _step_at(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The run's value at each grid point: its last row at or before the point; NaN before its first
    row and after its last (a run says nothing about x it has not reached)."""
    if xs.size == 0:
        return np.full(grid.shape, np.nan)
    k = np.searchsorted(xs, grid, side="right") - 1
    out = ys[np.clip(k, 0, None)].astype(np.float64)
    out[(k < 0) | (grid > xs[-1])] = np.nan
    return out


def band(curves: list[RunCurve], x: XAxis = "gen", points: int = 200, column: str = "best_mean",
         quantiles: tuple[float, float] = (25.0, 75.0)) -> Band:
    """Median and a quantile band across runs of ``column`` (the best-ever mean by default) against x.

    x = ``gen`` uses every generation (thinned to about ``points`` when longer); ``evaluations`` and
    ``elapsed`` use ``points`` evenly spaced values up to the longest run.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {X_AXES}")
    curves = [c for c in curves if c.n]
    if not curves:
        e = np.zeros(0)
        return Band(e, e, e, e, np.zeros(0, dtype=int), quantiles)
    top = max(float(c.col(x)[-1]) for c in curves)
    if x == "gen":
        grid = np.arange(0, int(top) + 1, max(1, int(np.ceil((top + 1) / points))), dtype=np.float64)
        if grid[-1] != top:
            grid = np.append(grid, top)
    else:
        lo = min(float(c.col(x)[0]) for c in curves)
        grid = np.linspace(lo, top, points)
    m = np.vstack([_step_at(c.col(x), c.col(column), grid) for c in curves])
    n = np.isfinite(m).sum(0)
    med, lo_v, hi_v = (np.full(grid.shape, np.nan) for _ in range(3))
    ok = n > 0
    if ok.any():
        q = np.nanpercentile(m[:, ok], [50.0, quantiles[0], quantiles[1]], axis=0)
        med[ok], lo_v[ok], hi_v[ok] = q
    return Band(grid, med, lo_v, hi_v, n, quantiles)


# --- tables -------------------------------------------------------------------------------------
@dataclass
class Summary:
    """One setting's numbers across its seeds."""

    label: str
    setting: dict[str, str]
    seeds: list[int]
    gens: list[int]  # generations done per seed
    finals: np.ndarray  # best-ever mean at the last generation, per seed
    retests: np.ndarray  # re-tested score per seed (NaN where the events carry none)
    retest_episodes: int | None
    conns: np.ndarray  # champion connections per seed
    threshold: float | None
    gen_to: np.ndarray  # first generation with best >= threshold (NaN: not reached)
    time_to: np.ndarray  # elapsed seconds at that generation
    evals_to: np.ndarray

    @property
    def n(self) -> int:
        return len(self.seeds)

    @property
    def reached(self) -> int:
        return int(np.isfinite(self.gen_to).sum())

    def stat(self, values: np.ndarray) -> dict[str, float]:
        v = values[np.isfinite(values)]
        if v.size == 0:
            return {"median": float("nan"), "q1": float("nan"), "q3": float("nan"), "min": float("nan"),
                    "max": float("nan"), "mean": float("nan"), "std": float("nan")}
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        return {"median": float(med), "q1": float(q1), "q3": float(q3), "min": float(v.min()),
                "max": float(v.max()), "mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0}

    def median_time_to(self) -> float:
        """Median time to the threshold over all seeds (seeds that missed count as infinitely slow):
        NaN unless more than half reached it."""
        if self.threshold is None or self.reached * 2 <= self.n:
            return float("nan")
        return float(np.median(np.where(np.isfinite(self.time_to), self.time_to, np.inf)))

    def row(self) -> dict[str, Any]:
        """A flat dict for tables and CSV."""
        f, c = self.stat(self.finals), self.stat(self.conns)
        out: dict[str, Any] = {"setting": self.label, "seeds": self.n,
                               "gens_min": min(self.gens) if self.gens else 0,
                               "final_median": f["median"], "final_q1": f["q1"], "final_q3": f["q3"],
                               "final_min": f["min"], "final_max": f["max"], "final_mean": f["mean"],
                               "final_std": f["std"], "conns_median": c["median"]}
        if np.isfinite(self.retests).any():
            r = self.stat(self.retests)
            out.update(retest_median=r["median"], retest_q1=r["q1"], retest_q3=r["q3"], retest_min=r["min"],
                       retest_episodes=self.retest_episodes)
        if self.threshold is not None:
            out.update(threshold=self.threshold, reached=self.reached,
                       time_to_median=self.median_time_to(),
                       gen_to_median=float(np.median(np.where(np.isfinite(self.gen_to), self.gen_to, np.inf)))
                       if self.reached * 2 > self.n else float("nan"))
        return out


def summarize(group: Group, threshold: float | None = None, column: str = "best_mean") -> Summary:
    """``column``: the curve whose first crossing of ``threshold`` counts (``best_mean``, or ``retest``:
    the re-tested champion's score)."""
    finals, retests, conns, gens = [], [], [], []
    gen_to, time_to, evals_to = [], [], []
    episodes = None
    for c in group.curves:
        finals.append(c.final("best_mean"))
        retests.append(c.final_retest)
        conns.append(c.final("best_conns"))
        gens.append(int(c.final("gen")) + 1 if c.n else 0)
        episodes = episodes or c.retest_episodes
        if threshold is not None and c.n:
            hit = np.flatnonzero(c.col(column) >= threshold)
            k = int(hit[0]) if hit.size else -1
            gen_to.append(c.col("gen")[k] if k >= 0 else np.nan)
            time_to.append(c.col("elapsed")[k] if k >= 0 else np.nan)
            evals_to.append(c.col("evaluations")[k] if k >= 0 else np.nan)
        else:
            gen_to.append(np.nan)
            time_to.append(np.nan)
            evals_to.append(np.nan)
    a = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    return Summary(group.label, group.setting, list(group.seeds), gens, a(finals), a(retests), episodes, a(conns),
                   threshold, a(gen_to), a(time_to), a(evals_to))


def table(data: SweepData, threshold: float | None = None) -> list[Summary]:
    return [summarize(g, threshold) for g in data.groups]


# --- a test between two settings ----------------------------------------------------------------
@dataclass
class Test:
    a: str
    b: str
    metric: str
    u: float
    p: float
    n_a: int
    n_b: int
    median_a: float
    median_b: float

    def line(self) -> str:
        return (f"{self.a} vs {self.b} ({self.metric}): median {self.median_a:.2f} vs {self.median_b:.2f}, "
                f"Mann-Whitney U = {self.u:g}, p = {self.p:.3g} (two-sided, n = {self.n_a}, {self.n_b})")


def mann_whitney(a: Summary, b: Summary, metric: Literal["final", "retest"] = "final") -> Test:
    """Two-sided Mann–Whitney U on two settings' final best (or re-tested) scores.
    ``p`` is NaN when either side has no finite value."""
    va = a.finals if metric == "final" else a.retests
    vb = b.finals if metric == "final" else b.retests
    va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
    med = lambda v: float(np.median(v)) if v.size else float("nan")  # noqa: E731
    if va.size == 0 or vb.size == 0:
        return Test(a.label, b.label, metric, float("nan"), float("nan"), va.size, vb.size, med(va), med(vb))
    from scipy.stats import mannwhitneyu

    r = mannwhitneyu(va, vb, alternative="two-sided")
    return Test(a.label, b.label, metric, float(r.statistic), float(r.pvalue), va.size, vb.size, med(va), med(vb))


def tests_against_first(summaries: list[Summary], metric: Literal["final", "retest"] = "final") -> list[Test]:
    """Each setting against the first one (the usual baseline-vs-variants reading)."""
    return [mann_whitney(summaries[0], s, metric) for s in summaries[1:]]


def last_generation(run: Path) -> Any:
    """The run's last ``generation`` event in full (``events.Generation``: objectives, fronts), or None."""
    from . import control

    return control.last_events(Path(run), {"generation"}).get("generation")


def best_run(data: SweepData) -> RunCurve | None:
    """The run whose last best-ever mean is highest (its champion and front represent the sweep)."""
    curves = [c for c in data.all_curves() if c.n]
    return max(curves, key=lambda c: c.final("best_mean")) if curves else None

