"""Any gymnasium environment as a WANN task (``gym:<EnvId>``), and ``biped`` = BipedalWalker-v3.

A generation's episodes (networks x weights x reps) run on a pool of environment
objects created once and reused: every step, one compiled pass
(:func:`wann_engine.netpack.forward_batch`) computes the actions of all live
episodes, then each environment steps; an episode that ends frees its slot for
the next one. Rep ``r`` resets with a seed derived from (key, r) alone, so every
network and every weight sees the same starts, and a network's returns never
depend on which other networks share the call or on the pool size.

Spaces: Box observations are flattened, Discrete observations one-hot encoded;
Box actions are the outputs clipped to the box (NaN -> 0), Discrete actions the
argmax of the outputs (NaN counts as -inf). Anything else raises TaskError.
Environment options can follow the id: ``gym:LunarLander-v3,continuous=true``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..genome import Network
from ..netpack import PackedNets, forward_batch, pack, weighted_outputs
from . import Frame, Interrupted, Scores, TaskBase, TaskError

DEFAULT_LIMIT = 1000  # episode limit of environments registered without a TimeLimit
DEFAULT_SLOTS = 64  # environment objects stepped together
#: Environments whose reset(seed) restores everything: one object can run episode after episode.
#: Others get a fresh object per episode: a Box2D world kept across resets (BipedalWalker, CarRacing)
#: carries solver/broad-phase state, so the same seed and actions would not give the same episode.
_PURE_MODULES = ("gymnasium.envs.classic_control.", "gymnasium.envs.toy_text.")

BIPED_ID = "BipedalWalker-v3"
BIPED_LIMIT = 1600
#: ``biped_stall_steps``: the hull must get this far (Box2D units, ~1/10 of the hull's length; 1 unit of forward
#: progress earns 130/30 = 4.3 reward) beyond its farthest point within that many steps, or the episode ends.
STALL_DISTANCE = 0.2
BIPED_INPUTS = (
    "hull_angle", "hull_vel_angle", "vel_x", "vel_y",
    "hip1_angle", "hip1_speed", "knee1_angle", "knee1_speed", "leg1_contact",
    "hip2_angle", "hip2_speed", "knee2_angle", "knee2_speed", "leg2_contact",
    *(f"lidar_{i}" for i in range(10)),
)
BIPED_OUTPUTS = ("hip_1", "knee_1", "hip_2", "knee_2")

_LANDER_IN = ("x", "y", "vx", "vy", "angle", "angular_vel", "leg1_contact", "leg2_contact")
#: Readable input/output names of well-known environments (id without its version).
KNOWN_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CartPole": (("x", "x_dot", "theta", "theta_dot"), ("push_left", "push_right")),
    "Pendulum": (("cos(theta)", "sin(theta)", "theta_dot"), ("torque",)),
    "MountainCar": (("position", "velocity"), ("push_left", "no_push", "push_right")),
    "MountainCarContinuous": (("position", "velocity"), ("force",)),
    "Acrobot": (("cos(theta1)", "sin(theta1)", "cos(theta2)", "sin(theta2)", "theta1_dot", "theta2_dot"),
                ("torque_-1", "torque_0", "torque_+1")),
    "LunarLander": (_LANDER_IN, ("noop", "left_engine", "main_engine", "right_engine")),
    "LunarLanderContinuous": (_LANDER_IN, ("main", "lateral")),
    "BipedalWalker": (BIPED_INPUTS, BIPED_OUTPUTS),
    "BipedalWalkerHardcore": (BIPED_INPUTS, BIPED_OUTPUTS),
}


def episode_seed(key: tuple[int, ...] | int, rep: int) -> int:
    """The environment reset seed of rep ``rep`` of an evaluation keyed ``key``."""
    key = (key,) if isinstance(key, int) else tuple(key)
    return int(np.random.SeedSequence([*key, rep]).generate_state(1)[0])


def parse_name(name: str) -> tuple[str, dict[str, Any]]:
    """``gym:Id,k=v,...`` -> (Id, {k: v}); values true/false/none/numbers are converted."""
    body = name[4:] if name.startswith("gym:") else name
    env_id, *opts = [s.strip() for s in body.split(",")]
    if not env_id:
        raise TaskError(f"task {name!r}: no environment id after 'gym:'")
    kwargs: dict[str, Any] = {}
    for opt in opts:
        k, sep, v = opt.partition("=")
        if not sep or not k.strip():
            raise TaskError(f"task {name!r}: option {opt!r} is not key=value")
        kwargs[k.strip()] = _value(v.strip())
    return env_id, kwargs


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low == "none":
        return None
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _make(env_id: str, kwargs: dict[str, Any]):
    import gymnasium as gym

    try:
        return gym.make(env_id, disable_env_checker=True, **kwargs)
    except gym.error.Error as e:
        raise TaskError(f"gymnasium cannot make {env_id!r}: {e}") from None
    except (TypeError, ValueError, ImportError, ModuleNotFoundError) as e:
        raise TaskError(f"gymnasium cannot make {env_id!r} with {kwargs}: {e}") from None


@dataclass
class WalkerFrame(Frame):
    """A BipedalWalker step with its Box2D bodies, for drawing."""

    polygons: list[np.ndarray] = field(default_factory=list)  # hull then legs, world coordinates (m)
    terrain: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # ground line (x, y)
    hull_x: float = 0.0


class GymTask(TaskBase):
    """Scores networks on a gymnasium environment; see the module docstring."""

    checks_stop = True  # between batched steps of _episodes

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None, name: str | None = None,
                 fall_penalty: bool = True, slots: int = DEFAULT_SLOTS, stall_steps: int = 0) -> None:
        from gymnasium import spaces

        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.name = name or "gym:" + ",".join([env_id, *(f"{k}={v}" for k, v in self.env_kwargs.items())])
        self.fall_penalty = fall_penalty
        self.slots = max(1, int(slots))
        self.stall_steps = int(stall_steps)  # search scoring only, see stall_cap
        env = _make(env_id, self.env_kwargs)
        self._envs = [env]
        obs_sp, act_sp = env.observation_space, env.action_space
        if isinstance(obs_sp, spaces.Box):
            self._obs_kind = "box"
            self.n_inputs = int(np.prod(obs_sp.shape))
        elif isinstance(obs_sp, spaces.Discrete):
            self._obs_kind = "discrete"
            self._obs_start = int(obs_sp.start)
            self.n_inputs = int(obs_sp.n)
        else:
            raise TaskError(f"{env_id}: observation space {obs_sp} is not supported (Box or Discrete only)")
        if isinstance(act_sp, spaces.Box):
            self._act_kind = "box"
            self.n_outputs = int(np.prod(act_sp.shape))
            self._act_shape = act_sp.shape
            self._act_dtype = act_sp.dtype
            self._low = np.broadcast_to(np.asarray(act_sp.low, dtype=np.float64), act_sp.shape).ravel()
            self._high = np.broadcast_to(np.asarray(act_sp.high, dtype=np.float64), act_sp.shape).ravel()
        elif isinstance(act_sp, spaces.Discrete):
            self._act_kind = "discrete"
            self._act_start = int(act_sp.start)
            self.n_outputs = int(act_sp.n)
        else:
            raise TaskError(f"{env_id}: action space {act_sp} is not supported (Box or Discrete only)")
        if self.n_inputs < 1 or self.n_outputs < 1:
            raise TaskError(f"{env_id}: empty observation or action space")
        spec_limit = env.spec.max_episode_steps if env.spec is not None else None
        self.max_steps = int(spec_limit) if spec_limit else DEFAULT_LIMIT
        base = env_id.split("/")[-1].rsplit("-v", 1)[0]
        if base == "LunarLander" and self.env_kwargs.get("continuous"):
            base = "LunarLanderContinuous"
        ins, outs = KNOWN_NAMES.get(base, ((), ()))
        self.input_names = ins if len(ins) == self.n_inputs else tuple(f"obs_{i}" for i in range(self.n_inputs))
        self.output_names = outs if len(outs) == self.n_outputs else tuple(
            f"act_{i}" for i in range(self.n_outputs))
        self._is_biped = base.startswith("BipedalWalker")
        module = type(env.unwrapped).__module__
        self.reuse_envs = module.startswith(_PURE_MODULES)
        self._dirty = [False]

    # --- spaces -------------------------------------------------------------------------------
    def encode(self, obs: Any, row: np.ndarray) -> None:
        """Write one observation into an input row."""
        if self._obs_kind == "box":
            row[:] = np.ravel(obs)
        else:
            row[:] = 0.0
            row[int(obs) - self._obs_start] = 1.0

    def flush(self) -> None:
        """Complete the rows that :meth:`encode` deferred; called before the rows are read or moved (a task
        that encodes a batch of observations at once, such as ``carracing``, defers; this one does not)."""

    def decode(self, out: np.ndarray) -> list[Any]:
        """The environment actions for rows of network outputs (L, n_out)."""
        if self._act_kind == "box":
            a = np.clip(np.nan_to_num(out, nan=0.0), self._low, self._high).astype(self._act_dtype, copy=False)
            return list(a.reshape((len(out), *self._act_shape)))
        best = np.argmax(np.where(np.isnan(out), -np.inf, out), axis=1) + self._act_start
        return best.tolist()

    def _step(self, env: Any, action: Any) -> tuple[Any, float, bool]:
        if self._is_biped and not self.fall_penalty:
            u = env.unwrapped
            prev = u.prev_shaping
            obs, reward, term, trunc, _ = env.step(action)
            if term and prev is not None and (u.game_over or u.hull.position[0] < 0):
                # the reward gymnasium computed before replacing it with -100 (the original biped had no fall penalty)
                reward = u.prev_shaping - prev
                for a in action:
                    reward -= 0.00035 * 80 * np.clip(np.abs(a), 0, 1)
            return obs, float(reward), bool(term or trunc)
        obs, reward, term, trunc, _ = env.step(action)
        return obs, float(reward), bool(term or trunc)

    @property
    def steps_per_second(self) -> float:  # type: ignore[override]
        """Real-time playback: the environment's ``render_fps``."""
        env = self._envs[0] if self._envs else None
        fps = env.metadata.get("render_fps") if env is not None else None
        return float(fps) if fps else 30.0

    def twin(self) -> GymTask:
        """The same task on its own environments (for use from another thread)."""
        t = GymTask(self.env_id, self.env_kwargs, name=self.name, fall_penalty=self.fall_penalty, slots=self.slots,
                    stall_steps=self.stall_steps)
        t.max_steps = self.max_steps
        return t

    # --- scoring ------------------------------------------------------------------------------
    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int, threads: int) -> Scores:
        """Returns (P, W, R); ``threads`` is ignored (the Box2D and classic-control steps hold the GIL)."""
        weights = np.asarray(weights, dtype=np.float64)
        n_p, n_w, n_r = len(nets), len(weights), int(reps)
        if n_p * n_w * n_r == 0:
            return Scores(np.zeros((n_p, n_w, n_r)), 0)
        for net in nets:
            if net.n_in != self.n_inputs or net.n_out != self.n_outputs:
                raise TaskError(f"{self.name}: a network has {net.n_in} inputs and {net.n_out} outputs, "
                                f"the task needs {self.n_inputs} and {self.n_outputs}")
        cap = self.max_steps if max_steps <= 0 else min(int(max_steps), self.max_steps)
        seeds = [episode_seed(key, r) for r in range(n_r)]
        # episodes network-major, then weight, then rep
        ep_net = np.repeat(np.arange(n_p, dtype=np.int64), n_w * n_r)
        ep_w = np.tile(np.repeat(weights, n_r), n_p)
        returns, steps = self._episodes(pack(nets), ep_net, ep_w, seeds * (n_p * n_w), cap,
                                        stall=self.stall_cap(key))
        return Scores(returns.reshape(n_p, n_w, n_r), steps)

    def stall_cap(self, key: tuple[int, ...]) -> int:
        """The steps without forward progress that end an episode of :meth:`score` under ``key`` (0 = never).

        ``biped_stall_steps`` and ``carracing_stall_steps`` shorten the search's episodes only: those scored
        under a search key, the two numbers ``(seed, gen)`` of ``Search.eval_key``. Every other caller of this
        method passes a one-number key — the runner's re-test ``(search.retest_seed(...),)`` and ``wann-engine
        eval`` ``(seed,)`` — and those episodes, like ``protocol``'s and playback's (through
        :class:`GymScorer` and :meth:`frames`),
        run as gymnasium ships them.
        """
        if self.stall_steps <= 0 or not self.stall_supported or len(key) != 2:
            return 0
        return self.stall_steps

    @property
    def stall_supported(self) -> bool:
        """Whether this environment has a progress measure for ``stall`` (:meth:`progress`)."""
        return self._is_biped

    #: how far :meth:`progress` must get beyond its best so far to count as progress
    stall_gain = STALL_DISTANCE

    def progress(self, env: Any) -> float:
        """The progress measure the stall rule watches: BipedalWalker's hull x."""
        return float(env.unwrapped.hull.position[0])

    def stall_charge(self, steps_left: int) -> float:
        """What an episode ended by the stall rule is charged for the ``steps_left`` it did not run (0 here:
        a still walker earns nothing and pays only its small torque cost)."""
        return 0.0

    def _episodes(self, packed: PackedNets, ep_net: np.ndarray, ep_w: np.ndarray, ep_seed: Sequence[int],
                  cap: int, edge_w: np.ndarray | None = None, stall: int = 0) -> tuple[np.ndarray, int]:
        """Episode ``e``: network ``ep_net[e]`` at shared weight ``ep_w[e]`` (or, with ``edge_w``, network 0
        with connection weights ``edge_w[e]``), reset with seed ``ep_seed[e]``. Returns (returns, steps).
        ``stall`` > 0: an episode also ends after ``stall`` steps in a row in which :meth:`progress` did not
        get more than :attr:`stall_gain` beyond its best, with the reward earned so far plus
        :meth:`stall_charge` for the steps it did not run."""
        n_ep = len(ep_net)
        returns = np.zeros(n_ep)
        n_s = min(self.slots, n_ep)
        if n_s == 0:
            return returns, 0
        while len(self._envs) < n_s:
            self._envs.append(_make(self.env_id, self.env_kwargs))
            self._dirty.append(False)
        envs = self._envs[:n_s]
        dirty = self._dirty[:n_s]
        obs = np.zeros((n_s, self.n_inputs))
        out = np.empty((n_s, self.n_outputs))
        lane_net = np.zeros(n_s, dtype=np.int64)
        lane_w = np.zeros(n_s)
        ep = np.zeros(n_s, dtype=np.int64)
        t = np.zeros(n_s, dtype=np.int64)
        total = np.zeros(n_s)
        done = np.zeros(n_s, dtype=bool)
        far = np.zeros(n_s)  # with stall: the best progress that counted, and the steps since
        still = np.zeros(n_s, dtype=np.int64)
        m = 0
        next_ep = 0
        steps = 0
        while True:
            if self.should_stop is not None and self.should_stop():
                self._envs[:n_s], self._dirty[:n_s] = envs, dirty
                raise Interrupted(f"{self.name}: scoring abandoned, a stop was asked for")
            if self.on_episodes is not None:
                self.on_episodes(next_ep - m, n_ep)  # episodes finished so far
            while m < n_s and next_ep < n_ep:
                if dirty[m] and not self.reuse_envs:
                    envs[m].close()
                    envs[m] = _make(self.env_id, self.env_kwargs)
                o, _ = envs[m].reset(seed=int(ep_seed[next_ep]))
                dirty[m] = True
                self.encode(o, obs[m])
                lane_net[m], lane_w[m], ep[m], t[m], total[m] = ep_net[next_ep], ep_w[next_ep], next_ep, 0, 0.0
                if stall:
                    far[m], still[m] = self.progress(envs[m]), 0
                next_ep += 1
                m += 1
            if m == 0:
                break
            self.flush()
            if edge_w is None:
                forward_batch(packed, obs[:m], lane_net[:m], lane_w[:m], out[:m])
            else:
                for i in range(m):
                    out[i] = weighted_outputs(packed, obs[i : i + 1], edge_w[ep[i]])[0]
            actions = self.decode(out[:m])
            for i in range(m):
                o, reward, end = self._step(envs[i], actions[i])
                total[i] += reward
                t[i] += 1
                done[i] = end or t[i] >= cap
                if stall and not done[i]:
                    x = self.progress(envs[i])
                    if x > far[i] + self.stall_gain:
                        far[i], still[i] = x, 0
                    else:
                        still[i] += 1
                        if still[i] >= stall:
                            done[i] = True
                            total[i] += self.stall_charge(int(cap - t[i]))
                if not done[i]:
                    self.encode(o, obs[i])
            self.flush()  # before the rows move below
            steps += m
            i = 0
            while i < m:
                if done[i]:
                    returns[ep[i]] = total[i]
                    m -= 1
                    if i != m:
                        envs[i], envs[m] = envs[m], envs[i]
                        dirty[i], dirty[m] = dirty[m], dirty[i]
                        for arr in (obs, lane_net, lane_w, ep, t, total, done, far, still):
                            arr[i] = arr[m]
                else:
                    i += 1
        self._envs[:n_s] = envs
        self._dirty[:n_s] = dirty
        return returns, steps

    def scorer(self, net: Network, threads: int = 0) -> GymScorer:
        return GymScorer(self, net)

    # --- playback --------------------------------------------------------------------------------
    def frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...],
               episode: int) -> Iterator[Frame]:
        """Rep ``episode`` of ``key`` on a fresh environment, with the env handling of :meth:`score`."""
        return self._frames(net, edge_w, key, episode, scene=True)

    def _frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...], episode: int,
                scene: bool) -> Iterator[Frame]:
        packed = pack([net])
        shared = np.ndim(edge_w) == 0
        env = _make(self.env_id, self.env_kwargs)
        try:
            o, _ = env.reset(seed=episode_seed(key, episode))
            obs = np.zeros((1, self.n_inputs))
            self.encode(o, obs[0])
            self.flush()
            total, t, done = 0.0, 0, False
            yield self._frame(env, 0, 0.0, 0.0, False, obs[0], np.zeros(self.n_outputs), scene)
            lane_net, lane_w = np.zeros(1, dtype=np.int64), np.array([float(edge_w) if shared else 0.0])
            while not done:
                if shared:  # as score: the same compiled pass, the same actions
                    out = forward_batch(packed, obs, lane_net, lane_w)
                else:
                    out = weighted_outputs(packed, obs, np.asarray(edge_w, dtype=np.float64))
                action = self.decode(out)[0]
                o, reward, end = self._step(env, action)
                total += reward
                t += 1
                done = end or t >= self.max_steps
                if not done:
                    self.encode(o, obs[0])
                    self.flush()
                yield self._frame(env, t, reward, total, done, np.ravel(o).astype(np.float64),
                                  np.ravel(np.asarray(out[0], dtype=np.float64)), scene)
        finally:
            env.close()

    def _frame(self, env: Any, t: int, reward: float, total: float, done: bool, obs: np.ndarray,
               action: np.ndarray, scene: bool) -> Frame:
        if not (self._is_biped and scene):
            return Frame(t, reward, total, done, obs.copy(), action)
        u = env.unwrapped
        polys = []
        for body in [u.hull, *u.legs]:
            for f in body.fixtures:
                tr = body.transform
                polys.append(np.array([tuple(tr * v) for v in f.shape.vertices], dtype=np.float64))
        terrain = np.column_stack([u.terrain_x, u.terrain_y]).astype(np.float64)
        return WalkerFrame(t, reward, total, done, obs.copy(), action, polygons=polys, terrain=terrain,
                           hull_x=float(u.hull.position[0]))

    def close(self) -> None:
        for env in self._envs:
            env.close()
        self._envs = []
        self._dirty = []


