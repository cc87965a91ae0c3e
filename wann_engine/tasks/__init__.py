"""Tasks: what a task is (:class:`TaskSpec`), what it can do (:class:`Task`) and the registry of them.

A task owns everything about itself: scoring a population for the search (``score``), scoring one
network at shared or per-connection weights (``scorer``: the evaluation protocol and the weight
explorer), and playing an episode back step by step (``frames``). Nothing outside ``tasks/`` needs
to know which task it holds. Adding a task is one module plus one :func:`register` call.

Registry entries are :class:`TaskEntry` records (like gymnasium's ``EnvSpec``); an unknown name is
answered with the closest known task or preset ("did you mean ...").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..genome import Network

if TYPE_CHECKING:
    from ..config import Config


class TaskError(ValueError):
    """Unknown or unusable task."""


class Interrupted(Exception):
    """``score`` gave up part-way because its ``should_stop`` said so (a stop asked for during a long
    generation); no scores are returned."""


@dataclass(frozen=True)
class Scores:
    """Episode returns (networks, weights, reps) and the number of live environment steps taken."""

    returns: np.ndarray
    steps: int


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: sizes, names, episode limit, and what its scores mean.

    ``metric``: ``"return"`` (episodes) or ``"accuracy"`` (classification: the explorer and the protocol
    report test accuracy; no playback). ``fast``: a whole profile of shared weights is cheap to score
    (a compiled kernel), so the explorer may use a fine grid. ``steps_per_second``: real-time playback.
    """

    name: str
    n_inputs: int
    n_outputs: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    max_steps: int
    metric: str = "return"
    fast: bool = False
    steps_per_second: float = 30.0


@dataclass
class Frame:
    """One step of a rollout: step 0 is the start, before any action."""

    step: int
    reward: float  # earned by this step
    total: float  # running return
    done: bool
    obs: np.ndarray
    action: np.ndarray


class Scorer(Protocol):
    """Scores of one network on numbered, seeded episodes; lane ``l`` is episode ``trials[l]`` of ``key``
    (rep ``trials[l]`` of ``Task.score`` with that key: the episodes of ``wann-engine eval --seed``)."""

    n_edges: int
    weighted_ok: bool  # per-connection weights supported

    def shared(self, weights: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        """(L,) score of episode ``trials[l]`` with every connection at ``weights[l]``."""
        ...

    def weighted(self, edge_w: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        """(L,) score of episode ``trials[l]`` with connection weights ``edge_w[l]`` ((L, E), edges() order)."""
        ...


class Task(Protocol):
    """A task. The attributes mirror :attr:`spec`."""

    name: str
    n_inputs: int
    n_outputs: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    max_steps: int

    @property
    def spec(self) -> TaskSpec: ...

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int, threads: int) -> Scores:
        """The search: returns (networks, weights, reps) of rep ``r`` of ``key`` at each shared weight."""
        ...

    def scorer(self, net: Network, threads: int = 0) -> Scorer:
        """One network, shared or per-connection weights (its own resources: one per thread of use)."""
        ...

    def frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...],
               episode: int) -> Iterator[Frame]:
        """Playback of rep ``episode`` of ``key``: a float is the shared weight, an array one weight per
        connection. Raises :class:`TaskError` for a task without rollouts."""
        ...


class Classifier(Task, Protocol):
    """A task with ``spec.metric == "accuracy"``: what the protocol and the explorer ask of it besides
    :class:`Task` (see ``classify.ClassifyTask``)."""

    def data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]: ...

    def accuracy(self, net: Network, weights: Any, split: str = "test") -> Any: ...

    def accuracies(self, net: Network, weights: np.ndarray, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        ...

    def test_accuracy(self, net: Network, weights: np.ndarray, offsets: np.ndarray) -> np.ndarray: ...

    def view(self, net: Network, weight: float, offsets: np.ndarray, wrong: int = 24) -> Any: ...


class TaskBase:
    """The :attr:`spec` of a task from its attributes (``name``, ``n_inputs``, ... as in :class:`Task`, set by
    the subclass), and the defaults of optional abilities."""

    metric = "return"
    fast = False
    steps_per_second = 30.0
    #: Set by the evaluator: a task whose one ``score`` call can take long (episodes of many python steps)
    #: calls it between steps and raises :class:`Interrupted` when it says True.
    should_stop: Callable[[], bool] | None = None
    #: Set by the evaluator: such a task also tells it (episodes done, episodes total) of a ``score`` call
    #: between its steps (the engine turns that into ``progress`` events).
    on_episodes: Callable[[int, int], None] | None = None
    checks_stop = False  # True for tasks that honour should_stop (and on_episodes) themselves

    @property
    def spec(self) -> TaskSpec:
        t: Any = self
        return TaskSpec(t.name, t.n_inputs, t.n_outputs, tuple(t.input_names), tuple(t.output_names),
                        int(t.max_steps), self.metric, self.fast, float(self.steps_per_second))

    def frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...],
               episode: int) -> Iterator[Frame]:
        raise TaskError(f"task {self.name} has no rollouts to play back")

    def close(self) -> None:
        """Release environments or threads (nothing by default)."""


