"""X API v2 client: the filtered stream (``mode: stream``) or recent search polled (``mode: search``).

**Rules** live on X, shared by everything using the same app: a stream syncs them on start
(``GET/POST /2/tweets/search/stream/rules``), adding its spec's rules tagged ``claimwatch:NAME``
and deleting only rules carrying that tag that are no longer wanted — never anyone else's. A
wanted rule that already exists under another tag is used as it is (X refuses duplicates). Stream
messages are kept when one of their ``matching_rules`` is ours (one app has one stream connection
on most access levels; other rules' posts are not this stream's).

**Stream**: newline-delimited JSON, one post per message (``{data: {…}, includes, matching_rules}``,
read by the x_v2 reader as a single-post page); blank keep-alive lines every ~20 s, so silence
over ``keepalive_timeout`` (30 s) means a dead connection. X's reconnect rules: linear back-off
(+250 ms a try, up to 16 s) after network errors, exponential (5 s doubling, up to 320 s) after
HTTP errors, and from 1 min (or the ``x-rate-limit-reset`` the server names) after a 429. A 401
or 403 ends the stream with a one-line reason: retrying a refused token only burns the limits.
``{"errors": …}`` messages (e.g. an operational disconnect notice) become LiveStatus.

**Cursor**: the newest post id seen (ids compare as integers). Once a (re)connected stream
answers, and before its lines are read (so no gap is left between the two), the gap since the
cursor is back-filled by recent search (``since_id``, ``next_token``) per rule, pages
emitted oldest first; only the last back-filled page carries the cursor, so an interrupted
back-fill is redone, never skipped. ``mode: search`` is that back-fill every ``poll_s``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx

from claimwatch.live.backoff import Backoff, server_wait
from claimwatch.live.events import LiveEvent, LiveItem, LiveProblem
from claimwatch.live.net import (
    Items,
    Sleep,
    clip,
    decode_object,
    http_client,
    moved,
    newest,
    real_sleep,
    reason_of,
    request,
    response_json,
)
from claimwatch.live.watchlist import XSpec

FORMAT = "x-v2"
STREAM_PATH = "/2/tweets/search/stream"
RULES_PATH = "/2/tweets/search/stream/rules"
SEARCH_PATH = "/2/tweets/search/recent"
#: What the x_v2 reader needs of a post, its author and media (one place for the field names).
REQUEST_FIELDS = {
    "tweet.fields": "attachments,author_id,conversation_id,created_at,edit_history_tweet_ids,entities,"
    "in_reply_to_user_id,lang,note_tweet,possibly_sensitive,public_metrics,referenced_tweets",
    "expansions": "author_id,attachments.media_keys,referenced_tweets.id,referenced_tweets.id.author_id",
    "user.fields": "created_at,name,public_metrics,username,verified",
    "media.fields": "alt_text,duration_ms,media_key,preview_image_url,public_metrics,type,url,variants",
}
KEEPALIVE_TIMEOUT = 30.0
MAX_LINE = 1 << 20
#: Posts per recent-search page (X allows 10 to 100).
SEARCH_PAGE = 100
MAX_SEARCH_PAGES = 10
FATAL = frozenset({401, 403})
TAG_PREFIX = "claimwatch:"


def _network_wait(failures: int) -> float:
    """X's linear back-off for network errors: 250 ms more per failure, at most 16 s."""
    return min(16.0, 0.25 * failures)


