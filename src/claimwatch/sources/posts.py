"""Post formats by name, and a cheap sniffer that picks one for a file."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from claimwatch.records import ReadResult
from claimwatch.sources import bluesky, generic, mastodon, telegram, twarc, x_v2
from claimwatch.sources.base import FormatError, ReadContext

POST_FORMATS: dict[str, Callable[[Path, ReadContext], Iterator[ReadResult]]] = {
    "x-v2": x_v2.read,
    "twarc2": twarc.read_jsonl,
    "twarc-csv": twarc.read_csv,
    "csv": generic.read_csv,
    "jsonl": generic.read_jsonl,
    "bluesky": bluesky.read,
    "mastodon": mastodon.read,
    "telegram": telegram.read,
}

#: Bytes read to sniff; a twarc2 first line may be longer and is then read in full.
SNIFF_BYTES = 8192
#: Columns only twarc-csv writes.
TWARC_CSV_MARKERS = frozenset(
    {"__twarc.retrieved_at", "referenced_tweets.retweeted.id", "public_metrics.impression_count"})
CSV_SUFFIXES = frozenset({".csv", ".tsv"})

_FACTCHECK_MARKERS = re.compile(
    r'"@type"\s*:\s*"ClaimReview"|"claimReviewed"\s*:|"claimReview"\s*:|"dataFeedElement"\s*:', re.IGNORECASE)
_HTML = re.compile(r"<(!doctype\s+html|html)\b", re.IGNORECASE)
_PAGE_KEY = re.compile(r'"(?:data|includes|meta)"\s*:')
#: Keys and type names only each platform's files have, sought in the first SNIFF_BYTES of a JSON
#: file (pretty-printed or not): record / event types for Bluesky, Status counters and the outbox
#: for Mastodon, Telethon type tags and Desktop export keys for Telegram. A key inside a string
#: value is escaped (``\"time_us\"``), so post text cannot fake one.
PLATFORM_MARKERS = {
    "bluesky": re.compile(r'"\$type"\s*:\s*"(?:app\.bsky\.|network\.bsky\.jetstream)|"time_us"\s*:'
                          r'|"collection"\s*:\s*"app\.bsky\.'),
    "mastodon": re.compile(r'"(?:favourites_count|reblogs_count|spoiler_text|orderedItems)"\s*:'),
    "telegram": re.compile(r'"_"\s*:\s*"(?:Message|MessageService|Peer(?:Channel|Chat|User))"'
                           r'|"(?:date_unixtime|text_entities|personal_information|left_chats)"\s*:'
                           r'|"type"\s*:\s*"(?:personal_chat|bot_chat|saved_messages|(?:private|public)_'
                           r'(?:channel|supergroup)|private_group)"'),
}


def detect_post_format(path: Path) -> str:
    """The POST_FORMATS name for ``path``, from its first few KB; FormatError when unsure."""
    head = _head(path)
    if _HTML.match(head) or _FACTCHECK_MARKERS.search(head):
        raise FormatError("this looks like fact-checks (ClaimReview / fact-check feed or an HTML page), "
                          "not posts; use `claimwatch ingest factchecks`")
    if head[0] in "{[":
        return _detect_json(path, head)
    first_line = head.split("\n", 1)[0]
    if TWARC_CSV_MARKERS.intersection(h.strip() for h in next(csv.reader([first_line]))):
        return "twarc-csv"
    if "," in first_line or "\t" in first_line or path.suffix.lower() in CSV_SUFFIXES:
        return "csv"
    raise _unknown("neither JSON nor a CSV header")


def _head(path: Path) -> str:
    """The start of the file as text, from its first non-blank character; the first line
    must be UTF-8 (later bytes are only sniffed, and bad lines there are rejected by the reader)."""
    with open(path, "rb") as fh:
        raw = fh.read(SNIFF_BYTES)
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not raw:
        raise FormatError("empty file")
    first = raw.split(b"\n", 1)[0]
    try:
        first.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end < len(first) or len(first) < len(raw):  # not just a character cut by SNIFF_BYTES
            raise FormatError(f"not UTF-8 text (byte 0x{first[exc.start]:02x} at offset {exc.start} of the "
                              "first line); convert the file to UTF-8") from None
    return raw.decode("utf-8", "replace")


def _detect_json(path: Path, head: str) -> str:
    """x-v2 for one page (pretty-printed or a single line), twarc2 for pages or twarc
    posts per line, a platform's name when its markers show (any layout), jsonl for other
    objects per line."""
    first, more = _first_line(path)
    try:
        obj = json.loads(first)
    except ValueError:  # a multi-line JSON document
        obj = None
    if isinstance(obj, dict):
        if twarc.ENVELOPE in obj or all(key in obj for key in twarc.V1_MARKERS):
            return "twarc2"
        if any(key in obj for key in x_v2.PAGE_KEYS):
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
    return "jsonl"


def _first_line(path: Path) -> tuple[str, bool]:
    """The first non-blank line in full, and whether anything follows it."""
    with open(path, "rb") as fh:
        for raw in fh:
            if raw.strip():
                more = bool(fh.read(SNIFF_BYTES).strip())
                return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace"), more
    return "", False


def _unknown(what: str) -> FormatError:
    return FormatError(f"cannot tell the post format ({what}); supported formats: {', '.join(POST_FORMATS)}. "
                       "Name one explicitly if the file is one of them.")
