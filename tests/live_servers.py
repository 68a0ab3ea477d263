"""Loopback servers that replay recorded platform events for the live-monitoring tests.

Nothing here touches the internet: every server binds 127.0.0.1 on a random port. Frames and
pages are built from the shapes in ``../shared/formats`` (Jetstream v1/v2, Mastodon Status, X API
v2 pages) with SYNTHETIC values (``*.example`` hosts, made-up ids).

- :class:`JetstreamReplay` — a Jetstream (v1 ``/subscribe`` or v2 ``…subscribeEvents``) WebSocket
  server over one event log: it honours ``cursor``, ``wantedDids``, ``wantedCollections``,
  ``requireHello`` and ``options_update`` like the real one, and can drop a connection after N
  frames, send every frame twice, and carry malformed frames (any ``str`` in the log is sent as is).
- :class:`MastodonStreamReplay` — Mastodon's streaming WebSocket: waits for ``subscribe`` messages
  and sends each connection its own session of frames (streaming has no replay).
- :class:`HttpReplay` — a threaded HTTP/1.1 server with a route table; :class:`Reply` bodies may be
  chunked with pauses (X's stream with keep-alive lines) and hang silent afterwards. Route helpers:
  :class:`MastodonTimeline` (``min_id``/``since_id``/``max_id``/``limit`` + ``Link``),
  :class:`XRules`, :class:`XRecentSearch`, :func:`x_stream`, :func:`bluesky_get_posts`.

The WebSocket servers run in the test's own event loop (``async with``); the HTTP server runs on a
thread (``with``), so sync and async clients can both use it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any] | str

# ---------------------------------------------------------------------------------- sample builders


def jetstream_v1_event(time_us: int, did: str = "did:plc:alice", rkey: str | None = None, text: str = "") -> dict:
    """A v1 commit event creating a post (shape of bluesky_jetstream_v1_event.json)."""
    rkey = rkey or f"3k{time_us}"
    return {
        "did": did,
        "time_us": time_us,
        "kind": "commit",
        "commit": {
            "rev": f"rev{time_us}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text or f"SYNTHETIC post {rkey}",
                "createdAt": "2026-09-22T16:25:41.000Z",
                "langs": ["en"],
            },
            "cid": f"bafyexample{time_us}",
        },
    }


def jetstream_v2_message(seq: int, did: str = "did:plc:alice", rkey: str | None = None, text: str = "") -> dict:
    """A v2 message with a flat commit payload (shape of bluesky_jetstream_v2_message.json)."""
    rkey = rkey or f"3m{seq}"
    return {
        "$type": "message",
        "payload": {
            "$type": "network.bsky.jetstream.subscribeEvents#commit",
            "did": did,
            "seq": seq,
            "time": "2026-09-22T16:25:42.123456Z",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "rev": f"rev{seq}",
            "cid": f"bafyexample{seq}",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text or f"SYNTHETIC post {rkey}",
                "createdAt": "2026-09-22T16:25:41.000Z",
                "langs": ["en"],
            },
        },
    }


def mastodon_status(
    status_id: int | str, host: str = "mastodon.example", text: str = "", tag: str = "election"
) -> dict:
    """A REST Status (the fields of mastodon_status.json that the reader uses)."""
    sid = str(status_id)
    return {
        "id": sid,
        "created_at": "2026-09-22T16:25:41.000Z",
        "in_reply_to_id": None,
        "in_reply_to_account_id": None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://{host}/users/alice/statuses/{sid}",
        "url": f"https://{host}/@alice/{sid}",
        "replies_count": 1,
        "reblogs_count": 2,
        "favourites_count": 3,
        "edited_at": None,
        "content": f"<p>{text or 'SYNTHETIC status ' + sid} <a href='https://{host}/tags/{tag}'>#{tag}</a></p>",
        "reblog": None,
        "account": {
            "id": "1",
            "username": "alice",
            "acct": "alice",
            "display_name": "Alice (synthetic)",
            "url": f"https://{host}/@alice",
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [{"name": tag, "url": f"https://{host}/tags/{tag}"}],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def mastodon_frame(status: dict, stream: list[str], event: str = "update") -> dict:
    """A streaming event: the Status travels as a JSON *string* in ``payload``."""
    return {"stream": stream, "event": event, "payload": json.dumps(status)}


def x_post(post_id: int | str, author_id: str = "123456789", text: str = "") -> dict:
    """A v2 post object with the fields the x_v2 reader reads (shape of x_api_v2_search_response)."""
    pid = str(post_id)
    return {
        "id": pid,
        "text": text or f"SYNTHETIC post {pid}",
        "edit_history_tweet_ids": [pid],
        "author_id": author_id,
        "created_at": "2026-09-22T16:25:41.000Z",
        "conversation_id": pid,
        "lang": "en",
        "public_metrics": {
            "retweet_count": 1,
            "reply_count": 2,
            "like_count": 3,
            "quote_count": 4,
            "bookmark_count": 5,
            "impression_count": 600,
        },
    }


X_USER = {"id": "123456789", "username": "example_account", "name": "Example (synthetic)"}


def x_stream_message(post_id: int | str, rules: Iterable[tuple[str, str]] = (("1", "claimwatch:x"),)) -> dict:
    """A filtered-stream message: ``data`` is ONE post object, plus ``includes`` and ``matching_rules``."""
    return {
        "data": x_post(post_id),
        "includes": {"users": [X_USER]},
        "matching_rules": [{"id": rid, "tag": tag} for rid, tag in rules],
    }


# ------------------------------------------------------------------------------------ WebSocket servers


@dataclass
class Connection:
    """What one client connection asked for."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    messages: list[Any] = field(default_factory=list)
    sent: int = 0


