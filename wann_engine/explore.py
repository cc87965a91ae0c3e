"""Exploring one network by hand: score at a chosen shared weight, per-connection offsets, rollout playback.

The console's weight explorer runs on this module; it holds no drawing code. Conventions:

* the network's connections are in ``Network.edges()`` order; ``offsets[k]`` is added to the
  shared weight ``w`` for connection ``k`` (all zero = the plain weight-agnostic network);
* episode ``i`` of seed ``s`` is rep ``i`` of key ``(s,)`` — the episodes of
  ``wann-engine eval --seed s`` — so a score without offsets equals that command's mean at ``w``,
  and playback of episode ``i`` earns exactly that episode's return;
* swing-up runs through the compiled weighted kernel (``swingup.rollouts_weighted``); playback
  re-runs one lane of the same physics step by step and records it, so its rewards are the
  kernel's bit for bit. Gym tasks go through ``Task.score`` without offsets and through a
  plain episode loop (the same env handling) with them. Classification reports test accuracy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba
import numpy as np

from .config import STANDARD_WEIGHTS
from .genome import Genome, Network
from .netfile import NetworkFileError, read_any
from .netpack import forward_batch, forward_lanes_weighted, pack
from .protocol import Profile
from .tasks import Task, TaskError
from .tasks import swingup as su

W_MIN, W_MAX = -3.0, 3.0
FINE, COARSE = 0.05, 0.5
EPISODES = 5
CLASSIFY = ("digits", "mnist256")


class ExploreError(ValueError):
    """A network or request the explorer cannot handle; the message says why."""


# --- the network under study ----------------------------------------------------------------------------
@dataclass
class Subject:
    """A network, its task and where it came from; ``weight``/``offsets`` are the starting setting."""

    genome: Genome
    task: Task
    file: Path | None = None
    weight: float = 1.0
    offsets: np.ndarray | None = None
    keep_disabled_hidden: bool = False
    net: Network = field(init=False)

    def __post_init__(self) -> None:
        self.net = self.genome.network(self.keep_disabled_hidden)
        if (self.net.n_in, self.net.n_out) != (self.task.n_inputs, self.task.n_outputs):
            raise ExploreError(f"network has {self.net.n_in} inputs/{self.net.n_out} outputs, task "
                               f"{self.task.name} needs {self.task.n_inputs}/{self.task.n_outputs}")
        if self.offsets is None:
            self.offsets = np.zeros(self.net.n_conns)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        if self.offsets.shape != (self.net.n_conns,):
            raise ExploreError(f"{self.net.n_conns} connections need {self.net.n_conns} offsets")


def load(file: str | Path, task: Task) -> Subject:
    """A network file for ``task``: project JSON, the original ``.out``, or tuned weights (offsets from
    its shared weight)."""
    from .protocol import is_tuned_file, load_tuned

    file = Path(file)
    if is_tuned_file(file):
        try:
            t = load_tuned(file)
        except NetworkFileError as e:
            raise ExploreError(str(e)) from None
        if t.doc.get("task") != task.name:
            raise ExploreError(f"{file}: tuned for task {t.doc.get('task')!r}, not {task.name!r}")
        w0 = float(t.doc.get("shared_weight", 1.0))
        return Subject(t.genome, task, file, w0, t.weights - w0)
    try:
        genome = read_any(file, task.n_inputs, task.n_outputs)
    except NetworkFileError as e:
        raise ExploreError(str(e) if str(e).startswith(str(file)) else f"{file}: {e}") from None
    return Subject(genome, task, file)


def edge_labels(net: Network, input_names: tuple[str, ...] = (), output_names: tuple[str, ...] = ()) -> list[str]:
    """``source -> destination`` per connection (``edges()`` order): input/output names, hidden ``h<id>``."""
    n_out0 = net.n_nodes - net.n_out

    def name(p: int) -> str:
        if p == 0:
            return "bias"
        if p <= net.n_in:
            return input_names[p - 1] if p - 1 < len(input_names) else f"in{p}"
        if p >= n_out0:
            i = p - n_out0
            return output_names[i] if i < len(output_names) else f"out{i + 1}"
        return f"h{int(net.node_ids[p])}"

    return [f"{name(int(s))} -> {name(int(d))}" for s, d in net.edges().tolist()]


# --- results ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    """Score at one setting: mean and std over the episodes (classification: test accuracy, std 0)."""

    weight: float
    mean: float
    std: float
    returns: np.ndarray
    metric: str  # "return" or "accuracy"


@dataclass
class Frame:
    """One step of a rollout: step 0 is the start, before any action."""

    step: int
    reward: float  # earned by this step
    total: float  # running return
    done: bool
    obs: np.ndarray
    action: np.ndarray


@dataclass
class CartFrame(Frame):
    x: float = 0.0
    theta: float = 0.0  # 0 = upright
    x_limit: float = su.X_LIMIT


@dataclass
class WalkerFrame(Frame):
    polygons: list[np.ndarray] = field(default_factory=list)  # hull then legs, world coordinates (m)
    terrain: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # ground line (x, y)
    hull_x: float = 0.0


@dataclass(frozen=True)
class WrongImage:
    index: int  # row of the test split
    label: int
    predicted: int  # -1: the outputs were NaN
    image: np.ndarray  # (side, side) in [0, 1]


@dataclass(frozen=True)
class ClassView:
    """Test accuracy at one setting, per digit, the ensemble over the standard weights, and misclassified images."""

    weight: float
    accuracy: float
    per_digit: np.ndarray
    ensemble: float
    ensemble_per_digit: np.ndarray
    n_test: int
    n_wrong: int
    wrong: list[WrongImage]


# --- the swing-up playback kernel --------------------------------------------------------------------------
@numba.njit(cache=True, error_model="numpy")
def _swingup_trace(node_off, ptr, idx, act, n_in, edge_w, scale, start, max_steps, rec):
    """One lane of ``swingup._rollouts_weighted``, recorded per step: rec[t] = (x, x_dot, theta, theta_dot,
    raw output, total). Returns the number of steps."""
    n = node_off[1] - node_off[0]
    e0 = ptr[0]
    n_e = ptr[n] - e0
    vals = np.zeros((n, 1))
    ew = np.empty((n_e, 1))
    for k in range(n_e):
        ew[k, 0] = edge_w[k]
    acc, x, xd, th, thd, s, c, w, total, _ = su._lane_arrays(1)
    su._reset_lane(start, 0, x, xd, th, thd, s, c, total)
    w[0] = scale
    t = 0
    while t < max_steps:
        su._observe_lanes(vals, x, xd, c, s, thd, 1)
        forward_lanes_weighted(vals, acc, 0, n, n_in, ptr, idx, act, ew, e0, w, 1)
        out = vals[n - 1, 0]
        su._physics_lanes(vals[n - 1], x, xd, th, thd, s, c, total, 1)
        rec[t, 0] = x[0]
        rec[t, 1] = xd[0]
        rec[t, 2] = th[0]
        rec[t, 3] = thd[0]
        rec[t, 4] = out
        rec[t, 5] = total[0]
        t += 1
        if x[0] < -su.X_LIMIT or x[0] > su.X_LIMIT:
            break
    return t


def _obs(x: float, xd: float, th: float, thd: float) -> np.ndarray:
    return np.array([x, xd, np.cos(th), np.sin(th), thd])


# --- the explorer ----------------------------------------------------------------------------------------------
class Explorer:
    """Scores, profiles, playback and classification views of one :class:`Subject`.

    Safe to call from several threads (the gym task's environment pool is guarded).
    """

    def __init__(self, subject: Subject, episodes: int = EPISODES, seed: int = 0) -> None:
        if episodes < 1:
            raise ExploreError("episodes must be at least 1")
        self.subject = subject
        self.task = subject.task
        self.net = subject.net
        self.episodes = int(episodes)
        self.seed = int(seed)
        self.kind = ("classify" if self.task.name in CLASSIFY else "swingup" if self.task.name == "swingup"
                     else "biped" if getattr(self.task, "_is_biped", False) else "gym")
        self.packed = pack([self.net])
        self._pools: dict[str, tuple[threading.Lock, Task]] = {"score": (threading.Lock(), self.task)}
        self._pools_lock = threading.Lock()
        self._scorer = None
        if self.kind == "swingup":
            from .protocol import SwingUpScorer

            self._scorer = SwingUpScorer(self.net, self.task.max_steps)

    @property
    def n_edges(self) -> int:
        return self.net.n_conns

    @property
    def steps_per_second(self) -> float:
        """Playback speed that is real time: the physics step (swing-up), else the env's ``render_fps``."""
        if self.kind == "swingup":
            return 1.0 / su.DT
        envs = getattr(self.task, "_envs", None)
        fps = envs[0].metadata.get("render_fps") if envs else None
        return float(fps) if fps else 30.0

    def _offsets(self, offsets: np.ndarray | None) -> np.ndarray:
        if offsets is None:
            return np.zeros(self.n_edges)
        off = np.asarray(offsets, dtype=np.float64)
        if off.shape != (self.n_edges,):
            raise ExploreError(f"{self.n_edges} connections need {self.n_edges} offsets, got {off.shape}")
        return off

    # --- scores --------------------------------------------------------------------------------------------
    def score(self, weight: float, offsets: np.ndarray | None = None) -> Score:
        """Mean and std over episodes 0..episodes-1 (classification: test accuracy)."""
        w = float(weight)
        if self.kind == "classify":
            acc = self.profile(np.array([w]), offsets).mean
            return Score(w, float(acc[0]), 0.0, acc, "accuracy")
        r = self._returns(np.array([w]), self._offsets(offsets))[0]
        return Score(w, float(r.mean()), float(r.std()), r, "return")

    def profile(self, weights: np.ndarray | None = None, offsets: np.ndarray | None = None) -> Profile:
        """Mean and std at each shared weight (default: the slider's grid, FINE steps over [W_MIN, W_MAX])."""
        ws = weight_grid() if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        off = self._offsets(offsets)
        if self.kind == "classify":
            acc = np.array([self._accuracy(w, off)[0] for w in ws]) if off.any() else self._accuracies(ws)
            return Profile(ws, acc, np.zeros(len(ws)))
        r = self._returns(ws, off, "profile")
        return Profile(ws, r.mean(1), r.std(1))

    def close(self) -> None:
        """Close the environments of a gym task's extra pools (the task's own stay with its owner); waits for
        a computation that is using them."""
        with self._pools_lock:
            for name, (lock, task) in list(self._pools.items()):
                if name != "score" and hasattr(task, "close"):
                    with lock:
                        task.close()
                    del self._pools[name]

    def _pool(self, name: str) -> tuple[threading.Lock, Task]:
        """A gym task object per kind of request: a long profile never holds up the slider's score."""
        with self._pools_lock:
            if name not in self._pools:
                from .tasks.gym_task import GymTask

                t: Any = self.task
                twin = GymTask(t.env_id, t.env_kwargs, name=t.name, fall_penalty=t.fall_penalty, slots=t.slots)
                twin.max_steps = t.max_steps
                self._pools[name] = (threading.Lock(), twin)
            return self._pools[name]

    def _returns(self, ws: np.ndarray, off: np.ndarray, pool: str = "score") -> np.ndarray:
        """(W, episodes) returns."""
        n = self.episodes
        trials = np.tile(np.arange(n), len(ws))
        key = (self.seed,)
        if self.kind == "swingup":
            if not off.any():
                r = self._scorer.shared(np.repeat(ws, n), key, trials)
            else:
                r = self._scorer.weighted(np.repeat(ws[:, None] + off[None, :], n, axis=0), key, trials)
            return r.reshape(len(ws), n)
        if not off.any():
            lock, task = self._pool(pool)
            with lock:
                return task.score([self.net], ws, key, n, 0, 1).returns[0]
        out = np.empty((len(ws), n))
        for i, w in enumerate(ws):
            for e in range(n):
                total = 0.0
                for fr in self._gym_frames(float(w), off, e, scene=False):
                    total = fr.total
                out[i, e] = total
        return out

    # --- playback --------------------------------------------------------------------------------------------
    def frames(self, weight: float, offsets: np.ndarray | None = None, episode: int = 0) -> Iterator[Frame]:
        """The rollout of episode ``episode`` at this setting, one :class:`Frame` per step (lazily)."""
        off = self._offsets(offsets)
        if self.kind == "classify":
            raise ExploreError(f"task {self.task.name} has no rollouts (classification)")
        if self.kind == "swingup":
            return self._swingup_frames(float(weight), off, int(episode))
        return self._gym_frames(float(weight), off, int(episode))

    def _swingup_frames(self, w: float, off: np.ndarray, episode: int) -> Iterator[CartFrame]:
        start = su.initial_states((self.seed,), episode + 1)[episode]
        if off.any():
            ew, scale = w + off, 1.0
        else:  # as SwingUpScorer.shared: all-ones weights times the shared weight, bit for bit
            ew, scale = np.ones(self.n_edges), w
        cap = min(self.task.max_steps or su.T_LIMIT, su.T_LIMIT)
        rec = np.zeros((cap, 6))
        p = self.packed
        steps = _swingup_trace(p.node_off, p.ptr, p.idx, p.act, p.n_in, np.ascontiguousarray(ew, dtype=np.float64),
                               float(scale), np.ascontiguousarray(start, dtype=np.float64), cap, rec)
        yield CartFrame(0, 0.0, 0.0, steps == 0, _obs(*start), np.zeros(1), x=float(start[0]),
                        theta=float(start[2]))
        prev = 0.0
        for t in range(steps):
            x, xd, th, thd, out, total = rec[t]
            yield CartFrame(t + 1, float(total - prev), float(total), t + 1 == steps, _obs(x, xd, th, thd),
                            np.array([np.clip(out, -1.0, 1.0)]), x=float(x), theta=float(th))
            prev = total

    def _gym_frames(self, w: float, off: np.ndarray, episode: int, scene: bool = True) -> Iterator[Frame]:
        from .protocol import weighted_outputs
        from .tasks.gym_task import _make, episode_seed

        task: Any = self.task
        env = _make(task.env_id, task.env_kwargs)
        try:
            o, _ = env.reset(seed=episode_seed((self.seed,), episode))
            obs = np.zeros((1, task.n_inputs))
            task.encode(o, obs[0])
            total, t, done = 0.0, 0, False
            yield self._gym_frame(env, 0, 0.0, 0.0, False, obs[0], np.zeros(task.n_outputs), scene)
            lane_net, lane_w = np.zeros(1, dtype=np.int64), np.array([w])
            cap = task.max_steps
            while not done:
                if off.any():
                    out = weighted_outputs(self.net, obs, w + off)
                else:  # as Task.score: the same compiled pass, the same actions
                    out = forward_batch(self.packed, obs, lane_net, lane_w)
                action = task.decode(out)[0]
                o, reward, end = task._step(env, action)
                total += reward
                t += 1
                done = end or t >= cap
                if not done:
                    task.encode(o, obs[0])
                yield self._gym_frame(env, t, reward, total, done, np.ravel(o).astype(np.float64),
                                      np.ravel(np.asarray(out[0], dtype=np.float64)), scene)
        finally:
            env.close()

    def _gym_frame(self, env: Any, t: int, reward: float, total: float, done: bool, obs: np.ndarray,
                   action: np.ndarray, scene: bool = True) -> Frame:
        if self.kind != "biped" or not scene:
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

    # --- classification --------------------------------------------------------------------------------------
    def _accuracies(self, ws: np.ndarray) -> np.ndarray:
        X, _ = self.task.data("test")
        chunk = max(1, 2_000_000 // max(len(X), 1))
        return np.concatenate([self.task.accuracy(self.net, ws[i:i + chunk], "test").accuracy
                               for i in range(0, len(ws), chunk)])

    def _outputs(self, w: float, off: np.ndarray) -> np.ndarray:
        """The network's outputs for every test image at this setting."""
        from .protocol import weighted_outputs
        from .tasks.classify import outputs

        X, _ = self.task.data("test")
        return weighted_outputs(self.net, X, w + off) if off.any() else outputs(self.net, np.array([w]), X)[0]

    def _accuracy(self, w: float, off: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        from .tasks.classify import predictions

        _, y = self.task.data("test")
        pred = predictions(self._outputs(w, off))[0]
        ok = pred == y
        counts = np.maximum(np.bincount(y, minlength=10), 1)
        return float(ok.mean()), np.bincount(y[ok], minlength=10) / counts, pred

    def classification(self, weight: float, offsets: np.ndarray | None = None, wrong: int = 24) -> ClassView:
        """Accuracy at ``weight`` (and offsets), per digit, the ensemble over the standard weights (each
        with the offsets), and the first ``wrong`` misclassified test images."""
        if self.kind != "classify":
            raise ExploreError(f"task {self.task.name} is not a classification task")
        off = self._offsets(offsets)
        X, y = self.task.data("test")
        acc, per_digit, pred = self._accuracy(float(weight), off)
        counts = np.maximum(np.bincount(y, minlength=10), 1)
        if not off.any():
            e = self.task.accuracy(self.net, np.asarray(STANDARD_WEIGHTS), "test")
            ens, ens_pd = e.ensemble, e.ensemble_per_digit
        else:  # the vote of classify.accuracy, each weight with the offsets
            from .tasks.classify import predictions, vote

            hit = vote(*predictions(np.stack([self._outputs(sw, off) for sw in STANDARD_WEIGHTS]))) == y
            ens, ens_pd = float(hit.mean()), np.bincount(y[hit], minlength=10) / counts
        side = int(round(np.sqrt(X.shape[1])))
        bad = np.flatnonzero(pred != y)
        imgs = [WrongImage(int(i), int(y[i]), int(pred[i]), np.clip(X[i].reshape(side, side), 0.0, 1.0))
                for i in bad[:wrong]]
        return ClassView(float(weight), acc, per_digit, float(ens), np.asarray(ens_pd), len(y), len(bad), imgs)

    # --- saving ----------------------------------------------------------------------------------------------
    def save(self, weight: float, offsets: np.ndarray | None = None, path: str | Path | None = None,
             score: Score | None = None) -> Path:
        """Write the setting as a tuned-weights file (``protocol.save_tuned``): connection ``k`` at
        ``weight + offsets[k]``, shared weight ``weight``. Default path: beside the source file."""
        from .protocol import save_tuned

        off = self._offsets(offsets)
        target = Path(path) if path is not None else save_path(self.subject.file)
        scores: dict[str, Any] = {"episodes": self.episodes, "seed": self.seed}
        if score is not None:
            scores.update(metric=score.metric, mean=score.mean, std=score.std)
        return save_tuned(target, self.subject.genome, self.task, weight + off, weight, scores, source="explorer",
                          **({"from_file": str(self.subject.file)} if self.subject.file and self.subject.file.is_file()
                             else {}))


def weight_grid(step: float = FINE) -> np.ndarray:
    """The slider's positions: ``step`` apart over [W_MIN, W_MAX], rounded as typed (0.05, not 0.0500..1)."""
    n = int(round((W_MAX - W_MIN) / step)) + 1
    return np.round(np.linspace(W_MIN, W_MAX, n), 10)


def clamp_weight(w: float) -> float:
    """A slider value: inside [W_MIN, W_MAX], rounded to the fine step's precision."""
    return float(np.round(min(max(w, W_MIN), W_MAX), 10))


def save_path(file: Path | None, folder: Path | None = None) -> Path:
    """``<stem>.exploreN.tuned.json`` beside ``file`` (N = the first free number); never an existing file."""
    base = folder or (file.parent if file is not None else Path.cwd())
    stem = "network" if file is None else file.name.split(".")[0] or "network"
    k = 1
    while (base / f"{stem}.explore{k}.tuned.json").exists():
        k += 1
    return base / f"{stem}.explore{k}.tuned.json"


def open_file(file: str | Path, task_name: str, episodes: int = EPISODES, seed: int = 0) -> Explorer:
    """An explorer for a network file (``wann-tui explore``); task errors become :class:`ExploreError`."""
    from . import tasks

    try:
        task = tasks.get(task_name)
    except TaskError as e:
        raise ExploreError(str(e)) from None
    return Explorer(load(file, task), episodes, seed)


def open_run(run_dir: str | Path, genome: dict[str, Any] | Genome | None = None, episodes: int = EPISODES,
             seed: int = 0, name: str = "champion") -> Explorer:
    """An explorer for a network of a run (default: its ``champion.json``), with the run's task and options;
    tuned networks are saved in the run directory as ``<name>.exploreN.tuned.json``."""
    from . import rundir, tasks
    from .netfile import read_json

    run_dir = Path(run_dir)
    try:
        cfg = rundir.read_config(run_dir)
        task = tasks.get(cfg.task, cfg)
        if genome is None:
            genome, _ = read_json(run_dir / rundir.CHAMPION_JSON)
        g = genome if isinstance(genome, Genome) else Genome.from_dict(genome)
    except (rundir.RunDirError, TaskError, NetworkFileError, KeyError, TypeError, ValueError) as e:
        raise ExploreError(str(e)) from None
    subject = Subject(g, task, run_dir / f"{name}.json", keep_disabled_hidden=cfg.keep_disabled_hidden)
    return Explorer(subject, episodes, seed)


@dataclass(frozen=True)
class Member:
    """One network of the first Pareto front (mean over weights against connections)."""

    index: int  # position in the checkpoint's population
    genome: Genome
    mean: float
    peak: float
    conns: int


def front_members(run_dir: str | Path) -> tuple[int, list[Member]]:
    """The first front of the last evaluated population in the run's checkpoint, as the ``front`` of a
    generation event ranks it; returns (that generation, members by connections). Empty when the
    checkpoint holds no scored population."""
    from . import ranking, rundir
    from .events import numbers

    run_dir = Path(run_dir)
    try:
        cfg = rundir.read_config(run_dir)
        st = rundir.load_checkpoint(run_dir)["search"]
        if not st.get("pending_breed") or st.get("fitness") is None:
            return int(st.get("gen", 0)) - 1, []
        pop = [Genome.from_dict(d) for d in st["pop"]]
        fit = numbers(st["fitness"]).reshape(len(pop), -1)
    except (rundir.RunDirError, KeyError, TypeError, ValueError) as e:
        raise ExploreError(str(e)) from None
    mean, peak = fit.mean(1), fit.max(1)
    conns = np.array([g.network(cfg.keep_disabled_hidden).n_conns for g in pop])
    front = np.flatnonzero(ranking.fronts(ranking.objectives(mean, peak, conns, False)) == 0)
    members = [Member(int(i), pop[i], float(mean[i]), float(peak[i]), int(conns[i])) for i in front]
    return int(st["gen"]) - 1, sorted(members, key=lambda m: (m.conns, -m.mean))
