"""Search benchmark: the default preset on N seeds for a wall budget, judged by the re-tested champion.

Runs ``wann-engine sweep start`` (one ordinary run per seed, as many at once as ``--parallel``), then
prints per seed the wall time at which the re-tested champion (``retest_mean``: ``retest_reps`` fresh
episodes per shared weight) first reached each mark, the final re-tested best and its connections; then
the median, the worst seed and how many seeds reached each mark.

    .venv/bin/python bench/bench_search.py                      # 8 seeds x 30 minutes (the study)
    .venv/bin/python bench/bench_search.py --seeds 2 --minutes 1  # a quick check
    .venv/bin/python bench/bench_search.py --report DIR          # the table of a sweep already run

Times are the run's own ``elapsed`` (wall time of its sessions); with more members than cores, members
share cores and their times are longer than alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wann_engine import sweep  # noqa: E402
from wann_engine.events import read_events  # noqa: E402


def seed_rows(sweep_dir: Path, marks: list[float]) -> list[dict]:
    """Per member: seed, generations, time to each mark (NaN: not reached), final re-tested mean and its
    episodes and connections."""
    sw = sweep.load(sweep_dir)
    rows = []
    for m in sw.members:
        run = sw.run_dir(m)
        gens = [e for e in read_events(run / "events.jsonl") if e.get("type") == "generation"] \
            if (run / "events.jsonl").exists() else []
        t_at = {mark: math.nan for mark in marks}
        for e in gens:  # a resumed member repeats generations; the first crossing in wall time counts
            rt = e.get("retest_mean")
            if not isinstance(rt, int | float):
                continue
            for mark in marks:
                if rt >= mark and math.isnan(t_at[mark]):
                    t_at[mark] = float(e.get("elapsed", math.nan))
        last = gens[-1] if gens else {}
        rt = last.get("retest_mean")
        rows.append({"seed": m.seed, "name": m.name, "setting": " ".join(m.sets) or "(base)",
                     "run": run, "gens": int(last.get("gen", -1)) + 1, "t": t_at,
                     "final": float(rt) if isinstance(rt, int | float) else math.nan,
                     "episodes": last.get("retest_episodes"), "conns": last.get("retest_conns")})
    return rows


def _t(x: float) -> str:
    return "-" if math.isnan(x) else f"{int(x // 60)}:{int(x % 60):02d}"


def report(rows: list[dict], marks: list[float]) -> list[str]:
    width = max([len(r["name"]) for r in rows] + [6])
    head = f"{'member':<{width}} {'seed':>5} {'gens':>7} " + " ".join(f"{'t@' + format(m, 'g'):>8}" for m in marks) + \
        f" {'final retested':>15} {'episodes':>8} {'conns':>6}"
    out = [head]
    for r in sorted(rows, key=lambda r: (r["seed"], r["name"])):
        times = " ".join(f"{_t(r['t'][m]):>8}" for m in marks)
        out.append(f"{r['name']:<{width}} {r['seed']:>5} {r['gens']:>7} " + times +
                   f" {r['final']:15.2f} {r['episodes'] or '-':>8} {r['conns'] if r['conns'] is not None else '-':>6}")
    finals = np.array([r["final"] for r in rows], dtype=float)
    ok = finals[np.isfinite(finals)]
    if ok.size:
        worst = min((r for r in rows if math.isfinite(r["final"])), key=lambda r: r["final"])
        out.append(f"median final re-tested {np.median(ok):.2f}; worst seed {worst['seed']}: {worst['final']:.2f}")
    for m in marks:
        ts = np.array([r["t"][m] for r in rows], dtype=float)
        hit = ts[np.isfinite(ts)]
        med = _t(float(np.median(ts))) if hit.size * 2 > len(ts) else "not reached by half"
        out.append(f"mark {m:g}: {hit.size} of {len(rows)} seeds; median time {med.strip()}")
    return out


def rescore(rows: list[dict], episodes: int, seed: int) -> None:
    """Each member's final champion scored again by ``wann-engine eval`` on ``episodes`` fresh episodes per
    shared weight (``seed`` is disjoint from the search's and the re-tests' episodes): the study's measure,
    free of the search's selection among noisy scores (``fresh`` in each row; NaN without a champion)."""
    for r in rows:
        champ = r["run"] / "champion.json"
        r["fresh"] = math.nan
        if not champ.is_file():
            continue
        out = subprocess.run([sys.executable, "-m", "wann_engine", "eval", str(champ), "--episodes", str(episodes),
                              "--seed", str(seed), "--threads", "1", "--json"],
                             cwd=ROOT, capture_output=True, text=True)
        if out.returncode == 0:
            r["fresh"] = float(json.loads(out.stdout)["overall_mean"])