class _WsServer:
    """A WebSocket server on 127.0.0.1 (random port) in the running loop; ``connections`` records
    every connection in order."""

    path = "/"

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self._server: Any = None
        #: refuse the next handshakes with this HTTP status (e.g. 401, 429), while set; how many times
        self.reject: int | None = None
        self.reject_times: int | None = None
        self.reject_headers: dict[str, str] = {}

    async def __aenter__(self) -> _WsServer:
        self._server = await serve(
            self._serve, "127.0.0.1", 0, max_size=None, ping_interval=None, process_request=self._refuse
        )
        return self

    def _refuse(self, connection: ServerConnection, request: Any) -> Any:
        if self.reject is None or self.reject_times == 0:
            return None
        if self.reject_times is not None:
            self.reject_times -= 1
        response = connection.respond(self.reject, "refused by the replay server\n")
        for name, value in self.reject_headers.items():
            response.headers[name] = value
        return response

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    async def _serve(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path)
        conn = Connection(parts.path, parse_qs(parts.query), {k.lower(): v for k, v in ws.request.headers.raw_items()})
        self.connections.append(conn)
        try:
            await self.session(ws, conn, len(self.connections) - 1)
            await ws.wait_closed()  # hold the connection open and silent until the client leaves
        except ConnectionClosed:
            pass

    async def session(self, ws: ServerConnection, conn: Connection, index: int) -> None:
        raise NotImplementedError

    @staticmethod
    async def send(ws: ServerConnection, frame: Frame, conn: Connection) -> None:
        await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        conn.sent += 1


class JetstreamReplay(_WsServer):
    """Jetstream over one event log. ``drop_after[i]``: close connection ``i`` after that many frames
    (missing or None: send all, then stay open). ``repeat``: send every frame twice (duplicates)."""

    def __init__(
        self, log: list[Frame], *, v2: bool = False, drop_after: list[int | None] | None = None, repeat: bool = False
    ) -> None:
        super().__init__()
        self.log, self.v2, self.drop_after, self.repeat = log, v2, drop_after or [], repeat
        self.path = "/xrpc/network.bsky.jetstream.subscribeEvents" if v2 else "/subscribe"

    def position(self, frame: Frame) -> int | None:
        if not isinstance(frame, dict):
            return None
        value = frame.get("payload", {}).get("seq") if self.v2 else frame.get("time_us")
        return value if isinstance(value, int) else None

    def _fields(self, frame: dict) -> tuple[Any, Any]:
        body = frame.get("payload", {}) if self.v2 else frame
        collection = body.get("collection") if self.v2 else (body.get("commit") or {}).get("collection")
        return body.get("did"), collection

    async def session(self, ws: ServerConnection, conn: Connection, index: int) -> None:
        dids = set(conn.query.get("wantedDids", []))
        collections = set(conn.query.get("wantedCollections", []))
        if conn.query.get("requireHello") == ["true"]:
            hello = json.loads(await ws.recv())
            conn.messages.append(hello)
            if hello.get("type") == "options_update":
                dids = set(hello["payload"].get("wantedDids") or [])
                collections = set(hello["payload"].get("wantedCollections") or [])
        cursor = int(conn.query["cursor"][0]) if "cursor" in conn.query else None
        limit = self.drop_after[index] if index < len(self.drop_after) else None
        for frame in self.log:
            pos = self.position(frame)
            if isinstance(frame, dict):
                if cursor is not None and pos is not None and pos < cursor:
                    continue
                did, collection = self._fields(frame)
                if dids and did not in dids:
                    continue
                if collections and collection is not None and collection not in collections:
                    continue
            for _ in range(2 if self.repeat else 1):
                if limit is not None and conn.sent >= limit:
                    await ws.close(1011, "replay: dropped on purpose")
                    return
                await self.send(ws, frame, conn)


