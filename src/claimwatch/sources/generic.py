"""Generic CSV / JSON-lines post readers, and :func:`build_post`, where every Post is made.

All post readers normalise their source into a dict keyed by our field names
(:data:`FIELD_ALIASES`) and hand it to :func:`build_post`, so the rules on ids, times,
kinds, metrics and "a repost has no metrics of its own" live in one place.

The generic readers find columns by alias; when several aliases of a field are present
(v1.1 ``full_text`` and ``text``), a row's value is the first non-empty one. Columns they
did not read but that look like metrics, an author or a time are named in the ingest
summary (:func:`unread_columns_notes`), so nothing is dropped silently. Text is taken as
it is (see :mod:`claimwatch.sources.x_text` for why X's HTML escapes are not undone here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import (
    METRIC_FIELDS,
    Author,
    FieldWarning,
    MediaRef,
    MetricSnapshot,
    Parsed,
    Post,
    PostKind,
    ReadResult,
    Rejected,
    SourceRef,
)
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    iter_json_objects,
    json_type,
    load_json,
    parse_time,
    rejected,
    str_id,
    to_count,
)

CSV_FORMAT = "csv"
JSONL_FORMAT = "jsonl"

#: Our field -> column names recognised without a mapping (compared case-insensitively),
#: in order of preference. Twitter API v1.1 / account-archive names are included
#: (``id_str``, ``full_text``, ``favorite_count``, ``user.screen_name`` …) for CSV and
#: JSON exports of v1.1 data; dotted names are nested keys in JSON lines.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "id_str", "post_id", "tweet_id", "status_id"),
    "author_id": ("author_id", "user_id", "user.id_str", "user_id_str"),
    "author_handle": (
        "author_handle",
        "username",
        "handle",
        "screen_name",
        "user.screen_name",
        "user_screen_name",
        "user",
        "author",
    ),
    "author_name": ("author_name", "display_name", "user_name", "user.name"),
    "author_followers": (
        "author_followers",
        "followers",
        "followers_count",
        "user.followers_count",
        "user_followers_count",
    ),
    "created_at": ("created_at", "date", "timestamp", "published_at"),
    "text": ("extended_tweet.full_text", "full_text", "text", "content", "body", "message"),
    "lang": ("lang", "language"),
    "url": ("url", "post_url", "permalink"),
    "kind": ("kind", "post_kind", "post_type"),
    "referenced_id": ("referenced_id", "referenced_post_id"),
    # The post this one reposts / quotes / answers; a value also gives the kind (see build_post).
    "repost_of": (
        "repost_of",
        "retweeted_status.id_str",
        "retweeted_status_id_str",
        "retweeted_status_id",
        "retweeted_status.id",
    ),
    "quote_of": ("quote_of", "quoted_status_id_str", "quoted_status.id_str", "quoted_status_id"),
    "reply_to": ("reply_to", "in_reply_to_status_id_str", "in_reply_to_status_id"),
    "views": ("views", "view_count", "impressions", "impression_count"),
    "reposts": ("reposts", "retweets", "retweet_count", "repost_count", "shares"),
    "quotes": ("quotes", "quote_count"),
    "replies": ("replies", "reply_count"),
    "likes": ("likes", "like_count", "favorite_count", "favorites"),
    "bookmarks": ("bookmarks", "bookmark_count"),
    "observed_at": ("observed_at", "retrieved_at", "collected_at"),
    "platform": ("platform",),
    "media_keys": ("media_keys",),
    "media_types": ("media_types",),
}

#: Reference fields in precedence order (a repost of a quote is a repost), and the kind each implies.
REFERENCE_FIELDS = (("repost_of", PostKind.REPOST), ("quote_of", PostKind.QUOTE), ("reply_to", PostKind.REPLY))

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
#: Nested keys of a JSON line looked at for aliases and unread columns (``a.b.c``).
_KEY_DEPTH = 3
#: Column names quoted in one message, and the characters kept of each.
_SHOWN_COLUMNS = 8
_SHOWN_NAME_CHARS = 40


@dataclass(slots=True)
class PostReadContext(ReadContext):
    """What ``ingest posts`` hands a post reader, besides :class:`ReadContext`.

    ``account`` is the handle of the one account a file belongs to (``--account``), the
    author of posts whose record names none (a Twitter account archive). ``notes`` are
    sentences for the ingest summary about the file as a whole (columns not read, the
    author missing, a forced format read another way). Kept here rather than in
    ``base.ReadContext`` so post readers can grow it; readers reach it only through
    :func:`note` and :func:`context_account`, which also accept a plain ReadContext.
    """

    account: str | None = None
    notes: list[str] = field(default_factory=list)


def note(ctx: ReadContext, text: str) -> None:
    """Add a sentence to the file's ingest summary (once); ignored for a plain ReadContext."""
    if isinstance(ctx, PostReadContext) and text not in ctx.notes:
        ctx.notes.append(text)


def context_account(ctx: ReadContext) -> str | None:
    return ctx.account if isinstance(ctx, PostReadContext) else None


