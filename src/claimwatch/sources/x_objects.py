"""X API v2 objects that are not posts, told apart by their keys.

twarc2 and the X API hand out many other objects in the same page shape
(``data`` / ``includes`` / ``meta``): users (``/2/users``, ``/2/users/by``, followers,
following, liking users, list members), lists, spaces, post counts, compliance jobs and
their results, direct-message events, usage, filtered-stream rules, trends, and the label
and compliance streams. Read as posts they would become posts with empty text, so a reader
refuses them by name instead (:func:`classify`, :func:`page_kind`). Key names are the
objects' field names in the X API v2 OpenAPI spec and twarc-csv's column lists.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from claimwatch.sources import x_labels

#: What to do with a file of X objects that are not posts.
POSTS_HINT = "use twarc2 search or timeline output (posts)"
#: Keys that only a post has (v2, v1.1 and archive spellings).
POST_TEXT_KEYS = frozenset({"text", "full_text", "note_tweet", "note_post"})


@dataclass(frozen=True)
class XObjectKind:
    """One kind of non-post object: its name and the keys that give it away.

    ``with_text`` kinds carry a ``text`` of their own (a direct message), so they are
    recognised before a ``text`` key is taken to mean a post. The first marker found is named.
    """

    name: str
    markers: tuple[str, ...]
    hint: str = POSTS_HINT
    with_text: bool = False


KINDS: tuple[XObjectKind, ...] = (
    XObjectKind("direct-message events", ("dm_conversation_id", "event_type", "sender_id"), with_text=True),
    XObjectKind("label stream events", tuple(x_labels.EVENT_KINDS), "use `claimwatch ingest labels`", with_text=True),
    XObjectKind("users", ("username", "screen_name")),
    XObjectKind("communities", ("join_policy", "access")),
    XObjectKind("lists", ("owner_id", "member_count", "follower_count", "private")),
    XObjectKind("spaces", ("state", "host_ids", "creator_id", "participant_count", "scheduled_start", "speaker_ids")),
    XObjectKind("trends", ("trend_name",)),
    XObjectKind("post counts (/2/tweets/counts)", ("tweet_count",)),
    XObjectKind("compliance jobs", ("upload_url", "download_url", "resumable")),
    XObjectKind("compliance results", ("redacted_at", "action")),
    XObjectKind(
        "compliance stream events",
        (
            "delete",
            "withheld",
            "drop",
            "undrop",
            "scrub_geo",
            "user_delete",
            "user_undelete",
            "user_suspend",
            "user_unsuspend",
            "user_withheld",
            "user_protect",
            "user_unprotect",
            "user_profile_modification",
        ),
    ),
    XObjectKind("usage", ("project_usage", "daily_project_usage", "cap_reset_day", "project_cap")),
    XObjectKind("filtered-stream rules", ("value", "tag")),
)


@dataclass(frozen=True)
class XObject:
    """A recognised non-post kind and the key that gave it away."""

    kind: XObjectKind
    key: str

    def message(self, noun: str, items: str) -> str:
        """``noun`` says what was found, ``{name}`` standing for the kind: "an X API {name} page"
        gives "an X API users page (data items have 'username' and no 'text'); claimwatch reads
        posts: use twarc2 search or timeline output (posts)"."""
        evidence = f"'{self.key}'" if self.kind.with_text else f"'{self.key}' and no 'text'"
        return f"{noun.format(name=self.kind.name)} ({items} have {evidence}); claimwatch reads posts: {self.kind.hint}"


def classify(keys: Collection[str]) -> XObject | None:
    """The non-post kind of an object (or a CSV header) with these top-level keys; None for a
    post or anything not recognised. Runs for every item read, so it only probes keys."""
    present = keys if isinstance(keys, (dict, set, frozenset)) else set(keys)
    has_text = any(key in present for key in POST_TEXT_KEYS)
    for kind in KINDS:
        if has_text and not kind.with_text:
            continue
        hit = next((marker for marker in kind.markers if marker in present), None)
        if hit is not None:
            return XObject(kind, hit)
    return None


def page_kind(data: Any) -> XObject | None:
    """The non-post kind of a page's ``data`` (an array, or one object for a single lookup),
    when none of its items is a post."""
    items = data if isinstance(data, list) else [data]
    first = None
    for item in items:
        if isinstance(item, dict):
            kind = classify(item)
            if kind is None:
                return None
            first = first or kind
    return first
