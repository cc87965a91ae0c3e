"""Rollouts and images as text: the canvas, the cart-pole, the walker, sparklines, digits (no Textual)."""

from __future__ import annotations

import math
import sys

import numpy as np

from wanntui import scene_text as st


def test_ascii_canvas_picks_a_character_per_slope():
    cv = st.Canvas(9, 5, ascii=True)
    cv.line(0, 0, 8, 0)
    cv.line(0, 4, 0, 1)
    cv.line(2, 4, 5, 1)
    assert cv.lines() == ["---------", "|    /   ", "|   /    ", "|  /     ", "| /      "]


def test_braille_canvas_sets_dots():
    cv = st.Canvas(2, 1)
    cv.dot(0, 0)
    cv.dot(3, 3)
    assert cv.lines() == [chr(0x2800 + 0x01) + chr(0x2800 + 0x80)]
    cv.dot(-1, 0)  # outside: ignored
    cv.text(1, 0, "x")
    assert cv.lines() == [chr(0x2801) + "x"]


def test_cartpole_upright_and_hanging():
    up = st.cartpole(0.0, 0.0, 2.4, 41, 20, ascii=True)
    down = st.cartpole(0.0, math.pi, 2.4, 41, 20, ascii=True)
    assert len(up) == 20 and all(len(line) == 41 for line in up)
    track = [i for i, line in enumerate(up) if line.count("-") > 30]
    assert len(track) == 1
    t = track[0]
    tip_up = next(i for i, line in enumerate(up) if "O" in line)
    tip_down = next(i for i, line in enumerate(down) if "O" in line)
    assert tip_up < t < tip_down  # the pole points up, then hangs below the track
    assert "[" in up[t] and up[t].count("|") == 2  # the cart and the two limits
    right = st.cartpole(2.0, 0.0, 2.4, 41, 20, ascii=True)
    assert right[t].index("[") > up[t].index("[")


def test_walker_draws_polygons_and_ground():
    square = np.array([[5.0, 5.0], [5.5, 5.0], [5.5, 5.5], [5.0, 5.5]])
    terrain = np.column_stack([np.linspace(0, 20, 50), np.full(50, 4.0)])
    lines = st.walker([square], terrain, 5.2, 30, 12, ascii=True)
    assert len(lines) == 12 and sum(line.count("-") for line in lines) > 30
    assert any("|" in line for line in lines)


def test_sparkline_and_digit():
    assert st.sparkline([0, 1, 2, 3], 4) == "▁▃▆█"
    assert st.sparkline([0, 1, float("nan"), 1], 4, ascii=True) == "_@ @"
    assert st.sparkline(range(100), 10) == st.sparkline(range(90, 100), 10)
    img = np.zeros((8, 8))
    img[2, 3] = 1.0
    d = st.digit(img, ascii=True)
    assert len(d) == 8 and d[2] == "      ##        "
    assert len(st.digit(np.ones((16, 16)))) == 8


def test_scene_text_imports_no_textual():
    assert "wanntui.scene_text" in sys.modules
    import subprocess

    p = subprocess.run([sys.executable, "-c", "import sys, wanntui.scene_text; print('textual' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert p.stdout.strip() == "False"
