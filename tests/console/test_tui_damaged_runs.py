"""Damaged runs in the console, ``wann-engine status`` and ``wann-tui --batch``: listed and flagged, never a crash.

A runs folder holds a good run and one run for each kind of damage a disk or a hand can leave; the
console lists them all, says why each damaged one is damaged, opens every row and quits on ``q``.
A bad line appended to a running run's events does not stop or freeze the console; ``--batch
--resume --events`` after a kill mid-write prints only JSON lines; a giant line appended to a
finished run leaves it finished.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from tui_support import ROOT, copy_run, engine_env, make_app, until

from wann_engine import control, events
from wanntui.model import synthetic_generation
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.status import StatusBar

#: run name -> bytes appended to a copy of the recorded run's events (issue: each kind seen in the field)
BAD_LINES = {
    "type-list": b'{"v":1,"type":[1],"t":1.0}',
    "type-object": b'{"v":1,"type":{"a":1},"t":1.0}',
    "gen-list": b'{"v":1,"type":"generation","t":2e9,"gen":[1]}',
    "gen-text": b'{"v":1,"type":"generation","t":2e9,"gen":"abc"}',
    "start-time-text": b'{"v":1,"type":"run_start","t":"x"}',
    "finished-time-null": b'{"v":1,"type":"finished","t":null}',
    "rate-text": None,  # a whole generation event with "evals_per_s": "fast" (made below)
    "champion-junk": None,  # a generation whose champion is not a network
    "not-json": b"\x00\xffnot json at all",
}
WHY = {
    "type-list": "type: expected a string, got list",
    "type-object": "type: expected a string, got object",
    "gen-list": "gen: expected an integer, got list",
    "gen-text": "gen: expected an integer, got string",
    "start-time-text": "t: expected a time",
    "finished-time-null": "t: expected a time",
    "rate-text": "evals_per_s: expected a number, got string",
    "champion-junk": "champion",
    "not-json": "not JSON",
    "config-list": "config.json",
    "config-garbage": "config.json",
    "lock-only": "no config.json",
    "events-only": "no config.json",
}


def _bad_generation(kind: str) -> bytes:
    ev = synthetic_generation(8, pop=32, t=2e9)
    if kind == "rate-text":
        ev["evals_per_s"] = "fast"
    else:
        ev["champion"] = {"nodes": [[0, 4, 1], [1, 1, 1]], "conns": [[0, 1, 9]]}
    return orjson.dumps(ev)


@pytest.fixture
def damaged_runs(tmp_path: Path, recorded: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    copy_run(recorded, runs)  # "rec": the good run
    for name, line in BAD_LINES.items():
        run = copy_run(recorded, runs, name)
        with open(run / "events.jsonl", "ab") as f:
            f.write((line if line is not None else _bad_generation(name)) + b"\n")
    copy_run(recorded, runs, "config-list")
    (runs / "config-list" / "config.json").write_bytes(b"[]")
    copy_run(recorded, runs, "config-garbage")
    (runs / "config-garbage" / "config.json").write_bytes(b'{"popSize": ')
    (runs / "lock-only").mkdir()  # an engine killed before it wrote config.json
    (runs / "lock-only" / "engine.lock").write_bytes(b'{"pid": 1, "host": "x", "started": 1.0}')
    (runs / "events-only").mkdir()
    (runs / "events-only" / "events.jsonl").write_bytes((recorded / "events.jsonl").read_bytes())
    (runs / "not-a-run").mkdir()  # a folder without any run file: not listed
    (runs / "not-a-run" / "notes.txt").write_text("hello")
    return runs


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_console_lists_flags_and_opens_every_damaged_run(damaged_runs: Path):
    before = _files(damaged_runs)
    app = make_app(damaged_runs)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and len(app.screen.rows) == len(WHY) + 1)
        browser = app.screen
        table = browser.query_one("#runs")
        names = {p.name: r for p, r in browser.rows.items()}
        assert "not-a-run" not in names
        assert names["rec"].state == "finished" and not names["rec"].note
        for name, why in WHY.items():
            cells = [c.plain for c in table.get_row(str(damaged_runs / name))]
            # the cell is elided to the screen's width; the whole reason is the row's note
            assert cells[-1].startswith("damaged: ") and why in names[name].note, (name, cells)
        for name in ("config-list", "config-garbage", "lock-only", "events-only"):
            assert names[name].state == "damaged"
        for i in range(table.row_count):
            table.move_cursor(row=i, animate=False)
            await pilot.pause()
            run = browser.selected_run()
            await pilot.press("enter")
            await until(pilot, lambda run=run: isinstance(app.screen, RunScreen) and app.screen.run == run)
            view = app.screen
            await until(pilot, lambda view=view: view.renders > 0)
            await pilot.pause(0.1)
            if run.name in BAD_LINES:
                await until(pilot, lambda view=view: "1 bad line(s) skipped" in view.query_one(StatusBar).text)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running)
    assert app.return_code in (0, None)
    assert _files(damaged_runs) == before  # the console wrote nothing


def test_status_lists_every_damaged_run(damaged_runs: Path):
    before = _files(damaged_runs)
    p = subprocess.run([sys.executable, "-m", "wann_engine", "status", str(damaged_runs)], capture_output=True,
                       text=True, timeout=60, env=engine_env(), cwd=ROOT)
    assert p.returncode == 0 and not p.stderr, p.stderr
    rows = {line.split()[0]: line for line in p.stdout.splitlines()[1:]}
    assert set(rows) == {"rec", *WHY}
    assert "finished" in rows["rec"] and "damaged" not in rows["rec"]
    for name, why in WHY.items():
        assert "damaged: " in rows[name] and why in rows[name], rows[name]
    assert _files(damaged_runs) == before


def test_a_finished_run_with_a_giant_line_appended_stays_finished(tmp_path: Path, recorded: Path):
    """A line of 10 MB (then 20 MB, past the reader's limit) after ``finished``: the run is still
    finished, the line is called damaged, and the console's model skips it."""
    runs = tmp_path / "runs"
    run = copy_run(recorded, runs)
    for size in (10 << 20, 20 << 20):
        with open(run / "events.jsonl", "ab") as f:
            f.write(b'{"v":1,"type":"note","t":1.0,"junk":"' + b"x" * size + b'"\n')
        s = control.summary(run)
        assert s.state == "finished" and s.gen == 8 and s.damaged and "events.jsonl" in s.damaged
    from wanntui.model import RunModel
    from wanntui.tail import FileTail, follow

    model = RunModel(run)
    follow(FileTail(run / "events.jsonl"), model)
    snap = model.snapshot()
    assert snap.gen_done == 8 and snap.state_event == "finished" and snap.n_malformed == 2


def _wait(cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _generations(run: Path) -> int:
    return sum(1 for e in events.read(run / "events.jsonl") if isinstance(e, events.Generation))


@pytest.mark.parametrize("attempt", range(3))
def test_batch_resume_after_a_kill_mid_write_prints_only_json(tmp_path: Path, attempt: int):
    """The engine was killed in the middle of writing a line: ``--batch --resume RUN --events`` must
    print the new ``run_start`` whole, never the fragment joined to it."""
    runs = tmp_path / "runs"
    eng = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--runs-dir", str(runs), "--name", "k",
                            "--gens", "12", "--pop", "8", "--set", "alg_nReps=1", "--set", "checkpoint_every=1",
                            "--quiet"], env=engine_env(), cwd=ROOT, start_new_session=True)
    run = runs / "k"
    try:
        _wait(lambda: run.is_dir() and _generations(run) >= 2)
        os.killpg(eng.pid, signal.SIGKILL)
    finally:
        eng.wait(30)
    fragment = orjson.dumps(synthetic_generation(99, pop=8))[: 40 + 13 * attempt]
    with open(run / "events.jsonl", "ab") as f:
        f.write(fragment)
    p = subprocess.run([sys.executable, "-m", "wanntui", "--batch", "--resume", str(run), "--events",
                        "--no-progress"], capture_output=True, timeout=180, env=engine_env(), cwd=ROOT)
    assert p.returncode == 0, p.stderr.decode()
    printed = [orjson.loads(line) for line in p.stdout.splitlines()]  # every line is JSON
    assert printed[0]["type"] == "run_start" and printed[0]["resumed_from"] is not None
    assert printed[-1]["type"] == "finished"
    assert fragment not in (run / "events.jsonl").read_bytes()


