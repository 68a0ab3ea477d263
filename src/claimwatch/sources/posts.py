"""Post formats by name, and a cheap sniffer that picks one for a file.

Detection reads the first few KB. Besides telling the post formats apart, it recognises
files that are something else and names the command that reads them (fact-checks,
Community Notes downloads, label events) or says what they are (X users, lists … pages).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import ReadResult
from claimwatch.sources import bluesky, factcheck_csv, generic, mastodon, telegram, twarc, x_archive, x_v1, x_v2
from claimwatch.sources.base import FormatError, ReadContext, encoding_problem, head_bytes, load_json
from claimwatch.sources.notes import sniff_notes_header, unread_notes_file
from claimwatch.sources.x_objects import classify, page_kind

POST_FORMATS: dict[str, Callable[[Path, ReadContext], Iterator[ReadResult]]] = {
    "x-v2": x_v2.read,
    "twarc2": twarc.read_jsonl,
    "twarc-csv": twarc.read_csv,
    "x-archive": x_archive.read,
    "csv": generic.read_csv,
    "jsonl": generic.read_jsonl,
    "bluesky": bluesky.read,
    "mastodon": mastodon.read,
    "telegram": telegram.read,
}

#: Bytes read to sniff; a twarc2 first line may be longer and is then read in full.
SNIFF_BYTES = 8192
CSV_SUFFIXES = frozenset({".csv", ".tsv"})

_FACTCHECK_MARKERS = re.compile(
    r'"@type"\s*:\s*"ClaimReview"|"claimReviewed"\s*:|"claimReview"\s*:|"dataFeedElement"\s*:', re.IGNORECASE
)
_HTML = re.compile(r"<(!doctype\s+html|html)\b", re.IGNORECASE)
_PAGE_KEY = re.compile(r'"(?:data|includes|meta)"\s*:')
#: Keys and type names only each platform's files have, sought in the first SNIFF_BYTES of a JSON
#: file (pretty-printed or not): record / event types for Bluesky, Status counters and the outbox
#: for Mastodon, Telethon type tags and Desktop export keys for Telegram. A key inside a string
#: value is escaped (``\"time_us\"``), so post text cannot fake one.
PLATFORM_MARKERS = {
    "bluesky": re.compile(
        r'"\$type"\s*:\s*"(?:app\.bsky\.|network\.bsky\.jetstream)|"time_us"\s*:'
        r'|"collection"\s*:\s*"app\.bsky\.'
    ),
    "mastodon": re.compile(r'"(?:favourites_count|reblogs_count|spoiler_text|orderedItems)"\s*:'),
    "telegram": re.compile(
        r'"_"\s*:\s*"(?:Message|MessageService|Peer(?:Channel|Chat|User))"'
        r'|"(?:date_unixtime|text_entities|personal_information|left_chats)"\s*:'
        r'|"type"\s*:\s*"(?:personal_chat|bot_chat|saved_messages|(?:private|public)_'
        r'(?:channel|supergroup)|private_group)"'
    ),
}


def detect_post_format(path: Path) -> str:
    """The POST_FORMATS name for ``path``, from its first few KB; FormatError when unsure."""
    head = _head(path)
    if _HTML.match(head) or _FACTCHECK_MARKERS.search(head):
        raise FormatError(
            "this looks like fact-checks (ClaimReview / fact-check feed or an HTML page), "
            "not posts; use `claimwatch ingest factchecks`"
        )
    if x_archive.PREFIX.match(head):
        return x_archive.FORMAT
    if head[0] in "{[":
        return _detect_json(path, head)
    return _detect_csv(path, head.split("\n", 1)[0])


def _detect_csv(path: Path, first_line: str) -> str:
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    header = [h.strip() for h in next(csv.reader([first_line], delimiter=delimiter))]
    notes_format = sniff_notes_header(header)
    if notes_format:
        raise FormatError(
            f"this is a Community Notes download ({notes_format}), not posts; use `claimwatch ingest notes`"
        )
    other = unread_notes_file(header)
    if other:
        raise FormatError(f"this is {other}, not posts")
    if factcheck_csv.is_factcheck_header(header):
        found = factcheck_csv.resolve_columns(header)
        raise FormatError(
            f"this looks like a fact-check CSV (columns {generic.column_list(list(found.values())[:4])}), "
            "not posts; use `claimwatch ingest factchecks`"
        )
    if "id" in header and any(twarc.CSV_FAMILY.match(h) for h in header):
        return "twarc-csv"
    if len(header) > 1 or path.suffix.lower() in CSV_SUFFIXES:
        return "csv"
    raise _unknown("neither JSON nor a CSV header")


def _head(path: Path) -> str:
    """The start of the file as text, from its first non-blank character. A few lines that are
    not UTF-8 are the reader's to reject one by one; a file that is mostly not UTF-8 is refused."""
    raw = head_bytes(path, SNIFF_BYTES)
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not raw:
        raise FormatError("empty file")
    problem = encoding_problem(raw)
    if problem:
        raise FormatError(problem)
    return raw.decode("utf-8", "replace")


def _detect_json(path: Path, head: str) -> str:
    """x-v2 for one page (pretty-printed or a single line) or v2 posts per line, twarc2 for
    pages or twarc posts per line, a platform's name when its markers show (any layout),
    jsonl for other objects per line; X objects other than posts are refused by name."""
    first, more = x_v2.first_line(path)
    try:
        obj = load_json(first)
    except ValueError:  # a multi-line JSON document
        obj = None
    if isinstance(obj, dict) and (
        x_v2.ENVELOPE in obj or any(key in obj for key in x_v2.PAGE_KEYS) or all(key in obj for key in x_v1.MARKERS)
    ):
        _refuse_other_objects(obj)
        if x_v2.ENVELOPE in obj or all(key in obj for key in x_v1.MARKERS):
            return "twarc2"
        return "twarc2" if more else "x-v2"
    platform = next((name for name, markers in PLATFORM_MARKERS.items() if markers.search(head)), None)
    if platform:
        return platform
    if obj is None:
        if _PAGE_KEY.search(head):
            return "x-v2"
        raise _unknown("a JSON document that is not an X API v2 page or a Bluesky, Mastodon or Telegram file")
    if not isinstance(obj, dict):
        raise _unknown("JSON whose first value is not an object")
    _refuse_other_objects(obj)
    if "id" in obj and "text" in obj and any(key in obj for key in x_v2.V2_POST_KEYS):
        return "x-v2"
    return "jsonl"


def _refuse_other_objects(obj: dict[str, Any]) -> None:
    """FormatError naming what the first JSON line holds when it is X objects other than posts."""
    if any(key in obj for key in x_v2.PAGE_KEYS):
        other = page_kind(obj.get("data"))
        if other is not None:
            raise FormatError(f"this is {other.message(x_v2.PAGE_NOUN, 'data items')}")
    elif not any(key.lower() in generic.FIELD_ALIASES["text"] for key in obj):  # a generic post has text
        other = classify(obj)
        if other is not None:
            raise FormatError(f"this is {other.message('X API {name}, one object per line', 'the objects')}")


def _unknown(what: str) -> FormatError:
    return FormatError(
        f"cannot tell the post format ({what}); supported formats: {', '.join(POST_FORMATS)}. "
        "Name one explicitly if the file is one of them."
    )
