"""``wann-engine protocol``: the paper's four weight conditions and the performance profile of a network file.

Registered on the app of ``wann_engine.cli_common`` (``wann_engine.cli`` imports this module).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import limits
from .cli_common import UserError, app
from .exits import Exit


@app.command()
def protocol(
    file: Annotated[Path, typer.Argument(
        help="Network: project JSON, original .out, tuned weights, or a run directory (its champion)")],
    task: Annotated[str | None, typer.Option(
        help="Task to run it on (default: the file's own; swingup for an .out outside a run)")] = None,
    trials: Annotated[int, typer.Option(help="Trials per condition and per weight of the sweep")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the trials, random weights and fine-tuning")] = 0,
    sweep: Annotated[int, typer.Option(help="Shared weights in the sweep over [-2, 2]")] = 81,
    finetune_gens: Annotated[int | None, typer.Option(
        help="Tuned individual weights: CMA-ES generations, or for classification epochs of gradient descent"
             " (default 300; 60), 0 = skip", show_default=False)] = None,
    finetune_episodes: Annotated[int, typer.Option(
        help="CMA-ES: training episodes per candidate, 0 = 8")] = 0,
    finetune_pop: Annotated[int, typer.Option(help="CMA-ES population size")] = 32,
    sigma: Annotated[float, typer.Option(help="CMA-ES initial step size (offsets from the shared weight)")] = 0.5,
    out: Annotated[Path | None, typer.Option(
        help="Folder for <name>.tuned.json and <name>.protocol.json (default: tuned weights beside FILE)")] = None,
    threads: Annotated[int, typer.Option(help="Threads for tasks scored through Task.score, 0 = all cores")] = 0,
    profile_rows: Annotated[bool, typer.Option("--profile/--no-profile", help="Print the profile table")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace existing tuned-weights / protocol files")] = False,
) -> int:
    """The paper's evaluation: random individual, random shared, tuned shared and tuned individual weights,
    mean ± std over seeded trials, and the performance profile (mean ± std per shared weight)."""
    try:
        limits.check_episodes(trials, "--trials")
        limits.check_count(sweep, "--sweep", 2)
        limits.check_episodes(trials, "--trials", sweep + 3, "episodes (trials x (sweep + 3))")
        limits.check_seed(seed)
        limits.check_threads(threads)
    except limits.LimitError as e:
        raise UserError(str(e)) from None
    if finetune_gens is not None and finetune_gens < 0:
        raise UserError("--finetune-gens must be 0 or more")
    if finetune_episodes < 0:
        raise UserError("--finetune-episodes must be 0 or more")
    if finetune_pop < 2:
        raise UserError("--finetune-pop must be at least 2")
    try:
        limits.check_episodes(finetune_gens or 1, "--finetune-gens", 1, "generations")
        limits.check_episodes(finetune_episodes or 1, "--finetune-episodes", finetune_pop, "episodes per generation")
    except limits.LimitError as e:
        raise UserError(str(e)) from None
    if not (math.isfinite(sigma) and sigma > 0):
        raise UserError("--sigma must be a positive number")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: not a folder")
    if not file.exists():
        raise UserError(f"{file}: no such file")
    from . import protocol as P
    from .events import encode

    # refused before the (long) evaluation: never over the input, never over a file without --force
    stem = P.tuned_path(file, out).name[: -len(".tuned.json")]
    outputs = ([P.tuned_path(file, out)] if finetune_gens != 0 else []) + (
        [out / f"{stem}.protocol.json"] if out is not None else [])
    for path in outputs:
        if path.exists() and path.resolve() == file.resolve():
            raise UserError(f"{path}: is the input file; name another folder with --out")
        if (path.exists() or path.is_symlink()) and not force:
            raise UserError(f"{path}: exists (use --force to replace it)")

    say = (lambda m: print(f"protocol: {m}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    res, genome, t = P.evaluate_file(file, task, trials=trials, seed=seed, sweep=sweep, finetune_gens=finetune_gens,
                                  finetune_episodes=finetune_episodes or None, finetune_pop=finetune_pop, sigma0=sigma,
                                  threads=threads, progress=say)
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--out {out}: {e.strerror}") from None
    if res.finetune is not None:
        c = res.conditions["tuned_individual"]
        path = P.tuned_path(file, out)
        try:
            P.save_tuned(path, genome, t, res.finetune.weights, res.finetune.shared_weight,
                         scores={"metric": res.metric, "trials": res.trials, "seed": res.seed, "mean": c.mean,
                                 "std": c.std},
                         source=str(file), finetune={k: v for k, v in res.finetune.to_dict().items()
                                                     if k not in ("history", "weights")})
        except OSError as e:
            raise UserError(f"{path}: cannot write the tuned weights ({e.strerror})") from None
        res.tuned_file = str(path)
    if out is not None:
        from .atomic import write_bytes

        write_bytes(out / f"{stem}.protocol.json", encode(res.to_dict(), indent=True))
    if as_json:
        sys.stdout.write(encode(res.to_dict()).decode() + "\n")
    else:
        print(P.format_table(res, profile_rows))
    return Exit.OK
