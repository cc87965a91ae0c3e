"""The header every JSON file of the project carries: ``format`` (what it is) and ``version``."""

from __future__ import annotations

from typing import Any


def check_header(doc: Any, fmt: str, version: int, where: object, error: type[Exception],
                 label: str | None = None) -> dict[str, Any]:
    """``doc`` if it is a ``fmt`` document of ``version``; else raise ``error`` naming ``where``."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(f"{where}: not a {fmt} file")
    if doc.get("version") != version:
        raise error(f"{where}: unsupported {label or fmt} version {doc.get('version')!r}")
    return doc
