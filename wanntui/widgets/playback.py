"""Rollout playback: the cart-pole or the walker drawn in text, or any gym task's observation/action traces."""

from __future__ import annotations

from collections import deque

import numpy as np
from rich.text import Text
from textual.widgets import Static

from wann_engine.tasks import Frame
from wann_engine.tasks.carracing import CarFrame
from wann_engine.tasks.gym_task import WalkerFrame
from wann_engine.tasks.swingup_task import CartFrame

from .. import scene_text

TRACE = 240  # steps of history kept for the sparklines


class PlaybackView(Static):
    DEFAULT_CSS = """
    PlaybackView { text-wrap: nowrap; text-overflow: clip; }
    """
    """``show(frame)`` draws one step; ``state`` (playing/paused/finished) and ``episode`` label the header."""

    BORDER_TITLE = "Rollout"
    HELP = "The rollout at the current weight and offsets, in real time. space pauses, n steps, r restarts " \
           "with the next episode seed."

    def __init__(self, ascii: bool = False, names: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()), **kw) -> None:
        super().__init__("", **kw)
        self.ascii = ascii
        self.in_names, self.out_names = names
        self.frame: Frame | None = None
        self.episode = 0
        self.state = "playing"
        self.obs_hist: deque[np.ndarray] = deque(maxlen=TRACE)
        self.act_hist: deque[np.ndarray] = deque(maxlen=TRACE)
        self.rew_hist: deque[float] = deque(maxlen=TRACE)
        self.lines: list[str] = []

    def reset(self, episode: int) -> None:
        self.episode = episode
        self.frame = None
        self.obs_hist.clear()
        self.act_hist.clear()
        self.rew_hist.clear()

    def push(self, frame: Frame) -> None:
        """Record a step for the traces (every step, even those not drawn)."""
        self.obs_hist.append(frame.obs)
        self.act_hist.append(frame.action)
        self.rew_hist.append(frame.reward)
        self.frame = frame

    def header(self) -> str:
        f = self.frame
        if f is None:
            return f"episode {self.episode}  starting"
        return (f"ep {self.episode}  step {f.step}  r {f.reward:+.3f}  total {f.total:.2f}  "
                f"{'done' if f.done else self.state}")

    def redraw(self) -> None:
        f = self.frame
        w = max(10, self.content_size.width or 40)
        h = max(4, self.content_size.height or 12)
        body: list[str]
        if f is None:
            body = []
        elif isinstance(f, CartFrame):
            spark = scene_text.sparkline([a[0] for a in self.act_hist], w - 7, self.ascii, -1.0, 1.0)
            body = scene_text.cartpole(f.x, f.theta, f.x_limit, w, h - 3, self.ascii)
            body.append(f"x {f.x:+.2f}  theta {np.degrees(f.theta) % 360:6.1f} deg  force {f.action[0]:+.2f}")
            body.append("force " + spark)
        elif isinstance(f, WalkerFrame):
            body = scene_text.walker(f.polygons, f.terrain, f.hull_x, w, h - 2, self.ascii)
            body.append(f"hull x {f.hull_x:.2f}  outputs " + " ".join(f"{a:+.2f}" for a in f.action))
        elif isinstance(f, CarFrame):
            body = self._racing(f, w, h - 1)
        else:
            body = self._traces(w, h - 1)
        self.lines = [self.header(), *body]
        self.update(Text("\n".join(line[:w] for line in self.lines), no_wrap=True, overflow="crop", end=""))

    def _traces(self, w: int, h: int) -> list[str]:
        """One sparkline per observation and action dimension (the newest step on the right)."""
        out: list[str] = []
        rows = []
        if self.obs_hist:
            obs = np.array(self.obs_hist)
            rows += [(self._label(self.in_names, i, "obs"), obs[:, i]) for i in range(obs.shape[1])]
        if self.act_hist:
            act = np.array(self.act_hist)
            rows += [(self._label(self.out_names, i, "out"), act[:, i]) for i in range(act.shape[1])]
        rows.append(("reward", np.array(self.rew_hist)))
        label = min(14, max((len(n) for n, _ in rows), default=6))
        for name, v in rows[:h]:
            out.append(f"{name[:label]:<{label}} {v[-1]:+8.3f} " + scene_text.sparkline(v, w - label - 10,
                                                                                         self.ascii))
        if len(rows) > h:
            out[-1] = f"... {len(rows) - h + 1} more (maximize the pane)"
        return out

    def _racing(self, f: CarFrame, w: int, h: int) -> list[str]:
        """The track and car on the left; the latent inputs, outputs and reward as sparklines on the right;
        the applied steer, gas and brake below."""
        pic_w = max(10, min(w // 2, 2 * h + 8, w - 16))
        pic = scene_text.racetrack(f.image, pic_w, h - 1, self.ascii)
        tw = w - pic_w - 1
        z = np.array(self.obs_hist)
        rows = [(self._label(self.in_names, i, "z"), z[:, i]) for i in range(z.shape[1])]
        rows.append(("rew", np.array(self.rew_hist)))
        traces = [f"{n[:4]:<4}{v[-1]:+6.2f} " + scene_text.sparkline(v, tw - 11, self.ascii) for n, v in rows]
        if len(traces) > h - 1:
            traces = traces[: h - 2] + [f"... {len(traces) - h + 2} more"]
        body = [f"{pic[i] if i < len(pic) else ' ' * pic_w} {traces[i] if i < len(traces) else ''}"
                for i in range(h - 1)]
        s, g, b = f.controls
        body.append(f"steer {s:+.2f}  gas {g:.2f}  brake {b:.2f}")
        return body

    @staticmethod
    def _label(names: tuple[str, ...], i: int, prefix: str) -> str:
        return names[i] if i < len(names) else f"{prefix}{i}"
