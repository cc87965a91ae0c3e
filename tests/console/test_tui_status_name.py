"""The live view's status bar names the run by its folder, the name the browser lists and commands
take, also for a copied run whose events still carry the name it was started under."""

from __future__ import annotations

from pathlib import Path

from tui_support import copy_run, make_app, until

from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.status import StatusBar


async def test_a_copied_run_is_named_by_its_folder(runs: Path, recorded: Path):
    copy_run(recorded, runs, "copy-of-rec")
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.query_one(StatusBar).text)
        text = app.screen.query_one(StatusBar).text
        assert text.startswith("copy-of-rec"), text
