"""Generic CSV / JSON-lines post readers, and :func:`build_post`, where every Post is made.

All post readers normalise their source into a dict keyed by our field names
(:data:`FIELD_ALIASES`) and hand it to :func:`build_post`, so the rules on ids, times,
kinds, metrics and "a repost has no metrics of its own" live in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import (
    Author,
    FieldWarning,
    MediaRef,
    MetricSnapshot,
    Parsed,
    Post,
    PostKind,
    ReadResult,
    SourceRef,
)
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    iter_json_objects,
    json_type,
    parse_time,
    rejected,
    str_id,
    to_count,
)

CSV_FORMAT = "csv"
JSONL_FORMAT = "jsonl"

#: Our field -> column names recognised without a mapping (compared case-insensitively).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "post_id", "tweet_id", "status_id"),
    "author_id": ("author_id", "user_id"),
    "author_handle": ("author_handle", "username", "handle", "screen_name", "user", "author"),
    "author_name": ("author_name", "display_name", "user_name"),
    "author_followers": ("author_followers", "followers", "followers_count"),
    "created_at": ("created_at", "date", "timestamp", "published_at"),
    "text": ("text", "full_text", "content", "body", "message"),
    "lang": ("lang", "language"),
    "url": ("url", "post_url", "permalink"),
    "kind": ("kind", "post_kind", "post_type"),
    "referenced_id": ("referenced_id", "referenced_post_id"),
    "views": ("views", "view_count", "impressions", "impression_count"),
    "reposts": ("reposts", "retweets", "retweet_count", "repost_count", "shares"),
    "quotes": ("quotes", "quote_count"),
    "replies": ("replies", "reply_count"),
    "likes": ("likes", "like_count", "favorites"),
    "bookmarks": ("bookmarks", "bookmark_count"),
    "observed_at": ("observed_at", "retrieved_at", "collected_at"),
    "platform": ("platform",),
    "media_keys": ("media_keys",),
    "media_types": ("media_types",),
}

METRIC_FIELDS = ("views", "reposts", "quotes", "replies", "likes", "bookmarks")

#: Accepted spellings of a post kind (lower-cased); empty means original.
KIND_VALUES: dict[str, PostKind] = {
    "": PostKind.ORIGINAL,
    "original": PostKind.ORIGINAL,
    "quote": PostKind.QUOTE,
    "quoted": PostKind.QUOTE,
    "reply": PostKind.REPLY,
    "replied_to": PostKind.REPLY,
    "repost": PostKind.REPOST,
    "retweet": PostKind.REPOST,
    "retweeted": PostKind.REPOST,
    "rt": PostKind.REPOST,
}

X_STATUS_URL = "https://x.com/{handle}/status/{id}"
X_STATUS_URL_NO_HANDLE = "https://x.com/i/status/{id}"

_LIST_SEPARATORS = re.compile(r"[;,]")
#: Distinct JSONL key layouts remembered before the alias cache is reset.
_LAYOUT_CACHE_SIZE = 256


def build_post(
    fields: Mapping[str, Any],
    raw: dict[str, Any],
    source: SourceRef,
    ctx: ReadContext,
    *,
    observed_at: datetime | None = None,
    media: list[MediaRef] | None = None,
    author_raw: dict[str, Any] | None = None,
    collected: bool = True,
    warnings: list[FieldWarning] | None = None,
) -> ReadResult:
    """Make a Post from normalised ``fields``, or a Rejected when it cannot be one.

    A missing/float id, an unreadable ``created_at`` or an unknown ``kind`` rejects the
    record; anything else that is unusable becomes a FieldWarning and unknown. The
    snapshot time is the record's own ``observed_at`` field, else ``observed_at`` (a time
    the source carries, e.g. twarc ``retrieved_at``), else ``ctx.observed_at``.
    ``media`` overrides the ``media_keys``/``media_types`` fields.
    """
    warnings = list(warnings or ())
    try:
        post_id = str_id(fields.get("id"))
        created_at = _time(fields.get("created_at"), "created_at")
        kind = _kind(fields.get("kind"))
    except ValueError as exc:
        return rejected(source.path, source.location, source.format, str(exc), raw)
    platform = _str(fields.get("platform"), "platform", warnings) or ctx.platform
    author = _author(fields, platform, author_raw, warnings)
    handle = author.handle if author else None
    url = _str(fields.get("url"), "url", warnings)
    if url is None and platform == "x":
        url = (X_STATUS_URL if handle else X_STATUS_URL_NO_HANDLE).format(handle=handle, id=post_id)
    metrics = None
    if kind is not PostKind.REPOST:  # a repost's counters are the original's
        snapshot_at = _observed_at(fields.get("observed_at"), warnings) or observed_at or ctx.observed_at
        metrics = metric_snapshot(fields, snapshot_at, warnings)
    text = fields.get("text")
    if text is not None and not isinstance(text, str):
        warnings.append(FieldWarning("text", text, "not a string; stored as empty"))
        text = None
    post = Post(
        platform=platform,
        platform_id=post_id,
        author=author,
        created_at=created_at,
        text=text or "",
        kind=kind,
        referenced_id=_optional_id(fields.get("referenced_id"), "referenced_id", warnings),
        lang=_str(fields.get("lang"), "lang", warnings),
        url=url,
        media=media if media is not None else _media_from_fields(fields, warnings),
        metrics=metrics,
        collected=collected,
        raw=raw,
        source=source,
    )
    return Parsed(post, warnings)


def metric_snapshot(
    fields: Mapping[str, Any], observed_at: datetime, warnings: list[FieldWarning]
) -> MetricSnapshot | None:
    """The counters in ``fields`` as a snapshot; None when not one of them is known."""
    counts: dict[str, int | None] = {}
    for name in METRIC_FIELDS:
        counts[name], warning = to_count(fields.get(name), name)
        if warning:
            warnings.append(warning)
    if all(v is None for v in counts.values()):
        return None
    return MetricSnapshot(observed_at, **counts)


def read_csv(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts from a CSV/TSV file with a header row, columns found by alias or ``ctx.column_map``."""
    delimiter = _delimiter(path)
    header = csv_header(path, delimiter)
    if not header:
        raise FormatError("no header row: the file is empty or its first line is not UTF-8")
    columns = _csv_columns(header, ctx.column_map)
    if "id" not in columns:
        raise FormatError(
            f"no id column among {header}; name the post id column with --map id=COLUMN")
    for no, row, rejection in iter_csv_rows(path, CSV_FORMAT, delimiter):
        if rejection:
            yield rejection
            continue
        fields = {ours: row.get(theirs) for ours, theirs in columns.items()}
        yield build_post(fields, row, SourceRef(str(path), f"line {no}", CSV_FORMAT), ctx)


