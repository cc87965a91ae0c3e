"""The browser's sweep row: members stopped short of their budget count as stopped (not pending); a sweep
started from the console leaves no launch log once it runs, and a start that fails shows its reason."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from tui_support import copy_run, make_app, until

from wann_engine import control, rundir
from wann_engine import sweep as sweepmod
from wanntui.runs import RunStates
from wanntui.screens.browser import BrowserScreen
from wanntui.sweeps import SweepRows


def stopped_sweep(runs: Path, recorded: Path) -> Path:
    """Two seeds, 20 generations each: ``s0`` stopped at generation 8, ``s1`` never started."""
    sw = sweepmod.create(runs / "sw", "swingup", [0, 1], [], sweepmod.Budget(gens=20))
    run = copy_run(recorded, sw.path, "s0")
    with open(run / rundir.EVENTS, "ab") as f:
        f.write(orjson.dumps({"v": 1, "type": "stopped", "t": time.time(), "gen": 8}) + b"\n")
    return sw.path


def test_the_sweep_row_counts_stopped_members_apart_from_pending_ones(runs, recorded):
    path = stopped_sweep(runs, recorded)
    row = SweepRows().row(path, RunStates(runs))
    assert row.note == "sweep 1 settings × 2 seeds: 0 done · 0 running · 0 failed · 1 stopped · 1 pending"
    assert row.state == "stopped"


async def test_a_sweep_start_that_fails_shows_its_reason_in_the_browser(runs, monkeypatch):
    # a setting ``sweep start`` refuses, past the form's own check: the start command fails
    monkeypatch.setattr(control.SweepSpec, "check", lambda self: 2)
    spec = control.SweepSpec(task="swingup", name="bad", runs_dir=runs, seeds="0", pop=16, gens=2,
                              overrides=("no_such_key=1",))
    app = make_app(runs)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        app._launch(spec)
        await until(pilot, lambda: runs / "bad" in app.screen.rows, timeout=90)  # (no row while it starts)
        assert app.screen.rows[runs / "bad"].state == "failed"
        note = app.screen.rows[runs / "bad"].note
        assert "no_such_key" in note and "\n" not in note
    assert control.launch_log(runs, "bad").exists()  # kept: it holds the reason


async def test_a_sweep_started_from_the_console_leaves_no_launch_log_once_it_runs(runs):
    spec = control.SweepSpec(task="swingup", name="ok", runs_dir=runs, seeds="0", pop=16, gens=1)
    app = make_app(runs)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        app._launch(spec)
        await until(pilot, lambda: runs / "ok" in app.screen.rows and app.screen.rows[runs / "ok"].kind == "sweep",
                    timeout=90)
        await until(pilot, lambda: app.screen.rows[runs / "ok"].state == "finished", timeout=120)
    assert (runs / "ok" / sweepmod.LOG).is_file()
    assert sorted(p.name for p in runs.iterdir()) == ["ok"]  # no .ok.launch.log beside it
    assert not [p.name for p in (runs / "ok").glob(".*.launch.log")]  # nor members' ones inside
