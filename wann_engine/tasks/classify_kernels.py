"""Classification kernels: one network's outputs over many images and weights, the mean log-probability of
the true labels (the training reward, a log-softmax finite wherever the outputs are), and predictions."""

from __future__ import annotations

import math

import numba
import numpy as np

from ..genome import Network
from ..kmath import exp
from ..netpack import activate_lanes, forward_lanes, pack
from .classify_data import N_CLASSES

CHUNK = 128  # images per lane block in the kernels (lanes = weights x CHUNK)
LOGIT_CLIP = 1e10  # outputs are clipped to +-this before the softmax (inf would give NaN)
LOGP_NAN = -2.0 * LOGIT_CLIP - math.log(N_CLASSES)  # log-probability given to a NaN output row


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


@numba.njit(inline="always", cache=True, error_model="numpy")
def _input_only(base, n, n_in, ptr, idx, flags):
    """flags[j] = node j reads only the bias and inputs: its source sum is the same at every weight."""
    for j in range(n_in + 1, n):
        g = base + j
        ok = True
        for k in range(ptr[g], ptr[g + 1]):
            if idx[k] > n_in:
                ok = False
                break
        flags[j] = ok


def _population_pass(activate):
    """The population scoring pass (``forward``, one network over a block of lanes; ``mean_logp``, the
    mean log-probabilities of networks lo..hi-1), built once per precision: ``activate`` is
    ``netpack.activate_lanes`` (float64) or ``classify_f32.activate_lanes`` (float32)."""

    @numba.njit(inline="always", cache=True, error_model="numpy")
    def forward(vals, acc, xs, c0, c, n_w, wrows, base, n, n_in, ptr, idx, act, flags):
        """One pass of nodes ``n_in+1 .. n-1`` over lanes ``wi * c + k`` (weight wi, image c0 + k).

        ``xs`` is (1 + n_in, images): the bias row (ones) and the batch's inputs, one row per input; inputs
        are read from it and never copied per weight. A node that reads only inputs sums them once for all
        weights, then activates ``sum * w`` per weight; other nodes sum their sources lane by lane. Sources
        are added in gene order either way, so every lane gets the bits ``forward_lanes`` gives it. Node
        values are at the precision of ``vals`` (float32 or float64, ``xs`` and ``wrows`` alike).
        """
        m = n_w * c
        for j in range(n_in + 1, n):
            g = base + j
            k0 = ptr[g]
            k1 = ptr[g + 1]
            a = act[g]
            out = vals[j]
            if flags[j]:
                if k0 == k1:
                    for k in range(c):
                        acc[k] = 0.0
                    src = acc
                elif k1 - k0 == 1:
                    src = xs[idx[k0], c0:c0 + c]
                else:
                    x0 = xs[idx[k0], c0:c0 + c]
                    x1 = xs[idx[k0 + 1], c0:c0 + c]
                    for k in range(c):
                        acc[k] = x0[k] + x1[k]
                    for kk in range(k0 + 2, k1):
                        x = xs[idx[kk], c0:c0 + c]
                        for k in range(c):
                            acc[k] += x[k]
                    src = acc
                for wi in range(n_w):
                    activate(a, src, wrows[wi], out[wi * c:wi * c + c], c)
                continue
            if k1 - k0 == 1:  # one hidden source
                activate(a, vals[idx[k0]], wrows[n_w], out, m)
                continue
            s0 = idx[k0]
            if s0 > n_in:
                src = vals[s0]
                for i in range(m):
                    acc[i] = src[i]
            else:
                x = xs[s0, c0:c0 + c]
                for wi in range(n_w):
                    for k in range(c):
                        acc[wi * c + k] = x[k]
            for kk in range(k0 + 1, k1):
                s = idx[kk]
                if s > n_in:
                    src = vals[s]
                    for i in range(m):
                        acc[i] += src[i]
                else:
                    x = xs[s, c0:c0 + c]
                    for wi in range(n_w):
                        for k in range(c):
                            acc[wi * c + k] += x[k]
            activate(a, acc, wrows[n_w], out, m)


    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def mean_logp(node_off, ptr, idx, act, n_in, n_out, xs, yb, weights, chunk, lo, hi, returns):
        """returns[p, w, r] = mean over batch r of log softmax(outputs)[label], networks lo..hi-1.

        ``xs[r]`` is (1 + n_in, batch) (row 0 = bias ones, row s = input s of each image of batch r), laid out
        once for all networks; ``yb[r]`` its labels. Lanes: weight wi, image k -> wi * chunk + k; the mean is
        summed in blocks of ``chunk`` images. Node values have the precision of ``xs``; the log-softmax and the
        mean are float64. The search passes float32 inputs (``classify_f32`` activations); float64 inputs give
        the reference it is checked against."""
        n_w = weights.shape[0]
        n_r, _, n_b = xs.shape
        max_n = 0
        for p in range(lo, hi):
            max_n = max(max_n, node_off[p + 1] - node_off[p])
        vals = np.empty((max_n, n_w * chunk), dtype=xs.dtype)
        acc = np.empty(n_w * chunk, dtype=xs.dtype)
        # wrows: rows 0..n_w-1 hold one weight each; row n_w holds w[wi] at lane wi * c + k
        wrows = np.empty((n_w + 1, n_w * chunk), dtype=xs.dtype)
        flags = np.zeros(max_n, dtype=np.bool_)
        sums = np.empty(n_w)
        mx = np.empty(n_w * chunk)
        se = np.empty(n_w * chunk)
        for wi in range(n_w):
            wrows[wi, :] = weights[wi]
        for p in range(lo, hi):
            base = node_off[p]
            n = node_off[p + 1] - base
            _input_only(base, n, n_in, ptr, idx, flags)
            for r in range(n_r):
                x = xs[r]
                lab = yb[r]
                sums[:] = 0.0
                for c0 in range(0, n_b, chunk):
                    c = min(c0 + chunk, n_b) - c0
                    m = n_w * c
                    for wi in range(n_w):
                        for k in range(c):
                            wrows[n_w, wi * c + k] = weights[wi]
                    forward(vals, acc, x, c0, c, n_w, wrows, base, n, n_in, ptr, idx, act, flags)
                    _log_softmax_lanes(vals, n - n_out, n_out, m, mx, se)
                    for wi in range(n_w):
                        s = 0.0
                        for k in range(c):
                            s += _logp_at(vals, n - n_out, wi * c + k, lab[c0 + k], mx, se)
                        sums[wi] += s
                for wi in range(n_w):
                    returns[p, wi, r] = sums[wi] / n_b

    return forward, mean_logp


# float64, the reference; ``classify_f32.mean_logp`` is the search's float32 pass
_forward_shared_inputs, _mean_logp_shared = _population_pass(activate_lanes)


def batch_inputs(X: np.ndarray, y: np.ndarray, batches: np.ndarray,
                 dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The inputs of each batch laid out for ``_mean_logp_shared``: (R, 1 + n_in, batch) with a bias row of
    ones, and the (R, batch) labels. Built once per generation and read by every network and thread."""
    n_r, n_b = batches.shape
    xs = np.empty((n_r, 1 + X.shape[1], n_b), dtype=dtype)
    xs[:, 0, :] = 1.0
    for r in range(n_r):
        xs[r, 1:, :] = X[batches[r]].T
    return xs, np.ascontiguousarray(y[batches], dtype=np.int64)


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
