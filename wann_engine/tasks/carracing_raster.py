"""The ``carracing`` observation: the encoder's 64x64 frame drawn straight from CarRacing-v3's state.

gymnasium's CarRacing draws every step's state pixels with pygame: the whole 1000x800 window (field,
400 grass squares, every road polygon in view, the car, the dashboard) is filled, then smoothscaled to
96x96, of which the encoder keeps the 64x64 nearest samples of the top 84 rows. That drawing is ~99 %
of a step's cost. :func:`frame` computes those 64x64 pixels directly: each output pixel is the mean of
``SUB x SUB`` point samples over exactly the window rectangle that smoothscale averages into the 96x96
pixel the encoder samples, each sample coloured by the topmost polygon covering it (even-odd scanline
fill in a numba kernel, over only the polygons near the car), less the 2 levels smoothscale's
fixed-point passes lose (a flat area of value v comes out of pygame as max(v - 2, 0)).

The picture is gymnasium's: the same camera (the car at the window's centre column, a quarter up from
the bottom, rotated with the hull; the start's zoom animation ``0.1 * SCALE * max(1 - t, 0) + ZOOM *
SCALE * min(t, 1)``), the same colours (background, grass squares, road tiles with their 3-step shading
and the flat road colour of tiles the car has touched, red/white kerbs, the red hull, black wheels with
their turning grey stripe). Not drawn: the dashboard below row 84 (the encoder never sees it; the
96x96 playback picture leaves it black), the anti-aliased outlines pygame adds to each polygon, and
skid marks (gymnasium leaves them out of state pixels too).

:class:`RasterCarRacing` is gymnasium's ``CarRacing`` with only its state-pixel render replaced by
:func:`frame`: ``step``, the Box2D physics, the tile-visit contact listener and the rewards are
gymnasium's own code, so returns are bit-identical to CarRacing-v3's for the same actions. It is
registered as :data:`ENV_ID`.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from gymnasium.envs.box2d import car_dynamics as cd
from gymnasium.envs.box2d import car_racing as cr

from .carracing_encoder import COLS, CROP, ROWS, SIZE

ENV_ID = "wann/CarRacingRaster-v3"
SUB = 4  # point samples per 96x96 pixel along each axis
_W, _H = cr.WINDOW_W, cr.WINDOW_H  # the window gymnasium draws in before scaling to 96x96
_CX, _CY = _W / 2, _H - _H / 4  # the car's place in the (flipped) window
_PX_W, _PX_H = _W / cr.STATE_W, _H / cr.STATE_H  # one 96x96 pixel in window pixels
_HULL_COLOR = np.array([int(c * 255) for c in (0.8, 0.0, 0.0)], np.float64)  # car_dynamics' hull colour
_HULL_POLYS = [np.array(p, np.float64) * cd.SIZE for p in (cd.HULL_POLY1, cd.HULL_POLY2, cd.HULL_POLY3,
                                                           cd.HULL_POLY4)]
_MAXV = 8  # the most vertices of any polygon drawn (HULL_POLY3)
_VIEW = math.hypot(_CX, _CY)  # farthest window corner from the car, in window pixels


def _samples(cells: np.ndarray, px: float, sub: int) -> np.ndarray:
    """Window coordinates of ``sub`` evenly spaced samples in each of the 96x96 pixels ``cells``."""
    return ((cells[:, None] + (np.arange(sub) + 0.5) / sub) * px).ravel()


@dataclass
class _Grid:
    xs: np.ndarray  # sample columns (window x), ascending
    ys: np.ndarray  # sample rows (window y, flipped: 0 at the top), ascending


_GRIDS: dict[tuple[bool, int], _Grid] = {}


def _grid(full: bool, sub: int) -> _Grid:
    g = _GRIDS.get((full, sub))
    if g is None:
        rows = np.arange(CROP) if full else ROWS
        cols = np.arange(cr.STATE_W) if full else COLS
        g = _Grid(_samples(cols, _PX_W, sub), _samples(rows, _PX_H, sub))
        _GRIDS[(full, sub)] = g
    return g


@dataclass
class _Track:
    """An episode's road polygons in world coordinates (built once per track)."""

    source: list  # env.road_poly, whose tile colours change as the car touches them
    verts: np.ndarray  # (N, 8, 2), first 4 vertices used
    centre: np.ndarray  # (N, 2)
    radius: np.ndarray  # (N,) farthest vertex from the centre


