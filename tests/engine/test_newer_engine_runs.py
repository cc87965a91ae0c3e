"""A run written by a newer engine (its config holds an option this engine does not know) is listed as
what it is, finished or stopped, with a note, never as damaged or crashed: a sweep scheduler still
running an older engine once marked such members failed. Resuming it is refused with one line, since
this engine would not run it as the newer one does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from tui_support import copy_run

from wann_engine import control, rundir
from wann_engine import sweep as sweepmod
from wann_engine.exits import Exit


def add_future_option(run: Path) -> None:
    cfg = orjson.loads((run / rundir.CONFIG).read_bytes())
    cfg["option_from_the_future"] = 3
    (run / rundir.CONFIG).write_bytes(orjson.dumps(cfg))


def test_a_newer_engines_run_lists_as_finished_with_a_note(tmp_path, recorded):
    run = copy_run(recorded, tmp_path)
    add_future_option(run)
    s = control.summary(run)
    assert s.state == "finished"
    assert s.damaged is None
    assert s.newer_keys == ("option_from_the_future",)
    assert "newer wann-engine" in control.newer_engine_note(s.newer_keys)
    out = subprocess.run([sys.executable, "-m", "wann_engine", "status", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    row = next(ln for ln in out.stdout.splitlines() if ln.startswith(run.name))
    assert "finished" in row and "newer wann-engine" in row and "damaged" not in row


def test_a_sweep_member_from_a_newer_engine_is_done_not_crashed(tmp_path, recorded):
    sw = sweepmod.create(tmp_path / "runs" / "sw", "swingup", sweepmod.parse_seeds("0"), [],
                         sweepmod.Budget(gens=8))
    run = copy_run(recorded, sw.path, "s0")
    add_future_option(run)
    assert sweepmod.member_status(sw, sw.members[0]).state == "done"


def test_resuming_a_newer_engines_run_is_refused_in_one_line(tmp_path, recorded):
    run = copy_run(recorded, tmp_path)
    add_future_option(run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    out = subprocess.run([sys.executable, "-m", "wann_engine", "resume", str(run)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == Exit.USAGE, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "option_from_the_future" in lines[0] and "newer wann-engine" in lines[0]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing touched
