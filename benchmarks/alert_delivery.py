"""What the deliverer adds to an alert's latency: recorded alert → webhook receipt, on loopback.

Two runs against a receiver in its own process (an asyncio HTTP/1.1 server that only timestamps
each request, so it costs the deliverer no CPU of its own process):

- **burst**: N alerts pending at once, one wake; deliveries/s and each alert's time from the wake
  to its receipt;
- **paced**: alerts recorded one at a time at R per second (the live figure's rate), each followed
  by ``wake()`` as the runner does; time from the wake to the receipt, p50/p95/max.

    PYTHONPATH=src python benchmarks/alert_delivery.py --alerts 1000 --rate 50 [--db URL]

The store is a fresh SQLite file under /tmp (or ``--db``, which is reset: never a store you keep).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.alerts.deliver import Deliverer
from claimwatch.live.watchlist import Channel
from claimwatch.store import alerts, db, metric_fetches, repo


def _receiver(port_out: multiprocessing.connection.Connection, log: str) -> None:
    """Answer every POST with 200 at once; write ``alert_id wall-time`` per request to ``log``."""
    received: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
            if not head:
                break
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            body = await reader.readexactly(length)
            received.append(f"{json.loads(body)['alert_id']} {time.time()}")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _guard(handle(r, w)), "127.0.0.1", 0, reuse_address=True)
        port_out.send(server.sockets[0].getsockname()[1])
        while True:
            await asyncio.sleep(0.2)
            if received:
                with open(log, "a", encoding="utf-8") as f:
                    f.write("\n".join(received) + "\n")
                received.clear()

    asyncio.run(main())


async def _guard(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except (asyncio.IncompleteReadError, ConnectionError):
        pass


def _payload(i: int) -> dict[str, object]:
    return {"schema": "claimwatch-alert/1", "kind": "match", "post": {"text": f"synthetic benchmark post {i}"}}


def _post(engine: sa.Engine) -> int:
    post = r.Post("x", "1", r.Author("x", "u1", handle="bench_example"), datetime.now(UTC), "synthetic")
    with db.writing(engine) as conn:
        repo.upsert_posts(conn, [post], None)
        return metric_fetches.post_ids(conn, "x", ["1"])["1"]


def _record(engine: sa.Engine, post_id: int, start: int, n: int) -> list[int]:
    now = datetime.now(UTC)
    batch = [
        alerts.NewAlert(f"bench:{i}", "bench", "match", post_id, None, None, None, _payload(i), None, now)
        for i in range(start, start + n)
    ]
    with db.writing(engine) as conn:
        return alerts.insert_alerts(conn, batch, [("hook", "webhook")])


def _received(log: Path, want: int, timeout: float = 120) -> dict[int, float]:
    end = time.time() + timeout
    while time.time() < end:
        got = {}
        if log.exists():
            for line in log.read_text().splitlines():
                a, t = line.split()
                got[int(a)] = float(t)
        if len(got) >= want:
            return got
        time.sleep(0.1)
    raise SystemExit(f"receiver got {len(got)} of {want} alerts in {timeout} s")


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0, help="alerts per second in the paced run")
    ap.add_argument("--paced", type=int, default=500, help="alerts in the paced run")
    ap.add_argument("--db", help="a store URL to use (it is RESET); default a fresh SQLite file")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="claimwatch-alert-bench-"))
    log = work / "received.log"
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_receiver, args=(child, str(log)), daemon=True)
    proc.start()
    port = parent.recv()
    engine = db.open_store(args.db or work / "bench.db")
    if args.db:
        db.reset(engine)
    post_id = _post(engine)
    channel = Channel("hook", "webhook", url=f"http://127.0.0.1:{port}/hook")

    # burst: everything pending, one wake
    ids = _record(engine, post_id, 0, args.alerts)

    async def burst() -> tuple[float, float]:
        async with Deliverer(engine, (channel,)) as d:
            t0 = time.time()
            report = await d.deliver_due()
            assert report.sent == len(ids), report
            return t0, time.time()

    t0, t1 = asyncio.run(burst())
    got = _received(log, len(ids))
    lat = [got[i] - t0 for i in ids]
    print(
        f"burst: {len(ids)} alerts in {t1 - t0:.2f} s = {len(ids) / (t1 - t0):.0f} deliveries/s; "
        f"wake→receipt p50 {_pct(lat, 50) * 1000:.0f} ms, p95 {_pct(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
    )

    # paced: one alert at a time at --rate, each recorded then wake() (as the runner does)
    async def paced() -> dict[int, float]:
        woken: dict[int, float] = {}
        d = Deliverer(engine, (channel,))
        stop = asyncio.Event()
        task = asyncio.create_task(d.run(stop))
        await asyncio.sleep(0.2)
        for n in range(args.paced):
            [alert_id] = await asyncio.to_thread(_record, engine, post_id, args.alerts + n, 1)
            woken[alert_id] = time.time()
            d.wake()
            await asyncio.sleep(1 / args.rate)
        await asyncio.to_thread(_received, log, len(ids) + args.paced)
        stop.set()
        await task
        return woken

    woken = asyncio.run(paced())
    got = _received(log, len(ids) + args.paced)
    lat = [got[a] - t for a, t in woken.items()]
    print(
        f"paced at {args.rate:g}/s: {len(lat)} alerts; wake→receipt p50 {_pct(lat, 50) * 1000:.1f} ms, "
        f"p95 {_pct(lat, 95) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms; mean {statistics.mean(lat) * 1000:.1f} ms"
    )
    proc.terminate()
    engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
