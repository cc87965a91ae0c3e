"""The console under Textual's Pilot, on a recorded run of the real engine."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from tui_support import last_generation, make_app, until

from wanntui import fmt
from wanntui.app import WannTui
from wanntui.model import synthetic_generation
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.confirm import ConfirmScreen
from wanntui.screens.help import HelpScreen
from wanntui.screens.new_run import NewRunScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.netgraph import NetGraph
from wanntui.widgets.pareto import ParetoPlot
from wanntui.widgets.status import StatusBar
from wanntui.widgets.weights import WeightTable


@pytest.fixture
def runs(recorded_runs: Path) -> Path:
    return recorded_runs


async def open_rec(pilot, app: WannTui) -> RunScreen:
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().gen_done == 8)
    await until(pilot, lambda: app.screen.renders > 0 and app.screen.query_one(WeightTable).best_index is not None)
    return app.screen


async def test_browser_lists_the_run_as_finished(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        table = app.screen.query_one("#runs")
        row = table.get_row(str(runs / "rec"))
        cells = [c.plain for c in row]
        assert cells[0] == "rec" and cells[1] == "swingup" and cells[2] == "finished" and cells[3] == "8/8"
        best = last_generation(runs / "rec")["best_mean"]
        assert cells[4] == fmt.number(best)
        # the footer offers only what applies to a finished run
        screen = app.screen
        assert screen.check_action("delete", ()) and screen.check_action("open", ())
        for action in ("pause", "continue", "stop", "kill", "resume"):
            assert not screen.check_action(action, ())
        keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "delete" in keys and "pause" not in keys


async def test_run_view_shows_the_last_generation(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        last = last_generation(runs / "rec")
        table = view.query_one(WeightTable)
        champ = last.get("retest_per_weight") or last["best_per_weight"]  # the re-tested champion's scores
        for i, value in enumerate(champ):
            assert table.cell_text(i, "champion") == fmt.number(value)
            assert table.cell_text(i, "pop") == fmt.number(last["pop_best_per_weight"][i])
        best = max(range(len(champ)), key=lambda i: champ[i])
        assert table.best_index == best and "best" in table.cell_text(best, "mark")
        status = view.query_one(StatusBar)
        await until(pilot, lambda: "finished" in status.text)
        assert "gen 8/8" in status.text and "workers 1" in status.text and "ETA done" in status.text
        net = view.query_one(NetGraph)
        await until(pilot, lambda: net.graph is not None)  # drawn in a worker thread
        assert net.graph.n_nodes >= 7
        drawn = "\n".join(net.graph.lines)
        used = [n for n in ("x", "x_dot", "cos(theta)", "sin(theta)", "theta_dot") if n in drawn]
        assert used and "force:" in drawn
        pareto = view.query_one(ParetoPlot)
        assert pareto.front_size == len(last["front"])


async def test_pareto_key_switches_axes_and_net_key_switches_mode(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        pareto = view.query_one(ParetoPlot)
        assert pareto.x_label == "connections" and "connections" in pareto.border_title
        await pilot.press("a")
        await until(pilot, lambda: pareto.x_label == "peak (best weight)")
        assert "peak" in pareto.border_title
        assert pareto.front_size == len(last_generation(runs / "rec")["front_peak"])
        await pilot.press("a")
        await until(pilot, lambda: pareto.x_label == "connections")
        net = view.query_one(NetGraph)
        await pilot.press("g")
        await until(pilot, lambda: net.mode == "list" and net.graph is not None and "<-" in net.graph.text())
        await pilot.press("3", "z")
        assert view.maximized is net
        await pilot.press("escape")
        assert view.maximized is None and isinstance(app.screen, RunScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)


async def test_appended_events_and_bad_lines_reach_the_view(runs: Path):
    run = runs / "rec"
    app = make_app(runs)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_rec(pilot, app)
        ev = synthetic_generation(8, pop=32, n_weights=6, t=time.time())
        ev["best_per_weight"] = ev["retest_per_weight"] = [1.5, 2.5, 99.25, 3.5, 4.5, 5.5]
        with open(run / "events.jsonl", "ab") as f:
            f.write(b"this is not json\n" + orjson.dumps(ev) + b"\n" + b'{"type": "generation", "gen": 9')
        table = view.query_one(WeightTable)
        await until(pilot, lambda: table.cell_text(2, "champion") == "99.25")
        assert table.best_index == 2
        status = view.query_one(StatusBar)
        await until(pilot, lambda: "1 bad line(s) skipped" in status.text)
        assert "gen 9/8" in status.text  # the half-written line is not read
        assert any("line" in n.message and "skipped" in n.message for n in app._notifications)


async def test_delete_asks_and_defaults_to_no(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused.id == "no"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        assert (runs / "rec").exists()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not (runs / "rec").exists())
        await until(pilot, lambda: not app.screen.rows)


async def test_help_palette_and_new_run_form_validation(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "run: new" in titles and "run: delete rec" in titles and "run: pause rec" not in titles
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        await pilot.press("1")  # population 1 is too small
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, NewRunScreen)
        assert "population" in str(app.screen.query_one("#form-error").render())
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        assert [p.name for p in runs.iterdir()] == ["rec"]


async def test_small_terminal_and_ascii(runs: Path):
    app = make_app(runs, ascii=True)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_rec(pilot, app)
        for pane in ("#curves", "#pareto", "#net", "#weights"):
            w = view.query_one(pane)
            assert w.size.width >= 30 and w.size.height >= 5, pane
        net = view.query_one(NetGraph)
        await until(pilot, lambda: net.graph is not None)  # drawn in a worker thread
        assert all(ord(ch) < 128 for line in net.graph.lines for ch in line)
        await until(pilot, lambda: "gen 8/8" in view.query_one(StatusBar).text)
        svg = app.export_screenshot().replace("&#160;", " ")
        assert "Fitness" in svg and "Per weight" in svg and "Pareto" in svg


async def test_run_states_drive_the_footer(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        row = app.run_rows[runs / "rec"]
        app.run_rows[runs / "rec"] = app.states.with_state(row, "running")
        assert view.check_action("pause", ()) and view.check_action("stop", ()) and view.check_action("kill", ())
        assert not view.check_action("continue", ()) and not view.check_action("resume", ())
        app.run_rows[runs / "rec"] = app.states.with_state(row, "paused")
        assert view.check_action("continue", ()) and not view.check_action("pause", ())
        app.run_rows[runs / "rec"] = app.states.with_state(row, "crashed")
        assert view.check_action("resume", ()) and not view.check_action("kill", ())


async def test_kill_asks_first_and_calls_control(runs: Path, monkeypatch):
    killed = []
    monkeypatch.setattr("wanntui.app.control.kill", lambda run: killed.append(run) or True)
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        app.states.row = lambda run: app.states.with_state(app.run_rows[runs / "rec"], "running")  # an engine runs
        await until(pilot, lambda: view.check_action("kill", ()))
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.focused.id == "no" and "SIGKILL" in str(app.screen.message)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert killed == []
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: killed == [runs / "rec"])
