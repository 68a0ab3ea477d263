"""Shared building blocks for readers: decoding lines, coercing numbers and times.

A reader is a function ``read(path, ctx) -> Iterator[ReadResult]``. It never raises for a
bad record: it yields :class:`~claimwatch.records.Rejected` naming the location and the
reason, and carries on. It raises :class:`FormatError` only when the file as a whole is
not of its format (nothing could be read), so the caller can say so clearly.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from claimwatch.records import FieldWarning, Rejected, SourceRef
from claimwatch.sources import json_limits

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


#: Magic bytes of the compressed files read transparently (twarc users gzip their archives;
#: Community Notes downloads come zipped).
_GZIP, _BZIP2, _XZ, _ZIP = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"PK\x03\x04"


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip, bzip2, xz or a one-file zip by
    their magic bytes (not the suffix: a renamed ``.gz`` is still read).

    Decompression streams, so a large archive is never expanded on disk or in memory. A zip
    holding several files is refused: which of them is meant is the user's choice.
    """
    fh = open(path, "rb")
    try:
        magic = fh.read(6)
        fh.seek(0)
        if magic.startswith(_GZIP):
            return gzip.open(fh)  # type: ignore[return-value]
        if magic.startswith(_BZIP2):
            return bz2.open(fh)  # type: ignore[return-value]
        if magic.startswith(_XZ):
            return lzma.open(fh)  # type: ignore[return-value]
        if magic.startswith(_ZIP):
            return _zip_member(fh)
    except BaseException:
        fh.close()
        raise
    return fh


def _zip_member(fh: IO[bytes]) -> IO[bytes]:
    try:
        archive = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"a damaged zip archive ({exc})") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        names = ", ".join(m.filename for m in members[:5]) + (" …" if len(members) > 5 else "")
        raise FormatError(f"a zip archive holding {len(members)} files ({names}); unzip it and name the files")
    return archive.open(members[0])


