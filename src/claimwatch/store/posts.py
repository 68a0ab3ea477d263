"""Authors, posts, their versions, media and metric snapshots: written in batches by ingest,
read by analysis (selections, snapshots, media, accounts)."""

from __future__ import annotations

import hashlib
import html
import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import queue_table, sanitise, search_index
from claimwatch.store import schema as s
from claimwatch.store.common import BatchCounts, chunks, json_digest, provenance
from claimwatch.store.db import retry_races
from claimwatch.store.matches import machine_only
from claimwatch.store.rows import Snapshot, StoredAuthor, StoredMedia, StoredPost


def _author_key(a: r.Author) -> tuple[str, str]:
    # Generic CSVs may name only a handle; key such authors by it so they still group (a
    # handle too long for the id column by its hash).
    key = f"handle:{(a.handle or '').lower()}"
    if len(key) > _AUTHOR_ID_LIMIT:
        key = f"handle-sha256:{json_digest(key)[:32]}"
    return a.platform, a.platform_id or key


_AUTHOR_ID_LIMIT = sanitise.column_limit(s.Author.__table__.c.platform_id) or 64


def _upsert_authors(conn: sa.Connection, authors: dict[tuple[str, str], r.Author]) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = {}
    for platform, pid in authors:
        by_platform.setdefault(platform, []).append(pid)
    for platform, pids in by_platform.items():
        for chunk in chunks(pids):
            for row in conn.execute(
                sa.select(s.Author.id, s.Author.platform_id, s.Author.handle, s.Author.name, s.Author.followers).where(
                    s.Author.platform == platform, s.Author.platform_id.in_(chunk)
                )
            ):
                key = (platform, row.platform_id)
                ids[key] = row.id
                new = authors[key]
                # Fill in what a richer record knows; a sparse mention never erases it.
                changes = {
                    k: v
                    for k, v in (("handle", new.handle), ("name", new.name), ("followers", new.followers))
                    if v is not None and v != getattr(row, k)
                }
                if changes:
                    if new.raw:
                        changes["raw"] = new.raw
                    conn.execute(
                        sa.update(s.Author).where(s.Author.id == row.id).values(**changes, updated_at=s.utcnow())
                    )
    missing = [(k, a) for k, a in authors.items() if k not in ids]
    if missing:
        new_ids = (
            conn.execute(
                sa.insert(s.Author).returning(s.Author.id, sort_by_parameter_order=True),
                [
                    dict(
                        platform=key[0],
                        platform_id=key[1],
                        handle=a.handle,
                        name=a.name,
                        followers=a.followers,
                        raw=a.raw,
                    )
                    for key, a in missing
                ],
            )
            .scalars()
            .all()
        )
        ids.update(zip((key for key, _ in missing), new_ids, strict=True))
    return ids


def text_hash(text: str) -> str:
    """What an analyst decision was made on: a post's text as a reader sees it. An edit changes
    the hash; a re-read that only decodes HTML entities or normalises Unicode or whitespace
    (a parser fix) does not, so it does not re-open decisions."""
    seen = " ".join(unicodedata.normalize("NFKC", html.unescape(text)).split())
    return hashlib.sha256(seen.encode("utf-8", "surrogatepass")).hexdigest()


