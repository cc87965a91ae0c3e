"""Adding a task is one module plus one registry entry: a toy 1-D control task, defined here and registered
through ``wann_engine.tasks.register``, runs through the search, ``eval``, ``protocol``, the weight
explorer's scores and playback and ``export`` without any other file knowing of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from wann_engine import explore, tasks
from wann_engine.genome import Network
from wann_engine.netpack import forward_batch, pack, weighted_outputs
from wann_engine.tasks import Frame, Scores, TaskBase


class Toy1D(TaskBase):
    """Drive a point on a line to 0: observation (x, 1), action = velocity in [-1, 1], reward -|x| per step."""

    name = "toy1d"
    n_inputs = 2
    n_outputs = 1
    input_names = ("x", "one")
    output_names = ("velocity",)
    max_steps = 20

    @staticmethod
    def start(key: tuple[int, ...], rep: int) -> float:
        return float(np.random.default_rng([*key, rep]).uniform(-1, 1))

    def _run(self, packed, lane_net, lane_w, starts, edge_w=None):
        x = np.array(starts, dtype=np.float64)
        total = np.zeros(len(x))
        for _ in range(self.max_steps):
            obs = np.stack([x, np.ones_like(x)], 1)
            if edge_w is None:
                out = forward_batch(packed, obs, lane_net, lane_w)[:, 0]
            else:
                out = np.array([weighted_outputs(packed, obs[i:i + 1], edge_w[i])[0, 0] for i in range(len(x))])
            x = x + 0.1 * np.clip(np.nan_to_num(out), -1, 1)
            total -= np.abs(x)
        return total

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int, max_steps: int,
              threads: int) -> Scores:
        n_p, n_w = len(nets), len(weights)
        lane_net = np.repeat(np.arange(n_p), n_w * reps)
        lane_w = np.tile(np.repeat(np.asarray(weights, dtype=np.float64), reps), n_p)
        starts = np.tile([self.start(key, r) for r in range(reps)], n_p * n_w)
        r = self._run(pack(nets), lane_net, lane_w, starts) if n_p * n_w * reps else np.zeros(0)
        return Scores(r.reshape(n_p, n_w, reps), n_p * n_w * reps * self.max_steps)

    def scorer(self, net: Network, threads: int = 0) -> ToyScorer:
        return ToyScorer(self, net)

    def frames(self, net: Network, edge_w: float | np.ndarray, key: tuple[int, ...], episode: int) -> Iterator[Frame]:
        x, total = self.start(key, episode), 0.0
        packed = pack([net])
        yield Frame(0, 0.0, 0.0, False, np.array([x, 1.0]), np.zeros(1))
        for t in range(self.max_steps):
            obs = np.array([[x, 1.0]])
            out = (forward_batch(packed, obs, np.zeros(1, np.int64), np.array([float(edge_w)]))
                   if np.ndim(edge_w) == 0 else weighted_outputs(packed, obs, edge_w))[0]
            x = x + 0.1 * float(np.clip(np.nan_to_num(out[0]), -1, 1))
            total -= abs(x)
            yield Frame(t + 1, -abs(x), total, t + 1 == self.max_steps, np.array([x, 1.0]), out.copy())


class ToyScorer:
    weighted_ok = True

    def __init__(self, task: Toy1D, net: Network) -> None:
        self.task, self.packed, self.n_edges = task, pack([net]), net.n_conns

    def shared(self, weights, key, trials):
        starts = [self.task.start(key, int(t)) for t in trials]
        return self.task._run(self.packed, np.zeros(len(starts), np.int64), np.asarray(weights, float), starts)

    def weighted(self, edge_w, key, trials):
        starts = [self.task.start(key, int(t)) for t in trials]
        return self.task._run(self.packed, None, None, starts, np.asarray(edge_w, float))


@pytest.fixture()
def toy():
    entry = tasks.register("toy1d", lambda cfg: Toy1D(), "a point on a line, driven to 0")
    yield entry
    tasks.unregister("toy1d")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from wann_engine.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_a_task_from_outside_runs_everywhere(toy, tmp_path: Path, capsys):
    assert tasks.registry()["toy1d"].description.startswith("a point") and "toy1d" in tasks.names()
    # the search, through the normal runner
    rc, out, err = _cli(capsys, "run", "--task", "toy1d", "--pop", "16", "--gens", "3", "--runs-dir", str(tmp_path),
                        "--name", "toy", "--threads", "1", "--quiet", "--set", "prob_initEnable=1.0")
    assert rc == 0, err
    run = tmp_path / "toy"
    events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
    assert [e["gen"] for e in events if e["type"] == "generation"] == [0, 1, 2]
    champ = run / "champion.json"
    assert orjson.loads(champ.read_bytes())["task"] == "toy1d"
    # eval: the task comes from the file
    rc, out, err = _cli(capsys, "eval", str(champ), "--episodes", "4", "--json")
    assert rc == 0, err
    ev = orjson.loads(out)
    assert ev["task"] == "toy1d" and len(ev["mean"]) == 6
    # the explorer: scores equal eval's episodes, playback earns the same return
    ex = explore.open_run(run, episodes=4)
    s = ex.score(1.0)
    assert s.mean == pytest.approx(ev["mean"][ev["weights"].index(1.0)])
    frames = list(ex.frames(1.0, None, 2))
    assert len(frames) == 21 and frames[-1].total == pytest.approx(s.returns[2])
    off = np.full(ex.n_edges, 0.25)
    assert ex.score(1.0, off).returns[2] == pytest.approx(list(ex.frames(1.0, off, 2))[-1].total)
    saved = ex.save(1.0, off)
    # protocol: the four conditions, with fine-tuning of individual weights
    rc, out, err = _cli(capsys, "protocol", str(champ), "--trials", "3", "--sweep", "3", "--finetune-gens", "2",
                        "--finetune-pop", "4", "--out", str(tmp_path / "proto"), "--json")
    assert rc == 0, err
    res = orjson.loads(out)
    assert res["task"] == "toy1d" and all(res["conditions"][k]["available"] for k in res["conditions"])
    # eval of the explorer's tuned weights: one more row, the explorer's score with those offsets
    rc, out, err = _cli(capsys, "eval", str(saved), "--episodes", "4", "--json")
    assert rc == 0, err
    assert orjson.loads(out)["tuned"]["mean"] == pytest.approx(ex.score(1.0, off).mean)
    # export: the run's champion as DOT, labelled with the task's names
    rc, out, err = _cli(capsys, "export", str(run), "--to", "dot", "-o", str(tmp_path / "toy.dot"))
    assert rc == 0, err
    dot = (tmp_path / "toy.dot").read_text()
    assert "toy1d:" in dot and "velocity" in dot


def test_unknown_names_suggest_the_closest(toy):
    with pytest.raises(tasks.TaskError, match=r"did you mean 'toy1d'\?"):
        tasks.get("toy1e")
    with pytest.raises(tasks.TaskError, match=r"did you mean 'laptop_swing'\?.*presets: laptop_swing"):
        tasks.get("laptop_swng")
