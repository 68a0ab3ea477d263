"""What every store module shares: ``IN``-list chunks, content digests, the provenance columns
of a sourced row, and :class:`BatchCounts`, the account of one batch write."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import sanitise
from claimwatch.store import schema as s

#: SQLite allows 32,766 bound parameters; stay well below it for ``IN`` lists.
_CHUNK = 900


def chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def lease(
    conn: sa.Connection,
    pick: sa.Select[Any],
    key: sa.ColumnElement[Any],
    still_due: sa.ColumnElement[bool],
    **values: Any,
) -> list[Any]:
    """Claim the rows ``pick`` selects (their ``key`` column): locked ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so two workers never take one row (on SQLite the caller's write transaction already
    serialises claimers), then marked with ``values`` where still due. Returns the keys picked; the
    caller reads back the rows its update marked. The queues of media fetches, alert deliveries and
    metric re-fetches all claim work this way."""
    table = key.table  # type: ignore[attr-defined]
    ids = list(conn.execute(pick.with_for_update(of=table, skip_locked=True)).scalars())
    if ids:
        conn.execute(sa.update(table).where(key.in_(ids), still_due).values(**values))
    return ids


def json_digest(obj: Any) -> str:
    # surrogatepass: a lone surrogate (bad input) still hashes, stably, instead of raising
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ).hexdigest()


@dataclass
class BatchCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    snapshots_added: int = 0
    conflicts: list[r.Rejected] = field(default_factory=list)
    #: records the store recognised as a second copy of a row the same file already wrote
    duplicates: list[r.Rejected] = field(default_factory=list)
    #: versions of stored posts that were observed before the stored one: kept apart, not applied
    older_versions: int = 0
    #: records the database refused (already quarantined by the caller, see ``ingest._refused``)
    refused: list[r.Rejected] = field(default_factory=list)
    #: records with a key the store cannot hold (see :mod:`~claimwatch.store.sanitise`)
    rejected: list[r.Rejected] = field(default_factory=list)
    #: fields the store could not hold as they came: stored as unknown or cleaned
    field_warnings: list[r.Rejected] = field(default_factory=list)
    #: the store id of every post the batch wrote or found unchanged, by (platform, platform id)
    ids: dict[tuple[str, str], int] = field(default_factory=dict)

    def take(self, fitted: sanitise.Fitted[Any]) -> list[Any]:
        """Note what :mod:`~claimwatch.store.sanitise` refused or changed; returns what can be written."""
        self.rejected += fitted.rejected
        self.field_warnings += fitted.warnings
        return fitted.records

    def add(self, other: BatchCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.snapshots_added += other.snapshots_added
        self.older_versions += other.older_versions
        self.conflicts.extend(other.conflicts)
        self.duplicates.extend(other.duplicates)
        self.refused.extend(other.refused)
        self.rejected.extend(other.rejected)
        self.field_warnings.extend(other.field_warnings)
        self.ids.update(other.ids)


_SOURCED = s.Post.__table__.c


def provenance(raw: dict[str, Any], source: r.SourceRef | None, digest: str, run_id: int | None) -> dict[str, Any]:
    """The SourcedRecord columns of a row (where it came from is escaped to fit, never refused)."""

    def fit(value: str | None, column: sa.Column[Any]) -> str | None:
        return None if value is None else sanitise.escape_text(value, sanitise.column_limit(column))

    return dict(
        raw=raw,
        source_format=fit(source and source.format, _SOURCED.source_format),
        source_path=fit(source and source.path, _SOURCED.source_path),
        source_location=fit(source and source.location, _SOURCED.source_location),
        content_hash=digest,
        ingest_run_id=run_id,
    )


def raw_text(raw: Any) -> str:
    return json.dumps(raw, ensure_ascii=False, default=str)
