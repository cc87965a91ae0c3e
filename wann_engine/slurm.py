"""A sweep's members as a Slurm job array: ``wann-engine sweep start|resume|extend ... --slurm "OPTIONS"``.

The array script (written to ``SWEEP/slurm/``) has one task per unfinished member; task ``i``
runs ``wann-engine sweep member SWEEP --index i``, which starts the member with
``wann-engine run`` (or continues it with ``resume``), stops it at a wall budget, retries a
crash once, and exits when the member is done. The sweep folder must be on a filesystem every
node sees (and the venv's Python at the same path): members are ordinary run directories there,
so ``sweep status``, ``wann-engine status`` and the console follow them as they run.

``OPTIONS`` go to ``sbatch`` as given (``--partition``, ``--time``, ``--account``...); the
script asks for ``--cpus-per-task`` = the sweep's threads, and ``--parallel K`` becomes the
array's ``%K`` limit. A member with ``workers > 1`` (an MPI job) keeps working inside the
task's allocation.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import sweep as sweepmod


def pending_indices(sw: sweepmod.Sweep) -> list[int]:
    """Members to submit: all that are neither done nor running."""
    out = []
    for i, st in enumerate(sweepmod.statuses(sw)):
        if st.state != "done" and not st.alive:
            out.append(i)
    return out


def script(sw: sweepmod.Sweep, indices: list[int], parallel: int | None = None) -> str:
    """The ``sbatch --array`` script for the members at ``indices``."""
    path = sw.path.resolve()
    array = ",".join(map(str, indices)) + (f"%{parallel}" if parallel else "")
    log = path / sweepmod.SLURM_DIR / "%A_%a.out"
    engine = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "wann_engine"])
    return "\n".join([
        "#!/bin/sh",
        f"#SBATCH --job-name={shlex.quote('wann-' + path.name)[:64]}",
        f"#SBATCH --array={array}",
        f"#SBATCH --cpus-per-task={sw.threads}",
        f"#SBATCH --output={log}",
        f"#SBATCH --chdir={path}",
        "# one sweep member per array task: wann-engine run (or resume) until its budget is spent",
        f'exec {engine} sweep member {shlex.quote(str(path))} --index "$SLURM_ARRAY_TASK_ID"',
        "",
    ])


def sbatch() -> str:
    exe = shutil.which("sbatch")
    if exe is None:
        raise sweepmod.SweepError("--slurm: sbatch is not on PATH (is Slurm installed here?)")
    return exe


def submit(path: Path, options: str, parallel: int | None = None) -> tuple[str, list[str]]:
    """Write and submit the array script for the unfinished members; returns (job id, member names)."""
    sw = sweepmod.load(path)
    idx = pending_indices(sw)
    if not idx:
        return "", []
    try:
        opts = shlex.split(options)
    except ValueError as e:
        raise sweepmod.SweepError(f"--slurm {options!r}: {e}") from None
    exe = sbatch()
    folder = Path(path) / sweepmod.SLURM_DIR
    folder.mkdir(exist_ok=True)
    f = folder / f"array-{time.strftime('%Y%m%d-%H%M%S')}.sh"
    f.write_text(script(sw, idx, parallel))
    try:
        r = subprocess.run([exe, "--parsable", *opts, str(f)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise sweepmod.SweepError(f"sbatch: {e}") from None
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or [f"exit code {r.returncode}"])[-1]
        raise sweepmod.SweepError(f"sbatch refused the job: {why}")
    job = r.stdout.strip().split(";")[0]
    with sweepmod.editing(path) as s:
        s.slurm_jobs.append(job)
    return job, [sw.members[i].name for i in idx]


def cancel(sw: sweepmod.Sweep) -> str:
    """``scancel`` the sweep's jobs (members already asked to stop write their checkpoint on SIGTERM)."""
    exe = shutil.which("scancel")
    if exe is None or not sw.slurm_jobs:
        return ""
    subprocess.run([exe, *sw.slurm_jobs], capture_output=True, timeout=60)
    return f"cancelled Slurm job(s) {', '.join(sw.slurm_jobs)}"