def read_jsonl(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts from JSON lines, one object each; ``ctx.column_map`` may use dotted paths."""
    _check_map_fields(ctx.column_map)
    explicit = {ours: _path(theirs) for ours, theirs in ctx.column_map.items()}
    layouts: dict[tuple[str, ...], dict[str, tuple[str, tuple[str, ...]]]] = {}
    first = True
    for no, obj, rejection in iter_json_objects(path, JSONL_FORMAT):
        if rejection:
            yield rejection
            continue
        keys = tuple(obj)
        paths = layouts.get(keys)
        if paths is None:
            if len(layouts) >= _LAYOUT_CACHE_SIZE:
                layouts.clear()
            aliased = _alias_columns(keys, ctx.column_map)
            paths = layouts[keys] = {**{ours: _path(theirs) for ours, theirs in aliased.items()}, **explicit}
        location = f"line {no}"
        if "id" not in paths:
            message = f"no id key among {sorted(keys)}; name it with --map id=KEY (dotted paths allowed)"
            if first:
                raise FormatError(f"{location}: {message}")
            yield rejected(path, location, JSONL_FORMAT, message, obj)
            continue
        first = False
        fields = {ours: _dig(obj, key, parts) for ours, (key, parts) in paths.items()}
        yield build_post(fields, obj, SourceRef(str(path), location, JSONL_FORMAT), ctx)


def _delimiter(path: Path) -> str:
    """Tab for .tsv files and for a header that has tabs but no commas, else comma."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    header = csv_header(path)
    return "\t" if len(header) == 1 and "\t" in header[0] else ","


def _csv_columns(header: list[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Our field -> header column; explicit mappings must name an existing column."""
    _check_map_fields(column_map)
    by_lower = _by_lower(header)
    columns = _alias_columns(header, column_map)
    for ours, theirs in column_map.items():
        actual = theirs if theirs in header else by_lower.get(theirs.lower())
        if actual is None:
            raise FormatError(f"--map {ours}={theirs}: no such column; the columns are {header}")
        columns[ours] = actual
    return columns


def _check_map_fields(column_map: Mapping[str, str]) -> None:
    unknown = sorted(set(column_map) - FIELD_ALIASES.keys())
    if unknown:
        raise FormatError(f"unknown field(s) {unknown} in the column map; fields are: {', '.join(FIELD_ALIASES)}")


def _alias_columns(columns: Iterable[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Default alias matches for fields not mapped explicitly, skipping explicitly mapped columns."""
    by_lower = _by_lower(columns)
    claimed = {theirs.lower() for theirs in column_map.values()}
    found: dict[str, str] = {}
    for ours, aliases in FIELD_ALIASES.items():
        if ours in column_map:
            continue
        for alias in aliases:
            if alias in by_lower and alias not in claimed:
                found[ours] = by_lower[alias]
                break
    return found


def _by_lower(columns: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(column.lower(), column)
    return found


def _path(key: str) -> tuple[str, tuple[str, ...]]:
    return key, tuple(key.split("."))


def _dig(obj: dict[str, Any], key: str, parts: tuple[str, ...]) -> Any:
    """``obj[key]``, else the value at the dotted path ``parts`` (None when absent)."""
    if key in obj:
        return obj[key]
    value: Any = obj
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _kind(value: Any) -> PostKind:
    if isinstance(value, PostKind):
        return value
    text = "" if value is None else str(value).strip().lower()
    try:
        return KIND_VALUES[text]
    except KeyError:
        raise ValueError(f"kind {value!r} is not one of: {', '.join(k for k in KIND_VALUES if k)}") from None


def _time(value: Any, name: str) -> datetime | None:
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _observed_at(value: Any, warnings: list[FieldWarning]) -> datetime | None:
    try:
        return _time(value, "observed_at")
    except ValueError as exc:
        warnings.append(FieldWarning("observed_at", value, f"{exc}; the file's observation time is used"))
        return None


def _str(value: Any, name: str, warnings: list[FieldWarning]) -> str | None:
    """A short scalar field as stripped text; None when empty, warned when not a scalar."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (dict, list)):
        reason = f"JSON {json_type(value)} where text was expected; stored as unknown"
        warnings.append(FieldWarning(name, value, reason))
        return None
    return str(value).strip() or None


def _optional_id(value: Any, name: str, warnings: list[FieldWarning]) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return str_id(value, name)
    except ValueError as exc:
        warnings.append(FieldWarning(name, value, f"{exc}; stored as unknown"))
        return None


def _author(
    fields: Mapping[str, Any], platform: str, raw: dict[str, Any] | None, warnings: list[FieldWarning]
) -> Author | None:
    """The author, keyed by platform id or, lacking one, by "@handle" (never mistaken for an id)."""
    handle = (_str(fields.get("author_handle"), "author_handle", warnings) or "").lstrip("@") or None
    author_id = _optional_id(fields.get("author_id"), "author_id", warnings)
    if not (author_id or handle):
        return None
    followers, warning = to_count(fields.get("author_followers"), "author_followers")
    if warning:
        warnings.append(warning)
    return Author(
        platform=platform,
        platform_id=author_id or f"@{handle}",
        handle=handle,
        name=_str(fields.get("author_name"), "author_name", warnings),
        followers=followers,
        raw=raw,
    )


def _media_from_fields(fields: Mapping[str, Any], warnings: list[FieldWarning]) -> list[MediaRef]:
    keys = _str_list(fields.get("media_keys"), "media_keys", warnings)
    types = _str_list(fields.get("media_types"), "media_types", warnings)
    return [MediaRef(key, types[i] if i < len(types) else None) for i, key in enumerate(keys)]


def _str_list(value: Any, name: str, warnings: list[FieldWarning]) -> list[str]:
    """A list field given as a JSON list (or its text) or as comma/semicolon separated text."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            warnings.append(FieldWarning(name, value, "looks like a JSON list but is not valid JSON; ignored"))
            return []
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    if isinstance(value, str):
        return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]
    warnings.append(FieldWarning(name, value, "not a list; ignored"))
    return []
