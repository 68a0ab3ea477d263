"""ClaimReview JSON-LD reader, and the helpers every fact-check reader shares.

ClaimReview is the schema every other fact-check format is a view of (Fact Check Tools
and Data Commons feeds are built from it), so the field coercion used by all fact-check
readers lives here: :class:`FieldCollector` (text, dates, numbers, the rating-scale and
"no rating" warnings), :func:`clean_text`, :func:`site_host`, :func:`read_record` (one
record's failure costs that record only) and the JSON / JSONL document iteration.

Accepted layouts: one object, a list, an ``@graph`` (nested too), JSONL with one
document per line, or an HTML page with ``<script type="application/ld+json">``
blocks. ClaimReviews are found wherever they are nested (e.g. under a NewsArticle's
``review``); other objects are ignored. ``@type`` may be a list or carry a
``schema:`` / ``http://schema.org/`` prefix, and so may property names.

Schema variants read alike: ``reviewRating`` as an object (``alternateName`` or ``name``,
``ratingValue`` as a number or a string such as ``"1"``) or as a bare string;
``itemReviewed`` of ``@type`` ``Claim`` or (older markup) ``CreativeWork``, whose own
``url`` is where the claim appeared; the claimant as ``itemReviewed.author`` or a
``claimant`` key; appearances as ``appearance`` and/or ``firstAppearance``, strings or
objects with a ``url``. HTML entities in derived text (``&amp;``, ``&#39;``) are
unescaped; ``raw`` keeps them.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimwatch.records import (
    FactCheck,
    FieldWarning,
    Parsed,
    ReadResult,
    Rejected,
    SourceRef,
)
from claimwatch.sources import json_limits
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    iter_lines,
    json_type,
    not_utf8_reason,
    open_binary,
    parse_time,
    read_text,
    rejected,
)

FORMAT = "claimreview"

_SCHEMA_PREFIXES = ("schema:", "http://schema.org/", "https://schema.org/")
#: Bytes looked at to tell an HTML page from JSON.
_SNIFF_BYTES = 1024

#: ``extract(document, where, path)``: the results for one JSON document, or None when
#: the document is not of the reader's format at all.
Extractor = Callable[[Any, str, Path], list[ReadResult] | None]
#: A character reference with its closing ``;`` (legacy forms such as ``&not`` without one
#: are left alone: "&nottingham" is text, not an entity).
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
#: Conventional "not rated" ratingValue (MisinfoMe's -1/-1, ClaimsKG's OTHER): not implausible.
_NOT_RATED = -1.0


# --- field helpers shared by the fact-check readers ---------------------------------


def prop(obj: Any, name: str) -> Any:
    """``obj[name]``, also under a ``schema:`` / schema.org IRI prefix; None if absent."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    for prefix in _SCHEMA_PREFIXES:
        if prefix + name in obj:
            return obj[prefix + name]
    return None


