"""``carracing_stall_steps``: a search episode whose car visits no new track tile for that many steps ends early
and is charged the time penalty of the frames it did not run; re-tests, scorers and default episodes run as
gymnasium ships them; a bad value is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wann_engine.config import Config, ConfigError
from wann_engine.genome import initial_genome
from wann_engine.search import retest_seed
from wann_engine.tasks import carracing_encoder as ce
from wann_engine.tasks.carracing import CarRacingTask

CAP = 150


class Braking(CarRacingTask):
    """CarRacing whose car brakes fully and never steers or accelerates, whatever the network says."""

    def decode(self, out: np.ndarray) -> list:
        return [np.array([0.0, 0.0, 1.0], dtype=np.float32) for _ in range(len(out))]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> ce.Encoder:
    p = tmp_path_factory.mktemp("enc") / "encoder.npz"
    ce.save(p, ce.random_weights(3), {"note": "random, for tests"}, dtype="float32")
    return ce.load(str(p))


def _task(cls: type, encoder: ce.Encoder, stall: int) -> CarRacingTask:
    t = cls(encoder=encoder, stall_steps=stall)
    t.max_steps = CAP
    return t


def _nets(task: CarRacingTask, count: int) -> list:
    rng = np.random.default_rng(0)
    return [initial_genome(task.n_inputs, task.n_outputs, rng, 0.5).network() for _ in range(count)]


def test_a_car_that_stands_still_is_stopped_and_charged_what_the_whole_episode_would_have_cost(encoder):
    plain, stalled = _task(Braking, encoder, 0), _task(Braking, encoder, 30)
    nets, w = _nets(plain, 1), np.array([1.0])
    whole = plain.score(nets, w, (3, 4), 2, CAP, 1)
    assert whole.steps == 2 * CAP
    short = stalled.score(nets, w, (3, 4), 2, CAP, 1)
    assert 2 * 30 <= short.steps <= 2 * 40, "30 steps without a new tile end the episode"
    # no further tile would have been visited: the charge makes the return the whole episode's return
    np.testing.assert_allclose(short.returns, whole.returns, atol=1e-6)
    assert (whole.returns < 0).all()


def test_only_the_searchs_episodes_are_shortened(encoder):
    stalled = _task(Braking, encoder, 30)
    nets, w = _nets(stalled, 1), np.array([1.0])
    assert stalled.stall_cap((3, 4)) == 30
    assert stalled.stall_cap((retest_seed(0, 7),)) == 0 and stalled.stall_cap((0,)) == 0  # re-test, eval
    assert stalled.score(nets, w, (retest_seed(0, 7),), 1, CAP, 1).steps == CAP
    assert stalled.twin().stall_steps == 30
    scorer = stalled.scorer(nets[0])  # protocol and eval's scorer: episodes as shipped
    try:
        assert len(scorer.shared(np.array([1.0]), (5,), np.array([0]))) == 1
    finally:
        scorer.close()
    assert stalled.score(nets, w, (5,), 1, CAP, 1).steps == CAP


def test_driving_networks_are_scored_as_without_the_rule_while_they_keep_finding_tiles(encoder):
    """The rule only ends episodes; an episode it does not end has exactly its shipped return."""
    plain, stalled = _task(CarRacingTask, encoder, 0), _task(CarRacingTask, encoder, 40)
    nets, w = _nets(plain, 3), np.array([-1.0, 1.0])
    a = plain.score(nets, w, (1, 2), 1, CAP, 1)
    b = stalled.score(nets, w, (1, 2), 1, CAP, 1)
    assert b.steps <= a.steps
    if b.steps == a.steps:
        np.testing.assert_array_equal(a.returns, b.returns)


def test_the_option_reaches_the_task_and_is_off_by_default():
    from wann_engine.tasks import get

    assert Config().carracing_stall_steps == 0
    assert get("carracing", Config(task="carracing").validate()).stall_steps == 0
    assert get("carracing", Config(task="carracing", carracing_stall_steps=25).validate()).stall_steps == 25
    with pytest.raises(ConfigError, match="carracing_stall_steps"):
        Config.from_dict({"task": "carracing", "carracing_stall_steps": -1})


def test_a_bad_value_is_one_line_and_exit_2(tmp_path: Path):
    p = subprocess.run([sys.executable, "-m", "wann_engine", "run", "--task", "carracing", "--runs-dir",
                        str(tmp_path), "--name", "x", "--set", "carracing_stall_steps=-5"],
                       capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and "carracing_stall_steps" in lines[0]
    assert "Traceback" not in p.stderr and not (tmp_path / "x").exists()
