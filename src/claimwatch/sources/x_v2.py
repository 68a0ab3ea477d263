"""X API v2 response pages (``data`` / ``includes`` / ``meta``).

Both field spellings are read: the classic ones every archive uses (``referenced_tweets``,
``note_tweet``, ``retweet_count``) and the renamed ones of spec v2.167 (``referenced_posts``,
``note_post``, ``repost_count``), whose use on the wire is unverified. Edit-history ids
(``edit_history_tweet_ids`` / ``edit_history_post_ids``) have no Post field; they stay in
``raw``. Text is unescaped once (X sends ``&amp;``; see :mod:`claimwatch.sources.x_text`).

Posts also come one per line, as ``twarc2 flatten`` writes them or as any tool that
saves v2 post objects does (:func:`read_flat_post`): the author and media sit inline
(``author``, ``attachments.media``) and each ``referenced_tweets`` item carries the whole
referenced post, which becomes a context post exactly as ``includes.tweets`` does in a page.
A page of other X objects (users, lists, spaces …) is refused by name (:mod:`x_objects`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, MediaRef, Parsed, PostKind, ReadResult, SourceRef
from claimwatch.sources import x_media, x_v1
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    iter_json_objects,
    json_type,
    load_json,
    open_binary,
    parse_time,
    read_text,
    rejected,
    to_count,
)
from claimwatch.sources.generic import build_post, column_list
from claimwatch.sources.x_objects import classify, page_kind
from claimwatch.sources.x_text import unescape_x

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

#: twarc2's envelope on each page it writes: ``{"url", "version", "retrieved_at"}``.
ENVELOPE = "__twarc"
RETRIEVED_AT = "retrieved_at"
#: Keys only a v2 post object has (besides ``id`` and ``text``): a JSON line with them is a post.
V2_POST_KEYS = (
    "public_metrics",
    "edit_history_tweet_ids",
    "edit_history_post_ids",
    "author_id",
    "conversation_id",
    *REFERENCED_KEYS,
    *NOTE_KEYS,
)
PAGE_NOUN = "an X API {name} page"

#: Bytes read past the first line to tell one document from JSON lines.
_PEEK_BYTES = 8192
#: Inline referenced posts followed this deep (a quote of a quote of a quote …).
MAX_REFERENCE_DEPTH = 4


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a file holding one API response page, or JSON lines of pages or posts."""
    first, more = first_line(path)
    if more and _is_object(first):
        yield from read_lines(path, ctx, FORMAT)
        return
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); X API v2 pages are UTF-8 JSON"
        ) from None
    try:
        page = load_json(text)
    except ValueError as exc:
        raise FormatError(str(exc)) from None
    if not isinstance(page, dict):
        raise FormatError(f"not an X API v2 page: top-level JSON {json_type(page)} instead of an object")
    observed_at, warning = envelope_time(page, ctx.observed_at)
    if not any(key in page for key in PAGE_KEYS) and "id" in page and "text" in page:  # one post object
        yield from _with_warning(read_flat_post(page, SourceRef(str(path), "post", FORMAT), ctx, observed_at), warning)
        return
    if not any(key in page for key in PAGE_KEYS):
        if page.get("errors"):
            raise FormatError(f"an X API error response with no data: {json.dumps(page['errors'])[:300]}")
        raise FormatError(
            f"not an X API v2 page: top-level keys are {column_list(sorted(page))}, "
            f"expected some of {', '.join(PAGE_KEYS)}"
        )
    other = page_kind(page.get("data"))
    if other is not None:
        raise FormatError(other.message(PAGE_NOUN, "data items"))
    yield from _with_warning(read_page(page, path, "", ctx, observed_at), warning)


def read_lines(path: Path, ctx: ReadContext, fmt: str) -> Iterator[ReadResult]:
    """JSON lines of API pages (twarc2) or of single posts (``twarc2 flatten``, v2 post
    objects saved one per line, twarc1 / API v1.1 posts); one bad line is rejected on its own.

    A line of users, lists, spaces … (:mod:`x_objects`) refuses the whole file when nothing
    was read before it (a twarc2 file holds one command's output), else only that line.
    """
    read_any = False
    for no, obj, rejection in iter_json_objects(path, fmt):
        if rejection:
            yield rejection
            continue
        location = f"line {no}"
        is_page = "errors" in obj or any(key in obj for key in PAGE_KEYS)
        other = page_kind(obj.get("data")) if is_page else classify(obj)
        if other is not None:
            message = other.message(
                PAGE_NOUN if is_page else "X API {name} objects, one per line",
                "data items" if is_page else "the objects",
            )
            if not read_any:
                raise FormatError(f"{location}: {message}")
            yield rejected(path, location, fmt, message, obj)
            continue
        observed_at, warning = envelope_time(obj, ctx.observed_at)
        source = SourceRef(str(path), location, fmt)
        if is_page:
            results = read_page(obj, path, location, ctx, observed_at, fmt)
        elif any(key in obj for key in x_v1.MARKERS):
            user, v1_warnings = obj.get("user"), []
            results = iter(
                (
                    build_post(
                        x_v1.fields(obj),
                        obj,
                        source,
                        ctx,
                        observed_at=observed_at,
                        author_raw=user if isinstance(user, dict) else None,
                        media=x_v1.media(obj, v1_warnings),
                        warnings=v1_warnings,
                    ),
                )
            )
        elif "id" in obj:
            results = read_flat_post(obj, source, ctx, observed_at)
        else:
            yield rejected(path, location, fmt, "neither an API page ('data') nor a single post ('id', 'text')", obj)
            continue
        for result in _with_warning(results, warning):
            read_any = read_any or isinstance(result, Parsed)
            yield result


