"""Task throughput: BipedalWalker raw env steps/s vs the search's steps/s, and MNIST full-set passes.

    .venv/bin/python bench/bench_tasks.py [--repeats 3] [--skip-biped] [--skip-mnist]

Prints medians over the repeats. The machine may be shared: the figures are wall-clock.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from wann_engine.activations import CLASSIFY_HIDDEN, RL_HIDDEN
from wann_engine.config import STANDARD_WEIGHTS
from wann_engine.genome import initial_genome
from wann_engine.tasks import get
from wann_engine.tasks.classify import dataset, outputs
from wann_engine.variation import Innovations, mutate


def population(n_in: int, n_out: int, count: int, p_enable: float, mutations: int, h_act, seed: int = 0):
    rng = np.random.default_rng(seed)
    inn = Innovations((n_in + 1) * n_out, 1 + n_in + n_out)
    nets = []
    for _ in range(count):
        g = initial_genome(n_in, n_out, rng, p_enable)
        for _ in range(mutations):
            g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), h_act)
        nets.append(g.network())
    return nets


def raw_biped(steps: int, seed: int) -> tuple[float, float, float]:
    """Random actions on one env: (steps per wall second incl. resets, per CPU second incl. resets,
    per wall second of env.step alone)."""
    import gymnasium as gym

    env = gym.make("BipedalWalker-v3", disable_env_checker=True)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    t_step = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        a = rng.uniform(-1, 1, 4).astype(np.float32)
        s0 = time.perf_counter()
        _, _, term, trunc, _ = env.step(a)
        t_step += time.perf_counter() - s0
        if term or trunc:
            env.reset(seed=int(rng.integers(2**31)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return steps / wall, steps / cpu, steps / t_step


def bench_biped(repeats: int) -> None:
    """Raw and search runs interleaved, so that load from other processes hits both alike."""
    print("== BipedalWalker-v3 ==")
    task = get("biped")
    weights = np.asarray(STANDARD_WEIGHTS)
    nets = population(24, 4, 24, 0.25, 6, RL_HIDDEN)
    task.score(nets[:2], weights[:1], (0, 0), 1, 20, 1)  # compile outside the timing
    raw, raw_cpu, raw_step, rates, rates_cpu, lens = [], [], [], [], [], []
    for r in range(repeats):
        a, b, c = raw_biped(6000, r)
        raw.append(a)
        raw_cpu.append(b)
        raw_step.append(c)
        t0, c0 = time.perf_counter(), time.process_time()
        sc = task.score(nets, weights, (7, r), 1, 400, 1)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rates.append(sc.steps / wall)
        rates_cpu.append(sc.steps / cpu)
        lens.append(sc.steps / sc.returns.size)
    med = statistics.median

    def runs(xs):
        return ", ".join(f"{x:.0f}" for x in xs)

    print(f"raw: 1 env, random actions, incl. resets  : {med(raw):7.0f} steps/s wall ({runs(raw)}), "
          f"{med(raw_cpu):7.0f} per CPU-s")
    print(f"raw: env.step alone                       : {med(raw_step):7.0f} steps/s wall")
    print(f"search: 24 nets x 6 weights x 1 rep, cap 400: {med(rates):7.0f} steps/s wall ({runs(rates)}), "
          f"{med(rates_cpu):7.0f} per CPU-s; mean episode {med(lens):.0f} steps")
    print(f"ratio search / raw                        : {med(rates) / med(raw):7.2f} wall, "
          f"{med(rates_cpu) / med(raw_cpu):.2f} CPU")


def net_with_conns(target: int, seed: int = 0):
    """A 256-in, 10-out network with about ``target`` connections and some hidden nodes."""
    rng = np.random.default_rng(seed)
    inn = Innovations(257 * 10, 267)
    g = initial_genome(256, 10, rng, (target - 40) / 2570)
    while g.network().n_conns < target:
        g, _ = mutate(g, rng, inn, (0.5, 0.5, 0.0, 0.0), CLASSIFY_HIDDEN)
    return g.network()


def bench_mnist(repeats: int) -> None:
    print("== mnist256 ==")
    t0 = time.perf_counter()
    xtr, _ = dataset("mnist256", "train")
    xte, _ = dataset("mnist256", "test")
    print(f"data load (cache or preprocess): {time.perf_counter() - t0:.2f} s")
    net = net_with_conns(1800)
    print(f"network: {net.n_conns} connections, {net.n_nodes - 267} hidden nodes, depth {net.depth.max()}")
    outputs(net, np.ones(1), xte[:10])  # compile outside the timing
    for name, x in (("train 60k", xtr), ("test 10k", xte)):
        for ws in ((1.0,), STANDARD_WEIGHTS):
            times, cpus = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                outputs(net, np.asarray(ws), x)
                times.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            med, cpu = statistics.median(times), statistics.median(cpus)
            print(f"{name}, {len(ws)} weight(s): {med * 1e3:8.1f} ms per pass wall, {cpu * 1e3:8.1f} ms CPU "
                  f"({len(x) * len(ws) / cpu / 1e6:.2f} M image-evaluations per CPU-s)")
    task = get("mnist256")
    pop = population(256, 10, 64, 0.05, 8, CLASSIFY_HIDDEN)
    task.score(pop[:1], np.ones(1), (0, 0), 1, 0, 1)
    times, cpus = [], []
    for r in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        task.score(pop, np.asarray(STANDARD_WEIGHTS), (0, r), 1, 0, 1)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    med, cpu = statistics.median(times), statistics.median(cpus)
    conns = np.median([n.n_conns for n in pop])
    print(f"search scoring: 64 nets (median {conns:.0f} conns) x 6 weights x 1000 images, 1 thread: "
          f"{med:.3f} s wall, {cpu:.3f} s CPU ({cpu / 64 * 1e3:.2f} ms CPU per network)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-biped", action="store_true")
    ap.add_argument("--skip-mnist", action="store_true")
    args = ap.parse_args()
    if not args.skip_mnist:
        bench_mnist(args.repeats)
    if not args.skip_biped:
        bench_biped(args.repeats)


if __name__ == "__main__":
    main()
