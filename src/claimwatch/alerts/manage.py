"""What ``claimwatch alerts …`` does, as library calls: list alerts, send what is due once,
re-queue failed deliveries (audit-logged), send a synthetic test message to one channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.alerts.deliver import Deliverer, DeliveryReport, make_transport
from claimwatch.alerts.outcome import Outcome
from claimwatch.analysis.jsonable import rfc3339
from claimwatch.live.watchlist import Channel, Watchlist
from claimwatch.store import alert_deliveries as q
from claimwatch.store import db
from claimwatch.store.audit import append_audit, check_actor
from claimwatch.store.rows import AuditEntry

#: the alert id a test message carries: no stored alert has it
TEST_ALERT_ID = 0


def list_alerts(engine: sa.Engine, status: str | None = None, limit: int = 100) -> list[q.AlertListing]:
    if status is not None and status not in q.STATUSES:
        raise ValueError(f"--status: one of {', '.join(q.STATUSES)}, not {status!r}")
    with engine.connect() as conn:
        return q.list_alerts(conn, status, limit)


def send_due(engine: sa.Engine, watchlist: Watchlist) -> DeliveryReport:
    """One delivery pass over the watchlist's channels (``claimwatch alerts send``, for cron)."""

    async def once() -> DeliveryReport:
        async with Deliverer(engine, watchlist.alerts.channels, watchlist.alerts.max_attempts) as d:
            return await d.deliver_due()

    return asyncio.run(once())


def retry_failed(engine: sa.Engine, actor: str, alert_id: int | None = None) -> list[tuple[int, str]]:
    """Make failed deliveries pending again (one alert's, or all): ``(alert id, channel)`` of each,
    one audit entry per alert, in the same transaction."""
    check_actor(actor)
    with db.writing(engine) as conn:
        if alert_id is not None and not q.alert_exists(conn, alert_id):
            raise ValueError(f"no alert {alert_id} in the store (see `claimwatch alerts list`)")
        requeued = q.requeue_failed(conn, datetime.now(UTC), alert_id)
        channels: dict[int, list[str]] = {}
        for a, ch in requeued:
            channels.setdefault(a, []).append(ch)
        for a, chs in channels.items():
            append_audit(
                conn,
                AuditEntry(
                    actor,
                    "alert.retry",
                    "alert",
                    str(a),
                    before={"channels": chs, "status": q.FAILED},
                    after={"channels": chs, "status": q.PENDING},
                ),
            )
    return requeued


def test_payload(now: datetime | None = None) -> dict[str, Any]:
    """A message that says it is a test, in the alert payload's shape (no real post or fact-check)."""
    at = rfc3339(now or datetime.now(UTC))
    return {
        "schema": "claimwatch-alert/1",
        "alert_id": TEST_ALERT_ID,
        "kind": "test",
        "rule": "test",
        "created_at": at,
        "event_received_at": None,
        "post": {
            "platform": "test",
            "platform_id": "0",
            "url": None,
            "author": "claimwatch test",
            "created_at": at,
            "text": "This is a test message from `claimwatch alerts test`: no post matched anything.",
            "views": None,
            "views_observed_at": None,
        },
        "factcheck": None,
        "match": None,
        "views": None,
    }


def send_test(channel: Channel, timeout: float = 10.0) -> Outcome:
    """Send :func:`test_payload` to ``channel`` now; nothing is recorded."""

    async def once() -> Outcome:
        transport = make_transport(channel, timeout)
        try:
            return await transport.send(TEST_ALERT_ID, test_payload())
        finally:
            await transport.aclose()

    return asyncio.run(once())
