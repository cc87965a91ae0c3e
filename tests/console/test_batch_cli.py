"""``wann-tui --batch`` as a user runs it: a real engine, exit codes, stdout/stderr contract, no Textual."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
from tui_support import ROOT, engine_env

# Runs the CLI in-process (so sys.modules can be inspected) and reports whether Textual was imported.
WRAPPER = """
import sys
from wanntui.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
sys.stderr.write("TEXTUAL_IMPORTED=%s\\n" % ("textual" in sys.modules))
sys.exit(code)
"""


def wann_tui(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, timeout=timeout,
                          env=engine_env(), cwd=ROOT)


def test_batch_runs_to_completion_without_textual(tmp_path: Path):
    """--events: stdout holds exactly the engine's event lines; the progress goes to stderr."""
    runs = tmp_path / "runs"
    p = wann_tui("--batch", "--events", "--runs-dir", str(runs), "--name", "e", "--gens", "3", "--pop", "8",
                 "--seed", "1", "--set", "alg_nReps=1")
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "TEXTUAL_IMPORTED=False" in err
    assert "generation 3/3" in err  # plain progress lines when stderr is not a terminal
    lines = p.stdout.splitlines()
    evs = [orjson.loads(line) for line in lines]
    assert evs[0]["type"] == "run_start" and evs[-1]["type"] == "finished"
    assert [e["gen"] for e in evs if e["type"] == "generation"] == [0, 1, 2]
    assert lines == (runs / "e" / "events.jsonl").read_bytes().splitlines()


def test_batch_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys):
    from wanntui.cli import main

    cases = [
        ("--batch", "--pop", "1", "--runs-dir", str(tmp_path)),
        ("--batch", "--resume", str(tmp_path / "nope")),
        ("--batch", "--resume", str(tmp_path), "--gens", "3"),
        ("--batch", "--name", "a/b", "--runs-dir", str(tmp_path)),
        ("--pop", "5"),
        ("--runs-dir", str(tmp_path / "missing")),
        ("--no-such-option",),
        ("--gens", "many"),
    ]
    for args in cases:
        try:
            main(list(args))
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        assert code == 2, (args, err)
        assert len(err.splitlines()) == 1 and err.startswith("wann-tui: error: "), (args, err)
        assert out == "", args


def test_engine_refusal_is_reported_in_one_line(tmp_path: Path):
    p = wann_tui("--batch", "--task", "no-such-task", "--runs-dir", str(tmp_path / "r"))
    # (on a loaded machine the engine may take long enough to refuse that the waiting note comes first)
    err = [line for line in p.stderr.decode().splitlines()
           if not line.startswith(("TEXTUAL_IMPORTED", "wann-tui: waiting for the first generation"))]
    assert p.returncode == 2 and p.stdout == b""
    assert len(err) == 1 and "unknown task" in err[0] and "Traceback" not in p.stderr.decode()


def test_console_needs_a_terminal(tmp_path: Path):
    p = wann_tui("--runs-dir", str(tmp_path))
    assert p.returncode == 2 and b"needs a terminal" in p.stderr
    assert "TEXTUAL_IMPORTED=False" in p.stderr.decode()


def test_ctrl_c_stops_with_checkpoint_then_resume_finishes(tmp_path: Path):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "wanntui", "--batch", "--events", "--runs-dir", str(runs),
                             "--name", "c", "--gens", "40", "--pop", "16", "--set", "alg_nReps=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=engine_env(), cwd=ROOT)
    try:
        gens = 0
        deadline = time.time() + 60
        while gens < 1 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if orjson.loads(line)["type"] == "generation":
                gens += 1
        assert gens == 1
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"stopping the run" in err
    evs = [orjson.loads(x) for x in (runs / "c" / "events.jsonl").read_bytes().splitlines()]
    assert evs[-1]["type"] == "stopped" and evs[-2]["type"] == "checkpoint"
    stopped_at = evs[-1]["gen"]
    assert 1 <= stopped_at < 40
    # continue it to the end, headless
    ckpt = orjson.loads((runs / "c" / "checkpoint.json").read_bytes())
    assert ckpt["format"] == "wann-checkpoint"
    p = subprocess.run([sys.executable, "-m", "wanntui", "--batch", "--resume", str(runs / "c"), "--no-progress"],
                       capture_output=True, timeout=120, env=engine_env(), cwd=ROOT)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stderr == b"" and b"\x1b[" not in p.stdout  # --no-progress: nothing on stderr
    out = dict(line.split(": ", 1) for line in p.stdout.decode().splitlines())  # the final summary
    assert out["state"] == "finished" and out["generations"] == "40/40" and out["run"] == str(runs / "c")
    assert out["champion"] == str(runs / "c" / "champion.json") and float(out["best"].split()[0]) > 0
    assert os.path.exists(runs / "c" / "champion.json")
