"""Manipulated media without a label (issue 14 item 5): the study's posts whose media matches a
bank item a fact-checker labelled manipulated or AI-generated, or whose file's *valid* C2PA
manifest declares AI generation — and which, at the study's dates, carried no platform label and
showed no Community Note.

The rules, in the words the study's methods use:

- **Which posts**: the posts the study's post rules select (accounts, window, platforms, kinds,
  topic), whether or not their text matched a fact-check.
- **A media match** is a ``matches`` row whose method starts with ``media:`` and whose fact-check
  is a bank item's own row; it counts by the study's match rules (analyst-confirmed, or
  machine-proposed when the study takes proposals, from its minimum confidence), and only when
  the bank item's label is ``manipulated`` or ``ai-generated`` (a ``miscaptioned`` item is real
  media in a false context: not counted here). Confirmed and proposed stay apart.
- **A manifest** counts only when valid and declaring ``trainedAlgorithmicMedia`` or
  ``compositeWithTrainedAlgorithmicMedia``; an invalid, absent or unreadable one says nothing.
- **Label state**: X's label stream is the only label source claimwatch reads, so a post's
  "no label" is known only for X posts in a store holding a completed label-stream ingest;
  elsewhere it is unknown. **Notes**: the post's own notes as the study counts them (a status
  unknown stays unknown). Media notes (X shows a note on every post carrying a matching image) are
  not read yet. A post whose label or note state is unknown is counted apart with the reason,
  never as unlabelled — as the study counts unknown note statuses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.post_rows import ANALYST_CONFIRMED, MACHINE_PROPOSED, AsOf, PostRow, post_rows
from claimwatch.analysis.reach import Total, describe_views
from claimwatch.media.provenance import ProvenanceState, provenance_of
from claimwatch.media.records import MANIPULATED_LABELS, MEDIA_METHOD_PREFIX
from claimwatch.records import MatchStatus
from claimwatch.store import repo
from claimwatch.store.media_evidence import BankItemRef, bank_items_by_factcheck
from claimwatch.store.media_matches import PostFile, post_files
from claimwatch.store.rows import StoredMatch, StoredPost
from claimwatch.wording import count

#: the platform whose labels claimwatch reads (X's label stream) and the ingest kind that reads them
LABELLED_PLATFORM, LABEL_INGEST = "x", "labels"


class LabelState(StrEnum):
    """The post at the study's dates: carried a label or showed a note; neither (counted);
    or neither known (counted apart)."""

    LABELLED = "labelled"
    NOTED = "noted"
    UNLABELLED = "unlabelled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class BankMatch:
    """A media match that flags the post: the bank item, its label and how the match stands."""

    match_id: int
    #: the post's media the match is on (the matcher's evidence ``media.media_key``; None: not said)
    media_key: str | None
    bank_item: int
    label: str
    factcheck_url: str
    #: analyst-confirmed or machine-proposed
    match_method: str
    matcher: str
    score: float
    confidence: float | None
    #: the matcher's evidence as stored (distance, matched frames or time ranges, offset)
    evidence: dict[str, Any]


@dataclass(frozen=True)
class AiManifest:
    """A post's media file whose valid C2PA manifest declares AI generation."""

    media_key: str
    sha256: str
    digital_source_type: str | None
    claim_generator: str | None
    issuer: str | None
    #: trusted or untrusted (no trust list loaded: the usual case)
    signer: str | None


@dataclass(frozen=True)
class MediaPost:
    """One post with manipulated media, its views at the study's date and its label and note state."""

    post_id: str
    platform: str
    url: str | None
    created_at: datetime | None
    account: str | None
    text: str
    media_keys: tuple[str, ...]
    bank_matches: tuple[BankMatch, ...]
    ai_manifests: tuple[AiManifest, ...]
    views: int | None
    views_observed_at: datetime | None
    label_state: LabelState
    #: the label carried (its event type) when labelled
    label: str | None
    #: shown / none shown / status unknown, as the study's notes say it
    notes: str
    #: why the state is unknown (None otherwise)
    state_reason: str | None
    #: the strongest evidence: analyst-confirmed match, AI manifest, machine-proposed match
    evidence: str
    #: the post is also among the study's debunked-claim posts (its text or a media match's rating)
    in_headline: bool


