"""The study reproduces every headline figure of CCDH's November 2024 update, exactly, from a
synthetic store built through the real ingest path (twarc2 archives, ClaimReview, Community
Notes TSVs) and analyst decisions recorded through the review API.

CCDH (Nov 2024): 87 posts with election claims rated false or misleading, 2.0 bn views; by
narrative "importing voters" 66 posts / ~1.3 bn, "unreliable voting systems" 19 / 532 M;
all 746 election-term posts of the account in the window (originals and quotes, reposts
excluded) had 17.1 bn views — $24 M as political ads at a $1.39 CPM; no post showed a note.
All accounts, posts, numbers and fact-check URLs here are SYNTHETIC.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import claimreview, page, post

import claimwatch
from claimwatch.analysis.study_file import StudyError, load_study
from claimwatch.records import MatchStatus
from claimwatch.store import repo

USER = [{"id": "900000999", "username": "example_account", "name": "Example Account (synthetic)",
         "public_metrics": {"followers_count": 193000000}}]
NARRATIVES = {  # narrative → (fact-check URLs, posts, views per post)
    "importing voters": ([f"https://example.org/fc/import-{i}" for i in range(5)], 66, None),
    "unreliable voting systems": ([f"https://example.org/fc/machines-{i}" for i in range(3)], 19, 28_000_000),
    "mail ballots": ([f"https://example.org/fc/mail-{i}" for i in range(2)], 2, 84_000_000),
}
STUDY = {
    "title": "SYNTHETIC: election claims by @example_account (shape of CCDH, Nov 2024)",
    "platform": "x", "accounts": ["example_account"],
    "window": {"from": "2024-07-13", "to": "2024-10-31"},
    "topic": {"name": "election-terms", "keywords": ["election*", "ballot*", "vote*", "voting", "voter*"]},
    "include": {"kinds": ["original", "quote"], "matches": "confirmed", "verdicts": ["false", "misleading"]},
    "narratives": [{"name": name, "factchecks": urls} for name, (urls, _, _) in NARRATIVES.items()],
    "cpm_usd": 1.39,
    "views": {"policy": "as_of", "as_of": "2024-11-05"},
    "notes": {"as_of": "2024-11-05"},
}


def _pid(n: int) -> str:
    return f"18500000000000{n:05d}"


def _views_plan() -> list[tuple[str, int, str | None]]:
    """(text, final views, fact-check URL or None) for the 746 election-term posts."""
    plan: list[tuple[str, int, str | None]] = []
    for name, (urls, n, each) in NARRATIVES.items():
        for i in range(n):
            views = each if each else (65_000_000 if i == 0 else 19_000_000)  # 65 M + 65 × 19 M = 1.3 bn
            plan.append((f"They are rigging the election: {name} claim number {i}. Vote now!", views, urls[i % len(urls)]))
    plan += [(f"Get out and vote, election update {i}", 22_900_000, None) for i in range(658)]
    plan.append(("Final election post: every voter counts", 31_800_000, None))  # 658 × 22.9 M + 31.8 M = 15.1 bn
    return plan


@pytest.fixture()
def store(ws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> claimwatch.Workspace:
    plan = _views_plan()
    assert len(plan) == 746
    posts, later, earlier = [], [], []
    for n, (text, views, _) in enumerate(plan):
        kind = {"ref": ("quoted", _pid(90000 + n))} if n % 7 == 0 else {}
        created = f"2024-{7 + n % 4:02d}-{14 + n % 14:02d}T12:00:00.000Z"
        posts.append(post(_pid(n), text, views, author="900000999", created=created, **kind))
        if n % 3 == 0:  # an earlier snapshot (growth) and one after the as-of date (must be ignored)
            earlier.append(post(_pid(n), text, views // 2, author="900000999", created=created, **kind))
            later.append(post(_pid(n), text, views * 3, author="900000999", created=created, **kind))
    others = [post(_pid(2000 + i), f"Rocket launch number {i} went great", 5_000_000, author="900000999",
                   created="2024-08-01T12:00:00.000Z") for i in range(120)]
    reposts = [post(_pid(3000 + i), f"RT @someone: election fraud everywhere {i}", 9_000_000, author="900000999",
                    created="2024-08-02T12:00:00.000Z", ref=("retweeted", _pid(93000 + i))) for i in range(40)]
    before = [post(_pid(4000 + i), f"Election post before the window {i}", 7_000_000, author="900000999",
                   created="2024-07-01T12:00:00.000Z") for i in range(10)]
    files = [write_jsonl("early.jsonl", [page(earlier, USER, "2024-11-01T12:00:00+00:00")]),
             write_jsonl("main.jsonl", [page(posts[i:i + 100], USER, "2024-11-05T12:00:00+00:00")
                                        for i in range(0, len(posts), 100)]
                         + [page(others + reposts + before, USER, "2024-11-05T12:00:00+00:00")]),
             write_jsonl("late.jsonl", [page(later, USER, "2024-11-20T12:00:00+00:00")])]
    assert ws.ingest_posts(files).ok

    fcs = [claimreview(url, f"Synthetic claim for {name} #{i}", "False" if i % 2 else "Pants on Fire")
           for name, (urls, _, _) in NARRATIVES.items() for i, url in enumerate(urls)]
    (tmp_path / "fc.json").write_text(json.dumps(fcs))
    ws.ingest_factchecks([tmp_path / "fc.json"])

    _notes_files(tmp_path, plan)
    assert ws.ingest_notes([tmp_path / "notes-00000.tsv", tmp_path / "noteStatusHistory-00000.tsv"],
                           snapshot_date=None).ok

    with ws.engine.begin() as conn:
        ids = {row.platform_id: row.id for row in conn.execute(repo.sa.select(repo.s.Post.id, repo.s.Post.platform_id))}
        fc_ids = {row.review_url: row.id for row in conn.execute(repo.sa.select(repo.s.FactCheck.id,
                                                                                 repo.s.FactCheck.review_url))}
        for n, (_, _, url) in enumerate(plan):
            if url:
                repo.write_matches(conn, ids[_pid(n)], [repo.CandidateRow(fc_ids[url], 1, 0.9, {}, 0.95, True)],
                                   "test-fixture", "v")
        # machine proposals that an analyst never confirmed, and one rejected: none may count
        for n in range(100, 110):
            repo.write_matches(conn, ids[_pid(n)], [repo.CandidateRow(fc_ids[NARRATIVES["mail ballots"][0][0]], 1, 0.9,
                                                                      {}, 0.99, True)], "test-fixture", "v")
    with ws.engine.connect() as conn:
        proposed = conn.execute(repo.sa.select(repo.s.Match.id, repo.s.Match.post_id)).all()
    for match_id, post_id in proposed:
        n = int(next(k for k, v in ids.items() if v == post_id)[-5:])
        if n < 87:
            ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
        elif n == 100:
            ws.decide(match_id, MatchStatus.REJECTED, "analyst@example.org")
    return ws


def _notes_files(tmp_path: Path, plan: list[tuple[str, int, str | None]]) -> None:
    """Notes on 40 of the 87 posts, none shown: too few ratings, rated not helpful, or helpful but
    saying the post is NOT misleading (X does not display those)."""
    fixtures = Path(__file__).resolve().parent / "fixtures" / "notes"
    note_header = (fixtures / "notes.tsv").read_text().splitlines()[0].split("\t")
    status_header = (fixtures / "noteStatusHistory.tsv").read_text().splitlines()[0].split("\t")
    notes, statuses = [], []
    for k in range(40):
        note_id = f"18600000000000{k:05d}"
        helpful_not_misleading = k % 10 == 0
        status = "CURRENTLY_RATED_HELPFUL" if helpful_not_misleading else (
            "NEEDS_MORE_RATINGS" if k % 2 else "CURRENTLY_RATED_NOT_HELPFUL")
        notes.append({"noteId": note_id, "noteAuthorParticipantId": "AUTHOR", "createdAtMillis": "1725000000000",
                      "tweetId": _pid(k), "classification": "NOT_MISLEADING" if helpful_not_misleading
                      else "MISINFORMED_OR_POTENTIALLY_MISLEADING", "summary": "SYNTHETIC note", "isMediaNote": "0"})
        statuses.append({"noteId": note_id, "noteAuthorParticipantId": "AUTHOR", "createdAtMillis": "1725000000000",
                         "timestampMillisOfCurrentStatus": "1730700000000", "currentStatus": status,
                         **({} if status == "NEEDS_MORE_RATINGS" else {
                             "timestampMillisOfFirstNonNMRStatus": "1726000000000", "firstNonNMRStatus": status,
                             "timestampMillisOfLatestNonNMRStatus": "1726000000000", "mostRecentNonNMRStatus": status})})
    for name, header, rows in (("notes-00000.tsv", note_header, notes),
                               ("noteStatusHistory-00000.tsv", status_header, statuses)):
        lines = ["\t".join(header)] + ["\t".join(row.get(col, "") for col in header) for row in rows]
        (tmp_path / name).write_text("\n".join(lines) + "\n")


def test_study_reproduces_the_ccdh_november_2024_figures(store: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    result = store.run_study(path)
    s = result.summary
    assert (s["posts"], s["total_views"], s["posts_views_unknown"]) == (87, 2_000_000_000, 0)
    assert [(c["claim_category"], c["posts"], c["views"]) for c in s["by_category"]] == [
        ("importing voters", 66, 1_300_000_000), ("unreliable voting systems", 19, 532_000_000),
        ("mail ballots", 2, 168_000_000)]
    t = result.topic_posts
    assert (t["posts"], t["views"], t["views_unknown"]) == (746, 17_100_000_000, 0)
    assert t["ad_equivalent_usd"] == 23_769_000.0  # ≈ $24 M at $1.39 CPM
    assert s["ad_equivalent_usd"] == 2_780_000.0
    assert (s["posts_with_note_shown"], s["views_on_posts_without_note"]) == (0, 2_000_000_000)
    assert s["posts_analyst_confirmed"] == 87 and s["posts_machine_proposed_only"] == 0
    cov = result.notes_coverage
    assert (cov["posts_with_proposed_notes"], cov["posts_with_proposed_notes_none_shown"], cov["share_none_shown"]) \
        == (40, 40, 1.0)
    # Views come from the 2024-11-05 snapshot, not the later one, and the methods say so.
    assert {r["views_observed_at"] for r in result.posts} == {"2024-11-05T12:00:00Z"}
    assert any("as of 2024-11-05" in line for line in result.methods)
    grown = next(r for r in result.posts if r["post_id"] == _pid(0))
    assert [h["views"] for h in grown["views_history"]] == [32_500_000, 65_000_000, 195_000_000]
    all_curve = result.views_over_time["all"]
    assert all_curve[-1]["views"] == 2_000_000_000 and all_curve[0]["observed_at"] == "2024-11-01T12:00:00Z"
    # Every figure is traceable: each row names its fact-check and who confirmed the match.
    assert all(r["fact_checks"][0]["match_method"] == "analyst-confirmed"
               and r["fact_checks"][0]["decided_by"] == "analyst@example.org"
               and r["fact_checks"][0]["url"].startswith("https://example.org/fc/") for r in result.posts)
    assert sum(w["posts"] for w in result.by_week) == 87
    assert result.by_account == [{"account": "example_account", "posts": 87, "views": 2_000_000_000, "views_unknown": 0}]
    assert result.study["accounts"][0]["followers_at_collection"] == 193_000_000
    lines = result.headline()
    assert lines[0].startswith("87 posts by @example_account repeat claims that fact-checkers rated false or "
                               "misleading; viewed 2,000,000,000 times.")
    assert "Priced as ads at $1.39 CPM: $23,769,000 for the on-topic posts" in lines[-1]
    # Same file and store, same report.
    again = store.run_study(path).to_dict()
    first = result.to_dict()
    first.pop("generated_at"), again.pop("generated_at")
    assert first == again


def test_study_with_machine_proposals_counts_them_apart(store: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "include": {**STUDY["include"], "matches": "proposed",
                                                         "min_confidence": 0.9}}))
    s = store.run_study(path).summary
    # 9 proposals above 0.9 (one of the ten was rejected by the analyst)
    assert (s["posts"], s["posts_analyst_confirmed"], s["posts_machine_proposed_only"]) == (96, 87, 9)


def test_unquoted_yaml_verdicts_are_words_not_booleans(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("title: t\nwindow: {from: 2024-01-01, to: 2024-01-31}\ninclude: {verdicts: [false, misleading]}\n")
    assert load_study(path).verdicts == ("false", "misleading")


@pytest.mark.parametrize(("patch", "message"), [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"window": {"from": "2024-08-01", "to": "2024-07-01"}}, "window is empty"),
    ({"window": {"from": "2024-08-01"}}, "'window' needs 'from' and 'to'"),
    ({"include": {"matches": "maybe"}}, "include.matches"),
    ({"include": {"kinds": ["story"]}}, "unknown kind 'story'"),
    ({"views": {"policy": "as_of"}}, "views.policy"),
    ({"cpm_usd": -1}, "cpm_usd"),
    ({"narratives": [{"name": "x"}]}, "give a description"),
    ({"topic": {"name": "t", "colour": 1}}, "unknown key 'colour'"),
])
def test_bad_study_files_fail_before_any_work(tmp_path: Path, patch: dict, message: str) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **patch}))
    with pytest.raises(StudyError, match=message):
        load_study(path)
