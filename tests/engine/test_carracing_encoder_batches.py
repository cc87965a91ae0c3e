"""A frame's latent does not depend on the other frames encoded with it, so a CarRacing run gives the
same generations whatever its ``--workers`` (each process encodes the frames of its own episodes)."""

from __future__ import annotations

import numpy as np

from wann_engine.tasks import carracing_encoder as ce


def test_a_frames_latent_is_the_same_in_any_batch():
    enc = ce.load(None)
    frames = np.random.default_rng(0).integers(0, 255, (40, ce.SIZE, ce.SIZE, 3), dtype=np.uint8)
    whole = enc.encode64(frames)
    for start, n in ((0, 1), (3, 1), (19, 16), (5, 7), (1, 33), (20, 20)):
        assert np.array_equal(enc.encode64(frames[start:start + n]), whole[start:start + n]), (start, n)
