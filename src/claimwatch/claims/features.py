"""Features of one (query, candidate claim) pair for the learned re-ranker.

Cheap by design (no cross-encoder): what the strongest CheckThat! systems combined —
dense and lexical similarity per field, rank positions, shared numbers and names, and
how far apart the query's date and the claim's date are — plus whether the post denies or
debunks the claim (claims.stance: a post close to a claim by every similarity may reject it). All are computed for the
candidates of one query at once. Missing values are NaN (the tree model handles them).

Stability (issue 13): a proposal's confidence must not move when fact-checks unrelated to the post
join the collection. Raw BM25 does move (its IDF grows with the collection size, its length
normalisation follows the average document), and so does a rank by BM25 (short unrelated claims
sharing one common word overtake): both were features until issue 13 and moved confidences by up
to 0.89 when 10,000 unrelated claims were added. The lexical strength is now ``query_coverage``
(the share of the post's terms the claim contains), which depends on the pair alone; the BM25
features left are relative to the best BM25 score for the post, which moves only when the new claim
is the best lexical match. 5-fold cross-validation over 2A+2B train+dev, folds by query, gave the
same MAP@5 either way (2A 0.9191 → 0.9183, 2B 0.6720 → 0.6723); with folds that keep queries sharing
a gold claim together (``train retrieval --cv``) ``query_coverage`` helps 2A and not 2B.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.index import FIELDS, FieldScores, PoolScores
from claimwatch.claims.stance import ClaimStance, claim_stance, combine, post_stance

FEATURE_NAMES: tuple[str, ...] = (
    "cos",
    "cos_gap",
    "cos_rank",
    "cos_ctx",
    *(f"bm25_{f}_rel" for f in FIELDS),
    "fused_v1",
    "jaccard",
    "query_coverage",
    "num_shared",
    "num_doc_only",
    "num_query_only",
    "names_shared",
    "names_doc_only",
    "days_apart",
    "claim_after_query",
    "stance_denies",
    "stance_debunks",
    "query_len",
    "doc_len",
)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'’-]{2,}")
_COMMON_CAPS = frozenset(
    "The This That These Those There Their They What When Where Which While With Will "
    "Would Could Should Does Did Have Has Had From Your Just Breaking Video Photo".split()
)


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def names(text: str) -> set[str]:
    return {w.casefold() for w in _NAME.findall(text) if w not in _COMMON_CAPS}


@dataclass
class QueryScores:
    """Scores of one query, shared by all its candidates. ``cos``, ``cos_ctx`` and ``fused`` are
    collection-sized but only valid at candidate-pool rows; ``bm25`` covers the whole collection."""

    cos: np.ndarray
    cos_ctx: np.ndarray | None
    bm25: dict[str, FieldScores | PoolScores]
    tokens: list[str]
    fused: np.ndarray


@dataclass(frozen=True)
class DocTerms:
    """What the pairwise features need of a document, computed once per document."""

    tokens: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]
    #: the claim's own words for the stance cues (the claim, not its title: titles of fact-checks
    #: often carry the verdict, "Fact check: …")
    stance: ClaimStance


def doc_terms(doc: ClaimDoc, tokens: list[str]) -> DocTerms:
    text = f"{doc.claim} {doc.title}"
    return DocTerms(frozenset(tokens), frozenset(numbers(text)), frozenset(names(text)), claim_stance(doc.claim))


def candidate_features(
    query: Query, qs: QueryScores, rows: np.ndarray, doc_dates: np.ndarray, terms_of: Callable[[int], DocTerms]
) -> np.ndarray:
    """Feature matrix (len(rows) × len(FEATURE_NAMES)) for one query's candidate rows."""
    n = len(rows)
    out = np.full((n, len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    cos = qs.cos[rows]
    out[:, col["cos"]] = cos
    out[:, col["cos_gap"]] = cos - cos.max()
    out[:, col["cos_rank"]] = _ranks(cos)
    if qs.cos_ctx is not None:
        out[:, col["cos_ctx"]] = qs.cos_ctx[rows]
    for f in FIELDS:
        scores = qs.bm25.get(f)
        if scores is not None:
            out[:, col[f"bm25_{f}_rel"]] = scores.at(rows) / scores.max if scores.max > 0 else 0.0
    out[:, col["fused_v1"]] = qs.fused[rows]
    q_tokens = set(qs.tokens)
    q_numbers, q_names = numbers(query.text), names(query.text)
    q_stance = post_stance(query.text)
    for i, row in enumerate(rows):
        t = terms_of(int(row))
        union = len(q_tokens | t.tokens)
        shared = len(q_tokens & t.tokens)
        out[i, col["jaccard"]] = shared / union if union else 0.0
        out[i, col["query_coverage"]] = shared / len(q_tokens) if q_tokens else 0.0
        out[i, col["num_shared"]] = len(q_numbers & t.numbers)
        out[i, col["num_doc_only"]] = len(t.numbers - q_numbers)
        out[i, col["num_query_only"]] = len(q_numbers - t.numbers)
        out[i, col["names_shared"]] = len(q_names & t.names)
        out[i, col["names_doc_only"]] = len(t.names - q_names)
        out[i, col["doc_len"]] = len(t.tokens)
        cues = combine(q_stance, t.stance)
        out[i, col["stance_denies"]] = cues.denies
        out[i, col["stance_debunks"]] = cues.debunks
    if query.date is not None:
        delta = doc_dates[rows] - query.date.timestamp() / 86400
        out[:, col["days_apart"]] = np.log1p(np.abs(delta))
        out[:, col["claim_after_query"]] = np.where(np.isnan(delta), np.nan, (delta > 0).astype(np.float32))
    out[:, col["query_len"]] = len(qs.tokens)
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """1 for the largest value, 2 for the next, …"""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float32)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks
