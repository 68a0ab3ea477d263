"""Hostile media files: each is refused with one line naming the file and the reason, the
decoders are stopped by their limits, and nothing else is affected (the next file hashes)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from media_samples import photo
from PIL import Image

from claimwatch.media.guard import DEFAULT_LIMITS, MB, Limits, run_limited, stream_limited
from claimwatch.media.hashing import hash_file
from claimwatch.media.records import MediaKind, Refused

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def refusal(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    with pytest.raises(Refused) as caught:
        hash_file(path, limits, for_bank=False)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, side: int) -> Path:
    """A valid PNG of ``side``² black 1-bit pixels: a few kB on disk, side² pixels decoded."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")
    )
    return path


def test_png_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = bomb_png(tmp_path / "bomb.png", 20_000)  # 400 MP in ~50 kB
    assert path.stat().st_size < 100_000
    message = refusal(path)
    assert "decompression bomb" in message and "400000000 pixels" in message


def test_bomb_warning_range_is_refused_too(tmp_path: Path) -> None:
    """Over the pixel limit but under Pillow's own 2× error: Pillow only warns; we refuse."""
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    assert "decompression bomb" in refusal(path, Limits(max_image_pixels=60_000))


def test_truncated_jpeg_is_refused_not_half_loaded(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jpg"
    photo(np.random.default_rng(0), 640, 480).save(whole, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "truncated" in refusal(cut)
    assert hash_file(whole, for_bank=False).info.kind is MediaKind.IMAGE  # nothing else broken


def test_corrupt_bytes_behind_an_image_magic_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    assert "not a readable image" in refusal(path)


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert "empty file" in refusal(path)


def test_random_bytes_are_refused_whatever_the_name(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(1).integers(1, 255, 4096, dtype=np.uint8).tobytes())
    assert "not an image, video or audio type" in refusal(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "cannot be read" in refusal(tmp_path / "gone.jpg")


def test_file_over_the_size_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "large.jpg"
    photo(np.random.default_rng(2), 640, 480).save(path, "JPEG")
    message = refusal(path, Limits(max_image_bytes=10_000))
    assert "over the image size limit" in message


def test_image_named_as_a_video_is_hashed_as_an_image(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    photo(np.random.default_rng(3), 320, 240).save(path, "PNG")
    hashes = hash_file(path, for_bank=False)
    assert hashes.info.kind is MediaKind.IMAGE and hashes.info.mime == "image/png" and hashes.pdq


@pytest.mark.slow
@needs_ffmpeg
def test_video_named_as_a_jpeg_is_hashed_as_a_video(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=d=2:s=160x120", "-f", "mp4", str(path))
    hashes = hash_file(path, for_bank=False)
    assert hashes.info.kind is MediaKind.VIDEO and hashes.info.mime == "video/mp4"
    assert {h.t_ms for h in hashes.pdq} == {0, 1000}


@needs_ffmpeg
def test_video_declaring_a_duration_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=d=4:s=160x120:r=5", str(path))
    message = refusal(path, Limits(max_duration_s=3))
    assert "declares a duration of" in message and "over the limit" in message


@needs_ffmpeg
@pytest.mark.slow
def test_decoder_over_its_time_limit_is_killed_and_refused(tmp_path: Path) -> None:
    path = tmp_path / "heavy.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=d=20:s=640x480:r=25", "-c:v", "ffv1", str(path))
    message = refusal(path, Limits(decode_timeout_s=0.3))
    assert "ffmpeg stopped after its time limit of 0.3 s" in message


@needs_ffmpeg
def test_endless_stream_is_cut_at_its_output_limit() -> None:
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240", "-f", "rawvideo", "-"]
    with pytest.raises(Refused, match="output over its limit of 2 MB"):
        run_limited(argv, timeout_s=60, max_memory_bytes=1024 * MB, max_output_bytes=2 * MB)


@needs_ffmpeg
@pytest.mark.slow
def test_endless_stream_is_cut_at_its_time_limit() -> None:
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=s=32x32", "-f", "rawvideo", "-"]
    chunks = stream_limited(argv, timeout_s=1.0, max_memory_bytes=1024 * MB, max_output_bytes=1 << 40)
    with pytest.raises(Refused, match="time limit of 1 s"):
        for _ in chunks:
            pass


@needs_ffmpeg
def test_decoder_memory_is_capped() -> None:
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=d=1", "-f", "null", "-"]
    with pytest.raises(Refused, match="ffmpeg"):
        run_limited(argv, timeout_s=30, max_memory_bytes=16 * MB, max_output_bytes=MB)
    assert run_limited(argv, timeout_s=30, max_memory_bytes=1024 * MB, max_output_bytes=MB) == b""


def test_missing_decoder_is_a_refusal_not_a_crash() -> None:
    with pytest.raises(Refused, match="cannot be run"):
        run_limited(["/nonexistent/ffmpeg"], timeout_s=5, max_memory_bytes=64 * MB, max_output_bytes=MB)


@pytest.mark.slow
@needs_ffmpeg
def test_audio_file_too_short_to_fingerprint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=d=0.5", str(path))
    assert "too short" in refusal(path)
