"""One launch spec (``control.LaunchSpec``) for the console's form, ``wann-tui --batch`` and ``control.launch``:
the same default names, the same checks (``config.for_run``, as ``wann-engine run``), the same command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from tui_support import ROOT, engine_env

from wann_engine import control, rundir
from wann_engine.config import ConfigError
from wanntui.batch import BatchError, BatchOptions, engine_args
from wanntui.screens.new_run import check_form

ODD_TASKS = ["gym:LunarLander-v3,continuous=true", "gym:ALE/Pong-v5", "gym:CarRacing-v3", "swingup", "...",
             "gym:" + "x" * 300, "-leading", "ünïcode task"]


@pytest.mark.parametrize("task", ODD_TASKS)
def test_default_name_is_a_valid_run_name_for_any_task(task: str):
    name = control.default_name(task)
    assert rundir.check_name(name) == name
    assert re.fullmatch(r".+-\d{8}-\d{6}", name)


@pytest.mark.parametrize("task", ["gym:LunarLander-v3,continuous=true", "gym:ALE/Pong-v5"])
def test_batch_accepts_the_tasks_wann_engine_run_accepts(tmp_path: Path, task: str):
    """``wann-tui --batch --task gym:...`` used to fail with "run name ...: use letters, digits ..."."""
    run, args = engine_args(BatchOptions(task=task, runs_dir=tmp_path))
    assert run.parent == tmp_path and rundir.check_name(run.name)
    assert args[:3] == ["run", "--task", task] and args[args.index("--name") + 1] == run.name
    assert not run.exists()  # nothing started


def test_form_batch_and_launch_build_the_same_command(tmp_path: Path):
    spec = check_form(tmp_path, "laptop_swing", "16", "3", "2", "5", "same")
    _, args = engine_args(BatchOptions(task="laptop_swing", pop=16, gens=3, workers=2, seed=5, name="same",
                                       runs_dir=tmp_path))
    assert spec.argv() == args
    assert args == ["run", "--task", "laptop_swing", "--name", "same", "--runs-dir", str(tmp_path), "--seed", "5",
                    "--workers", "2", "--quiet", "--pop", "16", "--gens", "3"]


@pytest.mark.parametrize("kw, message", [
    (dict(pop=1), "popSize=1: must be at least 2"),
    (dict(gens=0), "maxGen=0: must be at least 1"),
    (dict(workers=0), "workers=0: must be at least 1"),
    (dict(seed=-1), "seed=-1"),
    (dict(overrides=("popSize=many",)), "popSize='many'"),
    (dict(name="a/b"), "run name 'a/b'"),
    (dict(name=""), "run name is empty"),
])
def test_one_set_of_checks_with_the_engines_messages(tmp_path: Path, kw: dict, message: str):
    spec = control.LaunchSpec(runs_dir=tmp_path, **kw)
    with pytest.raises((ConfigError, rundir.RunDirError), match=re.escape(message)):
        spec.check()
    with pytest.raises(BatchError, match=re.escape(message)):
        engine_args(BatchOptions(runs_dir=tmp_path, **{k: list(v) if k == "overrides" else v
                                                        for k, v in kw.items()}))
    assert list(tmp_path.iterdir()) == []


def test_existing_run_and_runs_dir_that_is_a_file(tmp_path: Path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(control.RunExists):
        control.LaunchSpec(runs_dir=tmp_path, name="taken").check()
    with pytest.raises(BatchError, match="continue it with --resume"):
        engine_args(BatchOptions(runs_dir=tmp_path, name="taken"))
    with pytest.raises(ValueError, match="already exists"):
        check_form(tmp_path, "swingup", "", "", "1", "0", "taken")
    (tmp_path / "file").write_text("x")
    with pytest.raises(rundir.RunDirError, match="not a directory"):
        control.LaunchSpec(runs_dir=tmp_path / "file").check()


def test_batch_runs_a_gym_task_under_its_default_name(tmp_path: Path):
    runs = tmp_path / "runs"
    task = "gym:LunarLander-v3,continuous=true"
    p = subprocess.run([sys.executable, "-m", "wanntui", "--batch", "--no-progress", "--runs-dir", str(runs),
                        "--task", task, "--gens", "1", "--pop", "4", "--set", "alg_nReps=1", "--set",
                        "max_steps=20"], capture_output=True, timeout=300, env=engine_env(), cwd=ROOT)
    assert p.returncode == 0, p.stderr.decode()
    (run,) = [d for d in runs.iterdir() if d.is_dir()]
    assert run.name.startswith("gym_LunarLander-v3_continuous_true-")
    assert orjson.loads((run / rundir.CONFIG).read_bytes())["task"] == task
