"""Classification data: the sklearn digits and MNIST (IDX files, the original's cv2 preprocessing in numpy).

MNIST comes from IDX files (gzip or raw): the copies shipped in
``wann_engine/data/mnist``, or the folder named by ``data_dir`` / ``WANN_MNIST_DIR``.
Preprocessing (the original's cv2 steps) is numpy, vectorised over all images: /255, bilinear
resize 28->16 with cv2.resize's INTER_LINEAR rules (half-pixel centres, edge clamp),
then deskew by image moments with cv2.warpAffine's rules (inverse map, bilinear,
coordinates rounded to 1/32 pixel, zero border). The 16x16 arrays are kept in memory and
on disk (``cache_dir``). A training "episode" is a batch of images drawn from (key, rep) alone.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import threading
from pathlib import Path

import numpy as np

from . import TaskError

BATCH = 1000
N_CLASSES = 10
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
