"""Network files: the project's JSON format, the original ``.out`` matrix format and tuned weights.

``open_network`` is the one door to them: ``eval``, ``protocol``, ``export``, the weight explorer and
the console's network pane all read networks through it. Every file is checked to be a feed-forward
WANN with known activations before anything runs it; a file that is not is refused with the reason
(:class:`NetworkFileError`).

The original format is CSV text, N rows by N+1 columns: a weight matrix in
expression order (row = source, column = destination; 0 = no connection,
``nan`` = disabled) and, in the last column, each node's activation id. Any
non-zero, non-NaN entry is a connection (its value is ignored: every connection
carries the shared weight).

Tuned weights (``wann-engine protocol``, the explorer's save) are JSON::

    {"format": "wann-tuned-weights", "version": 1, "task": "swingup",
     "shared_weight": 1.05,                 # the starting point of the fine-tuning
     "connections": [[src, dst, weight], ...],  # src/dst = node positions of the base network
     "scores": {"trials": 100, "seed": 0, "mean": ..., "std": ...},
     "network": {...}}                      # the base network: a complete "wann-network" document

Node positions are those of the base network's expression order (0 bias, 1..n_in inputs, hidden
nodes in topological order, outputs last): ``Network.edges()``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from .activations import NAMES
from .docformat import check_header
from .genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome, Network

if TYPE_CHECKING:
    from .config import Config
    from .tasks import Task

FORMAT = "wann-network"
VERSION = 1
TUNED_FORMAT = "wann-tuned-weights"
TUNED_VERSION = 1
_I64 = (-(2**63), 2**63 - 1)
_ACT_IDS = frozenset(NAMES)


class NetworkFileError(ValueError):
    """A network file that cannot be read; the message says why."""


# --- checks: a feed-forward WANN with known activations --------------------------------------------------
def _int_rows(rows: Any, width: int, what: str) -> np.ndarray:
    """A JSON list of ``width``-long rows of whole numbers (no floats, no booleans) as int64."""
    if not isinstance(rows, list):
        raise NetworkFileError(f"{what} must be a list of rows")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise NetworkFileError(f"{what} row {i} must hold {width} numbers")
        for v in row:
            if type(v) is not int:
                raise NetworkFileError(f"{what} row {i}: {v!r} is not a whole number")
            if not _I64[0] <= v <= _I64[1]:
                raise NetworkFileError(f"{what} row {i}: {v} does not fit in 64 bits")
    return np.array(rows, dtype=np.int64).reshape(-1, width)


def genome_from_rows(nodes: Any, conns: Any) -> Genome:
    """The genome of a JSON document's ``nodes`` [id, type, act] and ``conns`` [innov, src, dst, on] rows."""
    n = _int_rows(nodes, 3, "nodes")
    c = _int_rows(conns, 4, "conns")
    if not np.isin(n[:, 1], (INPUT, OUTPUT, HIDDEN, BIAS)).all():
        bad = n[~np.isin(n[:, 1], (INPUT, OUTPUT, HIDDEN, BIAS)), 1][0]
        raise NetworkFileError(f"unknown node type {bad} (1 input, 2 output, 3 hidden, 4 bias)")
    if not np.isin(c[:, 3], (0, 1)).all():
        raise NetworkFileError("a connection's enabled flag must be 0 or 1")
    acts = n[:, 2]
    if ((acts < -128) | (acts > 127)).any():  # before the int8 store; check_network names the node
        bad = int(np.flatnonzero((acts < -128) | (acts > 127))[0])
        raise NetworkFileError(f"node {n[bad, 0]}: unknown activation id {acts[bad]}")
    g = Genome(n[:, 0].copy(), n[:, 1].astype(np.int8), acts.astype(np.int8), c[:, 0].copy(), c[:, 1].copy(),
               c[:, 2].copy(), c[:, 3].astype(bool))
    check_network(g)
    return g


