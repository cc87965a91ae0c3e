"""Benchmark: opening a long run in the console (the watcher reading its whole events file).

Run: .venv/bin/python bench/bench_open_run.py [--gens 100000] [--pop 192] [--repeat 2]

Writes a synthetic run (``run_start``, then ``--gens`` engine-sized generation events of population
``--pop``) to a temporary folder and times feeding the whole file into a ``RunModel`` through the
console's tail reader (``tail.follow``), which is what the watcher thread does when a run is opened.
The file is read once before timing, so it comes from the page cache. Also prints the decoding cost
of one event alone and of rendering the latest generation's large fields (done once per render, not
per event). Prints the best of ``--repeat`` runs (the numbers depend on the machine and its load).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wann_engine import events  # noqa: E402
from wanntui.model import RunModel, synthetic_generation  # noqa: E402
from wanntui.tail import FileTail, follow  # noqa: E402

RUN_START = {"v": 1, "type": "run_start", "t": 1.0, "name": "long", "task": "swingup", "total_generations": 0,
             "weights": [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], "resumed_from": None,
             "config": {"task": "swingup", "popSize": 0, "workers": 1}}


def write_run(path: Path, gens: int, pop: int, every: int = 1) -> int:
    """The events file of a finished run of ``gens`` generations, the population fields in every ``every``-th
    generation and the last (the engine writes them every ``events.POPULATION_SECONDS``); returns its size."""
    def template(g: int, full: bool) -> bytes:
        ev = synthetic_generation(g, pop=pop, t=1.0 + g, champion=g == 0)
        if not full:
            ev = {k: v for k, v in ev.items() if k not in events.POPULATION}
        return orjson.dumps(ev).replace(b'"gen":%d,' % g, b'"gen":%d,', 1)  # (no other "%" in them)

    full = [template(g, True) for g in range(64)]
    thin = [template(g, False) for g in range(64)]
    start = {**RUN_START, "total_generations": gens, "config": {**RUN_START["config"], "popSize": pop}}
    with open(path, "wb") as f:
        f.write(orjson.dumps(start) + b"\n")
        batch = []
        for g in range(gens):
            batch.append((full if g % every == 0 or g == gens - 1 else thin)[g % 64] % g)
            if len(batch) == 1000:
                f.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            f.write(b"\n".join(batch) + b"\n")
        f.write(orjson.dumps({"v": 1, "type": "finished", "t": 2.0 + gens, "gen": gens}) + b"\n")
    return path.stat().st_size


def open_run(path: Path) -> tuple[float, float, RunModel]:
    """Wall and CPU seconds to read the whole file into a new model."""
    model = RunModel(path.parent)
    t0, c0 = time.perf_counter(), time.process_time()
    follow(FileTail(path), model)
    return time.perf_counter() - t0, time.process_time() - c0, model


def per_event(pop: int, n: int = 2000) -> tuple[float, float]:
    """Microseconds to decode one engine-sized generation line, and to read its large fields once."""
    line = orjson.dumps(synthetic_generation(5, pop=pop, t=1.0))
    t0 = time.perf_counter()
    for _ in range(n):
        events.decode(line)
    dec = (time.perf_counter() - t0) / n
    evs = [events.decode(line) for _ in range(200)]
    t0 = time.perf_counter()
    for ev in evs:
        _ = ev.objectives, ev.front, ev.front_peak, ev.best_per_weight, ev.pop_best_per_weight
    large = (time.perf_counter() - t0) / len(evs)  # (0 where decode already converted them)
    return 1e6 * dec, 1e6 * large


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gens", type=int, default=100_000)
    ap.add_argument("--pop", type=int, default=192)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--population-every", type=int, default=50,
                    help="generations between two carrying the population (1: every one, the format before "
                         "events.POPULATION_SECONDS; 50: a default swing-up run at ~0.2 s per generation)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wanntui-open-") as tmp:
        path = Path(tmp) / "long" / "events.jsonl"
        path.parent.mkdir()
        size = write_run(path, args.gens, args.pop, max(1, args.population_every))
        with open(path, "rb") as f:  # into the page cache
            while f.read(64 << 20):
                pass
        best = cpu = float("inf")
        for _ in range(args.repeat):
            secs, cpu_secs, model = open_run(path)
            best, cpu = min(best, secs), min(cpu, cpu_secs)
        snap = model.snapshot()
        assert snap.gen_done == args.gens and snap.n_malformed == 0, (snap.gen_done, snap.warnings)
        dec, large = per_event(args.pop)
        print(f"open a run of {args.gens:,} generations, population {args.pop}, population fields every "
              f"{args.population_every} ({size / 2**20:,.0f} MiB, {size / args.gens:,.0f} B per generation; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
        print(f"  open_run_s                       {best:10.2f}")
        print(f"  open_run_cpu_s                   {cpu:10.2f}")
        print(f"  open_run_us_per_event            {1e6 * best / args.gens:10.1f}")
        print(f"  decode_us_per_event              {dec:10.1f}")
        print(f"  large_fields_once_us             {large:10.1f}")


if __name__ == "__main__":
    main()
