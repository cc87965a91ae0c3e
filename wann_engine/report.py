"""Figures and tables of a run or a sweep for a paper: ``wann-engine report``.

One figure with four panels: the best-mean curve (median and band across seeds per setting; for
one run its best, maximum and median fitness), the Pareto front (mean against connections) of the
best run's last generation, that run's champion drawn in layers with a glyph of each node's
activation (as the paper draws them), and the score at each shared weight of the champions
(median across seeds per setting). ``--to csv`` writes the same numbers as tables.

matplotlib is an optional extra (``pip install 'wann-tui[report]'``), imported only here.
Numbers come from ``sweep_stats``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import rundir
from .sweep_stats import (
    X_LABELS,
    Summary,
    SweepData,
    band,
    best_run,
    last_generation,
    table,
    tests_against_first,
)

FIGURE_FORMATS = ("svg", "png", "pdf")
FORMATS = (*FIGURE_FORMATS, "csv")


class ReportError(ValueError):
    """A report that cannot be made as asked; the message says why."""


class MissingExtra(ReportError):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("figures need matplotlib: pip install 'wann-tui[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- the champion network ----------------------------------------------------------------------
def champion_layout(run: Path) -> dict[str, Any] | None:
    """The best network of ``run`` laid out in columns: positions, kinds, activations, edges, labels."""
    from .export import ExportError, load_champion

    try:
        ch = load_champion(run)
    except (ExportError, rundir.RunDirError):
        return None
    net = ch.net
    n, n_in, n_out = net.n_nodes, net.n_in, net.n_out
    kind = ["bias"] + ["input"] * n_in + ["hidden"] * (n - 1 - n_in - n_out) + ["output"] * n_out
    depth = np.asarray(net.depth, dtype=int).copy()
    depth[: n_in + 1] = 0
    hidden = [i for i in range(n) if kind[i] == "hidden"]
    last = (max(depth[hidden]) if hidden else 0) + 1
    depth[n - n_out:] = last
    edges = net.edges()
    col_of = {i: int(depth[i]) for i in range(n)}
    # order within a column: inputs as given, others by the mean row of their sources
    y: dict[int, float] = {}
    for c in range(last + 1):
        members = [i for i in range(n) if col_of[i] == c]
        if c > 0:
            def key(i: int) -> float:
                src = edges[edges[:, 1] == i, 0]
                return float(np.mean([y[s] for s in src if s in y])) if len(src) and any(s in y for s in src) else 0.0
            members.sort(key=key)
        k = len(members)
        for j, i in enumerate(members):
            y[i] = (j - (k - 1) / 2.0)
    labels = ["bias", *ch.input_names, *[""] * len(hidden), *ch.output_names]
    return {"n": n, "kind": kind, "col": [col_of[i] for i in range(n)], "y": [y[i] for i in range(n)],
            "act": [int(a) for a in net.act], "edges": edges.tolist(), "labels": labels,
            "used": [bool((edges[:, 0] == i).any()) for i in range(n)], "task": ch.task,
            "node_ids": [int(v) for v in net.node_ids], "conns": int(net.n_conns)}


def _draw_network(ax: Any, lay: dict[str, Any]) -> None:
    """Columns one unit apart, rows one unit apart, equal aspect; hidden and output nodes are
    circles holding a small plot of their activation over [-2, 2]."""
    from matplotlib.patches import Circle

    from .activations import NAMES, apply

    col, y = np.asarray(lay["col"], float), np.asarray(lay["y"], float)
    for s, d in lay["edges"]:
        ax.plot([col[s], col[d]], [y[s], y[d]], color="0.6", lw=0.5, zorder=1)
    r = 0.3
    t = np.linspace(-2.0, 2.0, 41)
    for i in range(lay["n"]):
        kind = lay["kind"][i]
        if kind in ("input", "bias"):
            used = lay["used"][i]
            ax.plot(col[i], y[i], "o", ms=3, color="0.2" if used else "0.8", zorder=2)
            ax.text(col[i] - 0.15, y[i], lay["labels"][i], ha="right", va="center", fontsize=6,
                    color="0.1" if used else "0.6")
            continue
        ax.add_patch(Circle((col[i], y[i]), r, facecolor="white", edgecolor="C3" if kind == "output" else "0.25",
                            lw=0.7, zorder=3))
        v = np.clip(apply(lay["act"][i], t), -3, 3)
        lo, hi = float(v.min()), float(v.max())
        v = (v - (lo + hi) / 2) / (hi - lo if hi > lo else 1.0)
        ax.plot(col[i] + t / 2.0 * r * 0.65, y[i] + v * r * 1.1, color="C0", lw=0.7, zorder=4)
        if kind == "output":
            ax.text(col[i] + r * 1.4, y[i], f"{lay['labels'][i]} ({NAMES.get(lay['act'][i], '?')})",
                    ha="left", va="center", fontsize=6)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlim(-1.5, max(col) + 2.0)
    ax.axis("off")


# --- the figure --------------------------------------------------------------------------------
def make_figure(data: SweepData, x: str = "gen", threshold: float | None = None,
                quantiles: tuple[float, float] = (25.0, 75.0)) -> Any:
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax_c, ax_p, ax_n, ax_w = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    multi = data.is_sweep
    # curves
    for k, g in enumerate(data.groups):
        if not any(c.n for c in g.curves):
            continue
        color = f"C{k % 10}"
        if multi:
            b = band(g.curves, x, quantiles=quantiles)  # type: ignore[arg-type]
            ax_c.plot(b.x, b.median, color=color, lw=1.4, label=f"{g.label} (n={len(g.curves)})")
            ax_c.fill_between(b.x, b.lo, b.hi, color=color, alpha=0.2, lw=0)
        else:
            c = g.curves[0]
            xs = c.col(x)
            ax_c.plot(xs, c.col("best_mean"), color="C0", lw=1.4, label="best-ever mean")
            ax_c.plot(xs, c.col("fit_max"), color="C1", lw=0.7, label="population max")
            ax_c.plot(xs, c.col("fit_median"), color="C2", lw=0.7, label="population median")
    if threshold is not None:
        ax_c.axhline(threshold, color="0.4", ls=":", lw=0.8)
    q = f"{quantiles[0]:g}–{quantiles[1]:g} % band" if multi else ""
    ax_c.set_title("best-ever mean" + (f": median across seeds, {q}" if multi else ""), fontsize=9)
    ax_c.set_xlabel(X_LABELS[x])
    ax_c.set_ylabel("mean fitness")
    ax_c.legend(fontsize=7, loc="lower right")
    # Pareto front of the best run
    top = best_run(data)
    ev = last_generation(top.path) if top else None
    obj = np.asarray(ev.objectives if ev is not None else np.zeros((0, 3)), dtype=float)
    if obj.size:
        front = np.asarray(ev.front, dtype=int)
        ax_p.scatter(obj[:, 2], obj[:, 0], s=8, color="0.6", label="population")
        if front.size:
            f = obj[front]
            order = np.argsort(f[:, 2])
            ax_p.plot(f[order, 2], f[order, 0], "o-", color="C3", ms=4, lw=1, label="first front")
        ax_p.legend(fontsize=7, loc="lower right")
    where = f"generation {ev.gen} of {top.name}" if ev is not None and top is not None else "no generation yet"
    ax_p.set_title(f"Pareto front, {where}", fontsize=9)
    ax_p.set_xlabel("connections")
    ax_p.set_ylabel("mean fitness")
    # champion
    lay = champion_layout(top.path) if top else None
    if lay:
        _draw_network(ax_n, lay)
        ax_n.set_title(f"champion of {top.name}: {lay['conns']} connections", fontsize=9)  # type: ignore[union-attr]
    else:
        ax_n.axis("off")
        ax_n.set_title("no champion yet", fontsize=9)
    # per-weight performance
    for k, g in enumerate(data.groups):
        rows = [c.best_per_weight for c in g.curves if c.best_per_weight]
        if not rows:
            continue
        ws = g.curves[0].weights or list(range(len(rows[0])))
        m = np.asarray([r for r in rows if len(r) == len(ws)], dtype=float)
        if not m.size:
            continue
        med = np.median(m, 0)
        ax_w.plot(ws, med, "o-", color=f"C{k % 10}", ms=4, lw=1, label=g.label if multi else "champion")
        if multi and len(m) > 1:
            lo, hi = np.percentile(m, quantiles, axis=0)
            ax_w.fill_between(ws, lo, hi, color=f"C{k % 10}", alpha=0.15, lw=0)
    ax_w.set_title("champion score at each shared weight" + (" (median across seeds)" if multi else ""), fontsize=9)
    ax_w.set_xlabel("shared weight")
    ax_w.set_ylabel("mean fitness")
    if ax_w.lines:
        ax_w.legend(fontsize=7)
    fig.suptitle(f"{data.path.name}", fontsize=10)
    fig.tight_layout()
    return fig


def write_figure(data: SweepData, out: Path, fmt: str, **kw: Any) -> None:
    plt = _pyplot()
    fig = make_figure(data, **kw)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    fig.savefig(tmp, format=fmt, dpi=150)
    plt.close(fig)
    tmp.replace(out)


# --- tables ------------------------------------------------------------------------------------
def _fmt(v: Any) -> Any:
    if isinstance(v, (np.integer, np.bool_)):
        return v.item()
    if isinstance(v, float):
        v = float(v)
        return "" if math.isnan(v) else (repr(v) if math.isfinite(v) else str(v))
    return v


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([_fmt(v) for v in r])
    tmp.replace(path)
    return path


def write_csv(data: SweepData, out: Path, x: str = "gen", threshold: float | None = None,
              quantiles: tuple[float, float] = (25.0, 75.0)) -> list[Path]:
    """``OUT-curves.csv``, ``-settings.csv``, ``-seeds.csv``, ``-front.csv``, ``-profile.csv``,
    ``-champion.csv`` beside ``out`` (its suffix dropped)."""
    stem = out.with_suffix("") if out.suffix == ".csv" else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    p = lambda tag: stem.with_name(f"{stem.name}-{tag}.csv")  # noqa: E731
    written = []
    rows: list[list[Any]] = []
    for g in data.groups:
        b = band(g.curves, x, quantiles=quantiles)  # type: ignore[arg-type]
        rows += [[g.label, xv, m, lo, hi, int(n)] for xv, m, lo, hi, n in zip(b.x, b.median, b.lo, b.hi, b.n,
                                                                           strict=True)]
    written.append(_write_csv(p("curves"), ["setting", x, "median", f"q{quantiles[0]:g}", f"q{quantiles[1]:g}",
                                            "n"], rows))
    sums = table(data, threshold)
    tests = {t.b: t for t in tests_against_first(sums)} if len(sums) > 1 else {}
    keys: list[str] = []
    for s in sums:
        keys += [k for k in s.row() if k not in keys]
    header = keys + ["p_vs_first"]
    written.append(_write_csv(p("settings"), header, [[s.row().get(k, "") for k in keys]
                                                      + [tests[s.label].p if s.label in tests else ""]
                                                      for s in sums]))
    seed_rows = []
    for s, g in zip(sums, data.groups, strict=True):
        for i, c in enumerate(g.curves):
            seed_rows.append([s.label, s.seeds[i], c.name, s.gens[i], s.finals[i], s.retests[i], s.conns[i],
                              s.gen_to[i], s.time_to[i]])
    written.append(_write_csv(p("seeds"), ["setting", "seed", "run", "generations", "final_best", "retest",
                                           "connections", "gen_to_threshold", "seconds_to_threshold"], seed_rows))
    top = best_run(data)
    ev = last_generation(top.path) if top else None
    front = set(ev.front) if ev is not None else set()
    obj = ev.objectives.tolist() if ev is not None else []
    written.append(_write_csv(p("front"), ["run", "gen", "index", "mean", "peak", "connections", "first_front"],
                              [[top.name if top else "", ev.gen if ev else "", i, *r, i in front]
                               for i, r in enumerate(obj)]))
    prof = []
    for g in data.groups:
        for c in g.curves:
            for w, v in zip(c.weights, c.best_per_weight, strict=False):
                prof.append([g.label, c.name, w, v])
    written.append(_write_csv(p("profile"), ["setting", "run", "weight", "score"], prof))
    lay = champion_layout(top.path) if top else None
    ch_rows = []
    if lay:
        for i in range(lay["n"]):
            src = [lay["node_ids"][s] for s, d in lay["edges"] if d == i]
            ch_rows.append([i, lay["node_ids"][i], lay["kind"][i], lay["act"][i], lay["col"][i], lay["labels"][i],
                            " ".join(map(str, src))])
    written.append(_write_csv(p("champion"), ["position", "node_id", "kind", "activation", "column", "label",
                                              "sources"], ch_rows))
    return written


def text_table(sums: list[Summary]) -> list[str]:
    """The settings table as text lines (what `report` prints)."""
    lines = []
    has_retest = any(np.isfinite(s.retests).any() for s in sums)
    thr = sums[0].threshold if sums else None
    head = f"{'setting':40} {'seeds':>5} {'gens':>6} {'final median':>12} {'IQR':>17} {'worst':>8} {'conns':>6}"
    if has_retest:
        head += f" {'retest med':>10}"
    if thr is not None:
        head += f" {'reached ' + format(thr, 'g'):>12} {'median s':>9}"
    lines.append(head)
    for s in sums:
        r = s.row()
        line = (f"{s.label[:40]:40} {s.n:5d} {r['gens_min']:6d} {r['final_median']:12.2f} "
                f"{r['final_q1']:8.2f}–{r['final_q3']:8.2f} {r['final_min']:8.2f} {r['conns_median']:6.0f}")
        if has_retest:
            line += f" {r.get('retest_median', float('nan')):10.2f}"
        if thr is not None:
            line += f" {str(s.reached) + '/' + str(s.n):>12} {s.median_time_to():9.1f}"
        lines.append(line)
    return lines
