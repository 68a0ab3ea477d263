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
    kind: Mapped[str] = mapped_column(sa.String(16))  # posts | factchecks | notes | labels
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
        sa.Index("ix_posts_created", "created_at", "id"),  # the search's order (newest first)
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
    #: hash of the text as read (see ``repo.text_hash``): an analyst decision names the text it was made on
    text_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: when the stored content was observed (its record's metric time); None when the source did not say.
    #: A version observed earlier never replaces it (see ``PostVersion``)
    observed_at: Mapped[datetime | None]
    #: the views of the post's latest snapshot that counted views, and that snapshot's time (None:
    #: unknown, never 0); kept by the snapshot writer, so the queues sort without reading snapshots
    views_latest: Mapped[int | None] = mapped_column(sa.BigInteger)
    views_latest_at: Mapped[datetime | None]


class PostVersion(Base):
    """A version of a post's content that is not the stored one, kept whole (the twarc lesson):
    ``replaced`` — it was stored until a newer version came; ``older`` — it arrived after a newer
    one was stored (another file, an older collection) and was never applied. No ingest loses
    what it read, and none silently swaps a post for an older copy."""

    __tablename__ = "post_versions"
    __table_args__ = (sa.UniqueConstraint("post_id", "content_hash", name="uq_post_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    observed_at: Mapped[datetime | None]
    raw: Mapped[dict] = mapped_column(sa.JSON)
    source_format: Mapped[str | None] = mapped_column(sa.String(32))
    source_path: Mapped[str | None] = mapped_column(sa.Text)
    source_location: Mapped[str | None] = mapped_column(sa.String(64))
    ingest_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ingest_runs.id"))
    kept_at: Mapped[datetime] = mapped_column(default=utcnow)


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


class MediaFile(Base):
    """One distinct media file, content-addressed by SHA-256: many posts (and bank items) may
    share it. ``path`` is where its bytes are kept, relative to the media folder. ``hashed_at``
    is set in the same transaction as its hashes, so a file whose hashing was interrupted or
    refused is never taken as hashed; ``hash_error`` says why it was refused."""

    __tablename__ = "media_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    md5: Mapped[str] = mapped_column(sa.String(32), index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    #: the type sniffed from the bytes (never the extension or the server's word alone)
    mime: Mapped[str | None] = mapped_column(sa.String(128))
    #: image | video | audio | None (not media we can hash)
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    path: Mapped[str | None] = mapped_column(sa.Text)
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    hashed_at: Mapped[datetime | None]
    hash_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaFetch(Base):
    """The download queue: one row per post media reference (``media`` row) and the URL (or local
    path) its bytes come from. A fetch is done only when its file row exists (``file_id``);
    ``status`` pending | fetching (claimed by a run until ``next_attempt_at``) | fetched | failed
    (retried after ``next_attempt_at``) | refused (never retried: too large, wrong type, hostile) |
    skipped (nothing to fetch: ``url`` is empty, ``last_error`` says why)."""

    __tablename__ = "media_fetches"
    __table_args__ = (sa.Index("ix_media_fetches_status", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(sa.ForeignKey("media.id", ondelete="CASCADE"), unique=True)
    url: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[datetime | None]
    http_status: Mapped[int | None]
    #: the Content-Type the server declared (kept; the sniffed type is on the file)
    declared_type: Mapped[str | None] = mapped_column(sa.String(256))
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_files.id"), index=True)
    fetched_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaHash(Base):
    """A perceptual hash or fingerprint of a media file (post media, or a banked file).

    ``algo``: pdq (``value`` = 32 bytes, ``quality`` 0–100; ``variant`` original, one of the
    dihedral variants or ``trimmed``; ``t_ms`` the frame time for video) or chromaprint
    (``value`` = the raw fingerprint as little-endian uint32s, ``t_ms`` None)."""

    __tablename__ = "media_hashes"
    __table_args__ = (sa.Index("ix_media_hashes_file_algo", "file_id", "algo"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("media_files.id", ondelete="CASCADE"))
    algo: Mapped[str] = mapped_column(sa.String(16))
    variant: Mapped[str] = mapped_column(sa.String(24), default="original")
    t_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    quality: Mapped[int | None]
    value: Mapped[bytes] = mapped_column(sa.LargeBinary)


class MediaProvenance(Base):
    """What a file's C2PA manifest says, read offline. ``state``: valid | invalid | absent |
    unreadable. Anything but a valid manifest is unknown provenance, never "authentic";
    ``ai_declared`` is True only when a valid manifest declares AI generation
    (``digitalSourceType`` trainedAlgorithmicMedia or compositeWithTrainedAlgorithmicMedia)."""

    __tablename__ = "media_provenance"
    file_id: Mapped[int] = mapped_column(sa.ForeignKey("media_files.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    claim_generator: Mapped[str | None] = mapped_column(sa.Text)
    digital_source_type: Mapped[str | None] = mapped_column(sa.Text)
    ai_declared: Mapped[bool | None]
    issuer: Mapped[str | None] = mapped_column(sa.Text)
    actions: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: the validation status codes the reader reported
    validation: Mapped[list] = mapped_column(sa.JSON, default=list)
    #: the reader's whole manifest-store JSON (None when absent)
    raw: Mapped[dict | None] = mapped_column(sa.JSON)
    reader_version: Mapped[str | None] = mapped_column(sa.String(64))
    #: why it is absent, invalid or unreadable, in one line (None when valid)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaBankItem(Base):
    """A debunked image, video or audio clip: what a fact-checker rated, by its hashes.

    ``factcheck_id`` is the item's own fact-check row (``source_format`` ``media-bank``, the review
    URL of the fact-check that debunked the media), so a media match is a ``matches`` row like a
    text match and joins the same review queue, decisions and reports. ``label``: manipulated |
    ai-generated | miscaptioned | other. Banked from a file (``file_id``) or imported from a
    shared hash list (``origin`` names the list, ``external_id`` its id there)."""

    __tablename__ = "media_bank_items"
    __table_args__ = (sa.UniqueConstraint("origin", "external_id", name="uq_media_bank_origin_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    factcheck_id: Mapped[int] = mapped_column(sa.ForeignKey("factchecks.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_files.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str] = mapped_column(sa.String(32))
    note: Mapped[str | None] = mapped_column(sa.Text)
    origin: Mapped[str] = mapped_column(sa.String(64), default="file")
    external_id: Mapped[str | None] = mapped_column(sa.String(128))
    added_by: Mapped[str | None] = mapped_column(sa.String(128))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    raw: Mapped[dict | None] = mapped_column(sa.JSON)


class MediaMatchState(Base):
    """When the media matcher last matched a post, and against which bank (``media_bank.bank_version``):
    a run matches only posts with a file hashed since, or all of them when the bank changed."""

    __tablename__ = "media_match_state"
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    bank_version: Mapped[str] = mapped_column(sa.String(96))
    matched_at: Mapped[datetime]


class MediaBankHash(Base):
    """A hash of a bank item (same columns as :class:`MediaHash`): an imported list has hashes and
    no file, so the bank keeps its own. Besides ``pdq`` and ``chromaprint``, ``md5`` (16 bytes): a
    video's MD5 from an imported list, matched as an exact copy."""

    __tablename__ = "media_bank_hashes"
    __table_args__ = (sa.Index("ix_media_bank_hashes_algo", "algo", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("media_bank_items.id", ondelete="CASCADE"))
    algo: Mapped[str] = mapped_column(sa.String(16))
    variant: Mapped[str] = mapped_column(sa.String(24), default="original")
    t_ms: Mapped[int | None] = mapped_column(sa.BigInteger)
    quality: Mapped[int | None]
    value: Mapped[bytes] = mapped_column(sa.LargeBinary)


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
    __table_args__ = (
        sa.UniqueConstraint("review_url", "claim_key", name="uq_factcheck_url_claim"),
        sa.Index("ix_factchecks_review_date", "review_date", "id"),  # the search's order (newest first)
    )
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
    """A post × fact-check pair. Analyst decisions (confirmed/rejected) survive re-matching.

    ``status`` is where the pair stands for the post's current text. An analyst decision is
    recorded as who, when, what (``decision``), why (``note``) and the hash of the post text
    it was made on (``decided_text_hash``); when the text changes the decision stays, and the
    status becomes ``outdated`` (or the machine's new view) until someone decides again.
    """

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
    #: the machine's claim vs narrative label for a proposal (``claims.relation``); None: unknown
    relation: Mapped[str | None] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="candidate")
    decision: Mapped[str | None] = mapped_column(sa.String(16))
    decided_by: Mapped[str | None] = mapped_column(sa.String(128))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.Text)
    decided_text_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: the claim vs narrative label a confirmation fixed: the analyst's, else the machine's they saw
    decided_relation: Mapped[str | None] = mapped_column(sa.String(16))
    #: bumped by every analyst decision: a decision names the version it was made on, and one made
    #: on a version another analyst has since decided is refused (optimistic concurrency)
    version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchDecision(Base):
    """Every analyst decision on a match, appended and never updated or deleted: who, when, what,
    why, the status before and after, and the hash of the post text decided on. ``matches.status``
    is the materialised current state, written in the same transaction."""

    __tablename__ = "match_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    #: no cascade: a match with history is never deleted (re-matching and edits keep it)
    match_id: Mapped[int] = mapped_column(sa.ForeignKey("matches.id"), index=True)
    decided_by: Mapped[str] = mapped_column(sa.String(128))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: confirmed | rejected | reopened | chosen
    decision: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    #: None for decisions from before the history existed (backfilled)
    previous_status: Mapped[str | None] = mapped_column(sa.String(16))
    new_status: Mapped[str] = mapped_column(sa.String(16))
    #: the match's version after this decision
    version: Mapped[int]
    post_text_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: the relation a confirmation gave the match (repeats | narrative; None: unknown)
    relation: Mapped[str | None] = mapped_column(sa.String(16))


class AuditLog(Base):
    """Append-only log of every change to a match, study, user or token: who, when, what, and the
    object's state before and after (JSON). Writers only ever insert."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_at", "at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(128), index=True)
    #: e.g. match.confirm, study.run, user.add, token.revoke
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[str | None] = mapped_column(sa.String(128))
    before: Mapped[dict | None] = mapped_column(sa.JSON)
    after: Mapped[dict | None] = mapped_column(sa.JSON)


class PostAnalysis(Base):
    """What the text models say about a post: detected language, check-worthiness and the
    sentence that holds the claim (offsets into ``posts.text``). Written by ``match``;
    ``models`` names the models, so a report can say which produced a score."""

    __tablename__ = "post_analysis"
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    #: ISO 639-1 code detected from the text, or 'und'; the platform's own tag stays in posts.lang
    lang: Mapped[str] = mapped_column(sa.String(16), index=True)
    lang_confidence: Mapped[float | None]
    #: the best sentence's check-worthiness in [0, 1]; None when the text has nothing to score
    checkworthiness: Mapped[float | None] = mapped_column(index=True)
    claim_sentence: Mapped[str | None] = mapped_column(sa.Text)
    claim_start: Mapped[int | None]
    claim_end: Mapped[int | None]
    #: [[start, end, score], ...] for each scored sentence (at most 64)
    sentence_scores: Mapped[list] = mapped_column(sa.JSON, default=list)
    models: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    analysed_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostTopic(Base):
    """A post's score for one topic: the similarity and keywords behind it, and the verdict."""

    __tablename__ = "post_topics"
    __table_args__ = (sa.Index("ix_post_topics_topic", "topic", "assigned"),)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    similarity: Mapped[float | None]
    keywords: Mapped[list] = mapped_column(sa.JSON, default=list)
    assigned: Mapped[bool]
    #: hash of the topic definitions and encoder that produced the row
    topics_version: Mapped[str] = mapped_column(sa.String(16))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchState(Base):
    """Which index version a post was last matched against, or why it was skipped."""

    __tablename__ = "match_state"
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    index_version: Mapped[str] = mapped_column(sa.String(64))
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)
    skip_reason: Mapped[str | None] = mapped_column(sa.Text)


class Note(SourcedRecord, Base):
    """A Community Note, keyed by note id and linked to its post by the tweet id *string*
    (no foreign key: notes for posts not in the store are kept and join when the post lands).

    ``first_snapshot_at`` / ``last_snapshot_at`` span the notes downloads it was in. The
    download has no deletion marker; a note missing from a later download was deleted.
    """

    __tablename__ = "cn_notes"
    note_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    tweet_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    classification: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime | None]
    author_id: Mapped[str | None] = mapped_column(sa.String(128))
    first_snapshot_at: Mapped[datetime]
    last_snapshot_at: Mapped[datetime]


class NoteStatus(SourcedRecord, Base):
    """A note's status as one noteStatusHistory download states it; never updated, so
    "as of" questions read the latest snapshot not after a date."""

    __tablename__ = "cn_note_status"
    note_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    snapshot_at: Mapped[datetime] = mapped_column(primary_key=True)
    created_at: Mapped[datetime | None]
    current_status: Mapped[str | None] = mapped_column(sa.String(64))
    current_status_at: Mapped[datetime | None]
    first_non_nmr_status: Mapped[str | None] = mapped_column(sa.String(64))
    first_non_nmr_at: Mapped[datetime | None]
    latest_non_nmr_status: Mapped[str | None] = mapped_column(sa.String(64))
    latest_non_nmr_at: Mapped[datetime | None]
    locked_status: Mapped[str | None] = mapped_column(sa.String(64))
    locked_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(128))


class NoteRatings(Base):
    """Rating counts of one note in one ratings file of a download (the ratings are not kept)."""

    __tablename__ = "cn_rating_counts"
    note_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    snapshot_at: Mapped[datetime] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    ratings: Mapped[int] = mapped_column(sa.BigInteger)
    helpful: Mapped[int] = mapped_column(sa.BigInteger)
    somewhat_helpful: Mapped[int] = mapped_column(sa.BigInteger)
    not_helpful: Mapped[int] = mapped_column(sa.BigInteger)
    ingest_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ingest_runs.id"))


class LabelEvent(SourcedRecord, Base):
    """A platform label applied to or removed from a post: every event is a row (history,
    not state), linked to the post by (platform, platform id) like notes."""

    __tablename__ = "label_events"
    __table_args__ = (
        sa.UniqueConstraint(
            "platform", "platform_id", "label", "event_type", "action", "event_at", name="uq_label_event"
        ),
        sa.Index("ix_label_events_post", "platform", "platform_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    platform_id: Mapped[str] = mapped_column(sa.String(64))
    label: Mapped[str] = mapped_column(sa.String(16))
    event_type: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(16))
    event_at: Mapped[datetime]
    label_title: Mapped[str | None] = mapped_column(sa.Text)
    details: Mapped[str | None] = mapped_column(sa.Text)
    details_url: Mapped[str | None] = mapped_column(sa.Text)


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


class User(Base):
    """Someone who may use the web workspace. Only an argon2 hash of the password is kept;
    ``disabled`` users keep their row (decisions and audit entries name them) but cannot sign in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    #: a :class:`~claimwatch.records.Role` value
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)


class ApiToken(Base):
    """A token for scripts (``Authorization: Bearer …``). Only its SHA-256 is kept: the token
    itself is shown once, when it is created. Revoked tokens stay, with when."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AppSecret(Base):
    """Secrets the store's servers share (the web session signing key): kept in the store, so
    every ``serve`` process on one store — SQLite file or PostgreSQL — signs with the same key."""

    __tablename__ = "app_secrets"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewQueueEntry(Base):
    """The review queues and the dashboard's lists, materialised: one row per post and list it is
    in, kept by every writer of what decides it (matches, snapshots, analysis, posts) in the same
    transaction (:mod:`claimwatch.store.queue_table`). The queue pages read the first rows of an
    index instead of grouping every pending match and sorting them.

    ``queue``: proposed / candidate / all / decided (the review queue's statuses: ``confidence``
    is the max of coalesce(confidence, score) over the queue's statuses), ``unchecked`` (a
    check-worthiness is known and no fact-check is proposed or confirmed: ``confidence`` is the
    queue score, the higher of ``checkworthiness`` and ``claim_score``, kept apart because the
    model's thresholds are applied when read), ``report`` (a post a whole-store report counts) and
    ``unmatched`` (such a post never matched)."""

    __tablename__ = "review_queue_entries"
    __table_args__ = (
        sa.Index("ix_review_queue_order", "queue", "views_unknown", "rank_key", "rank_confidence", "post_id"),
        sa.Index("ix_review_queue_post", "post_id"),
        # SQLite: rows clustered by (queue, post_id), so a filtered count reads one queue's rows in
        # sequence instead of looking up each one (0.4 s → ~30 ms at 100k rows)
        {"sqlite_with_rowid": False},
    )
    queue: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    confidence: Mapped[float]
    views: Mapped[int | None] = mapped_column(sa.BigInteger)
    views_at: Mapped[datetime | None]
    views_unknown: Mapped[bool]
    #: the order, ascending (one direction: any database walks the index either way, and no
    #: expression index is needed): -(confidence × views), views unknown counting 0, and -confidence
    rank_key: Mapped[float]
    rank_confidence: Mapped[float]
    checkworthiness: Mapped[float | None]
    claim_score: Mapped[float | None]
    #: the post's columns the queue filters on, here so a filtered page and its count read this
    #: narrow table only: platform, creation time, language (detected, else the platform's tag)
    platform: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime | None]
    lang: Mapped[str | None] = mapped_column(sa.String(16))


class ReviewQueueCount(Base):
    """How many posts each list of ``review_queue_entries`` holds, as deltas: every change appends
    one row per list it changed (insert only, so concurrent writers never wait on a counter), and
    a count is their sum — a million-post store answers "how many" without counting a million rows.
    A rebuild replaces them by one row per list."""

    __tablename__ = "review_queue_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(sa.String(16), index=True)
    delta: Mapped[int]


class WatchCursor(Base):
    """Where a live stream of ``claimwatch watch`` stands: the position after the last event whose
    posts are stored. Written in the same transaction as those posts, so a crash can only replay
    events (which the post upsert and incremental matching absorb), never skip one.

    ``stream``: the watchlist stream's name plus a hash of what it follows (a changed filter is a new
    stream, not a resume of the old one). ``cursor``: the source's own position (Jetstream
    ``time_us``/``seq``, a Mastodon status id, an X post id), as text."""

    __tablename__ = "watch_cursors"
    stream: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(sa.String(64))
    events: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """Something an analyst is told about once: a post matched a debunked claim or banked media above
    the configured confidence (``kind`` match / media), or a watched account's matched post passed a
    view threshold (``views``). ``dedup_key`` makes it once: the same post, fact-check and rule never
    alert twice, whatever replays or restarts happen. ``payload`` is the alert as sent (the JSON the
    webhook receives); ``event_received_at`` is when the triggering event reached claimwatch (the
    start of the alert's latency), None when it did not come from a live event."""

    __tablename__ = "alerts"
    __table_args__ = (sa.Index("ix_alerts_post", "post_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(sa.String(255), unique=True)
    rule: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"))
    factcheck_id: Mapped[int | None] = mapped_column(sa.ForeignKey("factchecks.id", ondelete="SET NULL"))
    confidence: Mapped[float | None]
    views: Mapped[int | None] = mapped_column(sa.BigInteger)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    event_received_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """One alert on one channel (a webhook or a mailbox named in the watchlist): pending until sent,
    retried with back-off (``next_attempt_at``), ``failed`` once the retries are spent, each
    attempt's error kept in ``last_error``. Unique per alert and channel: sent once."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", name="uq_alert_delivery_channel"),
        sa.Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(64))
    transport: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MetricFetchState(Base):
    """The re-fetch schedule of one post's metrics (each successful fetch is a new
    :class:`MetricSnapshot`): when it is next due, the last attempt and its error, consecutive
    failures (for back-off), and ``gone`` when the platform says the post no longer exists (no
    more fetches; the snapshots already taken stay)."""

    __tablename__ = "metric_fetch_state"
    __table_args__ = (sa.Index("ix_metric_fetch_due", "gone", "next_due_at"),)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    next_due_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    last_fetched_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    gone: Mapped[bool] = mapped_column(default=False)
