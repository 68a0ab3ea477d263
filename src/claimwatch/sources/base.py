"""Shared building blocks for readers: decoding lines, coercing numbers and times.

A reader is a function ``read(path, ctx) -> Iterator[ReadResult]``. It never raises for a
bad record: it yields :class:`~claimwatch.records.Rejected` naming the location and the
reason, and carries on. It raises :class:`FormatError` only when the file as a whole is
not of its format (nothing could be read), so the caller can say so clearly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, Rejected, SourceRef

#: Raw text kept in the quarantine per record; longer records are cut (and say so).
MAX_RAW_CHARS = 65_536


class FormatError(ValueError):
    """The file as a whole is not in the format the reader handles."""


@dataclass(slots=True)
class ReadContext:
    """What a reader needs besides the path.

    ``observed_at`` is the fallback observation time for metric snapshots (the
    ``--observed-at`` option or the file's modification time); a time carried by the
    source itself (twarc2 ``__twarc.retrieved_at``) always wins.
    ``column_map`` maps our field names to a CSV/JSONL file's column names.
    """

    observed_at: datetime
    platform: str = "x"
    column_map: dict[str, str] = field(default_factory=dict)


def clip_raw(text: str) -> str:
    if len(text) <= MAX_RAW_CHARS:
        return text
    return text[:MAX_RAW_CHARS] + f"… [cut: {len(text)} chars in all]"


def rejected(path: Path | str, location: str, fmt: str, reason: str, raw: Any) -> Rejected:
    if not isinstance(raw, str):
        try:
            raw = json.dumps(raw, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            raw = repr(raw)
    return Rejected(SourceRef(str(path), location, fmt), reason, clip_raw(raw))


def iter_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """Yield ``(line_no, text, raw_bytes)``; ``text`` is None when the line is not UTF-8.

    Decoding per line means one bad byte costs one record, not the file. A UTF-8 BOM
    on the first line is dropped.
    """
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield no, raw.decode("utf-8").rstrip("\r\n"), raw
            except UnicodeDecodeError:
                yield no, None, raw


def read_text(path: Path) -> str:
    """Whole-file UTF-8 text (BOM dropped); raises ``UnicodeDecodeError`` for other encodings."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def not_utf8_reason(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start} of the line)"
    return "not valid UTF-8"


def iter_csv_rows(
    path: Path, fmt: str, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str] | None, Rejected | None]]:
    """Yield ``(line_no, row, rejection)`` for a CSV file with a header row.

    Rows are decoded one physical record at a time so a non-UTF-8 row is quarantined on
    its own. ``line_no`` is the line on which the record starts (quoted fields may span
    lines). Rows with more fields than the header are rejected, not silently shifted.
    """
    header: list[str] | None = None
    pending: list[bytes] = []
    start_no = 0
    for no, text, raw in iter_lines(path):
        if not pending:
            start_no = no
        pending.append(raw if text is None else (text + "\n").encode("utf-8"))
        if text is not None and _open_quotes(b"".join(pending)):
            continue
        chunk = b"".join(pending)
        pending = []
        try:
            decoded = chunk.decode("utf-8")
        except UnicodeDecodeError:
            yield start_no, None, rejected(path, f"line {start_no}", fmt, not_utf8_reason(chunk), chunk.decode("utf-8", "replace"))
            continue
        if not decoded.strip():
            continue
        try:
            fields = next(csv.reader(io.StringIO(decoded), delimiter=delimiter))
        except (csv.Error, StopIteration) as exc:
            yield start_no, None, rejected(path, f"line {start_no}", fmt, f"unreadable CSV: {exc}", decoded)
            continue
        if header is None:
            header = [h.strip() for h in fields]
            continue
        if len(fields) > len(header):
            yield start_no, None, rejected(
                path, f"line {start_no}", fmt,
                f"{len(fields)} fields but the header has {len(header)}", decoded)
            continue
        yield start_no, dict(zip(header, fields + [""] * (len(header) - len(fields)))), None
    if pending:
        chunk = b"".join(pending).decode("utf-8", "replace")
        yield start_no, None, rejected(path, f"line {start_no}", fmt, "unterminated quoted field at end of file", chunk)


