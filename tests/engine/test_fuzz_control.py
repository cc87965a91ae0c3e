"""Generated control files and ``wann-engine control`` command lines: the engine's ``wanted()`` never raises,
the CLI ends in one clear line (exit 2 where the request cannot be made), never a traceback, and nothing but the
asked-for ``control.json`` of the asked-for run ever changes."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wann_engine import cli, control, rundir
from wann_engine.config import Config

EXAMPLES = 150

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["run", "pause", "stop", "RUN", "pause\n", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8) | st.just("want"), inner,
                                                                max_size=4),
    max_leaves=12,
)
# what control.json may be: (kind, payload)
contents = st.one_of(
    st.tuples(st.just("json"), json_values),
    st.tuples(st.just("json"), st.fixed_dictionaries({"want": json_values | st.sampled_from(control.WANTS)},
                                                     optional={"t": json_values})),
    st.tuples(st.just("bytes"), st.binary(max_size=6000)),
    st.tuples(st.just("padded"), st.tuples(st.sampled_from(control.WANTS),
                                           st.sampled_from([0, 4000, 4100, 1 << 20, 20 << 20]))),
    st.tuples(st.sampled_from(["dir", "fifo", "missing", "dangling", "devzero", "loop"]), st.none()),
)


def _dump(value) -> bytes:
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):  # integers past 64 bits, NaN: still JSON text
        return json.dumps(value).encode()


def _place(path: Path, kind: str, payload) -> bytes | None:
    """Make ``path`` what the case says; returns the bytes a request should be read from (None: no file)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    if kind == "json":
        data = _dump(payload)
    elif kind == "bytes":
        data = payload
    elif kind == "padded":
        want, pad = payload
        data = orjson.dumps({"want": want, "pad": "x" * pad})
    else:
        {"dir": path.mkdir, "fifo": lambda: os.mkfifo(path), "missing": lambda: None,
         "dangling": lambda: path.symlink_to(path.parent / "nowhere"),
         "devzero": lambda: path.symlink_to("/dev/zero"), "loop": lambda: path.symlink_to(path)}[kind]()
        return None
    path.write_bytes(data)
    return data


def _expected(data: bytes | None) -> str:
    if data is None or len(data) > control.MAX_CONTROL_BYTES:
        return "run"
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "run"
    want = doc.get("want") if isinstance(doc, dict) else None
    return want if isinstance(want, str) and want in control.WANTS else "run"


