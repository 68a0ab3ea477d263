"""twarc archives: twarc2 JSON lines (API pages or single posts) and twarc-csv flattened CSV.

twarc stamps each page with ``__twarc.retrieved_at``; that is when the metrics were
seen, so it beats the file-level observation time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import (
    FieldWarning,
    MediaRef,
    Parsed,
    PostKind,
    ReadResult,
    SourceRef,
)
from claimwatch.sources import x_v2
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    iter_json_objects,
    parse_time,
    rejected,
)
from claimwatch.sources.generic import build_post

JSONL_FORMAT = "twarc2"
CSV_FORMAT = "twarc-csv"

ENVELOPE = "__twarc"
RETRIEVED_AT = "retrieved_at"
#: Keys telling a twarc1 / API v1.1 post from a v2 one.
V1_MARKERS = ("id_str", "user")

#: twarc-csv column for each of our fields that maps one to one.
CSV_COLUMNS = {
    "id": "id",
    "author_id": "author_id",
    "author_handle": "author.username",
    "author_name": "author.name",
    "author_followers": "author.public_metrics.followers_count",
    "created_at": "created_at",
    "lang": "lang",
    "observed_at": f"{ENVELOPE}.{RETRIEVED_AT}",
    "views": "public_metrics.impression_count",
    "reposts": "public_metrics.retweet_count",
    "quotes": "public_metrics.quote_count",
    "replies": "public_metrics.reply_count",
    "likes": "public_metrics.like_count",
    "bookmarks": "public_metrics.bookmark_count",
    "media_keys": "attachments.media_keys",
}
CSV_TEXT = "text"
CSV_NOTE_TEXT = "note_tweet.text"
CSV_MEDIA = "attachments.media"
#: Referenced-id column -> kind, in precedence order.
CSV_REFERENCE_COLUMNS = (
    ("referenced_tweets.retweeted.id", PostKind.REPOST),
    ("referenced_tweets.quoted.id", PostKind.QUOTE),
    ("referenced_tweets.replied_to.id", PostKind.REPLY),
)

#: API v1.1 keys for our fields that map one to one (post, then its ``user``).
V1_KEYS = {
    "created_at": "created_at",
    "lang": "lang",
    "reposts": "retweet_count",
    "quotes": "quote_count",
    "replies": "reply_count",
    "likes": "favorite_count",
}
V1_USER_KEYS = {"author_handle": "screen_name", "author_name": "name", "author_followers": "followers_count"}


def read_jsonl(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a twarc2 archive; one bad line is rejected on its own."""
    for no, obj, rejection in iter_json_objects(path, JSONL_FORMAT):
        if rejection:
            yield rejection
            continue
        location = f"line {no}"
        observed_at, warning = _retrieved_at(obj.get(ENVELOPE), ctx.observed_at)
        if "errors" in obj or any(key in obj for key in x_v2.PAGE_KEYS):
            results = x_v2.read_page(obj, path, location, ctx, observed_at, JSONL_FORMAT)
        elif "id" in obj or "id_str" in obj:
            results = iter((_single_post(obj, SourceRef(str(path), location, JSONL_FORMAT), ctx, observed_at),))
        else:
            yield rejected(path, location, JSONL_FORMAT,
                           "neither an API page ('data') nor a single post ('id', 'text')", obj)
            continue
        for result in results:
            if warning and isinstance(result, Parsed):
                result.warnings.append(warning)
            yield result


def read_csv(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a twarc-csv file. A repost row carries the original's text and metrics
    (``--merge-retweets``): the text is kept, the metrics never are."""
    header = csv_header(path)
    if CSV_COLUMNS["id"] not in header:
        raise FormatError(f"not a twarc-csv file: no 'id' column (header starts {header[:8]})")
    for no, row, rejection in iter_csv_rows(path, CSV_FORMAT):
        if rejection:
            yield rejection
            continue
        warnings: list[FieldWarning] = []
        fields = {ours: row.get(column) for ours, column in CSV_COLUMNS.items()}
        fields["text"] = row.get(CSV_NOTE_TEXT) or row.get(CSV_TEXT)
        fields["kind"], fields["referenced_id"] = next(
            ((kind, row[column]) for column, kind in CSV_REFERENCE_COLUMNS if row.get(column)),
            (PostKind.ORIGINAL, None))
        yield build_post(fields, row, SourceRef(str(path), f"line {no}", CSV_FORMAT), ctx,
                         media=_csv_media(row.get(CSV_MEDIA), warnings), warnings=warnings)


def _retrieved_at(envelope: Any, fallback: datetime) -> tuple[datetime, FieldWarning | None]:
    value = envelope.get(RETRIEVED_AT) if isinstance(envelope, dict) else None
    try:
        return parse_time(value) or fallback, None
    except (ValueError, OverflowError, OSError) as exc:
        reason = f"{exc}; the file's observation time is used"
        return fallback, FieldWarning(f"{ENVELOPE}.{RETRIEVED_AT}", value, reason)


def _single_post(post: dict[str, Any], source: SourceRef, ctx: ReadContext, observed_at: datetime) -> ReadResult:
    """A line holding one post: twarc1 (API v1.1) or ``twarc2 flatten`` output."""
    if any(key in post for key in V1_MARKERS):
        user = post.get("user")
        return build_post(_v1_fields(post), post, source, ctx, observed_at=observed_at,
                          author_raw=user if isinstance(user, dict) else None)
    author = post.get("author")
    users = {str(author.get("id")): author} if isinstance(author, dict) else {}
    attachments = post.get("attachments")
    media = x_v2.index_by(attachments.get("media") if isinstance(attachments, dict) else None, "media_key")
    return x_v2.read_post(post, users, media, source, ctx, observed_at)


def _v1_fields(post: dict[str, Any]) -> dict[str, Any]:
    """An API v1.1 post in our field names."""
    user = post.get("user")
    user = user if isinstance(user, dict) else {}
    extended = post.get("extended_tweet")
    retweeted = post.get("retweeted_status")
    if isinstance(retweeted, dict):
        kind, referenced_id = PostKind.REPOST, retweeted.get("id_str") or retweeted.get("id")
    elif post.get("quoted_status_id_str"):
        kind, referenced_id = PostKind.QUOTE, post["quoted_status_id_str"]
    elif post.get("in_reply_to_status_id_str"):
        kind, referenced_id = PostKind.REPLY, post["in_reply_to_status_id_str"]
    else:
        kind, referenced_id = PostKind.ORIGINAL, None
    fields = {
        "id": post.get("id_str") or post.get("id"),
        "author_id": user.get("id_str") or user.get("id"),
        "text": (extended.get("full_text") if isinstance(extended, dict) else None)
        or post.get("full_text") or post.get("text"),
        "kind": kind,
        "referenced_id": referenced_id,
    }
    fields.update({ours: post.get(theirs) for ours, theirs in V1_KEYS.items()})
    fields.update({ours: user.get(theirs) for ours, theirs in V1_USER_KEYS.items()})
    return fields


def _csv_media(value: str | None, warnings: list[FieldWarning]) -> list[MediaRef] | None:
    """Media objects from the ``attachments.media`` JSON column; None (use the keys) when absent."""
    if not value:
        return None
    try:
        items = json.loads(value)
    except ValueError:
        warnings.append(FieldWarning(CSV_MEDIA, value, "not valid JSON; only media keys are kept"))
        return None
    if not isinstance(items, list):
        warnings.append(FieldWarning(CSV_MEDIA, value, "not a JSON list; only media keys are kept"))
        return None
    return [x_v2.media_ref(item, warnings) for item in items if isinstance(item, dict)]
