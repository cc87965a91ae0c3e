"""Classification tasks: ``digits`` (sklearn 8x8 digits) and ``mnist256`` (MNIST at 16x16, deskewed).

As in the original release: one "episode" is one batch of 1000 training
images; the outputs go through a softmax and the reward is the mean log
probability of the true labels (= -cross-entropy), computed here with a log-softmax,
so it is finite wherever the outputs are. Rep ``r`` of an evaluation keyed ``key``
uses the batch drawn from (key, r) alone: every network and weight of a generation
sees the same images. Steps = images processed.

``accuracy()`` measures a network on a whole split: accuracy per shared weight,
per digit, and of the ensemble that votes over the weights.

MNIST comes from IDX files (gzip or raw): the copies shipped in
``wann_engine/data/mnist``, or the folder named by ``data_dir`` / ``WANN_MNIST_DIR``.
Preprocessing (the original's cv2 steps) is numpy, vectorised over all images: /255, bilinear
resize 28->16 with cv2.resize's INTER_LINEAR rules (half-pixel centres, edge clamp),
then deskew by image moments with cv2.warpAffine's rules (inverse map, bilinear,
coordinates rounded to 1/32 pixel, zero border). The 16x16 arrays are kept in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from ..config import STANDARD_WEIGHTS
from ..genome import Genome, Network
from ..kmath import exp
from ..netpack import PackedNets, forward_lanes, pack
from . import Scores, TaskError

BATCH = 1000
N_CLASSES = 10
CHUNK = 128  # images per lane block in the kernels (lanes = weights x CHUNK)
LOGIT_CLIP = 1e10  # outputs are clipped to +-this before the softmax (inf would give NaN)
LOGP_NAN = -2.0 * LOGIT_CLIP - math.log(N_CLASSES)  # log-probability given to a NaN output row
MNIST_ENV = "WANN_MNIST_DIR"
PACKAGE_MNIST = Path(__file__).resolve().parent.parent / "data" / "mnist"

_FILES = {
    ("train", "images"): ("train-images.idx3-ubyte", "train-images-idx3-ubyte"),
    ("train", "labels"): ("train-labels.idx1-ubyte", "train-labels-idx1-ubyte"),
    ("test", "images"): ("t10k-images.idx3-ubyte", "t10k-images-idx3-ubyte"),
    ("test", "labels"): ("t10k-labels.idx1-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataError(TaskError):
    """A data file that is missing or cannot be read; the message names it."""


# --- IDX files ------------------------------------------------------------------------------------
def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw): magic 0 0 <type> <ndim>, big-endian int32 sizes, data."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: {e.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: damaged gzip data ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX data type 0x{code:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: IDX header is truncated")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[code])
    count = math.prod(dims)
    body = len(raw) - 4 - 4 * ndim
    if body != count * dtype.itemsize:
        raise DataError(f"{path}: header says {dims} ({count * dtype.itemsize} bytes of data), file has {body}")
    return np.frombuffer(raw, dtype, count, 4 + 4 * ndim).reshape(dims).astype(dtype.newbyteorder("="))


def mnist_dir(data_dir: str | Path | None = None) -> Path:
    """``data_dir``, else ``$WANN_MNIST_DIR``, else the copies shipped with the package."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(MNIST_ENV)
    return Path(env) if env else PACKAGE_MNIST


def _find(folder: Path, split: str, kind: str) -> Path:
    for stem in _FILES[(split, kind)]:
        for name in (stem + ".gz", stem):
            if (folder / name).is_file():
                return folder / name
    raise DataError(f"MNIST {split} {kind}: none of {', '.join(s + '[.gz]' for s in _FILES[(split, kind)])} "
                    f"in {folder} (set {MNIST_ENV} or data_dir)")


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST: (N, 28, 28) uint8 images and (N,) int64 labels."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = mnist_dir(data_dir)
    img_path, lab_path = _find(folder, split, "images"), _find(folder, split, "labels")
    images = read_idx(img_path)
    labels = read_idx(lab_path).astype(np.int64)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"{img_path}, {lab_path}: shapes {images.shape} and {labels.shape} do not match")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise DataError(f"{lab_path}: labels outside 0..9")
    return images, labels


