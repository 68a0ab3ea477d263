"""Google Fact Check Tools ``claims:search`` response pages.

A page is ``{claims: [{text, claimant, claimDate, claimReview: [...]}], nextPageToken}``;
an empty result is ``{}``. Each claimReview entry becomes one FactCheck (one claim can be
reviewed by several publishers). A file holds one page, or one page per line (JSONL).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import FactCheck, ReadResult, SourceRef
from claimwatch.sources.base import ReadContext, rejected
from claimwatch.sources.claimreview import (
    FieldCollector,
    clean_text,
    join_location,
    read_json_documents,
    site_host,
)

FORMAT = "factcheck-tools"


def _is_page(document: Any) -> bool:
    return isinstance(document, dict) and ("claims" in document or "nextPageToken" in document or not document)


def _extract_page(document: Any, where: str, path: Path) -> list[ReadResult] | None:
    if not _is_page(document):
        return None
    claims = document.get("claims") or []
    if not isinstance(claims, list):
        return [rejected(path, join_location(where, "claims"), FORMAT, "claims is not a list", claims)]
    results: list[ReadResult] = []
    for i, claim in enumerate(claims):
        reviews = claim.get("claimReview") if isinstance(claim, dict) else None
        if not isinstance(reviews, list) or not reviews:
            results.append(rejected(path, join_location(where, f"claims[{i}]"), FORMAT, "claim has no claimReview entries", claim))
            continue
        for j, review in enumerate(reviews):
            source = SourceRef(str(path), join_location(where, f"claims[{i}].claimReview[{j}]"), FORMAT)
            results.append(_from_review(claim, review, source))
    return results


def _from_review(claim: dict[str, Any], review: Any, source: SourceRef) -> ReadResult:
    # raw keeps the claim with just this review, so it re-parses the same way.
    raw = {**{k: v for k, v in claim.items() if k != "claimReview"}, "claimReview": [review]}
    if not isinstance(review, dict):
        return rejected(source.path, source.location, FORMAT, "claimReview entry is not an object", raw)
    url = clean_text(review.get("url"))
    if not url:
        return rejected(source.path, source.location, FORMAT, "claimReview has no url", raw)
    text = clean_text(claim.get("text"))
    if not text:
        return rejected(source.path, source.location, FORMAT, "claim has no text", raw)
    fields = FieldCollector()
    publisher = review.get("publisher") if isinstance(review.get("publisher"), dict) else {}
    record = FactCheck(
        review_url=url,
        claim_text=text,
        publisher_name=clean_text(publisher.get("name")),
        publisher_site=site_host(clean_text(publisher.get("site"))) or site_host(url),
        title=clean_text(review.get("title")),
        review_date=fields.date(review.get("reviewDate"), "reviewDate"),
        claimant=clean_text(claim.get("claimant")),
        claim_date=fields.date(claim.get("claimDate"), "claimDate"),
        rating_text=clean_text(review.get("textualRating")),
        language=clean_text(review.get("languageCode")),
        raw=raw,
        source=source,
    )
    return fields.finish(record, "textualRating", review.get("textualRating"))


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a ``claims:search`` page file or a JSONL of pages."""
    yield from read_json_documents(Path(path), FORMAT, _extract_page, "a Fact Check Tools claims:search page")
