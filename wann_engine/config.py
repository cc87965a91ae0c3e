"""Typed run configuration: the original hyperparameters (same names) plus this project's options.

Presets reproduce the original ``p/*.json`` values. The tournament is a plain
tournament of ``select_tournSize``; the presets double the original sizes so that
selection pressure matches (the original took the best of two tournaments).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

STANDARD_WEIGHTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


@dataclass
class Config:
    task: str = "swingup"
    maxGen: int = 1024
    popSize: int = 192
    alg_nReps: int = 3
    alg_probMoo: float = 0.8
    prob_crossover: float = 0.0
    prob_mutAct: float = 0.5
    prob_addNode: float = 0.25
    prob_addConn: float = 0.2
    prob_enable: float = 0.05
    prob_initEnable: float = 0.5
    select_cullRatio: float = 0.2
    select_eliteRatio: float = 0.2
    select_tournSize: int = 16
    save_mod: int = 8
    bestReps: int = 20  # read so that the original's configs load; re-tests use retest_top / retest_reps
    # --- this project's options ---
    seed: int = 0
    weights: tuple[float, ...] = STANDARD_WEIGHTS
    h_act: tuple[int, ...] = tuple(range(1, 11))
    out_act: int = 1
    max_steps: int = 0  # 0 = the task's own episode limit
    checkpoint_every: int = 0  # generations between checkpoints; 0 = by time (checkpoint_seconds)
    checkpoint_seconds: float = 10.0
    workers: int = 1
    threads: int = 0  # evaluation threads in one process; 0 = all cores
    # the original's tournament: two of select_tournSize/2 (the presets' sizes are the original's doubled), the
    # better winner is the parent; the same best-of-select_tournSize pressure as the default single tournament
    tourn_original: bool = False
    crowding_original: bool = False  # the original's crowding-distance normalisation
    keep_disabled_hidden: bool = False  # the original's disabled hidden->hidden bug
    # The honest champion: each generation the retest_top best raw means of the first Pareto front are scored
    # again on retest_reps fresh episodes per shared weight (episode seeds disjoint from the search's); the
    # champion is the best re-tested network, its score that re-test. 0 = no re-test: the champion is the best
    # raw (alg_nReps-episode) mean, as in the original. Re-tests never change the search itself.
    retest_top: int = 2
    retest_reps: int = 20
    # Only networks with at most this many connections are re-tested, so the champion is the best network of
    # that size or smaller (the paper reports its champions' sizes); 0 = any size. The search is unchanged.
    champion_max_conns: int = 0
    # Island populations (search.Search._breed): the population split into `islands` equal, contiguous
    # sub-populations, each ranked, culled, elitism-kept and tournament-selected on its own (scoring stays one batch).
    # Every migrate_every generations each island's migrate_n best (by the generation's ranking) are copied into
    # the next island of a ring, replacing its migrate_n worst. 1 = one population, as the original.
    islands: int = 1
    migrate_every: int = 20
    migrate_n: int = 2
    # Restart an island (the whole population when islands=1) whose best raw mean has not improved for
    # restart_stall generations: its top migrate_n (1 when islands=1) are kept, the rest are fresh initial
    # networks. 0 = never.
    restart_stall: int = 0
    # True: a restarted island keeps none of its members, an independent fresh start (the run's re-tested
    # champion is kept apart from the population, so nothing found is lost); False: its leaders are kept.
    restart_fresh: bool = False
    # BipedalWalker: True = gymnasium's score (-100 when the hull falls or the walker leaves the left edge);
    # False = no fall penalty, as the original WANN code scored it (that step earns its shaping reward instead)
    biped_fall_penalty: bool = True
    # BipedalWalker, search scoring only: end an episode once the hull has gone this many steps without getting
    # more than gym_task.STALL_DISTANCE beyond the farthest point it had reached (0 = off: episodes as shipped).
    # Re-tests, eval, protocol and playback always run gymnasium's episodes as shipped.
    biped_stall_steps: int = 0
    # CarRacing, search scoring only: end an episode once the car has gone this many steps without visiting a
    # new track tile; the frames it did not run are charged their -0.1 time penalty (0 = off: as shipped).
    carracing_stall_steps: int = 0

    def validate(self) -> Config:
        def need(cond: bool, key: str, why: str) -> None:
            if not cond:
                raise ConfigError(f"{key}={getattr(self, key)!r}: {why}")

        need(self.maxGen >= 1, "maxGen", "must be at least 1")
        need(self.popSize >= 2, "popSize", "must be at least 2")
        need(self.alg_nReps >= 1, "alg_nReps", "must be at least 1")
        for key in ("alg_probMoo", "prob_crossover", "prob_initEnable", "select_cullRatio", "select_eliteRatio"):
            need(0.0 <= getattr(self, key) <= 1.0, key, "must be between 0 and 1")
        probs = (self.prob_addConn, self.prob_addNode, self.prob_enable, self.prob_mutAct)
        for key, p in zip(("prob_addConn", "prob_addNode", "prob_enable", "prob_mutAct"), probs, strict=True):
            need(p >= 0.0 and math.isfinite(p), key, "must be a finite number >= 0")
        need(sum(probs) > 0, "prob_mutAct", "the four mutation weights must not all be 0")
        need(self.select_cullRatio < 1.0, "select_cullRatio", "must leave at least one parent")
        need(self.select_tournSize >= 1, "select_tournSize", "must be at least 1")
        need(not self.tourn_original or self.select_tournSize % 2 == 0, "select_tournSize",
             "must be even with tourn_original=true (two tournaments of half the size each)")
        need(self.save_mod >= 1, "save_mod", "must be at least 1")
        need(len(self.weights) >= 1, "weights", "needs at least one shared weight")
        need(all(math.isfinite(w) for w in self.weights), "weights", "must be finite numbers")
        need(len(self.h_act) >= 1 and all(1 <= a <= 11 for a in self.h_act), "h_act", "ids must be in 1..11")
        need(1 <= self.out_act <= 11, "out_act", "must be an activation id in 1..11")
        need(self.max_steps >= 0, "max_steps", "must be >= 0")
        need(self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0 = every checkpoint_seconds)")
        need(self.checkpoint_seconds > 0, "checkpoint_seconds", "must be > 0")
        need(self.workers >= 1, "workers", "must be at least 1")
        need(self.threads >= 0, "threads", "must be >= 0")
        need(self.retest_top >= 0, "retest_top", "must be >= 0 (0 = no re-test)")
        need(self.retest_reps >= 1, "retest_reps", "must be at least 1")
        need(self.champion_max_conns >= 0, "champion_max_conns", "must be >= 0 (0 = any size)")
        need(self.islands >= 1, "islands", "must be at least 1 (1 = one population)")
        need(self.popSize % self.islands == 0, "popSize",
             f"must be a multiple of islands={self.islands} (islands are of equal size)")
        need(self.popSize // self.islands >= 2, "islands", f"leaves fewer than 2 individuals per island "
             f"(popSize={self.popSize})")
        need(self.migrate_every >= 1, "migrate_every", "must be at least 1")
        need(self.migrate_n >= 1, "migrate_n", "must be at least 1")
        need(self.islands == 1 or self.migrate_n < self.popSize // self.islands, "migrate_n",
             f"must be less than an island's size (popSize/islands = {self.popSize // self.islands})")
        need(self.restart_stall >= 0, "restart_stall", "must be >= 0 (0 = never)")
        need(self.biped_stall_steps >= 0, "biped_stall_steps", "must be >= 0 (0 = off)")
        need(self.carracing_stall_steps >= 0, "carracing_stall_steps", "must be >= 0 (0 = off)")
        need(0 <= self.seed < 2**63, "seed", "must be a non-negative integer")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["weights"] = list(self.weights)
        d["h_act"] = list(self.h_act)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, ignore_unknown: bool = False) -> Config:
        """The config ``d`` holds; a key this engine does not know is refused unless ``ignore_unknown``
        (reading, not running, a run that a newer engine wrote)."""
        if not isinstance(d, dict):
            raise ConfigError(f"a config is a JSON object of key: value pairs, not {_kind(d)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown and not ignore_unknown:
            raise ConfigError(f"unknown config key {unknown[0]!r}")
        cfg = cls()
        for k, v in d.items():
            if k in known:
                setattr(cfg, k, _coerce(k, v))
        return cfg.validate()

    def with_overrides(self, pairs: list[str]) -> Config:
        """Apply ``key=value`` strings (the CLI's ``--set``)."""
        d = self.to_dict()
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"--set {pair!r}: expected key=value")
            if key not in d:
                raise ConfigError(f"--set {pair!r}: unknown key {key!r} (see `wann-engine presets`)")
            d[key] = _parse_text(key, value.strip())
        return Config.from_dict(d)


