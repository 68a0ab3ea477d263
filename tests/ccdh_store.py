"""A synthetic store shaped like CCDH's November 2024 update, built through the real ingest path
(twarc2 archives, ClaimReview, Community Notes TSVs) and analyst decisions recorded through the
review API. Shared by the study tests and the study report tests.

CCDH (Nov 2024): 87 posts with election claims rated false or misleading, 2.0 bn views; by
narrative "importing voters" 66 posts / ~1.3 bn, "unreliable voting systems" 19 / 532 M;
all 746 election-term posts of the account in the window (originals and quotes, reposts
excluded) had 17.1 bn views — $24 M as political ads at a $1.39 CPM; no post showed a note.
All accounts, posts, numbers and fact-check URLs here are SYNTHETIC.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.records import MatchStatus
from claimwatch.store import repo
from claimwatch.store import schema as s

USER = [
    {
        "id": "900000999",
        "username": "example_account",
        "name": "Example Account (synthetic)",
        "public_metrics": {"followers_count": 193000000},
    }
]
NARRATIVES = {  # narrative → (fact-check URLs, posts, views per post)
    "importing voters": ([f"https://example.org/fc/import-{i}" for i in range(5)], 66, None),
    "unreliable voting systems": ([f"https://example.org/fc/machines-{i}" for i in range(3)], 19, 28_000_000),
    "mail ballots": ([f"https://example.org/fc/mail-{i}" for i in range(2)], 2, 84_000_000),
}
STUDY = {
    "title": "SYNTHETIC: election claims by @example_account (shape of CCDH, Nov 2024)",
    "platform": "x",
    "accounts": ["example_account"],
    "window": {"from": "2024-07-13", "to": "2024-10-31"},
    "topic": {"name": "election-terms", "keywords": ["election*", "ballot*", "vote*", "voting", "voter*"]},
    "include": {"kinds": ["original", "quote"], "matches": "confirmed", "verdicts": ["false", "misleading"]},
    "narratives": [{"name": name, "factchecks": urls} for name, (urls, _, _) in NARRATIVES.items()],
    "cpm_usd": 1.39,
    "views": {"policy": "as_of", "as_of": "2024-11-05"},
    "notes": {"as_of": "2024-11-05"},
}


def pid(n: int) -> str:
    """The synthetic platform id of the store's n-th post."""
    return f"18500000000000{n:05d}"


def _views_plan() -> list[tuple[str, int, str | None]]:
    """(text, final views, fact-check URL or None) for the 746 election-term posts."""
    plan: list[tuple[str, int, str | None]] = []
    for name, (urls, n, each) in NARRATIVES.items():
        for i in range(n):
            views = each if each else (65_000_000 if i == 0 else 19_000_000)  # 65 M + 65 × 19 M = 1.3 bn
            plan.append(
                (f"They are rigging the election: {name} claim number {i}. Vote now!", views, urls[i % len(urls)])
            )
    plan += [(f"Get out and vote, election update {i}", 22_900_000, None) for i in range(658)]
    plan.append(("Final election post: every voter counts", 31_800_000, None))  # 658 × 22.9 M + 31.8 M = 15.1 bn
    return plan


