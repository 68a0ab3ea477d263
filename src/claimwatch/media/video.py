"""PDQ hashes of video frames, with their times, and the sound track's fingerprint.

Frames come from ffmpeg (sampled by its ``fps`` filter, scaled down at their own shape, PPM on a
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

Frames keep their **own shape** (display aspect ratio): decoded with the long side at most
``DECODE_SIDE``, trimmed and uncaptioned at that size, and each form then scaled to a long side
of exactly ``FRAME_SIDE`` for PDQ. They used to be squeezed to a 256 px square before trimming
("PDQ squeezes every picture to 64×64 anyway"), but a caption bar changes the frame's shape: the
picture then reached PDQ at a different scale in the post (240 rows of picture into 219 of the
square, the bar taking the rest) than in the bank (240 rows into 256), and PDQ's reduction to
64×64 aliases pixel-scale texture (a cellular automaton) differently at each scale: 20–54 bits.
Cut first, then scale every form to one size, and the cut-out picture meets its banked frame at
the same size: 0–10 bits (notes: caption.md). The one size matters as much as the cut: a
re-encode at 240 px hashed at its own 240 px missed the bank's 256 px frames on the same
sources. The frame size is known only once decoded, so frames come as PPM (each with its own
header) rather than raw RGB of a fixed size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from claimwatch.media.audio import fingerprint
from claimwatch.media.guard import Limits, Sniffed, stream_limited
from claimwatch.media.image import VIDEO_BANK_VARIANTS, fitted, frame_hashes, pdq
from claimwatch.media.probe import probe
from claimwatch.media.records import AudioPrint, MediaInfo, PdqHash, Refused

BANK_MAX_FPS = 30.0
#: a bank video's rate when ffprobe does not know it
BANK_DEFAULT_FPS = 25.0
QUERY_FPS = 1.0
#: frames are decoded at their own shape, the long side at most this (never enlarged), so a
#: caption bar or border is cut off at a resolution finer than the hash's
DECODE_SIDE = 512
#: each form of a frame (as it is, trimmed, uncaptioned) is hashed at its own shape with the
#: long side exactly this: every frame reaches PDQ at one scale
FRAME_SIDE = 256
#: ffmpeg's PPM header ("P6", width, height, maximum value 255)
_PPM_HEADER = re.compile(rb"P6\n(\d{1,5}) (\d{1,5})\n255\n")
#: a banked frame this close to the last kept one (and within a second of it) adds nothing
DEDUP_BITS = 8


def frames(path: Path, limits: Limits, fps: float, side: int = DECODE_SIDE) -> Iterator[tuple[int, np.ndarray]]:
    """``(t_ms, rgb)`` of the frames sampled at ``fps``, at their own shape with the long side at
    most ``side``, at most ``Limits.max_duration_s`` of them (an endless or mislabelled stream
    stops there, and at the decoder's time limit).

    ``round=up``: the frame sampled for time t is the one showing at t. ffmpeg's default
    (``near``) takes the last frame before t + half a step: at 1 fps every query frame would be
    half a second late, and every located offset half a second off."""
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", str(path),
        "-t", f"{limits.max_duration_s:g}", "-map", "0:v:0", "-an", "-sn", "-dn",
        "-vf", f"fps={fps:g}:round=up,{_scale_filter(side)}", "-f", "image2pipe", "-c:v", "ppm", "-",
    ]  # fmt: skip
    max_frames = int(limits.max_duration_s * fps) + 2
    largest = side * side * 3 + 32  # a frame at the largest size, with its header
    chunks = stream_limited(argv, limits.decode_timeout_s, limits.decoder_memory_bytes, max_frames * largest)
    pending = bytearray()
    index = 0
    for chunk in chunks:
        pending += chunk
        while (rgb := _take_frame(pending, side)) is not None:
            yield round(index * 1000 / fps), rgb
            index += 1
    # bytes left over are a partial last frame: ffmpeg was cut short


def _scale_filter(side: int) -> str:
    """ffmpeg's scale to the display shape (the sample aspect ratio applied: an anamorphic video
    is seen as it is shown) with the long side at most ``side``, never enlarged; box-averaged."""
    k = f"min(1,{side}/max(iw*sar,ih))"
    return f"scale=w='max(1,round(iw*sar*{k}))':h='max(1,round(ih*{k}))':flags=area,setsar=1"


def _take_frame(pending: bytearray, side: int) -> np.ndarray | None:
    """The first whole PPM frame in ``pending`` (removed from it), or None until one is there."""
    header = _PPM_HEADER.match(pending)
    if header is None:
        if len(pending) >= 32:  # longer than any header we write
            raise Refused("ffmpeg wrote a frame we cannot read")
        return None
    width, height = int(header[1]), int(header[2])
    if not (0 < width <= side and 0 < height <= side):
        raise Refused(f"ffmpeg wrote a frame of {width}×{height}, over the {side} px we asked for")
    end = header.end() + width * height * 3
    if len(pending) < end:
        return None
    rgb = np.frombuffer(bytes(pending[header.end() : end]), dtype=np.uint8).reshape(height, width, 3)
    del pending[:end]
    return rgb


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
            value = int.from_bytes(pdq(fitted(rgb, FRAME_SIDE)).value, "big")
            if last is not None and t_ms - last[0] < 1000 and (value ^ last[1]).bit_count() <= DEDUP_BITS:
                continue
            last = (t_ms, value)
        hashes += frame_hashes(rgb, for_bank=for_bank, t_ms=t_ms, bank_variants=VIDEO_BANK_VARIANTS, side=FRAME_SIDE)
    if not hashes:
        raise Refused(f"a {sniffed.name} file without a decodable frame")
    audio = fingerprint(path, limits, meta.duration_ms) if meta.has_audio else None
    info = MediaInfo(sniffed.kind, sniffed.mime, meta.width, meta.height, meta.duration_ms)
    return info, hashes, audio
