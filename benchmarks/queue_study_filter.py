"""Benchmark: the review queue filtered by a study, first request and cached, in-process.

    python benchmarks/queue_study_filter.py --db STORE [--accounts 200] [--repeats 5] [--json]

On a store built by ``workspace_latency.py`` (its synthetic authors ``bench_user_N``, its words),
times ``Workspace.review_queue(study=..., narrative=...)`` (first page, 20 items) for studies that
exercise each selection rule: a keyword topic; a narrative by description (the sentence encoder);
a topic by description (the encoder on every selected post). The first call computes the
selection; the next ones are served by the selection cache (the store unchanged), so their time is
the change marks plus the queue query itself. Library timings with ``time.perf_counter`` (median
and max of ``--repeats``), not HTTP: the machine is shared.

The store is opened for reading only (``read_only``): it is not changed. The encoder loads once,
before the timings, so the "first" figures are the selection's own cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import date

from workspace_latency import CLAIM_WORDS

import claimwatch
from claimwatch.analysis.study_file import Narrative, Study
from claimwatch.claims.topics import TopicSet
from claimwatch.store import repo


def studies(accounts: int) -> dict[str, tuple[Study, str | None]]:
    """The studies timed (name → study, narrative filtered on)."""
    base = Study(
        title="SYNTHETIC: queue filter benchmark",
        start=date(2024, 1, 1),
        end=date(2024, 12, 31),
        accounts=tuple(f"bench_user_{i}" for i in range(accounts)),
        confirmed_only=False,
        source="benchmark.yaml",
    )
    keyword_topic = TopicSet.from_dicts([{"name": "claims", "keywords": CLAIM_WORDS[:8]}])
    # a low threshold: the synthetic posts are word salad, far from any description
    described = {"name": "claims", "descriptions": ["Vaccines, elections and secret plans"], "threshold": 0.1}
    described_topic = TopicSet.from_dicts([described])
    narratives = (
        Narrative("vaccines", description="Claims that vaccines are dangerous or contain chips"),
        Narrative("elections", keywords=("election", "ballots", "fraud")),
    )
    return {
        "accounts only": (base, None),
        "keyword topic": (replace(base, topic=keyword_topic), None),
        "narrative by description": (replace(base, narratives=narratives), "vaccines"),
        "topic by description": (replace(base, topic=described_topic), None),
    }


def timed(call) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = call()
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True, help="a store built by workspace_latency.py")
    ap.add_argument("--accounts", type=int, default=200, help="accounts the studies name")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ws = claimwatch.open(args.db, read_only=True)
    ws.encoder.encode(["warm up"])
    _, plain = timed(lambda: ws.review_queue(limit=20))
    rows = []
    for name, (study, narrative) in studies(args.accounts).items():

        def call(s: Study = study, n: str | None = narrative):
            return ws.review_queue(study=s, narrative=n, limit=20)

        first, page = timed(call)
        again = [timed(call)[0] for _ in range(args.repeats)]
        rows.append(
            {
                "study": name,
                "posts in queue": page.total,
                "first ms": round(first),
                "cached p50 ms": round(statistics.median(again)),
                "cached max ms": round(max(again)),
            }
        )
        print(rows[-1], file=sys.stderr)
    ms, _ = timed(lambda: ws.review_queue(limit=20))
    with ws.engine.connect() as conn:
        marks = [timed(lambda: repo.change_marks(conn, topic="claims", matches=True))[0] for _ in range(args.repeats)]
    print(f"change marks (all): p50 {statistics.median(marks):.1f} ms, max {max(marks):.1f} ms", file=sys.stderr)
    if args.json:
        out = {"accounts": args.accounts, "unfiltered queue ms": round(ms), "marks ms": statistics.median(marks)}
        print(json.dumps({**out, "rows": rows}, indent=2))
        return
    print(
        f"unfiltered queue (first page): {ms:.0f} ms; {plain.total:,} posts; change marks {statistics.median(marks):.1f} ms"
    )
    print("| study | posts in queue | first ms | cached p50 ms | cached max ms |\n|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(v) for v in r.values()) + " |")


if __name__ == "__main__":
    main()
