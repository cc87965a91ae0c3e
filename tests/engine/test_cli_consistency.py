"""The command line speaks one language: a summary at the end of `run`, no silent overwrite by `protocol`,
`wann-tui:` on batch errors, whole names in `status`, "evals/s", and `pytest -m slow` selecting slow tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import engine
from tui_support import ROOT, engine_env

QUICK = ("--pop", "8", "--set", "max_steps=50", "--set", "alg_nReps=1")


def test_run_ends_with_a_summary(runs: Path):
    p = engine("run", "--gens", "2", "--runs-dir", str(runs), "--name", "r", *QUICK, check=True)
    lines = p.stdout.splitlines()
    assert any(line.startswith("finished: 2/2 generations in ") for line in lines), p.stdout
    assert any(line.startswith("best: re-tested ") and ", raw " in line for line in lines), p.stdout
    assert f"champion: {runs / 'r' / 'champion.json'}" in lines
    assert "continue with" not in p.stdout
    assert " evals/s " in p.stdout and "ind/s" not in p.stdout


def test_quiet_run_prints_nothing(runs: Path):
    p = engine("run", "--gens", "1", "--runs-dir", str(runs), "--name", "q", "--quiet", *QUICK, check=True)
    assert p.stdout == ""


def test_protocol_does_not_overwrite_tuned_weights_without_force(runs: Path):
    engine("run", "--gens", "1", "--runs-dir", str(runs), "--name", "r", "--quiet", *QUICK, check=True)
    tuned = runs / "r" / "champion.tuned.json"
    tuned.write_text("mine\n")
    args = ("protocol", str(runs / "r" / "champion.json"), "--trials", "2", "--sweep", "3", "--finetune-gens", "1",
            "--finetune-pop", "4", "--finetune-episodes", "1", "--no-profile")
    p = engine(*args)
    assert p.returncode == 2
    assert p.stderr.strip() == f"wann-engine: error: {tuned}: exists (use --force to replace it)"
    assert tuned.read_text() == "mine\n"
    p = engine(*args, "--force", timeout=300)
    assert p.returncode == 0, p.stderr
    assert tuned.read_text() != "mine\n"


def test_batch_errors_are_in_the_batch_programs_name(runs: Path):
    """The engine's refusal, relayed by `--batch`, is a `wann-tui: error:` line, and the exit code is 2."""
    engine("run", "--gens", "1", "--runs-dir", str(runs), "--name", "r", "--quiet", *QUICK, check=True)
    (runs / "r" / "checkpoint.json").write_text("{\n")
    p = subprocess.run([sys.executable, "-m", "wanntui", "--batch", "--resume", str(runs / "r")],
                       capture_output=True, text=True, env=engine_env(), cwd=ROOT, timeout=120)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert f"wann-tui: error: {runs / 'r' / 'checkpoint.json'}: damaged checkpoint" in p.stderr, p.stderr
    assert "wann-engine: " not in p.stderr and p.stdout == ""


def test_status_shows_whole_names_in_aligned_columns(runs: Path):
    long = "gym_LunarLanderContinuous-v3-20261130-194113-and-more"
    for name in ("a", long):
        engine("run", "--gens", "1", "--runs-dir", str(runs), "--name", name, "--quiet", *QUICK, check=True)
    out = engine("status", str(runs), check=True).stdout.splitlines()
    assert out[0].startswith("name ") and any(line.startswith(long + " ") for line in out), out
    col = out[0].index("task")
    assert all(line[col:].startswith("swingup") for line in out[1:]), out


def test_status_elides_the_middle_at_a_terminal_width():
    from wann_engine.cli import _elide

    e = _elide("gym_LunarLanderContinuous-v3-20261130-194113", 20)
    assert len(e) == 20 and e.startswith("gym_Luna") and e.endswith("194113") and "…" in e
    assert _elide("short", 20) == "short"


def _collect(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "tests/engine/test_run_lifecycle.py", *args],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    return p.stdout


def test_dash_m_slow_selects_the_slow_tests():
    slow = _collect("-m", "slow")
    assert "test_twenty_kills_while_a_run_is_made" in slow and " tests collected (" in slow, slow
    assert slow.count("::") == 1, slow  # the slow test alone
    default = _collect()
    assert "test_twenty_kills_while_a_run_is_made" not in default and "deselected" in default
    assert "test_twenty_kills_while_a_run_is_made" in _collect("--runslow")
