"""``wann-engine``: start, resume and control runs; evaluate network files.

Every user error ends as one line on stderr and a non-zero exit (2 for bad
input, 1 for a run that failed), never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import control, mpi_launch, rundir
from .cli_common import USER_ERRORS, UserError, app, build_config
from .config import PRESETS, Config
from .exits import Exit
from .sweep import gens_text

__all__ = ["app", "main", "UserError", "build_config"]


def _rate(x: float) -> str:
    return f"{x / 1e6:6.2f} M" if x >= 1e6 else f"{x / 1e3:6.1f} k"


class _Transient:
    """The progress line within a long generation: redrawn in place on a terminal (erased by the next
    line), a plain line at most every ``PLAIN_SECONDS`` otherwise (a log keeps a sign of life)."""

    PLAIN_SECONDS = 30.0
    shown = False
    plain_t = 0.0


def _progress_text(ev: dict[str, Any]) -> str:
    done, total = int(ev["done"]), int(ev["total"])
    pct = f" ({100 * done / total:.0f} %)" if total else ""
    what = "re-testing" if ev.get("phase") == "retest" else "scoring"
    return f"gen {ev['gen']:5d}  {what}: {done}/{total} episodes{pct}  {ev['gen_elapsed']:.0f} s into the generation"


def _progress_line(ev: dict[str, Any]) -> None:
    if ev["type"] == "progress":
        if sys.stdout.isatty():
            sys.stdout.write("\r\x1b[K" + _progress_text(ev))
            sys.stdout.flush()
            _Transient.shown = True
        elif ev["t"] - _Transient.plain_t >= _Transient.PLAIN_SECONDS:
            _Transient.plain_t = ev["t"]
            print(_progress_text(ev), flush=True)
        return
    if _Transient.shown:  # the next line replaces the transient one
        sys.stdout.write("\r\x1b[K")
        _Transient.shown = False
    if ev["type"] == "generation":
        rt = ev.get("retest_mean")
        retest = f"retested {rt:9.2f} ({ev.get('retest_episodes')} ep)  " if isinstance(rt, int | float) else ""
        print(f"gen {ev['gen']:5d}  {retest}raw best {ev['best_mean']:9.2f}  peak {ev['best_peak']:9.2f}  "
              f"max {ev['fit_max']:9.2f}  median {ev['fit_median']:9.2f}  "
              f"conns {ev.get('retest_conns', ev['best_conns']):4d}  "
              f"{ev['evals_per_s']:7.1f} evals/s  {_rate(ev['env_steps_per_s'])} steps/s", flush=True)
    else:
        print(f"{ev['type']} at generation {ev['gen']}", flush=True)


@app.command()
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Option(help="Task or preset: " + ", ".join(PRESETS))] = "swingup",
    pop: Annotated[int | None, typer.Option(help="Population size (popSize)")] = None,
    gens: Annotated[int | None, typer.Option(help="Generations (maxGen)")] = None,
    seed: Annotated[int, typer.Option(help="Run seed: the same seed gives the same run")] = 0,
    name: Annotated[str | None, typer.Option(help="Run name (default: task-date-time)")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Folder holding run directories")] = Path("runs"),
    workers: Annotated[int, typer.Option(help="Evaluation processes; 2 or more run as an MPI job")] = 1,
    threads: Annotated[int, typer.Option(help="Evaluation threads per process, 0 = all cores")] = 0,
    hosts: Annotated[Path | None, typer.Option(help="MPI host file, given to mpiexec as -f")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a hyperparameter: key=value")] = None,
    config: Annotated[Path | None, typer.Option(help="Start from this config.json instead of a preset")] = None,
    quiet: Annotated[bool, typer.Option(help="No per-generation lines")] = False,
    detached: Annotated[bool, typer.Option(hidden=True)] = False,
) -> int:
    """Start a new run in RUNS_DIR/NAME."""
    from .runner import Session

    cfg = build_config(task, pop, gens, seed, workers, threads, set_ or [], config)
    if name is None:
        name = control.default_name(task)
        argv = [*_argv(ctx), "--name", name]  # every rank of an MPI job must use the same name
    else:
        argv = _argv(ctx)
    if not mpi_launch.in_mpi():  # (the ranks of a job: rank 0 makes the folder the launcher checked)
        rundir.check_new(runs_dir, name)
    rc = mpi_launch.delegate(cfg.workers, runs_dir / rundir.check_name(name), argv, hosts)
    if rc is not None:  # ran as an MPI job, or this is one of its workers
        return rc
    with Session.create(runs_dir, name, cfg, progress=None if quiet else _progress_line, detached=detached) as s:
        if not quiet:
            _line(f"run {s.path}  task {cfg.task}  pop {cfg.popSize}  gens {cfg.maxGen}  seed {cfg.seed}")
        rc = s.run()
        if not quiet:
            _summary(s, rc)
        return rc


@app.command()
def resume(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="The run directory to continue")],
    hosts: Annotated[Path | None, typer.Option(help="MPI host file, given to mpiexec as -f")] = None,
    quiet: Annotated[bool, typer.Option(help="No per-generation lines")] = False,
    detached: Annotated[bool, typer.Option(hidden=True)] = False,
) -> int:
    """Continue a stopped or killed run exactly where its last checkpoint left it."""
    from .runner import Session, load

    # config and checkpoint read once and checked, nothing written yet (by the launcher of an MPI job,
    # then by its rank 0; the other ranks only score networks)
    saved = None if mpi_launch.in_mpi() else load(run_dir)
    rc = mpi_launch.delegate(saved.cfg.workers if saved else 1, run_dir, _argv(ctx), hosts, new=False)
    if rc is not None:  # ran as an MPI job, or this is one of its workers
        return rc
    with Session.resume(saved or run_dir, progress=None if quiet else _progress_line, detached=detached) as s:
        if not quiet:
            _line(f"resuming {s.path} at generation {s.search.gen} of {s.cfg.maxGen}")
        rc = s.run()
        if not quiet:
            _summary(s, rc)
        return rc


def _summary(s: Any, rc: int) -> None:
    """The lines a session ends with: what was done, the best scores, the time, the champion's file,
    and how to continue a run that did not finish."""
    from .runner import Session

    assert isinstance(s, Session) and s.runner is not None
    search, cfg, path = s.search, s.cfg, s.path
    if rc == Exit.FAILED:
        state = "failed"
    else:
        state = "finished" if search.gen >= cfg.maxGen else "stopped"
    if _Transient.shown:
        sys.stdout.write("\r\x1b[K")
        _Transient.shown = False
    best = []
    if cfg.retest_top > 0 and search.champ is not None:
        best.append(f"re-tested {search.champ_mean:.2f} ({cfg.retest_reps * len(cfg.weights)} episodes)")
    if search.best is not None:
        best.append(f"raw {search.best_mean:.2f}")
    champ = path / rundir.CHAMPION_JSON
    lines = [f"{state}: {search.gen}/{cfg.maxGen} generations in {_duration(s.runner.elapsed)}",
             "best: " + (", ".join(best) if best else "-"),
             f"champion: {champ if champ.exists() else '-'}"]
    if state != "finished":
        lines.append(f"continue with: wann-engine resume {path}")
    for line in lines:
        _line(line)


def _duration(seconds: float) -> str:
    m, sec = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else f"{m}m {sec:02d}s" if m else f"{seconds:.1f} s"


def _line(text: str) -> None:
    """A line on stdout; a closed pipe or a terminal gone leaves the run going, without its lines."""
    try:
        print(text, flush=True)
    except OSError:
        pass


def _argv(ctx: typer.Context) -> list[str]:
    """This invocation's arguments, to give the ranks of an MPI job (``main`` passes them)."""
    return list(ctx.obj) if isinstance(ctx.obj, list) else sys.argv[1:]


