"""The relational schema. Portable: the same tables run on SQLite and PostgreSQL.

No dialect-specific SQL: JSON columns use SQLAlchemy's generic ``JSON``; times are stored
as UTC and always handed back timezone-aware (:class:`UTCDateTime`); platform ids are
strings. Alembic migrations in ``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Store aware datetimes as UTC; SQLite drops the zone, so re-attach it on load."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: claimwatch stores UTC-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class SourcedRecord:
    """Columns every ingested record has: the untouched source record and where it came from."""

    raw: Mapped[dict] = mapped_column(sa.JSON)
    source_format: Mapped[str | None] = mapped_column(sa.String(32))
    source_path: Mapped[str | None] = mapped_column(sa.Text)
    source_location: Mapped[str | None] = mapped_column(sa.String(64))
    #: sha256 of the derived fields + raw; an unchanged re-ingest is detected by it.
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    ingest_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ingest_runs.id"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestRun(Base):
    """One ``ingest`` invocation. ``status`` stays 'running' if the process was killed."""

    __tablename__ = "ingest_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # posts | factchecks
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    files: Mapped[list] = mapped_column(sa.JSON, default=list)
    options: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class Author(Base):
    __tablename__ = "authors"
    __table_args__ = (sa.UniqueConstraint("platform", "platform_id", name="uq_author_platform_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    platform_id: Mapped[str] = mapped_column(sa.String(64))
    handle: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    followers: Mapped[int | None] = mapped_column(sa.BigInteger)
    raw: Mapped[dict | None] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Post(SourcedRecord, Base):
    __tablename__ = "posts"
    __table_args__ = (
        sa.UniqueConstraint("platform", "platform_id", name="uq_post_platform_id"),
        sa.Index("ix_posts_author_created", "author_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    platform_id: Mapped[str] = mapped_column(sa.String(64))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authors.id"))
    created_at: Mapped[datetime | None]
    text: Mapped[str] = mapped_column(sa.Text, default="")
    lang: Mapped[str | None] = mapped_column(sa.String(16))
    url: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(16), default="original")
    referenced_id: Mapped[str | None] = mapped_column(sa.String(64))
    collected: Mapped[bool] = mapped_column(default=True)


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (sa.UniqueConstraint("post_id", "media_key", name="uq_media_post_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    media_key: Mapped[str] = mapped_column(sa.String(128))
    type: Mapped[str | None] = mapped_column(sa.String(32))
    url: Mapped[str | None] = mapped_column(sa.Text)
    preview_url: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    view_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    raw: Mapped[dict | None] = mapped_column(sa.JSON)


class MetricSnapshot(Base):
    """Never updated: a later observation is a new row; the same observation is a no-op."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (sa.UniqueConstraint("post_id", "observed_at", name="uq_snapshot_post_time"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    observed_at: Mapped[datetime]
    views: Mapped[int | None] = mapped_column(sa.BigInteger)
    reposts: Mapped[int | None] = mapped_column(sa.BigInteger)
    quotes: Mapped[int | None] = mapped_column(sa.BigInteger)
    replies: Mapped[int | None] = mapped_column(sa.BigInteger)
    likes: Mapped[int | None] = mapped_column(sa.BigInteger)
    bookmarks: Mapped[int | None] = mapped_column(sa.BigInteger)
    ingest_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ingest_runs.id"))


class FactCheck(SourcedRecord, Base):
    """Keyed by review URL plus a hash of the claim text (one review may cover several claims)."""

    __tablename__ = "factchecks"
    __table_args__ = (sa.UniqueConstraint("review_url", "claim_key", name="uq_factcheck_url_claim"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    review_url: Mapped[str] = mapped_column(sa.String(1024))
    claim_key: Mapped[str] = mapped_column(sa.String(64))
    claim_text: Mapped[str] = mapped_column(sa.Text)
    claimant: Mapped[str | None] = mapped_column(sa.Text)
    claim_date: Mapped[datetime | None]
    appearances: Mapped[list] = mapped_column(sa.JSON, default=list)
    publisher_name: Mapped[str | None] = mapped_column(sa.Text)
    publisher_site: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.Text)
    review_date: Mapped[datetime | None]
    rating_text: Mapped[str | None] = mapped_column(sa.Text)
    rating_value: Mapped[float | None]
    best_rating: Mapped[float | None]
    worst_rating: Mapped[float | None]
    language: Mapped[str | None] = mapped_column(sa.String(16))
    verdict: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    verdict_method: Mapped[str] = mapped_column(sa.String(16), default="unmapped")


class Match(Base):
    """A post × fact-check pair. Analyst decisions (confirmed/rejected) survive re-matching."""

    __tablename__ = "matches"
    __table_args__ = (
        sa.UniqueConstraint("post_id", "factcheck_id", name="uq_match_post_factcheck"),
        sa.Index("ix_matches_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    factcheck_id: Mapped[int] = mapped_column(sa.ForeignKey("factchecks.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int]
    score: Mapped[float]
    #: calibrated probability that the match is right (top candidate, trained model only)
    confidence: Mapped[float | None]
    method: Mapped[str] = mapped_column(sa.String(64))
    evidence: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="candidate")
    decided_by: Mapped[str | None] = mapped_column(sa.String(128))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchState(Base):
    """Which index version a post was last matched against, or why it was skipped."""

    __tablename__ = "match_state"
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    index_version: Mapped[str] = mapped_column(sa.String(64))
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)
    skip_reason: Mapped[str | None] = mapped_column(sa.Text)


class Quarantine(Base):
    """A record that could not be used, kept verbatim with where it came from and why.

    ``action`` is 'rejected' (the record did not land) or 'field_dropped' (the record
    landed, one field was stored as unknown). ``fingerprint`` makes re-runs idempotent.
    """

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    ingest_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ingest_runs.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(16), default="rejected")
    source_path: Mapped[str] = mapped_column(sa.Text)
    location: Mapped[str] = mapped_column(sa.String(128))
    source_format: Mapped[str | None] = mapped_column(sa.String(32))
    reason: Mapped[str] = mapped_column(sa.Text)
    raw: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
