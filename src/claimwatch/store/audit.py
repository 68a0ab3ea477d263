"""The append-only audit log: every change to a match, study, user or token — who, when, what,
and the object's state before and after.

Writers only append (:func:`append_audit`, in the transaction of the change it records, so a
change and its entry land together or not at all); nothing here updates or deletes an entry.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.store import sanitise
from claimwatch.store import schema as s
from claimwatch.store.rows import AuditEntry

_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "before", "after")
_TABLE = s.AuditLog.__table__.c


def check_actor(actor: str) -> None:
    """Refuse a name the log (or the decision history) cannot hold as it is: an actor is a key to
    who did what, so it is never cut or cleaned silently."""
    limit = sanitise.column_limit(_TABLE.actor) or 0
    if not actor.strip() or len(actor) > limit or not sanitise.storable(actor):
        raise ValueError(f"the analyst's (actor's) name must be plain text, not empty, at most {limit} characters")


def append_audit(conn: sa.Connection, entry: AuditEntry) -> AuditEntry:
    """Append ``entry`` (its ``at`` defaults to now; ``id`` is assigned); returns it as stored."""
    check_actor(entry.actor)
    for field in ("action", "object_type", "object_id"):
        value = getattr(entry, field)
        limit = sanitise.column_limit(_TABLE[field]) or 0
        if value is not None and (len(value) > limit or not sanitise.storable(value)):
            raise ValueError(f"audit entry: {field} must be plain text of at most {limit} characters")
    at = entry.at or s.utcnow()
    values = {c: getattr(entry, c) for c in _COLUMNS if c not in ("id", "at")}
    res = conn.execute(sa.insert(s.AuditLog).values(at=at, **values))
    return dataclasses.replace(entry, id=res.inserted_primary_key[0], at=at)


def list_audit(
    conn: sa.Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditEntry]:
    """Entries in ``[since, until)``, newest first (oldest first for an export).

    ``action``: an exact action (``match.confirm``), or a prefix ending in a dot (``match.``)
    for every action on one kind of object. ``limit`` None: all of them."""
    q = sa.select(*(getattr(s.AuditLog, c) for c in _COLUMNS))
    where: list[Any] = []
    if since is not None:
        where.append(s.AuditLog.at >= since)
    if until is not None:
        where.append(s.AuditLog.at < until)
    if actor is not None:
        where.append(s.AuditLog.actor == actor)
    if action is not None:
        where.append(
            s.AuditLog.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else s.AuditLog.action == action
        )
    if object_type is not None:
        where.append(s.AuditLog.object_type == object_type)
    if object_id is not None:
        where.append(s.AuditLog.object_id == object_id)
    order = (s.AuditLog.id.desc(),) if newest_first else (s.AuditLog.id,)
    q = q.where(*where).order_by(*order).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return [AuditEntry(**row._mapping) for row in conn.execute(q)]
