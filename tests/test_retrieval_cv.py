"""Model selection by grouped cross-validation (training.selection) on a tiny synthetic set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.training.retrieval import LabelledCandidates
from claimwatch.training.selection import assign_folds, cross_validate, load_labelled, save_labelled

COS = FEATURE_NAMES.index("cos")
#: Fewer boosting rounds than shipped, to keep the tests fast (LightGBM reads the alias from params).
FAST = {"fast": {"num_iterations": 30}}


def _synthetic(n_per_task: int = 40, n_cands: int = 8, seed: int = 0) -> list[LabelledCandidates]:
    """Queries whose gold candidate (when present) has the highest ``cos``; every other feature is
    noise. Pairs of queries share a gold claim; every 10th query's gold is not among its candidates."""
    rng = np.random.default_rng(seed)
    out = []
    for task in ("2A", "2B"):
        for n in range(n_per_task):
            gold = f"{task}-claim-{n // 2}"
            ids = [f"{task}-other-{n}-{j}" for j in range(n_cands)]
            feats = rng.random((n_cands, len(FEATURE_NAMES))).astype(np.float32)
            if n % 10:
                at = int(rng.integers(n_cands))
                ids[at] = gold
                feats[at, COS] = 1.0 + rng.random()
            out.append(LabelledCandidates(task, "train", f"{task}-q{n}", tuple(ids), feats, frozenset({gold})))
    return out


def test_folds_keep_queries_sharing_a_gold_claim_together_and_are_seeded() -> None:
    qs = _synthetic()
    folds = assign_folds(qs, k=5, seed=13)
    by_gold: dict[str, set[int]] = {}
    for q, f in zip(qs, folds, strict=True):
        by_gold.setdefault(next(iter(q.gold)), set()).add(int(f))
    assert all(len(f) == 1 for f in by_gold.values())
    for task in ("2A", "2B"):
        counts = np.bincount([f for q, f in zip(qs, folds, strict=True) if q.task == task], minlength=5)
        assert counts.tolist() == [8] * 5
    assert (assign_folds(qs, k=5, seed=13) == folds).all()
    assert not (assign_folds(qs, k=5, seed=14) == folds).all()
    by_query = assign_folds(qs, k=5, seed=13, group_by_gold=False)
    assert any(len({int(by_query[i]), int(by_query[i + 1])}) == 2 for i in range(0, len(qs), 2))


def test_cv_ranks_the_informative_feature_set_above_noise() -> None:
    qs = _synthetic(n_per_task=30)
    noise = tuple(f for f in FEATURE_NAMES if f != "cos")
    res = {
        r.features: r
        for r in cross_validate(qs, {"with cos": FEATURE_NAMES, "noise": noise}, FAST, k=3, log=lambda _: None)
    }
    good, bad = res["with cos"].tasks, res["noise"].tasks
    for task in ("2A", "2B"):
        assert good[task].n_queries == 30
        # 9 in 10 queries have their gold among the candidates: a ranker that reads cos finds it first.
        assert good[task].map5 == pytest.approx(0.9, abs=0.05)
        assert bad[task].map5 < good[task].map5 - 0.3
        assert good[task].fold_std >= 0.0
    again = cross_validate(qs, {"with cos": FEATURE_NAMES}, FAST, k=3, log=lambda _: None)
    assert again[0].tasks == good


def test_cv_takes_lambdamart_settings_and_refuses_unknown_features() -> None:
    qs = _synthetic()
    res = cross_validate(
        qs,
        {"all": FEATURE_NAMES},
        {"shallow": {"num_leaves": 3, "num_iterations": 10}, "slow": {"learning_rate": 0.01, "num_iterations": 10}},
        log=print,
    )
    assert [r.params for r in res] == ["shallow", "slow"]
    with pytest.raises(ValueError, match="unknown feature.*bm25_rank"):
        cross_validate(qs, {"old": ("cos", "bm25_rank")})


def test_cached_candidates_round_trip(tmp_path: Path) -> None:
    qs = _synthetic(n_per_task=3)
    qs.append(LabelledCandidates("2B", "dev", "empty", (), np.zeros((0, len(FEATURE_NAMES)), np.float32), frozenset()))
    save_labelled(tmp_path / "c.npz", qs)
    back = load_labelled(tmp_path / "c.npz")
    assert [(q.task, q.split, q.query_id, q.doc_ids, q.gold) for q in back] == [
        (q.task, q.split, q.query_id, q.doc_ids, q.gold) for q in qs
    ]
    assert all(np.array_equal(a.features, b.features) for a, b in zip(back, qs, strict=True))


def test_cli_cv_and_training_options_are_checked_in_one_line(tmp_path: Path) -> None:
    from test_cli import run

    code, _, err = run("train", "retrieval", "--datasets", str(tmp_path))
    assert code != 0 and "give --out" in err and "--cv" in err
    code, _, err = run("train", "retrieval", "--datasets", str(tmp_path), "--cv", "--out", str(tmp_path / "m"))
    assert code != 0 and "--cv writes no model" in err and not (tmp_path / "m").exists()
    code, _, err = run("train", "retrieval", "--datasets", str(tmp_path), "--cv")
    assert code != 0 and "vclaims.jsonl not found" in err and "Traceback" not in err
