"""Checkpoints that take long to write are spaced out (a population-960 mnist256 checkpoint is 58 MB:
written every 10 s it used to take more than half of the run's wall time), and a large checkpoint
document encodes to exactly the bytes of the number-by-number walk, quickly."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from wann_engine import config, events, rundir, runner
from wann_engine.events import read_events


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_seconds: float, factor: float) -> list[dict]:
    real = rundir.save_checkpoint
    monkeypatch.setattr(runner, "CHECKPOINT_COST_FACTOR", factor)

    def slow_save(*args, **kwargs):  # a checkpoint that takes write_seconds to write
        time.sleep(write_seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(rundir, "save_checkpoint", slow_save)
    cfg = config.Config(task="swingup", popSize=8, maxGen=100, alg_nReps=1, max_steps=20, retest_top=0,
                        checkpoint_seconds=0.001, threads=1).validate()
    with runner.Session.create(tmp_path, "r", cfg) as s:
        assert s.run() == 0
    return [e for e in read_events(tmp_path / "r" / "events.jsonl") if e["type"] == "checkpoint"]


def test_slow_checkpoints_are_spaced_to_twenty_times_their_write_time(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    unspaced = _run(tmp_path / "unspaced", monkeypatch, 0.05, 0.0)
    spaced = _run(tmp_path / "spaced", monkeypatch, 0.05, 20.0)
    # without spacing, checkpoint_seconds=0.001 means a checkpoint after every generation
    assert len(unspaced) == 101
    # at 50 ms per write the next timed one waits >= 20 x 50 ms (the last one, at the finish, is not timed)
    gaps = np.diff([e["t"] for e in spaced[:-1]])
    assert 2 <= len(spaced) < 20
    assert all(g >= 20 * 0.05 for g in gaps)


def test_a_large_document_encodes_to_the_same_bytes_as_the_walk() -> None:
    pop = [{"nodes": [[i, 1, 1] for i in range(50)], "conns": [[i, 0, i, 1] for i in range(200)]}
           for _ in range(300)]
    doc = {"pop": pop, "fitness": [1.5, math.nan, -math.inf] * 100, "best": None,
           "arr": np.array([1.0, np.inf]), "ints": np.arange(1000)}
    walked = orjson.dumps(events._clean(doc), default=events._default, option=orjson.OPT_SERIALIZE_NUMPY)
    assert events.encode(doc) == walked
    assert b'"NaN"' in walked and b'"-Infinity"' in walked and b'"best":null' in walked
