"""Typed records of the media layer: hashes and fingerprints, what a file is, and a refusal.

The contract between the hashers (:mod:`claimwatch.media.hashing`), the bank and its index, the
downloads and the matcher: they pass these, never dicts. A leaf module like
:mod:`claimwatch.records` (it imports nothing of claimwatch), so the store may use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class MediaLabel(StrEnum):
    """What the fact-checker said of a banked item. ``manipulated`` and ``ai_generated`` are the
    two a study counts as manipulated media (issue 14 item 5); ``miscaptioned`` is real media
    shared with a false context."""

    MANIPULATED = "manipulated"
    AI_GENERATED = "ai-generated"
    MISCAPTIONED = "miscaptioned"
    OTHER = "other"


#: ``factchecks.source_format`` of a bank item's own fact-check row: the text matcher leaves those out
MEDIA_BANK_SOURCE = "media-bank"
#: the prefix of a media match's ``matches.method`` (``media:pdq`` …): the text matcher never replaces those
MEDIA_METHOD_PREFIX = "media:"

#: the labels a study counts as "manipulated media"
MANIPULATED_LABELS = frozenset({MediaLabel.MANIPULATED, MediaLabel.AI_GENERATED})


class Refused(Exception):
    """A file not hashed, with a one-line reason naming it: too large, a decompression bomb,
    truncated, not a type we read, a decoder over its time or memory limit, an endless stream."""


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit PDQ hash (32 bytes, big-endian as ThreatExchange's hex) and its quality (0–100).
    ``variant``: original, a dihedral variant or ``trimmed``; ``t_ms``: the frame time in a video."""

    value: bytes
    quality: int
    variant: str = "original"
    t_ms: int | None = None

    def __post_init__(self) -> None:
        if len(self.value) != 32:
            raise ValueError(f"a PDQ hash is 32 bytes, not {len(self.value)}")

    @property
    def hex(self) -> str:
        return self.value.hex()

    @classmethod
    def from_hex(cls, text: str, quality: int, variant: str = "original", t_ms: int | None = None) -> PdqHash:
        """From ThreatExchange's 64-hex-digit form; raises ValueError on anything else."""
        text = text.strip()
        if len(text) != 64:
            raise ValueError(f"a PDQ hash is 64 hex digits, not {len(text)}")
        return cls(bytes.fromhex(text), quality, variant, t_ms)


@dataclass(frozen=True, slots=True)
class AudioPrint:
    """A Chromaprint raw fingerprint: one 32-bit value per frame (see ``audio.FRAME_MS``)."""

    values: tuple[int, ...]
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a file is, as read from its bytes (never from its extension or a server's word)."""

    kind: MediaKind
    mime: str | None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MediaHashes:
    """Everything hashed from one file: PDQ of the image or of video frames, the audio print of an
    audio file or a video's sound track (None when it has none), and the exact-copy digests."""

    info: MediaInfo
    pdq: tuple[PdqHash, ...]
    audio: AudioPrint | None
    sha256: str
    md5: str
    size_bytes: int
