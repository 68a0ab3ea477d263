"""Check-worthiness quality on CheckThat! splits, and scoring throughput given matching embeddings.

    python benchmarks/checkworthiness_quality.py --all-sets [--datasets ../shared/datasets]
    python benchmarks/checkworthiness_quality.py [--datasets ../shared/datasets] [--model DIR]

``--all-sets`` is the figure models are chosen by: the training recipe and the frozen MiniLM +
logistic regression baseline cross-validated over every labelled set (CheckThat! 2021/2022 1A
tweets, 2023 1B, 2024 dev and train, ClaimBuster), held out by debate / split file; the same code
path as `claimwatch eval checkworthiness --all-sets` (see
claimwatch.evaluation.checkworthiness_protocol). Prints one JSON object.

Without it: the same code path as `claimwatch eval checkworthiness` (shipped model unless --model)
on CheckThat! 2024 task 1 dev and dev-test (= CheckThat! 2023 1B test) and CheckThat! 2022 1A dev
and dev-test tweets. The shipped model (v2) trains on all of these, so for it these are training
figures; they stay for models trained on train splits only (e.g. ``--finetune``). Final test
splits are held out and not read. Data: https://gitlab.com/checkthat_lab (CLEF CheckThat!
2021-2024, task 1), laid out as in ../shared/datasets (see its README).

Throughput: the dev and dev-test texts of each kind, repeated to at least 10,000, scored with
their embeddings already computed (as `claimwatch match` has them), in batches of 256 on this
process's CPUs; the embedding pass itself is not timed (matching pays for it). A model with its
own fine-tuned encoder (`train checkworthiness --finetune`) is timed with its encoder pass
(over the distinct texts once, 2,000 at most), since matching cannot pay for that one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from claimwatch.claims.checkworthiness import load_model
from claimwatch.claims.encoder import Encoder
from claimwatch.evaluation.checkworthiness import (
    cached_embeddings,
    evaluate,
    load_labelled,
)

_CT24 = "clef2024-checkthat-task1-checkworthiness-en/CT24_checkworthy_english"
_CT22 = "clef2022-checkthat-task1a-checkworthiness-tweets-en/CT22_english_1A_checkworthy"
SPLITS = {
    "CT24 task 1 dev": f"{_CT24}_dev.tsv",
    "CT24 task 1 dev-test (= CT23 1B test)": f"{_CT24}_dev-test.tsv",
    "CT22 1A dev (tweets)": f"{_CT22}_dev.tsv",
    "CT22 1A dev-test (tweets)": f"{_CT22}_dev_test.tsv",
}
BATCH = 256


def throughput(model, texts: list[str], emb: np.ndarray, kind: str, minimum: int = 10_000) -> float:
    """Texts per second scored from precomputed embeddings (best of three passes)."""
    reps = -(-minimum // len(texts))
    texts, emb = texts * reps, np.tile(emb, (reps, 1))
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            model.score(texts[start : start + BATCH], emb[start : start + BATCH], kind=kind)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


def throughput_with_encoder(model, texts: list[str], kind: str, limit: int = 2000) -> float:
    """Texts per second scored from text, the model's own encoder included (one pass)."""
    texts = list(dict.fromkeys(texts))[:limit]
    model.own_encoder().encode(texts[:64])  # load and warm the ONNX session first
    t0 = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        model.score(texts[start : start + BATCH], kind=kind)
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument("--model", default="", help="check-worthiness model directory (default: the shipped one)")
    ap.add_argument("--all-sets", action="store_true", help="cross-validate recipe and baseline over every set")
    args = ap.parse_args()
    if args.all_sets:
        from claimwatch.training.checkworthiness import all_sets_report

        print(json.dumps(all_sets_report(args.datasets, Encoder()), indent=1))
        return
    if not (args.datasets / next(iter(SPLITS.values()))).is_file():
        raise SystemExit(f"CheckThat! check-worthiness data not found under {args.datasets}; see the docstring")
    model = load_model(args.model)
    encoder = Encoder()
    results: dict[str, dict] = {}
    pools: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for name, rel in SPLITS.items():
        items = load_labelled(args.datasets / rel)
        res = evaluate(model, items, encoder)
        results[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items() if k != "model"}
        texts, embs = pools.setdefault(res["kind"], ([], []))
        texts += [x.text for x in items]
        embs.append(cached_embeddings([x.text for x in items], model.reading_encoder(encoder)))
    if model.has_own_encoder:
        speed = {kind: round(throughput_with_encoder(model, texts, kind)) for kind, (texts, _) in pools.items()}
        key = "texts_per_second_with_own_encoder_pass"
    else:
        speed = {kind: round(throughput(model, texts, np.vstack(embs), kind)) for kind, (texts, embs) in pools.items()}
        key = "texts_per_second_given_embeddings"
    print(json.dumps({"model": model.describe(), "results": results, key: speed}, indent=1))


if __name__ == "__main__":
    main()
