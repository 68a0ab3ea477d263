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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

import numpy as np
import sqlalchemy as sa

from claimwatch.claims.analyse import Analyser, Analysis, PostText, prepare
from claimwatch.claims.analyse import Embedded as AnalysisEmbedded
from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, tokenize
from claimwatch.claims.language import Detected
from claimwatch.claims.retrieval import STREAM_BATCH as BATCH
from claimwatch.claims.retrieval import Embedded, Hit, Retriever
from claimwatch.claims.text import clean_query, skip_reason
from claimwatch.claims.topics import TopicScore
from claimwatch.overlap import overlapped
from claimwatch.store import repo
from claimwatch.store.db import retry_races, writing
from claimwatch.store.schema import utcnow
from claimwatch.wording import count

#: What matching and analysis read of a post: the encoder sees ~256 tokens anyway, sentences
#: stop at 64; BM25, language and check-worthiness get ample margin. A 10 MB post would
#: otherwise cost gigabytes (tokens, n-grams) for nothing.
MAX_MATCH_CHARS = 10_000
#: Why a post was left for the next run.
TEXT_CHANGED = "text changed while matching (matched on the next run)"


@dataclass
class MatchReport:
    index_version: str
    method: str
    posts_considered: int = 0
    posts_matched: int = 0
    proposals: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (
            f"matched {count(self.posts_matched, 'post')} with {self.method} ({count(self.proposals, 'proposal')}); "
            f"skipped: {skipped}"
        )


def _proposed(hit: Hit, rank: int, retriever: Retriever, threshold: float, min_confidence: float) -> bool:
    if retriever.model is not None and retriever.model.calibration is not None:
        return rank == 1 and hit.confidence is not None and hit.confidence >= min_confidence
    return hit.score >= threshold


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
) -> MatchReport:
    """Match every collected post not yet matched against this index version.

    Posts with no matchable text (media-only, only links or handles) are recorded as
    skipped with the reason, not treated as errors. With an ``analyser``, each post's
    language, check-worthiness, claim sentence and topics are stored from the same
    encoder pass, and a long post's claim sentence is matched as a second query.
    """
    index = retriever.index
    report = MatchReport(index.version, retriever.method)
    with engine.connect() as conn:
        todo = repo.posts_to_match(conn, index.version, rematch, MAX_MATCH_CHARS)
    report.posts_considered = len(todo)
    chunks = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]
    done = 0
    encoder, workers = retriever.stream_encoder()
    for chunk, batch in overlapped(chunks, lambda c: _embed(c, retriever, encoder, analyser), workers):
        analyses = (
            analyser.analyse(batch.posts, batch.post_embeddings(), batch.analysis_embeddings, batch.langs)
            if analyser
            else None
        )
        hits = _search(retriever, batch, analyses, top_k)

        def proposed(h: Hit, rank: int) -> bool:
            return _proposed(h, rank, retriever, threshold, min_confidence)

        with writing(engine) as conn:
            written = _write_chunk(
                conn, chunk, batch.reasons, hits, analyses, analyser, retriever.method, index, proposed
            )
        report.proposals += written.proposals
        report.posts_matched += written.posts_matched
        for why, n in written.skipped.items():
            report.skipped[why] = report.skipped.get(why, 0) + n
        done += len(chunk)
        if progress:
            progress(done, len(todo))
    return report


@dataclass
class _Written:
    proposals: int = 0
    posts_matched: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@retry_races
def _write_chunk(
    conn: sa.Connection,
    chunk: list[Any],
    reasons: list[str | None],
    hits: dict[int, tuple[str, list[Hit]]],
    analyses: list[Analysis] | None,
    analyser: Analyser | None,
    method: str,
    index: ClaimIndex,
    proposed: Callable[[Hit, int], bool],
) -> _Written:
    """Store one chunk's matches, skip reasons and analysis, for posts whose text is still the
    one that was matched (their rows stay locked until commit, so an edit waits or is seen)."""
    out = _Written()
    current = repo.current_text_hashes(conn, [row.id for row in chunk])
    unchanged = [current.get(row.id) == row.text_hash for row in chunk]
    for pos, (row, why, same) in enumerate(zip(chunk, reasons, unchanged, strict=True)):
        if not same or why is not None:
            why = why if same else TEXT_CHANGED
            out.skipped[why] = out.skipped.get(why, 0) + 1
            if same:
                repo.set_match_state(conn, row.id, index.version, why)
            continue
        query, post_hits = hits[pos]
        cands = [
            repo.CandidateRow(
                int(h.doc_id),
                rank,
                round(h.score, 6),
                _evidence(query, index.docs[h.row].claim, h, row.text_length),
                None if h.confidence is None else round(h.confidence, 4),
                proposed(h, rank),
            )
            for rank, h in enumerate(post_hits, start=1)
        ]
        out.proposals += repo.write_matches(conn, row.id, cands, method, index.version)
        out.posts_matched += 1
    if analyser and analyses is not None:
        _store_analysis(
            conn,
            [row for row, same in zip(chunk, unchanged, strict=True) if same],
            [a for a, same in zip(analyses, unchanged, strict=True) if same],
            analyser,
        )
    return out


