"""The trajectory of a classification run: test accuracy of the generation's champion along the run.

Run: .venv/bin/python bench/mnist_trajectory.py RUN [--every 128] [--split test] [--json]

RUN is a run directory of a classification task (``mnist256``, ``digits``). Its ``events.jsonl`` is read
once, line by line (``events.read``, the resume rule applied as it goes, so a file of hundreds of MB
costs a few seconds and little memory). A ``generation`` event carries the champion's genome only when
the champion changed, so the champion of generation g is the last one written at or before g. Every
``--every`` generations (0, every, 2 x every, ...) and at the last generation, that champion is scored
on the whole split at each of the run's shared weights, without tuning. One row per generation:

- ``gen``: the generation; ``found``: the generation its champion was found in;
- ``conns``, ``inputs``: the champion's connections and the inputs it uses (``protocol.inputs_used``);
- ``mean``: test accuracy averaged over the shared weights; ``ensemble``: the vote over them
  (``ClassifyTask.accuracy``, the protocol's ensemble); ``best``: the best single weight's accuracy;
- ``elapsed``: the run's wall time at the end of that generation (``elapsed`` of the event).

Then the run's wall time per generation over each stretch of ``--every`` generations (machine load
included: these are the run's own clock, not a benchmark). Bad input: one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import bisect
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wann_engine import events  # noqa: E402
from wann_engine.exits import Exit  # noqa: E402
from wann_engine.netfile import NetworkFileError, genome_from_dict  # noqa: E402
from wann_engine.protocol import inputs_used  # noqa: E402
from wann_engine.tasks import TaskError, get  # noqa: E402


class TrajectoryError(ValueError):
    """The run cannot give a trajectory; the message says why."""


def scan(path: Path) -> tuple[events.RunStart, dict[int, float], list[tuple[int, dict[str, Any]]]]:
    """The run's first ``run_start``, the elapsed time of each generation, and the champion changes
    ``(generation, genome)`` in order, with the resume rule applied (``events.supersedes``)."""
    first: events.RunStart | None = None
    elapsed: dict[int, float] = {}
    changes: list[tuple[int, dict[str, Any]]] = []
    for ev in events.read(path):
        if isinstance(ev, events.RunStart):
            first = first or ev
            while changes and events.supersedes(ev, changes[-1][0]):
                changes.pop()
            for g in [g for g in elapsed if events.supersedes(ev, g)]:
                del elapsed[g]
        elif isinstance(ev, events.Generation):
            elapsed[ev.gen] = ev.elapsed
            if ev.champion is not None:
                changes.append((ev.gen, ev.champion))
    if first is None:
        raise TrajectoryError(f"{path}: no run_start event (not a run's events file?)")
    if not elapsed:
        raise TrajectoryError(f"{path}: no generation yet")
    return first, elapsed, changes


def trajectory(run: Path, every: int = 128, split: str = "test") -> list[dict[str, Any]]:
    """One row per sampled generation (see the module docstring)."""
    path = run / "events.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise TrajectoryError(f"{run}: no events.jsonl")
    start, elapsed, changes = scan(path)
    try:
        task = get(start.task)
    except TaskError as e:
        raise TrajectoryError(f"{run}: {e}") from None
    if task.spec.metric != "accuracy":
        raise TrajectoryError(f"{run}: task {start.task} is not a classification task")
    weights = np.asarray(start.weights, dtype=np.float64)
    last = max(elapsed)
    found = [g for g, _ in changes]
    cache: dict[int, dict[str, Any]] = {}
    rows = []
    for g in sorted({*range(0, last + 1, every), last}):
        if g not in elapsed:
            continue
        i = bisect.bisect_right(found, g) - 1
        row: dict[str, Any] = {"gen": g, "elapsed": elapsed[g]}
        if i >= 0:
            if i not in cache:
                try:
                    net = genome_from_dict(changes[i][1]).network(start.keep_disabled_hidden)
                except NetworkFileError as e:
                    raise TrajectoryError(f"{path}: the champion of generation {found[i]}: {e}") from None
                acc = task.accuracy(net, weights, split)
                cache[i] = {"found": found[i], "conns": net.n_conns, "inputs": inputs_used(net),
                            "mean": float(acc.accuracy.mean()), "ensemble": acc.ensemble,
                            "best": float(acc.accuracy.max()), "per_weight": acc.accuracy.tolist()}
            row.update(cache[i])
        rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as text, with the run's wall seconds per generation since the previous row."""
    lines = [f"{'gen':>6} {'found':>6} {'conns':>6} {'inputs':>6} {'mean':>7} {'ensemble':>8} {'best':>7} "
             f"{'elapsed':>9} {'s/gen':>6}"]
    prev: dict[str, Any] | None = None
    for r in rows:
        rate = "" if prev is None else f"{(r['elapsed'] - prev['elapsed']) / (r['gen'] - prev['gen']):6.2f}"
        if "found" in r:
            lines.append(f"{r['gen']:6d} {r['found']:6d} {r['conns']:6d} {r['inputs']:6d} {100 * r['mean']:6.2f}% "
                         f"{100 * r['ensemble']:7.2f}% {100 * r['best']:6.2f}% {r['elapsed']:8.0f}s {rate:>6}")
        else:
            lines.append(f"{r['gen']:6d} {'-':>6}{'':43} {r['elapsed']:8.0f}s {rate:>6}")
        prev = r
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="run directory (or its events.jsonl)")
    ap.add_argument("--every", type=int, default=128, help="generations between rows (default 128)")
    ap.add_argument("--split", choices=("test", "train"), default="test")
    ap.add_argument("--json", action="store_true", help="print the rows as one JSON array")
    a = ap.parse_args(argv)
    if a.every < 1:
        print("mnist_trajectory: --every must be at least 1", file=sys.stderr)
        return Exit.USAGE
    try:
        rows = trajectory(a.run, a.every, a.split)
    except TrajectoryError as e:
        print(f"mnist_trajectory: {e}", file=sys.stderr)
        return Exit.USAGE
    print(orjson.dumps(rows).decode() if a.json else table(rows))
    return Exit.OK


if __name__ == "__main__":
    sys.exit(main())
