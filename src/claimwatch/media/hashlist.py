"""ThreatExchange-compatible hash lists: how teams share banks of debunked media.

The forms read here are the ones python-threatexchange (py-tx 1.2.17) reads or writes, checked in
its source:

``lines``
    One signal per line. ``exchanges/impl/file_api.py`` (``LocalFileSignalExchangeAPI.fetch_iter``)
    reads a bare signal (``<hex>``, the collab naming the type) or ``<signal_type> <signal>``
    (``report_opinion`` writes ``f"{s_type.get_name()} {signal}"``); ``cli/dataset_cmd.py``
    (``_print_stdout``) prints ``<signal_type> <signal> ['collab'] <metadata>``, so words after
    the signal are kept as metadata. We also read ``<hex>,<quality>[,…]`` (a hash with its
    quality, as Meta's PDQ hashers print it; not in py-tx) — the quality is range-checked.
``csv``
    A header row naming the columns: ``cli/dataset_cmd.py`` ``--csv`` writes
    ``signal_type,signal_str,collab,category,tags``; ``cli/api_fb_threatexchange_cmd.py``
    (``_write``) writes ThreatExchange descriptor exports, by default ``id,indicator,type,status,
    tags,owner_id`` with TE indicator types (``HASH_PDQ``…). Comma- or tab-separated (sniffed from
    the header). Optional ``quality``, ``label``, ``factcheck_url``, ``external_id`` columns are
    ours (our export writes them; py-tx ignores unknown CSV columns as it never reads this CSV).
``jsonl``
    ``api fb_threatexchange query --format jsonl`` (same ``_write``): one JSON object per line,
    the CSV's columns as keys.
``te-simple``
    ThreatExchange's compact cache, ``simple.<INDICATOR_TYPE>.te`` (``cli/dataset/
    simple_serialization.py``): header-less CSV rows ``indicator,descriptor_id,added_on,labels``
    (``CliIndicatorSerialization``) or ``indicator,indicator_id,first_descriptor_id,added_on,
    labels`` (``HMASerialization``), the type named by the file.

Signal types banked: ``pdq`` (image; ``signal_type/pdq/signal.py`` — 64 lowercase hex digits; we
accept upper case and lower it), ``vpdq`` (video; ``extensions/vpdq/vpdq_util.py``: a JSON list of
``"<hex>,<quality>,<seconds>"``) and ``video_md5`` (``signal_type/md5.py``; TE types
``HASH_VIDEO_MD5``, and ``HASH_MD5`` tagged ``media_type_video``). Chromaprint has no
ThreatExchange signal type, so audio prints are not exported (see :func:`write_hashlist`).

Every bad line is a :class:`~claimwatch.records.Rejected` naming file:line and the reason, and
reading carries on; only a file that is not a hash list at all raises ``FormatError``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from claimwatch.records import Rejected, SourceRef
from claimwatch.sources.base import FormatError
from claimwatch.store.sanitise import storable

PDQ = "pdq"
VPDQ = "vpdq"
VIDEO_MD5 = "video_md5"
SIGNAL_KINDS = {PDQ: "image", VPDQ: "video", VIDEO_MD5: "video"}
#: ThreatExchange indicator types (``INDICATOR_TYPE`` of py-tx's signal types) → signal type
TE_TYPES = {"HASH_PDQ": PDQ, "HASH_VIDEO_MD5": VIDEO_MD5, "HASH_MD5": VIDEO_MD5}
#: py-tx reads ``HASH_MD5`` as a video MD5 only with this tag (``signal_type/md5.py``)
TE_VIDEO_TAG = "media_type_video"
#: py-tx's opinion category of a listed signal (``SignalOpinionCategory``)
POSITIVE = "POSITIVE_CLASS"

# Column names of the CSV forms (py-tx's first, then ours and common spellings).
SIGNAL_COLUMNS = ("signal_str", "indicator", "pdq", "pdq_hash", "hash", "signal")
TYPE_COLUMNS = ("signal_type", "type", "indicator_type")
QUALITY_COLUMNS = ("quality", "pdq_quality")
ID_COLUMNS = ("external_id", "id", "indicator_id")
TAGS_COLUMN = "tags"
LABEL_COLUMN = "label"
FACTCHECK_COLUMN = "factcheck_url"
VARIANT_COLUMN = "variant"
EXPORT_COLUMNS = (
    "signal_type",
    "signal_str",
    "collab",
    "category",
    "tags",
    "quality",
    VARIANT_COLUMN,
    "external_id",
    LABEL_COLUMN,
    FACTCHECK_COLUMN,
)
FORMATS = ("te", "hex", "csv")

_TE_SIMPLE_NAME = re.compile(r"^simple\.([^.]+)\.te$")
_HEX = re.compile(r"^[0-9a-f]+$")
_SIGNAL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MAX_LINE = 1 << 20  # a vPDQ signal of a long video is big, but not this big
_CLIP_RAW = 4096
_SNIFF = 8000  # of a rejected line, what the report keeps


@dataclass(frozen=True, slots=True)
class ListedPdq:
    """A PDQ hash as a list carries it: ``quality`` None when the list does not say (a plain
    list), never a made-up number; ``t_ms`` the frame time of a vPDQ frame."""

    value: bytes
    quality: int | None
    variant: str = "original"
    t_ms: int | None = None

    @property
    def hex(self) -> str:
        return self.value.hex()


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed item: its signal and what the list says of it. ``external_id`` is the list's
    id for it, else the signal itself (so re-importing the list finds it again)."""

    signal_type: str
    external_id: str
    #: ``line N`` in ``path``
    location: str
    path: str = ""
    pdq: tuple[ListedPdq, ...] = ()
    md5: str | None = None
    tags: tuple[str, ...] = ()
    label: str | None = None
    factcheck_url: str | None = None
    raw: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return SIGNAL_KINDS[self.signal_type]


