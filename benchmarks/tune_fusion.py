"""Sweep the fusion weight α and the proposal threshold of matching v1 on CheckThat! 2022 2A *dev*.

    python benchmarks/tune_fusion.py [--datasets ../shared/datasets]

Needs CLEF CheckThat! 2022 task 2A (English) under ``--datasets`` (public:
https://gitlab.com/checkthat_lab/clef2022-checkthat-lab). Uses the dev split only — the
defaults in ``claimwatch.config`` were chosen from this output; dev-test is never looked at.
Prints, per α, MAP@5 and, per threshold, "precision of top-1 proposals / share of tweets proposed".
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, index_text, tokenize
from claimwatch.claims.text import clean_query

ALPHAS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5)
THRESHOLDS = (0.5, 0.55, 0.6, 0.62, 0.65, 0.7, 0.75)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = ap.parse_args()
    d = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    if not (d / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! 2022 2A not found under {d}; see the docstring for where to get it")
    vclaims = [json.loads(line) for line in open(d / "vclaims.jsonl", encoding="utf-8")]
    row_of = {v["vclaim_id"]: i for i, v in enumerate(vclaims)}
    encoder = Encoder()
    with tempfile.TemporaryDirectory() as tmp:
        index, _ = ClaimIndex.build(Path(tmp) / "idx", [(i, index_text(v["vclaim"], v["title"]))
                                                         for i, v in enumerate(vclaims)], encoder)
    with open(d / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv", encoding="utf-8") as fh:
        queries = {r[0]: r[1] for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}
    qrels: dict[str, set[int]] = {}
    with open(d / "dev" / "CT2022-Task2A-EN-Dev_QRELs.tsv", encoding="utf-8") as fh:
        for r in csv.reader(fh, delimiter="\t"):
            qrels.setdefault(r[0], set()).add(row_of[r[2]])
    qids = sorted(qrels)
    texts = [clean_query(queries[q]) for q in qids]
    cos = encoder.encode(texts) @ index.embeddings.T
    bm25 = np.stack([index.bm25_scores(t) for t in tokenize(texts)])
    for alpha in ALPHAS:
        aps, top1 = [], []
        for i, qid in enumerate(qids):
            top_bm = bm25[i].max()
            fused = alpha * cos[i] + (1 - alpha) * (bm25[i] / top_bm if top_bm > 0 else 0)
            ranked = np.argsort(-fused)[:5]
            hits, ap = 0, 0.0
            for rank, doc in enumerate(ranked, start=1):
                if doc in qrels[qid]:
                    hits += 1
                    ap += hits / rank
            aps.append(ap / min(len(qrels[qid]), 5))
            top1.append((fused[ranked[0]], ranked[0] in qrels[qid]))
        t = np.array(top1)
        cells = []
        for th in THRESHOLDS:
            sel = t[:, 0] >= th
            cells.append(f"{th}: {t[sel, 1].mean() if sel.any() else 0:.2f}/{sel.mean():.2f}")
        print(f"alpha {alpha:<4} MAP@5 {np.mean(aps):.4f}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
