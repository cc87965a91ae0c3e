"""The live view: keys sent in one burst (as over a laggy SSH link), and the fitness plot's ticks and toggles."""

from __future__ import annotations

import re
import time
from pathlib import Path

import orjson
import pytest
from textual import events
from tui_support import make_app, until

from wanntui.model import synthetic_generation
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.curves import FitnessCurves
from wanntui.widgets.netgraph import NetGraph
from wanntui.widgets.weights import WeightTable


@pytest.fixture
def runs(recorded_runs: Path) -> Path:
    return recorded_runs


def burst(app, *keys: str) -> None:
    """Queue every key at once, with no pause between them (``Pilot.press`` waits for idle after each)."""
    for key in keys:
        ev = events.Key(key, key if len(key) == 1 else None)
        ev.set_sender(app)
        app._driver.send_message(ev)


async def open_rec(pilot, app) -> RunScreen:
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().gen_done >= 8)
    await until(pilot, lambda: app.screen.renders > 0 and app.screen.query_one(WeightTable).best_index is not None)
    return app.screen


def pane_of(view: RunScreen, node) -> str | None:
    while node is not None and node.id not in RunScreen.PANES:
        node = node.parent
    return None if node is None else node.id


async def test_focus_and_zoom_keys_in_one_burst(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        for _ in range(3):  # the bug struck 4 times in 5: repeat
            await pilot.press("1")
            assert view.maximized is None
            burst(app, "2", "z")
            await pilot.pause(0.2)
            assert view.maximized is not None and view.maximized.id == "pareto"
            burst(app, "z", "4", "z")  # restore, focus 4, maximize it
            await pilot.pause(0.2)
            assert view.maximized is not None and view.maximized.id == "weights"
            assert pane_of(view, view.focused) == "weights"
            burst(app, "3", "z")  # a pane key while maximized maximizes that pane; z restores
            await pilot.pause(0.2)
            assert view.maximized is None and pane_of(view, view.focused) == "net"
            burst(app, "z", "1", "z")
            await pilot.pause(0.2)
            assert view.maximized is None and pane_of(view, view.focused) == "curves"


async def test_scroll_keys_in_one_burst_add_up(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_rec(pilot, app)
        net = view.query_one(NetGraph)
        await until(pilot, lambda: net.graph is not None)
        await pilot.press("3")
        net.body.update("\n".join("x" * 400 for _ in range(60)))  # wider and taller than the pane
        await pilot.pause(0.2)
        burst(app, *["right"] * 30)
        await pilot.pause(0.3)
        assert net.scroll_x == 30
        burst(app, *["down"] * 7, *["left"] * 5)
        await pilot.pause(0.3)
        assert (net.scroll_x, net.scroll_y) == (25, 7)


def plot_text(w) -> str:
    return w.render().plain


def x_tick_labels(text: str) -> list[str]:
    """The words on the line under the plot's bottom frame (plotext's x tick labels)."""
    lines = text.splitlines()
    i = max(k for k, line in enumerate(lines) if "└" in line or re.search(r"\+-{5,}", line))
    return lines[i + 1].split()


def append_generations(run: Path, first: int, last: int) -> None:
    t = time.time()
    with open(run / "events.jsonl", "ab") as f:
        for g in range(first, last + 1):
            ev = synthetic_generation(g, pop=16, n_weights=6, t=t)
            f.write(orjson.dumps(ev) + b"\n")


async def test_fitness_ticks_are_integers_and_toggles_change_the_plot(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        curves = view.query_one(FitnessCurves)
        ticks = x_tick_labels(plot_text(curves))
        assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks
        assert "median" in curves.border_subtitle and "max" in curves.border_subtitle  # legend on the border

        append_generations(runs / "rec", 9, 1500)
        await until(pilot, lambda: view.model.snapshot().gen_done >= 1500, timeout=20)
        await pilot.pause(0.7)
        ticks = x_tick_labels(plot_text(curves))
        assert all(re.fullmatch(r"\d+", t) for t in ticks), ticks
        assert curves.x_range is not None and curves.x_range[0] < 10

        whole = plot_text(curves)
        await pilot.press("l")  # the last 100 generations
        assert curves.window == 100 and curves.x_range[0] > 1390
        assert "last 100" in str(curves.border_title) and plot_text(curves) != whole
        assert all(1400 <= int(t) <= 1500 for t in x_tick_labels(plot_text(curves)))
        await pilot.press("l")
        assert curves.window == 1000 and 495 < curves.x_range[0] < 510
        await pilot.press("l")
        assert curves.window is None

        auto = plot_text(curves)
        await pilot.press("y")  # from zero
        assert curves.y_mode == "zero" and plot_text(curves) != auto
        assert "y from 0" in str(curves.border_title)
        await pilot.press("y")  # log (the synthetic fitness is positive)
        assert curves.y_mode == "log" and not curves.note and plot_text(curves) != auto
        await pilot.press("y")
        assert curves.y_mode == "auto"

        await pilot.press("x")  # evaluations (16 per synthetic generation)
        assert curves.x_mode == "evals" and curves.x_range[1] == 1501 * 16
        labels = x_tick_labels(plot_text(curves))
        assert labels and all(re.fullmatch(r"\d+(\.\d+)?k?", t) for t in labels), labels
        await pilot.press("x")  # wall time
        assert curves.x_mode == "time" and "wall time" in plot_text(curves)
        await pilot.press("x")
        assert curves.x_mode == "gen"
        # the footer shows y/l/x while the fitness pane is focused; the keys work from any pane
        await pilot.press("1")
        shown = {b.binding.id: b.binding for b in app.active_bindings.values() if b.binding.show}
        assert shown["curves.yrange"].key_display == "y l x"
        await pilot.press("3")
        shown = {b.binding.id for b in app.active_bindings.values() if b.binding.show}
        assert not {"curves.yrange", "view.yrange"} & shown
        await pilot.press("y")
        assert curves.y_mode == "zero"


async def test_no_color_plots_emit_no_colour(runs: Path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_rec(pilot, app)
        curves = view.query_one(FitnessCurves)
        assert curves.mono
        text = curves.render()
        assert not text.spans and "\x1b" not in text.plain
        assert "+" in text.plain  # the population's max is drawn last, never hidden
