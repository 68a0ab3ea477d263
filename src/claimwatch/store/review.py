"""Analyst review: decisions appended to a match's history with optimistic concurrency, and the
review queue (one item per post, ordered by confidence × views).

A decision is three writes in the caller's transaction: the match's materialised status (what
the matcher and reports read), guarded by its version (``UPDATE … WHERE version = expected``);
a ``match_decisions`` row; an audit entry. Two analysts deciding the same match at once: the
row lock (PostgreSQL ``FOR UPDATE``, SQLite's ``BEGIN IMMEDIATE``) orders them, and the second,
having reviewed a version that is no longer current, gets :class:`DecisionConflict`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.claims import relation as rel
from claimwatch.store import queue_table, sanitise
from claimwatch.store import schema as s
from claimwatch.store.audit import append_audit, check_actor
from claimwatch.store.common import chunks
from claimwatch.store.matches import matches_for_posts
from claimwatch.store.post_analysis import analysis_for_posts
from claimwatch.store.posts import author_ids, media_for_posts, posts_by_id, posts_of
from claimwatch.store.queue_table import lock_posts, refresh_posts
from claimwatch.store.rows import AuditEntry, Candidate, Decision, QueueItem, ReviewPage, StoredMatch

#: What the machine leaves for an analyst; a reopened match returns to one of these.
PENDING = (r.MatchStatus.PROPOSED.value, r.MatchStatus.CANDIDATE.value)
#: The method of a match an analyst made (attached a stored fact-check to a post).
ANALYST_METHOD = "analyst"
#: The review queue's ``status`` choices.
QUEUE_STATUSES = ("proposed", "candidate", "all", "decided")
#: What an analyst's decision leaves.
_DECIDED = (r.MatchStatus.CONFIRMED.value, r.MatchStatus.REJECTED.value)
#: The match statuses shown beside a queued post (outdated ones count nowhere).
_SHOWN = (*PENDING, r.MatchStatus.CONFIRMED.value, r.MatchStatus.REJECTED.value)
_VERB = {
    r.DecisionKind.CONFIRMED: "confirm",
    r.DecisionKind.REJECTED: "reject",
    r.DecisionKind.REOPENED: "reopen",
    r.DecisionKind.CHOSEN: "choose",
}
_HISTORY_COLUMNS = tuple(c.name for c in s.MatchDecision.__table__.c)


class UnknownMatch(LookupError):
    def __init__(self, match_id: int) -> None:
        super().__init__(f"no match with id {match_id}")
        self.match_id = match_id


class DecisionConflict(Exception):
    """The match was decided by someone else after the version the analyst reviewed."""

    def __init__(self, match_id: int, status: str, latest: Decision | None) -> None:
        by = f"decided by {latest.decided_by} at {latest.decided_at:%Y-%m-%d %H:%M:%S} UTC" if latest else "changed"
        super().__init__(
            f"match {match_id} was {by} (now {status}) while you were reviewing it; reload and decide again"
        )
        self.match_id, self.status, self.latest = match_id, status, latest


# --------------------------------------------------------------------------- decisions


def decide(
    conn: sa.Connection,
    match_id: int,
    kind: r.DecisionKind,
    by: str,
    note: str | None = None,
    expected_version: int | None = None,
    action: str | None = None,
    relation: str | None = None,
) -> Decision:
    """Append a decision and set the match's status to what it makes it, in one transaction.

    ``expected_version``: the version the analyst reviewed; None decides on the current one.
    ``action``: the audit entry's action when not the decision's own (``match.attach``).
    ``relation`` (a confirmation only): the post repeats the rated claim or shares its narrative
    only (:mod:`claimwatch.claims.relation`); None confirms the machine's label as it stands (a
    candidate, which has none: repeats), so a later re-match cannot change what was confirmed.
    Raises :class:`UnknownMatch`, :class:`DecisionConflict`, or ValueError (a name or note the
    store cannot hold, a reopen of a match nobody decided)."""
    check_actor(by)
    if note is not None and not sanitise.storable(note):
        raise ValueError("the note must be plain text (no NUL characters or lone surrogates)")
    post_id = conn.scalar(sa.select(s.Match.post_id).where(s.Match.id == match_id))
    if post_id is None:
        raise UnknownMatch(match_id)
    lock_posts(conn, [post_id])  # the post before its matches, as every writer (queue_table)
    row = conn.execute(
        sa.select(
            s.Match.status,
            s.Match.version,
            s.Match.decision,
            s.Match.decided_by,
            s.Match.note,
            s.Match.relation,
            s.Match.decided_relation,
            s.Post.text_hash,
        )
        .join(s.Post, s.Post.id == s.Match.post_id)
        .where(s.Match.id == match_id)
        .with_for_update(of=s.Match)
    ).one_or_none()
    if row is None:
        raise UnknownMatch(match_id)
    if expected_version is not None and row.version != expected_version:
        raise DecisionConflict(match_id, row.status, _latest(conn, match_id))
    reopen = kind == r.DecisionKind.REOPENED
    if reopen and row.decision is None:
        raise ValueError(f"match {match_id} has no decision to reopen (it is {row.status})")
    if reopen:
        status = _machine_status(conn, match_id)
    else:
        status = r.MatchStatus.REJECTED.value if kind == r.DecisionKind.REJECTED else r.MatchStatus.CONFIRMED.value
    confirming = status == r.MatchStatus.CONFIRMED.value and not reopen
    if relation is not None and not confirming:
        raise ValueError("a relation (repeats or narrative) is given with a confirmation only")
    # a confirmation without a relation accepts the machine's label; a candidate has none: the analyst
    # confirms that the post repeats the claim (what confirming meant before the two were told apart)
    decided_relation = None
    if confirming:
        decided_relation = rel.parse(relation) if relation is not None else row.relation or rel.REPEATS
    now, version = s.utcnow(), row.version + 1
    after = {
        "status": status,
        "version": version,
        "decision": None if reopen else status,
        "decided_by": None if reopen else by,
        "note": note,
        "decided_relation": decided_relation,
    }
    updated = conn.execute(
        sa.update(s.Match)
        .where(s.Match.id == match_id, s.Match.version == row.version)
        .values(
            decided_at=None if reopen else now,
            decided_text_hash=None if reopen else row.text_hash,
            updated_at=now,
            **after,
        )
    )
    if updated.rowcount != 1:  # the lock makes this unreachable; the version guard stays the rule
        raise DecisionConflict(match_id, row.status, _latest(conn, match_id))
    values = dict(
        match_id=match_id,
        decided_by=by,
        decided_at=now,
        decision=kind.value,
        note=note,
        previous_status=row.status,
        new_status=status,
        version=version,
        post_text_hash=row.text_hash,
        relation=decided_relation,
    )
    decision_id = conn.execute(sa.insert(s.MatchDecision).values(**values)).inserted_primary_key[0]
    before = {
        "status": row.status,
        "version": row.version,
        "decision": row.decision,
        "decided_by": row.decided_by,
        "decided_relation": row.decided_relation,
    }
    append_audit(
        conn,
        AuditEntry(by, action or f"match.{_VERB[kind]}", "match", str(match_id), before | {"note": row.note}, after),
    )
    refresh_posts(conn, [post_id])
    return Decision(id=decision_id, **values)


def choose(
    conn: sa.Connection,
    match_id: int,
    by: str,
    note: str | None = None,
    expected_version: int | None = None,
    seen_versions: Mapping[int, int] | None = None,
    action: str | None = None,
    relation: str | None = None,
) -> list[Decision]:
    """Confirm this match as the right one for its post and reject the post's other proposed and
    confirmed matches (the chosen decision first). Every match of the post is locked first, in id
    order, so two analysts choosing for one post never deadlock: the second waits, then conflicts.

    ``seen_versions`` (match id → version, as the analyst's page showed the post's candidates)
    guards the whole post: a match it would reject that changed since — or an analyst's
    confirmation the page did not show — is a :class:`DecisionConflict`, and nothing is written.
    None (the CLI) decides on the current state, as :func:`decide` does."""
    post_id = conn.scalar(sa.select(s.Match.post_id).where(s.Match.id == match_id))
    if post_id is None:
        raise UnknownMatch(match_id)
    lock_posts(conn, [post_id])
    ids = conn.scalars(
        sa.select(s.Match.id).where(s.Match.post_id == post_id).order_by(s.Match.id).with_for_update()
    ).all()
    out = [decide(conn, match_id, r.DecisionKind.CHOSEN, by, note, expected_version, action, relation)]
    others = conn.scalars(
        sa.select(s.Match.id)
        .where(
            s.Match.id.in_([i for i in ids if i != match_id]),
            s.Match.status.in_([r.MatchStatus.PROPOSED.value, r.MatchStatus.CONFIRMED.value]),
        )
        .order_by(s.Match.id)
    ).all()
    why = f"match {match_id} chosen instead" + (f": {note}" if note else "")
    for other in others:
        seen = None if seen_versions is None else seen_versions.get(other, -1)  # -1: never shown, never matches
        out.append(decide(conn, other, r.DecisionKind.REJECTED, by, why, seen))
    return out


def attach(
    conn: sa.Connection,
    post_id: int,
    factcheck_id: int,
    by: str,
    note: str | None = None,
    seen_versions: Mapping[int, int] | None = None,
    relation: str = rel.REPEATS,
) -> Decision:
    """An analyst's match: the post repeats this stored fact-check's claim (or, with ``relation``
    narrative, shares its narrative only) although the machine
    did not rank it (or ranked it too low). The pair's match is re-used when it exists, else
    added (method :data:`ANALYST_METHOD`, status candidate, score 0: no machine score — the
    method says why), then chosen as :func:`choose` does — confirmed (history ``chosen``, audit
    ``match.attach``), the post's other proposed or confirmed matches rejected, guarded by
    ``seen_versions``. Raises LookupError for an unknown post or fact-check."""
    check_actor(by)
    if conn.scalar(sa.select(s.Post.id).where(s.Post.id == post_id)) is None:
        raise LookupError(f"no post with id {post_id}")
    if conn.scalar(sa.select(s.FactCheck.id).where(s.FactCheck.id == factcheck_id)) is None:
        raise LookupError(f"no fact-check with id {factcheck_id}")
    # lock the post and its matches first (choose locks them again, in the same order): two
    # analysts attaching to one post wait for each other instead of both inserting
    lock_posts(conn, [post_id])
    conn.execute(sa.select(s.Match.id).where(s.Match.post_id == post_id).order_by(s.Match.id).with_for_update()).all()
    pair = (s.Match.post_id == post_id, s.Match.factcheck_id == factcheck_id)
    existing = conn.execute(sa.select(s.Match.id, s.Match.status).where(*pair)).one_or_none()
    match_id = existing.id if existing else None
    # a decided pair the analyst's card did not show was decided since it was drawn: a conflict
    unseen = -1 if existing and existing.status in _DECIDED else None
    if match_id is None:
        rank = conn.scalar(sa.select(sa.func.max(s.Match.rank)).where(s.Match.post_id == post_id)) or 0
        now = s.utcnow()
        match_id = conn.execute(
            sa.insert(s.Match).values(
                post_id=post_id,
                factcheck_id=factcheck_id,
                rank=rank + 1,
                score=0.0,
                confidence=None,
                method=ANALYST_METHOD,
                evidence={"attached_by": by},
                status=r.MatchStatus.CANDIDATE.value,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    expected = None if seen_versions is None else seen_versions.get(match_id, unseen)
    return choose(conn, match_id, by, note, expected, seen_versions, action="match.attach", relation=relation)[0]


def pending_version(conn: sa.Connection, match_id: int) -> int | None:
    """The version of a match still awaiting a decision (proposed or candidate), its row locked;
    None when there is no such match or someone has decided it (bulk decisions skip those)."""
    lock_posts(conn, conn.scalars(sa.select(s.Match.post_id).where(s.Match.id == match_id)).all())
    row = conn.execute(
        sa.select(s.Match.status, s.Match.version).where(s.Match.id == match_id).with_for_update()
    ).one_or_none()
    return row.version if row is not None and row.status in PENDING else None


def match_history(conn: sa.Connection, match_id: int) -> list[Decision]:
    """Every decision on a match, oldest first; raises :class:`UnknownMatch`."""
    if conn.scalar(sa.select(s.Match.id).where(s.Match.id == match_id)) is None:
        raise UnknownMatch(match_id)
    return [Decision(**row._mapping) for row in conn.execute(_history(match_id).order_by(s.MatchDecision.id))]


def _history(match_id: int) -> sa.Select[Any]:
    return sa.select(*(getattr(s.MatchDecision, c) for c in _HISTORY_COLUMNS)).where(
        s.MatchDecision.match_id == match_id
    )


def _latest(conn: sa.Connection, match_id: int) -> Decision | None:
    row = conn.execute(_history(match_id).order_by(s.MatchDecision.id.desc()).limit(1)).one_or_none()
    return None if row is None else Decision(**row._mapping)


def _machine_status(conn: sa.Connection, match_id: int) -> str:
    """The status the machine gave the match before analysts decided it (proposed if unknown)."""
    before = conn.scalar(
        sa.select(s.MatchDecision.previous_status)
        .where(s.MatchDecision.match_id == match_id, s.MatchDecision.previous_status.in_(PENDING))
        .order_by(s.MatchDecision.id.desc())
        .limit(1)
    )
    return before or r.MatchStatus.PROPOSED.value


# --------------------------------------------------------------------------- the queue

#: Above this many selected posts the ids are not bound into one ``IN`` list (SQLite binds at most
#: 32,766 parameters, PostgreSQL 65,535): the queue's rows are filtered in Python instead.
_IN_LIST_MAX = 10_000


def review_queue(
    conn: sa.Connection,
    *,
    status: str = "proposed",
    accounts: Sequence[str] = (),
    min_confidence: float | None = None,
    max_confidence: float | None = None,
    platform: str | None = None,
    lang: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    post_ids: Collection[int] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ReviewPage:
    """Posts awaiting review, one item each; see :meth:`claimwatch.api.Workspace.review_queue`."""
    if status not in QUEUE_STATUSES:
        raise ValueError(f"queue status {status!r}: use one of {', '.join(QUEUE_STATUSES)}")
    if limit < 1 or offset < 0:
        raise ValueError("the queue's limit must be at least 1 and its offset at least 0")
    acting = queue_table.ACTING[status]
    q, order = queue_table.ordered(status)
    E = s.ReviewQueueEntry
    chosen = None if post_ids is None else set(post_ids)
    filtered = (
        chosen is not None
        or bool(accounts or platform or lang or since or until)
        or min_confidence is not None
        or max_confidence is not None
    )
    if accounts:  # the accounts' posts (their index), then which are in the queue (its key)
        theirs = set(posts_of(conn, author_ids(conn, accounts)))
        chosen = theirs if chosen is None else chosen & theirs
    if chosen is not None and len(chosen) <= _IN_LIST_MAX:  # a study's (or narrative's) selection
        q = q.where(E.post_id.in_(sorted(chosen)))
        chosen = None
    if lang:  # the post's columns, kept in the queue's rows
        q = q.where(E.lang == lang)
    if platform:
        q = q.where(E.platform == platform)
    if since:
        q = q.where(E.created_at >= since)
    if until:
        q = q.where(E.created_at < until)
    # the band on -confidence, a column of the order index: no row is read to test it
    if min_confidence is not None:
        q = q.where(E.rank_confidence <= -min_confidence)
    if max_confidence is not None:
        q = q.where(E.rank_confidence >= -max_confidence)
    ordered = q.order_by(*order)
    if chosen is not None:  # too many ids to bind: the queue's rows are filtered as they stream
        rows = [row for row in conn.execute(ordered) if row.id in chosen]
        return ReviewPage(_items(conn, rows[offset : offset + limit], acting), len(rows), limit, offset)
    if filtered:
        total = conn.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0
    else:
        total = queue_table.count(conn, status)
    # the page's keys first: skipping OFFSET rows reads the order index alone, then its rows by key
    ids = conn.scalars(ordered.with_only_columns(E.post_id).limit(limit).offset(offset)).all()
    rows = {row.id: row for row in conn.execute(queue_table.ordered(status)[0].where(E.post_id.in_(ids)))}
    return ReviewPage(_items(conn, [rows[i] for i in ids], acting), total, limit, offset)


def review_item(conn: sa.Connection, match_id: int) -> QueueItem:
    """The queue item of the post of ``match_id`` as it is now, decided or not (the web page
    redraws one card after a decision), outdated matches too — the card of a post whose text
    changed since shows them, rather than nothing; raises :class:`UnknownMatch`."""
    post_id = conn.scalar(sa.select(s.Match.post_id).where(s.Match.id == match_id))
    if post_id is None:
        raise UnknownMatch(match_id)
    confidence = sa.func.max(sa.func.coalesce(s.Match.confidence, s.Match.score))
    best = sa.select(confidence).where(s.Match.post_id == post_id, s.Match.status.in_(_SHOWN)).scalar_subquery()
    row = conn.execute(
        sa.select(
            s.Post.id,
            sa.func.coalesce(best, 0.0).label("confidence"),
            s.Post.views_latest.label("views"),
            s.Post.views_latest_at.label("views_at"),
        ).where(s.Post.id == post_id)
    ).one()
    every = (*_SHOWN, r.MatchStatus.OUTDATED.value)
    return _items(conn, [row], every, every)[0]


def proposals_by_factcheck(conn: sa.Connection, factcheck_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ids of the matches still proposed for each fact-check (posts repeating one claim, for
    a bulk confirm), oldest first."""
    out: dict[int, list[int]] = {}
    for chunk in chunks(list(dict.fromkeys(factcheck_ids))):
        # the status is checked here: in SQL it would walk the status index (every proposal)
        rows = conn.execute(
            sa.select(s.Match.factcheck_id, s.Match.id, s.Match.status)
            .where(s.Match.factcheck_id.in_(chunk))
            .order_by(s.Match.id)
        )
        for fc, match_id, status in rows:
            if status == r.MatchStatus.PROPOSED.value:
                out.setdefault(fc, []).append(match_id)
    return out


