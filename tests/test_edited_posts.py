"""C2: a post whose text changed re-opens its matches.

Decisions stay as history, marked as made on the old text; they count again only for the
text they were made on. Machine proposals, analysis and match state for the old text go, so
the next ``match`` handles the post again. Runs on SQLite and (CLAIMWATCH_TEST_PG_URL) PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, claimreview, page, post

import claimwatch
from claimwatch import Selection
from claimwatch.analysis.study_file import parse_study
from claimwatch.records import MatchStatus
from claimwatch.reports.render import to_html, to_markdown
from claimwatch.store import db, repo
from claimwatch.store import schema as s

ORIGINAL = "Voting machines secretly switched votes between the candidates in Georgia."
EDITED = "Edited: I was wrong, the audit found the machines counted correctly."
FC_MACHINES, FC_AUDIT = "https://example.org/fc/machines", "https://example.org/fc/audit"


def _ingest(ws: claimwatch.Workspace, tmp_path: Path, text: str, name: str, views: int = 1000) -> None:
    path = tmp_path / name
    path.write_text(
        json.dumps(page([post("1", text, views), post("2", "An unrelated post about bread baking", 5)])) + "\n",
        encoding="utf-8",
    )
    assert ws.ingest_posts([path]).ok


def _setup(ws: claimwatch.Workspace, tmp_path: Path) -> dict[str, int]:
    """Post 1 with a confirmed match (machines) and a machine candidate (audit), analysed and matched."""
    fcs = tmp_path / "fc.json"
    fcs.write_text(
        json.dumps(
            [
                claimreview(FC_MACHINES, "Voting machines switched votes in Georgia", "False"),
                claimreview(FC_AUDIT, "The Georgia audit found miscounts", "Misleading"),
            ]
        )
    )
    ws.ingest_factchecks([fcs])
    _ingest(ws, tmp_path, ORIGINAL, "v1.jsonl")
    with ws.engine.begin() as conn:
        ids = _ids(conn)
        repo.write_matches(
            conn,
            ids["1"],
            [
                repo.CandidateRow(ids[FC_MACHINES], 1, 0.9, {}, 0.95, True),
                repo.CandidateRow(ids[FC_AUDIT], 2, 0.4, {}, None, False),
            ],
            "test",
            "v1",
        )
        repo.set_match_state(conn, ids["2"], "v1", None)
        repo.write_analysis(
            conn,
            [
                dict(
                    post_id=ids["1"],
                    lang="en",
                    lang_confidence=0.9,
                    checkworthiness=0.8,
                    claim_sentence=ORIGINAL,
                    claim_start=0,
                    claim_end=len(ORIGINAL),
                    sentence_scores=[],
                    models={},
                )
            ],
        )
    ids["match"] = _match(ws, FC_MACHINES)
    assert ws.decide(ids["match"], MatchStatus.CONFIRMED, "ana@example.org", "same claim")
    return ids


def _ids(conn: sa.Connection) -> dict[str, int]:
    out = {row.platform_id: row.id for row in conn.execute(sa.select(s.Post.id, s.Post.platform_id))}
    out.update({row.review_url: row.id for row in conn.execute(sa.select(s.FactCheck.id, s.FactCheck.review_url))})
    return out


def _match(ws: claimwatch.Workspace, url: str) -> int:
    with ws.engine.connect() as conn:
        return conn.scalar(
            sa.select(s.Match.id)
            .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
            .where(s.FactCheck.review_url == url)
        )


def _matches(ws: claimwatch.Workspace) -> dict[str, tuple[str, str | None, str | None]]:
    with ws.engine.connect() as conn:
        return {
            row.review_url: (row.status, row.decision, row.decided_by)
            for row in conn.execute(
                sa.select(s.FactCheck.review_url, s.Match.status, s.Match.decision, s.Match.decided_by).join(
                    s.FactCheck, s.FactCheck.id == s.Match.factcheck_id
                )
            )
        }


def _confirmed_only(ws: claimwatch.Workspace) -> claimwatch.Report:
    return ws.report(Selection(include_proposed=False))


@pytest.mark.slow  # over half a second on 2 cores
def test_an_edit_reopens_the_post_and_keeps_the_decision_as_history(
    each_store: claimwatch.Workspace, tmp_path: Path
) -> None:
    ids = _setup(each_store, tmp_path)
    assert _confirmed_only(each_store).headline.debunked_confirmed == 1
    _ingest(each_store, tmp_path, EDITED, "v2.jsonl")

    assert _matches(each_store) == {FC_MACHINES: ("outdated", "confirmed", "ana@example.org")}, (
        "the machine candidate for the old text is gone; the decision stays, outdated"
    )
    rep = _confirmed_only(each_store)
    assert rep.headline.debunked_posts == 0 and rep.headline.debunked_confirmed == 0
    assert rep.headline.decisions_on_earlier_text == 1
    assert "1 analyst decision was made on an earlier text" in rep.headline.sentence()
    [d] = rep.earlier_decisions
    assert (d.post_id, d.decision, d.decided_by, d.status, d.review_url, d.note) == (
        "1",
        "confirmed",
        "ana@example.org",
        "outdated",
        FC_MACHINES,
        "same claim",
    )
    assert each_store.report().headline.debunked_posts == 0, "not counted as proposed either"
    assert each_store.stats().matches["outdated"] == 1 and each_store.stats().decisions_on_earlier_text == 1
    with each_store.engine.connect() as conn:
        todo = {row.id for row in repo.posts_to_match(conn, "v1", rematch=False, max_chars=100)}
        assert todo == {ids["1"]}, "only the edited post is matched again"
        assert repo.analysis_for_posts(conn, [ids["1"]]) == {}, "the analysis of the old text is gone"
    assert "Decisions made on an earlier text of the post" in to_markdown(rep)
    assert 'id="earlier-decisions"' in to_html(rep) and "ana@example.org" in to_html(rep)


@pytest.mark.slow  # over half a second on 2 cores
def test_rematching_the_new_text_proposes_but_never_confirms(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    ids = _setup(each_store, tmp_path)
    _ingest(each_store, tmp_path, EDITED, "v2.jsonl")
    with each_store.engine.begin() as conn:  # the matcher ranks the same fact-check for the new text
        proposals = repo.write_matches(
            conn, ids["1"], [repo.CandidateRow(ids[FC_MACHINES], 1, 0.8, {}, 0.9, True)], "test", "v2"
        )
    assert proposals == 1
    assert _matches(each_store) == {FC_MACHINES: ("proposed", "confirmed", "ana@example.org")}
    assert each_store.stats().decisions_on_earlier_text == 1, "counted whatever the machine now says"
    rep = each_store.report()
    row = next(r for r in rep.rows if r.post_id == "1")
    assert row.fact_check.match_status == "proposed" and row.fact_check.decided_by is None
    assert row.fact_check.earlier_decision.startswith("confirmed by ana@example.org on ")
    assert (rep.headline.debunked_posts, rep.headline.debunked_confirmed, rep.headline.debunked_proposed_only) == (
        1,
        0,
        1,
    )
    assert _confirmed_only(each_store).headline.debunked_posts == 0
    with each_store.engine.begin() as conn:  # matched again, the pair is no longer ranked: back to outdated
        repo.write_matches(conn, ids["1"], [], "test", "v3")
    assert _matches(each_store)[FC_MACHINES][0] == "outdated"


@pytest.mark.slow
def test_re_review_on_the_new_text_counts_again(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    ids = _setup(each_store, tmp_path)
    _ingest(each_store, tmp_path, EDITED, "v2.jsonl")
    assert each_store.decide(ids["match"], MatchStatus.REJECTED, "bo@example.org", "no longer says it")
    rep = each_store.report()
    assert rep.earlier_decisions == [] and rep.headline.decisions_on_earlier_text == 0
    assert _matches(each_store) == {FC_MACHINES: ("rejected", "rejected", "bo@example.org")}


@pytest.mark.slow  # over half a second on 2 cores
def test_the_text_the_decision_was_made_on_restores_it(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    _setup(each_store, tmp_path)
    _ingest(each_store, tmp_path, EDITED, "v2.jsonl")
    _ingest(each_store, tmp_path, ORIGINAL, "v3.jsonl", views=2000)
    assert _matches(each_store) == {FC_MACHINES: ("confirmed", "confirmed", "ana@example.org")}
    assert _confirmed_only(each_store).headline.debunked_confirmed == 1


def test_a_parser_fix_that_only_decodes_entities_reopens_nothing(
    each_store: claimwatch.Workspace, tmp_path: Path
) -> None:
    _setup(each_store, tmp_path)
    _ingest(
        each_store, tmp_path, ORIGINAL.replace(" the ", " the  ").replace("Georgia", "Georgia &amp; beyond"), "a.jsonl"
    )
    _ingest(each_store, tmp_path, ORIGINAL.replace("Georgia", "Georgia & beyond"), "b.jsonl")
    assert _matches(each_store)[FC_MACHINES] == ("outdated", "confirmed", "ana@example.org"), "the first was an edit"
    assert repo.text_hash("a &amp; b\u00a0 c") == repo.text_hash("a & b c")


def test_a_study_does_not_count_a_decision_on_an_earlier_text(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    _setup(each_store, tmp_path)
    study = parse_study(
        {"title": "t", "window": {"from": "2024-07-01", "to": "2024-07-31"}, "include": {"matches": "confirmed"}}
    )
    assert each_store.run_study(study).summary.posts == 1
    _ingest(each_store, tmp_path, EDITED, "v2.jsonl")
    result = each_store.run_study(study)
    assert result.summary.posts == 0
    assert any("1 analyst decision was made on an earlier text" in m for m in result.methods)


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param(
            "postgres",
            marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL")],
        ),
    ],
)
@pytest.mark.slow  # over half a second on 2 cores
def test_migration_takes_existing_decisions_as_made_on_the_stored_text(backend: str, tmp_path: Path) -> None:
    """A store at 0004 with a confirmed match, upgraded: the decision counts, on the stored text."""
    from alembic import command

    url = str(tmp_path / "old.db") if backend == "sqlite" else PG_URL
    engine = db.create_engine(url)
    with db.writing(engine) as conn:
        s.Base.metadata.drop_all(conn)
        sa.Table("alembic_version", sa.MetaData()).drop(conn, checkfirst=True)
        command.upgrade(db._alembic_config(conn), "0004")
        when = datetime(2024, 1, 1, tzinfo=UTC)
        tables = sa.MetaData()
        tables.reflect(conn, only=["posts", "factchecks", "matches"])
        conn.execute(
            tables.tables["posts"]
            .insert()
            .values(
                id=1,
                platform="x",
                platform_id="1",
                text=ORIGINAL,
                kind="original",
                collected=True,
                raw={},
                content_hash="h",
                first_seen_at=when,
                updated_at=when,
            )
        )
        conn.execute(
            tables.tables["factchecks"]
            .insert()
            .values(
                id=1,
                review_url=FC_MACHINES,
                claim_key="k",
                claim_text="c",
                appearances=[],
                raw={},
                content_hash="h",
                verdict="false",
                verdict_method="table",
                first_seen_at=when,
                updated_at=when,
            )
        )
        conn.execute(
            tables.tables["matches"]
            .insert()
            .values(
                post_id=1,
                factcheck_id=1,
                rank=1,
                score=0.9,
                method="m",
                evidence={},
                status="confirmed",
                decided_by="ana",
                created_at=when,
                updated_at=when,
            )
        )
    engine.dispose()
    ws = claimwatch.open(url)
    assert _matches(ws) == {FC_MACHINES: ("confirmed", "confirmed", "ana")}
    with ws.engine.connect() as conn:
        assert conn.scalar(sa.select(s.Post.text_hash)) == repo.text_hash(ORIGINAL)
    assert _confirmed_only(ws).headline.debunked_confirmed == 1


@pytest.mark.slow
def test_match_rematches_only_the_edited_post_and_skips_one_edited_meanwhile(
    mws: claimwatch.Workspace, tmp_path: Path, monkeypatch
) -> None:
    _setup(mws, tmp_path)
    first = mws.match()
    assert first.posts_considered == 2
    _ingest(mws, tmp_path, EDITED, "v2.jsonl")
    again = mws.match()
    assert again.posts_considered == 1 and again.posts_matched == 1
    assert mws.match().posts_considered == 0

    _ingest(mws, tmp_path, ORIGINAL + " Share this.", "v3.jsonl")
    real = repo.current_text_hashes
    monkeypatch.setattr(
        repo,
        "current_text_hashes",  # an ingest edits the post while matching encodes it
        lambda conn, ids: {k: "edited-meanwhile" for k in real(conn, ids)},
    )
    raced = mws.match()
    assert raced.posts_matched == 0 and raced.skipped == {"text changed while matching (matched on the next run)": 1}
    monkeypatch.undo()
    assert mws.match().posts_matched == 1, "left for the next run, which matches it"
