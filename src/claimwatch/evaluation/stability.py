"""Stability: does adding fact-checks unrelated to a post move the confidence of its proposals?

A collection grows every day; a proposal's confidence should change only when something relevant
to the post arrives. :func:`confidence_shift` ranks the same queries against a collection and the
collection plus extra claims, and reports the change of the top-1 confidence for the queries whose
candidates (the claims the confidence looks at) contain none of the extra claims (for the others a
new claim competes, so a change is legitimate). :func:`synthetic_factchecks` writes such extra claims: synthetic, on topics no post
of a news feed is about (garden produce, fictional places), attributed to example.org.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.rerank import RetrievalModel
from claimwatch.claims.retrieval import N_CANDIDATES, Retriever
from claimwatch.evaluation.retrieval import clean_queries

_PRODUCE = "pumpkin turnip parsnip marrow radish cabbage gooseberry rhubarb kohlrabi courgette".split()
_PLACES = "Quillbrook Farrowdale Thistlemere Oakhollow Brambleton Wrenfield Mossgate Fernwick".split()
_FEATS = (
    "grown on a compost of crushed seashells",
    "watered only with cold tea",
    "planted under a full moon",
    "kept warm by a brass lantern",
    "fed with powdered eggshells",
)


def synthetic_factchecks(n: int, seed: int = 13) -> list[ClaimDoc]:
    """``n`` synthetic fact-checked claims about prize vegetables in fictional villages (ids
    ``synthetic-…``, attributed to example.org): unrelated to anything a real post says."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        veg, place, feat = rng.choice(_PRODUCE), rng.choice(_PLACES), rng.choice(_FEATS)
        weight = int(rng.integers(20, 900))
        out.append(
            ClaimDoc(
                id=f"synthetic-{i:05d}",
                claim=f"A {veg} {feat} in {place} weighed {weight} kilograms.",
                title=f"Synthetic example.org check: {place} {veg} record",
            )
        )
    return out


@dataclass(frozen=True)
class ConfidenceShift:
    """Top-1 confidence per query before and after adding claims (queries with a confidence only)."""

    query_ids: list[str]
    before: np.ndarray
    after: np.ndarray
    #: whether an added claim is among the query's candidates after the addition (it competes)
    touched: np.ndarray

    def untouched_deltas(self) -> np.ndarray:
        """|Δ confidence| of the queries no added claim competes for."""
        return np.abs(self.after - self.before)[~self.touched]

    def summary(self) -> dict[str, float | int]:
        d = self.untouched_deltas()
        return {
            "queries": len(self.query_ids),
            "touched": int(self.touched.sum()),
            "max_abs_delta": float(d.max()) if len(d) else 0.0,
            "p95_abs_delta": float(np.percentile(d, 95)) if len(d) else 0.0,
            "mean_abs_delta": float(d.mean()) if len(d) else 0.0,
            "moved_over_0.02": int((d >= 0.02).sum()),
        }


def confidence_shift(
    index: ClaimIndex,
    added: Sequence[ClaimDoc],
    queries: Sequence[Query],
    encoder: Encoder,
    model: RetrievalModel,
) -> ConfidenceShift:
    """Rank ``queries`` against ``index`` and against ``index`` plus ``added`` (nothing is persisted)."""
    bigger = index.plus(added, encoder)
    new_ids = {d.id for d in added}
    cleaned = clean_queries(queries)
    embedded = Retriever(index, encoder, model).embed(cleaned)
    before = Retriever(index, encoder, model).search(cleaned, N_CANDIDATES, embedded)
    after = Retriever(bigger, encoder, model).search(cleaned, N_CANDIDATES, embedded)
    ids, b, a, touched = [], [], [], []
    for q, hb, ha in zip(cleaned, before, after, strict=True):
        if not hb or not ha or hb[0].confidence is None or ha[0].confidence is None:
            continue
        ids.append(q.id)
        b.append(hb[0].confidence)
        a.append(ha[0].confidence)
        touched.append(any(h.doc_id in new_ids for h in ha))
    return ConfidenceShift(ids, np.array(b), np.array(a), np.array(touched, dtype=bool))
