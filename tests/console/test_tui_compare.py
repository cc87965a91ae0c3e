"""Comparing runs in the console: mark runs in the browser, overlay their curves, read their final numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import copy_run, make_app, until

from wann_engine.events import effective_generations, read_events
from wanntui import fmt
from wanntui.app import WannTui
from wanntui.comparison import Comparison, assign_slot
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.compare import CompareCurves, CompareScreen


@pytest.fixture
def runs(tmp_path: Path, recorded: Path) -> Path:
    """Two runs: ``rec`` (8 generations, finished) and ``short`` (the same run cut after 5 generations)."""
    d = tmp_path / "runs"
    d.mkdir()
    copy_run(recorded, d)
    short = copy_run(recorded, d, "short")
    kept, gens = [], 0
    for line in (short / "events.jsonl").read_bytes().splitlines(keepends=True):
        if gens == 5:
            break
        kept.append(line)
        gens += b'"type":"generation"' in line
    (short / "events.jsonl").write_bytes(b"".join(kept))
    return d


def final(run: Path) -> dict:
    return effective_generations(read_events(run / "events.jsonl"))[-1]


def name_cell(app: WannTui, run: Path) -> str:
    return app.screen.query_one("#runs").get_cell(str(run), "name").plain


async def mark_both(pilot, app: WannTui, runs: Path) -> BrowserScreen:
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
    browser = app.screen
    assert not browser.check_action("compare", ())
    await pilot.press("space")
    first = browser.selected_run()
    await pilot.press("down", "space")
    assert set(browser.marked) == {runs / "rec", runs / "short"} and browser.selected_run() != first
    assert browser.check_action("compare", ())
    return browser


async def test_marking_two_runs_and_comparing_shows_both_with_their_final_numbers(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await mark_both(pilot, app, runs)
        for run in (runs / "rec", runs / "short"):
            assert name_cell(app, run) == f"● {run.name}"  # marked rows are visibly marked
        keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert {"mark", "compare"} <= keys
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "runs: compare 2 marked" in titles and any(t.startswith("run: unmark ") for t in titles)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.results) == 2)
        screen = app.screen
        curves = screen.query_one(CompareCurves)
        assert sorted(curves.legend) == ["rec", "short"]
        drawn = curves.render().plain
        assert "rec" in drawn and "short" in drawn  # the legend inside the plot
        for run, gens in ((runs / "rec", 8), (runs / "short", 5)):
            last = final(run)
            assert screen.cell_text(run, "run") == run.name
            assert screen.cell_text(run, "best") == fmt.number(last["best_mean"])
            assert screen.cell_text(run, "peak") == fmt.number(last["best_peak"])
            assert screen.cell_text(run, "conns") == str(last["best_conns"])
            assert screen.cell_text(run, "gens") == f"{gens}/8"
            assert screen.cell_text(run, "wall") == fmt.duration(last["elapsed"])
        # each run has its own colour, the same in the browser and the comparison
        styles = {str(screen.query_one("#compare-table").get_cell(str(r), "key").style)
                  for r in (runs / "rec", runs / "short")}
        assert len(styles) == 2
        await pilot.press("escape")
        assert app.screen is browser and len(browser.marked) == 2
        await pilot.press("space")  # unmark the selected one: comparing needs two again
        assert len(browser.marked) == 1 and not browser.check_action("compare", ())
        keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "compare" not in keys


async def test_compare_in_ascii_mode_uses_plain_markers(runs: Path):
    app = make_app(runs, ascii=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await mark_both(pilot, app, runs)
        assert {name_cell(app, r)[:3] for r in (runs / "rec", runs / "short")} == {"[o]", "[+]"}
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.results) == 2)
        curves = app.screen.query_one(CompareCurves)
        await until(pilot, lambda: curves.legend)
        drawn = curves.render().plain
        assert all(ord(c) < 128 for c in drawn), drawn
        assert {app.screen.cell_text(r, "key") for r in (runs / "rec", runs / "short")} == {"o", "+"}


async def test_compare_without_colour_keeps_runs_apart(runs: Path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await mark_both(pilot, app, runs)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and len(app.screen.results) == 2)
        curves = app.screen.query_one(CompareCurves)
        assert curves.plain_markers
        assert {app.screen.cell_text(r, "key") for r in (runs / "rec", runs / "short")} == {"o", "+"}


def test_comparison_reads_only_what_was_appended(runs: Path):
    cmp = Comparison([runs / "short", runs / "rec"])
    first = cmp.poll()
    assert [r.name for r in first] == ["short", "rec"] and [r.generations for r in first] == [5, 8]
    assert list(first[0].gens) == [0, 1, 2, 3, 4]
    rec_events = (runs / "rec" / "events.jsonl").read_bytes().splitlines(keepends=True)
    short = (runs / "short" / "events.jsonl").read_bytes()
    rest = b"".join(rec_events[len(short.splitlines()):])
    with open(runs / "short" / "events.jsonl", "ab") as f:
        f.write(rest)
    again = cmp.poll()
    assert again[0].generations == 8 and again[0].final_best == final(runs / "rec")["best_mean"]


def test_colour_slots_are_kept_while_marked():
    assert assign_slot([]) == 0
    assert assign_slot([0, 1]) == 2
    assert assign_slot([0, 2]) == 1  # a freed colour is reused; the others keep theirs
