"""What a study reads of post media: the stored files behind each post's media, and the bank
items behind a media match's fact-check (its label: manipulated, ai-generated, miscaptioned…)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from claimwatch.store import schema as s
from claimwatch.store.common import chunks


@dataclass(frozen=True, slots=True)
class PostMediaFile:
    """A post's media reference and the file its bytes were stored as."""

    post_id: int
    media_key: str
    file_id: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BankItemRef:
    """A bank item as a study shows it: what the fact-checker said of the media (``label``)."""

    id: int
    factcheck_id: int
    kind: str
    label: str
    note: str | None
    #: the banked file's SHA-256 (None: imported from a hash list, no file)
    sha256: str | None


def post_media_files(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[PostMediaFile]]:
    """Per post, its media whose bytes were fetched and stored (media → fetch → file)."""
    out: dict[int, list[PostMediaFile]] = {}
    for chunk in chunks(sorted(set(post_ids))):
        q = (
            sa.select(s.Media.post_id, s.Media.media_key, s.MediaFile.id.label("file_id"), s.MediaFile.sha256)
            .join(s.MediaFetch, s.MediaFetch.media_id == s.Media.id)
            .join(s.MediaFile, s.MediaFile.id == s.MediaFetch.file_id)
            .where(s.Media.post_id.in_(chunk))
            .order_by(s.Media.post_id, s.Media.media_key)
        )
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(PostMediaFile(**row._mapping))
    return out


def bank_items_by_factcheck(conn: sa.Connection, factcheck_ids: Sequence[int]) -> dict[int, list[BankItemRef]]:
    """The bank items whose own fact-check row is one of these (a media match's fact-check)."""
    out: dict[int, list[BankItemRef]] = {}
    b = s.MediaBankItem
    for chunk in chunks(sorted(set(factcheck_ids))):
        q = (
            sa.select(b.id, b.factcheck_id, b.kind, b.label, b.note, s.MediaFile.sha256)
            .outerjoin(s.MediaFile, s.MediaFile.id == b.file_id)
            .where(b.factcheck_id.in_(chunk))
            .order_by(b.id)
        )
        for row in conn.execute(q):
            out.setdefault(row.factcheck_id, []).append(BankItemRef(**row._mapping))
    return out
