"""`wann-engine export RUN --to csv`: the per-generation history, one row per effective generation."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
from conftest import engine

from wanntui.model import synthetic_generation


def _write_events(run: Path, evs: list[dict]) -> None:
    run.mkdir(parents=True)
    (run / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs))


def test_csv_applies_the_resume_rule_and_keeps_every_scalar(tmp_path: Path):
    start = {"v": 1, "type": "run_start", "t": 1.0, "name": "r", "resumed_from": None}
    gens = [synthetic_generation(g, pop=4, t=2.0 + g) for g in range(3)]
    redo = [{**synthetic_generation(g, pop=4, t=10.0 + g), "fit_max": 100.0 + g} for g in (1, 2, 3)]
    _write_events(tmp_path / "r", [start, *gens, {**start, "t": 9.0, "resumed_from": 1}, *redo])
    p = engine("export", str(tmp_path / "r"), "--to", "csv", "-o", "-", check=True)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert [int(r["gen"]) for r in rows] == [0, 1, 2, 3]
    assert [float(r["fit_max"]) for r in rows[1:]] == [101.0, 102.0, 103.0]  # the re-run generations
    assert {"gen", "t", "evaluations", "fit_median", "best_mean", "evals_per_s", "elapsed"} <= set(rows[0])
    assert "objectives" not in rows[0] and "champion" not in rows[0]


def test_csv_of_a_real_run_to_a_file_never_over_another(runs: Path, tmp_path: Path):
    engine("run", "--pop", "8", "--gens", "3", "--runs-dir", str(runs), "--name", "r", "--quiet",
           "--set", "max_steps=50", check=True)
    out = tmp_path / "h.csv"
    p = engine("export", str(runs / "r"), "-o", str(out), check=True)  # (the format from the suffix)
    assert p.stdout.strip() == f"{out}  (per-generation history)"
    rows = list(csv.DictReader(out.open()))
    assert [r["gen"] for r in rows] == ["0", "1", "2"] and all(float(r["evals_per_s"]) > 0 for r in rows)
    out.write_text("other\n")
    p = engine("export", str(runs / "r"), "--to", "csv", "-o", str(out))
    assert p.returncode == 2 and p.stderr.strip() == f"wann-engine: error: {out}: exists (use --force to replace it)"
    assert out.read_text() == "other\n"
    engine("export", str(runs / "r"), "--to", "csv", "-o", str(out), "--force", check=True)
    assert out.read_text().startswith("gen,")


def test_csv_needs_a_run_directory(runs: Path, swing_out: Path):
    p = engine("export", str(swing_out), "--to", "csv", "-o", "-")
    assert p.returncode == 2
    assert p.stderr.strip() == f"wann-engine: error: {swing_out}: --to csv needs a run directory (the history of its " \
                               "generations)"
