"""The matching rules for media, index-free: given a query's hashes and one bank item's, do they
match, and on what evidence (distance, frames and time ranges, bit-error rate, offset)?

The store's matcher (after an index has found candidates) and the robustness benchmark share
these, so the figures measure the rules the tool applies. Defaults:

* images: PDQ Hamming distance ≤ 31 with both qualities ≥ 50 (Meta's PDQ README and
  python-threatexchange's ``PDQ_CONFIDENT_MATCH_THRESHOLD``/``QUALITY_THRESHOLD``);
* video: each query frame's nearest banked frame under the image rule; the share of query frames
  matched, the clip's place in the bank video (a robust line fit: start offset and speed);
* audio: Chromaprint bit-error rate at the best alignment, over every offset; a match needs
  ``min_matched_ms`` (5 s) of aligned sound under ``max_ber`` — the threshold chosen on the
  benchmark's tuning seed (see the notes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from claimwatch.media.audio import FRAME_MS, frames_for_ms
from claimwatch.media.records import AudioPrint, PdqHash

PDQ_MAX_DISTANCE = 31
PDQ_MIN_QUALITY = 50
VIDEO_MIN_SHARE = 0.5
VIDEO_MIN_FRAMES = 3
AUDIO_MAX_BER = 0.2
MIN_MATCHED_MS = 5000
#: the window over which audio bit errors are averaged to tell matched stretches from the rest
AUDIO_WINDOW_MS = 2000


# ---------------------------------------------------------------- PDQ


def pack(hashes: Sequence[PdqHash | bytes]) -> np.ndarray:
    """Hashes as an (N, 4) uint64 array, the form :func:`distances` counts bits in."""
    raw = b"".join(h.value if isinstance(h, PdqHash) else h for h in hashes)
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4) if raw else np.zeros((0, 4), np.uint64)


def distances(query: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """All Hamming distances between packed hashes: (Q, B) int array."""
    return np.bitwise_count(query[:, None, :] ^ bank[None, :, :]).sum(axis=2, dtype=np.int32)


def pdq_distance(a: PdqHash | bytes, b: PdqHash | bytes) -> int:
    return int(distances(pack([a]), pack([b]))[0, 0])


def _eligible(hashes: Sequence[PdqHash], min_quality: int) -> list[PdqHash]:
    return [h for h in hashes if h.quality >= min_quality]


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """The closest pair of hashes (both of quality ≥ the minimum) and whether it is a match.
    ``distance`` is None when either side had no hash of sufficient quality."""

    matched: bool
    distance: int | None
    query_variant: str | None = None
    bank_variant: str | None = None
    query_quality: int | None = None
    bank_quality: int | None = None


def match_image(
    query_hashes: Sequence[PdqHash],
    bank_hashes: Sequence[PdqHash],
    max_distance: int = PDQ_MAX_DISTANCE,
    min_quality: int = PDQ_MIN_QUALITY,
) -> ImageMatch:
    """Any query hash (original, trimmed) within ``max_distance`` of any banked variant."""
    query, bank = _eligible(query_hashes, min_quality), _eligible(bank_hashes, min_quality)
    if not query or not bank:
        return ImageMatch(False, None)
    dist = distances(pack(query), pack(bank))
    qi, bi = np.unravel_index(int(np.argmin(dist)), dist.shape)
    best = int(dist[qi, bi])
    q, b = query[qi], bank[bi]
    return ImageMatch(best <= max_distance, best, q.variant, b.variant, q.quality, b.quality)


# ---------------------------------------------------------------- video


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A matched stretch: query time and the bank time it corresponds to (ms, end exclusive)."""

    query_start_ms: int
    query_end_ms: int
    bank_start_ms: int
    bank_end_ms: int


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """``share``: matched query frames / query frames of sufficient quality. ``offset_ms``: where
    the query's start lies in the bank video (may be negative when the query starts earlier);
    ``speed``: bank time per query time (1.25 for a clip sped up 1.25×)."""

    matched: bool
    share: float
    matched_frames: int
    query_frames: int
    offset_ms: int | None
    speed: float | None
    matched_ms: int
    ranges: tuple[TimeRange, ...]
    median_distance: float | None


