"""A deep champion is narrowed to fit its pane (closer tracks, shorter names) before it scrolls."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from test_netgraph_text import genome
from tui_support import copy_run, make_app, until

from wanntui.model import synthetic_generation
from wanntui.netgraph_text import layout_network
from wanntui.screens.browser import BrowserScreen
from wanntui.screens.run_view import RunScreen
from wanntui.widgets.netgraph import NetGraph

NAMES = ["x", "x_dot", "cos(theta)", "sin(theta)", "theta_dot"]


def deep_genome():
    """20 connections, 12 layers: a chain of 10 hidden nodes plus skips (bias 0, inputs 1-5, output 6)."""
    chain = [3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 6]
    conns = list(zip(chain, chain[1:], strict=False))
    conns += [(1, 9), (4, 12), (0, 14), (5, 16), (2, 8), (1, 6), (7, 11), (10, 15), (4, 7)]
    return genome(5, 1, [5, 2, 3, 9, 4, 6, 7, 8, 10, 1], conns)


def test_a_deep_network_is_narrowed_to_the_width_given():
    net = deep_genome().network()
    full = layout_network(net, NAMES, ["force"])
    assert (net.n_conns, full.n_layers, full.compact) == (20, 12, 0) and full.width > 118
    assert layout_network(net, NAMES, ["force"], max_width=full.width).lines == full.lines  # fits: unchanged
    for width, ascii in ((116, False), (100, False), (90, True)):
        g = layout_network(net, NAMES, ["force"], max_width=width, ascii=ascii)
        assert g.width <= width and g.compact > 0, (width, g.text())
        assert g.height == full.height and "force:lin" in g.text()  # same rows, output named in full
        assert sum(line.count("tnh") + line.count("sin") for line in g.lines) >= 2
    tight = layout_network(net, NAMES, ["force"], max_width=82)  # names are cut last
    assert tight.compact == 3 and tight.width <= 82 and "fo…:lin" in tight.text()
    wide = layout_network(net, NAMES, ["force"], max_width=60)  # fits at no level: scrolls with full names
    assert wide.compact == 1 and wide.width <= 90 and "force:lin" in wide.text()


async def test_the_network_pane_maximized_at_120_columns_shows_the_output(tmp_path: Path, recorded: Path):
    runs = tmp_path / "runs"
    runs.mkdir()
    run = copy_run(recorded, runs)
    ev = synthetic_generation(9, pop=16, t=time.time())
    ev["champion"] = deep_genome().to_dict()
    with open(run / "events.jsonl", "ab") as f:
        f.write(orjson.dumps(ev) + b"\n")
    app = make_app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BrowserScreen) and app.screen.rows)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.model.snapshot().gen_done >= 9)
        view = app.screen
        net = view.query_one(NetGraph)
        await until(pilot, lambda: net.graph is not None and net.graph.n_conns == 20)
        await pilot.press("3", "z")
        assert view.maximized is net
        await until(pilot, lambda: net.fit_width is not None and net.fit_width > 100 and net.graph.width <= 118)
        await pilot.pause(0.2)
        visible = net.scrollable_content_region.width
        out_line = next(line for line in net.graph.lines if "force:" in line)
        assert net.scroll_x == 0 and out_line.index("force:lin") + len("force:lin") <= visible
        assert "narrowed" in str(net.border_subtitle)
        await pilot.press("z")  # restored: narrowed again to the half-width pane, then scrolls
        await until(pilot, lambda: net.fit_width is not None and net.fit_width < 70)
