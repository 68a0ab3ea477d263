"""What the media matcher reads: the hashed files of posts, files still to hash, and the bank's
items and audio prints. Its writes go through :func:`claimwatch.store.matches.write_matches_many`
(``media=True``), like the text matcher's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from claimwatch.media.records import AudioPrint
from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.media_files import CHROMAPRINT, print_from_bytes


@dataclass(frozen=True, slots=True)
class PostFile:
    """A hashed file one post carries (through its media reference and the fetch that got it)."""

    post_id: int
    media_key: str
    file_id: int
    kind: str
    sha256: str
    md5: str


@dataclass(frozen=True, slots=True)
class FileToHash:
    file_id: int
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class BankEntry:
    """A bank item as the matcher needs it: whose fact-check a match goes to, and its exact digests."""

    item_id: int
    factcheck_id: int
    kind: str
    label: str
    sha256: str | None
    md5: str | None


def _hashed_post_files(*columns: Any) -> sa.Select[Any]:
    """``columns`` of each hashed file a collected post carries (its media reference → the fetch
    that got it → the file): the one join every reader of post media files uses."""
    return (
        sa.select(*columns)
        .join(s.MediaFetch, s.MediaFetch.media_id == s.Media.id)
        .join(s.MediaFile, s.MediaFile.id == s.MediaFetch.file_id)
        .join(s.Post, s.Post.id == s.Media.post_id)
        .where(s.MediaFile.hashed_at.is_not(None), s.MediaFile.kind.is_not(None), s.Post.collected)
    )


def posts_to_match(conn: sa.Connection, version: str) -> list[int]:
    """Posts with a hashed file that the media matcher has not matched against this bank version,
    or not since one of their files was hashed."""
    st = s.MediaMatchState
    newest = sa.func.max(s.MediaFile.hashed_at)
    rows = conn.execute(
        _hashed_post_files(s.Media.post_id)
        .outerjoin(st, st.post_id == s.Media.post_id)
        .group_by(s.Media.post_id, st.bank_version, st.matched_at)
        .having(sa.or_(st.bank_version.is_(None), st.bank_version != version, newest > st.matched_at))
        .order_by(s.Media.post_id)
    )
    return [row.post_id for row in rows]


def set_matched(conn: sa.Connection, post_ids: Sequence[int], version: str) -> None:
    """Record that these posts were matched against this bank version now."""
    now = s.utcnow()
    for chunk in chunks(sorted(set(post_ids))):
        conn.execute(sa.delete(s.MediaMatchState).where(s.MediaMatchState.post_id.in_(chunk)))
        conn.execute(
            sa.insert(s.MediaMatchState), [dict(post_id=p, bank_version=version, matched_at=now) for p in chunk]
        )


def post_files(conn: sa.Connection, post_ids: Sequence[int] | None = None) -> list[PostFile]:
    """The hashed files of collected posts (of these posts, or all), by post."""
    q = _hashed_post_files(
        s.Media.post_id,
        s.Media.media_key,
        s.MediaFile.id.label("file_id"),
        s.MediaFile.kind,
        s.MediaFile.sha256,
        s.MediaFile.md5,
    ).order_by(s.Media.post_id, s.Media.id)
    if post_ids is None:
        return [PostFile(**row._mapping) for row in conn.execute(q)]
    out: list[PostFile] = []
    for chunk in chunks(sorted(set(post_ids))):
        out.extend(PostFile(**row._mapping) for row in conn.execute(q.where(s.Media.post_id.in_(chunk))))
    return sorted(out, key=lambda f: f.post_id)


def files_to_hash(conn: sa.Connection) -> list[FileToHash]:
    """Stored files not hashed yet and not refused (a refusal is final until the file changes)."""
    f = s.MediaFile
    rows = conn.execute(
        sa.select(f.id, f.path, f.sha256)
        .where(f.hashed_at.is_(None), f.hash_error.is_(None), f.path.is_not(None))
        .order_by(f.id)
    )
    return [FileToHash(row.id, row.path, row.sha256) for row in rows]


def refuse_file(conn: sa.Connection, file_id: int, reason: str) -> None:
    """Record why a file was not hashed: it is never taken as hashed, and not tried again."""
    conn.execute(sa.update(s.MediaFile).where(s.MediaFile.id == file_id).values(hash_error=reason[:2000]))


def bank_entries(conn: sa.Connection) -> dict[int, BankEntry]:
    """Every bank item, with the digests of its banked file (or an imported MD5)."""
    i, f, h = s.MediaBankItem, s.MediaFile, s.MediaBankHash
    imported_md5 = (
        sa.select(h.value).where(h.item_id == i.id, h.algo == "md5").order_by(h.id).limit(1).scalar_subquery()
    )
    rows = conn.execute(
        sa.select(i.id, i.factcheck_id, i.kind, i.label, f.sha256, f.md5, imported_md5.label("imported_md5"))
        .outerjoin(f, f.id == i.file_id)
        .order_by(i.id)
    )
    return {
        row.id: BankEntry(
            row.id,
            row.factcheck_id,
            row.kind,
            row.label,
            row.sha256,
            row.md5 or (bytes(row.imported_md5).hex() if row.imported_md5 is not None else None),
        )
        for row in rows
    }


def bank_prints(conn: sa.Connection) -> dict[int, AudioPrint]:
    """The bank items' audio prints (of audio items and of videos' sound tracks)."""
    h = s.MediaBankHash
    rows = conn.execute(sa.select(h.item_id, h.value).where(h.algo == CHROMAPRINT).order_by(h.item_id, h.id))
    return {row.item_id: print_from_bytes(bytes(row.value)) for row in rows}
