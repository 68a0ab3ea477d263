"""The review-queue table as the writers kept it, and as a rebuild makes it: the tests compare the two
(every writer must leave what a rebuild would)."""

from __future__ import annotations

import sqlalchemy as sa

import claimwatch
from claimwatch.store import queue_table


def queue_state(conn: sa.Connection) -> tuple[list[dict], dict[str, int]]:
    rows = queue_table.entries(conn)
    queues = {row["queue"] for row in rows} | set(queue_table.REVIEW_QUEUES)
    counts = {q: queue_table.count(conn, q) for q in sorted(queues | {"unchecked", "report", "unmatched"})}
    return rows, counts


def rebuilt_queue(ws: claimwatch.Workspace) -> tuple[list[dict], dict[str, int]]:
    """The table as a rebuild makes it (rolled back: the store is left as it was)."""
    with ws.engine.connect() as conn:
        tx = conn.begin()
        queue_table.rebuild(conn)
        out = queue_state(conn)
        tx.rollback()
    return out
