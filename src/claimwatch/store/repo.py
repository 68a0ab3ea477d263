"""Repository functions: every read and write of the store goes through here.

One import for callers (``from claimwatch.store import repo; repo.upsert_posts(...)``), one
module per topic behind it: :mod:`~claimwatch.store.posts` (authors, posts, versions, media,
snapshots), :mod:`~claimwatch.store.factchecks`, :mod:`~claimwatch.store.matches` (candidates,
proposals), :mod:`~claimwatch.store.review` (analyst decisions and their history, the review
queue), :mod:`~claimwatch.store.audit` (the append-only audit log),
:mod:`~claimwatch.store.post_analysis` (language, check-worthiness, topics), :mod:`~claimwatch.store.notes`,
:mod:`~claimwatch.store.labels`, :mod:`~claimwatch.store.runs` (ingest runs and the quarantine),
:mod:`~claimwatch.store.stats` and :mod:`~claimwatch.store.users` (workspace users, API tokens, shared secrets).
Reads hand typed, frozen records to analysis (:mod:`~claimwatch.store.rows`).

Writes take a batch of records and run inside the caller's transaction, so a batch
lands whole or not at all (an ingest killed mid-batch leaves nothing half-written).
Upserts are idempotent: posts are keyed by (platform, platform id), fact-checks by
(review URL, claim key), snapshots by (post, observed_at), quarantine entries by a
fingerprint of where and why. Every batch writer first makes its records fit the store
(:mod:`~claimwatch.store.sanitise`) and runs again when a concurrent command inserted the same
key first (:func:`~claimwatch.store.db.retry_races`). No SQL strings: SQLAlchemy expressions only.
"""

from __future__ import annotations

from claimwatch.store.audit import append_audit, list_audit
from claimwatch.store.change_marks import change_marks
from claimwatch.store.common import BatchCounts
from claimwatch.store.factchecks import (
    claim_key,
    factcheck_content_hash,
    factcheck_docs,
    factcheck_texts,
    factchecks_by_id,
    factchecks_for_verdicts,
    search_factchecks,
    set_verdict,
    upsert_factchecks,
)
from claimwatch.store.labels import add_label_events, label_events_on_posts
from claimwatch.store.matches import (
    CandidateRow,
    PostMatches,
    current_text_hashes,
    decisions_on_earlier_text,
    matches_for_posts,
    posts_to_match,
    set_match_state,
    set_match_states,
    write_matches,
    write_matches_many,
)
from claimwatch.store.notes import (
    add_note_statuses,
    note_rating_counts,
    note_statuses,
    notes_on_posts,
    set_note_ratings,
    upsert_notes,
)
from claimwatch.store.post_analysis import (
    analysis_for_posts,
    stored_topics,
    topics_for_posts,
    write_analysis,
    write_topics,
)
from claimwatch.store.posts import (
    authors_of,
    media_for_posts,
    platform_ids_of,
    post_content_hash,
    posts_by_id,
    search_posts,
    select_posts,
    snapshots_for_posts,
    text_hash,
    upsert_posts,
)
from claimwatch.store.queue_table import count as queue_count
from claimwatch.store.queue_table import refresh_posts as refresh_queue
from claimwatch.store.queue_table import unchecked_ids
from claimwatch.store.review import (
    DecisionConflict,
    UnknownMatch,
    attach,
    choose,
    decide,
    match_history,
    pending_version,
    proposals_by_factcheck,
    review_item,
    review_queue,
)
from claimwatch.store.runs import (
    add_quarantine,
    dated_files,
    finish_run,
    ingest_runs,
    list_quarantine,
    mark_interrupted,
    running_runs,
    start_run,
)
from claimwatch.store.stats import notes_and_labels_stats, stats
from claimwatch.store.users import (
    add_token,
    add_user,
    find_user,
    list_tokens,
    list_users,
    login_record,
    remove_user,
    revoke_token,
    set_password_hash,
    set_role,
    shared_secret,
    user_for_token,
)

__all__ = [
    "BatchCounts",
    "CandidateRow",
    "PostMatches",
    "DecisionConflict",
    "UnknownMatch",
    "add_label_events",
    "add_note_statuses",
    "add_quarantine",
    "add_token",
    "add_user",
    "analysis_for_posts",
    "append_audit",
    "attach",
    "authors_of",
    "change_marks",
    "choose",
    "claim_key",
    "current_text_hashes",
    "dated_files",
    "decide",
    "decisions_on_earlier_text",
    "factcheck_content_hash",
    "factcheck_docs",
    "factcheck_texts",
    "factchecks_for_verdicts",
    "find_user",
    "finish_run",
    "ingest_runs",
    "label_events_on_posts",
    "list_audit",
    "list_quarantine",
    "list_tokens",
    "list_users",
    "login_record",
    "mark_interrupted",
    "match_history",
    "matches_for_posts",
    "media_for_posts",
    "note_rating_counts",
    "note_statuses",
    "notes_and_labels_stats",
    "notes_on_posts",
    "pending_version",
    "platform_ids_of",
    "post_content_hash",
    "posts_by_id",
    "posts_to_match",
    "queue_count",
    "refresh_queue",
    "proposals_by_factcheck",
    "review_item",
    "review_queue",
    "remove_user",
    "set_role",
    "revoke_token",
    "running_runs",
    "factchecks_by_id",
    "search_factchecks",
    "search_posts",
    "select_posts",
    "set_match_state",
    "set_match_states",
    "set_note_ratings",
    "set_password_hash",
    "set_verdict",
    "shared_secret",
    "snapshots_for_posts",
    "start_run",
    "stats",
    "stored_topics",
    "text_hash",
    "topics_for_posts",
    "unchecked_ids",
    "upsert_factchecks",
    "upsert_notes",
    "upsert_posts",
    "user_for_token",
    "write_analysis",
    "write_matches",
    "write_matches_many",
    "write_topics",
]
