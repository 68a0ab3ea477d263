"""JSON files that hold either one document (an object or an array) or JSON lines.

The Bluesky, Mastodon and Telegram readers all meet both: an API response or an export saved
as one (often pretty-printed) document, and the same objects collected one per line. Each
top-level object is handed on with where it sits, so a reader can name the record in a
rejection; a bad line of a JSON-lines file costs that line only.

:func:`read_objects` runs a reader's per-object function over such a file: an object of a
shape the reader does not know refuses the file when it is the first (the file is not of
the format) and is rejected on its own later. Records that are neither posts nor errors (a
Telegram service message, a like on the Bluesky firehose) are :class:`Skipped`: not
quarantined, but a file of nothing else is refused, saying what it held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from claimwatch.records import ReadResult, Rejected, SourceRef
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    iter_json_objects,
    json_type,
    load_json,
    open_binary,
    read_text,
    rejected,
)
from claimwatch.sources.generic import note


class UnknownShape(ValueError):
    """A top-level object that is none of the shapes a reader handles."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not a post, and not a fault either; ``what`` names its kind."""

    what: str


Results = Iterator[ReadResult | Skipped]
#: Reads one top-level object found at a location; raises UnknownShape *before* yielding.
ObjectReader = Callable[[dict[str, Any], str], Results]


def read_objects(path: Path, fmt: str, read_object: ObjectReader, ctx: ReadContext) -> Iterator[ReadResult]:
    """Every post of ``path``, reading each top-level object with ``read_object``; what was
    skipped as not a post is said in the file's ingest summary."""
    first, read_any = True, False
    skipped: Counter[str] = Counter()
    for location, obj, rejection in iter_values(path, fmt):
        if rejection:
            read_any = True
            yield rejection
            continue
        assert obj is not None
        try:
            results = read_object(obj, location)
        except UnknownShape as exc:
            if first:
                raise FormatError(f"{location or 'the file'}: {exc}") from None
            read_any = True
            yield rejected(path, location, fmt, str(exc), obj)
            continue
        first = False
        for result in results:
            if isinstance(result, Skipped):
                skipped[result.what] += 1
            else:
                read_any = True
                yield result
    if skipped:
        held = ", ".join(f"{n:,} {what}" for what, n in skipped.most_common())
        if not read_any:
            raise FormatError(f"no posts in the file, only records that are not posts: {held}")
        note(ctx, f"skipped records that are not posts: {held}")


@dataclass
class ObjectsReader:
    """What every platform reader shares: its file and context, its format's name on sources and
    rejections, and :meth:`read_object`, the per-object dispatch it implements."""

    path: Path
    ctx: ReadContext
    fmt: ClassVar[str]

    def read(self) -> Iterator[ReadResult]:
        return read_objects(self.path, self.fmt, self.read_object, self.ctx)

    def read_object(self, obj: dict[str, Any], location: str) -> Results:
        raise NotImplementedError

    def items(self, items: list[Any], prefix: str, read_one: Callable[[dict[str, Any], str], Results]) -> Results:
        """``read_one`` over the objects of a list, located ``PREFIX item N``; other values rejected."""
        for n, item in enumerate(items, start=1):
            location = f"{prefix} item {n}"
            if isinstance(item, dict):
                yield from read_one(item, location)
            else:
                yield self.reject(location, f"JSON {json_type(item)} where an object was expected", item)

    def source(self, location: str) -> SourceRef:
        return SourceRef(str(self.path), _where(location), self.fmt)

    def reject(self, location: str, reason: str, raw: Any) -> Rejected:
        return rejected(self.path, _where(location), self.fmt, reason, raw)


def _where(location: str) -> str:
    """A location for messages: the file's single top-level object is "document"."""
    return location.strip() or "document"


# Guards for values of hostile JSON: the type a field should have, else "absent".


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: Bytes after the first line read to see whether anything follows it.
_SNIFF_BYTES = 8192


def iter_values(path: Path, fmt: str) -> Iterator[tuple[str, dict[str, Any] | None, Rejected | None]]:
    """Yield ``(location, object, rejection)`` for each top-level object of ``path``.

    JSON lines give ``"line N"``; the items of a top-level array ``"item N"``; a single
    top-level object the empty location. A file that is neither raises FormatError.
    """
    if _is_json_lines(path):
        for no, obj, rejection in iter_json_objects(path, fmt):
            yield f"line {no}", obj, rejection
        return
    document = load_document(path)
    if isinstance(document, dict):
        yield "", document, None
    elif isinstance(document, list):
        for n, item in enumerate(document, start=1):
            location = f"item {n}"
            if isinstance(item, dict):
                yield location, item, None
            else:
                yield (
                    location,
                    None,
                    rejected(path, location, fmt, f"JSON {json_type(item)} where an object was expected", item),
                )
    else:
        raise FormatError(f"top-level JSON {json_type(document)}, not an object or an array")


def load_document(path: Path) -> Any:
    """The whole file as one JSON value; FormatError saying why it is not one."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    try:
        return load_json(text)
    except ValueError as exc:
        raise FormatError(str(exc)) from None


def _is_json_lines(path: Path) -> bool:
    """One object per line: the first non-blank line is a whole object and more follows it.

    A pretty-printed document's first line is an opening bracket or an unfinished object,
    and a one-line document has nothing after it. A broken first line that still looks like
    a whole object keeps the file in JSON-lines mode, so that line alone is rejected.
    """
    with open_binary(path) as fh:
        if not fh.read(_SNIFF_BYTES).removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
            return False  # an array (often one huge line) or no JSON: never read line by line
        fh.seek(0)
        for line in fh:
            first = line.removeprefix(b"\xef\xbb\xbf").strip()
            if first:
                more = bool(fh.read(_SNIFF_BYTES).strip())
                return first.endswith(b"}") and more
    return False
