"""A small store for the alert and re-fetch tests: synthetic posts (``*.example`` hosts), a
fact-check, matches, and alerts recorded through ``store.alert_deliveries`` (the runner records
the real ones with its rules), plus a loopback HTTP receiver that answers from a script."""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store import alerts, db, repo, schema
from claimwatch.store.matches import CandidateRow

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> <script>alert(1)</script> & *bold* <https://evil.example|click>"


_TEMPLATE: dict[str, Path] = {}


def store(tmp_path: Path, url: str | None = None) -> sa.Engine:
    """A fresh store: a copy of one migrated once per session (migrating costs ~0.4 s a store)."""
    if url is not None:
        return db.open_store(url)
    path = tmp_path / "alerts.db"
    if not path.exists():
        if "db" not in _TEMPLATE:
            folder = Path(tempfile.mkdtemp(prefix="claimwatch-alerts-"))
            atexit.register(shutil.rmtree, folder, True)
            db.open_store(folder / "template.db").dispose()
            _TEMPLATE["db"] = folder / "template.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_TEMPLATE["db"], path)
    return db.open_store(path)


def add_post(
    engine: sa.Engine,
    platform_id: str,
    *,
    platform: str = "x",
    text: str = "Synthetic post: the ballots were counted twice.",
    author: str = "example_account",
    views: int | None = 1200,
    observed_at: datetime = T0,
) -> int:
    post = r.Post(
        platform=platform,
        platform_id=platform_id,
        author=r.Author(platform, f"u-{author}", handle=author),
        created_at=T0,
        text=text,
        url=f"https://{platform}.example/{author}/status/{platform_id}",
        metrics=r.MetricSnapshot(observed_at, views=views, likes=3),
        raw={"synthetic": True, "id": platform_id},
        source=r.SourceRef("tests", platform_id, "synthetic"),
    )
    with db.writing(engine) as conn:
        repo.upsert_posts(conn, [post], None)
        return int(
            conn.execute(sa.text("select id from posts where platform_id = :p"), {"p": platform_id}).scalar_one()
        )


def add_factcheck(engine: sa.Engine, n: int = 1, claim: str = "The ballots were counted twice.") -> int:
    fc = r.FactCheck(
        review_url=f"https://factcheck.example/review/{n}",
        claim_text=claim,
        publisher_name="Example Checks",
        rating_text="False",
    )
    with db.writing(engine) as conn:
        repo.upsert_factchecks(conn, [(fc, "test")], None)
        return int(
            conn.execute(sa.text("select id from factchecks where review_url = :u"), {"u": fc.review_url}).scalar_one()
        )


def add_match(engine: sa.Engine, post_id: int, factcheck_id: int, *, proposed: bool = True) -> None:
    row = CandidateRow(factcheck_id, 1, 0.9, {"synthetic": True}, confidence=0.95, proposed=proposed)
    with db.writing(engine) as conn:
        repo.write_matches(conn, post_id, [row], "test-fixture", "v")


def payload(post_id: int, kind: str = "match", text: str = "Synthetic post text", **post: Any) -> dict[str, Any]:
    """The runner's alert payload shape, every post/fact-check value synthetic."""
    return {
        "schema": "claimwatch-alert/1",
        "alert_id": None,
        "kind": kind,
        "rule": "min_confidence",
        "created_at": T0.isoformat(),
        "event_received_at": T0.isoformat(),
        "post": {
            "platform": "x",
            "platform_id": str(post_id),
            "url": f"https://x.example/example_account/status/{post_id}",
            "author": "example_account",
            "created_at": T0.isoformat(),
            "text": text,
            "views": None,
            "views_observed_at": None,
            **post,
        },
        "factcheck": {
            "review_url": "https://factcheck.example/review/1",
            "publisher": "Example Checks",
            "rating": "False",
            "verdict": "false",
            "claim": "The ballots were counted twice.",
        },
        "match": {"confidence": 0.95, "method": "v2", "relation": "claim", "evidence": {}},
        "views": None,
    }


def queue_alert(
    engine: sa.Engine,
    post_id: int,
    channels: list[tuple[str, str]],
    *,
    key: str | None = None,
    body: dict[str, Any] | None = None,
) -> int:
    alert = alerts.NewAlert(
        dedup_key=key or f"match:{post_id}",
        rule="min_confidence",
        kind="match",
        post_id=post_id,
        factcheck_id=None,
        confidence=0.95,
        views=None,
        payload=body or payload(post_id),
        event_received_at=None,
        created_at=datetime.now(UTC),
    )
    with db.writing(engine) as conn:
        [alert_id] = alerts.insert_alerts(conn, [alert], channels)
    return alert_id


def deliveries(engine: sa.Engine) -> list[Any]:
    d = schema.AlertDelivery
    cols = (d.alert_id, d.channel, d.status, d.attempts, d.last_error, d.next_attempt_at, d.sent_at)
    with engine.connect() as conn:
        return list(conn.execute(sa.select(*cols).order_by(d.alert_id, d.channel)))


# ----------------------------------------------------------------------------- receiver


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1: ``script[path]`` lists the replies to give in turn (then 200)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.received.append(Received(self.path, dict(self.headers), body, time.perf_counter()))
                    queue = outer.script.get(self.path) or []
                    reply = queue.pop(0) if queue else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                data = b'{"ok": true}' if reply.status < 300 else b"refused: synthetic"
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a client that timed out (the hang script) leaves a broken pipe: expected, not worth a traceback
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [x for x in self.received if x.path == path]


@contextmanager
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


def assert_sent_once_by_two(engine: sa.Engine, other: sa.Engine, n: int) -> None:
    """``n`` alerts, two deliverers on one store (two engines) at once: each alert reaches the
    receiver exactly once, and both deliverers did some of the work."""
    from claimwatch.alerts.deliver import Deliverer
    from claimwatch.live.watchlist import Channel

    posts = [add_post(engine, f"2{i:03d}") for i in range(n)]
    with receiver() as rec:
        ch = Channel("desk", "webhook", url=rec.url("/desk"))
        ids = [queue_alert(engine, p, [("desk", "webhook")]) for p in posts]

        async def both() -> list[Any]:
            async with (
                Deliverer(engine, (ch,), batch=4, concurrency=4) as a,
                Deliverer(other, (ch,), batch=4, concurrency=4) as b,
            ):
                return await asyncio.gather(a.deliver_due(), b.deliver_due())

        ra, rb = asyncio.run(both())
        got = sorted(x.json()["alert_id"] for x in rec.on("/desk"))
    assert got == sorted(ids)  # every alert, none twice
    assert ra.sent + rb.sent == n and ra.sent > 0 and rb.sent > 0
    assert {x.status for x in deliveries(engine)} == {"sent"}
