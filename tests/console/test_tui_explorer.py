"""The weight explorer under Textual's Pilot: slider, background scores, playback, offsets, saving, digits."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tui_support

from wann_engine import explore, tasks
from wann_engine.genome import initial_genome
from wann_engine.netfile import write_json
from wanntui.explore_app import ExploreApp
from wanntui.screens.explorer import ExplorerScreen
from wanntui.widgets.connections import ConnectionList
from wanntui.widgets.digits_view import ClassifyView
from wanntui.widgets.playback import PlaybackView
from wanntui.widgets.profile import ProfilePlot

# explorer scores take longer than console polls (a fresh clone compiles the classification kernels first)
until = functools.partial(tui_support.until, timeout=60.0)


def scored(s: ExplorerScreen) -> bool:
    """The shown score belongs to the current setting."""
    return s.score is not None and s.score_setting == s.setting()


@pytest.fixture
def swing_copy(tmp_path: Path, swing_out: Path) -> Path:
    f = tmp_path / "swing.out"
    f.write_bytes(swing_out.read_bytes())
    return f


def app_for(file: Path, task: str = "swingup", **kw) -> ExploreApp:
    return ExploreApp(explore.open_file(file, task, episodes=3), title=file.name, **kw)


async def test_slider_keys_change_the_weight_and_the_score(swing_copy: Path):
    app = app_for(swing_copy)
    ref = explore.open_file(swing_copy, "swingup", episodes=3)
    async with app.run_test(size=(100, 32)) as pilot:
        s = app.screen
        assert isinstance(s, ExplorerScreen)
        await until(pilot, lambda: scored(s) and s.profile is not None)
        assert s.weight == 1.0 and s.score.mean == ref.score(1.0).mean
        for keys, want in ((("right",), 1.05), (("right", "right"), 1.15), (("comma",), 0.65),
                           (("shift+right",), 1.15), (("full_stop", "full_stop"), 2.15), (("left",), 2.1),
                           (("shift+left",), 1.6)):
            await pilot.press(*keys)
            assert s.weight == pytest.approx(want)
            await until(pilot, lambda: scored(s))
            expect = ref.score(want)
            assert s.score.mean == expect.mean and s.score.std == expect.std
            line = s.top_lines[1]
            assert f"w {want:+.2f}" in line and f"score {expect.mean:.2f} ± {expect.std:.2f}" in line
            plot = s.query_one(ProfilePlot)
            assert plot.cursor == pytest.approx(want) and plot.cursor_score == expect.mean
        # the profile plot holds the grid's scores; m jumps to its best weight
        p = ref.profile()
        assert np.array_equal(s.profile.mean, p.mean)
        await pilot.press("m")
        assert s.weight == pytest.approx(p.weights[p.best])
        for _ in range(10):
            await pilot.press("shift+right")
        assert s.weight == 3.0  # the slider stops at the end of [-3, 3]


async def test_playback_advances_pauses_steps_and_restarts(swing_copy: Path):
    app = app_for(swing_copy)
    async with app.run_test(size=(100, 32)) as pilot:
        s = app.screen
        view = s.query_one(PlaybackView)
        await until(pilot, lambda: view.frame is not None and view.frame.step > 20)
        first = view.frame.step, view.frame.total
        await until(pilot, lambda: view.frame.step > first[0] + 10)
        assert view.frame.total > first[1] and view.lines[0].startswith("ep 0  step ")
        assert any("⠀" < ch <= "⣿" for line in view.lines[1:] for ch in line)  # drawn in braille
        await pilot.press("space")
        paused = view.frame.step
        await pilot.pause(0.3)
        assert view.frame.step == paused and "paused" in view.lines[0]
        await pilot.press("n", "n")
        assert view.frame.step == paused + 2
        await pilot.press("r")
        assert view.episode == 1 and view.frame.step == 0 and s.episode == 1
        frames = list(s.ex.frames(s.weight, None, 1))
        await pilot.press("space")
        await until(pilot, lambda: view.frame.step >= 30)
        assert view.frame.total == frames[view.frame.step].total  # the same rollout as the engine's


async def test_nudging_a_connection_changes_the_score_and_save_writes_it(swing_copy: Path):
    app = app_for(swing_copy)
    ref = explore.open_file(swing_copy, "swingup", episodes=3)
    async with app.run_test(size=(100, 32)) as pilot:
        s = app.screen
        await until(pilot, lambda: scored(s))
        base = s.score.mean
        await pilot.press("down", "down", "plus", "plus", "plus")
        assert s.selected == 2 and s.offsets[2] == pytest.approx(0.3) and np.count_nonzero(s.offsets) == 1
        await until(pilot, lambda: scored(s))
        expect = ref.score(1.0, s.offsets)
        assert s.score.mean == expect.mean and s.score.mean != base
        conns = s.query_one(ConnectionList)
        assert conns.lines[2].startswith(("▶  3", ">  3")) and conns.lines[2].endswith("+1.30  +0.30")
        await until(pilot, lambda: s.profile is not None and not s._prof_busy and s._prof_timer is None)
        assert np.array_equal(s.profile.mean, ref.profile(None, s.offsets).mean)  # profile follows the offsets
        await pilot.press("ctrl+s")
        saved = s.saved
        assert saved == swing_copy.parent / "swing.explore1.tuned.json" and saved.is_file()
        back = explore.load(saved, ref.task)
        assert back.weight == 1.0 and np.allclose(back.offsets, s.offsets)
        assert explore.Explorer(back, episodes=3).score(back.weight, back.offsets).mean == pytest.approx(expect.mean)
        await pilot.press("0")
        assert not s.offsets.any()
        await until(pilot, lambda: scored(s))
        assert s.score.mean == base


async def test_digits_show_accuracy_per_digit_and_wrong_images(tmp_path: Path):
    task = tasks.get("digits")
    f = tmp_path / "digits.json"
    write_json(initial_genome(64, 10, np.random.default_rng(2), 0.5), f, task)
    app = ExploreApp(explore.open_file(f, "digits"), title=f.name)
    ref = explore.open_file(f, "digits")
    async with app.run_test(size=(100, 32)) as pilot:
        s = app.screen
        view = s.query_one(ClassifyView)
        await until(pilot, lambda: scored(s) and view.view is not None)
        cv = ref.classification(1.0)
        assert view.view.accuracy == cv.accuracy and view.view.ensemble == cv.ensemble
        assert f"{100 * cv.accuracy:.2f} %" in view.lines[0] and f"ensemble {100 * cv.ensemble:.2f} %" in view.lines[0]
        assert any(line.startswith(f"{cv.wrong[0].label}->{cv.wrong[0].predicted}") for line in view.lines)
        assert not s.check_action("play", ()) and not s.check_action("next_episode", ())
        await pilot.press("right")
        await until(pilot, lambda: scored(s) and view.view.weight == 1.05)
        assert view.view.accuracy == ref.classification(1.05).accuracy
        assert "accuracy" in s.top_lines[1]


async def test_ascii_and_no_color(swing_copy: Path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(swing_copy, ascii=True)
    async with app.run_test(size=(80, 24)) as pilot:
        s = app.screen
        view = s.query_one(PlaybackView)
        await until(pilot, lambda: scored(s) and view.frame is not None and view.frame.step > 5)
        await until(pilot, lambda: s.profile is not None)
        text = "\n".join([*view.lines, *s.top_lines, *s.query_one(ConnectionList).lines])
        assert text.isascii() and "[" in text and s.query_one(ProfilePlot).plain_markers


async def test_e_in_the_live_view_explores_the_champion(tmp_path: Path):
    from tui_support import copy_run, last_generation, recorded_run

    from wanntui.app import WannTui
    from wanntui.screens.browser import BrowserScreen
    from wanntui.screens.front_pick import FrontPickScreen
    from wanntui.screens.run_view import RunScreen

    runs = tmp_path / "runs"
    runs.mkdir()
    run = copy_run(recorded_run(tmp_path / "rec"), runs)
    app = WannTui(runs, tick=0.05, poll=0.02, state_every=0.2)
    async with app.run_test(size=(100, 32)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().champion)
        view = app.screen
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen))
        s = app.screen
        await until(pilot, lambda: scored(s))
        ref = explore.open_run(run, view.model.snapshot().champion)
        # it starts at the run's best weight (tests/console/test_tui_explorer_start.py)
        assert s.score.mean == ref.score(s.weight).mean and s.title_text.startswith("rec champion gen ")
        await pilot.press("ctrl+s")
        assert s.saved == run / "champion.explore1.tuned.json" and s.saved.is_file()
        await pilot.press("escape")
        assert app.screen is view
        # f: a member of the first Pareto front, from the checkpoint
        gen, members = explore.front_members(run)
        assert sorted(m.index for m in members) == sorted(last_generation(run)["front"])
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FrontPickScreen))
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen))
        s = app.screen
        m = members[1]
        assert s.title_text == f"rec front #{m.index} gen {gen}" and s.ex.net.n_conns == m.conns
        await until(pilot, lambda: scored(s))
        assert s.score.mean == explore.open_run(run, m.genome).score(1.0).mean


def test_explore_command_bad_input_is_one_line_and_exit_2(tmp_path: Path, swing_out: Path, capsys):
    from wanntui.cli import main

    cases = [
        ("explore",),
        ("explore", str(tmp_path / "missing.out")),
        ("explore", str(swing_out), "--task", "nope"),
        ("explore", str(swing_out), "--task", "digits"),
        ("explore", str(swing_out), "--episodes", "0"),
        ("explore", str(swing_out), "--no-such-option"),
        ("explore", str(swing_out)),  # not a terminal
    ]
    for args in cases:
        with pytest.raises(SystemExit) as e:
            main(list(args))
        out, err = capsys.readouterr()
        assert e.value.code == 2, (args, err)
        assert len(err.splitlines()) == 1 and err.startswith("wann-tui: error: "), (args, err)
        assert out == "", args
    # --ascii may come before the subcommand: it reaches the explorer (which then wants a terminal)
    with pytest.raises(SystemExit) as e:
        main(["--ascii", "explore", str(swing_out)])
    assert e.value.code == 2 and "the explorer needs a terminal" in capsys.readouterr().err


async def test_other_gym_tasks_show_observation_and_action_traces(tmp_path: Path):
    task = tasks.get("gym:Pendulum-v1")
    f = tmp_path / "pendulum.json"
    write_json(initial_genome(3, 1, np.random.default_rng(1), 1.0), f, task)
    app = ExploreApp(explore.Explorer(explore.load(f, task), episodes=2), title=f.name)
    async with app.run_test(size=(100, 32)) as pilot:
        s = app.screen
        view = s.query_one(PlaybackView)
        await until(pilot, lambda: view.frame is not None and view.frame.step > 5 and scored(s))
        names = [line.split()[0] for line in view.lines[1:]]
        assert names == ["cos(theta)", "sin(theta)", "theta_dot", "torque", "reward"]
        assert all(len(line.split()) == 3 for line in view.lines[1:])  # name, value, sparkline
        assert s.ex.steps_per_second == 30.0  # Pendulum's render_fps: real time


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_explore_command_in_a_real_terminal(swing_copy: Path):
    """``wann-tui explore`` in tmux: the screen comes up, the slider moves, the rollout plays, q quits."""
    sock = f"wanntui-explore-{os.getpid()}-{time.monotonic_ns()}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=20).stdout

    def wait(pattern: str, timeout: float = 60.0) -> re.Match:
        deadline, text = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            text = tmux("capture-pane", "-p")
            m = re.search(pattern, text)
            if m:
                return m
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not on screen; screen:\n{text}")

    cmd = f"{sys.executable} -m wanntui explore {swing_copy} --task swingup --episodes 2; sleep 30"
    tmux("new-session", "-d", "-x", "100", "-y", "32", "-e", "LANG=C.UTF-8", "-e", "TERM=xterm-256color",
         "-e", "TEXTUAL_ANIMATIONS=none", "-c", str(Path(__file__).resolve().parents[2]), cmd, ";",
         "set", "-g", "escape-time", "10")
    try:
        ref = explore.open_file(swing_copy, "swingup", episodes=2)
        wait(rf"score {ref.score(1.0).mean:.2f} ")
        first = int(wait(r"step (\d+) ").group(1))
        assert int(wait(rf"step (?!{first} )(\d+) ").group(1)) != first  # playing in real time
        tmux("send-keys", "Right")
        wait(rf"w \+1\.05 .*score {ref.score(1.05).mean:.2f} ")
        tmux("send-keys", "q")
        deadline = time.monotonic() + 20
        while "score" in tmux("capture-pane", "-p") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "score" not in tmux("capture-pane", "-p")
    finally:
        tmux("kill-server")
