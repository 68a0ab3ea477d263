"""The CLI end to end, in-process, on real files and a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import claimreview, page, post
from typer.testing import CliRunner

from claimwatch.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture()
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


@pytest.mark.slow
def test_init_ingest_stats_and_quarantine(db: str, write_jsonl) -> None:
    assert run("init", "--db", db)[0] == 0
    f = write_jsonl("p.jsonl", [page([post("1", "first post here"), post("2", "second post here")]), "{not json"])
    code, out, _ = run("ingest", "posts", str(f), "--db", db)
    assert code == 0
    assert "ingested 2, updated 0, quarantined 1 (see `claimwatch quarantine list`)" in out
    assert "snapshots observed 2024-08-01T12:00:00+00:00 (1 time, from the source)" in out
    code, out, _ = run("stats", "--json", "--db", db)
    stats = json.loads(out)
    assert (
        code == 0
        and {"posts", "authors", "snapshots", "factchecks", "matches", "quarantined", "unmapped_ratings"}
        <= stats.keys()
    )
    assert (stats["posts"], stats["authors"], stats["snapshots"], stats["quarantined"]) == (2, 1, 2, 1)
    assert stats["matches"] == {"candidate": 0, "proposed": 0, "confirmed": 0, "rejected": 0, "outdated": 0}
    code, out, _ = run("quarantine", "list", "--json", "--db", db)
    rows = json.loads(out)
    assert code == 0 and rows[0]["location"] == "line 2" and rows[0]["source_path"] == str(f)


@pytest.mark.slow  # over half a second on 2 cores
def test_exit_status_is_nonzero_only_when_nothing_is_read(db: str, tmp_path: Path, write_jsonl) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run("ingest", "posts", str(empty), "--db", db)
    assert code == 1 and "empty file" in err
    good = write_jsonl("p.jsonl", [page([post("1", "a readable post")])])
    assert run("ingest", "posts", str(empty), str(good), "--db", db)[0] == 0


@pytest.mark.slow  # over half a second on 2 cores
def test_format_option_and_column_map(db: str, tmp_path: Path) -> None:
    f = tmp_path / "posts.csv"
    f.write_text("pid,who,body,impr\n7,someone,hello there friends,12\n")
    code, out, _ = run(
        "ingest",
        "posts",
        str(f),
        "--format",
        "csv",
        "--map",
        "id=pid",
        "--map",
        "author_handle=who",
        "--map",
        "text=body",
        "--map",
        "views=impr",
        "--observed-at",
        "2024-09-01",
        "--db",
        db,
    )
    assert code == 0 and "ingested 1" in out and "(--observed-at)" in out
    code, _, err = run("ingest", "posts", str(f), "--format", "nope", "--db", db)
    assert code == 2 and "unknown posts format 'nope'" in err
    code, _, err = run("ingest", "posts", str(f), "--map", "broken", "--db", db)
    assert code == 2 and "expected FIELD=COLUMN" in err


@pytest.mark.slow  # over half a second on 2 cores
def test_factchecks_verdicts_match_review_report(db: str, tmp_path: Path, write_jsonl, encoder) -> None:
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [
                claimreview(
                    "https://example.org/fc/machines",
                    "Voting machines secretly switched votes between candidates.",
                    "Pants on Fire",
                ),
                claimreview("https://example.org/fc/odd", "Some odd claim about the moon being cheese.", "Cheesy"),
            ]
        )
    )
    code, out, _ = run("ingest", "factchecks", str(fc), "--db", db)
    assert code == 0 and "ingested 2" in out
    assert json.loads(run("stats", "--json", "--db", db)[1])["unmapped_ratings"] == [{"rating": "Cheesy", "count": 1}]
    table = tmp_path / "mine.tsv"
    table.write_text("rating\tverdict\tlang\tnote\nCheesy\tfalse\ten\tour house rule\n")
    assert "1 of 2 fact-checks changed verdict" in run("verdicts", "apply", "--verdicts", str(table), "--db", db)[1]
    assert "'Cheesy' → false (table)" in run("verdicts", "show", "Cheesy", "--verdicts", str(table))[1]
    posts = write_jsonl(
        "p.jsonl", [page([post("1", "The voting machines switched votes between candidates, wake up")])]
    )
    run("ingest", "posts", str(posts), "--db", db)
    code, out, _ = run("index", "--db", db)
    assert code == 0 and "2 fact-checks, 2 encoded" in out
    code, out, _ = run("match", "--db", db)
    assert code == 0 and "matched 1 post with hybrid-rerank-lgbm-v1 (1 proposal)" in out
    code, out, _ = run("report", "--db", db, "--json")
    rep = json.loads(out)
    assert rep["headline"]["debunked_posts"] == 1
    match_id = rep["rows"][0]["fact_checks"][0]["match_id"]
    code, out, _ = run("review", "confirm", str(match_id), "--by", "ana", "--db", db)
    assert code == 0 and f"match {match_id}: confirmed by ana" in out
    outdir = tmp_path / "rep"
    code, out, err = run("report", "--db", db, "--confirmed-only", "-a", "demo_account", "--out", str(outdir))
    assert code == 0 and "1 post repeats claims rated false or misleading" in out and "1 confirmed by an analyst" in out
    assert sorted(p.name for p in outdir.iterdir()) == ["report.csv", "report.html", "report.json", "report.md"]
    assert run("review", "reject", "999", "--by", "ana", "--db", db)[0] == 2


def test_bad_model_path_is_reported(db: str) -> None:
    assert run("init", "--db", db)[0] == 0
    code, _, err = run("index", "--db", db, "--model", "./does/not/exist")
    assert code == 2 and "does not exist" in err


@pytest.mark.slow  # over half a second on 2 cores
def test_markup_in_posts_and_paths_is_printed_verbatim(db: str, tmp_path: Path, write_jsonl) -> None:
    """Rich console markup in data ("[bold]", "[/x]") must neither style nor crash the output."""
    f = write_jsonl("[odd] name.jsonl", [page([post("1", "[/broken] [bold]not bold[/bold] post text here")])])
    code, out, _ = run("ingest", "posts", str(f), "--db", db)
    assert code == 0 and "[odd] name.jsonl" in out
    code, out, _ = run("report", "--db", db, "--limit", "5")
    assert code == 0 and "[/broken] [bold]not bold" in out