def envelope_time(obj: dict[str, Any], fallback: datetime) -> tuple[datetime, FieldWarning | None]:
    """When twarc retrieved the page (``__twarc.retrieved_at``), else ``fallback``."""
    envelope = obj.get(ENVELOPE)
    value = envelope.get(RETRIEVED_AT) if isinstance(envelope, dict) else None
    try:
        return parse_time(value) or fallback, None
    except (ValueError, OverflowError, OSError) as exc:
        return fallback, FieldWarning(
            f"{ENVELOPE}.{RETRIEVED_AT}", value, f"{exc}; the file's observation time is used"
        )


def first_line(path: Path) -> tuple[str, bool]:
    """The first non-blank line in full (BOM dropped), and whether anything follows it."""
    with open_binary(path) as fh:
        for raw in fh:
            if raw.strip():
                more = bool(fh.read(_PEEK_BYTES).strip())
                return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"), more
    return "", False


def _is_object(line: str) -> bool:
    try:
        return isinstance(load_json(line), dict)
    except ValueError:
        return False


def _with_warning(results: Iterable[ReadResult], warning: FieldWarning | None) -> Iterator[ReadResult]:
    for result in results:
        if warning and isinstance(result, Parsed):
            result.warnings.append(warning)
        yield result


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
    other = classify(post)
    if other is not None:
        return rejected(
            source.path,
            source.location,
            source.format,
            other.message("an X API {name} object, not a post", "its keys"),
            post,
        )
    warnings: list[FieldWarning] = []
    user = users.get(str(post.get("author_id")))
    fields = _fields(post, user, warnings)
    attachments = post.get("attachments")
    keys = attachments.get("media_keys") if isinstance(attachments, dict) else None
    keys = [str(key) for key in keys if key] if isinstance(keys, list) else []
    refs = [media_ref(media.get(key) or {"media_key": key}, warnings) for key in keys]
    return build_post(
        fields,
        post,
        source,
        ctx,
        observed_at=observed_at,
        media=refs,
        author_raw=user,
        collected=collected,
        warnings=warnings,
    )


def read_flat_post(
    post: dict[str, Any],
    source: SourceRef,
    ctx: ReadContext,
    observed_at: datetime,
    collected: bool = True,
    depth: int = 0,
) -> Iterator[ReadResult]:
    """A post with its expansions inline (``twarc2 flatten``), then the referenced posts it
    carries, as context posts (``collected=False``) with their own snapshots."""
    author = post.get("author")
    users = {str(author.get("id")): author} if isinstance(author, dict) else {}
    attachments = post.get("attachments")
    media = index_by(attachments.get("media") if isinstance(attachments, dict) else None, "media_key")
    yield read_post(post, users, media, source, ctx, observed_at, collected=collected)
    if depth >= MAX_REFERENCE_DEPTH:
        return
    references = _first(post, REFERENCED_KEYS)
    for n, ref in enumerate(references if isinstance(references, list) else (), start=1):
        if isinstance(ref, dict) and "text" in ref:  # not just {type, id}: the post was expanded
            ref_source = SourceRef(source.path, f"{source.location} referenced_tweets item {n}", source.format)
            yield from read_flat_post(ref, ref_source, ctx, observed_at, collected=False, depth=depth + 1)


def media_ref(item: dict[str, Any], warnings: list[FieldWarning]) -> MediaRef:
    """A v2 media object as a MediaRef: a photo's ``url``; a video's or GIF's best MP4 variant
    (all variants stay in ``raw``; the fetch re-chooses one under its size cap), else its
    preview image (the API sends no variants unless ``media.fields`` asks for them)."""
    key = str(item.get("media_key"))
    metrics = item.get("public_metrics")
    duration, duration_warning = to_count(item.get("duration_ms"), f"media {key} duration_ms")
    views, views_warning = to_count(
        metrics.get("view_count") if isinstance(metrics, dict) else None, f"media {key} view_count"
    )
    warnings.extend(w for w in (duration_warning, views_warning) if w)
    return MediaRef(
        media_key=key,
        type=item.get("type"),
        url=item.get("url") or x_media.best_variant(x_media.mp4_variants(item)) or item.get("preview_image_url"),
        preview_url=item.get("preview_image_url"),
        duration_ms=duration,
        view_count=views,
        raw=item,
    )


def _fields(post: dict[str, Any], user: dict[str, Any] | None, warnings: list[FieldWarning]) -> dict[str, Any]:
    """The post in our field names (see ``generic.FIELD_ALIASES``)."""
    note = _first(post, NOTE_KEYS)
    text = note.get("text") if isinstance(note, dict) and note.get("text") else post.get("text")
    kind, referenced_id = reference_kind(_first(post, REFERENCED_KEYS))
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
        "text": unescape_x(text) if isinstance(text, str) else text,
        "lang": post.get("lang"),
        "kind": kind,
        "referenced_id": referenced_id,
        "reposts": _first(metrics, REPOST_COUNT_KEYS),
    }
    for ours, theirs in METRIC_KEYS.items():
        fields[ours] = metrics.get(theirs)
    return fields


def reference_kind(references: Any) -> tuple[PostKind, Any]:
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
