"""A post read again in another version: the newer observation is stored, every other version is
kept whole, and the ingest summary says so — never a silent swap for an older copy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import page, post

import claimwatch
from claimwatch.store import schema as s

EARLY, LATE = "2024-08-01T12:00:00+00:00", "2024-08-05T12:00:00+00:00"


def _state(ws: claimwatch.Workspace) -> tuple[str, list[tuple[str, str, str]]]:
    with ws.engine.connect() as conn:
        text = conn.scalar(sa.select(s.Post.text).where(s.Post.platform_id == "1"))
        versions = [
            tuple(row)
            for row in conn.execute(
                sa.select(s.PostVersion.reason, s.PostVersion.text, s.PostVersion.source_path).order_by(
                    s.PostVersion.id
                )
            )
        ]
    return text, versions


def test_an_older_copy_from_another_file_does_not_replace_the_newer_one(each_store, write_jsonl) -> None:
    ws = each_store
    newer = write_jsonl("newer.jsonl", [page([post("1", "the edited text", 200)], retrieved_at=LATE)])
    older = write_jsonl("older.jsonl", [page([post("1", "the first text", 100)], retrieved_at=EARLY)])
    ws.ingest_posts([newer])
    report = ws.ingest_posts([older])
    assert report.updated == 0 and report.older_versions == 1
    assert "1 post came in a version older than the stored one: kept as history, not applied" in report.summary()
    assert report.snapshots_added == 1, "its metrics are still an observation of the post"
    assert _state(ws) == ("the edited text", [("older", "the first text", str(older))])
    again = ws.ingest_posts([older])
    assert again.older_versions == 0 and _state(ws)[1] == [("older", "the first text", str(older))]
    assert ws.stats().post_versions == 1


@pytest.mark.slow  # over half a second on 2 cores
def test_a_newer_version_replaces_the_stored_one_which_is_kept(each_store, write_jsonl) -> None:
    ws = each_store
    older = write_jsonl("older.jsonl", [page([post("1", "the first text", 100)], retrieved_at=EARLY)])
    newer = write_jsonl("newer.jsonl", [page([post("1", "the edited text", 200)], retrieved_at=LATE)])
    ws.ingest_posts([older])
    report = ws.ingest_posts([newer])
    assert report.updated == 1 and report.older_versions == 0
    assert _state(ws) == ("the edited text", [("replaced", "the first text", str(older))])
    with ws.engine.connect() as conn:
        raw = conn.scalar(sa.select(s.PostVersion.raw))
    assert raw["text"] == "the first text", "the replaced version keeps its raw source record"


def test_versions_without_an_observation_time_replace_in_ingest_order(ws: claimwatch.Workspace, write_jsonl) -> None:
    """A repost carries no metrics, so no observation time: the later ingest wins, the earlier is kept."""
    first = write_jsonl("a.jsonl", [page([post("1", "RT first", None, ref=("retweeted", "9"))], retrieved_at=LATE)])
    second = write_jsonl("b.jsonl", [page([post("1", "RT second", None, ref=("retweeted", "9"))], retrieved_at=EARLY)])
    ws.ingest_posts([first])
    assert ws.ingest_posts([second]).updated == 1
    assert _state(ws) == ("RT second", [("replaced", "RT first", str(first))])