def check_network(g: Genome) -> None:
    """Raise :class:`NetworkFileError` unless ``g`` is a feed-forward WANN with known activations: one bias
    first, known node types and activations, no connection into the bias or an input, none from a node
    to itself or twice between the same nodes, and every connection (enabled or not) running forward in
    the evaluation order (bias, inputs, hidden nodes, outputs), so that no cycle can exist."""
    types = g.node_type
    if types.size == 0 or types[0] != BIAS or np.count_nonzero(types == BIAS) != 1:
        raise NetworkFileError("the first node must be the bias, and the only one")
    if len(np.unique(g.node_id)) != len(g.node_id):
        raise NetworkFileError("duplicate node ids")
    computed = (types == HIDDEN) | (types == OUTPUT)
    known = np.isin(g.node_act, tuple(_ACT_IDS))
    bad = np.flatnonzero(computed & ~known) if computed.any() else []
    if len(bad):
        raise NetworkFileError(f"node {g.node_id[bad[0]]}: unknown activation id {g.node_act[bad[0]]} "
                               f"(known: {min(_ACT_IDS)}..{max(_ACT_IDS)})")
    bad = np.flatnonzero(~computed & ~known & (g.node_act != 0))
    if len(bad):
        raise NetworkFileError(f"node {g.node_id[bad[0]]}: unknown activation id {g.node_act[bad[0]]}")
    ids = {int(i): k for k, i in enumerate(g.node_id.tolist())}
    pairs: set[tuple[int, int]] = set()
    for s, d in zip(g.conn_src.tolist(), g.conn_dst.tolist(), strict=True):
        if s not in ids or d not in ids:
            raise NetworkFileError(f"connection {s} -> {d} refers to a node that does not exist")
        if types[ids[d]] in (BIAS, INPUT):
            raise NetworkFileError(f"connection {s} -> {d} ends at the bias or an input")
        if s == d:
            raise NetworkFileError(f"connection {s} -> {d} loops on its node")
        if (s, d) in pairs:
            raise NetworkFileError(f"connection {s} -> {d} appears twice")
        pairs.add((s, d))
    try:
        net = g.network()
    except ValueError as e:
        raise NetworkFileError(f"not feed-forward: {e}") from None
    pos = {int(i): p for p, i in enumerate(net.node_ids.tolist())}
    for s, d in pairs:
        if pos[s] >= pos[d]:
            raise NetworkFileError(f"connection {s} -> {d} runs against the evaluation order "
                                   "(an output feeding an earlier node: not feed-forward)")


# --- the original matrix ------------------------------------------------------------------------------
def genome_from_matrix(mat: np.ndarray, n_in: int, n_out: int) -> Genome:
    if mat.ndim != 2 or mat.shape[1] != mat.shape[0] + 1:
        raise NetworkFileError(f"expected N rows of N+1 columns, got {mat.shape}")
    n = mat.shape[0]
    if n < 1 + n_in + n_out:
        raise NetworkFileError(f"{n} nodes cannot hold a bias, {n_in} inputs and {n_out} outputs")
    w = mat[:, :n]
    acts = mat[:, n]
    if not np.isfinite(acts).all() or (acts != np.round(acts)).any():
        raise NetworkFileError("the activation column must hold whole numbers")
    if ((acts < 0) | (acts > max(_ACT_IDS))).any():
        bad = int(np.flatnonzero((acts < 0) | (acts > max(_ACT_IDS)))[0])
        raise NetworkFileError(f"row {bad + 1}: unknown activation id {acts[bad]:g}")
    types = np.full(n, HIDDEN, dtype=np.int8)
    types[0] = BIAS
    types[1 : 1 + n_in] = INPUT
    types[n - n_out :] = OUTPUT
    present = w != 0  # NaN != 0 too: disabled genes are kept
    src, dst = np.nonzero(present)
    if (src >= dst).any():
        raise NetworkFileError("the matrix is not strictly upper-triangular (not feed-forward)")
    if np.isin(dst, np.arange(1 + n_in)).any():
        raise NetworkFileError("a connection ends at the bias or an input")
    on = ~np.isnan(w[src, dst])
    # node genes in the original's order: bias, inputs, outputs, hidden
    order = np.concatenate([np.arange(1 + n_in), np.arange(n - n_out, n), np.arange(1 + n_in, n - n_out)])
    g = Genome(
        order.astype(np.int64),
        types[order],
        acts[order].astype(np.int8),
        np.arange(len(src), dtype=np.int64),
        src.astype(np.int64),
        dst.astype(np.int64),
        on,
    )
    check_network(g)
    return g