_TRACKS: weakref.WeakKeyDictionary[Any, _Track] = weakref.WeakKeyDictionary()


def _track(u: Any) -> _Track:
    tr = _TRACKS.get(u)
    if tr is None or tr.source is not u.road_poly:
        n = len(u.road_poly)
        verts = np.zeros((n, _MAXV, 2))
        if n:
            verts[:, :4] = np.array([p for p, _ in u.road_poly], np.float64).reshape(n, 4, 2)
        centre = verts[:, :4].mean(axis=1)
        radius = np.sqrt(((verts[:, :4] - centre[:, None]) ** 2).sum(axis=2)).max(axis=1) if n else np.zeros(0)
        tr = _Track(u.road_poly, verts, centre, radius)
        _TRACKS[u] = tr
    return tr


def zoom(t: float) -> float:
    """gymnasium's camera zoom (window pixels per metre) at time ``t``: its first-second zoom animation."""
    return 0.1 * cr.SCALE * max(1 - t, 0) + cr.ZOOM * cr.SCALE * min(t, 1)


def frame(env: Any, full: bool = False, sub: int = SUB) -> np.ndarray:
    """The frame of ``env``'s current state (any CarRacing env, wrapped or not): (64, 64, 3) uint8, the
    encoder's input; with ``full``, the (96, 96, 3) state frame whose rows 84.. (the dashboard) are black
    (:func:`carracing_encoder.preprocess` of it is exactly the 64x64 frame)."""
    u = env.unwrapped
    g = _grid(full, sub)
    out = np.zeros((cr.STATE_H, cr.STATE_W, 3) if full else (SIZE, SIZE, 3), np.uint8)
    car = u.car
    if car is None or "t" not in u.__dict__:
        return out
    z = zoom(u.t)
    hull = car.hull
    hp = hull.position
    ox, oy, ang = float(hp[0]), float(hp[1]), float(hull.angle)
    bodies = np.empty((5, 4))  # x, y, angle, wheel phase: the four wheels, then the hull
    for k, w in enumerate(car.wheels):
        wp = w.position
        bodies[k] = wp[0], wp[1], w.angle, w.phase
    bodies[4] = ox, oy, ang, 0.0
    reach = _VIEW / z  # metres from the car to the farthest window corner
    tr = _track(u)
    near = np.flatnonzero(((tr.centre[:, 0] - ox) ** 2 + (tr.centre[:, 1] - oy) ** 2) < (reach + tr.radius) ** 2)
    rp = u.road_poly
    road_cols = _int_colours([rp[i][1] for i in near])  # read each frame: a tile the car touches changes colour
    palette = _int_colours([u.bg_color, u.grass_color])
    _draw(tr.verts[near], road_cols, bodies, palette, reach, z, g.xs, g.ys, sub, out)
    return out


def _int_colours(colours: list) -> np.ndarray:
    """Colours as gymnasium draws them: ``int(c)`` of each channel, (K, 3) uint8."""
    return np.array(colours, np.float64).reshape(-1, 3).astype(np.int64).astype(np.uint8)


def reference(env: Any) -> np.ndarray:
    """gymnasium's own 64x64 frame of ``env``'s state: its pygame state pixels (about 7 ms), cropped and
    resampled as the encoder does. :func:`frame` reproduces it; this is for comparisons."""
    from .carracing_encoder import preprocess

    return preprocess(cr.CarRacing._render(env.unwrapped, "state_pixels"))[0]


# --- the compiled part ---------------------------------------------------------------------------------
_FIELD = cr.PLAYFIELD
_GRASS = cr.GRASS_DIM
_WW, _WR = cd.WHEEL_W * cd.SIZE, cd.WHEEL_R * cd.SIZE
_HULL = np.zeros((4, _MAXV, 2))
_HULL_N = np.array([len(p) for p in _HULL_POLYS], np.int64)
for _k, _p in enumerate(_HULL_POLYS):
    _HULL[_k, : len(_p)] = _p
