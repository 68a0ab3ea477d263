"""Platform label events: reading the X label stream, keeping every event, and label history per post."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, page, post, run_reader
from typer.testing import CliRunner

import claimwatch
from claimwatch import ingest
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
    assert events[:3] == [
        (POST_1, "notice", "misleading", "apply"),
        (POST_1, "notice", "misleading", "remove"),
        (POST_3, "unviewable", "", "apply"),
    ]
    assert parsed[0].record.label_title == "SYNTHETIC SAMPLE label title" and parsed[1].record.label_title is None
    reasons = {r.source.location: r.reason for r in rejected}
    assert set(reasons) == {"line 4", "line 5", "line 7", "line 8"}
    assert "error message from the stream" in reasons["line 4"]
    assert "float" in reasons["line 5"] and "application 'toggle'" in reasons["line 7"]


def test_ingest_keeps_history_and_reingest_changes_nothing(ws: claimwatch.Workspace) -> None:
    first = ws.ingest_labels([LABELS])
    assert (first.inserted, first.files[0].read, first.files[0].rejected) == (4, 4, 5)  # 4 bad lines, 1 duplicate
    dup = [q for q in ws.quarantine() if q.location == "line 6"]
    assert dup[0].reason == "duplicate of the record at line 1 (identical)"
    again = ws.ingest_labels([LABELS])
    assert (again.inserted, again.unchanged) == (0, 4)
    assert len(ws.quarantine()) == 5
    st = ws.stats()
    assert (st.label_events, st.labelled_posts) == (4, 3)


@pytest.mark.slow
def test_history_says_which_labels_a_post_carried_when(ws: claimwatch.Workspace) -> None:
    ws.ingest_labels([LABELS])
    h = label_histories(ws.engine, [POST_1, POST_3, "1816000000000000404"])
    [period] = h[POST_1].periods
    assert (period.title, period.start, period.end) == (
        "SYNTHETIC SAMPLE label title",
        utc(2024, 7, 28, 10, 15),
        utc(2024, 7, 30, 8),
    )
    assert [h[POST_1].carried_label_at(t) for t in (utc(2024, 7, 28), utc(2024, 7, 29), utc(2024, 7, 30, 8))] == [
        False,
        True,
        False,
    ]
    assert h[POST_3].carried_label_at(utc(2024, 12, 1)) and h[POST_3].periods[0].end is None
    assert not h["1816000000000000404"].ever_labelled
    # up to a date: the removal had not happened yet
    assert label_histories(ws.engine, [POST_1], until=utc(2024, 7, 29))[POST_1].periods[0].end is None


def test_a_remove_without_apply_means_the_label_predates_the_history(ws: claimwatch.Workspace, write_jsonl) -> None:
    remove_only = write_jsonl(
        "remove.jsonl",
        [
            {
                "data": {
                    "public_tweet_notice": {
                        "tweet": {"id": POST_1},
                        "event_type": "misleading",
                        "event_at": "2024-07-30T08:00:00Z",
                        "application": "remove",
                    }
                }
            }
        ],
    )
    ws.ingest_labels([remove_only])
    [period] = label_histories(ws.engine, [POST_1])[POST_1].periods
    assert (period.start, period.end) == (None, utc(2024, 7, 30, 8))
    assert label_histories(ws.engine, [POST_1])[POST_1].carried_label_at(utc(2024, 7, 1))


def test_events_for_unknown_posts_join_when_the_post_arrives(ws: claimwatch.Workspace, write_jsonl) -> None:
    ws.ingest_labels([LABELS])
    ws.ingest_posts(
        [
            write_jsonl(
                "p.jsonl",
                [page([post(LATER, "a post stored after its label"), post("1816000000000000010", "never labelled")])],
            )
        ]
    )
    with ws.engine.connect() as conn:
        ids = dict(conn.execute(sa.select(s.Post.platform_id, s.Post.id)).all())
    h = label_histories_by_id(ws.engine, list(ids.values()))
    assert h[ids[LATER]].carried_label_at(utc(2024, 7, 30)) and not h[ids["1816000000000000010"]].ever_labelled


@pytest.mark.slow  # over half a second on 2 cores
def test_a_conflicting_copy_from_another_file_keeps_the_first(ws: claimwatch.Workspace) -> None:
    ws.ingest_labels([LABELS])
    rep = ws.ingest_labels([FIXTURES / "notes" / "labels_conflict.jsonl"])
    assert (rep.inserted, rep.updated) == (0, 0)
    [q] = ws.quarantine(action="conflict")
    assert q.reason.startswith("conflicting apply of the notice label 'misleading' on post 1816000000000000001")
    assert label_histories(ws.engine, [POST_1])[POST_1].periods[0].title == "SYNTHETIC SAMPLE label title"


@pytest.mark.slow  # over half a second on 2 cores
def test_cli_ingest_labels_and_wrong_file(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    res = CliRunner().invoke(
        app, ["ingest", "labels", str(LABELS), str(FIXTURES / "posts" / "twarc2_search.jsonl"), "--db", db]
    )
    assert res.exit_code == 0, res.output
    assert "[x-label-stream]: read 4, quarantined 5" in res.output
    assert "no X label stream event" in res.output
    assert "4 on 3 posts" in CliRunner().invoke(app, ["stats", "--db", db]).output


# ---------------------------------------------------------------------------- no line stops an ingest (C1)
# A generator writes many malformed events among valid ones, in random order; each line is
# checked: valid events land, every bad line is quarantined alone with its line and reason.


def _event(tweet_id: object, **changes: object) -> dict:
    notice = {
        "tweet": {"id": tweet_id, "author_id": "123456789"},
        "event_type": "misleading",
        "event_at": "2024-07-28T10:15:00.000Z",
        "application": "apply",
        "label_title": "SYNTHETIC title",
    }
    notice.update(changes)
    return {"data": {"public_tweet_notice": notice}}


def _deep(levels: int) -> object:
    value: object = "bottom"
    for _ in range(levels):
        value = {"next": value}
    return value


LineMaker = Callable[[str], bytes]


def _json(**changes: object) -> LineMaker:
    return lambda tid: json.dumps(_event(tid, **changes)).encode()


LABEL_CASES: list[tuple[bool, LineMaker]] = [
    (True, _json()),
    (
        True,
        lambda tid: json.dumps(
            {
                "data": {
                    "public_tweet_unviewable": {
                        "tweet": {"id": tid},
                        "event_at": "2024-07-29T09:00:00Z",
                        "application": "apply",
                    }
                }
            }
        ).encode(),
    ),
    (True, lambda tid: json.dumps(_event(int(tid))).encode()),  # a JSON integer id is exact
    (True, _json(label_title="SYNTHETIC ünïcödé ✓ עברית", extra={"unknown": [1, 2, {"x": None}]})),
    (True, _json(details=_deep(20))),  # deep, but within what an event may carry
    *[
        (False, _json(event_at=v))
        for v in (
            1e30,
            "1e30",
            -1e20,
            "9999-99-99",
            {},
            [],
            True,
            None,
            "9999-12-31T00:00:00Z",
            "1999-01-01T00:00:00Z",
            10**400,
        )
    ],
    (True, lambda tid: json.dumps(_event(f" {tid} ")).encode()),  # stored stripped
    *[
        (False, lambda tid, v=v: json.dumps(_event(v)).encode())
        for v in (1.816e18, {"id": "1"}, [1], True, -5, "9" * 25, "٣٤٥", "", None)
    ],
    (False, lambda tid: json.dumps({"data": {"public_tweet_notice": {"event_type": "misleading"}}}).encode()),
    (False, _json(application="toggle")),
    (False, _json(application=None)),
    (False, _json(event_type="x" * 100)),
    (False, _json(event_type={"type": "misleading"})),
    (False, _json(event_type="misleading\x1b[2J")),
    (False, _json(label_title="a NUL \u0000 inside")),
    (True, _json(details=float("nan"))),  # non-finite numbers are kept as their text (json_limits)
    (True, _json(details=float("inf"))),
    (False, _json(details=_deep(40))),
    (False, lambda tid: json.dumps(_event(tid))[:-5].encode()),  # truncated
    (False, lambda tid: json.dumps([_event(tid)]).encode()),
    (
        False,
        lambda tid: json.dumps(_event(tid)).replace("SYNTHETIC", "SYNTHETIC \udcff").encode("utf-8", "surrogateescape"),
    ),
    (False, lambda tid: json.dumps({"errors": [{"title": "ConnectionException", "detail": tid}]}).encode()),
    (False, lambda tid: json.dumps({"data": "not an object"}).encode()),
    (False, lambda tid: json.dumps({"data": {**_event(tid)["data"], "public_tweet_unviewable": {}}}).encode()),
]


def _write_events(
    path: Path, cases: list[tuple[bool, LineMaker]], seed: int, *, bom: bool, newline: bytes
) -> dict[int, tuple[bool, str]]:
    rng = random.Random(seed)
    picks = cases * 2 + [rng.choice(cases) for _ in range(30)]
    rng.shuffle(picks)
    lines, expected = [], {}
    for i, (valid, make) in enumerate(picks):
        tid = str(1862000000000000000 + i)
        lines.append(make(tid))
        expected[len(lines)] = (valid, tid)
        if rng.random() < 0.1:
            lines.append(b"")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + newline.join(lines) + newline)
    return expected


@pytest.mark.slow  # over half a second on 2 cores
@pytest.mark.parametrize(("seed", "bom", "newline"), [(1, False, b"\n"), (2, True, b"\r\n"), (3, True, b"\n")])
def test_generated_bad_events_cost_only_their_line(
    each_store: claimwatch.Workspace, tmp_path: Path, seed: int, bom: bool, newline: bytes
) -> None:
    ws = each_store
    path = tmp_path / "label_stream.jsonl"
    expected = _write_events(path, LABEL_CASES, seed, bom=bom, newline=newline)
    rep = ingest.ingest_labels(ws.engine, [path], batch_size=5)
    assert rep.files[0].error is None
    reasons = {q.location: q for q in ws.quarantine(limit=10_000)}
    with ws.engine.connect() as conn:
        stored = set(conn.scalars(sa.select(s.LabelEvent.platform_id)))
    for line, (valid, tid) in expected.items():
        entry = reasons.pop(f"line {line}", None)
        if valid:
            assert tid in stored and entry is None, (line, entry)
        else:
            assert tid not in stored and entry and entry.action == "rejected" and entry.reason, line
            assert "\n" not in entry.reason and len(entry.reason) < 400
    assert not reasons
    assert ws.stats().label_events == sum(valid for valid, _ in expected.values())


@pytest.mark.parametrize(
    "line",
    ['{"data": ' + "[" * 10_000 + "]" * 10_000 + "}", '{"data": {"public_tweet_notice": {"n": 1' + "0" * 5000 + "}}}"],
)
def test_json_the_decoder_cannot_take_is_one_rejected_line(ws: claimwatch.Workspace, tmp_path: Path, line: str) -> None:
    path = tmp_path / "label_stream.jsonl"
    path.write_text(line + "\n" + json.dumps(_event(POST_1)) + "\n", encoding="utf-8")
    rep = ws.ingest_labels([path])
    assert (rep.files[0].read, rep.files[0].rejected) == (1, 1)