def read_out(path: str | Path, n_in: int, n_out: int) -> Genome:
    try:
        text = Path(path).read_text()
        with warnings.catch_warnings():  # an empty file: refused below, not warned about
            warnings.simplefilter("ignore")
            mat = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise NetworkFileError(f"{path}: not a readable .out matrix ({e})") from None
    try:
        return genome_from_matrix(mat, n_in, n_out)
    except NetworkFileError as e:
        raise NetworkFileError(f"{path}: {e}") from None


def to_matrix(g: Genome) -> np.ndarray:
    net = g.network()
    n = net.n_nodes
    pos = {nid: p for p, nid in enumerate(net.node_ids.tolist())}
    mat = np.zeros((n, n + 1))
    for s, d, on in zip(g.conn_src.tolist(), g.conn_dst.tolist(), g.conn_on.tolist(), strict=True):
        mat[pos[s], pos[d]] = 1.0 if on else np.nan
    mat[:, n] = net.act
    return mat


def out_text(g: Genome) -> str:
    """The network as the original writes it: CSV, 3 significant digits."""
    buf = io.StringIO()
    np.savetxt(buf, to_matrix(g), delimiter=",", fmt="%1.2e")
    return buf.getvalue()


def write_out(g: Genome, path: str | Path) -> None:
    from .atomic import write_bytes

    write_bytes(Path(path), out_text(g).encode())


# --- project JSON -----------------------------------------------------------------------------------------
def network_document(g: Genome, task: Any, **meta: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "task": task.name,
        "n_inputs": task.n_inputs,
        "n_outputs": task.n_outputs,
        "input_names": list(task.input_names),
        "output_names": list(task.output_names),
        "genome": g.to_dict(),
        **meta,
    }


def write_json(g: Genome, path: str | Path, task: Any, **meta: Any) -> None:
    from .atomic import write_bytes
    from .events import encode

    write_bytes(Path(path), encode(network_document(g, task, **meta), indent=True))


