"""Benchmark: p50/p95/max latency of the web workspace's pages on a big store.

    python benchmarks/workspace_latency.py [--posts 1000000] [--factchecks 200000] [--pending 100000]
        [--db PATH-or-URL] [--requests 200] [--seconds 60] [--json] [--library N] [--add-analysis]
        [--build-only]

Builds (or reuses, when its counts are already right) a synthetic, seeded store through the
library's own batch writers (``repo.upsert_factchecks``, ``repo.upsert_posts``,
``repo.write_matches``, ``repo.write_analysis``): no SQL here and no encoder, because the pages'
latency depends on the rows, not on how the matches were made. Each of ``--pending`` posts gets one
proposal (pending review) and two lower-ranked candidates; 30 % of the posts get a check-worthiness
(the dashboard's "not yet checked" list; ``--add-analysis`` adds it to a store built without it).
``--library N`` times the library calls behind the pages in this process, N times each, instead of
the HTTP run (figures undistorted by a server, for a shared machine). Otherwise it adds a user, starts ``claimwatch serve`` on a free
loopback port in a subprocess, signs in with one httpx client in this process and requests each
page until ``--requests`` answers or ``--seconds`` have passed (the first request, cold caches,
is reported apart). The server is stopped at the end, also on error.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import httpx

import claimwatch
from claimwatch import records as r
from claimwatch.store import db, repo

WORDS = (
    "game tonight coffee weather rain sunny weekend team great season music concert new recipe pizza "
    "traffic city park dog cat movie trailer looks amazing happy birthday friends family school library "
    "market prices garden flowers running marathon training morning evening podcast episode book club"
).split()
CLAIM_WORDS = (
    "vaccine water election ballots mail fraud tower signal cure lemon virus chip bank secret plan "
    "border wall drone tax moon landing flood report study doctors banned"
).split()
#: in about one post in a hundred: what the search page looks for
SEARCH_WORD = "zeppelin"
METHOD, INDEX_VERSION = "bench-synthetic", "bench-synthetic-v1"
USER = "bench"
BATCH = 2000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Scale:
    posts: int
    factchecks: int
    pending: int


@dataclass
class PageFigures:
    page: str
    path: str
    requests: int
    first_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float


def chunked(n: int, size: int = BATCH) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(start + size, n))


def synthetic_factcheck(i: int, rng: random.Random) -> r.FactCheck:
    claim = " ".join(rng.choice(CLAIM_WORDS) for _ in range(rng.randint(6, 14)))
    return r.FactCheck(
        review_url=f"https://checks.example.org/review/{i}",
        claim_text=f"{claim} (synthetic claim {i})",
        publisher_name="Example Checks (synthetic)",
        publisher_site="checks.example.org",
        title=f"Synthetic review {i}",
        review_date=EPOCH + timedelta(days=rng.randrange(365)),
        rating_text=rng.choice(("False", "Misleading", "Mostly false")),
        language="en",
        verdict=rng.choice((r.Verdict.FALSE, r.Verdict.MISLEADING)),
    )


def synthetic_post(i: int, rng: random.Random) -> r.Post:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
    if rng.random() < 0.2:
        words[rng.randrange(len(words))] = rng.choice(CLAIM_WORDS)
    if rng.random() < 0.01:
        words[rng.randrange(len(words))] = SEARCH_WORD
    author = rng.randrange(20000)
    created = EPOCH + timedelta(minutes=rng.randrange(365 * 24 * 60))
    return r.Post(
        platform="x",
        platform_id=str(1900000000000000000 + i),
        author=r.Author("x", str(100000000 + author), handle=f"bench_user_{author}", name=f"Bench {author}"),
        created_at=created,
        text=" ".join(words),
        lang="en",
        url=f"https://social.example.org/status/{i}",
        metrics=r.MetricSnapshot(
            observed_at=created + timedelta(days=1),
            views=rng.randint(10, 10**6),
            reposts=rng.randint(0, 500),
            replies=rng.randint(0, 100),
            likes=rng.randint(0, 5000),
        ),
    )


def counts_of(engine) -> Scale:
    with engine.connect() as conn:
        st = repo.stats(conn)
    return Scale(st.posts, st.factchecks, st.matches.get(r.MatchStatus.PROPOSED.value, 0))


def build_store(engine, scale: Scale, seed: int) -> float:
    """Write the synthetic store in batches; returns the seconds it took."""
    rng = random.Random(seed)
    start = time.perf_counter()
    for batch in chunked(scale.factchecks):
        with db.writing(engine) as conn:
            repo.upsert_factchecks(conn, [(synthetic_factcheck(i, rng), "bench") for i in batch], None)
    print(f"  fact-checks written: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    for n, batch in enumerate(chunked(scale.posts, 5000)):
        with db.writing(engine) as conn:
            repo.upsert_posts(conn, [synthetic_post(i, rng) for i in batch], None)
        if n % 40 == 39:
            print(f"  posts written: {batch.stop:,} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    with engine.connect() as conn:
        fc_ids = [row.id for row in repo.factcheck_docs(conn)]
        post_ids = [row.id for row in repo.posts_to_match(conn, INDEX_VERSION, False, 1)]
    matched = sorted(rng.sample(post_ids, scale.pending))
    for batch in chunked(len(matched), 1000):
        with db.writing(engine) as conn:
            for k in batch:
                fcs = rng.sample(fc_ids, 3)
                top = round(rng.uniform(0.6, 0.95), 6)
                cands = [
                    repo.CandidateRow(
                        fc,
                        rank,
                        round(top - 0.05 * (rank - 1), 6),
                        {"synthetic": True},
                        round(rng.uniform(0.3, 0.99), 4) if rank == 1 else None,
                        rank == 1,
                    )
                    for rank, fc in enumerate(fcs, start=1)
                ]
                repo.write_matches(conn, matched[k], cands, METHOD, INDEX_VERSION)
    add_analysis(engine, seed)
    return time.perf_counter() - start


#: the share of posts the synthetic analysis scores (check-worthiness known), about half of them
#: above the default threshold of 0.5: the dashboard's "not yet checked" list has real work to do
ANALYSED = 0.3


def add_analysis(engine, seed: int) -> int:
    """Write a synthetic check-worthiness for ``ANALYSED`` of the posts through the repo's own
    writer (``repo.write_analysis``, which keeps the dashboard's list); returns how many."""
    rng = random.Random(seed + 1)
    with engine.connect() as conn:
        ids = [row.id for row in repo.posts_to_match(conn, INDEX_VERSION, True, 1)]
    scored = sorted(rng.sample(ids, round(len(ids) * ANALYSED)))
    start = time.perf_counter()
    for n, batch in enumerate(chunked(len(scored), 5000)):
        rows = []
        for k in batch:
            sentence = round(rng.random(), 4)
            rows.append(
                dict(
                    post_id=scored[k],
                    lang="en",
                    lang_confidence=0.99,
                    checkworthiness=round(rng.random() ** 2, 4),  # most below 0.5, a long tail above
                    claim_sentence=None,
                    sentence_scores=[[0, 10, sentence]],
                    models={"checkworthiness": "bench-synthetic"},
                )
            )
        with db.writing(engine) as conn:
            repo.write_analysis(conn, rows)
        if n % 20 == 19:
            print(f"  analysis written: {batch.stop:,} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return len(scored)


@dataclass
class CallFigures:
    call: str
    repeats: int
    median_ms: float
    max_ms: float


def library_timings(ws: claimwatch.Workspace, deep: int, repeats: int) -> list[CallFigures]:
    """In-process timings of the library calls behind the queue and dashboard pages (no HTTP, no
    templates): each call ``repeats`` times after one warm-up; median and max."""
    first = ws.review_queue(limit=1).items
    match_id = first[0].match_id if first else None

    def html_queue(offset: int = 0, status: str = "proposed") -> None:
        items = ws.review_queue(status=status, limit=20, offset=offset).items  # what /review draws
        ws.proposals_by_factcheck([c.factcheck.id for item in items for c in item.candidates])

    calls = [
        ("queue first page (/review)", html_queue),
        (f"queue offset {deep:,}", lambda: html_queue(deep)),
        ("candidate queue", lambda: html_queue(0, "candidate")),
        ("api queue (20 items)", lambda: ws.review_queue(limit=20)),
        ("account filter (first page)", lambda: ws.review_queue(accounts=["bench_user_7"], limit=20)),
        (
            "date filter, one month",
            lambda: ws.review_queue(since=EPOCH + timedelta(days=150), until=EPOCH + timedelta(days=180), limit=20),
        ),
        ("confidence band 0.9-1", lambda: ws.review_queue(min_confidence=0.9, limit=20)),
        ("dashboard: unchecked + warnings", lambda: (ws.unchecked(50), ws.store_warnings(), ws.unchecked_rule())),
    ]
    if match_id is not None:
        calls.append(("review_item (one card)", lambda: ws.review_item(match_id)))
    out = []
    for name, call in calls:
        call()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1000)
        out.append(CallFigures(name, repeats, statistics.median(times), max(times)))
        print(f"  {out[-1]}", file=sys.stderr)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(client: httpx.Client, server: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped (exit {server.returncode}) before answering")
        try:
            if client.get("/login").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s")


@contextmanager
def serving(db_url: str) -> Iterator[str]:
    """``claimwatch serve`` on a free loopback port in a second process, ready; yields its base URL and
    stops it on the way out (the load generator stays in this process)."""
    port = free_port()
    cmd = [sys.executable, "-m", "claimwatch", "serve", "--db", db_url, "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def sign_in(client: httpx.Client, password: str) -> None:
    form = client.get("/login").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if not found:
        raise RuntimeError("no CSRF token on the sign-in form")
    resp = client.post("/login", data={"name": USER, "password": password, "csrf_token": found.group(1)})
    if resp.status_code >= 400 or client.get("/api/v1/me").status_code != 200:
        raise RuntimeError(f"sign-in failed ({resp.status_code})")


def measure(client: httpx.Client, name: str, path: str, n: int, seconds: float) -> PageFigures:
    def one() -> float:
        t0 = time.perf_counter()
        resp = client.get(path)
        ms = (time.perf_counter() - t0) * 1000
        if resp.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status_code}: {resp.text[:200]}")
        return ms

    try:
        first = one()
    except httpx.TimeoutException:  # one answer slower than --timeout: say so, measure the rest
        return PageFigures(name, path, 0, float("inf"), float("nan"), float("inf"), float("inf"))
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while len(times) < n and time.monotonic() < deadline:
        times.append(one())
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return PageFigures(name, path, len(times), first, statistics.median(times), p95, times[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--factchecks", type=int, default=200_000)
    ap.add_argument("--pending", type=int, default=100_000)
    ap.add_argument("--db", default="benchmarks/out/workspace_latency.db", help="SQLite path or PostgreSQL URL")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--requests", type=int, default=200, help="requests per page (at most)")
    ap.add_argument("--seconds", type=float, default=60.0, help="time per page (at most)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds one request may take")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument(
        "--add-analysis",
        action="store_true",
        help="write the synthetic check-worthiness into an existing store built without it, and stop",
    )
    ap.add_argument(
        "--library",
        type=int,
        metavar="N",
        help="time the library calls behind the pages N times each, in this process (no server)",
    )
    ap.add_argument("--build-only", action="store_true", help="build (or check) the store, measure nothing")
    args = ap.parse_args()
    scale = Scale(args.posts, args.factchecks, args.pending)
    if scale.pending > scale.posts or scale.factchecks < 3:
        ap.error("--pending must not exceed --posts, and --factchecks must be at least 3")
    if "://" not in args.db:
        os.makedirs(os.path.dirname(os.path.abspath(args.db)), exist_ok=True)

    ws = claimwatch.open(args.db)
    found = counts_of(ws.engine)
    build_s = None
    if found == scale:
        print(f"reusing {args.db} ({scale})", file=sys.stderr)
    elif found.posts or found.factchecks:
        sys.exit(f"{args.db} holds a different store ({found}): give another --db")
    else:
        print(f"building {args.db} ({scale})", file=sys.stderr)
        build_s = build_store(ws.engine, scale, args.seed)
        print(f"build time: {build_s:.0f} s", file=sys.stderr)
    deep = max(0, (scale.pending * 9 // 10) // 20 * 20)
    if args.add_analysis:
        with ws.engine.connect() as conn:
            if repo.stats(conn).posts_analysed:
                sys.exit(f"{args.db} has post analysis already")
        t0 = time.perf_counter()
        n = add_analysis(ws.engine, args.seed)
        print(f"analysis of {n:,} posts written in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        return
    if args.library:
        calls = library_timings(ws, deep, args.library)
        if args.json:
            print(json.dumps({"scale": asdict(scale), "calls": [asdict(c) for c in calls]}, indent=2))
            return
        print(f"| library call | repeats | median ms | max ms |\n|{'---|' * 4}")
        for c in calls:
            print(f"| {c.call} | {c.repeats} | {c.median_ms:.1f} | {c.max_ms:.1f} |")
        return
    if args.build_only:
        ws.engine.dispose()
        return
    password = secrets.token_urlsafe(16)
    if any(u.name == USER for u in ws.list_users()):
        ws.remove_user(USER, actor="benchmark")
    ws.add_user(USER, "analyst", password, actor="benchmark")
    ws.engine.dispose()

    pages = [
        ("review (first page)", "/review"),
        (f"review (offset {deep:,})", f"/review?offset={deep}"),
        ("review candidates", "/review?status=candidate"),
        ("dashboard", "/"),
        (f"search '{SEARCH_WORD}'", f"/search?q={SEARCH_WORD}"),
        ("api review queue", "/api/v1/review/queue"),
    ]
    with serving(args.db) as base, httpx.Client(base_url=base, timeout=args.timeout) as client:
        sign_in(client, password)
        figures = []
        for name, path in pages:
            figures.append(measure(client, name, path, args.requests, args.seconds))
            print(f"  {figures[-1]}", file=sys.stderr)  # a long run shows each page as it ends

    if args.json:
        out = {
            "scale": asdict(scale),
            "db": "postgresql" if "postgresql" in args.db else "sqlite",
            "build_seconds": None if build_s is None else round(build_s, 1),
            "pages": [asdict(f) for f in figures],
        }
        print(json.dumps(out, indent=2))
        return
    print(f"| page | requests | first ms | p50 ms | p95 ms | max ms | p95 < 200 ms |\n|{'---|' * 7}")
    for f in figures:
        print(
            f"| {f.page} | {f.requests} | {f.first_ms:.0f} | {f.p50_ms:.0f} | {f.p95_ms:.0f} | {f.max_ms:.0f} "
            f"| {'yes' if f.p95_ms < 200 else 'no'} |"
        )


if __name__ == "__main__":
    main()
