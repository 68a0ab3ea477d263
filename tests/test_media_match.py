"""The media matcher end to end, through the CLI: bank a debunked item, attach re-shared copies to
posts, ``media match`` — proposals on the item's own fact-check that the text matcher leaves alone,
that re-running does not duplicate and that keep an analyst's decision."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from claimwatch.cli import app
from claimwatch.store import db
from claimwatch.store import schema as s
from claimwatch.store.matches import PostMatches, write_matches_many
from tests import media_samples as ms
from tests.conftest import page, post

runner = CliRunner()
FC = "https://example.org/factcheck/doctored-photo"  # synthetic


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Three synthetic posts (ids 900–902) in a fresh store."""
    feed = tmp_path / "posts.jsonl"
    posts = [post(pid, f"Synthetic post {pid} with a picture") for pid in ("900", "901", "902")]
    feed.write_text(json.dumps(page(posts)) + "\n")
    dbfile = tmp_path / "cw.db"
    cli("ingest", "posts", str(feed), "--db", str(dbfile))
    return dbfile


def _bank(dbfile: Path, path: Path, label: str = "manipulated") -> None:
    cli(
        "media", "bank", "add", str(path), "--factcheck", FC, "--claim", "Synthetic: a doctored photo",
        "--rating", "Altered", "--label", label, "--by", "tester", "--db", str(dbfile),
    )  # fmt: skip


def _media_matches(dbfile: Path) -> list[sa.Row]:
    engine = db.open_store(str(dbfile))
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(s.Post.platform_id, s.Match.id, s.Match.method, s.Match.status, s.Match.relation,
                          s.Match.evidence, s.FactCheck.review_url, s.FactCheck.source_format)
                .join(s.Post, s.Post.id == s.Match.post_id)
                .join(s.FactCheck, s.FactCheck.id == s.Match.factcheck_id)
                .order_by(s.Post.platform_id)
            )
        )  # fmt: skip


@pytest.mark.slow
def test_reshared_images_are_proposed_on_the_items_fact_check(store: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    original = ms.picture(rng)
    banked = ms.jpeg(original, 95, tmp_path / "banked.jpg")
    _bank(store, banked)
    mirrored = ms.jpeg(ms.mirrored(ms.resized(original, 0.5)), 30, tmp_path / "mirrored.jpg")
    boxed = ms.jpeg(ms.letterboxed(original), 60, tmp_path / "boxed.jpg")
    other = ms.jpeg(ms.picture(rng), 80, tmp_path / "other.jpg")
    for pid, path in (("900", mirrored), ("901", boxed), ("902", other)):
        cli("media", "add", pid, str(path), "--db", str(store))

    out = json.loads(cli("media", "match", "--json", "--db", str(store)))
    assert out["hashed"] == 3 and out["refused"] == [] and out["bank_items"] == 1
    rows = _media_matches(store)
    assert [r.platform_id for r in rows] == ["900", "901"]  # not the unrelated picture
    for r in rows:
        media = r.evidence["media"]
        assert r.method.startswith("media:") and r.status == "proposed" and r.relation == "repeats"
        assert r.review_url == FC and r.source_format == "media-bank"
        assert media["pdq_distance"] <= 31 and media["label"] == "manipulated"
    assert (
        rows[0].evidence["media"]["bank_variant"] == "mirror"
        or rows[0].evidence["media"]["query_variant"] != "original"
    )

    # the review queue says what the media evidence is, in words
    queue = cli("review", "queue", "--db", str(store))
    assert "media: PDQ distance" in " ".join(queue.split())

    # the text matcher replaces only its own rows: an empty text ranking leaves the media proposals
    engine = db.open_store(str(store))
    with engine.begin() as conn:
        ids = [pid for (pid,) in conn.execute(sa.select(s.Post.id).order_by(s.Post.id))]
        write_matches_many(conn, [PostMatches(i, [], "v2") for i in ids], "test-index")
    assert len(_media_matches(store)) == 2

    # a decision survives re-matching, and re-matching adds nothing
    cli("review", "reject", str(rows[1].id), "--by", "tester", "--note", "not the same photo", "--db", str(store))
    again = json.loads(cli("media", "match", "--json", "--db", str(store)))
    assert (again["hashed"], again["posts"]) == (0, 0)  # nothing new to hash, nothing to match again
    forced = json.loads(cli("media", "match", "--rematch", "--json", "--db", str(store)))
    assert forced["posts"] == 3
    after = _media_matches(store)
    assert [(r.platform_id, r.status) for r in after] == [("900", "proposed"), ("901", "rejected")]

    # other thresholds, a new bank item or a newly hashed file: only then are posts matched again
    stricter = json.loads(cli("media", "match", "--max-distance", "10", "--json", "--db", str(store)))
    assert stricter["posts"] == 3
    cli("media", "add", "902", str(ms.jpeg(original, 70, tmp_path / "copy.jpg")), "--db", str(store))
    assert json.loads(cli("media", "match", "--max-distance", "10", "--json", "--db", str(store)))["posts"] == 1
    _bank(store, ms.jpeg(ms.picture(rng), 90, tmp_path / "another.jpg"))
    assert json.loads(cli("media", "match", "--max-distance", "10", "--json", "--db", str(store)))["posts"] == 3


@pytest.mark.slow
def test_a_refused_file_is_recorded_with_its_reason_and_not_retried(store: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    _bank(store, ms.jpeg(ms.picture(rng), 90, tmp_path / "banked.jpg"))
    good = ms.jpeg(ms.picture(rng), 90, tmp_path / "good.jpg")
    cli("media", "add", "900", str(good), "--db", str(store))
    engine = db.open_store(str(store))
    with engine.begin() as conn:  # the stored bytes were damaged after the fetch (a truncated copy)
        path = conn.execute(sa.select(s.MediaFile.path).where(s.MediaFile.path.is_not(None))).scalar_one()
    stored = store.with_suffix(".media") / path
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes()[:600])
    out = json.loads(cli("media", "match", "--json", "--db", str(store)))
    assert out["hashed"] == 0 and len(out["refused"]) == 1 and str(stored) in out["refused"][0]
    with engine.connect() as conn:
        hashed_at, error = conn.execute(
            sa.select(s.MediaFile.hashed_at, s.MediaFile.hash_error).where(s.MediaFile.path == path)
        ).one()
    assert hashed_at is None and error
    assert json.loads(cli("media", "match", "--json", "--db", str(store)))["refused"] == []


@pytest.mark.slow
def test_video_clips_and_their_sound_are_located(store: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(21)
    source = ms.video_source(rng, tmp_path / "source.mp4", seconds=12.0)
    speech = ms.speech(rng, tmp_path / "speech.wav")
    banked = tmp_path / "banked.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-i", str(speech), "-map", "0:v", "-map",
         "1:a", "-shortest", "-c:v", "copy", "-c:a", "aac", str(banked)], check=True, timeout=120,
    )  # fmt: skip
    _bank(store, banked, label="ai-generated")
    clip = ms.video_edit(banked, tmp_path / "clip.mp4", "trim")  # 3.3 s → 9.3 s of the banked video
    cli("media", "add", "900", str(clip), "--db", str(store))
    # the sound alone, re-encoded as a 64 kbit/s MP3 (a cloned voice re-uploaded without the picture)
    cli("media", "add", "901", str(ms.audio_edit(speech, tmp_path / "voice.mp3", "mp3")), "--db", str(store))
    out = json.loads(cli("media", "match", "--json", "--db", str(store)))
    assert out["proposals"].get("media:video-pdq") == 1 and out["proposals"].get("media:chromaprint") >= 1
    video, voice = _media_matches(store)
    media = video.evidence["media"]
    assert abs(media["offset_ms"] - 3300) <= 1000, media
    assert media["label"] == "ai-generated" and "media:video-pdq" in media["methods"]
    assert voice.platform_id == "901" and voice.evidence["media"]["ber"] <= 0.2