def match_video(
    query_frames: Sequence[PdqHash],
    bank_frames: Sequence[PdqHash],
    max_distance: int = PDQ_MAX_DISTANCE,
    min_quality: int = PDQ_MIN_QUALITY,
    min_share: float = VIDEO_MIN_SHARE,
    min_matched_ms: int = MIN_MATCHED_MS,
    min_frames: int = VIDEO_MIN_FRAMES,
) -> VideoMatch:
    """A query video (sparse frames, any variants) against a banked one (dense frames).

    Matched when at least ``min_frames`` query frames match and either ``min_share`` of them do
    (a re-share of the item) or they cover ``min_matched_ms`` (the item inside a longer video)."""
    query = [h for h in _eligible(query_frames, min_quality) if h.t_ms is not None]
    bank = [h for h in _eligible(bank_frames, min_quality) if h.t_ms is not None]
    times = sorted({h.t_ms for h in query})  # type: ignore[misc]
    if not times or not bank:
        return VideoMatch(False, 0.0, 0, len(times), None, None, 0, (), None)
    dist = distances(pack(query), pack(bank))
    bank_t = np.array([h.t_ms for h in bank], dtype=np.int64)
    query_t = np.array([h.t_ms for h in query], dtype=np.int64)
    best: dict[int, int] = {}  # query t → its smallest distance, for the matched ones
    candidates: list[tuple[int, np.ndarray]] = []  # query t → bank times near its best
    for t in times:
        per_bank = dist[query_t == t].min(axis=0)  # the best variant against each bank frame
        low = int(per_bank.min())
        if low > max_distance:
            continue
        best[t] = low
        near = np.flatnonzero(per_bank <= min(max_distance, low + TIE_BITS))
        if len(near) > MAX_CANDIDATES:
            near = near[np.argsort(per_bank[near], kind="stable")[:MAX_CANDIDATES]]
        candidates.append((t, bank_t[near]))
    step = int(np.median(np.diff(times))) if len(times) > 1 else 1000
    offset, speed = _line(candidates)
    matched_times = sorted(best)
    ranges = _ranges(matched_times, step, offset, speed)
    matched_ms = sum(r.query_end_ms - r.query_start_ms for r in ranges)
    share = len(best) / len(times)
    needed = min(min_frames, len(times))
    matched = len(best) >= needed and (share >= min_share or matched_ms >= min_matched_ms)
    median = float(np.median(list(best.values()))) if best else None
    return VideoMatch(matched, share, len(best), len(times), offset, speed, matched_ms, tuple(ranges), median)


#: bank frames within this many bits of a query frame's best are equally good candidates
TIE_BITS = 4
MAX_CANDIDATES = 32
#: the speeds tried (0.5× to 2×, ~2 % apart, and exactly 1) and the offset bin of the vote
_SPEEDS = np.unique(np.r_[np.exp(np.linspace(np.log(0.5), np.log(2.0), 71)), 1.0])
_OFFSET_BIN_MS = 500


def _line(candidates: Sequence[tuple[int, np.ndarray]]) -> tuple[int | None, float | None]:
    """bank t ≈ offset + speed · query t, by a vote: every query frame votes once for each
    (speed, offset) its candidate bank frames allow — all frames near its best, not just the
    best, so a still or a loop (many equally good frames) does not drag the line to its first
    moment — and the line with the most query frames wins (the speed nearest 1 on a tie). Then
    each frame's candidate nearest that line, and a Theil–Sen fit on those (median of pairwise
    slopes, then the median intercept) for the speed and the offset of the clip's start."""
    if not candidates:
        return None, None
    q = np.concatenate([np.full(len(b), t, dtype=np.float64) for t, b in candidates])
    b = np.concatenate([bt.astype(np.float64) for _, bt in candidates])
    frame = np.concatenate([np.full(len(bt), i) for i, (_, bt) in enumerate(candidates)])
    best_votes, best_speed, best_bin = -1, 1.0, 0
    for speed in sorted(_SPEEDS, key=lambda s: abs(np.log(s))):  # nearest 1 first: wins ties
        bins = np.round((b - speed * q) / _OFFSET_BIN_MS).astype(np.int64)
        keys = np.unique(np.stack([bins, frame], axis=1), axis=0)  # one vote per frame and bin
        values, counts = np.unique(keys[:, 0], return_counts=True)
        k = int(np.argmax(counts))
        if counts[k] > best_votes:
            best_votes, best_speed, best_bin = int(counts[k]), float(speed), int(values[k])
    centre = best_bin * _OFFSET_BIN_MS
    residual = np.abs(b - best_speed * q - centre)
    inliers = []  # each frame's candidate nearest the voted line, when near it
    for i in range(len(candidates)):
        j = int(np.argmin(np.where(frame == i, residual, np.inf)))
        if residual[j] <= _OFFSET_BIN_MS:
            inliers.append(j)
    qi, bi = q[inliers], b[inliers]
    speed = best_speed
    if len(inliers) >= 3:  # refine the grid's speed: Theil–Sen (median pairwise slope) on the inliers
        i, j = np.triu_indices(len(inliers), k=1)
        speed = float(np.clip(np.median((bi[j] - bi[i]) / (qi[j] - qi[i])), 0.5, 2.0))
    offset = float(np.median(bi - speed * qi)) if inliers else float(centre)
    return int(round(offset)), round(speed, 3)


