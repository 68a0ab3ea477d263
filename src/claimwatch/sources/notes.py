"""Community Notes formats by name, told apart by their header row.

A file that is no notes, noteStatusHistory or ratings TSV is refused whole, saying what it
looks like and which command reads it (another file of the download, posts, fact-checks,
label events); :func:`sniff_notes_header` lets the other ingest commands do the reverse.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import ModuleType

from claimwatch.records import ReadResult
from claimwatch.sources import cn_columns as c
from claimwatch.sources import cn_notes, cn_ratings, cn_status, factcheck_csv, generic
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.cn_tsv import clean_name, read_header, short_header
from claimwatch.sources.factchecks import detect_factcheck_format
from claimwatch.sources.x_labels import detect_label_format

_MODULES: dict[str, ModuleType] = {m.FORMAT: m for m in (cn_notes, cn_status, cn_ratings)}
NOTE_FORMATS: dict[str, Callable[[Path, ReadContext], Iterator[ReadResult]]] = {
    name: m.read for name, m in _MODULES.items()
}
#: The fields ``--map FIELD=COLUMN`` takes, per format.
MAP_FIELDS: dict[str, tuple[str, ...]] = {name: tuple(m.FIELDS) for name, m in _MODULES.items()}
#: Field -> the column's current name (the same in every file that has the field).
_CURRENT_NAME = {field: names[0] for m in _MODULES.values() for field, names in m.FIELDS.items()}

#: Columns that only one of the files has (any era), in the order they are tried.
_MARKERS = (
    (cn_ratings.FORMAT, frozenset(c.RATINGS_ONLY)),
    (cn_status.FORMAT, frozenset(c.STATUS_ONLY)),
    (cn_notes.FORMAT, frozenset(c.NOTES_ONLY)),
)
_READ_FILES = (
    "claimwatch reads the notes, noteStatusHistory and ratings files of a download (`claimwatch ingest notes`)"
)


def sniff_notes_header(header: list[str]) -> str | None:
    """The notes format (``cn-notes``, ``cn-status``, ``cn-ratings``) a header row belongs to, else None.

    Pure and cheap, for other commands' detection (``ingest posts`` points a Community Notes
    TSV to ``ingest notes``). A header split on the wrong delimiter (one cell holding tabs)
    is split here.
    """
    if len(header) == 1 and "\t" in header[0]:
        header = header[0].split("\t")
    columns = {clean_name(h).strip('"') for h in header}
    if c.NOTE_ID not in columns:
        return None
    return next((fmt for fmt, markers in _MARKERS if not markers.isdisjoint(columns)), None)


def unread_notes_file(header: list[str]) -> str | None:
    """What a Community Notes download file claimwatch does not read is, with what it reads
    instead (userEnrollment, noteRequests); None for any other header."""
    columns = {clean_name(h).strip('"') for h in header}
    if not columns.isdisjoint(c.USER_ENROLLMENT_ONLY):
        return f"a Community Notes userEnrollment file (contributors, no notes); {_READ_FILES}"
    if c.TWEET_ID in columns and not columns.isdisjoint(c.NOTE_REQUESTS_ONLY):
        return f"a Community Notes noteRequests file (requests, no notes); {_READ_FILES}"
    return None


def check_column_map(column_map: Mapping[str, str]) -> None:
    """Refuse ``--map`` fields that no notes format has (a typo would otherwise do nothing)."""
    unknown = sorted(set(column_map) - _CURRENT_NAME.keys())
    if unknown:
        fields = "; ".join(f"{fmt}: {', '.join(names)}" for fmt, names in MAP_FIELDS.items())
        raise FormatError(
            f"--map: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; the fields are {fields}"
        )


def detect_notes_format(path: Path, column_map: Mapping[str, str] | None = None) -> str:
    """The NOTE_FORMATS name for a Community Notes TSV, from its header (columns named by
    ``column_map`` count under their field's name); FormatError saying what the file is otherwise."""
    header = read_header(path)
    renamed = {column: _CURRENT_NAME[field] for field, column in (column_map or {}).items() if field in _CURRENT_NAME}
    fmt = sniff_notes_header([renamed.get(h, h) for h in header])
    if fmt is None:
        raise FormatError(_not_notes(path, header))
    return fmt


def latest_timestamp(path: Path, fmt: str, column_map: Mapping[str, str] | None = None) -> datetime | None:
    """The snapshot date of a file given no ``--snapshot-date``: its latest timestamp."""
    m = _MODULES[fmt]
    return m.open_tsv(path, column_map or {}).latest(m.TIME_FIELDS)


def _not_notes(path: Path, header: list[str]) -> str:
    """What a file that is no notes TSV looks like, and the command that reads it."""
    if header and header[0].lstrip().startswith(("{", "[")):
        return _json_kind(path)
    if len(header) == 1 and "," in header[0]:
        header = [clean_name(h) for h in next(csv.reader([header[0]]))]
    columns = set(header)
    lower = {h.lower() for h in header}
    other = unread_notes_file(header)
    if c.NOTE_ID in columns:
        what = "cannot tell whether this is a notes, noteStatusHistory or ratings file; name one with --format"
    elif other:
        what = f"this is {other}"
    elif factcheck_csv.is_factcheck_header(header):
        what = "this looks like fact-checks (claim and review columns); use `claimwatch ingest factchecks`"
    elif all(not lower.isdisjoint(generic.FIELD_ALIASES[f]) for f in ("id", "text")):
        what = "this looks like posts (id and text columns); use `claimwatch ingest posts`"
    else:
        what = f"not a Community Notes notes, noteStatusHistory or ratings TSV: no {c.NOTE_ID!r} column"
    return f"{what}. Header: {short_header(header)}"


def _json_kind(path: Path) -> str:
    """Which command reads a JSON file given to ``ingest notes``."""
    # imported here: posts.py imports this module to point Community Notes TSVs here
    from claimwatch.sources.posts import detect_post_format

    for what, command, detect in (
        ("X label stream events", "labels", detect_label_format),
        ("fact-checks", "factchecks", detect_factcheck_format),
        ("posts", "posts", detect_post_format),
    ):
        try:
            fmt = detect(path)
        except (ValueError, RecursionError):  # not that format (FormatError), or too deep to tell
            continue
        return f"this looks like {what} ({fmt}), not a Community Notes TSV; use `claimwatch ingest {command}`"
    return "JSON, not a tab-separated Community Notes download"
