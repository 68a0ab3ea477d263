"""What ffprobe says a video or audio file holds (duration, picture size, an audio track), run
under the decoder limits; a declared duration over the cap is refused before any decoding."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from claimwatch.media.guard import MB, Limits, run_limited
from claimwatch.media.records import Refused

#: ffprobe only reads headers: it gets a short leash whatever the decode limit is
PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Probe:
    duration_ms: int | None
    width: int | None
    height: int | None
    has_video: bool
    has_audio: bool
    #: frames per second of the video stream, None when unknown (or not a video)
    fps: float | None = None


def probe(path: Path, limits: Limits) -> Probe:
    argv = [
        "ffprobe", "-v", "error", "-hide_banner",
        "-show_entries", "format=duration:stream=codec_type,width,height,duration,avg_frame_rate",
        "-of", "json", str(path),
    ]  # fmt: skip
    out = run_limited(argv, min(PROBE_TIMEOUT_S, limits.decode_timeout_s), limits.decoder_memory_bytes, 4 * MB)
    try:
        data = json.loads(out)
    except ValueError:
        raise Refused("ffprobe gave no readable description of it") from None
    streams = [s for s in data.get("streams") or [] if isinstance(s, dict)]
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    durations = [_seconds((data.get("format") or {}).get("duration"))] + [_seconds(s.get("duration")) for s in streams]
    known = [d for d in durations if d is not None]
    duration = max(known) if known else None
    if duration is not None and duration > limits.max_duration_s:
        raise Refused(
            f"declares a duration of {duration / 60:.1f} min, over the limit of {limits.max_duration_s / 60:.0f} min"
        )
    return Probe(
        duration_ms=round(duration * 1000) if duration is not None else None,
        width=_int(video.get("width")) if video else None,
        height=_int(video.get("height")) if video else None,
        has_video=video is not None,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        fps=_rate(video.get("avg_frame_rate")) if video else None,
    )


def _seconds(value: object) -> float | None:
    """A duration as ffprobe prints it ("12.345000", "N/A"), or None when unknown."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _rate(value: object) -> float | None:
    """ffprobe's "30000/1001" (or "0/0" when unknown) as a number."""
    if not isinstance(value, str) or "/" not in value:
        return None
    num, _, den = value.partition("/")
    try:
        rate = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None
