"""Ingest runs (what was read, when, with which outcome) and the quarantine (records that could
not be used, with file, location and reason)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import sanitise
from claimwatch.store import schema as s
from claimwatch.store.common import chunks, json_digest
from claimwatch.store.db import retry_races
from claimwatch.store.rows import QuarantineEntry, StoredRun

# --------------------------------------------------------------------------- runs


def start_run(conn: sa.Connection, kind: str, files: list[str], options: dict[str, Any]) -> int:
    return conn.execute(
        sa.insert(s.IngestRun).values(kind=kind, files=files, options=options, status="running", counts={})
    ).inserted_primary_key[0]


def running_runs(conn: sa.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [
        (row.id, row.options or {})
        for row in conn.execute(sa.select(s.IngestRun.id, s.IngestRun.options).where(s.IngestRun.status == "running"))
    ]


def mark_interrupted(conn: sa.Connection, run_ids: Sequence[int]) -> None:
    if run_ids:
        conn.execute(sa.update(s.IngestRun).where(s.IngestRun.id.in_(list(run_ids))).values(status="interrupted"))


def finish_run(conn: sa.Connection, run_id: int, status: str, counts: dict[str, Any]) -> None:
    conn.execute(
        sa.update(s.IngestRun)
        .where(s.IngestRun.id == run_id)
        .values(status=status, counts=counts, finished_at=s.utcnow())
    )


# --------------------------------------------------------------------------- quarantine


@retry_races
def add_quarantine(
    conn: sa.Connection, run_id: int | None, kind: str, entries: Sequence[tuple[r.Rejected, str]]
) -> int:
    """Store (rejection, action) pairs; returns how many were new (re-runs add none)."""
    if not entries:
        return 0
    rows = {}
    q = s.Quarantine.__table__.c
    for rej, action in entries:
        fp = json_digest([rej.source.path, rej.source.location, rej.reason, action])
        # Escaped, never refused: the quarantine is where unstorable input goes.
        rows[fp] = dict(
            fingerprint=fp,
            ingest_run_id=run_id,
            kind=kind,
            action=action,
            source_path=sanitise.escape_text(rej.source.path),
            location=sanitise.escape_text(rej.source.location, sanitise.column_limit(q.location)),
            source_format=sanitise.escape_text(rej.source.format, sanitise.column_limit(q.source_format)),
            reason=sanitise.escape_text(rej.reason),
            raw=sanitise.escape_text(rej.raw),
        )
    existing = set()
    for chunk in chunks(list(rows)):
        existing.update(conn.scalars(sa.select(s.Quarantine.fingerprint).where(s.Quarantine.fingerprint.in_(chunk))))
    new = [row for fp, row in rows.items() if fp not in existing]
    if new:
        conn.execute(sa.insert(s.Quarantine), new)
    return len(new)


def list_quarantine(
    conn: sa.Connection, *, action: str | None = None, path: str | None = None, limit: int = 50, offset: int = 0
) -> list[QuarantineEntry]:
    q = sa.select(s.Quarantine).order_by(s.Quarantine.id).limit(limit).offset(offset)
    if action:
        q = q.where(s.Quarantine.action == action)
    if path:
        q = q.where(s.Quarantine.source_path.contains(path))
    return [QuarantineEntry(**row._mapping) for row in conn.execute(q.with_only_columns(*s.Quarantine.__table__.c))]


def ingest_runs(conn: sa.Connection) -> list[StoredRun]:
    """Finished ingest runs with their files: where a study's data came from, and when."""
    q = (
        sa.select(
            s.IngestRun.id,
            s.IngestRun.kind,
            s.IngestRun.started_at,
            s.IngestRun.finished_at,
            s.IngestRun.status,
            s.IngestRun.files,
            s.IngestRun.counts,
        )
        .where(s.IngestRun.status != "running")
        .order_by(s.IngestRun.id)
    )
    return [StoredRun(**row._mapping) for row in conn.execute(q)]


def dated_files(conn: sa.Connection, kind: str, fmt: str, dated_by: str) -> set[datetime]:
    """Dates of the files of one format that completed runs read in full, dated by ``dated_by``
    (e.g. "--snapshot-date"); the runs' own reports are the record of what was read."""
    out: set[datetime] = set()
    for counts in conn.scalars(
        sa.select(s.IngestRun.counts).where(s.IngestRun.kind == kind, s.IngestRun.status == "completed")
    ):
        for f in (counts or {}).get("files", []):
            if (
                f.get("format") == fmt
                and not f.get("error")
                and f.get("observed_at")
                and f.get("observed_at_source") == dated_by
            ):
                out.add(datetime.fromisoformat(f["observed_at"]))
    return out
