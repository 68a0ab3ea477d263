"""Claim vs narrative (issue 13 item 2): the matcher's label, the analyst's, and what studies and
reports count — headlines the posts that repeat a rated claim, narratives those that share it too."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from review_store import build
from typer.testing import CliRunner

import claimwatch
from claimwatch.analysis.report import Selection
from claimwatch.claims import relation
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.retrieval import Hit
from claimwatch.cli import app
from claimwatch.records import MatchStatus
from claimwatch.schemas import validate
from claimwatch.store import repo
from claimwatch.store import schema as s


@pytest.mark.parametrize(
    ("confidence", "cosine", "disputed", "expected"),
    [
        (0.9, 0.8, False, relation.REPEATS),
        (0.5, None, False, relation.REPEATS),  # at the threshold; no cosine needed
        (0.9, 0.8, True, relation.NARRATIVE),  # sure, but the post denies or debunks it
        (0.3, 0.65, False, relation.NARRATIVE),  # not sure it repeats, close in meaning
        (0.3, relation.NARRATIVE_COSINE, True, relation.NARRATIVE),
        (0.3, 0.59, False, None),  # neither: a candidate only
        (None, 0.59, False, None),
        (None, None, False, None),
    ],
)
def test_classify(confidence: float | None, cosine: float | None, disputed: bool, expected: str | None) -> None:
    assert relation.classify(confidence, cosine, 0.5, disputed) == expected


def _match_id(ws: claimwatch.Workspace, platform_id: str, rank: int = 1) -> tuple[int, int, int]:
    """(match id, post id, fact-check id) of a post's candidate at ``rank``."""
    with ws.engine.connect() as conn:
        row = conn.execute(
            sa.select(s.Match.id, s.Match.post_id, s.Match.factcheck_id)
            .join(s.Post, s.Post.id == s.Match.post_id)
            .where(s.Post.platform_id == platform_id, s.Match.rank == rank)
        ).one()
    return row.id, row.post_id, row.factcheck_id


def _label(ws: claimwatch.Workspace, platform_id: str, label: str) -> int:
    """Re-write a post's top match as the matcher would with ``label`` (a match nobody decided is
    replaced: a new id); returns its match id."""
    _, post_id, fc_id = _match_id(ws, platform_id)
    with ws.engine.begin() as conn:
        repo.write_matches(
            conn, post_id, [repo.CandidateRow(fc_id, 1, 0.7, {}, 0.4, True, label)], "test-fixture", "v2"
        )
    return _match_id(ws, platform_id)[0]


@pytest.fixture()
def store(tmp_path):
    ws, studies = build(tmp_path)
    return ws, studies / "election.yaml"


@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_a_narrative_only_post_is_out_of_the_headline_and_in_the_narrative(store) -> None:
    ws, study_file = store
    before = ws.run_study(study_file)
    _label(ws, "13", relation.NARRATIVE)  # "They shredded ballots…", 7,000 views, narrative "shredded ballots"
    after = ws.run_study(study_file)

    assert after.summary.posts == before.summary.posts - 1
    assert after.summary.total_views == before.summary.total_views - 7000
    assert "13" not in [r.post_id for r in after.posts]
    n = after.summary.narrative_only
    assert (n.posts, n.views, n.views_unknown) == (1, 7000, 0)
    excluded = {e.post_id: e for e in after.excluded_posts}
    assert [r.rule for r in excluded["13"].reasons] == ["relation"]
    assert excluded["13"].fact_checks[0].relation == relation.NARRATIVE
    # the narrative's views still count the post; "all" (the headline's posts) no longer does
    narrative = "shredded ballots"
    assert after.views_over_time[narrative][-1].views == before.views_over_time[narrative][-1].views
    assert after.views_over_time["all"][-1].views == before.views_over_time["all"][-1].views - 7000
    assert any("share a rated claim's narrative" in line or "shares a rated claim" in line for line in after.headline())
    validate(after.to_dict())

    report = ws.report(Selection())
    assert report.headline.narrative_only == 1
    row = next(r for r in report.rows if r.post_id == "13")
    assert not row.debunked and row.fact_check is not None and row.fact_check.relation == relation.NARRATIVE
    validate(report.to_dict())


