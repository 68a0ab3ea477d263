"""Community Notes: readers, ingest into the store, and the per-post facts (shown now / ever shown)."""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from ccdh_store import propose
from conftest import FIXTURES, claimreview, page, post, run_reader
from typer.testing import CliRunner

import claimwatch
from claimwatch import ingest
from claimwatch.analysis.notes import Knowledge, post_notes, post_notes_by_id
from claimwatch.analysis.post_rows import community_notes
from claimwatch.analysis.study import StudyResult
from claimwatch.analysis.study_file import parse_study
from claimwatch.cli import app
from claimwatch.records import MatchStatus, NoteStatus
from claimwatch.reports.charts import study_charts
from claimwatch.sources import cn_columns as c
from claimwatch.sources import cn_notes, cn_ratings, cn_status
from claimwatch.sources.base import FormatError
from claimwatch.sources.notes import detect_notes_format, sniff_notes_header
from claimwatch.store import schema as s

NOTES = FIXTURES / "notes"
POST_1, POST_2 = "1816000000000000001", "1816000000000000002"
SNAP_1, SNAP_2 = datetime(2024, 8, 1, tzinfo=UTC), datetime(2024, 9, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(dt: datetime) -> str:
    return str(int(dt.timestamp() * 1000))


def write_tsv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    path.write_text(
        "\t".join(columns) + "\n" + "".join("\t".join(r.get(k, "") for k in columns) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


JULY_1, JULY_20 = utc(2024, 7, 1), utc(2024, 7, 20)
NOTE_COLUMNS = [c.NOTE_ID, c.NOTE_AUTHOR, c.CREATED_AT_MILLIS, c.TWEET_ID, c.CLASSIFICATION, c.SUMMARY]
STATUS_COLUMNS = [
    c.NOTE_ID,
    c.CREATED_AT_MILLIS,
    c.FIRST_NON_NMR_AT,
    c.FIRST_NON_NMR_STATUS,
    c.CURRENT_STATUS_AT,
    c.CURRENT_STATUS,
    c.LATEST_NON_NMR_AT,
    c.LATEST_NON_NMR_STATUS,
    c.LOCKED_AT,
    c.LOCKED_STATUS,
]


def note(
    note_id: str, tweet_id: str = POST_1, classification: str = c.MISLEADING, created: datetime = JULY_1
) -> dict[str, str]:
    return {
        c.NOTE_ID: note_id,
        c.TWEET_ID: tweet_id,
        c.CLASSIFICATION: classification,
        c.CREATED_AT_MILLIS: ms(created),
        c.SUMMARY: f"SYNTHETIC note {note_id}",
    }


def status(
    note_id: str,
    current: str,
    *,
    first: tuple[str, datetime] | None = None,
    latest: tuple[str, datetime] | None = None,
    at: datetime = JULY_20,
    locked: tuple[str, datetime] | None = None,
) -> dict[str, str]:
    row = {c.NOTE_ID: note_id, c.CREATED_AT_MILLIS: ms(JULY_1), c.CURRENT_STATUS: current, c.CURRENT_STATUS_AT: ms(at)}
    for (status_column, at_column), value in (
        ((c.FIRST_NON_NMR_STATUS, c.FIRST_NON_NMR_AT), first),
        ((c.LATEST_NON_NMR_STATUS, c.LATEST_NON_NMR_AT), latest),
        ((c.LOCKED_STATUS, c.LOCKED_AT), locked),
    ):
        if value:
            row.update({status_column: value[0], at_column: ms(value[1])})
    return row


# ---------------------------------------------------------------------------- readers


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("notes.tsv", "cn-notes"),
        ("noteStatusHistory.tsv", "cn-status"),
        ("noteStatusHistory_old_format.tsv", "cn-status"),
        ("ratings.tsv", "cn-ratings"),
    ],
)
def test_files_are_told_apart_by_header(name: str, fmt: str) -> None:
    assert detect_notes_format(NOTES / name) == fmt


def test_notes_reader_refuses_float_ids_and_reads_quoted_text() -> None:
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
    fields = (
        "note_id",
        "current_status",
        "current_status_at",
        "first_non_nmr_status",
        "first_non_nmr_at",
        "latest_non_nmr_status",
        "latest_non_nmr_at",
    )
    assert [[getattr(p.record, f) for f in fields] for p in old] == [
        [getattr(p.record, f) for f in fields] for p in new
    ]
    assert old[0].record.raw["participantId"].startswith("8F686E1A")


# ---------------------------------------------------------------------------- every era of the downloads

NOTE_ERAS = ("notes_2021.tsv", "notes_2022.tsv", "notes_2023.tsv", "notes_current.tsv")
STATUS_ERAS = (
    "noteStatusHistory_2021.tsv",
    "noteStatusHistory_2022.tsv",
    "noteStatusHistory_2023.tsv",
    "noteStatusHistory_current.tsv",
)
RATING_ERAS = ("ratings_2021.tsv", "ratings_2021_v2.tsv", "ratings_2022.tsv", "ratings_2023.tsv", "ratings_current.tsv")
ERA_FORMATS = (
    [(n, "cn-notes") for n in NOTE_ERAS]
    + [(n, "cn-status") for n in STATUS_ERAS]
    + [(n, "cn-ratings") for n in RATING_ERAS]
)
FEB_1, FEB_2, FEB_3, FEB_17 = utc(2021, 2, 1), utc(2021, 2, 2), utc(2021, 2, 3), utc(2021, 2, 17)
ERA_NOTE_1, ERA_NOTE_2 = "1360000000000000001", "1360000000000000002"
REAL_2021_NOTES = (
    Path(__file__).resolve().parents[2] / "shared" / "formats" / "real-birdwatch2021_notes-00000_first300.tsv"
)


def header_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n", 1)[0].split("\t")


@pytest.mark.parametrize(("name", "fmt"), ERA_FORMATS)
def test_every_era_is_detected_from_its_header_alone(name: str, fmt: str) -> None:
    assert detect_notes_format(NOTES / name) == fmt
    assert sniff_notes_header(header_of(NOTES / name)) == fmt
    # as ``ingest posts`` reads a header: with commas, so one cell holding the tabs
    assert sniff_notes_header([(NOTES / name).read_text(encoding="utf-8").split("\n", 1)[0]]) == fmt


def test_sniffing_a_header_that_is_no_notes_file_says_none() -> None:
    assert sniff_notes_header(["id", "text", "created_at"]) is None
    assert sniff_notes_header(header_of(NOTES / "userEnrollment.tsv")) is None
    assert sniff_notes_header([c.NOTE_ID, c.CREATED_AT_MILLIS]) is None  # which file cannot be told


def test_notes_of_every_era_read_alike() -> None:
    seen = []
    for name in NOTE_ERAS:
        parsed, rejected = run_reader(cn_notes.read, NOTES / name, SNAP_1)
        assert not rejected and all(not p.warnings for p in parsed)
        seen.append(
            [(n.note_id, n.tweet_id, n.classification, n.created_at, n.author_id) for n in (p.record for p in parsed)]
        )
    assert seen[0] == [
        (ERA_NOTE_1, "1359000000000000001", c.MISLEADING, FEB_1, "0A1B2C3D4E5F60718293A4B5C6D7E8F9"),
        (ERA_NOTE_2, "1359000000000000002", c.NOT_MISLEADING, FEB_2, "F9E8D7C6B5A4938271605F4E3D2C1B0A"),
    ]
    assert all(era == seen[0] for era in seen)


def test_status_history_of_every_era_reads_what_it_has_and_nothing_more() -> None:
    crh = c.CURRENTLY_RATED_HELPFUL
    by_era: dict[str, NoteStatus] = {}
    for name in STATUS_ERAS:
        parsed, rejected = run_reader(cn_status.read, NOTES / name, SNAP_1)
        assert not rejected and len(parsed) == 2 and all(not p.warnings for p in parsed)
        by_era[name] = parsed[0].record
        nmr = parsed[1].record
        assert (nmr.current_status, nmr.first_non_nmr_status, nmr.first_non_nmr_at) == (
            c.NEEDS_MORE_RATINGS,
            None,
            None,
        )
    for st in by_era.values():
        assert (
            st.note_id,
            st.created_at,
            st.current_status,
            st.current_status_at,
            st.first_non_nmr_status,
            st.first_non_nmr_at,
        ) == (ERA_NOTE_1, FEB_1, crh, FEB_3, crh, FEB_3)
    oldest, y2022, y2023, current = by_era.values()
    assert (oldest.latest_non_nmr_status, oldest.latest_non_nmr_at) == (None, None)  # no such column in 2021
    # 2022 spells timestampMillisOfMostRecentNonNMRStatus; today's files timestampMillisOfLatestNonNMRStatus
    assert c.LATEST_NON_NMR_AT_2022 in y2022.raw and c.LATEST_NON_NMR_AT not in y2022.raw
    assert all((st.latest_non_nmr_status, st.latest_non_nmr_at) == (crh, FEB_3) for st in (y2022, y2023, current))
    assert (y2022.locked_status, y2022.locked_at, y2022.decided_by) == (None, None, None)
    assert all(
        (st.locked_status, st.locked_at, st.decided_by) == (crh, FEB_17, "CoreModel (v1.1)") for st in (y2023, current)
    )


def test_ratings_of_every_era_count_alike() -> None:
    for name in RATING_ERAS:
        parsed, rejected = run_reader(cn_ratings.read, NOTES / name, SNAP_1)
        assert not rejected, name
        counts = {
            p.record.note_id: (p.record.ratings, p.record.helpful, p.record.somewhat_helpful, p.record.not_helpful)
            for p in parsed
        }
        assert counts == {ERA_NOTE_1: (3, 2, 0, 1), ERA_NOTE_2: (1, 0, 0, 1)}, name


@pytest.mark.slow
def test_a_download_of_each_era_lands_and_shows_the_same_facts(tmp_path: Path) -> None:
    facts = []
    for i, (notes, status) in enumerate(zip(NOTE_ERAS, STATUS_ERAS, strict=True)):
        ws = claimwatch.open(tmp_path / f"era{i}.db")
        rep = ws.ingest_notes([NOTES / notes, NOTES / status, NOTES / RATING_ERAS[i]], SNAP_1)
        assert (rep.quarantined, [f.read for f in rep.files]) == (0, [2, 2, 2])
        p = post_notes(ws.engine, ["1359000000000000001"])["1359000000000000001"]
        facts.append((p.proposed, p.shown_now, p.ever_shown, p.notes[0].first_shown_at, p.notes[0].ratings))
    assert facts[0] == (1, True, True, FEB_3, {"ratings": 3, "helpful": 2, "somewhat_helpful": 0, "not_helpful": 1})
    assert all(f == facts[0] for f in facts)


@pytest.mark.skipif(not REAL_2021_NOTES.exists(), reason="the real 2021 Birdwatch file is in ../shared/formats")
def test_the_real_2021_birdwatch_notes_file_is_read_whole() -> None:
    assert detect_notes_format(REAL_2021_NOTES) == "cn-notes"
    parsed, rejected = run_reader(cn_notes.read, REAL_2021_NOTES, SNAP_1)
    assert (len(parsed), rejected) == (300, [])
    notes = [p.record for p in parsed]
    assert all(n.author_id and len(n.author_id) == 32 for n in notes)  # from participantId
    assert all(n.created_at and n.created_at.year == 2021 for n in notes)
    assert {n.classification for n in notes} == {c.MISLEADING, c.NOT_MISLEADING}
    assert all(n.tweet_id.isdigit() and n.note_id.isdigit() for n in notes)
    assert notes[0].raw["believable"] == "BELIEVABLE_BY_MANY"


# ---------------------------------------------------------------------------- files that are no notes TSV

POSTS, FACTCHECKS = FIXTURES / "posts", FIXTURES / "factchecks"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (NOTES / "userEnrollment.tsv", "a Community Notes userEnrollment file"),
        (NOTES / "noteRequests_2024.tsv", "a Community Notes noteRequests file"),
        (POSTS / "generic_posts.csv", "looks like posts (id and text columns); use `claimwatch ingest posts`"),
        (POSTS / "twarc_csv_flattened.csv", "use `claimwatch ingest posts`"),
        (
            POSTS / "twarc2_search.jsonl",
            "looks like posts (twarc2), not a Community Notes TSV; use `claimwatch ingest posts`",
        ),
        (POSTS / "x_v2_page.json", "looks like posts (x-v2)"),
        (
            FACTCHECKS / "politifact_claimreviews.csv",
            "looks like fact-checks (claim and review columns); use `claimwatch ingest factchecks`",
        ),
        (FACTCHECKS / "claimreview_single.json", "looks like fact-checks (claimreview)"),
        (
            NOTES / "labels.jsonl",
            "looks like X label stream events (x-label-stream), not a Community Notes TSV; "
            "use `claimwatch ingest labels`",
        ),
    ],
)
def test_a_file_that_is_no_notes_tsv_is_refused_saying_what_it_is(path: Path, says: str) -> None:
    with pytest.raises(FormatError) as exc:
        detect_notes_format(path)
    message = str(exc.value)
    assert says in message and "\n" not in message and len(message) < 320


