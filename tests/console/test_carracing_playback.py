"""The CarRacing rollout in text: road as braille dots (or ``#``), the car marked, latent sparklines beside it."""

from __future__ import annotations

import numpy as np

from wann_engine.tasks.carracing import CarFrame
from wanntui import scene_text
from wanntui.widgets.playback import PlaybackView


def _frame() -> np.ndarray:
    img = np.zeros((96, 96, 3), np.uint8)
    img[:] = (102, 204, 102)  # grass
    img[:, :48] = (105, 105, 105)  # road on the left half
    img[66:76, 46:50] = (204, 0, 0)  # the car
    return img


def test_racetrack_draws_road_left_grass_right_and_the_car():
    for ascii in (False, True):
        lines = scene_text.racetrack(_frame(), 30, 10, ascii)
        assert len(lines) == 10 and all(len(line) == 30 for line in lines)
        assert all(line[:12].strip() for line in lines)  # road
        assert not any(line[18:].strip() for line in lines)  # grass
        assert sum(line.count("A") for line in lines) == 1


def test_playback_lays_out_track_latent_and_controls():
    view = PlaybackView(names=(tuple(f"z{i}" for i in range(16)), ("steer", "gas", "brake")))
    z = np.linspace(-1, 1, 16)
    for t in range(5):
        f = CarFrame(t, 0.1, 0.1 * t, False, z * t, np.array([0.5, 0.0, -1.0]), image=_frame(), latent=z * t,
                     controls=np.array([0.5, 0.5, 0.0]))
        view.push(f)
    body = view._racing(f, 80, 12)
    assert len(body) == 12 and body[-1].startswith("steer +0.50  gas 0.50  brake 0.00")
    assert "z0" in body[0]
