"""Benchmark: ingest and match a synthetic archive of 100,000 posts against the CT2022 Snopes claims.

    python benchmarks/ingest_match_100k.py [--posts 100000] [--datasets ../shared/datasets] [--out benchmarks/out]

Needs the CLEF CheckThat! 2022 task 2A data (vclaims.jsonl, 14,231 Snopes claims and the
train tweets) under ``--datasets``; it is public: https://gitlab.com/checkthat_lab/clef2022-checkthat-lab
(task 2A English). The synthetic archive is twarc2 JSONL (100 posts per page): a fifth of
the posts are CheckThat! training tweets (real claims, lightly varied), the rest synthetic
chatter; metrics are random but seeded. Prints one JSON object with throughput and peak
memory; copy it into RESULTS.md.

``match_posts_per_s`` measures the command users run: ``claimwatch match --db …`` in a process
of its own (language, check-worthiness, claim sentences, topics when configured, ranking and
every store write, queue refresh and commit included), from process start to exit. Its fixed
start-up (imports, loading the index and models) is measured by running the command a second
time with nothing left to match (``match_startup_s``); ``match_posts_per_s_after_startup``
leaves it out. ``benchmarks/matching_throughput.py`` measures ranking alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import claimwatch

WORDS = (
    "game tonight coffee weather rain sunny weekend team great season music concert new recipe pizza "
    "traffic city park dog cat movie trailer looks amazing happy birthday friends family school library "
    "market prices garden flowers running marathon training morning evening podcast episode book club"
).split()


def synthetic_archive(path: Path, n_posts: int, tweets: list[str], seed: int = 7) -> None:
    rng = random.Random(seed)
    users = [
        {"id": str(100000000 + i), "username": f"bench_user_{i}", "name": f"Bench {i} (synthetic)"} for i in range(500)
    ]
    with open(path, "w", encoding="utf-8") as fh:
        for page_start in range(0, n_posts, 100):
            data = []
            for i in range(page_start, min(page_start + 100, n_posts)):
                user = users[rng.randrange(len(users))]
                if rng.random() < 0.2:
                    words = tweets[rng.randrange(len(tweets))].split()
                    if len(words) > 6 and rng.random() < 0.5:
                        words.pop(rng.randrange(len(words)))
                    text = " ".join(words)
                else:
                    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30)))
                data.append(
                    {
                        "id": str(1900000000000000000 + i),
                        "text": text,
                        "author_id": user["id"],
                        "created_at": f"2024-{rng.randint(1, 7):02d}-{rng.randint(1, 28):02d}T12:00:00.000Z",
                        "lang": "en",
                        "edit_history_tweet_ids": [str(1900000000000000000 + i)],
                        "public_metrics": {
                            "retweet_count": rng.randint(0, 500),
                            "reply_count": rng.randint(0, 100),
                            "like_count": rng.randint(0, 5000),
                            "quote_count": rng.randint(0, 50),
                            "bookmark_count": rng.randint(0, 50),
                            "impression_count": rng.randint(10, 10**6),
                        },
                    }
                )
            page_users = {d["author_id"] for d in data}
            page = {
                "data": data,
                "includes": {"users": [u for u in users if u["id"] in page_users]},
                "meta": {"result_count": len(data)},
                "__twarc": {"url": "synthetic", "version": "bench", "retrieved_at": "2024-08-01T12:00:00+00:00"},
            }
            fh.write(json.dumps(page) + "\n")


def vclaims_as_claimreview(vclaims: Path, out: Path) -> int:
    """CheckThat! vclaims carry no rating: give them a ClaimReview shape with the claim and title only."""
    items = []
    with open(vclaims, encoding="utf-8") as fh:
        for line in fh:
            v = json.loads(line)
            url = v.get("page_url") or f"https://example.org/checkthat/{v['vclaim_id']}"
            items.append(
                {
                    "@type": "ClaimReview",
                    "url": url,
                    "claimReviewed": v["vclaim"],
                    "name": v.get("title"),
                    "author": {"@type": "Organization", "name": "Snopes"},
                    "datePublished": None,
                    "reviewRating": {"@type": "Rating", "alternateName": "False"},
                }
            )
    out.write_text(json.dumps(items))
    return len(items)


def _claimwatch_match(db: Path) -> str:
    """Run ``claimwatch match --db DB`` as users do (a process of its own); its summary line."""
    done = subprocess.run(
        [sys.executable, "-m", "claimwatch", "match", "--db", str(db)], check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args()
    ct = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    if not (ct / "vclaims.jsonl").is_file():
        raise SystemExit(
            f"CheckThat! 2022 2A data not found under {ct}; see this script's docstring for where to get it"
        )
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with open(ct / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv", encoding="utf-8") as fh:
        tweets = [row[1] for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if len(row) > 1]
    archive, claims = args.out / "archive.jsonl", args.out / "claims.json"
    synthetic_archive(archive, args.posts, tweets)
    n_claims = vclaims_as_claimreview(ct / "vclaims.jsonl", claims)

    ws = claimwatch.open(args.out / "bench.db")
    t0 = time.perf_counter()
    fc = ws.ingest_factchecks([claims])
    t1 = time.perf_counter()
    ing = ws.ingest_posts([archive])
    t2 = time.perf_counter()
    st = ws.build_index()
    t3 = time.perf_counter()
    summary = _claimwatch_match(args.out / "bench.db")
    t4 = time.perf_counter()
    _claimwatch_match(args.out / "bench.db")  # nothing left to match: the command's start-up alone
    startup = time.perf_counter() - t4
    posts_matched = int(re.search(r"matched ([\d,]+) post", summary).group(1).replace(",", ""))  # type: ignore[union-attr]
    result = {
        "posts": args.posts,
        "factchecks": n_claims,
        "model": ws.encoder.name,
        "factcheck_ingest_s": round(t1 - t0, 1),
        "post_ingest_s": round(t2 - t1, 1),
        "post_ingest_posts_per_s": round(args.posts / (t2 - t1)),
        "index_build_s": round(t3 - t2, 1),
        "match_s": round(t4 - t3, 1),
        "match_posts_per_s": round(posts_matched / (t4 - t3)),
        "match_startup_s": round(startup, 1),
        "match_posts_per_s_after_startup": round(posts_matched / (t4 - t3 - startup)),
        "end_to_end_posts_per_s": round(args.posts / (t4 - t1 + (t1 - t0))),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "match_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "ingest": ing.summary(),
        "factchecks_ingest": fc.summary(),
        "index_encoded": st.encoded,
        "match": summary,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
