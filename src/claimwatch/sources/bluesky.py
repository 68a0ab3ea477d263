"""Bluesky (AT Protocol) posts: ``app.bsky.feed`` API responses, Jetstream events, post records.

Shapes read, each as one JSON document, an array, or one per line (see :mod:`json_docs`):

- feed pages ``{feed: [feedViewPost]}`` (getAuthorFeed, getTimeline, getFeed, getListFeed,
  getActorLikes) and a feedViewPost alone;
- post lists ``{posts: [postView]}`` (searchPosts, getPosts, getQuotes) and a postView alone;
- threads ``{thread: threadViewPost}`` (getPostThread);
- records with their URI: ``com.atproto.repo.listRecords`` pages ``{records: [{uri, cid, value}]}``
  and such items alone. A bare ``app.bsky.feed.post`` record has no URI, so nothing to key it
  by: it is rejected, saying so;
- Jetstream v1 events ``{did, time_us, kind: "commit", commit: {operation, collection, rkey,
  record}}`` (also the early 2024 spelling ``type: "com"``, ``commit.type: "c"|"u"|"d"``) and v2
  messages ``{$type: "message", payload: {$type: "…#commit", did, time, operation, …}}``.
  Likes, follows, deletions, identity and account events are skipped (not posts, not faults).

Decisions (README "Bluesky"):

- **Ids.** A post's AT URI ``at://DID/app.bsky.feed.post/RKEY`` is its one global id. It is
  stored as ``DID/post/RKEY`` (the same URI without the fixed ``at://`` and ``app.bsky.feed.``,
  so it fits the store's 64-character ids); ``at://`` + the id with ``post`` expanded gives the
  URI back. Referenced posts (reply parent, quoted post) use the same form. A URI whose authority
  is a handle, not a DID, is refused: handles change, DIDs do not.
- **Reposts.** A feed item with ``reason`` ``reasonRepost`` is a repost by ``reason.by`` of
  ``post``: the original is stored as a context post (with its own counts) and the repost as its
  own row ``REPOSTER_DID/repost/<16 hex of sha256 of the original's id>``: one row per reposter
  and post whichever API version or Jetstream event it came from (``reason.uri`` is optional),
  never colliding with a post id, never with metrics.
- **Times.** ``created_at`` is ``record.createdAt``, which the *client* writes; ``indexedAt``
  (Jetstream: ``time_us`` / ``time``) is the server's. Like Bluesky's own AppView (``sortAt``),
  a ``createdAt`` later than the server time (by more than :data:`CLOCK_SKEW`), missing or
  unreadable gives way to the server time, with a field warning. Both stay in ``raw``.
- **Counts.** likeCount, repostCount, replyCount, quoteCount, bookmarkCount. Bluesky has no view
  count: views stay unknown, never 0. Records and Jetstream events carry no counts at all.
- **Context.** Reply parents/roots of a feed item, quoted posts inside embeds and the parents in
  a thread are stored as context (``collected=False``) with their own counts, as X's
  ``includes.tweets`` are. A thread's anchor post and its replies are collected.
- Facets (UTF-8 byte offsets), self-labels and moderation ``labels`` are kept in ``raw`` only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, MediaRef, PostKind, ReadResult
from claimwatch.sources.base import ReadContext, parse_time
from claimwatch.sources.generic import build_post
from claimwatch.sources.json_docs import (
    ObjectsReader,
    Results,
    Skipped,
    UnknownShape,
    as_dict,
    as_list,
    as_text,
)

FORMAT = "bluesky"
PLATFORM = "bluesky"

POST_COLLECTION = "app.bsky.feed.post"
REPOST_COLLECTION = "app.bsky.feed.repost"
REASON_REPOST = "app.bsky.feed.defs#reasonRepost"
EMBED_IMAGES = "app.bsky.embed.images"
EMBED_VIDEO = "app.bsky.embed.video"
EMBED_EXTERNAL = "app.bsky.embed.external"
EMBED_RECORD = "app.bsky.embed.record"
EMBED_RECORD_WITH_MEDIA = "app.bsky.embed.recordWithMedia"
#: A handle the AppView could not verify; not a handle anyone can look up.
INVALID_HANDLE = "handle.invalid"
POST_URL = "https://bsky.app/profile/{did}/post/{rkey}"

#: postView / viewRecord counter -> our metric field (there is no view count).
COUNTS = {
    "likeCount": "likes",
    "repostCount": "reposts",
    "replyCount": "replies",
    "quoteCount": "quotes",
    "bookmarkCount": "bookmarks",
}

JETSTREAM_V2_MESSAGE = "message"
JETSTREAM_V2_COMMIT = "#commit"
#: Jetstream's early (2024) event and operation spellings -> today's.
JETSTREAM_OLD_KINDS = {"com": "commit", "id": "identity", "acc": "account"}
JETSTREAM_OLD_OPERATIONS = {"c": "create", "u": "update", "d": "delete"}
#: How far a client's ``createdAt`` may run ahead of the server's clock before it is not believed.
CLOCK_SKEW = timedelta(minutes=10)
#: A post's AT URI with a DID authority, by the atproto DID and record-key syntax.
_POST_URI = re.compile(
    r"at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/" + re.escape(POST_COLLECTION) + r"/([A-Za-z0-9._:~-]{1,512})"
)


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts (and reposts) of a Bluesky file in any of the shapes above."""
    return _Reader(path, ctx).read()


