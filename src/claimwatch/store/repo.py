"""Repository functions: every read and write of the store goes through here.

Writes take a batch of records and run inside the caller's transaction, so a batch
lands whole or not at all (an ingest killed mid-batch leaves nothing half-written).
Upserts are idempotent: posts are keyed by (platform, platform id), fact-checks by
(review URL, claim key), snapshots by (post, observed_at), quarantine entries by a
fingerprint of where and why. Every batch writer first makes its records fit the store
(:mod:`~claimwatch.store.sanitise`) and runs again when a concurrent command inserted the same
key first (:func:`~claimwatch.store.db.retry_races`). No SQL strings: SQLAlchemy expressions only.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import sanitise
from claimwatch.store import schema as s
from claimwatch.store.db import retry_races

#: SQLite allows 32,766 bound parameters; stay well below it for ``IN`` lists.
_CHUNK = 900


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _digest(obj: Any) -> str:
    # surrogatepass: a lone surrogate (bad input) still hashes, stably, instead of raising
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False)
                          .encode("utf-8", "surrogatepass")).hexdigest()


def claim_key(claim_text: str) -> str:
    """Key part for one claim of a review: case- and whitespace-insensitive text hash."""
    return hashlib.sha256(re.sub(r"\s+", " ", claim_text).strip().casefold().encode("utf-8", "surrogatepass")
                          ).hexdigest()[:32]


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

@retry_races
def add_quarantine(conn: sa.Connection, run_id: int | None, kind: str,
                   entries: Sequence[tuple[r.Rejected, str]]) -> int:
    """Store (rejection, action) pairs; returns how many were new (re-runs add none)."""
    if not entries:
        return 0
    rows = {}
    q = s.Quarantine.__table__.c
    for rej, action in entries:
        fp = _digest([rej.source.path, rej.source.location, rej.reason, action])
        # Escaped, never refused: the quarantine is where unstorable input goes.
        rows[fp] = dict(fingerprint=fp, ingest_run_id=run_id, kind=kind, action=action,
                        source_path=sanitise.escape_text(rej.source.path),
                        location=sanitise.escape_text(rej.source.location, sanitise.column_limit(q.location)),
                        source_format=sanitise.escape_text(rej.source.format, sanitise.column_limit(q.source_format)),
                        reason=sanitise.escape_text(rej.reason), raw=sanitise.escape_text(rej.raw))
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

_SOURCED = s.Post.__table__.c


def _provenance(raw: dict[str, Any], source: r.SourceRef | None, digest: str, run_id: int | None) -> dict[str, Any]:
    """The SourcedRecord columns of a row (where it came from is escaped to fit, never refused)."""
    def fit(value: str | None, column: sa.Column[Any]) -> str | None:
        return None if value is None else sanitise.escape_text(value, sanitise.column_limit(column))

    return dict(raw=raw, source_format=fit(source and source.format, _SOURCED.source_format),
                source_path=fit(source and source.path, _SOURCED.source_path),
                source_location=fit(source and source.location, _SOURCED.source_location),
                content_hash=digest, ingest_run_id=run_id)


def _author_key(a: r.Author) -> tuple[str, str]:
    # Generic CSVs may name only a handle; key such authors by it so they still group (a
    # handle too long for the id column by its hash).
    key = f"handle:{(a.handle or '').lower()}"
    if len(key) > _AUTHOR_ID_LIMIT:
        key = f"handle-sha256:{_digest(key)[:32]}"
    return a.platform, a.platform_id or key


_AUTHOR_ID_LIMIT = sanitise.column_limit(s.Author.__table__.c.platform_id) or 64


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
    if missing:
        new_ids = conn.execute(
            sa.insert(s.Author).returning(s.Author.id, sort_by_parameter_order=True),
            [dict(platform=key[0], platform_id=key[1], handle=a.handle, name=a.name, followers=a.followers, raw=a.raw)
             for key, a in missing]).scalars().all()
        ids.update(zip((key for key, _ in missing), new_ids))
    return ids


def text_hash(text: str) -> str:
    """What an analyst decision was made on: a post's text as a reader sees it. An edit changes
    the hash; a re-read that only decodes HTML entities or normalises Unicode or whitespace
    (a parser fix) does not, so it does not re-open decisions."""
    seen = " ".join(unicodedata.normalize("NFKC", html.unescape(text)).split())
    return hashlib.sha256(seen.encode("utf-8", "surrogatepass")).hexdigest()


def post_content_hash(p: r.Post) -> str:
    """Hash of what a post *is* (not its metrics, which go to snapshots)."""
    return _digest([
        p.text, p.kind.value, p.referenced_id, p.lang, p.url, p.created_at,
        _author_key(p.author) if p.author else None, [m.media_key for m in p.media], p.collected,
    ])


@retry_races
def upsert_posts(conn: sa.Connection, posts: Sequence[r.Post], run_id: int | None) -> BatchCounts:
    """Insert new posts, update changed ones, add snapshots not seen before.

    A post seen only as context (``collected=False``) never overwrites a collected one;
    it only contributes its metric snapshot.
    """
    counts = BatchCounts()
    posts = counts.take(sanitise.fit_posts(posts))
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
                sa.select(s.Post.id, s.Post.platform_id, s.Post.content_hash, s.Post.collected, s.Post.text_hash,
                          s.Post.observed_at)
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
    edited: list[int] = []
    new: list[tuple[tuple[str, str], dict[str, Any], list[r.MediaRef]]] = []
    for key, p in chosen.items():
        digest = post_content_hash(p)
        values = dict(
            platform=p.platform, platform_id=p.platform_id,
            author_id=author_ids.get(_author_key(p.author)) if p.author else None,
            created_at=p.created_at, text=p.text, lang=p.lang, url=p.url, kind=p.kind.value,
            referenced_id=p.referenced_id, collected=p.collected, text_hash=text_hash(p.text),
            observed_at=p.metrics.observed_at if p.metrics else None,
            **_provenance(p.raw, p.source, digest, run_id),
        )
        old = existing.get(key)
        if old is None:
            new.append((key, values, p.media))
            continue
        post_id = post_ids[key] = old.id
        if old.content_hash == digest or (old.collected and not p.collected):
            counts.unchanged += 1
            continue
        seen, stored_seen = values["observed_at"], old.observed_at
        if seen is not None and stored_seen is not None and seen < stored_seen:
            counts.older_versions += _keep_version(conn, post_id, "older", values)
            continue
        _keep_version(conn, post_id, "replaced", _stored_content(conn, post_id))
        if seen is None:
            values["observed_at"] = stored_seen
        conn.execute(sa.update(s.Post).where(s.Post.id == post_id).values(**values, updated_at=now))
        _replace_media(conn, post_id, p.media)
        counts.updated += 1
        if old.text_hash != values["text_hash"]:
            edited.append(post_id)

    _insert_posts(conn, new, post_ids)
    counts.inserted += len(new)
    _reopen(conn, edited)
    counts.snapshots_added, counts.conflicts = _add_snapshots(
        conn, [(post_ids[(p.platform, p.platform_id)], p) for p in posts if p.metrics is not None], run_id)
    return counts


_VERSION_COLUMNS = ("content_hash", "text", "observed_at", "raw", "source_format", "source_path",
                    "source_location", "ingest_run_id")


def _stored_content(conn: sa.Connection, post_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(*(getattr(s.Post, c) for c in _VERSION_COLUMNS)).where(s.Post.id == post_id)).one()
    return dict(row._mapping)


def _keep_version(conn: sa.Connection, post_id: int, reason: str, values: dict[str, Any]) -> int:
    """Keep a post's content that is not (or no longer) the stored one; 1 if it was new."""
    known = conn.scalar(sa.select(s.PostVersion.id).where(s.PostVersion.post_id == post_id,
                                                          s.PostVersion.content_hash == values["content_hash"]))
    if known is not None:
        return 0
    conn.execute(sa.insert(s.PostVersion).values(post_id=post_id, reason=reason,
                                                 **{c: values[c] for c in _VERSION_COLUMNS}))
    return 1


