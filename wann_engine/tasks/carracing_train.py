"""Frames for the CarRacing encoder, and its training (World Models' ConvVAE, z = 16) with PyTorch.

``collect``: episodes of CarRacing-v3 driven at random (actions held for a few steps) and by a simple
scripted driver (steer towards the road's centre seen in the frame, gentle gas), each 64x64 frame drawn
by :mod:`carracing_raster` as the task sees it and saved as uint8 in a compressed ``.npz``.

``train``: the ConvVAE of World Models (encoder 4 convs 32/64/128/256 4x4 stride 2 ReLU -> mean and
log-variance of 16 dims; decoder dense 1024 -> 4 transposed convs 128/64/32/3 of 5/5/6/6 stride 2 ->
sigmoid), loss = summed squared error per image + KL, with the KL floored at ``kl_tolerance * z`` as
World Models did. Only the encoder's mean path is saved (``carracing_encoder.save``); search never
imports torch. PyTorch is the optional ``[racing]`` extra (``torch==2.13.0``, the CPU build).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import TaskError
from . import carracing_encoder as ce

Progress = Callable[[int, int, str], None]


def _scripted(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Steer towards the grey road's centre a little ahead of the car (64x64 frame); gentle gas."""
    row = frame[46:50, :, :].astype(np.int16)
    grey = (np.abs(row[..., 0] - row[..., 1]) < 12) & (row[..., 0] > 80) & (row[..., 0] < 130)
    cols = np.nonzero(grey.any(axis=0))[0]
    steer = 0.0 if len(cols) == 0 else float(np.clip((cols.mean() - 32) / 10.7, -1, 1))
    return np.array([steer + rng.normal(0, 0.1), 0.3 + 0.2 * rng.random(), 0.0], np.float32)


def collect(out: Path, episodes: int = 16, steps: int = 400, seed: int = 0, every: int = 2,
            progress: Progress | None = None) -> int:
    """Run ``episodes`` episodes (half random, half scripted) of up to ``steps`` steps, keep every
    ``every``-th frame; writes ``out`` (``frames``: (N, 64, 64, 3) uint8). Returns N."""
    import gymnasium as gym

    from . import carracing_raster as raster

    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    for e in range(episodes):
        env = gym.make(raster.ENV_ID, disable_env_checker=True)
        try:
            o, _ = env.reset(seed=int(seed * 1000 + e))
            a = np.zeros(3, np.float32)
            for t in range(steps):
                if e % 2 == 0:  # random: a new action every 8 steps, biased to move forward
                    if t % 8 == 0:
                        a = np.array([rng.uniform(-1, 1), rng.uniform(0, 1), rng.uniform(0, 0.3)], np.float32)
                else:
                    a = _scripted(o, rng)
                o, _, term, trunc, _ = env.step(a)
                if t % every == 0:
                    kept.append(np.asarray(o, np.uint8))
                if progress is not None:
                    progress(e * steps + t + 1, episodes * steps, f"episode {e + 1}/{episodes}")
                if term or trunc:
                    break
        finally:
            env.close()
    frames = np.stack(kept)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, frames=frames)
    return len(frames)


