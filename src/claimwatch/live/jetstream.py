"""Bluesky Jetstream client: follows DIDs and collections over a WebSocket, resumes from a cursor.

Two endpoints, told apart by the URL path:

- **v1** ``…/subscribe``: events ``{did, time_us, kind, commit{…}}``. The cursor is ``time_us`` (µs
  since the epoch, the time *that Jetstream instance* saw the event). A resume asks for
  ``cursor = stored − cursor_margin_s`` (µs arithmetic): events near the cut may have been in
  flight or seen in a different order, and instances' clocks differ; the replayed overlap is
  absorbed by the store, which keys posts by their AT URI.
- **v2** ``…/xrpc/network.bsky.jetstream.subscribeEvents``: messages ``{"$type": "message",
  "payload": {…flat commit…, seq, time}}``. The cursor is the payload's ``seq`` (the formats
  README: a ``seq`` cursor). *Decision*: a resume asks for ``cursor = stored seq`` itself and the
  margin is not applied — a seq is a server-assigned total order, not a clock, so "5 s earlier"
  has no seq equivalent, and asking from the stored seq re-sends that one event (absorbed by the
  store) rather than skipping anything. A seq means nothing on another instance; the stream's
  cursor key includes the URL, so changing the endpoint starts a new cursor rather than resuming.
  The v2 query parameters and ``options_update`` message are assumed to be the v1 ones (the v2
  lexicon itself was not read); a server that refuses them shows up as a LiveStatus per attempt.

Filters go in the URL (``wantedCollections``, ``wantedDids``) unless the URL would pass
``url_limit`` characters (thousands of DIDs): then the connection asks ``requireHello=true`` (the
server sends nothing before the first message) and sends the filters in an ``options_update``.

Every event is a :class:`LiveEvent` whose cursor is its own position; identity and account events
are passed on too (they move the cursor; the reader skips them as not posts). A frame that is not
JSON, not an object, over ``max_frame`` bytes or without its cursor is a :class:`LiveProblem` and
the stream goes on. A dead connection (no pong within ``ping_timeout``) or silence over
``idle_timeout`` reconnects from the last position with :class:`Backoff`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from claimwatch.live.backoff import Backoff, server_wait
from claimwatch.live.events import LiveEvent, LiveItem, LiveProblem
from claimwatch.live.net import PROTOCOL_FACTOR, Items, Sleep, closed, decode_object, real_sleep, ws_connect
from claimwatch.live.watchlist import JetstreamSpec
from claimwatch.sources.bluesky import JETSTREAM_V2_MESSAGE

FORMAT = "bluesky"
V2_METHOD = "network.bsky.jetstream.subscribeEvents"
#: Longest subscription URL sent; past it the filters travel in an options_update message
#: (servers and proxies commonly refuse request lines over 8 KiB).
URL_LIMIT = 4096
#: Largest frame used (a post record is a few KiB); bigger ones are LiveProblems.
MAX_FRAME = 1 << 20
#: Reconnect after this long without any frame (a stalled server that still answers pings).
IDLE_TIMEOUT = 300.0
PING_INTERVAL = 20.0


class JetstreamSource:
    """A :class:`~claimwatch.live.events.LiveSource` over one Jetstream subscription."""

    def __init__(
        self,
        spec: JetstreamSpec,
        *,
        backoff: Backoff | None = None,
        sleep: Sleep = real_sleep,
        idle_timeout: float = IDLE_TIMEOUT,
        ping_interval: float | None = PING_INTERVAL,
        max_frame: int = MAX_FRAME,
        url_limit: int = URL_LIMIT,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.v2 = urlsplit(spec.url).path.rstrip("/").endswith(V2_METHOD)
        self.backoff = backoff or Backoff(base=1.0, cap=120.0)
        self.sleep = sleep
        self.idle_timeout = idle_timeout
        self.ping_interval = ping_interval
        self.max_frame = max_frame
        self.url_limit = url_limit
        self._items = Items(spec.name)

    def key(self) -> str:
        return self.spec.key()

    def resume_from(self, cursor: str | None) -> int | None:
        """The ``cursor`` parameter for a stored cursor (None: live from now)."""
        if cursor is None or not cursor.strip().isdigit():
            return None
        if self.v2:
            return int(cursor)
        return max(0, int(cursor) - round(self.spec.cursor_margin_s * 1_000_000))

    def subscription(self, resume: int | None) -> tuple[str, dict[str, Any] | None]:
        """The URL to open and, when the filters do not fit it, the options_update to send first."""
        filters = [("wantedCollections", c) for c in self.spec.collections]
        filters += [("wantedDids", d) for d in self.spec.dids]
        position = [("cursor", str(resume))] if resume is not None else []
        url = self._url(filters + position)
        if len(url) <= self.url_limit:
            return url, None
        hello = {
            "type": "options_update",
            "payload": {"wantedCollections": list(self.spec.collections), "wantedDids": list(self.spec.dids)},
        }
        return self._url([*position, ("requireHello", "true")]), hello

    def _url(self, query: list[tuple[str, str]]) -> str:
        parts = urlsplit(self.spec.url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    async def events(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        position, frames = cursor, 0
        if cursor is not None and self.resume_from(cursor) is None:
            yield self._items.status(f"stored cursor {cursor[:40]!r} is not a Jetstream position; following live")
            position = None
        while True:
            url, hello = self.subscription(self.resume_from(position))
            where = f"jetstream {urlsplit(self.spec.url).netloc}{urlsplit(self.spec.url).path}"
            wait: float | None = None
            try:
                async with ws_connect(url, max_frame=self.max_frame, ping_interval=self.ping_interval) as ws:
                    if hello is not None:
                        await ws.send(json.dumps(hello))
                    yield self._items.status("connected", url=url[:200], cursor=position or "live")
                    while True:
                        try:
                            frame = await asyncio.wait_for(ws.recv(), self.idle_timeout)
                        except TimeoutError:
                            yield self._items.status(f"no frame for {self.idle_timeout:g} s; reconnecting")
                            break
                        frames += 1
                        item = self.decode(frame, f"{where} frame {frames}")
                        if isinstance(item, LiveEvent):
                            position = item.cursor
                            self.backoff.reset()
                        yield item
            except ConnectionClosed as exc:
                yield closed(self._items, exc)
                if exc.sent is not None and exc.sent.code == 1009:
                    yield self._items.problem(where, f"a frame over {self.max_frame * PROTOCOL_FACTOR:,} bytes", "")
            except InvalidStatus as exc:
                wait = server_wait(dict(exc.response.headers))
                yield self._items.status(f"cannot subscribe: HTTP {exc.response.status_code}", url=url[:200])
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                yield self._items.status(f"cannot connect: {type(exc).__name__}: {exc}"[:300])
            delay = max(wait or 0.0, self.backoff.next())
            yield self._items.status(f"reconnecting in {delay:.1f} s", cursor=position or "live")
            await self.sleep(delay)

    def decode(self, frame: str | bytes, location: str) -> LiveItem:
        """One frame → an event with its cursor, or the problem with it."""
        obj = decode_object(self._items, frame, location, self.max_frame)
        if isinstance(obj, LiveProblem):
            return obj
        if not self.v2:
            time_us = obj.get("time_us")
            if not _is_int(time_us):
                return self._items.problem(location, "event has no integer time_us (its cursor)", frame)
            return self._items.event(FORMAT, obj, str(time_us), location)
        if obj.get("$type") != JETSTREAM_V2_MESSAGE:
            kind = obj.get("$type") or obj.get("type") or "untyped"
            detail = obj.get("message") or obj.get("error") or ""
            return self._items.status(f"server message {str(kind)[:60]}: {str(detail)[:200]}".rstrip(": "))
        payload = obj.get("payload")
        seq = payload.get("seq") if isinstance(payload, dict) else None
        if not _is_int(seq):
            return self._items.problem(location, "message has no integer payload.seq (its cursor)", frame)
        return self._items.event(FORMAT, obj, str(seq), location)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
