"""Fact-check CSV (or tab-separated) files with one reviewed claim per row.

Columns are found by :data:`FIELD_ALIASES` (matched ignoring case and punctuation, so
``textualRating`` = ``textual_rating`` and ``reviewRating.alternateName`` =
``reviewRating_alternateName``) unless ``ctx.column_map`` (``--map field=COLUMN``) names
them. Every column, known or not, is kept in ``raw``. The aliases cover these families:

- our own names and the derived PolitiFact table (``review_url``, ``claim_text``, ``rating`` ...);
- ClaimReview flattened by a JSON normaliser (``claimReviewed``, ``url``, ``datePublished``,
  ``reviewRating.alternateName``, ``itemReviewed.author.name`` ...);
- Fact Check Tools flattened per review (``text``, ``claimant``, ``claimDate``, ``url``,
  ``title``, ``reviewDate``, ``textualRating``, ``languageCode``, ``publisher.name``, ``publisher.site``);
- the ClaimsKG extractor's CSV that ``claimskg_generator`` reads (``claimReview_url``,
  ``claimReview_claimReviewed``, ``rating_alternateName``, ``creativeWork_author_name`` ...);
- Jiang & Wilson (2018) (``factcheck``, ``ruling``, ``ruling_date``, ``checkedby``).

ClaimsKG explorer exports (``id, text, date, truthRating, ratingName, author, headline,
named_entities_claim, named_entities_article, keywords, source, sourceURL, link,
language``) reuse generic names with their own meaning (``author`` is the claimant,
``source`` the fact-checker), so they are recognised by their column family and read
with :data:`CLAIMSKG_COLUMNS` (format ``claimskg``). ``truthRating`` is ClaimsKG's
normalised class on its 1..3 scale (1 FALSE, 2 MIXTURE, 3 TRUE; -1 OTHER, "not rated").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from claimwatch.records import FactCheck, ReadResult, SourceRef
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    open_binary,
    rejected,
)
from claimwatch.sources.claimreview import FieldCollector, clean_text, read_record, site_host

FORMAT = "csv"
CLAIMSKG_FORMAT = "claimskg"

#: Our field → column names tried in order. ``site`` is deliberately absent: in
#: Jiang & Wilson (2018) it is the social platform, not the fact-checker.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "review_url": ("review_url", "url", "factcheck", "factcheck_url", "fact_check_url", "claimReview_url", "link"),
    "claim_text": ("claim_text", "claim", "claimReviewed", "vclaim", "statement", "claimReview_claimReviewed", "text"),
    "rating_text": (
        "rating",
        "rating_text",
        "textual_rating",
        "ruling",
        "verdict",
        "truth_label",
        "reviewRating.alternateName",
        "rating_alternateName",
        "ratingName",
        "reviewRating.name",
    ),
    "publisher_name": (
        "publisher",
        "publisher_name",
        "checkedby",
        "site_name",
        "author.name",
        "claimReview_author_name",
    ),
    "publisher_site": ("publisher_site", "author.url", "claimReview_author_url"),
    "review_date": ("review_date", "ruling_date", "date_published", "reviewDate", "claimReview_datePublished"),
    "claimant": ("claimant", "speaker", "itemReviewed.author.name", "creativeWork_author_name"),
    "claim_date": ("claim_date", "itemReviewed.datePublished", "creativeWork_datePublished"),
    "title": ("title", "review_title", "headline", "extra_title"),
    "language": ("language", "lang", "in_language", "language_code"),
    "appearances": ("appearances", "appearance"),
    "rating_value": ("rating_value", "reviewRating.ratingValue", "rating_ratingValue"),
    "best_rating": ("best_rating", "reviewRating.bestRating", "rating_bestRating"),
    "worst_rating": ("worst_rating", "reviewRating.worstRating", "rating_worstRating"),
}
REQUIRED_FIELDS = ("review_url", "claim_text")
#: Fields that make a table a fact-check table (see :func:`is_factcheck_header`).
CORE_FIELDS = frozenset({"review_url", "claim_text", "rating_text", "rating_value"})
#: Column names that tables of posts (or anything else) use too: they do not show that a
#: table holds fact-checks (twarc-csv has ``author.name`` and ``author.url``, for one).
GENERIC_COLUMNS = frozenset(
    {
        "url",
        "link",
        "text",
        "title",
        "headline",
        "language",
        "lang",
        "rating",
        "verdict",
        "statement",
        "speaker",
        "authorname",
        "authorurl",
    }
)

#: ClaimsKG explorer export: our field → its column.
CLAIMSKG_COLUMNS: dict[str, str] = {
    "review_url": "link",
    "claim_text": "text",
    "claim_date": "date",
    "rating_text": "ratingName",
    "rating_value": "truthRating",
    "claimant": "author",
    "title": "headline",
    "publisher_name": "source",
    "publisher_site": "sourceURL",
    "language": "language",
}
#: Columns only ClaimsKG exports have; three of them identify one.
CLAIMSKG_MARKERS = ("truthRating", "ratingName", "named_entities_claim", "named_entities_article", "sourceURL")
#: ClaimsKG's normalised scale: (best, worst) of ``truthRating``.
CLAIMSKG_SCALE = (3.0, 1.0)

_APPEARANCE_SPLIT = re.compile(r"[\s|]+")


def _column_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


_GENERIC_KEYS = frozenset(_column_key(c) for c in GENERIC_COLUMNS)


def is_claimskg_header(header: list[str]) -> bool:
    """Whether a header is a ClaimsKG explorer export's (three of its own columns)."""
    keys = {_column_key(h) for h in header}
    return sum(_column_key(m) in keys for m in CLAIMSKG_MARKERS) >= 3


