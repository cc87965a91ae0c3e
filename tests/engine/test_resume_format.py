"""A checkpoint written by the engine before its run lifecycle was restructured resumes to exactly the
generations and champion of a run that was never interrupted (tests/data/checkpoint_v1: a swing-up run,
population 16, seed 3, stopped after generation 4 of 8; ``expected.json`` holds the uninterrupted run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
from conftest import ROOT, TIMING

from wann_engine import runner
from wann_engine.events import effective_generations, read_events

DATA = ROOT / "tests" / "data" / "checkpoint_v1"


def test_a_checkpoint_of_the_earlier_format_resumes_identically(tmp_path: Path) -> None:
    run = tmp_path / "stopped"
    shutil.copytree(DATA, run)
    expected = orjson.loads((run / "expected.json").read_bytes())
    (run / "expected.json").unlink()
    with runner.Session.resume(run) as s:
        assert s.search.gen == 4
        assert s.run() == 0
    gens = [{k: v for k, v in ev.items() if k not in TIMING}
            for ev in effective_generations(read_events(run / "events.jsonl"))]
    assert [g["gen"] for g in gens] == list(range(8))
    assert gens == expected["generations"]
    assert orjson.loads((run / "checkpoint.json").read_bytes())["search"] == expected["search"]
    assert orjson.loads((run / "champion.json").read_bytes())["genome"] == expected["champion"]
