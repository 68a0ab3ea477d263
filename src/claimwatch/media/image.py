"""PDQ hashes of images (and of video frames): the hash and quality from Meta's PDQ (``pdqhash``,
the C++ reference behind a binding), the eight dihedral variants, and variants of the picture
with uniform borders trimmed and with a caption bar cut off.

Why the variants. PDQ is robust to re-encoding, resizing and colour changes, not to re-framing:
a mirror, a letterbox or a phone screenshot's border moves a hash by ~130 bits (the reference
notes). Two sides, two jobs:

* a **banked** image (debunked once, matched forever) keeps the eight dihedral hashes of the
  picture and of its trimmed version, and its "uncaptioned" hash — up to 17 hashes, so a
  mirrored or rotated re-share meets the bank's variant;
* a **query** (post media, many of them) is hashed as it is, trimmed and uncaptioned — at most
  three hashes, not seventeen; a match is any query hash near any banked one.

Raw and trimmed are both kept because trimming alone *breaks* a caption bar (its flat margin
goes, its text stays, the picture shifts): "uncaptioned" cuts the whole bar (margin, text,
margin), "trimmed" a letterbox or a screenshot's margins, the raw hash the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from claimwatch.media.guard import Limits, Sniffed, open_image
from claimwatch.media.records import MediaExtraMissing, MediaInfo, PdqHash

#: the dihedral variants a banked image keeps (rotations and flips)
DIHEDRAL = ("original", "rot90", "rot180", "rot270", "flip-v", "mirror", "transpose", "antitranspose")
TRIMMED = "trimmed"
UNCAPTIONED = "uncaptioned"
#: the "uncaptioned" variant removes a caption bar of up to this share of the height
CAPTION_SHARE = 0.25
#: what a video frame keeps when banked: a horizontal mirror is the usual re-upload edit of a video
#: (rotations are not); the query side is always original + trimmed
VIDEO_BANK_VARIANTS = ("original", "mirror")

#: images are downscaled so their long side is at most this before hashing: PDQ reduces
#: everything to 64×64 through a box-like (Jarosz) filter, so a box-filtered 512 px image hashes
#: within a few bits of the full one (figure in the benchmark) at a fraction of the time
HASH_SIDE = 512
#: borders are found on a copy at most this large (enough to place an edge within a pixel or two
#: of the 512 px hash image, without a 50 MP array of int16)
TRIM_SIDE = 1024


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """pdqhash's 256 0/1 values as 32 bytes, first bit most significant: ThreatExchange's hex."""
    return np.packbits(bits.astype(np.uint8)).tobytes()


def pdq(rgb: np.ndarray, variant: str = "original", t_ms: int | None = None) -> PdqHash:
    bits, quality = _pdqhash().compute(np.ascontiguousarray(rgb))
    return PdqHash(bits_to_bytes(bits), int(quality), variant, t_ms)


#: the eight rotations and flips, as the pixel transforms that make them
_TRANSFORMS = {
    "original": lambda a: a,
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "flip-v": lambda a: a[::-1],
    "mirror": lambda a: a[:, ::-1],
    "transpose": lambda a: a.transpose(1, 0, 2),
    "antitranspose": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
}


def pdq_variants(
    rgb: np.ndarray, keep: tuple[str, ...] = DIHEDRAL, prefix: str = "", t_ms: int | None = None
) -> list[PdqHash]:
    """The hashes of the picture rotated and flipped as named in ``keep``; ``prefix`` names the
    source (``trimmed-`` for the trimmed picture: ``trimmed-mirror``; its ``original`` is
    ``trimmed``).

    Each variant is the hash of the transformed *pixels*, downscaled after the transform exactly
    as a re-shared mirror would be. ``pdqhash.compute_dihedral`` derives all eight from one DCT
    (8× cheaper), but PDQ's box filters are not symmetric: a mirrored, re-encoded picture lands
    8–38 bits from its derived mirror hash and 0–2 bits from this one (measured on 40 generated
    pictures) — the difference between a sure match and a miss at 31. Banking is rare; queries
    never compute variants."""
    out = []
    for name in keep:
        variant = (prefix + name) if name != "original" else (prefix.rstrip("-") or "original")
        out.append(pdq(_hash_size(np.ascontiguousarray(_TRANSFORMS[name](rgb))), variant, t_ms))
    return out


def trim_borders(
    rgb: np.ndarray, tolerance: int = 24, min_flat: float = 0.97, caption_share: float | None = None
) -> np.ndarray | None:
    """The image without its uniform borders (black, white or any flat colour, on each side
    separately: a letterbox, a phone screenshot's margins), or None when there is nothing to trim
    (< 2 % on every side) or the rest would be a sliver (< 5 % of the area, < 16 px).

    A row or column is border when ``min_flat`` of its pixels are within ``tolerance`` (per
    channel) of that side's outermost colour — JPEG noise at the edge is tolerated. Repeated up
    until nothing changes (at most eight passes), for nested frames (a status bar's colour, then
    a white margin): a fixed point, so a picture and the same picture in a letterbox end in the
    same cut even when the picture's own ground is flat or a slow gradient.

    With ``caption_share``, a band above or below of at most that share of the height whose
    outer and inner rows are border-coloured goes too, whatever is between them: a caption bar
    (flat margin, a line of text, flat margin) and not just its margin."""
    height, width = rgb.shape[:2]
    top, bottom, left, right = 0, height, 0, width
    pixels = rgb.astype(np.int16)
    if caption_share is not None:
        top += _caption_band(pixels, tolerance, min_flat, caption_share)
        bottom -= _caption_band(pixels[top:][::-1], tolerance, min_flat, caption_share)
    for _ in range(8):
        before = (top, bottom, left, right)
        top += _flat_run(pixels[top:bottom, left:right], tolerance, min_flat)
        bottom -= _flat_run(pixels[top:bottom, left:right][::-1], tolerance, min_flat)
        left += _flat_run(pixels[top:bottom, left:right].transpose(1, 0, 2), tolerance, min_flat)
        right -= _flat_run(pixels[top:bottom, left:right].transpose(1, 0, 2)[::-1], tolerance, min_flat)
        if (top, bottom, left, right) == before:
            break
    kept_h, kept_w = bottom - top, right - left
    if kept_h < 16 or kept_w < 16 or kept_h * kept_w < 0.05 * height * width:
        return None
    if top < 0.02 * height and height - bottom < 0.02 * height and left < 0.02 * width and width - right < 0.02 * width:
        return None
    return rgb[top:bottom, left:right]


def _flat_rows(pixels: np.ndarray, tolerance: int, min_flat: float, reference: np.ndarray | None = None) -> np.ndarray:
    """Which rows of ``pixels`` are flat in the colour of the first one (or ``reference``)."""
    if reference is None:
        reference = np.median(pixels[0], axis=0)
    close = np.abs(pixels - reference).max(axis=2) <= tolerance
    return close.mean(axis=1) >= min_flat


def _flat_run(pixels: np.ndarray, tolerance: int, min_flat: float) -> int:
    """How many leading rows of ``pixels`` are flat in the colour of the first one (read in
    growing blocks: most pictures stop at the first row, a letterbox after a few hundred)."""
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        return 0
    reference = np.median(pixels[0], axis=0)
    start, step = 0, 8
    while start < pixels.shape[0]:
        flat = _flat_rows(pixels[start : start + step], tolerance, min_flat, reference)
        if not flat.all():
            return start + int(np.argmin(flat))
        start, step = start + step, step * 2
    return pixels.shape[0]


def _caption_band(pixels: np.ndarray, tolerance: int, min_flat: float, share: float) -> int:
    """Rows up to the last one, within the first ``share``, flat in the first row's colour —
    when the first row is flat at all (a caption bar starts with its margin)."""
    limit = int(pixels.shape[0] * share)
    if limit < 2 or pixels.shape[1] == 0:
        return 0
    flat = _flat_rows(pixels[:limit], tolerance, min_flat)
    if not flat[0]:
        return 0
    return int(np.flatnonzero(flat)[-1]) + 1


def frame_hashes(
    rgb: np.ndarray,
    *,
    for_bank: bool,
    t_ms: int | None = None,
    bank_variants: tuple[str, ...] = DIHEDRAL,
    side: int | None = None,
) -> list[PdqHash]:
    """The hashes of one picture (trimmed at the resolution given, hashed at ≤ ``HASH_SIDE``, or
    with ``side`` each form scaled to exactly that long side: see ``fitted``).

    A query: the picture, trimmed, and "uncaptioned" (trimmed with a loose flatness rule, so a
    caption bar's text rows go with its margin: a meme caption above a picture shifts the whole
    64×64 grid PDQ sees). A bank item: ``bank_variants`` of the picture and of its trimmed form,
    and its uncaptioned form. Variants equal to another (nothing to trim) are not repeated."""

    def sized(form: np.ndarray) -> np.ndarray:
        return _hash_size(form) if side is None else fitted(form, side)

    trimmed = trim_borders(rgb)
    uncaptioned = trim_borders(rgb, caption_share=CAPTION_SHARE)
    if uncaptioned is not None and trimmed is not None and uncaptioned.shape == trimmed.shape:
        uncaptioned = None
    if not for_bank:
        out = [pdq(sized(rgb), "original", t_ms)]
        if trimmed is not None:
            out.append(pdq(sized(trimmed), TRIMMED, t_ms))
        if uncaptioned is not None:
            out.append(pdq(sized(uncaptioned), UNCAPTIONED, t_ms))
        return out
    out = pdq_variants(sized(rgb), bank_variants, "", t_ms)
    if trimmed is not None:
        out += pdq_variants(sized(trimmed), bank_variants, TRIMMED + "-", t_ms)
    if uncaptioned is not None:
        # a graphic on a flat ground (a chart, a quote card) loses more than its border to the
        # loose rule: the bank keeps the same cut so the query's "uncaptioned" meets it
        out.append(pdq(sized(uncaptioned), UNCAPTIONED, t_ms))
    return out


def _hash_size(rgb: np.ndarray, side: int = HASH_SIDE) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(height, width) <= side:
        return rgb
    return downscaled(Image.fromarray(rgb), side)


def fitted(rgb: np.ndarray, side: int) -> np.ndarray:
    """The picture at its own shape with its long side exactly ``side``, bicubic. Video frames
    are hashed so: PDQ's own reduction to 64×64 aliases pixel-scale texture differently from
    different sizes, so a frame re-encoded at 240 px, or its picture cut out of a captioned post,
    must reach PDQ at the bank frame's size. Bicubic, not a box: enlarging with a box copies
    pixels into blocks whose edges alias (re-encodes of a cellular automaton at 240 px: 34–38
    bits median from their bank frames with a box, 14–18 bicubic; notes: caption.md)."""
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)


def downscaled(im: Image.Image, side: int) -> np.ndarray:
    """The RGB pixels with the long side at most ``side`` (box filter: an area average)."""
    if max(im.size) > side:
        scale = side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)


def hash_image(path: Path, sniffed: Sniffed, limits: Limits, *, for_bank: bool) -> tuple[MediaInfo, list[PdqHash]]:
    """Decode (guarded) and hash an image file; refusals name no file (the caller does)."""
    im = open_image(path, sniffed, limits)
    info = MediaInfo(sniffed.kind, sniffed.mime, im.width, im.height)
    return info, frame_hashes(downscaled(im, TRIM_SIDE), for_bank=for_bank)


def _pdqhash() -> Any:
    """pdqhash, imported on first use: the core install has no 'media' extra, and ``claimwatch``
    (whose CLI lists the media commands) must start without it."""
    try:
        import pdqhash
    except ImportError:
        raise MediaExtraMissing("pdqhash") from None
    return pdqhash
