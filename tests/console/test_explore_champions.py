"""The console's explorer opens every champion shipped in ``examples/champions`` on the file's own task."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHAMPIONS = Path(__file__).resolve().parents[2] / "examples" / "champions"

def test_the_explorer_opens_every_shipped_champion_on_its_own_task():
    """`wann-tui explore FILE` takes the task from the file (it gets as far as asking for a terminal)."""
    for name in ("swingup.json", "carracing.json", "mnist256.json"):
        p = subprocess.run([sys.executable, "-m", "wanntui", "explore", str(CHAMPIONS / name)],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert p.returncode == 2 and "needs a terminal" in p.stderr, (name, p.stderr)
