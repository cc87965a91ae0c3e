"""Fuzzing what is read from a run folder: event lines and config files, generated.

Every field the event reader reads gets values of the wrong type, numbers past int64 and float
range, non-finite spellings, nested junk; lines are cut short, garbled or made longer than the
reader's limit. Whatever is on disk, ``events.read``, ``control.summary``, the console's model (fed
through its tail reader) and ``wann-engine status`` must not raise; a run whose last lines or config
are damaged is flagged, never left out; and no reader changes a byte of any run folder.

The large fields of a generation event (``events.LARGE``: objectives, fronts, per-weight scores) are
checked when first read, not when the line is: a line whose only fault is there is a valid event
with a damaged field, which reads as absent, is named by ``damage()``, makes the model warn, and is
drawn by the Pareto and per-weight panes as damaged (without raising).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wann_engine import cli, control, events
from wann_engine.config import Config
from wanntui.model import RunModel, synthetic_generation
from wanntui.runs import RunStates
from wanntui.tail import FileTail, follow

#: lines longer than this are "giant" here (the real limit is 16 MiB; a small one keeps the test fast)
SMALL_MAX_LINE = 64 << 10

# --- values ---------------------------------------------------------------------------------------------------
def txt(n: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=n)


def dumps(x: object) -> bytes:
    """JSON as any writer might produce it (integers of any size, unlike orjson's encoder)."""
    return json.dumps(x, ensure_ascii=False, allow_nan=False).encode()


HUGE_INTS = st.sampled_from([2**63, 2**64 - 1, -(2**63) - 1, -1])
NESTED = st.recursive(st.none() | st.booleans() | st.integers() | txt(5),
                      lambda kids: st.lists(kids, max_size=3) | st.dictionaries(txt(3), kids, max_size=3),
                      max_leaves=8)
NOT_NUMBER = st.one_of(txt(8).filter(lambda s: s not in ("NaN", "Infinity", "-Infinity")),
                       st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(txt(2),
                                                                                          st.integers(), max_size=2))
NOT_INT = st.one_of(NOT_NUMBER, st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: x != int(x)),
                    st.sampled_from([1e22, 1e300, 2.0**70]), HUGE_INTS)
NOT_STR = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                    st.lists(txt(5), max_size=2), st.dictionaries(txt(2), st.integers(), max_size=2))
NUMBER = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**63 - 1),
                   st.sampled_from(["NaN", "Infinity", "-Infinity"]), st.sampled_from([1e308, -1e308, 5e-324]))
COUNT = st.integers(0, 2**63 - 1)

# field -> (valid values, invalid values), for every field the reader reads
FLOAT_FIELDS = ("fit_median", "fit_mean", "fit_max", "best_mean", "best_peak", "nodes_median", "conns_median",
                "elapsed", "gen_time", "eval_time", "evals_per_s", "episodes_per_s", "env_steps_per_s",
                "retest_mean", "retest_raw_mean", "gen_retest_max")
INT_FIELDS = ("evaluations", "episodes", "best_conns", "best_nodes", "best_gen", "env_steps", "retest_episodes",
              "retest_gen", "retest_conns")
