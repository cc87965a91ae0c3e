"""Tailing event files: an incremental complete-lines reader, and one watcher thread for all open runs.

No Textual here: the batch mode uses :class:`FileTail` too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from wann_engine.events import MAX_LINE

from .model import RunModel

CHUNK = 4 << 20


def split_lines(buf: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines of ``buf`` (without their newlines) and the unfinished rest."""
    cut = buf.rfind(b"\n")
    if cut < 0:
        return [], buf
    return buf[:cut].split(b"\n"), buf[cut + 1 :]


class FileTail:
    """Reads what was appended to a file since the last call, complete lines only.

    A half-written last line is not kept: its bytes are read again, from where the line starts,
    once the file has changed. So when a resumed engine cuts a fragment left by a kill and appends
    a new line in its place, the reader sees the new line whole, never the fragment joined to it.
    A line longer than ``max_line`` is stepped over without being kept in memory; it is handed out
    as an empty line and listed in ``oversized`` (line number, bytes). A file that shrank below
    what was read, or was replaced (another inode), is read again from the start, and ``poll`` says
    so. A missing file is not an error: the engine may not have created it yet.
    """

    def __init__(self, path: Path | str, chunk: int = CHUNK, start_at_end: bool = False,
                 max_line: int = MAX_LINE) -> None:
        self.path = Path(path)
        self.chunk = chunk
        self.max_line = max_line
        self.offset = 0  # where the first line not handed out yet starts
        self.ino: int | None = None
        self.line_no = 0  # complete lines handed out so far
        self.oversized: list[tuple[int, int]] = []  # giant lines stepped over, not yet taken by the caller
        self._skipping = 0  # bytes of a giant line stepped over so far (its newline not yet seen)
        self._seen: tuple[int, int] | None = None  # (size, mtime) when everything up to a partial line was read
        if start_at_end:
            try:
                st = os.stat(self.path)
            except OSError:
                return
            self.ino, self.offset = st.st_ino, st.st_size
            self._skip_partial_tail()

    def _skip_partial_tail(self) -> None:
        """When starting at the end, a partial last line belongs to what comes next: start at its start."""
        if self.offset == 0:
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset - 1)
            if f.read(1) != b"\n":
                back = min(self.offset, 1 << 20)
                f.seek(self.offset - back)
                cut = f.read(back).rfind(b"\n")
                self.offset = self.offset - back + cut + 1 if cut >= 0 else 0

    def pending(self) -> bool:
        """True if the file holds bytes not read yet."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return st.st_size > self.offset and (st.st_size, st.st_mtime_ns) != self._seen

    def poll(self) -> tuple[list[bytes], bool]:
        """New complete lines, and whether the reader restarted from the beginning of the file."""
        try:
            st = os.stat(self.path)
        except OSError:
            return [], False
        restarted = False
        if self.ino is not None and (st.st_ino != self.ino or st.st_size < self.offset):
            self.offset, self.line_no, self._skipping, self._seen, restarted = 0, 0, 0, None, True
        self.ino = st.st_ino
        stamp = (st.st_size, st.st_mtime_ns)
        if st.st_size <= self.offset or stamp == self._seen:
            return [], restarted
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, self.chunk))
                if not self._skipping:  # a line longer than a chunk: read on to its end (up to max_line)
                    while b"\n" not in data[-self.chunk:] and len(data) <= self.max_line and \
                            self.offset + len(data) < st.st_size:
                        data += f.read(min(st.st_size - self.offset - len(data), self.chunk))
        except OSError:
            return [], restarted
        lines: list[bytes] = []
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                self._skipping += len(data)
                self.offset += len(data)
                return [], restarted
            self._oversized(self._skipping + nl)
            lines.append(b"")
            self.offset += nl + 1
            data = data[nl + 1 :]
        got, rest = split_lines(data)
        for line in got:
            if len(line) > self.max_line:
                self._oversized(len(line))
                line = b""
            else:
                self.line_no += 1
            lines.append(line)
        self.offset += len(data) - len(rest)
        if len(rest) > self.max_line:  # a giant line: step over it
            self._skipping = len(rest)
            self.offset += len(rest)
        elif self.offset + len(rest) >= st.st_size:
            self._seen = stamp  # all read but a partial line: nothing to do until the file changes
        return lines, restarted

    def _oversized(self, size: int) -> None:
        self.line_no += 1
        self._skipping = 0
        self.oversized.append((self.line_no, size))


def follow(tail: FileTail, model: RunModel, stop: Callable[[], bool] | None = None) -> list[bytes]:
    """Feed ``model`` everything ``tail`` has not read yet (a file truncated or replaced resets the
    model; giant lines are counted as skipped); returns the lines that were valid events.
    ``stop``: checked between chunks of a long backlog."""
    good: list[bytes] = []
    while True:
        first, offset = tail.line_no + 1, tail.offset
        lines, restarted = tail.poll()
        if restarted:
            model.reset(f"{tail.path.parent.name}: events.jsonl was truncated or replaced; reading it again")
            first = 1
        if lines:
            good += model.feed_lines(lines, first)
        while tail.oversized:
            line_no, size = tail.oversized.pop(0)
            model.skip(line_no, f"a line of {size / 2**20:.1f} MiB (longer than {tail.max_line >> 20} MiB)")
        moved = lines or restarted or tail.offset != offset
        if not moved or not tail.pending() or (stop is not None and stop()):
            return good


class Watcher:
    """One background thread that tails the events file of every open run into its model.

    It polls (``os.stat`` per file per ``interval``), so an idle console costs next to
    nothing; a file that has a backlog (a long run opened for the first time) is read
    chunk after chunk without waiting between them.
    """

    def __init__(self, interval: float = 0.05, on_change: Callable[[Path], None] | None = None,
                 on_tick: Callable[[], None] | None = None, tick_every: float = 1.0) -> None:
        self.interval = interval
        self.on_change = on_change
        self.on_tick = on_tick  # also run in this thread, every ``tick_every`` seconds
        self.tick_every = tick_every
        self._next_tick = 0.0
        self.tick_errors = 0
        self._runs: dict[Path, tuple[FileTail, RunModel]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, run: Path, model: RunModel, events_name: str = "events.jsonl") -> None:
        with self._lock:
            self._runs[Path(run)] = (FileTail(Path(run) / events_name), model)

    def remove(self, run: Path) -> None:
        with self._lock:
            self._runs.pop(Path(run), None)

    def watching(self) -> list[Path]:
        with self._lock:
            return list(self._runs)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="wanntui-watcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def tick_soon(self, delay: float = 0.0) -> None:
        """Run ``on_tick`` within ``delay`` seconds (after acting on a run)."""
        self._next_tick = min(self._next_tick, time.monotonic() + delay)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            if self.on_tick is not None and time.monotonic() >= self._next_tick:
                self._next_tick = time.monotonic() + self.tick_every
                try:
                    self.on_tick()
                except Exception:  # noqa: BLE001 - a failed state scan must not end the watcher
                    self.tick_errors += 1
            self._stop.wait(self.interval)

    def poll_once(self) -> list[Path]:
        """Read every watched file up to its end; returns the runs whose model changed."""
        with self._lock:
            runs = list(self._runs.items())
        changed = []
        for run, (tail, model) in runs:
            before = model.version
            try:
                follow(tail, model, self._stop.is_set)
            except Exception as e:  # noqa: BLE001 - never let one bad file end the thread
                model.reset(f"{run.name}: cannot read events ({type(e).__name__}: {e})")
            if model.version != before:
                changed.append(run)
                if self.on_change is not None:
                    self.on_change(run)
        return changed
