"""Keys shared by screens made of panes: focus a pane by id, maximize the focused one, restore."""

from __future__ import annotations

from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


class PaneKeys(Screen):
    """Keys for a screen of panes. ``PANES``: ids of the panes ``zoom`` maximizes (the pane holding the
    focused widget); empty: the focused widget itself."""

    PANES: tuple[str, ...] = ()

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(f"#{pane}").focus()

    def action_zoom(self) -> None:
        if self.unzoom():
            return
        target: DOMNode | None = self.focused
        if self.PANES:
            while target is not None and target.id not in self.PANES:
                target = target.parent
        if isinstance(target, Widget):
            self.maximize(target)

    def unzoom(self) -> bool:
        """Restore a maximized pane; False if none was."""
        if self.maximized is None:
            return False
        self.minimize()
        return True