# --- preprocessing (the original's cv2 steps) ----------------------------------------------------------------
def _linear_matrix(n_src: int, n_dst: int) -> np.ndarray:
    """(n_dst, n_src) weights of cv2.resize INTER_LINEAR along one axis."""
    scale = n_src / n_dst
    m = np.zeros((n_dst, n_src))
    for d in range(n_dst):
        f = float(np.float32((d + 0.5) * scale - 0.5))
        s = math.floor(f)
        f -= s
        if s < 0:
            s, f = 0, 0.0
        if s >= n_src - 1:
            s, f = n_src - 1, 0.0
        m[d, s] += 1.0 - f
        if f:
            m[d, s + 1] += f
    return m


def resize_bilinear(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, H, W) -> (N, h, w) like cv2.resize(img, (w, h)) with INTER_LINEAR (half-pixel centres)."""
    x = np.asarray(images, dtype=np.float64)
    h, w = size
    rx = _linear_matrix(x.shape[2], w)
    ry = _linear_matrix(x.shape[1], h)
    return np.matmul(ry, np.matmul(x, rx.T))


def deskew(images: np.ndarray) -> np.ndarray:
    """Deskew (N, S, S) images by their moments, as the original's cv2 code does.

    skew = mu11 / mu02 (images with |mu02| < 0.01 are returned unchanged); the output
    row y samples the input row y at x + skew * (y - S/2), bilinear, zeros outside.
    """
    x = np.asarray(images, dtype=np.float64)
    n, side, side_x = x.shape
    if side != side_x:
        raise ValueError("deskew needs square images")
    cols = np.arange(side, dtype=np.float64)
    rows = cols
    m00 = x.sum((1, 2))
    m10 = (x.sum(1) * cols).sum(1)  # x = column
    m01 = (x.sum(2) * rows).sum(1)  # y = row
    m11 = np.einsum("nyx,y,x->n", x, rows, cols)
    m02 = (x.sum(2) * rows * rows).sum(1)
    inv = np.divide(1.0, m00, out=np.zeros_like(m00), where=m00 != 0)
    cx, cy = m10 * inv, m01 * inv
    mu11 = m11 - cx * m01
    mu02 = m02 - cy * m01
    keep = np.abs(mu02) < 1e-2
    skew = np.divide(mu11, mu02, out=np.zeros_like(mu11), where=~keep)
    # the original builds the matrix as float32: [[1, skew, -0.5*S*skew], [0, 1, 0]]
    m01f = skew.astype(np.float32).astype(np.float64)
    m02f = (-0.5 * side * skew).astype(np.float32).astype(np.float64)
    # cv2.warpAffine fixed point: AB_BITS=10, INTER_BITS=5 (coordinates in 1/32 pixel)
    y = np.arange(side, dtype=np.float64)
    x0 = np.rint((m01f[:, None] * y[None, :] + m02f[:, None]) * 1024.0).astype(np.int64) + 16  # (N, S)
    xq = (x0[:, :, None] + 1024 * np.arange(side, dtype=np.int64)[None, None, :]) >> 5  # (N, S rows, S cols)
    src = xq >> 5
    frac = (xq & 31).astype(np.float64) / 32.0
    # zero border: image column c is padded column c + 1; any index outside clips onto a zero column
    padded = np.zeros((n, side, side + 2))
    padded[:, :, 1 : side + 1] = x
    i0 = np.clip(src + 1, 0, side + 1)
    i1 = np.clip(src + 2, 0, side + 1)
    out = np.take_along_axis(padded, i0, 2) * (1.0 - frac) + np.take_along_axis(padded, i1, 2) * frac
    out[keep] = x[keep]
    return out


def preprocess_mnist(images: np.ndarray, side: int = 16, chunk: int = 1000) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, side*side) float64: /255, resize, deskew, flatten row-major."""
    out = np.empty((len(images), side * side))
    for lo in range(0, len(images), chunk):
        x = images[lo : lo + chunk].astype(np.float64) / 255.0
        out[lo : lo + chunk] = deskew(resize_bilinear(x, (side, side))).reshape(len(x), -1)
    return out


