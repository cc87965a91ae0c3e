"""The large fields of a generation event are checked when first read, once, and only the latest
generation's ever are: a long run opens at the cost of its scalars, and a damaged large field is a
warning about that field, never a skipped line or an exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from wann_engine import events
from wanntui import batch
from wanntui.model import C, RunModel, synthetic_generation
from wanntui.tail import FileTail, follow


def _line(gen: int, **fields) -> bytes:
    return orjson.dumps({**synthetic_generation(gen, pop=16, t=10.0 + gen), **fields})


def test_decoding_leaves_the_large_fields_unread_until_asked():
    ev = events.decode(_line(3))
    assert isinstance(ev, events.Generation) and ev.gen == 3 and not ev._checked  # nothing converted yet
    obj = ev.objectives
    assert obj.shape == (16, 3) and obj.dtype == float and not obj.flags.writeable
    assert ev.objectives is obj  # converted once
    assert ev.front == (0, 3, 5) and ev.front_peak == (0, 3) and len(ev.best_per_weight) == 6
    assert ev.damage() is None


@pytest.mark.parametrize(("fields", "named"), [
    ({"objectives": [[1.0, "x", 3.0]]}, "objectives[0][1]: expected a number, got string"),
    ({"objectives": "lots"}, "objectives: expected a list, got string"),
    ({"front": [99]}, "front: 99 is not an index"),
    ({"front_peak": [True]}, "front_peak: True is not an index"),
    ({"best_per_weight": [1.0, {}]}, "best_per_weight[1]: expected a number, got object"),
    ({"pop_best_per_weight": 7}, "pop_best_per_weight: expected a list, got int"),
])
def test_a_damaged_large_field_reads_as_absent_and_is_named(fields, named):
    ev = events.decode(_line(4, **fields))  # the line is an event: its scalars stand
    assert isinstance(ev, events.Generation) and ev.gen == 4 and ev.best_mean == 100.04
    why = ev.damage()
    assert why is not None and named in why and "\n" not in why
    key = next(iter(fields))
    assert named in (ev.damage(key) or "") and len(getattr(ev, key)) == 0
    if key == "objectives":  # the fronts index it: absent too, said once
        assert ev.front == () and ev.front_peak == () and why.count("objectives") == 1
    sound = [k for k in events.LARGE if k != key and not (key == "objectives" and k.startswith("front"))]
    assert all(ev.damage(k) is None and len(getattr(ev, k)) for k in sound)


def test_the_model_checks_only_the_latest_generation_and_warns_once(tmp_path: Path):
    run = tmp_path / "r"
    run.mkdir()
    bad = {"objectives": [[1.0, 2.0]]}
    lines = [_line(g, **bad) for g in range(50)]  # every generation damaged but the last
    lines.append(_line(50))
    (run / "events.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    model = RunModel(run)
    follow(FileTail(run / "events.jsonl"), model)
    snap = model.snapshot()
    assert snap.n_events == 51 and snap.n_malformed == 0 and snap.gen_done == 51  # nothing skipped
    assert list(snap.history[:, C["gen"]]) == list(range(51))  # every generation's scalars kept
    assert not [w for w in snap.warnings if "damaged" in w]  # never shown, never checked
    assert snap.last is not None and snap.last.damage() is None

    with open(run / "events.jsonl", "ab") as f:  # the newest generation is the damaged one
        f.write(_line(51, **bad) + b"\n")
    model = RunModel(run)
    follow(FileTail(run / "events.jsonl"), model)
    snap = model.snapshot()
    warned = [w for w in snap.warnings if "damaged" in w]
    assert len(warned) == 1 and "events.jsonl line 52: damaged field(s)" in warned[0]
    assert "objectives[0]: expected a list of 3 numbers" in warned[0]
    assert snap.last.gen == 51 and len(snap.last.objectives) == 0
    model.snapshot()
    model.feed([], 53)
    assert len([w for w in model.snapshot().warnings if "damaged" in w]) == 1  # once per event
    assert batch._new_warnings(model, 0)[0][-1] == warned[0]  # --batch prints it as a warning


def test_apply_of_a_dict_checks_the_latest_generation_too():
    model = RunModel("/tmp/nowhere")
    model.apply({**synthetic_generation(2, pop=4), "front": ["a"]})
    assert model.n_warnings == 1 and "generation 2: damaged field(s)" in model.warnings[-1]
    assert model.snapshot().last.front == ()
    np.testing.assert_array_equal(model.snapshot().last.objectives.shape, (4, 3))