@app.command("control")
def control_(
    run_dir: Annotated[Path, typer.Argument(help="The run directory")],
    action: Annotated[str, typer.Argument(help="pause, continue, stop or kill")],
) -> int:
    """Ask a running engine to pause, continue or stop at its next generation boundary (or kill it).
    A run whose engine is not running is refused (exit 2) and left as it is."""
    want = {"pause": "pause", "continue": "run", "stop": "stop", "kill": "kill"}.get(action)
    if want is None:
        raise UserError(f"unknown action {action!r} (pause, continue, stop, kill)")
    rundir.read_config(run_dir)
    if want == "kill":
        if not control.kill(run_dir):
            raise control.NotRunning(f"{run_dir}: no engine is running")
    else:
        control.ask(run_dir, want)  # type: ignore[arg-type]
    return Exit.OK


@app.command()
def status(runs_dir: Annotated[Path, typer.Argument(help="Folder holding run directories")] = Path("runs")) -> int:
    """List runs: state, generation, best raw mean, re-tested champion (mean over its episodes)."""
    runs = control.list_runs(runs_dir)
    if not runs:
        print(f"no runs in {runs_dir}")
        return Exit.OK
    names = [_printable(s.name) for s in runs]
    task_w = max(4, *(len(_printable(s.task)) for s in runs))
    rest = 1 + task_w + 1 + 9 + 1 + 11 + 1 + 9 + 1 + 18  # the columns after the name
    # the name column fits the longest name; on a terminal too narrow for it, long names lose their middle
    name_w = max(4, *(len(n) for n in names))
    if sys.stdout.isatty():
        import shutil

        name_w = max(16, min(name_w, shutil.get_terminal_size().columns - rest))
    print(f"{'name':{name_w}} {'task':{task_w}} {'state':9} {'gen':>11} {'best raw':>9} {'retested':>18}")
    for s, name in zip(runs, names, strict=True):
        best = f"{s.best:9.2f}" if s.best is not None else " " * 9
        if s.retested is not None:
            best += f" {s.retested:9.2f} ({s.retest_episodes or '?':>3} ep)"
        note = f"  damaged: {_printable(s.damaged)}" if s.damaged else ""
        if s.newer_keys and not note:
            note = f"  {_printable(control.newer_engine_note(s.newer_keys))}"
        gens = gens_text(s.gen, s.total)
        slash = gens.find("/")
        gens = f"{gens[:slash]:>5}{gens[slash:]:<6}" if slash >= 0 else f"{gens:>5}      "
        print(f"{_elide(name, name_w):{name_w}} {_printable(s.task):{task_w}} {s.state:9} {gens} {best}{note}")
    return Exit.OK


