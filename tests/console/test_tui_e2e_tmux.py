"""End to end in a real terminal (tmux): launch a run from the form, watch it, pause, continue, stop,
resume, quit. The engine runs detached, as it does for a user."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tui_support import ROOT

from wann_engine import control, rundir

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.socket = f"wanntui-e2e-{os.getpid()}-{time.monotonic_ns()}"
        self.width, self.height = width, height

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=20).stdout

    def start(self, command: str) -> None:
        env = ["-e", "LANG=C.UTF-8", "-e", "TERM=xterm-256color", "-e", "TEXTUAL_ANIMATIONS=none"]
        size = (str(self.width), str(self.height))
        # the default size first: a manual window size set before it would take tmux's 80x24 default
        self.tmux("new-session", "-d", "-x", size[0], "-y", size[1], *env, command, ";",
                  "set", "-g", "default-size", "x".join(size), ";", "set", "-g", "window-size", "manual", ";",
                  "set", "-g", "escape-time", "10")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", *(["-l"] if literal else []), *keys)
        time.sleep(0.25)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def wait(self, pattern: str, timeout: float = 60.0) -> re.Match:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            m = re.search(pattern, text)
            if m:
                return m
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not on screen after {timeout}s; screen:\n{text}")

    def kill(self) -> None:
        self.tmux("kill-server")


def status_gen(t: Tmux, state: str, timeout: float = 60.0) -> int:
    return int(t.wait(rf"e2e ?│ ?{state} ?│ ?gen (\d+)/300", timeout).group(1))


def test_console_drives_a_real_run(tmp_path: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    run = runs / "e2e"
    t = Tmux()
    t.start(f"cd {ROOT} && {sys.executable} -m wanntui --runs-dir {runs}")
    try:
        t.wait("Press n to start one")
        t.keys("n")
        t.wait("New run in")
        t.keys("32", literal=True)
        t.keys("Tab")
        t.keys("300", literal=True)
        t.keys("Tab")
        t.keys("Tab")
        t.keys("Tab")
        t.keys("e2e", literal=True)
        t.wait(r"name\s+e2e")
        t.keys("Enter")
        # the live view opens and generations arrive
        g1 = status_gen(t, "running", timeout=90)
        t.wait(r"1 Fitness")
        t.wait(r"2 Pareto: mean vs connections")
        t.wait(r"weight\s+champion\s+pop best")
        assert status_gen(t, "running") >= g1
        t.keys("p")
        paused_at = status_gen(t, "paused")
        t.wait(r"c Continue")
        time.sleep(0.6)
        assert status_gen(t, "paused") == paused_at
        t.keys("c")
        status_gen(t, "running")
        t.keys("s")
        stopped_at = status_gen(t, "stopped")
        t.wait(r"r Resume")
        assert not rundir.engine_alive(run)
        t.keys("r")
        t.wait(rf"e2e ?│ ?running ?│ ?gen (?!{stopped_at}/)\d+/300")
        # back to the browser, which lists it as running; quitting the console leaves the run going
        t.keys("Escape")
        t.wait(r"e2e\s+swingup\s+running")
        assert t.tmux("display", "-p", "#{window_width}x#{window_height}").strip() == "120x40"
        t.keys("q")
        deadline = time.monotonic() + 10
        while t.tmux("list-sessions") and time.monotonic() < deadline:  # the session ends with the console
            time.sleep(0.2)
        assert not t.tmux("list-sessions")
        assert rundir.engine_alive(run)
        control.stop(run)
        deadline = time.monotonic() + 30
        while rundir.engine_alive(run) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not rundir.engine_alive(run)
    finally:
        t.kill()
        if run.exists() and rundir.engine_alive(run):
            control.kill(run)
    kinds = [line.split(b'"type":"')[1].split(b'"')[0] for line in (run / "events.jsonl").read_bytes().splitlines()]
    assert b"paused" in kinds and b"resumed" in kinds and kinds.count(b"stopped") == 2
    assert kinds.count(b"run_start") == 2 and (run / "checkpoint.json").exists()
