"""Evaluate claim retrieval on CheckThat!-style data (or on your own store's fact-checks).

The claim side is indexed once per (file content, encoder) and cached in ``eval-index/`` under
:func:`claimwatch.config.cache_dir`, so re-running an evaluation or a training recipe does not
re-encode 14,000 claims.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.rerank import RetrievalModel
from claimwatch.claims.retrieval import Retriever
from claimwatch.claims.text import clean_query
from claimwatch.config import DEFAULT_THRESHOLD, cache_dir
from claimwatch.evaluation.metrics import (
    expected_calibration_error,
    precision_recall_at,
    reliability_table,
    retrieval_metrics,
)


def cached_index(docs: Sequence[ClaimDoc], encoder: Encoder, show_progress: bool = False) -> ClaimIndex:
    """An index over ``docs``, persisted in the cache keyed by their content and the encoder."""
    h = hashlib.sha256(encoder.name.encode())
    for d in docs:
        h.update(f"{d.id}\x1f{d.claim}\x1f{d.title}\x1f{len(d.extra)}\x1e".encode())
    index, _ = ClaimIndex.build(
        cache_dir() / "eval-index" / h.hexdigest()[:24], docs, encoder, show_progress=show_progress
    )
    return index


def clean_queries(queries: Sequence[Query]) -> list[Query]:
    return [Query(q.id, clean_query(q.text) or q.text, q.date, q.context) for q in queries]


@dataclass
class RetrievalRun:
    """Ranked claim ids per query plus the top-1 confidence, for metrics and TREC output."""

    ranked: dict[str, list[str]]
    scores: dict[str, list[float]]
    confidence: dict[str, float | None]
    method: str
    #: whether the top-1 confidences are calibrated probabilities (a trained model with calibration)
    calibrated: bool = False
    warnings: list[str] = field(default_factory=list)

    def trec_lines(self, tag: str = "claimwatch") -> list[str]:
        return [
            f"{qid}\tQ0\t{doc}\t{rank}\t{score:.6f}\t{tag}"
            for qid, docs in self.ranked.items()
            for rank, (doc, score) in enumerate(zip(docs, self.scores[qid], strict=True), start=1)
        ]


def run_retrieval(
    index: ClaimIndex,
    queries: Sequence[Query],
    encoder: Encoder,
    model: RetrievalModel | None,
    *,
    alpha: float = 0.8,
    depth: int = 20,
    batch: int = 256,
) -> RetrievalRun:
    retriever = Retriever(index, encoder, model, alpha=alpha)
    cleaned = clean_queries(queries)
    ranked, scores, confidence = {}, {}, {}
    for start in range(0, len(cleaned), batch):
        chunk = cleaned[start : start + batch]
        for q, hits in zip(chunk, retriever.search(chunk, depth), strict=True):
            ranked[q.id] = [h.doc_id for h in hits]
            scores[q.id] = [h.score for h in hits]
            confidence[q.id] = hits[0].confidence if hits else None
    return RetrievalRun(
        ranked, scores, confidence, retriever.method, calibrated=model is not None and model.calibration is not None
    )


def evaluate(
    run: RetrievalRun,
    qrels: dict[str, set[str]],
    negatives: Mapping[str, RetrievalRun] | None = None,
    thresholds: Sequence[float] = (0.5, 0.7, 0.9),
    score_threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Ranking metrics; with calibrated confidences also precision/recall at thresholds and a
    reliability table; with runs over posts that match nothing (one per named set), the false
    proposal rate over all of them and per set: at each confidence threshold when confidences are
    calibrated, else (no confidence exists) at the score threshold from which ``claimwatch match``
    proposes (``score_threshold``)."""
    out: dict[str, Any] = retrieval_metrics(run.ranked, qrels)
    out["method"] = run.method
    qids = sorted(qrels)
    if all(run.confidence.get(q) is not None for q in qids):
        conf = [run.confidence[q] for q in qids]
        correct = [bool(run.ranked.get(q)) and run.ranked[q][0] in qrels[q] for q in qids]
        out["top1_at_confidence"] = [vars(p) for p in precision_recall_at(conf, correct, thresholds)]
        out["reliability"] = [vars(b) for b in reliability_table(conf, correct)]
        out["ece"] = expected_calibration_error(conf, correct)
    if negatives:
        runs = list(negatives.values())
        calibrated = all(r.calibrated for r in runs)
        points = thresholds if calibrated else (score_threshold,)
        neg_top = [v for r in runs for v in top_values(r, calibrated).values()]
        out["no_claim_posts"] = len(neg_top)
        out[_rate_key(calibrated)] = false_proposal_rates(neg_top, points)
        out["negatives_per_file"] = {
            name: {
                "no_claim_posts": len(r.confidence),
                _rate_key(calibrated): false_proposal_rates(list(top_values(r, calibrated).values()), points),
            }
            for name, r in negatives.items()
        }
        if "reliability" in out and calibrated:
            # Calibration as a feed sees it: posts with a fact-check mixed with posts with none.
            mixed_conf, mixed_ok = conf + neg_top, correct + [False] * len(neg_top)
            out["reliability_with_no_claim_posts"] = [vars(b) for b in reliability_table(mixed_conf, mixed_ok)]
            out["ece_with_no_claim_posts"] = expected_calibration_error(mixed_conf, mixed_ok)
    return out


