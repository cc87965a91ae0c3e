"""``python -m wann_engine``: the same as ``wann-engine`` (also how MPI ranks start)."""

from .entry import main

main()
