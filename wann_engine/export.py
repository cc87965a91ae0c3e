"""Export a network: Graphviz DOT, the original ``.out`` matrix, or ``.npz`` plus a numpy-only forward module.

Pure functions (no printing, no exit codes); ``cli_export`` wraps them as ``wann-engine export``.
Inputs: a champion in the project's JSON format, the original ``.out`` matrix, a tuned-weights
file (``wann-engine protocol``), or a run directory (its champion).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .activations import NAMES
from .atomic import write_bytes
from .events import numbers
from .genome import Genome, Network
from .netfile import NetworkFileError, open_network, out_text
from .tasks import TaskError

FORMATS = ("dot", "out", "npz")
#: formats of a run's per-generation history (a run directory only; Parquet would need pyarrow)
HISTORY_FORMATS = ("csv",)
NPZ_FORMAT, NPZ_VERSION = "wann-npz", 1
FORWARD_MODULE = "wann_forward.py"
#: with more inputs than this (image tasks), unused inputs are left out of the DOT drawing
MAX_DRAWN_INPUTS = 32


class ExportError(ValueError):
    """Input that cannot be exported, or an output that must not be written; the message says why."""


@dataclass(frozen=True)
class Champion:
    """A network with what an export needs to label and run it."""

    genome: Genome
    net: Network
    task: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    weight: float | None = None  # best shared weight, when the file says
    conn_weights: np.ndarray | None = None  # one per Network.edges() row (tuned-weights files)
    source: Path = Path()


# --- reading ------------------------------------------------------------------------------------------
def _best_weight(doc: dict) -> float | None:
    try:
        ws, per = numbers(doc.get("weights") or []), numbers(doc.get("per_weight") or [])
    except (TypeError, ValueError, KeyError):
        return None
    if ws.size == 0 or ws.shape != per.shape or not np.isfinite(per).any():
        return None
    return float(ws[int(np.nanargmax(per))])


def load_champion(path: str | Path, task: str | None = None) -> Champion:
    """Read ``path`` (JSON, ``.out``, tuned weights, or a run directory meaning its champion) through
    ``netfile.open_network``. The task comes from the file (JSON) or the run's config; ``task`` is needed
    only for an ``.out`` outside a run directory (default swingup)."""
    try:
        got = open_network(path, task)
    except (NetworkFileError, TaskError) as e:
        raise ExportError(str(e)) from None
    weight = got.shared_weight if got.weights is not None else _best_weight(got.doc)
    return Champion(got.genome, got.network(), got.task.name, *got.names, weight, got.weights, got.path)


# --- DOT ------------------------------------------------------------------------------------------------
def columns(net: Network) -> np.ndarray:
    """Drawing column of each position: bias and inputs 0, hidden nodes their depth, outputs one past
    the deepest hidden node (the console's layering)."""
    first_out = net.n_nodes - net.n_out
    col = np.zeros(net.n_nodes, dtype=np.int64)
    hidden = np.arange(net.n_in + 1, first_out)
    col[hidden] = net.depth[hidden]
    col[first_out:] = int(col[hidden].max()) + 1 if hidden.size else 1
    return col


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _num(x: float) -> str:
    return f"{x:.4g}"


def to_dot(ch: Champion) -> str:
    """Graphviz DOT, left to right, one ``rank=same`` group per column; unused inputs dashed grey."""
    net = ch.net
    edges = net.edges()
    col = columns(net)
    used = np.zeros(net.n_nodes, dtype=bool)
    used[edges[:, 0]] = True
    first_out = net.n_nodes - net.n_out
    hide_unused = net.n_in > MAX_DRAWN_INPUTS
    drawn = [p for p in range(net.n_nodes) if not (hide_unused and p <= net.n_in and not used[p])]

    def node(p: int) -> str:
        nid = f"n{int(net.node_ids[p])}"
        act = NAMES.get(int(net.act[p]), f"act {int(net.act[p])}")
        if p == 0:
            attrs = {"label": "bias", "shape": "box", "style": "rounded,filled", "fillcolor": "grey90"}
        elif p <= net.n_in:
            attrs = {"label": ch.input_names[p - 1], "shape": "box", "style": "rounded,filled",
                     "fillcolor": "lightblue"}
        elif p >= first_out:
            attrs = {"label": f"{ch.output_names[p - first_out]}\n{act}", "shape": "box",
                     "style": "rounded,filled", "fillcolor": "lightsalmon"}
        else:
            attrs = {"label": act, "shape": "ellipse", "style": "filled", "fillcolor": "palegreen"}
        if p <= net.n_in and not used[p]:
            attrs.update(style="rounded,dashed", color="grey60", fontcolor="grey60", fillcolor="white")
            attrs["label"] += "\n(unused)"
        attrs["tooltip"] = f"node {int(net.node_ids[p])}"
        return f"{nid} [" + ", ".join(f"{k}={_q(v)}" for k, v in attrs.items()) + "];"

    title = f"{ch.task}: {net.n_nodes} nodes, {net.n_conns} connections"
    if ch.weight is not None:
        title += f", best shared weight {_num(ch.weight)}"
    if hide_unused:
        title += f", {int((~used[1 : net.n_in + 1]).sum())} unused inputs not drawn"
    lines = [
        "digraph wann {",
        f"  graph [rankdir=LR, ranksep=1.0, nodesep=0.2, fontname=Helvetica, labelloc=t, label={_q(title)}];",
        "  node [fontname=Helvetica, fontsize=11, margin=\"0.08,0.04\"];",
        "  edge [color=grey40, arrowsize=0.6];",
    ]
    for k in range(int(col.max()) + 1):
        members = [p for p in drawn if col[p] == k]
        if members:
            lines.append(f"  subgraph layer{k} {{ rank=same;")
            lines += [f"    {node(p)}" for p in members]
            lines.append("  }")
    for k in (0, int(col.max())):  # inputs and outputs keep their order, top to bottom
        chain = [f"n{int(net.node_ids[p])}" for p in drawn if col[p] == k]
        if len(chain) > 1:
            lines.append(f"  {' -> '.join(chain)} [style=invis];")
    for e, (s, d) in enumerate(edges.tolist()):
        attr = f" [label={_q(_num(float(ch.conn_weights[e])))}, fontsize=8]" if ch.conn_weights is not None else ""
        lines.append(f"  n{int(net.node_ids[s])} -> n{int(net.node_ids[d])}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- .out and .npz ----------------------------------------------------------------------------------------
def to_out(ch: Champion) -> str:
    """The original matrix format (as ``champion.out``)."""
    return out_text(ch.genome.expressed(ch.net.keep_disabled_hidden))


def to_npz(ch: Champion) -> bytes:
    """Everything ``wann_forward.py`` needs, as a compressed ``.npz`` (plain arrays, no pickle)."""
    net = ch.net
    arrays = {
        "format": np.array(NPZ_FORMAT), "version": np.array(NPZ_VERSION), "task": np.array(ch.task),
        "n_in": np.array(net.n_in), "n_out": np.array(net.n_out),
        "input_names": np.array(ch.input_names, dtype=str), "output_names": np.array(ch.output_names, dtype=str),
        "node_ids": net.node_ids.astype(np.int64), "act": net.act.astype(np.int64),
        "edges": net.edges().astype(np.int64).reshape(-1, 2),
        "weight": np.array(np.nan if ch.weight is None else ch.weight, dtype=np.float64),
    }
    if ch.conn_weights is not None:
        arrays["conn_weights"] = np.asarray(ch.conn_weights, dtype=np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def forward_module_source() -> bytes:
    """The source of the standalone forward module copied next to every ``.npz``."""
    return resources.files("wann_engine.standalone").joinpath(FORWARD_MODULE).read_bytes()


# --- writing ------------------------------------------------------------------------------------------------
def default_output(src: Path, fmt: str) -> Path:
    """Beside the input file with the format's suffix; for a run directory ``<run>.<fmt>`` here."""
    src = Path(src)
    return Path(f"{src.resolve().name}.{fmt}") if src.is_dir() else src.with_suffix(f".{fmt}")


def render(ch: Champion, fmt: str) -> bytes:
    if fmt == "dot":
        return to_dot(ch).encode()
    if fmt == "out":
        return to_out(ch).encode()
    if fmt == "npz":
        return to_npz(ch)
    raise ExportError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def export(ch: Champion, fmt: str, out: Path, force: bool = False) -> list[Path]:
    """Write ``ch`` as ``fmt`` to ``out`` (atomically); for npz also ``wann_forward.py`` beside it.

    Refuses to write over the input, and over an existing file unless ``force`` (a
    ``wann_forward.py`` identical to ours is left as it is). Returns the files written.
    """
    data = render(ch, fmt)
    out = Path(out)
    plan = [(out, data)]
    if fmt == "npz":
        plan.append((out.parent / FORWARD_MODULE, forward_module_source()))
    for path, _ in plan:
        if _same(path, ch.source):
            raise ExportError(f"{path}: is the input file; choose another output with -o")
        if path.is_dir():
            raise ExportError(f"{path}: is a folder")
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent}: no such folder")
    todo = []
    for path, content in plan:
        if path.exists():
            try:
                if path.read_bytes() == content:
                    continue
            except OSError:
                pass
            if not force:
                raise ExportError(f"{path}: exists (use --force to replace it)")
        todo.append((path, content))
    written = []
    for path, content in todo:
        try:
            write_bytes(path, content)
        except OSError as e:
            raise ExportError(f"{path}: cannot write ({e.strerror})") from None
        written.append(path)
    return written


def history_columns() -> list[str]:
    """The CSV's columns: ``t`` and every scalar field of a generation event (``events.Generation``), in
    the order of the schema; the champion and the population-sized fields are not history."""
    import dataclasses

    from .events import Generation

    skip = {"type", "champion", "_raw", "_checked"}
    return [f.name for f in dataclasses.fields(Generation) if f.name not in skip and f.name != "t"] + ["t"]


def history_csv(run: Path) -> bytes:
    """The run's per-generation history as CSV: one row per effective generation (the resume rule of
    ``docs/events.md`` applied: re-run generations appear once), in order. NaN and absent values are
    empty cells; infinities are ``inf``/``-inf``. ExportError when ``run`` holds no events file."""
    import csv
    import math

    from . import events, rundir

    path = Path(run) / rundir.EVENTS
    if not Path(run).is_dir():
        raise ExportError(f"{run}: --to csv needs a run directory (the history of its generations)")
    if not path.is_file():
        raise ExportError(f"{path}: no such file (is {run} a run directory?)")
    cols = history_columns()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for ev in events.effective_generations(events.read(path)):
        row = []
        for c in cols:
            x = getattr(ev, c)
            if x is None or (isinstance(x, float) and math.isnan(x)):
                row.append("")
            elif isinstance(x, float):
                row.append(repr(x) if math.isfinite(x) else ("inf" if x > 0 else "-inf"))
            else:
                row.append(str(x))
        w.writerow(row)
    return buf.getvalue().encode()


def export_history(run: Path, fmt: str, out: Path, force: bool = False) -> bool:
    """Write the history of ``run`` as ``fmt`` to ``out`` atomically; False when ``out`` already held
    exactly that. Refuses an existing different file unless ``force``, and a missing folder."""
    if fmt not in HISTORY_FORMATS:
        raise ExportError(f"unknown history format {fmt!r} (one of: {', '.join(HISTORY_FORMATS)})")
    data = history_csv(run)
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out}: is a folder")
    if not out.parent.is_dir():
        raise ExportError(f"{out.parent}: no such folder")
    if out.exists():
        try:
            if out.read_bytes() == data:
                return False
        except OSError:
            pass
        if not force:
            raise ExportError(f"{out}: exists (use --force to replace it)")
    try:
        write_bytes(out, data)
    except OSError as e:
        raise ExportError(f"{out}: cannot write ({e.strerror})") from None
    return True


__all__ = ["FORMATS", "HISTORY_FORMATS", "Champion", "ExportError", "columns", "default_output", "export",
           "export_history", "forward_module_source", "history_csv", "load_champion", "render", "to_dot", "to_npz",
           "to_out"]
