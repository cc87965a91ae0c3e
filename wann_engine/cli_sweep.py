"""``wann-engine sweep`` (start, resume, stop, extend, status) and ``wann-engine report``.

Registered on the app of ``wann_engine.cli_common`` (``wann_engine.cli`` imports this module).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from . import sweep as sweepmod
from .cli_common import UserError, app, build_config
from .config import ConfigError
from .exits import Exit
from .rundir import RunDirError
from .tasks import TaskError

sweep_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="Seed and parameter sweeps: many ordinary runs in one folder.")
app.add_typer(sweep_app, name="sweep")

_SWEEP_ERRORS = (sweepmod.SweepError, RunDirError, ConfigError, TaskError)

SweepDir = Annotated[Path, typer.Argument(help="The sweep folder (holds sweep.json and one run per member)")]
Parallel = Annotated[int | None, typer.Option(help="Members at once (default: cores // threads)")]
Detach = Annotated[bool, typer.Option("--detach", help="Run the scheduler in the background (output: sweep.log)")]
Slurm = Annotated[str | None, typer.Option(
    help="Submit the members as a Slurm job array instead; the value is passed to sbatch (\"\" for none)")]
Quiet = Annotated[bool, typer.Option("--quiet", help="Print only the final line")]
Poll = Annotated[float, typer.Option(hidden=True, help="Seconds between polls of the members")]


def _user_errors(fn):  # type: ignore[no-untyped-def]
    """Sweep, run-directory and config errors of the sweep commands: one line, exit 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **k):  # type: ignore[no-untyped-def]
        try:
            return fn(*a, **k)
        except _SWEEP_ERRORS as e:
            raise UserError(str(e)) from None

    return wrapper


def _validate_members(sw: sweepmod.Sweep) -> None:
    """Build each setting's configuration once, so a bad key or value fails before anything runs."""
    for setting in sw.settings:
        overrides = sw.base_set + [f"{k}={v}" for k, v in setting.items()]
        try:
            build_config(sw.task, sw.pop, sw.budget.max_gen, 0, 1, sw.threads, overrides, None)
        except (UserError, ConfigError, TaskError) as e:
            where = f" (setting {sweepmod.setting_label(setting)})" if setting else ""
            raise sweepmod.SweepError(f"{e}{where}") from None


def _say(quiet: bool):  # type: ignore[no-untyped-def]
    return (lambda line: None) if quiet else (lambda line: print(line, flush=True))


def _go(path: Path, parallel: int | None, detach: bool, slurm: str | None, quiet: bool, poll: float) -> int:
    """Run (or submit) the unfinished members of the sweep at ``path``."""
    from . import sweep_local

    sweep_local.check_scheduler_free(path)
    if slurm is not None:
        from . import slurm as slurmmod

        job, names = slurmmod.submit(path, slurm, parallel)
        if not names:
            print(f"{path}: every member is done or running; nothing submitted")
            return Exit.OK
        print(f"submitted Slurm job {job}: {len(names)} member(s) as an array; "
              f"`wann-engine sweep status {path}` follows them")
        return Exit.OK
    if detach:
        args = ["sweep", "resume", str(path), "--poll", str(poll)]
        if parallel:
            args += ["--parallel", str(parallel)]
        pid = sweep_local.detach(args, path)
        print(f"scheduler started in the background (pid {pid}), output in {path / sweepmod.LOG}; "
              f"`wann-engine sweep status {path}` follows it")
        return Exit.OK
    return sweep_local.Scheduler(path, parallel=parallel, poll=poll, say=_say(quiet)).run()


