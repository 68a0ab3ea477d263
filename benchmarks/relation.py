"""Claim vs narrative: what the matcher labels "repeats the rated claim" and "shares its narrative only".

    python benchmarks/relation.py [--datasets ../shared/datasets] [--hard-negatives dev|test] [--json]

The same code path as `claimwatch match` (the shipped re-ranker and confidence, then
:func:`claimwatch.claims.relation.of_hit`, stance cues included) on two kinds of posts:

* the hand-written **hard negatives** (``benchmarks/data/hard_negatives``: posts on the collections'
  topics that repeat no rated claim), per kind, against the Snopes (2A) and PolitiFact (2B) claims:
  a "repeats" label is a false headline proposal; a "narrative" label is right for the kinds written
  to share a rated claim's narrative (``narrative``, ``denial``, ``debunk``) and noise for the others.
  The ``test`` half is for the final figure only: never choose anything by it;
* CheckThat! 2022 **2A dev-test** tweets, which repeat their gold claim: "repeats" with the gold
  claim is right; "narrative" with the gold claim is a repeat the headline misses.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from claimwatch.claims import relation
from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.rerank import load_model
from claimwatch.claims.retrieval import Retriever
from claimwatch.config import Settings
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cached_index, clean_queries

HERE = Path(__file__).resolve().parent
#: The kinds of hard negatives written to share a rated claim's narrative without repeating it.
NARRATIVE_KINDS = ("narrative", "denial", "debunk")


def labels(retriever: Retriever, queries: list[Query], min_confidence: float) -> list[tuple[str | None, str | None]]:
    """(relation label, top claim id) per query, as the matcher labels its top hit."""
    cleaned = clean_queries(queries)
    out = []
    for start in range(0, len(cleaned), 256):
        chunk = cleaned[start : start + 256]
        for hits in retriever.search(chunk, 5):
            out.append((relation.of_hit(hits[0], min_confidence), hits[0].doc_id) if hits else (None, None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=Path, default=HERE.parents[1] / "shared" / "datasets")
    ap.add_argument("--hard-negatives", choices=("dev", "test"), default="dev")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--retrieval-model", default="", help="a model directory (default: the shipped one)")
    args = ap.parse_args()
    a = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    b = args.datasets / "clef2021-2022-checkthat-task2b-debates-politifact"
    if not (a / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! data not found under {args.datasets}")
    min_confidence = Settings().min_confidence
    encoder = Encoder()
    model = load_model(args.retrieval_model, encoder.name)
    posts = [
        json.loads(line)
        for line in (HERE / "data" / "hard_negatives" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    posts = [p for p in posts if p["split"] == args.hard_negatives]
    hard = [Query(p["id"], p["text"]) for p in posts]
    out: dict[str, object] = {"min_confidence": min_confidence, "hard_negatives": args.hard_negatives}
    for name, vclaims in (
        ("snopes-2a", a / "vclaims.jsonl"),
        ("politifact-2b", b / "vclaims_with_article_text.jsonl.gz"),
    ):
        retriever = Retriever(cached_index(checkthat.load_vclaims(vclaims), encoder), encoder, model)
        per_kind: dict[str, Counter[str]] = {}
        for p, (label, _) in zip(posts, labels(retriever, hard, min_confidence), strict=True):
            per_kind.setdefault(p["category"], Counter())[label or "none"] += 1
        out[f"hard negatives vs {name}"] = {k: dict(c) for k, c in sorted(per_kind.items())}
        if name == "snopes-2a":
            all_queries = checkthat.load_queries(a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_Queries.tsv")
            qrels = checkthat.load_qrels(a / "dev-test" / "CT2022-Task2A-EN-Dev-Test_QRELs.tsv")
            queries = [q for q in all_queries if q.id in qrels]
            tally: Counter[str] = Counter()
            for q, (label, doc) in zip(queries, labels(retriever, queries, min_confidence), strict=True):
                right = "right claim" if doc in qrels[q.id] else "wrong claim"
                tally[f"{label}, {right}" if label else "none"] += 1
            out["2A dev-test (every tweet repeats its gold claim)"] = dict(tally)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for key, value in out.items():
        if not isinstance(value, dict):
            continue
        print(f"\n{key}")
        if key.startswith("hard"):
            print("| kind | posts | repeats (false) | narrative | none |")
            print("| --- | ---: | ---: | ---: | ---: |")
            total: Counter[str] = Counter()
            for kind, c in value.items():
                n = sum(c.values())
                total.update(c)
                print(f"| {kind} | {n} | {c.get('repeats', 0)} | {c.get('narrative', 0)} | {c.get('none', 0)} |")
            n = sum(total.values())
            print(
                f"| all | {n} | {total['repeats']} ({total['repeats'] / n:.1%}) | {total['narrative']} | {total['none']} |"
            )
        else:
            n = sum(value.values())
            for k, v in sorted(value.items(), key=lambda kv: -kv[1]):
                print(f"  {k}: {v} ({v / n:.1%})")


if __name__ == "__main__":
    main()
