"""PDQ hashes of video frames, with their times, and the sound track's fingerprint.

Frames come from ffmpeg (sampled by its ``fps`` filter, scaled to a fixed square, raw RGB on a
pipe) and are hashed with ``pdqhash`` — the same hasher as images, so a still taken from a video
matches its frames. We do not use ``vpdq``: it is PDQ per frame too, but builds only against the
libav development headers (seven ``-dev`` packages for CI) and gives nothing this does not.

**Bank densely, query sparsely.** Sampling both sides at 1 fps matches as little as 16 % of a
re-trimmed clip (the sampling phases differ by up to half a second, and half a second apart is a
different frame in a moving scene); banking every frame gives 100 % (reference notes). A query is
sampled at ``QUERY_FPS`` (1). A bank video is read at every frame (its own rate, at most
``BANK_MAX_FPS``) and a frame is kept when its hash is more than ``DEDUP_BITS`` from the last
kept one, or a second has passed: a talking head keeps about one frame a second, fast motion
every frame — and a query frame is never more than ``DEDUP_BITS`` further from the bank than
from the frame it was taken from. In the benchmark a fixed 5 fps bank missed 3 of 16 trimmed
and sped-up clips of fast-changing sources, every frame none (figures in the notes).

Frames are scaled to ``FRAME_SIDE``² whatever their shape: PDQ squeezes every picture to 64×64
anyway, so the aspect ratio does not change a hash, and the frame size is then known before
decoding (a fixed-size read of the pipe).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from claimwatch.media.audio import fingerprint
from claimwatch.media.guard import Limits, Sniffed, stream_limited
from claimwatch.media.image import VIDEO_BANK_VARIANTS, frame_hashes, pdq
from claimwatch.media.probe import probe
from claimwatch.media.records import AudioPrint, MediaInfo, PdqHash, Refused

BANK_MAX_FPS = 30.0
#: a bank video's rate when ffprobe does not know it
BANK_DEFAULT_FPS = 25.0
QUERY_FPS = 1.0
FRAME_SIDE = 256
#: a banked frame this close to the last kept one (and within a second of it) adds nothing
DEDUP_BITS = 8


def frames(path: Path, limits: Limits, fps: float, side: int = FRAME_SIDE) -> Iterator[tuple[int, np.ndarray]]:
    """``(t_ms, rgb)`` of the frames sampled at ``fps``, at most ``Limits.max_duration_s`` of them
    (an endless or mislabelled stream stops there, and at the decoder's time limit).

    ``round=up``: the frame sampled for time t is the one showing at t. ffmpeg's default
    (``near``) takes the last frame before t + half a step: at 1 fps every query frame would be
    half a second late, and every located offset half a second off."""
    frame_bytes = side * side * 3
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
        "-t", f"{limits.max_duration_s:g}", "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", f"fps={fps:g}:round=up,scale={side}:{side}:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    max_frames = int(limits.max_duration_s * fps) + 2
    chunks = stream_limited(
        argv, limits.decode_timeout_s, limits.decoder_memory_bytes, max_frames * frame_bytes, chunk_bytes=frame_bytes
    )
    for index, chunk in enumerate(chunks):
        if len(chunk) < frame_bytes:
            break  # a partial last frame: ffmpeg was cut short
        yield round(index * 1000 / fps), np.frombuffer(chunk, dtype=np.uint8).reshape(side, side, 3)


def hash_video(
    path: Path, sniffed: Sniffed, limits: Limits, *, for_bank: bool, fps: float | None = None
) -> tuple[MediaInfo, list[PdqHash], AudioPrint | None]:
    """Frames (a bank's every distinct frame, a query's one a second), each with its variants,
    and the fingerprint of the first audio track (None without one). Refusals name no file.
    ``fps`` forces a sampling rate (the benchmark compares rates)."""
    meta = probe(path, limits)
    if not meta.has_video:
        raise Refused(f"a {sniffed.name} file without a video stream")
    if fps is not None:
        rate = fps
    elif for_bank:
        rate = min(meta.fps or BANK_DEFAULT_FPS, BANK_MAX_FPS)
    else:
        rate = QUERY_FPS
    hashes: list[PdqHash] = []
    last: tuple[int, int] | None = None  # (t_ms, hash as an int) of the last kept bank frame
    for t_ms, rgb in frames(path, limits, rate):
        if for_bank:
            value = int.from_bytes(pdq(rgb).value, "big")
            if last is not None and t_ms - last[0] < 1000 and (value ^ last[1]).bit_count() <= DEDUP_BITS:
                continue
            last = (t_ms, value)
        hashes += frame_hashes(rgb, for_bank=for_bank, t_ms=t_ms, bank_variants=VIDEO_BANK_VARIANTS)
    if not hashes:
        raise Refused(f"a {sniffed.name} file without a decodable frame")
    audio = fingerprint(path, limits, meta.duration_ms) if meta.has_audio else None
    info = MediaInfo(sniffed.kind, sniffed.mime, meta.width, meta.height, meta.duration_ms)
    return info, hashes, audio