def _rate_key(calibrated: bool) -> str:
    return "false_proposal_rate" if calibrated else "false_proposal_rate_at_score"


def top_values(run: RetrievalRun, calibrated: bool) -> dict[str, float]:
    """What decides whether each query's top hit is proposed: its calibrated confidence (None = no
    candidate = 0), or without calibration its top score (no candidate = −inf, never proposed)."""
    if calibrated:
        return {q: c if c is not None else 0.0 for q, c in run.confidence.items()}
    return {q: s[0] if s else -np.inf for q, s in run.scores.items()}


def false_proposal_rates(top: Sequence[float], points: Sequence[float]) -> dict[str, float | None]:
    """Share of posts whose top hit is proposed (value ≥ t) at each point; every one is wrong."""
    return {f"{t}": _share(v >= t for v in top) for t in points}


def _share(flags: Iterable[bool]) -> float | None:
    """The share of true flags; None (not 0) when there are none."""
    values = list(flags)
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class OpenWorld:
    """Leave-gold-out settings: a seeded ``fraction`` of the queries lose their gold claims."""

    fraction: float = 0.5
    seed: int = 13

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError(f"open-world fraction must be between 0 and 1 (exclusive), not {self.fraction}")


@dataclass(frozen=True)
class GoldOut:
    """Which claims leave the collection, and what that makes of each query."""

    removed: frozenset[str]
    #: queries none of whose gold claims is left: any proposal for them is false
    open: list[str]
    #: the other queries, with the gold claims that are left
    closed: dict[str, set[str]]


def leave_gold_out(qrels: Mapping[str, set[str]], known: set[str], settings: OpenWorld) -> GoldOut:
    """Pick ``settings.fraction`` of the queries (seeded, in sorted-id order) and remove all their
    gold claims from the collection. A query not picked whose gold went too (two queries sharing a
    claim) is open-world as well; one that keeps part of its gold is scored on what is left."""
    qids = sorted(qrels)
    rng = np.random.default_rng(settings.seed)
    picked = rng.choice(len(qids), size=max(1, round(settings.fraction * len(qids))), replace=False)
    removed = frozenset(d for i in picked for d in qrels[qids[i]] if d in known)
    left = {q: (qrels[q] & known) - removed for q in qids}
    return GoldOut(removed, [q for q in qids if not left[q]], {q: g for q, g in left.items() if g})


