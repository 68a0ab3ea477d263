"""Data Commons ClaimReview DataFeed (``dataFeedElement[].item``).

``item`` is a list of ClaimReviews, a single one, or null (a withdrawn review). A null
item is reported as :class:`~claimwatch.records.Rejected` rather than skipped silently,
so the gap stays inspectable in the quarantine. An element that is itself a ClaimReview
(no DataFeedItem wrapper) is read as one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import ReadResult
from claimwatch.sources import json_limits
from claimwatch.sources.base import ReadContext, rejected
from claimwatch.sources.claimreview import (
    claimreview_results,
    find_claimreviews,
    is_claimreview,
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
        if is_claimreview(element):
            found = [(at, element)]
        else:
            item = element.get("item") if isinstance(element, dict) else None
            found = list(find_claimreviews(item, f"{at}.item"))
            if not found:
                if not isinstance(element, dict) or "item" not in element:
                    why = "no item"
                else:
                    why = "item is null" if item is None else "no ClaimReview in item"
                results.append(
                    rejected(
                        path,
                        join_location(where, at),
                        FORMAT,
                        f"feed item has no ClaimReview ({why})",
                        json_limits.clip(element),
                    )
                )
                continue
        results.extend(claimreview_results(found, where, path, FORMAT))
    return results


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """FactChecks from a DataFeed file (or JSONL of feeds); each ClaimReview via ``from_claimreview``."""
    yield from read_json_documents(
        Path(path), FORMAT, _extract_feed, "a Data Commons DataFeed (no dataFeedElement list)"
    )
