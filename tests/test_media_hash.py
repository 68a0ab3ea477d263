"""Hashing and comparing media: type sniffing, PDQ and its variants, video frames, Chromaprint
prints, and the matching rules (images, video clips and their offset, audio alignment)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from media_samples import captioned, letterboxed, mirrored, photo, picture, screenshot, speech, video_edit, video_source
from PIL import Image

from claimwatch.media.audio import FRAME_MS, fingerprint
from claimwatch.media.compare import match_audio, match_image, match_video, pdq_distance
from claimwatch.media.guard import Limits, sniff
from claimwatch.media.hashing import hash_file
from claimwatch.media.image import DIHEDRAL, bits_to_bytes, fitted, frame_hashes, trim_borders
from claimwatch.media.records import AudioPrint, MediaKind, PdqHash
from claimwatch.media.video import DECODE_SIDE, FRAME_SIDE, frames

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


# ---------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],  # fmt: skip
)
def test_sniff_reads_image_types_from_their_bytes(tmp_path: Path, fmt: str, mime: str) -> None:
    path = tmp_path / "picture.bin"  # the name says nothing
    Image.new("RGB", (20, 10), (10, 200, 30)).save(path, fmt)
    sniffed = sniff(path.read_bytes()[:512])
    assert sniffed is not None and (sniffed.kind, sniffed.mime) == (MediaKind.IMAGE, mime)


@pytest.mark.parametrize(
    ("head", "kind", "mime"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", MediaKind.VIDEO, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", MediaKind.VIDEO, "video/quicktime"),
        (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x02\x00isom3gp4", MediaKind.VIDEO, "video/3gpp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", MediaKind.IMAGE, "image/heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", MediaKind.IMAGE, "image/avif"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isom", MediaKind.AUDIO, "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", MediaKind.VIDEO, "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", MediaKind.VIDEO, "video/x-matroska"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", MediaKind.VIDEO, "video/x-msvideo"),
        (b"\x47" + b"\x00" * 187 + b"\x47" + b"\x00" * 10, MediaKind.VIDEO, "video/mp2t"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", MediaKind.AUDIO, "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", MediaKind.AUDIO, "audio/mpeg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", MediaKind.AUDIO, "audio/wav"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x13OpusHead", MediaKind.AUDIO, "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", MediaKind.VIDEO, "video/ogg"),
        (b"fLaC\x00\x00\x00\x22", MediaKind.AUDIO, "audio/flac"),
    ],
)
def test_sniff_reads_container_types_from_their_bytes(head: bytes, kind: MediaKind, mime: str) -> None:
    sniffed = sniff(head)
    assert sniffed is not None and (sniffed.kind, sniffed.mime) == (kind, mime)


@pytest.mark.parametrize("head", [b"", b"%PDF-1.7\n", b"<html><body>", b"PK\x03\x04zip", b"\x00" * 64])
def test_sniff_refuses_what_is_not_media(head: bytes) -> None:
    assert sniff(head) is None


# ---------------------------------------------------------------- PDQ


def test_hash_bits_are_threatexchange_hex_most_significant_first() -> None:
    bits = np.zeros(256, dtype=np.int64)
    bits[0] = bits[255] = 1
    value = bits_to_bytes(bits)
    assert PdqHash(value, 100).hex == "80" + "00" * 30 + "01"


def test_dihedral_variants_are_the_hashes_of_the_rotated_and_mirrored_picture() -> None:
    rgb = np.asarray(picture(np.random.default_rng(3), 480, 360))  # under HASH_SIDE: hashed as it is
    bank = {h.variant: h for h in frame_hashes(rgb, for_bank=True)}
    assert set(DIHEDRAL) <= set(bank)
    plain = {
        "mirror": rgb[:, ::-1],
        "rot90": np.rot90(rgb, 1),
        "flip-v": rgb[::-1],
        "transpose": rgb.transpose(1, 0, 2),
    }
    for name, array in plain.items():
        bits, _ = pdqhash.compute(np.ascontiguousarray(array))
        edited = PdqHash(bits_to_bytes(bits), 100)
        assert pdq_distance(edited, bank[name]) <= 2, name
        assert pdq_distance(edited, bank["original"]) > 31, name  # the variant is what makes it match


def test_trim_removes_flat_borders_of_any_colour_and_keeps_a_picture_without_them() -> None:
    rgb = np.asarray(photo(np.random.default_rng(4), 320, 180))
    for colour in [(0, 0, 0), (255, 255, 255), (40, 90, 160)]:
        boxed = np.asarray(letterboxed(Image.fromarray(rgb), colour))
        trimmed = trim_borders(boxed)
        assert trimmed is not None
        assert abs(trimmed.shape[0] - 180) <= 2 and trimmed.shape[1] == 320
    assert trim_borders(rgb) is None  # nothing to trim: no variant
    assert trim_borders(np.zeros((100, 100, 3), np.uint8)) is None  # all border: no sliver variant


def test_query_and_bank_hash_different_variants() -> None:
    im = Image.fromarray(np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    query = frame_hashes(np.asarray(letterboxed(im)), for_bank=False)
    bank = frame_hashes(np.asarray(im), for_bank=True)
    assert [h.variant for h in query][:2] == ["original", "trimmed"]
    assert [h.variant for h in bank] == list(DIHEDRAL)  # nothing to trim in the banked picture
    assert all(h.t_ms is None for h in query + bank)


@pytest.mark.parametrize("edit", ["jpeg20", "resize25", "mirror", "letterbox", "caption", "screenshot"])
@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_re_shared_picture_matches_its_banked_original(tmp_path: Path, edit: str) -> None:
    rng = np.random.default_rng(11)
    im = picture(rng)
    im.save(tmp_path / "bank.png")
    edited = {
        "jpeg20": im,
        "resize25": im.resize((im.width // 4, im.height // 4), Image.Resampling.BILINEAR),
        "mirror": mirrored(im),
        "letterbox": letterboxed(im),
        "caption": captioned(im, "THEY DON'T WANT YOU TO SEE THIS"),
        "screenshot": screenshot(im, rng),
    }[edit]
    edited.save(tmp_path / "post.jpg", "JPEG", quality=20 if edit == "jpeg20" else 85)
    bank = hash_file(tmp_path / "bank.png", for_bank=True)
    query = hash_file(tmp_path / "post.jpg", for_bank=False)
    result = match_image(query.pdq, bank.pdq)
    assert result.matched and result.distance is not None and result.distance <= 31, result
    assert bank.info.kind is MediaKind.IMAGE and (bank.info.width, bank.info.height) == im.size
    assert len(bank.sha256) == 64 and len(bank.md5) == 32 and bank.audio is None


@pytest.mark.slow
def test_unrelated_pictures_do_not_match(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    bank = [frame_hashes(np.asarray(picture(rng, 320, 240)), for_bank=True) for _ in range(8)]
    queries = [frame_hashes(np.asarray(picture(rng, 320, 240)), for_bank=False) for _ in range(8)]
    results = [match_image(q, b) for q in queries for b in bank]
    assert not any(r.matched for r in results)
    assert min(r.distance for r in results if r.distance is not None) > 31


def test_low_quality_hashes_are_not_compared() -> None:
    flat = frame_hashes(np.full((64, 64, 3), 128, np.uint8), for_bank=False)
    assert all(h.quality < 50 for h in flat)
    result = match_image(flat, flat)
    assert not result.matched and result.distance is None
    assert match_image(flat, flat, min_quality=0).matched  # configurable


# ---------------------------------------------------------------- video (synthetic frames: the rule alone)


def _frames(bits: np.ndarray, times_ms: list[int]) -> list[PdqHash]:
    return [PdqHash(bits_to_bytes(bits[int(t) // 200]), 100, "original", t) for t in times_ms]


def _noisy(bits: np.ndarray, rng: np.random.Generator, flips: int) -> np.ndarray:
    out = bits.copy()
    out[rng.choice(256, flips, replace=False)] ^= 1
    return out


def test_match_video_locates_a_clip_and_its_speed() -> None:
    rng = np.random.default_rng(0)
    scenes = rng.integers(0, 2, (100, 256))  # one hash per 200 ms of a 20 s bank video
    bank = _frames(scenes, list(range(0, 20_000, 200)))
    # a clip from 7 s, sped up 1.25×, sampled at 1 fps, every frame a few bits off
    query = [
        PdqHash(bits_to_bytes(_noisy(scenes[int((7000 + 1.25 * t) // 200)], rng, 10)), 90, "original", t)
        for t in range(0, 8000, 1000)
    ]
    result = match_video(query, bank)
    assert result.matched and result.share == 1.0 and result.matched_frames == 8
    assert result.offset_ms is not None and abs(result.offset_ms - 7000) <= 200
    assert result.speed is not None and abs(result.speed - 1.25) < 0.05
    assert len(result.ranges) == 1 and result.ranges[0].query_start_ms == 0
    assert abs(result.ranges[0].bank_start_ms - 7000) <= 200


def test_match_video_finds_a_banked_clip_inside_a_longer_post_video() -> None:
    rng = np.random.default_rng(1)
    scenes = rng.integers(0, 2, (50, 256))  # a 10 s banked clip
    bank = _frames(scenes, list(range(0, 10_000, 200)))
    other = rng.integers(0, 2, (60, 256))
    # a 60 s post: 30 s of something else, then the clip (8 s of it), then more
    query = []
    for t in range(0, 60_000, 1000):
        inside = 30_000 <= t < 38_000
        bits = scenes[(t - 30_000) // 200] if inside else other[t // 1000]
        query.append(PdqHash(bits_to_bytes(bits), 100, "original", t))
    result = match_video(query, bank)
    assert result.share < 0.5 and result.matched_ms >= 5000 and result.matched
    assert result.offset_ms is not None and abs(result.offset_ms - -30_000) <= 200
    unrelated = match_video(_frames(other, list(range(0, 12_000, 1000))), bank)
    assert not unrelated.matched and unrelated.matched_frames == 0 and unrelated.offset_ms is None


# ---------------------------------------------------------------- audio (synthetic prints: the rule alone)


def test_frame_ms_is_chromaprints_step() -> None:
    assert FRAME_MS == pytest.approx(4096 / 3 / 11025 * 1000) and 123.8 < FRAME_MS < 123.9


def test_match_audio_aligns_a_clip_inside_a_longer_track() -> None:
    rng = np.random.default_rng(2)
    track = rng.integers(0, 1 << 32, 2000, dtype=np.uint64).astype(np.uint32)  # ~4 min
    clip = track[700:760].copy()  # ~7.4 s
    flips = rng.random((60, 32)) < 0.08
    clip ^= (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    result = match_audio(AudioPrint(tuple(int(v) for v in clip)), AudioPrint(tuple(int(v) for v in track)))
    assert result.matched and result.offset_ms == round(700 * FRAME_MS)
    assert result.ber is not None and 0.05 < result.ber < 0.11
    assert result.matched_ms >= 5000
    unrelated = rng.integers(0, 1 << 32, 300, dtype=np.uint64).astype(np.uint32)
    other = match_audio(AudioPrint(tuple(int(v) for v in unrelated)), AudioPrint(tuple(int(v) for v in track)))
    assert not other.matched and other.ber is not None and other.ber > 0.4


# ---------------------------------------------------------------- real media through ffmpeg and espeak-ng


@needs_ffmpeg
@pytest.mark.slow
def test_video_is_banked_at_every_distinct_frame_and_its_trimmed_clip_located(tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    source = video_source(rng, tmp_path / "source.mp4", seconds=12)
    ffmpeg("-i", str(source), "-f", "lavfi", "-i", "sine=f=440:d=12", "-c:v", "copy", "-shortest",
           str(tmp_path / "with-sound.mp4"))  # fmt: skip
    clip = video_edit(source, tmp_path / "clip.mp4", "trim")  # 3.3 s → 9.3 s
    bank = hash_file(tmp_path / "with-sound.mp4", for_bank=True)
    query = hash_file(clip, for_bank=False)
    assert bank.info.kind is MediaKind.VIDEO and bank.info.duration_ms == pytest.approx(12_000, abs=100)
    bank_times = sorted({h.t_ms for h in bank.pdq})  # every distinct frame of 25, a second apart at most
    assert bank_times[0] == 0 and all(t % 40 == 0 for t in bank_times) and max(np.diff(bank_times)) <= 1000
    assert sorted({h.t_ms for h in query.pdq}) == [0, 1000, 2000, 3000, 4000, 5000]  # 1 fps
    assert bank.audio is not None and len(bank.audio.values) > 50 and query.audio is None  # the clip is silent
    result = match_video(query.pdq, bank.pdq)
    assert result.matched and result.share >= 0.8
    assert result.offset_ms is not None and abs(result.offset_ms - 3300) <= 1000


@needs_ffmpeg
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_captioned_clip_of_fine_texture_matches_its_banked_video(tmp_path: Path, seed: int) -> None:
    """A caption bar changes the frame's shape: frames squeezed to a square put the picture at a
    different scale in the post and in the bank, and a cellular automaton's pixel-scale texture
    then lands 20–54 bits away (two benchmark misses). Frames at their own shape match closely."""
    source = video_source(np.random.default_rng([31, seed]), tmp_path / "cells.mp4", seconds=4, kind="cellauto")
    post = video_edit(source, tmp_path / "captioned.mp4", "caption")  # 40 px white bar with text above
    bank = hash_file(source, for_bank=True)
    query = hash_file(post, for_bank=False)
    result = match_video(query.pdq, bank.pdq)
    assert result.matched and result.share == 1.0 and result.offset_ms is not None and abs(result.offset_ms) <= 500
    uncaptioned = [h for h in query.pdq if h.variant == "uncaptioned"]
    assert len(uncaptioned) == 4  # one a second, each with its bar cut
    assert max(min(pdq_distance(q, b) for b in bank.pdq) for q in uncaptioned) <= 16


@needs_ffmpeg
@pytest.mark.slow
def test_video_frames_keep_their_display_shape(tmp_path: Path) -> None:
    """Decoded with the long side at most DECODE_SIDE, never enlarged, the sample aspect ratio
    applied; each form then hashed at a long side of exactly FRAME_SIDE."""
    shapes = {}
    for name, spec in {
        "wide": "testsrc=s=1280x720:d=0.2",
        "tall": "testsrc=s=360x640:d=0.2",
        "small": "testsrc=s=160x120:d=0.2",
        "anamorphic": "testsrc=s=720x576:d=0.2,setsar=16/11",  # shown as 1047×576
    }.items():
        ffmpeg("-f", "lavfi", "-i", spec, "-pix_fmt", "yuv420p", str(tmp_path / f"{name}.mp4"))
        shapes[name] = {rgb.shape for _, rgb in frames(tmp_path / f"{name}.mp4", Limits(), 1.0)}
    assert shapes == {
        "wide": {(288, DECODE_SIDE, 3)},
        "tall": {(DECODE_SIDE, 288, 3)},
        "small": {(120, 160, 3)},
        "anamorphic": {(282, DECODE_SIDE, 3)},
    }
    assert fitted(np.zeros((120, 160, 3), np.uint8), FRAME_SIDE).shape == (192, FRAME_SIDE, 3)
    assert fitted(np.zeros((512, 288, 3), np.uint8), FRAME_SIDE).shape == (FRAME_SIDE, 144, 3)


@needs_espeak
@needs_ffmpeg
@pytest.mark.slow
def test_audio_prints_equal_fpcalc_and_locate_a_clip(tmp_path: Path) -> None:
    rng = np.random.default_rng(22)
    track = speech(rng, tmp_path / "speech.wav")
    printed = fingerprint(track, Limits())
    assert printed is not None
    if shutil.which("fpcalc"):
        out = subprocess.run(["fpcalc", "-raw", "-json", "-length", "0", str(track)], capture_output=True, text=True)
        assert tuple(json.loads(out.stdout)["fingerprint"]) == printed.values  # exit code 3 on WAV is ignored
    ffmpeg("-i", str(track), "-ss", "2.5", "-t", "6", "-c:a", "libmp3lame", "-b:a", "64k", str(tmp_path / "clip.mp3"))
    bank = hash_file(track, for_bank=True)
    query = hash_file(tmp_path / "clip.mp3", for_bank=False)
    assert query.info.kind is MediaKind.AUDIO and query.pdq == ()
    assert bank.audio is not None and query.audio is not None
    result = match_audio(query.audio, bank.audio)
    assert result.matched and result.offset_ms is not None and abs(result.offset_ms - 2500) <= 500
    other = hash_file(speech(np.random.default_rng(23), tmp_path / "other.wav"), for_bank=True)
    assert other.audio is not None and not match_audio(query.audio, other.audio).matched


@needs_ffmpeg
@pytest.mark.slow
def test_a_still_video_banks_one_frame_a_second_not_every_frame(tmp_path: Path) -> None:
    photo(np.random.default_rng(24), 320, 240).save(tmp_path / "still.png")
    ffmpeg("-loop", "1", "-i", str(tmp_path / "still.png"), "-t", "3", "-r", "25", "-pix_fmt", "yuv420p",
           str(tmp_path / "still.mp4"))  # fmt: skip
    bank = hash_file(tmp_path / "still.mp4", for_bank=True)
    assert sorted({h.t_ms for h in bank.pdq}) == [0, 1000, 2000]  # 75 frames, the same picture
    assert {h.variant for h in bank.pdq} == {"original", "mirror"}


def test_match_video_is_not_dragged_to_the_start_of_a_still() -> None:
    """Most of the clip lies in a still (every banked frame of it equally good): the offset
    must come from the frames that can tell, not from the still's first moment."""
    rng = np.random.default_rng(3)
    still = rng.integers(0, 2, 256)
    scenes = np.array([still if i < 40 else rng.integers(0, 2, 256) for i in range(75)])  # still for 8 s
    bank = _frames(scenes, list(range(0, 15_000, 200)))
    query = [PdqHash(bits_to_bytes(scenes[(2000 + t) // 200]), 100, "original", t) for t in range(0, 10_000, 1000)]
    result = match_video(query, bank)
    assert result.matched and result.share == 1.0
    assert result.offset_ms is not None and abs(result.offset_ms - 2000) <= 200
    assert result.speed == pytest.approx(1.0, abs=0.02)