# --- data sets ------------------------------------------------------------------------------------
_CACHE: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
_CACHE_LOCK = threading.Lock()


def dataset(name: str, split: str = "train", data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, n_inputs) float64, y (N,) int64) of ``digits`` or ``mnist256``; cached in memory.

    ``digits`` has no held-out set (the original trains on all 1797 images): both splits are the whole set.
    """
    if name not in ("digits", "mnist256"):
        raise TaskError(f"unknown classification data set {name!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    where = "" if name == "digits" else str(mnist_dir(data_dir).resolve())
    key = (name, "all" if name == "digits" else split, where)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if name == "digits":
                from sklearn.datasets import load_digits

                d = load_digits()
                x, y = np.asarray(d.data, dtype=np.float64) / 16.0, np.asarray(d.target, dtype=np.int64)
            else:
                x, y = _mnist256(split, data_dir)
            x.setflags(write=False)
            y.setflags(write=False)
            _CACHE[key] = (np.ascontiguousarray(x), y)
        return _CACHE[key]


PREPROCESS_VERSION = 1  # bump when preprocess_mnist changes: it names the disk cache files


def cache_dir() -> Path | None:
    """Where preprocessed arrays are kept: ``$WANN_CACHE_DIR`` (empty = no disk cache), else
    ``$XDG_CACHE_HOME/wann-tui``, else ``~/.cache/wann-tui``."""
    env = os.environ.get("WANN_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wann-tui"


def _mnist256(split: str, data_dir: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed MNIST split, from the disk cache when it holds this exact source file."""
    folder = mnist_dir(data_dir)
    img_path = _find(folder, split, "images")
    labels = read_idx(_find(folder, split, "labels")).astype(np.int64)
    cached = None
    cdir = cache_dir()
    if cdir is not None:
        try:
            digest = hashlib.sha256(img_path.read_bytes()).hexdigest()[:20]
        except OSError as e:
            raise DataError(f"{img_path}: {e.strerror}") from None
        cached = cdir / f"mnist256-{split}-{digest}-v{PREPROCESS_VERSION}.npy"
        try:
            x = np.load(cached, allow_pickle=False)
            if x.shape == (len(labels), 256) and x.dtype == np.float64:
                return x, labels
        except (OSError, ValueError):
            pass
    images, labels = load_mnist(split, data_dir)
    x = preprocess_mnist(images)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, x, allow_pickle=False)
            os.replace(tmp, cached)
        except OSError:
            pass
    return x, labels


def batch_rows(key: tuple[int, ...] | int, reps: int, n: int, batch: int = BATCH) -> np.ndarray:
    """(reps, batch) image indices; rep r depends only on (key, r)."""
    key = (key,) if isinstance(key, int) else tuple(key)
    b = min(batch, n)
    return np.stack([np.random.default_rng([*key, r]).permutation(n)[:b] for r in range(reps)]).astype(np.int64)


# --- kernels --------------------------------------------------------------------------------------
@numba.njit(inline="always", cache=True, error_model="numpy")
def _used_inputs(base, n, n_in, ptr, idx, used):
    """Input positions (1..n_in) that some node of the network reads; returns their count."""
    seen = np.zeros(n_in + 1, dtype=np.bool_)
    for k in range(ptr[base + n_in + 1], ptr[base + n]):
        s = idx[k]
        if 1 <= s <= n_in:
            seen[s] = True
    m = 0
    for s in range(1, n_in + 1):
        if seen[s]:
            used[m] = s
            m += 1
    return m