def evaluate_open_world(
    index: ClaimIndex,
    queries: Sequence[Query],
    qrels: Mapping[str, set[str]],
    encoder: Encoder,
    model: RetrievalModel | None,
    settings: OpenWorld,
    *,
    alpha: float = 0.8,
    thresholds: Sequence[float] = (0.5, 0.7, 0.9),
    score_threshold: float = DEFAULT_THRESHOLD,
    depth: int = 20,
) -> dict[str, Any]:
    """Leave-gold-out: the queries run against the collection minus the picked queries' gold claims.

    Keys: ``seed``, ``fraction``, ``claims_removed``, ``collection`` (claims left), ``open_queries``
    and ``closed_queries`` (counts); ``decided_by`` — "confidence" (calibrated) or "score" (no
    calibrated model: the fused or re-ranker score at ``score_threshold``, where ``match`` proposes);
    ``false_proposal_rate`` (or ``false_proposal_rate_at_score``): share of open-world queries whose
    top hit is proposed; ``top1_at_confidence`` (or ``top1_at_score``): precision, recall and count
    of the top-1 proposals on the closed queries; ``closed_world``: ranking metrics on them."""
    split = leave_gold_out(qrels, set(index.row_of), settings)
    reduced = index.without(set(split.removed))
    by_id = {q.id: q for q in queries}
    run = run_retrieval(
        reduced, [by_id[q] for q in [*split.open, *split.closed]], encoder, model, alpha=alpha, depth=depth
    )
    top = top_values(run, run.calibrated)
    points = thresholds if run.calibrated else (score_threshold,)
    closed = sorted(split.closed)
    correct = [bool(run.ranked[q]) and run.ranked[q][0] in split.closed[q] for q in closed]
    top1 = precision_recall_at([top[q] for q in closed], correct, points)
    return {
        "seed": settings.seed,
        "fraction": settings.fraction,
        "claims_removed": len(split.removed),
        "collection": len(reduced),
        "open_queries": len(split.open),
        "closed_queries": len(closed),
        "method": run.method,
        "decided_by": "confidence" if run.calibrated else "score",
        _rate_key(run.calibrated): false_proposal_rates([top[q] for q in split.open], points),
        ("top1_at_confidence" if run.calibrated else "top1_at_score"): [vars(p) for p in top1],
        "closed_world": retrieval_metrics(run.ranked, split.closed) if closed else None,
    }


def evaluate_files(
    claims: Sequence[ClaimDoc],
    queries_path: Path,
    qrels_path: Path,
    encoder: Encoder,
    model: RetrievalModel | None,
    *,
    negatives: Mapping[str, Sequence[Query]] | None = None,
    open_world: OpenWorld | None = None,
    context_window: int = 0,
    alpha: float = 0.8,
    threshold: float = DEFAULT_THRESHOLD,
    depth: int = 20,
    show_progress: bool = False,
) -> tuple[dict[str, Any], RetrievalRun]:
    """The whole ``claimwatch eval retrieval``: load, index (cached), rank, score.

    ``negatives``: named sets of posts that match nothing (e.g. one per file), scored per set and
    together. ``open_world``: adds the leave-gold-out figures under the ``open_world`` key."""
    from claimwatch.evaluation import checkthat

    queries = {q.id: q for q in checkthat.load_queries(queries_path, context_window)}
    qrels = checkthat.load_qrels(qrels_path)
    known = {d.id for d in claims}
    warnings = []
    missing_q = sorted(set(qrels) - set(queries))
    if missing_q:
        warnings.append(
            f"{qrels_path}: {len(missing_q)} qrels name queries not in {queries_path} (e.g. {missing_q[:3]}); ignored"
        )
        qrels = {q: d for q, d in qrels.items() if q in queries}
    unknown = sorted({d for ds in qrels.values() for d in ds} - known)
    if unknown:
        warnings.append(
            f"{qrels_path}: {len(unknown)} relevant claims are not in the claim set "
            f"(e.g. {unknown[:3]}); those queries cannot be answered"
        )
    index = cached_index(claims, encoder, show_progress)
    run = run_retrieval(index, [queries[q] for q in sorted(qrels)], encoder, model, alpha=alpha, depth=depth)
    run.warnings = warnings
    neg_runs = {
        name: run_retrieval(index, posts, encoder, model, alpha=alpha, depth=1)
        for name, posts in (negatives or {}).items()
    }
    res = evaluate(run, qrels, neg_runs, score_threshold=threshold)
    if open_world is not None:
        res["open_world"] = evaluate_open_world(
            index,
            [queries[q] for q in sorted(qrels)],
            qrels,
            encoder,
            model,
            open_world,
            alpha=alpha,
            score_threshold=threshold,
            depth=depth,
        )
    return res, run
