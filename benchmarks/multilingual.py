"""Multilingual matching figures (issue 13 item 5): the routed path of `claimwatch match` on the
hand-written multilingual set, and its throughput end to end.

    python benchmarks/multilingual.py [--split dev|test] [--datasets ../shared/datasets]
    python benchmarks/multilingual.py --throughput 3000 [--english-only]   # `claimwatch match` posts/s
    python benchmarks/multilingual.py --fit                  # refit multilingual.CALIBRATION

Needs the `multilingual` extra (`pip install 'claimwatch[multilingual]'`) and the CheckThat!
collections under ``--datasets`` (2022 2A Snopes ``vclaims.jsonl``, 2021/22 2B PolitiFact
``vclaims.jsonl``; https://gitlab.com/checkthat_lab). Ranking goes through the same code as
`claimwatch match`: the English path (:class:`Retriever` with the shipped model) for every post,
then :meth:`MultilingualSearch.route` by the detected language. Prints one JSON object:

- ``paraphrases``: posts in 8 languages repeating an English claim, P@1 / MAP@5 against each
  collection and together, per language;
- ``reverse``: English posts repeating a German/Spanish/French/Portuguese fact-check, against
  the 40 synthetic fact-checks *added to the Snopes collection* (14,271 documents);
- ``negatives``: the share of the multilingual negatives and of the English hard negatives (the
  latter against Snopes + the foreign fact-checks, where English posts are also searched
  multilingually) proposed at confidence 0.5 / 0.7 / 0.9.

The test halves are for the final figure only: choose nothing on them.
``--fit`` refits the confidence calibration on English CheckThat! 2A *train* tweets (USE cosine
of the top claim and its margin; positives: top claim right) plus CheckThat! 2022 1A train tweets
labelled as making no claim, with scikit-learn's default logistic regression (C=1, lbfgs:
deterministic), and prints the constants for ``claims/multilingual.py``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import claimwatch
from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.encoder import USE_MULTILINGUAL, Encoder
from claimwatch.claims.language import detect_languages
from claimwatch.claims.multilingual import MultilingualSearch
from claimwatch.claims.rerank import load_model
from claimwatch.claims.retrieval import Retriever
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.metrics import retrieval_metrics
from claimwatch.evaluation.retrieval import cached_index, clean_queries
from claimwatch.training.retrieval import no_claim_posts

HERE = Path(__file__).resolve().parent
ML = HERE / "data" / "multilingual"
HARD = HERE / "data" / "hard_negatives"
THRESHOLDS = (0.5, 0.7, 0.9)
TOP_K = 5


class Routed:
    """The English retriever plus the multilingual index over the same collection."""

    def __init__(self, docs: list[ClaimDoc], english: Encoder, use: Encoder) -> None:
        self.retriever = Retriever(cached_index(docs, english), english, load_model("", english.name))
        self.ml = MultilingualSearch.build(self.retriever.index, encoder=use)

    def run(self, queries: list[Query]) -> tuple[dict[str, list[str]], dict[str, float]]:
        """Ranked ids and top-1 confidence per query, as `claimwatch match` routes them."""
        queries = clean_queries(queries)
        main = self.retriever.search(queries, TOP_K)
        langs = [d.lang for d in detect_languages([q.text for q in queries])]
        emb = self.ml.encoder.encode([q.text for q in queries])
        routed = self.ml.route(langs, main, emb, TOP_K)
        ranked = {q.id: [h.doc_id for h in hits] for q, (hits, _) in zip(queries, routed, strict=True)}
        conf = {
            q.id: (hits[0].confidence or 0.0) if hits else 0.0 for q, (hits, _) in zip(queries, routed, strict=True)
        }
        return ranked, conf


def _posts() -> dict[str, dict]:
    with open(ML / "posts.jsonl", encoding="utf-8") as fh:
        return {p["id"]: p for p in map(json.loads, fh)}


def _metrics(ranked: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    m = retrieval_metrics({q: ranked[q] for q in qrels}, qrels)
    return {"n": len(qrels), "P@1": round(m["p@1"], 3), "MAP@5": round(m["map@5"], 3)}


def _false_rate(conf: dict[str, float]) -> dict[str, float]:
    values = list(conf.values())
    return {f"{t}": round(float(np.mean([c >= t for c in values])), 3) for t in THRESHOLDS}


def figures(split: str, datasets: Path, english: Encoder, use: Encoder) -> dict:
    posts = _posts()
    queries = checkthat.load_queries(ML / split / "queries.tsv")
    negatives = no_claim_posts(ML / split / "negatives.tsv")
    hard = no_claim_posts(HARD / f"{split}.tsv")
    collections = {
        "snopes": datasets / "clef2022-checkthat-task2a-tweets-snopes" / "vclaims.jsonl",
        "politifact": datasets / "clef2021-2022-checkthat-task2b-debates-politifact" / "vclaims.jsonl",
    }
    out: dict = {"split": split, "english_encoder": english.name, "multilingual_encoder": use.name}
    together: dict[str, bool] = {}
    for name, path in collections.items():
        docs = checkthat.load_vclaims(path)
        routed = Routed(docs, english, use)
        qrels = checkthat.load_qrels(ML / split / f"qrels.{name}.tsv")
        ranked, _ = routed.run([q for q in queries if q.id in qrels])
        out[f"paraphrases_{name}"] = _metrics(ranked, qrels)
        together |= {q: bool(ranked[q]) and ranked[q][0] in rel for q, rel in qrels.items()}
        _, neg_conf = routed.run(negatives)
        out[f"negatives_multilingual_vs_{name}"] = _false_rate(neg_conf)
    by_lang: dict[str, list[bool]] = defaultdict(list)
    for q, ok in together.items():
        by_lang[posts[q]["lang"]].append(ok)
    out["paraphrases_P@1"] = round(float(np.mean(list(together.values()))), 3)
    out["paraphrases_n"] = len(together)
    out["paraphrases_P@1_by_lang"] = {k: [round(float(np.mean(v)), 3), len(v)] for k, v in sorted(by_lang.items())}
    # The reverse direction: the foreign fact-checks alone, then inside an English collection.
    foreign = checkthat.load_vclaims(ML / "factchecks_xx.jsonl")
    qrels = checkthat.load_qrels(ML / split / "qrels.reverse.tsv")
    reverse = [q for q in queries if q.id in qrels]
    ranked, _ = Routed(foreign, english, use).run(reverse)
    out["reverse_vs_xx"] = _metrics(ranked, qrels)
    routed = Routed(checkthat.load_vclaims(collections["snopes"]) + foreign, english, use)
    ranked, _ = routed.run(reverse)
    out["reverse_vs_snopes_plus_xx"] = _metrics(ranked, qrels)
    # Half of the foreign fact-checks state a Snopes claim: its English original is right too.
    states = {}
    with open(ML / "factchecks_xx.jsonl", encoding="utf-8") as fh:
        for fc in map(json.loads, fh):
            if fc["paraphrases"]["collection"] == "snopes-2a":
                states[fc["vclaim_id"]] = fc["paraphrases"]["vclaim_id"]
    either = {q: rel | {states[d] for d in rel if d in states} for q, rel in qrels.items()}
    out["reverse_vs_snopes_plus_xx_english_original_also_right"] = _metrics(ranked, either)
    _, hard_conf = routed.run(hard)
    out["hard_negatives_vs_snopes_plus_xx"] = _false_rate(hard_conf) | {"n": len(hard)}
    return out


def throughput(n_posts: int, datasets: Path, multilingual_model: str = USE_MULTILINGUAL) -> dict:
    """`Workspace.match` (what `claimwatch match` runs) on a store of ``n_posts`` non-English posts
    (the set's paraphrases and negatives, a word dropped at random, seeded) against the Snopes
    claims plus the foreign fact-checks; the index is built first and not timed. With
    ``multilingual_model="none"``: the same posts on the English path alone, for comparison."""
    sys.path.insert(0, str(HERE))
    from ingest_match_100k import vclaims_as_claimreview

    rng = random.Random(13)
    texts = [p["text"] for p in _posts().values() if p["lang"] != "en"]
    work = Path(tempfile.mkdtemp(prefix="cw-multilingual-"))
    try:
        with open(work / "posts.jsonl", "w", encoding="utf-8") as fh:
            for i in range(n_posts):
                words = rng.choice(texts).split()
                if len(words) > 6:
                    words.pop(rng.randrange(len(words)))
                fh.write(json.dumps({"id": f"p{i}", "text": " ".join(words), "created_at": "2024-05-01T12:00:00Z"}))
                fh.write("\n")
        claims = work / "claims.json"
        vclaims_as_claimreview(datasets / "clef2022-checkthat-task2a-tweets-snopes" / "vclaims.jsonl", claims)
        foreign = work / "foreign.json"
        vclaims_as_claimreview(ML / "factchecks_xx.jsonl", foreign)
        ws = claimwatch.open(work / "bench.db", multilingual_model=multilingual_model)
        ws.ingest_factchecks([claims, foreign])
        ws.ingest_posts([work / "posts.jsonl"])
        ws.build_index()
        t0 = time.perf_counter()
        m = ws.match()
        seconds = time.perf_counter() - t0
        return {
            "posts": n_posts,
            "match_s": round(seconds, 1),
            "match_posts_per_s": round(m.posts_matched / seconds),
            "multilingual_model": multilingual_model,
            "match": m.summary(),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fit(datasets: Path, use: Encoder) -> dict:
    from sklearn.linear_model import LogisticRegression

    a = datasets / "clef2022-checkthat-task2a-tweets-snopes"
    index = cached_index(checkthat.load_vclaims(a / "vclaims.jsonl"), use)
    qrels = checkthat.load_qrels(a / "train" / "CT2022-Task2A-EN-Train_QRELs.tsv")
    queries = [
        q for q in checkthat.load_queries(a / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv") if q.id in qrels
    ]
    no_claim = no_claim_posts(
        datasets / "clef2022-checkthat-task1a-checkworthiness-tweets-en" / "CT22_english_1A_checkworthy_train.tsv"
    )
    ml = MultilingualSearch(index, use, ["en"] * len(index))
    rows, labels = [], []
    for qs, rel in ((queries, qrels), (no_claim, {})):
        qs = clean_queries(qs)
        for q, hits in zip(qs, ml.search(use.encode([q.text for q in qs]), 2), strict=True):
            rows.append([hits[0].score, hits[0].score - hits[1].score])
            labels.append(hits[0].doc_id in rel.get(q.id, ()))
    lr = LogisticRegression(C=1.0).fit(np.array(rows), np.array(labels))
    return {
        "cos": round(float(lr.coef_[0][0]), 4),
        "margin": round(float(lr.coef_[0][1]), 4),
        "intercept": round(float(lr.intercept_[0]), 4),
        "n": len(labels),
        "positives": int(sum(labels)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--datasets", type=Path, default=HERE.parents[1] / "shared" / "datasets")
    ap.add_argument("--throughput", type=int, default=0, metavar="POSTS")
    ap.add_argument("--english-only", action="store_true", help="--throughput without the multilingual path")
    ap.add_argument("--fit", action="store_true")
    args = ap.parse_args()
    if not (args.datasets / "clef2022-checkthat-task2a-tweets-snopes" / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! data not found under {args.datasets}; see the docstring")
    use = Encoder(USE_MULTILINGUAL)
    if args.fit:
        result = fit(args.datasets, use)
    elif args.throughput:
        result = throughput(args.throughput, args.datasets, "none" if args.english_only else USE_MULTILINGUAL)
    else:
        result = figures(args.split, args.datasets, Encoder(), use)
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
