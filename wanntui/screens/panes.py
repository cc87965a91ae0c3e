"""Keys shared by screens made of panes: focus a pane by id, maximize the focused one, restore.

Keys typed in a burst (a laggy SSH link delivers ``z4z`` at once) must each act on the state the previous
key left: Textual's ``Widget.focus`` only takes effect after the queued messages, so a pane is focused here
with the screen's synchronous ``set_focus`` and the pane last chosen is also kept in ``pane``.
"""

from __future__ import annotations

from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


class PaneKeys(Screen):
    """Keys for a screen of panes. ``PANES``: ids of the panes ``zoom`` maximizes (the pane holding the
    focused widget); empty: the focused widget itself."""

    PANES: tuple[str, ...] = ()

    #: the id of the pane last focused with a pane key (None: follow the focused widget)
    pane: str | None = None

    def _pane_of(self, node: DOMNode | None) -> Widget | None:
        """The pane (an id of ``PANES``) holding ``node``; with no ``PANES``, ``node`` itself."""
        if self.PANES:
            while node is not None and node.id not in self.PANES:
                node = node.parent
        return node if isinstance(node, Widget) else None

    def action_focus_pane(self, pane: str) -> None:
        """Focus ``pane`` now (not after the queued keys); while a pane is maximized, maximize this one."""
        widget = self.query_one(f"#{pane}")
        self.pane = pane
        zoomed = self.maximized is not None
        if zoomed:
            self.minimize()
        self.set_focus(widget)
        if zoomed and widget.allow_maximize:
            self.maximize(widget)

    def action_zoom(self) -> None:
        if self.unzoom():
            return
        target = self._pane_of(self.focused)
        if target is None and self.pane is not None:
            target = self.query_one(f"#{self.pane}")
        if isinstance(target, Widget):
            self.maximize(target)

    def unzoom(self) -> bool:
        """Restore a maximized pane; False if none was."""
        if self.maximized is None:
            return False
        self.minimize()
        return True
