"""Fact-check formats: the reader registry and cheap format detection.

Detection looks only at the first 64 KiB, with key patterns rather than a parse, so a
large feed is not loaded twice. Files that are clearly social posts get a pointer to
``claimwatch ingest posts`` instead of a confusing "no ClaimReview found".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from claimwatch.records import ReadResult
from claimwatch.sources import claimreview, datacommons, factcheck_csv, factcheck_tools
from claimwatch.sources.base import FormatError, ReadContext

Reader = Callable[[Path, ReadContext], Iterator[ReadResult]]

#: Format name → reader. HTML pages with embedded JSON-LD go through ``claimreview``.
FACTCHECK_FORMATS: dict[str, Reader] = {
    "claimreview": claimreview.read,
    "factcheck-tools": factcheck_tools.read,
    "datacommons": datacommons.read,
    "csv": factcheck_csv.read,
}

_SNIFF_BYTES = 65_536

#: Checked in order: a DataFeed also contains ClaimReview objects, so it comes first.
_JSON_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("datacommons", re.compile(r'"dataFeedElement"\s*:')),
    ("factcheck-tools", re.compile(r'"claimReview"\s*:')),
    ("claimreview", re.compile(r'"@?type"\s*:\s*(?:\[[^\]]*?)?"(?:[^"]*[/:#])?ClaimReview"')),
)

#: What the post formats claimwatch reads look like; checked only after the fact-check
#: signatures. The twarc2 envelope comes before the bare X page it wraps.
_POST_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a twarc2 archive: __twarc", re.compile(r'"__twarc"\s*:')),
    ("an X API page: data", re.compile(r'^\s*[\[{]\s*"data"\s*:')),
    ("X API fields", re.compile(r'"(?:includes|edit_history_tweet_ids|public_metrics|author_id)"\s*:')),
    ("Bluesky records", re.compile(r'"\$type"\s*:\s*"(?:app|network)\.bsky\.|"time_us"\s*:')),
    ("a Mastodon status", re.compile(r'"reblogs_count"\s*:')),
    ("Telegram messages", re.compile(r'"date_unixtime"\s*:|"_"\s*:\s*"Message"')),
)
_POST_COLUMNS = re.compile(r"^(?:author\.)?public_metrics\.|^(?:author_id|conversation_id|tweet_id)$")


def _looks_like_posts(path: Path, why: str) -> FormatError:
    return FormatError(f"{path.name} looks like social-media posts ({why}), not fact-checks; use `claimwatch ingest posts`")


def _head_text(path: Path) -> str:
    with open(path, "rb") as fh:
        data = fh.read(_SNIFF_BYTES)
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise FormatError("empty file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8")  # a character cut by the sniff window
        raise FormatError(
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None


def detect_factcheck_format(path: Path) -> str:
    """The :data:`FACTCHECK_FORMATS` key for ``path``; :class:`FormatError` when none fits."""
    path = Path(path)
    text = _head_text(path)
    start = text.lstrip()[:1]
    if start == "<":
        return "claimreview"
    if start in ("{", "["):
        for name, pattern in _JSON_SIGNATURES:
            if pattern.search(text):
                return name
        for what, pattern in _POST_SIGNATURES:
            if pattern.search(text):
                raise _looks_like_posts(path, what)
        raise FormatError(
            f"{path.name}: JSON without ClaimReview, Fact Check Tools claims or a Data Commons dataFeedElement "
            "in its first 64 KiB; if it is ClaimReview JSON-LD anyway, give the format explicitly"
        )
    first_line = next(line for line in text.splitlines() if line.strip())
    header = [h.strip() for h in next(csv.reader([first_line]))]
    columns = factcheck_csv.resolve_columns(header)
    if not all(f in columns for f in factcheck_csv.REQUIRED_FIELDS):
        post_columns = [h for h in header if _POST_COLUMNS.search(h)]
        if post_columns:
            raise _looks_like_posts(path, f"columns {', '.join(post_columns[:3])} and no claim/review columns")
    return "csv"