def iter_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """Yield ``(line_no, text, raw_bytes)``; ``text`` is None when the line is not UTF-8.

    Decoding per line means one bad byte costs one record, not the file. A UTF-8 BOM
    on the first line is dropped.
    """
    for no, raw in _raw_lines(path):
        try:
            yield no, raw.decode("utf-8").rstrip("\r\n"), raw
        except UnicodeDecodeError:
            yield no, None, raw


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Physical lines as bytes (line ending kept), a UTF-8 BOM on the first dropped."""
    with open_binary(path) as fh:
        for no, raw in enumerate(_checked(fh), start=1):
            yield no, raw[3:] if no == 1 and raw.startswith(b"\xef\xbb\xbf") else raw


def _checked(fh: IO[bytes]) -> Iterator[bytes]:
    """Lines of a possibly compressed stream; a damaged or truncated archive ends the file with
    a FormatError (the records read so far are kept by the caller), never a traceback."""
    try:
        yield from fh
    except (EOFError, OSError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise FormatError(
            f"the compressed file is damaged or cut short ({exc}); the records before that point were read"
        ) from None


def read_text(path: Path) -> str:
    """Whole-file UTF-8 text (BOM dropped); raises ``UnicodeDecodeError`` for other encodings."""
    with open_binary(path) as fh:
        data = b"".join(_checked(fh))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def head_bytes(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of the (decompressed) file, for sniffing its format."""
    with open_binary(path) as fh:
        try:
            return fh.read(size)
        except (EOFError, OSError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise FormatError(f"the compressed file is damaged ({exc})") from None


def encoding_problem(head: bytes) -> str | None:
    """Why the start of a file cannot be read as UTF-8 text at all, or None.

    UTF-16 (a byte-order mark or NUL bytes) and files where most sniffed lines fail to
    decode are refused whole with advice; a stray bad byte here and there is not a file
    problem (its record is rejected on its own).
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:512]:
        return "not UTF-8 text (looks like UTF-16); convert the file to UTF-8"
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last sniffed line may be cut mid-character
    bad = 0
    for line in lines:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
    if bad and bad * 2 >= len(lines):
        return (
            f"not UTF-8 text ({bad} of the first {len(lines)} lines are not; e.g. Latin-1 or Windows-1252); "
            "convert the file to UTF-8"
        )
    return None


def not_utf8_reason(raw: bytes) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start} of the line)"
    return "not valid UTF-8"


#: How far a quoted field may run before its opening quote is judged a stray ``"``: the
#: longest real post (a 25,000-character X long post) is far below both.
MAX_RECORD_LINES = 5_000
MAX_RECORD_BYTES = 4 * 1024 * 1024


class CsvRecords:
    """The CSV records of a file, as lists of ``(line_no, raw_line)``, with push-back.

    Record boundaries follow the ``csv`` module's own rules (a ``"`` opens a quoted field
    only at the start of a field; ``""`` inside one is a quote), tracked line by line in
    linear time. A record whose quoted field is still open after :data:`MAX_RECORD_LINES`
    lines or :data:`MAX_RECORD_BYTES` bytes, or at the end of the file, comes back with
    ``closed=False``. The caller decides what a bad record costs and can :meth:`push_back`
    the lines after its first to be read again (see :func:`iter_csv_rows`).
    """

    def __init__(self, path: Path, delimiter: str = ",") -> None:
        self._sep = delimiter.encode()
        self._lines = _raw_lines(path)
        self._back: list[tuple[int, bytes]] = []

    def push_back(self, lines: list[tuple[int, bytes]]) -> None:
        self._back.extend(reversed(lines))

    def _next_line(self) -> tuple[int, bytes] | None:
        return self._back.pop() if self._back else next(self._lines, None)

    def __iter__(self) -> Iterator[tuple[list[tuple[int, bytes]], bool]]:
        while (first := self._next_line()) is not None:
            record = [first]
            size = len(first[1])
            open_quote = _still_quoted(first[1], False, self._sep)
            while open_quote and len(record) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
                nxt = self._next_line()
                if nxt is None:
                    break
                record.append(nxt)
                size += len(nxt[1])
                open_quote = _still_quoted(nxt[1], True, self._sep)
            yield record, not open_quote


def _still_quoted(line: bytes, in_quotes: bool, sep: bytes) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (see CsvRecords)."""
    if not in_quotes and b'"' not in line:
        return False
    i, n = 0, len(line)
    while True:
        if in_quotes:
            j = line.find(b'"', i)
            if j < 0:
                return True
            if line[j + 1 : j + 2] == b'"':  # an escaped quote
                i = j + 2
                continue
            in_quotes = False
            i = j + 1
        elif line[i : i + 1] == b'"':  # a quote at the start of a field opens it
            in_quotes = True
            i += 1
            continue
        k = line.find(sep, i)  # the rest of the field is unquoted text
        if k < 0:
            return False
        i = k + 1
        if i >= n:
            return False


