"""Classification tasks: IDX reading, MNIST preprocessing, scoring, accuracy, and a search that learns."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from wann_engine.activations import CLASSIFY_HIDDEN
from wann_engine.config import STANDARD_WEIGHTS, Config
from wann_engine.genome import BIAS, INPUT, OUTPUT, Genome, initial_genome
from wann_engine.search import Search
from wann_engine.tasks import TaskError, get
from wann_engine.tasks import classify as cl
from wann_engine.variation import Innovations, mutate

W = np.asarray(STANDARD_WEIGHTS)
GOLDEN = Path(__file__).parents[1] / "data" / "mnist256_cv2_golden.npz"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def nets_for(n_in: int, count: int, seed: int, mutations: int = 20, p: float = 0.3):
    rng = np.random.default_rng(seed)
    inn = Innovations((n_in + 1) * 10, 1 + n_in + 10)
    out = []
    for _ in range(count):
        g = initial_genome(n_in, 10, rng, p)
        for _ in range(mutations):
            g, _ = mutate(g, rng, inn, (0.2, 0.25, 0.05, 0.5), CLASSIFY_HIDDEN)
        out.append(g.network())
    return out


def reference_logp(net, x, y, w):
    o = net.forward(x, w)
    z = o - o.max(1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return lp[np.arange(len(y)), y].mean()


# --- IDX and MNIST files ---------------------------------------------------------------------------
def test_idx_reads_the_vendored_files_with_the_right_counts():
    folder = cl.PACKAGE_MNIST
    train = cl.read_idx(folder / "train-labels.idx1-ubyte.gz")
    test = cl.read_idx(folder / "t10k-labels.idx1-ubyte.gz")
    assert train.shape == (60000,) and test.shape == (10000,)
    assert np.bincount(train).tolist() == TRAIN_COUNTS
    assert np.bincount(test).tolist() == TEST_COUNTS
    images, labels = cl.load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(labels, test)
    assert 30 < images.mean() < 36


def _write_idx(path: Path, arr: np.ndarray, code: int, gz: bool) -> None:
    be = arr.astype(arr.dtype.newbyteorder(">"))
    data = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}i", *arr.shape) + be.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_parser_types_raw_files_and_errors(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    _write_idx(tmp_path / "a.idx", a, 0x0C, gz=False)
    got = cl.read_idx(tmp_path / "a.idx")
    assert got.dtype == np.int32 and np.array_equal(got, a)
    f = np.linspace(-1, 1, 6).reshape(2, 3)
    _write_idx(tmp_path / "f.idx.gz", f, 0x0E, gz=True)
    assert np.array_equal(cl.read_idx(tmp_path / "f.idx.gz"), f)
    (tmp_path / "short.idx").write_bytes((tmp_path / "a.idx").read_bytes()[:-3])
    with pytest.raises(cl.DataError, match="header says"):
        cl.read_idx(tmp_path / "short.idx")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(cl.DataError, match="magic"):
        cl.read_idx(tmp_path / "bad.idx")
    with pytest.raises(cl.DataError):
        cl.read_idx(tmp_path / "missing.idx")


def test_mnist_dir_from_environment(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9], dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images, 0x08, gz=False)  # the other common naming
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, 0x08, gz=True)
    monkeypatch.setenv(cl.MNIST_ENV, str(tmp_path))
    monkeypatch.setenv("WANN_CACHE_DIR", "")
    got_i, got_l = cl.load_mnist("test")
    assert np.array_equal(got_i, images) and got_l.tolist() == labels.tolist()
    x, y = cl.dataset("mnist256", "test")
    assert x.shape == (7, 256) and y.tolist() == labels.tolist()
    with pytest.raises(cl.DataError, match="train images"):
        cl.load_mnist("train")


# --- preprocessing ---------------------------------------------------------------------------------
def test_preprocessing_matches_opencv_on_real_digits():
    """Golden values made with cv2.resize + the original's cv2 deskew (tests/data, OpenCV 5.0)."""
    g = np.load(GOLDEN, allow_pickle=False)
    images, _ = cl.load_mnist("test")
    got = cl.preprocess_mnist(images[g["test_index"]])
    np.testing.assert_allclose(got, g["expected"], rtol=0, atol=1e-12)


def test_resize_keeps_a_linear_ramp_linear_with_half_pixel_centres():
    ramp = np.tile(np.arange(28, dtype=np.float64), (28, 1))[None]
    out = cl.resize_bilinear(ramp, (16, 16))[0]
    expected = (np.arange(16) + 0.5) * 28 / 16 - 0.5
    np.testing.assert_allclose(out, np.tile(expected, (16, 1)), atol=1e-12)


def test_deskew_makes_a_slanted_bar_upright():
    img = np.zeros((16, 16))
    for y in range(2, 14):
        x = 8 + 0.5 * (y - 8)  # leans right going down
        x0 = int(np.floor(x))
        img[y, x0] += 1 - (x - x0)
        img[y, x0 + 1] += x - x0

    def lean(a):
        ys = np.arange(16)
        cx = (a * np.arange(16)).sum(1) / np.maximum(a.sum(1), 1e-12)
        rows = a.sum(1) > 0.5
        return np.polyfit(ys[rows], cx[rows], 1)[0]

    assert lean(img) == pytest.approx(0.5, abs=0.02)
    out = cl.deskew(img[None])[0]
    assert abs(lean(out)) < 0.05
    assert out.sum() == pytest.approx(img.sum(), rel=0.02)
    blank = np.zeros((1, 16, 16))
    assert np.array_equal(cl.deskew(blank), blank)


