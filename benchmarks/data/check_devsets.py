"""Validate the hand-written evaluation sets in ``benchmarks/data/``.

    python benchmarks/data/check_devsets.py [--datasets ../shared/datasets]

Checks ``hard_negatives/`` and ``multilingual/`` (see their README.md): ids unique and well
formed, every post in exactly one split, the splits balanced per stratum (category; language),
the TSV files agreeing with ``posts.jsonl`` and readable by the same readers
``claimwatch eval retrieval`` uses, and — when the shared CheckThat! collections are present —
that every claim id a qrel or a nearest-claim record names exists in its collection.
Prints the counts; exits 1 listing every problem.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from claimwatch.evaluation import checkthat
from claimwatch.training.retrieval import no_claim_posts

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = HERE.parents[2] / "shared" / "datasets"
#: Collection name used in the files -> its claim file under the datasets folder.
COLLECTIONS = {
    "snopes-2a": Path("clef2022-checkthat-task2a-tweets-snopes") / "vclaims.jsonl",
    "politifact-2b": Path("clef2021-2022-checkthat-task2b-debates-politifact") / "vclaims.jsonl",
}
SPLITS = ("dev", "test")
HN_CATEGORIES = {"news", "opinion", "joke", "question", "denial", "debunk", "anecdote", "vote", "narrative"}
TOPICS = {"elections", "covid", "immigration", "ukraine", "mideast", "climate", "economy", "crime"}
ML_LANGS = {"de", "es", "fr", "pt", "it", "nl", "pl", "tr"}
FC_LANGS = {"de", "es", "fr", "pt"}
MIN_HARD_NEGATIVES = 300
MIN_PARAPHRASES = 120
MIN_LANGUAGES = 6


def read_jsonl(path: Path, problems: list[str]) -> list[dict]:
    rows = []
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{no}: not JSON ({exc.msg})")
    return rows


def unique_ids(rows: list[dict], key: str, pattern: str, where: Path, problems: list[str]) -> None:
    seen: set[str] = set()
    for r in rows:
        rid = str(r.get(key, ""))
        if not re.fullmatch(pattern, rid):
            problems.append(f"{where}: id {rid!r} does not match {pattern}")
        if rid in seen:
            problems.append(f"{where}: id {rid!r} appears twice")
        seen.add(rid)


def relevant(post: dict) -> set[str]:
    """The claims a paraphrase repeats: its own and any near-duplicate of it in the collection."""
    return {post.get("vclaim_id"), *post.get("also_relevant", [])}


def balanced(rows: list[dict], stratum: str, where: Path, problems: list[str], slack: int = 1) -> None:
    """Each stratum's posts are split in halves (within ``slack``)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r.get("split") not in SPLITS:
            problems.append(f"{where}: {r.get('id')}: split {r.get('split')!r} is not dev or test")
        counts[str(r.get(stratum))][r.get("split")] += 1
    for value, c in sorted(counts.items()):
        if abs(c["dev"] - c["test"]) > slack:
            problems.append(f"{where}: {stratum} {value!r} split {c['dev']} dev / {c['test']} test")


def negatives_match(path: Path, rows: list[dict], problems: list[str]) -> None:
    """The check-worthiness TSV holds exactly these posts, as the eval's reader sees them."""
    read = {q.id.removeprefix("nc-"): q.text for q in no_claim_posts(path)}
    want = {r["id"]: r["text"] for r in rows}
    if read != want:
        diff = sorted(set(read) ^ set(want)) or sorted(k for k in want if read.get(k) != want[k])
        problems.append(f"{path}: does not match posts.jsonl (e.g. {diff[:3]})")


def check_hard_negatives(root: Path, problems: list[str]) -> dict:
    posts_path = root / "posts.jsonl"
    rows = read_jsonl(posts_path, problems)
    unique_ids(rows, "id", r"hn-\d{4}", posts_path, problems)
    for r in rows:
        if r.get("category") not in HN_CATEGORIES or r.get("topic") not in TOPICS or r.get("lang") != "en":
            problems.append(f"{posts_path}: {r.get('id')}: unknown category, topic or lang")
        if not str(r.get("text", "")).strip() or re.search(r"[\t\r\n]", r.get("text", "")):
            problems.append(f"{posts_path}: {r.get('id')}: empty text or a tab/newline in it")
        nearest = r.get("nearest") or []
        if {n.get("collection") for n in nearest} != set(COLLECTIONS) or not all(
            isinstance(n.get("score"), float) and n.get("vclaim_id") for n in nearest
        ):
            problems.append(f"{posts_path}: {r.get('id')}: needs one nearest claim (id, score) per collection")
    if len(rows) < MIN_HARD_NEGATIVES:
        problems.append(f"{posts_path}: {len(rows)} posts, fewer than {MIN_HARD_NEGATIVES}")
    balanced(rows, "category", posts_path, problems)
    for split in SPLITS:
        negatives_match(root / f"{split}.tsv", [r for r in rows if r.get("split") == split], problems)
    return {
        "posts": len(rows),
        "split": dict(Counter(r.get("split") for r in rows)),
        "category": dict(Counter(r.get("category") for r in rows)),
        "topic": dict(Counter(r.get("topic") for r in rows)),
    }


