"""The audit log as a file: JSON Lines (one entry per line, ``before``/``after`` as objects) or
CSV (``before``/``after`` as JSON text; cells a spreadsheet would run as a formula are prefixed
with an apostrophe, as in every claimwatch CSV). Times are RFC 3339 UTC."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from claimwatch import atomic
from claimwatch.analysis.jsonable import jsonable
from claimwatch.reports.render import csv_cell
from claimwatch.store.rows import AuditEntry

FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "before", "after")


def export(entries: Sequence[AuditEntry], out: str | Path | IO[str], fmt: str) -> int:
    """Write ``entries`` to ``out`` (a path, replaced whole, or an open text stream)."""
    if fmt not in FORMATS:
        raise ValueError(f"audit export format {fmt!r}: use jsonl or csv")
    if isinstance(out, str | Path):
        with atomic.replacing(Path(out), "w", encoding="utf-8", newline="") as fh:
            return _write(entries, fh, fmt)
    return _write(entries, out, fmt)


def _write(entries: Sequence[AuditEntry], fh: IO[str], fmt: str) -> int:
    rows = [jsonable(e) for e in entries]
    if fmt == "jsonl":
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        return len(rows)
    writer = csv.writer(fh)
    writer.writerow(COLUMNS)
    for row in rows:
        cells = [_json_cell(row[c]) if c in ("before", "after") else row[c] for c in COLUMNS]
        writer.writerow([csv_cell(c) for c in cells])
    return len(rows)


def _json_cell(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)
