"""Platform label history per post: which labels were applied and removed when, and
whether a post carried a label at a given time.

Events are replayed in time order per label (kind + event type, e.g. notice "misleading"):
apply switches it on, remove off. A remove with no apply before it means the label was
on before the stored history begins: its period has ``start=None`` and counts as carried
at any time before the removal. Events at the same instant keep their ingest order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from claimwatch.analysis.notes import connected
from claimwatch.store import repo


@dataclass(frozen=True)
class LabelEvent:
    label: str
    event_type: str
    action: str
    at: datetime
    title: str | None
    details: str | None
    details_url: str | None


@dataclass(frozen=True)
class LabelPeriod:
    """A span during which a post carried one label; ``end`` None: still on at the last event."""

    label: str
    event_type: str
    title: str | None
    start: datetime | None
    end: datetime | None

    def covers(self, when: datetime) -> bool:
        return (self.start is None or self.start <= when) and (self.end is None or when < self.end)


@dataclass(frozen=True)
class LabelHistory:
    """Every stored label event of one post, oldest first."""

    platform: str
    platform_id: str
    events: tuple[LabelEvent, ...]

    @property
    def periods(self) -> list[LabelPeriod]:
        """The events folded into on/off spans per label."""
        open_: dict[tuple[str, str], LabelEvent] = {}
        out: list[LabelPeriod] = []
        for e in self.events:
            key = (e.label, e.event_type)
            if e.action == "apply":
                open_.setdefault(key, e)
                continue
            start = open_.pop(key, None)
            out.append(
                LabelPeriod(e.label, e.event_type, start.title if start else e.title, start.at if start else None, e.at)
            )
        out.extend(LabelPeriod(e.label, e.event_type, e.title, e.at, None) for e in open_.values())
        # Periods that began before the stored history first, then by start.
        return sorted(out, key=lambda p: (p.start is not None, p.start or p.end))

    def labels_at(self, when: datetime) -> list[LabelPeriod]:
        """The labels the post carried at ``when``."""
        return [p for p in self.periods if p.covers(when)]

    def carried_label_at(self, when: datetime) -> bool:
        return bool(self.labels_at(when))

    @property
    def ever_labelled(self) -> bool:
        return bool(self.events)


def label_histories(
    bind: sa.Engine | sa.Connection, platform_ids: Sequence[str], *, platform: str = "x", until: datetime | None = None
) -> dict[str, LabelHistory]:
    """Label history per platform post id (events not after ``until``); every id asked gets an entry."""
    events: dict[str, list[LabelEvent]] = {pid: [] for pid in platform_ids}
    with connected(bind) as conn:
        for row in repo.label_events_on_posts(conn, platform, platform_ids, until):
            events[row.platform_id].append(
                LabelEvent(
                    row.label, row.event_type, row.action, row.event_at, row.label_title, row.details, row.details_url
                )
            )
    return {pid: LabelHistory(platform, pid, tuple(evs)) for pid, evs in events.items()}


def label_histories_by_id(
    bind: sa.Engine | sa.Connection, post_ids: Sequence[int], until: datetime | None = None
) -> dict[int, LabelHistory]:
    """The same keyed by store post id."""
    with connected(bind) as conn:
        ids = repo.platform_ids_of(conn, post_ids)
        by_platform: dict[str, list[str]] = {}
        for platform, pid in ids.values():
            by_platform.setdefault(platform, []).append(pid)
        histories = {
            (platform, pid): h
            for platform, pids in by_platform.items()
            for pid, h in label_histories(conn, pids, platform=platform, until=until).items()
        }
    return {post_id: histories[key] for post_id, key in ids.items()}
