"""C2PA provenance rows (``media_provenance``): one per media file, replaced when it is read again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from claimwatch.media.records import Provenance
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
            reason=_clean(p.reason),
            read_at=s.utcnow(),
        )
    )


@dataclass(frozen=True, slots=True)
class StoredProvenance:
    """A stored read: its state and reason, and the reader's JSON kept whole (None when no
    manifest was read), from which :func:`claimwatch.media.provenance.provenance_of` rebuilds
    the whole record."""

    file_id: int
    state: str
    reason: str | None
    raw: dict | None
    reader_version: str | None


def stored_provenance(conn: sa.Connection, file_ids: Sequence[int]) -> dict[int, StoredProvenance]:
    """The stored provenance rows of these files (a file never read is missing from the result)."""
    out: dict[int, StoredProvenance] = {}
    t = s.MediaProvenance
    for chunk in chunks(sorted(set(file_ids))):
        rows = conn.execute(
            sa.select(t.file_id, t.state, t.reason, t.raw, t.reader_version).where(t.file_id.in_(chunk))
        )
        out.update((row.file_id, StoredProvenance(**row._mapping)) for row in rows)
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