def study(rows: list[dict], marks: list[float], measure: str) -> list[str]:
    """Per setting: seeds, median and worst of ``measure`` (``fresh`` or ``final``), how many seeds reached each
    mark (re-tested, during the run); then every other setting against the first, Mann-Whitney U on ``measure``."""
    from scipy.stats import mannwhitneyu

    settings: dict[str, list[dict]] = {}
    for r in rows:
        settings.setdefault(r["setting"], []).append(r)
    out = [f"{'setting':<36} {'seeds':>5} {'median':>8} {'worst':>8}  " +
           " ".join(f"{'>=' + format(m, 'g'):>6}" for m in marks) + f"  ({measure})"]
    values = {}
    for name, rs in settings.items():
        v = np.array([r[measure] for r in rs], dtype=float)
        v = v[np.isfinite(v)]
        values[name] = v
        reached = " ".join(f"{sum(1 for r in rs if not math.isnan(r['t'][m])):>6}" for m in marks)
        med, worst = (f"{np.median(v):8.1f}", f"{v.min():8.1f}") if v.size else (f"{'-':>8}", f"{'-':>8}")
        out.append(f"{name:<36} {len(rs):>5} {med} {worst}  {reached}")
    names = list(settings)
    for other in names[1:]:
        a, b = values[names[0]], values[other]
        if a.size and b.size:
            res = mannwhitneyu(a, b, alternative="two-sided")
            out.append(f"{names[0]} vs {other}: U={res.statistic:.0f}, p={res.pvalue:.3g} ({a.size} vs {b.size} seeds)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8, help="seeds 0..N-1 (default 8)")
    ap.add_argument("--minutes", type=float, default=30.0, help="wall budget per seed (default 30)")
    ap.add_argument("--preset", default="swingup", help="task preset (default swingup)")
    ap.add_argument("--threads", type=int, default=1, help="threads per run (default 1)")
    ap.add_argument("--parallel", type=int, default=0, help="runs at once (default: cores // threads)")
    ap.add_argument("--marks", default="500,600,700", help="re-tested means to time (default 500,600,700)")
    ap.add_argument("--set", action="append", default=[], help="key=value for every run (repeatable)")
    ap.add_argument("--dir", type=Path, default=None, help="sweep folder (default /tmp/bench_search-<time>)")
    ap.add_argument("--report", type=Path, default=None, help="only print the table of this sweep folder")
    ap.add_argument("--rescore", type=int, default=0, metavar="N",
                    help="also score each final champion on N fresh episodes per weight and compare settings on it")
    ap.add_argument("--rescore-seed", type=int, default=777_000, help="seed of the fresh episodes (default 777000)")
    a = ap.parse_args()
    marks = [float(x) for x in a.marks.split(",") if x.strip()]
    if a.report is None:
        if a.seeds < 1 or a.minutes <= 0:
            ap.error("--seeds must be >= 1 and --minutes > 0")
        d = a.dir or Path(f"/tmp/bench_search-{time.strftime('%Y%m%d-%H%M%S')}")
        parallel = a.parallel or max(1, (os.cpu_count() or 1) // max(a.threads, 1))
        cmd = [sys.executable, "-m", "wann_engine", "sweep", "start", str(d), "--task", a.preset,
               "--seeds", f"0-{a.seeds - 1}", "--minutes", str(a.minutes), "--threads", str(a.threads),
               "--parallel", str(parallel), "--quiet"]
        for s in a.set:
            cmd += ["--set", s]
        print(f"bench_search: {a.seeds} seeds x {a.minutes:g} min of {a.preset}, {parallel} at once, in {d}",
              flush=True)
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0:
            print(f"bench_search: the sweep ended with exit code {rc}", file=sys.stderr)
            return rc
    else:
        d = a.report
    try:
        rows = seed_rows(d, marks)
    except (sweep.SweepError, OSError) as e:
        print(f"bench_search: {e}", file=sys.stderr)
        return 2
    print("\n".join(report(rows, marks)))
    if len({r["setting"] for r in rows}) > 1 or a.rescore:
        if a.rescore:
            rescore(rows, a.rescore, a.rescore_seed)
        print()
        print("\n".join(study(rows, marks, "fresh" if a.rescore else "final")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
