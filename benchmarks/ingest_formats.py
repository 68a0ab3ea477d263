"""Benchmark: `claimwatch ingest posts` end to end, per input format, with hostile records mixed in.

    python benchmarks/ingest_formats.py [--posts 100000] [--hostile 0.01] [--formats twarc2,csv,...] [--out DIR]

For each format a seeded generator writes an archive of ``--posts`` posts (templates taken from the
test fixtures, so each record has the real shape: X API v2 pages as twarc2 lines, twarc-csv's
dotted columns, a generic CSV, Bluesky getAuthorFeed pages, Mastodon statuses, Telethon
messages), with a share ``--hostile`` of broken records (invalid JSON, nesting 10,000 deep, a
count of 10^30, an object as id, a stray quote in a CSV row). Each archive is then ingested by
the real command in its own process into a fresh SQLite store, timed from process start to
exit (storage included), and its peak memory is read from the kernel (``ru_maxrss`` of that
process, via ``os.wait4``; Linux carries ``ru_maxrss`` across fork and exec, so it is the child's own
only because this parent stays small: it streams the archives it writes). Prints one JSON object;
copy the table into RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "posts"
WORDS = (
    "ballot election vote count mail county officials fraud claim video photo rally crowd weather "
    "game tonight coffee market prices school library garden podcast episode news update"
).split()

Line = tuple[str, bool]  # (text written, whether it holds a readable post)


def _text(rng: random.Random) -> str:
    return "SYNTHETIC " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30)))


def _hostile_json(rng: random.Random, i: int) -> str:
    return rng.choice(
        [
            "{not json",
            "[" * 10_000 + "]" * 10_000,
            json.dumps({"id": {"$oid": str(i)}, "text": "an object as id"}),
            "\x00\x01",
        ]
    )


def x_page(rng: random.Random, start: int, n: int) -> dict:
    data = [
        {
            "id": str(1_900_000_000_000_000_000 + i),
            "text": _text(rng) + " &amp; more",
            "author_id": str(100 + i % 500),
            "created_at": "2024-07-01T12:00:00.000Z",
            "lang": "en",
            "edit_history_tweet_ids": [str(1_900_000_000_000_000_000 + i)],
            "public_metrics": {
                "retweet_count": rng.randint(0, 500),
                "reply_count": rng.randint(0, 99),
                "like_count": rng.randint(0, 5000),
                "quote_count": rng.randint(0, 50),
                "bookmark_count": rng.randint(0, 50),
                "impression_count": 10**30 if rng.random() < 0.001 else rng.randint(10, 10**6),
            },
        }
        for i in range(start, start + n)
    ]
    users = [
        {"id": str(100 + u), "username": f"bench_user_{u}", "name": f"Bench {u} (synthetic)"}
        for u in sorted({i % 500 for i in range(start, start + n)})
    ]
    return {
        "data": data,
        "includes": {"users": users},
        "meta": {"result_count": n},
        "__twarc": {"url": "synthetic", "version": "bench", "retrieved_at": "2024-08-01T12:00:00+00:00"},
    }


def twarc2_lines(rng: random.Random, posts: int, hostile: float) -> Iterator[Line]:
    for start in range(0, posts, 100):
        if rng.random() < hostile * 100 / 10:  # about `hostile` of the pages' worth of records
            yield _hostile_json(rng, start), False
        page = x_page(rng, start, min(100, posts - start))
        yield json.dumps(page), True


TWARC_CSV_COLUMNS = [
    "id",
    "conversation_id",
    "referenced_tweets.replied_to.id",
    "referenced_tweets.retweeted.id",
    "referenced_tweets.quoted.id",
    "author_id",
    "in_reply_to_user_id",
    "retweeted_user_id",
    "quoted_user_id",
    "created_at",
    "text",
    "lang",
    "source",
    "public_metrics.impression_count",
    "public_metrics.reply_count",
    "public_metrics.retweet_count",
    "public_metrics.quote_count",
    "public_metrics.like_count",
    "public_metrics.bookmark_count",
    "author.username",
    "author.name",
    "author.public_metrics.followers_count",
    "__twarc.retrieved_at",
    "__twarc.url",
    "__twarc.version",
]


def twarc_csv_rows(rng: random.Random, posts: int, hostile: float) -> Iterator[list[str] | str]:
    yield TWARC_CSV_COLUMNS
    for i in range(posts):
        if rng.random() < hostile:
            yield f'{2_000_000_000_000_000_000 + i},"a stray quote that never closes,1,2\n'
            continue
        pid = str(1_900_000_000_000_000_000 + i)
        yield [
            pid,
            pid,
            "",
            "",
            "",
            str(100 + i % 500),
            "",
            "",
            "",
            "2024-07-01T12:00:00.000Z",
            _text(rng),
            "en",
            "Twitter Web App",
            f"{rng.randint(10, 10**6):,}" if i % 7 == 0 else str(rng.randint(10, 10**6)),
            str(rng.randint(0, 99)),
            str(rng.randint(0, 500)),
            str(rng.randint(0, 50)),
            str(rng.randint(0, 5000)),
            str(rng.randint(0, 50)),
            f"bench_user_{i % 500}",
            f"Bench {i % 500} (synthetic)",
            "1000",
            "2024-08-01T12:00:00+00:00",
            "synthetic",
            "bench",
        ]


def generic_csv_rows(rng: random.Random, posts: int, hostile: float) -> Iterator[list[str] | str]:
    yield ["post_id", "username", "date", "text", "views", "likes", "retweets", "replies"]
    for i in range(posts):
        if rng.random() < hostile:
            yield f"{3_000_000 + i},cut,2024-07-01\n"  # too few fields
            continue
        yield [
            str(1_000_000 + i),
            f"bench_user_{i % 500}",
            "2024-07-01T12:00:00Z",
            _text(rng),
            str(rng.randint(10, 10**6)),
            str(rng.randint(0, 5000)),
            str(rng.randint(0, 500)),
            str(rng.randint(0, 99)),
        ]


def _template(name: str, pick: Callable[[object], dict]) -> dict:
    return pick(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def bluesky_lines(rng: random.Random, posts: int, hostile: float) -> Iterator[Line]:
    item = _template("bluesky_getAuthorFeed.json", lambda d: d["feed"][0])
    for start in range(0, posts, 50):
        if rng.random() < hostile * 50 / 10:
            yield _hostile_json(rng, start), False
        feed = []
        for i in range(start, min(start + 50, posts)):
            it = copy.deepcopy(item)
            did = f"did:plc:bench{i % 500:019d}"
            it["post"]["uri"] = f"at://{did}/app.bsky.feed.post/3kbench{i:09d}"
            it["post"]["author"].update(did=did, handle=f"bench{i % 500}.example.com")
            it["post"]["record"]["text"] = _text(rng)
            it["post"]["likeCount"] = rng.randint(0, 5000)
            feed.append(it)
        yield json.dumps({"feed": feed, "cursor": str(start)}), True


def mastodon_lines(rng: random.Random, posts: int, hostile: float) -> Iterator[Line]:
    status = _template("mastodon_statuses.json", lambda d: d[0])
    for i in range(posts):
        if rng.random() < hostile:
            yield _hostile_json(rng, i), False
            continue
        s = copy.deepcopy(status)
        sid = str(112_900_000_000_000_000 + i)
        s.update(
            id=sid,
            uri=f"https://mastodon.example/users/u{i % 500}/statuses/{sid}",
            url=f"https://mastodon.example/@u{i % 500}/{sid}",
            content=f"<p>{_text(rng)}</p>",
            favourites_count=rng.randint(0, 5000),
        )
        s["account"].update(
            id=str(109_000_000_000_000_000 + i % 500),
            username=f"u{i % 500}",
            acct=f"u{i % 500}",
            url=f"https://mastodon.example/@u{i % 500}",
        )
        yield json.dumps(s), True


def telethon_lines(rng: random.Random, posts: int, hostile: float) -> Iterator[Line]:
    message = json.loads((FIXTURES / "telegram_telethon.jsonl").read_text(encoding="utf-8").splitlines()[0])
    for i in range(posts):
        if rng.random() < hostile:
            yield _hostile_json(rng, i), False
            continue
        m = copy.deepcopy(message)
        m.update(id=10_000 + i, message=_text(rng), views=rng.randint(10, 10**6), fwd_from=None)
        m["peer_id"]["channel_id"] = 1_234_567_000 + i % 50
        yield json.dumps(m), True


def write_lines(path: Path, lines: Iterator[Line], gz: bool = False) -> None:
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as fh:  # type: ignore[operator]
        for text, _ok in lines:
            fh.write(text + "\n")


def write_csv(path: Path, rows: Iterator[list[str] | str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for row in rows:
            if isinstance(row, str):
                fh.write(row)
            else:
                writer.writerow(row)


FORMATS: dict[str, tuple[str, Callable[[Path, random.Random, int, float], None]]] = {
    "twarc2": ("archive.jsonl", lambda p, rng, n, h: write_lines(p, twarc2_lines(rng, n, h))),
    "twarc2.gz": ("archive.jsonl.gz", lambda p, rng, n, h: write_lines(p, twarc2_lines(rng, n, h), gz=True)),
    "twarc-csv": ("archive.csv", lambda p, rng, n, h: write_csv(p, twarc_csv_rows(rng, n, h))),
    "csv": ("posts.csv", lambda p, rng, n, h: write_csv(p, generic_csv_rows(rng, n, h))),
    "bluesky": ("feed.jsonl", lambda p, rng, n, h: write_lines(p, bluesky_lines(rng, n, h))),
    "mastodon": ("statuses.jsonl", lambda p, rng, n, h: write_lines(p, mastodon_lines(rng, n, h))),
    "telegram": ("telethon.jsonl", lambda p, rng, n, h: write_lines(p, telethon_lines(rng, n, h))),
}


def run_ingest(archive: Path, db: Path) -> dict:
    """The real command in its own process: wall time and that process's peak RSS."""
    cmd = [
        sys.executable,
        "-c",
        "from claimwatch.cli import main; main()",
        "ingest",
        "posts",
        str(archive),
        "--db",
        str(db),
        "--json",
        "--observed-at",
        "2024-08-01T12:00:00Z",
    ]
    out_path, err_path = db.with_suffix(".out"), db.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, _status, usage = os.wait4(proc.pid, 0)  # reaps the process with its own resource usage
        elapsed = time.perf_counter() - t0
    text = out_path.read_text()
    report = json.loads(text) if text.strip() else {"error": err_path.read_text()[-500:]}
    return {"seconds": round(elapsed, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "report": report}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--hostile", type=float, default=0.01, help="share of broken records")
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "ingest_formats")
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    results = {}
    for name in args.formats.split(","):
        file_name, write = FORMATS[name]
        folder = args.out / name
        folder.mkdir()
        archive = folder / file_name
        write(archive, random.Random(7), args.posts, args.hostile)
        run = run_ingest(archive, folder / "bench.db")
        rep = run["report"]
        read = sum(f["read"] for f in rep.get("files", []))
        results[name] = {
            "file_mb": round(archive.stat().st_size / 2**20, 1),
            "seconds": run["seconds"],
            "posts_per_s": round(read / run["seconds"]) if run["seconds"] else None,
            "peak_rss_mb": run["peak_rss_mb"],
            "read": read,
            "inserted": rep.get("inserted"),
            "quarantined": rep.get("quarantined"),
            "warnings": rep.get("warnings"),
            "errors": [f["error"] for f in rep.get("files", []) if f.get("error")] or rep.get("error"),
        }
        print(name, json.dumps(results[name]), file=sys.stderr, flush=True)
    print(json.dumps({"posts": args.posts, "hostile": args.hostile, "results": results}, indent=1))


if __name__ == "__main__":
    main()
