"""Alert delivery against a real webhook receiver and SMTP server on loopback: sent once, retried
with back-off, failed after the attempts or at once on a permanent refusal, hostile text escaped."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alert_store import (
    HOSTILE,
    Reply,
    add_post,
    assert_sent_once_by_two,
    deliveries,
    payload,
    queue_alert,
    receiver,
    store,
)

from claimwatch.alerts import render
from claimwatch.alerts.deliver import Deliverer
from claimwatch.alerts.webhook import idempotency_key
from claimwatch.live.watchlist import Channel


def _hook(rec, name: str, fmt: str = "json") -> Channel:  # noqa: ANN001
    return Channel(name, "webhook", url=rec.url(f"/{name}"), format=fmt)


def _pass(d: Deliverer, now: datetime | None = None):  # noqa: ANN202
    async def go():  # noqa: ANN202
        async with d:
            return await d.deliver_due(now)

    return asyncio.run(go())


@pytest.mark.slow
def test_json_webhook_sends_the_payload_once_with_an_idempotency_key(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "101")
    with receiver() as rec:
        ch = _hook(rec, "desk")
        alert_id = queue_alert(engine, post, [("desk", "webhook")])
        report = _pass(Deliverer(engine, (ch,)))
        assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
        got = rec.on("/desk")
        assert len(got) == 1
        body = got[0].json()
        assert body["alert_id"] == alert_id and body["post"]["platform_id"] == str(post)
        assert got[0].headers["Idempotency-Key"] == idempotency_key(alert_id, "desk")
        assert got[0].headers["Content-Type"] == "application/json"
        assert got[0].headers["User-Agent"].startswith("claimwatch/")
        # a second pass finds nothing due: sent once
        assert _pass(Deliverer(engine, (ch,))).attempted == 0
        assert len(rec.on("/desk")) == 1
    [row] = deliveries(engine)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.last_error is None


def test_500_then_200_is_retried_after_the_backoff(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "102")
    with receiver() as rec:
        rec.script["/desk"] = [Reply(500)]
        ch = _hook(rec, "desk")
        queue_alert(engine, post, [("desk", "webhook")])
        now = datetime.now(UTC)
        first = _pass(Deliverer(engine, (ch,), backoff_base=60), now)
        assert (first.sent, first.retrying) == (0, 1) and "HTTP 500" in first.errors[0]
        [row] = deliveries(engine)
        assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
        wait = (row.next_attempt_at - now).total_seconds()
        assert 60 * 0.8 - 1 <= wait <= 60 * 1.2 + 1  # base × 2^0 ± jitter
        # not due yet: nothing is sent before the back-off ends
        assert _pass(Deliverer(engine, (ch,)), now + timedelta(seconds=30)).attempted == 0
        second = _pass(Deliverer(engine, (ch,)), now + timedelta(seconds=80))
        assert second.sent == 1 and len(rec.on("/desk")) == 2
    [row] = deliveries(engine)
    assert row.status == "sent" and row.attempts == 2


def test_429_retry_after_is_respected(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "103")
    with receiver() as rec:
        rec.script["/desk"] = [Reply(429, {"Retry-After": "900"})]
        queue_alert(engine, post, [("desk", "webhook")])
        now = datetime.now(UTC)
        report = _pass(Deliverer(engine, (_hook(rec, "desk"),), backoff_base=5), now)
    assert report.retrying == 1
    [row] = deliveries(engine)
    assert row.status == "pending" and (row.next_attempt_at - now).total_seconds() == pytest.approx(900, abs=2)


def test_410_is_permanent_and_failed_at_once_with_its_reason(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "104")
    with receiver() as rec:
        rec.script["/desk"] = [Reply(410)]
        queue_alert(engine, post, [("desk", "webhook")])
        report = _pass(Deliverer(engine, (_hook(rec, "desk"),), max_attempts=8))
    assert report.failed == 1
    [row] = deliveries(engine)
    assert row.status == "failed" and row.attempts == 1 and row.last_error.startswith("HTTP 410")
    assert "127.0.0.1" not in row.last_error  # the webhook URL is a secret: never in an error


@pytest.mark.slow
def test_a_hanging_receiver_times_out_and_fails_after_max_attempts(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "105")
    with receiver() as rec:
        rec.script["/desk"] = [Reply(200, delay=1.0), Reply(503)]
        queue_alert(engine, post, [("desk", "webhook")])
        now = datetime.now(UTC)
        d = dict(max_attempts=2, timeout=0.2, backoff_base=1)
        first = _pass(Deliverer(engine, (_hook(rec, "desk"),), **d), now)
        assert first.retrying == 1 and "timed out" in first.errors[0]
        second = _pass(Deliverer(engine, (_hook(rec, "desk"),), **d), now + timedelta(minutes=1))
        assert second.failed == 1
    [row] = deliveries(engine)
    assert row.status == "failed" and row.attempts == 2 and "HTTP 503" in row.last_error


def test_each_channel_is_its_own_delivery(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "106")
    with receiver() as rec:
        rec.script["/b"] = [Reply(404)]
        queue_alert(engine, post, [("a", "webhook"), ("b", "webhook")])
        report = _pass(Deliverer(engine, (_hook(rec, "a"), _hook(rec, "b"))))
    assert (report.sent, report.failed) == (1, 1)
    assert [(x.channel, x.status) for x in deliveries(engine)] == [("a", "sent"), ("b", "failed")]


def test_a_channel_not_in_the_watchlist_is_left_pending(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "107")
    with receiver() as rec:
        queue_alert(engine, post, [("gone", "webhook")])
        assert _pass(Deliverer(engine, (_hook(rec, "desk"),))).attempted == 0
    assert [x.status for x in deliveries(engine)] == ["pending"]


@pytest.mark.slow
def test_two_deliverers_at_once_send_each_alert_exactly_once(tmp_path: Path) -> None:
    engine = store(tmp_path)
    assert_sent_once_by_two(engine, store(tmp_path), 24)


def test_run_sends_within_milliseconds_of_a_wake(tmp_path: Path) -> None:
    engine = store(tmp_path)
    post = add_post(engine, "108")
    with receiver() as rec:
        ch = _hook(rec, "desk")

        async def go() -> float:
            d = Deliverer(engine, (ch,))
            stop = asyncio.Event()
            task = asyncio.create_task(d.run(stop))
            await asyncio.sleep(0.1)  # idle: waiting for a wake
            await asyncio.to_thread(queue_alert, engine, post, [("desk", "webhook")])
            import time

            t = time.perf_counter()
            d.wake()
            while not rec.on("/desk"):
                await asyncio.sleep(0.005)
            latency = rec.on("/desk")[0].at - t
            stop.set()
            await task
            return latency

        latency = asyncio.run(go())
    assert latency < 0.5


# ----------------------------------------------------------------------------- rendering


def test_slack_body_escapes_a_hostile_post_and_links_only_post_and_review() -> None:
    body = render.slack_body(payload(7, text=HOSTILE, author="<!here> ev&il"))
    flat = json.dumps(body)
    assert "<!channel>" not in flat and "<!here>" not in flat and "<script>" not in flat
    assert "&lt;!channel&gt;" in flat and "&amp;" in flat
    assert "<https://evil.example" not in flat
    links = {blk for b in body["blocks"] for blk in _links(b)}
    assert links == {"https://x.example/example_account/status/7", "https://factcheck.example/review/1"}
    assert all(b["text"].get("verbatim") for b in body["blocks"] if b["type"] == "section")
    assert "<" not in body["text"] and body["unfurl_links"] is False


def _links(block: dict) -> list[str]:
    import re

    return re.findall(r"<(https?://[^|>]+)\|", block.get("text", {}).get("text", ""))


def test_render_never_shows_unknown_views_as_zero_and_survives_nulls() -> None:
    text = render.email_text({"kind": "views", "post": None, "factcheck": None, "views": {"threshold": 5}})
    assert "Views: unknown" in text and " 0" not in text
    assert "Views: 1,200 (as of 2026-11-01" in render.email_text(
        payload(1, views=1200, views_observed_at="2026-11-01T12:00:00+00:00")
    )
    assert render.slack_body("not a payload")["blocks"]  # never raises


def test_a_javascript_url_is_not_linked() -> None:
    html = render.email_html(payload(1, url="javascript:alert(1)"))
    assert "javascript:" not in html
    assert render.safe_url("https://x.example/a b") is None


def test_email_subject_and_html_refuse_injection() -> None:
    p = payload(9, text=HOSTILE, author="evil\r\nBcc: victim@example.org")
    subject = render.subject(p)
    assert "\r" not in subject and "\n" not in subject and "Bcc: victim" in subject  # kept as text, one line
    html = render.email_html(p)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;!channel&gt;" in html
