"""The live view at 80x24: the footer keeps the run-control keys that apply, the status bar stays on one
line, and a run that crashed before its first generation says so (no "waiting", no "nan", no raw errno)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from tui_support import make_app, until

from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.status import StatusBar

CRASH = "RuntimeError: boom in the evaluator"


@pytest.fixture
def runs(recorded_runs: Path) -> Path:
    return recorded_runs


def crashed_before_gen0(runs: Path, error: str | None = CRASH) -> Path:
    """A run whose engine died before completing a generation: its ``run_start``, then an ``error``
    event (or nothing: killed without a word); no checkpoint, no champion."""
    run = runs / "crash0"
    run.mkdir()
    (run / "config.json").write_bytes((runs / "rec" / "config.json").read_bytes())
    start = orjson.loads((runs / "rec" / "events.jsonl").read_bytes().splitlines()[0])
    assert start["type"] == "run_start"
    start["name"] = "crash0"
    lines = [orjson.dumps(start)]
    if error is not None:
        lines.append(orjson.dumps({"v": 1, "type": "error", "t": time.time(), "gen": 0, "message": error}))
    (run / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return run


def screen_lines(app) -> list[str]:
    """The screen as the terminal shows it, one string per row."""
    size = app.size
    console = Console(width=size.width, height=size.height, file=io.StringIO(), force_terminal=True,
                      color_system=None, record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


async def open_run(pilot, app, run: Path) -> RunScreen:
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
    await until(pilot, lambda: run in app.run_rows)
    app.open_run(run)
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run == run)
    await pilot.pause(0.3)
    return app.screen


async def footer_shows(pilot, app, *labels: str) -> str:
    """Wait until the footer row (the screen's last) shows every one of ``labels``; return that row."""
    try:
        await until(pilot, lambda: all(lab in screen_lines(app)[-1] for lab in labels), timeout=5)
    except AssertionError:
        raise AssertionError(f"footer lacks {labels}: {screen_lines(app)[-1]!r}") from None
    return screen_lines(app)[-1]


@pytest.mark.parametrize("pane", ["1", "2", "3", "4"])
async def test_footer_keeps_the_run_controls_at_80_columns(runs: Path, pane: str):
    run = runs / "rec"
    state = {"now": "running"}
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_run(pilot, app, run)
        app.states.row = lambda r: app.states.with_state(app.run_rows[run], state["now"])  # an engine runs
        await pilot.press(pane)  # whichever pane is focused (each adds its own keys)
        await footer_shows(pilot, app, "p Pause", "s Stop", "K Kill")
        state["now"] = "paused"
        row = await footer_shows(pilot, app, "c Continue", "s Stop", "K Kill")
        assert "p Pause" not in row
        state["now"] = "stopped"
        row = await footer_shows(pilot, app, "r Resume")
        assert "s Stop" not in row and "c Continue" not in row
        # the keys moved out of the footer still work and are listed by the palette
        assert "pareto_axes" in {c[2] for c in view.commands()} and "net_mode" in {c[2] for c in view.commands()}


async def test_pane_keys_show_only_with_their_pane(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_run(pilot, app, runs / "rec")
        await pilot.press("2")
        assert "a Axes" in await footer_shows(pilot, app, "a Axes")
        await pilot.press("3")
        row = await footer_shows(pilot, app, "g Graph/list")
        assert "a Axes" not in row
        await pilot.press("a")  # from another pane
        assert view.query_one("#pareto").axes == "peak"


async def test_a_crashed_runs_status_bar_stays_on_one_line(runs: Path):
    run = crashed_before_gen0(runs)
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_run(pilot, app, run)
        await until(pilot, lambda: app.run_rows[run].state == "crashed")
        status = view.query_one(StatusBar)
        await until(pilot, lambda: "crashed" in status.text)
        await pilot.pause(0.1)
        lines = screen_lines(app)
        assert status.size.height == 1 and "crashed" in lines[0] and "ETA" not in lines[0]
        assert "╭─ 1 Fitness" in lines[1]  # the panes start on the next row: nothing wrapped
        assert len(status.text) <= 78 and "error: RuntimeError" in status.text


async def test_a_run_that_crashed_before_a_generation_says_why(runs: Path):
    run = crashed_before_gen0(runs)
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_run(pilot, app, run)
        await until(pilot, lambda: app.run_rows[run].state == "crashed")
        why = f"no generation was completed (crashed: {CRASH})"
        await until(pilot, lambda: why in " ".join(ln.strip(" │") for ln in screen_lines(app)))
        text = "\n".join(screen_lines(app))
        assert "waiting" not in text and "nan" not in text
        assert view.query_one("#curves").message == why and view.query_one("#pareto").message == why
        assert view.query_one("#weights").row_count == 0
        assert "no generation was completed" in str(view.query_one("#net").body.render())


async def test_a_run_killed_before_a_generation_says_so(runs: Path):
    run = crashed_before_gen0(runs, error=None)
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_run(pilot, app, run)
        await until(pilot, lambda: app.run_rows[run].state == "crashed")
        await until(pilot, lambda: "engine died without a word" in view.query_one("#curves").message)
        assert "no generation was completed (crashed: engine died" in view.query_one("#curves").message


async def test_explore_without_a_champion_is_a_notice(runs: Path):
    run = crashed_before_gen0(runs)
    app = make_app(runs)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await open_run(pilot, app, run)
        await until(pilot, lambda: app.run_rows[run].state == "crashed")
        await pilot.press("e")
        said = "no champion yet: the run has not completed a generation"
        await until(pilot, lambda: any(n.message == said for n in app._notifications))
        await until(pilot, lambda: "no champion yet" in "\n".join(screen_lines(app)))
        text = "\n".join(screen_lines(app))
        assert "Errno" not in text and "no such file" not in text
        assert isinstance(app.screen, RunScreen)  # no explorer opened
        await pilot.press("f")
        await until(pilot, lambda: any("no front yet" in n.message for n in app._notifications))
        assert not any("Errno" in n.message or "resume" in n.message for n in app._notifications)