def post_content_hash(p: r.Post) -> str:
    """Hash of what a post *is* (not its metrics, which go to snapshots)."""
    return json_digest(
        [
            p.text,
            p.kind.value,
            p.referenced_id,
            p.lang,
            p.url,
            p.created_at,
            _author_key(p.author) if p.author else None,
            [m.media_key for m in p.media],
            p.collected,
        ]
    )


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
        for chunk in chunks(pids):
            for row in conn.execute(
                sa.select(
                    s.Post.id,
                    s.Post.platform_id,
                    s.Post.content_hash,
                    s.Post.collected,
                    s.Post.text_hash,
                    s.Post.observed_at,
                ).where(s.Post.platform == platform, s.Post.platform_id.in_(chunk))
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
    updated: list[int] = []
    new: list[tuple[tuple[str, str], dict[str, Any], list[r.MediaRef]]] = []
    for key, p in chosen.items():
        digest = post_content_hash(p)
        values = dict(
            platform=p.platform,
            platform_id=p.platform_id,
            author_id=author_ids.get(_author_key(p.author)) if p.author else None,
            created_at=p.created_at,
            text=p.text,
            lang=p.lang,
            url=p.url,
            kind=p.kind.value,
            referenced_id=p.referenced_id,
            collected=p.collected,
            text_hash=text_hash(p.text),
            observed_at=p.metrics.observed_at if p.metrics else None,
            **provenance(p.raw, p.source, digest, run_id),
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
        updated.append(post_id)
        if old.text_hash != values["text_hash"]:
            edited.append(post_id)

    _insert_posts(conn, new, post_ids)
    counts.inserted += len(new)
    _reopen(conn, edited)
    counts.snapshots_added, counts.conflicts, viewed = _add_snapshots(
        conn, [(post_ids[(p.platform, p.platform_id)], p) for p in posts if p.metrics is not None], run_id
    )
    # new posts, changed ones (kind, collected, an edit re-opening matches) and new latest views
    changed = {post_ids[key] for key, _, _ in new} | set(updated) | viewed
    queue_table.refresh_posts(conn, changed)
    counts.ids = post_ids
    return counts


_VERSION_COLUMNS = (
    "content_hash",
    "text",
    "observed_at",
    "raw",
    "source_format",
    "source_path",
    "source_location",
    "ingest_run_id",
)


def _stored_content(conn: sa.Connection, post_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(*(getattr(s.Post, c) for c in _VERSION_COLUMNS)).where(s.Post.id == post_id)).one()
    return dict(row._mapping)


def _keep_version(conn: sa.Connection, post_id: int, reason: str, values: dict[str, Any]) -> int:
    """Keep a post's content that is not (or no longer) the stored one; 1 if it was new."""
    known = conn.scalar(
        sa.select(s.PostVersion.id).where(
            s.PostVersion.post_id == post_id, s.PostVersion.content_hash == values["content_hash"]
        )
    )
    if known is not None:
        return 0
    conn.execute(
        sa.insert(s.PostVersion).values(post_id=post_id, reason=reason, **{c: values[c] for c in _VERSION_COLUMNS})
    )
    return 1


def _reopen(conn: sa.Connection, post_ids: Sequence[int]) -> None:
    """Posts whose text changed are matched and analysed again: the machine's candidates,
    proposals, analysis and topics for the old text go; analyst decisions stay, as history,
    and count again only if the text is the one they were made on (else ``outdated``)."""
    on_text = sa.select(s.Post.text_hash).where(s.Post.id == s.Match.post_id).scalar_subquery()
    for chunk in chunks(list(post_ids)):
        conn.execute(sa.delete(s.Match).where(s.Match.post_id.in_(chunk), machine_only()))
        conn.execute(
            sa.update(s.Match)
            .where(s.Match.post_id.in_(chunk), sa.not_(machine_only()))
            .values(
                status=sa.case(
                    (s.Match.decided_text_hash == on_text, s.Match.decision), else_=r.MatchStatus.OUTDATED.value
                ),
                updated_at=s.utcnow(),
            )
        )
        for table in (s.MatchState, s.PostAnalysis, s.PostTopic):
            conn.execute(sa.delete(table).where(table.post_id.in_(chunk)))


def _insert_posts(
    conn: sa.Connection,
    new: list[tuple[tuple[str, str], dict[str, Any], list[r.MediaRef]]],
    post_ids: dict[tuple[str, str], int],
) -> None:
    """Insert a batch's new posts and their media in two statements (one row per post was most
    of an ingest's time)."""
    if not new:
        return
    ids = (
        conn.execute(
            sa.insert(s.Post).returning(s.Post.id, sort_by_parameter_order=True), [values for _, values, _ in new]
        )
        .scalars()
        .all()
    )
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
        rows.append(
            dict(
                post_id=post_id,
                media_key=m.media_key,
                type=m.type,
                url=m.url,
                preview_url=m.preview_url,
                duration_ms=m.duration_ms,
                view_count=m.view_count,
                raw=m.raw,
            )
        )
    return rows


#: media keys of files an analyst attached (``media add``): no source version lists them
LOCAL_MEDIA_PREFIX = "local:"


def _replace_media(conn: sa.Connection, post_id: int, media: list[r.MediaRef]) -> None:
    """The post's media as the new version lists them, updated in place by key (only rows that
    changed): a kept row keeps its id, so its download (``media_fetches``, which cascades on
    delete) survives a re-ingest; attached local files stay."""
    rows = {row["media_key"]: row for row in _media_rows(post_id, media)}
    m = s.Media
    stored = {
        row.media_key: row
        for row in conn.execute(
            sa.select(
                m.id, m.post_id, m.media_key, m.type, m.url, m.preview_url, m.duration_ms, m.view_count, m.raw
            ).where(m.post_id == post_id)
        )
    }
    gone = [row.id for key, row in stored.items() if key not in rows and not key.startswith(LOCAL_MEDIA_PREFIX)]
    if gone:
        conn.execute(sa.delete(m).where(m.id.in_(gone)))
    for key, row in rows.items():
        old = stored.get(key)
        if old is not None and any(getattr(old, name) != value for name, value in row.items()):
            conn.execute(sa.update(m).where(m.id == old.id).values(**row))
    new = [row for key, row in rows.items() if key not in stored]
    if new:
        conn.execute(sa.insert(m), new)


_METRICS = r.METRIC_FIELDS


def _add_snapshots(
    conn: sa.Connection, items: list[tuple[int, r.Post]], run_id: int | None
) -> tuple[int, list[r.Rejected], set[int]]:
    """Add snapshots for (post id, observed_at) pairs not yet stored; returns how many, the
    conflicts, and the posts whose latest views changed (:func:`_set_latest_views`).

    The same observation twice adds nothing; if it disagrees with the stored numbers the
    first one is kept and the disagreement is reported, never silently merged.
    """
    if not items:
        return 0, [], set()
    existing: dict[tuple[int, datetime], tuple] = {}
    for chunk in chunks(sorted({pid for pid, _ in items})):
        for row in conn.execute(
            sa.select(
                s.MetricSnapshot.post_id,
                s.MetricSnapshot.observed_at,
                *(getattr(s.MetricSnapshot, m) for m in _METRICS),
            ).where(s.MetricSnapshot.post_id.in_(chunk))
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
                conflicts.append(
                    r.Rejected(
                        src,
                        f"conflicting snapshot for post {p.platform_id} at {m.observed_at.isoformat()}: "
                        f"kept {dict(zip(_METRICS, existing[key], strict=True))}, ignored {dict(zip(_METRICS, numbers, strict=True))}",
                        json.dumps(dict(zip(_METRICS, numbers, strict=True))),
                    )
                )
            continue
        existing[key] = numbers
        rows.append(
            dict(
                post_id=pid,
                observed_at=m.observed_at,
                ingest_run_id=run_id,
                **dict(zip(_METRICS, numbers, strict=True)),
            )
        )
    if rows:
        conn.execute(sa.insert(s.MetricSnapshot), rows)
    return len(rows), conflicts, _set_latest_views(conn, rows)


def _set_latest_views(conn: sa.Connection, snapshots: list[dict[str, Any]]) -> set[int]:
    """Keep ``posts.views_latest(_at)``: the views of each post's latest snapshot that counted
    views. A new snapshot older than the stored one does not replace it; one without views never
    does (unknown is not 0). Returns the posts whose latest views changed."""
    latest: dict[int, dict[str, Any]] = {}
    for snap in snapshots:
        if snap["views"] is None:
            continue
        cur = latest.get(snap["post_id"])
        if cur is None or snap["observed_at"] > cur["observed_at"]:
            latest[snap["post_id"]] = snap
    if not latest:
        return set()
    stored: dict[int, datetime | None] = {}
    for chunk in chunks(sorted(latest)):
        stored.update(conn.execute(sa.select(s.Post.id, s.Post.views_latest_at).where(s.Post.id.in_(chunk))).all())
    newer = [
        {"pid": pid, "views": snap["views"], "at": snap["observed_at"]}
        for pid, snap in latest.items()
        if stored.get(pid) is None or snap["observed_at"] > stored[pid]
    ]
    if newer:
        conn.execute(
            sa.update(s.Post)
            .where(s.Post.id == sa.bindparam("pid"))
            .values(views_latest=sa.bindparam("views"), views_latest_at=sa.bindparam("at")),
            newer,
        )
    return {row["pid"] for row in newer}


# --------------------------------------------------------------------------- report queries


def post_lang() -> sa.ColumnElement[str | None]:
    """A post's language: the detected one, else the platform's tag (needs the analysis joined)."""
    return sa.func.coalesce(s.PostAnalysis.lang, s.Post.lang)


def handle_in(handles: Sequence[str]) -> sa.ColumnElement[bool]:
    """The post's author is one of ``handles`` (case-insensitive, a leading @ ignored)."""
    return sa.func.lower(s.Author.handle).in_([h.lstrip("@").lower() for h in handles])


def author_ids(conn: sa.Connection, handles: Sequence[str]) -> list[int]:
    """The ids of the accounts :func:`handle_in` selects (resolved first, so that a query for
    their posts walks the posts' author index)."""
    return list(conn.scalars(sa.select(s.Author.id).where(handle_in(handles))))


def posts_of(conn: sa.Connection, authors: Sequence[int]) -> list[int]:
    """The ids of these accounts' posts."""
    out: list[int] = []
    for chunk in chunks(list(authors)):
        out += conn.scalars(sa.select(s.Post.id).where(s.Post.author_id.in_(chunk)))
    return out


def stored_posts_query() -> sa.Select[Any]:
    """The columns of :class:`StoredPost`, with the author and analysis joined (callers filter)."""
    return (
        sa.select(
            s.Post.id,
            s.Post.platform,
            s.Post.platform_id,
            s.Post.created_at,
            s.Post.text,
            post_lang().label("lang"),
            s.Post.lang.label("platform_lang"),
            s.Post.url,
            s.Post.kind,
            s.Post.referenced_id,
            s.Author.handle,
            s.Author.name.label("author_name"),
        )
        .outerjoin(s.Author, s.Author.id == s.Post.author_id)
        .outerjoin(s.PostAnalysis, s.PostAnalysis.post_id == s.Post.id)
    )


def posts_by_id(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, StoredPost]:
    """These posts as :func:`select_posts` gives them, by store id."""
    out: dict[int, StoredPost] = {}
    for chunk in chunks(list(post_ids)):
        out.update(
            (row.id, StoredPost(**row._mapping))
            for row in conn.execute(stored_posts_query().where(s.Post.id.in_(chunk)))
        )
    return out


def select_posts(
    conn: sa.Connection,
    *,
    handles: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    keywords: Sequence[str] = (),
    include_reposts: bool = False,
    platform: str | None = None,
    topics: Sequence[str] = (),
    langs: Sequence[str] = (),
    matched: Sequence[str] = (),
    newest_first: bool = False,
    limit: int | None = None,
) -> list[StoredPost]:
    """Collected posts in a selection, with author handle, oldest first (``newest_first``: the
    other way, as a search shows them; ``limit``: only that many).

    ``until`` is exclusive. Keywords match case-insensitively anywhere in the text (any of them).
    ``topics``: posts assigned to any of these topics. ``langs``: posts whose detected language
    (else the platform's tag) is one of these. ``lang`` in the result is that language.
    ``matched``: posts with a match in any of these statuses.
    """
    q = (
        stored_posts_query()
        .where(s.Post.collected.is_(True))
        .order_by(*((s.Post.created_at.desc(), s.Post.id.desc()) if newest_first else (s.Post.created_at, s.Post.id)))
        .limit(limit)
    )
    if topics:
        q = q.where(
            sa.exists().where(
                s.PostTopic.post_id == s.Post.id, s.PostTopic.topic.in_(list(topics)), s.PostTopic.assigned.is_(True)
            )
        )
    if matched:
        q = q.where(sa.exists().where(s.Match.post_id == s.Post.id, s.Match.status.in_(list(matched))))
    if langs:
        q = q.where(post_lang().in_(list(langs)))
    if handles:
        q = q.where(handle_in(handles))
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
    return [StoredPost(**row._mapping) for row in conn.execute(q)]


def search_posts(conn: sa.Connection, phrase: str, limit: int = 50) -> list[StoredPost]:
    """Collected posts (reposts too) whose text contains ``phrase`` (any case; as ``select_posts``'
    keywords match), newest first: found through the trigram index when the store has one
    (:mod:`~claimwatch.store.search_index`)."""
    q = stored_posts_query().where(s.Post.collected.is_(True))
    rows = search_index.newest_rows_containing(conn, q, s.Post.__table__, search_index.POSTS, phrase, limit)
    return [StoredPost(**row._mapping) for row in rows]


def snapshots_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[Snapshot]]:
    """Every metric snapshot of these posts, oldest first (views as of a date, growth over time)."""
    out: dict[int, list[Snapshot]] = {}
    cols = [s.MetricSnapshot.post_id, s.MetricSnapshot.observed_at, *(getattr(s.MetricSnapshot, m) for m in _METRICS)]
    for chunk in chunks(list(post_ids)):
        q = (
            sa.select(*cols)
            .where(s.MetricSnapshot.post_id.in_(chunk))
            .order_by(s.MetricSnapshot.post_id, s.MetricSnapshot.observed_at)
        )
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(Snapshot(**row._mapping))
    return out


def media_for_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, list[StoredMedia]]:
    out: dict[int, list[StoredMedia]] = {}
    for chunk in chunks(list(post_ids)):
        q = (
            sa.select(
                s.Media.post_id, s.Media.media_key, s.Media.type, s.Media.url, s.Media.view_count, s.Media.duration_ms
            )
            .where(s.Media.post_id.in_(chunk))
            .order_by(s.Media.post_id, s.Media.media_key)
        )
        for row in conn.execute(q):
            out.setdefault(row.post_id, []).append(StoredMedia(**row._mapping))
    return out


def authors_of(conn: sa.Connection, handles: Sequence[str]) -> list[StoredAuthor]:
    """Accounts by handle (case-insensitive), for a study's account block."""
    q = (
        sa.select(
            s.Author.platform,
            s.Author.platform_id,
            s.Author.handle,
            s.Author.name,
            s.Author.followers,
            s.Author.updated_at,
        )
        .where(sa.func.lower(s.Author.handle).in_([h.lower() for h in handles]))
        .order_by(s.Author.handle)
    )
    return [StoredAuthor(**row._mapping) for row in conn.execute(q)]


def platform_ids_of(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Store post id -> (platform, platform id)."""
    out: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted(set(post_ids))):
        out.update(
            {
                row.id: (row.platform, row.platform_id)
                for row in conn.execute(
                    sa.select(s.Post.id, s.Post.platform, s.Post.platform_id).where(s.Post.id.in_(chunk))
                )
            }
        )
    return out