def iter_csv_rows(
    path: Path, fmt: str, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str] | None, Rejected | None]]:
    """Yield ``(line_no, row, rejection)`` for a CSV file with a header row.

    Records are decoded one at a time, so a non-UTF-8 record is quarantined on its own.
    ``line_no`` is the line on which the record starts (quoted fields may span lines). A
    row with more or fewer fields than the header is rejected, never shifted or padded:
    a short row is usually a line broken inside an unquoted field, and padding it would
    store a cut text with metrics read from the wrong columns.

    A stray ``"`` costs one line, never the rows after it: when a record spanning several
    lines never closes, closes with a quote followed by text, does not have the header's
    number of fields, or holds a line that is a whole row by itself (the quote ran on until the
    next stray quote), its first line is rejected and the lines after it are read again as
    records of their own.
    """
    header: list[str] | None = None
    records = CsvRecords(path, delimiter)
    for lines, closed in records:
        start_no, first = lines[0]
        location = f"line {start_no}"
        chunk = b"".join(raw for _, raw in lines)
        if header is None:
            fields = _csv_fields(chunk.decode("utf-8", "replace"), delimiter)
            if fields and any(f.strip() for f in fields):
                header = [h.strip() for h in fields]
            continue
        try:
            decoded = chunk.decode("utf-8")
            fields = _csv_fields(decoded, delimiter) if closed else []
        except UnicodeDecodeError:
            yield (
                start_no,
                None,
                rejected(path, location, fmt, not_utf8_reason(chunk), chunk.decode("utf-8", "replace")),
            )
            continue
        except csv.Error as exc:
            yield start_no, None, rejected(path, location, fmt, f"unreadable CSV: {exc}", decoded)
            continue
        if not decoded.strip():
            continue
        if not closed or (
            len(lines) > 1
            and (
                len(fields) != len(header)
                or not _closes_cleanly(lines[-1][1], delimiter)
                or _holds_whole_row(lines[1:-1], len(header), delimiter)
            )
        ):
            records.push_back(lines[1:])
            how = "never closes" if not closed else f"ran over {len(lines)} lines into a record that does not fit"
            yield (
                start_no,
                None,
                rejected(
                    path,
                    location,
                    fmt,
                    f"a quoted field opened on this line {how} (a stray '\"'?); this line was "
                    "skipped and reading went on with the next",
                    first.decode("utf-8", "replace"),
                ),
            )
            continue
        if len(fields) != len(header):
            yield (
                start_no,
                None,
                rejected(
                    path,
                    location,
                    fmt,
                    f"{len(fields)} fields but the header has {len(header)}"
                    + (" (a line break inside an unquoted field, or a cut row?)" if len(fields) < len(header) else ""),
                    decoded,
                ),
            )
            continue
        yield start_no, dict(zip(header, fields, strict=False)), None  # a cut row is shorter


def _closes_cleanly(line: bytes, delimiter: str) -> bool:
    """Whether the quoted field a multi-line record's last line closes is followed by a delimiter
    or the line's end, as every CSV writer closes one; a quote followed by text is a stray quote
    in another row (``2,fine,"1,234"`` closing a field opened on an earlier line)."""
    i = 0
    while (j := line.find(b'"', i)) >= 0:
        if line[j + 1 : j + 2] == b'"':  # an escaped quote inside the field
            i = j + 2
            continue
        return line[j + 1 : j + 2] in (delimiter.encode(), b"", b"\r", b"\n")
    return False


def _holds_whole_row(lines: list[tuple[int, bytes]], width: int, delimiter: str) -> bool:
    """Whether one of these lines, inside a quoted field, is a complete row by itself: then
    the quote that opened the field was a stray one (real multi-line text does not hold
    lines with the header's number of fields)."""
    sep = delimiter.encode()
    for _, raw in lines:
        if raw.count(sep) >= width - 1 and not _still_quoted(raw, False, sep):
            try:
                if len(_csv_fields(raw.decode("utf-8"), delimiter)) == width:
                    return True
            except (UnicodeDecodeError, csv.Error):
                continue
    return False


