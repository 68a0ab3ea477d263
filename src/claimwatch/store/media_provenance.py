"""C2PA provenance rows (``media_provenance``): one per media file, replaced when it is read again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa

from claimwatch.media.provenance import Provenance, ProvenanceState, from_report
from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.sanitise import strip_text


def _clean(value: str | None) -> str | None:
    return None if value is None else strip_text(value)


def save_provenance(conn: sa.Connection, file_id: int, p: Provenance) -> None:
    """The file's provenance row, replacing an earlier read (in the caller's transaction)."""
    conn.execute(sa.delete(s.MediaProvenance).where(s.MediaProvenance.file_id == file_id))
    conn.execute(
        sa.insert(s.MediaProvenance).values(
            file_id=file_id,
            state=p.state.value,
            claim_generator=_clean(p.claim_generator),
            digital_source_type=_clean(p.digital_source_type),
            ai_declared=p.ai_declared,
            issuer=_clean(p.issuer),
            actions=[asdict(a) for a in p.actions],
            validation=list(p.validation),
            raw=p.raw,
            reader_version=p.reader_version,
            read_at=s.utcnow(),
        )
    )


def provenance_of(conn: sa.Connection, file_ids: Sequence[int]) -> dict[int, Provenance]:
    """The stored provenance of these files (a file never read is missing from the result). A
    manifest read is rebuilt from the reader's JSON kept whole; an absent or unreadable one has
    its state only (the table has no column for the reason)."""
    out: dict[int, Provenance] = {}
    t = s.MediaProvenance
    for chunk in chunks(sorted(set(file_ids))):
        for row in conn.execute(sa.select(t.file_id, t.state, t.raw, t.reader_version).where(t.file_id.in_(chunk))):
            out[row.file_id] = (
                from_report(row.raw, row.reader_version)
                if row.raw is not None
                else Provenance(ProvenanceState(row.state), reader_version=row.reader_version)
            )
    return out


def files_without_provenance(conn: sa.Connection, limit: int | None = None) -> list[tuple[int, str]]:
    """Hashed files with a stored path and no provenance row yet: (file id, path in the media folder)."""
    f = s.MediaFile
    q = (
        sa.select(f.id, f.path)
        .outerjoin(s.MediaProvenance, s.MediaProvenance.file_id == f.id)
        .where(f.hashed_at.is_not(None), f.path.is_not(None), s.MediaProvenance.file_id.is_(None))
        .order_by(f.id)
    )
    if limit is not None:
        q = q.limit(limit)
    return [(row.id, row.path) for row in conn.execute(q)]