def check_multilingual(root: Path, problems: list[str]) -> dict:
    posts_path, fc_path = root / "posts.jsonl", root / "factchecks_xx.jsonl"
    rows = read_jsonl(posts_path, problems)
    kinds = defaultdict(list)
    for r in rows:
        kinds[r.get("kind")].append(r)
    unique_ids(rows, "id", r"ml-(\d{4}|en-\d{3}|neg-\d{3})", posts_path, problems)
    fcs = read_jsonl(fc_path, problems)
    unique_ids(fcs, "vclaim_id", r"ml-fc-\d{3}", fc_path, problems)
    fc_ids = {d.id for d in checkthat.load_vclaims(fc_path)}  # the eval's own reader
    for fc in fcs:
        if (
            fc.get("rating") != "False"
            or fc.get("publisher") != "Synthetic (example.org)"
            or not str(fc.get("page_url", "")).startswith("https://example.org/")
            or fc.get("lang") not in FC_LANGS
        ):
            problems.append(f"{fc_path}: {fc.get('vclaim_id')}: rating, publisher, URL or lang not as documented")
    paraphrases, reverse, negatives = kinds["paraphrase"], kinds["reverse"], kinds["negative"]
    for r in paraphrases + negatives:
        if r.get("lang") not in ML_LANGS:
            problems.append(f"{posts_path}: {r.get('id')}: lang {r.get('lang')!r} is not one of {sorted(ML_LANGS)}")
    for r in paraphrases:
        if r.get("collection") not in COLLECTIONS or not r.get("vclaim_id"):
            problems.append(f"{posts_path}: {r.get('id')}: needs a collection and a vclaim_id")
    for r in reverse:
        if r.get("lang") != "en" or r.get("vclaim_id") not in fc_ids:
            problems.append(f"{posts_path}: {r.get('id')}: a reverse post is English and names an ml-fc claim")
    if set(kinds) - {"paraphrase", "reverse", "negative"}:
        problems.append(f"{posts_path}: unknown kinds {sorted(set(kinds) - {'paraphrase', 'reverse', 'negative'})}")
    langs = Counter(r.get("lang") for r in paraphrases)
    if len(paraphrases) < MIN_PARAPHRASES or len(langs) < MIN_LANGUAGES:
        problems.append(f"{posts_path}: {len(paraphrases)} paraphrases in {len(langs)} languages")
    # a claim's paraphrases stay in one split, so test claims are never seen in dev
    claim_splits = defaultdict(set)
    for r in paraphrases:
        claim_splits[r.get("vclaim_id")].add(r.get("split"))
    for claim, splits in sorted(claim_splits.items()):
        if len(splits) > 1:
            problems.append(f"{posts_path}: claim {claim} is paraphrased in both splits")
    balanced(paraphrases, "lang", posts_path, problems, slack=2)
    balanced(reverse, "fc_lang", posts_path, problems)
    balanced(negatives, "lang", posts_path, problems)
    for split in SPLITS:
        d = root / split
        in_split = [r for r in paraphrases + reverse if r.get("split") == split]
        queries = {q.id: q.text for q in checkthat.load_queries(d / "queries.tsv")}
        if queries != {r["id"]: r["text"] for r in in_split}:
            problems.append(f"{d / 'queries.tsv'}: does not match the {split} posts of posts.jsonl")
        for name, coll in (("snopes", "snopes-2a"), ("politifact", "politifact-2b"), ("reverse", "factchecks_xx")):
            qrels = checkthat.load_qrels(d / f"qrels.{name}.tsv")
            want = {r["id"]: relevant(r) for r in in_split if r.get("collection") == coll}
            if qrels != want:
                problems.append(f"{d / f'qrels.{name}.tsv'}: does not match the {split} posts of posts.jsonl")
        negatives_match(d / "negatives.tsv", [r for r in negatives if r.get("split") == split], problems)
    return {
        "paraphrases": len(paraphrases),
        "paraphrases_per_lang": dict(sorted(langs.items())),
        "paraphrases_per_split": dict(Counter(r.get("split") for r in paraphrases)),
        "claims": len(claim_splits),
        "claims_per_collection": dict(Counter(c.split("-")[1] for c in claim_splits)),
        "factchecks_xx": len(fcs),
        "reverse_posts": len(reverse),
        "negatives": len(negatives),
        "negatives_per_lang": dict(sorted(Counter(r.get("lang") for r in negatives).items())),
    }


def check_collections(root: Path, datasets: Path, problems: list[str]) -> bool:
    """Every claim id named in the files exists in the shared collection; False if it is absent."""
    named: dict[str, set[str]] = defaultdict(set)
    for r in read_jsonl(root / "hard_negatives" / "posts.jsonl", problems):
        for n in r.get("nearest") or []:
            named[n.get("collection")].add(n.get("vclaim_id"))
    for r in read_jsonl(root / "multilingual" / "posts.jsonl", problems):
        if r.get("kind") == "paraphrase":
            named[r.get("collection")] |= relevant(r)
    for r in read_jsonl(root / "multilingual" / "factchecks_xx.jsonl", problems):
        src = r.get("paraphrases") or {}
        named[src.get("collection")].add(src.get("vclaim_id"))
    if not all((datasets / path).is_file() for path in COLLECTIONS.values()):
        return False
    for name, path in COLLECTIONS.items():
        known = {d.id for d in checkthat.load_vclaims(datasets / path)}
        missing = sorted(named.get(name, set()) - known)
        if missing:
            problems.append(f"{len(missing)} claim ids not in {name} ({datasets / path}), e.g. {missing[:3]}")
    return True


def check(root: Path = HERE, datasets: Path | None = DEFAULT_DATASETS) -> tuple[dict, list[str]]:
    """Counts and problems of the sets under ``root``; ``datasets=None`` skips the collection check."""
    problems: list[str] = []
    counts = {
        "hard_negatives": check_hard_negatives(root / "hard_negatives", problems),
        "multilingual": check_multilingual(root / "multilingual", problems),
    }
    counts["collections_checked"] = datasets is not None and check_collections(root, datasets, problems)
    return counts, problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = ap.parse_args()
    try:
        counts, problems = check(HERE, args.datasets)
    except (OSError, checkthat.DataError) as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps(counts, indent=1))
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
