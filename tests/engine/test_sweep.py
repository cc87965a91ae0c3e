"""``wann-engine sweep``: start, status, extend, stop/resume after a SIGKILLed scheduler, crash retries,
bad arguments; every member compared with an uninterrupted run of the same seed and setting."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import orjson
import pytest
from conftest import TIMING, engine

from wann_engine import control, sweep
from wann_engine.events import POPULATION, effective_generations, read_events

BASE = ["--task", "laptop_swing", "--pop", "16", "--set", "max_steps=200", "--threads", "1", "--poll", "0.2"]


def history(run: Path) -> list[dict]:
    gens = effective_generations(read_events(run / "events.jsonl"))
    # which generations carry the population is a wall-clock rule (events.POPULATION_SECONDS), and a
    # resumed member carries it in its first generation: compare everything else
    return [{k: v for k, v in ev.items() if k not in TIMING and k not in POPULATION} for ev in gens]


def reference(tmp: Path, sw: sweep.Sweep, m: sweep.Member) -> list[dict]:
    """The member run on its own, uninterrupted, with the sweep's arguments."""
    args = sw.run_args(m)
    i = args.index("--runs-dir")
    args[i + 1] = str(tmp)
    engine("run", *args, check=True)
    return history(tmp / m.name)


def status(path: Path) -> dict:
    p = engine("sweep", "status", str(path), "--json", check=True)
    return orjson.loads(p.stdout)