GEN_FIELDS: dict[str, tuple[st.SearchStrategy, st.SearchStrategy]] = {
    **{k: (NUMBER | st.none(), NOT_NUMBER) for k in FLOAT_FIELDS},
    **{k: (COUNT | st.none(), NOT_INT) for k in INT_FIELDS},
    "gen": (COUNT, NOT_INT | st.none()),
    "best_per_weight": (st.lists(NUMBER, max_size=6), NOT_NUMBER.map(lambda x: [1.0, x]) | txt(3)),
    "pop_best_per_weight": (st.lists(NUMBER, max_size=6), NOT_NUMBER.map(lambda x: [x]) | st.integers()),
    "retest_per_weight": (st.lists(NUMBER, max_size=6), NOT_NUMBER.map(lambda x: [2.0, x]) | st.just({})),
    "ranking": (st.sampled_from(["mean_conns", "mean_peak", "initial"]), NOT_STR),
    "champion": (st.none() | st.just({"nodes": [[0, 4, 1], [1, 1, 1], [2, 2, 1]], "conns": [[0, 1, 2, 1]]}),
                 st.one_of(NOT_STR.filter(lambda x: x is not None), st.just({"nodes": [[0, 4]], "conns": []}),
                           st.just({"nodes": [[2**64 - 1, 1, 1]], "conns": []}), st.just({"nodes": []}),
                           st.just({"nodes": [[0, "a", 1]], "conns": []}))),
}
RUN_START_FIELDS: dict[str, tuple[st.SearchStrategy, st.SearchStrategy]] = {
    "name": (txt(10), NOT_STR),
    "task": (txt(10), NOT_STR),
    "input_names": (st.lists(txt(4), max_size=4), NOT_STR.map(lambda x: [x]) | st.integers()),
    "output_names": (st.lists(txt(4), max_size=2), st.just("force")),
    "weights": (st.lists(NUMBER, max_size=6), NOT_NUMBER.map(lambda x: [x]) | st.just({"w": 1})),
    "total_generations": (COUNT | st.none(), NOT_INT),
    "resumed_from": (COUNT | st.none(), NOT_INT),
    "pid": (COUNT | st.none(), NOT_INT),
    "host": (txt(5), NOT_STR),
    "engine_version": (txt(5), NOT_STR),
    "config": (st.just({"workers": 2, "threads": 1, "popSize": 8, "maxGen": 10, "keep_disabled_hidden": True}),
               st.one_of(st.just([]), st.integers(), st.just({"workers": "two"}), st.just({"popSize": [8]}),
                         st.just({"keep_disabled_hidden": "yes"}), st.just({"maxGen": 1e300}))),
}
GEN_AT_FIELDS = {"gen": (COUNT | st.none(), NOT_INT)}
OTHER_FIELDS: dict[str, dict[str, tuple[st.SearchStrategy, st.SearchStrategy]]] = {
    "checkpoint": {**GEN_AT_FIELDS, "bytes": (COUNT | st.none(), NOT_INT)},
    "paused": GEN_AT_FIELDS, "resumed": GEN_AT_FIELDS, "stopped": GEN_AT_FIELDS,
    "finished": {**GEN_AT_FIELDS, "best_mean": (NUMBER | st.none(), NOT_NUMBER),
                 "elapsed": (NUMBER | st.none(), NOT_NUMBER)},
    "error": {**GEN_AT_FIELDS, "message": (txt(20), NOT_STR)},
}
SCHEMAS = {"generation": GEN_FIELDS, "run_start": RUN_START_FIELDS, **OTHER_FIELDS}
TIME = st.floats(0, 4e9)
NOT_TIME = st.one_of(st.none(), NOT_NUMBER, st.sampled_from(["NaN", "Infinity"]))


