"""X media objects: the field names of both API generations and the choice of a video variant.

v2 (``includes.media``, twarc2 ``attachments.media``): ``url`` (photos), ``preview_image_url``,
``variants[{bit_rate, content_type, url}]`` (videos, GIFs), ``duration_ms``,
``public_metrics.view_count``. v1.1 (``extended_entities.media``, the account archive):
``media_url_https`` (for a video, its thumbnail), ``video_info{duration_millis,
variants[{bitrate, content_type, url}]}``. A video's variants are an HLS playlist
(``application/x-mpegURL``, segments, not a file) and MP4s at several bit rates; an animated GIF
is one MP4 with bit rate 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MP4 = "video/mp4"
V2_VARIANTS, V2_BIT_RATE = "variants", "bit_rate"
V1_VIDEO_INFO, V1_BIT_RATE, V1_DURATION = "video_info", "bitrate", "duration_millis"
V1_URLS = ("media_url_https", "media_url")


@dataclass(frozen=True, slots=True)
class Variant:
    url: str
    #: bits per second; None when the object did not say
    bit_rate: int | None


def mp4_variants(item: dict[str, Any]) -> list[Variant]:
    """The MP4 variants of a v2 or v1.1 media object (the playlist left out)."""
    variants = item.get(V2_VARIANTS)
    if variants is None:
        info = item.get(V1_VIDEO_INFO)
        variants = info.get("variants") if isinstance(info, dict) else None
    out = []
    for v in variants if isinstance(variants, list) else ():
        if not isinstance(v, dict) or v.get("content_type") != MP4 or not isinstance(v.get("url"), str):
            continue
        rate = v.get(V2_BIT_RATE, v.get(V1_BIT_RATE))
        out.append(Variant(v["url"], rate if isinstance(rate, int) and not isinstance(rate, bool) else None))
    return out


def best_variant(variants: list[Variant], max_bytes: int | None = None, duration_ms: int | None = None) -> str | None:
    """The highest bit rate MP4 whose estimated size (bit rate × duration) fits ``max_bytes``;
    the smallest one when none fits (the download cap still applies); None without MP4s. An
    unknown duration or bit rate estimates nothing, so the highest known bit rate wins."""
    if not variants:
        return None
    ranked = sorted(variants, key=lambda v: v.bit_rate or 0, reverse=True)
    if max_bytes is None or not duration_ms:
        return ranked[0].url
    fitting = [v for v in ranked if v.bit_rate is None or v.bit_rate / 8 * duration_ms / 1000 <= max_bytes]
    return (fitting[0] if fitting else ranked[-1]).url


def v1_duration_ms(item: dict[str, Any]) -> int | None:
    info = item.get(V1_VIDEO_INFO)
    value = info.get(V1_DURATION) if isinstance(info, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
