"""Mastodon client: the streaming API over a WebSocket, and REST back-fill, since streaming has no replay.

Each connection subscribes (``{"type": "subscribe", "stream": "hashtag", "tag": …}`` per hashtag,
``"user"`` for the token's home timeline), then back-fills over REST what was posted while nobody
listened — ``/api/v1/timelines/tag/:tag``, ``/api/v1/timelines/home``, and for ``spec.accounts``
``/api/v1/accounts/lookup`` → ``/api/v1/accounts/:id/statuses`` — and only then reads the frames
queued meanwhile (subscribing first means nothing falls between back-fill and stream; the overlap
is absorbed by the store). Accounts have no stream of their own: their timelines are polled every
``account_poll_s`` as well.

**Cursor**: the highest status id seen (ids compare as integers: by length, then text). Back-fill
pages oldest first (``min_id`` and the ``Link: rel="prev"`` page, 40 a page); its events carry no
cursor except the last one, which carries the highest id of the whole back-fill — so a back-fill
cut short (a crash, a restart) is redone from where the *stored* cursor stood, never skipped.

**Late federation**: a remote status gets an id from its own publication time, so one that reaches
the instance late has an id *below* the cursor. Streaming delivers it when it arrives (its event
does not move the cursor back). REST back-fill starts ``late_margin_s`` before the cursor (a
Mastodon id is ``milliseconds << 16``: the margin is subtracted in those units), so statuses that
federated during a gap up to that much late are caught; ones later than that, arriving while we
were disconnected, are missed — a known limit of the platform's timelines. Replays in the margin
are duplicates the store absorbs. The margin must exceed ``account_poll_s``.

``update`` and ``status.update`` events are passed on as the streaming frame (the mastodon reader
reads ``{event, payload}``); ``delete`` and other events are dropped. The token goes in the
``Authorization`` header to the instance and to the streaming host the instance itself names
(``/api/v2/instance`` → ``configuration.urls.streaming``), nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from claimwatch.live.backoff import Backoff, server_wait
from claimwatch.live.events import LiveEvent, LiveItem, LiveProblem
from claimwatch.live.net import (
    Items,
    Sleep,
    closed,
    decode_object,
    http_client,
    id_key,
    moved,
    newest,
    real_sleep,
    request,
    response_json,
    ws_connect,
)
from claimwatch.live.watchlist import MastodonSpec
from claimwatch.sources.mastodon import STREAM_STATUS_EVENTS

FORMAT = "mastodon"
STREAMING_PATH = "/api/v1/streaming"
PAGE_LIMIT = 40
MAX_PAGES = 50
MAX_FRAME = 1 << 20
IDLE_TIMEOUT = 300.0
PING_INTERVAL = 20.0
LATE_MARGIN_S = 600.0
ACCOUNT_POLL_S = 60.0
#: Frames queued while a back-fill runs (the reader resumes them afterwards).
MAX_QUEUE = 4096
#: HTTP statuses that end the stream: the token is wrong or lacks the scope; retrying will not help.
FATAL = frozenset({401, 403})


class MastodonSource:
    """A :class:`~claimwatch.live.events.LiveSource` over one instance's hashtag / user streams and
    the REST timelines that back-fill them."""

    def __init__(
        self,
        spec: MastodonSpec,
        token: str | None,
        *,
        backoff: Backoff | None = None,
        sleep: Sleep = real_sleep,
        http: httpx.AsyncClient | None = None,
        streaming_url: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        ping_interval: float | None = PING_INTERVAL,
        late_margin_s: float = LATE_MARGIN_S,
        account_poll_s: float = ACCOUNT_POLL_S,
        max_pages: int = MAX_PAGES,
        max_frame: int = MAX_FRAME,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.token = token
        self.backoff = backoff or Backoff(base=1.0, cap=120.0)
        self.sleep = sleep
        self.http = http or http_client({"Authorization": f"Bearer {token}"} if token else None)
        self.streaming_url = streaming_url
        self.idle_timeout = idle_timeout
        self.ping_interval = ping_interval
        self.late_margin_s = late_margin_s
        self.account_poll_s = account_poll_s
        self.max_pages = max_pages
        self.max_frame = max_frame
        self.host = urlsplit(spec.instance).netloc
        self._items = Items(spec.name)
        self._account_ids: dict[str, str | None] = {}

    def key(self) -> str:
        return self.spec.key()

    async def aclose(self) -> None:
        """Close the HTTP client (when ``watch`` stops)."""
        await self.http.aclose()

    def subscriptions(self) -> list[dict[str, str]]:
        subs = [{"type": "subscribe", "stream": "hashtag", "tag": tag} for tag in self.spec.hashtags]
        return subs + ([{"type": "subscribe", "stream": "user"}] if self.spec.user else [])

    def backfill_from(self, cursor: str) -> str:
        """Where a back-fill starts: ``late_margin_s`` before ``cursor`` for a Mastodon (snowflake)
        id, the cursor itself for other servers' ids."""
        if not cursor.isdigit() or int(cursor) < 1 << 16:
            return cursor
        return str(max(0, int(cursor) - (round(self.late_margin_s * 1000) << 16)))

    async def events(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        high, frames = cursor, 0
        subs = self.subscriptions()
        while True:
            wait: float | None = None
            try:
                url = await self._streaming_endpoint()
                headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
                async with ws_connect(
                    url,
                    max_frame=self.max_frame,
                    ping_interval=self.ping_interval,
                    headers=headers,
                    max_queue=MAX_QUEUE,
                ) as ws:
                    for sub in subs:
                        await ws.send(json.dumps(sub))
                    yield self._items.status("connected", url=url, cursor=high or "live")
                    if high is not None:
                        async for item in self.backfill(high, timelines=self._timelines(all_=True)):
                            high = moved(item, high)
                            yield item
                    next_poll = time.monotonic() + self.account_poll_s
                    while True:
                        timeout = self.idle_timeout
                        if self.spec.accounts:
                            timeout = max(0.0, min(timeout, next_poll - time.monotonic()))
                        try:
                            frame = await asyncio.wait_for(ws.recv(), timeout)
                        except TimeoutError:
                            if self.spec.accounts and time.monotonic() >= next_poll:
                                next_poll = time.monotonic() + self.account_poll_s
                                async for item in self.backfill(high, timelines=self._timelines(all_=False)):
                                    high = moved(item, high)
                                    yield item
                                continue
                            yield self._items.status(f"no frame for {self.idle_timeout:g} s; reconnecting")
                            break
                        frames += 1
                        item = self.decode(frame, f"mastodon {url} frame {frames}", high)
                        if item is None:
                            continue
                        if isinstance(item, LiveEvent):
                            high = item.cursor
                            self.backoff.reset()
                        yield item
            except ConnectionClosed as exc:
                yield closed(self._items, exc)
            except InvalidStatus as exc:
                code = exc.response.status_code
                if code in FATAL:
                    yield self._items.status(f"stopped: the streaming API refused the token (HTTP {code})")
                    return
                wait = server_wait(dict(exc.response.headers))
                yield self._items.status(f"cannot subscribe: HTTP {code}")
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                yield self._items.status(f"cannot connect: {type(exc).__name__}: {exc}"[:300])
            delay = max(wait or 0.0, self.backoff.next())
            yield self._items.status(f"reconnecting in {delay:.1f} s", cursor=high or "live")
            await self.sleep(delay)

    def decode(self, frame: str | bytes, location: str, high: str | None) -> LiveItem | None:
        """A streaming frame → an event (cursor: the highest id so far), a problem, or None for
        events that carry no status (``delete``, notifications, filters…)."""
        obj = decode_object(self._items, frame, location, self.max_frame)
        if isinstance(obj, LiveProblem):
            return obj
        if "error" in obj and "event" not in obj:
            return self._items.status(f"server error: {str(obj['error'])[:200]}")
        if obj.get("event") not in STREAM_STATUS_EVENTS:
            return None
        payload = obj.get("payload")
        try:
            status = json.loads(payload) if isinstance(payload, str) else payload
        except ValueError as exc:
            return self._items.problem(location, f"event payload is not JSON ({exc})", frame)
        sid = status.get("id") if isinstance(status, dict) else None
        if not isinstance(sid, str) or not sid:
            return self._items.problem(location, "event payload is not a status with an id", frame)
        return self._items.event(FORMAT, obj, newest(high, sid), location)

    # ------------------------------------------------------------------ REST back-fill

    def _timelines(self, all_: bool) -> list[tuple[str, str | None]]:
        """(path, account) of the timelines to back-fill; the account's id is looked up later."""
        out: list[tuple[str, str | None]] = []
        if all_:
            out += [(f"/api/v1/timelines/tag/{quote(tag, safe='')}", None) for tag in self.spec.hashtags]
            out += [("/api/v1/timelines/home", None)] if self.spec.user else []
        return out + [("", acct) for acct in self.spec.accounts]

    async def backfill(self, since: str | None, timelines: list[tuple[str, str | None]]) -> AsyncIterator[LiveItem]:
        """Statuses newer than ``since`` (minus the late margin) on each timeline, oldest first;
        only the last event carries the cursor (the highest id of the whole back-fill). With no
        ``since`` (a first start: live from now) only each timeline's newest page is read."""
        start = self.backfill_from(since) if since is not None else None
        held: LiveEvent | None = None
        high = since
        count = 0
        for path, acct in timelines:
            if acct is not None:
                account_id = await self._account_id(acct)
                if account_id is None:
                    yield self._items.status(f"back-fill: account {acct} not found on {self.host}")
                    continue
                path = f"/api/v1/accounts/{account_id}/statuses"
            async for item in self._pages(path, start):
                if isinstance(item, LiveEvent):
                    if held is not None:
                        yield held
                    high = newest(high, item.payload["id"])
                    held, count = item, count + 1
                else:
                    yield item
        if held is not None:
            yield replace(held, cursor=high)
        if count:
            yield self._items.status("back-filled", statuses=count, cursor=high)

    async def _pages(self, path: str, min_id: str | None) -> AsyncIterator[LiveItem]:
        """Pages newer than ``min_id``, oldest first; None: only the newest page (a first look)."""
        url = self.spec.instance + path
        for page in range(1, self.max_pages + 1):
            params = {"limit": PAGE_LIMIT, **({"min_id": min_id} if min_id is not None else {})}
            fetched = await request(self.http, "GET", url, sleep=self.sleep, backoff=self.backoff, params=params)
            for seconds, why in fetched.waits:
                yield self._items.status(f"back-fill: waited {seconds:.1f} s ({why})", url=url)
            where = f"mastodon {url} page {page}"
            if not fetched.ok:
                yield self._items.status(f"back-fill stopped: {fetched.reason}", url=url)
                return
            assert fetched.response is not None
            try:
                statuses = fetched.response.json()
            except ValueError:
                statuses = None
            if not isinstance(statuses, list):
                yield self._items.problem(where, "not a JSON array of statuses", fetched.response.content)
                return
            good = [s for s in statuses if isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"]]
            for n, bad in enumerate(s for s in statuses if s not in good):
                yield self._items.problem(f"{where} item {n + 1}", "not a status with an id", bad)
            if not good:
                return
            for n, status in enumerate(sorted(good, key=lambda s: id_key(s["id"])), start=1):
                yield self._items.event(FORMAT, status, None, f"{where} item {n}")
            if min_id is None:
                return
            min_id = _prev_min_id(fetched.response) or max((s["id"] for s in good), key=id_key)
        yield self._items.status(
            f"back-fill stopped after {self.max_pages} pages; older statuses may be missing", url=url
        )

    async def _account_id(self, acct: str) -> str | None:
        acct = acct.lstrip("@")
        if acct not in self._account_ids:
            fetched = await request(
                self.http, "GET", f"{self.spec.instance}/api/v1/accounts/lookup",
                sleep=self.sleep, backoff=self.backoff, params={"acct": acct},
            )  # fmt: skip
            body = response_json(fetched.response) if fetched.ok else None
            account_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(account_id, str) or not account_id.isalnum():
                account_id = None
            if fetched.ok or (fetched.response is not None and fetched.response.status_code == 404):
                self._account_ids[acct] = account_id  # a failure is asked again next time
            return account_id
        return self._account_ids[acct]

    async def _streaming_endpoint(self) -> str:
        """The streaming URL: given, or the one the instance names, or the instance's own host
        (remembered once the instance has answered; asked again after a network error)."""
        if self.streaming_url is not None:
            return self.streaming_url + STREAMING_PATH
        parts = urlsplit(self.spec.instance)
        base = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
        try:
            response = await self.http.get(f"{self.spec.instance}/api/v2/instance")
        except httpx.HTTPError:
            return base + STREAMING_PATH
        named = response_json(response) if response.is_success else None
        for key in ("configuration", "urls", "streaming"):
            named = named.get(key) if isinstance(named, dict) else None
        if isinstance(named, str) and urlsplit(named).scheme in ("ws", "wss") and urlsplit(named).hostname:
            base = named
        self.streaming_url = base.rstrip("/")
        return self.streaming_url + STREAMING_PATH


def _prev_min_id(response: httpx.Response) -> str | None:
    """``min_id`` of the ``Link: rel="prev"`` page (the next newer one); only the id is taken."""
    link = response.links.get("prev", {}).get("url")
    values = parse_qs(urlsplit(link).query).get("min_id") if link else None
    return values[0] if values and values[0].isalnum() else None
