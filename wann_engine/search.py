"""The WANN search as ask/tell: ``ask()`` gives the networks of a generation, ``tell()`` their scores.

All randomness comes from one generator seeded by the run seed; episode start
states come from (seed, generation, rep) alone. Its whole state round-trips
through ``to_state``/``from_state`` (JSON-safe), so a resumed search continues
exactly as if it had never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ranking
from .config import Config
from .genome import Genome, Network, initial_genome
from .variation import Innovations, mutate


@dataclass
class Stats:
    """What one generation's scores say; becomes the ``generation`` event."""

    gen: int
    mean: np.ndarray  # per individual: mean over weights and reps
    peak: np.ndarray  # per individual: best per-weight mean
    per_weight: np.ndarray  # (pop, weights): mean over reps
    conns: np.ndarray
    nodes: np.ndarray
    best_changed: bool


class Search:
    def __init__(self, cfg: Config, n_in: int, n_out: int) -> None:
        self.cfg = cfg
        self.n_in, self.n_out = n_in, n_out
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = 0
        self.pop: list[Genome] = []
        self.fitness: np.ndarray | None = None  # (pop, weights) of the last told generation
        self.inn = Innovations(next_innov=(n_in + 1) * n_out, next_node=1 + n_in + n_out)
        self.best: Genome | None = None
        self.best_mean = -np.inf
        self.best_per_weight: np.ndarray | None = None
        self.best_gen = -1
        self.evaluations = 0
        self.last_moo = "mean_conns"
        self._pending_breed = False  # True between tell() and the next ask()

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self) -> list[Network]:
        if not self.pop:
            self.pop = [
                initial_genome(self.n_in, self.n_out, self.rng, self.cfg.prob_initEnable, self.cfg.out_act)
                for _ in range(self.cfg.popSize)
            ]
        elif self._pending_breed:
            self.pop = self._breed()
        self._pending_breed = False
        return [g.network(self.cfg.keep_disabled_hidden) for g in self.pop]

    def eval_key(self) -> tuple[int, int]:
        """Seeds the episode starts of the current generation."""
        return (self.cfg.seed, self.gen)

    def tell(self, returns: np.ndarray) -> Stats:
        """``returns``: (pop, weights, reps) episode returns of the networks from ``ask()``."""
        per_weight = returns.mean(axis=2)
        self.fitness = per_weight
        mean = per_weight.mean(axis=1)
        peak = per_weight.max(axis=1)
        nets = [g.network(self.cfg.keep_disabled_hidden) for g in self.pop]
        conns = np.array([n.n_conns for n in nets])
        nodes = np.array([len(g.node_id) for g in self.pop])
        elite = int(np.nanargmax(np.where(np.isnan(mean), -np.inf, mean))) if len(mean) else 0
        changed = bool(mean[elite] > self.best_mean)
        if changed:
            self.best = self.pop[elite].copy()
            self.best_mean = float(mean[elite])
            self.best_per_weight = per_weight[elite].copy()
            self.best_gen = self.gen
        self.evaluations += len(self.pop)
        stats = Stats(self.gen, mean, peak, per_weight, conns, nodes, changed)
        self.gen += 1
        self._pending_breed = True
        return stats

    # --- reproduction -----------------------------------------------------------------------
    def _breed(self) -> list[Genome]:
        cfg = self.cfg
        per_weight = self.fitness
        mean = per_weight.mean(axis=1)
        peak = per_weight.max(axis=1)
        conns = np.array([g.network(cfg.keep_disabled_hidden).n_conns for g in self.pop])
        use_peak = not (self.rng.random() < cfg.alg_probMoo)
        self.last_moo = "mean_peak" if use_peak else "mean_conns"
        ranks = ranking.rank(ranking.objectives(mean, peak, conns, use_peak), cfg.crowding_original)
        order = np.argsort(ranks, kind="stable")
        n = len(self.pop)
        pool = order[: n - int(np.floor(cfg.select_cullRatio * n))]
        m = len(pool)
        n_elite = int(np.floor(m * cfg.select_eliteRatio))
        children = n - n_elite
        draws = cfg.select_tournSize * (2 if cfg.tourn_original else 1)
        winners = self.rng.integers(m, size=(children, draws)).min(axis=1)
        probs = (cfg.prob_addConn, cfg.prob_addNode, cfg.prob_enable, cfg.prob_mutAct)
        new = [self.pop[i] for i in pool[:n_elite]]
        for w in winners.tolist():
            child, _ = mutate(self.pop[pool[w]], self.rng, self.inn, probs, cfg.h_act, cfg.keep_disabled_hidden)
            new.append(child)
        return new

    # --- persistence ------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        bg = self.rng.bit_generator.state
        return {
            "gen": self.gen,
            "rng": {
                "bit_generator": bg["bit_generator"],
                "state": {k: str(v) for k, v in bg["state"].items()},
                "has_uint32": bg["has_uint32"],
                "uinteger": str(bg["uinteger"]),
            },
            "pending_breed": self._pending_breed,
            "pop": [g.to_dict() for g in self.pop],
            "fitness": None if self.fitness is None else self.fitness.tolist(),
            "innovations": {"next_innov": self.inn.next_innov, "next_node": self.inn.next_node},
            "best": None if self.best is None else self.best.to_dict(),
            "best_mean": self.best_mean,
            "best_per_weight": None if self.best_per_weight is None else self.best_per_weight.tolist(),
            "best_gen": self.best_gen,
            "evaluations": self.evaluations,
            "last_moo": self.last_moo,
        }

    @classmethod
    def from_state(cls, cfg: Config, n_in: int, n_out: int, st: dict[str, Any]) -> Search:
        s = cls(cfg, n_in, n_out)
        r = st["rng"]
        s.rng.bit_generator.state = {
            "bit_generator": r["bit_generator"],
            "state": {k: int(v) for k, v in r["state"].items()},
            "has_uint32": int(r["has_uint32"]),
            "uinteger": int(r["uinteger"]),
        }
        s.gen = int(st["gen"])
        s._pending_breed = bool(st["pending_breed"])
        s.pop = [Genome.from_dict(d) for d in st["pop"]]
        s.fitness = None if st["fitness"] is None else np.asarray(st["fitness"], dtype=np.float64)
        s.inn = Innovations(int(st["innovations"]["next_innov"]), int(st["innovations"]["next_node"]))
        s.best = None if st["best"] is None else Genome.from_dict(st["best"])
        s.best_mean = float(st["best_mean"])
        s.best_per_weight = None if st["best_per_weight"] is None else np.asarray(st["best_per_weight"], float)
        s.best_gen = int(st["best_gen"])
        s.evaluations = int(st["evaluations"])
        s.last_moo = str(st["last_moo"])
        if len(s.pop) != cfg.popSize and not (s.gen == 0 and not s.pop):  # gen 0: not yet asked
            raise ValueError(f"checkpoint holds {len(s.pop)} individuals, config says popSize={cfg.popSize}")
        return s
