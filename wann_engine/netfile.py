"""Network files: the project's JSON format and the original ``.out`` matrix format.

The original format is CSV text, N rows by N+1 columns: a weight matrix in
expression order (row = source, column = destination; 0 = no connection,
``nan`` = disabled) and, in the last column, each node's activation id. Any
non-zero, non-NaN entry is a connection (its value is ignored: every connection
carries the shared weight).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from .docformat import check_header
from .genome import BIAS, HIDDEN, INPUT, OUTPUT, Genome

FORMAT = "wann-network"
VERSION = 1


class NetworkFileError(ValueError):
    """A network file that cannot be read; the message says why."""


def genome_from_matrix(mat: np.ndarray, n_in: int, n_out: int) -> Genome:
    n = mat.shape[0]
    if mat.ndim != 2 or mat.shape[1] != n + 1:
        raise NetworkFileError(f"expected N rows of N+1 columns, got {mat.shape}")
    if n < 1 + n_in + n_out:
        raise NetworkFileError(f"{n} nodes cannot hold a bias, {n_in} inputs and {n_out} outputs")
    w = mat[:, :n]
    acts = mat[:, n]
    if not np.isfinite(acts).all() or (acts != np.round(acts)).any():
        raise NetworkFileError("the activation column must hold whole numbers")
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
    g.validate()
    return g


def read_out(path: str | Path, n_in: int, n_out: int) -> Genome:
    try:
        text = Path(path).read_text()
        mat = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)
    except (OSError, ValueError) as e:
        raise NetworkFileError(f"{path}: not a readable .out matrix ({e})") from None
    return genome_from_matrix(mat, n_in, n_out)


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


def read_json(path: str | Path) -> tuple[Genome, dict[str, Any]]:
    try:
        doc = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise NetworkFileError(f"{path}: not a readable JSON network ({e})") from None
    check_header(doc, FORMAT, VERSION, path, NetworkFileError)
    try:
        g = Genome.from_dict(doc["genome"])
    except (KeyError, TypeError, ValueError) as e:
        raise NetworkFileError(f"{path}: damaged genome ({e})") from None
    return g, doc


def read_any(path: str | Path, n_in: int, n_out: int) -> Genome:
    """A network file in either format, told apart by content."""
    p = Path(path)
    try:
        head = p.read_bytes()[:64].lstrip()
    except OSError as e:
        raise NetworkFileError(f"{path}: {e.strerror}") from None
    if head.startswith(b"{"):
        g, doc = read_json(p)
        if (doc.get("n_inputs"), doc.get("n_outputs")) != (n_in, n_out):
            raise NetworkFileError(
                f"{path}: network has {doc.get('n_inputs')} inputs/{doc.get('n_outputs')} outputs, "
                f"task needs {n_in}/{n_out}"
            )
        return g
    return read_out(p, n_in, n_out)
