"""Benchmark: alert latency of ``claimwatch watch`` at a live pace, and events lost or duplicated.

    python benchmarks/live_latency.py [--events 3000] [--rate 50] [--cli] [--out /tmp/live-bench]

Replays ``--events`` synthetic stream events (Jetstream v1, Mastodon streaming, X filtered-stream
shapes in turn; a third repeat a fact-checked claim with varied wording, the rest chatter) at
``--rate`` events/s into a fresh store holding the demo's fact-checks plus the synthetic ones, with a
webhook channel pointing at a loopback receiver. Reports, as one JSON object:

- alert latency from the triggering event's arrival (``alerts.event_received_at``, stamped by the
  replay as it hands the event on) to the alert row's creation (``alerts.created_at``): p50, p95, max;
- when the deliverer of ``claimwatch.alerts.deliver`` is installed, the latency to the webhook's
  receipt of the alert as well;
- events lost or stored twice: the stream's cursor count against the file's events, stored posts
  against the distinct posts, metric snapshots against the events that carry metrics.

By default the runner runs in this process (``WatchRunner`` over a ``ReplaySource``, the code path of
``claimwatch watch --replay``); ``--cli`` runs ``claimwatch watch WATCHLIST --replay FILE --rate N
--until-idle 5`` as a process of its own instead (its start-up is not in the latency: each alert's
latency starts at its event's arrival). Both say which in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the synthetic event shapes shared with the tests

import live_events as le  # noqa: E402
import sqlalchemy as sa  # noqa: E402

import claimwatch  # noqa: E402
from claimwatch.demo import DATA_DIR as DEMO_DATA  # noqa: E402
from claimwatch.store import schema as s  # noqa: E402

FILLER = "honestly folks really today again please share look wow".split()
CHATTER_WORDS = (
    "game tonight coffee weather rain sunny weekend team great season music concert recipe pizza traffic "
    "city park dog cat movie trailer birthday friends family school library market garden running podcast"
).split()


def synthetic_events(n: int, seed: int = 15) -> list[dict]:
    rng = random.Random(seed)
    makers = (le.jetstream_v1, le.mastodon_update, le.x_stream)
    out = []
    for i in range(n):
        if i % 3 == 0:
            words = rng.choice(le.MATCHING).split()
            words.insert(rng.randrange(len(words)), rng.choice(FILLER))
            text = " ".join(words)
        else:
            text = " ".join(rng.choice(CHATTER_WORDS) for _ in range(rng.randint(6, 25)))
        out.append(makers[i % 3](i, f"{text} ({i})"))
    return out


class Receiver:
    """A loopback webhook that records when each alert arrived (by its ``alert_id``)."""

    def __init__(self) -> None:
        self.received: dict[int, datetime] = {}
        self.duplicates = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = datetime.now(UTC)
                try:
                    alert_id = json.loads(body).get("alert_id")
                except ValueError:
                    alert_id = None
                if isinstance(alert_id, int):
                    if alert_id in receiver.received:
                        receiver.duplicates += 1
                    receiver.received.setdefault(alert_id, at)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_s": None, "p95_s": None, "max_s": None}
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(percentile(values, 0.95), 3),
        "max_s": round(max(values), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--cli", action="store_true", help="run `claimwatch watch --replay` as its own process")
    ap.add_argument("--out", type=Path, default=Path("/tmp/live-bench"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "live.db"
    for stale in args.out.glob("live.db*"):
        stale.unlink()
    replay = args.out / "events.jsonl"
    le.write_lines(replay, synthetic_events(args.events))
    factchecks = args.out / "factchecks.json"
    factchecks.write_text(json.dumps(le.claimreviews()))
    ws = claimwatch.open(db)
    ws.ingest_factchecks([DEMO_DATA / "factchecks.jsonld", factchecks])
    ws.build_index()
    receiver = Receiver()
    watchlist = args.out / "watchlist.yaml"
    watchlist.write_text(
        "streams:\n  - {name: unused, kind: jetstream, dids: [did:plc:abcdefghijklmnopqrstuvwx]}\n"
        f"alerts:\n  min_confidence: 0.9\n  channels:\n    - {{name: hook, kind: webhook, url: '{receiver.url}'}}\n"
    )
    started = time.monotonic()
    if args.cli:
        mode = "claimwatch watch --replay (own process)"
        env = {**os.environ, "PYTHONPATH": str(Path(claimwatch.__file__).parents[1])}
        cmd = [sys.executable, "-m", "claimwatch", "watch", str(watchlist), "--replay", str(replay)]
        cmd += ["--rate", str(args.rate), "--until-idle", "5", "--db", str(db)]
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    else:
        mode = "in-process WatchRunner over ReplaySource (the path of claimwatch watch --replay)"
        asyncio.run(run_in_process(ws, watchlist, replay, args.rate))
    wall = time.monotonic() - started
    time.sleep(1.0)  # a delivery in flight lands
    with ws.engine.connect() as conn:
        alerts = conn.execute(sa.select(s.Alert.id, s.Alert.event_received_at, s.Alert.created_at)).all()
        posts = conn.scalar(sa.select(sa.func.count()).select_from(s.Post))
        snapshots = conn.scalar(sa.select(sa.func.count()).select_from(s.MetricSnapshot))
        cursor_events = conn.scalar(sa.select(sa.func.sum(s.WatchCursor.events)))
        matched = conn.scalar(sa.select(sa.func.count()).select_from(s.MatchState))
    created = [(a.created_at - a.event_received_at).total_seconds() for a in alerts if a.event_received_at]
    received = [
        (receiver.received[a.id] - a.event_received_at).total_seconds()
        for a in alerts
        if a.event_received_at and a.id in receiver.received
    ]
    print(
        json.dumps(
            {
                "mode": mode,
                "events": args.events,
                "rate_per_s": args.rate,
                "wall_s": round(wall, 1),
                "alerts": len(alerts),
                "latency_to_alert_row": summary(created),
                "latency_to_webhook": summary(received),
                "webhook_duplicates": receiver.duplicates,
                "events_counted_at_cursor": cursor_events,
                "events_lost": args.events - (cursor_events or 0),
                "posts_stored": posts,
                "posts_matched": matched,
                "snapshots": snapshots,
                "snapshots_expected": sum(1 for i in range(args.events) if i % 3 != 0),
                "cpus": os.cpu_count(),
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=1,
        )
    )


async def run_in_process(ws: claimwatch.Workspace, watchlist: Path, replay: Path, rate: float) -> None:
    from claimwatch.live.pipeline import BatchPipeline, Matcher
    from claimwatch.live.replay import ReplaySource
    from claimwatch.live.runner import WatchRunner
    from claimwatch.live.session import build_deliverer
    from claimwatch.live.watchlist import load_watchlist

    wl = load_watchlist(watchlist)
    source = ReplaySource(replay, "replay", rate)
    pipeline = BatchPipeline(ws.engine, {source.name: (source.key(), source.origin)}, Matcher(ws), wl.alerts)
    await WatchRunner(pipeline, [source], deliverer=build_deliverer(ws.engine, wl.alerts), status=print).run()


if __name__ == "__main__":
    main()
