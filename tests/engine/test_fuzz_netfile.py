"""Network files that are not a feed-forward WANN with known activations are refused with the reason.

Generated (hypothesis) JSON genome documents, tuned-weights documents and ``.out`` matrices: every case
ends in a valid, runnable network or a one-line :class:`NetworkFileError` (``TaskError`` for a task name
that does not exist), never another exception; ``eval`` on a bad file prints one line and exits 2.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wann_engine.activations import RL_HIDDEN
from wann_engine.genome import BIAS, HIDDEN, INPUT, OUTPUT, initial_genome
from wann_engine.netfile import FORMAT, TUNED_FORMAT, NetworkFileError, open_network
from wann_engine.tasks import TaskError
from wann_engine.variation import Innovations, mutate

N_IN, N_OUT = 5, 1  # swing-up
CASES = 150

any_number = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.integers(-3, 40),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1.5, 3.0, -0.0, 1e30, 259, 2**63, 2**64 - 1]),
    st.booleans(), st.none(), st.text(max_size=3), st.just([1]), st.just({}))


def _valid_rows(seed: int, steps: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    g = initial_genome(N_IN, N_OUT, rng, 0.6)
    inn = Innovations((N_IN + 1) * N_OUT, 1 + N_IN + N_OUT)
    for _ in range(steps):
        g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), RL_HIDDEN + (11,))
    d = g.to_dict()
    return d["nodes"], d["conns"]


@st.composite
def genome_rows(draw):
    """A valid genome's rows, then a few edits: values replaced by anything, rows added, removed or rewired."""
    nodes, conns = _valid_rows(draw(st.integers(0, 2**16)), draw(st.integers(0, 6)))
    ids = [r[0] for r in nodes]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["value", "conn", "drop", "node", "act", "type", "dup", "row"]))
        full = [r for r in nodes + conns if isinstance(r, list) and len(r) >= 3]
        if kind == "value" and full:
            row = draw(st.sampled_from(full))
            row[draw(st.integers(0, len(row) - 1))] = draw(any_number)
        elif kind == "conn":
            conns.append([draw(st.integers(0, 10**6)), draw(st.sampled_from(ids + [10**9])),
                          draw(st.sampled_from(ids + [10**9])), draw(st.sampled_from([0, 1, 2, True]))])
        elif kind == "drop" and conns:
            conns.pop(draw(st.integers(0, len(conns) - 1)))
        elif kind == "node":
            nid = draw(st.integers(-(2**64), 2**64))
            kind_of = draw(st.sampled_from([HIDDEN, OUTPUT, INPUT, BIAS, 0, 7]))
            nodes.append([nid, kind_of, draw(st.integers(-300, 300))])
            if draw(st.booleans()):
                conns.append([10**5, draw(st.sampled_from(ids)), nid, 1])
                conns.append([10**5 + 1, nid, draw(st.sampled_from(ids)), 1])
        elif kind == "act" and full:
            draw(st.sampled_from(full))[2] = draw(st.sampled_from([0, 12, 259, -1, 1.5, 3.0, 300]))
        elif kind == "type" and full:
            draw(st.sampled_from(full))[1] = draw(st.sampled_from([BIAS, INPUT, OUTPUT, HIDDEN, 5]))
        elif kind == "dup" and conns:
            conns.append(list(conns[draw(st.integers(0, len(conns) - 1))]))
        elif kind == "row":
            rows = draw(st.sampled_from([nodes, conns]))
            rows.append(draw(st.lists(any_number, max_size=5)))
    return nodes, conns


@st.composite
def json_documents(draw):
    nodes, conns = draw(genome_rows())
    doc = {"format": FORMAT, "version": 1, "task": "swingup", "n_inputs": N_IN, "n_outputs": N_OUT,
           "genome": {"nodes": nodes, "conns": conns}}
    for _ in range(draw(st.integers(0, 1))):
        key = draw(st.sampled_from(["format", "version", "task", "genome", "input_names"]))
        doc[key] = draw(st.one_of(any_number, st.sampled_from(["swingup", "digits", "swingpu", FORMAT])))
    if draw(st.integers(0, 4)) == 0:  # a tuned-weights document around it
        n = len(conns)
        doc = {"format": TUNED_FORMAT, "version": 1, "task": "swingup", "shared_weight": draw(any_number),
               "connections": [[draw(st.integers(0, 8)), draw(st.integers(0, 8)), draw(any_number)]
                               for _ in range(draw(st.integers(0, max(n, 1))))], "network": doc}
    return json.dumps(doc).encode() if draw(st.integers(0, 9)) else \
        draw(st.binary(max_size=40)).join([b"{", b"}"])