@dataclass(frozen=True, slots=True)
class HashList:
    form: str
    entries: list[ListEntry]
    rejected: list[Rejected]


class _Bad(ValueError):
    """A line's reason for rejection."""


# --------------------------------------------------------------------------- values


def parse_pdq(text: str) -> bytes:
    value = text.strip().lower()
    if len(value) != 64:
        raise _Bad(f"a PDQ hash is 64 hex digits, not {len(value)}")
    if not _HEX.match(value):
        raise _Bad(f"PDQ hash {_clip(value)!r} is not hexadecimal")
    return bytes.fromhex(value)


def parse_quality(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    try:
        q = int(text.strip())
    except ValueError:
        raise _Bad(f"quality {_clip(text)!r} is not a whole number") from None
    if not 0 <= q <= 100:
        raise _Bad(f"quality {q} is outside 0–100")
    return q


def parse_md5(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 32 or not _HEX.match(value):
        raise _Bad(f"an MD5 is 32 hex digits, not {_clip(text)!r}")
    return value


def parse_vpdq(text: str) -> tuple[ListedPdq, ...]:
    """py-tx's compact vPDQ signal (``vpdq_util.json_to_vpdq``)."""
    try:
        frames = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Bad(f"vPDQ signal is not JSON ({exc.msg})") from None
    if not isinstance(frames, list) or not frames:
        raise _Bad("vPDQ signal is not a non-empty JSON list of 'hash,quality,seconds'")
    out = []
    for n, frame in enumerate(frames, 1):
        parts = frame.split(",") if isinstance(frame, str) else []
        if len(parts) != 3:
            raise _Bad(f"vPDQ frame {n} is not 'hash,quality,seconds'")
        try:
            seconds = float(parts[2])
        except ValueError:
            raise _Bad(f"vPDQ frame {n}: time {_clip(parts[2])!r} is not a number") from None
        if not seconds >= 0 or seconds == float("inf"):
            raise _Bad(f"vPDQ frame {n}: time {parts[2]!r} is not a time")
        try:
            out.append(ListedPdq(parse_pdq(parts[0]), parse_quality(parts[1]), t_ms=round(seconds * 1000)))
        except _Bad as exc:
            raise _Bad(f"vPDQ frame {n}: {exc}") from None
    return tuple(out)


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def _signal_type(name: str, tags: Sequence[str]) -> str:
    """A py-tx signal type name or a TE indicator type → the signal type we bank."""
    if name in SIGNAL_KINDS:
        return name
    upper = name.upper()
    if upper == "HASH_MD5" and TE_VIDEO_TAG not in tags:
        raise _Bad(f"HASH_MD5 without the {TE_VIDEO_TAG} tag is not a video MD5 (py-tx reads no signal from it)")
    if upper in TE_TYPES:
        return TE_TYPES[upper]
    raise _Bad(f"signal type {_clip(name)!r} is not media we bank ({', '.join(SIGNAL_KINDS)})")


def _entry(
    signal_type: str,
    signal: str,
    location: str,
    *,
    quality: str | None = None,
    variant: str | None = None,
    external_id: str | None = None,
    tags: Sequence[str] = (),
    label: str | None = None,
    factcheck_url: str | None = None,
    raw: dict,
) -> ListEntry:
    pdq: tuple[ListedPdq, ...] = ()
    md5 = None
    if signal_type == PDQ:
        variant = (variant or "").strip() or "original"
        if len(variant) > 24 or not variant.replace("-", "").replace("_", "").isalnum():
            raise _Bad(f"variant {_clip(variant)!r} is not a variant name")
        pdq = (ListedPdq(parse_pdq(signal), parse_quality(quality), variant),)
        key = pdq[0].hex
    elif signal_type == VPDQ:
        pdq = parse_vpdq(signal)
        key = "vpdq:" + hashlib.sha256(",".join(h.hex for h in pdq).encode()).hexdigest()
    else:
        md5 = parse_md5(signal)
        key = md5
    ext = (external_id or "").strip() or key
    if len(ext) > 128 or not storable(ext):
        raise _Bad(f"id {_clip(ext)!r} is not plain text of at most 128 characters")
    return ListEntry(
        signal_type,
        ext,
        location,
        pdq=pdq,
        md5=md5,
        tags=tuple(t for t in tags if t),
        label=(label or "").strip() or None,
        factcheck_url=(factcheck_url or "").strip() or None,
        raw=raw,
    )


# --------------------------------------------------------------------------- reading


def read_hashlist(path: Path, *, url_column: str | None = None) -> HashList:
    """Every entry of the list at ``path`` and every rejected line; ``url_column`` names the CSV
    column holding each entry's fact-check URL (default: our ``factcheck_url`` column)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in data[:_SNIFF]:  # git's test for a binary file; a NUL further on costs its line
        raise FormatError(f"{path}: not a hash list (binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not a hash list (not UTF-8 text at byte {exc.start})") from exc
    te = _TE_SIMPLE_NAME.match(path.name)
    if te:
        entries, rejected = _collect(path, "te-simple", _te_simple(text, te.group(1)))
        return HashList("te-simple", entries, rejected)
    first = next((ln for ln in _physical_lines(text) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise FormatError(f"{path}: no hashes in it (empty, or only comments)")
    if _is_jsonl(first):
        entries, rejected = _collect(path, "jsonl", _jsonl(text, url_column or FACTCHECK_COLUMN))
        return HashList("jsonl", entries, rejected)
    header = _header(first)
    if header is not None:
        if url_column is not None and url_column not in header[1]:
            raise FormatError(f"{path}: no column {url_column!r} (columns: {', '.join(header[1])})")
        rows = _csv(text, header[0], url_column or FACTCHECK_COLUMN)
        entries, rejected = _collect(path, "csv", rows)
        return HashList("csv", entries, rejected)
    if url_column is not None:
        raise FormatError(f"{path}: --column {url_column!r} needs a CSV list with a header row")
    entries, rejected = _collect(path, "lines", _lines(text))
    if not entries and rejected and _looks_foreign(first):
        raise FormatError(f"{path}: not a hash list ({rejected[0].source.location}: {rejected[0].reason})")
    return HashList("lines", entries, rejected)


def _collect(
    path: Path, form: str, items: Iterable[tuple[int, str, ListEntry | str]]
) -> tuple[list[ListEntry], list[Rejected]]:
    """Entries, and every bad line as ``Rejected`` (``file:line`` and the reason)."""
    entries, rejected = [], []
    for line_no, raw, result in items:
        if isinstance(result, ListEntry):
            entries.append(replace(result, path=str(path)))
        else:
            rejected.append(Rejected(SourceRef(str(path), f"line {line_no}", f"hashlist-{form}"), result, raw))
    return entries, rejected


def _looks_foreign(line: str) -> bool:
    """A first line that is no attempt at a hash (JSON, HTML, prose): the file is something else."""
    head = line.strip().split(maxsplit=1)[0].split(",")[0]
    return not (_HEX.match(head.lower()) or head in SIGNAL_KINDS)


def _lines(text: str) -> Iterator[tuple[int, str, ListEntry | str]]:
    for n, line in enumerate(_physical_lines(text), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield n, line, _line_entry(stripped, n)
        except _Bad as exc:
            yield n, line[:_CLIP_RAW], str(exc)


def _line_entry(line: str, n: int) -> ListEntry:
    if len(line) > _MAX_LINE:
        raise _Bad(f"line longer than {_MAX_LINE} characters")
    word, _, rest = line.partition(" ")
    if word in SIGNAL_KINDS or word.upper() in TE_TYPES:
        signal_type = _signal_type(word, ())
        rest = rest.strip()
        if not rest:
            raise _Bad(f"no signal after {word!r}")
        # vPDQ's JSON holds spaces; other signals are one word and the rest is metadata
        signal, _, meta = (rest, "", "") if signal_type == VPDQ else rest.partition(" ")
        return _entry(signal_type, signal, f"line {n}", raw={"line": line, "metadata": meta.strip() or None})
    cells = [c.strip() for c in re.split(r"[,\t]", line)]
    if len(cells) == 1 and " " in line:
        if _SIGNAL_NAME.match(word) and not _HEX.match(word.lower()):
            _signal_type(word, ())  # a signal type we do not bank (url, raw_text, …): says so
        raise _Bad(f"{_clip(word)!r} is not a PDQ hash nor a signal type ({', '.join(SIGNAL_KINDS)})")
    quality = cells[1] if len(cells) > 1 else None
    return _entry(PDQ, cells[0], f"line {n}", quality=quality, raw={"line": line})


def _header(line: str) -> tuple[str, list[str]] | None:
    """(delimiter, column names) when the first line is a CSV header naming a signal column."""
    delimiter = "\t" if "\t" in line else ","
    names = [c.strip().strip('"').strip() for c in line.split(delimiter)]
    lowered = [n.lower() for n in names]
    if len(names) > 1 and any(c in lowered for c in SIGNAL_COLUMNS):
        return delimiter, names
    return None


def _pick(row: dict[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        if name in row:
            return row[name]
    return None


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, str, list[str] | str]]:
    """(line number, line, cells) of each CSV line, or (…, why) for one the csv module cannot read. Each
    line is parsed on its own: no hash list value spans lines, so an unclosed quote costs its own
    line only, never the lines after it. The field limit is raised to :data:`_MAX_LINE` for a
    vPDQ signal of a long video (the module's default is 128 kB; it is process-wide, so it is
    put back after)."""
    old = csv.field_size_limit(_MAX_LINE)
    try:
        for n, line in enumerate(_physical_lines(text), 1):
            try:
                cells = next(csv.reader([line], delimiter=delimiter, strict=True), [])
            except csv.Error as exc:
                yield n, line, f"not a CSV row ({exc})"
                continue
            yield n, line, cells
    finally:
        csv.field_size_limit(old)


def _csv(text: str, delimiter: str, url_column: str) -> Iterator[tuple[int, str, ListEntry | str]]:
    header: list[str] | None = None
    for n, line, cells in _csv_rows(text, delimiter):
        if isinstance(cells, str):
            yield n, line[:_CLIP_RAW], cells
            continue
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        raw = delimiter.join(cells)
        if len(cells) > len(header):
            yield n, raw, f"{len(cells)} columns, the header has {len(header)}"
            continue
        original = dict(zip(header, cells, strict=False))
        try:
            yield n, raw, _row_entry(original, n, url_column)
        except _Bad as exc:
            yield n, raw, str(exc)


def _row_entry(original: dict[str, str], n: int, url_column: str) -> ListEntry:
    """An entry from a row of named columns (a CSV row, or a JSON line's keys); names any case."""
    row = {h.lower(): c for h, c in original.items()}
    signal = _pick(row, SIGNAL_COLUMNS)
    if signal is None or not signal.strip():
        raise _Bad(f"no signal ({' / '.join(SIGNAL_COLUMNS)}) in the row")
    tags = tuple((row.get(TAGS_COLUMN) or "").split())
    type_name = _pick(row, TYPE_COLUMNS)
    signal_type = _signal_type(type_name.strip(), tags) if type_name and type_name.strip() else PDQ
    return _entry(
        signal_type,
        signal,
        f"line {n}",
        quality=_pick(row, QUALITY_COLUMNS),
        variant=row.get(VARIANT_COLUMN),
        external_id=_pick(row, ID_COLUMNS),
        tags=tags,
        label=row.get(LABEL_COLUMN),
        factcheck_url=original.get(url_column, row.get(url_column.lower())),
        raw=original,
    )


def _jsonl(text: str, url_column: str) -> Iterator[tuple[int, str, ListEntry | str]]:
    """``api fb_threatexchange query --format jsonl``: one object per line, the CSV's columns as
    keys (``tags`` a list)."""
    for n, line in enumerate(_physical_lines(text), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise _Bad("not a JSON object")
            row = {
                str(k): " ".join(map(str, v)) if isinstance(v, list) else "" if v is None else str(v)
                for k, v in obj.items()
            }
            yield n, line[:_CLIP_RAW], _row_entry(row, n, url_column)
        except json.JSONDecodeError as exc:
            yield n, line[:_CLIP_RAW], f"not JSON ({exc.msg})"
        except _Bad as exc:
            yield n, line[:_CLIP_RAW], str(exc)


def _is_jsonl(line: str) -> bool:
    """A first line that is a JSON object naming a signal column."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and any(str(k).lower() in SIGNAL_COLUMNS for k in obj)


def _physical_lines(text: str) -> list[str]:
    """The file's lines as an editor numbers them (LF or CRLF; no other character ends a line)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _te_simple(text: str, indicator_type: str) -> Iterator[tuple[int, str, ListEntry | str]]:
    for n, line, cells in _csv_rows(text, ","):
        if isinstance(cells, str):
            yield n, line[:_CLIP_RAW], cells
            continue
        if not any(c.strip() for c in cells):
            continue
        raw = ",".join(cells)
        try:
            if len(cells) == 4:  # CliIndicatorSerialization: indicator, descriptor id, added on, labels
                ext, labels = cells[1], cells[3]
            elif len(cells) == 5:  # HMASerialization: indicator, indicator id, descriptor id, added on, labels
                ext, labels = cells[1], cells[4]
            else:
                raise _Bad(f"{len(cells)} columns; a ThreatExchange simple row has 4 or 5")
            tags = tuple(labels.split())
            yield (
                n,
                raw,
                _entry(
                    _signal_type(indicator_type, tags),
                    cells[0],
                    f"line {n}",
                    external_id=ext,
                    tags=tags,
                    raw={"row": cells},
                ),
            )
        except _Bad as exc:
            yield n, raw, str(exc)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class ExportItem:
    """A bank item as a list shares it."""

    external_id: str
    kind: str
    label: str
    factcheck_url: str
    pdq: tuple[ListedPdq, ...]
    md5: str | None
    has_audio: bool


@dataclass
class ExportCounts:
    items: int = 0
    signals: int = 0
    #: reason → how many items (or parts of items) a form could not carry
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _signals(item: ExportItem, fmt: str, counts: ExportCounts) -> Iterator[tuple[str, str, ListedPdq | None]]:
    """(signal type, signal, the PDQ hash it is) of what ``fmt`` can carry of ``item``."""
    if item.kind == "audio":
        counts.skip("audio item (Chromaprint has no ThreatExchange signal type)")
        return
    if item.has_audio:
        counts.skip("a video's sound track (Chromaprint has no ThreatExchange signal type)")
    if item.kind == "image":
        seen = set()
        for h in item.pdq:
            if h.hex not in seen:
                seen.add(h.hex)
                yield PDQ, h.hex, h
        return
    if fmt == "hex":
        counts.skip("video (a plain hex list holds image PDQ hashes only)")
        return
    frames = [h for h in item.pdq if h.variant == "original" and h.t_ms is not None]
    if frames:
        # py-tx's compact form (vpdq_util.vpdq_to_json), quality unknown written as 0: vPDQ requires one
        signal = json.dumps([f"{h.hex},{h.quality or 0},{h.t_ms / 1000:.3f}" for h in frames])
        yield VPDQ, signal, None
    if item.md5:
        yield VIDEO_MD5, item.md5, None


def write_hashlist(fh: IO[str], items: Iterable[ExportItem], fmt: str) -> ExportCounts:
    """Write ``items`` in ``fmt``: ``te`` (``<signal_type> <signal>`` lines, what py-tx's file
    exchange reads), ``hex`` (one image PDQ per line) or ``csv`` (py-tx's dataset CSV columns
    plus ours: quality, variant, external id, label, fact-check URL)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown hash list format {fmt!r}: choose {', '.join(FORMATS)}")
    counts = ExportCounts()
    writer = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(EXPORT_COLUMNS)
    for item in items:
        wrote = 0
        for signal_type, signal, h in _signals(item, fmt, counts):
            if writer:
                quality = "" if h is None or h.quality is None else str(h.quality)
                variant = "" if h is None else h.variant
                writer.writerow(
                    (
                        signal_type,
                        signal,
                        "claimwatch",
                        POSITIVE,
                        item.label,
                        quality,
                        variant,
                        item.external_id,
                        item.label,
                        item.factcheck_url,
                    )
                )
            elif fmt == "hex":
                fh.write(f"{signal}\n")
            else:
                fh.write(f"{signal_type} {signal}\n")
            wrote += 1
        counts.signals += wrote
        counts.items += bool(wrote)
    return counts
