"""Benchmark of the console (wann-tui): latency, responsiveness under load, memory, idle CPU.

Run: .venv/bin/python bench/bench_console.py [--quick] [--sweep]

Prints medians (not a test: numbers depend on the machine and its load). Measures:

1. latency: an event appended to events.jsonl until the live view shows it
   a) headless (Textual's test driver): until the status bar widget holds the new generation
   b) a real terminal (tmux): until ``tmux capture-pane`` shows it (includes tmux's own redraw)
2. 50 generations/s per run on two open runs (a writer process appends engine-sized events):
   event-loop lag, how far the view trails the file, key-press round trip, console CPU
3. memory over 100,000 generation events fed to a RunModel (the real parse path)
4. idle CPU of the console with a finished run open (headless and in tmux)
5. (``--sweep``) the sweep view following a sweep of 16 members (2 settings × 8 seeds) while a writer
   process appends engine-shaped generation events to every member (holding each member's engine lock,
   so members are running): event appended → the member's row shows it, console CPU, event-loop lag
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wanntui.model import RunModel, synthetic_generation  # noqa: E402

RUN_START = {
    "v": 1, "type": "run_start", "t": 0.0, "name": "bench", "task": "swingup", "n_inputs": 5, "n_outputs": 1,
    "input_names": ["x", "x_dot", "cos(theta)", "sin(theta)", "theta_dot"], "output_names": ["force"],
    "weights": [-2.0, -1.0, -0.5, 0.5, 1.0, 2.0], "total_generations": 1_000_000, "resumed_from": None,
    "config": {"task": "swingup", "maxGen": 1_000_000, "popSize": 192, "workers": 1}, "pid": 0, "host": "bench",
}
CONFIG = {"task": "swingup", "maxGen": 1_000_000, "popSize": 192}


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


async def idle_cpu_pct(pilot, seconds: float) -> float:
    """The console's CPU (% of a core) over ``seconds`` of doing nothing but its own timers."""
    await pilot.pause(1.0)
    c0, w0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return 100 * (time.process_time() - c0) / (time.perf_counter() - w0)


def p95(xs: list[float]) -> float:
    return sorted(xs)[int(0.95 * (len(xs) - 1))] if xs else float("nan")


def make_run(runs: Path, name: str, gens: int = 5, pop: int = 192) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    (run / "config.json").write_bytes(orjson.dumps(CONFIG))
    with open(run / "events.jsonl", "wb") as f:
        f.write(orjson.dumps({**RUN_START, "name": name, "t": time.time()}) + b"\n")
        for g in range(gens):
            f.write(orjson.dumps(synthetic_generation(g, pop=pop, t=time.time(), champion=g == 0)) + b"\n")
    return run


def append(run: Path, gen: int, pop: int = 192) -> None:
    fd = os.open(run / "events.jsonl", os.O_WRONLY | os.O_APPEND)
    os.write(fd, orjson.dumps(synthetic_generation(gen, pop=pop, t=time.time())) + b"\n")
    os.close(fd)