@st.composite
def out_matrices(draw):
    """Mostly a valid matrix (upper-triangular, known activations), then a few damaged entries or shapes."""
    n = draw(st.integers(7, 12)) if draw(st.integers(0, 3)) else draw(st.integers(1, 6))
    ok = st.sampled_from([0.0, 0.0, 0.0, 1.0, math.nan])
    mat = np.array([[draw(ok) for _ in range(n + 1)] for _ in range(n)])
    mat[:, :n] = np.triu(mat[:, :n], 1)
    mat[:, :1 + N_IN] = 0.0  # nothing into the bias or the inputs
    mat[:, n] = [draw(st.integers(1, 11)) for _ in range(n)]
    for _ in range(draw(st.integers(0, 2))):
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n))
        mat[i, j] = draw(st.sampled_from([1.0, math.nan, math.inf, -2.5, 1e30, 0.0, 12.0, 259.0, 1.5, -1.0]))
    if draw(st.integers(0, 9)) == 0:
        mat = mat[:, :-1] if draw(st.booleans()) else np.hstack([mat, mat[:, :1]])
    text = "\n".join(",".join(f"{v:.6g}" for v in row) for row in mat)
    return text.encode() if draw(st.integers(0, 19)) else draw(st.binary(max_size=60))


def _check(data: bytes, suffix: str, counts: dict[str, int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"net{suffix}"
        path.write_bytes(data)
        try:
            got = open_network(path, None if suffix == ".json" else "swingup")
        except (NetworkFileError, TaskError) as e:
            msg = str(e)
            assert msg and "\n" not in msg and "Traceback" not in msg
            counts["refused"] += 1
            return
    net = got.network()
    # valid: feed-forward in evaluation order, known activations, and it runs
    assert all(s < d for s, d in net.edges().tolist())
    assert set(net.act[net.n_in + 1:].tolist()) <= set(range(1, 12))
    out = net.forward(np.ones((2, N_IN)), 0.5)
    assert out.shape == (2, N_OUT)
    counts["valid"] += 1


COUNTS = {"json": {"valid": 0, "refused": 0}, "out": {"valid": 0, "refused": 0}}


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_documents())
def test_fuzz_json_network_files(data: bytes):
    _check(data, ".json", COUNTS["json"])


@settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(out_matrices())
def test_fuzz_out_matrices(data: bytes):
    _check(data, ".out", COUNTS["out"])


def _doc(nodes, conns) -> bytes:
    return orjson.dumps({"format": FORMAT, "version": 1, "task": "swingup", "n_inputs": 1, "n_outputs": 1,
                         "genome": {"nodes": nodes, "conns": conns}})


# bias 0, input 1, output 2, hidden 3
_BASE = [[0, BIAS, 1], [1, INPUT, 1], [2, OUTPUT, 1], [3, HIDDEN, 1]]


@pytest.mark.parametrize("nodes, conns, reason", [
    (_BASE, [[0, 1, 3, 1], [1, 3, 2, 1], [2, 2, 3, 1]], "not feed-forward"),  # output -> hidden -> output
    (_BASE, [[0, 1, 2, 1], [1, 2, 2, 1]], "loops on its node"),  # output self-loop
    (_BASE, [[0, 1, 3, 1], [1, 3, 1, 1]], "ends at the bias or an input"),  # hidden -> input
    (_BASE, [[0, 1, 3, 1], [1, 3, 0, 0]], "ends at the bias or an input"),  # hidden -> bias (disabled)
    (_BASE, [[0, 1, 2, 1], [1, 1, 2, 1]], "appears twice"),  # duplicate connection
    ([[0, BIAS, 1], [1, INPUT, 1], [2, OUTPUT, 1], [3, HIDDEN, 259]], [[0, 1, 3, 1], [1, 3, 2, 1]],
     "unknown activation id 259"),
    ([[0, BIAS, 1], [1, INPUT, 1], [2, OUTPUT, 1], [3, HIDDEN, 1.5]], [[0, 1, 3, 1], [1, 3, 2, 1]],
     "1.5 is not a whole number"),
    ([[0, BIAS, 1], [1, INPUT, 1], [2, OUTPUT, 1], [2**64 - 1, HIDDEN, 1]], [], "does not fit in 64 bits"),
    ([[0, BIAS, 1], [1, INPUT, 1], [2, OUTPUT, 12]], [], "unknown activation id 12"),
])
def test_not_a_feed_forward_wann_is_refused_with_the_reason(tmp_path: Path, nodes, conns, reason):
    from wann_engine.netfile import genome_from_rows

    with pytest.raises(NetworkFileError, match=reason):
        genome_from_rows(nodes, conns)


@pytest.mark.parametrize("act_column, reason", [("1e30", "unknown activation id"), ("259", "unknown activation id"),
                                                ("1.5", "whole numbers"), ("nan", "whole numbers")])
def test_out_activations_are_checked(tmp_path: Path, act_column: str, reason: str):
    rows = [["0"] * 7 + ["1"] for _ in range(7)]
    rows[0][6] = "1"  # bias -> output
    rows[6][7] = act_column
    (tmp_path / "a.out").write_text("\n".join(",".join(r) for r in rows))
    with pytest.raises(NetworkFileError, match=reason):
        open_network(tmp_path / "a.out", "swingup")


def _cli(capsys, *args: str) -> tuple[int, str]:
    from wann_engine.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    return int(e.value.code or 0), capsys.readouterr().err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.one_of(json_documents(), out_matrices()))
