"""Every media file is hostile: what it is (from its bytes, never its name), whether it is within
our limits, and how its decoders run (ffmpeg with time, memory and output caps; Pillow with a pixel
cap, decompression bombs and truncation refused).

Everything here raises :class:`~claimwatch.media.records.Refused` with a one-line reason; the
public hashers prefix it with the file's name (:func:`naming`), so a user reads
``clip.jpg: a video file (MP4) named as something else…``-style lines, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile

from claimwatch.media.records import MediaKind, Refused

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What a file may cost us. Defaults fit post media (a phone video of a speech, a screenshot)
    with room to spare, and keep one hostile file from taking the machine."""

    max_image_bytes: int = 50 * MB
    max_video_bytes: int = 500 * MB
    max_audio_bytes: int = 200 * MB
    #: longer media is refused (declared duration), and decoding stops there anyway (``-t``)
    max_duration_s: float = 20 * 60
    max_image_pixels: int = 50_000_000
    #: wall-clock limit of one decoder run (ffprobe, ffmpeg)
    decode_timeout_s: float = 300.0
    #: address-space limit of one decoder process
    decoder_memory_bytes: int = 2048 * MB

    def max_bytes(self, kind: MediaKind) -> int:
        return {
            MediaKind.IMAGE: self.max_image_bytes,
            MediaKind.VIDEO: self.max_video_bytes,
            MediaKind.AUDIO: self.max_audio_bytes,
        }[kind]


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: MediaKind
    mime: str
    #: a short human name for messages ("JPEG", "MP4")
    name: str


# ftyp major/compatible brands → (kind, mime, name); the first brand we know wins
_FTYP_BRANDS: dict[bytes, Sniffed] = {
    **{
        b: Sniffed(MediaKind.IMAGE, "image/heic", "HEIC")
        for b in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
    },
    b"avif": Sniffed(MediaKind.IMAGE, "image/avif", "AVIF"),
    b"avis": Sniffed(MediaKind.IMAGE, "image/avif", "AVIF"),
    b"M4A ": Sniffed(MediaKind.AUDIO, "audio/mp4", "M4A"),
    b"M4B ": Sniffed(MediaKind.AUDIO, "audio/mp4", "M4A"),
    b"F4A ": Sniffed(MediaKind.AUDIO, "audio/mp4", "M4A"),
    b"qt  ": Sniffed(MediaKind.VIDEO, "video/quicktime", "MOV"),
    **{b: Sniffed(MediaKind.VIDEO, "video/3gpp", "3GP") for b in (b"3gp4", b"3gp5", b"3gp6", b"3ge6", b"3g2a")},
}
_MP4 = Sniffed(MediaKind.VIDEO, "video/mp4", "MP4")