_COLOURS = np.array([cd.WHEEL_COLOR, cd.WHEEL_WHITE, _HULL_COLOR], np.uint8)  # wheel, stripe, hull


@numba.njit(cache=True)
def _searchsorted(a: np.ndarray, v: float) -> int:
    """The first index ``i`` with ``a[i] >= v``."""
    lo, hi = 0, a.size
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def _paint(wx, wy, n, label, ox, oy, c, s, zoom, xs, ys, idx, cross):  # pragma: no cover - compiled
    """Set ``idx`` to ``label`` at the samples inside the polygon ``wx, wy`` (world, ``n`` vertices; even-odd
    rule): the camera maps world (x, y) to window (500 + zoom * (c dx - s dy), 600 - zoom * (s dx + c dy))."""
    ny, nx = ys.size, xs.size
    px = np.empty(n)
    py = np.empty(n)
    ymin, ymax, xmin, xmax = 1e300, -1e300, 1e300, -1e300
    for k in range(n):
        dx = wx[k] - ox
        dy = wy[k] - oy
        x = _CX + zoom * (c * dx - s * dy)
        y = _CY - zoom * (s * dx + c * dy)
        px[k], py[k] = x, y
        ymin, ymax = min(ymin, y), max(ymax, y)
        xmin, xmax = min(xmin, x), max(xmax, x)
    if ymax < ys[0] or ymin > ys[ny - 1] or xmax < xs[0] or xmin > xs[nx - 1]:
        return
    for r in range(_searchsorted(ys, ymin), _searchsorted(ys, ymax)):
        y = ys[r]
        m = 0
        for k in range(n):
            k2 = k + 1 if k + 1 < n else 0
            y0, y1 = py[k], py[k2]
            if (y0 <= y < y1) or (y1 <= y < y0):
                cross[m] = px[k] + (y - y0) * (px[k2] - px[k]) / (y1 - y0)
                m += 1
        for q in range(1, m):  # insertion sort of the crossings
            v = cross[q]
            i = q - 1
            while i >= 0 and cross[i] > v:
                cross[i + 1] = cross[i]
                i -= 1
            cross[i + 1] = v
        for q in range(0, m - 1, 2):
            for j in range(_searchsorted(xs, cross[q]), _searchsorted(xs, cross[q + 1])):
                idx[r, j] = label


