"""``wann-tui --batch``: start or resume a run headless and follow it (never imports Textual).

The engine runs as a child process (``python -m wann_engine run|resume ... --quiet``) in
its own session; this process tails the run's ``events.jsonl`` like the console does.

Output contract:

* stdout carries data only: with ``--events`` every new event line as the engine wrote
  it (JSON, one per line), otherwise a short ``key: value`` summary at the end;
* stderr carries people's things: a progress bar when stderr is a terminal (plain
  progress lines otherwise), notes and errors as ``wann-tui: ...`` lines;
* exit codes: 0 the run finished or was stopped, 1 the run failed (engine error or
  crash), 2 bad input (options, run directory), 130 interrupted (Ctrl-C, SIGTERM, SIGHUP
  or a closed stdout pipe: the run was asked to stop, wrote its checkpoint and can be
  resumed; a second Ctrl-C kills the engine).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wann_engine import control, rundir
from wann_engine.config import ConfigError
from wann_engine.exits import Exit
from wann_engine.sweep import gens_text

from . import fmt
from .model import RunModel, Snapshot
from .tail import FileTail, follow


class BatchError(Exception):
    """Bad input for the batch mode: reported as one line, exit code 2."""


@dataclass
class BatchOptions:
    task: str = "swingup"
    pop: int | None = None
    gens: int | None = None
    seed: int = 0
    name: str | None = None
    runs_dir: Path = Path("runs")
    workers: int = 1
    overrides: list[str] = field(default_factory=list)
    resume: Path | None = None
    events: bool = False
    progress: bool = True
    poll: float = 0.1


def engine_args(opts: BatchOptions) -> tuple[Path, list[str]]:
    """The run directory and the engine's arguments for ``opts`` (checked, nothing started): the
    same launch spec and checks as the console's new-run form (``control.LaunchSpec``)."""
    try:
        if opts.resume is not None:
            return Path(opts.resume), control.resume_argv(opts.resume)
        spec = control.LaunchSpec(task=opts.task, name=opts.name, runs_dir=opts.runs_dir, pop=opts.pop,
                                  gens=opts.gens, seed=opts.seed, workers=opts.workers,
                                  overrides=tuple(opts.overrides))
        spec.check()
    except control.RunExists as e:
        raise BatchError(f"{e} (continue it with --resume {e.run})") from None
    except (rundir.RunDirError, ConfigError) as e:
        raise BatchError(str(e)) from None
    return spec.run, spec.argv()


class _Interrupts:
    """First Ctrl-C/SIGTERM/SIGHUP asks for a graceful stop, a second one kills the engine."""

    def __init__(self) -> None:
        self.count = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._old[sig] = signal.signal(sig, self._hit)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _hit(self, *_: Any) -> None:
        self.count += 1


