"""The weight explorer: a shared-weight slider, the score and performance profile, rollout playback,
per-connection offsets, saving the tuned network.

Scores and profiles are computed by :mod:`wann_engine.explore` in thread workers, one at a time per
kind: a request made while one runs is remembered, and a result whose setting is no longer current is
discarded (the newest setting is then computed). Playback steps the rollout on a timer in real time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from wann_engine import explore
from wann_engine.explore import COARSE, FINE, W_MAX, W_MIN, Explorer, Profile, Score
from wann_engine.tasks import Frame
from wann_engine.tasks.classify import ClassView

from ..widgets.connections import ConnectionList
from ..widgets.digits_view import ClassifyView
from ..widgets.playback import PlaybackView
from ..widgets.profile import ProfilePlot

NUDGE = 0.1  # offset step of a connection
FPS = 25  # playback redraws per second
PROFILE_DELAY = 0.3  # s after the last change before the profile is recomputed
SLIDER = 25  # characters of the slider bar


def slider(w: float, width: int = SLIDER, ascii: bool = False) -> str:
    """``-3 [----|------] +3`` with the knob at ``w``."""
    pos = int(round((w - W_MIN) / (W_MAX - W_MIN) * (width - 1)))
    line, knob = ("-", "|") if ascii else ("─", "●")
    bar = "".join(knob if i == pos else line for i in range(width))
    return f"{W_MIN:+.0f} [{bar}] {W_MAX:+.0f}"


class ExplorerScreen(Screen):
    DEFAULT_CSS = """
    ExplorerScreen #explore-top {
        height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ExplorerScreen #explore-body { height: 1fr; }
    ExplorerScreen #explore-left { width: 1fr; height: 1fr; }
    ExplorerScreen #explore-view { width: 1fr; height: 1fr; }
    """
    BINDINGS = [  # the footer shows one key of each pair (80 columns); ? lists them all
        Binding("left", f"weight_step({-FINE})", "Weight", id="explore.weight_down", key_display="←→",
                tooltip="Shared weight -0.05 (right: +0.05)"),
        Binding("right", f"weight_step({FINE})", "Weight+", show=False, id="explore.weight_up",
                tooltip="Shared weight +0.05"),
        Binding("shift+left,comma", f"weight_step({-COARSE})", "Coarse", id="explore.weight_down_coarse",
                key_display=",.", tooltip="Shared weight -0.5 (. or shift+right: +0.5)"),
        Binding("shift+right,full_stop", f"weight_step({COARSE})", "Coarse+", show=False,
                id="explore.weight_up_coarse", tooltip="Shared weight +0.5"),
        Binding("m", "best_weight", "Best w", show=False, id="explore.best",
                tooltip="Jump to the profile's best weight"),
        Binding("up", "select(-1)", "Connection", show=False, id="explore.conn_up"),
        Binding("down", "select(1)", "Connection", show=False, id="explore.conn_down"),
        Binding("plus,equals_sign", f"nudge({NUDGE})", "Nudge", id="explore.nudge_up", key_display="+-",
                tooltip="Selected connection's offset +0.1 (minus: -0.1)"),
        Binding("minus", f"nudge({-NUDGE})", "Nudge-", show=False, id="explore.nudge_down",
                tooltip="Selected connection's offset -0.1"),
        Binding("0", "reset_offset", "Reset", show=False, id="explore.reset_one"),
        Binding("x", "reset_offsets", "Reset all", show=False, id="explore.reset_all"),
        Binding("space", "play", "Play", id="explore.play", tooltip="Pause / continue the rollout"),
        Binding("n", "step", "Step", id="explore.step", tooltip="One step of the rollout (pauses)"),
        Binding("r", "next_episode", "Episode", id="explore.episode", tooltip="Restart with the next episode seed"),
        Binding("ctrl+s", "save", "Save", id="explore.save", tooltip="Save the tuned network beside the source"),
        Binding("escape,b", "back", "Back", id="explore.back"),
    ]

    def __init__(self, explorer: Explorer, ascii: bool = False, title: str = "", standalone: bool = False,
                 fps: float = FPS, start_weight: float | None = None, start_note: str = "") -> None:
        """``start_weight``: the shared weight to start at (default: the subject's own); ``start_note`` says
        where it comes from (e.g. the run's best weight and over how many episodes it was measured)."""
        super().__init__()
        self.ex = explorer
        self.ascii = ascii
        self.title_text = title or (explorer.subject.file.name if explorer.subject.file else "network")
        self.standalone = standalone
        self.fps = fps
        s = explorer.subject
        self.weight = explore.clamp_weight(s.weight if start_weight is None or not np.isfinite(start_weight)
                                           else start_weight)
        self.start_note = start_note
        self.offsets = np.array(s.offsets, dtype=np.float64)
        self.selected = 0
        self.episode = 0
        self.playing = True
        self.classify = explorer.classify
        self.score: Score | None = None
        self.score_setting: tuple[float, bytes] | None = None
        self.profile: Profile | None = None
        self.class_view: ClassView | None = None
        self.saved: Path | None = None
        self.error = ""
        self.top_lines = ("", "")
        self.ticks = 0
        self._score_req = 0
        self._score_busy = False
        self._prof_req = 0
        self._prof_busy = False
        self._prof_timer = None
        self._frames: Iterator[Frame] | None = None
        self._carry = 0.0
        task = explorer.task
        self.names = (tuple(task.input_names), tuple(task.output_names))
        self.labels = explore.edge_labels(explorer.net, *self.names)

    # --- layout --------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="explore-top")
        with Horizontal(id="explore-body"):
            with Vertical(id="explore-left"):
                yield ProfilePlot(ascii=self.ascii, id="explore-profile", classes="pane")
                yield ConnectionList(self.labels, ascii=self.ascii, id="explore-conns", classes="pane")
            if self.classify:
                yield ClassifyView(ascii=self.ascii, id="explore-view", classes="pane")
            else:
                yield PlaybackView(ascii=self.ascii, names=self.names, id="explore-view", classes="pane")
        yield Footer()

    def on_mount(self) -> None:
        # inline: the shared .pane rule (app CSS) would override this screen's DEFAULT_CSS
        self.query_one(ProfilePlot).styles.height = "3fr"
        self.query_one(ConnectionList).styles.height = "2fr"
        self.sub_title = f"explore {self.title_text}"
        self.set_interval(1.0 / self.fps, self._tick)
        self._setting_changed(profile_now=True)

    def on_unmount(self) -> None:
        self._frames = None  # a gym rollout's environment closes with its generator

    def on_resize(self) -> None:
        self.call_after_refresh(self._redraw_all)

    def _redraw_all(self) -> None:
        self._show_top()
        self.query_one(ConnectionList).show(self.selected, self.weight, self.offsets)
        view = self.query_one("#explore-view")
        view.redraw()  # type: ignore[attr-defined]

    # --- the setting -------------------------------------------------------------------------------------------
    def setting(self) -> tuple[float, bytes]:
        return self.weight, self.offsets.tobytes()

    def _setting_changed(self, offsets: bool = False, profile_now: bool = False) -> None:
        self._show_top()
        self.query_one(ConnectionList).show(self.selected, self.weight, self.offsets)
        self.query_one(ProfilePlot).set_cursor(self.weight, self._profile_at(self.weight))
        self._request_score()
        if offsets or profile_now:
            if self._prof_timer is not None:
                self._prof_timer.stop()
            self._prof_timer = self.set_timer(0.01 if profile_now else PROFILE_DELAY, self._request_profile)
        if not self.classify:
            self._restart_playback()

    def _profile_at(self, w: float) -> float | None:
        p = self.profile
        if p is None:
            return None
        i = int(np.argmin(np.abs(p.weights - w)))
        return float(p.mean[i]) if abs(p.weights[i] - w) < 1e-9 else None

    def score_text(self) -> str:
        s = self.score
        pending = self.score_setting != self.setting()
        if s is None:
            return "score: computing..."
        if s.metric == "accuracy":
            txt = f"accuracy {100 * s.mean:.2f} %"
        else:
            pm = "+-" if self.ascii else "±"
            txt = f"score {s.mean:.2f} {pm} {s.std:.2f} ({self.ex.episodes} ep, seed {self.ex.seed})"  # fits 80
        return txt + (" ..." if pending else "")

    def _show_top(self) -> None:
        n_off = int(np.count_nonzero(self.offsets))
        net = self.ex.net
        line1 = (f"{self.title_text}  " + (f"{self.start_note}  " if self.start_note else "")
                 + f"task {self.ex.task.name}  {net.n_nodes} nodes  {net.n_conns} connections"
                 + (f"  {n_off} offset" + ("s" if n_off != 1 else "") if n_off else ""))
        line2 = f"w {self.weight:+.2f}  {slider(self.weight, ascii=self.ascii)}  {self.score_text()}"
        if self.error:
            line2 += f"  error: {self.error}"
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(line1 + "\n")
        text.append(line2, style="bold")
        self.query_one("#explore-top", Static).update(text)
        self.top_lines = (line1, line2)

    # --- background scoring --------------------------------------------------------------------------------------
    def _request_score(self) -> None:
        self._score_req += 1
        if not self._score_busy:
            self._start_score()

    def _start_score(self) -> None:
        self._score_busy = True
        self._score_worker(self._score_req, self.weight, self.offsets.copy())

    @work(thread=True, group="explore-score", exit_on_error=False)
    def _score_worker(self, req: int, w: float, off: np.ndarray) -> None:
        result: object
        try:
            if self.classify:
                cv = self.ex.classification(w, off)
                result = (Score(w, cv.accuracy, 0.0, np.array([cv.accuracy]), "accuracy"), cv)
            else:
                result = (self.ex.score(w, off), None)
        except Exception as e:  # shown on screen; the explorer keeps working
            result = e
        self._deliver(self._score_done, req, (w, off.tobytes()), result)

    def _deliver(self, fn, *args) -> None:
        try:
            self.app.call_from_thread(fn, *args)
        except RuntimeError:  # the app has gone
            pass

    def _score_done(self, req: int, setting: tuple[float, bytes], result: object) -> None:
        self._score_busy = False
        if not self.is_mounted:
            return
        if req != self._score_req:  # stale: a newer setting is waiting
            self._start_score()
            return
        if isinstance(result, Exception):
            self.error = str(result)
        else:
            self.error = ""
            self.score, cv = result  # type: ignore[misc]
            self.score_setting = setting
            if cv is not None:
                self.class_view = cv
                self.query_one(ClassifyView).show(cv)
            self.query_one(ProfilePlot).set_cursor(self.weight, self.score.mean)
        self._show_top()

    def _request_profile(self) -> None:
        self._prof_timer = None
        self._prof_req += 1
        if not self._prof_busy:
            self._start_profile()

    def _start_profile(self) -> None:
        self._prof_busy = True
        self._profile_worker(self._prof_req, self.offsets.copy())

    @work(thread=True, group="explore-profile", exit_on_error=False)
    def _profile_worker(self, req: int, off: np.ndarray) -> None:
        try:
            weights = self.ex.profile_weights
            result: object = self.ex.profile(weights, off)
        except Exception as e:
            result = e
        self._deliver(self._profile_done, req, result)

    def _profile_done(self, req: int, result: object) -> None:
        self._prof_busy = False
        if not self.is_mounted:
            return
        if req != self._prof_req:
            self._start_profile()
            return
        if isinstance(result, Exception):
            self.error = str(result)
            self._show_top()
            return
        self.profile = result  # type: ignore[assignment]
        label = "test accuracy" if self.classify else f"mean of {self.ex.episodes} episodes"
        plot = self.query_one(ProfilePlot)
        plot.set_profile(self.profile.weights, self.profile.mean, label)
        fresh = self.score if self.score_setting == self.setting() else None
        plot.set_cursor(self.weight, fresh.mean if fresh else self._profile_at(self.weight))

    # --- playback ---------------------------------------------------------------------------------------------
    def _restart_playback(self) -> None:
        view = self.query_one(PlaybackView)
        view.reset(self.episode)
        try:
            self._frames = self.ex.frames(self.weight, self.offsets, self.episode)
            self._advance(1)
        except Exception as e:
            self._frames = None
            self.error = str(e)
            self._show_top()
        view.state = "playing" if self.playing else "paused"
        view.redraw()

    def _advance(self, n: int) -> bool:
        """Take ``n`` steps; False once the rollout has ended."""
        if self._frames is None:
            return False
        view = self.query_one(PlaybackView)
        for _ in range(n):
            try:
                frame = next(self._frames)
            except StopIteration:
                self._frames = None
                return False
            view.push(frame)
            if frame.done:
                self._frames = None
                return False
        return True

    def _tick(self) -> None:
        if self.classify or not self.playing or self._frames is None:
            return
        self._carry += self.ex.steps_per_second / self.fps
        n = int(self._carry)
        if n < 1:
            return
        self._carry -= n
        self._advance(n)
        self.ticks += 1
        self.query_one(PlaybackView).redraw()

    # --- actions -------------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("play", "step", "next_episode"):
            return not self.classify
        if action in ("select", "nudge", "reset_offset", "reset_offsets"):
            return self.ex.n_edges > 0
        return True

    def action_weight_step(self, step: float) -> None:
        w = explore.clamp_weight(round((self.weight + step) / FINE) * FINE)
        if w != self.weight:
            self.weight = w
            self._setting_changed()

    def action_best_weight(self) -> None:
        if self.profile is not None:
            self.weight = explore.clamp_weight(float(self.profile.weights[self.profile.best]))
            self._setting_changed()

    def action_select(self, step: int) -> None:
        if self.ex.n_edges:
            self.selected = (self.selected + step) % self.ex.n_edges
            self.query_one(ConnectionList).show(self.selected, self.weight, self.offsets)

    def action_nudge(self, step: float) -> None:
        if self.ex.n_edges:
            self.offsets[self.selected] = round(self.offsets[self.selected] + step, 10)
            self._setting_changed(offsets=True)

    def action_reset_offset(self) -> None:
        if self.ex.n_edges and self.offsets[self.selected] != 0:
            self.offsets[self.selected] = 0.0
            self._setting_changed(offsets=True)

    def action_reset_offsets(self) -> None:
        if self.offsets.any():
            self.offsets[:] = 0.0
            self._setting_changed(offsets=True)

    def action_play(self) -> None:
        if self._frames is None:  # the rollout ended: play it again from the start
            self.playing = True
            self._restart_playback()
            return
        self.playing = not self.playing
        view = self.query_one(PlaybackView)
        view.state = "playing" if self.playing else "paused"
        view.redraw()

    def action_step(self) -> None:
        self.playing = False
        view = self.query_one(PlaybackView)
        view.state = "paused"
        self._advance(1)
        view.redraw()

    def action_next_episode(self) -> None:
        self.episode += 1
        self._restart_playback()

    def action_save(self) -> None:
        score = self.score if self.score_setting == self.setting() else None
        try:
            self.saved = self.ex.save(self.weight, self.offsets, score=score)
        except (OSError, ValueError) as e:
            self.notify(str(e), title="cannot save", severity="error")
            return
        self.notify(f"saved {self.saved}", title="tuned network", timeout=6)

    def action_back(self) -> None:
        if self.standalone:
            self.app.exit(0)
        else:
            self.app.pop_screen()

    def commands(self) -> list[tuple[str, str, str]]:
        out = [("explore: best weight", "Jump to the profile's best shared weight", "best_weight"),
               ("explore: save tuned network", "Write the weight and offsets beside the source file", "save"),
               ("explore: reset offsets", "Every connection back to the shared weight", "reset_offsets"),
               ("explore: back", "Close the explorer", "back")]
        if not self.classify:
            out[1:1] = [("explore: play/pause", "Pause or continue the rollout", "play"),
                        ("explore: next episode", "Restart the rollout with the next episode seed", "next_episode")]
        return out