def _items(
    conn: sa.Connection, page: Sequence[Any], acting: tuple[str, ...], statuses: tuple[str, ...] = _SHOWN
) -> list[QueueItem]:
    ids = [row.id for row in page]
    posts = posts_by_id(conn, ids)
    analysis = analysis_for_posts(conn, ids)
    media = media_for_posts(conn, ids)
    matches = matches_for_posts(conn, ids, statuses)
    out = []
    for row in page:
        shown = sorted(matches.get(row.id, []), key=lambda m: (m.rank, m.id))
        # the match to decide: a proposal before a candidate, then the most confident
        todo = min(
            (m for m in shown if m.status in acting),
            key=lambda m: (acting.index(m.status), -(m.confidence if m.confidence is not None else m.score), m.rank),
        )
        a = analysis.get(row.id)
        out.append(
            QueueItem(
                match_id=todo.id,
                post=posts[row.id],
                claim_sentence=a.claim_sentence if a else None,
                claim_start=a.claim_start if a else None,
                claim_end=a.claim_end if a else None,
                views=row.views,
                views_observed_at=row.views_at,
                media=media.get(row.id, []),
                candidates=[_candidate(m) for m in shown],
                confidence=float(row.confidence),
            )
        )
    return out


def _candidate(m: StoredMatch) -> Candidate:
    terms = m.evidence.get("shared_terms")
    cos = (m.evidence.get("features") or {}).get("cos")
    return Candidate(
        match_id=m.id,
        version=m.version,
        status=m.status,
        rank=m.rank,
        score=m.score,
        confidence=m.confidence,
        method=m.method,
        factcheck=m.factcheck,
        matched_terms=[str(t) for t in terms] if isinstance(terms, list) else [],
        similarity=float(cos) if isinstance(cos, int | float) else None,
        evidence=m.evidence,
        decision=m.decision,
        relation=m.relation,
    )
