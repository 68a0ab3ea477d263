"""Ranking and calibration metrics, shared by ``claimwatch eval``, the library and benchmarks.

MAP@k follows the official CheckThat! scorer: for each query, the sum of precision@i over
the ranks i ≤ k that hold a relevant claim, divided by the number of relevant claims;
averaged over queries. Queries with no run count as 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


def average_precision(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    hits, total = 0, 0.0
    for i, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant) if relevant else 0.0


def retrieval_metrics(run: Mapping[str, Sequence[str]], qrels: Mapping[str, set[str]]) -> dict[str, float]:
    """MAP@1/3/5, P@1, Recall@5/@20 and MRR over the queries in ``qrels``."""
    qids = sorted(qrels)
    out: dict[str, float] = {}
    for k in (1, 3, 5):
        out[f"map@{k}"] = float(np.mean([average_precision(run.get(q, ()), qrels[q], k) for q in qids]))
    out["p@1"] = float(np.mean([1.0 if run.get(q) and run[q][0] in qrels[q] else 0.0 for q in qids]))
    for k in (5, 20):
        out[f"recall@{k}"] = float(np.mean([len(set(run.get(q, ())[:k]) & qrels[q]) / len(qrels[q]) for q in qids]))
    rr = []
    for q in qids:
        ranks = [i for i, d in enumerate(run.get(q, ()), start=1) if d in qrels[q]]
        rr.append(1.0 / ranks[0] if ranks else 0.0)
    out["mrr"] = float(np.mean(rr))
    out["n_queries"] = len(qids)
    return out


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    precision: float | None
    recall: float
    proposed: int


def precision_recall_at(
    confidences: Sequence[float], correct: Sequence[bool], thresholds: Sequence[float] = (0.5, 0.7, 0.9)
) -> list[ThresholdPoint]:
    """Top-1 proposals made at confidence ≥ t: their precision, and the share of queries answered correctly."""
    conf, ok = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=bool)
    points = []
    for t in thresholds:
        sel = conf >= t
        points.append(
            ThresholdPoint(
                t,
                float(ok[sel].mean()) if sel.any() else None,
                float((ok & sel).sum() / len(ok)) if len(ok) else 0.0,
                int(sel.sum()),
            )
        )
    return points


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    n: int
    mean_confidence: float | None
    accuracy: float | None


def reliability_table(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width confidence bins: how often a proposal made with that confidence was right."""
    conf, ok = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for i in range(bins):
        lo, hi = edges[i], edges[i + 1]
        sel = (conf >= lo) & ((conf < hi) if i < bins - 1 else (conf <= hi))
        out.append(
            ReliabilityBin(
                float(lo),
                float(hi),
                int(sel.sum()),
                float(conf[sel].mean()) if sel.any() else None,
                float(ok[sel].mean()) if sel.any() else None,
            )
        )
    return out


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    table = reliability_table(confidences, correct, bins)
    n = sum(b.n for b in table)
    return float(sum(b.n * abs(b.mean_confidence - b.accuracy) for b in table if b.n) / n) if n else 0.0


def binary_metrics(labels: Sequence[bool], predicted: Sequence[bool]) -> dict[str, float]:
    """F1, precision and recall of the positive class, and accuracy (0 where undefined: nothing predicted
    or nothing to find)."""
    y, p = np.asarray(labels, dtype=bool), np.asarray(predicted, dtype=bool)
    tp = int((y & p).sum())
    precision = tp / int(p.sum()) if p.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "accuracy": float((y == p).mean()) if len(y) else 0.0}