# --- the registry ------------------------------------------------------------------------------------------
#: Factories take the run's Config (or None: defaults) for task options such as ``biped_fall_penalty``.
Factory = Callable[["Config | None"], Task]


@dataclass(frozen=True)
class TaskEntry:
    """One registered task: its name, how to make it, and a line about it."""

    name: str
    factory: Factory = field(repr=False)
    description: str = ""

    def make(self, cfg: Config | None = None) -> Task:
        return self.factory(cfg)


_REGISTRY: dict[str, TaskEntry] = {}
GYM_PREFIX = "gym:"
DEFAULT_TASK = "swingup"  # the task of an ``.out`` network file that names none, outside a run directory


def register(name: str, factory: Factory, description: str = "") -> TaskEntry:
    """Add (or replace) the task ``name``; returns its entry."""
    if not name or name.startswith(GYM_PREFIX) or "," in name:
        raise TaskError(f"task name {name!r}: must be non-empty, without ',' and not start with {GYM_PREFIX!r}")
    entry = TaskEntry(name, factory, description)
    _REGISTRY[name] = entry
    return entry


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def registry() -> dict[str, TaskEntry]:
    """The registered tasks by name (a copy)."""
    return dict(_REGISTRY)


def names() -> list[str]:
    """Registered task names; any ``gym:<EnvId>`` is accepted too."""
    return sorted(_REGISTRY)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_task(name: str) -> TaskError:
    """The error for a name that is neither a task nor a preset: the closest one, and every known name."""
    from ..config import PRESETS

    presets = [p for p in PRESETS if p not in _REGISTRY]
    return TaskError(f"unknown task {name!r}{did_you_mean(name, [*_REGISTRY, *PRESETS])}; tasks: "
                     f"{', '.join(names())} or gym:<EnvId>" + (f"; presets: {', '.join(presets)}" if presets else ""))


def get(name: str, cfg: Config | None = None) -> Task:
    """The task called ``name`` (or the task of the preset called ``name``); ``cfg`` supplies task options
    (defaults when None)."""
    if not isinstance(name, str):
        raise TaskError(f"task name must be text, not {type(name).__name__}")
    if name.startswith(GYM_PREFIX):
        from .gym_task import gym_task

        return gym_task(name, fall_penalty=fall_penalty(cfg))
    entry = _REGISTRY.get(name)
    if entry is None:
        from ..config import PRESETS

        preset_task = PRESETS.get(name, {}).get("task")
        if preset_task is not None and preset_task != name:  # a preset names its task
            return get(preset_task, cfg)
        raise unknown_task(name)
    return entry.make(cfg)


def fall_penalty(cfg: Config | None) -> bool:
    return True if cfg is None else bool(getattr(cfg, "biped_fall_penalty", True))


def _swingup(cfg: Config | None) -> Task:
    from .swingup_task import SwingUpTask

    return SwingUpTask()


def _biped(cfg: Config | None) -> Task:
    from .gym_task import biped

    stall = 0 if cfg is None else int(getattr(cfg, "biped_stall_steps", 0))
    return biped(fall_penalty=fall_penalty(cfg), stall_steps=stall)


def _classify(name: str) -> Factory:
    def make(cfg: Config | None) -> Task:
        from .classify import ClassifyTask

        return ClassifyTask(name)

    return make


register("swingup", _swingup, "CartPoleSwingUp, the original's physics and reward (compiled kernel)")
register("biped", _biped, "BipedalWalker-v3 (gymnasium), 1600 steps")
register("digits", _classify("digits"), "sklearn 8x8 digits, 10 classes")
register("mnist256", _classify("mnist256"), "MNIST at 16x16, deskewed, 10 classes")


def _carracing(cfg: Config | None) -> Task:
    from .carracing import carracing

    return carracing(cfg)


register("carracing", _carracing, "CarRacing-v3 from pixels through a 16-dim ConvVAE encoder, 1000 steps")
