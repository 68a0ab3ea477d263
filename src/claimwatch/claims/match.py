"""Matching v1: rank fact-checks for each post with fused BM25 + dense scores.

fused = alpha · cosine + (1 − alpha) · bm25 / max_bm25(query)

The cosine carries the absolute meaning (how close the claim is); the BM25 term,
relative to the best lexical hit for that query, breaks ties toward claims that share
the post's rare words (names, numbers). Ranking and the proposal threshold use the same
fused score, so "proposed" means "ranked high enough *and* close enough".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, tokenize
from claimwatch.claims.text import clean_query, skip_reason
from claimwatch.store import repo

METHOD = "hybrid-bm25-dense-v1"
BATCH = 256


@dataclass
class Ranked:
    """One candidate for one query; ``row`` indexes the ClaimIndex arrays."""

    row: int
    factcheck_id: int
    score: float
    cosine: float
    bm25: float


def rank(index: ClaimIndex, encoder: Encoder, queries: list[str], top_k: int, alpha: float,
         query_embeddings: np.ndarray | None = None) -> list[list[Ranked]]:
    """Top-k fact-checks per query (queries already cleaned)."""
    if len(index) == 0 or not queries:
        return [[] for _ in queries]
    q = encoder.encode(queries) if query_embeddings is None else query_embeddings
    cos_all = q @ index.embeddings.T
    k = min(top_k, len(index))
    out = []
    for qi, tokens in enumerate(tokenize(queries)):
        cos = cos_all[qi]
        bm = index.bm25_scores(tokens)
        top_bm = float(bm.max()) if bm.size else 0.0
        fused = alpha * cos + (1 - alpha) * (bm / top_bm if top_bm > 0 else 0.0)
        best = np.argpartition(-fused, k - 1)[:k]
        best = best[np.argsort(-fused[best], kind="stable")]
        out.append([Ranked(int(r), int(index.ids[r]), float(fused[r]), float(cos[r]), float(bm[r])) for r in best])
    return out


@dataclass
class MatchReport:
    index_version: str
    posts_considered: int = 0
    posts_matched: int = 0
    proposals: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"matched {self.posts_matched} posts ({self.proposals} proposals at or above the threshold); "
                f"skipped: {skipped}")


def match_posts(engine: sa.Engine, index: ClaimIndex, encoder: Encoder, *, threshold: float, top_k: int,
                alpha: float, rematch: bool = False,
                progress: Callable[[int, int], None] | None = None) -> MatchReport:
    """Match every collected post not yet matched against this index version.

    Posts with no matchable text (media-only, only links or handles) are recorded as
    skipped with the reason, not treated as errors.
    """
    report = MatchReport(index.version)
    with engine.connect() as conn:
        todo = repo.posts_to_match(conn, index.version, rematch)
    report.posts_considered = len(todo)
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        cleaned = [clean_query(row.text) for row in chunk]
        reasons = [skip_reason(row.text, c) for row, c in zip(chunk, cleaned)]
        usable = [i for i, why in enumerate(reasons) if why is None]
        ranked = rank(index, encoder, [cleaned[i] for i in usable], top_k, alpha)
        ranked_by_pos = dict(zip(usable, ranked))
        fc_texts: dict[int, str] = {}
        with engine.connect() as conn:
            fc_texts = repo.factcheck_texts(conn, [c.factcheck_id for cands in ranked for c in cands])
        with engine.begin() as conn:
            for pos, row in enumerate(chunk):
                if pos not in ranked_by_pos:
                    reason = reasons[pos]
                    report.skipped[reason] = report.skipped.get(reason, 0) + 1
                    repo.set_match_state(conn, row.id, index.version, reason)
                    continue
                cands = [
                    repo.CandidateRow(c.factcheck_id, rank_no, round(c.score, 6),
                                      _evidence(cleaned[pos], fc_texts.get(c.factcheck_id, ""), c))
                    for rank_no, c in enumerate(ranked_by_pos[pos], start=1)
                ]
                report.proposals += repo.write_matches(conn, row.id, cands, threshold, METHOD, index.version)
                report.posts_matched += 1
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    return report


def _evidence(query: str, claim: str, c: Ranked) -> dict[str, object]:
    """What an analyst needs to judge the proposal: the scores and the shared words."""
    q_tokens, c_tokens = tokenize([query, claim]) if claim else (tokenize([query])[0], [])
    shared = sorted(set(q_tokens) & set(c_tokens))
    return {"cosine": round(c.cosine, 4), "bm25": round(c.bm25, 4), "shared_terms": shared[:20],
            "query": query[:500]}
