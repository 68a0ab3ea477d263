"""Repository functions: every read and write of the store goes through here.

Writes take a batch of records and run inside the caller's transaction, so a batch
lands whole or not at all (an ingest killed mid-batch leaves nothing half-written).
Upserts are idempotent: posts are keyed by (platform, platform id), fact-checks by
(review URL, claim key), snapshots by (post, observed_at), quarantine entries by a
fingerprint of where and why. No SQL strings: SQLAlchemy expressions only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import schema as s

#: SQLite allows 32,766 bound parameters; stay well below it for ``IN`` lists.
_CHUNK = 900


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def claim_key(claim_text: str) -> str:
    """Key part for one claim of a review: case- and whitespace-insensitive text hash."""
    return hashlib.sha256(re.sub(r"\s+", " ", claim_text).strip().casefold().encode()).hexdigest()[:32]


@dataclass
class BatchCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    snapshots_added: int = 0
    conflicts: list[r.Rejected] = field(default_factory=list)

    def add(self, other: BatchCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.snapshots_added += other.snapshots_added


# --------------------------------------------------------------------------- runs

def start_run(conn: sa.Connection, kind: str, files: list[str], options: dict[str, Any]) -> int:
    return conn.execute(
        sa.insert(s.IngestRun).values(kind=kind, files=files, options=options, status="running", counts={})
    ).inserted_primary_key[0]


def running_runs(conn: sa.Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(row.id, row.options or {}) for row in conn.execute(
        sa.select(s.IngestRun.id, s.IngestRun.options).where(s.IngestRun.status == "running"))]


def mark_interrupted(conn: sa.Connection, run_ids: Sequence[int]) -> None:
    if run_ids:
        conn.execute(sa.update(s.IngestRun).where(s.IngestRun.id.in_(list(run_ids))).values(status="interrupted"))


def finish_run(conn: sa.Connection, run_id: int, status: str, counts: dict[str, Any]) -> None:
    conn.execute(
        sa.update(s.IngestRun).where(s.IngestRun.id == run_id)
        .values(status=status, counts=counts, finished_at=s.utcnow())
    )


# --------------------------------------------------------------------------- quarantine

def add_quarantine(conn: sa.Connection, run_id: int | None, kind: str,
                   entries: Sequence[tuple[r.Rejected, str]]) -> int:
    """Store (rejection, action) pairs; returns how many were new (re-runs add none)."""
    if not entries:
        return 0
    rows = {}
    for rej, action in entries:
        fp = _digest([rej.source.path, rej.source.location, rej.reason, action])
        rows[fp] = dict(fingerprint=fp, ingest_run_id=run_id, kind=kind, action=action,
                        source_path=rej.source.path, location=rej.source.location,
                        source_format=rej.source.format, reason=rej.reason, raw=rej.raw)
    existing = set()
    for chunk in _chunks(list(rows)):
        existing.update(conn.scalars(sa.select(s.Quarantine.fingerprint).where(s.Quarantine.fingerprint.in_(chunk))))
    new = [row for fp, row in rows.items() if fp not in existing]
    if new:
        conn.execute(sa.insert(s.Quarantine), new)
    return len(new)


def list_quarantine(conn: sa.Connection, *, action: str | None = None, path: str | None = None,
                    limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    q = sa.select(s.Quarantine).order_by(s.Quarantine.id).limit(limit).offset(offset)
    if action:
        q = q.where(s.Quarantine.action == action)
    if path:
        q = q.where(s.Quarantine.source_path.contains(path))
    return [dict(row._mapping) for row in conn.execute(q.with_only_columns(*s.Quarantine.__table__.c))]


# --------------------------------------------------------------------------- authors and posts

def _provenance(raw: dict[str, Any], source: r.SourceRef | None, digest: str, run_id: int | None) -> dict[str, Any]:
    """The SourcedRecord columns of a post or fact-check row."""
    return dict(raw=raw, source_format=source.format if source else None,
                source_path=source.path if source else None,
                source_location=source.location if source else None, content_hash=digest, ingest_run_id=run_id)


def _author_key(a: r.Author) -> tuple[str, str]:
    # Generic CSVs may name only a handle; key such authors by it so they still group.
    return a.platform, a.platform_id or f"handle:{(a.handle or '').lower()}"


def _upsert_authors(conn: sa.Connection, authors: dict[tuple[str, str], r.Author]) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, pid in authors:
        by_platform.setdefault(platform, []).append(pid)
    for platform, pids in by_platform.items():
        for chunk in _chunks(pids):
            for row in conn.execute(
                sa.select(s.Author.id, s.Author.platform_id, s.Author.handle, s.Author.name, s.Author.followers)
                .where(s.Author.platform == platform, s.Author.platform_id.in_(chunk))
            ):
                key = (platform, row.platform_id)
                ids[key] = row.id
                new = authors[key]
                # Fill in what a richer record knows; a sparse mention never erases it.
                changes = {k: v for k, v in (("handle", new.handle), ("name", new.name), ("followers", new.followers))
                           if v is not None and v != getattr(row, k)}
                if changes:
                    if new.raw:
                        changes["raw"] = new.raw
                    conn.execute(sa.update(s.Author).where(s.Author.id == row.id).values(**changes, updated_at=s.utcnow()))
    missing = [(k, a) for k, a in authors.items() if k not in ids]
    for key, a in missing:
        ids[key] = conn.execute(
            sa.insert(s.Author).values(platform=key[0], platform_id=key[1], handle=a.handle, name=a.name,
                                       followers=a.followers, raw=a.raw)
        ).inserted_primary_key[0]
    return ids


def post_content_hash(p: r.Post) -> str:
    """Hash of what a post *is* (not its metrics, which go to snapshots)."""
    return _digest([
        p.text, p.kind.value, p.referenced_id, p.lang, p.url, p.created_at,
        _author_key(p.author) if p.author else None, [m.media_key for m in p.media], p.collected,
    ])


def upsert_posts(conn: sa.Connection, posts: Sequence[r.Post], run_id: int | None) -> BatchCounts:
    """Insert new posts, update changed ones, add snapshots not seen before.

    A post seen only as context (``collected=False``) never overwrites a collected one;
    it only contributes its metric snapshot.
    """
    counts = BatchCounts()
    if not posts:
        return counts
    authors = {_author_key(p.author): p.author for p in posts if p.author}
    author_ids = _upsert_authors(conn, authors)

    existing: dict[tuple[str, str], Any] = {}
    by_platform: dict[str, list[str]] = {}
    for p in posts:
        by_platform.setdefault(p.platform, []).append(p.platform_id)
    for platform, pids in by_platform.items():
        for chunk in _chunks(pids):
            for row in conn.execute(
                sa.select(s.Post.id, s.Post.platform_id, s.Post.content_hash, s.Post.collected)
                .where(s.Post.platform == platform, s.Post.platform_id.in_(chunk))
            ):
                existing[(platform, row.platform_id)] = row

    # One row per key within the batch: a collected copy beats a context copy.
    chosen: dict[tuple[str, str], r.Post] = {}
    for p in posts:
        cur = chosen.get((p.platform, p.platform_id))
        if cur is None or p.collected or not cur.collected:
            chosen[(p.platform, p.platform_id)] = p

    now = s.utcnow()
    post_ids: dict[tuple[str, str], int] = {}
    for key, p in chosen.items():
        digest = post_content_hash(p)
        values = dict(
            platform=p.platform, platform_id=p.platform_id,
            author_id=author_ids.get(_author_key(p.author)) if p.author else None,
            created_at=p.created_at, text=p.text, lang=p.lang, url=p.url, kind=p.kind.value,
            referenced_id=p.referenced_id, collected=p.collected,
            **_provenance(p.raw, p.source, digest, run_id),
        )
        old = existing.get(key)
        if old is None:
            post_ids[key] = conn.execute(sa.insert(s.Post).values(**values)).inserted_primary_key[0]
            _replace_media(conn, post_ids[key], p.media)
            counts.inserted += 1
            continue
        post_id = post_ids[key] = old.id
        if old.content_hash == digest or (old.collected and not p.collected):
            counts.unchanged += 1
            continue
        conn.execute(sa.update(s.Post).where(s.Post.id == post_id).values(**values, updated_at=now))
        _replace_media(conn, post_id, p.media)
        counts.updated += 1

    counts.snapshots_added, counts.conflicts = _add_snapshots(
        conn, [(post_ids[(p.platform, p.platform_id)], p) for p in posts if p.metrics is not None], run_id)
    return counts


def _replace_media(conn: sa.Connection, post_id: int, media: list[r.MediaRef]) -> None:
    conn.execute(sa.delete(s.Media).where(s.Media.post_id == post_id))
    seen: set[str] = set()
    rows = []
    for m in media:
        if m.media_key in seen:
            continue
        seen.add(m.media_key)
        rows.append(dict(post_id=post_id, media_key=m.media_key, type=m.type, url=m.url, preview_url=m.preview_url,
                         duration_ms=m.duration_ms, view_count=m.view_count, raw=m.raw))
    if rows:
        conn.execute(sa.insert(s.Media), rows)


_METRICS = ("views", "reposts", "quotes", "replies", "likes", "bookmarks")


def _add_snapshots(conn: sa.Connection, items: list[tuple[int, r.Post]], run_id: int | None
                   ) -> tuple[int, list[r.Rejected]]:
    """Add snapshots for (post id, observed_at) pairs not yet stored.

    The same observation twice adds nothing; if it disagrees with the stored numbers the
    first one is kept and the disagreement is reported, never silently merged.
    """
    if not items:
        return 0, []
    existing: dict[tuple[int, datetime], tuple] = {}
    for chunk in _chunks(sorted({pid for pid, _ in items})):
        for row in conn.execute(
            sa.select(s.MetricSnapshot.post_id, s.MetricSnapshot.observed_at,
                      *(getattr(s.MetricSnapshot, m) for m in _METRICS))
            .where(s.MetricSnapshot.post_id.in_(chunk))
        ):
            existing[(row.post_id, row.observed_at)] = tuple(row)[2:]
    rows, conflicts = [], []
    for pid, p in items:
        m = p.metrics
        assert m is not None
        numbers = tuple(getattr(m, k) for k in _METRICS)
        key = (pid, m.observed_at)
        if key in existing:
            if existing[key] != numbers:
                src = p.source or r.SourceRef("?", "?", "?")
                conflicts.append(r.Rejected(
                    src, f"conflicting snapshot for post {p.platform_id} at {m.observed_at.isoformat()}: "
                         f"kept {dict(zip(_METRICS, existing[key]))}, ignored {dict(zip(_METRICS, numbers))}",
                    json.dumps(dict(zip(_METRICS, numbers)))))
            continue
        existing[key] = numbers
        rows.append(dict(post_id=pid, observed_at=m.observed_at, ingest_run_id=run_id, **dict(zip(_METRICS, numbers))))
    if rows:
        conn.execute(sa.insert(s.MetricSnapshot), rows)
    return len(rows), conflicts


# --------------------------------------------------------------------------- fact-checks

def factcheck_content_hash(fc: r.FactCheck) -> str:
    return _digest([fc.claim_text, fc.claimant, fc.claim_date, fc.appearances, fc.publisher_name, fc.publisher_site,
                    fc.title, fc.review_date, fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating,
                    fc.language, fc.verdict, fc.raw])


def upsert_factchecks(conn: sa.Connection, fcs: Sequence[tuple[r.FactCheck, str]], run_id: int | None) -> BatchCounts:
    """Upsert (fact-check, verdict method) pairs keyed by review URL + claim key."""
    counts = BatchCounts()
    keyed = {(fc.review_url, claim_key(fc.claim_text)): (fc, method) for fc, method in fcs}
    existing: dict[tuple[str, str], Any] = {}
    urls = sorted({k[0] for k in keyed})
    for chunk in _chunks(urls):
        for row in conn.execute(
            sa.select(s.FactCheck.id, s.FactCheck.review_url, s.FactCheck.claim_key, s.FactCheck.content_hash)
            .where(s.FactCheck.review_url.in_(chunk))
        ):
            existing[(row.review_url, row.claim_key)] = row
    now = s.utcnow()
    for (url, ck), (fc, method) in keyed.items():
        digest = factcheck_content_hash(fc)
        values = dict(
            review_url=url, claim_key=ck, claim_text=fc.claim_text, claimant=fc.claimant, claim_date=fc.claim_date,
            appearances=fc.appearances, publisher_name=fc.publisher_name, publisher_site=fc.publisher_site,
            title=fc.title, review_date=fc.review_date, rating_text=fc.rating_text, rating_value=fc.rating_value,
            best_rating=fc.best_rating, worst_rating=fc.worst_rating, language=fc.language,
            verdict=fc.verdict.value if fc.verdict else None, verdict_method=method,
            **_provenance(fc.raw, fc.source, digest, run_id),
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
    return list(conn.execute(sa.select(s.FactCheck.id, s.FactCheck.rating_text, s.FactCheck.rating_value,
                                       s.FactCheck.best_rating, s.FactCheck.worst_rating, s.FactCheck.verdict,
                                       s.FactCheck.verdict_method)))


def set_verdict(conn: sa.Connection, factcheck_id: int, verdict: str | None, method: str) -> None:
    conn.execute(sa.update(s.FactCheck).where(s.FactCheck.id == factcheck_id)
                 .values(verdict=verdict, verdict_method=method, updated_at=s.utcnow()))


# --------------------------------------------------------------------------- stats

def stats(conn: sa.Connection) -> dict[str, Any]:
    def count(table: type[s.Base], *where: Any) -> int:
        return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0

    by_status = {st.value: 0 for st in r.MatchStatus}
    by_status.update({row[0]: row[1] for row in conn.execute(
        sa.select(s.Match.status, sa.func.count()).group_by(s.Match.status))})
    by_kind = {row[0]: row[1] for row in conn.execute(
        sa.select(s.Post.kind, sa.func.count()).where(s.Post.collected.is_(True)).group_by(s.Post.kind))}
    verdicts = {(row[0] or "unknown"): row[1] for row in conn.execute(
        sa.select(s.FactCheck.verdict, sa.func.count()).group_by(s.FactCheck.verdict))}
    unmapped = [{"rating": row[0], "count": row[1]} for row in conn.execute(
        sa.select(s.FactCheck.rating_text, sa.func.count()).where(s.FactCheck.verdict_method == "unmapped")
        .group_by(s.FactCheck.rating_text).order_by(sa.func.count().desc(), s.FactCheck.rating_text))]
    return {
        "posts": count(s.Post, s.Post.collected.is_(True)),
        "context_posts": count(s.Post, s.Post.collected.is_(False)),
        "posts_by_kind": by_kind,
        "authors": count(s.Author),
        "media": count(s.Media),
        "snapshots": count(s.MetricSnapshot),
        "factchecks": count(s.FactCheck),
        "factchecks_by_verdict": verdicts,
        "matches": by_status,
        "posts_matched": count(s.MatchState, s.MatchState.skip_reason.is_(None)),
        "posts_skipped": count(s.MatchState, s.MatchState.skip_reason.is_not(None)),
        "quarantined": count(s.Quarantine, s.Quarantine.action == "rejected"),
        "field_warnings": count(s.Quarantine, s.Quarantine.action != "rejected"),
        "unmapped_ratings": unmapped,
        "ingest_runs": {row[0]: row[1] for row in conn.execute(
            sa.select(s.IngestRun.status, sa.func.count()).group_by(s.IngestRun.status))},
    }


# --------------------------------------------------------------------------- matching

def factcheck_docs(conn: sa.Connection) -> list[Any]:
    """What the index needs of every fact-check, in id order."""
    return list(conn.execute(sa.select(s.FactCheck.id, s.FactCheck.review_url, s.FactCheck.claim_text, s.FactCheck.title,
                                       s.FactCheck.review_date, s.FactCheck.claim_date, s.FactCheck.claimant)
                             .order_by(s.FactCheck.id)))


def factcheck_texts(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in _chunks(sorted(set(ids))):
        out.update({row.id: row.claim_text for row in conn.execute(
            sa.select(s.FactCheck.id, s.FactCheck.claim_text).where(s.FactCheck.id.in_(chunk)))})
    return out


def posts_to_match(conn: sa.Connection, index_version: str, rematch: bool) -> list[Any]:
    """Collected posts not yet matched against this index version (all of them with ``rematch``)."""
    q = (sa.select(s.Post.id, s.Post.text, s.Post.created_at).where(s.Post.collected.is_(True))
         .outerjoin(s.MatchState, s.MatchState.post_id == s.Post.id).order_by(s.Post.id))
    if not rematch:
        q = q.where(sa.or_(s.MatchState.post_id.is_(None), s.MatchState.index_version != index_version))
    return list(conn.execute(q))


@dataclass
class CandidateRow:
    factcheck_id: int
    rank: int
    score: float
    evidence: dict[str, Any]
    #: calibrated P(correct), for the top candidate when a trained model is in use
    confidence: float | None = None
    proposed: bool = False


def write_matches(conn: sa.Connection, post_id: int, candidates: Sequence[CandidateRow],
                  method: str, index_version: str) -> int:
    """Replace a post's machine candidates; analyst decisions are kept as they are.

    Returns the number of proposals written.
    """
    decided = {row.factcheck_id for row in conn.execute(
        sa.select(s.Match.factcheck_id).where(s.Match.post_id == post_id,
                                              s.Match.status.in_([r.MatchStatus.CONFIRMED, r.MatchStatus.REJECTED])))}
    conn.execute(sa.delete(s.Match).where(s.Match.post_id == post_id,
                                          s.Match.status.in_([r.MatchStatus.CANDIDATE, r.MatchStatus.PROPOSED])))
    now = s.utcnow()
    rows, proposed = [], 0
    for c in candidates:
        status = r.MatchStatus.PROPOSED if c.proposed else r.MatchStatus.CANDIDATE
        if c.factcheck_id in decided:
            conn.execute(sa.update(s.Match).where(s.Match.post_id == post_id, s.Match.factcheck_id == c.factcheck_id)
                         .values(rank=c.rank, score=c.score, confidence=c.confidence, evidence=c.evidence,
                                 method=method, updated_at=now))
            continue
        proposed += status == r.MatchStatus.PROPOSED
        rows.append(dict(post_id=post_id, factcheck_id=c.factcheck_id, rank=c.rank, score=c.score,
                         confidence=c.confidence, method=method, evidence=c.evidence, status=status.value,
                         created_at=now, updated_at=now))
    if rows:
        conn.execute(sa.insert(s.Match), rows)
    set_match_state(conn, post_id, index_version, None)
    return proposed


def set_match_state(conn: sa.Connection, post_id: int, index_version: str, skip_reason: str | None) -> None:
    conn.execute(sa.delete(s.MatchState).where(s.MatchState.post_id == post_id))
    conn.execute(sa.insert(s.MatchState).values(post_id=post_id, index_version=index_version,
                                                 skip_reason=skip_reason, matched_at=s.utcnow()))


def decide_match(conn: sa.Connection, match_id: int, status: r.MatchStatus, who: str, note: str | None) -> bool:
    """Record an analyst decision; returns False when there is no such match."""
    if status not in (r.MatchStatus.CONFIRMED, r.MatchStatus.REJECTED, r.MatchStatus.PROPOSED):
        raise ValueError(f"an analyst can confirm, reject or reopen a match, not set it to {status}")
    res = conn.execute(sa.update(s.Match).where(s.Match.id == match_id).values(
        status=status.value, decided_by=who if status != r.MatchStatus.PROPOSED else None,
        decided_at=s.utcnow() if status != r.MatchStatus.PROPOSED else None, note=note, updated_at=s.utcnow()))
    return res.rowcount > 0


# --------------------------------------------------------------------------- report queries

def select_posts(conn: sa.Connection, *, handles: Sequence[str] = (), since: datetime | None = None,
                 until: datetime | None = None, keywords: Sequence[str] = (), include_reposts: bool = False,
                 platform: str | None = None) -> list[dict[str, Any]]:
    """Collected posts in a selection, with author handle, oldest first.

    ``until`` is exclusive. Keywords match case-insensitively anywhere in the text (any of them).
    """
    q = (sa.select(s.Post.id, s.Post.platform, s.Post.platform_id, s.Post.created_at, s.Post.text, s.Post.lang,
                   s.Post.url, s.Post.kind, s.Post.referenced_id, s.Author.handle, s.Author.name.label("author_name"))
         .outerjoin(s.Author, s.Author.id == s.Post.author_id)
         .where(s.Post.collected.is_(True)).order_by(s.Post.created_at, s.Post.id))
    if handles:
        q = q.where(sa.func.lower(s.Author.handle).in_([h.lstrip("@").lower() for h in handles]))
    if since:
        q = q.where(s.Post.created_at >= since)
    if until:
        q = q.where(s.Post.created_at < until)
    if keywords:
        q = q.where(sa.or_(*(sa.func.lower(s.Post.text).contains(k.lower(), autoescape=True) for k in keywords)))
    if not include_reposts:
        q = q.where(s.Post.kind != r.PostKind.REPOST.value)
    if platform:
        q = q.where(s.Post.platform == platform)
    return [dict(row._mapping) for row in conn.execute(q)]


def latest_snapshots(conn: sa.Connection, post_ids: Sequence[int], as_of: datetime | None = None
                     ) -> dict[int, dict[str, Any]]:
    """Per post, the latest snapshot with known views (not after ``as_of`` when given)."""
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(list(post_ids)):
        q = (sa.select(s.MetricSnapshot).where(s.MetricSnapshot.post_id.in_(chunk), s.MetricSnapshot.views.is_not(None))
             .order_by(s.MetricSnapshot.post_id, s.MetricSnapshot.observed_at))
        if as_of:
            q = q.where(s.MetricSnapshot.observed_at <= as_of)
        for row in conn.execute(q.with_only_columns(*s.MetricSnapshot.__table__.c)):
            out[row.post_id] = dict(row._mapping)  # ordered by time: the last one wins
    return out


def snapshot_counts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in _chunks(list(post_ids)):
        out.update({row[0]: row[1] for row in conn.execute(
            sa.select(s.MetricSnapshot.post_id, sa.func.count()).where(s.MetricSnapshot.post_id.in_(chunk))
            .group_by(s.MetricSnapshot.post_id))})
    return out


def matches_for_posts(conn: sa.Connection, post_ids: Sequence[int], statuses: Sequence[str]
                      ) -> dict[int, list[dict[str, Any]]]:
    """Matches in the given statuses with their fact-checks, best score first."""
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(list(post_ids)):
        q = (sa.select(s.Match.id.label("match_id"), s.Match.post_id, s.Match.score, s.Match.confidence,
                       s.Match.rank, s.Match.status,
                       s.Match.method, s.Match.evidence, s.Match.decided_by, s.Match.decided_at,
                       s.FactCheck.id.label("factcheck_id"), s.FactCheck.review_url, s.FactCheck.claim_text,
                       s.FactCheck.publisher_name, s.FactCheck.publisher_site, s.FactCheck.rating_text,
                       s.FactCheck.verdict, s.FactCheck.review_date, s.FactCheck.title, s.FactCheck.language)
             .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
             .where(s.Match.post_id.in_(chunk), s.Match.status.in_(list(statuses)))
             .order_by(s.Match.post_id, s.Match.score.desc()))
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(dict(row._mapping))
    return out
