"""Match the store's posts against its fact-checks and record candidates and proposals.

Ranking is :class:`~claimwatch.claims.retrieval.Retriever`. What becomes a *proposal*:

- with a trained model (the default install ships one): the top candidate, when its
  calibrated confidence is at least ``min_confidence`` (so ``--min-confidence 0.9`` means
  "propose only where about nine in ten proposals are right", as measured on dev data);
- without one (v1): every candidate whose fused score is at least ``threshold``.

The other top-k candidates are stored as evidence for reviewers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from claimwatch.claims.docs import Query
from claimwatch.claims.index import tokenize
from claimwatch.claims.retrieval import Hit, Retriever
from claimwatch.claims.text import clean_query, skip_reason
from claimwatch.store import repo

BATCH = 256


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
        return (f"matched {self.posts_matched} posts with {self.method} ({self.proposals} proposals); "
                f"skipped: {skipped}")


def _proposed(hit: Hit, rank: int, retriever: Retriever, threshold: float, min_confidence: float) -> bool:
    if retriever.model is not None and retriever.model.calibration is not None:
        return rank == 1 and hit.confidence is not None and hit.confidence >= min_confidence
    return hit.score >= threshold


def match_posts(engine: sa.Engine, retriever: Retriever, *, top_k: int, threshold: float, min_confidence: float,
                rematch: bool = False, progress: Callable[[int, int], None] | None = None) -> MatchReport:
    """Match every collected post not yet matched against this index version.

    Posts with no matchable text (media-only, only links or handles) are recorded as
    skipped with the reason, not treated as errors.
    """
    index = retriever.index
    report = MatchReport(index.version, retriever.method)
    with engine.connect() as conn:
        todo = repo.posts_to_match(conn, index.version, rematch)
    report.posts_considered = len(todo)
    chunks = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]
    prepared = [_prepare(chunk) for chunk in chunks]
    searched = retriever.search_batches(([q for q in p.queries if q is not None] for p in prepared), top_k)
    done = 0
    for chunk, prep, (_, hits) in zip(chunks, prepared, searched, strict=True):
        hits_iter = iter(hits)
        with engine.begin() as conn:
            for row, query, why in zip(chunk, prep.queries, prep.reasons, strict=True):
                if query is None:
                    report.skipped[why] = report.skipped.get(why, 0) + 1
                    repo.set_match_state(conn, row.id, index.version, why)
                    continue
                cands = [
                    repo.CandidateRow(int(h.doc_id), rank, round(h.score, 6),
                                      _evidence(query.text, index.docs[h.row].claim, h),
                                      None if h.confidence is None else round(h.confidence, 4),
                                      _proposed(h, rank, retriever, threshold, min_confidence))
                    for rank, h in enumerate(next(hits_iter), start=1)
                ]
                report.proposals += repo.write_matches(conn, row.id, cands, retriever.method, index.version)
                report.posts_matched += 1
        done += len(chunk)
        if progress:
            progress(done, len(todo))
    return report


@dataclass
class _Prepared:
    """A chunk of posts as queries; ``None`` (with the reason) where a post has nothing to match."""

    queries: list[Query | None]
    reasons: list[str | None]


def _prepare(chunk: list[Any]) -> _Prepared:
    cleaned = [clean_query(row.text) for row in chunk]
    reasons = [skip_reason(row.text, c) for row, c in zip(chunk, cleaned, strict=True)]
    return _Prepared([None if why else Query(str(row.id), text, row.created_at)
                      for row, text, why in zip(chunk, cleaned, reasons, strict=True)], reasons)


def _evidence(query: str, claim: str, hit: Hit) -> dict[str, object]:
    """What an analyst needs to judge the proposal: the scores, the features and the shared words."""
    q_tokens, c_tokens = tokenize([query, claim])
    return {"shared_terms": sorted(set(q_tokens) & set(c_tokens))[:20], "query": query[:500],
            "features": hit.features}
