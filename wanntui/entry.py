"""``wann-tui``'s first code: a Ctrl-C while the console is still loading ends it quietly (see
:mod:`wann_engine.entry`; like it, this imports nothing Python has not loaded at start-up)."""

from wann_engine.entry import guarded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _console() -> "Callable[[], object]":
    from wanntui.cli import main as cli_main

    return cli_main


def main() -> None:
    """``wann-tui`` and ``python -m wanntui``."""
    guarded("wann-tui", _console)
