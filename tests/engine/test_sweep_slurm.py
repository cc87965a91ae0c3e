"""``wann-engine sweep --slurm`` against a real single-node Slurm (Debian's slurm-wlm + munge) started by
``.ci/slurm-local.sh`` on loopback only; skipped with the reason where Slurm cannot start here."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import orjson
import pytest
from conftest import ROOT, engine
from test_sweep import history, reference

from wann_engine import sweep

SCRIPT = ROOT / ".ci" / "slurm-local.sh"


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("Slurm test: needs root to start slurmd")
    missing = [x for x in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo") if shutil.which(x) is None]
    if missing:
        pytest.skip(f"Slurm test: {', '.join(missing)} not installed (apt-get install -y slurm-wlm munge)")
    d = tmp_path_factory.mktemp("slurm")
    p = subprocess.run([str(SCRIPT), "start", str(d)], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        pytest.skip(f"Slurm test: a local Slurm could not start: {p.stderr.strip().splitlines()[-1:]}")
    conf = p.stdout.strip().splitlines()[-1]
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    try:
        yield conf
    finally:
        subprocess.run([str(SCRIPT), "stop", str(d)], capture_output=True, timeout=60)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def test_daemons_listen_on_loopback_only(slurm):
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("no ss to list listening sockets")
    out = subprocess.run([ss, "-ltnp"], capture_output=True, text=True).stdout
    ours = [ln for ln in out.splitlines() if "slurm" in ln]
    assert ours and all("127.0.0.1:" in ln for ln in ours), out


def test_sweep_members_run_as_a_job_array(slurm, tmp_path):
    path = tmp_path / "sl"
    p = engine("sweep", "start", str(path), "--task", "laptop_swing", "--pop", "16", "--set", "max_steps=200",
               "--seeds", "0-1", "--grid", "select_tournSize=4,8", "--gens", "3", "--slurm", "", check=True)
    assert "submitted Slurm job" in p.stdout
    sw = sweep.load(path)
    assert len(sw.slurm_jobs) == 1
    script = next((path / "slurm").glob("array-*.sh")).read_text()
    assert "#SBATCH --array=0,1,2,3" in script and "sweep member" in script
    end = time.monotonic() + 240
    while time.monotonic() < end:
        st = orjson.loads(engine("sweep", "status", str(path), "--json", check=True).stdout)
        if st["counts"].get("done") == 4:
            break
        time.sleep(1)
    assert st["counts"] == {"done": 4}, st
    outs = sorted((path / "slurm").glob(f"{sw.slurm_jobs[0]}_*.out"))
    assert len(outs) == 4
    for m in sw.members:
        assert history(path / m.name) == reference(tmp_path / "ref", sw, m), m.name
    # the console's run browser lists the Slurm sweep as one finished row (members are not rows)
    from wanntui.runs import RunStates

    rows = RunStates(tmp_path).scan()
    assert list(rows) == [path] and rows[path].kind == "sweep", rows
    assert rows[path].state == "finished" and (rows[path].gen, rows[path].total) == (4, 4)
    # nothing left to submit: resume says so
    p = engine("sweep", "resume", str(path), "--slurm", "", check=True)
    assert "nothing submitted" in p.stdout
