"""The ``carracing`` frame drawn from the env's state (``carracing_raster``): its shape and range, its
closeness to gymnasium's own pygame frame at the same states, and that the task's returns are exactly
CarRacing-v3's for the same actions (the physics and rewards are gymnasium's code)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from wann_engine.genome import initial_genome
from wann_engine.tasks import carracing_encoder as ce
from wann_engine.tasks import carracing_raster as raster
from wann_engine.tasks.carracing import CarRacingTask, controls

STEPS = 40


def _drive(env, steps: int, seed: int = 0):
    """Yield after reset and after each of ``steps`` steps of a weaving, accelerating drive."""
    rng = np.random.default_rng(seed)
    yield 0
    for t in range(1, steps + 1):
        env.step(np.array([0.6 * np.sin(t / 10) + rng.normal(0, 0.1), 0.5, 0.0], np.float32))
        yield t


def _close(gym64: np.ndarray, fast: np.ndarray) -> tuple[float, float]:
    d = np.abs(gym64.astype(np.int16) - fast)
    return float(d.mean()), float((d.max(axis=2) > 20).mean())


@pytest.fixture(scope="module")
def env():
    e = gym.make(raster.ENV_ID, disable_env_checker=True)
    yield e
    e.close()


def test_the_frame_is_the_encoders_64x64_rgb_and_the_playback_picture_contains_it(env):
    env.reset(seed=4)
    for t in _drive(env, 60, 4):
        if t in (0, 60):  # during the start's zoom animation, then at full zoom
            f = raster.frame(env)
            full = raster.frame(env, full=True)
            assert f.shape == (64, 64, 3) and f.dtype == np.uint8
            assert full.shape == (96, 96, 3) and full.dtype == np.uint8
            assert 40 < f.mean() < 220 and f.min() < f.max()  # a picture, neither blank nor saturated
            assert (full[84:] == 0).all()  # no dashboard
            np.testing.assert_array_equal(ce.preprocess(full)[0], f)
            np.testing.assert_array_equal(raster.frame(env), f)  # a pure function of the state
    obs, *_ = env.step(np.zeros(3, np.float32))
    np.testing.assert_array_equal(obs, raster.frame(env))  # the env's observation is the frame


def test_the_frame_matches_gymnasiums_render_at_the_same_states(env):
    for seed in (0, 7):  # a second track on the same env: the per-track cache follows the reset
        env.reset(seed=seed)
        for t in _drive(env, STEPS, seed):
            if t in (0, 10, STEPS):
                mad, off = _close(raster.reference(env), raster.frame(env))
                assert mad < 0.6, (seed, t, mad)  # of 255 (about 0.1 at full zoom)
                assert off < 0.01, (seed, t, off)  # car edges only
    u = env.unwrapped  # off the road, then at the field's edge (black beyond)
    for shift in ((15.0, -10.0), (330.0 - u.car.hull.position[0], 0.0)):
        for b in [u.car.hull, *u.car.wheels]:
            b.position = (b.position[0] + shift[0], b.position[1] + shift[1])
        mad, off = _close(raster.reference(env), raster.frame(env))
        assert mad < 0.6 and off < 0.01, (shift, mad, off)


def test_the_packaged_encoder_gives_nearly_the_same_latent_on_both_frames(env):
    enc = ce.load(ce.DEFAULT_PATH)
    env.reset(seed=2)
    pairs = [(raster.reference(env), raster.frame(env)) for t in _drive(env, STEPS, 2) if t % 20 == 0]
    zg = enc.encode64(np.stack([g for g, _ in pairs]))
    zf = enc.encode64(np.stack([f for _, f in pairs]))
    assert np.abs(zg - zf).max() < 0.1 < np.abs(zg).mean()


def test_rewards_are_bit_identical_to_carracing_v3_for_the_same_actions():
    ours = gym.make(raster.ENV_ID, disable_env_checker=True)
    theirs = gym.make("CarRacing-v3", disable_env_checker=True)
    try:
        ours.reset(seed=11)
        theirs.reset(seed=11)
        rng = np.random.default_rng(11)
        for _ in range(120):
            a = np.array([rng.uniform(-1, 1), rng.uniform(0, 1), rng.uniform(0, 0.2)], np.float32)
            _, r1, te1, tr1, _ = ours.step(a)
            _, r2, te2, tr2, _ = theirs.step(a)
            assert (r1, te1, tr1) == (r2, te2, tr2)
        assert ours.unwrapped.tile_visited_count == theirs.unwrapped.tile_visited_count > 0
    finally:
        ours.close()
        theirs.close()


def test_the_tasks_return_is_carracing_v3s_return_for_its_actions(tmp_path, monkeypatch):
    p = tmp_path / "encoder.npz"
    ce.save(p, ce.random_weights(5), {"note": "random, for tests"}, dtype="float32")
    monkeypatch.setenv(ce.ENV_VAR, str(p))
    task = CarRacingTask()
    task.max_steps = STEPS
    assert isinstance(task._envs[0].unwrapped, raster.RasterCarRacing)
    rng = np.random.default_rng(1)
    net = initial_genome(16, 3, rng, 1.0).network()
    frames = list(task.frames(net, 1.5, (9,), 0))
    score = task.score([net], np.array([1.5]), (9,), 1, STEPS, 1).returns[0, 0, 0]
    from wann_engine.tasks.gym_task import episode_seed

    env = gym.make("CarRacing-v3", disable_env_checker=True)
    try:
        env.reset(seed=episode_seed((9,), 0))
        total = 0.0
        for f in frames[1:]:
            _, r, *_ = env.step(controls(f.action[None])[0].astype(np.float32))
            total += float(r)
    finally:
        env.close()
        task.close()
    assert len(frames) == STEPS + 1 and total == score == frames[-1].total


def test_the_packaged_encoder_matches_its_recorded_checksum():
    meta = json.loads(ce.meta_path(ce.DEFAULT_PATH).read_text())
    assert ce.sha256_file(ce.DEFAULT_PATH) == meta["sha256"]
    assert ce.load(ce.DEFAULT_PATH).sha256 == meta["sha256"]
