"""Match the store's posts against its fact-checks and record candidates and proposals.

Ranking is :class:`~claimwatch.claims.retrieval.Retriever`. What becomes a *proposal*:

- with a trained model (the default install ships one): the top candidate, when its
  calibrated confidence is at least ``min_confidence`` (so ``--min-confidence 0.9`` means
  "propose only where about nine in ten proposals are right", as measured on dev data);
- without one (v1): every candidate whose fused score is at least ``threshold``.

The other top-k candidates are stored as evidence for reviewers.

Matching reads a post's first :data:`MAX_MATCH_CHARS` characters (the stored text stays
whole; the evidence says when a post was longer), and writes only for posts whose text did
not change while it worked: an edited post is matched again on the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch.claims import relation
from claimwatch.claims.analyse import Analyser, prepare
from claimwatch.claims.compute import MAX_MATCH_CHARS, Matching, PostIn, PostResult, post_queries
from claimwatch.claims.multilingual import MultilingualSearch
from claimwatch.claims.retrieval import STREAM_BATCH as BATCH
from claimwatch.claims.retrieval import Retriever
from claimwatch.claims.topics import TopicScore
from claimwatch.overlap import overlapped
from claimwatch.store import repo
from claimwatch.store.db import retry_races, writing
from claimwatch.store.schema import utcnow
from claimwatch.wording import count

__all__ = ["MAX_MATCH_CHARS", "TEXT_CHANGED", "MatchReport", "match_posts", "score_topics", "write_results"]

#: Why a post was left for the next run.
TEXT_CHANGED = "text changed while matching (matched on the next run)"


@dataclass
class MatchReport:
    index_version: str
    method: str
    posts_considered: int = 0
    posts_matched: int = 0
    proposals: int = 0
    #: of the proposals, those labelled as sharing the claim's narrative only (not repeating it)
    narrative: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        narrative = f", {self.narrative:,} of them sharing the claim's narrative only" if self.narrative else ""
        return (
            f"matched {count(self.posts_matched, 'post')} with {self.method} "
            f"({count(self.proposals, 'proposal')}{narrative}); skipped: {skipped}"
        )


def match_posts(
    engine: sa.Engine,
    retriever: Retriever,
    *,
    top_k: int,
    threshold: float,
    min_confidence: float,
    rematch: bool = False,
    analyser: Analyser | None = None,
    progress: Callable[[int, int], None] | None = None,
    multilingual: MultilingualSearch | None = None,
    post_ids: Sequence[int] | None = None,
) -> MatchReport:
    """Match every collected post not yet matched against this index version (with ``post_ids``,
    only those of them: the live runner matches its new posts without scanning the store).

    Posts with no matchable text (media-only, only links or handles) are recorded as
    skipped with the reason, not treated as errors. With an ``analyser``, each post's
    language, check-worthiness, claim sentence and topics are stored from the same
    encoder pass, and a long post's claim sentence is matched as a second query. With
    ``multilingual``, posts are routed by language (see :mod:`claimwatch.claims.multilingual`).
    The compute is :class:`~claimwatch.claims.compute.Matching`'s; this reads and writes the store.
    """
    matching = Matching(
        retriever,
        top_k=top_k,
        threshold=threshold,
        min_confidence=min_confidence,
        analyser=analyser,
        multilingual=multilingual,
    )
    version = matching.version
    report = MatchReport(version, retriever.method)
    with engine.connect() as conn:
        todo = [PostIn(*row) for row in repo.posts_to_match(conn, version, rematch, MAX_MATCH_CHARS, post_ids)]
    report.posts_considered = len(todo)
    chunks = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]
    done = 0
    models = analyser.models() if analyser else None
    encoder, workers = retriever.stream_encoder()
    for chunk, batch in overlapped(chunks, lambda c: matching.embed(c, encoder), workers):
        results = matching.results(chunk, batch)
        with writing(engine) as conn:
            written = write_results(conn, results, version, models)
        written.add_to(report)
        done += len(chunk)
        if progress:
            progress(done, len(todo))
    return report


@dataclass
class Written:
    """What one chunk's write did."""

    proposals: int = 0
    narrative: int = 0
    posts_matched: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def add_to(self, total: MatchReport | Written) -> None:
        """Count this chunk in a run's totals."""
        total.proposals += self.proposals
        total.narrative += self.narrative
        total.posts_matched += self.posts_matched
        for why, n in self.skipped.items():
            total.skipped[why] = total.skipped.get(why, 0) + n


