"""The alert outbox (``alert_deliveries``): every SQL statement of sending alerts.

A delivery is one alert on one channel. Its ``status``:

- ``pending`` — to send when ``next_attempt_at`` has passed. A sender claims a due row
  (:func:`claim`) by moving its ``next_attempt_at`` one lease ahead, so no other sender takes it
  while it is being sent; a sender killed mid-send leaves the lease to expire and the row is due
  again (that is the only way one alert can reach a channel twice: see ``alerts.deliver``);
- ``sent`` — done, ``sent_at`` says when;
- ``failed`` — the attempts are spent or the channel refused it for good; ``last_error`` says
  why; :func:`requeue_failed` makes it pending again (``claimwatch alerts retry``).

On PostgreSQL a claim selects ``FOR UPDATE SKIP LOCKED`` (two watchers never take one row); on
SQLite the claim runs in a ``BEGIN IMMEDIATE`` write transaction (``db.writing``), which already
serialises claimers, and the UPDATE re-checks that the row is still due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from claimwatch.store import common
from claimwatch.store import schema as s

D, A = s.AlertDelivery, s.Alert
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
#: longest ``last_error`` kept (one line, the reason a channel gave)
ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with what is sent: the alert's payload as the runner recorded it."""

    id: int
    alert_id: int
    channel: str
    transport: str
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryState:
    channel: str
    transport: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class AlertListing:
    """An alert as ``claimwatch alerts list`` shows it: the alert, its post and fact-check (None:
    unknown or gone), and where each channel's delivery stands."""

    alert_id: int
    kind: str
    rule: str
    created_at: datetime
    confidence: float | None
    views: int | None
    platform: str
    platform_id: str
    post_url: str | None
    author: str | None
    review_url: str | None
    publisher: str | None
    deliveries: list[DeliveryState] = field(default_factory=list)


# ------------------------------------------------------------------------------- claim


def _due(now: datetime, channels: Sequence[str]) -> sa.ColumnElement[bool]:
    return sa.and_(D.status == PENDING, D.next_attempt_at <= now, D.channel.in_(channels))


def claim(
    conn: sa.Connection, now: datetime, channels: Sequence[str], limit: int, lease: timedelta
) -> list[DueDelivery]:
    """Up to ``limit`` due deliveries on ``channels`` (oldest first), leased until ``now + lease``."""
    if not channels:
        return []
    pick = sa.select(D.id).where(_due(now, channels)).order_by(D.next_attempt_at, D.id).limit(limit)
    ids = common.lease(conn, pick, D.id, _due(now, channels), next_attempt_at=now + lease)
    if not ids:
        return []
    rows = conn.execute(
        sa.select(D.id, D.alert_id, D.channel, D.transport, D.attempts, A.payload)
        .join(A, A.id == D.alert_id)
        .where(D.id.in_(ids), D.status == PENDING, D.next_attempt_at == now + lease)
        .order_by(D.id)
    )
    return [DueDelivery(r.id, r.alert_id, r.channel, r.transport, r.attempts, r.payload or {}) for r in rows]


def next_due(conn: sa.Connection, channels: Sequence[str]) -> datetime | None:
    """When the earliest pending delivery on ``channels`` is due (leased ones: when the lease ends)."""
    if not channels:
        return None
    return conn.execute(
        sa.select(sa.func.min(D.next_attempt_at)).where(D.status == PENDING, D.channel.in_(channels))
    ).scalar()


# ------------------------------------------------------------------------------ outcomes


def mark_sent(conn: sa.Connection, delivery_id: int, now: datetime) -> None:
    conn.execute(
        sa.update(D)
        .where(D.id == delivery_id)
        .values(status=SENT, sent_at=now, attempts=D.attempts + 1, last_error=None)
    )


def mark_attempt_failed(conn: sa.Connection, delivery_id: int, error: str, retry_at: datetime | None) -> None:
    """A failed attempt: pending again at ``retry_at``, or ``failed`` for good when None."""
    values: dict[str, Any] = dict(attempts=D.attempts + 1, last_error=one_line(error))
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    conn.execute(sa.update(D).where(D.id == delivery_id).values(**values))


def release(conn: sa.Connection, delivery_ids: Sequence[int], now: datetime) -> None:
    """Hand back claims a sender did not finish (it was stopped): due again at once."""
    if delivery_ids:
        conn.execute(sa.update(D).where(D.id.in_(delivery_ids), D.status == PENDING).values(next_attempt_at=now))


def failed_deliveries(conn: sa.Connection, alert_id: int | None = None) -> list[DeliveryState]:
    q = sa.select(D.channel, D.transport, D.status, D.attempts, D.last_error, D.next_attempt_at, D.sent_at).where(
        D.status == FAILED
    )
    if alert_id is not None:
        q = q.where(D.alert_id == alert_id)
    return [DeliveryState(*r) for r in conn.execute(q.order_by(D.id))]


def requeue_failed(conn: sa.Connection, now: datetime, alert_id: int | None = None) -> list[tuple[int, str]]:
    """Make failed deliveries pending again with fresh attempts (all, or one alert's); returns
    their ``(alert id, channel)``."""
    q = sa.select(D.id, D.alert_id, D.channel).where(D.status == FAILED)
    if alert_id is not None:
        q = q.where(D.alert_id == alert_id)
    rows = conn.execute(q.order_by(D.id)).all()
    if rows:
        conn.execute(
            sa.update(D)
            .where(D.id.in_([r.id for r in rows]), D.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=now)
        )
    return [(r.alert_id, r.channel) for r in rows]


def alert_exists(conn: sa.Connection, alert_id: int) -> bool:
    return conn.execute(sa.select(A.id).where(A.id == alert_id)).scalar() is not None


# ------------------------------------------------------------------------------- listing


def list_alerts(conn: sa.Connection, status: str | None = None, limit: int = 100) -> list[AlertListing]:
    """Newest alerts first, with their deliveries; ``status``: only alerts with a delivery in it."""
    p, f, au = s.Post, s.FactCheck, s.Author
    q = (
        sa.select(
            A.id,
            A.kind,
            A.rule,
            A.created_at,
            A.confidence,
            A.views,
            p.platform,
            p.platform_id,
            p.url,
            # a Jetstream post names its author by DID only: the id stands in for the unknown handle
            sa.func.coalesce(au.handle, au.platform_id),
            f.review_url,
            f.publisher_name,
        )
        .join(p, p.id == A.post_id)
        .outerjoin(au, au.id == p.author_id)
        .outerjoin(f, f.id == A.factcheck_id)
        .order_by(A.id.desc())
        .limit(limit)
    )
    if status is not None:
        q = q.where(sa.exists().where(D.alert_id == A.id, D.status == status))
    alerts = [AlertListing(*r) for r in conn.execute(q)]
    by_id = {a.alert_id: a for a in alerts}
    if by_id:
        for r in conn.execute(
            sa.select(
                D.alert_id, D.channel, D.transport, D.status, D.attempts, D.last_error, D.next_attempt_at, D.sent_at
            )
            .where(D.alert_id.in_(list(by_id)))
            .order_by(D.alert_id, D.channel)
        ):
            by_id[r.alert_id].deliveries.append(DeliveryState(*r[1:]))
    return alerts


def one_line(text: str) -> str:
    line = " ".join(str(text).split()) or "unknown error"
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"
