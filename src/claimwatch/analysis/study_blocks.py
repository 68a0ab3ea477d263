"""The aggregate blocks of a study result (everything beside its post rows), as frozen records.

:mod:`claimwatch.analysis.study` builds them and every renderer reads their attributes. Each
field's name is its JSON key (:func:`~claimwatch.analysis.jsonable.jsonable` writes them in field
order), so these classes and ``schemas/study.schema.json`` describe the same shape: a field added
here is a key added there. Times are datetimes and dates are dates (written as RFC 3339 ``Z`` and
ISO dates); an unknown figure is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from claimwatch.analysis.jsonable import JSON_NAME
from claimwatch.analysis.reach import EngagementTotal
from claimwatch.analysis.study_file import Narrative
from claimwatch.claims.topics import Topic


@dataclass(frozen=True)
class Account:
    """An account the study names, as stored at collection (ids and followers None: not in the store)."""

    platform: str | None
    user_id: str | None
    handle: str
    followers_at_collection: int | None


@dataclass(frozen=True)
class Window:
    """The days the study covers, both inclusive (UTC)."""

    from_: date = field(metadata={JSON_NAME: "from"})
    to: date


@dataclass(frozen=True)
class StudyInfo:
    """The ``study`` block: which file, accounts, window and rules the figures come from."""

    title: str
    file: str
    file_sha256: str
    #: the target shape's one account: None unless the study names exactly one
    account: Account | None
    accounts: tuple[Account, ...]
    window: Window
    #: empty: every platform
    platforms: tuple[str, ...]
    inclusion_rule: str
    #: the latest observation behind the figures (the views' or engagement's snapshots used)
    collected_at: datetime | None
    views_as_of: datetime | None
    notes_as_of: datetime | None
    labels_as_of: datetime | None
    views_metric: str
    community_note_rule: str
    ad_equivalent_cpm_usd: float | None
    narratives: tuple[Narrative, ...]


# The three group totals differ only in their key, which is also their JSON name.


@dataclass(frozen=True)
class CategoryTotal:
    """Posts and views of one narrative (claim category)."""

    claim_category: str
    posts: int
    #: None when every post's views are unknown
    views: int | None
    views_unknown: int

    @property
    def label(self) -> str:
        return self.claim_category


@dataclass(frozen=True)
class AccountTotal:
    """Posts and views of one account."""

    account: str
    posts: int
    views: int | None
    views_unknown: int

    @property
    def label(self) -> str:
        return self.account


@dataclass(frozen=True)
class WeekTotal:
    """Posts and views of the posts created in one ISO week (``week``: its Monday)."""

    week: date
    posts: int
    views: int | None
    views_unknown: int

    @property
    def label(self) -> str:
        return self.week.isoformat()


@dataclass(frozen=True)
class NarrativeOnly:
    """The posts whose only qualifying matches share a rated claim's narrative without repeating it."""

    posts: int
    views: int | None
    views_unknown: int


@dataclass(frozen=True)
class Summary:
    """The ``summary`` block: the debunked-claim posts added up; each sum says what it could not include."""

    posts: int
    total_views: int | None
    posts_views_unknown: int
    #: engagement of the posts whose views are unknown (a platform without view counts)
    engagement_views_unknown: EngagementTotal
    posts_analyst_confirmed: int
    posts_machine_proposed_only: int
    posts_with_note_shown: int
    #: known or inferred to show none (status unknown: ``posts_note_status_unknown``)
    posts_without_note_shown: int
    views_on_posts_without_note: int | None
    views_unknown_on_posts_without_note: int
    posts_note_status_unknown: int
    posts_with_label: int
    ad_equivalent_usd: float | None
    by_category: tuple[CategoryTotal, ...]
    #: posts that share a rated claim's narrative without repeating it (in the narrative figures,
    #: not in the counts above; listed among the excluded posts with the rule "relation")
    narrative_only: NarrativeOnly


@dataclass(frozen=True)
class TopicPosts:
    """Every post in the window on the study's topic, matched or not."""

    #: a stored topic's name, the inline topic's definition, or None (no topic filter)
    definition: str | Topic | None
    posts: int
    views: int | None
    views_unknown: int
    ad_equivalent_usd: float | None


@dataclass(frozen=True)
class SummedViews:
    """A group's views summed at one observation time (posts not observed by then: unknown)."""

    observed_at: datetime
    views: int
    posts_views_unknown: int


@dataclass(frozen=True)
class LabelCoverage:
    """The ``labels`` block: posts carrying a platform label at ``at``, and ever."""

    at: datetime
    posts_with_label: int
    posts_ever_labelled: int


@dataclass(frozen=True)
class NarrativeProposal:
    """A cluster of related claims among posts no narrative covers, for an analyst to name or dismiss."""

    name: str
    posts: int
    post_ids: tuple[str, ...]
    claims: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """An ingest run behind the figures: what was read, and when the data was observed."""

    ingest_run: int
    kind: str
    status: str
    retrieved: datetime | None
    #: the paths the run read (None where its report names none)
    files: tuple[str | None, ...]
    #: RFC 3339 times as the ingest report gave them (kept as written if unreadable)
    observed_at: tuple[str, ...]
