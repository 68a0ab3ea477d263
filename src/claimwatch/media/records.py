"""Typed records of the media layer: hashes and fingerprints, what a file is, and a refusal.

The contract between the hashers (:mod:`claimwatch.media.hashing`), the bank and its index, the
downloads and the matcher: they pass these, never dicts. A leaf module like
:mod:`claimwatch.records` (it imports nothing of claimwatch), so the store may use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


class MediaExtraMissing(ValueError):
    """The 'media' extra (pdqhash, c2pa-python) is not installed: hashing cannot run. Not a
    :class:`Refused` — the file is fine, and is hashed once the extra is installed."""

    def __init__(self, package: str) -> None:
        super().__init__(
            f"media hashing needs the 'media' extra ({package} is not installed): pip install 'claimwatch[media]'"
        )


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


# ---------------------------------------------------------------- provenance (C2PA, read by media.provenance)

#: IPTC digital source type terms that say "made by a trained model" (a full URI ends in one)
AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"})


class ProvenanceState(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    ABSENT = "absent"
    UNREADABLE = "unreadable"


class SignerTrust(StrEnum):
    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class Action:
    """One C2PA action (``c2pa.created``, ``c2pa.edited``, …) of a manifest."""

    action: str
    #: the IPTC digital source type as the manifest wrote it (a URI or a bare term); None: not said
    digital_source_type: str | None
    #: the tool that did it (``softwareAgent``: a name, or name + version)
    software_agent: str | None
    #: the manifest's label; ``active`` tells the file's own manifest from an ingredient's
    manifest: str
    active: bool


@dataclass(frozen=True)
class Provenance:
    """What one file's C2PA manifest store says, as read (see the module docstring for the words)."""

    state: ProvenanceState
    #: the active manifest's claim generator (``claim_generator``, or the first ``claim_generator_info``)
    claim_generator: str | None = None
    actions: tuple[Action, ...] = ()
    #: every ``digitalSourceType`` found, in any action or assertion of any manifest, in order
    digital_source_types: tuple[str, ...] = ()
    ai_declared: bool | None = None
    #: the active manifest's signing certificate issuer (its organisation, as c2pa reports it)
    issuer: str | None = None
    signer: SignerTrust | None = None
    #: the validation status codes the reader reported (failures and warnings), in order
    validation: tuple[str, ...] = ()
    reader_version: str | None = None
    #: the reader's whole manifest-store JSON (None when no manifest was read)
    raw: dict[str, Any] | None = field(default=None, compare=False)
    #: why it is absent, invalid or unreadable, in one line
    reason: str | None = None

    @property
    def digital_source_type(self) -> str | None:
        """The one source type a table shows: an AI one if declared, else the first found."""
        ai = [t for t in self.digital_source_types if is_ai_source_type(t)]
        return (ai or list(self.digital_source_types) or [None])[0]


def is_ai_source_type(value: str) -> bool:
    """``…/digitalsourcetype/trainedAlgorithmicMedia``, the bare term, and the composite one."""
    return value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1] in AI_SOURCE_TYPES
