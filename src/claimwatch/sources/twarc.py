r"""twarc archives: twarc2 JSON lines (API pages or single posts) and twarc-csv CSV of every era.

twarc stamps each page with ``__twarc.retrieved_at``; that is when the metrics were
seen, so it beats the file-level observation time. The JSON lines themselves are read by
:func:`claimwatch.sources.x_v2.read_lines` (the same lines without the envelope are plain
X API v2 output).

twarc-csv (DocNow) flattens v2 posts into dotted columns; its columns changed over time,
and every era is read:

- 0.1 (spring 2021): the columns are whatever the data had (``pandas.json_normalize``);
  ``referenced_tweets`` is a JSON list of ``{type, id}``; the referenced posts are written
  as rows of their own *before* the post that references them, marked by a ``type`` column
  (``retweeted`` / ``quoted`` / ``replied_to``); lists are JSON; ``--json-encode-text``
  writes text as a JSON string (``"\"Q&amp;A\" \ud83d…"``); with pages that lacked the
  envelope there are no ``__twarc.*`` columns.
- 0.2–0.3: a fixed column list with ``__twarc.retrieved_at/url/version``, still
  ``referenced_tweets`` as JSON and ``type`` rows, whose ``__twarc`` stays empty before 0.3.8
  (they take the retrieval time of the post row that follows them); line breaks in text are
  written as a literal ``\n``.
- 0.5–0.7: ``referenced_tweets.{replied_to,retweeted,quoted}.id`` columns and no ``type``
  (referenced posts are not written by default); ``--merge-retweets`` (the default) copies
  the original's text and metrics into a repost's row; 0.6 adds edit history, 0.7
  ``public_metrics.impression_count`` / ``bookmark_count`` (empty for older data: unknown,
  never 0) and ``*_username`` columns.

Rows of a referenced post become context posts (``collected=False``), as ``includes.tweets``
do in a page. A twarc-csv file of users, counts, compliance results or lists is refused
by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, MediaRef, PostKind, ReadResult, SourceRef
from claimwatch.sources import x_v2
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    load_json,
    parse_time,
)
from claimwatch.sources.generic import build_post, column_list, str_list
from claimwatch.sources.x_objects import classify
from claimwatch.sources.x_text import unescape_x

JSONL_FORMAT = "twarc2"
CSV_FORMAT = "twarc-csv"

ENVELOPE = x_v2.ENVELOPE
RETRIEVED_AT = x_v2.RETRIEVED_AT
CSV_RETRIEVED_AT = f"{ENVELOPE}.{RETRIEVED_AT}"

#: twarc-csv column for each of our fields that maps one to one.
CSV_COLUMNS = {
    "id": "id",
    "author_id": "author_id",
    "author_handle": "author.username",
    "author_name": "author.name",
    "author_followers": "author.public_metrics.followers_count",
    "created_at": "created_at",
    "lang": "lang",
    "observed_at": CSV_RETRIEVED_AT,
    "views": "public_metrics.impression_count",
    "reposts": "public_metrics.retweet_count",
    "quotes": "public_metrics.quote_count",
    "replies": "public_metrics.reply_count",
    "likes": "public_metrics.like_count",
    "bookmarks": "public_metrics.bookmark_count",
    "media_keys": "attachments.media_keys",
    # 0.5 on: one id column per reference type
    "repost_of": "referenced_tweets.retweeted.id",
    "quote_of": "referenced_tweets.quoted.id",
    "reply_to": "referenced_tweets.replied_to.id",
}
CSV_TEXT = "text"
CSV_NOTE_TEXT = "note_tweet.text"
CSV_MEDIA = "attachments.media"
#: 0.1–0.3: the references as a JSON list of ``{type, id}``.
CSV_REFERENCES = "referenced_tweets"
#: 0.1–0.3: set (to the reference type) on the row of a referenced post written inline.
CSV_TYPE = "type"
REFERENCED_ROW_TYPES = frozenset(ref_type for ref_type, _ in x_v2.REFERENCE_KINDS)
#: Columns of the twarc-csv family (any era): a CSV with an ``id`` and one of these is read as twarc-csv.
CSV_FAMILY = re.compile(
    r"^(?:author\.username|public_metrics\..+|referenced_tweets(?:\..+)?|attachments\..+"
    r"|entities\..+|__twarc\..+)$"
)
#: Referenced-post rows held back for the retrieval time of the row after them, at most.
_MAX_WAITING = 100


def read_jsonl(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a twarc2 archive (see :func:`x_v2.read_lines`)."""
    return x_v2.read_lines(path, ctx, JSONL_FORMAT)