_TYPES = {f.name: f.type for f in fields(Config)}


def _coerce(key: str, v: Any) -> Any:
    t = _TYPES[key]
    try:
        if t == "int":
            if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
                raise ValueError
            return _int64(key, int(v))
        if t == "float":
            if isinstance(v, bool) or isinstance(v, (list, dict, tuple)):
                raise ValueError
            return float(v)
        if t == "bool":
            if not isinstance(v, bool):
                raise ValueError
            return v
        if t == "str":
            if not isinstance(v, str):
                raise ValueError
            return v
        if t == "tuple[float, ...]":
            if isinstance(v, str) or any(isinstance(x, bool) for x in v):
                raise ValueError
            return tuple(float(x) for x in v)
        if t == "tuple[int, ...]":
            if isinstance(v, str) or any(isinstance(x, bool) or (isinstance(x, float) and not x.is_integer())
                                         for x in v):
                raise ValueError
            return tuple(_int64(key, int(x)) for x in v)
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}={_short(v)}: expected {t}") from None
    raise ConfigError(f"{key}: unsupported type {t}")


def _int64(key: str, v: int) -> int:
    """Every integer option ends up in numpy arrays or C code: past int64 is a clear error, not a crash."""
    if not INT64_MIN <= v <= INT64_MAX:
        raise ConfigError(f"{key}={_short(v)}: out of range (at most {INT64_MAX})")
    return v