def _reopen(conn: sa.Connection, post_ids: Sequence[int]) -> None:
    """Posts whose text changed are matched and analysed again: the machine's candidates,
    proposals, analysis and topics for the old text go; analyst decisions stay, as history,
    and count again only if the text is the one they were made on (else ``outdated``)."""
    on_text = sa.select(s.Post.text_hash).where(s.Post.id == s.Match.post_id).scalar_subquery()
    for chunk in _chunks(list(post_ids)):
        conn.execute(sa.delete(s.Match).where(s.Match.post_id.in_(chunk), s.Match.decision.is_(None)))
        conn.execute(sa.update(s.Match).where(s.Match.post_id.in_(chunk), s.Match.decision.is_not(None)).values(
            status=sa.case((s.Match.decided_text_hash == on_text, s.Match.decision),
                           else_=r.MatchStatus.OUTDATED.value), updated_at=s.utcnow()))
        for table in (s.MatchState, s.PostAnalysis, s.PostTopic):
            conn.execute(sa.delete(table).where(table.post_id.in_(chunk)))


def _insert_posts(conn: sa.Connection, new: list[tuple[tuple[str, str], dict[str, Any], list[r.MediaRef]]],
                  post_ids: dict[tuple[str, str], int]) -> None:
    """Insert a batch's new posts and their media in two statements (one row per post was most
    of an ingest's time)."""
    if not new:
        return
    ids = conn.execute(sa.insert(s.Post).returning(s.Post.id, sort_by_parameter_order=True),
                       [values for _, values, _ in new]).scalars().all()
    media_rows = []
    for (key, _, media), post_id in zip(new, ids, strict=True):
        post_ids[key] = post_id
        media_rows += _media_rows(post_id, media)
    if media_rows:
        conn.execute(sa.insert(s.Media), media_rows)


