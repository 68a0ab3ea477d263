"""Data Commons ClaimReview DataFeed (``dataFeedElement[].item``).

``item`` is a list of ClaimReviews, a single one, or null (a withdrawn review). A null
item is reported as :class:`~claimwatch.records.Rejected` rather than skipped silently,
so the gap stays inspectable in the quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import ReadResult, SourceRef
from claimwatch.sources.base import ReadContext, rejected
from claimwatch.sources.claimreview import (
    find_claimreviews,
    from_claimreview,
    join_location,
    read_json_documents,
)

FORMAT = "datacommons"


def _extract_feed(document: Any, where: str, path: Path) -> list[ReadResult] | None:
    if not (isinstance(document, dict) and isinstance(document.get("dataFeedElement"), list)):
        return None
    results: list[ReadResult] = []
    for i, element in enumerate(document["dataFeedElement"]):
        at = f"dataFeedElement[{i}]"
        item = element.get("item") if isinstance(element, dict) else None
        found = list(find_claimreviews(item, f"{at}.item"))
        if not found:
            why = "item is null" if item is None else "no ClaimReview in item"
            results.append(rejected(path, join_location(where, at), FORMAT, f"feed item has no ClaimReview ({why})", element))
            continue
        results.extend(from_claimreview(obj, SourceRef(str(path), join_location(where, p), FORMAT)) for p, obj in found)
    return results


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a DataFeed file (or JSONL of feeds); each ClaimReview via ``from_claimreview``."""
    yield from read_json_documents(Path(path), FORMAT, _extract_feed, "a Data Commons DataFeed (no dataFeedElement list)")
