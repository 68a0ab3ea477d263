"""A media match's evidence in words, for every surface that shows one (review queue, web card,
study reports): the hash distance and variant, the share of frames and where the clip sits, the
sound's bit-error rate and offset. It reads ``matches.evidence["media"]`` as
:mod:`claimwatch.media.match` writes it, and imports nothing that needs the media extra."""

from __future__ import annotations

from typing import Any


def is_media_evidence(evidence: Any) -> bool:
    return isinstance(evidence, dict) and isinstance(evidence.get("media"), dict)


def media_match_phrase(evidence: dict[str, Any]) -> str:
    """A media match's evidence (``matches.evidence["media"]``, see :mod:`claimwatch.media.match`) as
    a reader says it: the hash distance and variant, the share of frames and where the clip sits,
    the sound's bit-error rate and offset."""
    e = evidence.get("media", evidence) if isinstance(evidence, dict) else {}
    parts = []
    if e.get("exact"):
        parts.append(f"an exact copy ({e['exact']})")
    if e.get("pdq_distance") is not None:
        variant = e.get("bank_variant")
        frame = e.get("bank_frame_ms")
        parts.append(
            f"PDQ distance {e['pdq_distance']} of 256"
            + (f" to the banked {variant} variant" if variant and variant != "original" else "")
            + (f", a frame at {frame / 1000:.1f} s of the banked video" if isinstance(frame, int | float) else "")
        )
    if e.get("share") is not None:
        offset, speed = e.get("offset_ms"), e.get("speed")
        parts.append(
            f"{e.get('matched_frames')} of {e.get('query_frames')} frames match"
            + (f", the clip starts at {offset / 1000:.1f} s of the banked video" if isinstance(offset, int) else "")
            + (f" at {speed:g}× speed" if isinstance(speed, int | float) and abs(speed - 1) > 0.05 else "")
        )
    if e.get("ber") is not None:
        offset = e.get("offset_ms")
        parts.append(
            f"sound: bit-error rate {e['ber']:.3f} over {e.get('matched_ms', 0) / 1000:.1f} s"
            + (f", at {offset / 1000:.1f} s of the banked sound" if isinstance(offset, int) else "")
        )
    return "; ".join(parts) or "a media match"
