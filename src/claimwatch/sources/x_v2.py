"""X API v2 response pages (``data`` / ``includes`` / ``meta``).

Both field spellings are read: the classic ones every archive uses (``referenced_tweets``,
``note_tweet``, ``retweet_count``) and the renamed ones of spec v2.167 (``referenced_posts``,
``note_post``, ``repost_count``), whose use on the wire is unverified. Edit-history ids
(``edit_history_tweet_ids`` / ``edit_history_post_ids``) have no Post field; they stay in
``raw``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, MediaRef, PostKind, ReadResult, SourceRef
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    json_type,
    read_text,
    rejected,
    to_count,
)
from claimwatch.sources.generic import build_post

FORMAT = "x-v2"

PAGE_KEYS = ("data", "includes", "meta")
REFERENCED_KEYS = ("referenced_tweets", "referenced_posts")
NOTE_KEYS = ("note_tweet", "note_post")
REPOST_COUNT_KEYS = ("retweet_count", "repost_count")
#: ``includes`` key of expanded posts; "posts" is the assumed renamed spelling.
INCLUDED_POST_KEYS = ("tweets", "posts")

#: Referenced-post type -> kind, in precedence order (a repost of a quote is a repost).
REFERENCE_KINDS = (("retweeted", PostKind.REPOST), ("quoted", PostKind.QUOTE), ("replied_to", PostKind.REPLY))

#: Our metric field -> key in ``public_metrics`` (reposts handled via REPOST_COUNT_KEYS).
METRIC_KEYS = {
    "views": "impression_count",
    "quotes": "quote_count",
    "replies": "reply_count",
    "likes": "like_count",
    "bookmarks": "bookmark_count",
}

_SHOWN_KEYS = 20


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a file holding one API response page."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
            "X API v2 pages are UTF-8 JSON") from None
    try:
        page = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = "; for one page per line use the twarc2 format" if exc.msg == "Extra data" else ""
        raise FormatError(f"not a JSON document: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}") from None
    if not isinstance(page, dict):
        raise FormatError(f"not an X API v2 page: top-level JSON {json_type(page)} instead of an object")
    if not any(key in page for key in PAGE_KEYS):
        if page.get("errors"):
            raise FormatError(f"an X API error response with no data: {json.dumps(page['errors'])[:300]}")
        raise FormatError(f"not an X API v2 page: top-level keys are {sorted(page)[:_SHOWN_KEYS]}, "
                          f"expected some of {list(PAGE_KEYS)}")
    yield from read_page(page, path, "", ctx, ctx.observed_at)


def read_page(
    page: dict[str, Any],
    path: Path | str,
    location: str,
    ctx: ReadContext,
    observed_at: datetime,
    fmt: str = FORMAT,
) -> Iterator[ReadResult]:
    """Posts of one page: ``data`` items (collected) then ``includes`` posts (context only).

    ``location`` prefixes item locations (e.g. ``"line 3"`` for a twarc2 line). A page with
    no ``data`` is fine when it says why (``errors``, or ``result_count`` 0).
    """
    includes = page.get("includes")
    includes = includes if isinstance(includes, dict) else {}
    data = page.get("data")
    if data is None:
        meta = page.get("meta")
        if not (page.get("errors") or (isinstance(meta, dict) and meta.get("result_count") == 0)):
            yield rejected(path, location or "page", fmt, "page has no 'data' array", page)
        return
    if isinstance(data, dict):  # single-post lookup: GET /2/tweets/:id
        data = [data]
    if not isinstance(data, list):
        yield rejected(path, location or "page", fmt, "'data' is not an array", page)
        return
    users = index_by(includes.get("users"), "id")
    media = index_by(includes.get("media"), "media_key")
    prefix = f"{location} " if location else ""
    for n, item in enumerate(data, start=1):
        source = SourceRef(str(path), f"{prefix}item {n}", fmt)
        yield read_post(item, users, media, source, ctx, observed_at)
    for key in INCLUDED_POST_KEYS:
        for n, item in enumerate(includes.get(key) or (), start=1):
            source = SourceRef(str(path), f"{prefix}includes.{key} item {n}", fmt)
            yield read_post(item, users, media, source, ctx, observed_at, collected=False)


def read_post(
    post: Any,
    users: Mapping[str, dict[str, Any]],
    media: Mapping[str, dict[str, Any]],
    source: SourceRef,
    ctx: ReadContext,
    observed_at: datetime,
    collected: bool = True,
) -> ReadResult:
    """One v2 post object, its author and media joined from ``users`` / ``media``."""
    if not isinstance(post, dict):
        return rejected(source.path, source.location, source.format, "item is not a JSON object", post)
    warnings: list[FieldWarning] = []
    user = users.get(str(post.get("author_id")))
    fields = _fields(post, user, warnings)
    attachments = post.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    keys = [str(key) for key in keys if key] if isinstance(keys, list) else []
    refs = [media_ref(media.get(key) or {"media_key": key}, warnings) for key in keys]
    return build_post(fields, post, source, ctx, observed_at=observed_at, media=refs,
                      author_raw=user, collected=collected, warnings=warnings)


def media_ref(item: dict[str, Any], warnings: list[FieldWarning]) -> MediaRef:
    """A v2 media object as a MediaRef; a video's url falls back to its preview image."""
    key = str(item.get("media_key"))
    metrics = item.get("public_metrics")
    duration, duration_warning = to_count(item.get("duration_ms"), f"media {key} duration_ms")
    views, views_warning = to_count(
        metrics.get("view_count") if isinstance(metrics, dict) else None, f"media {key} view_count")
    warnings.extend(w for w in (duration_warning, views_warning) if w)
    return MediaRef(
        media_key=key,
        type=item.get("type"),
        url=item.get("url") or item.get("preview_image_url"),
        preview_url=item.get("preview_image_url"),
        duration_ms=duration,
        view_count=views,
        raw=item,
    )


