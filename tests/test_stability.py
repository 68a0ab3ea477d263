"""Issue 13 item 4: adding 10,000 fact-checks unrelated to a post moves its proposal's confidence < 0.02."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_eval_retrieval import CLAIMS, QUERIES

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.rerank import load_model
from claimwatch.evaluation.stability import confidence_shift, synthetic_factchecks

#: More claims and posts than the eval fixture, so the collection is not trivially small.
MORE_CLAIMS = [
    ("vclaim-6", "The city of Springfield banned pet dogs from every public park.", "Dogs banned in parks?"),
    ("vclaim-7", "A new law lets police fine drivers for eating while driving.", "Fines for eating at the wheel"),
    ("vclaim-8", "The vaccine contains a microchip that tracks people.", "Microchips in vaccines"),
    ("vclaim-9", "Wind turbines cause cancer in people who live near them.", "Do wind turbines cause cancer?"),
]
MORE_QUERIES = [
    ("q5", "so now they put a tracking microchip in the vaccine?? no thanks"),
    ("q6", "my neighbour says the wind turbines down the road gave him cancer"),
    ("q7", "police can fine you for eating a sandwich while driving now, unbelievable"),
]


def test_synthetic_factchecks_are_labelled_and_seeded() -> None:
    docs = synthetic_factchecks(50, seed=1)
    assert len({d.id for d in docs}) == 50 and all(d.id.startswith("synthetic-") for d in docs)
    assert all("example.org" in d.title for d in docs)
    assert docs == synthetic_factchecks(50, seed=1) and docs != synthetic_factchecks(50, seed=2)


@pytest.mark.slow
def test_ten_thousand_unrelated_factchecks_move_confidence_less_than_0_02(tmp_path: Path, encoder) -> None:
    model = load_model("", encoder.name)
    if model is None or model.calibration is None:
        pytest.skip("no shipped calibrated retrieval model for this encoder")
    docs = [ClaimDoc(i, c, t) for i, c, t in CLAIMS + MORE_CLAIMS]
    index, _ = ClaimIndex.build(tmp_path / "idx", docs, encoder, persist=False)
    queries = [Query(i, t) for i, t in QUERIES + MORE_QUERIES]
    shift = confidence_shift(index, synthetic_factchecks(10_000), queries, encoder, model)
    assert len(shift.query_ids) == len(queries), "every post has a confidence before and after"
    # The collection is tiny, so synthetic claims do fill the candidate lists: the bound must hold anyway.
    assert shift.before.max() > 0.5, "some post is proposed at all (else the bound says nothing)"
    deltas = np.abs(shift.after - shift.before)
    assert deltas.max() < 0.02, dict(zip(shift.query_ids, np.round(shift.after - shift.before, 4), strict=True))
