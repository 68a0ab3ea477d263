"""What each reader keeps of a post's media, and what ``media fetch`` queues for it: the URL or
export path (``claimwatch.media.refs``), or the reason there is none."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

import claimwatch
from claimwatch.media import downloads
from claimwatch.media.fetch import FetchLimits
from claimwatch.media.storage import MediaStore
from claimwatch.sources.x_media import Variant, best_variant
from claimwatch.store import schema as s

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFS = FIXTURES / "media_refs"
POSTS = FIXTURES / "posts"


def queued(ws: claimwatch.Workspace, *files: Path, max_bytes: int | None = None, **ingest: object) -> dict:
    """Ingest ``files``, queue their media; media key -> (type, status, url, reason)."""
    ws.ingest_posts(list(files), **ingest)
    downloads.enqueue(ws.engine, max_bytes)
    with ws.engine.connect() as conn:
        m, f = s.Media, s.MediaFetch
        rows = conn.execute(sa.select(m.media_key, m.type, f.status, f.url, f.last_error).join(f, f.media_id == m.id))
        return {r.media_key: (r.type, r.status, r.url, r.last_error) for r in rows}


def media_rows(ws: claimwatch.Workspace) -> dict:
    with ws.engine.connect() as conn:
        m = s.Media
        rows = conn.execute(sa.select(m.media_key, m.type, m.url, m.preview_url, m.duration_ms, m.view_count, m.raw))
        return {r.media_key: r for r in rows}


def test_x_v2_photo_video_variants_gif_and_missing_objects(ws: claimwatch.Workspace) -> None:
    q = queued(ws, REFS / "x_v2_media.jsonl", max_bytes=10_000_000)
    rows = media_rows(ws)
    video = rows["13_1816000000000000602"]
    # the reader keeps the best MP4 as url, the thumbnail as preview, duration, views and every variant
    assert video.url.endswith("/1920x1080/example.mp4?tag=14")
    assert video.preview_url.endswith("/img/example.jpg") and (video.duration_ms, video.view_count) == (60_000, 45_000)
    assert len(video.raw["variants"]) == 4
    assert q["3_1816000000000000601"] == ("photo", "pending", "https://pbs.twimg.com/media/ExamplePhoto1.jpg", None)
    # under a 10 MB cap a 60 s video fits 832 kbit/s (~6.2 MB), not 2.2 or 10.4 Mbit/s (16 / 78 MB)
    assert q["13_1816000000000000602"][2].endswith("/640x360/example.mp4?tag=14")
    assert q["16_1816000000000000603"][1:3] == ("pending", "https://video.twimg.com/tweet_video/ExampleGif.mp4")
    # no includes object: the key is kept, with nothing to fetch and the reason
    status, url, reason = q["3_1816000000000000604"][1:]
    assert (status, url) == ("skipped", "") and "no URL" in reason
    # a video object without variants: its preview image is still worth matching
    assert q["7_1816000000000000605"][2].endswith("/pu/img/example.jpg")


def test_x_v2_the_same_page_without_a_cap_takes_the_highest_bit_rate(ws: claimwatch.Workspace) -> None:
    q = queued(ws, REFS / "x_v2_media.jsonl")
    assert q["13_1816000000000000602"][2].endswith("/1920x1080/example.mp4?tag=14")


def test_x_v1_extended_entities_video_and_photo(ws: claimwatch.Workspace) -> None:
    """twarc1 / v1.1 posts used to lose their media entirely; the archive reader shares this code."""
    q = queued(ws, REFS / "x_v1_extended.jsonl", max_bytes=5_000_000)
    rows = media_rows(ws)
    video = rows["1816000000000000801"]
    assert (video.type, video.duration_ms) == ("video", 30_033)
    assert video.url.endswith("/1280x720/Example.mp4") and video.preview_url.endswith("/img/Example.jpg")
    # 2.2 Mbit/s × 30 s ≈ 8.2 MB > 5 MB: the 256 kbit/s variant
    assert q["1816000000000000801"][2].endswith("/480x270/Example.mp4")
    assert q["1816000000000000802"] == ("photo", "pending", "https://pbs.twimg.com/media/ExampleV1Photo.jpg", None)


def test_x_real_twarc2_and_flattened_forms(ws: claimwatch.Workspace) -> None:
    q = queued(ws, POSTS / "twarc2_flattened.jsonl", POSTS / "twarc2_search.jsonl")
    assert q["3_1816000000000000300"][1:3] == ("pending", "https://pbs.twimg.com/media/example.jpg")
    assert q["13_1816000000000000100"][2].endswith("/1280x720/example.mp4")  # never the .m3u8


def test_bluesky_views_use_the_cdn_records_build_it_and_video_takes_the_thumbnail(ws: claimwatch.Workspace) -> None:
    q = queued(ws, POSTS / "bluesky_getAuthorFeed.json", REFS / "bluesky_records.jsonl")
    view_image = q["bafkreiimageexampleimageexampleimageexampleimageexample1"]
    assert view_image[1:3] == (
        "pending",
        "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:aaaaexampleaaaaexample01/"
        "bafkreiimageexampleimageexampleimageexampleimageexample1@jpeg",
    )
    record_image = q["bafkreirecordimageexamplerecordimageexamplerecordimagea"]
    assert record_image[2] == (
        "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:ccccexamplecccexample03/"
        "bafkreirecordimageexamplerecordimageexamplerecordimagea@jpeg"
    )
    injected = q["../../xrpc/evil?x="]
    assert injected[1] == "skipped" and "CID" in injected[3]  # never put into a URL
    # a video: its blob on the author's PDS (resolved at fetch time), never the HLS playlist
    record_video = q["bafkreirecordvideoexamplerecordvideoexamplerecordvideoa"]
    assert record_video[1:3] == (
        "pending",
        "at://did:plc:ccccexamplecccexample03/blob/bafkreirecordvideoexamplerecordvideoexamplerecordvideoa",
    )
    videos = [v for v in q.values() if v[0] == "video"]
    assert len(videos) > 1 and all(v[1] == "pending" and not v[2].endswith(".m3u8") for v in videos)
    cards = [v for v in q.values() if v[0] == "external"]
    assert cards and all(v[1] == "skipped" and "link card" in v[3] for v in cards)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 90, 200)).save(out, "JPEG")
    return out.getvalue()


def test_telegram_desktop_paths_are_relative_to_the_export_and_confined(
    ws: claimwatch.Workspace, tmp_path: Path
) -> None:
    export = tmp_path / "ChatExport_2024-07-27"
    shutil.copytree(REFS / "telegram_export", export)
    (export / "photos").mkdir()
    (export / "photos" / "photo_1@27-07-2024_03-23-45.jpg").write_bytes(jpeg())
    (tmp_path / "outside.jpg").write_bytes(jpeg())
    ws.ingest_posts([export / "result.json"])
    downloads.enqueue(ws.engine, None)
    with ws.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                s.Post.platform_id, s.Media.media_key, s.MediaFetch.status, s.MediaFetch.url, s.MediaFetch.last_error
            )
            .join(s.Media, s.Media.post_id == s.Post.id)
            .join(s.MediaFetch, s.MediaFetch.media_id == s.Media.id)
            .order_by(s.Post.platform_id)
        ).all()
    by_message = {r.platform_id.rsplit("/", 1)[-1]: r for r in rows}
    assert by_message["1"].status == "pending"
    assert by_message["1"].url == (export / "photos" / "photo_1@27-07-2024_03-23-45.jpg").resolve().as_uri()
    assert by_message["2"].url.endswith("/video_files/clip.mp4")
    assert by_message["3"].status == "skipped" and "not exported: (File not included" in by_message["3"].last_error
    assert by_message["4"].status == "skipped" and "File exceeds maximum size" in by_message["4"].last_error
    assert by_message["5"].status == "skipped" and "outside the export folder" in by_message["5"].last_error
    summary = downloads.fetch_media(ws.engine, MediaStore(tmp_path / "m"), FetchLimits())
    # the photo is copied in; the video file named by the export is missing on disk: failed, retried later
    assert (summary.fetched, summary.failed) == (1, 1)


def test_telethon_media_are_kept_and_marked_not_fetchable(ws: claimwatch.Workspace) -> None:
    q = queued(ws, POSTS / "telegram_telethon.jsonl")
    assert q and {v[1] for v in q.values()} == {"skipped"}
    media = [v for v in q.values() if v[0] != "webpage"]
    assert media and all("Telethon" in v[3] and "media add" in v[3] for v in media)
    assert all("link card" in v[3] for v in q.values() if v[0] == "webpage")


def test_mastodon_instance_copy_then_remote_url(ws: claimwatch.Workspace) -> None:
    q = queued(ws, POSTS / "mastodon_statuses.json", REFS / "mastodon_remote_media.json")
    assert q["112856000000000100"][2] == "https://files.mastodon.example/media/original/ballot.jpg"
    assert q["112856000000000901"][1:3] == ("pending", "https://remote.example/media/original/ballot.jpg")
    assert q["112856000000000902"][2] == "https://files.mastodon.example/media/original/loop.mp4"


def test_enqueue_is_idempotent(ws: claimwatch.Workspace) -> None:
    first = queued(ws, REFS / "x_v2_media.jsonl")
    assert downloads.enqueue(ws.engine, None) == (0, 0)
    assert queued(ws, REFS / "x_v2_media.jsonl") == first


def test_non_http_urls_from_posts_are_never_queued(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text('{"id": "1", "text": "SYNTHETIC", "platform": "example", "media_keys": ["m1"]}\n', encoding="utf-8")
    ws.ingest_posts([path], fmt="jsonl")
    with ws.engine.begin() as conn:
        conn.execute(sa.update(s.Media).values(url="file:///etc/passwd"))
    downloads.enqueue(ws.engine, None)
    with ws.engine.connect() as conn:
        status, reason = conn.execute(sa.select(s.MediaFetch.status, s.MediaFetch.last_error)).one()
    assert status == "skipped" and "a file URL" in reason


@pytest.mark.parametrize(
    ("cap", "duration", "expected"),
    [(None, 60_000, "hi"), (10_000_000, 60_000, "mid"), (1_000, 60_000, "lo"), (10_000_000, None, "hi")],
)
def test_best_variant_fits_the_cap(cap: int | None, duration: int | None, expected: str) -> None:
    variants = [Variant("lo", 256_000), Variant("hi", 10_368_000), Variant("mid", 832_000)]
    assert best_variant(variants, cap, duration) == expected
    assert best_variant([], cap, duration) is None
