"""Classification at the explorer's weight: accuracy per digit, the ensemble, misclassified test images."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from wann_engine.tasks.classify import ClassView

from .. import scene_text


class ClassifyView(Static):
    DEFAULT_CSS = """
    ClassifyView { text-wrap: nowrap; text-overflow: clip; }
    """
    BORDER_TITLE = "Test accuracy"
    HELP = "Test accuracy at the current weight, per digit, and of the ensemble that votes over the six " \
           "standard weights (-2, -1, -0.5, 0.5, 1, 2, each with the offsets); below, test images it gets wrong."

    def __init__(self, ascii: bool = False, **kw) -> None:
        super().__init__("computing...", **kw)
        self.ascii = ascii
        self.view: ClassView | None = None
        self.lines: list[str] = []

    def show(self, view: ClassView) -> None:
        self.view = view
        self.redraw()

    def redraw(self) -> None:
        v = self.view
        if v is None:
            return
        w = max(20, self.content_size.width or 40)
        bar = "#" if self.ascii else "█"
        lines = [f"accuracy {100 * v.accuracy:.2f} %  ensemble {100 * v.ensemble:.2f} %",
                 "digit  accuracy  ensemble"]
        for d in range(10):
            a = float(v.per_digit[d])
            lines.append(f"  {d}   {100 * a:6.1f} %  {100 * float(v.ensemble_per_digit[d]):6.1f} %  "
                         + bar * int(round(a * max(0, w - 28))))
        lines.append(f"wrong: {v.n_wrong} of {v.n_test} test images (label->predicted)")
        tiles = [(f"{im.label}->{im.predicted if im.predicted >= 0 else '?'}", scene_text.digit(im.image, self.ascii))
                 for im in v.wrong]
        per_row = max(1, (w + 1) // 17)
        for i in range(0, len(tiles), per_row):
            row = tiles[i:i + per_row]
            lines.append(" ".join(f"{t:<16}" for t, _ in row).rstrip())
            for r in range(len(row[0][1])):
                lines.append(" ".join(img[r] for _, img in row))
        self.lines = lines
        self.update(Text("\n".join(lines), no_wrap=True, overflow="crop", end=""))
