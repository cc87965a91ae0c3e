"""Task registry: what a task is (sizes, names, episode limit) and how a population is scored on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..genome import Network

if TYPE_CHECKING:
    from ..config import Config


class TaskError(ValueError):
    """Unknown or unusable task."""


@dataclass(frozen=True)
class Scores:
    """Episode returns (networks, weights, reps) and the number of live environment steps taken."""

    returns: np.ndarray
    steps: int


class Task(Protocol):
    name: str
    n_inputs: int
    n_outputs: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    max_steps: int

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int, threads: int) -> Scores: ...


#: Factories take the run's Config (or None: defaults) for task options such as ``biped_fall_penalty``.
_REGISTRY: dict[str, Callable[[Config | None], Task]] = {}
GYM_PREFIX = "gym:"


def register(name: str, factory: Callable[[Config | None], Task]) -> None:
    _REGISTRY[name] = factory


def names() -> list[str]:
    """Registered task names; any ``gym:<EnvId>`` is accepted too."""
    return sorted(_REGISTRY)


def get(name: str, cfg: Config | None = None) -> Task:
    """The task called ``name``; ``cfg`` supplies task options (defaults when None)."""
    if name.startswith(GYM_PREFIX):
        from .gym_task import gym_task

        return gym_task(name, fall_penalty=_fall_penalty(cfg))
    if name not in _REGISTRY:
        raise TaskError(f"unknown task {name!r} (known: {', '.join(names())}, or gym:<EnvId>)")
    return _REGISTRY[name](cfg)


def _fall_penalty(cfg: Config | None) -> bool:
    return True if cfg is None else bool(getattr(cfg, "biped_fall_penalty", True))


def _swingup(cfg: Config | None) -> Task:
    from .swingup_task import SwingUpTask

    return SwingUpTask()


def _biped(cfg: Config | None) -> Task:
    from .gym_task import biped

    return biped(fall_penalty=_fall_penalty(cfg))


def _digits(cfg: Config | None) -> Task:
    from .classify import ClassifyTask

    return ClassifyTask("digits")


def _mnist256(cfg: Config | None) -> Task:
    from .classify import ClassifyTask

    return ClassifyTask("mnist256")


register("swingup", _swingup)
register("biped", _biped)
register("digits", _digits)
register("mnist256", _mnist256)
