"""Where the bytes of a post's media come from: a ``media`` row → the URL (or export path) to fetch.

Readers keep what the source says (``media.url``, ``preview_url``, the whole object in ``raw``);
this module decides what to download, per platform:

- **X** (v2, twarc2, v1.1, the archive): a photo's ``url``; a video's or GIF's best MP4 variant
  whose estimated size (bit rate × duration) fits the byte cap — never the HLS playlist, which is
  a list of segments — else its preview image (a thumbnail is still matchable as an image).
- **Bluesky**: an image's ``fullsize`` CDN URL from a view, else the same CDN URL built from the
  author's DID and the blob CID (``cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg``): it
  needs no lookup of the author's PDS, and it is where the app itself loads the image from. (The
  CDN re-encodes to JPEG, which strips a C2PA manifest; the original blob is on the author's PDS,
  ``com.atproto.sync.getBlob``, which a post does not name.) A video's playlist is HLS segments,
  not a file, so its blob is fetched from the author's PDS (``at://DID/blob/CID``: the fetch
  resolves the DID document for the PDS); its thumbnail when the DID or CID is unusable.
- **Telegram Desktop export**: ``photo`` / ``file`` paths, relative to the export's folder (the
  folder of the ``result.json`` that was ingested) and confined to it; "(File not included…)"
  placeholders are not files. **Telethon** media objects carry no URL: skipped, with the reason.
- **Mastodon**: the instance's copy (``url``), else the origin's ``remote_url``.
- Anything else: the reader's ``url``. Only http/https URLs from a post are ever fetched.

A reference with nothing to fetch (a link card, a Telethon object, a placeholder) gets a queue row
``skipped`` with the reason, so ``media status`` accounts for every reference.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from claimwatch.media.fetch import CID, DID, blob_ref
from claimwatch.sources import x_media
from claimwatch.store.media_fetches import MediaSource, NewFetch

BSKY_CDN = "https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{cid}@jpeg"
_DID, _CID = re.compile(DID), re.compile(CID)
#: Telegram Desktop writes these instead of a path when a file was not exported
_TG_PLACEHOLDER = re.compile(r"\(File [^)]*\)\s*")
#: media types that are link cards, not media
_LINK_TYPES = frozenset({"webpage", "external"})


def fetch_target(src: MediaSource, max_bytes: int | None = None) -> NewFetch:
    """The queue row for ``src``: what to fetch, or why nothing can be."""
    if src.type in _LINK_TYPES:
        return _skip(src, "a link card (a web page), not media")
    raw = src.raw if isinstance(src.raw, dict) else {}
    if src.platform == "telegram":
        return _telegram(src, raw)
    if src.platform == "bluesky":
        url, reason = _bluesky(src)
    elif src.platform == "x":
        url = x_media.best_variant(x_media.mp4_variants(raw), max_bytes, src.duration_ms) or src.url or src.preview_url
        reason = "no URL in the source (an X object without url, variants or preview_image_url)"
    elif src.platform == "mastodon":
        remote = raw.get("remote_url")
        url = src.url or (remote if isinstance(remote, str) else None)
        reason = "no url or remote_url in the attachment"
    else:
        url, reason = src.url, "no URL in the source"
    if not url:
        return _skip(src, reason)
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https") and not (src.platform == "bluesky" and url.startswith("at://")):
        return _skip(src, f"a {scheme or 'scheme-less'} URL; only http and https URLs from posts are fetched")
    return NewFetch(src.media_id, url)


def _skip(src: MediaSource, reason: str) -> NewFetch:
    return NewFetch(src.media_id, None, reason)


def _bluesky(src: MediaSource) -> tuple[str | None, str]:
    did, cid = src.author_platform_id or "", src.media_key
    if src.type == "video":
        ref = blob_ref(did, cid) or src.preview_url
        return ref, "a Bluesky video without its author's DID and blob CID or a thumbnail"
    if src.url:
        return src.url, ""
    if _DID.fullmatch(did) and _CID.fullmatch(cid):
        return BSKY_CDN.format(did=quote(did, safe=":"), cid=cid), ""
    return None, "no CDN URL in the source and no author DID and blob CID to build one"


def _telegram(src: MediaSource, raw: dict) -> NewFetch:
    if "_" in raw:  # Telethon: an MTProto object, no URL
        return _skip(src, "a Telethon media object has no URL: download it with Telethon, then `claimwatch media add`")
    relative = raw.get(src.media_key) if src.media_key in ("photo", "file") else None
    if not isinstance(relative, str) or not relative.strip():
        return _skip(src, "no file path in the export")
    if _TG_PLACEHOLDER.fullmatch(relative):
        return _skip(src, f"not exported: {relative.strip()}")
    if not src.source_path:
        return _skip(src, "the export's folder is unknown (the post has no source file)")
    root = Path(src.source_path).parent.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return _skip(src, f"{relative!r} is outside the export folder {root}; refused")
    return NewFetch(src.media_id, path.as_uri())
