"""Exploring one network by hand: score at a chosen shared weight, per-connection offsets, rollout playback.

The console's weight explorer runs on this module; it holds no drawing code and no task-specific code:
everything a task can do comes from the task (``Task.scorer``, ``Task.frames``, ``TaskSpec``).
Conventions:

* the network's connections are in ``Network.edges()`` order; ``offsets[k]`` is added to the
  shared weight ``w`` for connection ``k`` (all zero = the plain weight-agnostic network);
* episode ``i`` of seed ``s`` is rep ``i`` of key ``(s,)`` — the episodes of
  ``wann-engine eval --seed s`` — so a score without offsets equals that command's mean at ``w``,
  and playback of episode ``i`` earns exactly that episode's return;
* classification tasks (``TaskSpec.metric == "accuracy"``) report test accuracy and have no playback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .genome import Genome, Network
from .netfile import NetworkFileError, genome_from_dict, open_network
from .protocol import Profile
from .tasks import Frame, Scorer, Task, TaskError

W_MIN, W_MAX = -3.0, 3.0
FINE, COARSE = 0.05, 0.5
EPISODES = 5


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


def load(file: str | Path, task: Task | str | None = None) -> Subject:
    """A network file (``netfile.open_network``) for ``task`` (default: the file's); a tuned-weights file
    starts at its shared weight, with its weights as offsets from it."""
    try:
        got = open_network(file, task)
    except (NetworkFileError, TaskError) as e:
        raise ExploreError(str(e)) from None
    if got.weights is None:
        return Subject(got.genome, got.task, got.path, keep_disabled_hidden=got.keep_disabled_hidden)
    w0 = got.shared_weight if got.shared_weight is not None else 1.0
    return Subject(got.genome, got.task, got.path, w0, got.weights - w0)

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


# --- the explorer ----------------------------------------------------------------------------------------------
class Explorer:
    """Scores, profiles, playback and classification views of one :class:`Subject`.

    Safe to call from several threads: each kind of request ("score", "profile") has its own scorer
    (its own environments, for tasks that have them) behind its own lock, so a long profile never holds up the
    slider's score.
    """

    def __init__(self, subject: Subject, episodes: int = EPISODES, seed: int = 0) -> None:
        from . import limits

        try:
            limits.check_episodes(episodes, "episodes", len(weight_grid()))
            limits.check_seed(seed, "seed")
        except limits.LimitError as e:
            raise ExploreError(str(e)) from None
        self.subject = subject
        self.task = subject.task
        self.net = subject.net
        self.episodes = int(episodes)
        self.seed = int(seed)
        self.spec = self.task.spec
        self.classify = self.spec.metric == "accuracy"
        self._pools: dict[str, tuple[threading.Lock, Scorer]] = {}
        self._pools_lock = threading.Lock()

    @property
    def n_edges(self) -> int:
        return self.net.n_conns

    @property
    def has_rollouts(self) -> bool:
        return not self.classify

    @property
    def steps_per_second(self) -> float:
        """Playback speed that is real time (the task's)."""
        return float(self.task.spec.steps_per_second)

    @property
    def profile_weights(self) -> np.ndarray | None:
        """The weights of the console's profile: None (the slider's fine grid) for a task that is fast to
        score, a coarser grid otherwise."""
        return None if self.spec.fast else weight_grid(0.25)

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
        if self.classify:
            acc = self.profile(np.array([w]), offsets).mean
            return Score(w, float(acc[0]), 0.0, acc, "accuracy")
        r = self._returns(np.array([w]), self._offsets(offsets))[0]
        return Score(w, float(r.mean()), float(r.std()), r, "return")

    def profile(self, weights: np.ndarray | None = None, offsets: np.ndarray | None = None) -> Profile:
        """Mean and std at each shared weight (default: the slider's grid, FINE steps over [W_MIN, W_MAX])."""
        ws = weight_grid() if weights is None else np.asarray(weights, dtype=np.float64).ravel()
        off = self._offsets(offsets)
        if self.classify:
            return Profile(ws, self.task.test_accuracy(self.net, ws, off), np.zeros(len(ws)))
        r = self._returns(ws, off, "profile")
        return Profile(ws, r.mean(1), r.std(1))

    def close(self) -> None:
        """Release the scorers' resources (environments); waits for a computation that is using them."""
        with self._pools_lock:
            for name, (lock, scorer) in list(self._pools.items()):
                with lock:
                    if hasattr(scorer, "close"):
                        scorer.close()
                if name != "score":
                    del self._pools[name]

    def _pool(self, name: str) -> tuple[threading.Lock, Scorer]:
        with self._pools_lock:
            if name not in self._pools:
                self._pools[name] = (threading.Lock(), self.task.scorer(self.net, 1))
            return self._pools[name]

    def _returns(self, ws: np.ndarray, off: np.ndarray, pool: str = "score") -> np.ndarray:
        """(W, episodes) returns."""
        n = self.episodes
        trials = np.tile(np.arange(n), len(ws))
        lock, scorer = self._pool(pool)
        with lock:
            if not off.any():
                r = scorer.shared(np.repeat(ws, n), (self.seed,), trials)
            else:
                r = scorer.weighted(np.repeat(ws[:, None] + off[None, :], n, axis=0), (self.seed,), trials)
        return np.asarray(r).reshape(len(ws), n)

    # --- playback --------------------------------------------------------------------------------------------
    def frames(self, weight: float, offsets: np.ndarray | None = None, episode: int = 0) -> Iterator[Frame]:
        """The rollout of episode ``episode`` at this setting, one frame per step (lazily)."""
        off = self._offsets(offsets)
        if not self.has_rollouts:
            raise ExploreError(f"task {self.task.name} has no rollouts (classification)")
        ew: float | np.ndarray = float(weight) + off if off.any() else float(weight)
        return self.task.frames(self.net, ew, (self.seed,), int(episode))

    # --- classification --------------------------------------------------------------------------------------
    def classification(self, weight: float, offsets: np.ndarray | None = None, wrong: int = 24) -> Any:
        """Accuracy at ``weight`` (and offsets), per digit, the ensemble over the standard weights (each
        with the offsets), and the first ``wrong`` misclassified test images (the task's ``view``)."""
        if not self.classify:
            raise ExploreError(f"task {self.task.name} is not a classification task")
        return self.task.view(self.net, float(weight), self._offsets(offsets), wrong)

    # --- saving ----------------------------------------------------------------------------------------------
    def save(self, weight: float, offsets: np.ndarray | None = None, path: str | Path | None = None,
             score: Score | None = None) -> Path:
        """Write the setting as a tuned-weights file (``netfile.save_tuned``): connection ``k`` at
        ``weight + offsets[k]``, shared weight ``weight``. Default path: beside the source file."""
        from .netfile import save_tuned

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


def open_file(file: str | Path, task_name: str | None = None, episodes: int = EPISODES, seed: int = 0) -> Explorer:
    """An explorer for a network file (``wann-tui explore``); task and file errors become :class:`ExploreError`."""
    return Explorer(load(file, task_name), episodes, seed)


def open_run(run_dir: str | Path, genome: dict[str, Any] | Genome | None = None, episodes: int = EPISODES,
             seed: int = 0, name: str = "champion") -> Explorer:
    """An explorer for a network of a run (default: its ``champion.json``), with the run's task and options;
    tuned networks are saved in the run directory as ``<name>.exploreN.tuned.json``."""
    from . import rundir, tasks

    run_dir = Path(run_dir)
    try:
        cfg = rundir.read_config(run_dir)
        task = tasks.get(cfg.task, cfg)
        if genome is None:
            genome = open_network(run_dir / rundir.CHAMPION_JSON, task, cfg).genome
        g = genome if isinstance(genome, Genome) else genome_from_dict(genome)
    except (rundir.RunDirError, TaskError, NetworkFileError) as e:
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


def front_members(run_dir: str | Path, use_peak: bool = False) -> tuple[int, list[Member]]:
    """The first front of the last evaluated population in the run's checkpoint, as the ``front`` of a
    generation event ranks it (``use_peak``: mean vs peak, as ``front_peak``); returns (that generation,
    members by connections). Empty when the checkpoint holds no scored population."""
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
    front = np.flatnonzero(ranking.fronts(ranking.objectives(mean, peak, conns, use_peak)) == 0)
    members = [Member(int(i), pop[i], float(mean[i]), float(peak[i]), int(conns[i])) for i in front]
    return int(st["gen"]) - 1, sorted(members, key=lambda m: (m.conns, -m.mean))
