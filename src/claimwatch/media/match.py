"""The media matcher: post media against the bank of debunked items.

Runs after ``media fetch``: hashes the fetched files not hashed yet (and reads their C2PA
provenance), then matches every post's hashed files against the bank —

- exact copies by SHA-256 / MD5;
- images and video frames by PDQ through the bank's FAISS index (distance ≤ 31 of quality ≥ 50 by
  default), then the item's own rule (:mod:`claimwatch.media.compare`): the closest variant for an
  image, the share of matched frames and the clip's offset for a video, a screenshot of a banked
  video as an image matching one of its frames;
- sound (audio files, videos' tracks) by Chromaprint bit-error rate at the best alignment, against
  every banked print (the bank's audio is small next to its images; linear in it).

A match is a ``matches`` row on the item's own fact-check (method ``media:…``, its evidence with
it), a *proposal* like a text proposal: it joins the same review queue and reports, and analysts
confirm or reject it. Its ``confidence`` is None: these rules are thresholds, not a calibrated
model, so a study's confidence rule does not apply to them (its methods say so).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from claimwatch.claims.relation import REPEATS
from claimwatch.media import compare
from claimwatch.media.guard import DEFAULT_LIMITS, Limits
from claimwatch.media.hashing import hash_file
from claimwatch.media.index import bank_index
from claimwatch.media.provenance import read_provenance
from claimwatch.media.records import MEDIA_METHOD_PREFIX, AudioPrint, MediaKind, PdqHash, Refused
from claimwatch.store import media_bank, media_files, media_matches, media_provenance
from claimwatch.store.matches import CandidateRow, PostMatches, write_matches_many
from claimwatch.store.media_matches import BankEntry, PostFile

log = logging.getLogger(__name__)

#: how many posts' files are matched and written per transaction
BATCH = 500


@dataclass(frozen=True, slots=True)
class MediaRules:
    """The thresholds, configurable (``claimwatch media match --max-distance …``)."""

    max_distance: int = compare.PDQ_MAX_DISTANCE
    min_quality: int = compare.PDQ_MIN_QUALITY
    min_share: float = compare.VIDEO_MIN_SHARE
    max_ber: float = compare.AUDIO_MAX_BER
    min_matched_ms: int = compare.MIN_MATCHED_MS

    @property
    def key(self) -> str:
        """The rules in a few characters: part of what a post was last matched with."""
        return f"d{self.max_distance}q{self.min_quality}s{self.min_share:g}b{self.max_ber:g}m{self.min_matched_ms}"


@dataclass
class MediaMatchReport:
    """What a run did: files hashed or refused (with why), posts matched, proposals by method."""

    hashed: int = 0
    refused: list[str] = field(default_factory=list)
    provenance_read: int = 0
    posts: int = 0
    files: int = 0
    bank_items: int = 0
    proposals: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Found:
    """One bank item matched by one post file: the method, a score in [0, 1] and the evidence."""

    item: BankEntry
    method: str
    score: float
    evidence: dict[str, Any]


def hash_pending(
    engine: sa.Engine, media_dir: Path, limits: Limits = DEFAULT_LIMITS, report: MediaMatchReport | None = None
) -> MediaMatchReport:
    """Hash every stored file not hashed yet, and read its provenance; a refused file is recorded
    with its reason (one line) and never taken as hashed. Each file lands in its own transaction:
    an interrupted run keeps what it finished and leaves the rest to the next."""
    report = report or MediaMatchReport()
    with engine.connect() as conn:
        todo = media_matches.files_to_hash(conn)
    for f in todo:
        path = media_dir / f.path
        try:
            hashes = hash_file(path, limits, for_bank=False)
            if hashes.sha256 != f.sha256:
                raise Refused(f"{path}: its bytes changed since they were fetched (SHA-256 {hashes.sha256[:12]}…)")
        except Refused as exc:
            with engine.begin() as conn:
                media_matches.refuse_file(conn, f.file_id, str(exc))
            report.refused.append(str(exc))
            continue
        provenance = read_provenance(path)
        with engine.begin() as conn:
            media_files.upsert_file(conn, hashes, f.path)
            media_provenance.save_provenance(conn, f.file_id, provenance)
        report.hashed += 1
        report.provenance_read += 1
    return report


def match_media(
    engine: sa.Engine,
    media_dir: Path,
    *,
    rules: MediaRules = MediaRules(),
    limits: Limits = DEFAULT_LIMITS,
    post_ids: Sequence[int] | None = None,
    rematch: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> MediaMatchReport:
    """Hash what is pending, then match the posts' hashed files against the bank and replace the
    posts' machine media proposals (analyst decisions stay). Which posts: ``post_ids``; else, with
    ``rematch``, every post with hashed media; else those not matched against this bank with these
    rules yet, or not since a file of theirs was hashed (a re-run after nothing changed matches
    nothing)."""
    report = hash_pending(engine, media_dir, limits)
    with engine.connect() as conn:
        version = f"{media_bank.bank_version(conn)}|{rules.key}"  # other thresholds: match again
        if post_ids is None and not rematch:
            post_ids = media_matches.posts_to_match(conn, version)
        files = media_matches.post_files(conn, post_ids)
        bank = media_matches.bank_entries(conn)
        prints = media_matches.bank_prints(conn) if bank else {}
    report.bank_items = len(bank)
    by_post: dict[int, list[PostFile]] = defaultdict(list)
    for f in files:
        by_post[f.post_id].append(f)
    report.posts, report.files = len(by_post), len(files)
    index = bank_index(engine, min_quality=rules.min_quality) if bank else None
    posts = sorted(by_post)
    done = 0
    banked_pdq: dict[int, list[PdqHash]] = {}  # the matched items' hashes, read once a run
    for start in range(0, len(posts), BATCH):
        batch = posts[start : start + BATCH]
        with engine.connect() as conn:
            batch_files = [f for p in batch for f in by_post[p]]
            hashes = media_files.file_hashes(conn, [f.file_id for f in batch_files])
            found = _match_files(batch_files, hashes, bank, prints, index, rules, conn, banked_pdq)
        rows = [_post_matches(post_id, found.get(post_id, []), report) for post_id in batch]
        with engine.begin() as conn:
            write_matches_many(conn, rows, None, media=True)
            media_matches.set_matched(conn, batch, version)
        done += len(batch)
        if progress:
            progress(done, len(posts))
    return report


def _match_files(
    files: Sequence[PostFile],
    hashes: dict[int, tuple[tuple[PdqHash, ...], AudioPrint | None]],
    bank: dict[int, BankEntry],
    prints: dict[int, AudioPrint],
    index: Any,
    rules: MediaRules,
    conn: sa.Connection,
    banked_pdq: dict[int, list[PdqHash]],
) -> dict[int, list[_Found]]:
    """Each post's matches (every file, every item it matched), before choosing the best per item."""
    by_sha = {e.sha256: e for e in bank.values() if e.sha256}
    by_md5 = {e.md5: e for e in bank.values() if e.md5}
    out: dict[int, list[_Found]] = defaultdict(list)
    for f in files:
        pdq, audio = hashes.get(f.file_id, ((), None))
        where = {"media_key": f.media_key, "file_sha256": f.sha256, "kind": f.kind}
        exact = by_sha.get(f.sha256) or by_md5.get(f.md5)
        if exact is not None:
            digest = "sha256" if by_sha.get(f.sha256) is exact else "md5"
            out[f.post_id].append(_Found(exact, f"{MEDIA_METHOD_PREFIX}{digest}", 1.0, {**where, "exact": digest}))
        if index is not None and pdq:
            out[f.post_id].extend(_pdq_matches(f, pdq, bank, index, rules, conn, where, banked_pdq))
        if audio is not None and audio.values:
            out[f.post_id].extend(_audio_matches(audio, bank, prints, rules, where))
    return out