def wait_for(pred, timeout: float = 90, step: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting")


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    """2 settings × 2 seeds, 3 generations each, run in the foreground."""
    path = tmp_path_factory.mktemp("sweeps") / "grid"
    p = engine("sweep", "start", str(path), *BASE, "--seeds", "0-1", "--grid", "select_tournSize=4,8", "--gens", "3",
               "--parallel", "2", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "all 4 members done" in p.stdout
    return path


def test_start_writes_sweep_json_and_ordinary_runs(finished_sweep):
    doc = orjson.loads((finished_sweep / "sweep.json").read_bytes())
    assert doc["format"] == "wann-sweep" and doc["seeds"] == [0, 1]
    assert doc["grid"] == [["select_tournSize", ["4", "8"]]] and doc["budget"] == {"gens": 3}
    names = [m["name"] for m in doc["members"]]
    assert names == ["select_tournSize4-s0", "select_tournSize8-s0", "select_tournSize4-s1", "select_tournSize8-s1"]
    st = status(finished_sweep)
    assert st["counts"] == {"done": 4} and st["scheduler_pid"] is None
    assert all(m["gen"] == 3 and m["best"] is not None for m in st["members"])
    # members are ordinary runs: `wann-engine status` lists them
    p = engine("status", str(finished_sweep), check=True)
    assert sum(n in p.stdout for n in names) == 4
    cfg = orjson.loads((finished_sweep / names[1] / "config.json").read_bytes())
    assert cfg["select_tournSize"] == 8 and cfg["seed"] == 0 and cfg["popSize"] == 16 and cfg["maxGen"] == 3
    text = engine("sweep", "status", str(finished_sweep), check=True).stdout
    assert "4 done" in text and "select_tournSize8-s1" in text


def test_extend_adds_seeds_and_continues_members_exactly(finished_sweep, tmp_path):
    p = engine("sweep", "extend", str(finished_sweep), "--seeds", "2", "--gens", "5", "--poll", "0.2", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 member(s) added" in p.stdout and "all 6 members done" in p.stdout
    st = status(finished_sweep)
    assert st["counts"] == {"done": 6} and all(m["gen"] == 5 for m in st["members"])
    sw = sweep.load(finished_sweep)
    m = sw.member("select_tournSize8-s0")  # ran 3 generations, then 2 more after the extension
    assert history(finished_sweep / m.name) == reference(tmp_path, sw, m)


def test_sigkilled_scheduler_then_resume_gives_the_uninterrupted_members(tmp_path):
    path = tmp_path / "killed"
    p = engine("sweep", "start", str(path), *BASE, "--seeds", "3-4", "--grid", "prob_addNode=0.1,0.5", "--gens", "12",
               "--set", "checkpoint_every=1", "--parallel", "2", "--detach", check=True)
    assert "in the background" in p.stdout
    sched = wait_for(lambda: sweep.scheduler_pid(path))
    sw = sweep.load(path)
    first = sw.run_dir(sw.members[0])
    wait_for(lambda: control.summary(first).gen >= 4 if (first / "config.json").exists() else False)
    os.kill(sched, signal.SIGKILL)
    wait_for(lambda: sweep.scheduler_pid(path) is None)
    # one member keeps running detached; kill the other's engine too: it must be resumed
    second = sw.run_dir(sw.members[1])
    if (second / "config.json").exists():
        control.kill(second)
    time.sleep(0.3)
    p = engine("sweep", "resume", str(path), "--poll", "0.2", timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    st = status(path)
    assert st["counts"] == {"done": 4}
    ref_dir = tmp_path / "ref"
    for m in sw.members:
        assert history(path / m.name) == reference(ref_dir, sw, m), m.name
        assert [g["gen"] for g in history(path / m.name)] == list(range(12))


def test_crashed_member_is_retried_once_then_reported_failed(tmp_path):
    path = tmp_path / "crash"
    engine("sweep", "start", str(path), *BASE, "--seeds", "0", "--gens", "100000", "--parallel", "1",
           "--detach", check=True)
    sw = sweep.load(path)
    run = sw.run_dir(sw.members[0])
    wait_for(lambda: (run / "config.json").exists() and control.summary(run).state == "running")
    pid1 = orjson.loads((run / "engine.lock").read_bytes())["pid"]
    assert control.kill(run)
    # the scheduler resumes it (one retry) ...
    wait_for(lambda: control.summary(run).state == "running"
             and orjson.loads((run / "engine.lock").read_bytes())["pid"] != pid1)
    assert sweep.load(path).members[0].retries == 1
    # ... and reports the second crash as a failure, with the cause
    assert control.kill(run)
    wait_for(lambda: sweep.scheduler_pid(path) is None)
    st = status(path)
    assert st["counts"] == {"failed": 1}
    assert st["members"][0]["message"]
    log = (path / "sweep.log").read_text()
    assert "retry   s0" in log and "FAILED  s0" in log and "1 member(s) failed" in log
    text = engine("sweep", "status", str(path), check=True).stdout
    assert "failed" in text
    # stop leaves nothing running; resume gives it a fresh try (then stop it again)
    engine("sweep", "resume", str(path), "--detach", check=True)
    wait_for(lambda: control.summary(run).state == "running")
    p = engine("sweep", "stop", str(path), check=True)
    assert "asked 1 running member(s) to stop" in p.stdout
    wait_for(lambda: sweep.scheduler_pid(path) is None and control.summary(run).state == "stopped")
    assert status(path)["counts"] == {"stopped": 1}


BAD_START = [
    (["--seeds", "5-2", "--gens", "3"], "runs backwards"),
    (["--seeds", "a", "--gens", "3"], "--seeds 'a'"),
    (["--grid", "select_tournSize", "--gens", "3"], "expected key=value1,value2"),
    (["--grid", "select_tournSize=8,8", "--gens", "3"], "repeated"),
    (["--grid", "popSize=abc,4", "--gens", "3"], "popSize"),
    (["--grid", "no_such_key=1,2", "--gens", "3"], "no_such_key"),
    (["--grid", "popSize=1,4", "--gens", "3"], "popSize=1"),
    ([], "--gens N or --minutes M"),
    (["--gens", "3", "--minutes", "1"], "--gens N or --minutes M"),
    (["--gens", "0"], "--gens 0"),
    (["--minutes", "-1"], "--minutes -1"),
    (["--gens", "3", "--threads", "0"], "--threads 0"),
    (["--gens", "3", "--parallel", "0"], "--parallel 0"),
    (["--gens", "3", "--set", "select_tournSize=4", "--grid", "select_tournSize=8,16"], "both in --grid and in --set"),
    (["--gens", "3", "--task", "nosuchtask"], "nosuchtask"),
]

# every case through the real entry point (``cli.main``) in one interpreter: exit code and stderr per case
_MANY = """
import contextlib, io, json, sys
from wann_engine.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
    out.append([code, err.getvalue()])
print(json.dumps(out))
"""


def run_many(argvs: list[list[str]]) -> list[tuple[int, str]]:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", _MANY, orjson.dumps(argvs).decode()], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return [tuple(x) for x in orjson.loads(p.stdout.strip().splitlines()[-1])]


def test_bad_arguments_are_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad"
    results = run_many([["sweep", "start", str(path), "--pop", "16", *args] for args, _ in BAD_START])
    for (args, message), (code, err) in zip(BAD_START, results, strict=True):
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and lines[0].startswith("wann-engine: error:") and message in lines[0], (args, err)
        assert "Traceback" not in err and not path.exists(), args


def test_bad_sweep_folders_and_extensions_exit_2(finished_sweep, tmp_path):
    before = (finished_sweep / "sweep.json").read_bytes()
    cases = [
        (["sweep", "resume", str(tmp_path)], "not a sweep folder"),
        (["sweep", "status", str(tmp_path / "none")], "not a sweep folder"),
        (["sweep", "start", str(finished_sweep), "--gens", "3"], "already exists"),
        (["sweep", "extend", str(finished_sweep), "--gens", "2"], "only grows"),
        (["sweep", "extend", str(finished_sweep), "--minutes", "5"], "generation budget"),
        (["sweep", "extend", str(finished_sweep)], "nothing to extend"),
        (["report", str(finished_sweep), "-o", str(tmp_path / "x.gif")], "unknown suffix"),
        (["report", str(tmp_path / "none"), "-o", str(tmp_path / "x.svg")], "no such run directory"),
    ]
    for (args, message), (code, err) in zip(cases, run_many([a for a, _ in cases]), strict=True):
        lines = err.strip().splitlines()
        assert code == 2, (args, err)
        assert len(lines) == 1 and message in lines[0], (args, err)
    assert (finished_sweep / "sweep.json").read_bytes() == before


def test_report_svg_and_csv(finished_sweep, tmp_path):
    svg = tmp_path / "fig.svg"
    p = engine("report", str(finished_sweep), "-o", str(svg), "--threshold", "150", check=True, timeout=180)
    assert svg.read_bytes().lstrip().startswith(b"<?xml") and b"<svg" in svg.read_bytes()[:2000]
    assert "select_tournSize=4" in p.stdout and "Mann-Whitney U" in p.stdout
    p = engine("report", str(finished_sweep), "-o", str(tmp_path / "t.csv"), "--x", "time", check=True)
    names = sorted(f.name for f in tmp_path.glob("t-*.csv"))
    assert names == ["t-champion.csv", "t-curves.csv", "t-front.csv", "t-profile.csv", "t-seeds.csv", "t-settings.csv"]
    seeds = (tmp_path / "t-seeds.csv").read_text().splitlines()
    assert seeds[0].startswith("setting,seed,run") and len(seeds) == 1 + len(sweep.load(finished_sweep).members)
    settings = (tmp_path / "t-settings.csv").read_text().splitlines()
    assert len(settings) == 3 and settings[0].endswith("p_vs_first")
    # a single run works too
    run = finished_sweep / "select_tournSize4-s0"
    engine("report", str(run), "-o", str(tmp_path / "run.png"), check=True, timeout=180)
    assert (tmp_path / "run.png").read_bytes()[:4] == b"\x89PNG"


def test_report_without_matplotlib_says_how_to_install(finished_sweep, tmp_path):
    import subprocess
    import sys

    code = ("import sys; sys.modules['matplotlib'] = None; from wann_engine.cli import main; "
            f"main(['report', {str(finished_sweep)!r}, '-o', {str(tmp_path / 'f.svg')!r}])")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "wann-tui[report]" in p.stderr
    assert not (tmp_path / "f.svg").exists()


def test_wall_budget_stops_members_at_a_boundary_and_extends(tmp_path):
    path = tmp_path / "wall"
    engine("sweep", "start", str(path), *BASE, "--seeds", "0", "--minutes", "0.04", check=True, timeout=120)
    st = status(path)
    m = st["members"][0]
    assert m["state"] == "done" and m["elapsed"] >= 2.4 and m["total"] == sweep.WALL_MAX_GEN
    engine("sweep", "extend", str(path), "--minutes", "0.08", "--poll", "0.2", check=True, timeout=120)
    m2 = status(path)["members"][0]
    assert m2["state"] == "done" and m2["elapsed"] >= 4.8 and m2["gen"] > m["gen"]
