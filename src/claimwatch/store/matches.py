"""Matches of posts to fact-checks: the matcher's candidates and proposals, analyst decisions
(kept apart, on the text they were made on), and the matches reports read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.media.records import MEDIA_METHOD_PREFIX
from claimwatch.store import queue_table
from claimwatch.store import schema as s
from claimwatch.store.common import chunks
from claimwatch.store.rows import CurrentDecision, StoredFactCheck, StoredMatch


def posts_to_match(
    conn: sa.Connection, index_version: str, rematch: bool, max_chars: int, post_ids: Sequence[int] | None = None
) -> list[Any]:
    """Collected posts not yet matched against this index version (all of them with ``rematch``);
    with ``post_ids``, only among those (the live runner's new posts: no scan of the whole store).

    ``text`` is the first ``max_chars`` characters (``text_length`` says how long the post is):
    matching reads no more, and a 10 MB post must not cost gigabytes."""
    q = (
        sa.select(
            s.Post.id,
            sa.func.substr(s.Post.text, 1, max_chars).label("text"),
            sa.func.length(s.Post.text).label("text_length"),
            s.Post.text_hash,
            s.Post.created_at,
        )
        .where(s.Post.collected.is_(True))
        .outerjoin(s.MatchState, s.MatchState.post_id == s.Post.id)
        .order_by(s.Post.id)
    )
    if not rematch:
        q = q.where(sa.or_(s.MatchState.post_id.is_(None), s.MatchState.index_version != index_version))
    if post_ids is not None:
        q = q.where(s.Post.id.in_(sa.bindparam("ids", expanding=True)))
        return list(conn.execute(q, {"ids": list(post_ids)})) if post_ids else []
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
    #: a proposal's claim vs narrative label (:mod:`claimwatch.claims.relation`); None: unknown
    #: (the v1 method has no calibrated confidence to tell) or not a proposal
    relation: str | None = None


def current_text_hashes(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, str | None]:
    """The posts' text hashes, with their rows locked until the transaction ends (PostgreSQL):
    matching writes only for posts whose text did not change since it read them, and an ingest
    editing one of them waits for (or is waited for by) this write."""
    out: dict[int, str | None] = {}
    for chunk in chunks(sorted(set(post_ids))):
        out.update(
            {
                row.id: row.text_hash
                for row in conn.execute(
                    sa.select(s.Post.id, s.Post.text_hash)
                    .where(s.Post.id.in_(chunk))
                    .order_by(s.Post.id)
                    .with_for_update()
                )
            }
        )
    return out


@dataclass
class PostMatches:
    """One post's new machine candidates, as :func:`write_matches_many` takes them."""

    post_id: int
    candidates: Sequence[CandidateRow]
    method: str


def write_matches(
    conn: sa.Connection,
    post_id: int,
    candidates: Sequence[CandidateRow],
    method: str,
    index_version: str,
    refresh: bool = True,
) -> int:
    """Replace a post's machine candidates; :func:`write_matches_many` for one post."""
    return write_matches_many(conn, [PostMatches(post_id, candidates, method)], index_version, refresh)


def write_matches_many(
    conn: sa.Connection,
    posts: Sequence[PostMatches],
    index_version: str | None,
    refresh: bool = True,
    *,
    media: bool = False,
) -> int:
    """Replace these posts' machine candidates; analyst decisions on a post's current text are
    kept as they are. A decision on an earlier text stays as history while the machine's view of
    the new text takes its status (``outdated`` when the machine no longer ranks the pair); so
    does a reopened match (its history is kept with it).

    Two matchers write here, each only its own rows: the text matcher (``media=False``) and the
    media matcher (``media=True``: methods ``media:…``, on the bank items' fact-checks). Only the
    text matcher records the posts' matching state (``index_version``).

    A batch of posts costs a few statements, not a few per post (per post they were most of what
    `match` spent in the store). ``refresh=False``: the caller refreshes the posts' queue rows
    itself, later in the same transaction. Returns the number of proposals written.
    """
    ids = [p.post_id for p in posts]
    if len(set(ids)) < len(ids):
        raise ValueError("write_matches_many: a post appears twice in one batch")
    basis = media_method() if media else sa.not_(media_method())
    decided: dict[int, dict[int, bool]] = {}
    for chunk in chunks(ids):
        for row in conn.execute(
            sa.select(
                s.Match.post_id,
                s.Match.factcheck_id,
                sa.and_(s.Match.decision.is_not(None), s.Match.decided_text_hash == s.Post.text_hash).label("current"),
            )
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Match.post_id.in_(chunk), sa.not_(machine_only()), basis)
        ):
            decided.setdefault(row.post_id, {})[row.factcheck_id] = bool(row.current)
        conn.execute(sa.delete(s.Match).where(s.Match.post_id.in_(chunk), machine_only(), basis))
    now = s.utcnow()
    rows, proposed = [], 0
    for post in posts:
        kept = decided.get(post.post_id, {})
        ranked = {c.factcheck_id for c in post.candidates}
        outdated = [fc for fc, current in kept.items() if not current and fc not in ranked]
        if outdated:
            conn.execute(
                sa.update(s.Match)
                .where(s.Match.post_id == post.post_id, s.Match.factcheck_id.in_(outdated))
                .values(status=r.MatchStatus.OUTDATED.value, updated_at=now)
            )
        for c in post.candidates:
            status = r.MatchStatus.PROPOSED if c.proposed else r.MatchStatus.CANDIDATE
            # what the machine's ranking sets, on a new row or on one an analyst decided
            ranked_values = dict(
                rank=c.rank,
                score=c.score,
                confidence=c.confidence,
                evidence=c.evidence,
                relation=c.relation,
                method=post.method,
                updated_at=now,
            )
            if c.factcheck_id in kept:
                machine = {} if kept[c.factcheck_id] else {"status": status.value}
                proposed += machine.get("status") == r.MatchStatus.PROPOSED
                conn.execute(
                    sa.update(s.Match)
                    .where(s.Match.post_id == post.post_id, s.Match.factcheck_id == c.factcheck_id)
                    .values(**ranked_values, **machine)
                )
                continue
            proposed += status == r.MatchStatus.PROPOSED
            rows.append(
                dict(
                    post_id=post.post_id,
                    factcheck_id=c.factcheck_id,
                    status=status.value,
                    created_at=now,
                    **ranked_values,
                )
            )
    if rows:
        conn.execute(sa.insert(s.Match), rows)
    if media:
        if refresh:
            queue_table.refresh_posts(conn, ids)
    else:
        set_match_states(conn, {post_id: None for post_id in ids}, index_version or "", refresh)
    return proposed


