"""The watch runner over recorded streams (``claimwatch watch --replay``): events stored once,
matched at once, alerted once with a delivery per channel, and nothing lost or done twice across
a stop, a cancellation or a SIGKILL and the restart after it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import live_events as le
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app
from claimwatch.live.events import LiveEvent, LiveProblem, LiveStatus
from claimwatch.live.pipeline import BatchOutcome, BatchPipeline, Matcher
from claimwatch.live.replay import ReplaySource
from claimwatch.live.runner import WatchRunner
from claimwatch.live.session import snapshots_callback
from claimwatch.live.watchlist import Account, AlertRules, Channel
from claimwatch.schemas import validate
from claimwatch.store import schema as s

CHANNELS = (
    Channel("desk", "webhook", url="http://127.0.0.1:9/hook"),
    Channel("editors", "smtp", host="smtp.example.org", sender="cw@example.org", to=("desk@example.org",)),
)
RULES = AlertRules(min_confidence=0.9, channels=CHANNELS)


def _mixed_events(n: int) -> list[dict]:
    """``n`` events over the three stream shapes, every other one repeating a fact-checked claim."""
    makers = (le.jetstream_v1, le.mastodon_update, le.x_stream)
    out = []
    for i in range(n):
        text = (le.MATCHING if i % 2 == 0 else le.CHATTER)[i % 3] + f" (item {i})"
        out.append(makers[i % 3](i, text))
    return out


def _watch(
    ws: claimwatch.Workspace, path: Path, matcher: Matcher | None, rules: AlertRules = RULES, **kw
) -> WatchRunner:
    source = ReplaySource(path, "replay", kw.pop("rate", None))
    pipeline = BatchPipeline(
        ws.engine, {source.name: (source.key(), source.origin)}, matcher, rules, kw.pop("accounts", ())
    )
    return WatchRunner(pipeline, [source], batch_size=kw.pop("batch_size", 100), batch_wait=0.05, **kw)


def _count(ws: claimwatch.Workspace, table: type, *where: sa.ColumnElement[bool]) -> int:
    with ws.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))


def _cursor(ws: claimwatch.Workspace) -> tuple[str | None, int]:
    with ws.engine.connect() as conn:
        row = conn.execute(sa.select(s.WatchCursor.cursor, s.WatchCursor.events)).one()
    return row.cursor, row.events


def _alerts(ws: claimwatch.Workspace) -> list[tuple[str, str, str]]:
    """(post platform id, fact-check URL, kind) of every alert, sorted: comparable across stores."""
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(s.Post.platform_id, s.FactCheck.review_url, s.Alert.kind)
            .join(s.Post, s.Post.id == s.Alert.post_id)
            .join(s.FactCheck, s.FactCheck.id == s.Alert.factcheck_id)
        ).all()
    return sorted(tuple(r) for r in rows)


# ------------------------------------------------------------------ replay source (no store)


def test_replay_tells_formats_per_line_and_names_bad_lines(tmp_path: Path) -> None:
    path = le.write_lines(
        tmp_path / "rec.jsonl",
        [
            le.jetstream_v1(1, "a"),
            le.mastodon_update(2, "b"),
            le.x_stream(3, "c"),
            "{broken",
            {"hello": 1},
            "[1, 2]",
            le.jetstream_v2(7, "d"),
        ],
    )

    async def collect(cursor: str | None) -> list:
        return [item async for item in ReplaySource(path, "rec").events(cursor)]

    items = asyncio.run(collect(None))
    events = [i for i in items if isinstance(i, LiveEvent)]
    problems = [i for i in items if isinstance(i, LiveProblem)]
    assert [(e.fmt, e.cursor, e.location) for e in events] == [
        ("bluesky", "1", "line 1"),
        ("mastodon", "2", "line 2"),
        ("x-v2", "3", "line 3"),
        ("bluesky", "7", "line 7"),
    ]
    assert [p.location for p in problems] == ["line 4", "line 5", "line 6"]
    assert "not a recorded Jetstream, Mastodon or X stream event" in problems[1].reason
    assert isinstance(items[0], LiveStatus) and isinstance(items[-1], LiveStatus)
    # resuming after line 2 replays line 3 onwards only
    resumed = [i for i in asyncio.run(collect("2")) if isinstance(i, LiveEvent)]
    assert [e.cursor for e in resumed] == ["3", "7"]
    # the key names the file: another file is another stream, the same file resumes
    assert ReplaySource(path, "rec").key() == ReplaySource(tmp_path / "." / "rec.jsonl", "rec").key()
    assert ReplaySource(path, "rec").key() != ReplaySource(tmp_path / "other.jsonl", "rec").key()


def test_replay_rate_paces_events(tmp_path: Path) -> None:
    path = le.write_lines(tmp_path / "rec.jsonl", [le.jetstream_v1(i, "x") for i in range(6)])

    async def timed() -> float:
        start = time.monotonic()
        async for _ in ReplaySource(path, "rec", rate=50).events(None):
            pass
        return time.monotonic() - start

    assert 0.09 <= asyncio.run(timed()) < 1.0  # 6 events at 50/s: 5 gaps of 20 ms


# ------------------------------------------------------------------ store path (no encoder)


def test_duplicates_stored_once_malformed_quarantined_with_file_and_line(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    events = _mixed_events(9)
    lines = [*events, events[1], "{not json", le.jetstream_like(99), events[2], le.jetstream_v2(1, "v2 message")]
    path = le.write_lines(tmp_path / "rec.jsonl", lines)
    totals = asyncio.run(_watch(ws, path, None).run())
    assert totals.events == 13 and totals.problems == 1
    assert _count(ws, s.Post) == 10  # the two replayed events' posts are stored once; the like is no post
    with ws.engine.connect() as conn:
        q = conn.execute(sa.select(s.Quarantine.source_path, s.Quarantine.location, s.Quarantine.reason)).all()
    assert [(p, loc) for p, loc, _ in q] == [(str(path), "line 11")]
    assert "not valid JSON" in q[0].reason
    assert _cursor(ws) == ("14", 13)  # the last line that was an event; every event counted once
    # a second run of the same file reads nothing new and changes nothing
    again = asyncio.run(_watch(ws, path, None).run())
    assert again.events == 0 and _count(ws, s.Post) == 10 and _cursor(ws) == ("14", 13)
    with ws.engine.connect() as conn:
        runs = conn.execute(sa.select(s.IngestRun.kind, s.IngestRun.status)).all()
    assert runs == [("watch", "completed")] * 2


def test_cancelled_runner_finishes_its_batch_and_restart_resumes(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    events = _mixed_events(60)
    path = le.write_lines(tmp_path / "rec.jsonl", events)

    async def cancel_after(batches: int) -> WatchRunner:
        runner = _watch(ws, path, None, batch_size=10, rate=400)
        task = asyncio.create_task(runner.run())
        while runner.batches < batches:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return runner

    first = asyncio.run(cancel_after(2))
    done, events_seen = _cursor(ws)
    assert first.totals.events == events_seen and 20 <= events_seen < 60  # every finished batch committed
    assert _count(ws, s.Post) == events_seen
    second = asyncio.run(_watch(ws, path, None).run())
    assert first.totals.events + second.events == 60  # none lost, none twice
    assert _count(ws, s.Post) == 60 and _cursor(ws) == ("60", 60)
    # X and Mastodon events carry metrics: one snapshot per event means no event was read twice
    assert _count(ws, s.MetricSnapshot) == 40
    with ws.engine.connect() as conn:
        statuses = sorted(conn.scalars(sa.select(s.IngestRun.status)))
    assert statuses == ["completed", "recovered"]  # the restart finished what the cancelled session left


# ------------------------------------------------------------------ alert rules (matches written by hand)


def _post_with_match(
    ws: claimwatch.Workspace,
    tmp_path: Path,
    *,
    status: str = "proposed",
    confidence: float | None = 0.95,
    method: str = "hybrid-rerank-lgbm-v1",
    views: int | None = 5_000,
) -> tuple[int, int]:
    """A stored X post of @example_account with one match of ``status`` to a stored fact-check."""
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(le.claimreviews()[:1]))
    ws.ingest_factchecks([fc])
    rec = le.write_lines(tmp_path / "p.jsonl", [le.x_stream(1, le.MATCHING[0], views=views)])
    asyncio.run(_watch(ws, rec, None).run())
    with ws.engine.begin() as conn:
        post_id = conn.scalar(sa.select(s.Post.id))
        fc_id = conn.scalar(sa.select(s.FactCheck.id))
        evidence = {"shared_terms": ["regist", "swing"], "features": {"cos": 0.71}}
        if method.startswith("media:"):
            evidence = {"media": {"pdq_distance": 12}}
        conn.execute(
            sa.insert(s.Match).values(
                post_id=post_id,
                factcheck_id=fc_id,
                rank=1,
                score=0.8,
                confidence=confidence,
                method=method,
                evidence=evidence,
                relation="repeats" if confidence else None,
                status=status,
            )
        )
    return post_id, fc_id


def _evaluate(ws: claimwatch.Workspace, post_id: int, rules: AlertRules, accounts=()) -> list[int]:
    from claimwatch.alerts.rules import evaluate
    from claimwatch.store import db

    with db.writing(ws.engine) as conn:
        return evaluate(conn, [post_id], rules, accounts, {})


def _payloads(ws: claimwatch.Workspace) -> list[dict]:
    with ws.engine.connect() as conn:
        return list(conn.scalars(sa.select(s.Alert.payload).order_by(s.Alert.id)))


def test_match_alert_once_with_a_delivery_per_channel(each_store: claimwatch.Workspace, tmp_path: Path) -> None:
    """Insert-if-absent of alerts, their deliveries and the cursors, on SQLite and PostgreSQL."""
    ws = each_store
    post_id, _ = _post_with_match(ws, tmp_path)
    assert _cursor(ws) == ("1", 1)
    new = _evaluate(ws, post_id, RULES)
    assert len(new) == 1 and _evaluate(ws, post_id, RULES) == []  # once, whatever re-runs
    with ws.engine.connect() as conn:
        deliveries = conn.execute(
            sa.select(s.AlertDelivery.channel, s.AlertDelivery.transport, s.AlertDelivery.status)
        ).all()
    assert sorted(deliveries) == [("desk", "webhook", "pending"), ("editors", "smtp", "pending")]
    (payload,) = _payloads(ws)
    validate(payload)
    assert payload["alert_id"] == new[0] and payload["kind"] == "match"
    assert payload["post"]["author"] == "example_account" and payload["post"]["views"] == 5_000
    assert payload["factcheck"]["verdict"] == "false" and payload["factcheck"]["rating"] == "False"
    assert "shared words: regist, swing" in payload["match"]["evidence"]
    assert payload["event_received_at"] is None  # not from a live event


def test_below_confidence_does_not_alert_but_a_confirmation_does(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    post_id, _ = _post_with_match(ws, tmp_path, confidence=0.6)
    assert _evaluate(ws, post_id, RULES) == []
    with ws.engine.begin() as conn:
        conn.execute(sa.update(s.Match).values(status="confirmed"))
    assert len(_evaluate(ws, post_id, RULES)) == 1
    assert _payloads(ws)[0]["rule"] == "confirmed"


def test_media_match_alerts_as_media_unless_turned_off(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    post_id, _ = _post_with_match(ws, tmp_path, confidence=None, method="media:pdq")
    assert _evaluate(ws, post_id, AlertRules(media=False)) == []
    assert len(_evaluate(ws, post_id, AlertRules())) == 1
    (payload,) = _payloads(ws)
    validate(payload)
    assert payload["kind"] == "media" and payload["match"]["confidence"] is None
    assert payload["match"]["evidence"].startswith("PDQ distance 12 of 256")


def test_views_alert_for_watched_accounts_once_and_never_on_unknown_views(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    watched = (Account("x", "Example_Account"),)
    rules = AlertRules(min_confidence=0.99, views_threshold=10_000)  # the match itself does not alert
    post_id, _ = _post_with_match(ws, tmp_path, views=None)
    assert _evaluate(ws, post_id, rules, watched) == []  # views unknown: not 0, not past anything
    # a later snapshot (a re-fetch) passes the threshold: one views alert, once
    later = le.write_lines(tmp_path / "later.jsonl", [le.x_stream(1, le.MATCHING[0], views=12_000)])
    asyncio.run(_watch(ws, later, None, rules).run())
    woken: list[bool] = []
    on_snapshots = snapshots_callback(ws.engine, rules, watched, lambda: woken.append(True))
    assert len(on_snapshots([post_id])) == 1 and woken == [True]  # as the re-fetcher calls it
    assert _evaluate(ws, post_id, rules, watched) == [] and on_snapshots([post_id]) == []
    assert _evaluate(ws, post_id, rules, (Account("x", "someone_else"),)) == []
    (payload,) = _payloads(ws)
    validate(payload)
    assert payload["kind"] == "views" and payload["views"]["threshold"] == 10_000
    assert payload["views"]["value"] == 12_000 and payload["post"]["views"] == 12_000


# ------------------------------------------------------------------ CLI errors


def test_watchlist_with_a_bad_key_is_one_line(tmp_path: Path) -> None:
    wl = tmp_path / "watch.yaml"
    wl.write_text("streams:\n  - {name: a, kind: jetstream, dids: [did:plc:abc], colections: []}\n")
    res = CliRunner().invoke(app, ["watch", str(wl), "--db", str(tmp_path / "w.db")])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "streams[0]: unknown key 'colections'" in lines[0]
    assert not (tmp_path / "w.db").exists()  # nothing created for a watchlist that cannot run


def test_watch_needs_a_watchlist_or_a_replay(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["watch", "--db", str(tmp_path / "w.db")])
    assert res.exit_code == 2 and "give a watchlist, --replay FILE, or both" in res.output
    res = CliRunner().invoke(app, ["watch", "--replay", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_x_stream_without_its_token_is_not_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from claimwatch.live.session import build_sources
    from claimwatch.live.watchlist import parse_watchlist

    wl = parse_watchlist({"streams": [{"name": "x-election", "kind": "x", "rules": ["election"]}]}, env={})
    sources, skipped = build_sources(wl, env={})
    # the clients' reason when they are installed, else that the client is not: one line, not started
    assert sources == [] and len(skipped) == 1
    assert skipped[0].startswith("stream x-election:") and "not started" in skipped[0]


# ------------------------------------------------------------------ with the encoder


@pytest.fixture()
def fws(mws: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    """A store with the synthetic fact-checks, sharing the session's encoder."""
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(le.claimreviews()))
    mws.ingest_factchecks([fc])
    return mws