# --- 1a, 2, 4a: headless -------------------------------------------------------------------------
async def headless(runs: Path, quick: bool) -> dict[str, float | int]:
    from wanntui.app import WannTui
    from wanntui.screens.run_view import RunScreen
    from wanntui.widgets.pareto import ParetoPlot
    from wanntui.widgets.status import StatusBar

    res: dict[str, float | int] = {}
    run_a, run_b = make_run(runs, "a"), make_run(runs, "b")
    app = WannTui(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        app.open_run(run_b)
        app.open_run(run_a)
        while not (isinstance(app.screen, RunScreen) and app.screen.model.snapshot().gen_done == 5):
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        status = app.screen.query_one(StatusBar)

        # 1a: latency, one event at a time
        lat = []
        for i in range(10 if quick else 30):
            gen = 5 + i
            want = f"gen {gen + 1}/"
            t0 = time.perf_counter()
            append(run_a, gen)
            while want not in status.text:
                await asyncio.sleep(0.002)
            lat.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        res["latency_headless_ms"] = 1000 * med(lat)
        res["latency_headless_p95_ms"] = 1000 * p95(lat)

        # 4a: idle CPU with the live view open
        res["idle_cpu_view_pct"] = await idle_cpu_pct(pilot, 5 if quick else 10)

        # 2: two runs at 50 generations/s each, written by another process
        secs = 5 if quick else 10
        writer = subprocess.Popen([sys.executable, __file__, "--writer", str(run_a), str(run_b), str(secs), "50"])
        lag, trail, keys = [], [], []
        c0, w0 = time.process_time(), time.perf_counter()
        pareto = app.screen.query_one(ParetoPlot)
        next_key = time.perf_counter() + 0.5
        while writer.poll() is None:
            t = time.perf_counter()
            await asyncio.sleep(0.02)
            lag.append(time.perf_counter() - t - 0.02)
            if time.perf_counter() >= next_key:
                before = pareto.x_label
                t = time.perf_counter()
                app.simulate_key("a")  # the real key path, without the test driver's wait-for-idle
                while pareto.x_label == before:
                    await asyncio.sleep(0.002)
                keys.append(time.perf_counter() - t)
                next_key = time.perf_counter() + 0.5
                written = sum(1 for _ in open(run_a / "events.jsonl", "rb")) - 1  # minus run_start
                shown = app.screen.model.snapshot().gen_done
                trail.append(max(0, written - shown))
        res["load_cpu_pct"] = 100 * (time.process_time() - c0) / (time.perf_counter() - w0)
        res["load_loop_lag_median_ms"] = 1000 * med(lag)
        res["load_loop_lag_p95_ms"] = 1000 * p95(lag)
        res["load_key_roundtrip_median_ms"] = 1000 * med(keys)
        res["load_view_trails_file_gens"] = med(trail)
        await pilot.pause(1.0)
        a_done = app.models[run_a].snapshot().gen_done
        b_done = app.models[run_b].snapshot().gen_done
        res["load_generations_ingested_run_a"] = a_done
        res["load_generations_ingested_run_b"] = b_done
        res["load_view_renders"] = app.screen.renders
    return res


def writer_main(run_a: str, run_b: str, secs: str, rate: str) -> None:
    """--writer: append generation events to two runs at ``rate`` per second each, like engines would."""
    a, b = Path(run_a), Path(run_b)
    gen_a = sum(1 for _ in open(a / "events.jsonl", "rb")) - 1
    gen_b = sum(1 for _ in open(b / "events.jsonl", "rb")) - 1
    pre = [orjson.dumps(synthetic_generation(g, pop=192, t=0.0)) + b"\n" for g in range(64)]  # engine-sized
    period = 1.0 / float(rate)
    t_end = time.perf_counter() + float(secs)
    nxt = time.perf_counter()
    fa = os.open(a / "events.jsonl", os.O_WRONLY | os.O_APPEND)
    fb = os.open(b / "events.jsonl", os.O_WRONLY | os.O_APPEND)
    while time.perf_counter() < t_end:
        for fd, g in ((fa, gen_a), (fb, gen_b)):
            line = pre[g % 64].replace(b'"gen":' + str(g % 64).encode() + b",", b'"gen":' + str(g).encode() + b",", 1)
            os.write(fd, line.replace(b'"t":0.0', f'"t":{time.time()}'.encode(), 1))
        gen_a += 1
        gen_b += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.perf_counter()))


# --- 3: memory ---------------------------------------------------------------------------------------
def memory(n: int) -> dict[str, float | int]:
    res: dict[str, float | int] = {}
    model = RunModel("/tmp/bench-memory")
    model.feed([orjson.dumps({**RUN_START, "t": 1.0})])
    template = orjson.dumps(synthetic_generation(0, pop=64, t=1.0, champion=True)).replace(b'"gen":0,', b'"gen":%d,')
    lines = [template % g for g in range(2000)]
    t0 = time.perf_counter()
    model.feed(lines)
    res["ingest_us_per_event"] = 1e6 * (time.perf_counter() - t0) / len(lines)
    model = RunModel("/tmp/bench-memory")
    model.feed([orjson.dumps({**RUN_START, "t": 1.0})])
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    checkpoints = {1_000, 10_000, 50_000, n}
    batch = []
    for g in range(n):
        batch.append(template % g)
        if len(batch) == 500 or g == n - 1:
            model.feed(batch)
            batch = []
        if g + 1 in checkpoints:
            res[f"memory_after_{g + 1}_gens_kib"] = (tracemalloc.get_traced_memory()[0] - base) / 1024
    res["memory_peak_kib"] = (tracemalloc.get_traced_memory()[1] - base) / 1024
    tracemalloc.stop()
    snap = model.snapshot()
    res["history_rows_kept"] = len(snap.history)
    res["history_first_gen"] = int(snap.history[0, 0])
    res["history_last_gen"] = int(snap.history[-1, 1])
    return res


