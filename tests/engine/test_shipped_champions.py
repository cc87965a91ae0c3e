"""The champions shipped in ``examples/champions`` score what their files say: the swing-up champion's
re-test replays exactly from the seed and episode count it records (the MNIST one takes ~30 s: ``slow``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

CHAMPIONS = Path(__file__).resolve().parents[2] / "examples" / "champions"


def replay(name: str) -> tuple[dict, dict]:
    doc = orjson.loads((CHAMPIONS / name).read_bytes())
    test = doc["retest"]
    p = subprocess.run([sys.executable, "-m", "wann_engine", "eval", str(CHAMPIONS / name), "--seed",
                        str(test["seed"]), "--episodes", str(test["episodes_per_weight"]), "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return doc, orjson.loads(p.stdout)


def test_the_swingup_champion_replays_its_recorded_retest():
    doc, got = replay("swingup.json")
    assert got["connections"] == 50
    assert got["overall_mean"] == pytest.approx(doc["retest"]["mean"], abs=1e-9)
    assert got["mean"] == pytest.approx(doc["per_weight"], abs=1e-9)


@pytest.mark.slow
def test_the_mnist_champion_replays_its_recorded_retest():
    doc, got = replay("mnist256.json")
    assert got["overall_mean"] == pytest.approx(doc["retest"]["mean"], abs=1e-6)

