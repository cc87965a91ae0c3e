"""``wann-tui``: the terminal console, or with ``--batch`` a headless run (no Textual imported).

Every user error ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from .batch import BatchError, BatchOptions, Exit, exit_codes_help, main_batch

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]})


class UsageError(Exception):
    """Bad command line: one line, exit code 2."""


_BATCH_ONLY = ("task", "pop", "gens", "seed", "name", "workers", "set_", "resume", "events", "no_progress")


@app.command(help="Terminal console for WANN runs: browse RUNS_DIR, start, watch, pause, stop and resume runs. "
                  "With --batch: start (or --resume) one run headless and follow it on stdout/stderr. "
                  "'wann-tui explore FILE --task T': the weight explorer for one network file. "
                  + exit_codes_help())
def main_command(
    runs_dir: Annotated[Path, typer.Option(help="Folder holding run directories")] = Path("runs"),
    ascii_: Annotated[bool, typer.Option("--ascii", help="ASCII lines and markers only (automatic when the "
                                                          "locale is not UTF-8)")] = False,
    batch: Annotated[bool, typer.Option("--batch", help="Headless: run the engine and follow it, no console")] = False,
    task: Annotated[str | None, typer.Option(help="[batch] Task or preset (default swingup)")] = None,
    pop: Annotated[int | None, typer.Option(help="[batch] Population size")] = None,
    gens: Annotated[int | None, typer.Option(help="[batch] Generations")] = None,
    seed: Annotated[int | None, typer.Option(help="[batch] Run seed (default 0)")] = None,
    name: Annotated[str | None, typer.Option(help="[batch] Run name (default task-date-time)")] = None,
    workers: Annotated[int | None, typer.Option(help="[batch] Evaluation processes (default 1)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="[batch] Hyperparameter override key=value")] = None,
    resume: Annotated[Path | None, typer.Option(help="[batch] Continue this stopped or crashed run")] = None,
    events: Annotated[bool, typer.Option("--events", help="[batch] Print every new event line (JSON) on stdout")]
    = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="[batch] No progress on stderr")] = False,
) -> int:
    given = {k for k, v in locals().items() if k in _BATCH_ONLY and v not in (None, False, [])}
    if batch:
        if resume is not None and given - {"resume", "events", "no_progress"}:
            raise UsageError("--resume continues a run with its own settings: drop "
                             + ", ".join("--" + k.rstrip("_").replace("_", "-") for k in sorted(given - {
                                 "resume", "events", "no_progress"})))
        opts = BatchOptions(task=task or "swingup", pop=pop, gens=gens, seed=0 if seed is None else seed, name=name,
                            runs_dir=runs_dir, workers=1 if workers is None else workers, overrides=set_ or [],
                            resume=resume, events=events, progress=not no_progress)
        return main_batch(opts)
    if given:
        first = sorted(given)[0]
        raise UsageError(f"--{first.rstrip('_').replace('_', '-')} is only used with --batch")
    if not runs_dir.exists():
        raise UsageError(f"--runs-dir {runs_dir}: no such directory (create it, or point --runs-dir at one)")
    if not runs_dir.is_dir():
        raise UsageError(f"--runs-dir {runs_dir}: not a directory")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the console needs a terminal (use --batch for headless runs)")
    from .fmt import locale_is_utf8

    use_ascii = ascii_ or not locale_is_utf8()
    from .app import WannTui  # Textual is imported only here

    tui = WannTui(runs_dir=runs_dir, ascii=use_ascii)
    tui.run()
    return tui.return_code or 0


explore_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                          context_settings={"help_option_names": ["-h", "--help"]})


@explore_app.command(help="Weight explorer for one network file (project JSON, original .out or tuned weights): "
                          "a shared-weight slider with the score and performance profile, rollout playback, "
                          "per-connection offsets, saving the tuned network beside FILE.")
def explore_command(
    file: Annotated[Path, typer.Argument(help="Network file", metavar="FILE")],
    task: Annotated[str | None, typer.Option(
        help="Task the network was made for (default: the file's own; swingup for an .out)")] = None,
    episodes: Annotated[int, typer.Option(help="Seeded episodes per score")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the episodes (as wann-engine eval --seed)")] = 0,
    weight: Annotated[float | None, typer.Option(help="Starting shared weight (default 1, or the file's)")] = None,
    ascii_: Annotated[bool, typer.Option("--ascii", help="ASCII lines and markers only (automatic when the "
                                                          "locale is not UTF-8)")] = False,
) -> int:
    from wann_engine.explore import ExploreError, open_file

    if episodes < 1:
        raise UsageError("--episodes must be at least 1")
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    try:
        ex = open_file(file, task, episodes, seed)
    except ExploreError as e:
        raise UsageError(str(e)) from None
    if weight is not None:
        ex.subject.weight = weight
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the explorer needs a terminal")
    from .explore_app import ExploreApp  # Textual is imported only here
    from .fmt import locale_is_utf8

    tui = ExploreApp(ex, ascii=ascii_ or not locale_is_utf8(), title=file.name)
    tui.run()
    return tui.return_code or 0


def _interrupted(*_: object) -> None:
    os.write(2, b"wann-tui: interrupted\n")
    os._exit(Exit.INTERRUPTED)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``wann-tui``: map errors to one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    target, prog = app, "wann-tui"
    if "explore" in args and set(args[: args.index("explore")]) <= {"--ascii"}:
        # the subcommand, possibly after the one option both commands share: wann-tui --ascii explore FILE
        k = args.index("explore")
        target, prog, args = explore_app, "wann-tui explore", args[:k] + args[k + 1:]
    if "--batch" in args and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        # until the batch run's own handlers take over (they stop the engine it starts), a Ctrl-C ends
        # the program with a word; the console and the explorer read Ctrl-C as a key instead
        signal.signal(signal.SIGINT, _interrupted)
    try:
        rv = target(args=args, standalone_mode=False, prog_name=prog)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):  # click turns a Ctrl-C before the run's own handler into Abort
        print("wann-tui: interrupted", file=sys.stderr)
        sys.exit(Exit.INTERRUPTED)
    except typer.TyperException as e:
        print(f"wann-tui: error: {e.format_message()}", file=sys.stderr)
        sys.exit(Exit.USAGE)
    except (UsageError, BatchError) as e:
        print(f"wann-tui: error: {e}", file=sys.stderr)
        sys.exit(Exit.USAGE)
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
