"""Console tests: ``runs`` is a runs folder holding one copy (``rec``) of the run recorded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import copy_run


@pytest.fixture
def runs(tmp_path: Path, recorded: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    copy_run(recorded, d)
    return d