def media_method() -> sa.ColumnElement[bool]:
    """A media match (the media matcher's row; the text matcher leaves it alone)."""
    return s.Match.method.startswith(MEDIA_METHOD_PREFIX)


def machine_only() -> sa.ColumnElement[bool]:
    """A match no analyst ever decided: the machine may replace it. One with a history (even a
    reopened one) is kept, like a decision on an earlier text, so its history keeps its match."""
    return sa.and_(s.Match.decision.is_(None), ~sa.exists().where(s.MatchDecision.match_id == s.Match.id))


def set_match_state(
    conn: sa.Connection, post_id: int, index_version: str, skip_reason: str | None, refresh: bool = True
) -> None:
    """Record that the post was matched (or skipped, and why); :func:`set_match_states` for one post."""
    set_match_states(conn, {post_id: skip_reason}, index_version, refresh)


def set_match_states(
    conn: sa.Connection, skip_reasons: dict[int, str | None], index_version: str, refresh: bool = True
) -> None:
    """Record that these posts were matched (skip reason None) or skipped, and why — the last
    write of a post's matching, so the posts' queue rows are refreshed here, after their matches
    changed (unless the caller does it for many posts at once: ``refresh=False``, then
    :func:`queue_table.refresh_posts` before the transaction ends)."""
    ids = list(skip_reasons)
    for chunk in chunks(ids):
        conn.execute(sa.delete(s.MatchState).where(s.MatchState.post_id.in_(chunk)))
    if ids:
        now = s.utcnow()
        conn.execute(
            sa.insert(s.MatchState),
            [
                dict(post_id=post_id, index_version=index_version, skip_reason=why, matched_at=now)
                for post_id, why in skip_reasons.items()
            ],
        )
    if refresh:
        queue_table.refresh_posts(conn, ids)


