"""``biped_stall_steps``: a search episode whose hull stops moving forward ends early; re-tests, scorers and
default episodes run as gymnasium ships them; a bad value is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import engine

from wann_engine.activations import RL_HIDDEN
from wann_engine.config import Config, ConfigError
from wann_engine.genome import initial_genome
from wann_engine.search import retest_seed
from wann_engine.tasks import get
from wann_engine.tasks.gym_task import BIPED_ID, GymTask
from wann_engine.variation import Innovations, mutate

#: hips and knees held at these torques, the walker stands where it started (checked below)
STAND = np.array([-1.0, -1.0, 1.0, -1.0], dtype=np.float32)


class Standing(GymTask):
    """BipedalWalker whose every action is :data:`STAND`, whatever the network says."""

    def decode(self, out: np.ndarray) -> list:
        return [STAND.copy() for _ in range(len(out))]


def nets(count: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    inn = Innovations(25 * 4, 29)
    out = []
    for _ in range(count):
        g = initial_genome(24, 4, rng, 0.5)
        for _ in range(4):
            g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), RL_HIDDEN)
        out.append(g.network())
    return out


def test_a_standing_walker_is_stopped_after_the_stall_steps_in_search_scoring_only():
    net = nets(1, 0)[:1]
    w = np.array([1.0])
    plain = Standing(BIPED_ID, name="biped").score(net, w, (3, 4), 2, 400, 1)
    assert plain.steps == 2 * 400, "the standing walker neither falls nor walks off"
    stalled = Standing(BIPED_ID, name="biped", stall_steps=30)
    s = stalled.score(net, w, (3, 4), 2, 400, 1)
    assert 2 * 30 <= s.steps <= 2 * 60  # 30 steps without progress after it settles
    # the re-test (key: one retest_seed) runs whole episodes, as do the scorer's (eval, protocol)
    assert stalled.stall_cap((3, 4)) == 30 and stalled.stall_cap((retest_seed(0, 7),)) == 0
    assert stalled.stall_cap((0,)) == 0  # wann-engine eval's key
    assert stalled.score(net, w, (retest_seed(0, 7),), 2, 400, 1).steps == 2 * 400
    assert stalled.score(net, w, (0,), 2, 400, 1).steps == 2 * 400
    scores = []
    for task in (stalled, GymTask(BIPED_ID, name="biped")):
        scorer = task.scorer(net[0])
        try:
            scores.append(scorer.shared(np.array([1.0, 1.0]), (3, 4), np.array([0, 1])))
        finally:
            scorer.close()
    assert np.array_equal(scores[0], scores[1])


def test_default_episodes_are_unchanged():
    task = get("biped")
    assert task.stall_steps == 0 and Config().biped_stall_steps == 0
    assert get("biped", Config(task="biped", biped_stall_steps=25).validate()).stall_steps == 25
    ps = nets(3, 1)
    w = np.array([-1.0, 2.0])
    a = task.score(ps, w, (5, 0), 1, 150, 1)
    never = GymTask(BIPED_ID, name="biped", stall_steps=10**9)  # the bookkeeping alone changes nothing
    b = never.score(ps, w, (5, 0), 1, 150, 1)
    assert np.array_equal(a.returns, b.returns) and a.steps == b.steps


@pytest.mark.parametrize("value", ["-1", "1.5"])
def test_a_bad_stall_value_is_one_line_and_exit_2(tmp_path: Path, value: str):
    with pytest.raises(ConfigError, match="biped_stall_steps"):
        Config.from_dict({"task": "biped", "biped_stall_steps": -3})
    p = engine("run", "--task", "biped", "--pop", "4", "--gens", "1", "--runs-dir", str(tmp_path / "runs"),
               "--name", "x", "--set", f"biped_stall_steps={value}")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "biped_stall_steps" in lines[0] and "Traceback" not in p.stderr
    assert not (tmp_path / "runs" / "x").exists()


def test_a_run_with_the_option_records_it(tmp_path: Path):
    runs = tmp_path / "runs"
    engine("run", "--task", "biped", "--pop", "4", "--gens", "1", "--threads", "1", "--runs-dir", str(runs),
           "--name", "s", "--quiet", "--set", "biped_stall_steps=20", "--set", "max_steps=60",
           "--set", "retest_reps=1", check=True)
    assert json.loads((runs / "s" / "config.json").read_text())["biped_stall_steps"] == 20
