"""Generation wall time with threads in one process versus MPI worker processes.

Each configuration is a real ``wann-engine run`` (own run directory, same seed); the
time of a generation is its ``gen_time`` event field, the first ``--skip`` generations
(start-up, compilation) left out. Configurations run in turns, ``--repeat`` rounds, so
background load hits them alike; "cores available" (a CPU-bound loop timed alone and two
at once, before and after) says how much of the machine the benchmark could get. All
configurations must give identical generations (checked). Configurations:

* ``t1``, ``t2``: one process, 1 or 2 evaluation threads (``--workers 1 --threads N``);
* ``mpi1``: rank 0 + 1 worker rank (mpiexec -n 2, started by hand: the CLI uses MPI from 2 workers);
* ``mpiN`` (N >= 2): ``--workers N`` (mpiexec -n N+1; N+1 above the core count is oversubscribed).

Examples::

    .venv/bin/python bench/bench_mpi.py                      # swing-up, pop 192, full episodes
    .venv/bin/python bench/bench_mpi.py --task biped --pop 32 --gens 3 --skip 1 --set alg_nReps=1
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wann_engine import mpi_launch  # noqa: E402


def command(conf: str, base: list[str]) -> tuple[list[str], dict[str, str]]:
    engine = [sys.executable, "-m", "wann_engine", "run", *base]
    if conf.startswith("t"):
        return engine + ["--workers", "1", "--threads", conf[1:]], dict(os.environ)
    n = int(conf[3:])
    if n >= 2:
        return engine + ["--workers", str(n)], dict(os.environ)
    return mpi_launch.command(1, engine[3:]), mpi_launch.environment(1)


def one(conf: str, args: argparse.Namespace, runs: Path, k: int) -> list[dict]:
    name = f"{conf}-{k}"
    base = ["--task", args.task, "--pop", str(args.pop), "--gens", str(args.gens), "--seed", str(args.seed),
            "--runs-dir", str(runs), "--name", name, "--quiet"]
    for s in args.set:
        base += ["--set", s]
    cmd, env = command(conf, base)
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    r1, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter() - t0
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime  # every process of the run, MPI ranks included
    events = [orjson.loads(x) for x in (runs / name / "events.jsonl").read_bytes().splitlines()]
    gens = [e for e in events if e["type"] == "generation"]
    print(f"  {name:10s} {wall:6.1f} s total, {cpu:6.1f} CPU s, generations "
          + " ".join(f"{g['gen_time']:.3f}" for g in gens), flush=True)
    return gens, cpu


_SPIN = "import time; t = time.perf_counter(); x = 0\nfor i in range(6_000_000): x += i\nprint(time.perf_counter() - t)"


def capacity() -> float:
    """Cores this benchmark can actually get now: a fixed CPU-bound loop timed alone, then two at once."""
    run = lambda: subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)  # noqa: E731
    alone = float(run().communicate()[0])
    pair = [run(), run()]
    both = max(float(p.communicate()[0]) for p in pair)
    return 2 * alone / both


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="swingup")
    ap.add_argument("--pop", type=int, default=192)
    ap.add_argument("--gens", type=int, default=12)
    ap.add_argument("--skip", type=int, default=2, help="leading generations left out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--configs", default="t1,t2,mpi1,mpi2,mpi4")
    ap.add_argument("--set", action="append", default=[], help="hyperparameter override key=value")
    args = ap.parse_args()
    confs = args.configs.split(",")
    load = os.getloadavg()
    print(f"{args.task} pop {args.pop}, {args.gens} generations (first {args.skip} skipped), {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} at start; cores available to us {capacity():.2f}", flush=True)
    times: dict[str, list[float]] = {c: [] for c in confs}
    cpus: dict[str, list[float]] = {c: [] for c in confs}
    stats: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            for c in confs:
                gens, cpu = one(c, args, Path(tmp), k)
                times[c] += [g["gen_time"] for g in gens[args.skip:]]
                cpus[c].append(cpu)
                stats[c] = [(g["fit_mean"], g["best_mean"], g["objectives"]) for g in gens]
    same = all(stats[c] == stats[confs[0]] for c in confs)
    print(f"\nidentical generations in every configuration: {'yes' if same else 'NO'}")
    print(f"load average at end {os.getloadavg()[0]:.2f}; cores available to us {capacity():.2f}\n")
    ref1 = statistics.median(times[confs[0]])
    print(f"{'config':8} {'median s/gen':>13} {'p25':>8} {'p75':>8} {'vs ' + confs[0]:>8} {'CPU s/run':>10}")
    for c in confs:
        t = sorted(times[c])
        q = statistics.quantiles(t, n=4) if len(t) >= 2 else [t[0], t[0], t[0]]
        med = statistics.median(t)
        print(f"{c:8} {med:13.4f} {q[0]:8.4f} {q[2]:8.4f} {ref1 / med:7.2f}x {statistics.median(cpus[c]):10.1f}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
