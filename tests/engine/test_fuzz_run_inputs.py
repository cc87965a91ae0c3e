"""Generated bad input to ``wann-engine run`` and ``resume``: config files, ``--set`` values, options,
run names and folders, and damaged checkpoints (mutations of a real one). Every case must end as one
clear line on stderr and exit code 2, never a traceback, and leave every run in the runs folder
byte-for-byte as it was (a refused resume rewrites neither ``engine.lock`` nor ``control.json``).

The command runs in this process (``wann_engine.cli.main``) for speed; ``test_cli.py`` covers the
same path in subprocesses.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wann_engine.cli import main
from wann_engine.config import Config, ConfigError
from wann_engine.rundir import RunDirError
from wann_engine.runner import prepare
from wann_engine.tasks import TaskError

DATA = ROOT / "tests" / "data" / "checkpoint_v1"
CASES = 60  # generated cases per test (six tests: about 360 per default run)
SETTINGS = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
I64 = 2**63


def dumps(doc: Any) -> bytes:
    """JSON of any value, integers of any size included (the damage orjson could not even write)."""
    return json.dumps(doc).encode()


def _fixture_runs(root: Path) -> Path:
    """A runs folder with one good stopped run ("good") and a run to damage ("victim")."""
    runs = root / "runs"
    if not runs.exists():
        for name in ("good", "victim"):
            shutil.copytree(DATA, runs / name)
            (runs / name / "expected.json").unlink()
    return runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fixture_runs(tmp_path_factory.mktemp("fuzz"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(folder.rglob("*"))}


def cli(*args: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, err.getvalue()


def refused(runs: Path, *args: str) -> str:
    """Run the command; assert the refusal (one line, exit 2, nothing in ``runs`` changed); return the line."""
    before = snapshot(runs)
    code, err = cli(*args)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("wann-engine: error: "), (code, err, args)
    assert snapshot(runs) == before, args
    return lines[0]


def runnable(overrides: list[str], base: dict[str, Any] | None = None) -> bool:
    """Would this configuration start a run (the code under test as the oracle; such cases get one more,
    certainly bad, override so that every case is a refusal)."""
    try:
        cfg = Config.from_dict(base) if base is not None else Config()
        prepare(cfg.with_overrides(overrides))
        return True
    except (ConfigError, TaskError, RunDirError):
        return False


# --- values ------------------------------------------------------------------------------------------------
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                         st.floats(allow_nan=False), st.text(max_size=12))
json_values = st.recursive(
    json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=6), kids,
                                                                                      max_size=3)), max_leaves=8)
huge = st.one_of(st.integers(min_value=I64), st.integers(max_value=-I64 - 1))
junk_text = st.text(max_size=20).filter(lambda t: not re.fullmatch(r"\s*[+-]?\d+\s*", t))
KEYS = sorted(Config().to_dict())


@SETTINGS
@given(doc=st.one_of(json_values.filter(lambda d: not isinstance(d, dict)),
                     st.dictionaries(st.sampled_from([*KEYS, "nokey"]), json_values, min_size=1, max_size=4),
                     st.builds(lambda k, v: {k: v}, st.sampled_from(["popSize", "maxGen", "seed", "alg_nReps"]), huge)))
@example(doc={"popSize": 1e300})
@example(doc=[])
@example(doc=[["popSize", 8]])
@example(doc=5)
@example(doc=None)
def test_config_files(runs: Path, tmp_path_factory: pytest.TempPathFactory, doc: Any) -> None:
    if isinstance(doc, dict) and "nokey" not in doc and runnable([], doc):
        doc = {**doc, "popSize": 1}
    f = tmp_path_factory.mktemp("cfg") / "config.json"
    f.write_bytes(dumps(doc))
    line = refused(runs, "run", "--runs-dir", str(runs), "--name", "new", "--config", str(f), "--quiet")
    assert str(f) in line


@SETTINGS
@given(raw=st.binary(max_size=40))
def test_config_files_that_are_not_json(runs: Path, tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and runnable([], doc):
        return
    f = tmp_path_factory.mktemp("cfg") / "c.json"
    f.write_bytes(raw)
    refused(runs, "run", "--runs-dir", str(runs), "--name", "new", "--config", str(f), "--quiet")


@SETTINGS
@given(key=st.sampled_from([*KEYS, "nokey", ""]),
       value=st.one_of(st.text(max_size=20), huge.map(str), st.integers().map(str), st.just("10**22"),
                       st.floats().map(str)),
       sep=st.sampled_from(["=", ":", ""]))
@example(key="popSize", value="10**22", sep="=")
@example(key="popSize", value="100000000000000000000000", sep="=")
def test_set_values(runs: Path, key: str, value: str, sep: str) -> None:
    pair = f"{key}{sep}{value}"
    args = ["--set", pair]
    if runnable([pair]):
        args += ["--set", "popSize=1"]
    refused(runs, "run", "--runs-dir", str(runs), "--name", "new", "--quiet", *args)


@SETTINGS
@given(opt=st.sampled_from(["--pop", "--gens", "--seed", "--workers", "--threads"]),
       value=st.one_of(huge.map(str), junk_text, st.integers(max_value=-1).map(str)))
@example(opt="--pop", value="99999999999999999999")
@example(opt="--gens", value=str(10**25))
@example(opt="--pop", value="1000000000")
def test_run_options(runs: Path, opt: str, value: str) -> None:
    if opt == "--pop" and value.strip().lstrip("+").isdigit() and int(value) < 10**8:
        value = "1"  # a population that fits is not bad input
    if opt == "--gens" and value.strip().lstrip("+").isdigit() and int(value) <= I64 - 1:
        value = "0"
    refused(runs, "run", "--runs-dir", str(runs), "--name", "new", "--quiet", opt, value)


@SETTINGS
@given(name=st.text(max_size=140).filter(lambda n: not NAME.fullmatch(n) and "\0" not in n))
@example(name="nl\n")
@example(name="")
@example(name="../x")
def test_run_names(runs: Path, name: str) -> None:
    line = refused(runs, "run", "--runs-dir", str(runs), "--name", name, "--quiet", "--gens", "1")
    assert "run name" in line


def test_runs_dir_that_is_a_file_and_existing_names(runs: Path, tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    assert "not a folder" in refused(runs, "run", "--runs-dir", str(f), "--quiet")
    assert "not a folder" in refused(runs, "run", "--runs-dir", str(f), "--name", "x", "--quiet")
    assert "already exists" in refused(runs, "run", "--runs-dir", str(runs), "--name", "good", "--quiet")
    for target in (f, tmp_path / "nothing", runs, tmp_path):
        refused(runs, "resume", str(target), "--quiet")


# --- damaged checkpoints -----------------------------------------------------------------------------------
GOOD = orjson.loads((DATA / "checkpoint.json").read_bytes())
OPTIONAL = {("elapsed",), ("episodes",), ("env_steps",)}  # missing = 0


def _leaves(doc: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(doc, dict):
        return [path] + [p for k, v in doc.items() for p in _leaves(v, (*path, k))]
    if isinstance(doc, list):
        return [path] + [p for i, v in enumerate(doc) for p in _leaves(v, (*path, i))]
    return [path]


PATHS = [p for p in _leaves(GOOD) if p]


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _kind(path: tuple, value: Any) -> str:
    if path[-1] in ("state", "inc", "uinteger") and isinstance(value, str):
        return "bigint"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "float" if path[0] in ("elapsed",) or "fitness" in path or "best_per_weight" in path \
            or path[-1] == "best_mean" else "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


WRONG = {  # values of the wrong type for each kind of field
    "int": st.one_of(st.floats().filter(lambda x: not x.is_integer()), st.just(1e300), st.text(max_size=5),
                     st.lists(st.integers(), max_size=2), st.just({}), st.booleans(), st.none()),
    "bigint": st.one_of(st.text(max_size=8).filter(lambda t: not (t.isascii() and t.isdigit())),
                        st.integers(min_value=2**128).map(str), st.integers(max_value=-1), st.floats(), st.none()),
    "float": st.one_of(st.text(max_size=5).filter(lambda t: t not in ("NaN", "Infinity", "-Infinity")),
                       st.lists(st.floats(), max_size=2), st.just({}), st.booleans(), st.none()),
    "bool": st.one_of(st.integers(), st.text(max_size=3), st.none()),
    "str": st.one_of(st.text(max_size=8).filter(lambda t: t not in ("PCG64", "mean_peak")), st.integers(), st.none()),
    "list": st.one_of(json_scalars, st.just({})),
    "dict": st.one_of(json_scalars, st.lists(st.integers(), max_size=2)),
}


@st.composite
def damaged(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(GOOD)
    s = doc["search"]
    how = draw(st.sampled_from(["type", "huge", "negative", "delete", "shape", "cycle", "activation",
                                "counters", "bytes"]))
    if how == "type":
        path = draw(st.sampled_from(PATHS))
        value = _get(doc, path)
        if path == ("version",):
            _set(doc, path, draw(st.one_of(st.integers(min_value=2), st.text(max_size=3))))
        elif path == ("search", "last_moo"):
            _set(doc, path, draw(st.one_of(st.integers(), st.text(max_size=5).filter(lambda t: t not in (
                "mean_conns", "mean_peak")))))
        else:
            _set(doc, path, draw(WRONG[_kind(path, value)]))
    elif how == "huge":
        ints = [p for p in PATHS if _kind(p, _get(doc, p)) in ("int", "bigint") and p[0] != "version"]
        path = draw(st.sampled_from(ints))
        big = draw(st.one_of(st.integers(min_value=I64), st.just(2**64 - 1), st.just(10**30), st.just(1e300)))
        _set(doc, path, str(big) if _kind(path, _get(doc, path)) == "bigint" and isinstance(big, int)
             and big < 2**400 and big >= 2**128 else big)
    elif how == "negative":
        path = draw(st.sampled_from([("search", "gen"), ("search", "evaluations"), ("episodes",), ("env_steps",),
                                     ("elapsed",), ("search", "innovations", "next_innov"),
                                     ("search", "innovations", "next_node"), ("search", "best_gen")]))
        _set(doc, path, draw(st.integers(max_value=-2)) if path[-1] != "elapsed" else -draw(st.floats(1e-6, 1e9)))
    elif how == "delete":
        path = draw(st.sampled_from([p for p in PATHS if p not in OPTIONAL and isinstance(p[-1], str)]))
        del _get(doc, path[:-1])[path[-1]]
    elif how == "shape":
        lists = [p for p in PATHS if isinstance(_get(doc, p), list) and _get(doc, p)
                 and "conns" not in p[-2:] and p[-1] != "conns"]
        path = draw(st.sampled_from(lists))
        target = _get(doc, path)
        if draw(st.booleans()):
            target.pop(draw(st.integers(0, len(target) - 1)))
        else:
            target.append(copy.deepcopy(target[-1]))
    elif how == "cycle":
        g = s["pop"][draw(st.integers(0, len(s["pop"]) - 1))]
        ids = {row[0]: row[1] for row in g["nodes"]}
        out = next(i for i, t in ids.items() if t == 2)
        later = [i for i, t in ids.items() if t in (2, 3)]
        src = draw(st.sampled_from([out, *later]))
        dst = draw(st.sampled_from([out, *later, 0, 1]))  # back into a hidden node, itself, the bias, an input
        if src == dst or ids[src] == 2 or dst in (0, 1):
            g["conns"].append([s["innovations"]["next_innov"] - 1, src, dst, 1])
        else:  # hidden -> hidden both ways
            g["conns"] += [[0, src, dst, 1], [1, dst, src, 1]]
    elif how == "activation":
        g = s["pop"][draw(st.integers(0, len(s["pop"]) - 1))]
        rows = [r for r in g["nodes"] if r[1] in (2, 3)]
        draw(st.sampled_from(rows))[2] = draw(st.sampled_from([0, 12, 13, 127, 128, 300, -1, 2**40]))
    elif how == "counters":
        kind = draw(st.sampled_from(["next_node", "next_innov", "best_per_weight", "gen"]))
        if kind == "next_node":
            s["innovations"]["next_node"] = max(r[0] for g in s["pop"] for r in g["nodes"])
        elif kind == "next_innov":
            s["innovations"]["next_innov"] = max(r[0] for g in s["pop"] for r in g["conns"])
        elif kind == "best_per_weight":
            s["best_per_weight"] = s["best_per_weight"][: draw(st.integers(0, 5))]
        else:
            s["best_gen"] = s["gen"] + draw(st.integers(0, 5))
    else:
        raw = dumps(GOOD)
        cut = draw(st.one_of(st.integers(0, len(raw) - 1).map(lambda n: raw[:n]), st.binary(max_size=30),
                             json_values.filter(lambda v: not isinstance(v, dict)).map(dumps)))
        return cut
    return dumps(doc)


@SETTINGS
@given(data=damaged())
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "gen": 10**30}}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "gen": 1e300}}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "gen": -5}}))
@example(data=dumps({**GOOD, "elapsed": "abc"}))
@example(data=dumps({**GOOD, "episodes": [1]}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "innovations": {"next_innov": 2**70,
                                                                                   "next_node": 18}}}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "best_per_weight": [1.0]}}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "fitness": [[1.0, 2.0]] * 16}}))
@example(data=dumps({**GOOD, "search": {**GOOD["search"], "rng": {
    **GOOD["search"]["rng"], "state": {"state": str(2**200), "inc": "1"}}}}))
def test_damaged_checkpoints(runs: Path, data: bytes) -> None:
    victim = runs / "victim"
    (victim / "checkpoint.json").write_bytes(data)
    line = refused(runs, "resume", str(victim), "--quiet")
    assert "checkpoint" in line


def test_node_ids_past_int64_and_as_floats(runs: Path) -> None:
    for bad in (1e300, 2**64 - 1, 2**63):
        doc = copy.deepcopy(GOOD)
        doc["search"]["pop"][3]["nodes"][6][0] = bad
        (runs / "victim" / "checkpoint.json").write_bytes(dumps(doc))
        assert "pop[3]" in refused(runs, "resume", str(runs / "victim"), "--quiet")


@pytest.mark.parametrize("args, message", [
    (["--pop", "99999999999999999999"], "out of range"),
    (["--gens", str(10**25)], "out of range"),
    (["--set", "popSize=10**22"], "popSize='10**22': expected int"),
    (["--pop", "1000000000"], "of memory at the start"),
    (["--name", "nl\n"], "run name 'nl\\n'"),
    (["--name", ""], "run name is empty"),
])
def test_a_few_in_a_real_process(tmp_path: Path, args: list[str], message: str) -> None:
    from conftest import engine

    runs = tmp_path / "runs"
    p = engine("run", "--runs-dir", str(runs), "--quiet", *args)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and message in lines[0], p.stderr
    assert not runs.exists() or not any(runs.iterdir())