@retry_races
def write_results(
    conn: sa.Connection, results: list[PostResult], version: str, models: dict[str, Any] | None
) -> Written:
    """Store one chunk's matches, skip reasons and analysis (``models``: what produced it, None
    without analysis), for posts whose text is still the one that was matched (their rows stay
    locked until commit, so an edit waits or is seen)."""
    out = Written()
    current = repo.current_text_hashes(conn, [res.post_id for res in results])
    unchanged = [res for res in results if current.get(res.post_id) == res.text_hash]
    if len(unchanged) < len(results):
        out.skipped[TEXT_CHANGED] = len(results) - len(unchanged)
    skipped: dict[int, str | None] = {}
    matched = []
    for res in unchanged:
        if res.skip_reason is not None:
            out.skipped[res.skip_reason] = out.skipped.get(res.skip_reason, 0) + 1
            skipped[res.post_id] = res.skip_reason
            continue
        out.narrative += sum(c.relation == relation.NARRATIVE for c in res.candidates)
        matched.append(repo.PostMatches(res.post_id, res.candidates, res.method))
    # the chunk's writes in a few statements each (one post at a time they were half of `match`)
    repo.set_match_states(conn, skipped, version, refresh=False)
    out.proposals += repo.write_matches_many(conn, matched, version, refresh=False)
    out.posts_matched += len(matched)
    if models is not None:
        _store_analysis(conn, unchanged, models)
    # the chunk's queue rows once, after its matches and analysis (per post it cost a third of `match`)
    repo.refresh_queue(conn, [res.post_id for res in unchanged])
    return out


def _store_analysis(conn: sa.Connection, results: list[PostResult], models: dict[str, Any]) -> None:
    now = utcnow()
    rows, topic_rows = [], []
    for res in results:
        a = res.analysis
        if a is None:
            continue
        rows.append(
            dict(
                post_id=res.post_id,
                lang=a.lang.lang,
                lang_confidence=a.lang.confidence,
                checkworthiness=a.checkworthiness,
                claim_sentence=a.claim.text if a.claim else None,
                claim_start=a.claim.start if a.claim else None,
                claim_end=a.claim.end if a.claim else None,
                sentence_scores=a.sentence_scores,
                models=models,
                analysed_at=now,
            )
        )
        topic_rows += _topic_rows(res.post_id, a.topics, models["topics"], now)
    repo.write_analysis(conn, rows, refresh=False)  # write_results refreshes the queue rows after
    if models["topics"] is not None:
        repo.write_topics(conn, [res.post_id for res in results], topic_rows)


def _topic_rows(post_id: int, scores: list[TopicScore], version: str, now: datetime) -> list[dict[str, Any]]:
    return [
        dict(
            post_id=post_id,
            topic=t.topic,
            similarity=t.similarity,
            keywords=t.keywords,
            assigned=t.assigned,
            topics_version=version,
            scored_at=now,
        )
        for t in scores
    ]


def score_topics(engine: sa.Engine, analyser: Analyser, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-score every collected post against ``analyser.topics`` (new or edited definitions).

    Encodes the posts' query texts again: matching keeps no post embeddings in the store
    (384 floats a post would outweigh the post itself)."""
    if analyser.topics is None:
        raise ValueError("no topics to score")
    with engine.connect() as conn:
        todo = [PostIn(*row) for row in repo.posts_to_match(conn, "", rematch=True, max_chars=MAX_MATCH_CHARS)]
    models = analyser.models()
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        queries, _ = post_queries(chunk)
        usable = [i for i, q in enumerate(queries) if q is not None]
        emb = analyser.encoder.encode([q.text for q in queries if q is not None])
        scores = analyser.topic_scores(
            [prepare(row.text or "", None) for row in chunk], dict(zip(usable, emb, strict=True))
        )
        now = utcnow()
        rows = [
            r
            for row, per_post in zip(chunk, scores, strict=True)
            for r in _topic_rows(row.id, per_post, models["topics"], now)
        ]
        with writing(engine) as conn:
            repo.write_topics(conn, [row.id for row in chunk], rows)
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    return len(todo)
