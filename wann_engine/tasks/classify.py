"""Classification tasks: ``digits`` (sklearn 8x8 digits) and ``mnist256`` (MNIST at 16x16, deskewed).

As in the original release: one "episode" is one batch of 1000 training
images; the outputs go through a softmax and the reward is the mean log
probability of the true labels (= -cross-entropy), computed here with a log-softmax,
so it is finite wherever the outputs are. Rep ``r`` of an evaluation keyed ``key``
uses the batch drawn from (key, r) alone: every network and weight of a generation
sees the same images. Steps = images processed.

``accuracy()`` measures a network on a whole split: accuracy per shared weight,
per digit, and of the ensemble that votes over the weights. The data live in
``classify_data`` and the compiled passes in ``classify_kernels``; this module is the task.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import STANDARD_WEIGHTS
from ..genome import Genome, Network
from ..netpack import PackedNets, pack, weighted_outputs
from . import Scores, TaskBase, TaskError, classify_f32
from .classify_data import (  # noqa: F401 - the data API, re-exported for callers of this module
    BATCH,
    MNIST_ENV,
    N_CLASSES,
    PACKAGE_MNIST,
    PREPROCESS_VERSION,
    DataError,
    batch_rows,
    cache_dir,
    dataset,
    deskew,
    load_mnist,
    mnist_dir,
    preprocess_mnist,
    read_idx,
    resize_bilinear,
)
from .classify_kernels import (  # noqa: F401
    CHUNK,
    LOGIT_CLIP,
    LOGP_NAN,
    batch_inputs,
    outputs,
    predictions,
    softmax,
    vote,
)


# --- accuracy (the evaluation protocol calls this) ------------------------------------------------
@dataclass
class Accuracy:
    """Accuracy of one network on a whole split."""

    task: str
    split: str
    n: int
    weights: np.ndarray  # (W,)
    accuracy: np.ndarray  # (W,) fraction correct at each shared weight
    per_digit: np.ndarray  # (W, 10) fraction correct per true digit
    log_prob: np.ndarray  # (W,) mean log-probability of the true label (the training reward)
    ensemble: float  # majority vote over the weights (ties: higher mean softmax probability)
    ensemble_per_digit: np.ndarray  # (10,)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "split": self.split, "n": self.n, "weights": self.weights.tolist(),
                "accuracy": self.accuracy.tolist(), "per_digit": self.per_digit.tolist(),
                "log_prob": self.log_prob.tolist(), "ensemble": self.ensemble,
                "ensemble_per_digit": self.ensemble_per_digit.tolist()}




def accuracy(net: Network | Genome, task: str = "mnist256", weights: Any = STANDARD_WEIGHTS, split: str = "test",
             data_dir: str | Path | None = None) -> Accuracy:
    """Accuracy per weight, per digit, and of the vote over weights, on the whole ``split``."""
    if isinstance(net, Genome):
        net = net.network()
    X, y = dataset(task, split, data_dir)
    w = np.asarray(weights, dtype=np.float64).ravel()
    pred, logp = predictions(outputs(net, w, X))  # (W, N): a NaN row (-1) counts as wrong
    n = len(y)
    lp = np.take_along_axis(logp, np.broadcast_to(y[None, :, None], (len(w), n, 1)), 2)[..., 0]
    lp = np.where(pred < 0, LOGP_NAN, lp)
    correct = pred == y[None, :]
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    per_digit = np.stack([np.bincount(y[c], minlength=N_CLASSES) for c in correct]) / np.maximum(counts, 1)
    ens_ok = vote(pred, logp) == y
    return Accuracy(task, split, n, w, correct.mean(1), per_digit, lp.mean(1), float(ens_ok.mean()),
                    np.bincount(y[ens_ok], minlength=N_CLASSES) / np.maximum(counts, 1))



def weighted_accuracy(net: Network, X: np.ndarray, y: np.ndarray, edge_w: np.ndarray) -> tuple[float, np.ndarray]:
    """Accuracy and per-digit accuracy with individual connection weights (a NaN row counts as wrong)."""
    pred, _ = predictions(weighted_outputs(net, X, edge_w))
    ok = pred == y
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    return float(ok.mean()), np.bincount(y[ok], minlength=N_CLASSES) / np.maximum(counts, 1)


def true_logp(out: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-probability of the true label per row (``LOGP_NAN`` for a row with NaN), as the kernels compute."""
    pred, logp = predictions(out)
    return np.where(pred < 0, LOGP_NAN, logp[np.arange(len(y)), y])


