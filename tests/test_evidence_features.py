"""The re-ranker's stance and time evidence, and what of it the confidence looks at (issue 13 item 3)."""

from datetime import UTC, datetime

import numpy as np

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.features import FEATURE_NAMES, QueryScores, candidate_features, doc_terms
from claimwatch.claims.index import tokenize
from claimwatch.claims.rerank import CONFIDENCE_INPUTS, CONFIDENCE_MONOTONE, PAIR_FEATURES, confidence_inputs

DOCS = [
    ClaimDoc("c-lost", "Joe Biden lost Georgia in 2020", date=datetime(2020, 11, 10, tzinfo=UTC)),
    ClaimDoc("c-notwin", "Trump did not win Michigan", date=datetime(2021, 7, 20, tzinfo=UTC)),
]


def features(text: str, date: datetime | None = None) -> np.ndarray:
    tokens = tokenize([text])[0]
    n = len(DOCS)
    qs = QueryScores(
        cos=np.array([0.8, 0.7], dtype=np.float32),
        cos_ctx=None,
        bm25={},
        tokens=tokens,
        fused=np.array([0.7, 0.6], dtype=np.float32),
    )
    dates = np.array([d.date.timestamp() / 86400 for d in DOCS])
    terms = [doc_terms(d, tokenize([f"{d.claim} {d.title}"])[0]) for d in DOCS]
    return candidate_features(Query("q", text, date), qs, np.arange(n), dates, lambda row: terms[row])


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def test_stance_features_mark_denials_and_debunks_of_each_candidate() -> None:
    denial = features("No, Biden did not lose Georgia, and Trump did not win Michigan either.")
    # the post denies the first claim; the second claim is negative itself, so the post repeats it
    assert denial[:, column("stance_denies")].tolist() == [1.0, 0.0]
    debunk = features('Viral post says "Biden lost Georgia". Fact check: false.')
    assert debunk[0, column("stance_debunks")] == 1.0
    repeat = features("Biden lost Georgia in 2020, everyone knows it")
    assert repeat[:, [column("stance_denies"), column("stance_debunks")]].sum() == 0


def test_claim_lag_is_how_long_after_the_post_the_claim_was_fact_checked() -> None:
    lag = CONFIDENCE_INPUTS.index("claim_lag")
    scores = np.array([2.0, 1.0])  # the first claim is the top one
    pair = np.array([0.5, -0.25])
    before = features("Biden lost Georgia", datetime(2020, 5, 14, tzinfo=UTC))  # 180 days before
    assert np.isclose(confidence_inputs(scores, before, pair)[lag], np.log1p(180), atol=1e-3)
    after = features("Biden lost Georgia", datetime(2021, 1, 1, tzinfo=UTC))  # the claim came first
    assert confidence_inputs(scores, after, pair)[lag] == 0.0
    undated = features("Biden lost Georgia")
    assert confidence_inputs(scores, undated, pair)[lag] == 0.0


def test_every_confidence_input_has_a_direction_and_the_rejecting_evidence_only_lowers_it() -> None:
    assert len(CONFIDENCE_MONOTONE) == len(CONFIDENCE_INPUTS)
    direction = dict(zip(CONFIDENCE_INPUTS, CONFIDENCE_MONOTONE, strict=True))
    assert direction["stance_denies"] == direction["stance_debunks"] == direction["claim_lag"] == -1
    # stance and stability: every input is a pair feature or a cosine comparison, none a BM25 or ranker score
    assert not any(name.startswith("bm25") or name in ("fused_v1", "cos_rank") for name in CONFIDENCE_INPUTS)
    assert direction["pair_score"] == direction["pair_lead"] == 1


def test_the_pair_ranker_score_and_its_lead_come_from_pair_features_only() -> None:
    # the pair ranker must not see anything that moves when unrelated claims join the collection
    assert not any(f.startswith("bm25") or f in ("fused_v1", "cos_rank", "cos_gap") for f in PAIR_FEATURES)
    # nor dates (CheckThat!'s pairs are days apart; a repeat years later is still a repeat)
    assert "days_apart" not in PAIR_FEATURES and "claim_after_query" not in PAIR_FEATURES
    inputs = confidence_inputs(np.array([1.0, 3.0]), features("Biden lost Georgia"), np.array([0.5, -0.25]))
    # the re-ranker picked the second claim: its pair score, and its lead over the first
    assert inputs[CONFIDENCE_INPUTS.index("pair_score")] == -0.25
    assert inputs[CONFIDENCE_INPUTS.index("pair_lead")] == -0.75
