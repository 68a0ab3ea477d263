"""Benchmark: in-process timings of the post and fact-check search on a big store.

    python benchmarks/search_timings.py --db PATH-or-URL [--repeats 7] [--limit 50]

Times ``Workspace.search_posts`` and ``Workspace.search_factchecks`` (what the search page and
``/api/v1/search/*`` call) for phrases of every kind the search handles differently: common, very
common, rare, adjacent words, missing, 1–2 characters, hostile. Meant for the store
``benchmarks/workspace_latency.py`` builds (its words: 'zeppelin' is in 1 % of the posts). Opening
the store migrates it (on SQLite: give a copy of a store you want to keep at its schema); the time
that takes (the search index backfill, when it is new) is reported first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import claimwatch

PHRASES = (
    ("common (1 % of posts)", "zeppelin"),
    ("very common (a third of posts)", "game"),
    ("claim word", "vaccine"),
    ("rare", "synthetic claim 12345"),
    ("adjacent words", "birthday zeppelin"),
    ("missing", "qqqxyz"),
    ("2 characters, common", "ga"),
    ("2 characters, rare", "qz"),
    ("publisher (every fact-check)", "example checks"),
    ("hostile", '"* NEAR(a b) %_'),
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="SQLite path or PostgreSQL URL (opening it migrates it)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--limit", type=int, default=50)
    args = ap.parse_args()
    start = time.perf_counter()
    ws = claimwatch.open(args.db)
    print(f"open (and migrate when needed): {time.perf_counter() - start:.1f} s", file=sys.stderr)
    print("| search | phrase | kind | rows | median ms | max ms |\n|---|---|---|---|---|---|")
    for kind, phrase in PHRASES:
        for name, search in (("posts", ws.search_posts), ("factchecks", ws.search_factchecks)):
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                found = search(phrase, args.limit)
                times.append((time.perf_counter() - t0) * 1000)
            print(
                f"| {name} | `{phrase}` | {kind} | {len(found)} | {statistics.median(times):.1f} | {max(times):.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