class GymScorer:
    """One network on its own copy of the task's environments: episode ``i`` of ``key`` is rep ``i`` of
    ``GymTask.score``; per-connection weights run through ``netpack.weighted_outputs``."""

    weighted_ok = True

    def __init__(self, task: GymTask, net: Network) -> None:
        self.task = task.twin()
        self.net = net
        self.packed = pack([net])
        self.n_edges = net.n_conns

    def _run(self, w: np.ndarray, key: tuple[int, ...], trials: np.ndarray,
             edge_w: np.ndarray | None = None) -> np.ndarray:
        seeds = [episode_seed(key, int(t)) for t in np.asarray(trials, dtype=np.int64)]
        lanes = np.zeros(len(seeds), dtype=np.int64)
        r, _ = self.task._episodes(self.packed, lanes, w, seeds, self.task.max_steps, edge_w)
        return r

    def shared(self, weights: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(weights, dtype=np.float64).ravel(), key, trials)

    def weighted(self, edge_w: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        ew = np.asarray(edge_w, dtype=np.float64).reshape(len(trials), self.n_edges)
        return self._run(np.zeros(len(ew)), key, trials, ew)

    def close(self) -> None:
        self.task.close()


def biped(fall_penalty: bool = True, stall_steps: int = 0) -> GymTask:
    """BipedalWalker-v3 as gymnasium ships it (24 inputs, 4 outputs, 1600 steps).

    ``fall_penalty=False`` drops the -100 given when the hull touches the ground
    or the walker leaves the left edge, as the original WANN code did; the step
    then earns the shaping reward it would have had. ``stall_steps`` > 0 ends a
    search episode whose hull has stopped moving forward (``biped_stall_steps``,
    see :meth:`GymTask.stall_cap`).
    """
    task = GymTask(BIPED_ID, name="biped", fall_penalty=fall_penalty, stall_steps=stall_steps)
    task.max_steps = min(task.max_steps, BIPED_LIMIT)
    return task


def gym_task(name: str, fall_penalty: bool = True) -> GymTask:
    env_id, kwargs = parse_name(name)
    return GymTask(env_id, kwargs, name=name, fall_penalty=fall_penalty)


__all__ = ["GymTask", "GymScorer", "WalkerFrame", "biped", "gym_task", "episode_seed", "parse_name", "BIPED_INPUTS",
           "BIPED_OUTPUTS", "KNOWN_NAMES"]