def test_eval_on_generated_files_is_one_line_and_exit_2_or_a_score(capsys, data: bytes):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("n.json" if data.lstrip().startswith(b"{") else "n.out")
        path.write_bytes(data)
        rc, err = _cli(capsys, "eval", str(path), "--episodes", "1", "--weights", "1", "--threads", "1")
    assert rc in (0, 2)
    if rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wann-engine: error: "), err


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed -1: must be a whole number from 0"),
    (["--seed", str(2**70)], "--seed"),
    (["--episodes", "1000000000000"], "TiB of memory"),
    (["--episodes", "0"], "--episodes must be at least 1"),
    (["--threads", "-1"], "--threads -1: must be 0 (all cores)"),
    (["--weights", "1,x"], "--weights"),
])
def test_eval_bad_numbers(capsys, swing_out: Path, args: list[str], message: str):
    rc, err = _cli(capsys, "eval", str(swing_out), *args)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and message in lines[0], err


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed -1"), (["--threads", "-1"], "--threads -1"),
    (["--trials", "1000000000000"], "of memory"), (["--finetune-gens", str(10**15)], "of memory"),
])
def test_protocol_bad_numbers(capsys, swing_out: Path, tmp_path: Path, args: list[str], message: str):
    rc, err = _cli(capsys, "protocol", str(swing_out), *args, "--out", str(tmp_path / "o"))
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "o").exists()


def test_explorer_bad_numbers(swing_out: Path):
    from wann_engine import explore

    for kw, message in (({"seed": -1}, "seed -1"), ({"episodes": 10**12}, "of memory"), ({"episodes": 0}, "at least")):
        with pytest.raises(explore.ExploreError, match=message):
            explore.open_file(swing_out, "swingup", **kw)


def test_export_refuses_a_cyclic_network(capsys, tmp_path: Path):
    (tmp_path / "c.json").write_bytes(_doc(_BASE, [[0, 1, 3, 1], [1, 3, 2, 1], [2, 2, 3, 1]]))
    rc, err = _cli(capsys, "export", str(tmp_path / "c.json"), "--to", "dot", "-o", "-")
    assert rc == 2 and "not feed-forward" in err and len(err.strip().splitlines()) == 1