# --- 1b, 4b: a real terminal ---------------------------------------------------------------------
def tmux_bench(runs: Path, quick: bool) -> dict[str, float]:
    if shutil.which("tmux") is None:
        return {}
    res: dict[str, float] = {}
    sock = f"wanntui-bench-{os.getpid()}"

    def tmux(*a: str) -> str:
        return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *a], capture_output=True, text=True).stdout

    run = make_run(runs, "t")
    cmd = f"cd {ROOT} && {sys.executable} -m wanntui --runs-dir {runs}"
    tmux("new-session", "-d", "-x", "120", "-y", "40", "-e", "LANG=C.UTF-8", "-e", "TERM=xterm-256color", cmd,
         ";", "set", "-g", "window-size", "manual", ";", "set", "-g", "escape-time", "10")
    try:
        deadline = time.time() + 30
        while "t  " not in tmux("capture-pane", "-p") and time.time() < deadline:
            time.sleep(0.1)
        tmux("send-keys", "Enter")  # open the only run
        while "t │" not in tmux("capture-pane", "-p") and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        lat = []
        for i in range(5 if quick else 12):
            gen = 5 + i
            t0 = time.perf_counter()
            append(run, gen)
            while f"gen {gen + 1}/" not in tmux("capture-pane", "-p"):
                if time.perf_counter() - t0 > 5:
                    break
            lat.append(time.perf_counter() - t0)
            time.sleep(0.2)
        res["latency_tmux_ms"] = 1000 * med(lat)
        pid = int(tmux("display", "-p", "#{pane_pid}").strip())
        time.sleep(1.0)

        def cpu() -> float:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

        c0, w0 = cpu(), time.perf_counter()
        time.sleep(5 if quick else 10)
        res["idle_cpu_tmux_pct"] = 100 * (cpu() - c0) / (time.perf_counter() - w0)
    finally:
        tmux("kill-server")
    return res


# --- 5: a sweep of 16 members -------------------------------------------------------------------------
def engine_line(gen: int, pop: int = 192) -> bytes:
    """A generation event as the engine writes most of them: without the population's objectives and
    fronts (the engine adds those at most every ``POPULATION_SECONDS``)."""
    ev = synthetic_generation(gen, pop=pop, t=time.time())
    for k in ("objectives", "front", "front_peak"):
        ev.pop(k, None)
    return orjson.dumps(ev) + b"\n"


def make_sweep(runs: Path, seeds: int = 8) -> tuple[Path, list[Path]]:
    from wann_engine import sweep as sweepmod

    sw = sweepmod.create(runs / "sweep", "swingup", list(range(seeds)), [("select_tournSize", ["8", "16"])],
                         sweepmod.Budget(gens=1_000_000))
    members = []
    for m in sw.members:
        run = make_run(sw.path, m.name)
        (run / "engine.lock").write_text("{}")
        members.append(run)
    return sw.path, members


