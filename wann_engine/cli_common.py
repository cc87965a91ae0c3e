"""What every ``wann-engine`` command module shares: the typer ``app`` they register on, :class:`UserError`,
the errors reported as one line with exit code 2, and the run configuration built from options.

Command modules (``cli``, ``cli_eval``, ``cli_export``, ``cli_protocol``, ``cli_sweep``) import from here,
never from each other; ``cli`` imports them all so that their commands are registered, and owns ``main``.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from .config import Config, ConfigError, for_run
from .netfile import NetworkFileError
from .rundir import RunDirError
from .tasks import TaskError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="Weight Agnostic Neural Network search engine.")


class UserError(Exception):
    """Bad input: reported as one line, exit code 2."""


#: Raised for bad input anywhere below the commands; ``main`` prints them as one line, exit code 2.
USER_ERRORS: tuple[type[Exception], ...] = (UserError, ConfigError, RunDirError, TaskError, NetworkFileError)


def build_config(task: str, pop: int | None, gens: int | None, seed: int, workers: int, threads: int,
                 overrides: list[str], config_file: Path | None) -> Config:
    """The run's configuration: preset of the task (or a config file), then options, then ``--set``;
    checked to be runnable here (the task exists, the population fits in memory). Writes nothing."""
    from .runner import prepare

    base = None
    if config_file is not None:
        try:
            data = Path(config_file).read_bytes()
        except OSError as e:
            raise UserError(f"{config_file}: {e.strerror or e}") from None
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise UserError(f"{config_file}: not valid JSON ({e})") from None
        try:
            base = Config.from_dict(doc)
        except ConfigError as e:
            raise UserError(f"{config_file}: {e}") from None
    cfg = for_run(task, pop, gens, seed, workers, threads, overrides, base)
    prepare(cfg)  # unknown task, or a population that cannot fit: fail before anything is written
    return cfg
