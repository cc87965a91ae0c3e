"""A feed-forward network as text: layers left to right, or one line per node (no Textual).

Layout (a small Sugiyama-style pass, hand-written; see docs/ARCHITECTURE.md for why):

* columns are layers: bias and inputs in column 0, each hidden node at its
  ``Network.depth``, all outputs in a last column;
* rows inside a column follow the mean row of each node's sources (fewer crossings);
  nodes of even columns sit on even rows and of odd columns on odd rows, so a line
  leaving a node and a line entering one never share a row inside a channel;
* a source whose edges skip columns gets one straight horizontal "lane" through the
  columns between (shared by all its long edges), on the free row nearest to it; a
  lane's row is kept free of other items from the source's column to its last target's,
  so it never merges with an unrelated line;
* between two columns each source gets its own vertical track: a horizontal line from
  the source to its track, the track down/up to the rows of its targets, and a
  horizontal line into each target. Where lines of two sources meet they cross (``┼``).

Unused inputs are drawn without any line and named on the legend line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from wann_engine.activations import SYMBOLS

if TYPE_CHECKING:  # wann_engine.genome imports numba: only load it when a network is drawn
    from wann_engine.genome import Network

N, S, E, W = 1, 2, 4, 8
UNICODE_LINES = {
    0: " ", N: "│", S: "│", N | S: "│", E: "─", W: "─", E | W: "─",
    S | E: "┌", S | W: "┐", N | E: "└", N | W: "┘",
    N | S | E: "├", N | S | W: "┤", S | E | W: "┬", N | E | W: "┴", N | S | E | W: "┼",
}
ASCII_LINES = {k: ("|" if v == "│" else "-" if v == "─" else " " if v == " " else "+")
               for k, v in UNICODE_LINES.items()}
#: Box-drawing and block characters that other panes may emit, with ASCII stand-ins.
ASCII_TABLE = str.maketrans({
    **{c: "-" for c in "─━┄┈╌═"}, **{c: "|" for c in "│┃┆┊╎║▏▕"},
    **{c: "+" for c in "┌┐└┘├┤┬┴┼╭╮╯╰╔╗╚╝╠╣╦╩╬"},
    "•": "*", "●": "@", "·": ".", "◀": "<", "▶": ">", "…": "~", "★": "*", "⚠": "!", "█": "#", "▒": ":",
    "▁": "_", "▔": "-",
})

#: Style kinds used in :class:`GraphText` spans.
KINDS = ("input", "unused", "bias", "hidden", "output", "edge", "legend")


@dataclass
class GraphText:
    """Lines of text plus style spans ``(line, start, end, kind)``."""

    lines: list[str]
    spans: list[tuple[int, int, int, str]] = field(default_factory=list)
    unused_inputs: list[str] = field(default_factory=list)
    n_nodes: int = 0
    n_conns: int = 0
    n_layers: int = 0
    compact: int = 0  # how far the drawing was narrowed to fit (an index of COMPACT_LEVELS)

    @property
    def width(self) -> int:
        return max((len(s) for s in self.lines), default=0)

    @property
    def height(self) -> int:
        return len(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines)


def _names(names: Sequence[str], n: int, prefix: str) -> list[str]:
    out = [str(x) for x in names[:n]]
    return out + [f"{prefix}{i + 1}" for i in range(len(out), n)]


def node_labels(net: Network, input_names: Sequence[str] = (), output_names: Sequence[str] = (),
                ids: bool = False, max_name: int = 12, ascii: bool = False) -> list[str]:
    """A label per position: bias, input names, hidden activations, ``name:act`` for outputs. Names longer
    than ``max_name`` are cut (below 12 characters the cut is marked with an ellipsis)."""
    ins = _names(input_names, net.n_in, "in")
    outs = _names(output_names, net.n_out, "out")
    first_out = net.n_nodes - net.n_out

    def cut(name: str) -> str:
        return name[:max_name] if max_name >= 12 else abbreviate(name, max_name, ascii)

    labels = ["bias"]
    labels += [cut(s) for s in ins]
    for p in range(net.n_in + 1, first_out):
        sym = SYMBOLS.get(int(net.act[p]), f"a{int(net.act[p])}")
        labels.append(f"h{int(net.node_ids[p])}:{sym}" if ids else sym)
    for i, p in enumerate(range(first_out, net.n_nodes)):
        sym = SYMBOLS.get(int(net.act[p]), f"a{int(net.act[p])}")
        labels.append(f"{cut(outs[i])}:{sym}")
    return labels


def _kind(net: Network, p: int, has_out: np.ndarray) -> str:
    if p == 0:
        return "bias" if has_out[0] else "unused"
    if p <= net.n_in:
        return "input" if has_out[p] else "unused"
    if p >= net.n_nodes - net.n_out:
        return "output"
    return "hidden"


def abbreviate(name: str, n: int, ascii: bool = False) -> str:
    """``name`` cut to ``n`` characters, the last one an ellipsis when cut."""
    return name if len(name) <= n else name[: max(1, n - 1)] + ("~" if ascii else "…")


#: Ways to narrow a drawing that is wider than the space it is given, tried in order until one fits:
#: (tracks shared between sources whose vertical extents are apart, no blank before the first track,
#: longest input/output name, hidden ids kept). A drawing that fits at none scrolls, with full names.
COMPACT_LEVELS = ((False, False, 12, True), (True, True, 12, True), (True, True, 6, False), (True, True, 3, False))


def layout_network(net: Network, input_names: Sequence[str] = (), output_names: Sequence[str] = (),
                   ascii: bool = False, ids: bool = False, max_inputs: int = 32,
                   max_width: int | None = None) -> GraphText:
    """Draw ``net`` as layered text (see the module docstring).

    With more than ``max_inputs`` inputs (image tasks), unused inputs are left out of the
    drawing and only counted on the legend line. With ``max_width``, a drawing wider than that is
    compressed (see :data:`COMPACT_LEVELS`: narrower channels between columns, then shorter names)
    before it is left wider than asked; ``GraphText.compact`` says how far it went (0: not at all).
    """
    n, n_in, n_out = net.n_nodes, net.n_in, net.n_out
    first_out = n - n_out
    edges = net.edges()
    has_out = np.zeros(n, dtype=bool)
    has_out[edges[:, 0]] = True

    # columns: inputs 0, hidden at their depth, outputs last
    col = np.zeros(n, dtype=np.int64)
    hidden = np.arange(n_in + 1, first_out)
    col[hidden] = net.depth[hidden]
    last = int(col[hidden].max()) + 1 if hidden.size else 1
    col[first_out:] = last
    n_cols = last + 1
    dests: dict[int, list[int]] = {}
    srcs: dict[int, list[int]] = {}
    for s, d in edges.tolist():
        dests.setdefault(s, []).append(d)
        srcs.setdefault(d, []).append(s)
    reach = {s: max(int(col[d]) for d in ds) for s, ds in dests.items()}

    # node rows: column k on rows of parity k % 2, ordered by the mean row of their sources
    hide_unused = n_in > max_inputs
    order: list[list[int]] = [[] for _ in range(n_cols)]
    order[0] = [p for p in range(n_in + 1) if has_out[p] or not hide_unused]
    order[last] = list(range(first_out, n))
    for k in range(1, last):
        order[k] = [int(p) for p in np.flatnonzero(col == k) if n_in < p < first_out]
    tallest = max(len(o) for o in order)
    row: dict[int, int] = {}
    occupied: list[dict[int, tuple[str, int]]] = [{} for _ in range(n_cols)]  # column -> row -> item
    for k in range(n_cols):
        if 0 < k < last:
            order[k].sort(key=lambda p: (float(np.mean([row[s] for s in srcs[p] if s in row]))
                                         if any(s in row for s in srcs.get(p, ())) else 1e9, p))
        off = 2 * ((tallest - len(order[k])) // 2)
        for i, p in enumerate(order[k]):
            row[p] = off + 2 * i + (k % 2)
            occupied[k][row[p]] = ("n", p)

    # lanes: one row per source whose edges skip columns, kept straight from source to last target
    lane: dict[int, int] = {}
    for s in sorted((s for s in reach if reach[s] > col[s] + 1 and s in row), key=lambda s: (col[s], row[s])):
        cs, ce, rs = int(col[s]), reach[s], row[s]
        targets = {d for d in dests[s] if col[d] == ce}

        def free(r: int, s: int = s, cs: int = cs, ce: int = ce, targets: set = targets) -> bool:
            if occupied[cs].get(r, ("n", s)) != ("n", s):
                return False
            if any(r in occupied[c] for c in range(cs + 1, ce)):
                return False
            at_end = occupied[ce].get(r)
            return at_end is None or (at_end[0] == "n" and at_end[1] in targets)

        r = next(r for d in range(0, 4 * (tallest + len(reach)) + 8) for r in (rs + d, rs - d) if r >= 0 and free(r))
        lane[s] = r
        for c in range(cs + 1, ce):
            occupied[c][r] = ("d", s)
    height = max((max(o) for o in occupied if o), default=0) + 1

    # channel groups: (source row, target rows) per source item
    channels: list[list[tuple[int, list[int]]]] = []
    for k in range(n_cols - 1):
        groups = []
        for r, (_, s) in occupied[k].items():
            if s not in dests:
                continue
            targets = [row[d] for d in dests[s] if col[d] == k + 1]
            if reach[s] > k + 1:
                targets.append(lane[s])
            if targets:
                groups.append((r, sorted(targets)))
        groups.sort()
        channels.append(groups)
    # each level in turn until one fits; when none does, the drawing scrolls anyway: then keep the names
    tries = [*range(len(COMPACT_LEVELS)), 1] if max_width is not None else [0]
    for attempt, level in enumerate(tries):
        share, tight, max_name, keep_ids = COMPACT_LEVELS[level]
        labels = node_labels(net, input_names, output_names, ids=ids and keep_ids, max_name=max_name,
                             ascii=ascii)
        tracks = [_tracks(groups, share, 0 if tight else 1) for groups in channels]
        widths = [max([len(labels[p]) for p in order[k]] + [1]) + 1 for k in range(n_cols)]
        ch_widths = ([max(1, max((t for t in tr if t >= 0), default=-1) + 2) for tr in tracks] if share else
                     [len(g) + 2 for g in channels])
        total_w = sum(widths) + sum(ch_widths)
        canvas = [[" "] * total_w for _ in range(height)]
        kinds = [["edge"] * total_w for _ in range(height)]
        lines_of = ASCII_LINES if ascii else UNICODE_LINES
        x0 = 0
        for k in range(n_cols):
            w = widths[k]
            for r, (kind, p) in occupied[k].items():
                if kind == "d":
                    for x in range(x0, x0 + w):
                        canvas[r][x] = lines_of[E | W]
                    continue
                text = labels[p]
                nk = _kind(net, p, has_out)
                for i, ch in enumerate(text):
                    canvas[r][x0 + i] = ch
                    kinds[r][x0 + i] = nk
                if has_out[p]:
                    for x in range(x0 + len(text), x0 + w):
                        canvas[r][x] = lines_of[E | W]
            x0 += w
            if k < n_cols - 1:
                cw = ch_widths[k]
                mask = np.zeros((height, cw), dtype=np.int64)
                for g, (rs, targets) in enumerate(channels[k]):
                    xt = tracks[k][g]
                    if xt < 0:  # straight on: no track needed
                        mask[rs, :] |= E | W
                        continue
                    mask[rs, :xt] |= E | W
                    mask[rs, xt] |= W
                    lo, hi = min(rs, *targets), max(rs, *targets)
                    if hi > lo:
                        mask[lo, xt] |= S
                        mask[hi, xt] |= N
                        mask[lo + 1 : hi, xt] |= N | S
                    for rt in targets:
                        mask[rt, xt] |= E
                        mask[rt, xt + 1 :] |= E | W
                for r, c in zip(*np.nonzero(mask), strict=True):
                    canvas[r][x0 + c] = lines_of[int(mask[r, c])]
                x0 += cw

        drawn_w = max((len("".join(r).rstrip()) for r in canvas), default=0)
        if max_width is None or drawn_w <= max_width or attempt == len(tries) - 1:
            break

    unused = [labels[p] for p in range(1, n_in + 1) if not has_out[p]]
    legend = [f"{n} nodes  {net.n_conns} connections  {n_cols} layers"]
    if unused and hide_unused:
        legend.append(f"{len(unused)} of {n_in} inputs unused (not drawn)")
    elif unused:
        legend.append("unused: " + ", ".join(unused[:12]) + (f" +{len(unused) - 12} more" if len(unused) > 12 else ""))
    if max_width is not None:  # the legend does not make a drawing that fits scroll
        legend = [abbreviate(line, max(8, max_width), ascii) for line in legend]
    out_lines = legend + ["".join(r).rstrip() for r in canvas]
    spans = [(i, 0, len(text), "legend" if i == 0 else "unused") for i, text in enumerate(legend)]
    for r in range(height):
        spans.extend(_runs(r + len(legend), kinds[r], len(out_lines[r + len(legend)])))
    return GraphText(out_lines, spans, unused, n, net.n_conns, n_cols, level)


def _tracks(groups: list[tuple[int, list[int]]], share: bool, lead: int) -> list[int]:
    """The x of each group's vertical track in its channel (-1: straight on, no track). Unshared: one
    track per group in order. Shared: a group takes the leftmost track whose groups all end at least
    two rows above its top (so two tracks in one column never touch)."""
    out: list[int] = []
    if not share:
        return [-1 if targets == [rs] else g + lead for g, (rs, targets) in enumerate(groups)]
    ends: list[int] = []  # per track: the lowest row used so far
    for rs, targets in groups:
        if targets == [rs]:
            out.append(-1)
            continue
        lo, hi = min(rs, *targets), max(rs, *targets)
        t = next((t for t, end in enumerate(ends) if end + 1 < lo), len(ends))
        if t == len(ends):
            ends.append(hi)
        else:
            ends[t] = hi
        out.append(t + lead)
    return out


def _runs(line: int, kinds: list[str], width: int) -> list[tuple[int, int, int, str]]:
    """Maximal runs of one kind on a line, as spans (edges included, blank tail cut)."""
    spans = []
    start = 0
    for x in range(1, width + 1):
        if x == width or kinds[x] != kinds[start]:
            spans.append((line, start, x, kinds[start]))
            start = x
    return spans


def list_network(net: Network, input_names: Sequence[str] = (), output_names: Sequence[str] = ()) -> GraphText:
    """One line per computed node: its layer, label and the labels of its sources."""
    labels = node_labels(net, input_names, output_names, ids=True)
    edges = net.edges()
    has_out = np.zeros(net.n_nodes, dtype=bool)
    has_out[edges[:, 0]] = True
    srcs: dict[int, list[int]] = {}
    for s, d in edges.tolist():
        srcs.setdefault(d, []).append(s)
    unused = [labels[p] for p in range(1, net.n_in + 1) if not has_out[p]]
    used = [labels[p] for p in range(net.n_in + 1) if has_out[p]]
    lines = [f"{net.n_nodes} nodes  {net.n_conns} connections",
             "inputs used: " + (", ".join(used) or "none"),
             "inputs unused: " + (", ".join(unused[:40]) or "none") + (f" +{len(unused) - 40} more"
                                                                       if len(unused) > 40 else "")]
    spans = [(0, 0, len(lines[0]), "legend"), (1, 0, len(lines[1]), "input"), (2, 0, len(lines[2]), "unused")]
    first_out = net.n_nodes - net.n_out
    order = sorted(range(net.n_in + 1, net.n_nodes), key=lambda p: (p >= first_out, int(net.depth[p]), p))
    width = max((len(labels[p]) for p in order), default=4)
    for p in order:
        kind = "output" if p >= first_out else "hidden"
        src = ", ".join(labels[s] for s in srcs.get(p, [])) or "(no inputs)"
        text = f"L{int(net.depth[p]):<3}{labels[p]:<{width}}  <- {src}"
        spans.append((len(lines), 4, 4 + len(labels[p]), kind))
        lines.append(text)
    return GraphText(lines, spans, unused, net.n_nodes, net.n_conns, int(net.depth.max()) + 1 if net.n_nodes else 0)