def _open_quotes(chunk: bytes) -> bool:
    return chunk.count(b'"') % 2 == 1


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The header row of a CSV file (empty list when there is none or it is not UTF-8)."""
    for _, text, _ in iter_lines(path):
        if text is None:
            return []
        if text.strip():
            return [h.strip() for h in next(csv.reader([text], delimiter=delimiter))]
    return []


def iter_json_objects(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | None, Rejected | None]]:
    """Yield ``(line_no, object, rejection)`` for a JSON-lines file; blank lines are skipped.

    Like :func:`iter_csv_rows`, a line that is not UTF-8, not JSON or not a JSON object
    costs that line only.
    """
    for no, text, raw in iter_lines(path):
        location = f"line {no}"
        if text is None:
            yield no, None, rejected(path, location, fmt, not_utf8_reason(raw), raw.decode("utf-8", "replace"))
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield no, None, rejected(path, location, fmt, f"not valid JSON: {exc.msg} (column {exc.colno})", text)
            continue
        if not isinstance(obj, dict):
            yield no, None, rejected(path, location, fmt, f"JSON {json_type(obj)} where an object was expected", text)
            continue
        yield no, obj, None


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return _JSON_TYPES.get(type(value), "object")


_ABBREVIATED = re.compile(r"^\s*[\d.,]+\s*[kKmMbB]\s*$")
# Compiled once: these run for every metric, time and id of every record.
_INTEGER = re.compile(r"[+-]?\d+")
_WHOLE_DECIMAL = re.compile(r"[+-]?\d+\.0+")
_EPOCH_SECONDS = re.compile(r"\d{9,11}(\.\d+)?")
_FLOAT_ID = re.compile(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+|\d+\.\d+")


def to_count(value: Any, name: str) -> tuple[int | None, FieldWarning | None]:
    """Coerce a public-metric value to a non-negative int.

    ``None``/empty is unknown without complaint (older posts have no views). Anything
    that is not an exact non-negative integer — "1.2M", -5, 3.7, "n/a" — becomes unknown
    *with* a warning: an abbreviated or negative number is not a figure anyone can defend.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, bool):
        return None, FieldWarning(name, value, "boolean is not a count")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if math.isnan(value):
            return None, None
        if not value.is_integer():
            return None, FieldWarning(name, value, "not a whole number")
        n = int(value)
    elif isinstance(value, str):
        s = value.strip()
        if _INTEGER.fullmatch(s):
            n = int(s)
        elif _WHOLE_DECIMAL.fullmatch(s):
            n = int(float(s))
        elif _ABBREVIATED.match(s):
            return None, FieldWarning(name, value, "abbreviated number (e.g. '1.2M') is not exact; stored as unknown")
        else:
            return None, FieldWarning(name, value, "not a number; stored as unknown")
    else:
        return None, FieldWarning(name, value, f"{type(value).__name__} is not a count")
    if n < 0:
        return None, FieldWarning(name, value, "negative count; stored as unknown")
    return n, None


def parse_time(value: Any) -> datetime | None:
    """Parse ISO-8601 / epoch seconds / date into an aware UTC datetime; None when absent.

    Raises ``ValueError`` for a value that is present but unreadable, so the caller can
    decide whether that rejects the record or only the field.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        dt = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        s = value.strip()
        if _EPOCH_SECONDS.fullmatch(s):
            dt = datetime.fromtimestamp(float(s), tz=UTC)
        else:
            if s.endswith("Z") or s.endswith("z"):
                s = s[:-1] + "+00:00"
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                dt = _parse_loose_date(s)
    else:
        raise ValueError(f"unreadable time {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


_LOOSE_FORMATS = ("%d %B %Y", "%B %d, %Y", "%b %d, %Y", "%d %b %Y", "%Y/%m/%d", "%a %b %d %H:%M:%S %z %Y")


def _parse_loose_date(s: str) -> datetime:
    for fmt in _LOOSE_FORMATS:
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    raise ValueError(f"unreadable time {s!r}")


def str_id(value: Any, name: str = "id") -> str:
    """A platform id as a string. Floats and scientific notation are refused, never rounded."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"{name} {value!r} is a float; ids must be read as strings (precision is lost)")
    s = str(value).strip()
    if not s:
        raise ValueError(f"{name} is empty")
    if _FLOAT_ID.fullmatch(s):
        raise ValueError(f"{name} {s!r} looks like a float or scientific notation; refusing to round it")
    return s
