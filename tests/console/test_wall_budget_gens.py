"""A run stopped by time (a member of a sweep with a wall budget) shows its generations alone, not out of
the billion generations it was started with, in `wann-engine status`, the browser and the status bar."""

from __future__ import annotations

import subprocess
import sys
import time

import orjson
from tui_support import copy_run

from wann_engine import rundir
from wann_engine.sweep import WALL_MAX_GEN, gens_text
from wanntui.runs import RunRow
from wanntui.screens.browser import row_cells


def test_gens_text():
    assert gens_text(12, 300) == "12/300"
    assert gens_text(12, WALL_MAX_GEN) == "12"
    assert gens_text(12, 0) == "12/?"


def test_status_and_the_browser_show_a_wall_budget_members_generations_alone(tmp_path, recorded):
    run = copy_run(recorded, tmp_path, "s0")
    cfg = orjson.loads((run / rundir.CONFIG).read_bytes())
    cfg["maxGen"] = WALL_MAX_GEN  # how a sweep with --minutes starts its members
    (run / rundir.CONFIG).write_bytes(orjson.dumps(cfg))
    p = subprocess.run([sys.executable, "-m", "wann_engine", "status", str(tmp_path)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    line = p.stdout.splitlines()[1]
    assert "s0" in line and str(WALL_MAX_GEN) not in line and "/" not in line.split("swingup")[1].split()[1]
    row = RunRow(run, "s0", "swingup", "running", 4457, WALL_MAX_GEN, 600.0, 100.0, time.time())
    assert row_cells(row, time.time())["gen"].plain == "4457"