# --- scoring ---------------------------------------------------------------------------------------
def test_digits_scores_are_mean_log_probabilities_and_deterministic():
    task = get("digits")
    assert (task.n_inputs, task.n_outputs) == (64, 10) and len(task.input_names) == 64
    x, y = task.data()
    assert x.shape == (1797, 64) and x.max() == 1.0
    nets = nets_for(64, 6, seed=1)
    sc = task.score(nets, W, (3, 4), 2, 0, 1)
    assert sc.returns.shape == (6, 6, 2) and sc.steps == 6 * 6 * 2 * 1000
    rows = cl.batch_rows((3, 4), 2, len(x))
    for p in (0, 5):
        for wi in (0, 4):
            ref = reference_logp(nets[p], x[rows[1]], y[rows[1]], W[wi])
            assert sc.returns[p, wi, 1] == pytest.approx(ref, rel=1e-5)  # the search's pass is float32
    alone = task.score(nets[2:3], W, (3, 4), 2, 0, 1)
    assert np.array_equal(alone.returns[0], sc.returns[2])
    threaded = task.score(nets * 3, W, (3, 4), 2, 0, 2)
    assert np.array_equal(threaded.returns[12:], sc.returns)
    other = task.score(nets[:1], W, (3, 5), 2, 0, 1)
    assert not np.array_equal(other.returns[0], sc.returns[0])


def test_reward_is_finite_for_exploding_outputs():
    g = initial_genome(64, 10, np.random.default_rng(0), 1.0)
    g.node_act[-10:] = 11  # squared outputs: sums of 64 inputs squared, then x 2
    net = g.network()
    sc = get("digits").score([net], np.array([1e6, 2.0]), (0,), 1, 0, 1)
    assert np.isfinite(sc.returns).all()
    g = g.copy()
    g.node_act[-10:] = 3  # sin(pi * inf) is NaN
    sc = get("digits").score([g.network()], np.array([np.inf]), (0,), 1, 0, 1)
    assert sc.returns[0, 0, 0] == pytest.approx(cl.LOGP_NAN)


def test_accuracy_per_weight_per_digit_and_vote():
    net = nets_for(64, 1, seed=4, mutations=10, p=0.6)[0]
    acc = cl.accuracy(net, "digits", W, split="test")
    x, y = cl.dataset("digits")
    for wi, w in enumerate(W):
        pred = net.forward(x, w).argmax(1)
        assert acc.accuracy[wi] == pytest.approx((pred == y).mean())
        d = 3
        assert acc.per_digit[wi, d] == pytest.approx((pred[y == d] == d).mean())
    assert acc.per_digit.shape == (6, 10) and acc.ensemble_per_digit.shape == (10,)
    assert 0.0 <= acc.ensemble <= 1.0
    assert acc.log_prob.shape == (6,) and np.all(acc.log_prob <= 0)
    assert set(acc.to_dict()) >= {"accuracy", "per_digit", "ensemble"}


def test_vote_follows_the_majority():
    # output d is wired to the bias only: every weight votes for the digit whose output is largest
    node_id = np.arange(1 + 64 + 10)
    types = np.array([BIAS] + [INPUT] * 64 + [OUTPUT] * 10, dtype=np.int8)
    acts = np.ones(len(node_id), dtype=np.int8)
    acts[-10:] = 8  # abs: |w| for the bias-fed output, 0 for the others
    g = Genome(node_id, types, acts, np.array([0]), np.array([0]), np.array([65 + 7]), np.array([True]))
    acc = cl.accuracy(g, "digits", W)
    y = cl.dataset("digits")[1]
    assert acc.ensemble == pytest.approx((y == 7).mean())
    assert acc.ensemble_per_digit[7] == 1.0 and acc.ensemble_per_digit[3] == 0.0


def test_mnist256_task_scores_a_population():
    task = get("mnist256")
    assert (task.n_inputs, task.n_outputs) == (256, 10)
    nets = nets_for(256, 3, seed=2, mutations=5, p=0.05)
    sc = task.score(nets, W, (1, 1), 1, 0, 1)
    assert sc.returns.shape == (3, 6, 1) and np.isfinite(sc.returns).all()
    x, y = task.data()
    rows = cl.batch_rows((1, 1), 1, len(x))[0]
    assert sc.returns[1, 2, 0] == pytest.approx(reference_logp(nets[1], x[rows], y[rows], W[2]), rel=1e-5)


def test_unknown_classification_task():
    with pytest.raises(TaskError):
        cl.ClassifyTask("fashion")


def test_search_improves_on_digits():
    cfg = Config(task="digits", popSize=32, alg_nReps=1, prob_initEnable=0.05, select_tournSize=8,
                 h_act=CLASSIFY_HIDDEN, seed=1).validate()
    task = get("digits")
    s = Search(cfg, task.n_inputs, task.n_outputs)
    best = []
    while s.gen < 10:
        nets = s.ask()
        sc = task.score(nets, np.asarray(cfg.weights), s.eval_key(), cfg.alg_nReps, 0, 1)
        st = s.tell(sc.returns)
        best.append(s.best_mean)
        if s.gen == 1:
            first = nets[int(np.argmax(st.mean))]
    assert best[-1] > best[0], best
    # the best of generation 0 against the final champion, on the same three held-out batches
    fair = task.score([first, s.best.network()], np.asarray(cfg.weights), (99,), 3, 0, 1).returns.mean((1, 2))
    assert fair[1] > fair[0] + 0.02, fair
