"""The media bank: debunked items, their hashes and their own fact-check rows (all its SQL).

An item is keyed by (``origin``, ``external_id``): a banked file is ``('file', sha256)``, a hash
list entry is (the list's origin, its id there), so re-adding a file or re-importing a list
updates an item instead of adding a twin. Each item points at its **own** fact-check row
(``source_format`` :data:`SOURCE_FORMAT`, the debunking review's URL), so a media match is an
ordinary ``matches`` row (see :class:`claimwatch.store.schema.MediaBankItem`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.media.hashlist import ListedPdq
from claimwatch.media.records import MediaHashes
from claimwatch.records import SourceRef
from claimwatch.store import queue_table
from claimwatch.store import schema as s
from claimwatch.store.common import chunks, json_digest, provenance
from claimwatch.store.media_files import PDQ, hash_rows

#: ``factchecks.source_format`` of a bank item's own fact-check row
SOURCE_FORMAT = "media-bank"
#: ``media_bank_hashes.algo`` of an exact-copy digest imported from a list (a banked file has its own)
MD5 = "md5"
#: the origin of items banked from a file (their external id is the file's SHA-256)
FILE_ORIGIN = "file"


class BankItemInUse(ValueError):
    """An item analysts decided matches on: removing it would orphan their decisions."""


@dataclass(frozen=True, slots=True)
class BankFactCheck:
    """What a bank item's own fact-check row holds: copied from the debunking fact-check found by
    its review URL, or what the user gave (``raw`` says which). Never a made-up rating."""

    review_url: str
    claim_text: str
    rating_text: str | None
    verdict: str | None
    verdict_method: str
    raw: dict
    publisher_name: str | None = None
    publisher_site: str | None = None
    claimant: str | None = None
    claim_date: datetime | None = None
    title: str | None = None
    review_date: datetime | None = None
    rating_value: float | None = None
    best_rating: float | None = None
    worst_rating: float | None = None
    language: str | None = None


#: the columns copied from a debunking fact-check (everything but the URL and where it came from)
_COPIED = tuple(f.name for f in fields(BankFactCheck) if f.name not in ("review_url", "raw"))


@dataclass(frozen=True, slots=True)
class NewBankItem:
    """An item to bank (or update): by file or by a list entry."""

    kind: str
    label: str
    origin: str
    external_id: str
    file_id: int | None = None
    note: str | None = None
    added_by: str | None = None
    raw: dict | None = None


@dataclass(frozen=True, slots=True)
class BankItem:
    """A bank item as listed: with its fact-check and how many hashes it has."""

    id: int
    kind: str
    label: str
    origin: str
    external_id: str | None
    file_id: int | None
    sha256: str | None
    md5: str | None
    factcheck_id: int
    review_url: str
    claim_text: str
    rating_text: str | None
    verdict: str | None
    added_by: str | None
    added_at: datetime
    note: str | None
    pdq_hashes: int
    audio_prints: int


@dataclass(frozen=True, slots=True)
class BankHashRef:
    """Which item a banked PDQ hash belongs to (what the matcher needs of an index hit)."""

    hash_id: int
    item_id: int
    variant: str
    t_ms: int | None
    quality: int | None


# --------------------------------------------------------------------------- fact-checks


def bank_claim_key(item_key: str) -> str:
    """The bank row's claim key: derived from ``media:`` + the item's SHA-256 or external id, so
    it never collides with a text claim's key of the same review (those hash the claim text)."""
    return hashlib.sha256(f"media:{item_key}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def debunking_factcheck(conn: sa.Connection, review_url: str) -> BankFactCheck | None:
    """The fact-check with this review URL, its columns to copy: an ingested one (when the review
    covers several claims, the first stored; ``raw`` names it), else a bank row another item made
    from what a user gave for that URL (its ``raw`` kept) — so banking a second file of the same
    review does not ask for the claim and rating again. None when the URL is in neither."""
    fc = s.FactCheck
    bank_row = sa.case((fc.source_format == SOURCE_FORMAT, 1), else_=0)
    row = conn.execute(
        sa.select(fc.id, fc.raw, bank_row.label("bank_row"), *(getattr(fc, c) for c in _COPIED))
        .where(fc.review_url == review_url)
        .order_by(bank_row, fc.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    values = {c: getattr(row, c) for c in _COPIED}
    raw = row.raw if row.bank_row else {"copied_from_factcheck_id": row.id}
    return BankFactCheck(review_url=review_url, raw=raw, **values)


def put_bank_factcheck(conn: sa.Connection, item_key: str, fc: BankFactCheck) -> int:
    """Insert or update the item's own fact-check row; returns its id."""
    ck = bank_claim_key(item_key)
    copied = {c: getattr(fc, c) for c in _COPIED}
    digest = json_digest([copied, fc.raw])
    source = _source(item_key)
    values = dict(review_url=fc.review_url, claim_key=ck, **copied, **provenance(fc.raw, source, digest, None))
    old = conn.execute(
        sa.select(s.FactCheck.id, s.FactCheck.content_hash).where(
            s.FactCheck.review_url == fc.review_url, s.FactCheck.claim_key == ck
        )
    ).first()
    if old is None:
        return int(conn.execute(sa.insert(s.FactCheck).values(**values)).inserted_primary_key[0])
    if old.content_hash != digest:
        conn.execute(sa.update(s.FactCheck).where(s.FactCheck.id == old.id).values(**values, updated_at=s.utcnow()))
    return int(old.id)


def _source(item_key: str) -> SourceRef:
    return SourceRef(path="media bank", location=item_key[:64], format=SOURCE_FORMAT)


# --------------------------------------------------------------------------- items


def put_item(
    conn: sa.Connection,
    item: NewBankItem,
    factcheck_id: int,
    hashes: MediaHashes | Sequence[ListedPdq],
    md5: str | None = None,
) -> tuple[int, bool]:
    """Insert or update the item keyed by (origin, external id) and replace its hashes, in the
    caller's transaction; returns (item id, created). ``hashes``: a hashed file's (copied with
    :func:`~claimwatch.store.media_files.hash_rows`), or a list entry's PDQ hashes and ``md5``."""
    values = dict(
        factcheck_id=factcheck_id,
        file_id=item.file_id,
        kind=item.kind,
        label=item.label,
        note=item.note,
        raw=item.raw,
    )
    b = s.MediaBankItem
    old = conn.execute(
        sa.select(b.id, b.factcheck_id).where(b.origin == item.origin, b.external_id == item.external_id)
    ).first()
    item_id = None if old is None else old.id
    created = item_id is None
    if created:
        item_id = conn.execute(
            sa.insert(b).values(
                origin=item.origin, external_id=item.external_id, added_by=item.added_by, added_at=s.utcnow(), **values
            )
        ).inserted_primary_key[0]
    else:
        conn.execute(sa.update(b).where(b.id == item_id).values(**values))
        conn.execute(sa.delete(s.MediaBankHash).where(s.MediaBankHash.item_id == item_id))
    if isinstance(hashes, MediaHashes):
        rows = hash_rows(hashes)
    else:
        rows = [dict(algo=PDQ, variant=h.variant, t_ms=h.t_ms, quality=h.quality, value=h.value) for h in hashes]
    if md5 is not None:
        rows.append(dict(algo=MD5, variant="original", t_ms=None, quality=None, value=bytes.fromhex(md5)))
    if rows:
        conn.execute(sa.insert(s.MediaBankHash), [dict(item_id=item_id, **row) for row in rows])
    if old is not None and old.factcheck_id != factcheck_id:
        _drop_unused_factcheck(conn, old.factcheck_id)
    return int(item_id), created


def _drop_unused_factcheck(conn: sa.Connection, factcheck_id: int) -> None:
    """Delete a bank fact-check row no item and no match points at any more (an item re-banked
    under another review URL, or removed); one a match names stays with that match."""
    used = conn.execute(
        sa.select(
            sa.exists().where(s.MediaBankItem.factcheck_id == factcheck_id)
            | sa.exists().where(s.Match.factcheck_id == factcheck_id)
        )
    ).scalar_one()
    if not used:
        conn.execute(
            sa.delete(s.FactCheck).where(s.FactCheck.id == factcheck_id, s.FactCheck.source_format == SOURCE_FORMAT)
        )


def _items_query() -> sa.Select[Any]:
    b, f, fc, h = s.MediaBankItem, s.MediaFile, s.FactCheck, s.MediaBankHash

    def n(algo: str) -> sa.ScalarSelect[Any]:
        return sa.select(sa.func.count()).where(h.item_id == b.id, h.algo == algo).correlate(b).scalar_subquery()

    return (
        sa.select(
            b.id,
            b.kind,
            b.label,
            b.origin,
            b.external_id,
            b.file_id,
            f.sha256,
            f.md5,
            b.factcheck_id,
            fc.review_url,
            fc.claim_text,
            fc.rating_text,
            fc.verdict,
            b.added_by,
            b.added_at,
            b.note,
            n(PDQ).label("pdq_hashes"),
            n("chromaprint").label("audio_prints"),
        )
        .join(fc, fc.id == b.factcheck_id)
        .outerjoin(f, f.id == b.file_id)
        .order_by(b.id)
    )


def list_items(conn: sa.Connection) -> list[BankItem]:
    return [BankItem(**row._mapping) for row in conn.execute(_items_query())]


def find_item(conn: sa.Connection, origin: str, external_id: str) -> BankItem | None:
    b = s.MediaBankItem
    row = conn.execute(_items_query().where(b.origin == origin, b.external_id == external_id)).first()
    return None if row is None else BankItem(**row._mapping)


def get_item(conn: sa.Connection, item_id: int) -> BankItem | None:
    row = conn.execute(_items_query().where(s.MediaBankItem.id == item_id)).first()
    return None if row is None else BankItem(**row._mapping)


def item_hashes(conn: sa.Connection, item_ids: Sequence[int]) -> dict[int, tuple[tuple[ListedPdq, ...], str | None]]:
    """Each item's PDQ hashes (frame order) and an imported MD5 (None when it has none)."""
    out: dict[int, tuple[list[ListedPdq], str | None]] = {i: ([], None) for i in item_ids}
    h = s.MediaBankHash
    for chunk in chunks(sorted(set(item_ids))):
        q = sa.select(h.item_id, h.algo, h.variant, h.t_ms, h.quality, h.value).where(
            h.item_id.in_(chunk), h.algo.in_((PDQ, MD5))
        )
        for row in conn.execute(q.order_by(h.item_id, h.t_ms, h.id)):
            pdq, md5 = out[row.item_id]
            if row.algo == PDQ:
                pdq.append(ListedPdq(bytes(row.value), row.quality, row.variant, row.t_ms))
            else:
                out[row.item_id] = (pdq, row.value.hex())
    return {i: (tuple(p), m) for i, (p, m) in out.items()}


def remove_item(conn: sa.Connection, item_id: int) -> BankItem | None:
    """Delete the item, its hashes, its undecided matches and its own fact-check row; None when
    there is no such item. Raises :class:`BankItemInUse` when analysts decided a match on it."""
    item = get_item(conn, item_id)
    if item is None:
        return None
    m = s.Match
    decided = conn.execute(
        sa.select(sa.func.count())
        .select_from(m)
        .where(
            m.factcheck_id == item.factcheck_id,
            sa.or_(m.decision.is_not(None), sa.exists().where(s.MatchDecision.match_id == m.id)),
        )
    ).scalar_one()
    if decided:
        raise BankItemInUse(
            f"bank item {item_id}: analysts decided {decided} match(es) on it; it stays "
            "(their decisions name it); reject or keep those matches instead"
        )
    post_ids = list(conn.execute(sa.select(m.post_id).where(m.factcheck_id == item.factcheck_id)).scalars())
    conn.execute(sa.delete(m).where(m.factcheck_id == item.factcheck_id))
    conn.execute(sa.delete(s.MediaBankHash).where(s.MediaBankHash.item_id == item_id))
    conn.execute(sa.delete(s.MediaBankItem).where(s.MediaBankItem.id == item_id))
    _drop_unused_factcheck(conn, item.factcheck_id)
    if post_ids:
        queue_table.refresh_posts(conn, post_ids)
    return item


# --------------------------------------------------------------------------- what the index reads


def _pdq_where(min_quality: int) -> tuple[sa.ColumnElement[bool], ...]:
    """Bank PDQ hashes worth indexing: quality at least ``min_quality``; an imported hash of
    unknown quality (a plain list) is kept — its publisher chose it."""
    h = s.MediaBankHash
    return (h.algo == PDQ, sa.or_(h.quality.is_(None), h.quality >= min_quality))


def pdq_version(conn: sa.Connection, min_quality: int) -> str:
    """A key that changes whenever the indexed hashes do (see :func:`_version`)."""
    return _version(conn, _pdq_where(min_quality))


def bank_version(conn: sa.Connection) -> str:
    """A key that changes whenever any hash of the bank does (PDQ, audio prints, MD5s): what the
    media matcher was last run against, per post."""
    return _version(conn, ())


def _version(conn: sa.Connection, where: tuple[sa.ColumnElement[bool], ...]) -> str:
    """The hashes' count, max id and id sum (a hash is only ever inserted or deleted, never
    changed in place: re-banking replaces the rows), and when the first and last items were
    banked (a store deleted and rebuilt with ids that happen to add up the same has other times)."""
    h, b = s.MediaBankHash, s.MediaBankItem
    n, top, total = conn.execute(sa.select(sa.func.count(), sa.func.max(h.id), sa.func.sum(h.id)).where(*where)).one()
    first, last = conn.execute(sa.select(sa.func.min(b.added_at), sa.func.max(b.added_at))).one()
    stamp = hashlib.sha256(f"{first}|{last}".encode()).hexdigest()[:12]
    return f"{n}-{top or 0}-{total or 0}-{stamp}"


def pdq_chunks(conn: sa.Connection, min_quality: int, size: int = 100_000) -> Iterator[list[tuple[int, bytes]]]:
    """(hash id, 32 bytes) of the indexed hashes in id order, ``size`` at a time (keyset pages, so
    a 10M bank is never one result set in memory)."""
    h = s.MediaBankHash
    after = 0
    while True:
        rows = conn.execute(
            sa.select(h.id, h.value).where(*_pdq_where(min_quality), h.id > after).order_by(h.id).limit(size)
        ).all()
        if not rows:
            return
        yield [(int(r.id), bytes(r.value)) for r in rows]
        after = rows[-1].id


def hash_refs(conn: sa.Connection, hash_ids: Sequence[int]) -> dict[int, BankHashRef]:
    """The items of index hits."""
    h = s.MediaBankHash
    out: dict[int, BankHashRef] = {}
    for chunk in chunks(sorted(set(hash_ids))):
        for row in conn.execute(
            sa.select(h.id.label("hash_id"), h.item_id, h.variant, h.t_ms, h.quality).where(h.id.in_(chunk))
        ):
            out[row.hash_id] = BankHashRef(**row._mapping)
    return out
