"""The demo's known manipulated media: a synthetic "doctored photo", banked with a synthetic
fact-check, and a re-share of it (mirrored, captioned, re-encoded) attached to the demo's
media-only post — whose text is only a link, so only its media can tell what it repeats.

The pictures are drawn here (Pillow, no font files), the same on every machine, and written
into the demo's own folder. Nothing real: the fact-check URL is on example.org.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from claimwatch import api

#: synthetic (example.org): the demo's debunking fact-check of the doctored photo
FACTCHECK_URL = "https://example.org/factdesk/2024/07/20/ballot-boxes-photo-altered/"
CLAIM = "Synthetic: a photo shows sealed ballot boxes dumped behind a warehouse before election day"
RATING = "Altered Photo"
PUBLISHER = "Example Fact Desk (synthetic)"
#: the demo's media-only post (its text is a t.co link; see data/README.md)
POST_ID = "1900000000000013448"


def picture(width: int = 640, height: int = 480) -> Image.Image:
    """A deterministic picture with structure at every scale (PDQ needs texture to be confident):
    a seeded smooth field under a few boxes and a horizon."""
    rng = np.random.default_rng(2024)
    field = np.zeros((height, width, 3))
    for octave, cells in enumerate((3, 6, 12, 24)):
        small = rng.normal(0, 1, (cells, cells * width // height, 3)).astype(np.float32)
        layer = np.stack(
            [
                np.asarray(Image.fromarray(small[..., c]).resize((width, height), Image.Resampling.BICUBIC))
                for c in range(3)
            ],
            axis=2,
        )
        field += layer / 2**octave
    field = (field - field.mean()) / (field.std() + 1e-9)
    im = Image.fromarray(np.clip(110 + 45 * field, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, int(height * 0.62), width, height), fill=(70, 64, 58))  # the yard
    for i in range(5):  # the "ballot boxes"
        x = 60 + i * 110
        draw.rectangle((x, 250 + 12 * i, x + 80, 330 + 12 * i), fill=(30 + 40 * i, 60, 150 - 20 * i), outline=(0, 0, 0))
    return im


def reshare(im: Image.Image) -> Image.Image:
    """How a re-share looks: mirrored, a caption bar pasted above, shrunk."""
    mirrored = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    bar = 48
    out = Image.new("RGB", (im.width, im.height + bar), (255, 255, 255))
    out.paste(mirrored, (0, bar))
    ImageDraw.Draw(out).text((12, 14), "THEY DON'T WANT YOU TO SEE THIS", fill=(0, 0, 0))
    return out.resize((out.width // 2, out.height // 2), Image.Resampling.LANCZOS)


def run(ws: api.Workspace, folder: Path) -> list[str]:
    """Bank the doctored photo, attach its re-share to the media-only post, match: the log lines."""
    try:
        import pdqhash  # noqa: F401 - only to tell whether the media extra is there
    except ImportError:
        return ["media: skipped (the media extra is not installed: pip install 'claimwatch[media]')"]
    folder.mkdir(parents=True, exist_ok=True)
    original = picture()
    debunked, shared = folder / "debunked-photo.jpg", folder / "reshared-photo.jpg"
    original.save(debunked, "JPEG", quality=92)
    reshare(original).save(shared, "JPEG", quality=45)
    banked = ws.bank_media(
        debunked, FACTCHECK_URL, label="manipulated", claim=CLAIM, rating=RATING, publisher=PUBLISHER, by="demo"
    )
    ws.add_media(POST_ID, shared)
    done = ws.match_media()
    proposals = sum(done.proposals.values())
    return [
        f"media: banked {banked.item.kind} item {banked.item.id} ({banked.item.label}, {banked.item.pdq_hashes} PDQ "
        f"hashes); hashed {done.hashed} post file(s); {proposals} media proposal(s)"
    ]
