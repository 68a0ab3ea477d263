"""Confidence stability: adding 10,000 fact-checks unrelated to a post should move its confidence < 0.02.

    python benchmarks/stability.py [--datasets ../shared/datasets] [--retrieval-model DIR] [--n 10000]

Queries: CheckThat! 2022 2A dev-test tweets; collection: the 14,231 Snopes claims. Added: (a) ``--n``
synthetic fact-checks (evaluation.stability.synthetic_factchecks, example.org), (b) ``--n`` PolitiFact
claims (CheckThat! 2B collection, seeded sample). Reported over the queries whose candidates (the 30
claims the confidence looks at) contain no added claim after the addition (``touched`` counts the
others): max, p95 and mean |Δ confidence|.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.rerank import load_model
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cached_index
from claimwatch.evaluation.stability import confidence_shift, synthetic_factchecks

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=HERE.parents[1] / "shared" / "datasets")
    ap.add_argument("--retrieval-model", default="")
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    a = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    b = args.datasets / "clef2021-2022-checkthat-task2b-debates-politifact"
    encoder = Encoder()
    model = load_model(args.retrieval_model, encoder.name)
    if model is None or model.calibration is None:
        raise SystemExit("stability is about calibrated confidence: no calibrated retrieval model for this encoder")
    index = cached_index(checkthat.load_vclaims(a / "vclaims.jsonl"), encoder)
    queries = checkthat.load_queries(a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_Queries.tsv")
    politifact = checkthat.load_vclaims(b / "vclaims.jsonl")
    rng = np.random.default_rng(13)
    sample = [
        politifact[i] for i in sorted(rng.choice(len(politifact), size=min(args.n, len(politifact)), replace=False))
    ]
    out = {}
    for name, added in (("synthetic", synthetic_factchecks(args.n)), ("politifact", sample)):
        out[name] = {"added": len(added), **confidence_shift(index, added, queries, encoder, model).summary()}
    print(json.dumps({"encoder": encoder.name, "model": model.meta.get("command"), "results": out}, indent=1))


if __name__ == "__main__":
    main()
