"""Run a Weight Agnostic Neural Network exported by ``wann-engine export FILE --to npz``.

Needs nothing but numpy. Keep this file next to the ``.npz`` (the exporter puts it there)::

    import numpy as np
    import wann_forward

    net = wann_forward.load("champion.npz")
    x = np.zeros((4, net["n_in"]))                # a batch of 4 inputs, in net["input_names"] order
    y = wann_forward.forward(net, x)               # (4, n_out), at the stored shared weight
    y = wann_forward.forward(net, x, weight=-1.5)  # any shared weight (a scalar, or one per row)

The network (the dict ``load`` returns):

- ``n_in``, ``n_out``: numbers of inputs and outputs; ``input_names``, ``output_names``: their names;
  ``task``: the task it was found for.
- Nodes are numbered by *position* in evaluation order: 0 is the bias (always 1), 1..n_in the
  inputs, then hidden nodes (every source before its destination), the outputs last.
  ``act[p]``: activation id of node ``p``; ``node_ids[p]``: its id in the genome.
- ``edges``: (E, 2) array of (source position, destination position), sorted by destination.
- ``weight``: the shared weight to use by default (the network's best one); NaN when unknown.
- ``conn_weights`` (only when the export had them, e.g. after fine-tuning): one weight per row
  of ``edges``; use them with ``forward(net, x, conn_weights=net["conn_weights"])``.

A node's value is ``act(weight * sum of its sources' values)``: every connection carries the
same shared weight (or its own one, with ``conn_weights``). Activation ids:

==  ========  =====================
1   linear    x
2   step      1 if x > 0 else 0
3   sin       sin(pi x)
4   gauss     exp(-x^2 / 2)
5   tanh      tanh(x)
6   sigmoid   (tanh(x / 2) + 1) / 2
7   inverse   -x
8   abs       abs(x)
9   relu      max(0, x)
10  cos       cos(pi x)
11  squared   x^2
==  ========  =====================

Any other id is linear. The swing-up task's output is the force on the cart (clipped to
[-1, 1] by the environment); classification tasks take the softmax of the outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "wann-npz"
VERSION = 1


def activate(act_id: int, x: np.ndarray) -> np.ndarray:
    """Activation ``act_id`` applied elementwise (see the table above)."""
    if act_id == 2:
        return (x > 0.0).astype(np.float64)
    if act_id == 3:
        return np.sin(np.pi * x)
    if act_id == 4:
        return np.exp(-(x * x) / 2.0)
    if act_id == 5:
        return np.tanh(x)
    if act_id == 6:
        return (np.tanh(x / 2.0) + 1.0) / 2.0
    if act_id == 7:
        return -x
    if act_id == 8:
        return np.abs(x)
    if act_id == 9:
        return np.maximum(0.0, x)
    if act_id == 10:
        return np.cos(np.pi * x)
    if act_id == 11:
        return x * x
    return x


def load(path: str | Path) -> dict[str, Any]:
    """Read an exported network (no pickle involved)."""
    with np.load(path, allow_pickle=False) as z:
        raw = {k: z[k] for k in z.files}
    if str(raw.get("format", "")) != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    if int(raw["version"]) != VERSION:
        raise ValueError(f"{path}: unsupported {FORMAT} version {int(raw['version'])}")
    net: dict[str, Any] = {
        "task": str(raw["task"]),
        "n_in": int(raw["n_in"]),
        "n_out": int(raw["n_out"]),
        "input_names": [str(s) for s in raw["input_names"]],
        "output_names": [str(s) for s in raw["output_names"]],
        "node_ids": raw["node_ids"].astype(np.int64),
        "act": raw["act"].astype(np.int64),
        "edges": raw["edges"].astype(np.int64).reshape(-1, 2),
        "weight": float(raw["weight"]),
    }
    if "conn_weights" in raw:
        net["conn_weights"] = raw["conn_weights"].astype(np.float64)
    dst = net["edges"][:, 1]
    if (np.diff(dst) < 0).any():
        raise ValueError(f"{path}: edges are not sorted by destination")
    # sources of node p are edges[ptr[p]:ptr[p + 1], 0]
    net["ptr"] = np.searchsorted(dst, np.arange(len(net["act"]) + 1), side="left")
    return net


def forward(net: dict[str, Any], x: Any, weight: Any = None, conn_weights: Any = None) -> np.ndarray:
    """Outputs for a batch of inputs ``x`` (B, n_in), or for one input (n_in,) giving (n_out,).

    ``weight``: the shared weight, a scalar or one per row of ``x``; default ``net["weight"]``.
    ``conn_weights``: instead, one weight per connection (row of ``net["edges"]``).
    """
    x = np.asarray(x, dtype=np.float64)
    single = x.ndim == 1
    if single:
        x = x[None]
    n_in, n_out, act, ptr = net["n_in"], net["n_out"], net["act"], net["ptr"]
    src = net["edges"][:, 0]
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"expected inputs of shape (B, {n_in}), got {x.shape}")
    b, n = x.shape[0], len(act)
    cw = None
    if conn_weights is not None:
        cw = np.asarray(conn_weights, dtype=np.float64)
        if cw.shape != (len(src),):
            raise ValueError(f"expected {len(src)} connection weights, got shape {cw.shape}")
    else:
        if weight is None:
            weight = net["weight"]
            if not np.isfinite(weight):
                raise ValueError("this network stores no shared weight: pass weight=")
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), (b,))
    vals = np.zeros((n, b))
    vals[0] = 1.0
    vals[1 : n_in + 1] = x.T
    for j in range(n_in + 1, n):
        lo, hi = ptr[j], ptr[j + 1]
        if cw is None:
            pre = vals[src[lo:hi]].sum(0) * w
        else:
            pre = (vals[src[lo:hi]] * cw[lo:hi, None]).sum(0)
        vals[j] = activate(int(act[j]), pre)
    out = vals[n - n_out :].T
    return out[0] if single else out


def matrix(net: dict[str, Any], weight: float | None = None, conn_weights: Any = None) -> np.ndarray:
    """The (N, N) weight matrix of the original WANN code (row = source, column = destination, in
    evaluation order): ``weight`` (default ``net["weight"]``) on every connection, or ``conn_weights``."""
    n = len(net["act"])
    w = np.zeros((n, n))
    s, d = net["edges"][:, 0], net["edges"][:, 1]
    if conn_weights is not None:
        w[s, d] = np.asarray(conn_weights, dtype=np.float64)
    else:
        w[s, d] = net["weight"] if weight is None else float(weight)
    return w