def _media_rows(post_id: int, media: list[r.MediaRef]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    rows = []
    for m in media:
        if m.media_key in seen:
            continue
        seen.add(m.media_key)
        rows.append(dict(post_id=post_id, media_key=m.media_key, type=m.type, url=m.url, preview_url=m.preview_url,
                         duration_ms=m.duration_ms, view_count=m.view_count, raw=m.raw))
    return rows


def _replace_media(conn: sa.Connection, post_id: int, media: list[r.MediaRef]) -> None:
    conn.execute(sa.delete(s.Media).where(s.Media.post_id == post_id))
    rows = _media_rows(post_id, media)
    if rows:
        conn.execute(sa.insert(s.Media), rows)


_METRICS = r.METRIC_FIELDS


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


@retry_races
def upsert_factchecks(conn: sa.Connection, fcs: Sequence[tuple[r.FactCheck, str]], run_id: int | None) -> BatchCounts:
    """Upsert (fact-check, verdict method) pairs keyed by review URL + claim key."""
    counts = BatchCounts()
    fitted = sanitise.fit_factchecks([fc for fc, _ in fcs])
    kept = counts.take(fitted)
    keyed = {(fc.review_url, claim_key(fc.claim_text)): (fc, fcs[i][1]) for fc, i in zip(kept, fitted.kept, strict=True)}

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
        "post_versions": count(s.PostVersion),
        "factchecks": count(s.FactCheck),
        "factchecks_by_verdict": verdicts,
        "matches": by_status,
        "decisions_on_earlier_text": conn.scalar(
            sa.select(sa.func.count()).select_from(s.Match).join(s.Post, s.Post.id == s.Match.post_id)
            .where(_on_earlier_text())) or 0,
        "posts_matched": count(s.MatchState, s.MatchState.skip_reason.is_(None)),
        "posts_skipped": count(s.MatchState, s.MatchState.skip_reason.is_not(None)),
        "quarantined": count(s.Quarantine, s.Quarantine.action == "rejected"),
        "field_warnings": count(s.Quarantine, s.Quarantine.action != "rejected"),
        "unmapped_ratings": unmapped,
        "posts_analysed": count(s.PostAnalysis),
        "posts_by_language": {row[0]: row[1] for row in conn.execute(
            sa.select(s.PostAnalysis.lang, sa.func.count()).group_by(s.PostAnalysis.lang)
            .order_by(sa.func.count().desc(), s.PostAnalysis.lang))},
        "posts_by_topic": {row[0]: row[1] for row in conn.execute(
            sa.select(s.PostTopic.topic, sa.func.count()).where(s.PostTopic.assigned.is_(True))
            .group_by(s.PostTopic.topic).order_by(s.PostTopic.topic))},
        **notes_and_labels_stats(conn),
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


def posts_to_match(conn: sa.Connection, index_version: str, rematch: bool, max_chars: int) -> list[Any]:
    """Collected posts not yet matched against this index version (all of them with ``rematch``).

    ``text`` is the first ``max_chars`` characters (``text_length`` says how long the post is):
    matching reads no more, and a 10 MB post must not cost gigabytes."""
    q = (sa.select(s.Post.id, sa.func.substr(s.Post.text, 1, max_chars).label("text"),
                   sa.func.length(s.Post.text).label("text_length"), s.Post.text_hash, s.Post.created_at)
         .where(s.Post.collected.is_(True))
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


def current_text_hashes(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, str | None]:
    """The posts' text hashes, with their rows locked until the transaction ends (PostgreSQL):
    matching writes only for posts whose text did not change since it read them, and an ingest
    editing one of them waits for (or is waited for by) this write."""
    out: dict[int, str | None] = {}
    for chunk in _chunks(sorted(set(post_ids))):
        out.update({row.id: row.text_hash for row in conn.execute(
            sa.select(s.Post.id, s.Post.text_hash).where(s.Post.id.in_(chunk)).order_by(s.Post.id).with_for_update())})
    return out


def write_matches(conn: sa.Connection, post_id: int, candidates: Sequence[CandidateRow],
                  method: str, index_version: str) -> int:
    """Replace a post's machine candidates; analyst decisions on its current text are kept as
    they are. A decision on an earlier text stays as history while the machine's view of the
    new text takes its status (``outdated`` when the machine no longer ranks the pair).

    Returns the number of proposals written.
    """
    decided = {row.factcheck_id: row.current for row in conn.execute(
        sa.select(s.Match.factcheck_id, (s.Match.decided_text_hash == s.Post.text_hash).label("current"))
        .join(s.Post, s.Post.id == s.Match.post_id)
        .where(s.Match.post_id == post_id, s.Match.decision.is_not(None)))}
    conn.execute(sa.delete(s.Match).where(s.Match.post_id == post_id, s.Match.decision.is_(None)))
    now = s.utcnow()
    rows, proposed = [], 0
    ranked = {c.factcheck_id for c in candidates}
    outdated = [fc for fc, current in decided.items() if not current and fc not in ranked]
    if outdated:
        conn.execute(sa.update(s.Match).where(s.Match.post_id == post_id, s.Match.factcheck_id.in_(outdated))
                     .values(status=r.MatchStatus.OUTDATED.value, updated_at=now))
    for c in candidates:
        status = r.MatchStatus.PROPOSED if c.proposed else r.MatchStatus.CANDIDATE
        if c.factcheck_id in decided:
            machine = {} if decided[c.factcheck_id] else {"status": status.value}
            proposed += machine.get("status") == r.MatchStatus.PROPOSED
            conn.execute(sa.update(s.Match).where(s.Match.post_id == post_id, s.Match.factcheck_id == c.factcheck_id)
                         .values(rank=c.rank, score=c.score, confidence=c.confidence, evidence=c.evidence,
                                 method=method, updated_at=now, **machine))
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
    """Record an analyst decision on the post's current text (reopening clears it); returns
    False when there is no such match."""
    if status not in (r.MatchStatus.CONFIRMED, r.MatchStatus.REJECTED, r.MatchStatus.PROPOSED):
        raise ValueError(f"an analyst can confirm, reject or reopen a match, not set it to {status}")
    limit = sanitise.column_limit(s.Match.__table__.c.decided_by) or 0
    if len(who) > limit or not sanitise.storable(who + (note or "")):
        raise ValueError(f"the analyst's name must be at most {limit} characters, and name and note plain text")
    decided = status != r.MatchStatus.PROPOSED
    on_text = sa.select(s.Post.text_hash).where(s.Post.id == s.Match.post_id).scalar_subquery()
    res = conn.execute(sa.update(s.Match).where(s.Match.id == match_id).values(
        status=status.value, decision=status.value if decided else None, decided_by=who if decided else None,
        decided_at=s.utcnow() if decided else None, decided_text_hash=on_text if decided else None, note=note,
        updated_at=s.utcnow()))
    return res.rowcount > 0


# --------------------------------------------------------------------------- text analysis and topics

@retry_races
def write_analysis(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the stored analysis (language, check-worthiness, claim sentence) of these posts."""
    for chunk in _chunks([row["post_id"] for row in rows]):
        conn.execute(sa.delete(s.PostAnalysis).where(s.PostAnalysis.post_id.in_(chunk)))
    if rows:
        conn.execute(sa.insert(s.PostAnalysis), list(rows))


@retry_races
def write_topics(conn: sa.Connection, post_ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
    """Replace the topic scores of these posts (all topics: a changed topic file drops old topics)."""
    for chunk in _chunks(list(post_ids)):
        conn.execute(sa.delete(s.PostTopic).where(s.PostTopic.post_id.in_(chunk)))
    if rows:
        conn.execute(sa.insert(s.PostTopic), list(rows))


def analysis_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(list(post_ids)):
        q = sa.select(*s.PostAnalysis.__table__.c).where(s.PostAnalysis.post_id.in_(chunk))
        out.update({row.post_id: dict(row._mapping) for row in conn.execute(q)})
    return out


def topics_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(list(post_ids)):
        q = (sa.select(*s.PostTopic.__table__.c).where(s.PostTopic.post_id.in_(chunk))
             .order_by(s.PostTopic.post_id, s.PostTopic.topic))
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(dict(row._mapping))
    return out


def stored_topics(conn: sa.Connection) -> list[str]:
    return [row[0] for row in conn.execute(sa.select(s.PostTopic.topic).distinct().order_by(s.PostTopic.topic))]


# --------------------------------------------------------------------------- report queries

def select_posts(conn: sa.Connection, *, handles: Sequence[str] = (), since: datetime | None = None,
                 until: datetime | None = None, keywords: Sequence[str] = (), include_reposts: bool = False,
                 platform: str | None = None, topics: Sequence[str] = (), langs: Sequence[str] = ()
                 ) -> list[dict[str, Any]]:
    """Collected posts in a selection, with author handle, oldest first.

    ``until`` is exclusive. Keywords match case-insensitively anywhere in the text (any of them).
    ``topics``: posts assigned to any of these topics. ``langs``: posts whose detected language
    (else the platform's tag) is one of these. ``lang`` in the result is that language.
    """
    lang = sa.func.coalesce(s.PostAnalysis.lang, s.Post.lang)
    q = (sa.select(s.Post.id, s.Post.platform, s.Post.platform_id, s.Post.created_at, s.Post.text,
                   lang.label("lang"), s.Post.lang.label("platform_lang"),
                   s.Post.url, s.Post.kind, s.Post.referenced_id, s.Author.handle, s.Author.name.label("author_name"))
         .outerjoin(s.Author, s.Author.id == s.Post.author_id)
         .outerjoin(s.PostAnalysis, s.PostAnalysis.post_id == s.Post.id)
         .where(s.Post.collected.is_(True)).order_by(s.Post.created_at, s.Post.id))
    if topics:
        q = q.where(sa.exists().where(s.PostTopic.post_id == s.Post.id, s.PostTopic.topic.in_(list(topics)),
                                      s.PostTopic.assigned.is_(True)))
    if langs:
        q = q.where(lang.in_(list(langs)))
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
                       s.Match.rank, s.Match.status, s.Match.method, s.Match.evidence,
                       *_decision_columns(),
                       s.FactCheck.id.label("factcheck_id"), s.FactCheck.review_url, s.FactCheck.claim_text,
                       s.FactCheck.publisher_name, s.FactCheck.publisher_site, s.FactCheck.rating_text,
                       s.FactCheck.verdict, s.FactCheck.review_date, s.FactCheck.title, s.FactCheck.language)
             .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
             .join(s.Post, s.Post.id == s.Match.post_id)
             .where(s.Match.post_id.in_(chunk), s.Match.status.in_(list(statuses)))
             .order_by(s.Match.post_id, s.Match.score.desc()))
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(_decision_row(row))
    return out


def _decision_columns() -> tuple[Any, ...]:
    return (s.Match.decision, s.Match.decided_by, s.Match.decided_at, s.Match.note.label("decision_note"),
            sa.and_(s.Match.decision.is_not(None), s.Match.decided_text_hash == s.Post.text_hash)
            .label("decision_current"))


def _decision_row(row: Any) -> dict[str, Any]:
    """A match row whose ``decided_by`` is set only when the decision is on the current text; a
    ``decision`` with ``decision_current`` False was made on an earlier text, by ``earlier_decided_by``."""
    d = dict(row._mapping)
    d["decision_current"] = bool(d["decision_current"])
    d["earlier_decided_by"] = None
    if not d["decision_current"]:
        d["earlier_decided_by"], d["decided_by"] = d["decided_by"], None
    return d


def _on_earlier_text() -> sa.ColumnElement[bool]:
    """A match whose analyst decision was made on another text than its post's (joined) one."""
    return sa.and_(s.Match.decision.is_not(None),
                   sa.or_(s.Match.decided_text_hash.is_(None), s.Match.decided_text_hash != s.Post.text_hash))


def decisions_on_earlier_text(conn: sa.Connection, post_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Analyst decisions made on an earlier text of these posts (they were edited since): not
    counted anywhere, listed for re-review, oldest decision first."""
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(post_ids))):
        q = (sa.select(s.Match.id.label("match_id"), s.Match.post_id, s.Match.status, s.Match.decision,
                       s.Match.decided_by, s.Match.decided_at, s.Match.note.label("decision_note"),
                       s.FactCheck.review_url, s.FactCheck.publisher_name, s.FactCheck.rating_text, s.FactCheck.verdict)
             .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
             .join(s.Post, s.Post.id == s.Match.post_id)
             .where(s.Match.post_id.in_(chunk), _on_earlier_text()))
        out.extend(dict(row._mapping) for row in conn.execute(q))
    return sorted(out, key=lambda d: (d["decided_at"] is None, d["decided_at"] or 0, d["match_id"]))


def snapshots_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every metric snapshot of these posts, oldest first (growth over time)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(list(post_ids)):
        q = (sa.select(*s.MetricSnapshot.__table__.c).where(s.MetricSnapshot.post_id.in_(chunk))
             .order_by(s.MetricSnapshot.post_id, s.MetricSnapshot.observed_at))
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(dict(row._mapping))
    return out


def media_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in _chunks(list(post_ids)):
        q = (sa.select(s.Media.post_id, s.Media.media_key, s.Media.type, s.Media.url, s.Media.view_count,
                       s.Media.duration_ms).where(s.Media.post_id.in_(chunk)).order_by(s.Media.post_id, s.Media.media_key))
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(dict(row._mapping))
    return out


def authors_of(conn: sa.Connection, handles: Sequence[str]) -> list[dict[str, Any]]:
    """Accounts by handle (case-insensitive), for a study's account block."""
    q = (sa.select(s.Author.platform, s.Author.platform_id, s.Author.handle, s.Author.name, s.Author.followers,
                   s.Author.updated_at)
         .where(sa.func.lower(s.Author.handle).in_([h.lower() for h in handles])).order_by(s.Author.handle))
    return [dict(row._mapping) for row in conn.execute(q)]


def ingest_runs(conn: sa.Connection) -> list[dict[str, Any]]:
    """Finished ingest runs with their files: where a study's data came from, and when."""
    q = (sa.select(s.IngestRun.id, s.IngestRun.kind, s.IngestRun.started_at, s.IngestRun.finished_at,
                   s.IngestRun.status, s.IngestRun.files, s.IngestRun.counts)
         .where(s.IngestRun.status != "running").order_by(s.IngestRun.id))
    return [dict(row._mapping) for row in conn.execute(q)]


# --------------------------------------------------------------------------- community notes and labels
#
# Notes, status rows and label events are keyed by their own ids, never by a post's store
# key, so they land before (or without) their post and join when it arrives. A second copy
# of a key within one file is told from a re-ingest without holding the file's keys in
# memory: the stored row says which file, line and version of the file (snapshot, or
# run for label streams) wrote it.

@dataclass
class _Keyed:
    """A row to upsert: its key, its column values (with provenance) and the record behind it."""

    key: tuple[Any, ...]
    values: dict[str, Any]
    source: r.SourceRef
    raw: Any


#: Computes the update for a stored row whose key comes again from another file (None: leave it).
_Resolve = Callable[[Any, dict[str, Any]], "dict[str, Any] | None"]


def _upsert_keyed(conn: sa.Connection, table: sa.Table, key_cols: tuple[str, ...], items: Sequence[_Keyed],
                  what: Callable[[tuple[Any, ...]], str], resolve: _Resolve | None, version: str,
                  extra_cols: tuple[str, ...] = ()) -> BatchCounts:
    """Insert new keys; report in-file duplicates; ``resolve`` stored rows seen again.

    A stored row from the same path and ``version`` (the column telling one version of a
    file from another, e.g. its snapshot) but another line is an earlier copy in the same
    file: the record is a duplicate, on the first run and on every re-run alike. Another
    file of the same version with other content is a conflict: the first is kept and the
    disagreement reported. Across versions ``resolve`` decides; without it rows are
    observations that never change, and other content is a conflict as well.
    """
    counts = BatchCounts()
    batch: dict[tuple[Any, ...], _Keyed] = {}
    for item in items:
        first = batch.get(item.key)
        if first is None:
            batch[item.key] = item
        else:
            counts.duplicates.append(_duplicate(item, first.source.location,
                                                first.values["content_hash"] == item.values["content_hash"]))
    cols = [table.c[k] for k in dict.fromkeys((*key_cols, "content_hash", version, "source_path", "source_location",
                                               *extra_cols))]
    existing: dict[tuple[Any, ...], Any] = {}
    for chunk in _chunks(sorted({k[0] for k in batch})):
        for row in conn.execute(sa.select(*cols).where(table.c[key_cols[0]].in_(chunk))):
            existing[tuple(row[: len(key_cols)])] = row
    inserts, updates = [], []
    for key, item in batch.items():
        old = existing.get(key)
        if old is None:
            inserts.append(item.values)
            counts.inserted += 1
            continue
        same = old.content_hash == item.values["content_hash"]
        if (old.source_path == item.source.path and old.source_location != item.source.location
                and getattr(old, version) == item.values[version]):
            counts.duplicates.append(_duplicate(item, old.source_location, same))
            continue
        same_version = getattr(old, version) == item.values[version]
        change = resolve(old, item.values) if resolve and not same_version else None
        if change:
            updates.append((key, change))
        if change and "content_hash" in change:
            counts.updated += 1
        elif same or (resolve and not same_version):
            counts.unchanged += 1
        else:
            counts.conflicts.append(r.Rejected(
                item.source, f"conflicting {what(key)}: the copy from {old.source_path} {old.source_location} "
                             f"was kept, this one differs", _raw_text(item.raw)))
    if inserts:
        conn.execute(sa.insert(table), inserts)
    # One executemany per set of changed columns (a new download may widen millions of spans).
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, change in updates:
        by_columns.setdefault(tuple(sorted(change)), []).append(
            {**change, **{f"key_{k}": v for k, v in zip(key_cols, key)}})
    for params in by_columns.values():
        conn.execute(sa.update(table).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key_cols)), params)
    return counts


def _duplicate(item: _Keyed, first_location: str | None, same: bool) -> r.Rejected:
    how = "identical" if same else "different content; the first was kept"
    return r.Rejected(item.source, f"duplicate of the record at {first_location} ({how})", _raw_text(item.raw))


def _raw_text(raw: Any) -> str:
    return json.dumps(raw, ensure_ascii=False, default=str)


def _keyed(key: tuple[Any, ...], values: dict[str, Any], raw: Any, source: r.SourceRef | None,
           run_id: int | None, digest: str, now: datetime) -> _Keyed:
    assert source is not None
    return _Keyed(key, {**values, **_provenance(raw, source, digest, run_id), "first_seen_at": now, "updated_at": now},
                  source, raw)


def _row_digest(raw: dict[str, str]) -> str:
    """Content hash of a TSV row ({column: text}); cheaper than JSON for millions of rows."""
    return hashlib.sha256("\x1f".join(f"{k}\x1e{v}" for k, v in raw.items()).encode("utf-8", "surrogatepass")
                          ).hexdigest()


@retry_races
def upsert_notes(conn: sa.Connection, notes: Sequence[r.Note], run_id: int | None) -> BatchCounts:
    """Notes keyed by note id. The content of the latest download wins; each download a note
    is in widens its ``first/last_snapshot_at`` span (how deletions are told later)."""
    now = s.utcnow()
    fitted = sanitise.fit_notes(notes)
    items = [_keyed((n.note_id,), dict(note_id=n.note_id, tweet_id=n.tweet_id, classification=n.classification,
                                       created_at=n.created_at, author_id=n.author_id,
                                       first_snapshot_at=n.snapshot_at, last_snapshot_at=n.snapshot_at),
                    n.raw, n.source, run_id, _row_digest(n.raw), now) for n in fitted.records]

    def resolve(old: Any, values: dict[str, Any]) -> dict[str, Any] | None:
        snap = values["last_snapshot_at"]
        span = dict(first_snapshot_at=min(old.first_snapshot_at, snap), last_snapshot_at=max(old.last_snapshot_at, snap))
        if old.content_hash != values["content_hash"] and snap > old.last_snapshot_at:
            return {**{k: v for k, v in values.items() if k != "first_seen_at"}, **span}
        if (span["first_snapshot_at"], span["last_snapshot_at"]) != (old.first_snapshot_at, old.last_snapshot_at):
            return span
        return None

    counts = _upsert_keyed(conn, s.Note.__table__, ("note_id",), items, lambda k: f"note {k[0]}", resolve,
                           version="last_snapshot_at", extra_cols=("first_snapshot_at",))
    counts.take(fitted)
    return counts


_STATUS_FIELDS = ("created_at", "current_status", "current_status_at", "first_non_nmr_status", "first_non_nmr_at",
                  "latest_non_nmr_status", "latest_non_nmr_at", "locked_status", "locked_at", "decided_by")


@retry_races
def add_note_statuses(conn: sa.Connection, rows: Sequence[r.NoteStatus], run_id: int | None) -> BatchCounts:
    """Status rows keyed by (note, snapshot); never updated (see :func:`_upsert_keyed`)."""
    now = s.utcnow()
    fitted = sanitise.fit_statuses(rows)
    items = [_keyed((st.note_id, st.snapshot_at),
                    dict(note_id=st.note_id, snapshot_at=st.snapshot_at, **{f: getattr(st, f) for f in _STATUS_FIELDS}),
                    st.raw, st.source, run_id, _row_digest(st.raw), now) for st in fitted.records]
    counts = _upsert_keyed(conn, s.NoteStatus.__table__, ("note_id", "snapshot_at"), items,
                           lambda k: f"status of note {k[0]} in the snapshot of {k[1].isoformat()}", None,
                           version="snapshot_at")
    counts.take(fitted)
    return counts


@retry_races
def add_label_events(conn: sa.Connection, events: Sequence[r.LabelEvent], run_id: int | None) -> BatchCounts:
    """Label events keyed by (post, label, type, apply/remove, time); never updated."""
    key_cols = ("platform_id", "platform", "label", "event_type", "action", "event_at")
    now = s.utcnow()
    fitted = sanitise.fit_labels(events)
    items = []
    for e in fitted.records:
        values = dict(platform=e.platform, platform_id=e.platform_id, label=e.label, event_type=e.event_type,
                      action=e.action, event_at=e.event_at, label_title=e.label_title, details=e.details,
                      details_url=e.details_url)
        items.append(_keyed(tuple(values[k] for k in key_cols), values, e.raw, e.source, run_id,
                            _digest([values, e.raw]), now))
    counts = _upsert_keyed(conn, s.LabelEvent.__table__, key_cols, items,
                           lambda k: f"{k[4]} of the {k[2]} label {k[3]!r} on post {k[0]} at {k[5].isoformat()}",
                           None, version="ingest_run_id")
    counts.take(fitted)
    return counts


_RATING_COUNTS = ("ratings", "helpful", "somewhat_helpful", "not_helpful")


@retry_races
def set_note_ratings(conn: sa.Connection, rows: Sequence[r.NoteRatings], run_id: int | None) -> BatchCounts:
    """Per-note counts of one ratings file, keyed by (note, snapshot, file name): a re-read
    of the same file replaces its counts instead of adding them again."""
    counts = BatchCounts()
    rows = counts.take(sanitise.fit_ratings(rows))
    t = s.NoteRatings.__table__
    existing: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for chunk in _chunks(sorted({x.note_id for x in rows})):
        for row in conn.execute(sa.select(t.c.note_id, t.c.snapshot_at, t.c.file_name, *(t.c[k] for k in _RATING_COUNTS))
                                .where(t.c.note_id.in_(chunk))):
            existing[tuple(row[:3])] = tuple(row[3:])
    inserts = []
    for x in rows:
        key, numbers = (x.note_id, x.snapshot_at, x.file_name), tuple(getattr(x, k) for k in _RATING_COUNTS)
        old = existing.get(key)
        if old is None:
            inserts.append(dict(note_id=x.note_id, snapshot_at=x.snapshot_at, file_name=x.file_name,
                                ingest_run_id=run_id, **dict(zip(_RATING_COUNTS, numbers))))
            counts.inserted += 1
        elif old == numbers:
            counts.unchanged += 1
        else:
            conn.execute(sa.update(t).where(t.c.note_id == key[0], t.c.snapshot_at == key[1], t.c.file_name == key[2])
                         .values(ingest_run_id=run_id, **dict(zip(_RATING_COUNTS, numbers))))
            counts.updated += 1
    if inserts:
        conn.execute(sa.insert(t), inserts)
    return counts


def notes_on_posts(conn: sa.Connection, tweet_ids: Sequence[str]) -> list[Any]:
    """Every stored note written on these posts, by tweet id then creation time."""
    out: list[Any] = []
    for chunk in _chunks(sorted(set(tweet_ids))):
        out.extend(conn.execute(
            sa.select(s.Note.note_id, s.Note.tweet_id, s.Note.classification, s.Note.created_at,
                      s.Note.first_snapshot_at, s.Note.last_snapshot_at)
            .where(s.Note.tweet_id.in_(chunk)).order_by(s.Note.tweet_id, s.Note.created_at, s.Note.note_id)))
    return out


def note_statuses(conn: sa.Connection, note_ids: Sequence[str], as_of: datetime | None = None) -> list[Any]:
    """Status rows of these notes from snapshots not after ``as_of``, oldest snapshot first."""
    out: list[Any] = []
    for chunk in _chunks(sorted(set(note_ids))):
        q = (sa.select(s.NoteStatus.note_id, s.NoteStatus.snapshot_at, *(getattr(s.NoteStatus, f) for f in _STATUS_FIELDS))
             .where(s.NoteStatus.note_id.in_(chunk)).order_by(s.NoteStatus.note_id, s.NoteStatus.snapshot_at))
        if as_of is not None:
            q = q.where(s.NoteStatus.snapshot_at <= as_of)
        out.extend(conn.execute(q))
    return out


def note_rating_counts(conn: sa.Connection, note_ids: Sequence[str], as_of: datetime | None = None
                       ) -> dict[str, dict[str, int]]:
    """Per note, its rating counts in the latest ratings snapshot not after ``as_of`` (summed over that
    snapshot's files)."""
    t = s.NoteRatings.__table__
    latest: dict[str, tuple[datetime, dict[str, int]]] = {}
    for chunk in _chunks(sorted(set(note_ids))):
        q = (sa.select(t.c.note_id, t.c.snapshot_at, *(sa.func.sum(t.c[k]).label(k) for k in _RATING_COUNTS))
             .where(t.c.note_id.in_(chunk)).group_by(t.c.note_id, t.c.snapshot_at)
             .order_by(t.c.note_id, t.c.snapshot_at))
        if as_of is not None:
            q = q.where(t.c.snapshot_at <= as_of)
        for row in conn.execute(q):
            latest[row.note_id] = (row.snapshot_at, {k: int(getattr(row, k)) for k in _RATING_COUNTS})
    return {note_id: numbers for note_id, (_, numbers) in latest.items()}


def dated_files(conn: sa.Connection, kind: str, fmt: str, dated_by: str) -> set[datetime]:
    """Dates of the files of one format that completed runs read in full, dated by ``dated_by``
    (e.g. "--snapshot-date"); the runs' own reports are the record of what was read."""
    out: set[datetime] = set()
    for counts in conn.scalars(sa.select(s.IngestRun.counts).where(s.IngestRun.kind == kind,
                                                                   s.IngestRun.status == "completed")):
        for f in (counts or {}).get("files", []):
            if (f.get("format") == fmt and not f.get("error") and f.get("observed_at")
                    and f.get("observed_at_source") == dated_by):
                out.add(datetime.fromisoformat(f["observed_at"]))
    return out


def label_events_on_posts(conn: sa.Connection, platform: str, platform_ids: Sequence[str],
                          until: datetime | None = None) -> list[Any]:
    """Label events on these posts (not after ``until``), per post in time order."""
    out: list[Any] = []
    for chunk in _chunks(sorted(set(platform_ids))):
        q = (sa.select(s.LabelEvent.platform_id, s.LabelEvent.label, s.LabelEvent.event_type, s.LabelEvent.action,
                       s.LabelEvent.event_at, s.LabelEvent.label_title, s.LabelEvent.details, s.LabelEvent.details_url)
             .where(s.LabelEvent.platform == platform, s.LabelEvent.platform_id.in_(chunk))
             .order_by(s.LabelEvent.platform_id, s.LabelEvent.event_at, s.LabelEvent.id))
        if until is not None:
            q = q.where(s.LabelEvent.event_at <= until)
        out.extend(conn.execute(q))
    return out


def platform_ids_of(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Store post id -> (platform, platform id)."""
    out: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(sorted(set(post_ids))):
        out.update({row.id: (row.platform, row.platform_id) for row in conn.execute(
            sa.select(s.Post.id, s.Post.platform, s.Post.platform_id).where(s.Post.id.in_(chunk)))})
    return out


def notes_and_labels_stats(conn: sa.Connection) -> dict[str, int]:
    """Counts for ``claimwatch stats``."""
    def count(q: sa.Select[Any]) -> int:
        return conn.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0

    return {
        "notes": count(sa.select(s.Note.note_id)),
        "notes_on_stored_posts": count(sa.select(s.Note.note_id).join(
            s.Post, sa.and_(s.Post.platform == "x", s.Post.platform_id == s.Note.tweet_id))),
        "note_status_rows": count(sa.select(s.NoteStatus.note_id)),
        "note_status_snapshots": count(sa.select(s.NoteStatus.snapshot_at).distinct()),
        "notes_with_rating_counts": count(sa.select(s.NoteRatings.note_id).distinct()),
        "label_events": count(sa.select(s.LabelEvent.id)),
        "labelled_posts": count(sa.select(s.LabelEvent.platform, s.LabelEvent.platform_id).distinct()),
    }