@sweep_app.command()
@_user_errors
def start(
    sweep_dir: SweepDir,
    task: Annotated[str, typer.Option(help="Task or preset (as for `run`)")] = "swingup",
    seeds: Annotated[str, typer.Option(help="Seeds: a range 0-7, a list 0,3,5, or both")] = "0",
    grid: Annotated[list[str] | None, typer.Option(
        help="key=v1,v2 (repeat for more keys): every combination is one setting")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=value for every member")] = None,
    pop: Annotated[int | None, typer.Option(help="Population size (popSize)")] = None,
    gens: Annotated[int | None, typer.Option(help="Budget: generations per member (reproducible)")] = None,
    minutes: Annotated[float | None, typer.Option(
        help="Budget: wall minutes per member (not reproducible: generations per minute vary)")] = None,
    threads: Annotated[int, typer.Option(help="Evaluation threads per member")] = 1,
    parallel: Parallel = None,
    detach: Detach = False,
    slurm: Slurm = None,
    quiet: Quiet = False,
    poll: Poll = 1.0,
) -> int:
    """Create a sweep (settings × seeds, one ordinary run each) and run it to its budget."""
    budget = sweepmod.Budget(gens=gens, minutes=minutes)
    seed_list = sweepmod.parse_seeds(seeds)
    grid_axes = sweepmod.parse_grid(grid or [])
    probe = sweepmod.Sweep(path=sweep_dir, task=task, seeds=seed_list, grid=grid_axes, budget=budget,
                           base_set=list(set_ or []), pop=pop, threads=threads)
    if threads < 1:
        raise sweepmod.SweepError(f"--threads {threads}: must be at least 1")
    if parallel is not None and parallel < 1:
        raise sweepmod.SweepError(f"--parallel {parallel}: must be at least 1")
    _validate_members(probe)
    par = parallel or sweepmod.default_parallel(threads)
    sw = sweepmod.create(sweep_dir, task, seed_list, grid_axes, budget, list(set_ or []), pop, threads, par)
    print(f"sweep {sw.path}: {len(sw.settings)} setting(s) × {len(seed_list)} seed(s) = {len(sw.members)} members, "
          f"{budget.describe()} each", flush=True)
    return _go(sw.path, parallel, detach, slurm, quiet, poll)


@sweep_app.command()
@_user_errors
def resume(
    sweep_dir: SweepDir,
    parallel: Parallel = None,
    detach: Detach = False,
    slurm: Slurm = None,
    quiet: Quiet = False,
    poll: Poll = 1.0,
) -> int:
    """Continue a stopped or interrupted sweep (also after its scheduler was killed); failed members
    get a fresh try."""
    from . import sweep_local

    sweepmod.load(sweep_dir)
    sweep_local.check_scheduler_free(sweep_dir)
    if parallel is not None:
        if parallel < 1:
            raise sweepmod.SweepError(f"--parallel {parallel}: must be at least 1")
        with sweepmod.editing(sweep_dir) as sw:
            sw.parallel = parallel
    sweep_local.reset_failures(sweep_dir)
    sweepmod.set_wanted(sweep_dir, "run")
    return _go(sweep_dir, parallel, detach, slurm, quiet, poll)


@sweep_app.command()
@_user_errors
def stop(sweep_dir: SweepDir) -> int:
    """Stop a sweep: its scheduler and every running member (each writes a checkpoint first)."""
    from . import sweep_local

    sw = sweepmod.load(sweep_dir)
    sweepmod.set_wanted(sweep_dir, "stop")
    sched = sweepmod.scheduler_pid(sweep_dir)
    # counted as asked: a member that stops at once is no longer running when the line is printed
    asked = sweep_local.Scheduler(sweep_dir, hold_lock=False).stop_members()
    cancelled = ""
    if sw.slurm_jobs:
        from . import slurm as slurmmod

        cancelled = slurmmod.cancel(sw)
    print(f"{sweep_dir}: asked {asked} running member(s) to stop"
          + (f" and the scheduler (pid {sched})" if sched else "") + (f"; {cancelled}" if cancelled else ""))
    return Exit.OK


@sweep_app.command()
@_user_errors
def extend(
    sweep_dir: SweepDir,
    seeds: Annotated[str | None, typer.Option(help="More seeds (those already in the sweep are skipped)")] = None,
    gens: Annotated[int | None, typer.Option(help="New generation budget (at least the current one)")] = None,
    minutes: Annotated[float | None, typer.Option(help="New wall budget in minutes (at least the current one)")] = None,
    run: Annotated[bool, typer.Option("--run/--no-run", help="Run the sweep after extending it")] = True,
    parallel: Parallel = None,
    detach: Detach = False,
    slurm: Slurm = None,
    quiet: Quiet = False,
    poll: Poll = 1.0,
) -> int:
    """Add seeds or lengthen the budget; finished members continue exactly where they stopped."""
    if seeds is None and gens is None and minutes is None:
        raise sweepmod.SweepError("nothing to extend: give --seeds, --gens or --minutes")
    new_seeds = sweepmod.parse_seeds(seeds) if seeds is not None else []
    with sweepmod.editing(sweep_dir) as sw:
        b = sw.budget
        if gens is not None:
            if b.gens is None:
                raise sweepmod.SweepError("this sweep has a wall budget: extend it with --minutes")
            if gens < b.gens:
                raise sweepmod.SweepError(f"--gens {gens}: a budget only grows (now {b.gens})")
            sw.budget = sweepmod.Budget(gens=gens)
        if minutes is not None:
            if b.minutes is None:
                raise sweepmod.SweepError("this sweep has a generation budget: extend it with --gens")
            if minutes < b.minutes:
                raise sweepmod.SweepError(f"--minutes {minutes:g}: a budget only grows (now {b.minutes:g})")
            sw.budget = sweepmod.Budget(minutes=minutes)
        added = sw.add_seeds(new_seeds)
        budget = sw.budget.describe()
    print(f"sweep {sweep_dir}: {len(added)} member(s) added, budget {budget}")
    sched = sweepmod.scheduler_pid(sweep_dir)
    if sched is not None:
        print(f"the running scheduler (pid {sched}) picks this up")
        return Exit.OK
    if not run:
        return Exit.OK
    sweepmod.set_wanted(sweep_dir, "run")  # (after `sweep stop`, a scheduler would stop again at once)
    return _go(sweep_dir, parallel, detach, slurm, quiet, poll)


@sweep_app.command()
@_user_errors
def status(
    sweep_dir: SweepDir,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> int:
    """Each member's state, generation and best; the scheduler; Slurm jobs."""
    sw = sweepmod.load(sweep_dir)
    sts = sweepmod.statuses(sw)
    sched = sweepmod.scheduler_pid(sweep_dir)
    if as_json:
        doc = {
            "sweep": str(sweep_dir), "task": sw.task, "budget": sw.budget.to_dict(), "scheduler_pid": sched,
            "want": sweepmod.wanted(sweep_dir), "slurm_jobs": sw.slurm_jobs, "counts": sweepmod.counts(sts),
            "members": [{"name": s.member.name, "seed": s.member.seed, "setting": s.member.setting,
                         "state": s.state, "gen": s.gen, "total": s.total, "best": s.best,
                         "elapsed": s.elapsed, "retries": s.member.retries, "message": s.message} for s in sts],
        }
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return Exit.OK
    who = f"scheduler running (pid {sched})" if sched else "no scheduler running"
    jobs = f", Slurm job(s) {', '.join(sw.slurm_jobs)}" if sw.slurm_jobs else ""
    print(f"sweep {sweep_dir}  task {sw.task}  budget {sw.budget.describe()}  {len(sts)} members  {who}{jobs}")
    width = max([len(s.member.name) for s in sts] + [4])
    print(f"{'name':{width}}  {'seed':>4}  {'state':9} {'gen':>9}  {'best':>9}  note")
    wall = sw.budget.seconds is not None
    for s in sts:
        gen = f"{s.gen}" + ("" if wall else f"/{sw.budget.max_gen}")
        best = f"{s.best:9.2f}" if s.best is not None else " " * 9
        note = s.message if s.state in ("crashed", "failed") else (f"{s.elapsed / 60:.1f} min" if wall else "")
        if s.member.retries and s.state != "failed":
            note = (note + " " if note else "") + f"(retried {s.member.retries}×)"
        print(f"{s.member.name:{width}}  {s.member.seed:>4}  {s.state:9} {gen:>9}  {best}  {note}")
    print(", ".join(f"{v} {k}" for k, v in sorted(sweepmod.counts(sts).items())))
    return Exit.OK


@sweep_app.command(hidden=True)
@_user_errors
def member(
    sweep_dir: SweepDir,
    index: Annotated[int, typer.Option(help="Member index in sweep.json (a Slurm array task id)")],
    poll: Poll = 2.0,
) -> int:
    """Run one member to its budget in the foreground (a task of a Slurm job array)."""
    from . import sweep_local

    sw = sweepmod.load(sweep_dir)
    if not 0 <= index < len(sw.members):
        raise sweepmod.SweepError(f"--index {index}: the sweep has members 0..{len(sw.members) - 1}")
    name = sw.members[index].name
    return sweep_local.Scheduler(sweep_dir, parallel=1, only=[name], poll=poll, hold_lock=False).run()


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A run directory or a sweep folder")],
    output: Annotated[Path, typer.Option("-o", "--output", help="FILE.svg, .png, .pdf, or .csv (tables)")],
    to: Annotated[str | None, typer.Option("--to", help="svg, png, pdf or csv (default: from the suffix of -o)")]
    = None,
    x: Annotated[str, typer.Option(help="x axis of the curves: gen, evaluations or time")] = "gen",
    threshold: Annotated[float | None, typer.Option(help="Fitness mark: time and generation to it, seeds reaching it")]
    = None,
    band: Annotated[str, typer.Option(help="Band across seeds: iqr (25-75 %) or 95 (2.5-97.5 %)")] = "iqr",
) -> int:
    """Figures (fitness curves with bands, Pareto front, champion network, per-weight scores) or CSV
    tables of a run or a sweep; prints the settings table and each setting's test against the first."""
    from . import report as rep
    from . import sweep_stats as st

    fmt = to or output.suffix.lstrip(".").lower()
    if fmt not in rep.FORMATS:
        raise UserError(f"--to {fmt!r}: unknown format (one of: {', '.join(rep.FORMATS)})" if to else
                        f"-o {output}: unknown suffix (use .svg, .png, .pdf or .csv, or --to)")
    axis = {"gen": "gen", "evaluations": "evaluations", "time": "elapsed", "elapsed": "elapsed"}.get(x)
    if axis is None:
        raise UserError(f"--x {x!r}: use gen, evaluations or time")
    quantiles = {"iqr": (25.0, 75.0), "95": (2.5, 97.5)}.get(band)
    if quantiles is None:
        raise UserError(f"--band {band!r}: use iqr or 95")
    if not path.is_dir():
        raise UserError(f"{path}: no such run directory or sweep folder")
    try:
        data = st.SweepData.load(path)
    except (sweepmod.SweepError, RunDirError) as e:
        raise UserError(str(e)) from None
    if not any(c.n for c in data.all_curves()):
        raise UserError(f"{path}: no generations recorded yet")
    try:
        if fmt == "csv":
            files = rep.write_csv(data, output, axis, threshold, quantiles)
        else:
            rep.write_figure(data, output, fmt, x=axis, threshold=threshold, quantiles=quantiles)
            files = [output]
    except rep.MissingExtra as e:
        print(f"wann-engine: error: {e}", file=sys.stderr)
        return Exit.USAGE
    except OSError as e:
        raise UserError(f"{output}: {e.strerror}") from None
    sums = st.table(data, threshold)
    for line in rep.text_table(sums):
        print(line)
    for t in st.tests_against_first(sums):
        print(t.line())
    for f in files:
        print(f"wrote {f}")
    return Exit.OK
