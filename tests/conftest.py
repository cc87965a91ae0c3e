"""Shared fixtures: paths, and helpers that run the engine the way a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SWING_OUT = ROOT / "tests" / "data" / "swing.out"  # the paper's swing-up champion, original format
#: event fields that measure wall time: two runs of the same generations differ only in these
TIMING = frozenset({"t", "elapsed", "gen_time", "eval_time", "evals_per_s", "episodes_per_s", "env_steps_per_s"})


def engine(*args: str, check: bool = False, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m wann_engine ARGS`` as a user would; returns the completed process."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    p = subprocess.run([sys.executable, "-m", "wann_engine", *args], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=kw.pop("cwd", ROOT), **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"engine {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run the tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` are left out unless asked for: ``--runslow``, or any ``-m`` expression
    (``-m slow`` selects them alone; ``-m 'not slow'`` still leaves them out)."""
    if config.getoption("--runslow") or config.option.markexpr:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d


@pytest.fixture(scope="session")
def swing_out() -> Path:
    return SWING_OUT


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> Path:
    """A finished 8-generation swing-up run recorded once per session (``tui_support.recorded_run``)."""
    from tui_support import recorded_run

    return recorded_run(tmp_path_factory.mktemp("recorded"))


@pytest.fixture
def recorded_runs(tmp_path: Path, recorded: Path) -> Path:
    """A runs folder holding a copy of the recorded run (``rec``)."""
    from tui_support import copy_run

    d = tmp_path / "runs"
    d.mkdir()
    copy_run(recorded, d)
    return d