@pytest.mark.slow
def test_replay_stores_matches_and_alerts_at_once(fws: claimwatch.Workspace, tmp_path: Path) -> None:
    path = le.write_lines(tmp_path / "rec.jsonl", _mixed_events(12))
    seen: list[BatchOutcome] = []
    totals = asyncio.run(_watch(fws, path, Matcher(fws), on_batch=seen.append).run())
    assert totals.events == 12 and totals.stored == 12 and totals.matched == 12
    assert _count(fws, s.MatchState) == 12
    alerts = _alerts(fws)
    # every alert names a post that repeats a false claim; chatter never alerts
    assert alerts and {kind for _, _, kind in alerts} == {"match"}
    assert all(not url.endswith("/turnout") for _, url, _ in alerts)
    assert _count(fws, s.AlertDelivery) == 2 * len(alerts)
    for payload in _payloads(fws):
        validate(payload)
        assert payload["event_received_at"] is not None and payload["match"]["confidence"] >= 0.9
        assert any(m.split(" (item")[0] in payload["post"]["text"] for m in le.MATCHING)


@pytest.mark.slow
def test_match_posts_limited_to_given_post_ids(fws: claimwatch.Workspace, tmp_path: Path) -> None:
    rec = le.write_lines(tmp_path / "rec.jsonl", _mixed_events(4))
    asyncio.run(_watch(fws, rec, None).run())  # stored, not matched
    with fws.engine.connect() as conn:
        ids = sorted(conn.scalars(sa.select(s.Post.id)))
    report = fws.match(post_ids=ids[:2])
    assert report.posts_considered == 2
    with fws.engine.connect() as conn:
        assert sorted(conn.scalars(sa.select(s.MatchState.post_id))) == ids[:2]
    assert fws.match(post_ids=ids[:2]).posts_considered == 0  # already matched
    assert fws.match().posts_considered == 2  # the rest


