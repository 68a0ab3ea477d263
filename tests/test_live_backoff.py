"""Back-off waits and the server's rate-limit headers."""

from datetime import UTC, datetime

from claimwatch.live.backoff import Backoff, server_wait

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def test_backoff_grows_to_the_cap_and_resets() -> None:
    b = Backoff(base=1, cap=10, factor=2, jitter=0)
    assert [b.next() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    b.reset()
    assert b.next() == 1


def test_jitter_stays_within_its_band() -> None:
    b = Backoff(base=4, cap=4, jitter=0.25)
    waits = [b.next() for _ in range(200)]
    assert min(waits) >= 3 and max(waits) <= 5 and len(set(waits)) > 1


def test_server_wait_reads_retry_after_and_rate_limit_resets() -> None:
    assert server_wait({"Retry-After": "120"}, NOW) == 120
    assert server_wait({"retry-after": "Tue, 01 Dec 2026 12:00:30 GMT"}, NOW) == 30
    assert server_wait({"x-rate-limit-reset": str(int(NOW.timestamp()) + 45)}, NOW) == 45
    assert server_wait({"X-RateLimit-Reset": "2026-12-01T12:05:00.000Z"}, NOW) == 300
    assert server_wait({"x-rate-limit-reset": "1700000000"}, NOW) == 0  # already past
    assert server_wait({"Retry-After": "99999999"}, NOW) == 3600  # capped
    assert server_wait({"Retry-After": "soon"}, NOW) is None
    assert server_wait({}, NOW) is None
