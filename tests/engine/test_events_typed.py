"""The events schema in one place: typed events from the engine's own lines, one TERMINAL set, one resume rule."""

from __future__ import annotations

from pathlib import Path

import orjson

from wann_engine import control, events, mpi_launch
from wanntui import model
from wanntui.model import RunModel, synthetic_generation


def test_every_line_the_engine_writes_decodes_to_its_type(recorded: Path):
    raw = [orjson.loads(line) for line in (recorded / "events.jsonl").read_bytes().splitlines()]
    typed = list(events.read(recorded / "events.jsonl"))
    assert [e.type for e in typed] == [d["type"] for d in raw]
    for ev, d in zip(typed, raw, strict=True):
        assert type(ev) is events.TYPES.get(d["type"], events.Event) and ev.t == d["t"]
        if isinstance(ev, events.Generation):
            assert ev.gen == d["gen"] and ev.best_mean == d["best_mean"] and ev.evals_per_s == d["evals_per_s"]
            assert ev.has_population == ("objectives" in d)  # (written every few seconds, and at the last one)
            assert ev.objectives.shape == (len(d.get("objectives", [])), 3) and list(ev.front) == d.get("front", [])
            assert ev.ranking in ("mean_conns", "mean_peak", "initial")
    last = [ev for ev in typed if isinstance(ev, events.Generation)][-1]
    assert last.has_population and len(last.objectives) and last.front


def test_synthetic_generation_is_shaped_like_the_engines(recorded: Path):
    """The benchmark's and tests' stand-in has the engine's fields and values (no drift)."""
    engine = [orjson.loads(line) for line in (recorded / "events.jsonl").read_bytes().splitlines()]
    gen = next(d for d in engine if d["type"] == "generation")
    fake = synthetic_generation(0, pop=8)
    assert set(fake) == set(gen) - {"champion"}
    assert fake["ranking"] in {d["ranking"] for d in engine if d["type"] == "generation"} | {"mean_conns"}
    assert isinstance(events.decode(orjson.dumps(fake)), events.Generation)


def test_one_terminal_set_and_one_resume_rule():
    assert events.TERMINAL == {"finished", "stopped", "error"} and set(events.TERMINAL) <= set(events.STATE_TYPES)
    assert mpi_launch.TERMINAL is events.TERMINAL
    for mod in (control, mpi_launch, model):
        assert not hasattr(mod, "_TERMINAL") and not hasattr(mod, "STATE_EVENTS")
    start = {"v": 1, "type": "run_start", "t": 1.0, "resumed_from": None}
    gens = [synthetic_generation(g, pop=4, t=2.0 + g) for g in range(6)]
    resume = {"v": 1, "type": "run_start", "t": 9.0, "resumed_from": 3}
    again = [synthetic_generation(g, pop=4, t=10.0 + g) for g in range(3, 5)]
    stream = [start, *gens, resume, *again]
    kept = events.effective_generations(stream)  # raw dicts in, the same dicts out
    assert [d["gen"] for d in kept] == [0, 1, 2, 3, 4] and kept[3] is again[0]
    typed = events.effective_generations(events.from_dict(d) for d in stream)
    assert [g.gen for g in typed] == [0, 1, 2, 3, 4] and typed[3].t == 13.0
    m = RunModel("/tmp/x")
    m.feed([orjson.dumps(d) for d in stream])
    snap = m.snapshot()
    assert list(snap.history[:, model.C["gen"]]) == [0, 1, 2, 3, 4]
    assert list(snap.history[:, model.C["t"]]) == [g.t for g in typed]
