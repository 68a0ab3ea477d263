"""Fact-check formats: the reader registry and cheap format detection.

Detection looks only at the first 64 KiB, with key patterns rather than a parse, so a
large feed is not loaded twice. A file that is clearly something else is refused whole,
naming the command that reads it: social posts (X pages, twarc2 archives, posts CSVs,
Bluesky/Mastodon/Telegram exports) → ``claimwatch ingest posts``, a Community Notes
download → ``claimwatch ingest notes``, X label-stream events → ``claimwatch ingest labels``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from claimwatch.records import ReadResult
from claimwatch.sources import claimreview, cn_columns, datacommons, factcheck_csv, factcheck_tools, generic, x_labels
from claimwatch.sources.base import FormatError, ReadContext, open_binary

Reader = Callable[[Path, ReadContext], Iterator[ReadResult]]

#: Format name → reader. HTML pages with embedded JSON-LD go through ``claimreview``.
FACTCHECK_FORMATS: dict[str, Reader] = {
    "claimreview": claimreview.read,
    "factcheck-tools": factcheck_tools.read,
    "datacommons": datacommons.read,
    "csv": factcheck_csv.read,
    "claimskg": factcheck_csv.read_claimskg,
}

_SNIFF_BYTES = 65_536

#: Checked in order: a DataFeed also contains ClaimReview objects, so it comes first.
_JSON_SIGNATURES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("datacommons", re.compile(r'"dataFeedElement"\s*:')),
    ("factcheck-tools", re.compile(r'"claimReview(?:MarkupPages|Markups)?"\s*:')),
    ("claimreview", re.compile(r'"@?type"\s*:\s*(?:\[[^\]]*?)?"(?:[^"]*[/:#])?ClaimReview"')),
)

#: X label-stream events (``{"data": {"public_tweet_notice": ...}}``), checked before the
#: X page signature that their ``data`` key would also match.
_LABEL_EVENTS = re.compile('"(?:' + "|".join(x_labels.EVENT_KINDS) + r')"\s*:')
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
#: Columns only tables of posts have: X API v2 / twarc-csv and Twitter v1.1 / archive names.
_POST_COLUMNS = re.compile(
    r"^(?:author\.)?public_metrics\.|^(?:author_id|conversation_id|tweet_id|id_str|full_text|"
    r"favorite_count|retweet_count|in_reply_to_status_id_str|(?:user\.)?screen_name)$"
)
#: Post author fields: with a post id and a time, they show a table of posts (as metrics do).
_AUTHOR_FIELDS = ("author_id", "author_handle")


def _looks_like_posts(path: Path, why: str, hint: str = "") -> FormatError:
    return FormatError(
        f"{path.name} looks like social-media posts ({why}), not fact-checks; use `claimwatch ingest posts`" + hint
    )


def _post_columns(header: list[str]) -> list[str]:
    """The columns that make ``header`` a posts table: X/twarc/v1.1 names, or (by the generic
    posts reader's aliases) a post id with metrics, or with both an author and a time; empty
    if none. An id with a date alone is not enough: fact-check exports have those too."""
    named = [h for h in header if _POST_COLUMNS.search(h)]
    if named:
        return named
    lower = {h.casefold(): h for h in header}
    found = {
        field: next((lower[a] for a in aliases if a in lower), None) for field, aliases in generic.FIELD_ALIASES.items()
    }
    metrics = [found[f] for f in generic.METRIC_FIELDS if found[f]]
    author = next((found[f] for f in _AUTHOR_FIELDS if found[f]), None)
    evidence = metrics or ([author, found["created_at"]] if author and found["created_at"] else [])
    return [found["id"], *evidence] if found["id"] and evidence else []


def _head_text(path: Path) -> str:
    """The first 64 KiB as text. Only the first line must be UTF-8: a bad byte further on
    costs its own record (JSONL line, CSV row) when the file is read, not the file."""
    with open_binary(path) as fh:
        data = fh.read(_SNIFF_BYTES)
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise FormatError("empty file")
    first_line = data.lstrip().split(b"\n", 1)[0]
    try:
        first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        cut_by_window = len(first_line) == len(data.lstrip()) and exc.reason == "unexpected end of data"
        if not cut_by_window:
            offset = len(data) - len(data.lstrip()) + exc.start
            raise FormatError(
                f"{path.name} is not UTF-8 text (byte 0x{first_line[exc.start]:02x} at offset {offset}); re-save it as UTF-8"
            ) from None
    return data.decode("utf-8", "replace")


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
        if _LABEL_EVENTS.search(text):
            raise FormatError(
                f"{path.name} holds X label-stream events, not fact-checks; use `claimwatch ingest labels`"
            )
        for what, pattern in _POST_SIGNATURES:
            if pattern.search(text):
                raise _looks_like_posts(path, what)
        raise FormatError(
            f"{path.name}: JSON without ClaimReview, Fact Check Tools claims or a Data Commons dataFeedElement "
            "in its first 64 KiB; if it is ClaimReview JSON-LD anyway, give the format explicitly"
        )
    header, _ = factcheck_csv.read_header(path)
    if factcheck_csv.is_claimskg_header(header):
        return "claimskg"
    if factcheck_csv.is_factcheck_header(header):
        return "csv"
    if cn_columns.NOTE_ID in header:
        raise FormatError(
            f"{path.name} is a Community Notes download (column {cn_columns.NOTE_ID}), not fact-checks; "
            "use `claimwatch ingest notes`"
        )
    post_columns = _post_columns(header)
    if post_columns:
        raise _looks_like_posts(
            path,
            f"columns {', '.join(post_columns[:3])} and no claim/review/rating columns",
            " (if it does hold fact-checks, give --format csv and --map review_url=COLUMN --map claim_text=COLUMN)",
        )
    return "csv"
