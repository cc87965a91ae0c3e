"""The console for daily use: fits 80x24, says why a run failed, notes/tags, filter, form, notices."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from tui_support import copy_run, make_app, until

from wann_engine import control, rundir
from wanntui import fmt
from wanntui.comparison import RunResult
from wanntui.runs import DIED
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.compare import tasks_differ
from wanntui.screens.log import LogScreen, log_lines
from wanntui.screens.new_run import NewRunScreen, form_values
from wanntui.screens.notes import NotesScreen

GYM = "gym_LunarLanderContinuous-v3-20261130-194113"  # a default gym run name: 44 characters


@pytest.fixture
def runs(recorded_runs: Path) -> Path:
    return recorded_runs


def screen_text(app) -> str:
    """The screen as plain text (from the SVG screenshot: one text run per style)."""
    svg = app.export_screenshot().replace("&#160;", " ")
    return re.sub(r"<[^>]+>", "", svg)


def crash(run: Path, error: str | None) -> None:
    """Make ``run`` a crashed run: its final event replaced by an ``error`` event (or by nothing)."""
    lines = (run / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines = [ln for ln in lines if b'"type":"finished"' not in ln]
    if error is not None:
        lines.append(orjson.dumps({"v": 1, "type": "error", "t": time.time(), "gen": 8, "message": error}) + b"\n")
    (run / "events.jsonl").write_bytes(b"".join(lines))


def test_elide_and_fit_columns():
    assert fmt.elide(GYM, 14) == "gym_Lu…194113" or len(fmt.elide(GYM, 14)) == 14
    assert fmt.elide(GYM, 14).endswith("194113") and fmt.elide(GYM, 14).startswith("gym_")
    assert fmt.elide("short", 14) == "short"
    w = fmt.fit_columns({"name": 44, "task": 24, "state": 8}, 60, (("task", 8), ("name", 14)))
    assert w["state"] == 8 and sum(w.values()) + 6 <= 60


async def test_browser_at_80x24_keeps_state_gen_best_with_a_long_gym_name(runs: Path):
    copy_run(runs / "rec", runs, GYM)
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
        await pilot.pause(0.2)
        text = screen_text(app)
        best = fmt.number(app.run_rows[runs / GYM].best)
        for header in ("state", "gen/total", "best", "evals/s", "updated"):
            assert header in text, header
        assert text.count("finished") >= 2 and text.count("8/8") >= 2 and best in text
        assert "gym_" in text and "194113" in text and GYM not in text  # elided in the middle
        # Home / End jump to the first / last run
        table = app.screen.query_one("#runs")
        await pilot.press("end")
        assert table.cursor_row == 1
        await pilot.press("home")
        assert table.cursor_row == 0
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "updated" in text and " ago" in text and GYM in text


async def test_log_screen_of_a_crashed_run_shows_error_and_traceback(runs: Path):
    run = runs / "rec"
    crash(run, "RuntimeError: boom")
    (run / rundir.LOG).write_text("--- run failed at generation 8 ---\nTraceback (most recent call last):\n"
                                  '  File "search.py", line 1, in tell\nRuntimeError: boom\n')
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await until(pilot, lambda: app.run_rows[run].state == "crashed")
        assert app.run_rows[run].note == "error at generation 8: RuntimeError: boom"
        await until(pilot, lambda: "boom" in screen_text(app))  # the reason under the table
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        await until(pilot, lambda: "Traceback (most recent call last)" in screen_text(app))
        text = screen_text(app)
        assert "error event at generation 8: RuntimeError: boom" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))


def test_a_run_killed_without_a_word_says_so(runs: Path):
    run = runs / "rec"
    crash(run, None)
    from wanntui.runs import RunStates

    row = RunStates(runs).row(run)
    assert row is not None and row.state == "crashed" and row.note == DIED
    text = "\n".join(t.plain for t in log_lines(run, "crashed"))
    assert DIED in text and "no engine output" in text


def test_the_engine_writes_its_traceback_to_the_run_log(tmp_path: Path):
    from wann_engine.runner import _log_traceback

    try:
        raise ValueError("bad things")
    except ValueError:
        _log_traceback(tmp_path / "engine.log", 3)
    text = (tmp_path / "engine.log").read_text()
    assert "generation 3" in text and "Traceback" in text and "ValueError: bad things" in text


async def test_form_clears_a_stale_message_and_starts_from_a_run(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        form = app.screen
        assert form.query_one("#task").value == "swingup"
        form.query_one("#name").value = "rec"
        await pilot.pause()
        form.action_launch()
        await pilot.pause()
        assert "already exists" in form.error_text
        form.query_one("#name").focus()
        await pilot.press("2")
        await pilot.pause()
        assert form.error_text == ""
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        await pilot.press("N")  # a new run from the selected run's config
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert app.screen.query_one("#pop").value == "32" and app.screen.query_one("#gens").value == "8"
        await pilot.press("escape")
    assert [p.name for p in runs.iterdir()] == ["rec"]


def test_form_values_carry_overrides(runs: Path):
    cfg = rundir.read_config(runs / "rec").with_overrides(["max_steps=300"])
    v = form_values(cfg)
    assert v["task"] == "swingup" and "max_steps=300" in v["sets"]


async def test_notes_and_tags_persist_and_filter(runs: Path):
    copy_run(runs / "rec", runs, GYM)
    app = make_app(runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
        browser = app.screen
        browser.query_one("#runs").move_cursor(row=[p.name for p in browser.rows].index("rec"))
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, NotesScreen))
        await pilot.press(*"baseline seeds")
        app.screen.query_one("#notes-text").text = "first try"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.run_rows.get(runs / "rec") and app.run_rows[runs / "rec"].tags)
        assert control.read_notes(runs / "rec") == control.RunNotes("first try", ("baseline", "seeds"))
        await pilot.press("slash")
        await pilot.press(*"tag:baseline")
        await until(pilot, lambda: [p.name for p in browser.rows] == ["rec"])
        await pilot.press("escape")
        await until(pilot, lambda: len(browser.rows) == 2)
        await pilot.press("slash", *"gym", "enter")
        await until(pilot, lambda: [p.name for p in browser.rows] == [GYM])


def test_notes_file_is_checked(runs: Path):
    run = runs / "rec"
    (run / control.NOTES).write_text("[not an object")
    assert control.read_notes(run) == control.RunNotes()
    with pytest.raises(ValueError, match="tag"):
        control.write_notes(run, control.RunNotes("x", ("bad/tag",)))


def test_rename_and_archive(runs: Path):
    copy_run(runs / "rec", runs, "other")
    new = control.rename(runs / "other", "renamed")
    assert new == runs / "renamed" and new.is_dir() and not (runs / "other").exists()
    with pytest.raises(rundir.RunDirError, match="already exists"):
        control.rename(new, "rec")
    dst = control.archive(new)
    assert dst == runs / control.ARCHIVE / "renamed" and (dst / "events.jsonl").is_file()
    assert sorted(s.name for s in control.list_runs(runs)) == ["rec"]


def test_compare_warns_on_different_tasks():
    def result(task: str) -> RunResult:
        return RunResult(Path(task), task, task, np.zeros(0), np.zeros(0), None, None, None, 0, 0, None)

    assert tasks_differ([result("swingup"), result("swingup")]) == ""
    assert "different tasks" in tasks_differ([result("swingup"), result("gym:Pendulum-v1")])


async def test_a_run_ending_rings_and_says_so(runs: Path, monkeypatch):
    app = make_app(runs)
    said: list[str] = []
    rang: list[int] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        monkeypatch.setattr(app, "notify", lambda msg, **kw: said.append(msg))
        monkeypatch.setattr(app, "bell", lambda: rang.append(1))
        rows = dict(app.run_rows)
        app._last_states = {runs / "rec": "running"}  # as the console saw it a moment ago
        app._states_ready(rows)
        assert rang and any("rec finished at generation 8/8" in m for m in said)
        said.clear()
        app._states_ready(rows)  # nothing new: no second notice
        assert not said


async def test_delete_on_a_running_run_says_why(runs: Path, monkeypatch):
    app = make_app(runs)
    said: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        app.run_rows[runs / "rec"] = app.states.with_state(app.run_rows[runs / "rec"], "running")
        monkeypatch.setattr(app.screen, "notify", lambda msg, **kw: said.append(msg))
        app.screen.action_delete()
        assert said and "stop it" in said[0]
        assert (runs / "rec").is_dir()


async def test_screenshot_goes_into_the_run_folder(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        saved = app.deliver_screenshot()
        assert saved is not None and Path(saved).parent == runs and Path(saved).suffix == ".svg"


@pytest.mark.skipif(sys.platform != "linux", reason="detached engines")
def test_a_launched_run_leaves_no_empty_launch_log(tmp_path: Path):
    from wanntui.runs import RunStates

    runs = tmp_path / "runs"
    spec = control.LaunchSpec(task="swingup", name="tiny", runs_dir=runs, pop=16, gens=1,
                              overrides=("max_steps=50", "threads=1"))
    run = control.launch(spec)
    deadline = time.monotonic() + 120
    states = RunStates(runs)
    while time.monotonic() < deadline:
        row = states.row(run) if run.is_dir() else None
        if row is not None and row.state in ("finished", "crashed"):
            break
        time.sleep(0.2)
    assert row is not None and row.state == "finished", (row, control.launch_log(runs, "tiny").read_text())
    states.row(run)
    assert not control.launch_log(runs, "tiny").exists()