async def sweep_headless(runs: Path, quick: bool, rate: float) -> dict[str, float | int]:
    from wanntui.app import WannTui
    from wanntui.screens.sweep_view import SweepScreen

    res: dict[str, float | int] = {}
    path, members = make_sweep(runs)
    holder = subprocess.Popen([sys.executable, __file__, "--lock", *map(str, members)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
    try:
        app = WannTui(runs)
        async with app.run_test(size=(120, 40)) as pilot:
            view = app.open_sweep(path)
            assert isinstance(view, SweepScreen)
            while not (view.view is not None and all(m.state == "running" for m in view.view.members)):
                await pilot.pause(0.05)
            await pilot.pause(1.0)
            key = str(members[5])

            def gen_cell() -> str:
                return view.cell_text("sweep-members", key, "gen")

            # a) latency, one event at a time, the sweep otherwise quiet
            lat = []
            for i in range(8 if quick else 20):
                gen = 5 + i
                t0 = time.perf_counter()
                append(members[5], gen)
                while not gen_cell().startswith(f"{gen + 1}/"):
                    await asyncio.sleep(0.002)
                lat.append(time.perf_counter() - t0)
                await asyncio.sleep(0.13)  # not in step with the view's refresh
            res["sweep_latency_headless_ms"] = 1000 * med(lat)
            res["sweep_latency_headless_p95_ms"] = 1000 * p95(lat)

            # b) idle: 16 running members that write nothing
            res["sweep_idle_cpu_pct"] = await idle_cpu_pct(pilot, 5 if quick else 10)

            # c) every member writes ``rate`` generations/s
            secs = 6 if quick else 12
            writer = subprocess.Popen([sys.executable, __file__, "--sweep-writer", str(secs), str(rate),
                                       *map(str, members)])
            lag, cpu, lat = [], [], []
            shows = view.shows
            c0, w0 = time.process_time(), time.perf_counter()
            last_c, last_w = c0, w0
            while writer.poll() is None:
                t = time.perf_counter()
                await asyncio.sleep(0.02)
                lag.append(time.perf_counter() - t - 0.02)
                if time.perf_counter() - last_w >= 1.0:
                    c, w = time.process_time(), time.perf_counter()
                    cpu.append(100 * (c - last_c) / (w - last_w))
                    last_c, last_w = c, w
            res["sweep_load_cpu_pct"] = 100 * (time.process_time() - c0) / (time.perf_counter() - w0)
            res["sweep_load_cpu_median_pct_per_s"] = med(cpu)
            res["sweep_load_events_per_s"] = rate * len(members)
            res["sweep_load_loop_lag_median_ms"] = 1000 * med(lag)
            res["sweep_load_loop_lag_p95_ms"] = 1000 * p95(lag)
            res["sweep_view_redraws_per_s"] = (view.shows - shows) / secs
            # d) latency while every member writes
            writer = subprocess.Popen([sys.executable, __file__, "--sweep-writer", str(secs), str(rate),
                                       *map(str, members[:5] + members[6:])])
            await asyncio.sleep(1.0)
            gen = int(gen_cell().split("/")[0])
            while writer.poll() is None:
                t0 = time.perf_counter()
                append(members[5], gen)
                while not gen_cell().startswith(f"{gen + 1}/"):
                    await asyncio.sleep(0.002)
                lat.append(time.perf_counter() - t0)
                gen += 1
                await asyncio.sleep(0.13)
            res["sweep_load_latency_ms"] = 1000 * med(lat)
            res["sweep_load_latency_p95_ms"] = 1000 * p95(lat)
            await pilot.pause(1.0)
            written = sum(1 for ln in open(members[0] / "events.jsonl", "rb") if b'"generation"' in ln)
            res["sweep_member0_gens_written"] = written
            res["sweep_member0_gens_shown"] = int(view.cell_text("sweep-members", str(members[0]), "gen")
                                                  .split("/")[0])
    finally:
        holder.terminate()
        holder.wait()
    return res


def lock_main(runs: list[str]) -> None:
    """--lock: hold every member's engine lock (as running engines do) until terminated."""
    import fcntl
    import signal

    fds = []
    for r in runs:
        fd = os.open(Path(r) / "engine.lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        fds.append(fd)
    print("locked", flush=True)
    signal.sigwait({signal.SIGTERM})


def sweep_writer_main(secs: str, rate: str, runs: list[str]) -> None:
    """--sweep-writer: append engine-shaped generation events to every member at ``rate`` per second."""
    fds = [os.open(Path(r) / "events.jsonl", os.O_WRONLY | os.O_APPEND) for r in runs]
    gens = [sum(1 for ln in open(Path(r) / "events.jsonl", "rb") if b'"generation"' in ln) for r in runs]
    period = 1.0 / float(rate)
    t_end = time.perf_counter() + float(secs)
    nxt = time.perf_counter()
    while time.perf_counter() < t_end:
        for i, fd in enumerate(fds):
            os.write(fd, engine_line(gens[i]))
            gens[i] += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.perf_counter()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer_main(*sys.argv[2:6])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--lock":
        lock_main(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--sweep-writer":
        sweep_writer_main(sys.argv[2], sys.argv[3], sys.argv[4:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples, shorter phases")
    ap.add_argument("--gens", type=int, default=100_000, help="generations for the memory phase")
    ap.add_argument("--sweep", action="store_true", help="also follow a sweep of 16 members (5)")
    ap.add_argument("--sweep-only", action="store_true", help="only the sweep phase (5)")
    ap.add_argument("--member-rate", type=float, default=5.0, help="generations/s per member in the sweep phase")
    args = ap.parse_args()
    results: dict[str, float | int] = {}
    if args.sweep or args.sweep_only:
        with tempfile.TemporaryDirectory(prefix="wanntui-bench-") as tmp:
            runs = Path(tmp) / "runs"
            runs.mkdir()
            results.update(asyncio.run(sweep_headless(runs, args.quick, args.member_rate)))
    if args.sweep_only:
        print(f"wann-tui console benchmark, sweep phase ({os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f})")
        for k, v in results.items():
            print(f"  {k:40s} {v:12.2f}" if isinstance(v, float) else f"  {k:40s} {v:12}")
        return
    with tempfile.TemporaryDirectory(prefix="wanntui-bench-") as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        results.update(asyncio.run(headless(runs, args.quick)))
        results.update(tmux_bench(Path(tmp) / "runs2", args.quick))
    results.update(memory(args.gens))
    print(f"wann-tui console benchmark ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    for k, v in results.items():
        print(f"  {k:40s} {v:12.2f}" if isinstance(v, float) else f"  {k:40s} {v:12}")


if __name__ == "__main__":
    main()
