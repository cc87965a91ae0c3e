"""``wann-engine encoder collect|train|check``: the CarRacing frame encoder of the ``carracing`` task.

Registered on the app of ``wann_engine.cli_common`` (``wann_engine.cli`` imports this module). Training
needs PyTorch (``pip install 'wann-engine[racing]'``); collecting and checking do not.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from .cli_common import UserError, app
from .exits import Exit

encoder_app = typer.Typer(no_args_is_help=True, help="The CarRacing frame encoder (ConvVAE, z = 16).")
app.add_typer(encoder_app, name="encoder")


class Bar:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, label: str) -> None:
        self.label, self.t0, self.last = label, time.perf_counter(), 0.0

    def __call__(self, done: int, total: int, note: str) -> None:
        now = time.perf_counter()
        if now - self.last < 0.2 and done < total:
            return
        self.last = now
        frac = done / total if total else 1.0
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% {now - self.t0:6.0f}s  {note[:60]:<60}")
        sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\n")


@encoder_app.command("collect")
def collect(
    out: Annotated[Path, typer.Argument(help="Frames file to write (.npz)")],
    episodes: Annotated[int, typer.Option(help="Episodes (half random, half scripted driving)")] = 12,
    steps: Annotated[int, typer.Option(help="Steps per episode")] = 400,
    every: Annotated[int, typer.Option(help="Keep every n-th frame")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the tracks and actions")] = 0,
) -> int:
    """Drive CarRacing-v3 at random and with a simple scripted driver; save the 64x64 frames."""
    from .tasks.carracing_train import collect as run

    if episodes < 1 or steps < 1 or every < 1:
        raise UserError("--episodes, --steps and --every must be at least 1")
    bar = Bar("collect")
    n = run(out, episodes=episodes, steps=steps, seed=seed, every=every, progress=bar)
    bar.end()
    print(f"{n} frames -> {out}")
    return Exit.OK


@encoder_app.command("train")
def train(
    frames: Annotated[Path, typer.Argument(help="Frames file of `encoder collect`")],
    out: Annotated[Path, typer.Option(help="Encoder weights to write (.npz; the .json goes beside it)")] = Path(
        "encoder.npz"),
    minutes: Annotated[float, typer.Option(help="Wall-time budget of training")] = 20.0,
    batch: Annotated[int, typer.Option(help="Batch size")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate")] = 1e-3,
    threads: Annotated[int, typer.Option(help="Torch threads")] = 2,
    seed: Annotated[int, typer.Option(help="Seed")] = 0,
    png: Annotated[Path | None, typer.Option(help="Write a grid of held-out frames over their reconstructions")] = None,
) -> int:
    """Train World Models' ConvVAE on collected frames; save the encoder (npz + sha256 + recipe)."""
    from .tasks.carracing_train import train as run

    if not frames.is_file():
        raise UserError(f"{frames}: no such frames file")
    if minutes <= 0 or batch < 1 or threads < 1 or not lr > 0:
        raise UserError("--minutes and --lr must be positive, --batch and --threads at least 1")
    bar = Bar("train")
    summary = run(frames, out, minutes=minutes, batch=batch, lr=lr, threads=threads, seed=seed, png=png, progress=bar)
    bar.end()
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    return Exit.OK


@encoder_app.command("check")
def check(
    file: Annotated[Path | None, typer.Argument(help="Encoder weights (default: the packaged one)")] = None,
) -> int:
    """Verify an encoder file against its checksum; print its recipe."""
    from .tasks import carracing_encoder as ce

    enc = ce.load(file)
    print(orjson.dumps({"sha256": enc.sha256, "recipe": enc.recipe}, option=orjson.OPT_INDENT_2).decode())
    return Exit.OK
