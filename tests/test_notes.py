"""Community Notes: readers, ingest into the store, and the per-post facts (shown now / ever shown)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, page, post, run_reader
from typer.testing import CliRunner

import claimwatch
from claimwatch import ingest
from claimwatch.analysis.notes import post_notes, post_notes_by_id
from claimwatch.cli import app
from claimwatch.sources import cn_columns as c
from claimwatch.sources import cn_status
from claimwatch.sources.base import FormatError
from claimwatch.sources.notes import detect_notes_format
from claimwatch.store import schema as s

NOTES = FIXTURES / "notes"
POST_1, POST_2 = "1816000000000000001", "1816000000000000002"
SNAP_1, SNAP_2 = datetime(2024, 8, 1, tzinfo=UTC), datetime(2024, 9, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def write_tsv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    path.write_text("\t".join(columns) + "\n" + "".join("\t".join(r.get(k, "") for k in columns) + "\n" for r in rows),
                    encoding="utf-8")
    return path


JULY_1, JULY_20 = utc(2024, 7, 1), utc(2024, 7, 20)
NOTE_COLUMNS = [c.NOTE_ID, c.NOTE_AUTHOR, c.CREATED_AT_MILLIS, c.TWEET_ID, c.CLASSIFICATION, c.SUMMARY]
STATUS_COLUMNS = [*c.STATUS_REQUIRED, c.LOCKED_AT, c.LOCKED_STATUS]


def note(note_id: str, tweet_id: str = POST_1, classification: str = c.MISLEADING,
         created: datetime = JULY_1) -> dict[str, str]:
    return {c.NOTE_ID: note_id, c.TWEET_ID: tweet_id, c.CLASSIFICATION: classification, c.CREATED_AT_MILLIS: ms(created),
            c.SUMMARY: f"SYNTHETIC note {note_id}"}


def status(note_id: str, current: str, *, first: tuple[str, datetime] | None = None,
           latest: tuple[str, datetime] | None = None, at: datetime = JULY_20) -> dict[str, str]:
    row = {c.NOTE_ID: note_id, c.CREATED_AT_MILLIS: ms(JULY_1), c.CURRENT_STATUS: current,
           c.CURRENT_STATUS_AT: ms(at)}
    if first:
        row.update({c.FIRST_NON_NMR_STATUS: first[0], c.FIRST_NON_NMR_AT: ms(first[1])})
    if latest:
        row.update({c.LATEST_NON_NMR_STATUS: latest[0], c.LATEST_NON_NMR_AT: ms(latest[1])})
    return row


# ---------------------------------------------------------------------------- readers

@pytest.mark.parametrize(("name", "fmt"), [("notes.tsv", "cn-notes"), ("noteStatusHistory.tsv", "cn-status"),
                                           ("noteStatusHistory_old_format.tsv", "cn-status"),
                                           ("ratings.tsv", "cn-ratings")])
def test_files_are_told_apart_by_header(name: str, fmt: str) -> None:
    assert detect_notes_format(NOTES / name) == fmt


def test_other_community_notes_files_are_refused_by_name_of_the_missing_column(tmp_path: Path) -> None:
    enrollment = tmp_path / "userEnrollment-00000.tsv"
    enrollment.write_text("participantId\tenrollmentState\nABC\tearnedIn\n", encoding="utf-8")
    with pytest.raises(FormatError, match="no 'noteId' column"):
        detect_notes_format(enrollment)


def test_notes_reader_refuses_float_ids_and_reads_quoted_text() -> None:
    from claimwatch.sources import cn_notes

    parsed, rejected = run_reader(cn_notes.read, NOTES / "notes.tsv", SNAP_1)
    reasons = {r.source.location: r.reason for r in rejected}
    assert "1.8161e+18" in reasons["line 5"] and "refusing to round" in reasons["line 5"]
    assert "1816100000000000006.0" in reasons["line 6"]
    by_line = {p.record.source.location: p.record for p in parsed}
    assert by_line["line 7"].raw[c.SUMMARY].endswith('the 5" screen claim is wrong')
    assert by_line["line 9"].raw[c.SUMMARY] == 'SYNTHETIC SAMPLE "quoted" summary\nwith a line break'
    assert by_line["line 9"].tweet_id == POST_2 and all(len(p.record.tweet_id) == 19 for p in parsed)


def test_old_format_status_history_reads_like_the_current_one() -> None:
    new, _ = run_reader(cn_status.read, NOTES / "noteStatusHistory.tsv", SNAP_1)
    old, rejected = run_reader(cn_status.read, NOTES / "noteStatusHistory_old_format.tsv", SNAP_1)
    assert not rejected and len(old) == len(new) == 4
    fields = ("note_id", "current_status", "current_status_at", "first_non_nmr_status", "first_non_nmr_at",
              "latest_non_nmr_status", "latest_non_nmr_at")
    assert [[getattr(p.record, f) for f in fields] for p in old] == [[getattr(p.record, f) for f in fields] for p in new]
    assert old[0].record.raw["participantId"].startswith("8F686E1A")


# ---------------------------------------------------------------------------- ingest

def test_sample_download_lands_and_reingest_changes_nothing(ws: claimwatch.Workspace) -> None:
    files = [NOTES / "notes.tsv", NOTES / "noteStatusHistory.tsv", NOTES / "ratings.tsv"]
    first = ws.ingest_notes(files, SNAP_1)
    assert [f.read for f in first.files] == [4, 4, 2]
    assert [f.rejected for f in first.files] == [4, 0, 1]  # two bad ids, two duplicates; one bad rating
    before = ws.stats()
    assert (before["notes"], before["note_status_rows"], before["notes_with_rating_counts"]) == (4, 4, 2)
    again = ws.ingest_notes(files, SNAP_1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    after = ws.stats()
    assert {k: v for k, v in after.items() if k != "ingest_runs"} == {k: v for k, v in before.items() if k != "ingest_runs"}


def test_duplicates_in_one_file_are_quarantined_naming_the_first(ws: claimwatch.Workspace) -> None:
    # batch_size 2 puts the copies in other batches than their originals: the store tells them apart
    for batch_size in (1000, 2):
        rep = ingest.ingest_notes(ws.engine, [NOTES / "notes.tsv"], snapshot_date=SNAP_1, batch_size=batch_size)
        assert rep.files[0].read == 4
    reasons = {q["location"]: q["reason"] for q in ws.quarantine(path="notes.tsv")}
    assert reasons["line 7"] == "duplicate of the record at line 3 (different content; the first was kept)"
    assert reasons["line 8"] == "duplicate of the record at line 4 (identical)"
    assert len(ws.quarantine(path="notes.tsv")) == 4  # the second run adds no entries
    with ws.engine.connect() as conn:
        kept = conn.scalar(sa.select(s.Note.raw).where(s.Note.note_id == "1816100000000000002"))
    assert "second proposed note" in kept[c.SUMMARY]


def test_missing_or_renamed_column_fails_the_file_before_any_row(ws: claimwatch.Workspace) -> None:
    rep = ws.ingest_notes([NOTES / "notes_renamed_column.tsv"], SNAP_1)
    assert rep.files[0].error.startswith("required column 'tweetId' is missing")
    assert not rep.ok and ws.stats()["notes"] == 0
    [q] = ws.quarantine()
    assert q["source_path"].endswith("notes_renamed_column.tsv") and "'tweetId'" in q["reason"]


def test_snapshot_date_comes_from_the_option_or_the_latest_timestamp(ws: claimwatch.Workspace) -> None:
    given = ws.ingest_notes([NOTES / "noteStatusHistory.tsv"], SNAP_1).files[0]
    assert (given.observed_at, given.observed_at_source) == (SNAP_1.isoformat(), "--snapshot-date")
    latest = ws.ingest_notes([NOTES / "noteStatusHistory.tsv"]).files[0]
    assert (latest.observed_at, latest.observed_at_source) == ("2024-08-10T09:00:00+00:00",
                                                               "latest timestamp in the file")
    assert ws.stats()["note_status_snapshots"] == 2


def test_conflicting_status_for_the_same_snapshot_keeps_the_first(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    a = write_tsv(tmp_path / "a.tsv", [status("1", c.NEEDS_MORE_RATINGS)], STATUS_COLUMNS)
    b = write_tsv(tmp_path / "b.tsv", [status("1", c.CURRENTLY_RATED_HELPFUL)], STATUS_COLUMNS)
    ws.ingest_notes([a], SNAP_1)
    rep = ws.ingest_notes([b], SNAP_1)
    assert (rep.inserted, rep.updated) == (0, 0)
    [q] = ws.quarantine(action="conflict")
    assert "conflicting status of note 1 in the snapshot of 2024-08-01" in q["reason"] and "a.tsv line 2" in q["reason"]


def test_ratings_are_counted_per_note(ws: claimwatch.Workspace) -> None:
    ws.ingest_notes([NOTES / "notes.tsv", NOTES / "ratings.tsv"], SNAP_1)
    facts = post_notes(ws.engine, [POST_1])[POST_1]
    ratings = {n.note_id: n.ratings for n in facts.notes}
    assert ratings["1816100000000000001"] == {"ratings": 2, "helpful": 1, "somewhat_helpful": 0, "not_helpful": 1}
    assert ratings["1816100000000000003"] is None
    [bad] = ws.quarantine(path="ratings.tsv")
    assert bad["location"] == "line 5" and "1.8161E+18" in bad["reason"]


# ---------------------------------------------------------------------------- per-post facts

def test_sample_post_has_three_proposed_notes_one_shown(ws: claimwatch.Workspace) -> None:
    ws.ingest_notes([NOTES / "notes.tsv", NOTES / "noteStatusHistory.tsv"], SNAP_1)
    facts = post_notes(ws.engine, [POST_1, POST_2, "1816000000000000003"])
    p1 = facts[POST_1]
    assert (p1.proposed, p1.shown_now, p1.ever_shown, p1.shown_note_ids) == (3, True, True, ["1816100000000000001"])
    assert [n.status for n in p1.notes] == [c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS, c.NEEDS_MORE_RATINGS]
    assert p1.notes[0].first_shown_at == utc(2024, 7, 27, 9)
    assert (facts[POST_2].proposed, facts[POST_2].notes[0].status) == (1, None)  # no status row yet
    assert facts["1816000000000000003"].proposed == 0
    # note …0004 is in the status history only (deleted or not yet in a notes download): no post to attach to
    assert all("1816100000000000004" not in f.note_ids for f in facts.values())


def test_shown_now_and_ever_shown_on_hand_made_cases(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    crh, nmr, crnh = c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS, c.CURRENTLY_RATED_NOT_HELPFUL
    notes = write_tsv(tmp_path / "notes.tsv", [
        note("1", POST_1), note("2", POST_2), note("3", "3", c.NOT_MISLEADING), note("4", "4"),
        note("5", "5"), note("6", "6", created=utc(2024, 8, 15)), note("7", "7")], NOTE_COLUMNS)
    history = write_tsv(tmp_path / "status.tsv", [
        status("1", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),   # shown
        status("2", nmr, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),   # was shown, lost it
        status("3", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),   # helpful, not misleading
        status("4", crnh, first=(crnh, utc(2024, 7, 10)), latest=(crnh, utc(2024, 7, 10))),  # never
        status("5", nmr),                                                                   # never
    ], STATUS_COLUMNS)
    ws.ingest_notes([notes, history], SNAP_1)
    facts = post_notes(ws.engine, [POST_1, POST_2, "3", "4", "5", "6", "7"])
    got = {pid: (f.shown_now, f.ever_shown) for pid, f in facts.items()}
    assert got == {POST_1: (True, True), POST_2: (False, True), "3": (False, False), "4": (False, False),
                   "5": (False, False), "6": (False, False), "7": (False, False)}
    assert facts[POST_2].notes[0].first_shown_at == utc(2024, 7, 10)
    assert facts["7"].notes[0].status is None

    # as of a date: before the note was rated helpful, and before note 6 was written
    early = post_notes(ws.engine, [POST_1, "6"], as_of=utc(2024, 8, 5))
    assert early[POST_1].shown_now and early["6"].proposed == 0
    before_any_snapshot = post_notes(ws.engine, [POST_1], as_of=utc(2024, 7, 25))[POST_1]
    assert before_any_snapshot.notes[0].status is None and not before_any_snapshot.ever_shown


def test_as_of_reads_the_latest_snapshot_not_after_it(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    crh, nmr = c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS
    ws.ingest_notes([write_tsv(tmp_path / "n.tsv", [note("1")], NOTE_COLUMNS)], SNAP_1)
    ws.ingest_notes([write_tsv(tmp_path / "s1.tsv", [status("1", nmr)], STATUS_COLUMNS)], SNAP_1)
    ws.ingest_notes([write_tsv(tmp_path / "s2.tsv", [status("1", crh, first=(crh, utc(2024, 8, 20)),
                                                            latest=(crh, utc(2024, 8, 20)))], STATUS_COLUMNS)], SNAP_2)
    assert ws.stats()["note_status_rows"] == 2
    for as_of, shown, snapshot in ((utc(2024, 8, 15), False, SNAP_1), (SNAP_2, True, SNAP_2), (None, True, SNAP_2)):
        n = post_notes(ws.engine, [POST_1], as_of=as_of)[POST_1].notes[0]
        assert (n.shown_now, n.ever_shown, n.snapshot_at) == (shown, shown, snapshot)


def test_a_note_missing_from_a_later_dated_download_counts_as_deleted(ws: claimwatch.Workspace,
                                                                      tmp_path: Path) -> None:
    crh = c.CURRENTLY_RATED_HELPFUL
    shown = status("1", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10)))
    ws.ingest_notes([write_tsv(tmp_path / "n1.tsv", [note("1"), note("2")], NOTE_COLUMNS),
                     write_tsv(tmp_path / "s1.tsv", [shown], STATUS_COLUMNS)], SNAP_1)
    # the next download lacks note 1, dated by its own latest timestamp: maybe one shard of several
    ws.ingest_notes([write_tsv(tmp_path / "n2.tsv", [note("2", created=utc(2024, 8, 20))], NOTE_COLUMNS)])
    assert post_notes(ws.engine, [POST_1])[POST_1].shown_now
    # dated with --snapshot-date, its absence is a deletion
    ws.ingest_notes([write_tsv(tmp_path / "n3.tsv", [note("2")], NOTE_COLUMNS)], SNAP_2)
    n1 = post_notes(ws.engine, [POST_1])[POST_1].notes[0]
    assert (n1.note_id, n1.deleted_by, n1.shown_now, n1.ever_shown) == ("1", SNAP_2, False, True)
    assert post_notes(ws.engine, [POST_1], as_of=utc(2024, 8, 15))[POST_1].shown_now


def test_notes_join_posts_that_arrive_later(ws: claimwatch.Workspace, write_jsonl) -> None:
    ws.ingest_notes([NOTES / "notes.tsv", NOTES / "noteStatusHistory.tsv"], SNAP_1)
    assert ws.stats()["notes_on_stored_posts"] == 0
    ws.ingest_posts([write_jsonl("p.jsonl", [page([post(POST_1, "a post about ballots"),
                                                  post("1816000000000000099", "no notes here")])])])
    assert ws.stats()["notes_on_stored_posts"] == 3
    with ws.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(s.Post.platform_id, s.Post.id)).all())
    facts = post_notes_by_id(ws.engine, list(ids.values()))
    assert facts[ids[POST_1]].shown_now and facts[ids[POST_1]].proposed == 3
    assert facts[ids["1816000000000000099"]].proposed == 0


# ---------------------------------------------------------------------------- CLI and PostgreSQL

def test_cli_ingest_notes_prints_the_snapshot_and_stats(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "notes", str(NOTES / "notes.tsv"), str(NOTES / "noteStatusHistory.tsv"),
                              str(NOTES / "notes_renamed_column.tsv"), "--db", db])
    assert res.exit_code == 0, res.output
    assert "[cn-notes]: read 4, quarantined 4" in res.output
    assert "(latest timestamp in the file; pass --snapshot-date to set it)" in res.output
    assert "required column 'tweetId' is missing" in res.output
    assert "ingested 8, updated 0, quarantined 5" in res.output
    res = runner.invoke(app, ["stats", "--db", db])
    assert "4 (0 on stored posts), 4 status rows in 1 snapshots" in res.output


PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")


@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_notes_on_postgres(tmp_path: Path) -> None:
    assert PG_URL
    ws = claimwatch.open(PG_URL)
    ws.reset()
    files = [NOTES / "notes.tsv", NOTES / "noteStatusHistory.tsv", NOTES / "ratings.tsv"]
    first = ws.ingest_notes(files, SNAP_1)
    again = ws.ingest_notes(files, SNAP_1)
    assert (first.inserted, again.inserted, again.unchanged) == (10, 0, 10)
    p1 = post_notes(ws.engine, [POST_1], as_of=SNAP_1)[POST_1]
    assert (p1.proposed, p1.shown_note_ids) == (3, ["1816100000000000001"])
    with ws.engine.connect() as conn:
        assert conn.dialect.name == "postgresql"
        assert conn.scalar(sa.select(sa.func.count()).select_from(s.Note)) == 4