class MastodonStreamReplay(_WsServer):
    """Mastodon streaming: connection ``i`` gets ``sessions[i]`` (the last one again past the end)
    after its subscribe messages, filtered by the streams it subscribed to; then it stays open
    unless ``close_after_session``."""

    path = "/api/v1/streaming"

    def __init__(self, sessions: list[list[Frame]], *, close_after_session: bool = False) -> None:
        super().__init__()
        self.sessions, self.close_after_session = sessions, close_after_session

    async def session(self, ws: ServerConnection, conn: Connection, index: int) -> None:
        subscribed: set[tuple[str, ...]] = set()
        message = json.loads(await ws.recv())
        while True:
            conn.messages.append(message)
            if message.get("type") == "subscribe":
                stream = message.get("stream")
                subscribed.add((stream, message["tag"]) if stream == "hashtag" else (stream,))
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 0.05))
            except TimeoutError:
                break
        frames = self.sessions[min(index, len(self.sessions) - 1)] if self.sessions else []
        for frame in frames:
            if isinstance(frame, dict) and tuple(frame.get("stream") or ()) not in subscribed:
                continue
            await self.send(ws, frame, conn)
        if self.close_after_session:
            await ws.close(1001, "replay: session over")


# ---------------------------------------------------------------------------------------- HTTP server


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    """``body``: bytes, or a list of chunks sent with Transfer-Encoding: chunked, ``pause`` seconds
    apart; after the last chunk the server stays silent ``hang`` seconds before ending the reply."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | list[bytes] = b""
    pause: float = 0.0
    hang: float = 0.0


Handler = Callable[[Request], Reply]


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode())


class HttpReplay:
    """A threaded HTTP/1.1 server on 127.0.0.1. ``routes[(METHOD, path)]`` answers a request (a
    route ending in ``/*`` matches any path under it); anything else is a 404 with Mastodon's
    ``{"error": "Record not found"}``. ``requests`` records every request in order."""

    def __init__(self, routes: dict[tuple[str, str], Handler] | None = None) -> None:
        self.routes: dict[tuple[str, str], Handler] = dict(routes or {})
        self.requests: list[Request] = []
        replay = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet tests
                pass

            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                replay.requests.append(request)
                reply = replay.route(request)(request)
                self._send(reply)

            do_GET = do_POST = do_DELETE = _any  # noqa: N815

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for chunk in reply.body:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                        time.sleep(reply.pause)
                    time.sleep(reply.hang)
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def route(self, request: Request) -> Handler:
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            return handler
        for (method, path), h in self.routes.items():
            if method == request.method and path.endswith("/*") and request.path.startswith(path[:-1]):
                return h
        return lambda _r: json_reply({"error": "Record not found"}, 404)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> HttpReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _id_key(value: str) -> tuple[int, str]:
    return len(value), value


class MastodonTimeline:
    """A REST timeline over ``statuses``: newest first, ``limit`` (≤ 40), ``max_id`` / ``since_id``
    (newest page below / above an id) and ``min_id`` (the page just above an id), with the ``Link``
    header's ``next`` (older) and ``prev`` (newer) URLs as Mastodon writes them."""

    def __init__(self, statuses: list[dict], base_url: Callable[[], str]) -> None:
        self.statuses = sorted(statuses, key=lambda s: _id_key(s["id"]), reverse=True)
        self.base_url = base_url

    def __call__(self, request: Request) -> Reply:
        limit = min(40, int(request.arg("limit", "20") or 20))
        items = self.statuses
        if (max_id := request.arg("max_id")) is not None:
            items = [s for s in items if _id_key(s["id"]) < _id_key(max_id)]
        if (since_id := request.arg("since_id")) is not None:
            items = [s for s in items if _id_key(s["id"]) > _id_key(since_id)]
        if (min_id := request.arg("min_id")) is not None:
            items = [s for s in items if _id_key(s["id"]) > _id_key(min_id)][-limit:]
        page = items[:limit]
        headers = {}
        if page:
            here = f"{self.base_url()}{request.path}?limit={limit}"
            headers["Link"] = (
                f'<{here}&max_id={page[-1]["id"]}>; rel="next", <{here}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return json_reply(page, headers=headers)


class XRules:
    """``GET/POST /2/tweets/search/stream/rules`` over a rule list (``{id, value, tag}``)."""

    def __init__(self, rules: list[dict] | None = None) -> None:
        self.rules = list(rules or [])
        self._next = 1000

    def __call__(self, request: Request) -> Reply:
        if request.method == "GET":
            return json_reply(
                {"data": self.rules, "meta": {"result_count": len(self.rules)}}
                if self.rules
                else {"meta": {"result_count": 0}}
            )
        body = request.json()
        created = []
        errors = []
        for rule in body.get("add") or []:
            if any(r["value"] == rule["value"] for r in self.rules):
                errors.append(
                    {
                        "title": "DuplicateRule",
                        "value": rule["value"],
                        "id": next(r["id"] for r in self.rules if r["value"] == rule["value"]),
                    }
                )
                continue
            self._next += 1
            new = {"id": str(self._next), "value": rule["value"], **({"tag": rule["tag"]} if "tag" in rule else {})}
            self.rules.append(new)
            created.append(new)
        ids = set((body.get("delete") or {}).get("ids") or [])
        self.rules = [r for r in self.rules if r["id"] not in ids]
        out: dict[str, Any] = {"meta": {"summary": {"created": len(created), "deleted": len(ids)}}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return json_reply(out)


class XRecentSearch:
    """``GET /2/tweets/search/recent`` over ``posts``: newest first, ``since_id``, ``max_results``,
    ``next_token`` paging (the token is the index of the next item, opaque to the client)."""

    def __init__(self, posts: list[dict]) -> None:
        self.posts = sorted(posts, key=lambda p: _id_key(p["id"]), reverse=True)

    def __call__(self, request: Request) -> Reply:
        size = int(request.arg("max_results", "10") or 10)
        items = self.posts
        if (since := request.arg("since_id")) is not None:
            items = [p for p in items if _id_key(p["id"]) > _id_key(since)]
        start = int(request.arg("next_token", "0") or 0)
        page = items[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + size < len(items):
            meta["next_token"] = str(start + size)
        out: dict[str, Any] = {"meta": meta}
        if page:
            out.update(data=page, includes={"users": [X_USER]})
        return json_reply(out)


def x_stream(messages: list[Frame], keepalives: int = 1, pause: float = 0.0, hang: float = 0.0) -> Reply:
    """The filtered stream's reply: newline-delimited JSON, ``keepalives`` blank lines (``\\r\\n``)
    between messages, then the end of the reply (a disconnect) after ``hang`` silent seconds."""
    chunks: list[bytes] = []
    for message in messages:
        chunks.extend([b"\r\n"] * keepalives)
        line = message if isinstance(message, str) else json.dumps(message)
        chunks.append(line.encode() + b"\r\n")
    return Reply(200, {"Content-Type": "application/json"}, chunks, pause=pause, hang=hang)


def x_rate_limited(reset_in: int = 2) -> Reply:
    """HTTP 429 with ``x-rate-limit-reset`` (epoch seconds) as X sends it."""
    return json_reply(
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
        429,
        {"x-rate-limit-reset": str(int(time.time()) + reset_in), "x-rate-limit-remaining": "0"},
    )


def bluesky_post_view(uri: str, likes: int = 3) -> dict:
    """A postView as ``app.bsky.feed.getPosts`` returns it (no view count on Bluesky)."""
    did = uri.split("/")[2]
    return {
        "uri": uri,
        "cid": "bafyexampleview",
        "author": {"did": did, "handle": "alice.example"},
        "record": {"$type": "app.bsky.feed.post", "text": "SYNTHETIC post", "createdAt": "2026-09-22T16:25:41.000Z"},
        "replyCount": 1,
        "repostCount": 2,
        "likeCount": likes,
        "quoteCount": 0,
        "indexedAt": "2026-09-22T16:25:42.000Z",
    }


def bluesky_get_posts(views: dict[str, dict]) -> Handler:
    """``app.bsky.feed.getPosts``: the views of the known ``uris`` (unknown ones are left out, as
    the AppView does for deleted or hidden posts)."""

    def handler(request: Request) -> Reply:
        uris = request.query.get("uris", [])
        if len(uris) > 25:
            return json_reply({"error": "InvalidRequest", "message": "uris must not have more than 25 elements"}, 400)
        return json_reply({"posts": [views[u] for u in uris if u in views]})

    return handler
