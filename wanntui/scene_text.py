"""Rollouts and images as plain text (no Textual): a line canvas, the cart-pole, the walker, digits, sparklines.

The canvas draws with braille dots (2 x 4 dots per character) or, in ASCII mode, with one
``- | / \\ *`` character per cell chosen by the line's slope. Drawings are lists of strings of
exactly the requested size, so tests can compare them and widgets can show them as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_BRAILLE_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] of a 2x4 cell
SPARK = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-~=*#@"
SHADES = " ░▒▓█"
SHADES_ASCII = " .:*#"


class Canvas:
    """``cols`` x ``rows`` characters; drawing coordinates are dots, (0, 0) top left."""

    def __init__(self, cols: int, rows: int, ascii: bool = False) -> None:
        self.cols, self.rows, self.ascii = max(1, cols), max(1, rows), ascii
        self.sx, self.sy = (1, 1) if ascii else (2, 4)
        self.dots = np.zeros((self.rows, self.cols), dtype=np.int32)
        self.chars: dict[tuple[int, int], str] = {}

    @property
    def width(self) -> int:
        """Width in dots."""
        return self.cols * self.sx

    @property
    def height(self) -> int:
        return self.rows * self.sy

    def dot(self, x: float, y: float, ch: str = "*") -> None:
        ix, iy = int(math.floor(x)), int(math.floor(y))
        if not (0 <= ix < self.width and 0 <= iy < self.height):
            return
        if self.ascii:
            self.chars[(iy, ix)] = ch
        else:
            self.dots[iy // 4, ix // 2] |= _BRAILLE_BITS[iy % 4][ix % 2]

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        dx, dy = x1 - x0, y1 - y0
        n = int(max(abs(dx), abs(dy))) + 1
        ch = "*"
        if self.ascii:
            if abs(dx) >= 2 * abs(dy):
                ch = "-"
            elif abs(dy) >= 2 * abs(dx):
                ch = "|"
            else:
                ch = "\\" if (dx > 0) == (dy > 0) else "/"
        for i in range(n + 1):
            t = i / n
            self.dot(round(x0 + dx * t), round(y0 + dy * t), ch)

    def polyline(self, pts: Sequence[tuple[float, float]], closed: bool = False) -> None:
        pts = list(pts)
        if len(pts) == 1:
            self.dot(*pts[0])
        for a, b in zip(pts, pts[1:] + (pts[:1] if closed and len(pts) > 2 else []), strict=False):
            self.line(a[0], a[1], b[0], b[1])

    def text(self, col: int, row: int, s: str) -> None:
        """Characters over the drawing (cells outside the canvas are dropped)."""
        for i, ch in enumerate(s):
            if 0 <= row < self.rows and 0 <= col + i < self.cols:
                self.chars[(row * self.sy, (col + i) * self.sx)] = ch

    def lines(self) -> list[str]:
        out = []
        for r in range(self.rows):
            if self.ascii:
                row = [" "] * self.cols
            else:
                row = [chr(0x2800 + int(v)) if v else " " for v in self.dots[r]]
            out.append(row)
        for (y, x), ch in self.chars.items():
            r, c = y // self.sy, x // self.sx
            out[r][c] = ch
        return ["".join(r) for r in out]


# --- scenes -------------------------------------------------------------------------------------------------
def cartpole(x: float, theta: float, x_limit: float, cols: int, rows: int, ascii: bool = False) -> list[str]:
    """Track (with its limits), cart and pole. ``theta`` = 0 is upright; the track sits a little below
    the middle so a hanging pole fits under it, and the pole is drawn 40 % of the height long."""
    cv = Canvas(cols, rows, ascii)
    w, h = cv.width, cv.height
    aspect = 2.0 if ascii else 1.0  # dots per cell: an ASCII cell is about twice as high as wide
    scale = (w - 2) / (2 * x_limit * 1.08)  # dots per metre along the track
    track_y = int(h * 0.55)
    pole = 0.4 * h

    def px(v: float) -> float:
        return w / 2 + v * scale

    cv.line(px(-x_limit), track_y, px(x_limit), track_y)
    for lim in (-x_limit, x_limit):
        cv.line(px(lim), track_y - 2 * (1 if ascii else 2), px(lim), track_y + (1 if ascii else 2))
    cx = px(x)
    cw = max(3.0, 0.4 * scale)
    if ascii:
        cv.line(cx, track_y - 1, cx + pole * aspect * math.sin(theta), track_y - 1 - pole * math.cos(theta))
        cv.text(int(cx - cw / 2), track_y, "[" + "=" * max(1, int(cw) - 2) + "]")
        tip_row = int(track_y - 1 - pole * math.cos(theta))
        tip_col = int(cx + pole * aspect * math.sin(theta))
        cv.text(tip_col, tip_row, "O")
    else:
        top = track_y - 3
        cv.polyline([(cx - cw / 2, top), (cx + cw / 2, top), (cx + cw / 2, track_y - 1),
                     (cx - cw / 2, track_y - 1)], closed=True)
        tip = (cx + pole * math.sin(theta), top - pole * math.cos(theta))
        cv.line(cx, top, tip[0], tip[1])
        cv.polyline([(tip[0] - 1, tip[1] - 1), (tip[0] + 1, tip[1] - 1), (tip[0] + 1, tip[1] + 1),
                     (tip[0] - 1, tip[1] + 1)], closed=True)
    return cv.lines()


def walker(polygons: Sequence[np.ndarray], terrain: np.ndarray, hull_x: float, cols: int, rows: int,
           ascii: bool = False, view: float = 7.0) -> list[str]:
    """Hull, legs and ground as line segments; the view (``view`` m wide) follows the hull."""
    cv = Canvas(cols, rows, ascii)
    w, h = cv.width, cv.height
    aspect = 2.0 if ascii else 1.0
    scale = w / view
    x0 = hull_x - view / 3
    ground = float(np.median(terrain[:, 1])) if len(terrain) else 0.0
    y_base = h - 0.2 * h  # the typical ground level sits 20 % above the bottom

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * scale, y_base - (y - ground) * scale / aspect

    if len(terrain):
        vis = (terrain[:, 0] >= x0 - 1) & (terrain[:, 0] <= x0 + view + 1)
        cv.polyline([pt(x, y) for x, y in terrain[vis]])
    for poly in polygons:
        cv.polyline([pt(x, y) for x, y in poly], closed=True)
    return cv.lines()


def sparkline(values: Sequence[float], width: int, ascii: bool = False, lo: float | None = None,
              hi: float | None = None) -> str:
    """The last ``width`` values as bar characters (blank for non-finite values)."""
    v = np.asarray(values, dtype=np.float64)[-max(1, width):]
    bars = SPARK_ASCII if ascii else SPARK
    ok = np.isfinite(v)
    if not ok.any():
        return " " * len(v)
    lo = float(v[ok].min()) if lo is None else lo
    hi = float(v[ok].max()) if hi is None else hi
    span = hi - lo if hi > lo else 1.0
    idx = np.clip(((v - lo) / span * (len(bars) - 1)).round(), 0, len(bars) - 1)
    return "".join(bars[int(i)] if o else " " for i, o in zip(idx, ok, strict=True))


def digit(image: np.ndarray, ascii: bool = False) -> list[str]:
    """A grey image in [0, 1] as shades: 8x8 -> 16 x 8 characters (2 per pixel), 16x16 -> 16 x 8 (2 rows per line)."""
    img = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    shades = SHADES_ASCII if ascii else SHADES
    if img.shape[0] >= 16:
        img = img[: img.shape[0] // 2 * 2].reshape(-1, 2, img.shape[1]).mean(1)
        reps = 1
    else:
        reps = 2
    idx = np.clip((img * (len(shades) - 1)).round().astype(int), 0, len(shades) - 1)
    return ["".join(shades[i] * reps for i in row) for row in idx]


def racetrack(image: np.ndarray, cols: int, rows: int, ascii: bool = False) -> list[str]:
    """A CarRacing frame (96x96 RGB; the dashboard strip below row 84 is left out): road pixels as dots
    (braille) or ``#`` (ASCII), grass blank, the car marked ``A``."""
    cv = Canvas(cols, rows, ascii)
    img = np.asarray(image)[:84].astype(np.int16)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    road = (np.abs(r - g) < 24) & (np.abs(g - b) < 24) & (r > 60) & (r < 170)
    car = (r > 150) & (g < 80) & (b < 80)
    h, w = road.shape
    ys = (np.arange(cv.height) * h // cv.height).clip(0, h - 1)
    xs = (np.arange(cv.width) * w // cv.width).clip(0, w - 1)
    mask = road[np.ix_(ys, xs)]
    for y, x in zip(*np.nonzero(mask), strict=True):
        cv.dot(x, y, "#")
    cy, cx = np.nonzero(car[60:80, 36:60])  # the car sits at the bottom centre of the frame
    if len(cy):
        cv.text(int((cx.mean() + 36) * cols / w), int((cy.mean() + 60) * rows / h), "A")
    return cv.lines()
