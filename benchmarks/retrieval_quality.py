"""Claim-retrieval quality on CheckThat! 2A and 2B, for the shipped model and the v1 fusion baseline.

    python benchmarks/retrieval_quality.py [--datasets ../shared/datasets] [--retrieval-model DIR] [--model NAME]

The same code path as `claimwatch eval retrieval`. Splits: 2A dev and dev-test (CT2022; dev-test
= CT2021 2A test), 2B dev (CT2021/22). Final test splits are not used (they are held out).
No-claim posts for the false proposal rate: CT2022 1A check-worthiness tweets labelled 0 of the
*same* split family (dev for dev, dev-test for dev-test) — never the training file used for
calibration. Data: https://gitlab.com/checkthat_lab (CLEF CheckThat! 2021 and 2022, task 1A/2).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.rerank import load_model
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import evaluate_files
from claimwatch.training.retrieval import DEBATE_CONTEXT, no_claim_posts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument("--retrieval-model", default="")
    ap.add_argument("--model", default="", help="encoder (default: the bundled MiniLM), e.g. all-mpnet-base-v2")
    args = ap.parse_args()
    a = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    b = args.datasets / "clef2021-2022-checkthat-task2b-debates-politifact"
    cw = args.datasets / "clef2022-checkthat-task1a-checkworthiness-tweets-en"
    if not (a / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! data not found under {args.datasets}; see the docstring")
    splits = [
        (
            "2A dev",
            a / "vclaims.jsonl",
            a / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv",
            a / "dev" / "CT2022-Task2A-EN-Dev_QRELs.tsv",
            cw / "CT22_english_1A_checkworthy_dev.tsv",
            0,
        ),
        (
            "2A dev-test",
            a / "vclaims.jsonl",
            a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_Queries.tsv",
            a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_QRELs.tsv",
            cw / "CT22_english_1A_checkworthy_dev_test.tsv",
            0,
        ),
        (
            "2B dev",
            b / "vclaims_with_article_text.jsonl.gz",
            b / "train" / "CT2022-Task2B-EN-Train-Dev_Queries.tsv",
            b / "dev" / "CT2022-Task2B-EN-Dev_QRELs.tsv",
            None,
            DEBATE_CONTEXT,
        ),
    ]
    encoder = Encoder(args.model or None)
    model = load_model(args.retrieval_model, encoder.name)
    out = {}
    for name, vclaims, queries, qrels, negatives, context in splits:
        claims = checkthat.load_vclaims(vclaims)
        neg = {negatives.name: no_claim_posts(negatives)} if negatives else None
        full, _ = evaluate_files(claims, queries, qrels, encoder, model, negatives=neg, context_window=context)
        plain, _ = evaluate_files(claims, queries, qrels, encoder, None, context_window=context)
        out[name] = {
            "n_queries": full["n_queries"],
            "method": full["method"],
            **{k: round(full[k], 4) for k in ("map@1", "map@3", "map@5", "p@1", "recall@5", "recall@20", "mrr")},
            "v1_fusion": {k: round(plain[k], 4) for k in ("map@5", "p@1", "recall@20")},
            "top1_at_confidence": full.get("top1_at_confidence"),
            "ece": full.get("ece"),
            "ece_with_no_claim_posts": full.get("ece_with_no_claim_posts"),
            "no_claim_posts": full.get("no_claim_posts"),
            "false_proposal_rate": full.get("false_proposal_rate"),
        }
    print(json.dumps({"encoder": encoder.name, "results": out}, indent=1))


if __name__ == "__main__":
    main()