def _fields(post: dict[str, Any], user: dict[str, Any] | None, warnings: list[FieldWarning]) -> dict[str, Any]:
    """The post in our field names (see ``generic.FIELD_ALIASES``)."""
    note = _first(post, NOTE_KEYS)
    text = note.get("text") if isinstance(note, dict) and note.get("text") else post.get("text")
    kind, referenced_id = _kind(_first(post, REFERENCED_KEYS))
    metrics = post.get("public_metrics")
    if metrics is None:
        metrics = {}
    elif not isinstance(metrics, dict):
        warnings.append(FieldWarning("public_metrics", metrics, "not an object; metrics unknown"))
        metrics = {}
    user = user or {}
    user_metrics = user.get("public_metrics")
    fields = {
        "id": post.get("id"),
        "author_id": post.get("author_id"),
        "author_handle": user.get("username"),
        "author_name": user.get("name"),
        "author_followers": user_metrics.get("followers_count") if isinstance(user_metrics, dict) else None,
        "created_at": post.get("created_at"),
        "text": text,
        "lang": post.get("lang"),
        "kind": kind,
        "referenced_id": referenced_id,
        "reposts": _first(metrics, REPOST_COUNT_KEYS),
    }
    for ours, theirs in METRIC_KEYS.items():
        fields[ours] = metrics.get(theirs)
    return fields


def _kind(references: Any) -> tuple[PostKind, Any]:
    """Kind and referenced id from ``referenced_tweets``; repost beats quote beats reply."""
    by_type = {r.get("type"): r.get("id") for r in references or () if isinstance(r, dict)}
    for ref_type, kind in REFERENCE_KINDS:
        if ref_type in by_type:
            return kind, by_type[ref_type]
    return PostKind.ORIGINAL, None


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` present (present-but-0 counts)."""
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def index_by(items: Any, key: str) -> dict[str, dict[str, Any]]:
    """The objects in ``items`` keyed by their ``key`` value (non-objects skipped)."""
    return {str(i[key]): i for i in items or () if isinstance(i, dict) and i.get(key) is not None}
