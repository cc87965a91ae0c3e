"""Task throughput: BipedalWalker raw env steps/s vs the search's steps/s, MNIST full-set passes, and the
per-generation cost of the ``mnist256`` preset (960 networks x 6 weights x one 1000-image batch) at about
128, 512 and 2,000 connections per network, with 1 and 2 threads.

    .venv/bin/python bench/bench_tasks.py [--repeats 3] [--skip-biped] [--skip-mnist] [--skip-generation]
                                          [--biped-cap 400] [--biped-stall 0]
    .venv/bin/python bench/bench_tasks.py --only-generation [--sizes 128,512,2000] [--pop 960] [--float64]

Prints medians over the repeats. The machine may be shared: the figures are wall-clock (CPU seconds beside them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from wann_engine.activations import CLASSIFY_HIDDEN, RL_HIDDEN
from wann_engine.config import STANDARD_WEIGHTS
from wann_engine.genome import HIDDEN, Genome, initial_genome
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


def bench_biped(repeats: int, cap: int = 400, stall: int = 0) -> None:
    """Raw and search runs interleaved, so that load from other processes hits both alike. ``cap``: the
    search's episode limit (1600 = the preset's); ``stall``: ``biped_stall_steps``. The search starts every
    episode on a fresh environment (``GymTask``: Box2D state), so it pays a fixed cost per episode that the raw
    loop (``reset`` only) does not; short episodes lower the ratio."""
    import gymnasium as gym

    from wann_engine.tasks.gym_task import biped

    print(f"== BipedalWalker-v3 == load average {os.getloadavg()[0]:.2f}")
    task = biped(stall_steps=stall)
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
        sc = task.score(nets, weights, (7, r), 1, cap, 1)
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
    print(f"search: 24 nets x 6 weights x 1 rep, cap {cap}, stall {stall}: {med(rates):7.0f} steps/s wall "
          f"({runs(rates)}), {med(rates_cpu):7.0f} per CPU-s; mean episode {med(lens):.0f} steps")
    print(f"ratio search / raw                        : {med(rates) / med(raw):7.2f} wall, "
          f"{med(rates_cpu) / med(raw_cpu):.2f} CPU")
    c0 = time.process_time()
    for i in range(40):
        env = gym.make("BipedalWalker-v3", disable_env_checker=True)
        env.reset(seed=i)
        env.close()
    print(f"fresh environment + reset, per episode    : {(time.process_time() - c0) / 40 * 1e3:7.2f} ms CPU; "
          f"load average {os.getloadavg()[0]:.2f}")


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


def grown_genome(g: Genome, target: int, rng: np.random.Generator, h_act, hidden_share: float = 0.4) -> Genome:
    """``g`` grown to about ``target`` enabled connections the way the search grows networks: hidden nodes
    split enabled connections (a -> h -> b, the old one disabled), then feed-forward connections are added
    between random positions (sources: bias, inputs, hidden; destinations: hidden, outputs)."""
    g = g.copy()
    have = int(g.conn_on.sum())
    n_new_hidden = max(0, int((target - have) * hidden_share))
    ids, types, acts = list(g.node_id), list(g.node_type), list(g.node_act)
    innov, src, dst, on = list(g.conn_innov), list(g.conn_src), list(g.conn_dst), list(g.conn_on)
    nid, iid = max(ids) + 1, max(innov) + 1
    for _ in range(n_new_hidden):
        live = [i for i in range(len(on)) if on[i]]
        c = live[int(rng.integers(len(live)))]
        on[c] = False
        ids.append(nid)
        types.append(HIDDEN)
        acts.append(h_act[int(rng.integers(len(h_act)))])
        innov += [iid, iid + 1]
        src += [src[c], nid]
        dst += [nid, dst[c]]
        on += [True, True]
        nid, iid = nid + 1, iid + 2
    g = Genome(np.array(ids, np.int64), np.array(types, np.int8), np.array(acts, np.int8), np.array(innov, np.int64),
               np.array(src, np.int64), np.array(dst, np.int64), np.array(on, bool))
    net = g.network()
    first_out = net.n_nodes - net.n_out
    pairs = {(int(a), int(b)) for a, b in zip(g.conn_src, g.conn_dst, strict=True)}
    new = []
    while len(new) < target - net.n_conns:
        d = int(rng.integers(net.n_in + 1, net.n_nodes))
        sp = int(rng.integers(0, min(d, first_out)))
        pair = (int(net.node_ids[sp]), int(net.node_ids[d]))
        if pair not in pairs:
            pairs.add(pair)
            new.append(pair)
    if new:
        a = np.array(new, np.int64)
        g = Genome(g.node_id, g.node_type, g.node_act, np.concatenate([g.conn_innov, iid + np.arange(len(a))]),
                   np.concatenate([g.conn_src, a[:, 0]]), np.concatenate([g.conn_dst, a[:, 1]]),
                   np.concatenate([g.conn_on, np.ones(len(a), bool)]))
    return g


def preset_population(target: int, count: int = 960, seed: int = 0) -> list:
    """The ``mnist256`` preset's initial population (256 inputs, 10 outputs, 5 % of connections enabled:
    about 128), grown to about ``target`` connections per network when ``target`` is larger."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        g = initial_genome(256, 10, rng, 0.05)
        out.append((grown_genome(g, target, rng, CLASSIFY_HIDDEN) if target > 140 else g).network())
    return out