def matches_for_posts(
    conn: sa.Connection, post_ids: Sequence[int], statuses: Sequence[str]
) -> dict[int, list[StoredMatch]]:
    """Matches in the given statuses with their fact-checks, best score first.

    The statuses are filtered here, not in SQL: a post has a few matches, and a status condition
    lets SQLite's planner walk the status index (every proposal in the store) instead of the
    posts' own matches — 0.2 s instead of 1 ms for a queue page on a 100k-proposal store."""
    wanted = set(statuses)
    out: dict[int, list[StoredMatch]] = {}
    for chunk in chunks(list(post_ids)):
        q = _matches_query().where(s.Match.post_id.in_(chunk))
        for row in conn.execute(q.order_by(s.Match.post_id, s.Match.score.desc())):
            if row.status in wanted:
                out.setdefault(row.post_id, []).append(_match(row))
    return out


def on_earlier_text() -> sa.ColumnElement[bool]:
    """A match whose analyst decision was made on another text than its post's (joined) one."""
    return sa.and_(
        s.Match.decision.is_not(None),
        sa.or_(s.Match.decided_text_hash.is_(None), s.Match.decided_text_hash != s.Post.text_hash),
    )


def decisions_on_earlier_text(conn: sa.Connection, post_ids: Sequence[int]) -> list[StoredMatch]:
    """Matches whose analyst decision was made on an earlier text of these posts (they were edited
    since): not counted anywhere, listed for re-review, oldest decision first."""
    out: list[StoredMatch] = []
    for chunk in chunks(sorted(set(post_ids))):
        out.extend(
            _match(row) for row in conn.execute(_matches_query().where(s.Match.post_id.in_(chunk), on_earlier_text()))
        )
    return sorted(
        out,
        key=lambda m: (
            m.decision is None or m.decision.at is None,
            m.decision.at if m.decision and m.decision.at else 0,
            m.id,
        ),
    )


_FACTCHECK_COLUMNS = (
    "review_url",
    "claim_text",
    "title",
    "publisher_name",
    "publisher_site",
    "rating_text",
    "verdict",
    "review_date",
    "language",
)


def _matches_query() -> sa.Select[Any]:
    return (
        sa.select(
            s.Match.id,
            s.Match.post_id,
            s.Match.rank,
            s.Match.score,
            s.Match.confidence,
            s.Match.status,
            s.Match.method,
            s.Match.evidence,
            s.Match.decision,
            s.Match.decided_by,
            s.Match.decided_at,
            s.Match.note,
            s.Match.version,
            s.Match.relation,
            s.Match.decided_relation,
            (s.Match.decided_text_hash == s.Post.text_hash).label("on_current_text"),
            s.FactCheck.id.label("factcheck_id"),
            *(getattr(s.FactCheck, c) for c in _FACTCHECK_COLUMNS),
        )
        .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
        .join(s.Post, s.Post.id == s.Match.post_id)
    )


def _match(row: Any) -> StoredMatch:
    fc = StoredFactCheck(id=row.factcheck_id, **{c: getattr(row, c) for c in _FACTCHECK_COLUMNS})
    decision = (
        None
        if row.decision is None
        else CurrentDecision(
            row.decision, row.decided_by, row.decided_at, row.note, bool(row.on_current_text), row.decided_relation
        )
    )
    return StoredMatch(
        id=row.id,
        post_id=row.post_id,
        rank=row.rank,
        score=float(row.score),
        confidence=None if row.confidence is None else float(row.confidence),
        status=row.status,
        method=row.method,
        evidence=row.evidence or {},
        factcheck=fc,
        decision=decision,
        version=row.version,
        machine_relation=row.relation,
    )
