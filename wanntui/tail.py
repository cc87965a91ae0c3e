"""Tailing event files: an incremental complete-lines reader, and one watcher thread for all open runs.

No Textual here: the batch mode uses :class:`FileTail` too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

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

    A half-written last line is kept until its newline arrives. A file that shrank or was
    replaced (another inode) is read again from the start, and ``poll`` says so. A missing
    file is not an error: the engine may not have created it yet.
    """

    def __init__(self, path: Path | str, chunk: int = CHUNK, start_at_end: bool = False) -> None:
        self.path = Path(path)
        self.chunk = chunk
        self.offset = 0
        self.ino: int | None = None
        self.rest = b""
        self.line_no = 0  # complete lines handed out so far
        if start_at_end:
            try:
                st = os.stat(self.path)
            except OSError:
                return
            self.ino, self.offset = st.st_ino, st.st_size
            self._skip_partial_tail()

    def _skip_partial_tail(self) -> None:
        """When starting at the end, a partial last line belongs to what we skipped."""
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
            return os.stat(self.path).st_size > self.offset
        except OSError:
            return False

    def poll(self) -> tuple[list[bytes], bool]:
        """New complete lines, and whether the reader restarted from the beginning of the file."""
        try:
            st = os.stat(self.path)
        except OSError:
            return [], False
        restarted = False
        if self.ino is not None and (st.st_ino != self.ino or st.st_size < self.offset):
            self.offset, self.rest, self.line_no, restarted = 0, b"", 0, True
        self.ino = st.st_ino
        if st.st_size <= self.offset:
            return [], restarted
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(st.st_size - self.offset, self.chunk))
        except OSError:
            return [], restarted
        self.offset += len(data)
        lines, self.rest = split_lines(self.rest + data)
        self.line_no += len(lines)
        return lines, restarted


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
            got = False
            while not self._stop.is_set():
                first = tail.line_no + 1
                try:
                    lines, restarted = tail.poll()
                except Exception as e:  # never let one bad file end the thread
                    model.reset(f"{run.name}: cannot read events ({type(e).__name__}: {e})")
                    break
                if restarted:
                    model.reset(f"{run.name}: events.jsonl was truncated or replaced; reading it again")
                    first = 1
                    got = True
                if lines:
                    model.feed(lines, first)
                    got = True
                if not lines or not tail.pending():
                    break
            if got:
                changed.append(run)
                if self.on_change is not None:
                    self.on_change(run)
        return changed