def _float64_score(nets, weights, key, threads):
    """The float64 reference of the search's pass (same layout, double precision), one thread."""
    from wann_engine.netpack import pack
    from wann_engine.tasks.classify_data import batch_rows
    from wann_engine.tasks.classify_kernels import CHUNK, _mean_logp_shared, batch_inputs

    X, y = dataset("mnist256", "train")
    p = pack(nets)
    xs, yb = batch_inputs(X, y, batch_rows(key, 1, len(X)))
    out = np.zeros((len(nets), len(weights), 1))
    _mean_logp_shared(p.node_off, p.ptr, p.idx, p.act, p.n_in, p.n_out, xs, yb, weights, CHUNK, 0, len(nets), out)
    return out


def bench_generation(repeats: int, sizes: list[int], pop: int, float64: bool = False) -> None:
    """Per-generation cost of the mnist256 preset's scoring (one 1000-image batch, 6 weights) by network size;
    ``float64``: also the double-precision reference pass (1 thread) and the largest fitness difference."""
    print(f"== mnist256 generation: {pop} networks x 6 weights x 1000 images ==")
    task = get("mnist256")
    weights = np.asarray(STANDARD_WEIGHTS)
    task.score(preset_population(128, 2), weights, (0, 0), 1, 0, 1)  # compile and load outside the timing
    if float64:
        _float64_score(preset_population(128, 2), weights, (0, 0), 1)
    for size in sizes:
        nets = preset_population(size, pop, seed=size)
        conns = np.median([n.n_conns for n in nets])
        hidden = np.median([n.n_nodes - 267 for n in nets])
        runs = [("float32", t, task.score) for t in (1, 2)] + ([("float64", 1, None)] if float64 else [])
        for prec, threads, _ in runs:
            times, cpus = [], []
            for r in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                if prec == "float32":
                    task.score(nets, weights, (1, r), 1, 0, threads)
                else:
                    _float64_score(nets, weights, (1, r), threads)
                times.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            med, cpu = statistics.median(times), statistics.median(cpus)
            print(f"median {conns:5.0f} conns, {hidden:4.0f} hidden, {prec}, {threads} thread(s): {med:7.3f} s per "
                  f"generation wall ({', '.join(f'{t:.3f}' for t in times)}), {cpu:7.3f} s CPU", flush=True)
        if float64:
            a, b = task.score(nets, weights, (1, 0), 1, 0, 2).returns, _float64_score(nets, weights, (1, 0), 1)
            rel = np.abs(a - b) / np.maximum(1.0, np.abs(b))
            ra, rb = np.argsort(-a.mean((1, 2)), kind="stable"), np.argsort(-b.mean((1, 2)), kind="stable")
            top = len(nets) // 5
            print(f"  float32 vs float64 fitness: max |d| / max(1, |f|) = {rel.max():.1e}, median |d| = "
                  f"{np.median(np.abs(a - b)):.1e}, same ranking: {np.array_equal(ra, rb)}, same top fifth: "
                  f"{set(ra[:top]) == set(rb[:top])}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-biped", action="store_true")
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--skip-generation", action="store_true")
    ap.add_argument("--only-generation", action="store_true", help="only the mnist256 per-generation cost")
    ap.add_argument("--sizes", default="128,512,2000", help="connections per network for the generation cost")
    ap.add_argument("--pop", type=int, default=960)
    ap.add_argument("--float64", action="store_true", help="also time the float64 reference pass")
    ap.add_argument("--biped-cap", type=int, default=400, help="the search's biped episode limit (preset: 1600)")
    ap.add_argument("--biped-stall", type=int, default=0, help="biped_stall_steps for the search's episodes")
    args = ap.parse_args()
    if not args.skip_generation:
        bench_generation(args.repeats, [int(x) for x in args.sizes.split(",")], args.pop, args.float64)
    if args.only_generation:
        return
    if not args.skip_mnist:
        bench_mnist(args.repeats)
    if not args.skip_biped:
        bench_biped(args.repeats, args.biped_cap, args.biped_stall)


if __name__ == "__main__":
    main()
