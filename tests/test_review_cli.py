"""``claimwatch review …`` and ``claimwatch audit …``: readable output, JSON of the typed records,
one-line errors, escaped hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import post
from test_review import POSTS, RANKED, _store
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == code, res.output
    return res.output


@pytest.fixture()
def db(tmp_path: Path) -> tuple[str, dict]:
    path = tmp_path / "r.db"
    hostile = post("6", "\x1b[2Jwiped <script>alert(1)</script>", views=7)
    m = _store(claimwatch.open(path), tmp_path, [*POSTS, hostile], {**RANKED, "6": [("a", 0.5, 0.5, True)]})
    return str(path), m


@pytest.mark.slow
def test_queue_lists_posts_claims_and_match_ids(db) -> None:
    path, m = db
    out = _run("review", "queue", "--db", path)
    for text in ("Claim A again, everyone knows", "Claim A is circulating.", "Example Check (synthetic)", "60%"):
        assert text in out
    assert f"▶ {m['2', 'a']}" in out and "10,000 views" in out and "@demo_account" in out
    assert out.index("Claim A again") < out.index("Claim A is true") < out.index("Claim B, look it up")
    assert "\x1b" not in out and "\\x1b[2Jwiped" in out  # the escape is shown, never obeyed
    data = json.loads(_run("review", "queue", "--db", path, "--status", "candidate", "--json"))
    assert [i["post"]["platform_id"] for i in data["items"]] == ["4", "5"]
    assert data["items"][0]["candidates"][0]["factcheck"]["claim_text"] == "Claim C is circulating."
    assert data["total"] == 2 and data["limit"] == 20
    assert "nothing to review" in _run("review", "queue", "--db", path, "--account", "nobody")


@pytest.mark.slow  # over half a second on 2 cores
def test_decide_choose_reopen_and_history(db) -> None:
    path, m = db
    assert f"match {m['2', 'a']}: confirmed by ana" in _run(
        "review", "confirm", str(m["2", "a"]), "--by", "ana", "--db", path
    )
    out = _run("review", "choose", str(m["1", "b"]), "--by", "bob", "--note", "B", "--db", path)
    assert f"match {m['1', 'b']}: confirmed by bob (chosen" in out and f"match {m['1', 'a']}: rejected by bob" in out
    _run("review", "reopen", str(m["1", "b"]), "--by", "bob", "--db", path)
    out = _run("review", "history", str(m["1", "b"]), "--db", path)
    assert "candidate → confirmed" in out and "confirmed → candidate" in out
    history = json.loads(_run("review", "history", str(m["1", "b"]), "--json", "--db", path))
    assert [h["decision"] for h in history] == ["chosen", "reopened"]
    audit = json.loads(_run("audit", "list", "--json", "--db", path))
    assert [a["action"] for a in audit] == ["match.reopen", "match.reject", "match.choose", "match.confirm"]
    assert "match.confirm" in _run("audit", "list", "--db", path, "--actor", "ana")
    lines = _run("audit", "export", "--db", path).splitlines()
    assert [json.loads(line)["actor"] for line in lines] == ["ana", "bob", "bob", "bob"]


@pytest.mark.slow  # over half a second on 2 cores
def test_errors_are_one_line(db, tmp_path: Path) -> None:
    path, m = db
    assert "error: no match with id 424242" in _run("review", "confirm", "424242", "--by", "ana", "--db", path, code=2)
    assert "no decision to reopen" in _run("review", "reopen", str(m["2", "a"]), "--by", "ana", "--db", path, code=2)
    assert "no match with id 424242" in _run("review", "history", "424242", "--db", path, code=2)
    assert "--by must name the analyst" in _run("review", "choose", "1", "--by", " ", "--db", path, code=2)
    assert "no store at" in _run("review", "queue", "--db", str(tmp_path / "missing.db"), code=2)
    assert "use one of proposed" in _run("review", "queue", "--status", "pending", "--db", path, code=2)
    assert "use jsonl or csv" in _run("audit", "export", "--format", "xml", "--db", path, code=2)
    assert "--since 'soon'" in _run("audit", "list", "--since", "soon", "--db", path, code=2)