def first(value: Any) -> Any:
    """The first element of a JSON-LD multi-value (a list), or the value itself."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def clean_text(value: Any) -> str | None:
    """A stripped string from a plain value or a JSON-LD ``{"@value"}``/``{"@id"}``; None when empty."""
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@value", value.get("@id"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def unescape_entities(text: str) -> str:
    """``text`` with HTML character references resolved, also when a CMS escaped them twice
    (``&amp;#39;``). Fact-check text is scraped from HTML pages, so an entity in it is markup,
    not content."""
    for _ in range(3):
        unescaped = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
        if unescaped == text:
            break
        text = unescaped
    return text


def missing(owner: str, what: str, value: Any) -> str:
    """Why ``owner``'s required text field ``what`` is unusable: absent, or of the wrong JSON type."""
    if value is None or value == "" or value == [] or isinstance(value, str):
        return f"{owner} has no {what}"
    return f"{owner} {what} is a JSON {json_type(first(value))}, not text"


def url_text(value: Any) -> str | None:
    """A URL given as a string or a JSON-LD ``{"@id"}``; anything else (a number, an object) is none."""
    value = first(value)
    if isinstance(value, dict):
        value = value.get("@id")
    return (value.strip() or None) if isinstance(value, str) else None


def site_host(url: str | None) -> str | None:
    """Host of a URL or bare domain, lowercased, without ``www.``.

    Fact Check Tools gives ``publisher.site`` as a bare domain; deriving the same shape
    from URLs lets publishers from different sources be compared.
    """
    if not url:
        return None
    url = url.strip()
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


class FieldCollector:
    """Coerces optional fields, turning unreadable values into unknown plus a warning.

    A bad date or number costs that field, never the record.
    """

    __slots__ = ("warnings",)

    def __init__(self) -> None:
        self.warnings: list[FieldWarning] = []

    def text(self, value: Any, name: str) -> str | None:
        """Human text (claim, title, names, rating): :func:`clean_text` with entities unescaped;
        an object or array where text belongs is unknown with a warning."""
        text = clean_text(value)
        if text is None and first(value) not in (None, "") and not isinstance(first(value), bool):
            self.warnings.append(
                FieldWarning(name, value, f"JSON {json_type(first(value))} where text was expected; stored as unknown")
            )
        return unescape_entities(text) if text else None

    def date(self, value: Any, name: str) -> datetime | None:
        value = first(value)
        if isinstance(value, dict):  # a JSON-LD {"@value": ...}; another object stays one, and is refused
            value = value.get("@value", value)
        try:
            return parse_time(value)
        except (ValueError, OverflowError, OSError):
            self.warnings.append(FieldWarning(name, value, "unreadable date; stored as unknown"))
            return None

    def number(self, value: Any, name: str) -> float | None:
        """A float from a number or numeric string ("1", "4.5"); ratings are often strings."""
        value = first(value)
        if isinstance(value, dict):  # a JSON-LD {"@value": ...}; another object stays one, and is refused
            value = value.get("@value", value)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool):
            self.warnings.append(FieldWarning(name, value, "boolean is not a number; stored as unknown"))
            return None
        try:
            n = float(value)
        except (TypeError, ValueError):
            self.warnings.append(FieldWarning(name, value, "not a number; stored as unknown"))
            return None
        except OverflowError:  # an integer beyond the float range
            n = math.inf
        if not math.isfinite(n):
            self.warnings.append(FieldWarning(name, value, "not a finite number; stored as unknown"))
            return None
        return n

    def finish(self, record: FactCheck, rating_field: str, rating_raw: Any) -> Parsed:
        """The parsed record; a record with no rating at all lands, visibly unrated, and a
        rating value outside its own best/worst scale is unknown with a warning."""
        value, best = record.rating_value, record.best_rating
        if value is not None and best is not None and value != _NOT_RATED:
            worst = record.worst_rating if record.worst_rating is not None else (1.0 if best > 1 else 0.0)
            if not min(worst, best) <= value <= max(worst, best):
                self.warnings.append(
                    FieldWarning(
                        "ratingValue", value, f"outside the rating scale {worst:g}..{best:g}; stored as unknown"
                    )
                )
                record.rating_value = None
        if record.rating_text is None and record.rating_value is None:
            self.warnings.append(FieldWarning(rating_field, rating_raw, "no rating: verdict unknown"))
        return Parsed(record, self.warnings)


def read_record(source: SourceRef, raw: Any, build: Callable[[], ReadResult]) -> ReadResult:
    """``build()``, unless ``raw`` is nested too deep; any failure quarantines this record only.

    Hostile input must never stop an ingest (issue 10, C1), so every exception from one
    record becomes its quarantine entry; the reason names the exception, which keeps a
    reader bug visible there instead of hidden.
    """
    reason = json_limits.nesting_problem(raw)
    if reason is None:
        try:
            return build()
        except Exception as exc:  # noqa: BLE001 - see the docstring
            reason = f"unreadable record ({type(exc).__name__}: {exc})"
    return rejected(source.path, source.location, source.format, reason, json_limits.clip(raw))


def join_location(where: str, path: str) -> str:
    """``"line 3: claims[0].claimReview[1]"``; ``"document"`` for a whole single-document file."""
    return ": ".join(p for p in (where, path) if p) or "document"


# --- ClaimReview → FactCheck ---------------------------------------------------------


def is_claimreview(node: Any) -> bool:
    if not isinstance(node, dict):
        return False
    types = node.get("@type", node.get("type"))
    for t in types if isinstance(types, list) else [types]:
        if isinstance(t, str) and t.rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1] == "ClaimReview":
            return True
    return False