async def test_bad_lines_appended_to_a_running_run_do_not_stop_the_console(tmp_path: Path):
    runs = tmp_path / "runs"
    eng = subprocess.Popen([sys.executable, "-m", "wann_engine", "run", "--runs-dir", str(runs), "--name", "live",
                            "--gens", "100000", "--pop", "8", "--set", "alg_nReps=1", "--quiet"],
                           env=engine_env(), cwd=ROOT, start_new_session=True)
    run = runs / "live"
    try:
        _wait(lambda: run.is_dir() and _generations(run) >= 1)
        app = make_app(runs)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
            await until(pilot, lambda: app.screen.rows[run].state == "running")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().gen_done)
            view = app.screen
            bad = [b'{"v":1,"type":"generation","t":2e9,"gen":[1]}',
                   orjson.dumps({**synthetic_generation(5, pop=8, t=2e9), "evals_per_s": "fast"}),
                   b'{"v":1,"type":{"a":1},"t":1.0}']
            for line in bad:
                fd = os.open(run / "events.jsonl", os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, line + b"\n")  # one write, as the engine's own lines
                finally:
                    os.close(fd)
                await pilot.pause(0.3)
            await until(pilot, lambda: view.model.snapshot().n_malformed == len(bad))
            seen = view.model.snapshot().gen_done
            await until(pilot, lambda: view.model.snapshot().gen_done > seen + 2, timeout=30)  # still following
            status = view.query_one(StatusBar)
            await until(pilot, lambda: f"{len(bad)} bad line(s) skipped" in status.text)
            await until(pilot, lambda: f"gen {view.model.snapshot().gen_done}/" in status.text)  # still drawing
            assert app.is_running and app.watcher._thread is not None and app.watcher._thread.is_alive()
            assert app.watcher.tick_errors == 0
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, BrowserScreen))
            await until(pilot, lambda: app.screen.rows[run].state == "running")
            await pilot.press("q")
    finally:
        if eng.poll() is None:
            control.request(run, "stop")
        try:
            eng.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(eng.pid, signal.SIGKILL)
            eng.wait(10)