def _ranges(times: Sequence[int], step: int, offset: int | None, speed: float | None) -> list[TimeRange]:
    """Runs of matched query frames (gaps of one missed frame bridged), each with its bank span."""
    out: list[TimeRange] = []
    if not times or offset is None or speed is None:
        return out
    start = prev = times[0]
    for t in [*times[1:], None]:
        if t is not None and t - prev <= 2 * step:
            prev = t
            continue
        end = prev + step
        out.append(TimeRange(start, end, round(offset + speed * start), round(offset + speed * end)))
        if t is not None:
            start = prev = t
    return out


# ---------------------------------------------------------------- audio


@dataclass(frozen=True, slots=True)
class AudioMatch:
    """``ber``: bit-error rate over the whole overlap at the best alignment; ``matched_ber``:
    over the matched stretches only. ``offset_ms``: where the query's start lies in the banked
    audio (negative when the query starts before it)."""

    matched: bool
    ber: float | None
    matched_ber: float | None
    offset_ms: int | None
    overlap_ms: int
    matched_ms: int
    ranges: tuple[TimeRange, ...]


def match_audio(
    query_print: AudioPrint,
    bank_print: AudioPrint,
    max_ber: float = AUDIO_MAX_BER,
    min_matched_ms: int = MIN_MATCHED_MS,
) -> AudioMatch:
    """Slide the query's print over the bank's, every alignment that overlaps by at least
    ``min_matched_ms`` (or the shorter print), and take the one with the lowest bit-error rate.

    Matched when the stretches whose ``AUDIO_WINDOW_MS`` moving bit-error rate is under
    ``max_ber`` add up to ``min_matched_ms`` (or 90 % of a shorter print): a clip inside a longer
    track, or a track with a new intro, still matches on its common part."""
    q = np.asarray(query_print.values, dtype=np.uint32)
    b = np.asarray(bank_print.values, dtype=np.uint32)
    m, n = len(q), len(b)
    if m == 0 or n == 0:
        return AudioMatch(False, None, None, None, 0, 0, ())
    shorter = min(m, n)
    min_overlap = min(frames_for_ms(min_matched_ms), shorter)
    offset, ber = _best_offset(q, b, min_overlap)
    lo, hi = max(0, -offset), min(m, n - offset)  # the overlapping query frames
    errors = np.bitwise_count(q[lo:hi] ^ b[lo + offset : hi + offset]).astype(np.float64) / 32
    window = min(frames_for_ms(AUDIO_WINDOW_MS), len(errors))
    smooth = np.convolve(errors, np.ones(window) / window, mode="same")
    good = smooth <= max_ber
    matched_frames = int(good.sum())
    matched_ms = round(matched_frames * FRAME_MS)
    needed = min(min_matched_ms, 0.9 * shorter * FRAME_MS)
    runs = _runs(good)
    ranges = tuple(
        TimeRange(
            round((lo + s) * FRAME_MS),
            round((lo + e) * FRAME_MS),
            round((lo + s + offset) * FRAME_MS),
            round((lo + e + offset) * FRAME_MS),
        )
        for s, e in runs
    )
    matched_ber = float(errors[good].mean()) if matched_frames else None
    return AudioMatch(
        matched=matched_ms >= needed,
        ber=round(ber, 4),
        matched_ber=round(matched_ber, 4) if matched_ber is not None else None,
        offset_ms=round(offset * FRAME_MS),
        overlap_ms=round((hi - lo) * FRAME_MS),
        matched_ms=matched_ms,
        ranges=ranges,
    )


def _best_offset(q: np.ndarray, b: np.ndarray, min_overlap: int) -> tuple[int, float]:
    """The offset o (bank frame = query frame + o) with the lowest bit-error rate, over all o
    with at least ``min_overlap`` frames in common; vectorised in blocks of offsets."""
    m, n = len(q), len(b)
    padded = np.concatenate([np.zeros(m, np.uint32), b, np.zeros(m, np.uint32)])
    valid = np.concatenate([np.zeros(m, bool), np.ones(n, bool), np.zeros(m, bool)])
    offsets = np.arange(min_overlap - m, n - min_overlap + 1)
    block = max(1, (1 << 22) // m)
    best_offset, best_ber = 0, 1.0
    cols = np.arange(m)
    for start in range(0, len(offsets), block):
        chunk = offsets[start : start + block]
        index = cols[None, :] + chunk[:, None] + m
        mask = valid[index]
        bits = np.bitwise_count(q[None, :] ^ padded[index]).astype(np.int32)
        bits[~mask] = 0
        rates = bits.sum(axis=1) / (32 * mask.sum(axis=1))
        k = int(np.argmin(rates))
        if rates[k] < best_ber:
            best_offset, best_ber = int(chunk[k]), float(rates[k])
    return best_offset, best_ber


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of the runs of True, end exclusive."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))
