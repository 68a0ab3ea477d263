"""Re-fetching the current metrics of stored posts, for the reach-over-time scheduler.

A fetcher takes platform ids as the store keeps them and returns the API responses as they came
(``FetchedPage``), for the same source readers that read archives: stored with
``repo.upsert_posts``, each read post adds a ``metric_snapshots`` row. It also says which posts the
platform reports gone or hidden, and which could not be fetched this time and why. A fetcher never
sleeps: on a rate limit it returns ``retry_after`` and the caller schedules the rest.

- X: ``GET /2/tweets?ids=`` (≤ 100 ids a call) with the fields the x_v2 reader needs; ``errors[]``
  of type ``resource-not-found`` / ``not-authorized-for-resource`` → gone.
- Bluesky: ``app.bsky.feed.getPosts?uris=`` (≤ 25) on the public AppView; uris missing from the
  answer → gone. Bluesky has no view counts: views stay unknown. Reposts have no metrics of their own.
- Mastodon: ``GET /api/v1/statuses/:id`` on the status's *own* instance, taken from the store id
  (``ID@HOST``, the id on that host); 404 / 410 → gone. Ids of other fediverse servers
  (``host/path``) cannot be fetched this way and are reported failed. Hosts that are IP addresses
  in private, loopback or link-local ranges are refused (a stored post is hostile input; its host
  must not make us probe the local network), unless ``allow_private_hosts``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from claimwatch.live.backoff import server_wait
from claimwatch.live.net import http_client, reason_of, response_json
from claimwatch.live.x_stream import REQUEST_FIELDS
from claimwatch.sources.bluesky import POST_COLLECTION

X_LOOKUP_PATH = "/2/tweets"
X_BATCH = 100
X_GONE_TYPES = ("resource-not-found", "not-authorized-for-resource")
BLUESKY_APPVIEW = "https://public.api.bsky.app"
BLUESKY_GET_POSTS = "/xrpc/app.bsky.feed.getPosts"
BLUESKY_BATCH = 25
MASTODON_STATUS_PATH = "/api/v1/statuses/{id}"
MASTODON_GONE = frozenset({404, 410})
#: Statuses fetched at once across instances (each on its own host).
MASTODON_CONCURRENCY = 4
_BSKY_ID = re.compile(r"(did:[a-z]+:[A-Za-z0-9._:%-]+)/post/([A-Za-z0-9._:~-]{1,512})")
_MASTODON_ID = re.compile(r"([A-Za-z0-9_-]{1,40})@([A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?)")


@dataclass(frozen=True)
class FetchedPage:
    """A response holding posts with their current metrics, for the sources readers."""

    fmt: str  # "x-v2" | "bluesky" | "mastodon"
    payload: dict[str, Any]
    location: str


@dataclass(frozen=True)
class FetchResult:
    pages: list[FetchedPage]
    gone: list[str]  # platform ids the platform says no longer exist / are not visible
    failed: dict[str, str]  # platform id → one-line reason (network, rate limit, server error)
    retry_after: float | None = None


class MetricsFetcher(Protocol):
    platform: str

    async def fetch(self, platform_ids: list[str]) -> FetchResult: ...


class _HttpFetcher:
    """What the fetchers share: their HTTP client, closed with :meth:`aclose`."""

    http: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.http.aclose()


@dataclass
class _Outcome:
    """A fetch being assembled."""

    pages: list[FetchedPage] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None

    def fail(self, ids: list[str], reason: str) -> None:
        for pid in ids:
            self.failed[pid] = reason

    def result(self) -> FetchResult:
        return FetchResult(self.pages, self.gone, self.failed, self.retry_after)


async def _get(http: httpx.AsyncClient, url: str, params: Any) -> httpx.Response | str:
    """One GET, or a one-line reason when no response came."""
    try:
        return await http.get(url, params=params)
    except httpx.HTTPError as exc:
        return f"network error: {type(exc).__name__}"


def _batches(ids: list[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def _refused(out: _Outcome, response: httpx.Response, ids: list[str]) -> bool:
    """Record a failed response for ``ids``; True when the rest should not be tried (rate limit)."""
    if response.status_code == 429:
        out.retry_after = server_wait(response.headers) or 60.0
        out.fail(ids, "rate limited")
        return True
    out.fail(ids, reason_of(response))
    return response.status_code in (401, 403)


class XMetricsFetcher(_HttpFetcher):
    platform = "x"

    def __init__(
        self, bearer_token: str, *, api_base: str = "https://api.x.com", http: httpx.AsyncClient | None = None
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.http = http or http_client({"Authorization": f"Bearer {bearer_token}"})

    async def fetch(self, platform_ids: list[str]) -> FetchResult:
        out = _Outcome()
        valid = [p for p in platform_ids if p.isdigit() and len(p) <= 20]
        out.fail([p for p in platform_ids if p not in valid], "not an X post id")
        batches = _batches(valid, X_BATCH)
        for n, batch in enumerate(batches):
            response = await _get(self.http, self.api_base + X_LOOKUP_PATH, {"ids": ",".join(batch), **REQUEST_FIELDS})
            if isinstance(response, str):
                out.fail(batch, response)
                continue
            if not response.is_success:
                if _refused(out, response, batch):
                    out.fail([p for b in batches[n + 1 :] for p in b], out.failed[batch[0]])
                    return out.result()
                continue
            body = _body(response)
            if body is None:
                out.fail(batch, "the response is not a JSON object")
                continue
            seen = {p.get("id") for p in body.get("data") or () if isinstance(p, dict)}
            if seen:
                out.pages.append(FetchedPage("x-v2", body, f"x {X_LOOKUP_PATH} batch {n + 1}"))
            for error in body.get("errors") or ():
                rid = error.get("resource_id") or error.get("value") if isinstance(error, dict) else None
                if rid in batch and rid not in seen:
                    if any(t in str(error.get("type", "")) for t in X_GONE_TYPES):
                        out.gone.append(rid)
                    else:
                        out.failed[rid] = str(error.get("detail") or error.get("title") or "error")[:300]
            done = seen | set(out.gone) | set(out.failed)
            out.fail([p for p in batch if p not in done], "not in the response")
        return out.result()


class BlueskyMetricsFetcher(_HttpFetcher):
    platform = "bluesky"

    def __init__(self, *, appview: str = BLUESKY_APPVIEW, http: httpx.AsyncClient | None = None) -> None:
        self.appview = appview.rstrip("/")
        self.http = http or http_client()

    async def fetch(self, platform_ids: list[str]) -> FetchResult:
        out = _Outcome()
        uris: dict[str, str] = {}
        for pid in platform_ids:
            m = _BSKY_ID.fullmatch(pid)
            if m is None:
                out.failed[pid] = "not a Bluesky post id (DID/post/RKEY); reposts have no metrics of their own"
            else:
                uris[f"at://{m.group(1)}/{POST_COLLECTION}/{m.group(2)}"] = pid
        batches = _batches(list(uris), BLUESKY_BATCH)
        for n, batch in enumerate(batches):
            ids = [uris[u] for u in batch]
            response = await _get(self.http, self.appview + BLUESKY_GET_POSTS, [("uris", u) for u in batch])
            if isinstance(response, str):
                out.fail(ids, response)
                continue
            if not response.is_success:
                if _refused(out, response, ids):
                    out.fail([uris[u] for b in batches[n + 1 :] for u in b], out.failed[ids[0]])
                    return out.result()
                continue
            body = _body(response)
            posts = body.get("posts") if body is not None else None
            if not isinstance(posts, list):
                out.fail(ids, "the response has no 'posts' list")
                continue
            seen = {p.get("uri") for p in posts if isinstance(p, dict)}
            if seen & set(batch):
                out.pages.append(FetchedPage("bluesky", body, f"bluesky {BLUESKY_GET_POSTS} batch {n + 1}"))
            out.gone.extend(uris[u] for u in batch if u not in seen)
        return out.result()


class MastodonMetricsFetcher(_HttpFetcher):
    platform = "mastodon"

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        scheme: str = "https",
        allow_private_hosts: bool = False,
    ) -> None:
        """``tokens``: host → access token, sent only to that host (public statuses need none)."""
        self.tokens = dict(tokens or {})
        self.http = http or http_client()
        self.scheme = scheme
        self.allow_private_hosts = allow_private_hosts

    async def fetch(self, platform_ids: list[str]) -> FetchResult:
        out = _Outcome()
        gate = asyncio.Semaphore(MASTODON_CONCURRENCY)

        async def one(pid: str) -> None:
            m = _MASTODON_ID.fullmatch(pid)
            if m is None:
                out.failed[pid] = "not a Mastodon status id (ID@HOST); other servers' statuses cannot be re-fetched"
                return
            sid, host = m.groups()
            if not self.allow_private_hosts and _private(host):
                out.failed[pid] = f"refused host {host} (a private or local address)"
                return
            async with gate:
                if out.retry_after is not None:
                    out.failed[pid] = "rate limited"
                    return
                token = self.tokens.get(host)
                url = f"{self.scheme}://{host}{MASTODON_STATUS_PATH.format(id=sid)}"
                try:
                    response = await self.http.get(url, headers={"Authorization": f"Bearer {token}"} if token else None)
                except httpx.HTTPError as exc:
                    out.failed[pid] = f"network error: {type(exc).__name__}"
                    return
            if response.status_code in MASTODON_GONE:
                out.gone.append(pid)
            elif not response.is_success:
                _refused(out, response, [pid])
            elif (body := _body(response)) is None or "id" not in body:
                out.failed[pid] = "the response is not a status"
            else:
                out.pages.append(FetchedPage("mastodon", body, f"mastodon {url}"))

        await asyncio.gather(*(one(pid) for pid in dict.fromkeys(platform_ids)))
        return out.result()


def _body(response: httpx.Response) -> dict[str, Any] | None:
    body = response_json(response)
    return body if isinstance(body, dict) else None


def _private(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name.lower() == "localhost" or name.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
