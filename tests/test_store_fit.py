"""C3: the same hostile batch gives the same store on SQLite and PostgreSQL.

NUL characters, lone surrogates, values longer than their column, counts beyond BIGINT and
``NaN`` in a raw record used to abort a whole batch on PostgreSQL (and surrogates on both).
Every test here ingests the same files through the real readers into a store and describes
what landed; the PostgreSQL run (CLAIMWATCH_TEST_PG_URL) must give the same description.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PG_URL, claimreview, page, post

import claimwatch
from claimwatch import records as r
from claimwatch.store import repo, sanitise
from claimwatch.store import schema as s

DEMO = Path(claimwatch.__file__).parent / "demo" / "data"
LONG_ID = "9" * 70
HUGE = 10**20


def _hostile_posts(tmp: Path) -> Path:
    media = [{"media_key": "k" * 200, "type": "photo"}, {"media_key": "3_ok", "type": "t" * 40}]
    p1 = post(
        "1001",
        "nul \x00 inside and a lone \ud800 surrogate",
        views=HUGE,
        attachments={"media_keys": ["k" * 200, "3_ok"]},
        lang="x" * 40,
        extra=float("nan"),
    )
    p2 = post(LONG_ID, "an id longer than the column")
    p3 = post("1003", "fine text", ref=("quoted", "8" * 90))
    users = [{"id": "111", "username": "u" * 200, "name": "Name\x00With NUL"}]
    pg = page([p1, p2, p3], users=users)
    pg["includes"]["media"] = media
    path = tmp / "hostile_posts.jsonl"
    # json.dumps writes NUL as \u0000 and NaN as a bare NaN, as careless exporters do.
    path.write_text(json.dumps(pg) + "\n" + '{"broken": "\x00 raw NUL in a bad line\n', encoding="utf-8")
    return path


def _hostile_factchecks(tmp: Path) -> Path:
    items = [
        claimreview("https://example.org/fc/1", "Claim with a \x00 NUL", inLanguage="l" * 30),
        claimreview("https://example.org/" + "u" * 1100, "a review URL longer than the column"),
        claimreview(
            "https://example.org/fc/3",
            "rating value not finite",
            reviewRating={"@type": "Rating", "ratingValue": "Infinity", "bestRating": 5, "worstRating": 1},
        ),
    ]
    path = tmp / "hostile_factchecks.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _hostile_notes(tmp: Path) -> Path:
    header = (DEMO / "communitynotes_notes-00000.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")

    def row(**values: str) -> str:
        return "\t".join(values.get(col, "") for col in header)

    lines = [
        row(
            noteId="1900000000000090001",
            noteAuthorParticipantId="A" * 200,
            createdAtMillis="1707984000000",
            tweetId="1900000000000010660",
            classification="C" * 80,
            summary="a plain summary",
        ),
        row(
            noteId="7" * 40,
            noteAuthorParticipantId="B",
            createdAtMillis="1707984000000",
            tweetId="1900000000000010661",
            classification="NOT_MISLEADING",
        ),
    ]
    path = tmp / "notes-00000.tsv"
    path.write_text("\t".join(header) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _hostile_labels(tmp: Path) -> Path:
    def event(tweet: str, event_type: str, details: str) -> str:
        return json.dumps(
            {
                "data": {
                    "public_tweet_notice": {
                        "tweet": {"id": tweet, "author_id": "9"},
                        "event_type": event_type,
                        "event_at": "2024-07-15T09:00:00.000Z",
                        "application": "apply",
                        "label_title": "Stay informed",
                        "details": details,
                    }
                }
            }
        )

    path = tmp / "labels.jsonl"
    path.write_text(
        "\n".join(
            [
                event("1001", "misleading", "details \x00 with NUL"),
                event("1002", "e" * 100, "an event type longer than the column"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def _ingest_all(ws: claimwatch.Workspace, tmp: Path) -> dict[str, Any]:
    reports = {
        "posts": ws.ingest_posts([_hostile_posts(tmp)]),
        "factchecks": ws.ingest_factchecks([_hostile_factchecks(tmp)]),
        "notes": ws.ingest_notes([_hostile_notes(tmp)]),
        "labels": ws.ingest_labels([_hostile_labels(tmp)]),
    }
    return {
        kind: (rep.inserted, rep.quarantined, rep.warnings, [f.error for f in rep.files])
        for kind, rep in reports.items()
    }


def _describe(ws: claimwatch.Workspace) -> dict[str, Any]:
    """Everything that landed, in a form that does not depend on the store (no ids, no times)."""

    def rows(q: Any) -> list[tuple[Any, ...]]:
        return sorted((tuple(row) for row in conn.execute(q)), key=repr)

    with ws.engine.connect() as conn:
        return {
            "posts": rows(
                sa.select(
                    s.Post.platform_id, s.Post.text, s.Post.lang, s.Post.referenced_id, s.Author.handle, s.Author.name
                ).outerjoin(s.Author, s.Author.id == s.Post.author_id)
            ),
            "raw_extra": sorted(
                ((pid, raw.get("extra")) for pid, raw in conn.execute(sa.select(s.Post.platform_id, s.Post.raw))),
                key=repr,
            ),
            "media": rows(sa.select(s.Media.media_key, s.Media.type)),
            "snapshots": rows(sa.select(s.MetricSnapshot.views, s.MetricSnapshot.likes)),
            "factchecks": rows(
                sa.select(
                    s.FactCheck.review_url, s.FactCheck.claim_text, s.FactCheck.language, s.FactCheck.rating_value
                )
            ),
            "notes": rows(sa.select(s.Note.note_id, s.Note.classification, s.Note.author_id)),
            "labels": rows(sa.select(s.LabelEvent.platform_id, s.LabelEvent.event_type, s.LabelEvent.details)),
            "quarantine": rows(
                sa.select(s.Quarantine.kind, s.Quarantine.action, s.Quarantine.location, s.Quarantine.reason)
            ),
            "quarantine_raw_has_escaped_nul": any(
                "\\u0000" in raw for raw in conn.scalars(sa.select(s.Quarantine.raw))
            ),
        }


def _expected_shape(d: dict[str, Any]) -> None:
    posts = {p[0]: p for p in d["posts"]}
    assert set(posts) == {"1001", "1003"}, "the post with an over-long id is rejected, the others land"
    _, text, lang, _, handle, name = posts["1001"]
    assert text == "nul  inside and a lone \ufffd surrogate" and lang is None
    assert handle is None and name == "NameWith NUL"
    assert posts["1003"][3] is None, "an over-long referenced id is unknown, the post lands"
    assert d["media"] == [("3_ok", None)], "an over-long media key drops that media item; a long type is unknown"
    assert (None, 3) in d["snapshots"], "a count beyond BIGINT is unknown, the snapshot lands"
    fcs = {f[0]: f for f in d["factchecks"]}
    assert set(fcs) == {"https://example.org/fc/1", "https://example.org/fc/3"}
    assert fcs["https://example.org/fc/1"][1:3] == ("Claim with a  NUL", None)
    assert d["notes"] == [("1900000000000090001", None, None)]
    assert d["labels"] == [], "the label reader refuses a NUL and an over-long event type before the store sees them"
    reasons = " ".join(q[3] for q in d["quarantine"])
    for text in (
        "platform_id is 70 characters",
        "review_url is 1,120 characters",
        "has 40 digits; X ids have at most 19",
        "event_type 'eeee",
        "contains a NUL character",
        "field text: NUL",
        "field lang",
        "field author.handle",
        "media[0].media_key",
        "implausible count",
    ):
        assert text in reasons, text
    assert d["quarantine_raw_has_escaped_nul"], "the bad line with a raw NUL is quarantined, escaped"


def test_a_hostile_batch_lands_whole_on_sqlite(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    summary = _ingest_all(ws, tmp_path)
    assert all(errors == [None] for *_, errors in summary.values()), summary
    described = _describe(ws)
    _expected_shape(described)
    assert dict(described["raw_extra"])["1001"] == "NaN", "NaN in a raw record is kept, as a string"


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_the_same_hostile_batch_gives_the_same_store_on_postgres(tmp_path: Path) -> None:
    lite = claimwatch.open(tmp_path / "lite.db")
    pg = claimwatch.open(PG_URL)
    pg.reset()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    # Same file names in both runs: the quarantine names its files.
    assert _ingest_all(lite, tmp_path / "a") == _ingest_all(pg, tmp_path / "b")
    a, b = _describe(lite), _describe(pg)
    for key in a:
        if key != "quarantine":
            assert a[key] == b[key], key
    assert [q[:3] for q in a["quarantine"]] == [q[:3] for q in b["quarantine"]]
    assert [q[3].replace(str(tmp_path / "a"), "") for q in a["quarantine"]] == [
        q[3].replace(str(tmp_path / "b"), "") for q in b["quarantine"]
    ]
    _expected_shape(b)
    again = _ingest_all(pg, tmp_path / "b")
    assert all(inserted == 0 for inserted, *_ in again.values()), "re-running adds nothing"


def test_a_file_name_that_is_not_utf8_still_quarantines(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    ws = each_store
    name = os.fsdecode(b"bad-\xff-name.jsonl")  # a surrogate-escaped str, as Python reads such names
    path = tmp_path / name
    path.write_text(json.dumps(page([post("1", "a post about ballots")])) + "\n{broken\n", encoding="utf-8")
    rep = ws.ingest_posts([path])
    assert (rep.inserted, rep.quarantined) == (1, 1)
    [row] = ws.quarantine()
    assert row.source_path.endswith("bad-\\udcff-name.jsonl")
    assert ws.stats().ingest_runs == {"completed": 1}, "the run's report (with the file name) is stored"


def test_quarantine_never_fails_on_unstorable_text(each_store: claimwatch.Workspace) -> None:
    ws = each_store
    src = r.SourceRef("f\x00.jsonl", "line " + "9" * 300, "f" * 60)
    with ws.engine.begin() as conn:
        assert (
            repo.add_quarantine(conn, None, "posts", [(r.Rejected(src, "why \x00 \ud800", "raw \x00"), "rejected")])
            == 1
        )
    [row] = ws.quarantine()
    assert row.reason == "why \\u0000 \\ud800" and row.raw == "raw \\u0000"
    assert len(row.location) == 128 and row.location.endswith("…") and len(row.source_format) == 32


def test_sanitise_keeps_clean_records_as_they_are() -> None:
    p = r.Post("x", "1", r.Author("x", "9", "handle", "Name"), None, "plain text", lang="en")
    fitted = sanitise.fit_posts([p])
    assert fitted.records[0] is p and not fitted.warnings and not fitted.rejected


def test_json_serializer_writes_non_finite_numbers_as_strings() -> None:
    assert json.loads(sanitise.json_dumps({"a": [float("nan"), float("inf"), -float("inf"), 1.5]})) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5]
    }


def test_escape_text_is_visible_and_storable() -> None:
    assert sanitise.escape_text("a\x00b\udcffc") == "a\\u0000b\\udcffc"
    assert sanitise.storable(sanitise.escape_text("\x00" * 3)) and not sanitise.storable("\x00")
    assert sanitise.strip_text("a\x00b\ud800") == "ab\ufffd"


def test_an_analyst_name_too_long_for_the_store_is_refused_before_writing(
    each_store: claimwatch.Workspace, tmp_path: Path
) -> None:
    from ccdh_store import propose

    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(page([post("1", "a post about ballots")])) + "\n")
    each_store.ingest_posts([path])
    (tmp_path / "fc.json").write_text(json.dumps([claimreview("https://example.org/fc/1", "ballots")]))
    each_store.ingest_factchecks([tmp_path / "fc.json"])
    [match_id] = propose(each_store, [("1", "https://example.org/fc/1")])
    with pytest.raises(ValueError, match="at most 128 characters"):
        each_store.decide(match_id, r.MatchStatus.CONFIRMED, "a" * 200)
    assert each_store.decide(match_id, r.MatchStatus.CONFIRMED, "ana")
