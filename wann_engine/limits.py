"""Bounds on the numbers a user gives for evaluations (seeds, episode counts, threads).

Checked before anything is allocated, so a count that cannot fit is refused with one clear line and
the estimate, instead of growing until the machine runs out of memory.
"""

from __future__ import annotations

import os

MAX_SEED = 2**63 - 1  # seeds are written to JSON and events as int64
MAX_THREADS = 1024
BYTES_PER_EPISODE = 64  # what an evaluation keeps per episode (return, start state or seed, bookkeeping)


class LimitError(ValueError):
    """A number outside what an evaluation can take; the message names the option and the bound."""


def memory_bytes() -> int:
    """Physical memory of this machine (8 GiB when the system cannot say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_seed(seed: int, option: str = "--seed") -> int:
    if not 0 <= seed <= MAX_SEED:
        raise LimitError(f"{option} {seed}: must be a whole number from 0 to {MAX_SEED}")
    return seed


def check_threads(threads: int, option: str = "--threads") -> int:
    if not 0 <= threads <= MAX_THREADS:
        raise LimitError(f"{option} {threads}: must be 0 (all cores) to {MAX_THREADS}")
    return threads


def check_count(value: int, option: str, lowest: int = 1) -> int:
    if value < lowest:
        raise LimitError(f"{option} must be at least {lowest}")
    return value


def check_episodes(episodes: int, option: str, per: int = 1, what: str = "episodes") -> int:
    """``episodes`` (at least 1) times ``per`` episodes must fit in half of this machine's memory."""
    check_count(episodes, option)
    need = episodes * max(per, 1) * BYTES_PER_EPISODE
    have = memory_bytes()
    if need > have // 2:
        raise LimitError(f"{option} {episodes}: {episodes * max(per, 1):,} {what} need about {size_text(need)} "
                         f"of memory; this machine has {size_text(have)}")
    return episodes