def column_list(names: Sequence[str], shown: int = _SHOWN_COLUMNS) -> str:
    """Column names for a one-line message: the first few, quoted and cut, then "… N more".

    A header can have hundreds of columns, or names with line breaks and escape codes;
    neither may flood or garble the terminal.
    """
    parts = [repr(n if len(n) <= _SHOWN_NAME_CHARS else n[:_SHOWN_NAME_CHARS] + "…") for n in names[:shown]]
    if len(names) > shown:
        parts.append(f"… {len(names) - shown} more")
    return ", ".join(parts)


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
    ``media`` overrides the ``media_keys``/``media_types`` fields. Without a ``kind``, the
    first of ``repost_of`` / ``quote_of`` / ``reply_to`` that is set gives kind and
    referenced id. A collected post naming no author gets the ``--account`` one.
    """
    warnings = list(warnings or ())
    try:
        post_id = str_id(fields.get("id"))
        created_at = _time(fields.get("created_at"), "created_at")
        kind, referenced_id = _kind_and_reference(fields, warnings)
    except ValueError as exc:
        return rejected(source.path, source.location, source.format, str(exc), raw)
    platform = _str(fields.get("platform"), "platform", warnings) or ctx.platform
    author = _author(fields, platform, author_raw, warnings)
    account = context_account(ctx)
    if author is None and collected and account:
        author = Author(platform=platform, platform_id=f"@{account}", handle=account)
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
        referenced_id=referenced_id,
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
        raise FormatError(f"no id column among {column_list(header)}; name the post id column with --map id=COLUMN")
    for text in unread_columns_notes(header, {c for cs in columns.values() for c in cs}):
        note(ctx, text)
    if not ({"author_id", "author_handle"} & columns.keys() or context_account(ctx)):
        note(
            ctx,
            "no author column: posts are stored without an author; if the file holds one account's posts, "
            "pass --account HANDLE (or --map author_handle=COLUMN)",
        )
    for no, row, rejection in iter_csv_rows(path, CSV_FORMAT, delimiter):
        if rejection:
            yield rejection
            continue
        fields = {ours: _first_set(row.get(c) for c in theirs) for ours, theirs in columns.items()}
        yield build_post(fields, row, SourceRef(str(path), f"line {no}", CSV_FORMAT), ctx)


def read_jsonl(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts from JSON lines, one object each; ``ctx.column_map`` may use dotted paths."""
    _check_map_fields(ctx.column_map)
    explicit = {ours: (theirs,) for ours, theirs in ctx.column_map.items()}
    layouts: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
    unread: dict[str, None] = {}  # insertion-ordered set of the file's unread key paths
    no_id: list[Rejected] = []  # objects without an id before the first with one
    found_id = False
    for no, obj, rejection in iter_json_objects(path, JSONL_FORMAT):
        if rejection:
            yield rejection
            continue
        keys = tuple(key_paths(obj))
        paths = layouts.get(keys)
        if paths is None:
            if len(layouts) >= _LAYOUT_CACHE_SIZE:
                layouts.clear()
            paths = layouts[keys] = {**_alias_columns(keys, ctx.column_map), **explicit}
            used = {p for ps in paths.values() for p in ps}
            unread.update(dict.fromkeys(k for k in _leaves(keys) if not _covers(used, k)))
        location = f"line {no}"
        if "id" not in paths:
            message = f"no id key among {column_list(sorted(obj))}; name it with --map id=KEY (dotted paths allowed)"
            if found_id:
                yield rejected(path, location, JSONL_FORMAT, message, obj)
                continue
            # One object without an id is that object's fault; a file starting with many is the wrong file.
            no_id.append(rejected(path, location, JSONL_FORMAT, message, obj))
            if len(no_id) >= _ID_SNIFF_OBJECTS:
                raise FormatError(f"the first {len(no_id)} objects have no id ({location}: {message})")
            continue
        if not found_id:
            found_id = True
            yield from no_id
        fields = {ours: _first_set(dig(obj, p) for p in theirs) for ours, theirs in paths.items()}
        yield build_post(fields, obj, SourceRef(str(path), location, JSONL_FORMAT), ctx)
    if no_id and not found_id:
        raise FormatError(f"no object has an id: {no_id[0].source.location}: {no_id[0].reason}")
    for text in unread_columns_notes(list(unread), set()):
        note(ctx, text)


#: Objects without an id at the start of a JSON-lines file after which it is refused as a whole.
_ID_SNIFF_OBJECTS = 20
#: Words that make an unread column look like one of our fields, and the field kind named.
_LOOKS_LIKE: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "metrics",
        frozenset(
            {
                "count",
                "counts",
                "views",
                "view",
                "impressions",
                "impression",
                "likes",
                "favorites",
                "favourites",
                "retweets",
                "reposts",
                "shares",
                "replies",
                "quotes",
                "bookmarks",
                "reactions",
                "engagement",
                "engagements",
                "plays",
            }
        ),
    ),
    ("an author", frozenset({"user", "username", "screen", "author", "handle", "account"})),
    ("a time", frozenset({"date", "time", "timestamp", "datetime"})),
)
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def unread_columns_notes(columns: Iterable[str], used: set[str]) -> list[str]:
    """Sentences naming the columns not read that look like metrics, an author or a time,
    each with the ``--map`` that would read them (the field guessed from its last part)."""
    found: dict[str, list[str]] = {}
    for column in columns:
        if column in used:
            continue
        words = [w.lower() for w in _WORDS.findall(column)]
        looks = next((what for what, markers in _LOOKS_LIKE if markers & set(words)), None)
        if looks is None and words[-1:] == ["at"]:
            looks = "a time"
        if looks:
            found.setdefault(looks, []).append(column)
    notes = []
    for looks, names in found.items():
        maps = " ".join(f"--map {_guess_field(n) or 'FIELD'}={n}" for n in names[:3])
        notes.append(
            f"columns that look like {looks} were not read: {column_list(names)}; "
            f"map them with {maps}{' …' if len(names) > 3 else ''}"
        )
    return notes


