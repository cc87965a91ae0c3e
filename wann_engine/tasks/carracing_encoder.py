"""The CarRacing frame encoder: World Models' ConvVAE encoder, run in plain numpy.

A 96x96 RGB CarRacing frame is cropped to its top 84 rows (the dashboard strip is dropped) and
resampled to 64x64 (nearest pixel), scaled to [0, 1], then passed through four 4x4 stride-2 ReLU
convolutions of 32/64/128/256 filters (64 -> 31 -> 14 -> 6 -> 2) and a linear map of the flattened
256x2x2 features to the 16-dimensional mean of the VAE's posterior, which is the network's input. The
task draws those 64x64 pixels directly (:mod:`carracing_raster`) and calls :meth:`Encoder.encode64`.

Weights live in an ``.npz`` (no pickle) beside a JSON file holding the npz's sha256 and the training
recipe; :func:`load` refuses a file whose checksum does not match. Training (PyTorch, the optional
``[racing]`` extra) is in ``carracing_train``; nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import TaskError

Z = 16
SIZE = 64
CROP = 84  # rows of the 96x96 frame kept (the bottom 12 are the dashboard)
CHANNELS = (3, 32, 64, 128, 256)
KERNEL = 4
STRIDE = 2
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "carracing" / "encoder.npz"
ENV_VAR = "WANN_CARRACING_ENCODER"  # another weights file (tests, experiments)

#: the rows and columns of the 96x96 frame that the 64x64 input samples (nearest pixel)
ROWS = np.floor((np.arange(SIZE) + 0.5) * CROP / SIZE).astype(np.intp)
COLS = np.floor((np.arange(SIZE) + 0.5) * 96 / SIZE).astype(np.intp)


def preprocess(frames: np.ndarray) -> np.ndarray:
    """(N, 96, 96, 3) uint8 frames -> (N, 64, 64, 3) uint8 (crop, nearest resample)."""
    f = np.asarray(frames)
    if f.ndim == 3:
        f = f[None]
    return f[:, ROWS][:, :, COLS]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def meta_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


@dataclass
class Encoder:
    """Encoder weights as float32 arrays: convs ``w[i]`` (out, in, 4, 4), ``b[i]``; ``mu_w`` (16, 1024)."""

    w: list[np.ndarray]
    b: list[np.ndarray]
    mu_w: np.ndarray
    mu_b: np.ndarray
    sha256: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # kernels as (kh, kw, in, out) for the NHWC convolution below
        self._k = [np.ascontiguousarray(np.asarray(w, np.float32).transpose(2, 3, 1, 0)) for w in self.w]
        self._b = [np.asarray(b, np.float32) for b in self.b]
        # the flatten of torch is (C, H, W); features here are (H, W, C)
        mw = np.asarray(self.mu_w, np.float32).reshape(Z, CHANNELS[-1], 2, 2).transpose(0, 2, 3, 1)
        self._mu_w = np.ascontiguousarray(mw.reshape(Z, -1).T)
        self._mu_b = np.asarray(self.mu_b, np.float32)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, 96, 96, 3) uint8 raw frames -> (N, 16) float32 latent means."""
        return self.encode64(preprocess(frames))

    def encode64(self, x64: np.ndarray) -> np.ndarray:
        """(N, 64, 64, 3) uint8 (or float in [0, 1]) -> (N, 16) float32."""
        x = np.asarray(x64)
        x = x.astype(np.float32) / np.float32(255.0) if x.dtype == np.uint8 else x.astype(np.float32)
        with _one_blas_thread():
            for k, b in zip(self._k, self._b, strict=True):
                x = np.maximum(_conv(x, k) + b, np.float32(0.0))
            # one product per frame (np.matmul over a stack), not one over the batch: a BLAS result depends
            # on a row's place in the batch, and a frame's latent must not depend on which other episodes
            # are encoded with it (a run gives the same generations with any --workers)
            return np.matmul(x.reshape(len(x), 1, -1), self._mu_w)[:, 0] + self._mu_b


_BLAS: Any = None