@numba.njit(inline="always", cache=True, error_model="numpy")
def _run_block(vals, acc, wl, X, rows, c0, c1, weights, used, n_used, base, n, n_in, ptr, idx, act):
    """Lanes (weight wi, image k) = wi * c + k for images rows[c0:c1]; returns the lane count."""
    c = c1 - c0
    n_w = weights.shape[0]
    for wi in range(n_w):
        for k in range(c):
            wl[wi * c + k] = weights[wi]
    for i in range(n_w * c):
        vals[0, i] = 1.0
    for k0 in range(0, c, 8):  # transpose in blocks of 8 images: 8 input rows stay in L1
        k1 = min(k0 + 8, c)
        for u in range(n_used):
            s = used[u]
            row = vals[s]
            for k in range(k0, k1):
                row[k] = X[rows[c0 + k], s - 1]
    for wi in range(1, n_w):
        for u in range(n_used):
            row = vals[used[u]]
            for k in range(c):
                row[wi * c + k] = row[k]
    forward_lanes(vals, acc, base, n, n_in, ptr, idx, act, wl, n_w * c)
    return n_w * c


@numba.njit(inline="always", cache=True, error_model="numpy")
def _log_softmax_lanes(vals, first, n_out, m, mx, s):
    """Per lane: ``mx`` = max of the clipped outputs (NaN if any is NaN), ``s`` = sum exp(out - mx)."""
    for i in range(m):
        mx[i] = -LOGIT_CLIP
        s[i] = 0.0
    for o in range(n_out):
        row = vals[first + o]
        for i in range(m):
            v = row[i]
            s[i] += 0.0 if v == v else np.nan  # NaN marker
            v = min(max(v, -LOGIT_CLIP), LOGIT_CLIP)
            mx[i] = v if v > mx[i] else mx[i]
    for o in range(n_out):
        row = vals[first + o]
        for i in range(m):
            s[i] += exp(min(max(row[i], -LOGIT_CLIP), LOGIT_CLIP) - mx[i])


@numba.njit(inline="always", cache=True, error_model="numpy")
def _logp_at(vals, first, lane, target, mx, s):
    v = vals[first + target, lane]
    if s[lane] != s[lane]:
        return LOGP_NAN
    return min(max(v, -LOGIT_CLIP), LOGIT_CLIP) - mx[lane] - math.log(s[lane])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _mean_logp(node_off, ptr, idx, act, n_in, n_out, X, y, batches, weights, chunk, lo, hi, returns):
    """returns[p, w, r] = mean over batch r of log softmax(outputs)[label], networks lo..hi-1."""
    n_w = weights.shape[0]
    n_r, n_b = batches.shape
    max_n = 0
    for p in range(lo, hi):
        max_n = max(max_n, node_off[p + 1] - node_off[p])
    vals = np.empty((max_n, n_w * chunk))
    acc = np.empty(n_w * chunk)
    wl = np.empty(n_w * chunk)
    used = np.empty(n_in, dtype=np.int64)
    sums = np.empty(n_w)
    mx = np.empty(n_w * chunk)
    se = np.empty(n_w * chunk)
    for p in range(lo, hi):
        base = node_off[p]
        n = node_off[p + 1] - base
        n_used = _used_inputs(base, n, n_in, ptr, idx, used)
        for r in range(n_r):
            rows = batches[r]
            sums[:] = 0.0
            for c0 in range(0, n_b, chunk):
                c1 = min(c0 + chunk, n_b)
                c = c1 - c0
                m = _run_block(vals, acc, wl, X, rows, c0, c1, weights, used, n_used, base, n, n_in, ptr, idx, act)
                _log_softmax_lanes(vals, n - n_out, n_out, m, mx, se)
                for wi in range(n_w):
                    s = 0.0
                    for k in range(c):
                        s += _logp_at(vals, n - n_out, wi * c + k, y[rows[c0 + k]], mx, se)
                    sums[wi] += s
            for wi in range(n_w):
                returns[p, wi, r] = sums[wi] / n_b


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _outputs(node_off, ptr, idx, act, n_in, n_out, X, rows, weights, chunk, p, out):
    """out[w, i, :] = outputs of network p at weights[w] for image rows[i]."""
    n_w = weights.shape[0]
    n_b = rows.shape[0]
    base = node_off[p]
    n = node_off[p + 1] - base
    vals = np.empty((n, n_w * chunk))
    acc = np.empty(n_w * chunk)
    wl = np.empty(n_w * chunk)
    used = np.empty(n_in, dtype=np.int64)
    n_used = _used_inputs(base, n, n_in, ptr, idx, used)
    for c0 in range(0, n_b, chunk):
        c1 = min(c0 + chunk, n_b)
        c = c1 - c0
        _run_block(vals, acc, wl, X, rows, c0, c1, weights, used, n_used, base, n, n_in, ptr, idx, act)
        for wi in range(n_w):
            for k in range(c):
                for o in range(n_out):
                    out[wi, c0 + k, o] = vals[n - n_out + o, wi * c + k]


