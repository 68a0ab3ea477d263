"""When a post alerts, and the alert as it is sent (``schemas/alert.schema.json``).

Rules (the watchlist's ``alerts``):

- **match**: a text match of a post that is a machine proposal with calibrated confidence at least
  ``min_confidence``, or that an analyst confirmed (their decision outranks the machine's score;
  a confirmed match with no confidence still alerts). Key ``match:<post>:<fact-check>``.
- **media**: a media match (``matches.method`` ``media:…``) proposed or confirmed, when
  ``alerts.media`` is on. A media match has no calibrated confidence (its rules are hash-distance
  thresholds, see :mod:`claimwatch.media.match`), so the confidence rule does not apply to it.
  Key ``media:<post>:<fact-check>``.
- **views**: a post of a watched account (``accounts``: platform + handle, case-insensitive) with a
  proposed or confirmed match whose latest views are at least ``views_threshold``. Unknown views
  never pass (unknown is not 0). Key ``views:<post>:<threshold>``: raising the threshold alerts again.

:func:`evaluate` runs in the caller's transaction and is idempotent (the keys): the watch runner calls
it for each batch's posts, the metric re-fetcher after new snapshots (views passing a threshold later).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.claims.relation import DESCRIBED
from claimwatch.live.watchlist import Account, AlertRules
from claimwatch.media.evidence import is_media_evidence, media_match_phrase
from claimwatch.records import MatchStatus
from claimwatch.schemas import ALERT_SCHEMA
from claimwatch.store import alerts as store
from claimwatch.store.schema import utcnow

#: Characters of a post's text an alert carries (the post's URL leads to the rest).
TEXT_CHARS = 500
MEDIA_PREFIX = "media:"
#: Shared words shown as a text match's evidence.
SHOWN_TERMS = 8


def evaluate(
    conn: sa.Connection,
    post_ids: Sequence[int],
    rules: AlertRules,
    accounts: Sequence[Account],
    received_at: Mapping[int, datetime],
    *,
    now: datetime | None = None,
) -> list[int]:
    """Insert the alerts ``post_ids`` call for that are not stored yet (each with a pending delivery
    per channel); returns the new alerts' ids. ``received_at``: when each post's triggering event
    reached claimwatch (absent: the alert did not come from a live event)."""
    if not post_ids:
        return []
    now = now or utcnow()
    posts = store.alert_posts(conn, post_ids)
    by_post: dict[int, list[store.AlertMatch]] = {}
    for m in store.alerting_matches(conn, list(posts)):
        by_post.setdefault(m.post_id, []).append(m)
    watched = {(a.platform, a.handle.lower()) for a in accounts}
    wanted: list[store.NewAlert] = []
    for post_id, matches in by_post.items():
        post = posts[post_id]
        received = received_at.get(post_id)
        for m in matches:
            rule = _match_rule(m, rules)
            if rule is not None:
                kind = "media" if m.method.startswith(MEDIA_PREFIX) else "match"
                wanted.append(
                    _alert(f"{kind}:{post_id}:{m.factcheck_id}", rule, kind, post, m, None, rules, received, now)
                )
        threshold = rules.views_threshold
        if (
            threshold is not None
            and (post.platform, (post.author_handle or "").lower()) in watched
            and post.views is not None
            and post.views >= threshold
        ):
            top = matches[0]  # best first: the match the views alert names
            rule = f"views_threshold:{threshold}"
            wanted.append(
                _alert(f"views:{post_id}:{threshold}", rule, "views", post, top, threshold, rules, received, now)
            )
    channels = [(c.name, c.kind) for c in rules.channels]
    return store.insert_alerts(conn, wanted, channels)


def _match_rule(m: store.AlertMatch, rules: AlertRules) -> str | None:
    """The rule a match alerts by, or None when it does not."""
    if m.method.startswith(MEDIA_PREFIX):
        return "media" if rules.media else None
    if m.status == MatchStatus.CONFIRMED.value:
        return "confirmed"
    if m.confidence is not None and m.confidence >= rules.min_confidence:
        return f"min_confidence:{rules.min_confidence:g}"
    return None


def _alert(
    key: str,
    rule: str,
    kind: str,
    post: store.AlertPost,
    m: store.AlertMatch,
    threshold: int | None,
    rules: AlertRules,
    received: datetime | None,
    now: datetime,
) -> store.NewAlert:
    payload = alert_payload(kind, rule, post, m, threshold, received, now)
    return store.NewAlert(
        dedup_key=key,
        rule=rule,
        kind=kind,
        post_id=post.id,
        factcheck_id=m.factcheck_id,
        confidence=m.confidence,
        views=post.views if kind == "views" else None,
        payload=payload,
        event_received_at=received,
        created_at=now,
    )


def alert_payload(
    kind: str,
    rule: str,
    post: store.AlertPost,
    m: store.AlertMatch | None,
    threshold: int | None,
    received: datetime | None,
    created: datetime,
) -> dict[str, Any]:
    """The alert as sent (``alert_id`` is filled in when it is stored). Null is unknown, never 0."""
    text = post.text if len(post.text) <= TEXT_CHARS else post.text[: TEXT_CHARS - 1] + "…"
    return {
        "schema": ALERT_SCHEMA,
        "alert_id": None,
        "kind": kind,
        "rule": rule,
        "created_at": rfc3339(created),
        "event_received_at": rfc3339(received),
        "post": {
            "platform": post.platform,
            "platform_id": post.platform_id,
            "url": post.url,
            # a Jetstream event names its author by DID only: the id stands in for the unknown handle
            "author": post.author_handle or post.author_platform_id,
            "created_at": rfc3339(post.created_at),
            "text": text,
            "views": post.views,
            "views_observed_at": rfc3339(post.views_observed_at) if post.views is not None else None,
        },
        "factcheck": None
        if m is None
        else {
            "review_url": m.review_url,
            "publisher": m.publisher,
            "rating": m.rating,
            "verdict": m.verdict,
            "claim": m.claim,
        },
        "match": None
        if m is None
        else {
            "status": m.status,
            "confidence": m.confidence,
            "method": m.method,
            "relation": m.relation,
            "evidence": evidence_words(m),
        },
        "views": None
        if threshold is None
        else {"threshold": threshold, "value": post.views, "observed_at": rfc3339(post.views_observed_at)},
    }


def evidence_words(m: store.AlertMatch) -> str:
    """A match's evidence as the review queue says it: the media distance, or the relation, the
    words post and claim share, the similarity, and the post's words that deny the claim."""
    if is_media_evidence(m.evidence):
        return media_match_phrase(m.evidence)
    parts = [DESCRIBED.get(m.relation, DESCRIBED[None])]
    terms = m.evidence.get("shared_terms")
    if isinstance(terms, list) and terms:
        parts.append("shared words: " + ", ".join(str(t) for t in terms[:SHOWN_TERMS]))
    features = m.evidence.get("features")
    cos = features.get("cos") if isinstance(features, dict) else None
    if isinstance(cos, int | float):
        parts.append(f"similarity {cos:.2f}")
    stance = m.evidence.get("stance")
    if isinstance(stance, list) and stance:
        parts.append("denies or debunks it: " + ", ".join(str(s) for s in stance))
    return "; ".join(parts)
