"""No record stops an ingest: hostile values, broken CSV quoting, compressed files, FIFOs, and
records the store refuses. The big cases are generated, so the guarantees are checked at scale."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import page, post

import claimwatch
from claimwatch import ingest
from claimwatch.records import Post, ReadResult
from claimwatch.sources import generic
from claimwatch.sources.base import (
    MAX_PLAUSIBLE_COUNT,
    MAX_RECORD_LINES,
    ReadContext,
    iter_csv_rows,
    load_json,
    parse_time,
    str_id,
    to_count,
)
from claimwatch.store import repo
from claimwatch.store import schema as s
from claimwatch.store.rows import QuarantineEntry

HEADER = ["id", "author_handle", "created_at", "text", "views", "likes"]


def _views(ws: claimwatch.Workspace) -> dict[str, int | None]:
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.Post.platform_id, s.MetricSnapshot.views).join(
                s.MetricSnapshot, s.MetricSnapshot.post_id == s.Post.id, isouter=True
            )
        )
        return {pid: views for pid, views in rows}


def _quarantine(ws: claimwatch.Workspace) -> list[QuarantineEntry]:
    return ws.quarantine(limit=100_000)


# ---------------------------------------------------------------- counts, ids, times


@pytest.mark.parametrize(
    "text, count",
    [
        ("1,234,567", 1_234_567),
        ("1 234 567", 1_234_567),
        ("1\u00a0234\u00a0567", 1_234_567),
        ("1\u202f234", 1_234),
        ("1'234'567", 1_234_567),
        ("1.234.567", 1_234_567),
        ("12", 12),
        ("12.0", 12),
        (" 999,000 ", 999_000),
    ],
)
def test_exact_counts_with_thousands_separators_are_numbers(text: str, count: int) -> None:
    assert to_count(text, "views") == (count, None)


@pytest.mark.parametrize("text", ["1.2K", "3M", "1.234", "1,23,4", "12,34", "1 23", "n/a", "1e30", "12 345 678 9"])
def test_abbreviated_ambiguous_or_foreign_counts_stay_unknown_with_a_reason(text: str) -> None:
    value, warning = to_count(text, "views")
    assert value is None and warning is not None and warning.field == "views"


@pytest.mark.parametrize("value", [10**19, 2**63, 1e30, "9223372036854775807", MAX_PLAUSIBLE_COUNT + 1])
def test_implausible_counts_are_refused_never_summed(value: object) -> None:
    count, warning = to_count(value, "views")
    assert count is None and "implausible" in warning.reason


@pytest.mark.parametrize("value", [{"id": 1}, [1, 2], 1.5])
def test_objects_arrays_and_floats_are_not_ids(value: object) -> None:
    with pytest.raises(ValueError, match="id"):
        str_id(value)


@pytest.mark.parametrize("value", [1e30, -1e20, 10**20, "0001-01-01T00:00:00+05:00", 10**400])
def test_times_out_of_range_are_value_errors(value: object) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 50_000, '{"a": tru}'])
def test_json_that_python_cannot_hold_is_a_plain_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        load_json(text)


@pytest.mark.parametrize("number", ["9" * 5000, "1e400", "NaN", "-Infinity"])
def test_numbers_no_store_can_hold_stay_text_and_become_unknown_counts(number: str) -> None:
    value = load_json('{"views": ' + number + "}")["views"]
    assert value == number
    count, warning = to_count(value, "views")
    assert count is None and warning is not None


def test_a_lone_surrogate_escape_becomes_a_replacement_character() -> None:
    assert load_json('{"text": "a\\ud800b \\ud83d\\ude00"}')["text"] == "a\ufffdb \U0001f600"


# ---------------------------------------------------------------- CSV records


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *rows])
    return out.getvalue()


def _row(i: int, text: str | None = None) -> list[str]:
    return [str(1000 + i), "demo_account", "2024-07-01T10:00:00Z", text or f"post number {i}", str(10 * i), "1"]


@pytest.mark.slow  # over half a second on 2 cores
def test_a_stray_quote_costs_one_line_not_the_rest_of_the_file(tmp_path: Path) -> None:
    lines = _csv_text([_row(i) for i in range(30_000)]).splitlines(keepends=True)
    lines[5] = '1005,demo_account,2024-07-01T10:00:00Z,"an unclosed quote,50,1\n'
    path = tmp_path / "stray.csv"
    path.write_text("".join(lines))
    results = list(iter_csv_rows(path, "csv"))
    bad = [rej for _, row, rej in results if rej]
    assert len(bad) == 1 and bad[0].source.location == "line 6" and "never closes" in bad[0].reason
    assert sum(1 for _, row, _ in results if row) == 29_999


def test_a_stray_quote_at_the_very_end_is_one_rejection(tmp_path: Path) -> None:
    path = tmp_path / "end.csv"
    path.write_text(_csv_text([_row(1), _row(2)]) + '1003,demo_account,2024-07-01,"open to the end,5,1\n')
    results = list(iter_csv_rows(path, "csv"))
    assert [row["id"] for _, row, _ in results if row] == ["1001", "1002"]
    assert [rej.source.location for _, _, rej in results if rej] == ["line 4"]


def test_quotes_inside_unquoted_fields_and_multiline_quoted_text_read_like_the_csv_module(tmp_path: Path) -> None:
    rows = [
        _row(1, 'a 5" screen and "quoted" words'),
        _row(2, "two\nlines, and a comma"),
        _row(3, 'ends with a quote "'),
        _row(4, '"fully quoted" start'),
    ]
    text = _csv_text(rows).replace('"a 5"" screen and ""quoted"" words"', 'a 5" screen and "quoted" words')
    path = tmp_path / "quotes.csv"
    path.write_text(text)
    got = [row for _, row, rej in iter_csv_rows(path, "csv") if row]
    assert got == list(csv.DictReader(io.StringIO(text)))
    assert got[1]["text"] == "two\nlines, and a comma"


@pytest.mark.slow  # over half a second on 2 cores
def test_a_quoted_field_longer_than_the_limit_is_judged_a_stray_quote(tmp_path: Path) -> None:
    long_text = "\n".join(["line"] * (MAX_RECORD_LINES + 10))
    path = tmp_path / "long.csv"
    path.write_text(_csv_text([_row(1, long_text), _row(2)]))
    results = list(iter_csv_rows(path, "csv"))
    assert results[0][2] is not None and results[0][2].source.location == "line 2"
    assert any(row and row["id"] == "1002" for _, row, _ in results)


def test_rows_with_too_few_or_too_many_fields_are_rejected_not_padded(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text(
        _csv_text([_row(1)])
        + "1002,demo_account,2024-07-01T10:00:00Z,cut here\n"
        + "continued text,50,1\n"
        + "1003,a,2024-07-01,t,1,2,extra\n"
        + ",".join(_row(4))
        + "\n"
    )
    results = list(iter_csv_rows(path, "csv"))
    assert [row["id"] for _, row, _ in results if row] == ["1001", "1004"]
    reasons = {rej.source.location: rej.reason for _, _, rej in results if rej}
    assert reasons["line 3"].startswith("4 fields but the header has 6")
    assert reasons["line 4"].startswith("3 fields") and reasons["line 5"].startswith("7 fields")


@pytest.mark.slow
def test_a_bad_byte_in_the_header_or_first_row_does_not_refuse_the_file(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    body = _csv_text([_row(i) for i in range(1, 11)]).encode()
    header, rows = body.split(b"\n", 1)
    path = tmp_path / "latin.csv"
    path.write_bytes(header + b",caf\xe9\n" + rows.replace(b"\n", b",x\n").replace(b"post number 1,", b"caf\xe9 1,"))
    report = ws.ingest_posts([path], observed_at=parse_time("2024-08-01T00:00:00Z"))
    assert report.files[0].error is None
    assert report.inserted == 9 and report.quarantined == 1
    [entry] = _quarantine(ws)
    assert entry.location == "line 2" and "not valid UTF-8" in entry.reason


# ---------------------------------------------------------------- whole ingests under hostile records


def _hostile_x_lines(n: int) -> Iterator[tuple[str, str, bool]]:
    """twarc2 lines: (line, post id, whether it holds a readable post). Every 37th line is
    hostile in some way; some readable posts carry counts no store can hold."""
    hostile = [
        "[" * 10_000 + "]" * 10_000,  # nested too deep for the parser
        "not json at all",
        json.dumps([1, 2, 3]),
        "\x00\x01\x02",
        '{"data": [{"id": {"$oid": "1"}, "text": "an object as id"}]}',
    ]
    for i in range(n):
        pid = str(10_000 + i)
        if i % 37 == 5:
            yield hostile[(i // 37) % len(hostile)], pid, False
        elif i % 53 == 0:
            yield json.dumps(page([post(pid, f"post {i}", 10**30)])), pid, True
        elif i % 59 == 0:
            line = json.dumps(page([post(pid, f"post {i}", 1)]))
            yield line.replace('"impression_count": 1', '"impression_count": ' + "9" * 5000), pid, True
        else:
            yield json.dumps(page([post(pid, f"post {i}", 1000 + i)])), pid, True


@pytest.mark.slow  # over a second on 2 cores
def test_hostile_records_in_a_big_archive_never_stop_the_ingest(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    lines = list(_hostile_x_lines(3_000))
    first = tmp_path / "big.jsonl"
    first.write_text("\n".join(line for line, _, _ in lines) + "\n")
    second = tmp_path / "after.jsonl"
    second.write_text(json.dumps(page([post("99", "the next file is read too")])) + "\n")
    report = ws.ingest_posts([first, second])
    good = sum(ok for _, _, ok in lines)
    assert report.files[0].error is None and report.files[1].read == 1
    assert report.inserted == good + 1
    assert report.quarantined == len(lines) - good
    views = _views(ws)
    huge = [str(10_000 + i) for i in range(3_000) if i % 37 != 5 and (i % 53 == 0 or i % 59 == 0)]
    assert huge and all(views[pid] is None for pid in huge)
    assert all(v is None or v < MAX_PLAUSIBLE_COUNT for v in views.values())
    again = ws.ingest_posts([first, second])
    assert again.inserted == 0 and again.snapshots_added == 0


def test_a_reader_bug_costs_the_rest_of_that_file_only(
    ws: claimwatch.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
        yield from generic.read_jsonl(path, ctx)
        raise KeyError("an unforeseen shape")

    monkeypatch.setitem(ingest.POST_FORMATS, "jsonl", buggy)
    a = tmp_path / "a.jsonl"
    a.write_text(json.dumps({"id": "1", "text": "first file"}) + "\n")
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps({"id": "2", "text": "second file"}) + "\n")
    report = ws.ingest_posts([a, b], fmt="jsonl", observed_at=parse_time("2024-08-01T00:00:00Z"))
    assert report.inserted == 2
    assert all("unexpected error (KeyError" in f.error and "line 1" in f.error for f in report.files)


def test_a_record_the_store_refuses_is_quarantined_and_the_rest_of_its_batch_lands(
    ws: claimwatch.Workspace, write_jsonl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the database refuses that nothing foresaw (here a constraint the store raises for
    post 2) costs its own record: the batch is retried record by record."""
    real = repo.upsert_posts

    def refusing(conn: sa.Connection, posts: list[Post], run_id: int | None) -> repo.BatchCounts:
        if any(p.platform_id == "2" for p in posts):
            raise sa.exc.IntegrityError("INSERT INTO posts", {}, Exception("CHECK constraint failed: a test rule"))
        return real(conn, posts, run_id)

    monkeypatch.setattr(repo, "upsert_posts", refusing)
    path = write_jsonl("p.jsonl", [page([post(str(i), f"text {i}", 10 * i) for i in range(5)])])
    report = ws.ingest_posts([path])
    assert report.inserted == 4 and report.quarantined == 1 and report.files[0].read == 4
    [entry] = _quarantine(ws)
    assert entry.location == "line 1 item 3"
    assert "post 2: the store refused it: CHECK constraint failed: a test rule" in entry.reason
    assert set(_views(ws)) == {"0", "1", "3", "4"}