def _csv_fields(text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The header row of a CSV file (empty list when there is none).

    Bytes that are not UTF-8 in the header become U+FFFD rather than refusing the file: the
    columns that matter are usually plain ASCII, and every data row is still checked.
    """
    for lines, _closed in CsvRecords(path, delimiter):
        fields = _csv_fields(b"".join(raw for _, raw in lines).decode("utf-8", "replace"), delimiter)
        if any(f.strip() for f in fields):
            return [h.strip() for h in fields]
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
            obj = load_json(text)
        except ValueError as exc:
            yield no, None, rejected(path, location, fmt, str(exc), text)
            continue
        if not isinstance(obj, dict):
            yield no, None, rejected(path, location, fmt, f"JSON {json_type(obj)} where an object was expected", text)
            continue
        yield no, obj, None


def load_json(text: str) -> Any:
    """One JSON record, every failure a ValueError with a reason fit for the quarantine.

    Parsed by :func:`json_limits.parse`: numbers no store can hold (``1e400``, ``NaN``, a
    5,000-digit integer) stay text, so the field they are in becomes unknown with a warning;
    an unpaired surrogate escape becomes U+FFFD. Nesting too deep for the parser (a hostile
    10,000-level line raises RecursionError) rejects the record. Each would otherwise stop
    the whole ingest at one record.
    """
    try:
        return json_limits.parse(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None


_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return _JSON_TYPES.get(type(value), "object")


_ABBREVIATED = re.compile(r"^\s*[\d.,]+\s*[kKmMbB]\s*$")
# Compiled once: these run for every metric, time and id of every record.
_INTEGER = re.compile(r"[+-]?\d+")
_WHOLE_DECIMAL = re.compile(r"[+-]?\d+\.0+")
#: Exact counts written with thousands separators: "1,234,567", "1 234 567" (also with a
#: no-break or thin space), "1'234'567", and "1.234.567" (at least two dot groups: "1.234"
#: alone may be a decimal, so it stays unreadable).
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+|\d{1,3}(?:[ \u00a0\u202f\u2009']\d{3})+|\d{1,3}(?:\.\d{3}){2,}")
_GROUP_SEPARATORS = str.maketrans("", "", ", \u00a0\u202f\u2009'.")
_EPOCH_SECONDS = re.compile(r"\d{9,11}(\.\d+)?")
_FLOAT_ID = re.compile(r"[+-]?\d+(\.\d+)?[eE][+-]?\d+|\d+\.\d+")
#: Above this a count is not a figure anyone can defend: the most-viewed posts ever have a
#: few billion views, and the store's 64-bit columns end at 9.2e18.
MAX_PLAUSIBLE_COUNT = 10**12


def to_count(value: Any, name: str) -> tuple[int | None, FieldWarning | None]:
    """Coerce a public-metric value to a non-negative int.

    ``None``/empty is unknown without complaint (older posts have no views). Anything
    that is not an exact non-negative integer — "1.2M", -5, 3.7, "n/a" — becomes unknown
    *with* a warning: an abbreviated or negative number is not a figure anyone can defend.
    Thousands separators are fine ("1,234,567" is exact); a count above
    :data:`MAX_PLAUSIBLE_COUNT` is refused, so it can never reach a headline's sum.
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
        if len(s) > 40:
            return None, FieldWarning(name, value, "not a number; stored as unknown")
        if _INTEGER.fullmatch(s):
            n = int(s)
        elif _WHOLE_DECIMAL.fullmatch(s):
            n = int(s.split(".")[0])
        elif _GROUPED.fullmatch(s):
            n = int(s.translate(_GROUP_SEPARATORS))
        elif _ABBREVIATED.match(s):
            return None, FieldWarning(name, value, "abbreviated number (e.g. '1.2M') is not exact; stored as unknown")
        else:
            return None, FieldWarning(name, value, "not a number; stored as unknown")
    else:
        return None, FieldWarning(name, value, f"{json_type(value)} is not a count")
    if n < 0:
        return None, FieldWarning(name, value, "negative count; stored as unknown")
    if n > MAX_PLAUSIBLE_COUNT:
        return None, FieldWarning(name, value, f"implausible count (above {MAX_PLAUSIBLE_COUNT:,}); stored as unknown")
    return n, None


def parse_time(value: Any) -> datetime | None:
    """Parse ISO-8601 / epoch seconds / date into an aware UTC datetime; None when absent.

    Raises ``ValueError`` for a value that is present but unreadable or out of range (epoch
    1e30, year 0), so the caller can decide whether that rejects the record or only the field.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return _parse_time(value)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"time {_short(value)} is out of range ({exc})") from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _parse_time(value: Any) -> datetime:
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
        raise ValueError(f"unreadable time {_short(value)}")
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
    raise ValueError(f"unreadable time {_short(s)}")


def str_id(value: Any, name: str = "id") -> str:
    """A platform id as a string. Floats and scientific notation are refused, never rounded."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"{name} {value!r} is a float; ids must be read as strings (precision is lost)")
    if not isinstance(value, str):
        raise ValueError(f"{name} is a JSON {json_type(value)}, not an id")
    s = str(value).strip()
    if not s:
        raise ValueError(f"{name} is empty")
    if _FLOAT_ID.fullmatch(s):
        raise ValueError(f"{name} {s!r} looks like a float or scientific notation; refusing to round it")
    return s