@dataclass
class _Batch:
    """A chunk of posts after the background stage: queries, embeddings, sentences, languages."""

    queries: list[Query | None]
    reasons: list[str | None]
    embedded: Embedded
    posts: list[PostText]
    analysis_embeddings: AnalysisEmbedded
    langs: list[Detected]
    _offsets: list[int] | None = field(default=None, init=False, repr=False)

    def positions(self) -> list[int]:
        return [i for i, q in enumerate(self.queries) if q is not None]

    def post_embeddings(self) -> dict[int, np.ndarray]:
        return dict(zip(self.positions(), self.embedded.embeddings, strict=True))

    def sentence_embedding(self, pos: int, query: str) -> np.ndarray:
        """The embedding of one sentence query of the post at ``pos`` (sentences are stored flat)."""
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(p.sentence_queries) for p in self.posts)]
        return self.analysis_embeddings.sentences[self._offsets[pos] + self.posts[pos].sentence_queries.index(query)]


def _queries(chunk: list[Any]) -> tuple[list[Query | None], list[str | None]]:
    """Each stored post as a query, or None with the reason it has nothing to match."""
    cleaned = [clean_query(row.text) for row in chunk]
    reasons = [skip_reason(row.text, c) for row, c in zip(chunk, cleaned, strict=True)]
    queries = [
        None if why else Query(str(row.id), text, row.created_at)
        for row, text, why in zip(chunk, cleaned, reasons, strict=True)
    ]
    return queries, reasons


def _embed(chunk: list[Any], retriever: Retriever, encoder: Encoder, analyser: Analyser | None) -> _Batch:
    """Everything about a chunk that needs no store and releases the GIL: runs a chunk ahead."""
    queries, reasons = _queries(chunk)
    embedded = retriever.embed([q for q in queries if q is not None], encoder)
    if analyser is None:  # sentences and languages only feed the analysis
        return _Batch(queries, reasons, embedded, [], AnalysisEmbedded(np.zeros((0, 0), np.float32)), [])
    posts = [prepare(row.text or "", None if q is None else q.text) for row, q in zip(chunk, queries, strict=True)]
    return _Batch(queries, reasons, embedded, posts, analyser.embed(posts, encoder), analyser.languages(posts))


def _search(
    retriever: Retriever, batch: _Batch, analyses: list[Analysis] | None, top_k: int
) -> dict[int, tuple[str, list[Hit]]]:
    """Hits per post position, with the query text that produced them.

    A claim sentence is searched as well; the post keeps whichever query's top hit is surer
    (the calibrated confidence, else the score).
    """
    positions = batch.positions()
    queries = [q for q in batch.queries if q is not None]
    extra = [
        (i, q, a.claim_query)
        for i, (q, a) in enumerate(zip(batch.queries, analyses or [], strict=False))
        if q is not None and a.claim_query
    ]
    embedded = batch.embedded
    if extra:
        queries = queries + [Query(q.id, text, q.date) for _, q, text in extra]
        embedded = Embedded(
            np.vstack([embedded.embeddings, np.stack([batch.sentence_embedding(i, text) for i, _, text in extra])]),
            embedded.context,
        )
    found = retriever.search(queries, top_k, embedded) if queries else []
    out = {
        i: (q.text, hits)
        for i, q, hits in zip(positions, queries[: len(positions)], found[: len(positions)], strict=True)
    }
    for (i, _, text), hits in zip(extra, found[len(positions) :], strict=True):
        if hits and (not out[i][1] or _sureness(hits[0]) > _sureness(out[i][1][0])):
            out[i] = (text, hits)
    return out


def _sureness(hit: Hit) -> float:
    return hit.confidence if hit.confidence is not None else hit.score


def _store_analysis(conn: sa.Connection, chunk: list[Any], analyses: list[Analysis], analyser: Analyser) -> None:
    models = analyser.models()
    now = utcnow()
    rows, topic_rows = [], []
    for row, a in zip(chunk, analyses, strict=True):
        rows.append(
            dict(
                post_id=row.id,
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
        topic_rows += _topic_rows(row.id, a.topics, models["topics"], now)
    repo.write_analysis(conn, rows)
    if analyser.topics is not None:
        repo.write_topics(conn, [row.id for row in chunk], topic_rows)


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
        todo = repo.posts_to_match(conn, "", rematch=True, max_chars=MAX_MATCH_CHARS)  # every collected post
    models = analyser.models()
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        queries, _ = _queries(chunk)
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


def _evidence(query: str, claim: str, hit: Hit, post_chars: int) -> dict[str, object]:
    """What an analyst needs to judge the proposal: the scores, the features and the shared words
    (and, for a post longer than matching reads, how much of it was read)."""
    q_tokens, c_tokens = tokenize([query, claim])
    out: dict[str, object] = {
        "shared_terms": sorted(set(q_tokens) & set(c_tokens))[:20],
        "query": query[:500],
        "features": hit.features,
    }
    if post_chars > MAX_MATCH_CHARS:
        out["text_read"] = {"chars": MAX_MATCH_CHARS, "post_chars": post_chars}
    return out