def _pdq_matches(
    f: PostFile,
    pdq: tuple[PdqHash, ...],
    bank: dict[int, BankEntry],
    index: Any,
    rules: MediaRules,
    conn: sa.Connection,
    where: dict[str, Any],
    banked_pdq: dict[int, list[PdqHash]],
) -> list[_Found]:
    """Items whose PDQ hashes the index finds near the file's, judged by the item's own rule.
    ``banked_pdq``: the items' hashes read so far this run (a viral item is read once, not per post)."""
    query = [h for h in pdq if h.quality >= rules.min_quality]
    if not query:
        return []
    _, ids, _ = index.search(np.frombuffer(b"".join(h.value for h in query), dtype=np.uint8), rules.max_distance)
    refs = media_bank.hash_refs(conn, [int(i) for i in ids])
    items = sorted({ref.item_id for ref in refs.values() if ref.item_id in bank})
    missing = [i for i in items if i not in banked_pdq]
    for item_id, (item_hashes, _md5) in media_bank.item_hashes(conn, missing).items():
        banked_pdq[item_id] = [
            PdqHash(h.value, h.quality if h.quality is not None else 100, h.variant, h.t_ms) for h in item_hashes
        ]
    found = []
    for item_id in items:
        entry, banked = bank[item_id], banked_pdq[item_id]
        if f.kind == MediaKind.VIDEO and entry.kind == MediaKind.VIDEO:
            v = compare.match_video(
                pdq,
                banked,
                rules.max_distance,
                rules.min_quality,
                rules.min_share,
                rules.min_matched_ms,
            )
            if v.matched:
                found.append(_Found(entry, f"{MEDIA_METHOD_PREFIX}video-pdq", v.share, {**where, **_video_evidence(v)}))
            continue
        m = compare.match_image(pdq, banked, rules.max_distance, rules.min_quality)
        if m.matched and m.distance is not None:
            frame = _frame_time(banked, m.bank_variant, pdq, m.distance) if entry.kind == MediaKind.VIDEO else None
            evidence = {
                **where,
                "pdq_distance": m.distance,
                "query_variant": m.query_variant,
                "bank_variant": m.bank_variant,
                "query_quality": m.query_quality,
                "bank_quality": m.bank_quality,
                "bank_frame_ms": frame,
            }
            found.append(_Found(entry, f"{MEDIA_METHOD_PREFIX}pdq", 1 - m.distance / 256, evidence))
    return found


