"""Gymnasium tasks: shapes, determinism, action handling, unsupported spaces, BipedalWalker."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from wann_engine.activations import RL_HIDDEN
from wann_engine.config import Config
from wann_engine.genome import initial_genome
from wann_engine.tasks import TaskError, get, names
from wann_engine.tasks.gym_task import BIPED_INPUTS, GymTask, episode_seed, parse_name
from wann_engine.variation import Innovations, mutate

W = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def random_nets(n_in: int, n_out: int, count: int, seed: int, mutations: int = 8):
    rng = np.random.default_rng(seed)
    inn = Innovations((n_in + 1) * n_out, 1 + n_in + n_out)
    nets = []
    for _ in range(count):
        g = initial_genome(n_in, n_out, rng, 0.5)
        for _ in range(mutations):
            g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), RL_HIDDEN)
        nets.append(g.network())
    return nets


class _OddEnv(gym.Env):
    def __init__(self, obs: str = "tuple", act: str = "discrete"):
        box = spaces.Box(-1.0, 1.0, (2,))
        self.observation_space = spaces.Tuple((box, box)) if obs == "tuple" else box
        self.action_space = spaces.MultiBinary(3) if act == "multibinary" else spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


gym.register("WannTest/TupleObs-v0", entry_point=_OddEnv, kwargs={"obs": "tuple"})
gym.register("WannTest/MultiBinaryAct-v0", entry_point=_OddEnv, kwargs={"obs": "box", "act": "multibinary"})


def test_registry_knows_the_tasks():
    assert {"biped", "digits", "mnist256", "swingup"} <= set(names())
    t = get("gym:CartPole-v1")
    assert t.name == "gym:CartPole-v1" and (t.n_inputs, t.n_outputs, t.max_steps) == (4, 2, 500)
    assert t.input_names == ("x", "x_dot", "theta", "theta_dot") and len(t.output_names) == 2
    with pytest.raises(TaskError):
        get("gym:NoSuchEnv-v9")
    with pytest.raises(TaskError):
        get("gym:")
    with pytest.raises(TaskError):
        get("pong")


def test_options_after_the_id():
    assert parse_name("gym:LunarLander-v3,continuous=true, gravity=-9.5") == (
        "LunarLander-v3", {"continuous": True, "gravity": -9.5})
    t = get("gym:LunarLander-v3,continuous=true")
    assert (t.n_inputs, t.n_outputs) == (8, 2) and t.output_names == ("main", "lateral")
    with pytest.raises(TaskError):
        parse_name("gym:CartPole-v1,oops")


def test_cartpole_shapes_and_determinism():
    task = get("gym:CartPole-v1")
    nets = random_nets(4, 2, 5, seed=1)
    a = task.score(nets, W, (3, 7), 2, 0, 1)
    assert a.returns.shape == (5, 6, 2)
    assert a.steps == a.returns.sum()  # CartPole: reward 1 per step
    b = task.score(nets, W, (3, 7), 2, 0, 1)
    assert np.array_equal(a.returns, b.returns) and a.steps == b.steps
    alone = task.score(nets[3:4], W, (3, 7), 2, 0, 1)
    assert np.array_equal(alone.returns[0], a.returns[3])
    few_slots = GymTask("CartPole-v1", slots=3)  # episodes interleave differently on fewer environments
    assert np.array_equal(few_slots.score(nets, W, (3, 7), 2, 0, 1).returns, a.returns)
    capped = task.score(nets, W, (3, 7), 2, 20, 1)
    assert capped.returns.max() <= 20 and np.array_equal(capped.returns, np.minimum(a.returns, 20))


def test_same_start_for_every_network_and_weight_in_a_rep():
    assert episode_seed((1, 2), 0) == episode_seed((1, 2), 0) != episode_seed((1, 2), 1)
    task = get("gym:CartPole-v1")
    seen = []
    env = task._envs[0]
    original = env.reset

    def spy(*, seed=None, options=None):
        seen.append(seed)
        return original(seed=seed, options=options)

    env.reset = spy
    try:
        task.slots = 1
        task.score(random_nets(4, 2, 2, seed=2), W[:2], (5,), 3, 5, 1)
    finally:
        del env.reset
    assert seen == [episode_seed((5,), r) for r in range(3)] * 4


def test_discrete_actions_are_the_argmax():
    task = get("gym:Acrobot-v1")
    out = np.array([[0.1, 3.0, -1.0], [np.nan, -5.0, -4.0], [2.0, 2.0, 1.0]])
    assert task.decode(out) == [1, 2, 0]


def test_continuous_actions_are_clipped_to_the_box():
    task = get("gym:Pendulum-v1")  # torque in [-2, 2]
    acts = task.decode(np.array([[5.0], [-7.0], [0.3], [np.nan]]))
    assert [float(a[0]) for a in acts] == [2.0, -2.0, pytest.approx(0.3), 0.0]
    assert acts[0].shape == (1,) and acts[0].dtype == np.float32
    nets = random_nets(3, 1, 3, seed=4)
    sc = task.score(nets, W[:2], (0,), 1, 30, 1)
    assert sc.returns.shape == (3, 2, 1) and sc.steps == 3 * 2 * 30 and np.isfinite(sc.returns).all()


def test_unsupported_spaces_raise_task_errors():
    with pytest.raises(TaskError, match="observation space"):
        get("gym:WannTest/TupleObs-v0")
    with pytest.raises(TaskError, match="action space"):
        get("gym:WannTest/MultiBinaryAct-v0")


def test_discrete_observations_are_one_hot():
    task = get("gym:FrozenLake-v1,is_slippery=false")
    assert (task.n_inputs, task.n_outputs) == (16, 4)
    row = np.full(16, 9.0)
    task.encode(np.int64(5), row)
    assert row.tolist() == [1.0 if i == 5 else 0.0 for i in range(16)]
    sc = task.score(random_nets(16, 4, 2, seed=5), W[:2], (0,), 1, 0, 1)
    assert sc.returns.shape == (2, 2, 1)


def test_biped_short_episodes_and_the_fall_penalty_option():
    task = get("biped")
    assert (task.n_inputs, task.n_outputs, task.max_steps) == (24, 4, 1600)
    assert task.input_names == BIPED_INPUTS and task.output_names == ("hip_1", "knee_1", "hip_2", "knee_2")
    assert task.fall_penalty
    nets = random_nets(24, 4, 2, seed=6, mutations=3)
    ws = np.array([-2.0, 2.0])
    a = task.score(nets, ws, (1,), 1, 120, 1)
    assert a.returns.shape == (2, 2, 1) and 0 < a.steps <= 2 * 2 * 120
    soft = get("biped", Config(task="biped", biped_fall_penalty=False).validate())
    assert not soft.fall_penalty
    b = soft.score(nets, ws, (1,), 1, 120, 1)
    diff = (b.returns - a.returns).ravel()
    fell = diff != 0
    assert fell.any(), "random walkers should fall within 120 steps"
    assert np.all((diff[fell] > 90) & (diff[fell] < 110))  # -100 replaced by a small shaping reward
    assert b.steps == a.steps
    # Box2D worlds keep state across resets: every episode gets a fresh env, so pool size cannot matter
    assert not task.reuse_envs
    one_slot = GymTask("BipedalWalker-v3", slots=1)
    assert np.array_equal(one_slot.score(nets, ws, (1,), 1, 120, 1).returns, a.returns)
    assert np.array_equal(task.score(nets[1:], ws, (1,), 1, 120, 1).returns[0], a.returns[1])