def _one_blas_thread() -> Any:
    """A context running BLAS on one thread. A search process uses one core; OpenBLAS's own threads on
    these small products cost 2-4x the CPU time (and far more wall time on a busy machine).
    ``threadpoolctl`` comes with scikit-learn."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _conv(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid 4x4 stride-2 convolution of NHWC ``x`` by (kh, kw, in, out) ``k`` (im2col by stride tricks)."""
    n, h, w, c = x.shape
    ho, wo = (h - KERNEL) // STRIDE + 1, (w - KERNEL) // STRIDE + 1
    s = x.strides
    cols = np.lib.stride_tricks.as_strided(
        x, (n, ho, wo, KERNEL, KERNEL, c), (s[0], s[1] * STRIDE, s[2] * STRIDE, s[1], s[2], s[3]), writeable=False)
    per_frame = cols.reshape(n, ho * wo, KERNEL * KERNEL * c)  # each frame its own product (see encode64)
    return np.matmul(per_frame, k.reshape(-1, k.shape[-1])).reshape(n, ho, wo, k.shape[-1])


def arrays(enc: Encoder) -> dict[str, np.ndarray]:
    """The arrays of an encoder file (torch layouts)."""
    d: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(zip(enc.w, enc.b, strict=True)):
        d[f"conv{i}_w"], d[f"conv{i}_b"] = w, b
    d["mu_w"], d["mu_b"] = enc.mu_w, enc.mu_b
    return d


def save(path: Path, weights: dict[str, np.ndarray], recipe: dict[str, Any], dtype: str = "float16") -> str:
    """Write ``weights`` (torch layouts, see :func:`arrays`) to ``path`` and the JSON beside it; returns the
    sha256. ``dtype`` is the storage type (float16 halves the file; inference is float32)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: np.asarray(v, dtype=dtype) for k, v in weights.items()})
    digest = sha256_file(path)
    meta = {"format": "wann-carracing-encoder/1", "file": path.name, "sha256": digest, "storage": dtype,
            "z": Z, "input": f"{SIZE}x{SIZE} RGB, rows 0..{CROP} of the 96x96 frame", "recipe": recipe}
    meta_path(path).write_text(json.dumps(meta, indent=1) + "\n")
    return digest


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of an untrained encoder (He-scaled), for tests."""
    rng = np.random.default_rng(seed)
    d: dict[str, np.ndarray] = {}
    for i in range(4):
        cin, cout = CHANNELS[i], CHANNELS[i + 1]
        d[f"conv{i}_w"] = rng.normal(0, np.sqrt(2 / (cin * 16)), (cout, cin, 4, 4)).astype(np.float32)
        d[f"conv{i}_b"] = rng.normal(0, 0.01, cout).astype(np.float32)
    d["mu_w"] = rng.normal(0, np.sqrt(1 / 1024), (Z, 1024)).astype(np.float32)
    d["mu_b"] = np.zeros(Z, np.float32)
    return d


def load(path: Path | str | None = None) -> Encoder:
    """The encoder in ``path`` (default: ``$WANN_CARRACING_ENCODER`` or the packaged one), checked against
    the sha256 of its JSON. Raises :class:`TaskError` with one line on any problem."""
    import os

    p = Path(path) if path is not None else Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)
    mp = meta_path(p)
    if not p.is_file():
        raise TaskError(f"carracing encoder {p} not found: train one with `wann-engine encoder train` "
                        "(needs the [racing] extra)")
    try:
        meta = json.loads(mp.read_text())
        want = str(meta["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TaskError(f"carracing encoder {p}: {mp.name} beside it is missing or has no sha256") from None
    got = sha256_file(p)
    if got != want:
        raise TaskError(f"carracing encoder {p}: checksum mismatch (sha256 {got[:12]}..., "
                        f"{mp.name} says {want[:12]}...): the file is damaged or not the one trained")
    try:
        with np.load(p, allow_pickle=False) as z:
            w = [z[f"conv{i}_w"].astype(np.float32) for i in range(4)]
            b = [z[f"conv{i}_b"].astype(np.float32) for i in range(4)]
            mu_w, mu_b = z["mu_w"].astype(np.float32), z["mu_b"].astype(np.float32)
    except (OSError, ValueError, KeyError) as e:
        raise TaskError(f"carracing encoder {p}: unreadable ({e})") from None
    for i, wi in enumerate(w):
        if wi.shape != (CHANNELS[i + 1], CHANNELS[i], KERNEL, KERNEL):
            raise TaskError(f"carracing encoder {p}: conv{i}_w has shape {wi.shape}")
    if mu_w.shape != (Z, 1024) or mu_b.shape != (Z,):
        raise TaskError(f"carracing encoder {p}: mu_w has shape {mu_w.shape}, expected ({Z}, 1024)")
    return Encoder(w, b, mu_w, mu_b, sha256=got, recipe=dict(meta.get("recipe") or {}))
