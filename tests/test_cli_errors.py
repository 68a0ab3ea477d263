"""A5: read-only commands never create a store, and a bad --db or output path is one line (exit 2),
never a traceback — for every command that reads a store or writes output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import page, post
from test_cli import run

import claimwatch

SRC = Path(claimwatch.__file__).resolve().parents[1]
STUDY = "title: t\nwindow: {from: 2024-01-01, to: 2024-12-31}\n"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "study.yaml").write_text(STUDY)
    (tmp_path / "q.tsv").write_text("q1\tvoting machines flipped votes\n")
    (tmp_path / "r.tsv").write_text("q1\t0\t1\t1\n")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "notes.csv").write_text("id,text\n" + "1,hello\n" * 50)
    return {p.name: p for p in tmp_path.iterdir()}


def _read_only_commands(f: dict[str, Path], db: str) -> list[tuple[str, ...]]:
    return [
        ("stats", "--db", db),
        ("report", "--db", db),
        ("quarantine", "list", "--db", db),
        ("study", "run", str(f["study.yaml"]), "--db", db),
        ("eval", "retrieval", "--vclaims", db, "--queries", str(f["q.tsv"]), "--qrels", str(f["r.tsv"])),
    ]


def _one_line(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _refused_url(scheme: str) -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"{scheme}://u:secret@127.0.0.1:{port}/db"


@pytest.mark.slow
def test_read_only_commands_never_create_a_store(files: dict[str, Path], tmp_path: Path) -> None:
    before = sorted(tmp_path.iterdir())
    for missing in (tmp_path / "missing.db", tmp_path / "new" / "missing.db"):
        for command in _read_only_commands(files, str(missing)):
            _one_line(*run(*command)[::2], f"no store at {missing}", "claimwatch init")
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.slow
def test_commands_on_stored_data_never_create_a_store(tmp_path: Path) -> None:
    """match, index, topics score, review and verdicts apply work on what a store holds: a missing
    store is a mistyped path, not an empty study to report zeros from."""
    (tmp_path / "topics.yaml").write_text("topics: [{name: t, keywords: [vote]}]\n")
    missing = tmp_path / "typo.db"
    for command in [
        ("match",),
        ("index",),
        ("topics", "score", str(tmp_path / "topics.yaml")),
        ("review", "confirm", "1", "--by", "ana"),
        ("review", "reject", "1", "--by", "ana"),
        ("verdicts", "apply"),
    ]:
        _one_line(*run(*command, "--db", str(missing))[::2], f"no store at {missing}", "claimwatch init")
    assert not missing.exists() and not (tmp_path / "typo.index").exists()
    assert run("init", "--db", str(missing))[0] == 0 and missing.exists()


@pytest.mark.slow  # over half a second on 2 cores
@pytest.mark.parametrize("kind", ["a folder", "not a database", "postgres:// refused", "postgresql+psycopg refused"])
def test_a_bad_store_is_one_line_for_every_reading_command(files: dict[str, Path], kind: str) -> None:
    db, needle = {
        "a folder": (str(files["a-folder"]), "is a folder"),
        "not a database": (str(files["notes.csv"]), "not a SQLite database"),
        "postgres:// refused": (_refused_url("postgres"), "refused"),
        "postgresql+psycopg refused": (_refused_url("postgresql+psycopg"), "refused"),
    }[kind]
    if kind == "not a database":  # as --vclaims a CSV is claims to read, not a store: test it by --db only
        commands = _read_only_commands(files, db)[:4]
    else:
        commands = _read_only_commands(files, db)
    for command in [*commands, ("init", "--db", db), ("ingest", "posts", str(files["q.tsv"]), "--db", db)]:
        code, _, err = run(*command)
        _one_line(code, err, needle)
        assert "secret" not in err
    assert files["notes.csv"].read_text().startswith("id,text\n1,hello\n")


@pytest.mark.slow  # over half a second on 2 cores
def test_output_paths_that_cannot_be_written_are_one_line_before_any_work(
    files: dict[str, Path], tmp_path: Path, write_jsonl
) -> None:
    db = str(tmp_path / "s.db")
    assert run("ingest", "posts", str(write_jsonl("p.jsonl", [page([post("1", "a post")])])), "--db", db)[0] == 0
    afile = files["notes.csv"]
    for command in [
        ("report", "--db", db, "--out", str(afile)),
        ("study", "run", str(files["study.yaml"]), "--db", db, "--out", str(afile)),
        ("train", "retrieval", "--datasets", str(tmp_path), "--out", str(afile)),
        ("train", "encoder", "--datasets", str(tmp_path), "--out", str(afile)),
        ("train", "checkworthiness", "--datasets", str(tmp_path), "--out", str(afile)),
    ]:
        _one_line(*run(*command)[::2], f"--out {afile} is a file; give a folder")
    _one_line(*run("report", "--db", db, "--out", str(afile / "sub"))[::2], f"is inside {afile}, which is a file")
    _one_line(*run("demo", "--out", str(afile))[::2], f"--out {afile} is a file")
    _one_line(
        *run(
            "eval",
            "retrieval",
            "--vclaims",
            db,
            "--queries",
            str(files["q.tsv"]),
            "--qrels",
            str(files["r.tsv"]),
            "--run-out",
            str(files["a-folder"]),
        )[::2],
        f"--run-out {files['a-folder']} is a folder; give a file name",
    )
    _one_line(
        *run(
            "eval",
            "retrieval",
            "--vclaims",
            str(files["a-folder"]),
            "--queries",
            str(files["q.tsv"]),
            "--qrels",
            str(files["r.tsv"]),
        )[::2],
        "is a folder; give a file",
    )
    assert afile.read_text().startswith("id,text\n")


@pytest.mark.slow  # fresh interpreters, ~1.5 s each
def test_through_the_installed_command(files: dict[str, Path], tmp_path: Path) -> None:
    """The same errors from `python -m claimwatch`: exit 2, one line on stderr, nothing on stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMWATCH_")} | {"PYTHONPATH": str(SRC)}
    cases = [
        (("stats", "--db", str(tmp_path / "missing.db")), "no store at"),
        (
            (
                "eval",
                "retrieval",
                "--vclaims",
                str(tmp_path / "missing.db"),
                "--queries",
                str(files["q.tsv"]),
                "--qrels",
                str(files["r.tsv"]),
            ),
            "no store at",
        ),
        (("report", "--db", _refused_url("postgres")), "refused"),
        (("study", "run", str(files["study.yaml"]), "--db", str(files["a-folder"])), "is a folder"),
    ]
    for args, needle in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "claimwatch", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        _one_line(proc.returncode, proc.stderr, needle)
        assert proc.stdout == ""
    assert not (tmp_path / "missing.db").exists()