def find_claimreviews(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """``(json_path, object)`` for every ClaimReview in ``node``, in document order, however
    deeply nested (an explicit stack: no recursion for hostile depths to exhaust)."""
    stack: list[tuple[str, Any]] = [(path, node)]
    while stack:
        at, value = stack.pop()
        if isinstance(value, dict):
            if is_claimreview(value):
                yield at, value
                continue
            children = [(f"{at}.{k}" if at else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            children = [(f"{at}[{i}]", v) for i, v in enumerate(value)]
        else:
            continue
        stack.extend(reversed([c for c in children if isinstance(c[1], (dict, list))]))


def _first_dict(value: Any) -> dict[str, Any]:
    value = first(value)
    return value if isinstance(value, dict) else {}


def _party(value: Any, name: str, fields: FieldCollector) -> tuple[str | None, str | None]:
    """``(name, url)`` of an author/publisher given as an object, a list or a bare name."""
    value = first(value)
    if isinstance(value, dict):
        return fields.text(prop(value, "name"), f"{name}.name"), clean_text(prop(value, "url"))
    return fields.text(value, name), None


def _language(value: Any) -> str | None:
    """``inLanguage`` as a string or a Language object; its code (alternateName) is preferred."""
    value = first(value)
    if isinstance(value, dict) and "@value" not in value:
        return clean_text(prop(value, "alternateName")) or clean_text(prop(value, "name"))
    return clean_text(value)


def _appearances(item: dict[str, Any]) -> list[str]:
    """``appearance`` entries, ``firstAppearance``, and an older CreativeWork's own ``url``."""
    urls: list[str] = []
    found = prop(item, "appearance")
    for entry in (found if isinstance(found, list) else [found]) + [prop(item, "firstAppearance"), prop(item, "url")]:
        url = clean_text(prop(entry, "url")) or clean_text(entry)
        if url and url not in urls:
            urls.append(url)
    return urls


def _rating(value: Any) -> dict[str, Any]:
    """``reviewRating`` as an object; a bare string is its text, a bare number its value."""
    value = first(value)
    if isinstance(value, str):
        return {"alternateName": value}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"ratingValue": value}
    return value if isinstance(value, dict) else {}


def from_claimreview(obj: dict[str, Any], source: SourceRef) -> Parsed | Rejected:
    """Map one schema.org ClaimReview object to a :class:`FactCheck` (verdict left unset)."""
    url = url_text(prop(obj, "url"))
    if not url:
        return rejected(
            source.path, source.location, source.format, missing("ClaimReview", "url", prop(obj, "url")), obj
        )
    fields = FieldCollector()
    claim = fields.text(prop(obj, "claimReviewed"), "claimReviewed")
    if not claim:
        reason = missing("ClaimReview", "claimReviewed (claim text)", prop(obj, "claimReviewed"))
        return rejected(source.path, source.location, source.format, reason, obj)
    item = _first_dict(prop(obj, "itemReviewed"))
    rating = _rating(prop(obj, "reviewRating"))
    publisher_name, publisher_url = _party(prop(obj, "author"), "author", fields)
    if not (publisher_name or publisher_url):
        publisher_name, publisher_url = _party(prop(obj, "publisher"), "publisher", fields)
    claimant = prop(item, "author") or prop(item, "claimant") or prop(obj, "claimant")
    record = FactCheck(
        review_url=url,
        claim_text=claim,
        publisher_name=publisher_name,
        publisher_site=site_host(publisher_url) or site_host(url),
        title=fields.text(prop(obj, "name"), "name") or fields.text(prop(obj, "headline"), "headline"),
        review_date=fields.date(prop(obj, "datePublished"), "datePublished"),
        claimant=_party(claimant, "itemReviewed.author", fields)[0],
        claim_date=fields.date(prop(item, "datePublished"), "itemReviewed.datePublished"),
        appearances=_appearances(item),
        rating_text=(
            fields.text(prop(rating, "alternateName"), "reviewRating.alternateName")
            or fields.text(prop(rating, "name"), "reviewRating.name")
        ),
        rating_value=fields.number(prop(rating, "ratingValue"), "reviewRating.ratingValue"),
        best_rating=fields.number(prop(rating, "bestRating"), "reviewRating.bestRating"),
        worst_rating=fields.number(prop(rating, "worstRating"), "reviewRating.worstRating"),
        language=_language(prop(obj, "inLanguage")),
        raw=obj,
        source=source,
    )
    return fields.finish(record, "reviewRating", prop(obj, "reviewRating"))


# --- JSON / JSONL documents ------------------------------------------------------------


def _is_jsonl(path: Path) -> bool:
    """JSONL when there are two or more lines and the first looks like a whole
    object/array, or (a broken first line) the second one parses as one.

    Decided from the first two lines only, so a large JSONL file is never loaded whole;
    a pretty-printed document starts with a bare ``{`` or ``[`` line instead.
    """
    lines: list[bytes] = []
    with open_binary(path) as fh:
        for raw in fh:
            raw = raw.removeprefix(b"\xef\xbb\xbf").strip() if not lines else raw.strip()
            if raw:
                lines.append(raw)
                if len(lines) == 2:
                    break
    if not lines:
        raise FormatError("empty file")
    if len(lines) < 2 or lines[0] in (b"{", b"["):
        return False
    head, second = lines
    if head[:1] in (b"{", b"[") and head[-1:] in (b"}", b"]"):
        return True
    try:
        return isinstance(json_limits.loads(second.decode("utf-8", "replace")), (dict, list))
    except ValueError:
        return False


def iter_json_documents(path: Path, fmt: str) -> Iterator[tuple[str, Any] | Rejected]:
    """``(where, document)`` per JSON document: the whole file (``where`` = "") or each
    JSONL line (``where`` = "line N"). A bad JSONL line is yielded as :class:`Rejected`
    and the rest still land; a single document that is not JSON is a :class:`FormatError`.
    Parsed by :func:`json_limits.loads`, so no depth or number ends the file.
    """
    if not _is_jsonl(path):
        try:
            text = read_text(path)
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
            ) from None
        try:
            document = json_limits.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        yield "", document
        return
    for no, text, raw in iter_lines(path):
        if text is None:
            yield rejected(path, f"line {no}", fmt, not_utf8_reason(raw), raw.decode("utf-8", "replace"))
        elif text.strip():
            try:
                document = json_limits.loads(text)
            except json.JSONDecodeError as exc:
                yield rejected(path, f"line {no}", fmt, f"invalid JSON: {exc.msg} at column {exc.colno}", text)
                continue
            yield f"line {no}", document


def read_json_documents(path: Path, fmt: str, extract: Extractor, expected: str) -> Iterator[ReadResult]:
    """Run ``extract`` over every document of a JSON/JSONL file.

    The first readable document decides whether the file is of this format at all
    (:class:`FormatError` otherwise, before any record is yielded); a later document of
    another kind is rejected on its own.
    """
    matched = False
    for doc in iter_json_documents(path, fmt):
        if isinstance(doc, Rejected):
            yield doc
            continue
        where, document = doc
        results = extract(document, where, path)
        if results is None:
            if not matched:
                raise FormatError(f"{join_location(where, '')} is not {expected}")
            yield rejected(path, join_location(where, ""), fmt, f"not {expected}", json_limits.clip(document))
            continue
        matched = True
        yield from results


# --- reader ------------------------------------------------------------------------------


def claimreview_results(found: list[tuple[str, dict[str, Any]]], where: str, path: Path, fmt: str) -> list[ReadResult]:
    """One result per ``(json_path, ClaimReview)`` of :func:`find_claimreviews`."""
    results = []
    for at, obj in found:
        source = SourceRef(str(path), join_location(where, at), fmt)
        results.append(read_record(source, obj, lambda obj=obj, source=source: from_claimreview(obj, source)))
    return results


def _extract(document: Any, where: str, path: Path) -> list[ReadResult] | None:
    found = list(find_claimreviews(document))
    return claimreview_results(found, where, path, FORMAT) if found else None


class _JsonLdScripts(HTMLParser):
    """Collects ``(line, body)`` of every ``<script type="application/ld+json">``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[int, str]] = []
        self._current: list[str] | None = None
        self._line = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            kind = (dict(attrs).get("type") or "").split(";")[0].strip().casefold()
            if kind == "application/ld+json":
                self._current, self._line = [], self.getpos()[0]

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append((self._line, "".join(self._current)))
            self._current = None


def _unwrap_script(body: str) -> str:
    """Drop the ``<!-- -->`` / CDATA wrappers some CMSs put around JSON-LD."""
    body = body.strip()
    for start, end in (("<!--", "-->"), ("//<![CDATA[", "//]]>"), ("<![CDATA[", "]]>")):
        if body.startswith(start) and body.endswith(end):
            body = body[len(start) : -len(end)].strip()
    return body


def _looks_like_html(path: Path) -> bool:
    with open_binary(path) as fh:
        head = fh.read(_SNIFF_BYTES)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _read_html(path: Path) -> Iterator[ReadResult]:
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"HTML page is not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from None
    parser = _JsonLdScripts()
    count = 0
    try:
        parser.feed(text)
        parser.close()
    except AssertionError as exc:  # html.parser's reaction to some malformed declarations ("<![foo[")
        count += 1
        line = parser.getpos()[0]
        yield rejected(
            path,
            f"line {line}",
            FORMAT,
            f"HTML could not be parsed from here on ({exc}); the JSON-LD scripts before it are read",
            text.splitlines()[line - 1] if text else "",
        )
    for i, (line, body) in enumerate(parser.scripts, start=1):
        where = f"line {line} (script {i})"
        try:
            document = json_limits.loads(_unwrap_script(body))
        except json.JSONDecodeError as exc:
            count += 1
            yield rejected(
                path,
                where,
                FORMAT,
                f"invalid JSON-LD: {exc.msg} at line {exc.lineno} column {exc.colno} of the script",
                body,
            )
            continue
        results = _extract(document, where, path) or []
        count += len(results)
        yield from results
    if count == 0:
        found = (
            f"{len(parser.scripts)} application/ld+json script(s)"
            if parser.scripts
            else "no application/ld+json script"
        )
        raise FormatError(f"HTML page has no ClaimReview ({found})")


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """ClaimReview records from a JSON, JSONL or HTML file; see the module docstring."""
    path = Path(path)
    if _looks_like_html(path):
        yield from _read_html(path)
    else:
        yield from read_json_documents(path, FORMAT, _extract, "ClaimReview JSON-LD (no ClaimReview found)")
