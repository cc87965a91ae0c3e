"""``carracing``: gymnasium's CarRacing-v3 from pixels through a 16-dimensional learned encoder.

The paper's third task (the original ``vae_racing``): each step's 64x64 frame, drawn from the env's state
by :mod:`carracing_raster` (gymnasium's picture without its pygame cost; physics and rewards are
gymnasium's), goes through the ConvVAE encoder of :mod:`carracing_encoder` (plain numpy, weights packaged
in ``wann_engine/data/carracing``), whose 16 latent means z0..z15 are the network's inputs; the three
outputs are steering (clipped to [-1, 1]), gas ((a + 1) / 2, clipped to [0, 1]) and brake (clipped to
[0, 1]). Episodes last at most 1000 steps.

Scoring is :class:`GymTask`'s: one pool of environments stepped together, a fresh environment per
episode (Box2D keeps state across resets). The frames of all live episodes of a step are encoded in one
batch: :meth:`CarRacingTask.encode` only records the frame and :meth:`CarRacingTask.flush` encodes the
batch before the network reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import Frame, TaskError
from . import carracing_encoder as ce
from . import carracing_raster as raster
from .gym_task import GymTask

ENV_ID = raster.ENV_ID  # CarRacing-v3 with the fast state frame
LIMIT = 1000
#: CarRacing-v3's reward per frame (its time penalty), charged for the frames a stalled episode did not run
FRAME_PENALTY = -0.1
INPUTS = tuple(f"z{i}" for i in range(ce.Z))
OUTPUTS = ("steer", "gas", "brake")


@dataclass
class CarFrame(Frame):
    """A CarRacing step with its picture: ``obs`` holds the latent (the network's inputs)."""

    image: np.ndarray = field(default_factory=lambda: np.zeros((96, 96, 3), np.uint8))  # the state frame
    latent: np.ndarray = field(default_factory=lambda: np.zeros(ce.Z))  # the encoder's output
    controls: np.ndarray = field(default_factory=lambda: np.zeros(3))  # steer, gas, brake as applied


class CarRacingTask(GymTask):
    """CarRacing-v3 (continuous actions) with encoded frames as inputs; see the module docstring."""

    def __init__(self, encoder: ce.Encoder | None = None, encoder_path: str | None = None,
                 slots: int | None = None, stall_steps: int = 0) -> None:
        self.encoder = encoder if encoder is not None else ce.load(encoder_path)
        super().__init__(ENV_ID, {"continuous": True}, name="carracing", stall_steps=stall_steps,
                         **({} if slots is None else {"slots": slots}))
        self.n_inputs, self.n_outputs = ce.Z, len(OUTPUTS)
        self.input_names, self.output_names = INPUTS, OUTPUTS
        self.max_steps = min(self.max_steps, LIMIT)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._last_z = np.zeros(ce.Z)

    def twin(self) -> CarRacingTask:
        t = CarRacingTask(encoder=self.encoder, slots=self.slots, stall_steps=self.stall_steps)
        t.max_steps = self.max_steps
        return t

    # --- the stall rule (carracing_stall_steps, search scoring only; see GymTask.stall_cap) ---
    stall_supported = True
    stall_gain = 0.5  # one more track tile

    def progress(self, env: Any) -> float:
        """Track tiles visited so far: a car that has left the road or stopped visits none."""
        return float(env.unwrapped.tile_visited_count)

    def stall_charge(self, steps_left: int) -> float:
        """The frames not run still cost their time penalty: the return the episode would have had had the
        car visited no further tile (and not left the playfield), so stopping early flatters no one."""
        return FRAME_PENALTY * steps_left

    # --- spaces ---------------------------------------------------------------------------------
    def encode(self, obs: Any, row: np.ndarray) -> None:
        """Defer: the frame is encoded with the others of this step by :meth:`flush`."""
        o = np.asarray(obs)
        if o.shape != (ce.SIZE, ce.SIZE, 3):
            raise TaskError(f"carracing: a frame of shape {o.shape}, expected ({ce.SIZE}, {ce.SIZE}, 3)")
        self._pending.append((o, row))

    def flush(self) -> None:
        if not self._pending:
            return
        z = self.encoder.encode64(np.stack([o for o, _ in self._pending]))
        for (_, row), zi in zip(self._pending, z, strict=True):
            row[:] = zi
        self._last_z = z[-1].astype(np.float64)
        self._pending.clear()

    def decode(self, out: np.ndarray) -> list[Any]:
        return list(controls(out).astype(np.float32))

    # --- playback -------------------------------------------------------------------------------
    def _frame(self, env: Any, t: int, reward: float, total: float, done: bool, obs: np.ndarray,
               action: np.ndarray, scene: bool) -> Any:
        # the 96x96 picture of the state the network saw (the encoder's 64x64 frame is sampled from it)
        image = raster.frame(env, full=True)
        z = self._last_z.copy()
        return CarFrame(t, reward, total, done, z, action, image=image, latent=z,
                        controls=controls(action[None])[0] if t else np.zeros(3))


def controls(out: np.ndarray) -> np.ndarray:
    """Network outputs (L, 3) -> CarRacing actions: steer clip [-1, 1], gas (a + 1) / 2, brake clip [0, 1]
    (NaN -> 0 before the mapping)."""
    a = np.nan_to_num(np.asarray(out, dtype=np.float64).reshape(-1, 3), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.column_stack([np.clip(a[:, 0], -1, 1), np.clip((a[:, 1] + 1) / 2, 0, 1), np.clip(a[:, 2], 0, 1)])


def carracing(cfg: Any = None) -> CarRacingTask:
    """The registry's factory (``carracing_stall_steps`` from the run's config)."""
    return CarRacingTask(stall_steps=0 if cfg is None else int(getattr(cfg, "carracing_stall_steps", 0)))