def _elide(text: str, width: int) -> str:
    """``text`` in ``width`` characters: the middle replaced by "…" when it is longer (a run's name ends
    with its date and time, which tell runs of one task apart)."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _printable(text: str) -> str:
    """Text from disk on one line: control characters escaped (a name holding a newline stays one row)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@app.command()
def presets() -> int:
    """Show the task presets and every configurable key with its default."""
    for name, values in PRESETS.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print("keys (defaults): " + ", ".join(f"{k}={v}" for k, v in Config().to_dict().items()))
    return Exit.OK


def one_line(text: str) -> str:
    """``text`` as one line of plain characters: a newline or a terminal escape in a path the user
    typed (or a file's content quoted in a message) is shown escaped, never acted on."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text.rstrip("\n"))


def main(argv: list[str] | None = None) -> None:
    """Entry point: map errors to one line and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        rv = app(args=args, standalone_mode=False, prog_name="wann-engine", obj=args)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.TyperException as e:
        print(f"wann-engine: error: {one_line(e.format_message())}", file=sys.stderr)
        sys.exit(Exit.USAGE)
    except (typer.Abort, KeyboardInterrupt):
        print("wann-engine: interrupted", file=sys.stderr)
        sys.exit(Exit.INTERRUPTED)
    except USER_ERRORS as e:
        print(f"wann-engine: error: {one_line(str(e))}", file=sys.stderr)
        sys.exit(Exit.USAGE)
    sys.exit(rv if isinstance(rv, int) else 0)


# the other commands, registered after these so that `--help` lists run, resume, ... first
from . import cli_encoder, cli_eval, cli_export, cli_protocol, cli_sweep  # noqa: E402,F401
