"""Task registry: what a task is (sizes, names, episode limit) and how a population is scored on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..genome import Network


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


_REGISTRY: dict[str, Callable[[], Task]] = {}


def register(name: str, factory: Callable[[], Task]) -> None:
    _REGISTRY[name] = factory


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Task:
    if name not in _REGISTRY:
        raise TaskError(f"unknown task {name!r} (known: {', '.join(names())})")
    return _REGISTRY[name]()


def _swingup() -> Task:
    from .swingup_task import SwingUpTask

    return SwingUpTask()


register("swingup", _swingup)
