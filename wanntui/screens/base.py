"""The base of the console's own screens: ``tui`` is the running app, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from ..app import WannTui


class TuiScreen(Screen):
    """A screen shown only by :class:`~wanntui.app.WannTui` (its methods are reached through ``tui``)."""

    @property
    def tui(self) -> WannTui:
        return cast("WannTui", self.app)
