"""Chromaprint raw fingerprints of audio files and of videos' sound tracks.

ffmpeg's ``chromaprint`` muxer (Debian's ffmpeg is built with libchromaprint) decodes and
fingerprints in one process under the decoder limits; its raw output is exactly
``fpcalc -raw -length 0`` (checked in the tests) without fpcalc's quirks — it exits 3 on WAV
with ffmpeg 5.1 while printing a valid print, and stops at 120 s unless told otherwise. The whole
track is fingerprinted, up to ``Limits.max_duration_s``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from claimwatch.media.guard import Limits, run_limited
from claimwatch.media.records import AudioPrint

#: Chromaprint's sample rate and frame step: one 32-bit value per 4096/3 samples at 11025 Hz
SAMPLE_RATE = 11025
FRAME_MS = 4096 / 3 / SAMPLE_RATE * 1000  # ≈ 123.84 ms


def frames_for_ms(ms: float) -> int:
    return max(1, round(ms / FRAME_MS))


def fingerprint(path: Path, limits: Limits, duration_ms: int | None = None) -> AudioPrint | None:
    """The raw fingerprint of the file's first audio track, or None when it yields none (shorter
    than Chromaprint's ~3 s window, or no sound decoded)."""
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
        "-t", f"{limits.max_duration_s:g}", "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1",
        "-f", "chromaprint", "-fp_format", "raw", "-",
    ]  # fmt: skip
    max_values = int(limits.max_duration_s * 1000 / FRAME_MS) + 64
    raw = run_limited(argv, limits.decode_timeout_s, limits.decoder_memory_bytes, 4 * max_values)
    usable = len(raw) - len(raw) % 4
    if usable == 0:
        return None
    values = np.frombuffer(raw[:usable], dtype="<u4")
    return AudioPrint(tuple(int(v) for v in values), duration_ms)
