"""Does all-mpnet-base-v2 pay as a cascade? Re-order the English path's top 10 by mpnet cosine
(blended with relative BM25 at α) for the queries in the uncertain band (confidence < 0.5) only.

    PYTHONPATH=src python benchmarks/mpnet_cascade.py      # needs claimwatch[large]

Prints MAP@5 of the shipped path ("base") and of the cascade at α = 1.0 / 0.8 / 0.5 on CheckThat!
2A dev, 2A dev-test and 2B dev (±2 context), with the mpnet encoding time and texts encoded (the
cascade's cost: only uncertain posts and their 10 candidates are encoded). Data: see
retrieval_quality.py.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.rerank import load_model
from claimwatch.claims.retrieval import Retriever
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.metrics import retrieval_metrics
from claimwatch.evaluation.retrieval import cached_index, clean_queries
from claimwatch.training.retrieval import DEBATE_CONTEXT

D = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "datasets"
a = D / "clef2022-checkthat-task2a-tweets-snopes"
b = D / "clef2021-2022-checkthat-task2b-debates-politifact"
splits = {
    "2A dev": (
        a / "vclaims.jsonl",
        a / "train/CT2022-Task2A-EN-Train-Dev_Queries.tsv",
        a / "dev/CT2022-Task2A-EN-Dev_QRELs.tsv",
        0,
    ),
    "2A dev-test": (
        a / "vclaims.jsonl",
        a / "dev-test/CT2022-Task2A-EN-Dev-Test_Queries.tsv",
        a / "dev-test/CT2022-Task2A-EN-Dev-Test_QRELs.tsv",
        0,
    ),
    "2B dev": (
        b / "vclaims_with_article_text.jsonl.gz",
        b / "train/CT2022-Task2B-EN-Train-Dev_Queries.tsv",
        b / "dev/CT2022-Task2B-EN-Dev_QRELs.tsv",
        DEBATE_CONTEXT,
    ),
}
mini = Encoder()
mp = Encoder("all-mpnet-base-v2")
model = load_model("", mini.name)
K = 10
BM = FEATURE_NAMES.index("bm25_all_raw")
out = {"mpnet": mp.name}
for name, (vc, qp, qr, ctx) in splits.items():
    docs = checkthat.load_vclaims(vc)
    idx = cached_index(docs, mini)
    r = Retriever(idx, mini, model)
    qrels = checkthat.load_qrels(qr)
    qs = [q for q in clean_queries(checkthat.load_queries(qp, ctx)) if q.id in qrels]
    hits = r.search(qs, K)
    base = {q.id: [h.doc_id for h in hs] for q, hs in zip(qs, hits, strict=True)}
    unsure = [i for i, hs in enumerate(hits) if hs and (hs[0].confidence or 0) < 0.5]
    t = time.perf_counter()
    qe = mp.encode([qs[i].text for i in unsure])
    rows = sorted({h.row for i in unsure for h in hits[i]})
    de = dict(zip(rows, mp.encode([idx.docs[j].embed_text() for j in rows]), strict=True))
    secs = time.perf_counter() - t
    res = {
        "n": len(qs),
        "uncertain": len(unsure),
        "mpnet_s": round(secs, 1),
        "texts_encoded": len(unsure) + len(rows),
        "base": round(retrieval_metrics(base, qrels)["map@5"], 4),
    }
    for alpha in (1.0, 0.8, 0.5):
        run = dict(base)
        for k, i in enumerate(unsure):
            hs = hits[i]
            cos = np.array([de[h.row] @ qe[k] for h in hs])
            bm = np.array([h.feature_values[BM] for h in hs])
            bm = np.nan_to_num(bm)
            s = alpha * cos + (1 - alpha) * (bm / bm.max() if bm.max() > 0 else 0)
            run[qs[i].id] = [hs[j].doc_id for j in np.argsort(-s, kind="stable")]
        res[f"cascade_alpha{alpha}"] = round(retrieval_metrics(run, qrels)["map@5"], 4)
    out[name] = res
    print(name, res, flush=True)
print(json.dumps(out))
