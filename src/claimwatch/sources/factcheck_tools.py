"""Google Fact Check Tools API output: ``claims:search`` pages and ClaimReview markup pages.

A ``claims:search`` (or ``claims:imageSearch``) response page is ``{claims: [{text,
claimant, claimDate, claimReview: [{publisher{name, site}, url, title, reviewDate,
textualRating, languageCode}]}], nextPageToken}`` (image search: ``{results: [{claim:
{...}}]}``); an empty result is ``{}``. Each claimReview entry becomes one FactCheck (one
claim can be reviewed by several publishers).

The markup API (``pages.list`` / ``pages.get``) returns ``{claimReviewMarkupPages:
[{pageUrl, publishDate, claimReviewAuthor{name}, claimReviewMarkups: [{url,
claimReviewed, claimDate, claimAuthor{name}, claimAppearances, claimFirstAppearance,
rating{textualRating, ratingValue, bestRating, worstRating}}]}]}``; each markup is one
FactCheck.

A file holds what a script saved: one page, a list of pages, one page per line (JSONL),
single claims or markup pages per line, or a list of claims. A claim without
``claimReview`` entries is quarantined, visibly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import FactCheck, ReadResult, SourceRef
from claimwatch.sources import json_limits
from claimwatch.sources.base import ReadContext, json_type, rejected
from claimwatch.sources.claimreview import (
    FieldCollector,
    clean_text,
    join_location,
    missing,
    read_json_documents,
    read_record,
    site_host,
    url_text,
)

FORMAT = "factcheck-tools"

#: ``(json path, kind, object)``: kind "claim" (a claims:search Claim), "page" (a
#: ClaimReviewMarkupPage), or else the reason the object is neither (it is quarantined).
_Unit = tuple[str, str, Any]
_KINDS = {"claimReview": "claim", "claimReviewMarkups": "page"}


def _units(document: Any, prefix: str = "") -> list[_Unit] | None:
    """The claims and markup pages in ``document``; None when it is none of the shapes above."""
    if isinstance(document, list):
        units = [_units(item, f"{prefix}[{i}]") for i, item in enumerate(document)]
        if not any(u is not None for u in units):
            return None
        other = "neither a claim nor a markup page"
        return [
            unit
            for i, u in enumerate(units)
            for unit in (u if u is not None else [(f"{prefix}[{i}]", other, document[i])])
        ]
    if not isinstance(document, dict):
        return None
    for key, kind in _KINDS.items():
        if key in document:
            return [(prefix, kind, document)]
    for key, kind in (("claims", "claim"), ("claimReviewMarkupPages", "page"), ("results", "claim")):
        if key in document:
            items = document[key]
            at = f"{prefix}.{key}" if prefix else key
            if not isinstance(items, list):
                return [(at, f"{key} is a JSON {json_type(items)}, not a list", items)]
            if key == "results":  # image search: each result wraps its claim
                return [
                    (f"{at}[{i}].claim", kind, r.get("claim") if isinstance(r, dict) else r)
                    for i, r in enumerate(items)
                ]
            return [(f"{at}[{i}]", kind, item) for i, item in enumerate(items)]
    if not document or set(document) == {"nextPageToken"}:
        return []  # an empty result page
    return None


def _extract(document: Any, where: str, path: Path) -> list[ReadResult] | None:
    units = _units(document)
    if units is None:
        return None
    results: list[ReadResult] = []
    for at, kind, unit in units:
        if kind not in _KINDS.values():
            results.append(rejected(path, join_location(where, at), FORMAT, kind, json_limits.clip(unit)))
            continue
        entries_key = "claimReview" if kind == "claim" else "claimReviewMarkups"
        entries = unit.get(entries_key) if isinstance(unit, dict) else None
        if not isinstance(entries, list) or not entries:
            owner = "claim" if kind == "claim" else "markup page"
            results.append(
                rejected(
                    path,
                    join_location(where, at),
                    FORMAT,
                    f"{owner} has no {entries_key} entries",
                    json_limits.clip(unit),
                )
            )
            continue
        build = _from_review if kind == "claim" else _from_markup
        for j, entry in enumerate(entries):
            entry_at = f"{at}.{entries_key}[{j}]" if at else f"{entries_key}[{j}]"
            source = SourceRef(str(path), join_location(where, entry_at), FORMAT)
            # raw keeps the claim (page) with just this entry, so it re-parses the same way.
            raw = {**{k: v for k, v in unit.items() if k != entries_key}, entries_key: [entry]}
            results.append(read_record(source, raw, lambda u=unit, e=entry, s=source, r=raw, b=build: b(u, e, s, r)))
    return results


def _from_review(claim: dict[str, Any], review: Any, source: SourceRef, raw: dict[str, Any]) -> ReadResult:
    if not isinstance(review, dict):
        return rejected(source.path, source.location, FORMAT, "claimReview entry is not an object", raw)
    url = url_text(review.get("url"))
    if not url:
        return rejected(source.path, source.location, FORMAT, missing("claimReview", "url", review.get("url")), raw)
    fields = FieldCollector()
    text = fields.text(claim.get("text"), "text")
    if not text:
        return rejected(source.path, source.location, FORMAT, missing("claim", "text", claim.get("text")), raw)
    publisher = review.get("publisher") if isinstance(review.get("publisher"), dict) else {}
    record = FactCheck(
        review_url=url,
        claim_text=text,
        publisher_name=fields.text(publisher.get("name"), "publisher.name"),
        publisher_site=site_host(clean_text(publisher.get("site"))) or site_host(url),
        title=fields.text(review.get("title"), "title"),
        review_date=fields.date(review.get("reviewDate"), "reviewDate"),
        claimant=fields.text(claim.get("claimant"), "claimant"),
        claim_date=fields.date(claim.get("claimDate"), "claimDate"),
        rating_text=fields.text(review.get("textualRating"), "textualRating"),
        language=clean_text(review.get("languageCode")),
        raw=raw,
        source=source,
    )
    return fields.finish(record, "textualRating", review.get("textualRating"))


def _from_markup(page: dict[str, Any], markup: Any, source: SourceRef, raw: dict[str, Any]) -> ReadResult:
    if not isinstance(markup, dict):
        return rejected(source.path, source.location, FORMAT, "claimReviewMarkups entry is not an object", raw)
    url = url_text(markup.get("url")) or url_text(page.get("pageUrl"))
    if not url:
        return rejected(source.path, source.location, FORMAT, "markup has no url (nor its page a pageUrl)", raw)
    fields = FieldCollector()
    claim = fields.text(markup.get("claimReviewed"), "claimReviewed")
    if not claim:
        return rejected(
            source.path, source.location, FORMAT, missing("markup", "claimReviewed", markup.get("claimReviewed")), raw
        )
    author = page.get("claimReviewAuthor") if isinstance(page.get("claimReviewAuthor"), dict) else {}
    claim_author = markup.get("claimAuthor") if isinstance(markup.get("claimAuthor"), dict) else {}
    rating = markup.get("rating") if isinstance(markup.get("rating"), dict) else {}
    appearances = markup.get("claimAppearances")
    urls = [clean_text(u) for u in (appearances if isinstance(appearances, list) else [appearances])]
    urls.append(clean_text(markup.get("claimFirstAppearance")))
    record = FactCheck(
        review_url=url,
        claim_text=claim,
        publisher_name=fields.text(author.get("name"), "claimReviewAuthor.name"),
        publisher_site=site_host(url),
        review_date=fields.date(page.get("publishDate"), "publishDate"),
        claimant=fields.text(claim_author.get("name"), "claimAuthor.name"),
        claim_date=fields.date(markup.get("claimDate"), "claimDate"),
        appearances=list(dict.fromkeys(u for u in urls if u)),
        rating_text=fields.text(rating.get("textualRating"), "rating.textualRating"),
        rating_value=fields.number(rating.get("ratingValue"), "rating.ratingValue"),
        best_rating=fields.number(rating.get("bestRating"), "rating.bestRating"),
        worst_rating=fields.number(rating.get("worstRating"), "rating.worstRating"),
        raw=raw,
        source=source,
    )
    return fields.finish(record, "rating", markup.get("rating"))


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from Fact Check Tools output (see the module docstring for the shapes)."""
    yield from read_json_documents(
        Path(path), FORMAT, _extract, "Fact Check Tools output (a claims:search page, claims or markup pages)"
    )
