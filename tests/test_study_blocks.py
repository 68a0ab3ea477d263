"""The study result's typed blocks are the study JSON's declared shape: each block's fields are
the keys ``schemas/study.schema.json`` declares for it, and jsonable() writes them by those names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import pytest

from claimwatch.analysis.jsonable import JSON_NAME, jsonable
from claimwatch.analysis.manipulated_media import AiManifest, BankMatch, ManipulatedMedia, MediaPost
from claimwatch.analysis.notes import NotesCoverage
from claimwatch.analysis.study import StudyResult
from claimwatch.analysis.study_blocks import (
    Account,
    AccountTotal,
    CategoryTotal,
    LabelCoverage,
    NarrativeProposal,
    Source,
    StudyInfo,
    Summary,
    SummedViews,
    TopicPosts,
    WeekTotal,
    Window,
)


def _schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("claimwatch.schemas").joinpath(name).read_text())


STUDY, POST = _schema("study.schema.json"), _schema("post.schema.json")
TOTAL = set(POST["$defs"]["total"]["properties"])


def _keys(node: dict[str, Any]) -> set[str]:
    """The keys a schema object declares (its own and those of an ``allOf`` total)."""
    return set(node.get("properties", {})) | (TOTAL if "allOf" in node else set())


def _names(cls: type) -> set[str]:
    return {f.metadata.get(JSON_NAME, f.name) for f in fields(cls)}


P = STUDY["properties"]


@pytest.mark.parametrize(
    ("cls", "node"),
    [
        (StudyResult, {"properties": {k: v for k, v in P.items() if k != "schema"}}),
        (StudyInfo, P["study"]),
        (Account, STUDY["$defs"]["account"]),
        (Window, P["study"]["properties"]["window"]),
        (Summary, P["summary"]),
        (CategoryTotal, P["summary"]["properties"]["by_category"]["items"]),
        (AccountTotal, P["by_account"]["items"]),
        (WeekTotal, P["by_week"]["items"]),
        (TopicPosts, P["topic_posts"]),
        (SummedViews, P["views_over_time"]["additionalProperties"]["items"]),
        (NotesCoverage, P["notes_coverage"]),
        (LabelCoverage, P["labels"]),
        (ManipulatedMedia, P["manipulated_media"]),
        (MediaPost, P["manipulated_media"]["properties"]["rows"]["items"]),
        (BankMatch, P["manipulated_media"]["properties"]["rows"]["items"]["properties"]["bank_matches"]["items"]),
        (AiManifest, P["manipulated_media"]["properties"]["rows"]["items"]["properties"]["ai_manifests"]["items"]),
        (NarrativeProposal, P["proposed_narratives"]["items"]),
        (Source, P["sources"]["items"]),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_each_block_has_exactly_the_keys_the_schema_declares(cls: type, node: dict[str, Any]) -> None:
    assert _names(cls) == _keys(node)


@dataclass(frozen=True)
class _Span:
    from_: date = field(metadata={JSON_NAME: "from"})
    at: datetime
    _cache: dict[str, int] = field(default_factory=dict)


def test_jsonable_names_a_field_by_its_metadata_and_leaves_out_private_fields() -> None:
    span = _Span(date(2024, 8, 1), datetime(2024, 8, 2, 12, tzinfo=UTC), {"x": 1})
    assert jsonable(span) == {"from": "2024-08-01", "at": "2024-08-02T12:00:00Z"}


def test_a_group_total_is_labelled_by_its_key() -> None:
    assert WeekTotal(date(2024, 7, 1), 1, None, 1).label == "2024-07-01"
    assert jsonable(WeekTotal(date(2024, 7, 1), 1, None, 1)) == {
        "week": "2024-07-01",
        "posts": 1,
        "views": None,
        "views_unknown": 1,
    }