def _tree(root: Path) -> dict[str, object]:
    """Every entry under ``root``: file bytes, or the kind of anything else."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_fifo():
            out[rel] = "fifo"
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-control") / "runs"
    for name in ("target", "other"):
        d = root / name
        d.mkdir(parents=True)
        (d / rundir.CONFIG).write_bytes(orjson.dumps(Config(popSize=8, maxGen=2).to_dict()))
        (d / rundir.EVENTS).write_bytes(b'{"v":1,"type":"run_start","t":1.0}\n')
        (d / rundir.CONTROL).write_bytes(b'{"want":"run","t":1.0}')
        (d / rundir.LOCK).write_bytes(orjson.dumps({"pid": 1, "host": socket.gethostname(), "started": 1.0}))
    return root


@settings(max_examples=EXAMPLES * 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=contents)
def test_wanted_never_raises_and_reads_only_a_small_regular_file(runs: Path, case):
    run = runs / "target"
    data = _place(run / rundir.CONTROL, *case)
    t0 = time.perf_counter()
    got = control.wanted(run)
    event(f"{case[0]} -> {got}")
    assert got == _expected(data), (case[0], data[:80] if data else data)
    assert control.wanted(run) == got  # the cached answer agrees
    assert time.perf_counter() - t0 < 0.5


class _Held:
    """Holds ``engine.lock`` as a running engine would (so the run counts as running); its content is the case's."""

    def __init__(self, run: Path, info: object) -> None:
        self.fd = os.open(run / rundir.LOCK, os.O_RDWR)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, _dump(info))

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        cli.main(["control", *args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


ACTIONS = st.sampled_from(["pause", "continue", "stop", "kill"]) | st.text(max_size=12)
_victim: list[subprocess.Popen] = []


@settings(max_examples=EXAMPLES // 3 * 2, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=contents, action=ACTIONS,
       where=st.sampled_from(["target", "missing", "file", "runs", "weird"]),
       running=st.booleans(),
       lock=st.sampled_from(["other-host", "victim", "zero", "minus", "text", "list", "huge", "none"]))
def test_control_cli_one_line_exit_2_and_nothing_else_changes(runs: Path, capsys, case, action, where, running,
                                                              lock):
    run = runs / "target"
    if not _victim:
        _victim.append(subprocess.Popen(["sleep", "600"]))
    victim = _victim[0]
    _place(run / rundir.CONTROL, *case)
    arg = {"target": run, "missing": runs / "nope", "file": run / rundir.CONFIG, "runs": runs,
           "weird": runs / "we\nird\x1b[31m"}[where]
    infos = {"other-host": {"pid": victim.pid, "host": "elsewhere.example"},
             "victim": {"pid": victim.pid, "host": socket.gethostname()}, "zero": {"pid": 0},
             "minus": {"pid": -1, "host": socket.gethostname()}, "text": {"pid": "1; rm"}, "list": [victim.pid],
             "huge": {"pid": 2**80}, "none": None}
    held = _Held(run, infos[lock]) if running else None
    before = _tree(runs)
    try:
        code, out, err = _cli(capsys, str(arg), action)
    finally:
        if held:
            held.release()
    after = _tree(runs)
    event(f"exit {code}")
    assert "Traceback" not in err and out == ""
    assert victim.poll() is None  # never signalled
    if code == 0:  # a request written to a running engine: only its control.json changed
        assert running and where == "target" and action in ("pause", "continue", "stop") and err == ""
        want = {"pause": "pause", "continue": "run", "stop": "stop"}[action]
        assert orjson.loads((run / rundir.CONTROL).read_bytes())["want"] == want
        after.pop(f"target/{rundir.CONTROL}")
        before.pop(f"target/{rundir.CONTROL}", None)  # (the case may have had no control.json)
    else:
        assert code == 2, err
        assert len(err.splitlines()) == 1 and err.startswith("wann-engine: error: "), err
    before.pop(f"target/{rundir.LOCK}", None)  # held runs rewrote it (the case's content)
    after.pop(f"target/{rundir.LOCK}", None)
    assert after == before


def test_stop_with_control_json_a_directory(runs: Path, capsys):
    run = runs / "target"
    _place(run / rundir.CONTROL, "dir", None)
    held = _Held(run, {"pid": 1, "host": socket.gethostname()})
    try:
        code, out, err = _cli(capsys, str(run), "stop")
    finally:
        held.release()
    assert code == 2 and err.startswith("wann-engine: error: cannot write") and len(err.splitlines()) == 1, err
    assert "Is a directory" in err
    assert not [p for p in run.iterdir() if ".tmp" in p.name]
    assert (run / rundir.CONTROL).is_dir()


def test_requests_to_a_run_that_is_not_running_agree_with_kill(runs: Path, capsys):
    run = runs / "target"
    _place(run / rundir.CONTROL, "json", {"want": "run", "t": 1.0})
    before = _tree(runs)
    for action in ("pause", "continue", "stop", "kill"):
        code, out, err = _cli(capsys, str(run), action)
        assert (code, out, err) == (2, "", f"wann-engine: error: {run}: no engine is running\n"), action
    assert _tree(runs) == before


def test_kill_refuses_another_hosts_engine_naming_it(runs: Path, capsys):
    run = runs / "target"
    victim = subprocess.Popen(["sleep", "60"])
    held = _Held(run, {"pid": victim.pid, "host": "node7.example", "started": 1.0})
    try:
        code, out, err = _cli(capsys, str(run), "kill")
    finally:
        held.release()
        alive = victim.poll() is None
        victim.kill()
        victim.wait()
    assert alive and code == 2 and "node7.example" in err and len(err.splitlines()) == 1, err


def teardown_module() -> None:
    for p in _victim:
        p.kill()
        p.wait()
