"""The ``carracing`` task: CarRacing-v3 frames through the numpy ConvVAE encoder, on short episodes with a
small randomly initialised encoder written to a temporary file (the packaged one is not needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from wann_engine import tasks
from wann_engine.genome import Network
from wann_engine.tasks import TaskError
from wann_engine.tasks import carracing_encoder as ce
from wann_engine.tasks.carracing import CarFrame, CarRacingTask, controls

STEPS = 8


@pytest.fixture(scope="module")
def enc_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("enc") / "encoder.npz"
    ce.save(p, ce.random_weights(3), {"note": "random, for tests"}, dtype="float32")
    return p


@pytest.fixture()
def short(enc_file, monkeypatch):
    """``carracing`` registered with the test encoder and 20-step episodes."""
    monkeypatch.setenv(ce.ENV_VAR, str(enc_file))

    def make(cfg=None) -> CarRacingTask:
        t = CarRacingTask()
        t.max_steps = STEPS
        return t

    old = tasks.registry()["carracing"]
    tasks.register("carracing", make, old.description)
    yield make
    tasks.register("carracing", old.factory, old.description)


def _net(seed: int, task: CarRacingTask) -> Network:
    from wann_engine.genome import initial_genome

    return initial_genome(task.n_inputs, task.n_outputs, np.random.default_rng(seed), 0.5).network()


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from wann_engine.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


def test_controls_map_outputs_to_the_original_actions():
    a = controls(np.array([[2.0, -1.0, -0.5], [-3.0, 1.0, 0.4], [np.nan, 0.0, 2.0]]))
    np.testing.assert_allclose(a, [[1.0, 0.0, 0.0], [-1.0, 1.0, 0.4], [0.0, 0.5, 1.0]])


def test_numpy_encoder_equals_torch_on_the_same_weights():
    torch = pytest.importorskip("torch", reason="torch is the optional [racing] extra")
    from wann_engine.tasks.carracing_train import encoder_weights, torch_model

    torch.manual_seed(0)
    m = torch_model()
    w = encoder_weights(m)
    enc = ce.Encoder([w[f"conv{i}_w"] for i in range(4)], [w[f"conv{i}_b"] for i in range(4)], w["mu_w"], w["mu_b"])
    x = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        want = m.encode(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255)[0].numpy()
    np.testing.assert_allclose(enc.encode64(x), want, atol=1e-5)


def test_a_damaged_weights_file_is_refused_with_one_line(enc_file, tmp_path, capsys):
    bad = tmp_path / "encoder.npz"
    data = bytearray(enc_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    (tmp_path / "encoder.json").write_bytes(ce.meta_path(enc_file).read_bytes())
    with pytest.raises(TaskError, match="checksum mismatch"):
        ce.load(bad)
    rc, out, err = _cli(capsys, "encoder", "check", str(bad))
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "checksum mismatch" in err and "Traceback" not in err
    rc, out, err = _cli(capsys, "encoder", "check", str(enc_file))
    assert rc == 0 and orjson.loads(out)["sha256"] == ce.sha256_file(enc_file)


def test_short_episodes_are_deterministic_and_batching_changes_nothing(short):
    task = short()
    nets = [_net(s, task) for s in range(3)]
    w = np.array([-1.0, 1.0])
    a = task.score(nets, w, (7,), 2, STEPS, 1)
    assert a.returns.shape == (3, 2, 2) and a.steps == 3 * 2 * 2 * STEPS and np.isfinite(a.returns).all()
    one = CarRacingTask(encoder=task.encoder, slots=1)
    one.max_steps = STEPS
    b = one.score(nets, w, (7,), 2, STEPS, 1)
    np.testing.assert_array_equal(a.returns, b.returns)  # 12 episodes at once == one at a time


def test_playback_shows_the_frame_latent_and_controls(short):
    task = short()
    net = _net(1, task)
    frames = list(task.frames(net, 1.0, (7,), 0))
    assert len(frames) == STEPS + 1 and all(isinstance(f, CarFrame) for f in frames)
    f = frames[-1]
    assert f.image.shape == (96, 96, 3) and f.image.dtype == np.uint8 and f.latent.shape == (16,)
    assert -1 <= f.controls[0] <= 1 and 0 <= f.controls[1] <= 1 and 0 <= f.controls[2] <= 1
    assert f.total == pytest.approx(task.score([net], np.array([1.0]), (7,), 1, STEPS, 1).returns[0, 0, 0])


def test_search_and_eval_through_the_normal_commands(short, tmp_path, capsys):
    rc, out, err = _cli(capsys, "run", "--task", "carracing", "--pop", "4", "--gens", "2", "--runs-dir",
                        str(tmp_path), "--name", "car", "--threads", "1", "--quiet",
                        "--set", "alg_nReps=1", "--set", "retest_reps=1", "--set", "retest_top=1",
                        "--set", f"max_steps={STEPS}")
    assert rc == 0, err
    run = tmp_path / "car"
    events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
    assert [e["gen"] for e in events if e["type"] == "generation"] == [0, 1]
    champ = run / "champion.json"
    doc = orjson.loads(champ.read_bytes())
    assert doc["task"] == "carracing"
    rc, out, err = _cli(capsys, "eval", str(champ), "--episodes", "1", "--weights", "-1,1", "--json")
    assert rc == 0, err
    ev = orjson.loads(out)
    assert ev["task"] == "carracing" and len(ev["mean"]) == 2


def test_the_preset_is_the_original_vae_racer():
    from wann_engine.config import preset

    cfg = preset("carracing")
    assert (cfg.popSize, cfg.alg_nReps, cfg.maxGen, cfg.prob_initEnable) == (64, 2, 1024, 0.5)
