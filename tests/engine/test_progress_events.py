"""Progress within a long generation: a ``progress`` event every ~2 s once a generation has taken that long,
shown by ``wann-engine run``, ``wann-tui --batch`` and the console's status bar."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from tui_support import ROOT, engine_env

from wann_engine import events
from wann_engine.evaluators import LocalEvaluator
from wann_engine.tasks import Scores
from wanntui.model import RunModel, synthetic_generation

BIPED = ("--task", "biped", "--pop", "8", "--gens", "1", "--seed", "0")


def _lines(run: Path) -> list[dict]:
    try:
        data = (run / "events.jsonl").read_bytes()
    except OSError:
        return []
    return [orjson.loads(line) for line in data.splitlines(keepends=True) if line.endswith(b"\n")]


def _wait_for_progress(run: Path, proc: subprocess.Popen, timeout: float = 90) -> list[dict]:
    """The events once a progress event with episodes done has been written."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        evs = _lines(run)
        if any(e["type"] == "progress" and e["done"] > 0 for e in evs):
            return evs
        time.sleep(0.1)
    raise AssertionError(f"no progress event with episodes done (rc {proc.poll()}): {_lines(run)[-3:]}")


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return out.decode(), err.decode()


def test_a_biped_generation_shows_episodes_done_within_seconds(tmp_path: Path):
    """The first progress event comes within 5 s of the generation's start; `wann-engine run` prints it."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", *BIPED, "--runs-dir", str(runs),
                             "--name", "b"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=engine_env(), cwd=ROOT)
    try:
        evs = _wait_for_progress(runs / "b", proc)
    finally:
        out, err = _stop(proc)
    start = next(e for e in evs if e["type"] == "checkpoint")  # generation 0 begins right after it
    first = next(e for e in evs if e["type"] == "progress")
    assert first["gen"] == 0 and first["phase"] == "scoring" and first["total"] == 8 * 6 * 4
    assert first["t"] - start["t"] < 5.0, first
    assert 2.0 <= first["gen_elapsed"] < 5.0
    prog = [e for e in evs if e["type"] == "progress"]
    assert all(b["t"] - a["t"] >= 1.9 for a, b in zip(prog, prog[1:], strict=False))  # at most every ~2 s
    assert all(e["done"] <= e["total"] for e in prog)
    assert re.search(r"gen +0  scoring: \d+/192 episodes", out), out  # (a plain line: stdout is a pipe)
    # the summary at the end says it stopped and how to continue
    assert "stopped: 0/1 generations" in out and f"wann-engine resume {runs / 'b'}" in out, out
    assert not [line for line in err.splitlines() if "Traceback" in line]


def test_batch_notes_progress_within_a_long_generation(tmp_path: Path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "wanntui", "--batch", *BIPED, "--runs-dir", str(runs),
                             "--name", "b"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=engine_env(), cwd=ROOT)
    try:
        _wait_for_progress(runs / "b", proc)
        time.sleep(0.5)  # (the batch polls the events file)
    finally:
        out, err = _stop(proc)
    assert "wann-tui: generation 0: " in err and " episodes (scoring)" in err, err
    assert "state: stopped" in out and "evals_per_s: " in out


def test_a_fast_run_writes_no_progress(tmp_path: Path):
    runs = tmp_path / "runs"
    subprocess.run([sys.executable, "-m", "wann_engine", "run", "--pop", "16", "--gens", "3", "--runs-dir",
                    str(runs), "--name", "f", "--quiet", "--set", "max_steps=50"], check=True, env=engine_env(),
                   cwd=ROOT, timeout=120)
    assert not [e for e in _lines(runs / "f") if e["type"] == "progress"]


class _SlowTask:
    """Scores each network after a short sleep (the batched path of LocalEvaluator)."""

    checks_stop = False

    def score(self, nets, weights, key, reps, max_steps, threads):
        time.sleep(0.01 * len(nets))
        return Scores(np.zeros((len(nets), len(weights), reps)), 0)


def test_local_evaluator_reports_episodes_between_batches():
    seen: list[tuple[int, int]] = []
    ev = LocalEvaluator(_SlowTask(), 1, should_stop=lambda: False, progress=lambda d, t: seen.append((d, t)))
    ev.BATCH_SECONDS = 0.05
    ev.score([object()] * 100, np.ones(6), (0,), 2, 10)  # type: ignore[list-item]
    assert seen[0] == (0, 1200) and len(seen) > 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and all(t == 1200 for _, t in seen)


@pytest.mark.parametrize("bad, why", [
    ({"done": 5, "total": 4}, "done: 5 is more than total"),
    ({"done": "3"}, "done: expected an integer"),
    ({"gen": None}, "gen: null"),
    ({"gen_elapsed": "x"}, "gen_elapsed"),
])
def test_progress_fields_are_checked(bad: dict, why: str):
    good = {"v": 1, "type": "progress", "t": 1.0, "gen": 3, "phase": "scoring", "done": 2, "total": 4,
            "gen_elapsed": 2.5}
    ev = events.decode(orjson.dumps(good))
    assert isinstance(ev, events.Progress) and (ev.gen, ev.done, ev.total, ev.phase) == (3, 2, 4, "scoring")
    with pytest.raises(events.EventError, match=why):
        events.decode(orjson.dumps({**good, **bad}))


def test_model_keeps_the_current_generations_progress():
    m = RunModel(Path("r"))
    m.apply({"v": 1, "type": "run_start", "t": 1.0, "name": "r", "resumed_from": None})
    m.apply(synthetic_generation(0, pop=8, t=2.0))
    m.apply({"v": 1, "type": "progress", "t": 3.0, "gen": 1, "phase": "scoring", "done": 10, "total": 48,
             "gen_elapsed": 2.0})
    snap = m.snapshot()
    assert snap.progress is not None and (snap.progress.gen, snap.progress.done) == (1, 10)
    m.apply(synthetic_generation(1, pop=8, t=4.0))
    assert m.snapshot().progress is None  # the generation's own event supersedes it
    m.apply({"v": 1, "type": "progress", "t": 5.0, "gen": 2, "phase": "retest", "done": 4, "total": 6,
             "gen_elapsed": 2.1})
    m.apply({"v": 1, "type": "stopped", "t": 6.0, "gen": 2})
    assert m.snapshot().progress is None


def test_status_bar_shows_episodes_done():
    from wanntui.widgets.status import StatusBar

    m = RunModel(Path("r"))
    m.apply({"v": 1, "type": "run_start", "t": 1.0, "name": "r", "resumed_from": None})
    m.apply({"v": 1, "type": "progress", "t": 3.0, "gen": 0, "phase": "scoring", "done": 37, "total": 192,
             "gen_elapsed": 4.0})
    bar = StatusBar()
    assert "gen 0 37/192 ep" in bar._build(m.snapshot(), tight=False, compact=False).plain
    assert "37/192 ep" in bar._build(m.snapshot(), tight=True, compact=True).plain


def test_progress_is_listed_in_the_events_doc():
    doc = (ROOT / "docs" / "events.md").read_text()
    assert "### `progress`" in doc
