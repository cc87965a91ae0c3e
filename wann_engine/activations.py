"""The activation functions of the WANN paper, with the original ids.

Ids are part of every file format (the original ``.out`` matrices store them in
their last column), so they never change.
"""

from __future__ import annotations

import numpy as np

LINEAR, STEP, SIN, GAUSS, TANH, SIGMOID, INVERSE, ABS, RELU, COS, SQUARED = range(1, 12)

NAMES: dict[int, str] = {
    LINEAR: "linear",
    STEP: "step",
    SIN: "sin",
    GAUSS: "gauss",
    TANH: "tanh",
    SIGMOID: "sigmoid",
    INVERSE: "inverse",
    ABS: "abs",
    RELU: "relu",
    COS: "cos",
    SQUARED: "squared",
}

#: Short labels for drawing networks in a terminal.
SYMBOLS: dict[int, str] = {
    LINEAR: "lin",
    STEP: "stp",
    SIN: "sin",
    GAUSS: "gau",
    TANH: "tnh",
    SIGMOID: "sig",
    INVERSE: "inv",
    ABS: "abs",
    RELU: "rlu",
    COS: "cos",
    SQUARED: "sqr",
}

#: Hidden activations of the reinforcement-learning tasks (ids 1..10).
RL_HIDDEN = tuple(range(1, 11))
#: Hidden activations of the classification tasks (no step function).
CLASSIFY_HIDDEN = (1, 3, 4, 5, 6, 7, 8, 9, 10)


def apply(act_id: int, x: np.ndarray) -> np.ndarray:
    """Apply activation ``act_id`` elementwise; unknown ids are linear, as in the original."""
    if act_id == STEP:
        return (x > 0.0).astype(np.float64)
    if act_id == SIN:
        return np.sin(np.pi * x)
    if act_id == GAUSS:
        return np.exp(-(x * x) / 2.0)
    if act_id == TANH:
        return np.tanh(x)
    if act_id == SIGMOID:
        return (np.tanh(x / 2.0) + 1.0) / 2.0
    if act_id == INVERSE:
        return -x
    if act_id == ABS:
        return np.abs(x)
    if act_id == RELU:
        return np.maximum(0.0, x)
    if act_id == COS:
        return np.cos(np.pi * x)
    if act_id == SQUARED:
        return x * x
    return x