def is_factcheck_header(header: list[str]) -> bool:
    """Whether a CSV header looks like a fact-check table (``ingest factchecks``, not posts).

    True for a ClaimsKG export; when a review URL, a claim and a rating column are all there
    and one of them has a name only fact-check tables use (``claim, url, rating``); or when at least two fields are found
    by columns that only fact-check tables use and one of them is a review URL, claim or
    rating column. Generic names alone (``url``, ``text``, ``rating``, ``author.name`` ...)
    do not count, so a posts CSV with ``id, text, url`` is not taken for fact-checks.
    """
    if is_claimskg_header(header):
        return True
    found = resolve_columns(header)
    specific = {f for f, column in found.items() if _column_key(column) not in _GENERIC_KEYS}
    if specific & CORE_FIELDS and all(f in found for f in ("review_url", "claim_text", "rating_text")):
        return True
    return len(specific) >= 2 and bool(specific & CORE_FIELDS)


def resolve_columns(
    header: list[str], column_map: Mapping[str, str] | None = None, family: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Our field → the header's column, for the fields that have one.

    ``column_map`` entries win, then ``family`` (a known export's columns), then aliases.
    A ``column_map`` entry must name a real column (matched like aliases); a wrong one is
    a :class:`FormatError`, not a silently empty field.
    """
    by_key: dict[str, str] = {}
    for column in header:
        by_key.setdefault(_column_key(column), column)
    columns: dict[str, str] = {}
    for field_name, wanted in (column_map or {}).items():
        if field_name not in FIELD_ALIASES:
            raise FormatError(f"--map {field_name}=...: unknown field; fields are {', '.join(FIELD_ALIASES)}")
        if _column_key(wanted) not in by_key:
            raise FormatError(f"--map {field_name}={wanted}: no such column; columns found: {', '.join(header)}")
        columns[field_name] = by_key[_column_key(wanted)]
    for field_name, column in (family or {}).items():
        if field_name not in columns and _column_key(column) in by_key:
            columns[field_name] = by_key[_column_key(column)]
    claimed = set(columns.values())
    for field_name, aliases in FIELD_ALIASES.items():
        if field_name not in columns:
            hit = next(
                (
                    by_key[_column_key(a)]
                    for a in aliases
                    if _column_key(a) in by_key and by_key[_column_key(a)] not in claimed
                ),
                None,
            )
            if hit is not None:
                columns[field_name] = hit
                claimed.add(hit)
    return columns


def read_header(path: Path) -> tuple[list[str], str]:
    """The header row and the delimiter: tab when the first line has tabs and no commas."""
    header = csv_header(path)
    if len(header) == 1 and "\t" in header[0]:
        return csv_header(path, "\t"), "\t"
    return header, ","


def _require(header: list[str], columns: dict[str, str]) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in columns]
    if not missing:
        return
    tried = "; ".join(f"{f}: {', '.join(FIELD_ALIASES[f])}" for f in missing)
    hint = " ".join(f"--map {f}=COLUMN" for f in missing)
    raise FormatError(
        f"no column for {' or '.join(missing)} (tried {tried}); columns found: {', '.join(header)}. "
        f"Name the columns with {hint}"
    )


def _from_row(
    row: dict[str, str], columns: dict[str, str], scale: tuple[float, float] | None, source: SourceRef
) -> ReadResult:
    fields = FieldCollector()

    def cell(field_name: str) -> str | None:
        column = columns.get(field_name)
        return clean_text(row.get(column)) if column else None

    def text(field_name: str) -> str | None:
        column = columns.get(field_name)
        return fields.text(row.get(column), column) if column else None

    def column(field_name: str) -> str:
        return columns.get(field_name, field_name)

    for required in REQUIRED_FIELDS:
        if not cell(required):
            return rejected(
                source.path,
                source.location,
                source.format,
                f"no {required} (column {columns[required]!r} is empty)",
                row,
            )
    url = cell("review_url")
    best, worst = scale or (
        fields.number(cell("best_rating"), column("best_rating")),
        fields.number(cell("worst_rating"), column("worst_rating")),
    )
    record = FactCheck(
        review_url=url,
        claim_text=text("claim_text"),
        publisher_name=text("publisher_name"),
        publisher_site=site_host(cell("publisher_site")) or site_host(url),
        title=text("title"),
        review_date=fields.date(cell("review_date"), column("review_date")),
        claimant=text("claimant"),
        claim_date=fields.date(cell("claim_date"), column("claim_date")),
        appearances=[u for u in _APPEARANCE_SPLIT.split(cell("appearances") or "") if u],
        rating_text=text("rating_text"),
        rating_value=fields.number(cell("rating_value"), column("rating_value")),
        best_rating=best,
        worst_rating=worst,
        language=cell("language"),
        raw=dict(row),
        source=source,
    )
    return fields.finish(record, column("rating_text"), cell("rating_text"))


def _read(path: Path, ctx: ReadContext, fmt: str) -> Iterator[ReadResult]:
    path = Path(path)
    header, sep = read_header(path)
    if not header:
        with open_binary(path) as fh:
            has_content = any(line.strip() for line in fh)
        raise FormatError("header row is not UTF-8 text; re-save the file as UTF-8" if has_content else "empty file")
    claimskg = fmt == CLAIMSKG_FORMAT
    columns = resolve_columns(header, ctx.column_map, CLAIMSKG_COLUMNS if claimskg else None)
    _require(header, columns)
    scale = CLAIMSKG_SCALE if claimskg and "best_rating" not in columns else None
    for no, row, rejection in iter_csv_rows(path, fmt, sep):
        if rejection is not None:
            yield rejection
        elif row is not None:
            source = SourceRef(str(path), f"line {no}", fmt)
            yield read_record(source, row, lambda row=row, source=source: _from_row(row, columns, scale, source))


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a CSV/TSV file with a header row; see the module docstring."""
    yield from _read(path, ctx, FORMAT)


def read_claimskg(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a ClaimsKG explorer export (:data:`CLAIMSKG_COLUMNS`); ``--map`` still wins."""
    yield from _read(path, ctx, CLAIMSKG_FORMAT)
