"""Sweep the fusion weight α of the plain (v1) BM25 + dense ranking on CheckThat! 2022 2A *dev*.

    python benchmarks/tune_fusion.py [--datasets ../shared/datasets]

The v1 fusion is the fallback ranking (no trained model) and the candidate selector of the
re-ranker; its α = 0.8 was chosen from this output on dev — dev-test is never looked at.
Data: https://gitlab.com/checkthat_lab/clef2022-checkthat-lab (task 2A English).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from claimwatch.claims.encoder import Encoder
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cached_index, evaluate, run_retrieval

ALPHAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = ap.parse_args()
    d = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    if not (d / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! 2022 2A not found under {d}; see the docstring for where to get it")
    encoder = Encoder()
    index = cached_index(checkthat.load_vclaims(d / "vclaims.jsonl"), encoder)
    queries = {q.id: q for q in checkthat.load_queries(d / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv")}
    qrels = checkthat.load_qrels(d / "dev" / "CT2022-Task2A-EN-Dev_QRELs.tsv")
    dev = [queries[q] for q in sorted(qrels)]
    print(f"encoder: {encoder.name}")
    for alpha in ALPHAS:
        res = evaluate(run_retrieval(index, dev, encoder, None, alpha=alpha), qrels)
        print(f"alpha {alpha:<4} MAP@5 {res['map@5']:.4f}  P@1 {res['p@1']:.4f}  Recall@20 {res['recall@20']:.4f}")


if __name__ == "__main__":
    main()
