"""Open-world claim retrieval: how often claimwatch proposes a fact-check for a post that repeats none.

    python benchmarks/open_world.py [--datasets ../shared/datasets] [--retrieval-model DIR]
                                    [--seeds 13 14 15] [--hard-negatives dev|test]

The same code path as `claimwatch eval retrieval --open-world --negatives …`. Three checks:

* **leave-gold-out** on CheckThat! 2A dev-test (tweets → Snopes) and 2B dev (debates → PolitiFact, ±2
  context): for each seed, half the queries lose their gold claims from the collection; a proposal
  for a query whose gold is gone is false; top-1 precision is measured on the queries that keep it;
* **hard negatives** (``benchmarks/data/hard_negatives``, hand-written posts on the collections'
  topics that repeat no rated claim) against the Snopes and the PolitiFact collections. The ``dev``
  half is among the confidence's calibration examples (issue 13), so its figure is in-sample: the
  out-of-fold one is in `claimwatch train retrieval`'s log. The ``test`` half is for the final figure
  only: never choose anything by it.

Default confidence = the ``min_confidence`` setting (0.5). Without a calibrated model the figures are at
the fused-score threshold (labelled ``decided_by: score``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.rerank import load_model
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import OpenWorld, cached_index, evaluate_files, evaluate_open_world
from claimwatch.training.retrieval import DEBATE_CONTEXT, no_claim_posts

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=HERE.parents[1] / "shared" / "datasets")
    ap.add_argument("--retrieval-model", default="")
    ap.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    ap.add_argument("--hard-negatives", choices=("dev", "test"), default="dev")
    args = ap.parse_args()
    a = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    b = args.datasets / "clef2021-2022-checkthat-task2b-debates-politifact"
    if not (a / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! data not found under {args.datasets}; see the docstring")
    hard = HERE / "data" / "hard_negatives" / f"{args.hard_negatives}.tsv"
    splits = [
        (
            "2A dev-test",
            a / "vclaims.jsonl",
            a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_Queries.tsv",
            a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_QRELs.tsv",
            0,
        ),
        (
            "2B dev",
            b / "vclaims_with_article_text.jsonl.gz",
            b / "train" / "CT2022-Task2B-EN-Train-Dev_Queries.tsv",
            b / "dev" / "CT2022-Task2B-EN-Dev_QRELs.tsv",
            DEBATE_CONTEXT,
        ),
    ]
    encoder = Encoder()
    model = load_model(args.retrieval_model, encoder.name)
    negatives = {f"hard negatives {args.hard_negatives}": no_claim_posts(hard)}
    out = {}
    for name, vclaims, queries, qrels, context in splits:
        claims = checkthat.load_vclaims(vclaims)
        res, _ = evaluate_files(
            claims,
            queries,
            qrels,
            encoder,
            model,
            negatives=negatives,
            open_world=OpenWorld(0.5, args.seeds[0]),
            context_window=context,
        )
        worlds = [res["open_world"]]
        if len(args.seeds) > 1:
            index = cached_index(claims, encoder)
            qs = {q.id: q for q in checkthat.load_queries(queries, context)}
            gold = checkthat.load_qrels(qrels)
            worlds += [
                evaluate_open_world(index, [qs[q] for q in sorted(gold)], gold, encoder, model, OpenWorld(0.5, seed))
                for seed in args.seeds[1:]
            ]
        out[name] = {
            "method": res["method"],
            "closed_world": {k: round(res[k], 4) for k in ("map@5", "p@1", "recall@20")},
            "top1_at_confidence": res.get("top1_at_confidence"),
            "hard_negatives": {k: res[k] for k in ("no_claim_posts", "false_proposal_rate") if k in res}
            or {k: res[k] for k in ("no_claim_posts", "false_proposal_rate_at_score")},
            "leave_gold_out": _summary(worlds),
        }
    print(json.dumps({"encoder": encoder.name, "seeds": args.seeds, "results": out}, indent=1))


def _summary(worlds: list[dict]) -> dict:
    """Per-seed figures and their mean: false proposals on open queries, top-1 precision on the rest."""
    rate_key = "false_proposal_rate" if worlds[0]["decided_by"] == "confidence" else "false_proposal_rate_at_score"
    top_key = "top1_at_confidence" if worlds[0]["decided_by"] == "confidence" else "top1_at_score"
    mean = {t: round(float(np.mean([w[rate_key][t] for w in worlds])), 4) for t in worlds[0][rate_key]}
    precision = {
        f"{p['threshold']}": _mean([w[top_key][i]["precision"] for w in worlds])
        for i, p in enumerate(worlds[0][top_key])
    }
    return {
        "decided_by": worlds[0]["decided_by"],
        f"mean_{rate_key}": mean,
        "mean_top1_precision": precision,
        "mean_closed_map@5": round(float(np.mean([w["closed_world"]["map@5"] for w in worlds])), 4),
        "per_seed": worlds,
    }


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 4) if present else None


if __name__ == "__main__":
    main()