def _watch_cli(db: Path, replay: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(claimwatch.__file__).parents[1])}
    return subprocess.Popen(
        [sys.executable, "-m", "claimwatch", "watch", "--replay", str(replay), "--db", str(db), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_mid_stream_and_restart_lose_nothing_and_repeat_nothing(
    fws: claimwatch.Workspace, tmp_path: Path
) -> None:
    """A real ``claimwatch watch --replay`` killed with SIGKILL mid-stream, then restarted: every
    event stored once, every post matched, every alert made once."""
    n = 300
    path = le.write_lines(tmp_path / "rec.jsonl", _mixed_events(n))
    db = Path(fws.settings.db)
    proc = _watch_cli(db, path, "--rate", "150")
    deadline = time.monotonic() + 120
    events = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        with fws.engine.connect() as conn:
            events = conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(s.WatchCursor.events), 0)))
        if events >= 60:
            break
    assert proc.poll() is None, proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 60 <= _cursor(fws)[1] < n
    out, _ = _watch_cli(db, path).communicate(timeout=300)
    assert "watched" in out, out
    assert _cursor(fws) == (str(n), n)  # every event stored once: counted once at the cursor
    assert _count(fws, s.Post) == n and _count(fws, s.MatchState) == n  # every post matched
    assert _count(fws, s.MetricSnapshot) == 2 * n // 3  # X and Mastodon events: one snapshot each
    # every qualifying proposal has its alert, once: including those of the batch the kill cut off
    # between its commit and its alerts (finished by the restart). Compared with the store's own
    # proposals, not with another run's: the int8 encoder's embeddings depend on which posts share
    # a batch, so confidences near the threshold may differ between runs batched differently.
    with fws.engine.connect() as conn:
        qualifying = conn.execute(
            sa.select(s.Post.platform_id, s.FactCheck.review_url)
            .join(s.Match, s.Match.post_id == s.Post.id)
            .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
            .where(s.Match.status == "proposed", s.Match.confidence >= 0.9)
        ).all()
    alerts = _alerts(fws)
    assert alerts and sorted((p, u, "match") for p, u in qualifying) == alerts
    assert _count(fws, s.AlertDelivery) == 0  # no watchlist: alerts recorded, no channel to deliver to
    with fws.engine.connect() as conn:
        statuses = sorted(conn.scalars(sa.select(s.IngestRun.status).where(s.IngestRun.kind == "watch")))
    assert statuses == ["completed", "recovered"]