class XSource:
    """A :class:`~claimwatch.live.events.LiveSource` over the filtered stream or recent search.
    Build it only when the bearer token is set (the runner reports a stream with no token)."""

    def __init__(
        self,
        spec: XSpec,
        bearer_token: str,
        *,
        sleep: Sleep = real_sleep,
        http: httpx.AsyncClient | None = None,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        http_backoff: Backoff | None = None,
        rate_backoff: Backoff | None = None,
        max_search_pages: int = MAX_SEARCH_PAGES,
        search_page: int = SEARCH_PAGE,
        max_line: int = MAX_LINE,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.tag = TAG_PREFIX + spec.name
        self.sleep = sleep
        self.http = http or http_client({"Authorization": f"Bearer {bearer_token}"})
        self.keepalive_timeout = keepalive_timeout
        self.http_backoff = http_backoff or Backoff(base=5.0, cap=320.0)
        self.rate_backoff = rate_backoff or Backoff(base=60.0, cap=900.0)
        self.max_search_pages = max_search_pages
        self.search_page = search_page
        self.max_line = max_line
        #: ids of the X rules whose matches are this stream's (set by :meth:`sync_rules`)
        self.rule_ids: set[str] = set()
        self.rules_synced = False
        #: why the stream stopped for good (a refused token), once it has
        self.stopped: str | None = None
        self._items = Items(spec.name)

    def key(self) -> str:
        return self.spec.key()

    async def aclose(self) -> None:
        """Close the HTTP client (when ``watch`` stops)."""
        await self.http.aclose()

    def _url(self, path: str) -> str:
        return self.spec.api_base + path

    async def events(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        if self.spec.mode == "search":
            stream = self._poll(cursor)
        else:
            stream = self._stream(cursor)
        async for item in stream:
            yield item

    # ------------------------------------------------------------------ filtered stream

    async def _stream(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        high, lines, network_failures = cursor, 0, 0
        while True:
            async for item in self.sync_rules():
                yield item
            if self.stopped:
                return
            if self.rules_synced:
                break
            wait = self.http_backoff.next()
            yield self._items.status(f"retrying the rules in {wait:.1f} s")
            await self.sleep(wait)
        while True:
            wait: float
            try:
                async with self.http.stream(
                    "GET",
                    self._url(STREAM_PATH),
                    params=REQUEST_FIELDS,
                    timeout=httpx.Timeout(10.0, read=self.keepalive_timeout),
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        reason = reason_of(response)
                        if response.status_code in FATAL:
                            yield self._stop(f"the filtered stream refused the bearer token ({reason})")
                            return
                        if response.status_code == 429:
                            wait = server_wait(response.headers) or self.rate_backoff.next()
                        else:
                            wait = self.http_backoff.next()
                        yield self._items.status(f"cannot connect: {reason}; retrying in {wait:.1f} s")
                        await self.sleep(wait)
                        continue
                    yield self._items.status("connected", cursor=high or "live")
                    network_failures = 0
                    if high is not None:  # the gap, searched while the stream's first lines queue up
                        async for item in self.search(high):
                            high = moved(item, high)
                            yield item
                        if self.stopped:
                            return
                    async for line in self._lines(response):
                        lines += 1
                        item = self.decode(line, f"x {STREAM_PATH} line {lines}", high)
                        if item is None:
                            continue
                        if isinstance(item, LiveEvent):
                            high = item.cursor
                            self.http_backoff.reset()
                            self.rate_backoff.reset()
                        yield item
                    yield self._items.status("disconnected: the server ended the stream")
            except httpx.ReadTimeout:
                yield self._items.status(f"no data or keep-alive for {self.keepalive_timeout:g} s; reconnecting")
            except httpx.HTTPError as exc:
                yield self._items.status(f"network error: {type(exc).__name__}: {exc}"[:300])
            network_failures += 1
            wait = _network_wait(network_failures)
            yield self._items.status(f"reconnecting in {wait:.2f} s", cursor=high or "live")
            await self.sleep(wait)

    async def _lines(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """Non-blank lines of the body (keep-alives dropped); a line over ``max_line`` bytes is cut
        to that length and its rest discarded, so one hostile line cannot fill memory."""
        buffer, skipping = b"", False
        async for chunk in response.aiter_bytes():
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    if len(buffer) > self.max_line:
                        if not skipping:
                            yield buffer[: self.max_line + 1]
                        buffer, skipping = b"", True
                    break
                line, buffer = buffer[:end], buffer[end + 1 :]
                if skipping:
                    skipping = False
                elif line.strip():
                    yield line.strip()

    def decode(self, line: bytes, location: str, high: str | None) -> LiveItem | None:
        """One stream line → an event (cursor: newest id so far), a status for ``errors``, a
        problem, or None for a post matched only by other rules."""
        obj = decode_object(self._items, line, location, self.max_line)
        if isinstance(obj, LiveProblem):
            return obj
        data = obj.get("data")
        if data is None and obj.get("errors"):
            return self._items.status(f"stream error: {_errors(obj['errors'])}")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"].isdigit():
            return self._items.problem(location, "message has no 'data' post with a numeric id", line)
        matched = obj.get("matching_rules")
        if isinstance(matched, list) and matched and not any(self._ours(rule) for rule in matched):
            return None
        return self._items.event(FORMAT, obj, newest(high, data["id"]), location)

    def _ours(self, rule: Any) -> bool:
        return isinstance(rule, dict) and (rule.get("tag") == self.tag or str(rule.get("id")) in self.rule_ids)

    async def sync_rules(self) -> AsyncIterator[LiveItem]:
        """Make X's rules tagged ours exactly the spec's (see the module docstring)."""
        url = self._url(RULES_PATH)
        fetched = await request(self.http, "GET", url, sleep=self.sleep, backoff=self.http_backoff)
        if not fetched.ok:
            yield self._fail("cannot read the stream rules", fetched.response, fetched.reason)
            return
        body = response_json(fetched.response)
        existing = [r for r in body.get("data") or () if isinstance(r, dict)] if isinstance(body, dict) else []
        wanted = set(self.spec.rules)
        ours = [r for r in existing if r.get("tag") == self.tag]
        stale = [str(r.get("id")) for r in ours if r.get("value") not in wanted]
        present = {r.get("value"): str(r.get("id")) for r in existing if r.get("value") in wanted}
        self.rule_ids = set(present.values())
        add = [{"value": value, "tag": self.tag} for value in self.spec.rules if value not in present]
        for change in ({"delete": {"ids": stale}} if stale else None, {"add": add} if add else None):
            if change is None:
                continue
            posted = await request(
                self.http, "POST", url, sleep=self.sleep, backoff=self.http_backoff, json_body=change
            )
            if not posted.ok:
                yield self._fail("cannot change the stream rules", posted.response, posted.reason)
                return
            result = response_json(posted.response) or {}
            for rule in result.get("data") or ():
                if isinstance(rule, dict) and rule.get("id"):
                    self.rule_ids.add(str(rule["id"]))
            for error in result.get("errors") or ():
                if isinstance(error, dict) and error.get("title") == "DuplicateRule" and error.get("id"):
                    self.rule_ids.add(str(error["id"]))
                elif isinstance(error, dict):
                    yield self._items.status(f"rule refused: {_errors([error])}")
        self.rules_synced = True
        yield self._items.status("rules synced", added=len(add), deleted=len(stale), following=len(self.rule_ids))

    # ------------------------------------------------------------------ recent search

    async def _poll(self, cursor: str | None) -> AsyncIterator[LiveItem]:
        high = cursor
        while True:
            async for item in self.search(high):
                high = moved(item, high)
                yield item
            if self.stopped:
                return
            await self.sleep(self.spec.poll_s)

    async def search(self, since: str | None) -> AsyncIterator[LiveItem]:
        """Posts newer than ``since`` matching each rule, as API pages emitted oldest first; the
        last page carries the newest id. With no ``since``: each rule's newest page only."""
        pages: list[tuple[str, dict[str, Any]]] = []
        for n, rule in enumerate(self.spec.rules, start=1):
            params: dict[str, Any] = {"query": rule, "max_results": self.search_page, **REQUEST_FIELDS}
            if since is not None:
                params["since_id"] = since
            rule_pages: list[tuple[str, dict[str, Any]]] = []
            for page_no in range(1, self.max_search_pages + 1):
                fetched = await request(
                    self.http, "GET", self._url(SEARCH_PATH), sleep=self.sleep, backoff=self.rate_backoff, params=params
                )
                for seconds, why in fetched.waits:
                    yield self._items.status(f"search: waited {seconds:.1f} s ({why})")
                if not fetched.ok:
                    status = fetched.response.status_code if fetched.response is not None else None
                    if status in FATAL:
                        yield self._stop(f"recent search refused the bearer token ({fetched.reason})")
                        return
                    yield self._items.status(f"search for rule {n} stopped: {fetched.reason}")
                    break
                page = response_json(fetched.response)
                if not isinstance(page, dict):
                    yield self._items.problem(f"x {SEARCH_PATH} rule {n} page {page_no}", "not a JSON object", "")
                    break
                if isinstance(page.get("data"), list) and page["data"]:
                    rule_pages.append((f"x {SEARCH_PATH} rule {n} page {page_no}", page))
                token = (page.get("meta") or {}).get("next_token")
                if since is None or not isinstance(token, str) or not token:
                    break
                params["next_token"] = token
            else:
                yield self._items.status(
                    f"search for rule {n}: more than {self.max_search_pages} pages; older posts skipped"
                )
            pages.extend(reversed(rule_pages))
        high = since
        for i, (location, page) in enumerate(pages):
            for post in page["data"]:
                if isinstance(post, dict) and isinstance(post.get("id"), str) and post["id"].isdigit():
                    high = newest(high, post["id"])
            event = self._items.event(FORMAT, page, None, location)
            yield replace(event, cursor=high) if i == len(pages) - 1 else event

    # ------------------------------------------------------------------ helpers

    def _stop(self, reason: str) -> LiveItem:
        self.stopped = reason
        return self._items.status(f"stopped: {reason}")

    def _fail(self, what: str, response: httpx.Response | None, reason: str | None) -> LiveItem:
        """A failed rules call: fatal for a refused token, else a status (the caller retries)."""
        if response is not None and response.status_code in FATAL:
            return self._stop(f"{what}: the bearer token was refused ({reason})")
        return self._items.status(f"{what}: {reason}")


def _errors(errors: Any) -> str:
    """One line from an ``errors`` array: each error's title and detail."""
    if not isinstance(errors, list):
        return clip(str(errors))[:300]
    parts = []
    for error in errors[:3]:
        if isinstance(error, dict):
            parts.append(": ".join(str(error[k]) for k in ("title", "detail", "value") if error.get(k)))
    return "; ".join(p for p in parts if p)[:300] or "unspecified"