def post_id(uri: Any) -> tuple[str, str, str]:
    """``(store id, DID, rkey)`` of a post's AT URI; ValueError when it is not one."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise ValueError(f"{uri!r} is not an AT URI")
    m = _POST_URI.fullmatch(uri)
    if m is None:
        raise ValueError(f"{uri!r} is not the AT URI of a post (at://DID/{POST_COLLECTION}/RKEY)")
    did, rkey = m.groups()
    return f"{did}/post/{rkey}", did, rkey


def repost_id(reposter_did: str, original_id: str) -> str:
    """The store id of ``reposter_did``'s repost of the post stored as ``original_id``."""
    return f"{reposter_did}/repost/{hashlib.sha256(original_id.encode()).hexdigest()[:16]}"


class _Reader(ObjectsReader):
    fmt = FORMAT

    def read_object(self, obj: dict[str, Any], location: str) -> Results:
        """Dispatch on the object's shape (before anything is yielded, so UnknownShape is eager)."""
        for key, reader in (("feed", self._feed_item), ("posts", self._post_view), ("records", self._record_item)):
            if isinstance(obj.get(key), list):
                return self.items(obj[key], f"{location} {key}", reader)
        if isinstance(obj.get("thread"), dict):
            return self._thread(obj["thread"], f"{location} thread")
        if obj.get("$type") == JETSTREAM_V2_MESSAGE or "time_us" in obj:
            return self._jetstream(obj, location)
        if isinstance(obj.get("post"), dict):
            return self._feed_item(obj, location)
        if "uri" in obj and "value" in obj:
            return self._record_item(obj, location)
        if "uri" in obj and "record" in obj:
            return self._post_view(obj, location)
        if obj.get("$type") == POST_COLLECTION:
            return iter(
                (
                    self.reject(
                        location,
                        "a bare app.bsky.feed.post record has no AT URI to key it by; "
                        "export records with their URI (com.atproto.repo.listRecords: "
                        "{uri, cid, value})",
                        obj,
                    ),
                )
            )
        raise UnknownShape(f"not a Bluesky feed page, post view, record or Jetstream event (keys {sorted(obj)[:12]})")

    # ------------------------------------------------------------------ API views

    def _feed_item(self, item: dict[str, Any], location: str) -> Results:
        """A feedViewPost: the post, its reply context, and the repost when ``reason`` says so."""
        post = item.get("post")
        if not isinstance(post, dict):
            yield self.reject(location, "feed item has no 'post' object", item)
            return
        reason = item.get("reason")
        reposted = isinstance(reason, dict) and reason.get("$type") == REASON_REPOST
        if reposted:
            by = as_dict(reason.get("by"))
            yield self._repost(
                by.get("did"),
                by,
                post.get("uri"),
                as_text(as_dict(post.get("record")).get("text")),
                reason.get("indexedAt"),
                item,
                location,
            )
        yield from self._post_view(post, location, collected=not reposted)
        seen = {post.get("uri")}
        for role in ("parent", "root"):
            context = as_dict(item.get("reply")).get(role)
            if isinstance(context, dict) and "record" in context and context.get("uri") not in seen:
                seen.add(context.get("uri"))
                yield from self._post_view(context, f"{location} reply.{role}", collected=False)

    def _post_view(self, view: dict[str, Any], location: str, collected: bool = True) -> Results:
        """A postView, and the post it quotes (as context) when the embed view carries it."""
        yield self._post(
            view.get("uri"),
            view.get("record"),
            view,
            location,
            collected,
            profile=view.get("author"),
            server_time=view.get("indexedAt"),
            counts=view,
            embed_view=view.get("embed"),
        )
        if collected:  # one level of quoted context; a quoted post's own quote is not followed
            quoted = _quoted_view(view.get("embed"))
            if quoted is not None:
                yield self._post(
                    quoted.get("uri"),
                    quoted.get("value"),
                    quoted,
                    f"{location} quoted post",
                    False,
                    profile=quoted.get("author"),
                    server_time=quoted.get("indexedAt"),
                    counts=quoted,
                    embed_view=_first(quoted.get("embeds")),
                )

    def _thread(self, anchor: dict[str, Any], location: str) -> Results:
        """getPostThread: the anchor and every reply below it (collected), its parents (context).

        Walked with a stack, not recursion: a hostile file may nest replies arbitrarily deep.
        """
        parent, n = anchor.get("parent"), 0
        while isinstance(parent, dict):
            n += 1
            if isinstance(parent.get("post"), dict):
                yield from self._post_view(parent["post"], f"{location} parent {n}", collected=False)
            parent = parent.get("parent")
        stack, n = [anchor], 0
        while stack:
            node = stack.pop()
            if isinstance(node.get("post"), dict):
                yield from self._post_view(node["post"], f"{location} reply {n}" if n else location)
                n += 1
            replies = node.get("replies")
            if isinstance(replies, list):
                stack.extend(reversed([r for r in replies if isinstance(r, dict)]))

    # ------------------------------------------------------------------ records and Jetstream

    def _record_item(self, item: dict[str, Any], location: str) -> Results:
        """``{uri, cid, value}`` as listRecords returns it."""
        uri, value = item.get("uri"), item.get("value")
        kind = as_dict(value).get("$type")
        if kind == REPOST_COLLECTION:
            yield self._repost_record(_uri_did(uri), value, item, location)
        elif kind == POST_COLLECTION:
            yield self._post(uri, value, item, location, True)
        else:
            yield Skipped(f"{kind or 'untyped'} records")

    def _jetstream(self, event: dict[str, Any], location: str) -> Results:
        """A Jetstream v1 event or v2 message: a post or repost created or updated."""
        if event.get("$type") == JETSTREAM_V2_MESSAGE:
            payload = as_dict(event.get("payload"))
            if not str(payload.get("$type", "")).endswith(JETSTREAM_V2_COMMIT):
                yield Skipped("Jetstream identity/account events")
                return
            did, commit, server_time = payload.get("did"), payload, _time_or_none(payload.get("time"))
        else:
            if (event.get("kind") or JETSTREAM_OLD_KINDS.get(event.get("type"))) != "commit":
                yield Skipped("Jetstream identity/account events")
                return
            did, commit, server_time = event.get("did"), as_dict(event.get("commit")), _epoch_us(event.get("time_us"))
        operation = commit.get("operation") or JETSTREAM_OLD_OPERATIONS.get(commit.get("type"))
        collection, record = commit.get("collection"), commit.get("record")
        if operation == "delete":
            yield Skipped("Jetstream deletions")
        elif collection == REPOST_COLLECTION:
            yield self._repost_record(did, record, event, location)
        elif collection != POST_COLLECTION:
            yield Skipped(f"Jetstream {collection or 'untyped'} events")
        else:
            uri = f"at://{did}/{collection}/{commit.get('rkey')}"
            yield self._post(uri, record, event, location, True, server_time=server_time)

    def _repost_record(self, did: Any, record: Any, raw: dict[str, Any], location: str) -> ReadResult:
        """An ``app.bsky.feed.repost`` record (``subject`` = the post) as a repost row."""
        subject = as_dict(as_dict(record).get("subject"))
        return self._repost(did, None, subject.get("uri"), None, as_dict(record).get("createdAt"), raw, location)

    # ------------------------------------------------------------------ rows

    def _post(
        self,
        uri: Any,
        record: Any,
        raw: dict[str, Any],
        location: str,
        collected: bool,
        *,
        profile: Any = None,
        server_time: Any = None,
        counts: dict[str, Any] | None = None,
        embed_view: Any = None,
    ) -> ReadResult:
        """One post from its URI and record. Views add the author's profile, the server's time,
        the counts and the embed view; records and Jetstream events have only the DID in the URI."""
        if not isinstance(record, dict):
            return self.reject(location, "post has no record object", raw)
        try:
            key, did, rkey = post_id(uri)
        except ValueError as exc:
            return self.reject(location, str(exc), raw)
        warnings: list[FieldWarning] = []
        author = as_dict(profile)
        kind, referenced = _kind(record)
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            "id": key,
            "author_id": author.get("did") or did,
            "author_handle": _handle(author),
            "author_name": author.get("displayName"),
            "created_at": _created_at(record.get("createdAt"), _time_or_none(server_time), warnings),
            "text": record.get("text"),
            "lang": _first(record.get("langs")),
            "kind": kind,
            "referenced_id": referenced,
            "url": POST_URL.format(did=did, rkey=rkey),
        }
        fields.update({ours: as_dict(counts).get(theirs) for theirs, ours in COUNTS.items()})
        return build_post(
            fields,
            raw,
            self.source(location),
            self.ctx,
            media=_media(record.get("embed"), embed_view),
            author_raw=author or None,
            collected=collected,
            warnings=warnings,
        )

    def _repost(
        self,
        did: Any,
        profile: dict[str, Any] | None,
        original_uri: Any,
        text: str | None,
        when: Any,
        raw: dict[str, Any],
        location: str,
    ) -> ReadResult:
        """A repost row by ``did`` (``profile``: its profileViewBasic when the source has one)."""
        by = as_dict(profile)
        if not isinstance(did, str) or not did.startswith("did:"):
            return self.reject(location, "repost without the reposter's DID", raw)
        try:
            original, _, _ = post_id(original_uri)
        except ValueError as exc:
            return self.reject(location, f"repost of {exc}", raw)
        fields = {
            "platform": PLATFORM,
            "id": repost_id(did, original),
            "author_id": did,
            "author_handle": _handle(by),
            "author_name": by.get("displayName"),
            "created_at": when,
            "text": text,
            "kind": PostKind.REPOST,
            "referenced_id": original,
        }
        return build_post(fields, raw, self.source(location), self.ctx, media=[], author_raw=profile)