@st.composite
def event_line(draw, kinds: tuple[str, ...] = (*SCHEMAS, "junk", "garbled", "unknown", "badtype", "giant")
               ) -> tuple[bytes, bool, bool]:
    """One line (without its newline), whether it is a valid event, and whether one of its large
    fields (``events.LARGE``, checked when read, not when decoded) is damaged."""
    kind = draw(st.sampled_from(kinds))
    if kind == "garbled":  # not JSON, or JSON that is not an event object
        raw = draw(st.one_of(st.binary(max_size=40).filter(lambda b: b"\n" not in b),
                             NESTED.map(lambda x: dumps(x)).filter(lambda b: b"type" not in b),
                             st.sampled_from([b"[" * 2000 + b"]" * 2000,  # deeper than the parser goes
                                              b'{"type":"generation","t":1,"gen":0,"fit_max":1e400}',
                                              b'{"type":"finished","t":NaN}', b'{"type":"finished","t":1}}'])))
        return (raw if raw.strip() else b"{", False, False)
    if kind == "giant":  # longer than the reader's limit (hidden, valid or not)
        pad = draw(st.sampled_from([SMALL_MAX_LINE + 1, 300 << 10]))
        return dumps({"type": "finished", "t": 1.0, "pad": "x" * pad}), False, False
    if kind == "unknown":  # a type this engine does not write: valid, ignored
        return dumps({"type": draw(st.sampled_from(["note", "x-custom"])), "t": draw(TIME),
                             "junk": draw(NESTED)}), True, False
    if kind == "badtype":
        return dumps({"type": draw(st.one_of(NOT_STR, st.none())), "t": 1.0}), False, False
    if kind == "junk":  # a known type with a bad time
        return dumps({"type": draw(st.sampled_from(list(SCHEMAS))), "t": draw(NOT_TIME)}), False, False
    schema = SCHEMAS[kind]
    bad_field = draw(st.none() | st.sampled_from(list(schema)))
    ev: dict = {"v": 1, "type": kind, "t": draw(TIME)}
    for key, (good, bad) in schema.items():
        if key == bad_field:
            ev[key] = draw(bad)
        elif key == "gen" or draw(st.booleans()):
            ev[key] = draw(good)
    large_bad = bad_field in events.LARGE
    if kind == "generation":
        n = draw(st.integers(0, 5))
        ev["objectives"] = [[draw(NUMBER), draw(NUMBER), draw(NUMBER)] for _ in range(n)]
        ev["front"] = draw(st.lists(st.integers(0, n - 1), max_size=3)) if n else []
        ev["front_peak"] = draw(st.lists(st.integers(0, n - 1), max_size=3)) if n else []
        shape = draw(st.sampled_from(["ok", "ok", "ragged", "strings", "index", "nested", "not-list", "peak-index",
                                      "front-junk"]))
        if shape != "ok" and (bad_field is None or large_bad):
            if shape == "ragged":
                ev["objectives"] = [[1.0, 2.0]] + ev["objectives"]
            elif shape == "strings":
                ev["objectives"] = [[1.0, "x", 3.0]]
            elif shape == "index":
                ev["front"] = [n + 2]
            elif shape == "not-list":
                ev["objectives"] = draw(NOT_STR.filter(lambda x: x != []) | txt(4).filter(bool))
            elif shape == "peak-index":
                ev["front_peak"] = [draw(st.sampled_from([-1, n, 2**63, 1.5, True]))]
            elif shape == "front-junk":
                ev["front"] = draw(NOT_STR.filter(lambda x: x != []) | st.just([[0]]))
            else:
                ev["objectives"] = [[[1.0], 2.0, 3.0]]
            large_bad = True
    ev["extra"] = draw(NESTED)  # unknown fields are ignored
    line = dumps(ev)
    return line, bad_field is None or bad_field in events.LARGE, large_bad


@st.composite
def events_file(draw) -> tuple[bytes, list[bool], list[bool], bool]:
    """An events file: lines, which are valid, which have a damaged large field, whether it ends
    with a partial line."""
    lines = draw(st.lists(event_line(), min_size=0, max_size=8))
    data = b"".join(line + b"\n" for line, _, _ in lines)
    partial = draw(st.booleans())
    if partial:  # a write cut by a kill: the start of a line, no newline
        cut = orjson.dumps(synthetic_generation(3, pop=4))
        data += cut[: draw(st.integers(1, len(cut) - 1))]
    return data, [ok for _, ok, _ in lines], [bad for _, _, bad in lines], partial


CONFIGS = st.one_of(
    st.just(("good", orjson.dumps(Config(maxGen=10, popSize=8).to_dict()))),
    st.sampled_from([b"[]", b"5", b"null", b"{", b"", b"\x00\xff", b'{"popSize": "x"}', b'[["popSize", 8]]',
                     b'{"task": 5}', b'{"weights": {"a": 1}}']).map(lambda b: ("bad", b)),
    st.sampled_from([b'{"popSize": 1e300}', b'{"maxGen": 100000000000000000000}', b'{"seed": -5}',
                     b'{"popSize": 18446744073709551615}']).map(lambda b: ("any", b)),
    st.just(("missing", b"")),
)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs_root():
    root = Path(tempfile.mkdtemp(prefix="wann-fuzz-"))
    good = root / "runs" / "good"
    good.mkdir(parents=True)
    (good / "config.json").write_bytes(orjson.dumps(Config(maxGen=4, popSize=4).to_dict()))
    start = {"v": 1, "type": "run_start", "t": 1.0, "name": "good", "task": "swingup", "total_generations": 4,
             "config": {"popSize": 4}, "resumed_from": None}
    lines = [start] + [synthetic_generation(g, pop=4, t=2.0 + g) for g in range(4)]
    lines.append({"v": 1, "type": "finished", "t": 9.0, "gen": 4, "best_mean": 1.0, "elapsed": 1.0})
    (good / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in lines))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def small_max_line(monkeypatch):
    monkeypatch.setattr(events, "MAX_LINE", SMALL_MAX_LINE)