def test_the_summary_counts_conflicting_observations(ws: claimwatch.Workspace, write_jsonl) -> None:
    first = write_jsonl("a.jsonl", [page([post("1", "same time, other numbers", 100)])])
    ws.ingest_posts([first])
    second = write_jsonl("b.jsonl", [page([post("1", "same time, other numbers", 999)])])
    report = ws.ingest_posts([second])
    assert report.conflicts == 1 and report.files[0].conflicts == 1
    assert "1 conflicting observations kept apart" in report.summary()


# ---------------------------------------------------------------- compressed files, FIFOs


def _compress(kind: str, data: bytes, tmp_path: Path) -> Path:
    if kind == "zip":
        path = tmp_path / "posts.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("posts.jsonl", data)
        return path
    opener = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[kind]
    path = tmp_path / f"posts.jsonl.{kind}"
    path.write_bytes(opener(data))
    return path


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
def test_compressed_archives_are_read_as_they_are(ws: claimwatch.Workspace, tmp_path: Path, kind: str) -> None:
    data = "".join(json.dumps(page([post(str(i), f"post {i}", 10 * i)])) + "\n" for i in range(1, 4)).encode()
    report = ws.ingest_posts([_compress(kind, data, tmp_path)])
    assert report.files[0].format == "twarc2" and report.inserted == 3
    assert _views(ws) == {"1": 10, "2": 20, "3": 30}