def test_the_header_shown_in_a_refusal_is_one_short_printable_line(tmp_path: Path) -> None:
    wide = tmp_path / "wide.tsv"
    wide.write_text("\t".join(f"column_{i}_{'x' * 50}\x1b[31m" for i in range(300)) + "\n1\n", encoding="utf-8")
    with pytest.raises(FormatError) as exc:
        detect_notes_format(wide)
    message = str(exc.value)
    assert message.startswith("not a Community Notes notes, noteStatusHistory or ratings TSV: no 'noteId' column")
    assert "\x1b" not in message and len(message) < 250 and message.endswith("more)")


def test_a_zipped_download_reads_like_the_plain_one(tmp_path: Path) -> None:
    """Downloads come as zip files holding one TSV each; they are read without unpacking."""
    import zipfile

    archive = tmp_path / "notes-00000.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(NOTES / "notes_current.tsv", "notes-00000.tsv")
    assert detect_notes_format(archive) == "cn-notes"
    plain, _ = run_reader(cn_notes.read, NOTES / "notes_current.tsv", SNAP_1)
    unpacked, rejected = run_reader(cn_notes.read, archive, SNAP_1)
    assert not rejected and [p.record.raw for p in unpacked] == [p.record.raw for p in plain]


def test_a_gzipped_download_reads_like_the_plain_one(tmp_path: Path) -> None:
    packed = tmp_path / "noteStatusHistory-00000.tsv.gz"
    packed.write_bytes(gzip.compress((NOTES / "noteStatusHistory_2022.tsv").read_bytes()))
    assert detect_notes_format(packed) == "cn-status"
    plain, _ = run_reader(cn_status.read, NOTES / "noteStatusHistory_2022.tsv", SNAP_1)
    unpacked, rejected = run_reader(cn_status.read, packed, SNAP_1)
    assert not rejected and [p.record.raw for p in unpacked] == [p.record.raw for p in plain]


