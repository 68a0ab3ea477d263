"""Loopback throughput of the Jetstream client: N synthetic v1 events replayed by the test server
(tests/live_servers.py), timed from subscribing to the last event decoded. Server and client share
one process and core, so this is a floor for the client alone (no store, no matching).

    PYTHONPATH=src python benchmarks/jetstream_client_throughput.py [N] [REPEATS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from live_helpers import drain, events  # noqa: E402
from live_servers import JetstreamReplay, jetstream_v1_event  # noqa: E402

from claimwatch.live.jetstream import JetstreamSource  # noqa: E402
from claimwatch.live.watchlist import JetstreamSpec  # noqa: E402

T0 = 1_764_500_000_000_000


async def once(n: int) -> float:
    last = str(T0 + n - 1)
    async with JetstreamReplay([jetstream_v1_event(T0 + k) for k in range(n)]) as server:
        source = JetstreamSource(JetstreamSpec("bench", "jetstream", url=server.url), ping_interval=None)
        start = time.perf_counter()
        got = await drain(source.events(None), lambda g: bool(g) and getattr(g[-1], "cursor", None) == last, 300)
        elapsed = time.perf_counter() - start
    assert len(events(got)) == n, f"{len(events(got))} of {n} events arrived"
    return n / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rates = [asyncio.run(once(n)) for _ in range(repeats)]
    print(f"{n:,} events x {repeats}: median {statistics.median(rates):,.0f} events/s, min {min(rates):,.0f}")


if __name__ == "__main__":
    main()