def load_frames(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            f = z["frames"]
    except (OSError, ValueError, KeyError) as e:
        raise TaskError(f"{path}: not a frames file of `wann-engine encoder collect` ({e})") from None
    if f.ndim != 4 or f.shape[1:] != (ce.SIZE, ce.SIZE, 3) or f.dtype != np.uint8:
        raise TaskError(f"{path}: frames of shape {f.shape} {f.dtype}, expected (N, 64, 64, 3) uint8")
    return f


def torch_model(z: int = ce.Z) -> Any:
    """World Models' ConvVAE as a torch module (imports torch)."""
    import torch
    from torch import nn

    class ConvVAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = ce.CHANNELS
            self.convs = nn.ModuleList([nn.Conv2d(c[i], c[i + 1], 4, stride=2) for i in range(4)])
            self.mu = nn.Linear(1024, z)
            self.logvar = nn.Linear(1024, z)
            self.dense = nn.Linear(z, 1024)
            self.deconvs = nn.ModuleList([nn.ConvTranspose2d(1024, 128, 5, stride=2),
                                          nn.ConvTranspose2d(128, 64, 5, stride=2),
                                          nn.ConvTranspose2d(64, 32, 6, stride=2),
                                          nn.ConvTranspose2d(32, 3, 6, stride=2)])

        def encode(self, x: Any) -> tuple[Any, Any]:
            for conv in self.convs:
                x = torch.relu(conv(x))
            h = x.flatten(1)
            return self.mu(h), self.logvar(h)

        def decode(self, zz: Any) -> Any:
            h = self.dense(zz).view(-1, 1024, 1, 1)
            for i, d in enumerate(self.deconvs):
                h = d(h)
                h = torch.sigmoid(h) if i == 3 else torch.relu(h)
            return h

        def forward(self, x: Any) -> tuple[Any, Any, Any]:
            mu, logvar = self.encode(x)
            zz = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.decode(zz), mu, logvar

    return ConvVAE()


def encoder_weights(model: Any) -> dict[str, np.ndarray]:
    """The encoder arrays of a torch ConvVAE, in the layout of ``carracing_encoder.save``."""
    d: dict[str, np.ndarray] = {}
    for i, conv in enumerate(model.convs):
        d[f"conv{i}_w"] = conv.weight.detach().cpu().numpy().astype(np.float32)
        d[f"conv{i}_b"] = conv.bias.detach().cpu().numpy().astype(np.float32)
    d["mu_w"] = model.mu.weight.detach().cpu().numpy().astype(np.float32)
    d["mu_b"] = model.mu.bias.detach().cpu().numpy().astype(np.float32)
    return d


def train(frames_path: Path, out: Path, minutes: float = 20.0, batch: int = 64, lr: float = 1e-3,
          kl_tolerance: float = 0.5, seed: int = 0, threads: int = 2, png: Path | None = None,
          progress: Progress | None = None) -> dict[str, Any]:
    """Train for ``minutes`` of wall time (whole epochs are not required); saves the encoder to ``out`` and,
    with ``png``, a grid of held-out frames over their reconstructions. Returns the summary."""
    try:
        import torch
    except ImportError:
        raise TaskError("training the encoder needs PyTorch: pip install 'wann-engine[racing]'") from None
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, threads))
    frames = load_frames(frames_path)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frames))
    n_val = max(1, min(256, len(frames) // 20))
    val, tr = frames[order[:n_val]], frames[order[n_val:]]
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(255.0)  # noqa: E731
    xval = to_t(val)
    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    floor = kl_tolerance * ce.Z
    budget = minutes * 60.0
    t0 = time.perf_counter()
    step, epoch = 0, 0
    rec = kl = float("nan")
    while time.perf_counter() - t0 < budget:
        perm = rng.permutation(len(tr))
        for s in range(0, len(perm) - batch + 1, batch):
            x = to_t(tr[perm[s : s + batch]])
            y, mu, logvar = model(x)
            r_loss = ((y - x) ** 2).sum(dim=(1, 2, 3)).mean()
            k_loss = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
            loss = r_loss + torch.clamp(k_loss, min=floor)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            rec, kl = float(r_loss), float(k_loss)
            el = time.perf_counter() - t0
            if progress is not None:
                progress(int(min(el, budget)), int(budget), f"epoch {epoch + 1} step {step} rec {rec:.1f} kl {kl:.1f}")
            if el >= budget:
                break
        epoch += 1
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(xval)
        yv = model.decode(mu)
        val_rec = float(((yv - xval) ** 2).sum(dim=(1, 2, 3)).mean())
    seconds = time.perf_counter() - t0
    recipe = dict(frames=int(len(frames)), frames_file=Path(frames_path).name, train=int(len(tr)), held_out=n_val,
                  batch=batch, lr=lr, optimizer="Adam", kl_tolerance=kl_tolerance, seed=seed, steps=step,
                  epochs=epoch, seconds=round(seconds, 1), threads=threads, torch=torch.__version__,
                  loss="sum of squared errors per 64x64x3 image in [0,1] + max(KL, kl_tolerance*z)",
                  held_out_reconstruction=round(val_rec, 2), final_batch_reconstruction=round(rec, 2),
                  final_batch_kl=round(kl, 2))
    digest = ce.save(out, encoder_weights(model), recipe)
    if png is not None:
        grid = np.concatenate([np.concatenate(list(val[:8]), axis=1),
                               np.concatenate(list((yv[:8].permute(0, 2, 3, 1).numpy() * 255).round()
                                                   .clip(0, 255).astype(np.uint8)), axis=1)], axis=0)
        write_png(png, np.kron(grid, np.ones((2, 2, 1), np.uint8)))
    return dict(recipe, sha256=digest, file=str(out))


def write_png(path: Path, rgb: np.ndarray) -> None:
    """A (H, W, 3) uint8 image as PNG, with numpy and zlib only."""
    import struct
    import zlib

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].astype(np.uint8).tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(png)
