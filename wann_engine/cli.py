"""``wann-engine``: start, resume and control runs; evaluate network files.

Every user error ends as one line on stderr and a non-zero exit (2 for bad
input, 1 for a run that failed), never a traceback.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import orjson
import typer

from . import control, mpi_launch, rundir, tasks
from .config import PRESETS, Config, ConfigError, preset
from .netfile import NetworkFileError, read_any
from .tasks import TaskError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Weight Agnostic Neural Network search engine.")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_USER_ERRORS = (ConfigError, rundir.RunDirError, TaskError, NetworkFileError)


_argv: list[str] = []  # this invocation's arguments (main sets them)


class UserError(Exception):
    """Bad input: reported as one line, exit code 2."""


def build_config(task: str, pop: int | None, gens: int | None, seed: int, workers: int, threads: int,
                 overrides: list[str], config_file: Path | None) -> Config:
    """The run's configuration: preset of the task (or a config file), then options, then ``--set``."""
    if config_file is not None:
        try:
            cfg = Config.from_dict(orjson.loads(Path(config_file).read_bytes()))
        except OSError as e:
            raise UserError(f"{config_file}: {e.strerror}") from None
        except orjson.JSONDecodeError as e:
            raise UserError(f"{config_file}: not valid JSON ({e})") from None
    else:
        base = task.split(":", 1)[0] if task.startswith("gym:") else task
        cfg = preset(base) if base in PRESETS else Config.from_dict({"task": task})
    d = cfg.to_dict()
    if task and config_file is None:
        d["task"] = PRESETS.get(task, {}).get("task", task)
    if pop is not None:
        d["popSize"] = pop
    if gens is not None:
        d["maxGen"] = gens
    d["seed"] = seed
    d["workers"] = workers
    d["threads"] = threads
    cfg = Config.from_dict(d).with_overrides(overrides)
    tasks.get(cfg.task, cfg)  # unknown task: fail before anything is written
    return cfg


def _rate(x: float) -> str:
    return f"{x / 1e6:6.2f} M" if x >= 1e6 else f"{x / 1e3:6.1f} k"


def _progress_line(ev: dict[str, Any]) -> None:
    if ev["type"] == "generation":
        print(f"gen {ev['gen']:5d}  best {ev['best_mean']:9.2f}  peak {ev['best_peak']:9.2f}  "
              f"max {ev['fit_max']:9.2f}  median {ev['fit_median']:9.2f}  conns {ev['best_conns']:4d}  "
              f"{ev['evals_per_s']:7.1f} ind/s  {_rate(ev['env_steps_per_s'])} steps/s", flush=True)
    else:
        print(f"{ev['type']} at generation {ev['gen']}", flush=True)


