"""The weight explorer's engine side: scores, profiles, playback frames, classification views, saving."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from wann_engine import explore, tasks
from wann_engine.genome import initial_genome
from wann_engine.netfile import write_json
from wann_engine.protocol import load_tuned
from wann_engine.tasks.gym_task import WalkerFrame
from wann_engine.tasks.swingup_task import CartFrame


@pytest.fixture(scope="module")
def swing(swing_out: Path) -> explore.Explorer:
    return explore.open_file(swing_out, "swingup", episodes=4, seed=3)


def test_score_is_the_eval_mean_and_the_profile_point(swing: explore.Explorer):
    s = swing.score(1.25)
    r = swing.task.score([swing.net], np.array([1.25]), (3,), 4, 0, 1).returns[0, 0]  # = wann-engine eval
    assert np.array_equal(s.returns, r) and s.mean == r.mean() and s.std == r.std()
    p = swing.profile()
    assert p.weights[0] == -3.0 and p.weights[-1] == 3.0 and len(p.weights) == 121
    i = int(np.flatnonzero(p.weights == 1.25)[0])
    assert p.mean[i] == s.mean and p.std[i] == s.std
    assert s.mean > 600  # the paper's champion swings up at w = 1.25


def test_swingup_frames_earn_the_kernels_return(swing: explore.Explorer):
    off = np.zeros(swing.n_edges)
    off[[2, 7]] = (0.3, -0.2)
    for offsets in (None, off):
        s = swing.score(0.8, offsets)
        assert (s.mean != swing.score(0.8).mean) == (offsets is not None)
        for episode in (0, 2):
            frames = list(swing.frames(0.8, offsets, episode))
            assert frames[0].step == 0 and frames[0].total == 0.0
            assert frames[-1].total == s.returns[episode]  # bit for bit: the same lane of the same kernel
            assert frames[-1].done and all(not f.done for f in frames[:-1])
            assert [f.step for f in frames] == list(range(len(frames)))
            assert np.isclose(sum(f.reward for f in frames), s.returns[episode])
            assert all(abs(f.x) <= f.x_limit + 0.1 for f in frames)
    start = frames[0]
    assert isinstance(start, CartFrame) and abs(start.theta - np.pi) < 1.0  # hanging at the start


def test_offsets_have_the_right_shape(swing: explore.Explorer):
    with pytest.raises(explore.ExploreError):
        swing.score(1.0, np.zeros(3))


def test_save_writes_a_tuned_file_that_loads_back(swing: explore.Explorer, tmp_path: Path, swing_out: Path):
    src = tmp_path / "swing.out"
    src.write_bytes(swing_out.read_bytes())
    ex = explore.open_file(src, "swingup", episodes=2)
    off = np.zeros(ex.n_edges)
    off[5] = 0.4
    path = ex.save(1.1, off, score=ex.score(1.1, off))
    assert path == tmp_path / "swing.explore1.tuned.json"
    assert explore.save_path(src) == tmp_path / "swing.explore2.tuned.json"  # never over an existing file
    t = load_tuned(path)
    assert np.allclose(t.weights, 1.1 + off)
    again = explore.load(path, ex.task)
    assert again.weight == 1.1 and np.allclose(again.offsets, off)
    assert explore.Explorer(again, episodes=2).score(again.weight, again.offsets).mean == pytest.approx(
        ex.score(1.1, off).mean)


def test_load_errors_are_explore_errors(tmp_path: Path, swing_out: Path):
    with pytest.raises(explore.ExploreError, match="inputs"):
        explore.open_file(swing_out, "digits")
    with pytest.raises(explore.ExploreError, match="unknown task"):
        explore.open_file(swing_out, "nope")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(explore.ExploreError):
        explore.open_file(bad, "swingup")


def _random(task_name: str, seed: int = 1) -> explore.Explorer:
    task = tasks.get(task_name)
    g = initial_genome(task.n_inputs, task.n_outputs, np.random.default_rng(seed), 0.5)
    return explore.Explorer(explore.Subject(g, task), episodes=2, seed=4)


def test_gym_frames_match_task_score():
    ex = _random("gym:Pendulum-v1")
    s = ex.score(0.7)
    r = ex.task.score([ex.net], np.array([0.7]), (4,), 2, 0, 1).returns[0, 0]
    assert np.array_equal(s.returns, r)
    frames = list(ex.frames(0.7, None, 1))
    assert frames[-1].total == pytest.approx(r[1], abs=1e-9) and frames[-1].step == 200
    assert frames[5].obs.shape == (3,) and frames[5].action.shape == (1,)
    off = np.zeros(ex.n_edges)
    off[0] = 0.5
    s2 = ex.score(0.7, off)
    assert s2.returns[1] == pytest.approx(list(ex.frames(0.7, off, 1))[-1].total)
    prof = ex.profile(np.array([0.7, 1.0]))  # on a second environment pool: same episodes, same returns
    assert prof.mean[0] == s.mean
    ex.close()
    assert list(ex._pools) == ["score"]


def test_biped_frames_hold_the_box2d_bodies():
    ex = _random("biped")
    frames = list(itertools.islice(ex.frames(1.0, None, 0), 6))
    f = frames[-1]
    assert isinstance(f, WalkerFrame) and f.step == 5
    assert len(f.polygons) == 5 and all(p.shape[1] == 2 for p in f.polygons)  # hull + 4 leg segments
    assert len(f.terrain) > 10 and f.terrain[0, 0] == 0.0
    assert abs(f.polygons[0][:, 0].mean() - f.hull_x) < 1.0


def test_classification_view_matches_classify_accuracy():
    ex = _random("digits", seed=2)
    acc = ex.task.accuracy(ex.net, np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0]), "test")
    v = ex.classification(1.0, wrong=5)
    assert v.accuracy == pytest.approx(acc.accuracy[4]) and np.allclose(v.per_digit, acc.per_digit[4])
    assert v.ensemble == pytest.approx(acc.ensemble)
    assert v.n_test == 1797 and v.n_wrong == round((1 - v.accuracy) * 1797) and len(v.wrong) == 5
    assert all(w.label != w.predicted and w.image.shape == (8, 8) for w in v.wrong)
    assert ex.score(1.0).mean == pytest.approx(v.accuracy)
    # the vote with offsets (its own code path) agrees with classify's vote when the offsets change nothing
    tiny = np.full(ex.n_edges, 1e-300)
    assert ex.classification(1.0, tiny).ensemble == pytest.approx(acc.ensemble, abs=2e-3)


def test_open_run_reads_the_runs_task_and_champion(tmp_path: Path, swing_out: Path):
    from wann_engine import rundir
    from wann_engine.config import Config
    from wann_engine.netfile import read_any

    run = tmp_path / "r"
    run.mkdir()
    rundir.write_config(run, Config())
    task = tasks.get("swingup")
    write_json(read_any(swing_out, 5, 1), run / "champion.json", task)
    ex = explore.open_run(run)
    assert ex.task.name == "swingup" and ex.net.n_conns == 52
    assert explore.save_path(ex.subject.file) == run / "champion.explore1.tuned.json"
    with pytest.raises(explore.ExploreError):
        explore.open_run(tmp_path)
