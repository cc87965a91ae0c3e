"""The console scripts' first code: a Ctrl-C while a program is still loading ends it quietly.

Importing a command line (numpy, numba, typer, Textual, ...) takes a noticeable time, and Python's
own SIGINT handler turns a Ctrl-C in it into a ``KeyboardInterrupt`` traceback. :func:`guarded`
first installs a handler that writes ``<prog>: interrupted`` and exits 130, imports the real entry
point, then hands SIGINT back to Python (``KeyboardInterrupt``, which each command handles, and a
run replaces with its graceful stop). Nothing has been written by then, so the handler can end the
process at once.

This module imports nothing that Python has not loaded at start-up (``_signal`` is the C half of
``signal``, which would import ``enum``), and ``wann_engine/__init__.py`` and ``wanntui/__init__.py``
import nothing at all: the window left to Python's own traceback is the interpreter's start-up.
"""

import _signal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

INTERRUPTED = 130  # exits.Exit.INTERRUPTED (not imported: this module stays minimal)


def guarded(prog: str, load: "Callable[[], Callable[[], object]]") -> None:
    """Run ``load()`` (the heavy imports; it returns the entry function) with a quiet SIGINT handler,
    then the entry function with SIGINT as before. A SIGINT that was ignored stays ignored."""
    def interrupted(_signum: int, _frame: "FrameType | None") -> None:
        try:
            os.write(2, (prog + ": interrupted\n").encode())
        except OSError:
            pass
        os._exit(INTERRUPTED)

    old = _signal.getsignal(_signal.SIGINT)
    if old is not _signal.SIG_IGN:
        _signal.signal(_signal.SIGINT, interrupted)
    try:
        entry = load()
    finally:
        if _signal.getsignal(_signal.SIGINT) is interrupted:
            _signal.signal(_signal.SIGINT, old)
    sys.exit(entry())


def _engine() -> "Callable[[], object]":
    from wann_engine.cli import main as cli_main

    return cli_main


def main() -> None:
    """``wann-engine`` and ``python -m wann_engine``."""
    guarded("wann-engine", _engine)
