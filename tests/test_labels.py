"""Platform label events: reading the X label stream, keeping every event, and label history per post."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from conftest import FIXTURES, page, post, run_reader
from typer.testing import CliRunner

import claimwatch
from claimwatch.analysis.labels import label_histories, label_histories_by_id
from claimwatch.cli import app
from claimwatch.sources import x_labels
from claimwatch.store import schema as s

LABELS = FIXTURES / "notes" / "labels.jsonl"
POST_1, POST_3, LATER = "1816000000000000001", "1816000000000000003", "1816000000000000009"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_reader_keeps_apply_and_remove_and_rejects_bad_lines() -> None:
    parsed, rejected = run_reader(x_labels.read, LABELS, utc(2024, 8, 1))
    events = [(p.record.platform_id, p.record.label, p.record.event_type, p.record.action) for p in parsed]
    assert events[:3] == [(POST_1, "notice", "misleading", "apply"), (POST_1, "notice", "misleading", "remove"),
                          (POST_3, "unviewable", "", "apply")]
    assert parsed[0].record.label_title == "SYNTHETIC SAMPLE label title" and parsed[1].record.label_title is None
    reasons = {r.source.location: r.reason for r in rejected}
    assert set(reasons) == {"line 4", "line 5", "line 7", "line 8"}
    assert "error message from the stream" in reasons["line 4"]
    assert "float" in reasons["line 5"] and "application 'toggle'" in reasons["line 7"]


def test_ingest_keeps_history_and_reingest_changes_nothing(ws: claimwatch.Workspace) -> None:
    first = ws.ingest_labels([LABELS])
    assert (first.inserted, first.files[0].read, first.files[0].rejected) == (4, 4, 5)  # 4 bad lines, 1 duplicate
    dup = [q for q in ws.quarantine() if q["location"] == "line 6"]
    assert dup[0]["reason"] == "duplicate of the record at line 1 (identical)"
    again = ws.ingest_labels([LABELS])
    assert (again.inserted, again.unchanged) == (0, 4)
    assert len(ws.quarantine()) == 5
    st = ws.stats()
    assert (st["label_events"], st["labelled_posts"]) == (4, 3)


def test_history_says_which_labels_a_post_carried_when(ws: claimwatch.Workspace) -> None:
    ws.ingest_labels([LABELS])
    h = label_histories(ws.engine, [POST_1, POST_3, "1816000000000000404"])
    [period] = h[POST_1].periods
    assert (period.title, period.start, period.end) == ("SYNTHETIC SAMPLE label title", utc(2024, 7, 28, 10, 15),
                                                        utc(2024, 7, 30, 8))
    assert [h[POST_1].carried_label_at(t) for t in (utc(2024, 7, 28), utc(2024, 7, 29), utc(2024, 7, 30, 8))] == [
        False, True, False]
    assert h[POST_3].carried_label_at(utc(2024, 12, 1)) and h[POST_3].periods[0].end is None
    assert not h["1816000000000000404"].ever_labelled
    # up to a date: the removal had not happened yet
    assert label_histories(ws.engine, [POST_1], until=utc(2024, 7, 29))[POST_1].periods[0].end is None


def test_a_remove_without_apply_means_the_label_predates_the_history(ws: claimwatch.Workspace, write_jsonl) -> None:
    remove_only = write_jsonl("remove.jsonl", [{"data": {"public_tweet_notice": {
        "tweet": {"id": POST_1}, "event_type": "misleading", "event_at": "2024-07-30T08:00:00Z", "application": "remove"}}}])
    ws.ingest_labels([remove_only])
    [period] = label_histories(ws.engine, [POST_1])[POST_1].periods
    assert (period.start, period.end) == (None, utc(2024, 7, 30, 8))
    assert label_histories(ws.engine, [POST_1])[POST_1].carried_label_at(utc(2024, 7, 1))


def test_events_for_unknown_posts_join_when_the_post_arrives(ws: claimwatch.Workspace, write_jsonl) -> None:
    ws.ingest_labels([LABELS])
    ws.ingest_posts([write_jsonl("p.jsonl", [page([post(LATER, "a post stored after its label"),
                                                  post("1816000000000000010", "never labelled")])])])
    with ws.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(s.Post.platform_id, s.Post.id)).all())
    h = label_histories_by_id(ws.engine, list(ids.values()))
    assert h[ids[LATER]].carried_label_at(utc(2024, 7, 30)) and not h[ids["1816000000000000010"]].ever_labelled


def test_a_conflicting_copy_from_another_file_keeps_the_first(ws: claimwatch.Workspace) -> None:
    ws.ingest_labels([LABELS])
    rep = ws.ingest_labels([FIXTURES / "notes" / "labels_conflict.jsonl"])
    assert (rep.inserted, rep.updated) == (0, 0)
    [q] = ws.quarantine(action="conflict")
    assert q["reason"].startswith("conflicting apply of the notice label 'misleading' on post 1816000000000000001")
    assert label_histories(ws.engine, [POST_1])[POST_1].periods[0].title == "SYNTHETIC SAMPLE label title"


def test_cli_ingest_labels_and_wrong_file(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    res = CliRunner().invoke(app, ["ingest", "labels", str(LABELS), str(FIXTURES / "posts" / "twarc2_search.jsonl"),
                                   "--db", db])
    assert res.exit_code == 0, res.output
    assert "[x-label-stream]: read 4, quarantined 5" in res.output
    assert "no X label stream event" in res.output
    assert "4 on 3 posts" in CliRunner().invoke(app, ["stats", "--db", db]).output
