"""Streaming access to Community Notes TSV downloads, shared by the notes, status-history
and ratings readers.

Not :func:`claimwatch.sources.base.iter_csv_rows`: that one decides per physical line
whether a quoted field goes on by counting quotes, which misreads a lone ``"`` inside a
note's text, and the downloads have millions of rows. Here a quote opens a field only at
the field's start (as pandas reads these files in the scorer) and a row spans lines only
inside such a field. A stray opening quote costs its own row only: when the field is not
closed before a line that is a whole row by itself, within :data:`MAX_ROW_LINES` lines or
by the end of the file, that line is rejected and the lines after it are read again as
rows. Bytes that are not UTF-8 cost their row only (``surrogateescape``); compressed
files (gzip, a zip of one TSV as the downloads come) are read as they are.

Every value is checked before it becomes a record field: ids are ASCII digits (at most 19),
times plausible epoch milliseconds (an unreadable one is unknown with a warning, never an
overflow), statuses short printable words. A bad id rejects its row; nothing raises.

Columns are found through the header by field (see :mod:`claimwatch.sources.cn_columns`),
so a missing or renamed column fails the file before any row is written.

Rows shorter than the header (the decision the readers share): a row that ends before a
*required* column is rejected (cut short); otherwise it is read, and when the absent columns
include one the reader takes a value from, the record carries a field warning naming them
(the value is unknown, not empty). Absent columns the reader never reads are just absent
from ``raw``, which leaves out empty values anyway: nothing is invented either way.
"""

from __future__ import annotations

import csv
import io
import lzma
import re
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from claimwatch.records import FieldWarning, Parsed, ReadResult, Rejected, SourceRef
from claimwatch.sources.base import FormatError, json_type, open_binary, rejected, str_id

