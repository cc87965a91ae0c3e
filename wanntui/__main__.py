"""``python -m wanntui``: the same as ``wann-tui``."""

from .entry import main

main()