def outputs(net: Network, weights: np.ndarray, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(W, N, n_out) raw outputs of one network on images X[rows] (all by default); releases the GIL."""
    packed = pack([net])
    X = np.ascontiguousarray(X, dtype=np.float64)
    rows = np.arange(len(X), dtype=np.int64) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    out = np.empty((len(weights), len(rows), packed.n_out))
    _outputs(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, packed.n_out, X, rows, weights,
             CHUNK, 0, out)
    return out


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.clip(np.asarray(z, dtype=np.float64), -LOGIT_CLIP, LOGIT_CLIP)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


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


def predictions(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (..., 10) -> predicted class (-1 for a row with NaN) and log-softmax."""
    z = np.clip(out, -LOGIT_CLIP, LOGIT_CLIP)
    bad = np.isnan(z).any(-1)
    z = np.where(np.isnan(z), 0.0, z)
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return np.where(bad, -1, np.argmax(z, -1)), logp


def vote(pred: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """The ensemble's class per row from (W, N) predictions: majority over the weights, ties to the
    higher mean softmax probability (rows predicted -1 take no part)."""
    votes = np.zeros((pred.shape[1], N_CLASSES))
    for pw in pred:
        ok = pw >= 0
        votes[np.flatnonzero(ok), pw[ok]] += 1.0
    probs = np.where(pred[..., None] < 0, 0.0, np.exp(logp)).mean(0)  # < 1: only breaks ties between votes
    return np.argmax(votes + 0.5 * probs, -1)


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


# --- the task -------------------------------------------------------------------------------------
_NET_CHUNK = 8  # networks per thread work item


class ClassifyTask:
    """``digits`` (64 inputs) or ``mnist256`` (256 inputs) -> 10 softmax outputs."""

    n_outputs = N_CLASSES
    max_steps = 1  # one step per episode: the whole batch

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
        """Returns (P, W, R) mean log-probabilities of the true labels; ``max_steps`` does not apply."""
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
        threads = threads or os.cpu_count() or 1
        if threads == 1 or len(nets) <= _NET_CHUNK:
            self._run(packed, X, y, batches, weights, 0, len(nets), returns)
        else:
            pool = self._executor(threads)
            jobs = [pool.submit(self._run, packed, X, y, batches, weights, lo, min(lo + _NET_CHUNK, len(nets)),
                                returns) for lo in range(0, len(nets), _NET_CHUNK)]
            for j in jobs:
                j.result()
        return Scores(returns, int(returns.size * batches.shape[1]))

    @staticmethod
    def _run(packed: PackedNets, X, y, batches, weights, lo, hi, returns) -> None:
        _mean_logp(packed.node_off, packed.ptr, packed.idx, packed.act, packed.n_in, packed.n_out, X, y, batches,
                   weights, CHUNK, lo, hi, returns)

    def accuracy(self, net: Network | Genome, weights: Any = STANDARD_WEIGHTS, split: str = "test") -> Accuracy:
        return accuracy(net, self.name, weights, split, self.data_dir)

    def _executor(self, threads: int) -> ThreadPoolExecutor:
        if self._pool is None or self._threads != threads:
            if self._pool is not None:
                self._pool.shutdown()
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix=self.name)
            self._threads = threads
        return self._pool
