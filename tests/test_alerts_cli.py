"""``claimwatch alerts list|send|retry|test`` and ``claimwatch metrics refetch`` end to end on a
loopback receiver (and a fake metric fetcher)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alert_store import Reply, add_factcheck, add_match, add_post, deliveries, queue_alert, receiver, store
from test_refetch import FakeX
from typer.testing import CliRunner

from claimwatch.cli import app
from claimwatch.live import refetch
from claimwatch.schemas import validate
from claimwatch.store.audit import list_audit

runner = CliRunner()


def _watchlist(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "watch.yaml"
    path.write_text(
        "streams:\n"
        "  - {name: m, kind: mastodon, instance: https://mastodon.example, hashtags: [election]}\n"
        "alerts:\n"
        "  max_attempts: 3\n"
        f"  channels:\n    - {{name: desk, kind: webhook, url: '{url}'}}\n" + extra,
        encoding="utf-8",
    )
    return path


def _cli(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_send_then_list_then_retry_with_audit(tmp_path: Path) -> None:
    engine = store(tmp_path)
    db = tmp_path / "alerts.db"
    post = add_post(engine, "501")
    with receiver() as rec:
        rec.script["/desk"] = [Reply(404)]
        wl = _watchlist(tmp_path, rec.url("/desk"))
        alert_id = queue_alert(engine, post, [("desk", "webhook")])
        res = _cli("alerts", "send", wl, "--db", db)
        assert res.exit_code == 0 and "sent 0, to retry 0, failed 1" in res.output and "HTTP 404" in res.output
        res = _cli("alerts", "list", "--db", db, "--status", "failed", "--json")
        [row] = json.loads(res.output)
        assert row["alert_id"] == alert_id and row["deliveries"][0]["status"] == "failed"
        assert "HTTP 404" in _cli("alerts", "list", "--db", db).output
        assert "no alerts with a sent delivery" in _cli("alerts", "list", "--db", db, "--status", "sent").output
        res = _cli("alerts", "retry", "--failed", "--by", "analyst1", "--db", db)
        assert res.exit_code == 0 and f"alert {alert_id} → desk" in res.output
        with engine.connect() as conn:
            [entry] = list_audit(conn, action="alert.retry")
        assert entry.actor == "analyst1" and entry.object_id == str(alert_id) and entry.after["status"] == "pending"
        res = _cli("alerts", "send", wl, "--db", db)
        assert "sent 1" in res.output and len(rec.on("/desk")) == 2
    assert [x.status for x in deliveries(engine)] == ["sent"]


def test_retry_needs_an_id_or_failed_and_a_known_alert(tmp_path: Path) -> None:
    store(tmp_path)
    db = tmp_path / "alerts.db"
    res = _cli("alerts", "retry", "--db", db)
    assert res.exit_code == 2 and "give an alert id or --failed" in res.output
    res = _cli("alerts", "retry", "99", "--db", db)
    assert res.exit_code == 2 and "no alert 99" in res.output


@pytest.mark.slow
def test_test_message_reaches_the_channel_and_records_nothing(tmp_path: Path) -> None:
    engine = store(tmp_path)
    with receiver() as rec:
        wl = _watchlist(tmp_path, rec.url("/desk"))
        res = _cli("alerts", "test", wl, "--channel", "desk")
        assert res.exit_code == 0 and "test message sent to desk" in res.output
        [got] = rec.on("/desk")
        assert got.json()["kind"] == "test" and got.json()["factcheck"] is None
        validate(got.json())  # the test message has the alert's declared shape
        res = _cli("alerts", "test", wl, "--channel", "nope")
        assert res.exit_code == 2 and "no channel 'nope'" in res.output
        rec.script["/desk"] = [Reply(500)]
        res = _cli("alerts", "test", wl, "--channel", "desk")
        assert res.exit_code == 1 and "HTTP 500" in res.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from alerts")).scalar() == 0


def test_a_bad_watchlist_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("streams: []\n", encoding="utf-8")
    res = _cli("alerts", "send", bad)
    assert res.exit_code == 2 and "'streams' must list at least one stream" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow
def test_metrics_refetch_prints_what_was_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "601")
    gone = add_post(engine, "602")
    fc = add_factcheck(engine)
    add_match(engine, post, fc)
    add_match(engine, gone, fc)
    fake = FakeX()
    fake.views["601"] = 4242
    fake.gone.add("602")
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    res = _cli("metrics", "refetch", "--db", tmp_path / "alerts.db")
    assert res.exit_code == 0 and "X posts are not re-fetched: set X_BEARER_TOKEN" in res.output
    assert "fetched 0 posts" in res.output
    monkeypatch.setattr(refetch, "fetchers_for", lambda wl: {"x": fake})
    res = _cli("metrics", "refetch", "--db", tmp_path / "alerts.db", "--due-only")
    assert res.exit_code == 0 and "fetched 0 posts" in res.output  # first re-fetch is an interval away
    res = _cli("metrics", "refetch", "--db", tmp_path / "alerts.db")
    assert "fetched 1 post (1 new snapshot), gone 1, failed 0" in res.output
    assert fake.calls[-1] == ["601", "602"]


def test_list_prints_hostile_handles_as_text(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "701", author="[red]evil\x1b[2J")
    queue_alert(engine, post, [("desk", "webhook")])
    out = _cli("alerts", "list", "--db", tmp_path / "alerts.db").output
    assert "[red]evil\\x1b[2J" in out and "\x1b" not in out
