"""Platform label events (X's label stream): every apply and remove, keyed by what happened when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import sanitise
from claimwatch.store import schema as s
from claimwatch.store.common import BatchCounts, chunks, json_digest
from claimwatch.store.db import retry_races
from claimwatch.store.keyed import keyed_row, upsert_keyed
from claimwatch.store.rows import StoredLabelEvent


@retry_races
def add_label_events(conn: sa.Connection, events: Sequence[r.LabelEvent], run_id: int | None) -> BatchCounts:
    """Label events keyed by (post, label, type, apply/remove, time); never updated."""
    key_cols = ("platform_id", "platform", "label", "event_type", "action", "event_at")
    now = s.utcnow()
    fitted = sanitise.fit_labels(events)
    items = []
    for e in fitted.records:
        values = dict(
            platform=e.platform,
            platform_id=e.platform_id,
            label=e.label,
            event_type=e.event_type,
            action=e.action,
            event_at=e.event_at,
            label_title=e.label_title,
            details=e.details,
            details_url=e.details_url,
        )
        items.append(
            keyed_row(
                tuple(values[k] for k in key_cols), values, e.raw, e.source, run_id, json_digest([values, e.raw]), now
            )
        )
    counts = upsert_keyed(
        conn,
        s.LabelEvent.__table__,
        key_cols,
        items,
        lambda k: f"{k[4]} of the {k[2]} label {k[3]!r} on post {k[0]} at {k[5].isoformat()}",
        None,
        version="ingest_run_id",
    )
    counts.take(fitted)
    return counts


def label_events_on_posts(
    conn: sa.Connection, platform: str, platform_ids: Sequence[str], until: datetime | None = None
) -> list[StoredLabelEvent]:
    """Label events on these posts (not after ``until``), per post in time order."""
    out: list[StoredLabelEvent] = []
    for chunk in chunks(sorted(set(platform_ids))):
        q = (
            sa.select(
                s.LabelEvent.platform_id,
                s.LabelEvent.label,
                s.LabelEvent.event_type,
                s.LabelEvent.action,
                s.LabelEvent.event_at,
                s.LabelEvent.label_title,
                s.LabelEvent.details,
                s.LabelEvent.details_url,
            )
            .where(s.LabelEvent.platform == platform, s.LabelEvent.platform_id.in_(chunk))
            .order_by(s.LabelEvent.platform_id, s.LabelEvent.event_at, s.LabelEvent.id)
        )
        if until is not None:
            q = q.where(s.LabelEvent.event_at <= until)
        out.extend(StoredLabelEvent(**row._mapping) for row in conn.execute(q))
    return out
