"""Starting a sweep from the console's new-run form: seeds and --grid fields launch
``wann-engine sweep start ... --detach`` (through ``control.launch_sweep``); the sweep becomes a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import make_app, until

from wann_engine import sweep as sweepmod
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.new_run import NewRunScreen, check_sweep_form


def test_the_form_refuses_a_bad_sweep_with_the_field_named(runs: Path):
    with pytest.raises(ValueError, match="--seeds"):
        check_sweep_form(runs, "swingup", "", "3", "1", "7-2", "", grid="select_tournSize=8,16")
    with pytest.raises(ValueError, match="--grid"):
        check_sweep_form(runs, "swingup", "", "3", "1", "0-1", "", grid="select_tournSize")
    with pytest.raises(ValueError, match="select_tournSize"):
        check_sweep_form(runs, "swingup", "", "3", "1", "0-1", "", grid="select_tournSize=8,x")
    with pytest.raises(ValueError, match="workers"):
        check_sweep_form(runs, "swingup", "", "3", "2", "0-1", "", grid="select_tournSize=8,16")
    spec = check_sweep_form(runs, "swingup", "16", "", "1", "0-1", "tourn", threads="1",
                            grid="select_tournSize=8,16")
    assert spec.argv(spec.check())[:8] == ["sweep", "start", str(runs / "tourn"), "--task", "swingup", "--seeds",
                                           "0-1", "--gens"]
    assert "--detach" in spec.argv(3) and list(runs.iterdir()) == []  # nothing started by checking


async def test_a_sweep_started_from_the_form_appears_as_a_row_and_finishes(runs: Path):
    app = make_app(runs)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        form = app.screen
        for field, value in (("pop", "16"), ("gens", "2"), ("name", "tourn"), ("threads", "1"),
                             ("sweep-seeds", "0-1"), ("grid", "select_tournSize=8,16")):
            form.query_one(f"#{field}").value = value
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        sweep = runs / "tourn"
        await until(pilot, lambda: sweep in app.screen.rows, timeout=30)
        row = app.screen.rows[sweep]
        assert row.kind == "sweep" and row.total == 4
        await until(pilot, lambda: app.screen.rows[sweep].state == "finished", timeout=90)
        assert app.screen.rows[sweep].gen == 4
        sw = sweepmod.load(sweep)
        assert [m.name for m in sw.members] == ["select_tournSize8-s0", "select_tournSize16-s0",
                                                "select_tournSize8-s1", "select_tournSize16-s1"]
        await until(pilot, lambda: sweepmod.scheduler_pid(sweep) is None, timeout=30)  # the scheduler ended
