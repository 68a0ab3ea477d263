"""Fact-check CSV files with one reviewed claim per row.

Columns are found by :data:`FIELD_ALIASES` (matched ignoring case and punctuation, so
``textualRating`` = ``textual_rating``) unless ``ctx.column_map`` (``--map
field=COLUMN``) names them. Every column, known or not, is kept in ``raw``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from claimwatch.records import FactCheck, ReadResult, SourceRef
from claimwatch.sources.base import (
    FormatError,
    ReadContext,
    csv_header,
    iter_csv_rows,
    rejected,
)
from claimwatch.sources.claimreview import FieldCollector, clean_text, site_host

FORMAT = "csv"

#: Our field → column names tried in order. ``site`` is deliberately absent: in
#: Jiang & Wilson (2018) it is the social platform, not the fact-checker.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "review_url": ("review_url", "url", "factcheck", "factcheck_url", "fact_check_url"),
    "claim_text": ("claim_text", "claim", "claimReviewed", "vclaim", "statement"),
    "rating_text": ("rating", "rating_text", "textual_rating", "ruling", "verdict", "truth_label"),
    "publisher_name": ("publisher", "publisher_name", "checkedby", "site_name"),
    "publisher_site": ("publisher_site",),
    "review_date": ("review_date", "ruling_date", "date_published", "reviewDate"),
    "claimant": ("claimant", "speaker"),
    "claim_date": ("claim_date",),
    "title": ("title", "review_title"),
    "language": ("language", "lang", "in_language", "language_code"),
    "appearances": ("appearances", "appearance"),
    "rating_value": ("rating_value",),
    "best_rating": ("best_rating",),
    "worst_rating": ("worst_rating",),
}
REQUIRED_FIELDS = ("review_url", "claim_text")

_APPEARANCE_SPLIT = re.compile(r"[\s|]+")


def _column_key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def resolve_columns(header: list[str], column_map: dict[str, str] | None = None) -> dict[str, str]:
    """Our field → the header's column, for the fields that have one.

    ``column_map`` entries win over aliases and must name a real column (matched like
    aliases); a wrong one is a :class:`FormatError`, not a silently empty field.
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
    for field_name, aliases in FIELD_ALIASES.items():
        if field_name not in columns:
            hit = next((by_key[_column_key(a)] for a in aliases if _column_key(a) in by_key), None)
            if hit is not None:
                columns[field_name] = hit
    return columns


def _require(header: list[str], columns: dict[str, str]) -> None:
    missing = [f for f in REQUIRED_FIELDS if f not in columns]
    if not missing:
        return
    tried = "; ".join(f"{f}: {', '.join(FIELD_ALIASES[f])}" for f in missing)
    hint = " ".join(f"--map {f}=COLUMN" for f in missing)
    tabbed = " (it looks tab-separated; only comma-separated files are read)" if len(header) == 1 and "\t" in header[0] else ""
    raise FormatError(
        f"no column for {' or '.join(missing)} (tried {tried}); columns found: {', '.join(header)}{tabbed}. "
        f"Name the columns with {hint}"
    )


def _from_row(row: dict[str, str], columns: dict[str, str], source: SourceRef) -> ReadResult:
    def cell(field_name: str) -> str | None:
        column = columns.get(field_name)
        return clean_text(row.get(column)) if column else None

    def column(field_name: str) -> str:
        return columns.get(field_name, field_name)

    for required in REQUIRED_FIELDS:
        if not cell(required):
            return rejected(source.path, source.location, FORMAT, f"no {required} (column {columns[required]!r} is empty)", row)
    fields = FieldCollector()
    url = cell("review_url")
    record = FactCheck(
        review_url=url,
        claim_text=cell("claim_text"),
        publisher_name=cell("publisher_name"),
        publisher_site=site_host(cell("publisher_site")) or site_host(url),
        title=cell("title"),
        review_date=fields.date(cell("review_date"), column("review_date")),
        claimant=cell("claimant"),
        claim_date=fields.date(cell("claim_date"), column("claim_date")),
        appearances=[u for u in _APPEARANCE_SPLIT.split(cell("appearances") or "") if u],
        rating_text=cell("rating_text"),
        rating_value=fields.number(cell("rating_value"), column("rating_value")),
        best_rating=fields.number(cell("best_rating"), column("best_rating")),
        worst_rating=fields.number(cell("worst_rating"), column("worst_rating")),
        language=cell("language"),
        raw=dict(row),
        source=source,
    )
    return fields.finish(record, column("rating_text"), cell("rating_text"))


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a CSV file with a header row; see the module docstring."""
    path = Path(path)
    header = csv_header(path)
    if not header:
        with open(path, "rb") as fh:
            has_content = any(line.strip() for line in fh)
        raise FormatError("header row is not UTF-8 text; re-save the file as UTF-8" if has_content else "empty file")
    columns = resolve_columns(header, ctx.column_map)
    _require(header, columns)
    for no, row, rejection in iter_csv_rows(path, FORMAT):
        if rejection is not None:
            yield rejection
        elif row is not None:
            yield _from_row(row, columns, SourceRef(str(path), f"line {no}", FORMAT))
