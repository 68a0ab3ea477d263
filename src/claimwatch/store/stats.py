"""Counts of everything in the store, for ``claimwatch stats``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import schema as s
from claimwatch.store.matches import on_earlier_text
from claimwatch.store.rows import RatingCount, StoreStats

# --------------------------------------------------------------------------- stats


def stats(conn: sa.Connection) -> StoreStats:
    def count(table: type[s.Base], *where: Any) -> int:
        return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0

    by_status = {st.value: 0 for st in r.MatchStatus}
    by_status.update(
        {row[0]: row[1] for row in conn.execute(sa.select(s.Match.status, sa.func.count()).group_by(s.Match.status))}
    )
    by_kind = {
        row[0]: row[1]
        for row in conn.execute(
            sa.select(s.Post.kind, sa.func.count()).where(s.Post.collected.is_(True)).group_by(s.Post.kind)
        )
    }
    verdicts = {
        (row[0] or "unknown"): row[1]
        for row in conn.execute(sa.select(s.FactCheck.verdict, sa.func.count()).group_by(s.FactCheck.verdict))
    }
    unmapped = tuple(
        RatingCount(row[0], row[1])
        for row in conn.execute(
            sa.select(s.FactCheck.rating_text, sa.func.count())
            .where(s.FactCheck.verdict_method == "unmapped")
            .group_by(s.FactCheck.rating_text)
            .order_by(sa.func.count().desc(), s.FactCheck.rating_text)
        )
    )
    return StoreStats(
        posts=count(s.Post, s.Post.collected.is_(True)),
        context_posts=count(s.Post, s.Post.collected.is_(False)),
        posts_by_kind=by_kind,
        authors=count(s.Author),
        media=count(s.Media),
        snapshots=count(s.MetricSnapshot),
        post_versions=count(s.PostVersion),
        factchecks=count(s.FactCheck),
        factchecks_by_verdict=verdicts,
        matches=by_status,
        decisions_on_earlier_text=conn.scalar(
            sa.select(sa.func.count())
            .select_from(s.Match)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(on_earlier_text())
        )
        or 0,
        posts_matched=count(s.MatchState, s.MatchState.skip_reason.is_(None)),
        posts_skipped=count(s.MatchState, s.MatchState.skip_reason.is_not(None)),
        quarantined=count(s.Quarantine, s.Quarantine.action == "rejected"),
        field_warnings=count(s.Quarantine, s.Quarantine.action != "rejected"),
        unmapped_ratings=unmapped,
        posts_analysed=count(s.PostAnalysis),
        posts_by_language={
            row[0]: row[1]
            for row in conn.execute(
                sa.select(s.PostAnalysis.lang, sa.func.count())
                .group_by(s.PostAnalysis.lang)
                .order_by(sa.func.count().desc(), s.PostAnalysis.lang)
            )
        },
        posts_by_topic={
            row[0]: row[1]
            for row in conn.execute(
                sa.select(s.PostTopic.topic, sa.func.count())
                .where(s.PostTopic.assigned.is_(True))
                .group_by(s.PostTopic.topic)
                .order_by(s.PostTopic.topic)
            )
        },
        **notes_and_labels_stats(conn),
        ingest_runs={
            row[0]: row[1]
            for row in conn.execute(sa.select(s.IngestRun.status, sa.func.count()).group_by(s.IngestRun.status))
        },
    )


def notes_and_labels_stats(conn: sa.Connection) -> dict[str, int]:
    """Counts for ``claimwatch stats``."""

    def count(q: sa.Select[Any]) -> int:
        return conn.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0

    return {
        "notes": count(sa.select(s.Note.note_id)),
        "notes_on_stored_posts": count(
            sa.select(s.Note.note_id).join(
                s.Post, sa.and_(s.Post.platform == "x", s.Post.platform_id == s.Note.tweet_id)
            )
        ),
        "note_status_rows": count(sa.select(s.NoteStatus.note_id)),
        "note_status_snapshots": count(sa.select(s.NoteStatus.snapshot_at).distinct()),
        "notes_with_rating_counts": count(sa.select(s.NoteRatings.note_id).distinct()),
        "label_events": count(sa.select(s.LabelEvent.id)),
        "labelled_posts": count(sa.select(s.LabelEvent.platform, s.LabelEvent.platform_id).distinct()),
    }
