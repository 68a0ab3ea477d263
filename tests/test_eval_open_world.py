"""`claimwatch eval retrieval --open-world` (leave-gold-out) and several `--negatives` files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_eval_retrieval import CLAIMS, _eval, _negatives, ct  # noqa: F401  (ct is a fixture)

from claimwatch.claims.docs import ClaimDoc
from claimwatch.claims.index import ClaimIndex
from claimwatch.evaluation.retrieval import OpenWorld, leave_gold_out


def test_leave_gold_out_is_seeded_and_follows_shared_and_partial_gold() -> None:
    qrels = {"q1": {"a"}, "q2": {"a"}, "q3": {"b", "c"}, "q4": {"d"}, "q5": {"e"}, "q6": {"zz"}}
    known = {"a", "b", "c", "d", "e", "f"}
    first = leave_gold_out(qrels, known, OpenWorld(0.5, seed=3))
    assert first == leave_gold_out(qrels, known, OpenWorld(0.5, seed=3)), "same seed, same pick"
    assert first.removed <= known, "only claims of the collection are removed"
    # Every query is either open (no gold left) or closed with exactly the gold that is left.
    for q, gold in qrels.items():
        left = (gold & known) - first.removed
        assert (q in first.open) == (not left)
        assert first.closed.get(q, set()) == left
    assert "q6" in first.open, "a query whose gold is not in the collection has nothing to find"
    # q1 and q2 share their claim: when one is picked the other loses its gold as well.
    assert ("q1" in first.open) == ("q2" in first.open)
    picks = {leave_gold_out(qrels, known, OpenWorld(0.5, seed=s)).removed for s in range(8)}
    assert len(picks) > 1, "the seed changes the pick"


def test_partial_gold_keeps_the_query_closed_on_what_is_left() -> None:
    qrels = {"q1": {"a", "b"}, "q2": {"b"}}
    out = next(
        g for s in range(50) if (g := leave_gold_out(qrels, {"a", "b"}, OpenWorld(0.5, seed=s))).removed == {"b"}
    )
    assert out.open == ["q2"] and out.closed == {"q1": {"a"}}


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_fraction_must_leave_both_kinds(fraction: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        OpenWorld(fraction)


def test_index_without_documents_reuses_embeddings_and_recounts_bm25(tmp_path: Path, encoder) -> None:
    docs = [ClaimDoc(i, c, t) for i, c, t in CLAIMS]
    index, _ = ClaimIndex.build(tmp_path / "idx", docs, encoder)
    calls = []
    encoder_encode = encoder.encode
    try:
        encoder.encode = lambda *a, **k: calls.append(a) or encoder_encode(*a, **k)  # type: ignore[method-assign]
        smaller = index.without({"vclaim-1", "vclaim-3"})
    finally:
        del encoder.encode
    assert not calls, "no document is encoded again"
    assert [d.id for d in smaller.docs] == ["vclaim-2", "vclaim-4", "vclaim-5"]
    assert np.array_equal(smaller.embeddings, index.embeddings[[1, 3, 4]])
    assert smaller.directory != index.directory, "a save() can never overwrite the full index"
    # "votes" occurs only in the removed claim: the smaller collection has no posting for it.
    assert index.bm25_scores(["vote"], "claim").max > 0
    assert smaller.bm25_scores(["vote"], "claim").max == 0
    assert len(index) == 5 and len(smaller) == 3, "the full index is untouched"


def test_open_world_without_a_model_is_decided_by_the_fused_score(ct, encoder) -> None:  # noqa: F811
    code, out, err = _eval(ct, "--retrieval-model", "none", "--open-world", "--open-world-seed", "1", "--json")
    assert code == 0, err
    ow = json.loads(out)["open_world"]
    assert ow["decided_by"] == "score" and ow["method"] == "hybrid-bm25-dense-v1"
    assert ow["open_queries"] == 2 and ow["closed_queries"] == 2 and ow["claims_removed"] == 2
    assert ow["collection"] == len(CLAIMS) - 2
    assert list(ow["false_proposal_rate_at_score"]) == ["0.62"] and "false_proposal_rate" not in ow
    (point,) = ow["top1_at_score"]
    assert point["threshold"] == 0.62 and 0 <= point["proposed"] <= 2
    assert ow["closed_world"]["n_queries"] == 2
    code, text, err = _eval(ct, "--retrieval-model", "none", "--open-world", "--open-world-seed", "1")
    line = " ".join(text.split())
    assert "2 gold claims removed (3 left); 2 queries without their gold, 2 with it" in line
    assert "no calibrated confidence without a trained model" in line and "fused score threshold 0.62" in line


@pytest.mark.slow
def test_open_world_with_the_calibrated_model_is_decided_by_confidence(ct, encoder) -> None:  # noqa: F811
    code, out, err = _eval(ct, "--open-world", "--open-world-fraction", "0.25", "--json")
    assert code == 0, err
    ow = json.loads(out)["open_world"]
    if ow["method"] != "hybrid-rerank-lgbm-v1":
        pytest.skip("no shipped retrieval model for this encoder")
    assert ow["decided_by"] == "confidence" and ow["fraction"] == 0.25
    assert ow["open_queries"] == 1 and ow["closed_queries"] == 3
    rates = ow["false_proposal_rate"]
    assert list(rates) == ["0.5", "0.7", "0.9"] and all(r in (0.0, 1.0) for r in rates.values())
    assert rates["0.5"] >= rates["0.7"] >= rates["0.9"], "a higher bar proposes less"
    assert [p["threshold"] for p in ow["top1_at_confidence"]] == [0.5, 0.7, 0.9]


def test_open_world_fraction_out_of_range_is_one_line(ct, encoder) -> None:  # noqa: F811
    code, _, err = _eval(ct, "--open-world", "--open-world-fraction", "1.0")
    assert code != 0 and "open-world fraction must be between 0 and 1" in err and "Traceback" not in err


def test_several_negatives_files_are_reported_per_file_and_together(ct, tmp_path: Path, encoder) -> None:  # noqa: F811
    first = _negatives(tmp_path)  # one post repeating a claim word for word, one greeting
    second = tmp_path / "more.tsv"
    second.write_text(
        "topic\ttweet_id\ttweet_url\ttweet_text\tclass_label\n"
        "x\t1\thttp://t/1\twhat a lovely sunny afternoon in the park\t0\n",
        encoding="utf-8",
    )
    args = ["--retrieval-model", "none", "--negatives", str(first), "--negatives", str(second)]
    code, out, err = _eval(ct, *args, "--json")
    assert code == 0, err
    res = json.loads(out)
    per = res["negatives_per_file"]
    assert list(per) == [str(first), str(second)], "same post ids in two files are kept apart"
    assert per[str(first)]["no_claim_posts"] == 2 and per[str(second)]["no_claim_posts"] == 1
    assert per[str(first)]["false_proposal_rate_at_score"] == {"0.62": 0.5}
    assert per[str(second)]["false_proposal_rate_at_score"] == {"0.62": 0.0}
    assert res["no_claim_posts"] == 3 and res["false_proposal_rate_at_score"] == {"0.62": pytest.approx(1 / 3)}
    code, text, _ = _eval(ct, *args)
    line = " ".join(text.split())
    assert f"false proposals on 1 post of {second}: " in line.replace("\n", "")


def test_a_missing_negatives_file_is_one_line(ct, tmp_path: Path, encoder) -> None:  # noqa: F811
    code, _, err = _eval(ct, "--negatives", str(tmp_path / "nope.tsv"))
    assert code != 0 and "nope.tsv: no such file" in err and "Traceback" not in err


def test_hard_negative_dev_set_reads_as_negatives() -> None:
    from claimwatch.training.retrieval import no_claim_posts

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "hard_negatives" / "dev.tsv"
    posts = no_claim_posts(path)
    assert len(posts) == 182 and len({p.id for p in posts}) == 182 and all(p.text for p in posts)


def test_calibration_cv_counts_proposals_at_the_default_confidence() -> None:
    from claimwatch.training.retrieval import calibration_cv

    oof = np.array([0.9, 0.6, 0.4, 0.7, 0.1, 0.2])
    correct = np.array([True, True, True, False, False, False])
    cv = calibration_cv(oof, correct)
    assert cv["precision@0.5"] == pytest.approx(2 / 3, abs=1e-4), "three proposed, two right"
    assert cv["wrong_proposed@0.5"] == pytest.approx(1 / 3, abs=1e-4), "one of three wrong top-1s proposed"
    assert calibration_cv(np.array([0.1]), np.array([True]))["precision@0.5"] is None, "nothing proposed"