def read_csv(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Posts of a twarc-csv file of any era (see the module docstring). A repost row may
    carry the original's text and metrics (``--merge-retweets``): the text is kept, the
    metrics never are."""
    header = csv_header(path)
    if CSV_COLUMNS["id"] not in header:
        raise FormatError(f"not a twarc-csv file: no 'id' column (header starts {column_list(header)})")
    other = classify(header)
    if other is not None:
        raise FormatError(other.message("a twarc-csv file of X API {name}", "columns"))
    waiting: list[tuple[int, dict[str, str]]] = []
    for no, row, rejection in iter_csv_rows(path, CSV_FORMAT):
        if rejection:
            yield rejection
            continue
        if _is_referenced_row(row) and not row.get(CSV_RETRIEVED_AT) and len(waiting) < _MAX_WAITING:
            waiting.append((no, row))
            continue
        retrieved = _row_time(row)
        for waiting_no, waiting_row in waiting:
            yield _csv_post(path, waiting_no, waiting_row, ctx, retrieved)
        waiting.clear()
        yield _csv_post(path, no, row, ctx, None)
    for waiting_no, waiting_row in waiting:
        yield _csv_post(path, waiting_no, waiting_row, ctx, None)


def _csv_post(path: Path, no: int, row: dict[str, str], ctx: ReadContext, observed_at: datetime | None) -> ReadResult:
    warnings: list[FieldWarning] = []
    fields: dict[str, Any] = {ours: _unquote(row.get(column))[0] for ours, column in CSV_COLUMNS.items()}
    fields["text"] = _csv_text(row)
    references = row.get(CSV_REFERENCES)
    if references and not any(fields[name] for name in ("repost_of", "quote_of", "reply_to")):
        fields["kind"], fields["referenced_id"] = _json_references(references, warnings)
    return build_post(
        fields,
        row,
        SourceRef(str(path), f"line {no}", CSV_FORMAT),
        ctx,
        observed_at=observed_at,
        media=_csv_media(row, warnings),
        collected=not _is_referenced_row(row),
        warnings=warnings,
    )


def _is_referenced_row(row: dict[str, str]) -> bool:
    return _unquote(row.get(CSV_TYPE))[0] in REFERENCED_ROW_TYPES


def _row_time(row: dict[str, str]) -> datetime | None:
    """A row's ``__twarc.retrieved_at``; None when absent or unreadable (its own row warns)."""
    try:
        return parse_time(_unquote(row.get(CSV_RETRIEVED_AT))[0])
    except (ValueError, OverflowError, OSError):
        return None


def _unquote(value: str | None) -> tuple[str | None, bool]:
    """A cell written with ``--json-encode-text`` / ``--json-encode-all`` (a JSON string
    literal) decoded, and whether it was; anything else as it is."""
    if value and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            decoded = load_json(value)
        except ValueError:
            return value, False
        if isinstance(decoded, str):
            return decoded, True
    return value, False


def _csv_text(row: dict[str, str]) -> str | None:
    """The long-post text, else the text: JSON-decoded, or with twarc-csv's ``\\n`` escapes
    turned back into line breaks, then X's HTML escapes undone."""
    text, decoded = _unquote(row.get(CSV_NOTE_TEXT) or row.get(CSV_TEXT))
    if text is None:
        return None
    if not decoded:
        text = text.replace("\\n", "\n")
    return unescape_x(text)


def _json_references(value: str, warnings: list[FieldWarning]) -> tuple[PostKind, Any]:
    """Kind and referenced id from a 0.1–0.3 ``referenced_tweets`` JSON list."""
    try:
        references = load_json(value)
    except ValueError:
        warnings.append(FieldWarning(CSV_REFERENCES, value, "not valid JSON; the post is taken as an original"))
        return PostKind.ORIGINAL, None
    return x_v2.reference_kind(references if isinstance(references, list) else None)


def _csv_media(row: dict[str, str], warnings: list[FieldWarning]) -> list[MediaRef] | None:
    """The post's media keys, each with its object from the ``attachments.media`` JSON column
    where that has it (an object flatten could not expand is ``{}``); None (build_post reads
    the keys) when the column is absent."""
    value = row.get(CSV_MEDIA)
    if not value:
        return None
    try:
        items = load_json(value)
    except ValueError:
        warnings.append(FieldWarning(CSV_MEDIA, value, "not valid JSON; only media keys are kept"))
        return None
    if not isinstance(items, list):
        warnings.append(FieldWarning(CSV_MEDIA, value, "not a JSON list; only media keys are kept"))
        return None
    objects = x_v2.index_by(items, "media_key")
    keys = str_list(row.get(CSV_COLUMNS["media_keys"]), CSV_COLUMNS["media_keys"], warnings) or list(objects)
    return [x_v2.media_ref(objects.get(key) or {"media_key": key}, warnings) for key in keys]