def _check_large_fields(ev: events.Generation, damaged: bool) -> None:
    """The large fields of a decoded generation: sound and typed, or absent and named by ``damage``."""
    why = ev.damage()
    assert (why is not None) == damaged, why
    assert why is None or (why and "\n" not in why)
    obj = ev.objectives
    assert isinstance(obj, np.ndarray) and obj.dtype == float and obj.ndim == 2 and obj.shape[1] == 3
    for key in ("front", "front_peak"):
        idx = getattr(ev, key)
        assert type(idx) is tuple and all(type(i) is int and 0 <= i < len(obj) for i in idx)
    for key in (k for k in events.LARGE if k.endswith("per_weight")):
        scores = getattr(ev, key)
        assert type(scores) is tuple and all(type(x) is float for x in scores)
    for key in events.LARGE:
        assert ev.damage(key) is None or len(getattr(ev, key)) == 0
    assert ev.damage() == why  # checked once, the same answer after


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ev_file=events_file(), config=CONFIGS, lock=st.booleans())
def test_damaged_event_lines_and_configs_never_raise_and_are_flagged(runs_root, small_max_line, ev_file, config,
                                                                      lock):
    data, valid, large_bad, partial = ev_file
    runs = runs_root / "runs"
    fz = runs / "fz"
    shutil.rmtree(fz, ignore_errors=True)
    fz.mkdir()
    how, cfg_bytes = config
    if how != "missing":
        (fz / "config.json").write_bytes(cfg_bytes)
    (fz / "events.jsonl").write_bytes(data)
    if lock:
        (fz / "engine.lock").write_bytes(b'{"pid": 1, "host": "nowhere"}')  # not held: no engine runs
    before = snapshot(runs)

    # the plain reader: every valid line read, every bad one reported, the partial line neither
    bad: list[tuple[int, str]] = []
    got = list(events.read(fz / "events.jsonl", on_bad=lambda n, why: bad.append((n, why))))
    assert len(got) == sum(valid) and len(bad) == len(valid) - sum(valid)
    assert all(isinstance(e, events.Event) and math.isfinite(e.t) for e in got)
    assert all(why and "\n" not in why for _, why in bad)
    read_lines = [i for i, ok in enumerate(valid) if ok]
    for i, ev in zip(read_lines, got, strict=True):  # the large fields: checked when read, never raising
        if isinstance(ev, events.Generation):
            _check_large_fields(ev, damaged=large_bad[i])

    # the console's model, fed by its tail reader (giant lines stepped over, not kept)
    model = RunModel(fz)
    follow(FileTail(fz / "events.jsonl", max_line=SMALL_MAX_LINE), model)
    snap = model.snapshot()
    assert snap.n_events == sum(valid) and snap.n_malformed == len(valid) - sum(valid)
    assert snap.last is None or isinstance(snap.last, events.Generation)
    warned = [w for w in snap.warnings if "damaged field" in w]
    assert all(any(f"line {i + 1}:" in w for i, bad in enumerate(large_bad) if bad) for w in warned)
    if snap.last is not None:  # the latest generation's large fields were checked: damage is warned
        shown = [i for i, ev in zip(read_lines, got, strict=True) if isinstance(ev, events.Generation)][-1]
        assert any(f"line {shown + 1}:" in w for w in warned) == large_bad[shown], warned

    # the run's summary and the browser's row: listed, and flagged when damaged
    s = control.summary(fz)
    row = RunStates(runs).scan().get(fz)
    assert row is not None and row.state == s.state
    if how in ("bad", "missing"):
        assert s.state == "damaged" and s.damaged and "config.json" in s.damaged
        assert row.note.startswith("damaged: ")
    if valid and not valid[-1] and how == "good":  # the newest complete line is damaged: said so
        assert s.damaged and s.damaged.startswith("events.jsonl: ") and row.note == f"damaged: {s.damaged}"
    if how == "good" and all(valid):
        assert s.damaged is None and s.state in ("finished", "stopped", "crashed")

    # `wann-engine status`: every run listed, one line each
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.status(runs) == 0
    text = out.getvalue().splitlines()
    assert len(text) == 3 and any(t.startswith("fz ") for t in text) and any(t.startswith("good ") for t in text)

    # nothing was written anywhere
    assert snapshot(runs) == before