def test_a_truncated_gzip_keeps_the_rows_before_the_break(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    rows = [note(str(1816100000000000000 + i)) for i in range(2000)]
    packed = gzip.compress(write_tsv(tmp_path / "n.tsv", rows, NOTE_COLUMNS).read_bytes())
    cut = tmp_path / "notes-00000.tsv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    rep = ingest.ingest_notes(ws.engine, [cut], snapshot_date=SNAP_1, batch_size=100)
    [f] = rep.files
    assert f.error and "cannot be read past line" in f.error
    assert 0 < ws.stats().notes == f.read < 2000


# ---------------------------------------------------------------------------- --map


@pytest.mark.slow  # over half a second on 2 cores
def test_map_names_a_renamed_column_and_is_recorded_in_the_run(ws: claimwatch.Workspace) -> None:
    rep = ws.ingest_notes([NOTES / "notes_renamed_column.tsv"], SNAP_1, column_map={"tweet_id": "postId"})
    assert (rep.files[0].format, rep.files[0].read, rep.quarantined) == ("cn-notes", 3, 0)
    assert post_notes(ws.engine, [POST_1])[POST_1].proposed == 3
    with ws.engine.connect() as conn:
        options = conn.scalar(sa.select(s.IngestRun.options).where(s.IngestRun.id == rep.run_id))
    assert options["column_map"] == {"tweet_id": "postId"}


def test_map_also_decides_detection(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    odd = tmp_path / "status.tsv"
    odd.write_text(
        f"{c.NOTE_ID}\t{c.CREATED_AT_MILLIS}\tstatus\n1\t{ms(JULY_1)}\t{c.NEEDS_MORE_RATINGS}\n", encoding="utf-8"
    )
    assert "cannot tell whether" in ws.ingest_notes([odd], SNAP_1).files[0].error
    rep = ws.ingest_notes([odd], SNAP_1, column_map={"current_status": "status"})
    assert (rep.files[0].format, rep.files[0].read) == ("cn-status", 1)


def test_map_to_a_column_the_file_lacks_fails_that_file_naming_the_columns(ws: claimwatch.Workspace) -> None:
    rep = ws.ingest_notes([NOTES / "notes_current.tsv"], SNAP_1, column_map={"tweet_id": "postID"})
    assert rep.files[0].error.startswith(
        "--map tweet_id=postID: no such column; the header has: noteId, "
        "noteAuthorParticipantId, createdAtMillis, tweetId"
    )
    assert "\n" not in rep.files[0].error and ws.stats().notes == 0


def test_map_of_an_unknown_field_is_refused_before_anything_is_read(ws: claimwatch.Workspace) -> None:
    with pytest.raises(FormatError, match=r"--map: unknown field tweetid; the fields are cn-notes: note_id, tweet_id"):
        ws.ingest_notes([NOTES / "notes_current.tsv"], SNAP_1, column_map={"tweetid": "tweetId"})
    assert ws.stats().ingest_runs == {}


# ---------------------------------------------------------------------------- ingest


def test_sample_download_lands_and_reingest_changes_nothing(ws: claimwatch.Workspace) -> None:
    files = [NOTES / "notes.tsv", NOTES / "noteStatusHistory.tsv", NOTES / "ratings.tsv"]
    first = ws.ingest_notes(files, SNAP_1)
    assert [f.read for f in first.files] == [4, 4, 2]
    assert [f.rejected for f in first.files] == [4, 0, 1]  # two bad ids, two duplicates; one bad rating
    before = ws.stats()
    assert (before.notes, before.note_status_rows, before.notes_with_rating_counts) == (4, 4, 2)
    again = ws.ingest_notes(files, SNAP_1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    after = ws.stats()
    assert replace(after, ingest_runs={}) == replace(before, ingest_runs={})  # all but the run counts


def test_duplicates_in_one_file_are_quarantined_naming_the_first(ws: claimwatch.Workspace) -> None:
    # batch_size 2 puts the copies in other batches than their originals: the store tells them apart
    for batch_size in (1000, 2):
        rep = ingest.ingest_notes(ws.engine, [NOTES / "notes.tsv"], snapshot_date=SNAP_1, batch_size=batch_size)
        assert rep.files[0].read == 4
    reasons = {q.location: q.reason for q in ws.quarantine(path="notes.tsv")}
    assert reasons["line 7"] == "duplicate of the record at line 3 (different content; the first was kept)"
    assert reasons["line 8"] == "duplicate of the record at line 4 (identical)"
    assert len(ws.quarantine(path="notes.tsv")) == 4  # the second run adds no entries
    with ws.engine.connect() as conn:
        kept = conn.scalar(sa.select(s.Note.raw).where(s.Note.note_id == "1816100000000000002"))
    assert "second proposed note" in kept[c.SUMMARY]


def test_missing_or_renamed_column_fails_the_file_before_any_row(ws: claimwatch.Workspace) -> None:
    rep = ws.ingest_notes([NOTES / "notes_renamed_column.tsv"], SNAP_1)
    assert rep.files[0].error.startswith("required column 'tweetId' is missing")
    assert not rep.ok and ws.stats().notes == 0
    [q] = ws.quarantine()
    assert q.source_path.endswith("notes_renamed_column.tsv") and "'tweetId'" in q.reason


@pytest.mark.slow  # over half a second on 2 cores
def test_snapshot_date_comes_from_the_option_or_the_latest_timestamp(ws: claimwatch.Workspace) -> None:
    given = ws.ingest_notes([NOTES / "noteStatusHistory.tsv"], SNAP_1).files[0]
    assert (given.observed_at, given.observed_at_source) == (SNAP_1.isoformat(), "--snapshot-date")
    latest = ws.ingest_notes([NOTES / "noteStatusHistory.tsv"]).files[0]
    assert (latest.observed_at, latest.observed_at_source) == (
        "2024-08-10T09:00:00+00:00",
        "latest timestamp in the file",
    )
    assert ws.stats().note_status_snapshots == 2


def test_conflicting_status_for_the_same_snapshot_keeps_the_first(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    a = write_tsv(tmp_path / "a.tsv", [status("1", c.NEEDS_MORE_RATINGS)], STATUS_COLUMNS)
    b = write_tsv(tmp_path / "b.tsv", [status("1", c.CURRENTLY_RATED_HELPFUL)], STATUS_COLUMNS)
    ws.ingest_notes([a], SNAP_1)
    rep = ws.ingest_notes([b], SNAP_1)
    assert (rep.inserted, rep.updated) == (0, 0)
    [q] = ws.quarantine(action="conflict")
    assert "conflicting status of note 1 in the snapshot of 2024-08-01" in q.reason and "a.tsv line 2" in q.reason


def test_ratings_are_counted_per_note(ws: claimwatch.Workspace) -> None:
    ws.ingest_notes([NOTES / "notes.tsv", NOTES / "ratings.tsv"], SNAP_1)
    facts = post_notes(ws.engine, [POST_1])[POST_1]
    ratings = {n.note_id: n.ratings for n in facts.notes}
    assert ratings["1816100000000000001"] == {"ratings": 2, "helpful": 1, "somewhat_helpful": 0, "not_helpful": 1}
    assert ratings["1816100000000000003"] is None
    [bad] = ws.quarantine(path="ratings.tsv")
    assert bad.location == "line 5" and "1.8161E+18" in bad.reason


# ---------------------------------------------------------------------------- no row stops an ingest (C1)
# A generator writes many malformed variants of a row among valid ones, in random order, and
# the test checks each by its line: valid rows land untouched, rows with one unusable field
# land with a field warning, every other bad row is quarantined alone with its line and reason.

OK, WARN, REJECT = "ok", "warn", "reject"
#: One row (its physical lines, as bytes) per note id.
RowMaker = Callable[[str], list[bytes]]


def _row(columns: list[str], values: dict[str, str]) -> list[str]:
    return [values.get(name, "") for name in columns]


def _line(values: list[str]) -> bytes:
    return "\t".join(values).encode("utf-8", "surrogateescape")


def _with(columns: list[str], base: Callable[[str], dict[str, str]], **changes: str) -> RowMaker:
    """A maker for ``base(note id)`` with some columns changed (``$ID`` stands for the note id)."""

    def make(nid: str) -> list[bytes]:
        values = {**base(nid), **{k.replace("__", ""): v.replace("$ID", nid) for k, v in changes.items()}}
        return [_line(_row(columns, values))]

    return make


def _cut(columns: list[str], base: Callable[[str], dict[str, str]], keep: int) -> RowMaker:
    return lambda nid: [_line(_row(columns, base(nid))[:keep])]


def _write_generated(
    path: Path,
    header: list[str],
    cases: list[tuple[str, RowMaker]],
    seed: int,
    *,
    bom: bool = False,
    newline: bytes = b"\n",
    packed: bool = False,
) -> dict[int, tuple[str, str]]:
    """Every case at least twice, shuffled, blank lines between some; returns {line: (outcome, note id)}."""
    rng = random.Random(seed)
    picks = cases * 2 + [rng.choice(cases) for _ in range(40)]
    rng.shuffle(picks)
    lines, expected = [_line(header)], {}
    for i, (outcome, make) in enumerate(picks):
        nid = str(1861000000000000000 + i)
        expected[len(lines) + 1] = (outcome, nid)
        lines += make(nid)
        if rng.random() < 0.1:
            lines.append(b"")
    data = (b"\xef\xbb\xbf" if bom else b"") + newline.join(lines) + newline
    path.write_bytes(gzip.compress(data) if packed else data)
    return expected


def _check_against_store(
    ws: claimwatch.Workspace, path: Path, expected: dict[int, tuple[str, str]], table: type, count: Callable[[], int]
) -> None:
    quarantine = ws.quarantine(limit=100_000)
    by_line: dict[str, list[dict]] = {}
    for q in quarantine:
        by_line.setdefault(q.location, []).append(q)
    with ws.engine.connect() as conn:
        stored = set(conn.scalars(sa.select(table.note_id)))
    for line, (outcome, nid) in expected.items():
        entries = by_line.pop(f"line {line}", [])
        assert all(q.source_path == str(path) and q.reason for q in entries)
        if outcome == OK:
            assert nid in stored and not entries, (line, entries)
        elif outcome == WARN:
            assert nid in stored and [q.action for q in entries] == ["field_dropped"], (line, entries)
        else:
            assert nid not in stored and [q.action for q in entries] == ["rejected"], (line, entries)
    assert not by_line  # nothing quarantined at a line no case started on
    assert count() == sum(outcome != REJECT for outcome, _ in expected.values())


NOTE_LAYOUT = header_of(NOTES / "notes_current.tsv")


def _valid_note(nid: str) -> dict[str, str]:
    return {
        c.NOTE_ID: nid,
        c.NOTE_AUTHOR: "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
        c.CREATED_AT_MILLIS: ms(JULY_1),
        c.TWEET_ID: POST_1,
        c.CLASSIFICATION: c.MISLEADING,
        c.SUMMARY: f"SYNTHETIC note {nid}",
        "isMediaNote": "0",
        "isCollaborativeNote": "0",
    }


def _note(**changes: str) -> RowMaker:
    return _with(NOTE_LAYOUT, _valid_note, **changes)


def _quoted_over_lines(nid: str) -> list[bytes]:
    values = _row(NOTE_LAYOUT, _valid_note(nid))
    i = NOTE_LAYOUT.index(c.SUMMARY)
    first = "\t".join(values[:i] + ['"SYNTHETIC ""quoted"" text\twith a tab'])
    return [first.encode(), ('and a second line"\t' + "\t".join(values[i + 1 :])).encode()]


def _not_utf8(nid: str) -> list[bytes]:
    return [_line(_row(NOTE_LAYOUT, _valid_note(nid))).replace(b"SYNTHETIC", b"SYNTHETIC \xff\xfe")]


NOTE_CASES: list[tuple[str, RowMaker]] = [
    (OK, _note()),
    (OK, _quoted_over_lines),
    (OK, _note(summary='a lone quote: the 5" screen')),
    (OK, _note(summary='"quoted" then a tail')),
    (OK, _note(summary="SYNTHETIC ünïcödé ✓ עברית \u202e")),
    (OK, _note(createdAtMillis=ms(JULY_1) + ".0")),
    (OK, _note(createdAtMillis="-1")),
    (OK, _cut(NOTE_LAYOUT, _valid_note, len(NOTE_LAYOUT) - 2)),  # only unread trailing columns absent
    *[
        (WARN, _note(createdAtMillis=v))
        for v in (
            "1" + "0" * 30,
            "-5",
            "9" * 20,
            "1e30",
            "１７２２０４９８０００００",
            "99999999999999",
            "1000",
            "1722049800000.5",
            "n/a",
        )
    ],
    (WARN, _note(classification="X" * 100)),
    (WARN, _note(classification="MISLEADING\x1b[31m")),
    (WARN, _note(noteAuthorParticipantId="not a hash!")),
    *[(REJECT, _note(noteId=v)) for v in ("1.86e18", "", " ", "9" * 25, "{}", "[1]", "٣٤٥", "-5", "true")],
    *[(REJECT, _note(tweetId=v)) for v in ("1.816e+18", "9" * 23, "1816000000000000001.0", "")],
    (REJECT, _note(summary="a NUL \x00 inside")),
    (REJECT, _not_utf8),
    (REJECT, lambda nid: [_line(_row(NOTE_LAYOUT, _valid_note(nid)) + ["one field too many"])]),
    (REJECT, _cut(NOTE_LAYOUT, _valid_note, 3)),  # ends before tweetId
    (REJECT, _note(summary='"a quote that never closes')),
    (REJECT, _note(summary="x" * 200_000)),
    (REJECT, lambda nid: [("\ufeff" + "\t".join(NOTE_LAYOUT)).encode()]),  # a second file's header, BOM and all
]


@pytest.mark.parametrize(
    ("seed", "bom", "newline", "packed"),
    [(1, False, b"\n", False), (2, True, b"\r\n", False), (3, False, b"\n", True), (4, True, b"\n", False)],
)
@pytest.mark.slow  # over half a second on 2 cores
def test_generated_bad_note_rows_cost_only_themselves(
    each_store: claimwatch.Workspace, tmp_path: Path, seed: int, bom: bool, newline: bytes, packed: bool
) -> None:
    ws = each_store
    path = tmp_path / ("notes-00000.tsv.gz" if packed else "notes-00000.tsv")
    expected = _write_generated(path, NOTE_LAYOUT, NOTE_CASES, seed, bom=bom, newline=newline, packed=packed)
    rep = ingest.ingest_notes(ws.engine, [path], batch_size=7)  # dated by its latest timestamp: a first pass
    assert rep.files[0].error is None and rep.files[0].observed_at == JULY_1.isoformat()
    _check_against_store(ws, path, expected, s.Note, lambda: ws.stats().notes)
    with ws.engine.connect() as conn:
        summaries = dict(conn.execute(sa.select(s.Note.note_id, s.Note.raw)).all())
    quoted = [nid for line, (o, nid) in expected.items() if o == OK and "second line" in str(summaries[nid])]
    assert quoted and all(
        summaries[n][c.SUMMARY]
        == 'SYNTHETIC "quoted" text\twith a tab\nand a second line'.replace("\n", newline.decode())
        for n in quoted
    )


STATUS_LAYOUT = header_of(NOTES / "noteStatusHistory_current.tsv")


def _valid_status(nid: str) -> dict[str, str]:
    return {
        c.NOTE_ID: nid,
        c.NOTE_AUTHOR: "0A1B2C3D4E5F60718293A4B5C6D7E8F9",
        c.CREATED_AT_MILLIS: ms(JULY_1),
        c.CURRENT_STATUS: c.CURRENTLY_RATED_HELPFUL,
        c.CURRENT_STATUS_AT: ms(JULY_20),
        c.LOCKED_STATUS: c.CURRENTLY_RATED_HELPFUL,
        c.LOCKED_AT: ms(JULY_20),
        c.DECIDED_BY: "CoreModel (v1.1)",
    }


def _status(**changes: str) -> RowMaker:
    return _with(STATUS_LAYOUT, _valid_status, **changes)


STATUS_CASES: list[tuple[str, RowMaker]] = [
    (OK, _status()),
    (OK, _cut(STATUS_LAYOUT, _valid_status, STATUS_LAYOUT.index(c.DECIDED_BY) + 1)),  # unread columns absent
    (WARN, _cut(STATUS_LAYOUT, _valid_status, STATUS_LAYOUT.index(c.DECIDED_BY))),  # currentDecidedBy absent
    (WARN, _status(timestampMillisOfStatusLock="1" + "0" * 40)),
    (WARN, _status(currentStatus="Y" * 65)),
    (REJECT, _cut(STATUS_LAYOUT, _valid_status, STATUS_LAYOUT.index(c.CURRENT_STATUS))),
    (REJECT, _status(noteId="1.86e+18")),
]


def test_generated_bad_status_rows_cost_only_themselves(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    ws = each_store
    path = tmp_path / "noteStatusHistory-00000.tsv"
    expected = _write_generated(path, STATUS_LAYOUT, STATUS_CASES, seed=5)
    rep = ws.ingest_notes([path], SNAP_1)
    assert rep.files[0].error is None
    _check_against_store(ws, path, expected, s.NoteStatus, lambda: ws.stats().note_status_rows)
    short = next(q for q in ws.quarantine(action="field_dropped", limit=1000) if "fields: no column" in q.reason)
    assert f"field {c.DECIDED_BY} = None: the row has 15 of 23 fields: no column {c.DECIDED_BY}" in short.reason


RATING_LAYOUT = header_of(NOTES / "ratings_2021_v2.tsv")


def _valid_rating(nid: str) -> dict[str, str]:
    return {
        c.NOTE_ID: "1360000000000000001",
        c.PARTICIPANT_ID: nid[-8:],
        c.CREATED_AT_MILLIS: ms(JULY_1),
        "version": "2",
        c.HELPFULNESS_LEVEL: c.SOMEWHAT_HELPFUL,
    }


def _rating(**changes: str) -> RowMaker:
    return _with(RATING_LAYOUT, _valid_rating, **changes)


@pytest.mark.slow  # over half a second on 2 cores
def test_generated_bad_rating_rows_are_left_out_of_the_counts(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    cases = [
        ("somewhat", _rating()),
        ("helpful", _rating(version="1", helpfulnessLevel="", helpful="1")),
        ("not", _rating(version="1", helpfulnessLevel="", notHelpful="1.0")),
        ("unknown", _rating(helpfulnessLevel="")),
        (REJECT, _rating(helpfulnessLevel="VERY_HELPFUL")),
        (REJECT, _rating(helpfulnessLevel="", helpful="2")),
        (REJECT, _rating(helpfulnessLevel="", helpful="1", notHelpful="1")),
        (REJECT, _cut(RATING_LAYOUT, _valid_rating, RATING_LAYOUT.index(c.HELPFULNESS_LEVEL))),
        (REJECT, _rating(noteId="1.36E+18")),
        (REJECT, _rating(noteId="٣٤٥")),
    ]
    path = tmp_path / "ratings-00000.tsv"
    expected = _write_generated(path, RATING_LAYOUT, cases, seed=6)
    parsed, rejected = run_reader(cn_ratings.read, path, SNAP_1)
    assert sorted(int(r.source.location.split()[1]) for r in rejected) == sorted(
        line for line, (kind, _) in expected.items() if kind == REJECT
    )
    kinds = [kind for kind, _ in expected.values()]
    [counts] = [p.record for p in parsed]
    assert (counts.ratings, counts.helpful, counts.somewhat_helpful, counts.not_helpful) == (
        len(kinds) - kinds.count(REJECT),
        kinds.count("helpful"),
        kinds.count("somewhat"),
        kinds.count("not"),
    )
    assert ws.ingest_notes([path], SNAP_1).quarantined == kinds.count(REJECT)


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


@pytest.mark.slow  # over half a second on 2 cores
def test_shown_now_and_ever_shown_on_hand_made_cases(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    crh, nmr, crnh = c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS, c.CURRENTLY_RATED_NOT_HELPFUL
    notes = write_tsv(
        tmp_path / "notes.tsv",
        [
            note("1", POST_1),
            note("2", POST_2),
            note("3", "3", c.NOT_MISLEADING),
            note("4", "4"),
            note("5", "5"),
            note("6", "6", created=utc(2024, 8, 15)),
            note("7", "7"),
        ],
        NOTE_COLUMNS,
    )
    history = write_tsv(
        tmp_path / "status.tsv",
        [
            status("1", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),  # shown
            status("2", nmr, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),  # was shown, lost it
            status("3", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10))),  # helpful, not misleading
            status("4", crnh, first=(crnh, utc(2024, 7, 10)), latest=(crnh, utc(2024, 7, 10))),  # never
            status("5", nmr),  # never
        ],
        STATUS_COLUMNS,
    )
    ws.ingest_notes([notes, history], SNAP_1)
    facts = post_notes(ws.engine, [POST_1, POST_2, "3", "4", "5", "6", "7"])
    got = {pid: (f.shown_now, f.ever_shown) for pid, f in facts.items()}
    # notes 6 and 7 are in no status snapshot: whether they were shown is unknown, not "no"
    assert got == {
        POST_1: (True, True),
        POST_2: (False, True),
        "3": (False, False),
        "4": (False, False),
        "5": (False, False),
        "6": (None, False),
        "7": (None, False),
    }
    assert facts[POST_2].notes[0].first_shown_at == utc(2024, 7, 10)
    assert (facts["7"].notes[0].status, facts["7"].shown_knowledge) == (None, Knowledge.UNKNOWN)
    assert {facts[k].shown_knowledge for k in (POST_1, POST_2, "3", "4", "5")} == {Knowledge.KNOWN}

    # as of a date after the snapshot, before note 6 was written
    early = post_notes(ws.engine, [POST_1, "6"], as_of=utc(2024, 8, 5))
    assert early[POST_1].shown_now and early["6"].proposed == 0


def test_as_of_reads_the_latest_snapshot_not_after_it(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    crh, nmr = c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS
    ws.ingest_notes([write_tsv(tmp_path / "n.tsv", [note("1")], NOTE_COLUMNS)], SNAP_1)
    ws.ingest_notes([write_tsv(tmp_path / "s1.tsv", [status("1", nmr)], STATUS_COLUMNS)], SNAP_1)
    ws.ingest_notes(
        [
            write_tsv(
                tmp_path / "s2.tsv",
                [status("1", crh, first=(crh, utc(2024, 8, 20)), latest=(crh, utc(2024, 8, 20)), at=utc(2024, 8, 20))],
                STATUS_COLUMNS,
            )
        ],
        SNAP_2,
    )
    assert ws.stats().note_status_rows == 2
    for as_of, shown, snapshot in ((utc(2024, 8, 15), False, SNAP_1), (SNAP_2, True, SNAP_2), (None, True, SNAP_2)):
        n = post_notes(ws.engine, [POST_1], as_of=as_of)[POST_1].notes[0]
        assert (n.shown_now, n.ever_shown, n.snapshot_at) == (shown, shown, snapshot)


@pytest.mark.slow
def test_a_note_missing_from_a_later_dated_download_counts_as_deleted(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    crh = c.CURRENTLY_RATED_HELPFUL
    shown = status("1", crh, first=(crh, utc(2024, 7, 10)), latest=(crh, utc(2024, 7, 10)))
    ws.ingest_notes(
        [
            write_tsv(tmp_path / "n1.tsv", [note("1"), note("2")], NOTE_COLUMNS),
            write_tsv(tmp_path / "s1.tsv", [shown], STATUS_COLUMNS),
        ],
        SNAP_1,
    )
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
    assert ws.stats().notes_on_stored_posts == 0
    ws.ingest_posts(
        [
            write_jsonl(
                "p.jsonl", [page([post(POST_1, "a post about ballots"), post("1816000000000000099", "no notes here")])]
            )
        ]
    )
    assert ws.stats().notes_on_stored_posts == 3
    with ws.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(s.Post.platform_id, s.Post.id)).all())
    facts = post_notes_by_id(ws.engine, list(ids.values()))
    assert facts[ids[POST_1]].shown_now and facts[ids[POST_1]].proposed == 3
    assert facts[ids["1816000000000000099"]].proposed == 0


# ---------------------------------------------------------------------------- status as of a date: known or not

CRH, NMR, CRNH = c.CURRENTLY_RATED_HELPFUL, c.NEEDS_MORE_RATINGS, c.CURRENTLY_RATED_NOT_HELPFUL
JULY_25_END = utc(2024, 7, 25, 23, 59, 59)  # "as_of: 2024-07-25" in a study file


def _store_notes(
    ws: claimwatch.Workspace,
    tmp_path: Path,
    notes: list[dict[str, str]],
    *snapshots: tuple[datetime, list[dict[str, str]]],
) -> None:
    ws.ingest_notes([write_tsv(tmp_path / "notes.tsv", notes, NOTE_COLUMNS)], SNAP_1)
    for i, (when, rows) in enumerate(snapshots):
        ws.ingest_notes([write_tsv(tmp_path / f"status-{i}.tsv", rows, STATUS_COLUMNS)], when)


def test_before_any_snapshot_a_later_snapshots_dated_statuses_decide_or_the_status_is_unknown(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    def d(day: int) -> datetime:
        return utc(2024, 7, day)

    later = [
        status("helpful", CRH, first=(CRH, d(10)), latest=(CRH, d(10)), at=d(10)),  # helpful since the 10th
        status("lost-later", NMR, first=(CRH, d(23)), latest=(CRH, d(23)), at=d(28)),  # helpful 23rd to 28th
        status("rated-later", CRH, first=(CRH, d(28)), latest=(CRH, d(28)), at=d(28)),  # first rated on the 28th
        status("never-rated", NMR, at=d(30)),
        status("locked", CRNH, first=(CRNH, d(15)), latest=(CRNH, d(31)), at=d(31), locked=(CRNH, d(20))),
        status("regained", CRH, first=(CRH, d(5)), latest=(CRH, d(28)), at=d(28)),  # lost and regained?
        status("no-latest", NMR, first=(CRH, d(10)), at=d(28)),  # a 2021-style row
    ]
    names = [r[c.NOTE_ID] for r in later] + ["no-row"]
    for r in later:  # note ids are digits: the n-th case is note n on post 10n
        r[c.NOTE_ID] = str(names.index(r[c.NOTE_ID]))
    _store_notes(ws, tmp_path, [note(str(n), tweet_id=f"{n}0") for n in range(len(names))], (SNAP_1, later))

    by_post = post_notes(ws.engine, [f"{n}0" for n in range(len(names))], as_of=JULY_25_END)
    facts = {name: by_post[f"{n}0"] for n, name in enumerate(names)}
    got = {name: (f.notes[0].status, f.notes[0].status_knowledge, f.shown_now) for name, f in facts.items()}
    inferred, unknown = Knowledge.INFERRED, Knowledge.UNKNOWN
    assert got == {
        "helpful": (CRH, inferred, True),
        "lost-later": (CRH, inferred, True),
        "rated-later": (NMR, inferred, False),
        "never-rated": (NMR, inferred, False),
        "locked": (CRNH, inferred, False),
        "regained": (None, unknown, None),
        "no-latest": (None, unknown, None),
        "no-row": (None, unknown, None),
    }
    lost_later = facts["lost-later"].notes[0]
    assert (lost_later.snapshot_at, lost_later.status_at, lost_later.first_shown_at) == (SNAP_1, d(23), d(23))
    assert "2024-07-28" in lost_later.status_reason and "snapshot of 2024-08-01" in lost_later.status_reason
    for i in ("regained", "no-latest"):
        assert facts[i].notes[0].status_reason == (
            "no status snapshot on or before 2024-07-25; the dated statuses of later snapshots cannot decide it"
        )
        assert facts[i].ever_shown, "rated helpful on the 5th / 10th: shown at some point, dated"
    assert facts["no-row"].status_reason == "no status snapshot on or before 2024-07-25"
    assert not facts["rated-later"].ever_shown and facts["rated-later"].notes[0].first_shown_at is None


def test_between_snapshots_the_earlier_one_says_and_later_ones_do_not_override_it(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    _store_notes(
        ws,
        tmp_path,
        [note("1")],
        (SNAP_1, [status("1", NMR, at=utc(2024, 7, 2))]),
        (SNAP_2, [status("1", CRH, first=(CRH, utc(2024, 8, 5)), latest=(CRH, utc(2024, 8, 5)), at=utc(2024, 8, 5))]),
    )
    between = post_notes(ws.engine, [POST_1], as_of=utc(2024, 8, 15))[POST_1]
    n = between.notes[0]
    assert (n.status, n.status_knowledge, n.status_reason, n.snapshot_at) == (NMR, Knowledge.KNOWN, None, SNAP_1)
    assert (between.shown_now, between.shown_knowledge) == (False, Knowledge.KNOWN)
    assert post_notes(ws.engine, [POST_1], as_of=SNAP_2)[POST_1].shown_now


def test_later_snapshots_that_disagree_leave_the_status_unknown(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    _store_notes(
        ws,
        tmp_path,
        [note("1")],
        (SNAP_1, [status("1", CRH, first=(CRH, utc(2024, 7, 20)), latest=(CRH, utc(2024, 7, 20)))]),
        (SNAP_2, [status("1", NMR, at=utc(2024, 7, 15))]),
    )  # "never rated, NMR since the 15th"
    n = post_notes(ws.engine, [POST_1], as_of=JULY_25_END)[POST_1].notes[0]
    assert (n.status, n.status_knowledge, n.shown_now) == (None, Knowledge.UNKNOWN, None)
    assert n.status_reason.endswith("later snapshots' dated statuses disagree")


def test_a_post_is_unknown_only_when_no_note_decides_it(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    _store_notes(
        ws,
        tmp_path,
        [
            note("1", "100"),
            note("2", "100"),  # one inferred shown, one unknown: shown decides
            note("3", "200"),
            note("4", "200"),  # one inferred not shown, one unknown: unknown
            note("5", "300", c.NOT_MISLEADING),  # never displayed, whatever its status
        ],
        (
            SNAP_1,
            [
                status("1", CRH, first=(CRH, utc(2024, 7, 10)), latest=(CRH, utc(2024, 7, 10)), at=utc(2024, 7, 10)),
                status("3", NMR, at=utc(2024, 7, 2)),
            ],
        ),
    )
    facts = post_notes(ws.engine, ["100", "200", "300"], as_of=JULY_25_END)
    got = {pid: (f.shown_now, f.shown_knowledge) for pid, f in facts.items()}
    assert got == {"100": (True, Knowledge.INFERRED), "200": (None, Knowledge.UNKNOWN), "300": (False, Knowledge.KNOWN)}
    assert facts["300"].status_reason is None, "a note never displayed needs no status"
    block = community_notes(facts["200"])
    assert (block.shown_now, block.shown_now_knowledge) == (None, "unknown")
    assert [n.status_knowledge for n in block.notes] == ["inferred", "unknown"]
    assert block.describe() == "2 proposed, status unknown: no status snapshot on or before 2024-07-25"
    assert community_notes(facts["100"]).describe() == "2 proposed, shown (inferred from a later snapshot)"


@pytest.mark.slow  # over half a second on 2 cores
def test_a_study_before_any_snapshot_says_the_status_is_unknown_never_none_shown(
    ws: claimwatch.Workspace, tmp_path: Path, write_jsonl
) -> None:
    """Issue 11 A2: "0 showed a Community Note … 4 showed none" although no status was known then."""
    pids = [f"18160000000000000{n:02d}" for n in range(5)]
    ws.ingest_posts(
        [
            write_jsonl(
                "p.jsonl", [page([post(p, f"ballots were shredded {n}", 1000 * (n + 1)) for n, p in enumerate(pids)])]
            )
        ]
    )
    (tmp_path / "fc.json").write_text(json.dumps([claimreview("https://example.org/fc/1", "Ballots were shredded")]))
    ws.ingest_factchecks([tmp_path / "fc.json"])
    for match_id in propose(ws, [(p, "https://example.org/fc/1") for p in pids]):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    # notes on four of the five posts; the only status snapshot is dated 2024-08-01
    _store_notes(
        ws,
        tmp_path,
        [note(str(n), pids[n]) for n in range(4)],
        (
            SNAP_1,
            [
                status("0", CRH, first=(CRH, utc(2024, 7, 23)), latest=(CRH, utc(2024, 7, 23)), at=utc(2024, 7, 23)),
                *(
                    status(
                        str(n), NMR, first=(CRH, utc(2024, 7, 5)), latest=(CRH, utc(2024, 7, 28)), at=utc(2024, 7, 30)
                    )
                    for n in range(1, 4)
                ),
            ],
        ),
    )

    def study(as_of: str) -> StudyResult:
        return ws.run_study(
            parse_study(
                {"title": "SYNTHETIC", "window": {"from": "2024-07-01", "to": "2024-07-31"}, "notes": {"as_of": as_of}}
            )
        )

    before = study("2024-07-25")
    cov = before.notes_coverage
    assert (cov.posts_with_note_shown, cov.posts_without_note_shown, cov.posts_note_status_unknown) == (1, 1, 3)
    assert (cov.posts_with_proposed_notes_none_shown, cov.posts_with_proposed_notes_status_unknown) == (0, 3)
    assert cov.share_none_shown == 0.0 and cov.posts_note_status_inferred == 1
    assert before.summary.posts_note_status_unknown == 3
    sentence = before.headline()[2]
    assert sentence == (
        "1 of them showed a Community Note; the 1 without one had 5,000 views; status unknown for 3: "
        "no status snapshot on or before 2024-07-25. 4 had notes proposed, 0 of those showed none "
        "(status unknown for 3). Whether a note was shown is inferred for 1 post from the dated "
        "statuses of a later snapshot."
    )
    rows = {r.post_id: r.community_notes for r in before.posts}
    assert [rows[p].shown_now for p in pids] == [True, None, None, None, False]
    chart = next(c for c in study_charts(before) if c.name == "notes_coverage")
    assert "notes proposed, none shown: 0 posts" in chart.alt and "notes proposed, status unknown: 3 posts" in chart.alt

    after = study("2024-08-01")  # the snapshot itself: everything known
    cov = after.notes_coverage
    assert (cov.posts_with_note_shown, cov.posts_without_note_shown, cov.posts_note_status_unknown) == (1, 4, 0)
    assert after.headline()[2].startswith(
        "1 of them showed a Community Note; the 4 without one had 14,000 views. "
        "4 had notes proposed, 3 of those showed none."
    )


# ---------------------------------------------------------------------------- CLI and PostgreSQL


def test_cli_ingest_notes_prints_the_snapshot_and_stats(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "ingest",
            "notes",
            str(NOTES / "notes.tsv"),
            str(NOTES / "noteStatusHistory.tsv"),
            str(NOTES / "notes_renamed_column.tsv"),
            "--db",
            db,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "[cn-notes]: read 4, quarantined 4" in res.output
    assert "(latest timestamp in the file; pass --snapshot-date to set it)" in res.output
    assert "required column 'tweetId' is missing" in res.output
    assert "ingested 8, updated 0, quarantined 5" in res.output
    res = runner.invoke(app, ["stats", "--db", db])
    assert "4 (0 on stored posts), 4 status rows in 1 snapshots" in res.output


@pytest.mark.slow
def test_cli_ingest_notes_map_and_wrong_files(tmp_path: Path) -> None:
    db, runner = str(tmp_path / "cli.db"), CliRunner()
    res = runner.invoke(
        app,
        [
            "ingest",
            "notes",
            str(NOTES / "notes_renamed_column.tsv"),
            "--map",
            "tweet_id=postId",
            "--snapshot-date",
            "2024-08-01",
            "--db",
            db,
        ],
    )
    assert res.exit_code == 0, res.output
    assert "[cn-notes]: read 3, quarantined 0" in res.output
    res = runner.invoke(
        app, ["ingest", "notes", str(NOTES / "notes_current.tsv"), "--map", "tweetid=postId", "--db", db]
    )
    assert res.exit_code == 2 and "error: --map: unknown field tweetid; the fields are" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["ingest", "notes", str(FIXTURES / "posts" / "generic_posts.csv"), "--db", db])
    assert res.exit_code == 1
    assert "this looks like posts (id and text columns); use `claimwatch ingest posts`. Header: tweet_id" in res.output


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
