"""What every stream client and metrics fetcher shares at the network edge: one ``httpx`` client per
source (timeouts, a User-Agent naming claimwatch, no redirects — a token never follows a redirect
to another host), the builders of :mod:`claimwatch.live.events` items, and id ordering.

Waits go through an injectable ``sleep`` so tests replay rate limits and back-offs without waiting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from claimwatch import __version__
from claimwatch.live.backoff import Backoff, server_wait
from claimwatch.live.events import LiveEvent, LiveProblem, LiveStatus

#: websockets closes a connection on a frame this many times the source's own frame limit.
PROTOCOL_FACTOR = 8
USER_AGENT = f"claimwatch/{__version__} (live monitoring for fact-checking research)"
#: A raw frame kept with a problem is clipped to this many characters.
MAX_RAW = 2000
#: Longest one-line reason taken from a server's error body.
MAX_REASON = 300

Sleep = Callable[[float], Awaitable[None]]


def http_client(headers: Mapping[str, str] | None = None, read_timeout: float = 30.0) -> httpx.AsyncClient:
    """A client for one source. Redirects are not followed: an API that redirects is reported as
    an error rather than handed the bearer token for wherever it points."""
    return httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        timeout=httpx.Timeout(10.0, read=read_timeout),
        follow_redirects=False,
    )


def clip(raw: str | bytes) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= MAX_RAW else text[:MAX_RAW] + f"… [cut: {len(text)} chars in all]"


def id_key(value: str) -> tuple[int, str]:
    """Order of platform ids that are decimal numbers without leading zeros (X, Mastodon) or
    fixed-width sortable strings (Pleroma flake ids): by length, then by text — integer order
    for the former, with no int conversion of hostile input."""
    return len(value), value


def newest(a: str | None, b: str | None) -> str | None:
    """The later of two ids (None: unknown)."""
    if a is None or b is None:
        return a or b
    return max(a, b, key=id_key)


def reason_of(response: httpx.Response) -> str:
    """A one-line reason from an error response: the API's own ``detail``/``title``/``error``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else body
        text = str(first.get("detail") or first.get("message") or first.get("title") or first.get("error") or "")
    text = " ".join(text.split())[:MAX_REASON]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


@dataclass(frozen=True)
class Items:
    """Builds the items one stream yields, stamped with its name and the time they arrive."""

    stream: str

    def event(self, fmt: str, payload: dict[str, Any], cursor: str | None, location: str) -> LiveEvent:
        return LiveEvent(self.stream, fmt, payload, cursor, location, datetime.now(UTC), time.monotonic())

    def problem(self, location: str, reason: str, raw: str | bytes | Any) -> LiveProblem:
        if not isinstance(raw, str | bytes):
            raw = json.dumps(raw, ensure_ascii=False, default=str)
        return LiveProblem(self.stream, location, reason, clip(raw), datetime.now(UTC))

    def status(self, message: str, **details: object) -> LiveStatus:
        return LiveStatus(self.stream, message, datetime.now(UTC), {k: str(v) for k, v in details.items()})


def response_json(response: httpx.Response | None) -> Any:
    """The JSON body of a response, None when there is none or it is not JSON."""
    try:
        return response.json() if response is not None else None
    except ValueError:
        return None


def moved(item: LiveEvent | LiveProblem | LiveStatus, high: str | None) -> str | None:
    """The highest id after ``item`` (events that carry a cursor move it; nothing else does)."""
    return newest(high, item.cursor) if isinstance(item, LiveEvent) else high


def decode_object(items: Items, frame: str | bytes, location: str, max_frame: int) -> dict[str, Any] | LiveProblem:
    """A frame or line that must be one JSON object of at most ``max_frame`` bytes, or the problem."""
    if len(frame) > max_frame:
        return items.problem(location, f"frame of {len(frame):,} bytes, over the {max_frame:,} limit", frame)
    try:
        obj = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        return items.problem(location, f"not JSON ({exc})", frame)
    if not isinstance(obj, dict):
        return items.problem(location, f"JSON {type(obj).__name__} where an object was expected", frame)
    return obj


def ws_connect(
    url: str,
    *,
    max_frame: int,
    ping_interval: float | None,
    headers: Mapping[str, str] | None = None,
    max_queue: int = 16,
) -> Any:
    """A websockets connection (``async with``): pings every ``ping_interval`` s and drops the
    connection when no pong comes within as long; frames over PROTOCOL_FACTOR × ``max_frame``
    close it (the decoder refuses those over ``max_frame`` itself, keeping the connection)."""
    return connect(
        url,
        additional_headers=dict(headers) if headers else None,
        max_size=max_frame * PROTOCOL_FACTOR,
        max_queue=max_queue,
        ping_interval=ping_interval,
        ping_timeout=ping_interval,
        user_agent_header=USER_AGENT,
        open_timeout=15,
        close_timeout=2,
    )


def closed(items: Items, exc: ConnectionClosed) -> LiveStatus:
    """The status for a connection that closed: the close code and reason the peer sent."""
    rcvd = exc.rcvd
    return items.status("disconnected", code=rcvd.code if rcvd else "none", reason=(rcvd.reason if rcvd else "") or "-")


async def real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@dataclass
class Fetched:
    """The outcome of a request made with :func:`request`: the final response (None when none
    came), why it failed when it did, and the waits it took (seconds, why) for the caller to report."""

    response: httpx.Response | None
    reason: str | None = None
    waits: list[tuple[float, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.is_success


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    sleep: Sleep,
    backoff: Backoff,
    attempts: int = 4,
    params: Any = None,
    json_body: Any = None,
) -> Fetched:
    """One API call, retried on network errors, 429 and 5xx (the server's wait — ``Retry-After``,
    rate-limit reset — wins over ``backoff``); after a success that used up the rate-limit window
    (``X-RateLimit-Remaining: 0``) it waits for the reset, so the caller's next call is allowed.
    Other statuses (4xx) come back as they are for the caller to read."""
    fetched = Fetched(None)
    for attempt in range(1, attempts + 1):
        try:
            response = await client.request(method, url, params=params, json=json_body)
        except httpx.HTTPError as exc:
            fetched.response, fetched.reason = None, f"network error: {type(exc).__name__}: {exc}"[:MAX_REASON]
            wait: float | None = backoff.next()
        else:
            fetched.response = response
            if response.status_code == 429 or response.status_code >= 500:
                fetched.reason = "rate limited" if response.status_code == 429 else reason_of(response)
                wait = server_wait(response.headers) or backoff.next()
            else:
                fetched.reason = None if response.is_success else reason_of(response)
                remaining = _header(response.headers, "x-ratelimit-remaining", "x-rate-limit-remaining")
                if response.is_success and remaining == "0":
                    pause = server_wait(response.headers)
                    if pause:
                        fetched.waits.append((pause, "rate-limit window used up"))
                        await sleep(pause)
                backoff.reset()
                return fetched
        if attempt == attempts:
            break
        fetched.waits.append((wait, fetched.reason or "retry"))
        await sleep(wait)
    return fetched


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if name in headers:
            return headers[name].strip()
    return None
