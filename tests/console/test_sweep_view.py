"""The sweep view: a sweep folder is one row of the browser and opens into curves, a table and a test
across seeds, whose numbers are the ones ``sweep_stats`` computes; members open into their live view."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import engine
from tui_support import make_app, until

from wann_engine import sweep as sweepmod
from wann_engine import sweep_stats as st
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.screens.sweep_view import SweepCurves, SweepScreen
from wanntui.sweeps import SweepFollower, u_test_line
from wanntui.widgets.status import StatusBar

MEMBERS = ["select_tournSize8-s0", "select_tournSize16-s0", "select_tournSize8-s1", "select_tournSize16-s1"]


@pytest.fixture(scope="module")
def made_sweep(tmp_path_factory) -> Path:
    """A real sweep made once by the engine: 2 settings × 2 seeds, 3 generations each."""
    path = tmp_path_factory.mktemp("sweep") / "tourn"
    engine("sweep", "start", str(path), "--task", "swingup", "--seeds", "0-1", "--grid", "select_tournSize=8,16",
           "--gens", "3", "--pop", "32", "--threads", "1", "--parallel", "4", "--quiet", check=True, timeout=240)
    return path


@pytest.fixture
def sweep_runs(tmp_path: Path, made_sweep: Path) -> Path:
    """A runs folder holding the sweep (a copy) and one ordinary run (a member is one)."""
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(made_sweep, runs / "tourn", ignore=shutil.ignore_patterns("*.lock"))
    shutil.copytree(made_sweep / MEMBERS[0], runs / "rec", ignore=shutil.ignore_patterns("*.lock"))
    return runs


def cells(app, key: str) -> dict[str, str]:
    table = app.screen.query_one("#runs")
    return {c.key.value: table.get_cell(key, c.key.value).plain for c in table.columns.values()}


async def open_sweep(pilot, app, runs: Path) -> SweepScreen:
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
    browser = app.screen
    keys = [str(p) for p in browser.rows]
    browser.query_one("#runs").move_cursor(row=keys.index(str(runs / "tourn")), animate=False)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.view is not None)
    return app.screen


def expected(sweep: Path, threshold: float | None = 600.0) -> list[st.Summary]:
    data = st.SweepData.load(sweep)
    return [st.summarize(g, threshold, column="retest") for g in data.groups]


async def test_browser_shows_a_sweep_as_one_row_with_member_counts(sweep_runs: Path):
    app = make_app(sweep_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
        browser = app.screen
        assert set(browser.rows) == {sweep_runs / "tourn", sweep_runs / "rec"}  # members are not rows
        row = cells(app, str(sweep_runs / "tourn"))
        assert row["task"] == "sweep swingup" and row["state"] == "finished" and row["gen"] == "4/4"
        assert browser.rows[sweep_runs / "tourn"].note == "sweep 2 settings × 2 seeds: 4 done · 0 running · " \
                                                          "0 failed · 0 pending"
        assert row["note"].startswith("sweep 2 settings × 2 s")  # the cell, elided to fit
        best = max(float(orjson.loads((sweep_runs / "tourn" / m / "events.jsonl").read_bytes().splitlines()[-1])
                         ["retest_mean"]) for m in MEMBERS)
        assert row["best"] == f"{best:.2f}"  # the best re-tested score so far
        assert "damaged" not in row["note"]
        # filters and orders treat it as a row like the others
        browser.set_filter("state:finished task:swingup")
        assert sweep_runs / "tourn" in browser.rows
        browser.set_filter("kind:sweep")
        assert list(browser.rows) == [sweep_runs / "tourn"]
        browser.set_filter("state:running")
        assert sweep_runs / "tourn" not in browser.rows
        browser.set_filter("")
        for _ in range(5):
            await pilot.press("S")
            assert set(browser.rows) == {sweep_runs / "tourn", sweep_runs / "rec"}
        # run controls do not apply to a sweep's row; opening does
        keys = [str(p) for p in browser.rows]
        browser.query_one("#runs").move_cursor(row=keys.index(str(sweep_runs / "tourn")), animate=False)
        await pilot.pause(0.1)
        for action in ("delete", "mark", "rename", "archive", "log", "resume"):
            assert not browser.check_action(action, ()), action
        assert browser.check_action("open", ())


async def test_sweep_view_shows_the_numbers_sweep_stats_computes(sweep_runs: Path):
    app = make_app(sweep_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_sweep(pilot, app, sweep_runs)
        sums = expected(sweep_runs / "tourn")
        assert [s.label for s in sums] == ["select_tournSize=8", "select_tournSize=16"]
        for s in sums:
            r = s.stat(s.retests)
            assert view.cell_text("sweep-table", s.label, "setting") == s.setting["select_tournSize"]
            assert view.cell_text("sweep-table", s.label, "median") == f"{r['median']:.1f}"
            assert view.cell_text("sweep-table", s.label, "iqr") == f"{r['q1']:.1f}–{r['q3']:.1f}"
            assert view.cell_text("sweep-table", s.label, "worst") == f"{r['min']:.1f}"
            assert view.cell_text("sweep-table", s.label, "reached") == f"{s.reached}/2"
            assert view.cell_text("sweep-table", s.label, "conns") == f"{s.stat(s.conns)['median']:.0f}"
        line = str(view.query_one("#sweep-test").render())
        assert line.startswith("select_tournSize=8 vs 16: median ") and ", p=" in line and "(2 vs 2 seeds)" in line
        assert line == u_test_line(sums[0], sums[1], "retest")
        # the members, with their state and generations
        for name in MEMBERS:
            key = str(sweep_runs / "tourn" / name)
            assert view.cell_text("sweep-members", key, "member") == name
            assert view.cell_text("sweep-members", key, "state") == "done"
            assert view.cell_text("sweep-members", key, "gen") == "3/3"
        # the raw best mean instead of the re-tested score
        await pilot.press("m")
        await until(pilot, lambda: view.view.measure == "best_mean")
        raw = [st.summarize(g, 600.0) for g in st.SweepData.load(sweep_runs / "tourn").groups]
        assert view.cell_text("sweep-table", raw[0].label, "median") == f"{np.median(raw[0].finals):.1f}"
        # a threshold every seed reached
        await pilot.press("t")
        await pilot.press("ctrl+u", *"1", "enter")
        await until(pilot, lambda: view.view.threshold == 1.0)
        assert view.cell_text("sweep-table", raw[0].label, "reached") == "2/2"
        assert "≥1 " in view.query_one("#sweep-table").border_subtitle


async def test_x_changes_the_axis_and_members_open_their_live_view(sweep_runs: Path):
    app = make_app(sweep_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await open_sweep(pilot, app, sweep_runs)
        curves = view.query_one(SweepCurves)
        assert curves.x_label == "generation" and curves.series == ["8", "16"]
        await pilot.press("x")
        await until(pilot, lambda: view.view.x == "evaluations")
        assert curves.x_label == "evaluations" and "evaluations" in curves.render().plain
        await pilot.press("x")
        await until(pilot, lambda: view.view.x == "elapsed")
        assert curves.x_label == "wall time"
        await pilot.press("down", "enter")  # the second member
        await until(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        assert run.run == sweep_runs / "tourn" / MEMBERS[1]
        await until(pilot, lambda: run.query_one(StatusBar).text.startswith(MEMBERS[1][:18]))  # the name, cut
        assert run.sub_title == MEMBERS[1]
        await pilot.press("escape")
        assert app.screen is view
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)
        # the member known to the app (its view is open) is still inside its sweep's row
        await pilot.pause(0.5)
        assert set(app.screen.rows) == {sweep_runs / "tourn", sweep_runs / "rec"}


async def test_a_damaged_member_shows_as_damaged_and_the_view_still_opens(sweep_runs: Path):
    member = sweep_runs / "tourn" / MEMBERS[2]
    (member / "config.json").write_text("{not json")
    app = make_app(sweep_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 2)
        row = cells(app, str(sweep_runs / "tourn"))
        assert row["state"] == "failed" and row["gen"] == "3/4"
        keys = [str(p) for p in app.screen.rows]
        app.screen.query_one("#runs").move_cursor(row=keys.index(str(sweep_runs / "tourn")), animate=False)
        await pilot.pause(0.1)
        assert app.screen.detail_text().startswith("failed: sweep 2 settings × 2 seeds: 3 done · 0 running · 1 failed")
        view = await open_sweep(pilot, app, sweep_runs)
        assert view.cell_text("sweep-members", str(member), "state") == "damaged"
        assert str(view.query_one("#sweep-title").render()).startswith("tourn · 3 done 0 running 1 failed 0 pending")
        # the table counts what can be read; the test line is there
        assert view.cell_text("sweep-table", "select_tournSize=8", "n") == "2/2"
        assert ", p=" in str(view.query_one("#sweep-test").render())


async def test_80x24_fits_and_a_damaged_sweep_file_is_a_damaged_row(sweep_runs: Path):
    bad = sweep_runs / "broken"
    bad.mkdir()
    (bad / sweepmod.SWEEP_FILE).write_text("[1, 2")
    app = make_app(sweep_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == 3)
        row = cells(app, str(bad))
        assert row["state"] == "damaged" and row["task"] == "sweep ?"
        assert "not valid JSON" in app.screen.rows[bad].note
        view = await open_sweep_80(pilot, app, sweep_runs)
        for table, fields in (("#sweep-table", ("median", "iqr", "worst", "reached")),
                              ("#sweep-members", ("member", "state", "gen", "retest"))):
            t = view.query_one(table)
            assert sum(c.width + 2 for c in t.columns.values()) <= 80 - 2, table
            assert all(t.columns[f].width >= len(t.columns[f].label) for f in fields), table
        text = str(view.query_one("#sweep-test").render())
        assert text.startswith("select_tournSize=8 vs 16") and len(text) <= 78
        curves = view.query_one(SweepCurves)
        assert curves.size.height >= 7 and curves.series == ["8", "16"]
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)
        keys = [str(p) for p in app.screen.rows]
        app.screen.query_one("#runs").move_cursor(row=keys.index(str(bad)), animate=False)
        await pilot.press("enter")  # said, not opened
        await pilot.pause(0.2)
        assert isinstance(app.screen, BrowserScreen)


async def open_sweep_80(pilot, app, runs: Path) -> SweepScreen:
    browser = app.screen
    keys = [str(p) for p in browser.rows]
    browser.query_one("#runs").move_cursor(row=keys.index(str(runs / "tourn")), animate=False)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.view is not None)
    await pilot.pause(0.2)
    return app.screen


def test_the_follower_reads_only_what_members_appended(sweep_runs: Path):
    sweep = sweep_runs / "tourn"
    follower = SweepFollower(sweep)
    first = follower.poll("retest", "gen", 600.0)
    assert first is not None and [m.state for m in first.members] == ["done"] * 4
    assert follower.poll("retest", "gen", 600.0) is None  # nothing changed: nothing recomputed
    run = sweep / MEMBERS[0]
    reader = follower.tracker.readers[MEMBERS[0]]
    offset = reader.offset
    lines = (run / "events.jsonl").read_bytes().splitlines(keepends=True)
    gen = [ln for ln in lines if b'"type":"generation"' in ln][-1]
    ev = orjson.loads(gen)
    ev.update(gen=ev["gen"] + 1, best_mean=ev["best_mean"] + 1000.0, retest_mean=ev["retest_mean"] + 1000.0)
    extra = orjson.dumps(ev) + b"\n"
    with open(run / "events.jsonl", "ab") as f:
        f.write(extra)
    after = follower.poll("retest", "gen", 600.0)
    assert after is not None and reader.offset == offset + len(extra)  # only the new line was read
    s8 = after.summaries[0]
    assert s8.reached == 1 and float(np.nanmax(s8.retests)) == pytest.approx(ev["retest_mean"])