@numba.njit(cache=True)
def _draw(road, road_cols, bodies, palette, reach, zoom, xs, ys, sub, out):  # pragma: no cover - compiled
    """gymnasium's drawing order on the sample grid ``xs`` x ``ys`` (window coordinates): the field (black
    outside), the grass squares, the road polygons ``road`` (world), each wheel and its stripe, the hull;
    then each ``sub`` x ``sub`` block averaged into ``out``."""
    ox, oy, ang = bodies[4, 0], bodies[4, 1], bodies[4, 2]
    c, s = np.cos(-ang), np.sin(-ang)
    ny, nx = ys.size, xs.size
    n_road = road.shape[0]
    # labels: 0 black, 1 field, 2 grass, 3.. road polygons, then wheel, stripe, hull
    colours = np.zeros((3 + n_road + 3, 3), np.uint8)
    colours[1], colours[2] = palette[0], palette[1]
    colours[3 : 3 + n_road] = road_cols
    colours[3 + n_road :] = _COLOURS
    idx = np.zeros((ny, nx), np.uint16)
    cross = np.empty(_MAXV)
    wx = np.empty(_MAXV)
    wy = np.empty(_MAXV)
    if max(abs(ox), abs(oy)) + reach < _FIELD:
        idx[:, :] = 1
    else:
        wx[0], wy[0], wx[1], wy[1] = _FIELD, _FIELD, _FIELD, -_FIELD
        wx[2], wy[2], wx[3], wy[3] = -_FIELD, -_FIELD, -_FIELD, _FIELD
        _paint(wx, wy, 4, 1, ox, oy, c, s, zoom, xs, ys, idx, cross)
    gx0 = max(-20, int(np.floor((ox - reach) / _GRASS)))
    gx1 = min(19, int(np.floor((ox + reach) / _GRASS)))
    gy0 = max(-20, int(np.floor((oy - reach) / _GRASS)))
    gy1 = min(19, int(np.floor((oy + reach) / _GRASS)))
    for ix in range(gx0 + (gx0 & 1), gx1 + 1, 2):
        for iy in range(gy0 + (gy0 & 1), gy1 + 1, 2):
            x0, y0 = ix * _GRASS, iy * _GRASS
            wx[0], wy[0], wx[1], wy[1] = x0 + _GRASS, y0, x0, y0
            wx[2], wy[2], wx[3], wy[3] = x0, y0 + _GRASS, x0 + _GRASS, y0 + _GRASS
            _paint(wx, wy, 4, 2, ox, oy, c, s, zoom, xs, ys, idx, cross)
    for p in range(n_road):
        _paint(road[p, :, 0], road[p, :, 1], 4, 3 + p, ox, oy, c, s, zoom, xs, ys, idx, cross)
    car = 3 + n_road
    for b in range(5):
        bx, by, ba = bodies[b, 0], bodies[b, 1], bodies[b, 2]
        bc, bs = np.cos(ba), np.sin(ba)
        for part in range(2 if b < 4 else 4):
            if b == 4:
                n, label = _HULL_N[part], car + 2
                for k in range(n):
                    wx[k], wy[k] = _HULL[part, k, 0], _HULL[part, k, 1]
            elif part == 0:  # the wheel
                n, label = 4, car
                wx[0], wy[0], wx[1], wy[1] = -_WW, _WR, _WW, _WR
                wx[2], wy[2], wx[3], wy[3] = _WW, -_WR, -_WW, -_WR
            else:  # its stripe, as car_dynamics draws it
                s1, s2 = np.sin(bodies[b, 3]), np.sin(bodies[b, 3] + 1.2)
                c1, c2 = np.cos(bodies[b, 3]), np.cos(bodies[b, 3] + 1.2)
                if s1 > 0 and s2 > 0:
                    continue
                if s1 > 0:
                    c1 = np.sign(c1)
                if s2 > 0:
                    c2 = np.sign(c2)
                n, label = 4, car + 1
                wx[0], wy[0], wx[1], wy[1] = -_WW, _WR * c1, _WW, _WR * c1
                wx[2], wy[2], wx[3], wy[3] = _WW, _WR * c2, -_WW, _WR * c2
            for k in range(n):
                lx, ly = wx[k], wy[k]
                wx[k], wy[k] = bx + bc * lx - bs * ly, by + bs * lx + bc * ly
            _paint(wx, wy, n, label, ox, oy, c, s, zoom, xs, ys, idx, cross)
    area = sub * sub
    for i in range(ny // sub):
        for j in range(nx // sub):
            acc0, acc1, acc2 = 0, 0, 0
            for a in range(sub):
                for b in range(sub):
                    col = colours[idx[i * sub + a, j * sub + b]]
                    acc0 += col[0]
                    acc1 += col[1]
                    acc2 += col[2]
            # smoothscale's fixed-point passes (x, then y) each truncate: a flat area of value v comes out
            # as max(v - 2, 0)
            out[i, j, 0] = max((2 * acc0 + area) // (2 * area) - 2, 0)
            out[i, j, 1] = max((2 * acc1 + area) // (2 * area) - 2, 0)
            out[i, j, 2] = max((2 * acc2 + area) // (2 * area) - 2, 0)


class RasterCarRacing(cr.CarRacing):
    """gymnasium's CarRacing whose state pixels (the observation) are :func:`frame`'s 64x64 picture;
    everything else, ``step`` and its rewards included, is gymnasium's code."""

    def __init__(self, **kwargs: Any) -> None:
        from gymnasium import spaces

        super().__init__(**kwargs)
        self.observation_space = spaces.Box(low=0, high=255, shape=(SIZE, SIZE, 3), dtype=np.uint8)

    def _render(self, mode: str) -> Any:
        if mode == "state_pixels":
            return frame(self)
        return super()._render(mode)


def register() -> None:
    """Register :data:`ENV_ID` with gymnasium (once)."""
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        spec = gym.spec("CarRacing-v3")
        gym.register(ENV_ID, entry_point=RasterCarRacing, max_episode_steps=spec.max_episode_steps,
                     reward_threshold=spec.reward_threshold)


register()