@dataclass(frozen=True)
class ManipulatedMedia:
    """The ``manipulated_media`` block: posts with manipulated media and how many went unlabelled."""

    posts: int
    #: no platform label and no Community Note at the study's dates (known), and their views
    posts_without_label: int
    views_without_label: int | None
    views_unknown_without_label: int
    #: posts_without_label by strongest evidence (together they make posts_without_label)
    without_label_analyst_confirmed: int
    without_label_ai_manifest: int
    without_label_machine_proposed_only: int
    posts_labelled: int
    posts_noted: int
    #: label or note state unknown: counted apart, never as unlabelled
    posts_state_unknown: int
    labels_at: datetime
    notes_as_of: datetime | None
    rows: tuple[MediaPost, ...]

    def sentence(self) -> str | None:
        """The headline's sentence (None when no post has manipulated media)."""
        if not self.posts:
            return None
        views = describe_views(self.posts_without_label, self.views_without_label, self.views_unknown_without_label)
        unknown = f"; state unknown for {self.posts_state_unknown:,}" if self.posts_state_unknown else ""
        return (
            f"{count(self.posts, 'post')} carried media a fact-checker labelled manipulated or AI-generated, or "
            f"declared AI-generated by its own C2PA manifest; {self.posts_without_label:,} of them had no platform "
            f"label at {rfc3339(self.labels_at)[:10]} and showed no Community Note, with {views}: "
            f"{self.without_label_analyst_confirmed:,} by an analyst-confirmed media match, "
            f"{self.without_label_ai_manifest:,} by their own manifest, "
            f"{self.without_label_machine_proposed_only:,} by a machine-proposed media match only. "
            f"{self.posts_labelled:,} labelled, {self.posts_noted:,} noted{unknown}."
        )


def manipulated_media(
    conn: sa.Connection,
    posts: Sequence[StoredPost],
    matches: Mapping[int, Sequence[StoredMatch]],
    counts: Callable[[StoredMatch], bool],
    as_of: AsOf,
    headline: set[int],
) -> ManipulatedMedia:
    """The block for ``posts`` (the study's on-topic posts); ``matches``: their confirmed and
    proposed matches; ``counts``: the study's match-status rules; ``headline``: the ids of the
    posts the study's headline counts."""
    ids = [p.id for p in posts]
    media_matches = {
        pid: [m for m in ms if m.method.startswith(MEDIA_METHOD_PREFIX) and counts(m)] for pid, ms in matches.items()
    }
    items = bank_items_by_factcheck(conn, [m.factcheck.id for ms in media_matches.values() for m in ms])
    files: dict[int, list[PostFile]] = {}
    for f in sorted(post_files(conn, ids), key=lambda f: (f.post_id, f.media_key)):
        files.setdefault(f.post_id, []).append(f)
    prov = provenance_of(conn, [f.file_id for fs in files.values() for f in fs])
    bank = {pid: tuple(_bank_matches(ms, items)) for pid, ms in media_matches.items()}
    manifests = {
        pid: tuple(
            AiManifest(f.media_key, f.sha256, p.digital_source_type, p.claim_generator, p.issuer, p.signer)
            for f in fs
            if (p := prov.get(f.file_id)) and p.state is ProvenanceState.VALID and p.ai_declared
        )
        for pid, fs in files.items()
    }
    flagged = [p for p in posts if bank.get(p.id) or manifests.get(p.id)]
    flagged_matches = {p.id: [m for m in media_matches.get(p.id, []) if _manipulated(m, items)] for p in flagged}
    rows = post_rows(conn, flagged, flagged_matches, as_of)
    labels_read = any(r.kind == LABEL_INGEST and r.status == "completed" for r in repo.ingest_runs(conn))
    out = [
        _media_post(row, bank.get(p.id, ()), manifests.get(p.id, ()), labels_read, p.id in headline)
        for p, row in zip(flagged, rows, strict=True)
    ]
    out.sort(key=lambda r: (r.label_state != LabelState.UNLABELLED, r.views is None, -(r.views or 0), r.post_id))
    without = [r for r in out if r.label_state is LabelState.UNLABELLED]
    t = Total()
    for r in without:
        t.add(r.views)
    by = {e: sum(r.evidence == e for r in without) for e in (ANALYST_CONFIRMED, AI_MANIFEST, MACHINE_PROPOSED)}
    return ManipulatedMedia(
        posts=len(out),
        posts_without_label=len(without),
        views_without_label=t.views,
        views_unknown_without_label=t.views_unknown,
        without_label_analyst_confirmed=by[ANALYST_CONFIRMED],
        without_label_ai_manifest=by[AI_MANIFEST],
        without_label_machine_proposed_only=by[MACHINE_PROPOSED],
        posts_labelled=sum(r.label_state is LabelState.LABELLED for r in out),
        posts_noted=sum(r.label_state is LabelState.NOTED for r in out),
        posts_state_unknown=sum(r.label_state is LabelState.UNKNOWN for r in out),
        labels_at=as_of.labels,
        notes_as_of=as_of.notes,
        rows=tuple(out),
    )