def _detach_output(path: Path) -> None:
    """Send our stdout/stderr to the run's log (an engine started by the console)."""
    fd = os.open(path / rundir.LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def drive(path: Path, cfg: Config, task: Any, search: Any, lock: rundir.Lock, resumed_from: int | None,
          progress: Any, restore: dict[str, Any] | None = None) -> int:
    """Run the loop with events for start, error and end; returns the exit code."""
    from .evaluators import make_evaluator
    from .runner import Runner, start_fields

    evaluator = make_evaluator(cfg, task, path)
    runner = Runner(path, cfg, task, search, evaluator=evaluator, progress=progress)
    if restore:
        runner.elapsed_before = float(restore.get("elapsed", 0.0))
        runner.episodes = int(restore.get("episodes", 0))
        runner.env_steps = int(restore.get("env_steps", 0))
    try:
        runner.events.emit("run_start", **start_fields(path, cfg, task, resumed_from))
        if resumed_from is None:
            runner.checkpoint()  # generation 0 can be resumed too
        outcome = runner.run()
        return EXIT_OK if outcome in ("finished", "stopped") else EXIT_FAILED
    except Exception as e:  # the run failed: say so in the stream, keep the last checkpoint
        runner.events.emit("error", gen=search.gen, message=f"{type(e).__name__}: {e}")
        print(f"wann-engine: error: run failed at generation {search.gen}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        evaluator.close()
        runner.close()
        lock.release()


@app.command()
def run(
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
    from .runner import open_new

    cfg = build_config(task, pop, gens, seed, workers, threads, set_ or [], config)
    given, name = name, name or f"{re.sub(r'[^A-Za-z0-9._-]', '_', task)}-{time.strftime('%Y%m%d-%H%M%S')}"
    rc = mpi_launch.delegate(cfg.workers, runs_dir / rundir.check_name(name),
                             _argv + ([] if given else ["--name", name]), hosts)
    if rc is not None:  # ran as an MPI job, or this is one of its workers
        return rc
    task_obj = tasks.get(cfg.task, cfg)
    path, lock, search = open_new(runs_dir, name, cfg, task_obj)
    if detached:
        _detach_output(path)
    if not quiet:
        print(f"run {path}  task {cfg.task}  pop {cfg.popSize}  gens {cfg.maxGen}  seed {cfg.seed}", flush=True)
    return drive(path, cfg, task_obj, search, lock, None, None if quiet else _progress_line)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run directory to continue")],
    hosts: Annotated[Path | None, typer.Option(help="MPI host file, given to mpiexec as -f")] = None,
    quiet: Annotated[bool, typer.Option(help="No per-generation lines")] = False,
    detached: Annotated[bool, typer.Option(hidden=True)] = False,
) -> int:
    """Continue a stopped or killed run exactly where its last checkpoint left it."""
    from .runner import open_existing

    rc = mpi_launch.delegate(mpi_launch.workers_of(run_dir), run_dir, _argv, hosts, new=False)
    if rc is not None:  # ran as an MPI job, or this is one of its workers
        return rc
    cfg, task_obj, lock, search, doc = open_existing(run_dir, tasks.get)
    if detached:
        _detach_output(run_dir)
    if not quiet:
        print(f"resuming {run_dir} at generation {search.gen} of {cfg.maxGen}", flush=True)
    return drive(Path(run_dir), cfg, task_obj, search, lock, search.gen, None if quiet else _progress_line, doc)


@app.command("eval")
def eval_(
    file: Annotated[Path, typer.Argument(help="Network file: project JSON or original .out")],
    task: Annotated[str, typer.Option(help="Task the network was made for")] = "swingup",
    episodes: Annotated[int, typer.Option(help="Episodes per shared weight")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the episodes")] = 0,
    weights: Annotated[str, typer.Option(help="Comma-separated shared weights")] = "-2,-1,-0.5,0.5,1,2",
    threads: Annotated[int, typer.Option(help="Threads, 0 = all cores")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> int:
    """Score a network at each shared weight over seeded episodes: mean ± std per weight and overall."""
    if episodes < 1:
        raise UserError("--episodes must be at least 1")
    try:
        ws = np.array([float(w) for w in weights.split(",") if w.strip()])
    except ValueError:
        raise UserError(f"--weights {weights!r}: expected numbers separated by commas") from None
    if ws.size == 0 or not np.isfinite(ws).all():
        raise UserError(f"--weights {weights!r}: expected finite numbers")
    t = tasks.get(task)
    genome = read_any(file, t.n_inputs, t.n_outputs)
    net = genome.network()
    t0 = time.perf_counter()
    scores = t.score([net], ws, (seed,), episodes, 0, threads)
    elapsed = time.perf_counter() - t0
    r = scores.returns[0]
    result = {
        "file": str(file), "task": t.name, "episodes": episodes, "seed": seed,
        "nodes": net.n_nodes, "connections": net.n_conns,
        "weights": ws.tolist(), "mean": r.mean(1).tolist(), "std": r.std(1).tolist(),
        "overall_mean": float(r.mean()), "overall_std": float(r.std()),
        "best_weight": float(ws[int(np.argmax(r.mean(1)))]), "seconds": elapsed,
    }
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return EXIT_OK
    print(f"{file}  task {t.name}  {net.n_nodes} nodes  {net.n_conns} connections  "
          f"{episodes} episodes per weight (seed {seed})")
    print(f"{'weight':>8}  {'mean':>9}  {'std':>8}")
    best = int(np.argmax(r.mean(1)))
    for i, w in enumerate(ws):
        mark = "  <- best" if i == best else ""
        print(f"{w:8.3f}  {r[i].mean():9.2f}  {r[i].std():8.2f}{mark}")
    print(f"{'all':>8}  {r.mean():9.2f}  {r.std():8.2f}")
    return EXIT_OK


@app.command("control")
def control_(
    run_dir: Annotated[Path, typer.Argument(help="The run directory")],
    action: Annotated[str, typer.Argument(help="pause, continue, stop or kill")],
) -> int:
    """Ask a running engine to pause, continue or stop at its next generation boundary (or kill it)."""
    rundir.read_config(run_dir)
    if action == "kill":
        if not control.kill(run_dir):
            raise UserError(f"{run_dir}: no engine is running")
        return EXIT_OK
    want = {"pause": "pause", "continue": "run", "stop": "stop"}.get(action)
    if want is None:
        raise UserError(f"unknown action {action!r} (pause, continue, stop, kill)")
    control.request(run_dir, want)  # type: ignore[arg-type]
    return EXIT_OK


@app.command()
def status(runs_dir: Annotated[Path, typer.Argument(help="Folder holding run directories")] = Path("runs")) -> int:
    """List runs: state, generation, best fitness."""
    runs = control.list_runs(runs_dir)
    if not runs:
        print(f"no runs in {runs_dir}")
        return EXIT_OK
    print(f"{'name':30} {'task':10} {'state':9} {'gen':>11} {'best':>9}")
    for s in runs:
        best = f"{s.best:9.2f}" if s.best is not None else " " * 9
        print(f"{s.name[:30]:30} {s.task:10} {s.state:9} {s.gen:>5}/{s.total:<5} {best}")
    return EXIT_OK


@app.command()
def presets() -> int:
    """Show the task presets and every configurable key with its default."""
    for name, values in PRESETS.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    print("keys (defaults): " + ", ".join(f"{k}={v}" for k, v in Config().to_dict().items()))
    return EXIT_OK


def main(argv: list[str] | None = None) -> None:
    """Entry point: map errors to one line and an exit code."""
    _argv[:] = sys.argv[1:] if argv is None else argv  # for the ranks of an MPI job
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="wann-engine")
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.TyperException as e:
        print(f"wann-engine: error: {e.format_message()}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except typer.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except (UserError, *_USER_ERRORS) as e:
        print(f"wann-engine: error: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(rv if isinstance(rv, int) else 0)


from . import cli_protocol  # noqa: E402,F401
from .cli_export import export as _export_command  # noqa: E402,F401