def _frame_time(banked: list[PdqHash], variant: str | None, query: tuple[PdqHash, ...], distance: int) -> int | None:
    """The time of the banked video frame an image matched (a screenshot of the video)."""
    best = compare.distances(compare.pack(list(query)), compare.pack(banked)).min(axis=0)
    for h, d in zip(banked, best, strict=True):
        if int(d) == distance and h.variant == variant:
            return h.t_ms
    return None


def _video_evidence(v: compare.VideoMatch) -> dict[str, Any]:
    return {
        "matched_frames": v.matched_frames,
        "query_frames": v.query_frames,
        "share": round(v.share, 4),
        "offset_ms": v.offset_ms,
        "speed": round(v.speed, 3) if v.speed is not None else None,
        "matched_ms": v.matched_ms,
        "median_distance": v.median_distance,
        "ranges": [[r.query_start_ms, r.query_end_ms, r.bank_start_ms, r.bank_end_ms] for r in v.ranges],
    }


def _audio_matches(
    audio: AudioPrint, bank: dict[int, BankEntry], prints: dict[int, AudioPrint], rules: MediaRules, where: dict
) -> list[_Found]:
    found = []
    for item_id, banked in prints.items():
        if item_id not in bank:
            continue
        a = compare.match_audio(audio, banked, rules.max_ber, rules.min_matched_ms)
        if a.matched and a.ber is not None:
            evidence = {
                **where,
                "ber": a.ber,
                "matched_ber": a.matched_ber,
                "offset_ms": a.offset_ms,
                "overlap_ms": a.overlap_ms,
                "matched_ms": a.matched_ms,
                "ranges": [[r.query_start_ms, r.query_end_ms, r.bank_start_ms, r.bank_end_ms] for r in a.ranges],
            }
            found.append(_Found(bank[item_id], f"{MEDIA_METHOD_PREFIX}chromaprint", 1 - a.ber, evidence))
    return found


def _post_matches(post_id: int, found: list[_Found], report: MediaMatchReport) -> PostMatches:
    """One candidate per matched item (its best evidence; every method that found it listed),
    ranked by score; all are proposals."""
    per_item: dict[int, list[_Found]] = defaultdict(list)
    for hit in found:
        per_item[hit.item.item_id].append(hit)
    best = [(max(hits, key=lambda h: h.score), sorted({h.method for h in hits})) for hits in per_item.values()]
    best.sort(key=lambda pair: (-pair[0].score, pair[0].item.item_id))
    candidates = []
    for rank, (hit, methods) in enumerate(best, start=1):
        evidence = {
            "media": {**hit.evidence, "bank_item": hit.item.item_id, "label": hit.item.label, "methods": methods}
        }
        candidates.append(CandidateRow(hit.item.factcheck_id, rank, round(hit.score, 4), evidence, None, True, REPEATS))
        for method in methods:
            report.proposals[method] = report.proposals.get(method, 0) + 1
    method = "+".join(sorted({m for _, ms in best for m in ms})) or f"{MEDIA_METHOD_PREFIX}none"
    return PostMatches(post_id, candidates, method[:64])
