"""``wann-engine export``: a network as Graphviz DOT, the original ``.out`` matrix, or ``.npz`` + a numpy forward.

Registered on the app of ``wann_engine.cli_common`` (``wann_engine.cli`` imports this module).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .cli_common import UserError, app
from .exits import Exit


@app.command()
def export(
    file: Annotated[Path, typer.Argument(
        help="Network: project JSON, original .out, tuned weights, or a run directory (its champion)")],
    to: Annotated[str | None, typer.Option(
        "--to", help="dot, out or npz (default: from the suffix of -o); csv: a run's per-generation history")] = None,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="Output file; '-' = stdout (dot, out). Default: FILE with the format's suffix, "
                               "or <run>.<format> here for a run directory")] = None,
    task: Annotated[str | None, typer.Option(
        help="Task of an .out file outside a run directory (default swingup); must match the file's own")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output file")] = False,
) -> int:
    """Export a network: Graphviz DOT (layered, labelled), the original .out matrix, or an .npz with
    wann_forward.py beside it (load and run the network with numpy alone). With --to csv, a run
    directory's per-generation history (every scalar of each generation, resumes applied)."""
    from .export import (
        FORMATS,
        HISTORY_FORMATS,
        ExportError,
        default_output,
        export_history,
        history_csv,
        load_champion,
        render,
    )
    from .export import export as write_export

    fmt = to
    known = (*FORMATS, *HISTORY_FORMATS)
    if fmt is None:
        suffix = output.suffix.lstrip(".") if output is not None and str(output) != "-" else ""
        if suffix not in known:
            raise UserError(f"--to is missing (one of: {', '.join(known)})")
        fmt = suffix
    if fmt not in known:
        raise UserError(f"--to {fmt!r}: unknown format (one of: {', '.join(known)})")
    if fmt in HISTORY_FORMATS:
        try:
            if output is not None and str(output) == "-":
                sys.stdout.write(history_csv(file).decode())
                return Exit.OK
            out = output if output is not None else default_output(file, fmt)
            changed = export_history(file, fmt, out, force=force)
        except ExportError as e:
            raise UserError(str(e)) from None
        print(f"{out}  (per-generation history)" + ("" if changed else "  unchanged"))
        return Exit.OK
    try:
        ch = load_champion(file, task)
        if output is not None and str(output) == "-":
            if fmt == "npz":
                raise UserError("-o -: an npz cannot go to stdout; name a file")
            sys.stdout.write(render(ch, fmt).decode())
            return Exit.OK
        out = output if output is not None else default_output(file, fmt)
        written = write_export(ch, fmt, out, force=force)
    except ExportError as e:
        raise UserError(str(e)) from None
    what = f"{ch.net.n_nodes} nodes, {ch.net.n_conns} connections, task {ch.task}"
    print(f"{out}  ({what})" + ("" if out in written else "  unchanged"))
    for extra in written:
        if extra != out:
            print(f"{extra}  (numpy forward pass: load, forward)")
    return Exit.OK