#: the evidence word of a post flagged by its own manifest
AI_MANIFEST = "ai-manifest"


def _manipulated(m: StoredMatch, items: Mapping[int, list[BankItemRef]]) -> bool:
    return any(i.label in MANIPULATED_LABELS for i in items.get(m.factcheck.id, []))


def _bank_matches(ms: Sequence[StoredMatch], items: Mapping[int, list[BankItemRef]]) -> list[BankMatch]:
    out = []
    for m in ms:
        for item in items.get(m.factcheck.id, []):
            if item.label in MANIPULATED_LABELS:
                media = m.evidence.get("media") if isinstance(m.evidence, dict) else None
                key = media.get("media_key") if isinstance(media, dict) else None
                out.append(
                    BankMatch(
                        m.id,
                        key if isinstance(key, str) else None,
                        item.id,
                        item.label,
                        m.factcheck.review_url,
                        ANALYST_CONFIRMED if m.status == MatchStatus.CONFIRMED else MACHINE_PROPOSED,
                        m.method,
                        round(m.score, 4),
                        None if m.confidence is None else round(m.confidence, 4),
                        m.evidence if isinstance(m.evidence, dict) else {},
                    )
                )
    return out


def _media_post(
    row: PostRow, bank: tuple[BankMatch, ...], manifests: tuple[AiManifest, ...], labels_read: bool, in_headline: bool
) -> MediaPost:
    state, reason = _state(row, labels_read)
    evidence = (
        ANALYST_CONFIRMED
        if any(b.match_method == ANALYST_CONFIRMED for b in bank)
        else AI_MANIFEST
        if manifests
        else MACHINE_PROPOSED
    )
    keys = [b.media_key for b in bank if b.media_key] + [m.media_key for m in manifests]
    return MediaPost(
        post_id=row.post_id,
        platform=row.platform,
        url=row.url,
        created_at=row.created_at,
        account=row.account,
        text=row.text,
        media_keys=tuple(dict.fromkeys(keys)) or tuple(m.media_key for m in row.media),
        bank_matches=bank,
        ai_manifests=manifests,
        views=row.views,
        views_observed_at=row.views_observed_at,
        label_state=state,
        label=row.platform_label.event_type,
        notes=row.community_notes.describe(),
        state_reason=reason,
        evidence=evidence,
        in_headline=in_headline,
    )


def _state(row: PostRow, labels_read: bool) -> tuple[LabelState, str | None]:
    """Labelled or noted first (a known label or note settles it), then unknown, then unlabelled."""
    if row.platform_label.present:
        return LabelState.LABELLED, None
    notes = row.community_notes
    if notes.shown_now:
        return LabelState.NOTED, None
    reasons = []
    if row.platform != LABELLED_PLATFORM:
        reasons.append(f"claimwatch reads no platform labels of {row.platform} posts")
    elif not labels_read:
        reasons.append("no X label stream has been ingested")
    if notes.shown_now is None:
        reasons.append(f"Community Note status unknown: {notes.status_reason}")
    return (LabelState.UNKNOWN, "; ".join(reasons)) if reasons else (LabelState.UNLABELLED, None)


def media_rule(media: ManipulatedMedia) -> str:
    """The methods' sentence: which posts are flagged, what "without a label" means, and unknowns."""
    notes_at = f"at {rfc3339(media.notes_as_of)}" if media.notes_as_of else "in the latest notes snapshot"
    return (
        "Manipulated media without a label: a post the study’s account, window, platform and kind rules select "
        "(not its topic rule: a topic is read from a post’s text, and a re-shared image or video often comes "
        "with none) whose media matches a bank "
        "item a fact-checker labelled manipulated or ai-generated (a media match counted by the study’s match "
        "rules, analyst-confirmed and machine-proposed kept apart; miscaptioned items are not counted), or "
        "whose file’s valid C2PA manifest declares trainedAlgorithmicMedia or "
        "compositeWithTrainedAlgorithmicMedia (an invalid, absent or unreadable manifest says nothing), "
        f"counted when it carried no platform label at {rfc3339(media.labels_at)} and showed no Community Note "
        f"{notes_at}. Labels are read from X’s label stream only: a post on another platform, or any post "
        "when no label stream was ingested, has an unknown label state and is counted apart, never as "
        "unlabelled; so is a post whose note status is unknown. Notes attached to matching media (media notes) "
        f"are not read. {count(media.posts, 'post')} flagged, {media.posts_without_label:,} without a label, "
        f"{media.posts_state_unknown:,} with an unknown state."
    )