def _load_doc(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as e:
        raise NetworkFileError(f"{path}: {e.strerror or e}") from None
    except orjson.JSONDecodeError as e:
        raise NetworkFileError(f"{path}: not valid JSON ({e})") from None


def _genome_of(doc: dict[str, Any], path: Path, what: str) -> Genome:
    gd = doc.get("genome")
    if not isinstance(gd, dict):
        raise NetworkFileError(f"{path}: damaged {what} (no genome)")
    try:
        return genome_from_dict(gd)
    except NetworkFileError as e:
        raise NetworkFileError(f"{path}: {e}") from None


def read_json(path: str | Path) -> tuple[Genome, dict[str, Any]]:
    p = Path(path)
    doc = check_header(_load_doc(p), FORMAT, VERSION, p, NetworkFileError)
    return _genome_of(doc, p, "network"), doc


def read_any(path: str | Path, n_in: int, n_out: int) -> Genome:
    """A network file in either format (told apart by content) with ``n_in`` inputs and ``n_out`` outputs."""
    p = Path(path)
    try:
        head = p.read_bytes()[:64].lstrip()
    except OSError as e:
        raise NetworkFileError(f"{path}: {e.strerror}") from None
    if head.startswith(b"{"):
        g, _ = read_json(p)
        if (g.n_in, g.n_out) != (n_in, n_out):
            raise NetworkFileError(f"{path}: network has {g.n_in} inputs/{g.n_out} outputs, "
                                   f"task needs {n_in}/{n_out}")
        return g
    return read_out(p, n_in, n_out)


# --- tuned weights ------------------------------------------------------------------------------------------
def tuned_document(genome: Genome, task: Any, weights: np.ndarray, shared_weight: float,
                   scores: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    net = genome.network()
    e = net.edges()
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (net.n_conns,):
        raise ValueError(f"{net.n_conns} connections need {net.n_conns} weights, got shape {weights.shape}")
    return {"format": TUNED_FORMAT, "version": TUNED_VERSION, "task": task.name, "shared_weight": float(shared_weight),
            "connections": [[int(s), int(d), w] for (s, d), w in zip(e.tolist(), weights.tolist(), strict=True)],
            "scores": scores or {}, **meta, "network": network_document(genome, task)}


def save_tuned(path: str | Path, genome: Genome, task: Any, weights: np.ndarray, shared_weight: float,
               scores: dict[str, Any] | None = None, **meta: Any) -> Path:
    """Write a tuned-weights file (one connection per line)."""
    from .atomic import write_bytes

    path = Path(path)
    doc = tuned_document(genome, task, weights, shared_weight, scores, **meta)
    conns = doc.pop("connections")
    text = orjson.dumps({**doc, "connections": None}, option=orjson.OPT_INDENT_2).decode()
    rows = ",\n".join("    " + orjson.dumps(c).decode() for c in conns)
    text = text.replace('"connections": null', '"connections": [\n' + rows + "\n  ]", 1)
    write_bytes(path, text.encode() + b"\n")
    return path


def _tuned_weights(doc: dict[str, Any], genome: Genome, path: Path) -> np.ndarray:
    """A tuned file's connection weights in ``Network.edges()`` order of the plain expression."""
    try:
        conns = np.asarray(doc["connections"], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise NetworkFileError(f"{path}: damaged tuned-weights file ({e})") from None
    net = genome.network()
    order = np.lexsort((conns[:, 0], conns[:, 1]))  # by destination, then source: the edges() order
    conns = conns[order]
    if conns.shape[0] != net.n_conns or not np.array_equal(conns[:, :2], net.edges()):
        raise NetworkFileError(f"{path}: the connections do not match the base network")
    if not np.isfinite(conns[:, 2]).all():
        raise NetworkFileError(f"{path}: a connection weight is not a finite number")
    return conns[:, 2].copy()


# --- the one door -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loaded:
    """A network file, read and checked, with the task that runs it.

    ``weights``: per-connection weights (``Network.edges()`` order) of a tuned-weights file, else None;
    ``names``: (input names, output names), the file's own when it has them, else the task's;
    ``doc``: the JSON document (a tuned file: its own; ``{}`` for ``.out``);
    ``keep_disabled_hidden``: the file's own ``keep_disabled_hidden`` field, else the run's config when the
    file lies in a run directory; ``genome`` is already :meth:`Genome.expressed` under it (the kept
    connections switched on), so it and ``network()`` are the network the run scored.
    """

    genome: Genome
    task: Task
    weights: np.ndarray | None
    names: tuple[tuple[str, ...], tuple[str, ...]]
    path: Path
    doc: dict[str, Any] = field(default_factory=dict)
    shared_weight: float | None = None  # a tuned file's starting weight
    keep_disabled_hidden: bool = False
    config: Config | None = None

    def network(self) -> Network:
        return self.genome.network(self.keep_disabled_hidden)


def run_config(folder: Path) -> Config | None:
    """The config of the run directory ``folder``, or None when it is not one (or unreadable)."""
    from . import rundir

    if not (folder / rundir.CONFIG).is_file():
        return None
    try:
        return rundir.read_config(folder)
    except (rundir.RunDirError, OSError, ValueError, TypeError):
        return None


def _names(doc: dict[str, Any], key: str, n: int) -> tuple[str, ...] | None:
    got = doc.get(key)
    return tuple(str(x) for x in got) if isinstance(got, list) and len(got) == n else None


def open_network(path: str | Path, task: str | Task | None = None, cfg: Config | None = None) -> Loaded:
    """Read a network file: project JSON, the original ``.out``, tuned weights, or a run directory (its
    champion). ``task`` (a name or a task) is the one to run it on; None: the file's own, else the run's,
    else ``tasks.DEFAULT_TASK``. Raises :class:`NetworkFileError` (or ``TaskError`` for an unknown task)."""
    from . import rundir, tasks

    p = Path(path)
    if p.is_dir():
        if run_config(p) is None:
            raise NetworkFileError(f"{p}: not a run directory (no readable {rundir.CONFIG})")
        for name in (rundir.CHAMPION_JSON, rundir.CHAMPION_OUT):
            if (p / name).is_file():
                return open_network(p / name, task, cfg)
        raise NetworkFileError(f"{p}: the run has no champion yet")
    if not p.is_file():
        raise NetworkFileError(f"{p}: no such file")
    cfg = cfg if cfg is not None else run_config(p.parent)
    keep = bool(cfg.keep_disabled_hidden) if cfg is not None else False
    try:
        head = p.read_bytes()[:64].lstrip()
    except OSError as e:
        raise NetworkFileError(f"{p}: {e.strerror}") from None
    doc: dict[str, Any] = {}
    net_doc: dict[str, Any] = {}
    weights = shared = None
    if head.startswith(b"{"):
        raw = _load_doc(p)
        if isinstance(raw, dict) and raw.get("format") == TUNED_FORMAT:
            doc = check_header(raw, TUNED_FORMAT, TUNED_VERSION, p, NetworkFileError)
            net_doc = doc.get("network") if isinstance(doc.get("network"), dict) else {}
            genome = _genome_of(net_doc, p, "tuned-weights file")
            weights = _tuned_weights(doc, genome, p)
            sw = doc.get("shared_weight")
            shared = float(sw) if isinstance(sw, int | float) and np.isfinite(sw) else None
            keep = False  # tuned weights are defined on the plain expression
        else:
            doc = net_doc = check_header(raw, FORMAT, VERSION, p, NetworkFileError)
            genome = _genome_of(doc, p, "network")
        file_task = doc.get("task") if isinstance(doc.get("task"), str) else None
    else:
        file_task = None
        genome = None
    name = task if isinstance(task, str) else None
    t = task if task is not None and not isinstance(task, str) else tasks.get(
        name or file_task or (cfg.task if cfg is not None else tasks.DEFAULT_TASK), cfg)
    if genome is None:
        genome = read_out(p, t.n_inputs, t.n_outputs)
    if (genome.n_in, genome.n_out) != (t.n_inputs, t.n_outputs):
        whose = f"is for task {file_task!r}, not {t.name!r}" if file_task and file_task != t.name else \
            f"does not fit task {t.name!r}"
        raise NetworkFileError(f"{p}: the network {whose} ({genome.n_in} inputs/{genome.n_out} outputs, "
                               f"the task needs {t.n_inputs}/{t.n_outputs})")
    if isinstance(net_doc.get("keep_disabled_hidden"), bool) and weights is None:
        keep = net_doc["keep_disabled_hidden"]  # the file says how its run expressed it
    genome = genome.expressed(keep)  # kept connections switched on: the same network under any semantics
    names = (_names(net_doc, "input_names", genome.n_in) or tuple(t.input_names),
             _names(net_doc, "output_names", genome.n_out) or tuple(t.output_names))
    return Loaded(genome, t, weights, names, p, doc, shared, keep, cfg)


def load_tuned(path: str | Path) -> Loaded:
    """A tuned-weights file (``weights`` set), on the task it names."""
    got = open_network(path)
    if got.weights is None:
        raise NetworkFileError(f"{path}: not a {TUNED_FORMAT} file")
    return got


def genome_from_dict(d: Any) -> Genome:
    """A genome in ``Genome.to_dict`` form (a champion event, a network document's ``genome``), checked."""
    if not isinstance(d, dict):
        raise NetworkFileError("a genome must be an object with nodes and conns")
    return genome_from_rows(d.get("nodes"), d.get("conns"))
