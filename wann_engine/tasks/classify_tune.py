"""Tuning a classifier's individual connection weights by gradient descent on the training log-likelihood.

The paper's fourth condition ("tuned individual weights") asks how good the topology becomes once each
connection has its own weight. For an episodic task only a black-box search can answer (CMA-ES in
``protocol.finetune``); a classifier's loss is differentiable in its weights, and a network of a few
hundred connections is beyond what CMA-ES tunes in a few thousand evaluations (on the MNIST champion,
300 generations x 32 reached 91.2 % against the start's 90.6 %). This module backpropagates through the
network, one vectorised operation per node and mini-batch, and steps with Adam.

The pass is the reference ``Network.forward`` with a weight per connection; outputs are trained through
the same clipped log-softmax the kernels score (a non-finite output gives a zero gradient, never NaN
weights). Every activation of the classification tasks has a derivative; ``step`` (never used there)
has zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import activations as A
from ..genome import Network
from .classify_kernels import LOGIT_CLIP


@dataclass
class GradientTune:
    weights: np.ndarray  # (E,) the kept weights, ``Network.edges()`` order
    epochs: int
    batch: int
    lr: float
    history: np.ndarray  # (epochs, 3): epoch, mean training log-likelihood, validation log-likelihood
    valid_start: float  # validation mean log-likelihood of the start (every connection at w0)
    valid_tuned: float  # ... and of the kept weights
    kept: str  # "tuned" (the epoch with the best validation log-likelihood) or "start"


def _derivative(act_id: int, pre: np.ndarray, out: np.ndarray) -> np.ndarray | float:
    """d out / d pre of activation ``act_id`` (``out`` = its value at ``pre``)."""
    if act_id == A.SIN:
        return np.pi * np.cos(np.pi * pre)
    if act_id == A.COS:
        return -np.pi * np.sin(np.pi * pre)
    if act_id == A.GAUSS:
        return -pre * out
    if act_id == A.TANH:
        return 1.0 - out * out
    if act_id == A.SIGMOID:
        return out * (1.0 - out)
    if act_id == A.INVERSE:
        return -1.0
    if act_id == A.ABS:
        return np.sign(pre)
    if act_id == A.RELU:
        return (pre > 0.0).astype(np.float64)
    if act_id == A.SQUARED:
        return 2.0 * pre
    if act_id == A.STEP:
        return 0.0
    return 1.0  # linear (and unknown ids, linear as in the original)


class Backprop:
    """Loss and gradient of one network's mean log-likelihood with a weight per connection."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.ptr = np.asarray(net.src_ptr, dtype=np.int64)
        self.src = np.asarray(net.src_idx, dtype=np.int64)
        self.act = [int(a) for a in net.act]
        first = net.n_in + 1
        self.nodes = [j for j in range(first, net.n_nodes) if self.ptr[j + 1] > self.ptr[j]]
        self.n_out = net.n_out

    def loss_grad(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean log-probability of the true labels, and its gradient in the connection weights."""
        net, ptr, src = self.net, self.ptr, self.src
        b = len(X)
        vals = np.zeros((net.n_nodes, b))
        pre = np.zeros((net.n_nodes, b))
        vals[0] = 1.0
        vals[1 : net.n_in + 1] = X.T
        for j in self.nodes:
            lo, hi = ptr[j], ptr[j + 1]
            pre[j] = w[lo:hi] @ vals[src[lo:hi]]
            vals[j] = A.apply(self.act[j], pre[j])
        first_out = net.n_nodes - self.n_out
        z = vals[first_out:].T
        finite = np.isfinite(z).all(1)
        z = np.clip(np.where(np.isfinite(z), z, 0.0), -LOGIT_CLIP, LOGIT_CLIP)
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        ll = float(np.where(finite, logp[np.arange(b), y], -2.0 * LOGIT_CLIP).mean())
        # d(mean log p[y]) / d z = onehot - softmax, per row; rows with a non-finite output give nothing
        g_out = -np.exp(logp)
        g_out[np.arange(b), y] += 1.0
        g_out[~finite] = 0.0
        delta = np.zeros((net.n_nodes, b))  # d loss / d pre
        grad = np.zeros(len(src))
        with np.errstate(all="ignore"):
            for o in range(self.n_out):
                j = first_out + o
                delta[j] = g_out[:, o] / b * _derivative(self.act[j], pre[j], vals[j])
            for j in reversed(self.nodes):
                d = delta[j]
                if j < first_out:
                    d = d * _derivative(self.act[j], pre[j], vals[j])
                    delta[j] = d
                lo, hi = ptr[j], ptr[j + 1]
                grad[lo:hi] = vals[src[lo:hi]] @ d
                delta[src[lo:hi]] += np.outer(w[lo:hi], d)
        grad[~np.isfinite(grad)] = 0.0
        return ll, grad

    def log_likelihood(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, chunk: int = 5000) -> float:
        parts = [self.loss_grad(X[i : i + chunk], y[i : i + chunk], w)[0] * len(X[i : i + chunk])
                 for i in range(0, len(X), chunk)]
        return float(np.sum(parts) / len(X))


def gradient_tune(net: Network, X: np.ndarray, y: np.ndarray, w0: float, seed: int, *, epochs: int = 10,
                  batch: int = 256, lr: float = 0.01, valid: int = 10_000,
                  progress: Callable[[str], None] | None = None) -> GradientTune:
    """Adam on the training images but the last ``valid``, from every connection at ``w0``; keeps the
    epoch whose weights score the best validation log-likelihood (the start if no epoch beats it)."""
    bp = Backprop(net)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    Xt, yt, Xv, yv = X[:-valid], y[:-valid], X[-valid:], y[-valid:]
    rng = np.random.default_rng(seed)
    w = np.full(net.n_conns, float(w0))
    m, v = np.zeros_like(w), np.zeros_like(w)
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
    start = bp.log_likelihood(Xv, yv, w)
    best, best_w = start, w.copy()
    history = np.zeros((epochs, 3))
    for ep in range(epochs):
        order = rng.permutation(len(Xt))
        lls = []
        for i in range(0, len(order), batch):
            rows = order[i : i + batch]
            ll, g = bp.loss_grad(Xt[rows], yt[rows], w)
            lls.append(ll)
            step += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w + lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)  # ascent on log-likelihood
        val = bp.log_likelihood(Xv, yv, w)
        history[ep] = (ep, float(np.mean(lls)), val)
        if val > best:
            best, best_w = val, w.copy()
        if progress is not None:
            progress(f"fine-tuning: epoch {ep + 1}/{epochs}  training {np.mean(lls):.4f}  validation {val:.4f}")
    kept = "tuned" if best > start else "start"
    return GradientTune(best_w, epochs, batch, lr, history, start, best, kept)