@pytest.mark.slow
def test_without_the_media_extra_hashing_says_how_to_install_it(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core install has no pdqhash: the media commands end in one line naming the extra, and
    the file is not recorded as refused (it hashes once the extra is there)."""
    from claimwatch.media import image
    from claimwatch.media.records import MediaExtraMissing

    def missing() -> None:
        raise MediaExtraMissing("pdqhash")

    monkeypatch.setattr(image, "_pdqhash", missing)
    picture = ms.jpeg(ms.picture(np.random.default_rng(5)), 90, tmp_path / "p.jpg")
    cli("media", "add", "900", str(picture), "--db", str(store))
    result = runner.invoke(app, ["media", "match", "--db", str(store)])
    assert result.exit_code == 2 and "pip install 'claimwatch[media]'" in result.output
    assert "Traceback" not in result.output
    engine = db.open_store(str(store))
    with engine.connect() as conn:
        assert conn.execute(sa.select(s.MediaFile.hash_error).where(s.MediaFile.path.is_not(None))).scalar_one() is None


def test_media_evidence_in_words() -> None:
    """What every surface (queue, web card, study) says of a media match's evidence."""
    from claimwatch.media.evidence import is_media_evidence, media_match_phrase

    video = {"media": {"share": 0.8, "matched_frames": 4, "query_frames": 5, "offset_ms": 3300, "speed": 1.25}}
    sound = {"media": {"ber": 0.0512, "matched_ms": 6200, "offset_ms": 2500}}
    exact = {"media": {"exact": "sha256", "pdq_distance": 0, "bank_variant": "original"}}
    assert (
        media_match_phrase(video) == "4 of 5 frames match, the clip starts at 3.3 s of the banked video at 1.25× speed"
    )
    assert media_match_phrase(sound) == "sound: bit-error rate 0.051 over 6.2 s, at 2.5 s of the banked sound"
    assert media_match_phrase(exact) == "an exact copy (sha256); PDQ distance 0 of 256"
    assert is_media_evidence(sound) and not is_media_evidence({"stance": ["false"]})
