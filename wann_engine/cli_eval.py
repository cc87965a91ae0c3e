"""``wann-engine eval``: score a network file at shared weights over seeded episodes.

Registered on the app of ``wann_engine.cli_common`` (``wann_engine.cli`` imports this module).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import orjson
import typer

from . import limits
from .cli_common import UserError, app
from .exits import Exit
from .netfile import open_network


def parse_weights(text: str, option: str = "--weights") -> np.ndarray:
    """Comma-separated finite numbers."""
    try:
        ws = np.array([float(w) for w in text.split(",") if w.strip()])
    except ValueError:
        raise UserError(f"{option} {text!r}: expected numbers separated by commas") from None
    if ws.size == 0 or not np.isfinite(ws).all():
        raise UserError(f"{option} {text!r}: expected finite numbers")
    return ws


@app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(
        help="Network: project JSON, original .out, tuned weights, or a run directory (its champion)")],
    task: Annotated[str | None, typer.Option(
        help="Task to run it on (default: the file's own; swingup for an .out outside a run)")] = None,
    episodes: Annotated[int, typer.Option(help="Episodes per shared weight")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the episodes")] = 0,
    weights: Annotated[str, typer.Option(help="Comma-separated shared weights")] = "-2,-1,-0.5,0.5,1,2",
    threads: Annotated[int, typer.Option(help="Threads, 0 = all cores")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> int:
    """Score a network at each shared weight over seeded episodes: mean ± std per weight and overall.
    A tuned-weights file also gets a row for its own connection weights, on the same episodes."""
    ws = parse_weights(weights)
    try:
        limits.check_seed(seed)
        limits.check_threads(threads)
        limits.check_episodes(episodes, "--episodes", len(ws) + 1, "episodes (weights x episodes)")
    except limits.LimitError as e:
        raise UserError(str(e)) from None
    got = open_network(file, task)
    t, net = got.task, got.network()
    t0 = time.perf_counter()
    r = t.score([net], ws, (seed,), episodes, 0, threads).returns[0]
    tuned = None
    if got.weights is not None:
        tuned = t.scorer(net, threads).weighted(np.broadcast_to(got.weights, (episodes, net.n_conns)), (seed,),
                                                np.arange(episodes))
    elapsed = time.perf_counter() - t0
    result = {
        "file": str(file), "task": t.name, "episodes": episodes, "seed": seed,
        "nodes": net.n_nodes, "connections": net.n_conns,
        "weights": ws.tolist(), "mean": r.mean(1).tolist(), "std": r.std(1).tolist(),
        "overall_mean": float(r.mean()), "overall_std": float(r.std()),
        "best_weight": float(ws[int(np.argmax(r.mean(1)))]), "seconds": elapsed,
    }
    if tuned is not None:
        result["tuned"] = {"mean": float(tuned.mean()), "std": float(tuned.std())}
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return Exit.OK
    print(f"{file}  task {t.name}  {net.n_nodes} nodes  {net.n_conns} connections  "
          f"{episodes} episodes per weight (seed {seed})")
    print(f"{'weight':>8}  {'mean':>9}  {'std':>8}")
    best = int(np.argmax(r.mean(1)))
    for i, w in enumerate(ws):
        mark = "  <- best" if i == best else ""
        print(f"{w:8.3f}  {r[i].mean():9.2f}  {r[i].std():8.2f}{mark}")
    print(f"{'all':>8}  {r.mean():9.2f}  {r.std():8.2f}")
    if tuned is not None:
        print(f"{'tuned':>8}  {tuned.mean():9.2f}  {tuned.std():8.2f}  (the file's connection weights)")
    return Exit.OK
