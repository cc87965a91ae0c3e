"""The WANN search as ask/tell: ``ask()`` gives the networks of a generation, ``tell()`` their scores.

All randomness comes from one generator seeded by the run seed; episode start
states come from (seed, generation, rep) alone. Its whole state round-trips
through ``to_state``/``from_state`` (JSON-safe), so a resumed search continues
exactly as if it had never stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ranking
from .config import Config
from .events import number as _decode_number
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
    retested: np.ndarray | None = None  # indices of the networks re-tested this generation, best raw mean first
    retest_means: np.ndarray | None = None  # their re-tested means (over weights and retest_reps episodes)
    champion_changed: bool = False  # the re-tested champion changed (or, re-test off, the best-ever)
    restarted: tuple[int, ...] = ()  # islands re-seeded in this generation (config restart_stall)


class Search:
    """The WANN search of one run, generation by generation: ``ask`` breeds (or, at first, creates) the
    population and returns its networks; ``tell`` takes their returns and updates scores and best-ever.

    Owns the run's one random generator, the innovation counters and the best network so far. It does
    no scoring and no I/O: a :class:`~wann_engine.runner.Runner` scores what ``ask`` returns and saves
    ``to_state()`` as the checkpoint. ``undo_ask`` takes back an ``ask`` whose generation was abandoned
    (a stop during scoring), so the state is again that of the last complete generation.

    With ``islands`` > 1 the population is split into equal contiguous islands (:meth:`island_spans`) that
    are bred apart and exchange leaders every ``migrate_every`` generations; with ``restart_stall`` a
    stalled island is re-seeded (:meth:`_breed`). Scoring, re-tests and the champion see one population.
    """

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
        # the champion: the best re-tested network so far (see retest_plan); None until the first re-test
        self.champ: Genome | None = None
        self.champ_mean = -np.inf
        self.champ_per_weight: np.ndarray | None = None
        self.champ_gen = -1
        self.champ_seed = 0
        self.champ_raw_mean = float("nan")
        self._pending_breed = False  # True between tell() and the next ask()
        self._before_ask: tuple[Any, ...] | None = None
        # islands (see _breed): island k is pop[k * size : (k + 1) * size]. Tracked when islands > 1 or restarts
        # are on: each island's best raw mean since its last restart, and generations since it last improved.
        self.islands = cfg.islands
        self.tracks_islands = cfg.islands > 1 or cfg.restart_stall > 0
        self.island_best = np.full(cfg.islands, -np.inf)
        self.island_stall = np.zeros(cfg.islands, dtype=np.int64)
        self.restarted: list[int] = []  # islands re-seeded by the last ask

    # --- ask / tell -------------------------------------------------------------------------
    def ask(self, should_stop: Callable[[], bool] | None = None) -> list[Network]:
        """The networks of the next generation. ``should_stop`` is looked at every few hundred genomes (a
        huge population takes seconds to make): when it says True, :class:`tasks.Interrupted` is raised
        and the search is as before the call."""
        # breeding replaces the list and copies parents: keeping the old list is a complete undo record
        self._before_ask = (self.rng.bit_generator.state, self.pop, self._pending_breed,
                            self.inn.next_innov, self.inn.next_node, self.last_moo,
                            self.island_best.copy(), self.island_stall.copy(), self.restarted)
        self.restarted = []
        check = _Checker(should_stop, self)
        if not self.pop:
            pop = []
            for _ in range(self.cfg.popSize):
                check()
                pop.append(initial_genome(self.n_in, self.n_out, self.rng, self.cfg.prob_initEnable,
                                          self.cfg.out_act))
            self.pop = pop
        elif self._pending_breed:
            self.pop = self._breed(check)
        self._pending_breed = False
        nets = []
        for g in self.pop:
            check()
            nets.append(g.network(self.cfg.keep_disabled_hidden))
        return nets

    def undo_ask(self) -> None:
        """Return to the state before the last ``ask`` (its generation will not be told); once undone,
        or before any ``ask``, nothing to do."""
        if self._before_ask is None:
            return
        (rng_state, self.pop, self._pending_breed, next_innov, next_node, self.last_moo,
         self.island_best, self.island_stall, self.restarted) = self._before_ask
        self.rng.bit_generator.state = rng_state
        self.inn = Innovations(next_innov, next_node)
        self._before_ask = None

    def eval_key(self) -> tuple[int, int]:
        """Seeds the episode starts of the current generation."""
        return (self.cfg.seed, self.gen)

    def retest_plan(self, returns: np.ndarray) -> tuple[np.ndarray, int]:
        """Which networks of the current generation to re-test, and the episode seed to re-test them on.

        The networks: the ``retest_top`` best raw means of the first Pareto front (mean, connections),
        best first (only those of at most ``champion_max_conns`` connections when it is set: a dominator of
        such a network is no larger, so this is the first front of the networks of that size). The seed:
        :func:`retest_seed` of (run seed, generation), so ``wann-engine eval FILE --seed S --episodes
        retest_reps`` replays a re-test exactly. Pure: no random numbers are drawn,
        so the search itself is the same with or without re-tests."""
        k = self.cfg.retest_top
        if k <= 0 or not len(self.pop):
            return np.zeros(0, dtype=np.int64), 0
        mean = returns.mean(axis=(1, 2))
        ok = np.isfinite(mean)
        conns = np.array([g.network(self.cfg.keep_disabled_hidden).n_conns for g in self.pop])
        m = np.where(ok, mean, -np.inf)
        front = np.flatnonzero(ranking.fronts(ranking.objectives(m, m, conns, False)) == 0)
        front = front[ok[front]]
        if self.cfg.champion_max_conns > 0:
            front = front[conns[front] <= self.cfg.champion_max_conns]
        pick = front[np.argsort(-mean[front], kind="stable")][:k]
        return pick.astype(np.int64), retest_seed(self.cfg.seed, self.gen)

    def tell(self, returns: np.ndarray, retest: tuple[np.ndarray, np.ndarray, int] | None = None) -> Stats:
        """``returns``: (pop, weights, reps) episode returns of the networks from ``ask()``; ``retest``:
        (indices, (len(indices), weights, retest_reps) returns, seed) of :meth:`retest_plan`'s networks."""
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
        if self.tracks_islands:
            self._track_islands(mean)
        stats = Stats(self.gen, mean, peak, per_weight, conns, nodes, changed, restarted=tuple(self.restarted))
        if retest is not None and len(retest[0]):
            idx, rt, seed = retest
            rt_per_weight = rt.mean(axis=2)
            rt_mean = rt_per_weight.mean(axis=1)
            stats.retested, stats.retest_means = idx, rt_mean
            j = int(np.argmax(np.where(np.isnan(rt_mean), -np.inf, rt_mean)))
            if rt_mean[j] > self.champ_mean:
                self.champ = self.pop[int(idx[j])].copy()
                self.champ_mean = float(rt_mean[j])
                self.champ_per_weight = rt_per_weight[j].copy()
                self.champ_gen, self.champ_seed = self.gen, int(seed)
                self.champ_raw_mean = float(mean[int(idx[j])])
                stats.champion_changed = True
        elif self.cfg.retest_top <= 0:
            stats.champion_changed = changed
        self.gen += 1
        self._pending_breed = True
        return stats

    # --- reproduction -----------------------------------------------------------------------
    def island_spans(self) -> list[slice]:
        """Where each island sits in the population: island k is ``pop[k * size : (k + 1) * size]``
        (config ``islands``; one span, the whole population, by default)."""
        size = self.cfg.popSize // self.islands
        return [slice(k * size, (k + 1) * size) for k in range(self.islands)]

    def island_of(self) -> np.ndarray:
        """The island of each individual, in population order."""
        return np.arange(self.cfg.popSize) // (self.cfg.popSize // self.islands)

    def _breed(self, check: Callable[[], None] = lambda: None) -> list[Genome]:
        """The next population. Each island is ranked (on the objectives drawn for this generation),
        culled, elitism-kept and tournament-selected on its own; before that, every ``migrate_every``
        generations, islands exchange their leaders (:meth:`_migrate`), and a stalled island is re-seeded
        instead of bred (:meth:`_restart`). With one island and no restarts this is the original's step."""
        cfg = self.cfg
        pop = list(self.pop)
        per_weight = self.fitness
        mean = per_weight.mean(axis=1)
        peak = per_weight.max(axis=1)
        conns = np.array([g.network(cfg.keep_disabled_hidden).n_conns for g in pop])
        use_peak = not (self.rng.random() < cfg.alg_probMoo)
        self.last_moo = "mean_peak" if use_peak else "mean_conns"
        obj = ranking.objectives(mean, peak, conns, use_peak)
        spans = self.island_spans()
        ranks = [ranking.rank(obj[s], cfg.crowding_original) for s in spans]
        if len(spans) > 1 and self.gen % cfg.migrate_every == 0:
            self._migrate(pop, obj, ranks, spans)
        new: list[Genome] = []
        for k, s in enumerate(spans):
            order = s.start + np.argsort(ranks[k], kind="stable")
            if cfg.restart_stall and self.island_stall[k] >= cfg.restart_stall:
                new.extend(self._restart(k, pop, obj, order, check))
            else:
                new.extend(self._select(pop, order, check))
        return new

    def _select(self, pop: list[Genome], order: np.ndarray, check: Callable[[], None]) -> list[Genome]:
        """One island's (or the population's) next members: ``order`` holds its indices best rank first;
        the worst ``select_cullRatio`` are culled, the best ``select_eliteRatio`` of the rest kept, and the
        other places filled by mutated tournament winners."""
        cfg = self.cfg
        n = len(order)
        pool = order[: n - int(np.floor(cfg.select_cullRatio * n))]
        m = len(pool)
        n_elite = int(np.floor(m * cfg.select_eliteRatio))
        children = n - n_elite
        winners = tournament(self.rng, m, children, cfg.select_tournSize, cfg.tourn_original)
        probs = (cfg.prob_addConn, cfg.prob_addNode, cfg.prob_enable, cfg.prob_mutAct)
        new = [pop[i] for i in pool[:n_elite]]
        for w in winners.tolist():
            check()
            child, _ = mutate(pop[pool[w]], self.rng, self.inn, probs, cfg.h_act, cfg.keep_disabled_hidden)
            new.append(child)
        return new

    @staticmethod
    def _leaders(order: np.ndarray, obj: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` best of an island: its best raw mean first (the ranking puts it among the first
        front's ends, tied at infinite crowding distance with the other end), then the ranking's order."""
        mean = np.where(np.isnan(obj[order, 0]), -np.inf, obj[order, 0])
        top = order[int(np.argmax(mean))]
        return np.concatenate([[top], order[order != top]])[:n]

    def _migrate(self, pop: list[Genome], obj: np.ndarray, ranks: list[np.ndarray], spans: list[slice]) -> None:
        """Each island's ``migrate_n`` leaders (:meth:`_leaders`) are copied, with their scores of this
        generation, over the ``migrate_n`` worst-ranked members of the next island in the ring (all chosen
        before any is replaced); ``pop``, ``obj`` and ``ranks`` are updated in place."""
        n, k_all = self.cfg.migrate_n, len(spans)
        orders = [s.start + np.argsort(r, kind="stable") for s, r in zip(spans, ranks, strict=True)]
        leaders = [self._leaders(o, obj, n) for o in orders]
        moving = [([pop[i].copy() for i in idx], obj[idx].copy()) for idx in leaders]
        for k in range(k_all):
            dst = (k + 1) % k_all
            worst = orders[dst][::-1][:n]
            genomes, rows = moving[k]
            for i, g in zip(worst.tolist(), genomes, strict=True):
                pop[i] = g
            obj[worst] = rows
        for k, s in enumerate(spans):
            ranks[k] = ranking.rank(obj[s], self.cfg.crowding_original)

    def _restart(self, k: int, pop: list[Genome], obj: np.ndarray, order: np.ndarray,
                 check: Callable[[], None]) -> list[Genome]:
        """Island ``k`` re-seeded: its leaders kept (``migrate_n`` of them, 1 with a single island; none with
        ``restart_fresh``), every other place a fresh initial network drawn as in generation 0; its stall
        count and best restart."""
        cfg = self.cfg
        keep = 0 if cfg.restart_fresh else cfg.migrate_n if self.islands > 1 else 1
        new = [pop[i] for i in self._leaders(order, obj, keep).tolist()]
        for _ in range(len(order) - keep):
            check()
            new.append(initial_genome(self.n_in, self.n_out, self.rng, cfg.prob_initEnable, cfg.out_act))
        self.island_best[k] = -np.inf
        self.island_stall[k] = 0
        self.restarted.append(k)
        return new

    def _track_islands(self, mean: np.ndarray) -> None:
        """After a generation is told: each island's best raw mean, and how long since it improved."""
        m = np.where(np.isnan(mean), -np.inf, mean)
        for k, s in enumerate(self.island_spans()):
            top = float(m[s].max())
            if top > self.island_best[k]:
                self.island_best[k] = top
                self.island_stall[k] = 0
            else:
                self.island_stall[k] += 1

    @staticmethod
    def memory_estimate(cfg: Config, n_in: int, n_out: int) -> int:
        """Bytes the search needs at its start (it grows as networks do): per individual about 3.3 kB of
        genome and network objects plus ~36 B per initial connection (measured: 3.3 kB swing-up, 7 kB
        biped, 90 kB mnist256), its scores, and one tournament row of draws for each child."""
        conns = (n_in + 1) * n_out
        per = 3300 + 36 * conns + 24 * len(cfg.weights) * cfg.alg_nReps + 8 * cfg.select_tournSize
        return int(cfg.popSize) * per

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
            **({} if self.champ is None else {"champion": {  # absent until the first re-test (and without)
                "genome": self.champ.to_dict(), "mean": self.champ_mean,
                "per_weight": self.champ_per_weight.tolist(), "gen": self.champ_gen,
                "seed": str(self.champ_seed), "raw_mean": self.champ_raw_mean}}),
            **({} if not self.tracks_islands else {"islands": {  # only with islands > 1 or restarts
                "count": self.islands, "best": self.island_best.tolist(), "stall": self.island_stall.tolist()}}),
        }

    @classmethod
    def from_state(cls, cfg: Config, n_in: int, n_out: int, st: Any) -> Search:
        """The search saved by ``to_state``, checked completely first: any field of the wrong type, size or
        range raises ValueError naming it (so a damaged checkpoint is refused before anything is touched)."""
        c = _StateCheck(cfg, n_in, n_out)
        st = c.mapping(st, "search")
        s = cls(cfg, n_in, n_out)
        s.gen = c.integer(st, "gen", 0)
        r = c.mapping(st.get("rng"), "rng")
        if r.get("bit_generator") != "PCG64":
            raise ValueError(f"rng.bit_generator: expected 'PCG64', found {_short(r.get('bit_generator'))}")
        rs = c.mapping(r.get("state"), "rng.state")
        s.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {k: c.big(rs, k, 128, "rng.state.") for k in ("state", "inc")},
            "has_uint32": c.integer(r, "has_uint32", 0, 1, "rng."),
            "uinteger": c.big(r, "uinteger", 32, "rng."),
        }
        pb = st.get("pending_breed")
        if not isinstance(pb, bool):
            raise ValueError(f"pending_breed: expected true or false, found {_short(pb)}")
        s._pending_breed = pb
        pop = st.get("pop")
        if not isinstance(pop, list):
            raise ValueError(f"pop: expected a list of genomes, found {_short(pop)}")
        if len(pop) != cfg.popSize and not (s.gen == 0 and not pop):  # gen 0: not yet asked
            raise ValueError(f"checkpoint holds {len(pop)} individuals, config says popSize={cfg.popSize}")
        s.pop = [c.genome(g, f"pop[{i}]") for i, g in enumerate(pop)]
        s.fitness = c.numbers(st, "fitness", (len(s.pop), len(cfg.weights)), optional=True)
        if s._pending_breed and s.fitness is None:
            raise ValueError("fitness: missing, but the population waits to be bred from it")
        inn = c.mapping(st.get("innovations"), "innovations")
        s.inn = Innovations(c.integer(inn, "next_innov", 0, prefix="innovations."),
                            c.integer(inn, "next_node", 0, prefix="innovations."))
        best = st.get("best")
        s.best = None if best is None else c.genome(best, "best")
        s.best_mean = c.number(st, "best_mean")
        s.best_per_weight = c.numbers(st, "best_per_weight", (len(cfg.weights),), optional=True)
        if (s.best is None) != (s.best_per_weight is None):
            raise ValueError("best and best_per_weight: one is missing")
        s.best_gen = c.integer(st, "best_gen", -1, max(s.gen - 1, -1))
        s.evaluations = c.integer(st, "evaluations", 0)
        moo = st.get("last_moo")
        if moo not in ("mean_conns", "mean_peak"):
            raise ValueError(f"last_moo: expected 'mean_conns' or 'mean_peak', found {_short(moo)}")
        s.last_moo = moo
        ch = st.get("champion")  # absent in checkpoints written before re-tests: no champion yet
        if ch is not None:
            ch = c.mapping(ch, "champion")
            s.champ = c.genome(ch.get("genome"), "champion.genome")
            s.champ_mean = c.number(ch, "mean")
            s.champ_per_weight = c.numbers(ch, "per_weight", (len(cfg.weights),), optional=False)
            s.champ_gen = c.integer(ch, "gen", 0, max(s.gen - 1, 0), "champion.")
            s.champ_seed = c.big(ch, "seed", 63, "champion.")
            s.champ_raw_mean = c.number(ch, "raw_mean")
        isl = st.get("islands")
        if isl is None and s.tracks_islands:
            raise ValueError(f"islands: missing, but the config has islands={cfg.islands} and "
                             f"restart_stall={cfg.restart_stall}")
        if isl is not None:
            if not s.tracks_islands:
                raise ValueError("islands: present, but the config has islands=1 and restart_stall=0")
            isl = c.mapping(isl, "islands")
            c.integer(isl, "count", cfg.islands, cfg.islands, "islands.")
            s.island_best = c.numbers({"islands.best": isl.get("best")}, "islands.best", (cfg.islands,),
                                      optional=False)
            if np.isnan(s.island_best).any() or (s.island_best == np.inf).any():
                raise ValueError("islands.best: expected numbers or -Infinity")
            stall = isl.get("stall")
            if not isinstance(stall, list) or len(stall) != cfg.islands:
                raise ValueError(f"islands.stall: expected {cfg.islands} whole numbers")
            s.island_stall = np.array([c.integer({"stall": v}, "stall", 0, s.gen, "islands.") for v in stall],
                                      dtype=np.int64)
        for g, where in [(g, f"pop[{i}]") for i, g in enumerate(s.pop)] + ([(s.best, "best")] if s.best else []):
            if g.node_id.size and int(g.node_id.max()) >= s.inn.next_node:
                raise ValueError(f"{where}: node id {int(g.node_id.max())} is not below "
                                 f"innovations.next_node={s.inn.next_node}")
            if g.conn_innov.size and int(g.conn_innov.max()) >= s.inn.next_innov:
                raise ValueError(f"{where}: innovation {int(g.conn_innov.max())} is not below "
                                 f"innovations.next_innov={s.inn.next_innov}")
        return s


#: Mixed into the re-test seeds, so they are never the search's own episode keys.
RETEST_TAG = 0x7E7E57


def retest_seed(seed: int, gen: int) -> int:
    """The episode seed of generation ``gen``'s re-test: ``wann-engine eval --seed`` of this value runs the
    same episodes. A 63-bit number with bit 62 set: as an episode key ``[S, rep]`` its high word is at
    least 2**30, so it is never a search key ``[seed, gen, rep]`` (that would need gen >= 2**30), and it is
    never the run seed itself (the other possible overlap)."""
    v = int(np.random.SeedSequence([seed, gen, RETEST_TAG]).generate_state(1, np.uint64)[0])
    v = (v & (2**62 - 1)) | 2**62
    return v ^ 1 if v == seed else v


def tournament(rng: np.random.Generator, m: int, children: int, size: int, original: bool) -> np.ndarray:
    """Each child's parent: the best (lowest) rank of ``size`` uniform draws from the ``m`` ranked parents.

    ``size`` is the total: the presets hold twice the original's ``select_tournSize``. ``original``
    draws them as the original code did, two tournaments of ``size // 2`` whose winners meet (the same
    best-of-``size`` pressure, the draws in the original's order); otherwise one tournament of ``size``.
    """
    if original:
        half = max(size // 2, 1)
        a = rng.integers(m, size=(children, half)).min(axis=1)
        b = rng.integers(m, size=(children, half)).min(axis=1)
        return np.minimum(a, b)
    return rng.integers(m, size=(children, size)).min(axis=1)


class _Checker:
    """Calls ``should_stop`` once every ``EVERY`` calls; on True, undoes the ask and raises Interrupted."""

    EVERY = 256

    def __init__(self, should_stop: Callable[[], bool] | None, search: Search) -> None:
        self.should_stop, self.search, self.n = should_stop, search, 0

    def __call__(self) -> None:
        self.n += 1
        if self.should_stop is not None and self.n % self.EVERY == 0 and self.should_stop():
            from .tasks import Interrupted

            self.search.undo_ask()
            raise Interrupted("making the generation abandoned, a stop was asked for")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:30] + f"... ({len(text)} characters)"


class _StateCheck:
    """Typed reads of a saved search state; every failure is a ValueError naming the field."""

    def __init__(self, cfg: Config, n_in: int, n_out: int) -> None:
        self.cfg, self.n_in, self.n_out = cfg, n_in, n_out

    @staticmethod
    def mapping(v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise ValueError(f"{where}: expected an object, found {_short(v)}")
        return v

    @staticmethod
    def integer(d: dict[str, Any], key: str, lo: int, hi: int = 2**63 - 1, prefix: str = "") -> int:
        v = d.get(key)
        if type(v) is not int:
            raise ValueError(f"{prefix}{key}: expected a whole number, found {_short(v)}")
        if not lo <= v <= hi:
            raise ValueError(f"{prefix}{key}={_short(v)}: out of range {lo}..{hi}")
        return v

    @staticmethod
    def big(d: dict[str, Any], key: str, bits: int, prefix: str = "") -> int:
        """A ``bits``-bit unsigned integer written as a decimal string (JSON numbers lose precision)."""
        v = d.get(key)
        if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) <= 40:
            v = int(v)
        if type(v) is not int or not 0 <= v < 2**bits:
            raise ValueError(f"{prefix}{key}: expected a {bits}-bit unsigned integer, found {_short(d.get(key))}")
        return v

    @staticmethod
    def number(d: dict[str, Any], key: str) -> float:
        v = d.get(key)
        if isinstance(v, bool) or not (isinstance(v, (int, float)) or v in ("NaN", "Infinity", "-Infinity")):
            raise ValueError(f"{key}: expected a number, found {_short(v)}")
        try:
            return _decode_number(v)
        except OverflowError:
            raise ValueError(f"{key}: {_short(v)} is too large") from None

    def numbers(self, d: dict[str, Any], key: str, shape: tuple[int, ...], optional: bool) -> np.ndarray | None:
        v = d.get(key)
        if v is None and optional:
            return None
        flat: list[Any] = []
        rows = v if len(shape) == 2 else [v]
        width = shape[-1]
        if not isinstance(rows, list) or len(rows) != (shape[0] if len(shape) == 2 else 1):
            raise ValueError(f"{key}: expected {' x '.join(map(str, shape))} numbers")
        for row in rows:
            if not isinstance(row, list) or len(row) != width:
                raise ValueError(f"{key}: expected {' x '.join(map(str, shape))} numbers")
            flat.extend(row)
        out = np.empty(len(flat))
        for i, x in enumerate(flat):
            out[i] = self.number({key: x}, key)
        return out.reshape(shape)

    def genome(self, v: Any, where: str) -> Genome:
        from .netfile import NetworkFileError, genome_from_rows

        d = self.mapping(v, where)
        try:
            g = genome_from_rows(d.get("nodes"), d.get("conns"))
        except NetworkFileError as e:
            raise ValueError(f"{where}: {e}") from None
        if (g.n_in, g.n_out) != (self.n_in, self.n_out):
            raise ValueError(f"{where}: {g.n_in} inputs and {g.n_out} outputs, the task has {self.n_in} and "
                             f"{self.n_out}")
        return g
