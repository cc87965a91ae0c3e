"""The explorer opened from a live view starts at the run's best weight; the front list says which front."""

from __future__ import annotations

from pathlib import Path

from tui_support import copy_run, last_generation, make_app, until

from wann_engine import explore
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.explorer import ExplorerScreen
from wanntui.screens.front_pick import FrontPickScreen, front_title
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.weights import WeightTable


async def test_explorer_starts_at_the_best_weight_and_front_list_names_its_front(tmp_path: Path, recorded: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    run = copy_run(recorded, runs)
    last = last_generation(run)
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().champion)
        view = app.screen
        table = view.query_one(WeightTable)
        await until(pilot, lambda: table.best_index is not None)
        best_w = table.values[table.best_index][0]
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ExplorerScreen))
        s = app.screen
        assert s.weight == best_w
        per_weight = last.get("retest_per_weight") or last["best_per_weight"]
        reps = (f"{last['retest_episodes'] // len(per_weight)} re-test episodes" if last.get("retest_per_weight")
                else "3 episodes")
        assert f"run's best w {best_w:+.2f}" in s.top_lines[0] and f"over {reps}" in s.top_lines[0]
        assert s.top_lines[1].startswith(f"w {best_w:+.2f}")
        await pilot.press("escape")
        assert app.screen is view

        # f lists the front the Pareto pane shows, and says its generation
        gen, _ = explore.front_members(run)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, FrontPickScreen))
        assert app.screen.title_text == f"First Pareto front (mean vs connections), generation {gen}"
        await pilot.press("escape")
        await pilot.press("a", "f")
        await until(pilot, lambda: isinstance(app.screen, FrontPickScreen))
        pick = app.screen
        assert "mean vs peak" in pick.title_text
        assert sorted(m.index for m in pick.members) == sorted(last["front_peak"])


def test_front_title_says_when_the_checkpoint_is_older():
    assert front_title(40, "conns", 47) == ("First Pareto front (mean vs connections), generation 40: "
                                            "the last checkpoint (the view shows generation 47)")
    assert front_title(47, "peak", 47) == "First Pareto front (mean vs peak), generation 47"
