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

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from ccdh_store import STUDY, build_store, pid

import claimwatch
from claimwatch.analysis.study_blocks import Account, AccountTotal
from claimwatch.analysis.study_file import StudyError, load_study


@pytest.fixture()
def store(ws: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    return build_store(ws, tmp_path)


@pytest.mark.slow  # over half a second on 2 cores
def test_study_reproduces_the_ccdh_november_2024_figures(store: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    result = store.run_study(path)
    s = result.summary
    assert (s.posts, s.total_views, s.posts_views_unknown) == (87, 2_000_000_000, 0)
    assert [(c.claim_category, c.posts, c.views) for c in s.by_category] == [
        ("importing voters", 66, 1_300_000_000),
        ("unreliable voting systems", 19, 532_000_000),
        ("mail ballots", 2, 168_000_000),
    ]
    t = result.topic_posts
    assert (t.posts, t.views, t.views_unknown) == (746, 17_100_000_000, 0)
    assert t.ad_equivalent_usd == 23_769_000.0  # ≈ $24 M at $1.39 CPM
    assert s.ad_equivalent_usd == 2_780_000.0
    assert (s.posts_with_note_shown, s.views_on_posts_without_note) == (0, 2_000_000_000)
    assert s.posts_analyst_confirmed == 87 and s.posts_machine_proposed_only == 0
    cov = result.notes_coverage
    assert (cov.posts_with_proposed_notes, cov.posts_with_proposed_notes_none_shown, cov.share_none_shown) == (
        40,
        40,
        1.0,
    )
    # Views come from the 2024-11-05 snapshot, not the later one, and the methods say so.
    assert {r.views_observed_at for r in result.posts} == {datetime(2024, 11, 5, 12, tzinfo=UTC)}
    assert {r["views_observed_at"] for r in result.to_dict()["posts"]} == {"2024-11-05T12:00:00Z"}
    assert result.study.collected_at == datetime(2024, 11, 5, 12, tzinfo=UTC)
    assert any("as of 2024-11-05" in line for line in result.methods)
    grown = next(r for r in result.posts if r.post_id == pid(0))
    assert [h.views for h in grown.views_history] == [32_500_000, 65_000_000, 195_000_000]
    all_curve = result.views_over_time["all"]
    assert all_curve[-1].views == 2_000_000_000 and all_curve[0].observed_at == datetime(2024, 11, 1, 12, tzinfo=UTC)
    # Every figure is traceable: each row names its fact-check and who confirmed the match.
    assert all(
        r.fact_checks[0].match_method == "analyst-confirmed"
        and r.fact_checks[0].decided_by == "analyst@example.org"
        and r.fact_checks[0].url.startswith("https://example.org/fc/")
        for r in result.posts
    )
    assert sum(w.posts for w in result.by_week) == 87
    assert result.by_account == [AccountTotal("example_account", posts=87, views=2_000_000_000, views_unknown=0)]
    assert result.study.accounts[0].followers_at_collection == 193_000_000
    assert result.study.account == Account("x", "900000999", "example_account", followers_at_collection=193_000_000)
    lines = result.headline()
    assert lines[0].startswith(
        "87 posts by @example_account repeat claims that fact-checkers rated false or "
        "misleading; viewed 2,000,000,000 times."
    )
    assert "Priced as ads at $1.39 CPM: $23,769,000 for the on-topic posts" in lines[-1]
    # Same file and store, same report.
    again = store.run_study(path).to_dict()
    first = result.to_dict()
    first.pop("generated_at"), again.pop("generated_at")
    assert first == again


@pytest.mark.slow  # over half a second on 2 cores
def test_study_with_machine_proposals_counts_them_apart(store: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        yaml.safe_dump({**STUDY, "include": {**STUDY["include"], "matches": "proposed", "min_confidence": 0.9}})
    )
    s = store.run_study(path).summary
    # 9 proposals above 0.9 (one of the ten was rejected by the analyst)
    assert (s.posts, s.posts_analyst_confirmed, s.posts_machine_proposed_only) == (96, 87, 9)


def test_unquoted_yaml_verdicts_are_words_not_booleans(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("title: t\nwindow: {from: 2024-01-01, to: 2024-01-31}\ninclude: {verdicts: [false, misleading]}\n")
    assert load_study(path).verdicts == ("false", "misleading")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"window": {"from": "2024-08-01", "to": "2024-07-01"}}, "window is empty"),
        ({"window": {"from": "2024-08-01"}}, "'window' needs 'from' and 'to'"),
        ({"include": {"matches": "maybe"}}, "include.matches"),
        ({"include": {"kinds": ["story"]}}, "unknown kind 'story'"),
        ({"views": {"policy": "as_of"}}, "views.policy"),
        ({"cpm_usd": -1}, "cpm_usd"),
        ({"narratives": [{"name": "x"}]}, "give a description"),
        ({"topic": {"name": "t", "colour": 1}}, "unknown key 'colour'"),
    ],
)
def test_bad_study_files_fail_before_any_work(tmp_path: Path, patch: dict, message: str) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, **patch}))
    with pytest.raises(StudyError, match=message):
        load_study(path)
