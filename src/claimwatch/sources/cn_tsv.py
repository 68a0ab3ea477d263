"""Streaming access to Community Notes TSV downloads, shared by the notes, status-history
and ratings readers.

Not :func:`claimwatch.sources.base.iter_csv_rows`: that one decides per physical line
whether a quoted field goes on by counting quotes, which misreads a lone ``"`` inside a
note's text, and the downloads have millions of rows. Here the ``csv`` module reads the
stream itself (a quote only opens a field at its start, as pandas reads these files in the
scorer); bytes that are not UTF-8 cost their row only (``surrogateescape``). The header is
checked when the file is opened, so a missing or renamed column fails the file before any
row is written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from claimwatch.records import FieldWarning, Parsed, ReadResult, Rejected, SourceRef
from claimwatch.sources.base import FormatError, rejected, str_id

#: Epoch milliseconds; a whole-number float form ("1722049800000.0", left by pandas) is exact.
_MILLIS = re.compile(r"-?\d+(?:\.0+)?")
_SHOWN_COLUMNS = 30


class TsvRow:
    """One data row, read by column name through the file's header."""

    __slots__ = ("_index", "line", "values")

    def __init__(self, index: Mapping[str, int], line: int, values: list[str]) -> None:
        self._index = index
        self.line = line
        self.values = values

    def get(self, name: str) -> str:
        """The column's value, stripped; "" when empty or when this file has no such column."""
        i = self._index.get(name)
        return self.values[i].strip() if i is not None else ""

    def raw(self, columns: Sequence[str]) -> dict[str, str]:
        """The row as {column: value}, empty values left out (a TSV cannot tell empty from absent)."""
        return {name: value for name, value in zip(columns, self.values) if value}


class TsvFile:
    """A Community Notes TSV: its header, checked up front, and its rows streamed."""

    def __init__(self, path: Path, fmt: str, required: Sequence[str],
                 aliases: Mapping[str, str] | None = None) -> None:
        """``aliases`` maps a column name to its older name, read when the new one is absent."""
        self.path, self.fmt = path, fmt
        self.columns = _header(path)
        self.index = {name: i for i, name in enumerate(self.columns)}
        for name, old in (aliases or {}).items():
            if name not in self.index and old in self.index:
                self.index[name] = self.index[old]
        missing = [name for name in required if name not in self.index]
        if missing:
            shown = ", ".join(self.columns[:_SHOWN_COLUMNS]) + (" …" if len(self.columns) > _SHOWN_COLUMNS else "")
            names = ", ".join(repr(m) for m in missing)
            raise FormatError(f"required column{'s' if len(missing) > 1 else ''} {names} {'are' if len(missing) > 1 else 'is'} "
                              f"missing (renamed?); the header has: {shown}")

    def source(self, line: int) -> SourceRef:
        return SourceRef(str(self.path), f"line {line}", self.fmt)

    def reject(self, row: TsvRow, reason: str) -> Rejected:
        return rejected(self.path, f"line {row.line}", self.fmt, reason, "\t".join(row.values))

    def rows(self) -> Iterator[TsvRow | Rejected]:
        """Data rows in file order; unreadable rows come as rejections and the file goes on."""
        width = len(self.columns)
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            next(reader, None)
            end = reader.line_num
            while True:
                start = end + 1
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    end = reader.line_num
                    yield rejected(self.path, f"line {start}", self.fmt, f"unreadable TSV: {exc}", "")
                    continue
                end = reader.line_num
                if not values or values == [""]:
                    continue
                text = "\t".join(values)
                if len(values) > width:
                    yield rejected(self.path, f"line {start}", self.fmt,
                                   f"{len(values)} fields but the header has {width}", _printable(text))
                    continue
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    yield rejected(self.path, f"line {start}", self.fmt, "not valid UTF-8", _printable(text))
                    continue
                if len(values) < width:
                    values += [""] * (width - len(values))
                yield TsvRow(self.index, start, values)

    def records(self, build: Callable[[TsvRow], Parsed | None]) -> Iterator[ReadResult]:
        """Every row through ``build`` (None: nothing to yield yet); a ``ValueError`` it raises,
        such as a refused id, rejects that row only."""
        for row in self.rows():
            if isinstance(row, Rejected):
                yield row
                continue
            try:
                result = build(row)
            except ValueError as exc:
                yield self.reject(row, str(exc))
                continue
            if result is not None:
                yield result

    def latest(self, columns: Iterable[str]) -> datetime | None:
        """The latest timestamp in the given columns over the whole file (a first pass)."""
        present = [c for c in columns if c in self.index]
        best: datetime | None = None
        for row in self.rows():
            if isinstance(row, Rejected):
                continue
            for name in present:
                try:
                    t = millis(row.get(name))
                except ValueError:
                    continue
                if t is not None and (best is None or t > best):
                    best = t
        return best


def _header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for fields in csv.reader(fh, delimiter="\t"):
            if fields and fields != [""]:
                return [f.strip() for f in fields]
    raise FormatError("empty file")


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def millis(value: str) -> datetime | None:
    """Epoch milliseconds → aware UTC time; empty, 0 and -1 (the files' "not set") → None.

    Raises ``ValueError`` for anything else that is not a whole number of milliseconds.
    """
    if not value:
        return None
    if value.isdigit():  # the common case, checked cheaply: this runs for millions of rows
        ms = int(value)
    elif _MILLIS.fullmatch(value):
        ms = int(value.split(".", 1)[0])
    else:
        raise ValueError(f"{value!r} is not epoch milliseconds")
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms > 0 else None


def time_field(row: TsvRow, name: str, warnings: list[FieldWarning]) -> datetime | None:
    """A timestamp column; an unreadable one becomes unknown with a warning, the row still lands."""
    value = row.get(name)
    try:
        return millis(value)
    except ValueError as exc:
        warnings.append(FieldWarning(name, value, f"{exc}; stored as unknown"))
        return None


def numeric_id(value: str, name: str) -> str:
    """A note or post id: decimal digits as a string. Float or scientific forms are refused, never rounded."""
    if value.isdigit():
        return value
    s = str_id(value, name)
    if not s.isdigit():
        raise ValueError(f"{name} {s!r} is not a numeric id")
    return s


def participant_id(value: str, name: str) -> str | None:
    """A participant id (a hex hash) or None when the column is empty."""
    return str_id(value, name) if value else None
