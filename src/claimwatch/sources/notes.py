"""Community Notes formats by name, told apart by their header row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType

from claimwatch.records import ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources import cn_notes, cn_ratings, cn_status
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.cn_tsv import TsvFile

_MODULES: dict[str, ModuleType] = {m.FORMAT: m for m in (cn_notes, cn_status, cn_ratings)}
NOTE_FORMATS: dict[str, Callable[[Path, ReadContext], Iterator[ReadResult]]] = {
    name: m.read for name, m in _MODULES.items()}

#: Columns that only one of the files has, in the order they are tried.
_MARKERS = (
    (cn_ratings.FORMAT, (c.RATER, c.HELPFULNESS_LEVEL, "ratedOnTweetId")),
    (cn_status.FORMAT, (c.CURRENT_STATUS, c.CURRENT_STATUS_AT, c.FIRST_NON_NMR_STATUS, c.LATEST_NON_NMR_STATUS)),
    (cn_notes.FORMAT, (c.TWEET_ID, c.CLASSIFICATION, c.SUMMARY)),
)


def detect_notes_format(path: Path) -> str:
    """The NOTE_FORMATS name for a Community Notes TSV, from its header; FormatError otherwise."""
    header = TsvFile(path, "cn", ()).columns
    if c.NOTE_ID not in header:
        raise FormatError(f"no {c.NOTE_ID!r} column, so not a Community Notes notes, noteStatusHistory "
                          f"or ratings file (header: {', '.join(header[:12])})")
    for fmt, markers in _MARKERS:
        if any(m in header for m in markers):
            return fmt
    raise FormatError("cannot tell whether this is a notes, noteStatusHistory or ratings file "
                      f"(header: {', '.join(header[:12])}); name one with --format")


def latest_timestamp(path: Path, fmt: str) -> datetime | None:
    """The snapshot date of a file given no ``--snapshot-date``: its latest timestamp."""
    m = _MODULES[fmt]
    return TsvFile(path, fmt, m.REQUIRED, m.ALIASES).latest(m.TIME_COLUMNS)