def sniff(head: bytes) -> Sniffed | None:
    """The type of a file from its first bytes (≥ 64 of them), or None when it is none we read.

    Magic numbers from the formats' specs; an ISO-BMFF file (``ftyp`` box) is told apart by its
    brands, an EBML file (WebM/Matroska) by its DocType, a RIFF file by its form type."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "image/jpeg", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "image/png", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(MediaKind.IMAGE, "image/gif", "GIF")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "image/webp", "WebP")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed(MediaKind.AUDIO, "audio/wav", "WAV")
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return Sniffed(MediaKind.VIDEO, "video/x-msvideo", "AVI")
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)
    ):
        return Sniffed(MediaKind.IMAGE, "image/bmp", "BMP")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed(MediaKind.IMAGE, "image/tiff", "TIFF")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            return Sniffed(MediaKind.VIDEO, "video/webm", "WebM")
        return Sniffed(MediaKind.VIDEO, "video/x-matroska", "Matroska")
    if head[:1] == b"\x47" and len(head) > 188 and head[188:189] == b"\x47":
        return Sniffed(MediaKind.VIDEO, "video/mp2t", "MPEG-TS")
    if head.startswith(b"fLaC"):
        return Sniffed(MediaKind.AUDIO, "audio/flac", "FLAC")
    if head.startswith(b"OggS"):
        # an Ogg stream of Theora/VP8 is a video; Opus, Vorbis, FLAC-in-Ogg are audio
        if b"\x80theora" in head[:128]:
            return Sniffed(MediaKind.VIDEO, "video/ogg", "Ogg video")
        return Sniffed(MediaKind.AUDIO, "audio/ogg", "Ogg")
    if head.startswith(b"ID3"):
        return Sniffed(MediaKind.AUDIO, "audio/mpeg", "MP3")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0:
        # MPEG audio frame sync (11 bits) with a layer set; ADTS AAC has layer bits 00
        return Sniffed(MediaKind.AUDIO, "audio/mpeg", "MP3")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return Sniffed(MediaKind.AUDIO, "audio/aac", "AAC")
    return None


def _sniff_ftyp(head: bytes) -> Sniffed:
    size = int.from_bytes(head[0:4], "big")
    end = min(max(size, 16), len(head))
    brands = [head[8:12]] + [head[i : i + 4] for i in range(16, end - 3, 4)]
    for brand in brands:
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
    return _MP4


HEAD_BYTES = 512


def check_file(path: Path, limits: Limits) -> tuple[Sniffed, int]:
    """The sniffed type and size of a file within the limits; refused otherwise."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise Refused("not a regular file")
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise Refused(f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise Refused("empty file (0 bytes)")
    sniffed = sniff(head)
    if sniffed is None:
        raise Refused("not an image, video or audio type we read (judged from its bytes, not its name)")
    cap = limits.max_bytes(sniffed.kind)
    if size > cap:
        raise Refused(
            f"{sniffed.name} of {size / MB:.1f} MB is over the {sniffed.kind} size limit of {cap / MB:.0f} MB"
        )
    return sniffed, size


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """Prefix any refusal raised inside with the file's name (once)."""
    name = str(path)
    try:
        yield
    except Refused as exc:
        message = str(exc)
        if message.startswith(f"{name}: "):
            raise
        raise Refused(f"{name}: {message}") from None


# ---------------------------------------------------------------- decoders under limits


def _limit_child(max_memory_bytes: int, cpu_s: int, max_file_bytes: int) -> None:  # pragma: no cover - in the child
    resource.setrlimit(resource.RLIMIT_AS, (max_memory_bytes, max_memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    # decoders write to pipes only: a file they try to write is capped too
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def stream_limited(
    argv: Sequence[str],
    timeout_s: float,
    max_memory_bytes: int,
    max_output_bytes: int,
    *,
    chunk_bytes: int = 1 << 16,
) -> Iterator[bytes]:
    """Run a decoder and yield its standard output in chunks of ``chunk_bytes`` (the last may be
    shorter), killing it (and refusing) when it runs over ``timeout_s`` wall-clock, writes more
    than ``max_output_bytes`` (an endless stream, a decompression bomb) or fails.

    The child gets an address-space, CPU-time and file-size rlimit and its own process group,
    so a kill takes its threads with it. Its standard error is kept (capped) for the message."""
    tool = Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # CPU seconds: two cores' worth of the wall-clock limit (ffmpeg decodes in threads)
            preexec_fn=lambda: _limit_child(max_memory_bytes, 2 * int(timeout_s) + 1, max_output_bytes),
            start_new_session=True,
        )
    except OSError as exc:
        raise Refused(f"{tool} cannot be run ({exc.strerror or exc}); is it installed?") from None
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout_s
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    pending = bytearray()
    err = bytearray()
    total = 0
    open_streams = 2
    try:
        while open_streams:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Refused(f"{tool} stopped after its time limit of {timeout_s:g} s (an endless or hostile stream?)")
            for key, _ in sel.select(timeout=min(left, 1.0)):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.fileobj is proc.stderr:
                    if len(err) < 8192:
                        err += data
                    continue
                total += len(data)
                if total > max_output_bytes:
                    raise Refused(
                        f"{tool} output over its limit of {max_output_bytes / MB:.0f} MB "
                        "(an endless stream or a decompression bomb?)"
                    )
                pending += data
                while len(pending) >= chunk_bytes:
                    yield bytes(pending[:chunk_bytes])
                    del pending[:chunk_bytes]
        try:
            rc = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise Refused(f"{tool} stopped after its time limit of {timeout_s:g} s") from None
        if rc != 0:
            raise Refused(_failure(tool, rc, bytes(err)))
        if pending:
            yield bytes(pending)
    finally:
        sel.close()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _failure(tool: str, rc: int, err: bytes) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        why = {
            "SIGXCPU": "over its CPU-time limit",
            "SIGKILL": "killed (memory limit?)",
            "SIGXFSZ": "over its file-size limit",
        }
        return f"{tool} {why.get(name, f'killed by {name}')}"
    lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    detail = lines[-1][:200] if lines else "no message"
    if "Cannot allocate memory" in detail or "std::bad_alloc" in detail:
        detail = f"over its memory limit ({detail})"
    return f"{tool} could not decode it ({detail})"


def run_limited(argv: Sequence[str], timeout_s: float, max_memory_bytes: int, max_output_bytes: int) -> bytes:
    """:func:`stream_limited`, collected: for small outputs (ffprobe's JSON, a fingerprint)."""
    return b"".join(stream_limited(argv, timeout_s, max_memory_bytes, max_output_bytes))


# ---------------------------------------------------------------- Pillow under limits


#: the Pillow decoders allowed for each sniffed type: no other plugin (EPS would start
#: Ghostscript) ever sees a hostile file
_PILLOW_FORMATS = {
    "image/jpeg": ("JPEG", "MPO"),
    "image/png": ("PNG",),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/bmp": ("BMP", "DIB"),
    "image/tiff": ("TIFF",),
    "image/avif": ("AVIF",),
    "image/heic": ("HEIF",),
}


def open_image(path: Path, sniffed: Sniffed, limits: Limits) -> Image.Image:
    """The first frame of an image, fully decoded, as RGB, by the decoder of its sniffed type
    only. A decompression bomb (over ``max_image_pixels``), a truncated or corrupt file is
    refused — never half-loaded: ``ImageFile.LOAD_TRUNCATED_IMAGES`` is forced off for the load."""
    formats = _PILLOW_FORMATS.get(sniffed.mime, ())
    saved_max, saved_trunc = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=formats) as probe:
                _check_pixels(probe, limits)
                probe.verify()  # structure and checksums (PNG CRCs) before any decoding
            with Image.open(path, formats=formats) as im:
                _check_pixels(im, limits)
                im.load()
                return im.convert("RGB")
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Refused(f"a decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's ways of saying "broken"
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "truncated" in message:
            raise Refused(f"a truncated image ({message})") from None
        raise Refused(f"not a readable image ({message})") from None
    except MemoryError:
        raise Refused("not decodable within memory") from None
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved_max, saved_trunc


def _check_pixels(im: Image.Image, limits: Limits) -> None:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise Refused(f"an image of {width}×{height} pixels")
    if width * height > limits.max_image_pixels:
        raise Refused(
            f"a decompression bomb: {width}×{height} = {width * height / 1e6:.0f} MP is over the "
            f"limit of {limits.max_image_pixels / 1e6:.0f} MP"
        )
