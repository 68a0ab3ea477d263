"""Alerts and their pending deliveries (``alerts``, ``alert_deliveries``), and what the alert rules
read about a batch's posts.

An alert is inserted only when its ``dedup_key`` is absent, so each one is made once whatever
replays, restarts or second watchers happen: on SQLite the write lock (``BEGIN IMMEDIATE``)
serialises the check and the insert; on PostgreSQL a concurrent insert of the same key breaks the
unique constraint and the batch runs again (:func:`~claimwatch.store.db.retry_races`), finding it.
Each new alert gets one ``pending`` delivery per channel in the same transaction; the deliverer
(:mod:`claimwatch.alerts`) sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.records import MatchStatus
from claimwatch.store import schema as s
from claimwatch.store.alert_deliveries import PENDING
from claimwatch.store.common import chunks
from claimwatch.store.db import retry_races

#: Characters of a post's text read for an alert (the payload clips shorter; a 10 MB post is not read whole).
TEXT_READ = 2000
#: Match statuses that can alert: a machine proposal, or an analyst's confirmation.
ALERTING = (MatchStatus.PROPOSED.value, MatchStatus.CONFIRMED.value)


@dataclass(frozen=True)
class AlertPost:
    """A post as an alert shows it; views None = unknown (never 0)."""

    id: int
    platform: str
    platform_id: str
    url: str | None
    author_platform_id: str | None
    author_handle: str | None
    created_at: datetime | None
    text: str
    views: int | None
    views_observed_at: datetime | None


@dataclass(frozen=True)
class AlertMatch:
    """A proposed or confirmed match of a post, with the fact-check it names."""

    post_id: int
    factcheck_id: int
    status: str
    confidence: float | None
    method: str
    relation: str | None
    evidence: dict[str, Any]
    review_url: str
    publisher: str | None
    rating: str | None
    verdict: str | None
    claim: str


@dataclass(frozen=True)
class NewAlert:
    """An alert the rules decided on; ``payload`` is completed with the alert's id on insert."""

    dedup_key: str
    rule: str
    kind: str
    post_id: int
    factcheck_id: int | None
    confidence: float | None
    views: int | None
    payload: dict[str, Any]
    event_received_at: datetime | None
    created_at: datetime


def alert_posts(conn: sa.Connection, post_ids: Sequence[int]) -> dict[int, AlertPost]:
    out: dict[int, AlertPost] = {}
    p, a = s.Post, s.Author
    for chunk in chunks(sorted(set(post_ids))):
        q = (
            sa.select(
                p.id,
                p.platform,
                p.platform_id,
                p.url,
                a.platform_id.label("author_platform_id"),
                a.handle.label("author_handle"),
                p.created_at,
                sa.func.substr(p.text, 1, TEXT_READ).label("text"),
                p.views_latest.label("views"),
                p.views_latest_at.label("views_observed_at"),
            )
            .outerjoin(a, a.id == p.author_id)
            .where(p.id.in_(chunk), p.collected.is_(True))
        )
        out.update((row.id, AlertPost(**row._mapping)) for row in conn.execute(q))
    return out


def alerting_matches(conn: sa.Connection, post_ids: Sequence[int]) -> list[AlertMatch]:
    """The proposed and confirmed matches of ``post_ids`` (text and media), best first per post."""
    m, f = s.Match, s.FactCheck
    out: list[AlertMatch] = []
    for chunk in chunks(sorted(set(post_ids))):
        q = (
            sa.select(
                m.post_id,
                m.factcheck_id,
                m.status,
                m.confidence,
                m.method,
                m.relation,
                m.evidence,
                f.review_url,
                sa.func.coalesce(f.publisher_name, f.publisher_site).label("publisher"),
                f.rating_text.label("rating"),
                f.verdict,
                f.claim_text.label("claim"),
            )
            .join(f, f.id == m.factcheck_id)
            .where(m.post_id.in_(chunk), m.status.in_(ALERTING))
            .order_by(m.post_id, m.rank, m.id)
        )
        out.extend(AlertMatch(**{**row._mapping, "evidence": row.evidence or {}}) for row in conn.execute(q))
    return out


@retry_races
def insert_alerts(conn: sa.Connection, alerts: Sequence[NewAlert], channels: Sequence[tuple[str, str]]) -> list[int]:
    """Insert the alerts whose ``dedup_key`` is not stored yet, each with a pending delivery per
    ``(channel name, transport)``; returns the new alerts' ids (re-running adds nothing)."""
    wanted = {a.dedup_key: a for a in alerts}
    if not wanted:
        return []
    stored: set[str] = set()
    for chunk in chunks(list(wanted)):
        stored.update(conn.scalars(sa.select(s.Alert.dedup_key).where(s.Alert.dedup_key.in_(chunk))))
    ids = []
    for key, alert in wanted.items():
        if key in stored:
            continue
        alert_id = conn.execute(
            sa.insert(s.Alert).values(
                dedup_key=key,
                rule=alert.rule,
                kind=alert.kind,
                post_id=alert.post_id,
                factcheck_id=alert.factcheck_id,
                confidence=alert.confidence,
                views=alert.views,
                payload=alert.payload,
                event_received_at=alert.event_received_at,
                created_at=alert.created_at,
            )
        ).inserted_primary_key[0]
        # the payload is the alert as sent: it carries its own id (receivers dedupe by it)
        conn.execute(
            sa.update(s.Alert).where(s.Alert.id == alert_id).values(payload={**alert.payload, "alert_id": alert_id})
        )
        if channels:
            conn.execute(
                sa.insert(s.AlertDelivery),
                [
                    dict(
                        alert_id=alert_id,
                        channel=name,
                        transport=transport,
                        status=PENDING,
                        attempts=0,
                        next_attempt_at=alert.created_at,
                        created_at=alert.created_at,
                    )
                    for name, transport in channels
                ],
            )
        ids.append(alert_id)
    return ids


@dataclass(frozen=True)
class StoredAlert:
    id: int
    dedup_key: str
    kind: str
    post_id: int
    factcheck_id: int | None
    payload: dict[str, Any]
    event_received_at: datetime | None
    created_at: datetime


def alerts_by_id(conn: sa.Connection, alert_ids: Sequence[int]) -> list[StoredAlert]:
    """Stored alerts (for tests, benchmarks and the CLI's summary), in id order."""
    out: list[StoredAlert] = []
    a = s.Alert
    for chunk in chunks(sorted(set(alert_ids))):
        q = sa.select(
            a.id, a.dedup_key, a.kind, a.post_id, a.factcheck_id, a.payload, a.event_received_at, a.created_at
        ).where(a.id.in_(chunk))
        out.extend(StoredAlert(**row._mapping) for row in conn.execute(q.order_by(a.id)))
    return out
