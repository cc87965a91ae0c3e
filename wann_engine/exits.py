"""Process exit codes shared by ``wann-engine``, the MPI launcher and ``wann-tui --batch``.

0 the run finished or was stopped as asked, 1 the run failed (engine error or crash),
2 bad input (options, files, run directory), 130 interrupted (Ctrl-C, SIGTERM, SIGHUP:
the run wrote its checkpoint and can be resumed).
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130
