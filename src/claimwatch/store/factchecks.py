"""Fact-checks keyed by review URL and claim, their verdicts, and what the search index reads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.media.records import MEDIA_BANK_SOURCE
from claimwatch.store import sanitise, search_index
from claimwatch.store import schema as s
from claimwatch.store.common import BatchCounts, chunks, json_digest, provenance
from claimwatch.store.db import retry_races
from claimwatch.store.rows import StoredFactCheck


def claim_key(claim_text: str) -> str:
    """Key part for one claim of a review: case- and whitespace-insensitive text hash."""
    return hashlib.sha256(
        re.sub(r"\s+", " ", claim_text).strip().casefold().encode("utf-8", "surrogatepass")
    ).hexdigest()[:32]


# --------------------------------------------------------------------------- fact-checks


def factcheck_content_hash(fc: r.FactCheck) -> str:
    return json_digest(
        [
            fc.claim_text,
            fc.claimant,
            fc.claim_date,
            fc.appearances,
            fc.publisher_name,
            fc.publisher_site,
            fc.title,
            fc.review_date,
            fc.rating_text,
            fc.rating_value,
            fc.best_rating,
            fc.worst_rating,
            fc.language,
            fc.verdict,
            fc.raw,
        ]
    )


@retry_races
def upsert_factchecks(conn: sa.Connection, fcs: Sequence[tuple[r.FactCheck, str]], run_id: int | None) -> BatchCounts:
    """Upsert (fact-check, verdict method) pairs keyed by review URL + claim key."""
    counts = BatchCounts()
    fitted = sanitise.fit_factchecks([fc for fc, _ in fcs])
    kept = counts.take(fitted)
    keyed = {
        (fc.review_url, claim_key(fc.claim_text)): (fc, fcs[i][1]) for fc, i in zip(kept, fitted.kept, strict=True)
    }

    existing: dict[tuple[str, str], Any] = {}
    urls = sorted({k[0] for k in keyed})
    for chunk in chunks(urls):
        for row in conn.execute(
            sa.select(s.FactCheck.id, s.FactCheck.review_url, s.FactCheck.claim_key, s.FactCheck.content_hash).where(
                s.FactCheck.review_url.in_(chunk)
            )
        ):
            existing[(row.review_url, row.claim_key)] = row
    now = s.utcnow()
    for (url, ck), (fc, method) in keyed.items():
        digest = factcheck_content_hash(fc)
        values = dict(
            review_url=url,
            claim_key=ck,
            claim_text=fc.claim_text,
            claimant=fc.claimant,
            claim_date=fc.claim_date,
            appearances=fc.appearances,
            publisher_name=fc.publisher_name,
            publisher_site=fc.publisher_site,
            title=fc.title,
            review_date=fc.review_date,
            rating_text=fc.rating_text,
            rating_value=fc.rating_value,
            best_rating=fc.best_rating,
            worst_rating=fc.worst_rating,
            language=fc.language,
            verdict=fc.verdict.value if fc.verdict else None,
            verdict_method=method,
            **provenance(fc.raw, fc.source, digest, run_id),
        )
        old = existing.get((url, ck))
        if old is None:
            conn.execute(sa.insert(s.FactCheck).values(**values))
            counts.inserted += 1
        elif old.content_hash == digest:
            counts.unchanged += 1
        else:
            conn.execute(sa.update(s.FactCheck).where(s.FactCheck.id == old.id).values(**values, updated_at=now))
            counts.updated += 1
    return counts


def factchecks_for_verdicts(conn: sa.Connection) -> list[Any]:
    return list(
        conn.execute(
            sa.select(
                s.FactCheck.id,
                s.FactCheck.rating_text,
                s.FactCheck.rating_value,
                s.FactCheck.best_rating,
                s.FactCheck.worst_rating,
                s.FactCheck.verdict,
                s.FactCheck.verdict_method,
            )
        )
    )


def set_verdict(conn: sa.Connection, factcheck_id: int, verdict: str | None, method: str) -> None:
    conn.execute(
        sa.update(s.FactCheck)
        .where(s.FactCheck.id == factcheck_id)
        .values(verdict=verdict, verdict_method=method, updated_at=s.utcnow())
    )


def factcheck_docs(conn: sa.Connection) -> list[Any]:
    """What the text index needs of every fact-check, in id order: not the bank items' own rows
    (a media item is matched by its hashes; its claim is the debunking fact-check's, indexed already
    when that was ingested)."""
    return list(
        conn.execute(
            sa.select(
                s.FactCheck.id,
                s.FactCheck.review_url,
                s.FactCheck.claim_key,
                s.FactCheck.claim_text,
                s.FactCheck.title,
                s.FactCheck.review_date,
                s.FactCheck.claim_date,
                s.FactCheck.claimant,
            )
            .where(sa.or_(s.FactCheck.source_format.is_(None), s.FactCheck.source_format != MEDIA_BANK_SOURCE))
            .order_by(s.FactCheck.id)
        )
    )


def factcheck_texts(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunks(sorted(set(ids))):
        out.update(
            {
                row.id: row.claim_text
                for row in conn.execute(
                    sa.select(s.FactCheck.id, s.FactCheck.claim_text).where(s.FactCheck.id.in_(chunk))
                )
            }
        )
    return out


def factchecks_by_id(conn: sa.Connection, ids: Sequence[int]) -> dict[int, StoredFactCheck]:
    """The stored fact-checks with these ids (those that exist)."""
    columns = [getattr(s.FactCheck, f.name) for f in fields(StoredFactCheck)]
    out: dict[int, StoredFactCheck] = {}
    for chunk in chunks(list(ids)):
        out.update(
            (row.id, StoredFactCheck(**row._mapping))
            for row in conn.execute(sa.select(*columns).where(s.FactCheck.id.in_(chunk)))
        )
    return out


def search_factchecks(conn: sa.Connection, phrase: str, limit: int = 50) -> list[StoredFactCheck]:
    """Fact-checks whose claim, title or publisher contains ``phrase`` (any case; as the post
    search's keywords match), newest review first: found through the trigram index when the store
    has one (:mod:`~claimwatch.store.search_index`)."""
    columns = [getattr(s.FactCheck, f.name) for f in fields(StoredFactCheck)]
    rows = search_index.newest_rows_containing(
        conn, sa.select(*columns), s.FactCheck.__table__, search_index.FACTCHECKS, phrase, limit
    )
    return [StoredFactCheck(**row._mapping) for row in rows]
