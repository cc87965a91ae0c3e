"""Keys shared by screens made of panes: focus a pane by id, maximize the focused one, restore."""

from __future__ import annotations

from textual.widget import Widget


class PaneKeys:
    """Mixin for a ``Screen``. ``PANES``: ids of the panes ``zoom`` maximizes (the pane holding the
    focused widget); empty: the focused widget itself."""

    PANES: tuple[str, ...] = ()

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(f"#{pane}").focus()  # type: ignore[attr-defined]

    def action_zoom(self) -> None:
        if self.unzoom():
            return
        target: Widget | None = self.focused  # type: ignore[attr-defined]
        if self.PANES:
            while target is not None and target.id not in self.PANES:
                target = target.parent  # type: ignore[assignment]
        if target is not None:
            self.maximize(target)  # type: ignore[attr-defined]

    def unzoom(self) -> bool:
        """Restore a maximized pane; False if none was."""
        if self.maximized is None:  # type: ignore[attr-defined]
            return False
        self.minimize()  # type: ignore[attr-defined]
        return True
