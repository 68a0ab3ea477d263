"""One entry point for hashing a media file: sniff it, check it against the limits, hash it as
what its bytes say it is (never its extension), and return :class:`MediaHashes` — or raise
:class:`Refused` with one line naming the file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from claimwatch.media.audio import fingerprint
from claimwatch.media.guard import DEFAULT_LIMITS, Limits, Sniffed, check_file, naming
from claimwatch.media.image import hash_image
from claimwatch.media.probe import probe
from claimwatch.media.records import AudioPrint, MediaHashes, MediaInfo, MediaKind, PdqHash, Refused
from claimwatch.media.video import hash_video


def hash_file(path: Path | str, limits: Limits = DEFAULT_LIMITS, *, for_bank: bool) -> MediaHashes:
    """``for_bank``: a debunked item to bank (every dihedral variant, every distinct video
    frame) rather than post media to look up (original, trimmed, uncaptioned; video at 1 fps)
    — see :mod:`~claimwatch.media.image` and :mod:`~claimwatch.media.video`."""
    path = Path(path)
    with naming(path):
        sniffed, size = check_file(path, limits)
        sha256, md5 = _digests(path)
        audio: AudioPrint | None = None
        pdq: list[PdqHash] = []
        if sniffed.kind is MediaKind.IMAGE:
            info, pdq = hash_image(path, sniffed, limits, for_bank=for_bank)
        elif sniffed.kind is MediaKind.VIDEO:
            info, pdq, audio = hash_video(path, sniffed, limits, for_bank=for_bank)
        else:
            info, audio = _hash_audio(path, sniffed, limits)
        return MediaHashes(info, tuple(pdq), audio, sha256, md5, size)


def _hash_audio(path: Path, sniffed: Sniffed, limits: Limits) -> tuple[MediaInfo, AudioPrint]:
    meta = probe(path, limits)
    if not meta.has_audio:
        raise Refused(f"a {sniffed.name} file without an audio stream")
    audio = fingerprint(path, limits, meta.duration_ms)
    if audio is None:
        raise Refused("too short (or silent) to fingerprint: Chromaprint needs about 3 s of sound")
    return MediaInfo(sniffed.kind, sniffed.mime, duration_ms=meta.duration_ms), audio


def _digests(path: Path) -> tuple[str, str]:
    """SHA-256 and MD5 of the bytes (MD5 for ThreatExchange/HMA exact-copy lists)."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            sha.update(block)
            md5.update(block)
    return sha.hexdigest(), md5.hexdigest()