def test_a_giant_line_is_stepped_over_by_every_reader(tmp_path: Path):
    """Lines past the real 16 MiB limit: skipped as damaged without being kept, the run's state intact."""
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.json").write_bytes(orjson.dumps(Config(maxGen=1, popSize=4).to_dict()))
    good = [{"type": "run_start", "t": 1.0, "total_generations": 1}, synthetic_generation(0, pop=4, t=2.0),
            {"type": "finished", "t": 3.0, "gen": 1}]
    giant = b'{"type":"generation","t":4.0,"gen":7,"pad":"' + b"x" * (events.MAX_LINE + 10) + b'"}'
    (run / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in good) + giant + b"\n")
    s = control.summary(run)
    assert s.state == "finished" and s.gen == 1 and "MiB" in (s.damaged or "")
    model = RunModel(run)
    follow(FileTail(run / "events.jsonl"), model)
    snap = model.snapshot()
    assert snap.n_events == 3 and snap.n_malformed == 1 and snap.gen_done == 1
    assert "line 4" in snap.warnings[0] and "MiB" in snap.warnings[0]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(line=event_line(kinds=("generation",)).filter(lambda x: x[1] and x[2]), before=event_line(kinds=("generation",)))
def test_panes_draw_a_latest_generation_with_damaged_large_fields(line, before):
    """The Pareto pane (both axes) and the per-weight pane, in an app, drawing a latest generation
    whose objectives, fronts or per-weight scores are damaged: they say so, and nothing raises."""
    from textual.app import App, ComposeResult

    from wanntui.widgets.pareto import ParetoPlot
    from wanntui.widgets.weights import PER_WEIGHT, WeightTable

    model = RunModel(Path("/nonexistent/fz"))
    model.feed([before[0], line[0]])  # a generation before it, sound or not, valid or not
    snap = model.snapshot()
    last = snap.last
    assert last is not None and last.damage() is not None
    assert any("damaged field" in w and "line 2:" in w for w in snap.warnings)

    class Panes(App):
        def compose(self) -> ComposeResult:
            yield ParetoPlot()
            yield WeightTable()

    async def draw() -> tuple[str, str, str]:
        app = Panes()
        async with app.run_test(size=(80, 30)) as pilot:
            plot, table = app.query_one(ParetoPlot), app.query_one(WeightTable)
            subtitles = []
            for axes in ("conns", "peak"):
                plot.axes = axes
                plot.show(snap)
                table.show(snap)
                await pilot.pause()
                assert plot.builds and str(plot.render())
                subtitles.append(str(plot.border_subtitle))
            return subtitles[0], subtitles[1], str(table.border_subtitle)

    conns, peak, weights = asyncio.run(draw())
    # the Pareto pane shows the latest generation that carries the population (the engine writes it every
    # few seconds); the per-weight pane the latest generation
    shown = snap.population if snap.population is not None else last
    for sub, keys, ev in ((conns, ("objectives", "front"), shown), (peak, ("objectives", "front_peak"), shown),
                          (weights, PER_WEIGHT, last)):
        assert sub.startswith(f"gen {ev.gen}") and ("damaged: " in sub) == (ev.damage(*keys) is not None), sub