@pytest.mark.slow
def test_live_media_is_fetched_matched_against_the_bank_and_alerts_as_media(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    """A live post whose picture is a re-shared copy of a banked one alerts as ``media`` (the
    picture served by a loopback HTTP server; the post's text matches nothing)."""
    pytest.importorskip("pdqhash")
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    import numpy as np

    from claimwatch.live.media_step import MediaWorker
    from tests import media_samples as ms

    rng = np.random.default_rng(15)
    original = ms.picture(rng)
    ws.bank_media(
        ms.jpeg(original, 95, tmp_path / "banked.jpg"),
        "https://example.org/factcheck/doctored-photo",
        label="manipulated",
        claim="Synthetic: a doctored photo",
        rating="Altered",
    )
    www = tmp_path / "www"
    www.mkdir()
    ms.jpeg(ms.mirrored(ms.resized(original, 0.5)), 40, www / "copy.jpg")
    ms.jpeg(ms.picture(rng), 80, www / "other.jpg")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        path = le.write_lines(
            tmp_path / "rec.jsonl",
            [
                le.x_stream(1, "look at this", photo=f"{base}/copy.jpg"),
                le.x_stream(2, "nice", photo=f"{base}/other.jpg"),
            ],
        )
        rules = AlertRules(channels=CHANNELS[:1])
        assert MediaWorker.available(ws, rules) is None
        assert "off" in (MediaWorker.available(ws, AlertRules(media=False)) or "")
        media = MediaWorker(ws, rules, allow_private=True)
        asyncio.run(_watch(ws, path, None, rules, media=media).run())
    finally:
        server.shutdown()
    payloads = _payloads(ws)
    assert [(p["kind"], p["post"]["platform_id"]) for p in payloads] == [("media", str(1800000000000000001))]
    validate(payloads[0])
    assert payloads[0]["match"]["evidence"].startswith("PDQ distance")
    assert payloads[0]["event_received_at"] is not None
    assert _count(ws, s.AlertDelivery) == 1


@pytest.mark.slow
def test_sigterm_finishes_the_batch_in_hand_and_exits_0(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    n = 200
    path = le.write_lines(tmp_path / "rec.jsonl", _mixed_events(n))
    db = Path(ws.settings.db)
    proc = _watch_cli(db, path, "--rate", "100")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        with ws.engine.connect() as conn:
            if conn.scalar(sa.select(sa.func.coalesce(sa.func.sum(s.WatchCursor.events), 0))) >= 20:
                break
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "watched" in out and "Traceback" not in out
    cursor, events = _cursor(ws)
    assert events == int(cursor) < n and _count(ws, s.Post) == events  # stopped where it said, nothing half-done
    with ws.engine.connect() as conn:
        assert list(conn.scalars(sa.select(s.IngestRun.status))) == ["completed"]
    assert _watch_cli(db, path).wait(timeout=300) == 0
    assert _cursor(ws) == (str(n), n) and _count(ws, s.Post) == n


def test_no_stream_started_is_one_line_and_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    wl = tmp_path / "watch.yaml"
    wl.write_text("streams:\n  - {name: x-election, kind: x, rules: [election]}\n")
    res = CliRunner().invoke(app, ["watch", str(wl), "--db", str(tmp_path / "w.db")])
    assert res.exit_code == 2
    assert "stream x-election:" in res.output and "no stream could be started" in res.output
    assert not (tmp_path / "w.db").exists()


@pytest.mark.slow
def test_a_store_without_factchecks_matches_once_they_arrive(mws: claimwatch.Workspace, tmp_path: Path) -> None:
    now = [0.0]
    matcher = Matcher(mws, check_every=60, clock=lambda: now[0])
    assert not matcher.ready and matcher.match([1]) is None  # stored, not matched: nothing to match against
    path = le.write_lines(tmp_path / "rec.jsonl", [le.jetstream_v1(1, le.MATCHING[1])])
    totals = asyncio.run(_watch(mws, path, matcher).run())
    assert totals.stored == 1 and totals.matched == 0 and _count(mws, s.MatchState) == 0
    fc = tmp_path / "fc.json"
    fc.write_text(json.dumps(le.claimreviews()))
    mws.ingest_factchecks([fc])
    now[0] = 61.0
    later = le.write_lines(tmp_path / "later.jsonl", [le.jetstream_v1(2, le.MATCHING[2])])
    totals = asyncio.run(_watch(mws, later, matcher).run())
    assert matcher.ready and totals.matched == 1
    assert [(url, kind) for _, url, kind in _alerts(mws)] == [("https://example.org/fc/dead", "match")]


@pytest.mark.slow
def test_factchecks_ingested_while_watching_are_matched_against(mws: claimwatch.Workspace, tmp_path: Path) -> None:
    """A fact-check ingested while ``watch`` runs is in the index for the batches after the next look."""
    reviews = le.claimreviews()
    first = tmp_path / "first.json"
    first.write_text(json.dumps([r for r in reviews if "machines" not in r["url"]]))
    mws.ingest_factchecks([first])
    now = [0.0]
    matcher = Matcher(mws, check_every=60, clock=lambda: now[0])
    later = tmp_path / "later.json"
    later.write_text(json.dumps([r for r in reviews if "machines" in r["url"]]))
    mws.ingest_factchecks([later])
    assert not matcher.refresh()  # not looked again before check_every
    now[0] = 61.0
    assert matcher.refresh() and matcher.reloads == 1
    assert not matcher.refresh()  # nothing moved since
    path = le.write_lines(tmp_path / "rec.jsonl", [le.jetstream_v1(1, le.MATCHING[1])])
    asyncio.run(_watch(mws, path, matcher).run())
    assert [(url, kind) for _, url, kind in _alerts(mws)] == [("https://example.org/fc/machines", "match")]