@pytest.mark.slow  # over half a second on 2 cores
def test_a_cut_gzip_keeps_what_was_read_and_says_why(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    data = "".join(json.dumps(page([post(str(i), f"post {i}")])) + "\n" for i in range(1, 2000)).encode()
    path = tmp_path / "cut.jsonl.gz"
    packed = gzip.compress(data)
    path.write_bytes(packed[: len(packed) // 2])
    report = ws.ingest_posts([path])
    assert 0 < report.inserted < 1999
    assert "damaged or cut short" in report.files[0].error


def test_a_zip_of_several_files_is_refused_naming_them(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.jsonl", "{}\n")
        zf.writestr("b.jsonl", "{}\n")
    report = ws.ingest_posts([path])
    assert "a zip archive holding 2 files (a.jsonl, b.jsonl)" in report.files[0].error


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("kind", ["posts", "factchecks", "notes", "labels"])
def test_a_fifo_is_refused_at_once(ws: claimwatch.Workspace, tmp_path: Path, kind: str) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    report = getattr(ws, f"ingest_{kind}")([fifo])
    assert report.files[0].error == "not a regular file" and report.quarantined == 1


def test_two_stray_quotes_cost_their_two_lines_not_the_rows_between(tmp_path: Path) -> None:
    """The first stray quote's field closes at the second one: the record that makes does not
    fit the header, so only the opening line is rejected and the rows between are read."""
    lines = _csv_text([_row(i) for i in range(20)]).splitlines(keepends=True)
    lines[3] = '1002,demo_account,2024-07-01T10:00:00Z,"stray one,20,1\n'
    lines[15] = '1014,demo_account,2024-07-01T10:00:00Z,"stray two,140,1\n'
    path = tmp_path / "two.csv"
    path.write_text("".join(lines))
    results = list(iter_csv_rows(path, "csv"))
    assert [rej.source.location for _, _, rej in results if rej] == ["line 4", "line 16"]
    assert len([row for _, row, _ in results if row]) == 18


def test_a_stray_quote_closed_by_a_quoted_field_of_the_next_row_costs_its_line(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,text,views\n1,"hello,5\n2,fine,"1,234"\n3,"multi\nline ""quoted"" text",7\n')
    results = list(iter_csv_rows(path, "csv"))
    assert [row for _, row, _ in results if row] == [
        {"id": "2", "text": "fine", "views": "1,234"},
        {"id": "3", "text": 'multi\nline "quoted" text', "views": "7"},
    ]
    assert [rej.source.location for _, _, rej in results if rej] == ["line 2"]


def test_a_first_json_line_without_an_id_costs_that_line_only(ws: claimwatch.Workspace, write_jsonl) -> None:
    path = write_jsonl("noid.jsonl", [{"text": "no id here"}, {"id": "2", "text": "fine"}, {"id": "3", "text": "too"}])
    report = ws.ingest_posts([path], observed_at=parse_time("2024-08-01T00:00:00Z"))
    assert report.files[0].error is None and report.inserted == 2
    [entry] = _quarantine(ws)
    assert entry.location == "line 1" and entry.reason.startswith("no id key among 'text'")


def test_a_json_lines_file_of_objects_without_ids_is_refused_whole(ws: claimwatch.Workspace, write_jsonl) -> None:
    path = write_jsonl("users.jsonl", [{"name": f"n{i}", "text": "x"} for i in range(30)])
    report = ws.ingest_posts([path], fmt="jsonl", observed_at=parse_time("2024-08-01T00:00:00Z"))
    assert report.files[0].error.startswith("the first 20 objects have no id (line 20: no id key among")
    assert report.inserted == 0 and report.quarantined == 1