def _kind(v: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(type(v), "a number")


def _short(v: Any) -> str:
    """A value for a message: long ones (a 300-digit number) cut to one readable piece."""
    text = repr(v)
    return text if len(text) <= 40 else text[:30] + f"... ({len(text)} characters)"


def _parse_text(key: str, text: str) -> Any:
    t = _TYPES[key]
    try:
        if t == "int":
            return _int64(key, int(text))
        if t == "float":
            return float(text)
        if t == "bool":
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if t.startswith("tuple"):
            items = [x for x in text.replace("[", "").replace("]", "").split(",") if x.strip()]
            return [float(x) if "float" in t else int(x) for x in items]
    except ConfigError:
        raise
    except ValueError:
        raise ConfigError(f"{key}={_short(text)}: expected {t}") from None
    return text


#: Options whose default is not what a run saved before the option existed did: a saved ``config.json``
#: without the key is read with this value (``rundir.read_config``), so an older run resumes as it ran.
OLDER_RUNS: dict[str, Any] = {"retest_top": 0}


#: Task presets: the original p/*.json values, with plain tournaments of twice the size.
PRESETS: dict[str, dict[str, Any]] = {
    "swingup": dict(task="swingup", maxGen=1024, popSize=192, alg_nReps=3, prob_initEnable=0.5,
                    select_eliteRatio=0.2, select_tournSize=16),
    "laptop_swing": dict(task="swingup", maxGen=1024, popSize=64, alg_nReps=3, prob_initEnable=0.5,
                         select_eliteRatio=0.05, select_tournSize=8),
    "biped": dict(task="biped", maxGen=2048, popSize=480, alg_nReps=4, prob_initEnable=0.25,
                  select_eliteRatio=0.2, select_tournSize=32),
    "mnist256": dict(task="mnist256", maxGen=4096, popSize=960, alg_nReps=1, prob_initEnable=0.05,
                     select_eliteRatio=0.2, select_tournSize=64, h_act=(1, 3, 4, 5, 6, 7, 8, 9, 10)),
    "digits": dict(task="digits", maxGen=4096, popSize=960, alg_nReps=1, prob_initEnable=0.05,
                   select_eliteRatio=0.2, select_tournSize=64, h_act=(1, 3, 4, 5, 6, 7, 8, 9, 10)),
    "carracing": dict(task="carracing", maxGen=1024, popSize=64, alg_nReps=2, prob_initEnable=0.5,
                      select_eliteRatio=0.2, select_tournSize=16),  # the original vaeRacer
}


def preset(name: str) -> Config:
    if name not in PRESETS:
        from .tasks import did_you_mean

        raise ConfigError(f"unknown preset {name!r}{did_you_mean(name, PRESETS)} (known: {', '.join(PRESETS)})")
    return Config.from_dict(dict(PRESETS[name]))



def for_run(task: str = "swingup", pop: int | None = None, gens: int | None = None, seed: int = 0,
            workers: int = 1, threads: int = 0, overrides: Sequence[str] = (), base: Config | None = None) -> Config:
    """The configuration of a new run, checked: ``base`` (a config file) or the task's preset (a bare
    ``{"task": task}`` for other tasks), then the options, then the ``key=value`` overrides.

    The one place where a run's options are resolved and validated: ``wann-engine run``, the console's
    new-run form and ``wann-tui --batch`` (through ``control.LaunchSpec``) all come here.
    """
    if base is None:
        base = preset(task) if task in PRESETS else Config.from_dict({"task": task})
    d = base.to_dict()
    if pop is not None:
        d["popSize"] = pop
    if gens is not None:
        d["maxGen"] = gens
    d.update(seed=seed, workers=workers, threads=threads)
    return Config.from_dict(d).with_overrides(list(overrides))