def _write_jsonl(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def build_store(ws: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    """Fill ``ws`` with the CCDH-shaped data; input files are written under ``tmp_path``.
    A plain function (not a fixture) so module-scoped fixtures can build the store once."""
    plan = _views_plan()
    assert len(plan) == 746
    posts, later, earlier = [], [], []
    for n, (text, views, _) in enumerate(plan):
        kind = {"ref": ("quoted", pid(90000 + n))} if n % 7 == 0 else {}
        created = f"2024-{7 + n % 4:02d}-{14 + n % 14:02d}T12:00:00.000Z"
        posts.append(post(pid(n), text, views, author="900000999", created=created, **kind))
        if n % 3 == 0:  # an earlier snapshot (growth) and one after the as-of date (must be ignored)
            earlier.append(post(pid(n), text, views // 2, author="900000999", created=created, **kind))
            later.append(post(pid(n), text, views * 3, author="900000999", created=created, **kind))
    others = [
        post(
            pid(2000 + i),
            f"Rocket launch number {i} went great",
            5_000_000,
            author="900000999",
            created="2024-08-01T12:00:00.000Z",
        )
        for i in range(120)
    ]
    reposts = [
        post(
            pid(3000 + i),
            f"RT @someone: election fraud everywhere {i}",
            9_000_000,
            author="900000999",
            created="2024-08-02T12:00:00.000Z",
            ref=("retweeted", pid(93000 + i)),
        )
        for i in range(40)
    ]
    before = [
        post(
            pid(4000 + i),
            f"Election post before the window {i}",
            7_000_000,
            author="900000999",
            created="2024-07-01T12:00:00.000Z",
        )
        for i in range(10)
    ]
    files = [
        _write_jsonl(tmp_path / "early.jsonl", [page(earlier, USER, "2024-11-01T12:00:00+00:00")]),
        _write_jsonl(
            tmp_path / "main.jsonl",
            [page(posts[i : i + 100], USER, "2024-11-05T12:00:00+00:00") for i in range(0, len(posts), 100)]
            + [page(others + reposts + before, USER, "2024-11-05T12:00:00+00:00")],
        ),
        _write_jsonl(tmp_path / "late.jsonl", [page(later, USER, "2024-11-20T12:00:00+00:00")]),
    ]
    assert ws.ingest_posts(files).ok

    fcs = [
        claimreview(url, f"Synthetic claim for {name} #{i}", "False" if i % 2 else "Pants on Fire")
        for name, (urls, _, _) in NARRATIVES.items()
        for i, url in enumerate(urls)
    ]
    (tmp_path / "fc.json").write_text(json.dumps(fcs))
    ws.ingest_factchecks([tmp_path / "fc.json"])

    _notes_files(tmp_path, plan)
    assert ws.ingest_notes(
        [tmp_path / "notes-00000.tsv", tmp_path / "noteStatusHistory-00000.tsv"], snapshot_date=None
    ).ok

    for match_id in propose(ws, [(pid(n), url) for n, (_, _, url) in enumerate(plan) if url]):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    # machine proposals that an analyst never confirmed, and one rejected: none may count
    unconfirmed = propose(ws, [(pid(n), NARRATIVES["mail ballots"][0][0]) for n in range(100, 110)], 0.99)
    ws.decide(unconfirmed[0], MatchStatus.REJECTED, "analyst@example.org")
    return ws


def propose(ws: claimwatch.Workspace, pairs: list[tuple[str, str]], confidence: float = 0.95) -> list[int]:
    """Store a machine proposal for each (post platform id, fact-check review URL), as the matcher
    would; returns the match ids in the same order (for ``ws.decide``)."""
    with ws.engine.begin() as conn:
        ids = {row.platform_id: row.id for row in conn.execute(sa.select(s.Post.id, s.Post.platform_id))}
        fc_ids = {row.review_url: row.id for row in conn.execute(sa.select(s.FactCheck.id, s.FactCheck.review_url))}
        for post_id, url in pairs:
            repo.write_matches(
                conn, ids[post_id], [repo.CandidateRow(fc_ids[url], 1, 0.9, {}, confidence, True)], "test-fixture", "v"
            )
        match_ids = {
            (row.post_id, row.factcheck_id): row.id
            for row in conn.execute(sa.select(s.Match.id, s.Match.post_id, s.Match.factcheck_id))
        }
    return [match_ids[ids[post_id], fc_ids[url]] for post_id, url in pairs]


def _notes_files(tmp_path: Path, plan: list[tuple[str, int, str | None]]) -> None:
    """Notes on 40 of the 87 posts, none shown: too few ratings, rated not helpful, or helpful but
    saying the post is NOT misleading (X does not display those)."""
    notes = []
    for k in range(40):
        helpful_not_misleading = k % 10 == 0
        status = (
            "CURRENTLY_RATED_HELPFUL"
            if helpful_not_misleading
            else ("NEEDS_MORE_RATINGS" if k % 2 else "CURRENTLY_RATED_NOT_HELPFUL")
        )
        notes.append(
            (
                f"18600000000000{k:05d}",
                pid(k),
                "NOT_MISLEADING" if helpful_not_misleading else "MISINFORMED_OR_POTENTIALLY_MISLEADING",
                status,
            )
        )
    write_notes(tmp_path, notes)


def write_notes(tmp_path: Path, notes: list[tuple[str, str, str, str]]) -> list[Path]:
    """A notes and a noteStatusHistory TSV (the public files' columns) for (note id, tweet id,
    classification, current status) rows; returns their paths."""
    fixtures = Path(__file__).resolve().parent / "fixtures" / "notes"
    note_header = (fixtures / "notes.tsv").read_text().splitlines()[0].split("\t")
    status_header = (fixtures / "noteStatusHistory.tsv").read_text().splitlines()[0].split("\t")
    note_rows, status_rows = [], []
    for note_id, tweet_id, classification, status in notes:
        note_rows.append(
            {
                "noteId": note_id,
                "noteAuthorParticipantId": "AUTHOR",
                "createdAtMillis": "1725000000000",
                "tweetId": tweet_id,
                "classification": classification,
                "summary": "SYNTHETIC note",
                "isMediaNote": "0",
            }
        )
        status_rows.append(
            {
                "noteId": note_id,
                "noteAuthorParticipantId": "AUTHOR",
                "createdAtMillis": "1725000000000",
                "timestampMillisOfCurrentStatus": "1730700000000",
                "currentStatus": status,
                **(
                    {}
                    if status == "NEEDS_MORE_RATINGS"
                    else {
                        "timestampMillisOfFirstNonNMRStatus": "1726000000000",
                        "firstNonNMRStatus": status,
                        "timestampMillisOfLatestNonNMRStatus": "1726000000000",
                        "mostRecentNonNMRStatus": status,
                    }
                ),
            }
        )
    paths = []
    for name, header, rows in (
        ("notes-00000.tsv", note_header, note_rows),
        ("noteStatusHistory-00000.tsv", status_header, status_rows),
    ):
        lines = ["\t".join(header)] + ["\t".join(row.get(col, "") for col in header) for row in rows]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        paths.append(tmp_path / name)
    return paths
