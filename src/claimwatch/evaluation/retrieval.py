"""Evaluate claim retrieval on CheckThat!-style data (or on your own store's fact-checks).

The claim side is indexed once per (file content, encoder) and cached in ``eval-index/`` under
:func:`claimwatch.config.cache_dir`, so re-running an evaluation or a training recipe does not
re-encode 14,000 claims.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
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
    negatives: RetrievalRun | None = None,
    thresholds: Sequence[float] = (0.5, 0.7, 0.9),
    score_threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Ranking metrics; with calibrated confidences also precision/recall at thresholds and a
    reliability table; with a run over posts that match nothing, the false proposal rate: at each
    confidence threshold when confidences are calibrated, else (no confidence exists) at the score
    threshold from which ``claimwatch match`` proposes (``score_threshold``)."""
    out: dict[str, Any] = retrieval_metrics(run.ranked, qrels)
    out["method"] = run.method
    qids = sorted(qrels)
    if all(run.confidence.get(q) is not None for q in qids):
        conf = [run.confidence[q] for q in qids]
        correct = [bool(run.ranked.get(q)) and run.ranked[q][0] in qrels[q] for q in qids]
        out["top1_at_confidence"] = [vars(p) for p in precision_recall_at(conf, correct, thresholds)]
        out["reliability"] = [vars(b) for b in reliability_table(conf, correct)]
        out["ece"] = expected_calibration_error(conf, correct)
    if negatives is not None:
        out["no_claim_posts"] = len(negatives.confidence)
        if not negatives.calibrated:
            # A post with no candidate at all is proposed nothing; else its best score decides.
            top = [s[0] if s else -np.inf for s in negatives.scores.values()]
            out["false_proposal_rate_at_score"] = {f"{score_threshold}": _share(t >= score_threshold for t in top)}
        else:
            neg_conf = [c if c is not None else 0.0 for c in negatives.confidence.values()]
            out["false_proposal_rate"] = {f"{t}": _share(c >= t for c in neg_conf) for t in thresholds}
        if "reliability" in out and negatives.calibrated:
            # Calibration as a feed sees it: posts with a fact-check mixed with posts with none.
            mixed_conf, mixed_ok = conf + neg_conf, correct + [False] * len(neg_conf)
            out["reliability_with_no_claim_posts"] = [vars(b) for b in reliability_table(mixed_conf, mixed_ok)]
            out["ece_with_no_claim_posts"] = expected_calibration_error(mixed_conf, mixed_ok)
    return out


def _share(flags: Iterable[bool]) -> float | None:
    """The share of true flags; None (not 0) when there are none."""
    values = list(flags)
    return float(np.mean(values)) if values else None


def evaluate_files(
    claims: Sequence[ClaimDoc],
    queries_path: Path,
    qrels_path: Path,
    encoder: Encoder,
    model: RetrievalModel | None,
    *,
    negatives: Sequence[Query] = (),
    context_window: int = 0,
    alpha: float = 0.8,
    threshold: float = DEFAULT_THRESHOLD,
    depth: int = 20,
    show_progress: bool = False,
) -> tuple[dict[str, Any], RetrievalRun]:
    """The whole ``claimwatch eval retrieval``: load, index (cached), rank, score."""
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
    neg_run = run_retrieval(index, negatives, encoder, model, alpha=alpha, depth=1) if negatives else None
    return evaluate(run, qrels, neg_run, score_threshold=threshold), run