#: Epoch milliseconds; a whole-number float form ("1722049800000.0", left by pandas) is exact.
_MILLIS = re.compile(r"-?\d+(?:\.0+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A time before X's first post or after tomorrow is an error in the file, not a date: one
#: year-30000 value would otherwise become the snapshot date of the whole download.
_EARLIEST_MS = 1_142_899_200_000  # 2006-03-21
_DAY_MS = 86_400_000
#: X ids (posts, notes) are 64-bit snowflakes: at most 19 digits.
_MAX_ID_DIGITS = 19
#: Statuses, classifications and model names are short words; the store keeps 64 characters.
_MAX_WORD = 64
#: Participant ids are hex hashes (32 digits in 2021, 64 later).
_PARTICIPANT = re.compile(r"[0-9A-Za-z_-]{1,128}")
#: Lines a quoted field may span, and characters a row may have: a note's text is a few
#: hundred characters with a few line breaks at most.
MAX_ROW_LINES = 100
MAX_ROW_CHARS = 131_072
_SHOWN_VALUE = 40


class TsvRow:
    """One data row, read by field through its file's header."""

    __slots__ = ("_file", "absent", "line", "n_fields", "values")

    def __init__(self, file: TsvFile, line: int, values: list[str], absent: list[str], n_fields: int) -> None:
        self._file = file
        self.line = line
        #: one value per header column (a short row is padded: see ``absent``)
        self.values = values
        #: columns of read fields the row was too short to have, and how many fields it had
        self.absent = absent
        self.n_fields = n_fields

    def get(self, field: str) -> str:
        """The field's value, stripped; "" when empty or when this file has no such column."""
        i = self._file.index.get(field)
        return self.values[i].strip() if i is not None else ""

    def name(self, field: str) -> str:
        return self._file.name(field)

    def raw(self) -> dict[str, str]:
        """The row as {column: value}, empty values left out (a TSV cannot tell empty from absent)."""
        return {
            name: value for name, value in zip(self._file.columns, self.values, strict=False) if value
        }  # short rows

    def id(self, field: str) -> str:
        """A numeric id field; ``ValueError`` (the row is rejected) when it is not one."""
        return numeric_id(self.get(field), self.name(field))

    def time(self, field: str, warnings: list[FieldWarning]) -> datetime | None:
        """A timestamp field; an unreadable one becomes unknown with a warning, the row still lands."""
        value = self.get(field)
        try:
            return millis(value)
        except ValueError as exc:
            warnings.append(FieldWarning(self.name(field), shown(value), f"{exc}; stored as unknown"))
            return None

    def word(self, field: str, warnings: list[FieldWarning]) -> str | None:
        """A status, classification or model name; anything longer than a word or with control
        characters is unknown with a warning."""
        value = self.get(field)
        if len(value) <= _MAX_WORD and value.isprintable():
            return value or None
        warnings.append(
            FieldWarning(
                self.name(field),
                shown(value),
                f"longer than {_MAX_WORD} characters or has control characters; stored as unknown",
            )
        )
        return None

    def participant(self, field: str, warnings: list[FieldWarning]) -> str | None:
        """A participant id (a hex hash), None when empty, unknown with a warning when malformed."""
        value = self.get(field)
        if not value or _PARTICIPANT.fullmatch(value):
            return value or None
        warnings.append(
            FieldWarning(
                self.name(field),
                shown(value),
                "not a participant id (letters and digits, at most 128); stored as unknown",
            )
        )
        return None

    def absent_reason(self) -> str:
        s = "s" if len(self.absent) > 1 else ""
        return (
            f"the row has {self.n_fields} of {len(self.values)} fields: no column{s} {', '.join(self.absent)} "
            "(trailing tabs lost or the row cut short?)"
        )

    def absent_warnings(self) -> list[FieldWarning]:
        """A warning for a short row whose absent columns include read fields (see the module doc)."""
        if not self.absent:
            return []
        return [FieldWarning(self.absent[0], None, f"{self.absent_reason()}; read as unknown")]


class TsvFile:
    """A Community Notes TSV: its header, checked up front, and its rows streamed."""

    def __init__(
        self,
        path: Path,
        fmt: str,
        fields: Mapping[str, tuple[str, ...]],
        required: Sequence[str],
        column_map: Mapping[str, str] | None = None,
        extra_times: Sequence[str] = (),
    ) -> None:
        """``fields`` maps our field to the column's names, newest first; ``column_map`` (``--map``)
        names a column for a field outright. ``extra_times`` are timestamp columns that are no
        field but date the download (:meth:`latest`)."""
        self.path, self.fmt = path, fmt
        self.columns = read_header(path)
        position: dict[str, int] = {}
        for i, name in enumerate(self.columns):
            position.setdefault(name, i)
        self.index: dict[str, int] = {}
        for field, names in fields.items():
            mapped = (column_map or {}).get(field)
            if mapped is not None:
                if mapped not in position:
                    raise FormatError(
                        f"--map {field}={mapped}: no such column; the header has: {short_header(self.columns)}"
                    )
                self.index[field] = position[mapped]
            elif found := [position[n] for n in names if n in position]:
                self.index[field] = found[0]
        missing = [f for f in required if f not in self.index]
        if missing:
            names = ", ".join(" or ".join(repr(n) for n in fields[f]) for f in missing)
            maps = " ".join(f"--map {f}=COLUMN" for f in missing)
            raise FormatError(
                f"required column{'s' if len(missing) > 1 else ''} {names} "
                f"{'are' if len(missing) > 1 else 'is'} missing (renamed? name it with {maps}); "
                f"the header has: {short_header(self.columns)}"
            )
        self._required_width = max(self.index[f] for f in required) + 1
        self._extra_times = [position[n] for n in extra_times if n in position]

    def name(self, field: str) -> str:
        """The file's column for a field, as messages should name it."""
        return self.columns[self.index[field]]

    def source(self, line: int) -> SourceRef:
        return SourceRef(str(self.path), f"line {line}", self.fmt)

    def reject(self, line: int, reason: str, text: str) -> Rejected:
        return rejected(self.path, f"line {line}", self.fmt, reason, _printable(text))

    def rows(self) -> Iterator[TsvRow | Rejected]:
        """Data rows in file order; unreadable rows come as rejections and the file goes on."""
        width = len(self.columns)
        with _open_text(self.path) as fh:
            lines = _Lines(fh)
            while (first := lines.take()) is not None and not first[1].strip():
                pass  # blank lines before the header
            for start, text, problem in _records(lines, width):
                if not (problem or text.strip()):
                    continue
                values = self._values(text) if problem is None else problem
                if isinstance(values, str):
                    yield self.reject(start, values, text)
                    continue
                n_fields, absent = len(values), []
                if n_fields < width:
                    absent = [self.columns[i] for i in sorted(set(self.index.values())) if i >= n_fields]
                    values += [""] * (width - n_fields)
                yield TsvRow(self, start, values, absent, n_fields)

    def _values(self, text: str) -> list[str] | str:
        """A row's values, or why it cannot be read."""
        if len(text) > MAX_ROW_CHARS:
            return f"a row of {len(text):,} characters (at most {MAX_ROW_CHARS:,}; a corrupt file?)"
        if "\x00" in text:
            return "contains a NUL character (a corrupt or binary file?)"
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return "not valid UTF-8"
        try:
            values = _split(text)
        except csv.Error as exc:
            return f"unreadable TSV row: {exc}"
        if len(values) > len(self.columns):
            return f"{len(values)} fields but the header has {len(self.columns)}"
        if len(values) < self._required_width:
            return (
                f"{len(values)} fields but the header has {len(self.columns)}: the row ends before required "
                f"column {self.columns[len(values)]!r} (cut short?)"
            )
        if clean_name(values[0]) == self.columns[0] and [clean_name(v) for v in values] == self.columns:
            return "the header row again (files joined together?)"
        return values

    def records(self, build: Callable[[TsvRow], Parsed | None]) -> Iterator[ReadResult]:
        """Every row through ``build`` (None: nothing to yield yet); a ``ValueError`` it raises,
        such as a refused id, rejects that row only."""
        for row in self.rows():
            if isinstance(row, Rejected):
                yield row
                continue
            try:
                result = build(row)
            except (ValueError, ArithmeticError) as exc:
                yield self.reject(row.line, str(exc), "\t".join(row.values).rstrip("\t"))
                continue
            if result is not None:
                yield result

    def latest(self, fields: Iterable[str]) -> datetime | None:
        """The latest timestamp in the given fields (and the extra time columns) over the whole
        file, a first pass; unreadable or implausible times are skipped."""
        positions = [self.index[f] for f in fields if f in self.index] + self._extra_times
        best: datetime | None = None
        for row in self.rows():
            if isinstance(row, Rejected):
                continue
            for i in positions:
                try:
                    t = millis(row.values[i].strip())
                except ValueError:
                    continue
                if t is not None and (best is None or t > best):
                    best = t
        return best


class _Lines:
    """Numbered physical lines with push-back. A read error mid-file (a truncated gzip, a
    failing disk) ends the file with a FormatError; the rows before it stand."""

    def __init__(self, fh: IO[str]) -> None:
        self._lines = enumerate(fh, start=1)
        self._back: deque[tuple[int, str]] = deque()
        self._last = 0

    def take(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.popleft()
        try:
            item = next(self._lines, None)
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise FormatError(f"the file cannot be read past line {self._last}: {exc}") from None
        if item is not None:
            self._last = item[0]
        return item

    def push_back(self, items: Sequence[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(items))


def _records(lines: _Lines, width: int) -> Iterator[tuple[int, str, str | None]]:
    """``(first line, text, None)`` per row, or ``(line, text, reason)`` for a line whose quoted
    field does not close before the end of the file, within :data:`MAX_ROW_LINES` lines, or
    before a line that is a whole row by itself (``width - 1`` tabs: no note's text has that
    many). That line is rejected and the lines it held are read again as rows."""
    while (item := lines.take()) is not None:
        start, text = item
        if '"' not in text or not _open_at_end(text, inside=False):
            yield start, text, None
            continue
        held = [item]
        while True:
            nxt = lines.take()
            if nxt is None or len(held) >= MAX_ROW_LINES or nxt[1].count("\t") >= width - 1:
                lines.push_back(held[1:] + ([nxt] if nxt else []))
                where = (
                    "before the end of the file"
                    if nxt is None
                    else f"within {MAX_ROW_LINES} lines"
                    if len(held) >= MAX_ROW_LINES
                    else f"before line {nxt[0]}, a row of its own"
                )
                yield start, text, f"a quoted field opened on this line is not closed {where} (a stray '\"'?)"
                break
            held.append(nxt)
            if not _open_at_end(nxt[1], inside=True):
                yield start, "".join(t for _, t in held), None
                break


def _open_at_end(line: str, inside: bool) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (``inside``: one was open at
    its start). A quote opens a field only as its first character; ``""`` inside is a quote."""
    pos = 0 if inside else _quoted_field(line, 0)
    while pos >= 0:
        end = line.find('"', pos)
        while end >= 0 and line.startswith('"', end + 1):
            end = line.find('"', end + 2)
        if end < 0:
            return True
        tab = line.find("\t", end + 1)
        pos = _quoted_field(line, tab + 1) if tab >= 0 else -1
    return False


def _quoted_field(line: str, start: int) -> int:
    """Where the content of the first quoted field at or after field start ``start`` begins, or -1."""
    if line.startswith('"', start):
        return start + 1
    tab_quote = line.find('\t"', start)
    return tab_quote + 2 if tab_quote >= 0 else -1


def _split(text: str) -> list[str]:
    if '"' not in text:  # the common case, cheaply: this runs for millions of rows
        return text.rstrip("\r\n").split("\t")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter="\t"), [])


def _open_text(path: Path) -> IO[str]:
    """The file as text, decompressed when it is gzip, bzip2, xz or a zip of one file (downloads
    come zipped): see :func:`claimwatch.sources.base.open_binary`."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_header(path: Path) -> list[str]:
    """The header row's column names (first non-blank line, tab-separated; quotes and a BOM removed)."""
    with _open_text(path) as fh:
        lines = _Lines(fh)
        while (item := lines.take()) is not None:
            if item[1].strip():
                try:
                    return [clean_name(h) for h in next(csv.reader([item[1].rstrip("\r\n")], delimiter="\t"))]
                except csv.Error as exc:
                    raise FormatError(f"unreadable header row: {exc}") from None
    raise FormatError("empty file")


def clean_name(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip()


def short_header(header: Sequence[str], limit: int = 100) -> str:
    """Column names as one short printable line: the leading ones, then how many more."""
    shown_names: list[str] = []
    used = 0
    for name in header:
        name = _printable_name(name)
        if shown_names and used + len(name) > limit:
            break
        shown_names.append(name)
        used += len(name) + 2
    more = len(header) - len(shown_names)
    return ", ".join(shown_names) + (f" … ({more} more)" if more else "")


def _printable_name(name: str) -> str:
    name = "".join(ch if ch.isprintable() else "?" for ch in name[:_SHOWN_VALUE])
    return name + ("…" if len(name) >= _SHOWN_VALUE else "")


def _printable(text: str) -> str:
    """Row text for the quarantine: undecodable bytes as U+FFFD, NUL escaped (no store takes it)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "\\x00")


def shown(value: str) -> str:
    """A value as messages quote it: at most 40 characters."""
    return value if len(value) <= _SHOWN_VALUE else value[:_SHOWN_VALUE] + "…"


def millis(value: str) -> datetime | None:
    """Epoch milliseconds → aware UTC time; empty, 0 and -1 (the files' "not set") → None.

    Raises ``ValueError`` for anything else that is not a plausible whole number of
    milliseconds (other negatives, before 2006, after tomorrow), never an overflow.
    """
    if not value:
        return None
    if value.isascii() and value.isdigit():  # the common case, checked cheaply
        digits = value
    elif _MILLIS.fullmatch(value) and value.isascii():
        digits = value.split(".", 1)[0]
    else:
        raise ValueError("not epoch milliseconds")
    if len(digits) > 16:
        raise ValueError("far outside any plausible time")
    ms = int(digits)
    if ms in (0, -1):
        return None
    reason = _implausible(ms)
    if reason:
        raise ValueError(reason)
    return _EPOCH + timedelta(milliseconds=ms)


def plausible_time(t: datetime) -> datetime:
    """``t`` when X could have stamped it (from its first post to tomorrow); ``ValueError`` otherwise."""
    reason = _implausible(int(t.timestamp() * 1000))
    if reason:
        raise ValueError(reason)
    return t


def _implausible(ms: int) -> str | None:
    if ms < _EARLIEST_MS:
        return "negative: not a plausible time" if ms < 0 else "before 2006: not a plausible time"
    if ms > time.time() * 1000 + _DAY_MS:
        return "in the future: not a plausible time"
    return None


def numeric_id(value: Any, name: str) -> str:
    """A post or note id: ASCII digits, at most 19 (or a JSON integer). Float and scientific
    forms are refused, never rounded; objects, arrays and booleans are no ids."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    elif isinstance(value, str):
        value = value.strip()
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > _MAX_ID_DIGITS:
            raise ValueError(f"{name} {shown(value)!r} has {len(value)} digits; X ids have at most {_MAX_ID_DIGITS}")
        return value
    if isinstance(value, (dict, list)):
        raise ValueError(f"{name} is a JSON {json_type(value)}, not an id")
    s = str_id(value, name)  # says "missing", "empty" or "a float … refusing to round it"
    raise ValueError(f"{name} {shown(s)!r} is not a numeric id")
