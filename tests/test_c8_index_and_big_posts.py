"""C8: an index whose meta.json is not an object is rebuilt; a 10 MB post is matched on its
first characters, in bounded memory, and stays whole in the store."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.match import MAX_MATCH_CHARS
from claimwatch.store import schema as s

SRC = str(Path(claimwatch.__file__).resolve().parents[1])
FACTCHECKS = Path(claimwatch.__file__).parent / "demo" / "data" / "factchecks.jsonld"
WORDS = (
    "ballots",
    "election",
    "voting",
    "machines",
    "fraud",
    "counted",
    "mail",
    "county",
    "stolen",
    "audit",
    "the",
    "were",
    "in",
    "and",
    "of",
    "Georgia",
    "Arizona",
    "dead",
    "people",
    "voted",
)


def big_post_text(chars: int, seed: int = 7) -> str:
    """Sentences of election words, ``chars`` long: a post nobody writes, that an archive can hold."""
    rng = random.Random(seed)
    parts, n = [], 0
    while n < chars:
        sentence = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ". "
        parts.append(sentence)
        n += len(sentence)
    return "".join(parts)[:chars]


@pytest.fixture()
def indexed(mws: claimwatch.Workspace, tmp_path: Path) -> claimwatch.Workspace:
    f = tmp_path / "fc.json"
    f.write_text(json.dumps([claimreview("https://example.org/fc/1", "Dead people voted in Georgia")]))
    mws.ingest_factchecks([f])
    mws.build_index()
    return mws


@pytest.mark.slow
@pytest.mark.parametrize(
    "meta",
    [
        "[1, 2]",
        "null",
        '"text"',
        '{"format_version": 2',
        "",
        '{"format_version": 2}',
        '{"format_version": 2, "model": "m", "checksums": [], "hashes": [], "bm25_fields": []}',
    ],
)
def test_an_index_with_a_broken_meta_json_is_rebuilt(indexed: claimwatch.Workspace, meta: str) -> None:
    (indexed.index_dir / "meta.json").write_text(meta)
    st = indexed.build_index()
    assert st.rebuilt_reason and st.rebuilt_reason.startswith("rebuilt: ") and "\n" not in st.rebuilt_reason
    assert st.total == 1 and json.loads((indexed.index_dir / "meta.json").read_text())["count"] == 1
    assert indexed.build_index().rebuilt_reason is None, "the rebuilt index is used as it is"


@pytest.mark.slow
def test_match_says_when_it_rebuilt_the_index(indexed: claimwatch.Workspace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from claimwatch.cli import app

    (indexed.index_dir / "meta.json").write_text("null")
    db = str(indexed.settings.db)
    res = CliRunner().invoke(app, ["match", "--db", db])
    assert res.exit_code == 0 and "index: rebuilt: meta.json is not a JSON object but NoneType" in res.stderr


def _peak_rss_mb(proc: subprocess.Popen[bytes]) -> float:
    """The child's own peak memory: its ``VmHWM``, read until it exits. Not ``ru_maxrss``: the
    kernel carries that across fork and exec, so a child of this (torch-sized) test process would
    report the parent's memory at the fork, not its own."""
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            break
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        peak_kb = max(peak_kb, int(match.group(1)) if match else 0)
        time.sleep(0.02)
    proc.wait()
    return peak_kb / 1024


@pytest.mark.slow
def test_a_10mb_post_is_matched_on_its_start_in_bounded_memory(tmp_path: Path, encoder: Encoder) -> None:
    """``encoder`` makes sure the encoder's one-time ONNX export is cached (a first run exports it
    in whichever process needs it first, with torch loaded), so only match itself is measured."""
    text = big_post_text(10_000_000)
    path = tmp_path / "big.jsonl"
    path.write_text(
        json.dumps(page([post("1", text), post("2", "Dead people voted in Georgia, ballots counted twice")])) + "\n",
        encoding="utf-8",
    )
    db = tmp_path / "big.db"
    ws = claimwatch.open(db)
    ws.ingest_factchecks([FACTCHECKS])
    assert ws.ingest_posts([path]).inserted == 2
    env = {**os.environ, "PYTHONPATH": SRC}
    with open(tmp_path / "match.err", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claimwatch", "match", "--db", str(db)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        peak_mb = _peak_rss_mb(proc)
    assert proc.returncode == 0, (tmp_path / "match.err").read_text()[-2000:]
    assert 100 < peak_mb < 1000, f"match peaked at {peak_mb:.0f} MB (1.9 GB before the cap)"
    with ws.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.length(s.Post.text)).where(s.Post.platform_id == "1")) == 10_000_000
        evidence = conn.scalars(
            sa.select(s.Match.evidence).join(s.Post, s.Post.id == s.Match.post_id).where(s.Post.platform_id == "1")
        ).all()
        analysed = conn.scalar(sa.select(sa.func.count()).select_from(s.PostAnalysis))
    assert evidence and all(e["text_read"] == {"chars": MAX_MATCH_CHARS, "post_chars": 10_000_000} for e in evidence)
    assert analysed == 2
