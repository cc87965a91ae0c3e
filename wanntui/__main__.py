"""``python -m wanntui``: the same as ``wann-tui``."""

from .cli import main

main()
