"""Tailing events files: complete lines only, malformed lines, appends, truncation, the watcher thread."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson

from wanntui.model import RunModel, synthetic_generation
from wanntui.tail import FileTail, Watcher, split_lines


def _line(gen: int) -> bytes:
    return orjson.dumps(synthetic_generation(gen, pop=4)) + b"\n"


def test_split_lines_keeps_the_partial_rest():
    assert split_lines(b"a\nb\npart") == ([b"a", b"b"], b"part")
    assert split_lines(b"part") == ([], b"part")
    assert split_lines(b"a\n") == ([b"a"], b"")


def test_partial_last_line_waits_for_its_newline(tmp_path: Path):
    f = tmp_path / "events.jsonl"
    full = _line(0)
    f.write_bytes(full + _line(1)[:20])
    t = FileTail(f)
    lines, restarted = t.poll()
    assert len(lines) == 1 and not restarted
    assert t.poll() == ([], False)
    with open(f, "ab") as out:
        out.write(_line(1)[20:])
    lines, _ = t.poll()
    assert len(lines) == 1 and orjson.loads(lines[0])["gen"] == 1
    assert t.line_no == 2


def test_missing_file_then_created(tmp_path: Path):
    t = FileTail(tmp_path / "later.jsonl")
    assert t.poll() == ([], False)
    (tmp_path / "later.jsonl").write_bytes(_line(0))
    assert len(t.poll()[0]) == 1


def test_truncated_or_replaced_file_is_read_again(tmp_path: Path):
    f = tmp_path / "events.jsonl"
    f.write_bytes(_line(0) + _line(1))
    t = FileTail(f)
    assert len(t.poll()[0]) == 2
    repl = tmp_path / "new.jsonl"
    repl.write_bytes(_line(5))
    os.replace(repl, f)
    lines, restarted = t.poll()
    assert restarted and len(lines) == 1 and t.line_no == 1
    f.write_bytes(b"")
    assert t.poll() == ([], True)


def test_start_at_end_skips_history_and_a_partial_line(tmp_path: Path):
    f = tmp_path / "events.jsonl"
    f.write_bytes(_line(0) + _line(1)[:10])
    t = FileTail(f, start_at_end=True)
    assert t.poll() == ([], False)
    with open(f, "ab") as out:
        out.write(_line(1)[10:] + _line(2))
    lines, _ = t.poll()
    assert [orjson.loads(x)["gen"] for x in lines] == [1, 2]


def test_watcher_feeds_models_and_reports_malformed_lines(tmp_path: Path):
    run = tmp_path / "r"
    run.mkdir()
    f = run / "events.jsonl"
    f.write_bytes(_line(0) + b"garbage line\n" + _line(1))
    model = RunModel(run)
    changed = []
    w = Watcher(interval=0.02, on_change=changed.append)
    w.add(run, model)
    w.start()
    try:
        deadline = time.time() + 5
        while model.n_events < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert model.n_events == 2 and model.n_malformed == 1
        assert "line 2" in model.warnings[0]
        with open(f, "ab") as out:
            out.write(_line(2))
        deadline = time.time() + 5
        while model.snapshot().gen_done < 3 and time.time() < deadline:
            time.sleep(0.02)
        assert model.snapshot().gen_done == 3
        assert changed and changed[0] == run
    finally:
        w.stop()
