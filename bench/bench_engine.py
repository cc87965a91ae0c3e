"""Engine benchmark: episode-step throughput, the env limit, ranking, and whole generations.

    python bench/bench_engine.py [--repeats 5] [--quick]

Prints medians (and min..max) over repeats. Live episode-steps count only steps of
episodes that have not ended. Targets: (a) >= 5,000,000 live steps/s on one core
with ~50-connection networks; (c) ranking at population 960 under 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from wann_engine.config import Config, preset
from wann_engine.genome import Genome, initial_genome
from wann_engine.netfile import read_any, read_out
from wann_engine.netpack import pack
from wann_engine.ranking import rank
from wann_engine.runner import Session
from wann_engine.tasks import swingup as su
from wann_engine.variation import Innovations, mutate

ROOT = Path(__file__).resolve().parents[1]
CHAMPION = ROOT / "tests" / "data" / "swing.out"  # the paper's champion, 52 connections
EVOLVED = ROOT / "bench" / "data" / "swing_238.json"  # a champion of a long default search, 238 connections
WEIGHTS = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0])


def med(xs: list[float]) -> str:
    return f"{statistics.median(xs):,.0f} (min {min(xs):,.0f}, max {max(xs):,.0f})"


def grown(base: Genome, conns: int, rng: np.random.Generator, inn: Innovations) -> Genome:
    """Grow ``base`` by structural mutations until it has about ``conns`` enabled connections."""
    g = base
    while g.network().n_conns < conns:
        g, _ = mutate(g, rng, inn, (0.6, 0.4, 0.0, 0.0), tuple(range(1, 11)))
    return g


def population(conns: int, rng: np.random.Generator) -> list:
    """192 networks of about ``conns`` connections that balance (so that most episodes last): the
    paper's champion (52) or an evolved 238-connection champion, each varied by one activation change,
    grown by random mutations only when asked for more connections than the base has."""
    base = read_any(EVOLVED, 5, 1) if conns >= 200 else read_out(CHAMPION, 5, 1)
    inn = Innovations(int(base.conn_innov.max()) + 1, int(base.node_id.max()) + 1)
    base = grown(base, conns, rng, inn)
    nets = []
    for _ in range(192):
        child, _ = mutate(base, rng, inn, (0.0, 0.0, 0.0, 1.0), tuple(range(1, 11)))
        nets.append(child.network())
    return nets


def bench_steps(nets: list, repeats: int) -> tuple[list[float], list[float], float]:
    """Live episode-steps/s by the wall clock and by the thread's CPU time (the second is steadier on a
    busy machine: it leaves out the time other processes had the core)."""
    packed = pack(nets)
    starts = su.initial_states(1, 3)
    su.rollouts(packed, WEIGHTS, starts, 1000, 0, 1)  # compile / load
    rates, cpu_rates, live_frac = [], [], 0.0
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        _, steps = su.rollouts(packed, WEIGHTS, starts, 1000)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        rates.append(steps.sum() / dt)
        cpu_rates.append(steps.sum() / max(dc, 1e-9))
        live_frac = steps.sum() / (len(nets) * 18 * 1000)
    return rates, cpu_rates, live_frac


def bench_env_only(repeats: int) -> list[float]:
    """Physics alone: networks with no connections (constant zero force) stepped by the same kernel."""
    rng = np.random.default_rng(0)
    empty = initial_genome(5, 1, rng, 0.0).network()
    packed = pack([empty] * 192)
    # starts near upright, so no episode leaves the track: every step is live
    starts = np.zeros((3, 4))
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, steps = su.rollouts(packed, WEIGHTS, starts, 1000)
        rates.append(steps.sum() / (time.perf_counter() - t0))
    return rates


def bench_ranking(repeats: int) -> list[float]:
    rng = np.random.default_rng(0)
    times = []
    for _ in range(max(repeats, 20)):
        obj = np.stack([rng.normal(300, 100, 960), 1.0 / rng.integers(1, 300, 960)], 1)
        t0 = time.perf_counter()
        rank(obj)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def bench_generations(threads: int, gens: int) -> dict[str, float]:
    """A real run (events, champion files, checkpoint every generation) from generation 0; later
    generations have bigger networks, so the figures are for the first ``gens`` generations."""
    cfg = Config.from_dict({**preset("swingup").to_dict(), "threads": threads, "maxGen": gens})
    with tempfile.TemporaryDirectory() as d, Session.create(Path(d), "bench", cfg) as session:
        runner = session.runner
        gen_times, eval_times, ckpt_times = [], [], []
        for _ in range(gens):
            t0 = time.perf_counter()
            ev = runner.step()
            t1 = time.perf_counter()
            runner.checkpoint()
            t2 = time.perf_counter()
            gen_times.append((t2 - t0) * 1e3)
            eval_times.append(ev["eval_time"] * 1e3)
            ckpt_times.append((t2 - t1) * 1e3)
    return {"gen_ms": statistics.median(gen_times), "eval_ms": statistics.median(eval_times),
            "other_ms": statistics.median(
                [g - e - c for g, e, c in zip(gen_times, eval_times, ckpt_times, strict=True)]),
            "ckpt_ms": statistics.median(ckpt_times), "conns": ev["conns_median"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer generations for (d)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    print("(a) one swing-up generation, population 192, 6 weights x 3 episodes, <= 1000 steps, one core")
    env_rates = bench_env_only(args.repeats)
    for conns in (50, 238):
        nets = population(conns, rng)
        c = statistics.median([n.n_conns for n in nets])
        rates, cpu_rates, live = bench_steps(nets, args.repeats)
        print(f"    ~{c:.0f} connections: {med(rates)} live episode-steps/s  ({live:.0%} of steps live)")
        print(f"        by CPU time: {med(cpu_rates)} live episode-steps/s")
        print(f"        ratio to the env-alone rate: {statistics.median(rates) / statistics.median(env_rates):.2f}")
    print(f"(b) env step rate alone (same kernel, empty networks): {med(env_rates)} steps/s")
    r = bench_ranking(args.repeats)
    print(f"(c) ranking, population 960: median {statistics.median(r):.2f} ms (min {min(r):.2f}, max {max(r):.2f})")
    gens = 10 if args.quick else 30
    for threads in (1, 2):
        g = bench_generations(threads, gens)
        print(f"(d) whole generation, swing-up preset (pop 192), {threads} thread(s), first {gens} gens: "
              f"median {g['gen_ms']:.0f} ms = evaluation {g['eval_ms']:.0f} + checkpoint {g['ckpt_ms']:.1f} "
              f"+ ranking/variation/events {g['other_ms']:.1f}  (median conns at the end {g['conns']:.0f})")


if __name__ == "__main__":
    main()