class ClassifyScorer:
    """One classifier: mean log-probability of the true labels of training batch ``trials[l]`` of ``key``
    (the batches of ``ClassifyTask.score``), at shared or individual connection weights."""

    weighted_ok = True

    def __init__(self, task: ClassifyTask, net: Network) -> None:
        self.task = task
        self.net = net
        self.packed = pack([net])
        self.n_edges = net.n_conns

    def shared(self, weights: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        trials = np.asarray(trials, dtype=np.int64)
        return self.weighted(np.asarray(weights, dtype=np.float64)[:, None] * np.ones((1, self.n_edges)), key, trials)

    def weighted(self, edge_w: np.ndarray, key: tuple[int, ...], trials: np.ndarray) -> np.ndarray:
        X, y = self.task.data("train")
        trials = np.asarray(trials, dtype=np.int64)
        if len(trials) == 0:
            return np.zeros(0)
        b = batch_rows(key, int(trials.max()) + 1, len(X), self.task.batch)
        out = np.empty(len(trials))
        for lane, t in enumerate(trials):
            rows = b[t]
            out[lane] = true_logp(weighted_outputs(self.packed, X, edge_w[lane], rows), y[rows]).mean()
        return out


# --- the explorer's view -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WrongImage:
    index: int  # row of the test split
    label: int
    predicted: int  # -1: the outputs were NaN
    image: np.ndarray  # (side, side) in [0, 1]


@dataclass(frozen=True)
class ClassView:
    """Test accuracy at one setting, per digit, the ensemble over the standard weights, and misclassified images."""

    weight: float
    accuracy: float
    per_digit: np.ndarray
    ensemble: float
    ensemble_per_digit: np.ndarray
    n_test: int
    n_wrong: int
    wrong: list[WrongImage]


# --- the task -------------------------------------------------------------------------------------
_NET_CHUNK = 8  # networks per thread work item


class ClassifyTask(TaskBase):
    """``digits`` (64 inputs) or ``mnist256`` (256 inputs) -> 10 softmax outputs."""

    n_outputs = N_CLASSES
    max_steps = 1  # one step per episode: the whole batch
    metric = "accuracy"
    fast = True

    def __init__(self, name: str, data_dir: str | Path | None = None, batch: int = BATCH) -> None:
        if name not in ("digits", "mnist256"):
            raise TaskError(f"unknown classification task {name!r}")
        self.name = name
        self.data_dir = data_dir
        self.batch = int(batch)
        side = 8 if name == "digits" else 16
        self.n_inputs = side * side
        self.input_names = tuple(f"px_{r}_{c}" for r in range(side) for c in range(side))
        self.output_names = tuple(f"digit_{d}" for d in range(N_CLASSES))
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 0

    def data(self, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        return dataset(self.name, split, self.data_dir)

    def score(self, nets: list[Network], weights: np.ndarray, key: tuple[int, ...], reps: int,
              max_steps: int, threads: int) -> Scores:
        """Returns (P, W, R) mean log-probabilities of the true labels; ``max_steps`` does not apply.

        The search's pass is single precision (``classify_f32``). Against the float64 pass on 960 grown
        networks of 2,000 connections: within 1e-4 wherever the fitness is above -5, within 0.5 % of
        max(1, |fitness|) everywhere (the largest gaps are networks with exploding outputs), the same top
        fifth. Accuracy (``accuracy``, the protocol, the explorer) and ``ClassifyScorer`` stay float64.
        """
        X, y = self.data("train")
        for net in nets:
            if net.n_in != self.n_inputs or net.n_out != self.n_outputs:
                raise TaskError(f"{self.name}: a network has {net.n_in} inputs and {net.n_out} outputs, "
                                f"the task needs {self.n_inputs} and {self.n_outputs}")
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        batches = batch_rows(key, reps, len(X), self.batch)
        returns = np.zeros((len(nets), len(weights), reps))
        if not nets or reps == 0:
            return Scores(returns, 0)
        packed = pack(nets)
        xs, yb = batch_inputs(X, y, batches, np.float32)  # once for the whole population
        threads = threads or os.cpu_count() or 1
        if threads == 1 or len(nets) <= _NET_CHUNK:
            self._run(packed, xs, yb, weights, 0, len(nets), returns)
        else:
            pool = self._executor(threads)
            jobs = [pool.submit(self._run, packed, xs, yb, weights, lo, min(lo + _NET_CHUNK, len(nets)), returns)
                    for lo in range(0, len(nets), _NET_CHUNK)]
            for j in jobs:
                j.result()
        return Scores(returns, int(returns.size * batches.shape[1]))

    @staticmethod
    def _run(packed: PackedNets, xs, yb, weights, lo, hi, returns) -> None:
        classify_f32.mean_logp(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, packed.n_out, xs,
                               yb, weights, CHUNK, lo, hi, returns)

    def accuracy(self, net: Network | Genome, weights: Any = STANDARD_WEIGHTS, split: str = "test") -> Accuracy:
        return accuracy(net, self.name, weights, split, self.data_dir)

    def accuracies(self, net: Network, weights: np.ndarray, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
        """:meth:`accuracy` over many weights, a few at a time (outputs are (W, N, 10) floats, about 160 MB
        at a time); returns (accuracy, per_digit) arrays."""
        X, _ = self.data(split)
        chunk = max(1, 2_000_000 // max(len(X), 1))
        parts = [self.accuracy(net, weights[i:i + chunk], split) for i in range(0, len(weights), chunk)]
        return np.concatenate([p.accuracy for p in parts]), np.concatenate([p.per_digit for p in parts])

    def scorer(self, net: Network, threads: int = 0) -> ClassifyScorer:
        return ClassifyScorer(self, net)

    def test_outputs(self, net: Network, w: float, offsets: np.ndarray) -> np.ndarray:
        """The network's outputs for every test image at shared weight ``w`` plus per-connection offsets."""
        X, _ = self.data("test")
        return weighted_outputs(net, X, w + offsets) if offsets.any() else outputs(net, np.array([w]), X)[0]

    def view(self, net: Network, weight: float, offsets: np.ndarray, wrong: int = 24) -> ClassView:
        """Test accuracy at ``weight`` (and offsets), per digit, the ensemble over the standard weights (each
        with the offsets), and the first ``wrong`` misclassified test images."""
        X, y = self.data("test")
        pred = predictions(self.test_outputs(net, float(weight), offsets))[0]
        ok = pred == y
        counts = np.maximum(np.bincount(y, minlength=N_CLASSES), 1)
        acc, per_digit = float(ok.mean()), np.bincount(y[ok], minlength=N_CLASSES) / counts
        if not offsets.any():
            e = self.accuracy(net, np.asarray(STANDARD_WEIGHTS), "test")
            ens, ens_pd = e.ensemble, e.ensemble_per_digit
        else:  # the vote of accuracy(), each weight with the offsets
            hit = vote(*predictions(np.stack([self.test_outputs(net, sw, offsets) for sw in STANDARD_WEIGHTS]))) == y
            ens, ens_pd = float(hit.mean()), np.bincount(y[hit], minlength=N_CLASSES) / counts
        side = int(round(np.sqrt(X.shape[1])))
        bad = np.flatnonzero(pred != y)
        imgs = [WrongImage(int(i), int(y[i]), int(pred[i]), np.clip(X[i].reshape(side, side), 0.0, 1.0))
                for i in bad[:wrong]]
        return ClassView(float(weight), acc, per_digit, float(ens), np.asarray(ens_pd), len(y), len(bad), imgs)

    def test_accuracy(self, net: Network, weights: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Test accuracy at each shared weight plus offsets (the explorer's score and profile)."""
        if not offsets.any():
            return self.accuracies(net, weights, "test")[0]
        X, y = self.data("test")
        return np.array([float((predictions(self.test_outputs(net, float(w), offsets))[0] == y).mean())
                         for w in weights])

    def _executor(self, threads: int) -> ThreadPoolExecutor:
        if self._pool is None or self._threads != threads:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix=self.name)
            self._threads = threads
        return self._pool