# ---------------------------------------------------------------------- fields


def _kind(record: dict[str, Any]) -> tuple[PostKind, str | None]:
    """Quote (an embedded post) before reply, as for X; an embedded feed or list is no quote."""
    embed = as_dict(record.get("embed"))
    embedded = as_dict(embed.get("record"))
    if embed.get("$type") == EMBED_RECORD_WITH_MEDIA:
        embedded = as_dict(embedded.get("record"))
    if embed.get("$type") in (EMBED_RECORD, EMBED_RECORD_WITH_MEDIA):
        try:
            return PostKind.QUOTE, post_id(embedded.get("uri"))[0]
        except ValueError:
            pass
    parent = as_dict(as_dict(record.get("reply")).get("parent"))
    if "uri" in parent:
        try:
            return PostKind.REPLY, post_id(parent.get("uri"))[0]
        except ValueError:
            return PostKind.REPLY, None
    return PostKind.ORIGINAL, None


def _created_at(created: Any, server_time: datetime | None, warnings: list[FieldWarning]) -> datetime | None:
    """The client's ``createdAt``, unless missing, unreadable or ahead of the server's time."""
    try:
        when = parse_time(created)
    except (ValueError, OverflowError, OSError):
        when = None
    if when is None:
        if server_time is not None:
            warnings.append(FieldWarning("createdAt", created, "missing or unreadable; the server's time is used"))
        return server_time
    if server_time is not None and when > server_time + CLOCK_SKEW:
        warnings.append(
            FieldWarning(
                "createdAt", created, f"after the server's time {server_time.isoformat()}; the server's time is used"
            )
        )
        return server_time
    return when