@pytest.mark.slow
def test_the_analysts_label_wins_and_survives_rematching(store) -> None:
    ws, study_file = store
    match_id = _label(ws, "12", relation.REPEATS)
    decision = ws.decide(match_id, MatchStatus.CONFIRMED, "ana", relation="narrative")
    assert decision.relation == relation.NARRATIVE
    assert [d.relation for d in ws.match_history(match_id)] == [relation.NARRATIVE]
    _label(ws, "12", relation.REPEATS)  # the matcher runs again with its own view
    item = ws.review_item(match_id)
    top = next(c for c in item.candidates if c.match_id == match_id)
    assert (top.status, top.relation) == (MatchStatus.CONFIRMED, relation.NARRATIVE)
    result = ws.run_study(study_file)
    assert "12" not in [r.post_id for r in result.posts]
    assert result.summary.narrative_only.posts == 1

    # a confirmation without a label keeps the machine's as it was when confirmed
    other = _label(ws, "16", relation.REPEATS)
    assert ws.decide(other, MatchStatus.CONFIRMED, "ana").relation == relation.REPEATS
    _label(ws, "16", relation.NARRATIVE)
    assert next(c for c in ws.review_item(other).candidates if c.match_id == other).relation == relation.REPEATS
    # reopened: the machine's label again
    ws.decide(other, "reopened", "ana")
    assert next(c for c in ws.review_item(other).candidates if c.match_id == other).relation == relation.NARRATIVE


@pytest.mark.slow
def test_a_relation_goes_with_a_confirmation_only(store) -> None:
    ws, _ = store
    match_id, _, _ = _match_id(ws, "14")
    with pytest.raises(ValueError, match="with a confirmation only"):
        ws.decide(match_id, MatchStatus.REJECTED, "ana", relation="narrative")
    with pytest.raises(ValueError, match="relation 'echo': one of repeats, narrative"):
        ws.decide(match_id, MatchStatus.CONFIRMED, "ana", relation="echo")
    assert ws.match_history(match_id) == []  # nothing written


@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_cli_confirm_as(store) -> None:
    ws, _ = store
    match_id, _, _ = _match_id(ws, "14")
    db = str(ws.settings.db)
    runner = CliRunner()
    bad = runner.invoke(app, ["review", "confirm", str(match_id), "--by", "ana", "--as", "echo", "--db", db])
    assert bad.exit_code == 2 and "relation 'echo': one of repeats, narrative" in bad.output
    assert "Traceback" not in bad.output
    ok = runner.invoke(app, ["review", "confirm", str(match_id), "--by", "ana", "--as", "narrative", "--db", db])
    assert ok.exit_code == 0, ok.output
    assert f"match {match_id}: confirmed by ana" in ok.output and "shares the claim's narrative only" in ok.output
    queue = runner.invoke(app, ["review", "queue", "--status", "decided", "--db", db])
    assert "shares the claim's narrative only" in " ".join(queue.output.split())


def test_of_hit_reads_the_cosine_and_the_stance_cues_from_the_features() -> None:
    def hit(confidence: float, cos: float, denies: int = 0) -> Hit:
        f = np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32)
        f[FEATURE_NAMES.index("cos")] = cos
        f[FEATURE_NAMES.index("stance_denies")] = denies
        f[FEATURE_NAMES.index("stance_debunks")] = 0
        return Hit(0, "c", 1.0, confidence, f)

    assert relation.of_hit(hit(0.9, 0.8), 0.5) == relation.REPEATS
    assert relation.of_hit(hit(0.9, 0.8, denies=1), 0.5) == relation.NARRATIVE
    assert relation.of_hit(hit(0.2, 0.7), 0.5) == relation.NARRATIVE
    assert relation.of_hit(hit(0.2, 0.7), 0.5, cosine_comparable=False) is None  # another encoder's cosine


def test_the_stance_cues_are_not_read_for_a_post_in_another_language() -> None:
    f = np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32)
    f[FEATURE_NAMES.index("cos")] = 0.8
    f[FEATURE_NAMES.index("stance_denies")] = 1  # Spanish "No regales tu voto" read as an English "no"
    f[FEATURE_NAMES.index("stance_debunks")] = 0
    hit = Hit(0, "c", 1.0, 0.9, f)
    assert relation.of_hit(hit, 0.5) == relation.NARRATIVE
    assert relation.of_hit(hit, 0.5, stance=False) == relation.REPEATS


@pytest.mark.slow
def test_confirming_a_candidate_without_a_label_means_it_repeats(store) -> None:
    ws, _ = store
    match_id, _, _ = _match_id(ws, "14", rank=2)  # a candidate: the matcher gave it no relation
    assert ws.decide(match_id, MatchStatus.CONFIRMED, "ana").relation == relation.REPEATS


@pytest.mark.slow
def test_matches_without_a_label_count_as_repeats_and_the_methods_say_how_many(store) -> None:
    ws, study_file = store  # the fixture's matches were written with no relation, as before migration 0011
    result = ws.run_study(study_file)
    assert result.summary.posts > 0 and result.summary.narrative_only.posts == 0
    unlabelled = sum(fc.relation is None for r in result.posts for fc in r.fact_checks)
    assert unlabelled > 0
    assert any(
        f"{unlabelled} counted fact-check link" in line and "no claim vs narrative label" in line
        for line in result.methods
    )
