"""The study reproduces the headline figures of CCDH's October 2024 Community Notes report from a
synthetic store: 283 posts with misleading claims had notes proposed; 209 of them (74 %) showed
no accurate note to all users; those 209 had 2.2 bn views. All data here is SYNTHETIC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ccdh_store import propose, write_notes
from conftest import claimreview, page, post

import claimwatch
from claimwatch.analysis.study_file import parse_study
from claimwatch.records import MatchStatus

USERS = [
    {"id": f"90000088{k}", "username": f"example_account_{k}", "name": f"Example {k} (synthetic)"} for k in range(3)
]


def _pid(n: int) -> str:
    return f"18700000000000{n:05d}"


@pytest.mark.slow  # over half a second on 2 cores
def test_study_reproduces_the_ccdh_october_2024_notes_figures(
    ws: claimwatch.Workspace, tmp_path: Path, write_jsonl
) -> None:
    # 209 posts without a shown note: 208 × 10.5 M + 16 M = 2.2 bn views; 74 with one shown, 3 M each.
    views = [10_500_000] * 208 + [16_000_000] + [3_000_000] * 74
    posts = [
        post(
            _pid(n),
            f"Misleading election claim number {n}",
            v,
            author=USERS[n % 3]["id"],
            created=f"2024-{1 + n % 9:02d}-{1 + n % 27:02d}T12:00:00.000Z",
        )
        for n, v in enumerate(views)
    ]
    assert ws.ingest_posts(
        [
            write_jsonl(
                "posts.jsonl",
                [page(posts[i : i + 100], USERS, "2024-10-01T12:00:00+00:00") for i in range(0, len(posts), 100)],
            )
        ]
    ).ok
    (tmp_path / "fc.json").write_text(
        json.dumps([claimreview("https://example.org/fc/oct", "A synthetic claim", "False")])
    )
    ws.ingest_factchecks([tmp_path / "fc.json"])
    for match_id in propose(ws, [(_pid(n), "https://example.org/fc/oct") for n in range(len(views))]):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    statuses = ["NEEDS_MORE_RATINGS", "CURRENTLY_RATED_NOT_HELPFUL"]
    notes = [
        (
            f"18800000000000{n:05d}",
            _pid(n),
            "MISINFORMED_OR_POTENTIALLY_MISLEADING",
            "CURRENTLY_RATED_HELPFUL" if n >= 209 else statuses[n % 2],
        )
        for n in range(len(views))
    ]
    assert ws.ingest_notes(write_notes(tmp_path, notes)).ok

    result = ws.run_study(
        parse_study(
            {
                "title": "SYNTHETIC: notes on misleading posts (shape of CCDH, Oct 2024)",
                "window": {"from": "2024-01-01", "to": "2024-09-30"},
                "notes": {"as_of": "2024-11-10"},
            }
        )
    )  # the download is dated 2024-11-04
    cov = result.notes_coverage
    assert (cov.posts_with_proposed_notes, cov.posts_with_proposed_notes_none_shown) == (283, 209)
    assert round(cov.share_none_shown * 100) == 74
    assert (cov.views_of_those, cov.views_unknown_of_those) == (2_200_000_000, 0)
    assert result.summary.posts_with_note_shown == 74
    assert cov.note_statuses == {
        "CURRENTLY_RATED_HELPFUL": 74,
        "CURRENTLY_RATED_NOT_HELPFUL": 104,
        "NEEDS_MORE_RATINGS": 105,
    }