def _time_or_none(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None


def _epoch_us(value: Any) -> datetime | None:
    """Jetstream ``time_us`` (microseconds since the epoch) as a time; None when unusable."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value / 1_000_000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _handle(author: dict[str, Any]) -> str | None:
    handle = author.get("handle")
    return None if handle == INVALID_HANDLE else handle


def _uri_did(uri: Any) -> str | None:
    if isinstance(uri, str) and uri.startswith("at://did:"):
        return uri.removeprefix("at://").split("/", 1)[0]
    return None


def _quoted_view(embed_view: Any) -> dict[str, Any] | None:
    """The quoted post's viewRecord inside a ``record#view`` / ``recordWithMedia#view`` embed."""
    embed = as_dict(embed_view)
    kind = _base_type(embed)
    record = as_dict(embed.get("record"))
    if kind == EMBED_RECORD_WITH_MEDIA:
        record = as_dict(record.get("record"))
    elif kind != EMBED_RECORD:
        return None
    return record if "value" in record and "uri" in record else None


# ---------------------------------------------------------------------- media


def _media(record_embed: Any, embed_view: Any) -> list[MediaRef]:
    """Images, video or a link card, from the record's embed (blob CIDs, alt text) paired with the
    view's (CDN URLs). The media key is the blob CID; its position when no record gives one."""
    record, view = _media_part(record_embed), _media_part(embed_view)
    kind = _base_type(record) or _base_type(view)
    if kind == EMBED_IMAGES:
        rec_images, view_images = as_list(record.get("images")), as_list(view.get("images"))
        return [
            MediaRef(
                _blob_cid(as_dict(r).get("image")) or f"image {i}",
                "image",
                as_text(v.get("fullsize")),
                as_text(v.get("thumb")),
                raw=v or r or None,
            )
            for i, (r, v) in enumerate(_pairs(rec_images, view_images), start=1)
        ]
    if kind == EMBED_VIDEO:
        key = as_text(view.get("cid")) or _blob_cid(record.get("video")) or "video"
        return [
            MediaRef(key, "video", as_text(view.get("playlist")), as_text(view.get("thumbnail")), raw=view or record)
        ]
    if kind == EMBED_EXTERNAL:
        rec_ext, view_ext = as_dict(record.get("external")), as_dict(view.get("external"))
        link = as_text(view_ext.get("uri")) or as_text(rec_ext.get("uri"))
        return [
            MediaRef(
                _blob_cid(rec_ext.get("thumb")) or "external",
                "external",
                link,
                as_text(view_ext.get("thumb")),
                raw=view_ext or rec_ext,
            )
        ]
    return []


def _media_part(embed: Any) -> dict[str, Any]:
    """The embed itself, or the ``media`` half of a recordWithMedia embed."""
    embed = as_dict(embed)
    return as_dict(embed.get("media")) if _base_type(embed) == EMBED_RECORD_WITH_MEDIA else embed


def _pairs(a: list[Any], b: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The items of two lists side by side, the shorter padded with empty objects."""
    return [(as_dict(x), as_dict(y)) for x, y in zip_longest(a, b)]


def _blob_cid(blob: Any) -> str | None:
    """A blob's CID: ``ref.$link`` (current blobs) or ``cid`` (legacy blobs)."""
    blob = as_dict(blob)
    return as_text(as_dict(blob.get("ref")).get("$link")) or as_text(blob.get("cid"))


def _base_type(obj: dict[str, Any]) -> str | None:
    """An embed's lexicon id without the ``#view`` fragment."""
    kind = obj.get("$type")
    return kind.split("#", 1)[0] if isinstance(kind, str) else None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else None