class _Progress:
    """Progress on stderr: a Rich bar on a terminal, a plain line every 10 % otherwise."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.live = enabled and console.is_terminal
        self.plain = enabled and not console.is_terminal
        self._last_decile = -1
        self._started = time.monotonic()
        self._waiting_noted = False
        self._prog_noted: Any = None
        self._prog_t = -math.inf
        self.bar: Progress | None = None
        self.task: Any = None
        if self.live:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("best {task.fields[best]}"), TextColumn("{task.fields[rate]} evals/s"),
                TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True,
                redirect_stdout=False, redirect_stderr=False, refresh_per_second=8,
            )
            self.bar.start()
            self.task = self.bar.add_task("starting", total=None, best="-", rate="-")

    def update(self, snap: Any) -> None:
        if not snap.gen_done and not self._waiting_noted and time.monotonic() - self._started > 5 and (
                self.live or self.plain):
            self._waiting_noted = True  # numba compiles the kernels on the first run after an install
            self.note("waiting for the first generation (the first run after installing compiles the "
                      "evaluation kernels: up to a minute)")
        total = snap.meta.total or None
        best = fmt.best_text(snap.last)
        rate = fmt.rate(fmt.recent_mean(snap, "evals_per_s"))
        prog = snap.progress  # within a long generation (the engine says so every few seconds)
        within = f"  gen {prog.gen}: {prog.done}/{prog.total} episodes" if prog is not None else ""
        if self.bar is not None:
            self.bar.update(self.task, total=total, completed=snap.gen_done, best=best, rate=rate,
                            description=(snap.meta.name or "run") + within)
        elif self.plain and total and snap.gen_done:
            decile = int(10 * snap.gen_done / total)
            if decile != self._last_decile:
                self._last_decile = decile
                self.note(f"generation {snap.gen_done}/{total}  best {best}  {rate} evals/s")
        if self.plain and prog is not None and prog is not self._prog_noted and time.monotonic() - self._prog_t >= 30:
            self._prog_noted, self._prog_t = prog, time.monotonic()  # a long generation: a sign of life
            self.note(f"generation {prog.gen}: {prog.done}/{prog.total} episodes "
                      f"({'re-testing' if prog.phase == 'retest' else 'scoring'})")

    def note(self, text: str) -> None:
        self.console.print(f"wann-tui: {text}", markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def summary_lines(run: Path, snap: Snapshot, outcome: str) -> list[str]:
    """The final ``key: value`` summary (stdout when ``--events`` is not given)."""
    last = snap.last
    lines = [
        f"run: {run}",
        f"state: {outcome}",
        f"generations: {gens_text(snap.gen_done, snap.meta.total)}",
        f"best: {fmt.number(last.best_mean if last else None)}"
        + (f" (raw, generation {last.best_gen})" if last and last.best_gen is not None else ""),
        f"peak: {fmt.number(last.best_peak if last else None)}",
        *([f"retested: {fmt.number(last.retest_mean)} ({last.retest_episodes} episodes, generation "
           f"{last.retest_gen}, {last.retest_conns} connections; raw {fmt.number(last.retest_raw_mean)})"]
          if last and math.isfinite(last.retest_mean) else []),
        f"elapsed: {fmt.duration(last.elapsed if last else None)}",
        f"evals_per_s: {fmt.rate(fmt.recent_mean(snap, 'evals_per_s'))}",
        f"evaluations_per_s: {fmt.rate(fmt.recent_mean(snap, 'evals_per_s'))}",  # (its older name, kept)
        f"champion: {run / rundir.CHAMPION_JSON if (run / rundir.CHAMPION_JSON).exists() else '-'}",
    ]
    if snap.error:
        lines.append(f"error: {snap.error}")
    if snap.n_malformed:
        lines.append(f"skipped_lines: {snap.n_malformed}")
    return lines


def run_batch(opts: BatchOptions, stdout: IO[bytes] | None = None, console: Console | None = None) -> int:
    """Start or resume the run, follow it to its end, and return the exit code."""
    out = stdout if stdout is not None else sys.stdout.buffer
    console = console or Console(stderr=True, highlight=False)
    run, args = engine_args(opts)
    tail = FileTail(run / rundir.EVENTS, start_at_end=opts.resume is not None)
    model = RunModel(run)
    if opts.resume is not None:  # the summary and progress know the history; --events prints only new lines
        history = FileTail(run / rundir.EVENTS)
        follow(history, model)
        tail.line_no = history.line_no
    seen_before = model.n_events  # (the engine refusing to start writes nothing more)
    prog = _Progress(console, opts.progress)
    log = tempfile.TemporaryFile()
    interrupted = seen = 0
    with _Interrupts() as intr:  # before the spawn: a Ctrl-C from here on stops the engine it starts
        try:
            proc = control.spawn(args, log)
        except OSError as e:
            prog.close()
            raise BatchError(f"cannot start the engine: {e}") from None
        try:
            while True:
                done = proc.poll() is not None
                good = follow(tail, model)  # only valid events reach stdout
                if good and opts.events:
                    out.write(b"".join(line + b"\n" for line in good))
                    out.flush()
                news, seen = _new_warnings(model, seen)
                for w in news:
                    prog.note("warning: " + w)
                prog.update(model.snapshot())
                if done:
                    break
                if intr.count > interrupted:
                    interrupted = intr.count
                    _interrupt(run, proc, interrupted, prog)
                time.sleep(opts.poll)
        except BrokenPipeError:  # `... --events | head`: treated like Ctrl-C
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            _interrupt(run, proc, 1, prog)
            proc.wait()
            return Exit.INTERRUPTED
        finally:
            prog.close()
    rc = proc.returncode
    log.seek(0)
    for line in log.read().decode(errors="replace").splitlines():
        if line.strip():  # the engine's lines, under this program's name
            line = "wann-tui: " + line.removeprefix("wann-engine: ") if line.startswith("wann-engine: ") else line
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    snap = model.snapshot()
    outcome = _outcome(snap, rc)
    if rc == Exit.USAGE and snap.n_events == seen_before:
        return Exit.USAGE  # the engine refused the options; it said why on stderr
    if not opts.events:
        try:
            out.write(("\n".join(summary_lines(run, snap, outcome)) + "\n").encode())
            out.flush()
        except BrokenPipeError:
            pass
    if interrupted:
        return Exit.INTERRUPTED
    return Exit.OK if outcome in ("finished", "stopped") else Exit.FAILED


def _new_warnings(model: RunModel, seen: int) -> tuple[list[str], int]:
    """Warnings (skipped lines, damaged fields) that were not reported yet, and the new count."""
    n = model.n_warnings
    if n == seen:
        return [], seen
    return list(model.warnings)[-min(n - seen, len(model.warnings)):], n


def _interrupt(run: Path, proc: subprocess.Popen, count: int, prog: _Progress) -> None:
    if count == 1:
        prog.note("stopping the run after its current generation (checkpoint kept); Ctrl-C again to kill it")
        try:
            control.stop(run)
        except rundir.RunDirError:  # no engine holds the run yet (or any more): ask the process
            proc.send_signal(signal.SIGTERM)
    else:
        prog.note("killing the engine")
        try:
            killed = control.kill(run)
        except rundir.RunDirError:
            killed = False
        if not killed:
            proc.kill()


def _outcome(snap: Any, rc: int | None) -> str:
    if snap.state_event in ("finished", "stopped"):
        return snap.state_event
    if snap.state_event == "error":
        return "failed"
    if rc == 0:
        return "finished"
    return "crashed" if snap.n_events else "failed"


def exit_codes_help() -> str:
    return ("Exit codes: 0 finished or stopped, 1 run failed, 2 bad input, "
            "130 interrupted (run stopped with checkpoint).")


def main_batch(opts: BatchOptions) -> int:
    """Run the batch mode, mapping bad input to one line on stderr and exit code 2."""
    try:
        try:
            return int(run_batch(opts))
        except KeyboardInterrupt:  # before any engine was started
            print("wann-tui: interrupted", file=sys.stderr)
            return Exit.INTERRUPTED
    except BatchError as e:
        print(f"wann-tui: error: {e}", file=sys.stderr)
        return int(Exit.USAGE)