def _guess_field(column: str) -> str | None:
    """Our field whose alias is the column's last dotted part (``public_metrics.like_count`` → likes)."""
    last = column.rsplit(".", 1)[-1].lower()
    return next((ours for ours, aliases in FIELD_ALIASES.items() if last in aliases), None)


def key_paths(obj: dict[str, Any], depth: int = _KEY_DEPTH, prefix: str = "") -> Iterator[str]:
    """Every key of ``obj`` and, down to ``depth`` levels, of the objects in it, as dotted paths."""
    for key, value in obj.items():
        name = f"{prefix}{key}"
        yield name
        if isinstance(value, dict) and depth > 1:
            yield from key_paths(value, depth - 1, f"{name}.")


def _leaves(keys: Sequence[str]) -> list[str]:
    """The paths that are values, not objects holding other paths."""
    parents = {k.rsplit(".", 1)[0] for k in keys if "." in k}
    return [k for k in keys if k not in parents]


def _covers(used: set[str], key: str) -> bool:
    """Whether ``key`` was read, or is an object some read key lies in."""
    return key in used or any(u.startswith(f"{key}.") for u in used)


def _first_set(values: Iterable[Any]) -> Any:
    """The first value that is not missing or blank (several alias columns may be present)."""
    for value in values:
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _delimiter(path: Path) -> str:
    """Tab for .tsv files and for a header that has tabs but no commas, else comma."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    header = csv_header(path)
    return "\t" if len(header) == 1 and "\t" in header[0] else ","


def _csv_columns(header: list[str], column_map: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Our field -> header columns; explicit mappings must name an existing column."""
    _check_map_fields(column_map)
    by_lower = _by_lower(header)
    columns = _alias_columns(header, column_map)
    for ours, theirs in column_map.items():
        actual = theirs if theirs in header else by_lower.get(theirs.lower())
        if actual is None:
            raise FormatError(f"--map {ours}={theirs}: no such column; the columns are {column_list(header)}")
        columns[ours] = (actual,)
    return columns


def _check_map_fields(column_map: Mapping[str, str]) -> None:
    unknown = sorted(set(column_map) - FIELD_ALIASES.keys())
    if unknown:
        raise FormatError(f"unknown field(s) {unknown} in the column map; fields are: {', '.join(FIELD_ALIASES)}")


def _alias_columns(columns: Iterable[str], column_map: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Every alias match, in preference order, for fields not mapped explicitly, skipping
    explicitly mapped columns."""
    by_lower = _by_lower(columns)
    claimed = {theirs.lower() for theirs in column_map.values()}
    found: dict[str, tuple[str, ...]] = {}
    for ours, aliases in FIELD_ALIASES.items():
        if ours in column_map:
            continue
        hits = tuple(by_lower[alias] for alias in aliases if alias in by_lower and alias not in claimed)
        if hits:
            found[ours] = hits
    return found


def _by_lower(columns: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(column.lower(), column)
    return found


def dig(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]``, else the value at the dotted path ``key`` (None when absent)."""
    if key in obj:
        return obj[key]
    value: Any = obj
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _kind_and_reference(fields: Mapping[str, Any], warnings: list[FieldWarning]) -> tuple[PostKind, str | None]:
    """Kind and referenced id: an explicit ``kind`` (its own reference field, else
    ``referenced_id``), else the first reference field set, else original."""
    given = fields.get("kind")
    referenced_id = _optional_id(fields.get("referenced_id"), "referenced_id", warnings)
    references = {kind: _optional_id(fields.get(name), name, warnings) for name, kind in REFERENCE_FIELDS}
    if given is not None and str(given).strip():
        kind = _kind(given)
        return kind, references.get(kind) or referenced_id
    for _, kind in REFERENCE_FIELDS:
        if references[kind]:
            return kind, references[kind]
    return PostKind.ORIGINAL, referenced_id


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
    keys = str_list(fields.get("media_keys"), "media_keys", warnings)
    types = str_list(fields.get("media_types"), "media_types", warnings)
    return [MediaRef(key, types[i] if i < len(types) else None) for i, key in enumerate(keys)]


def str_list(value: Any, name: str, warnings: list[FieldWarning]) -> list[str]:
    """A list field given as a JSON list (or its text) or as comma/semicolon separated text."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = load_json(value)
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
