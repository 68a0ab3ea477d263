"""A4: a typo or a skipped step never passes for a finding — unknown accounts, topics, languages and
platforms stop `report` and `study run` with one line; posts not matched yet are a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import claimreview, page, post
from test_cli import run

from claimwatch.analysis.checks import Names, coverage_warnings, unknown_names

USERS = [
    {"id": "111", "username": "demo_account", "name": "Demo"},
    {"id": "222", "username": "Other_Voice", "name": "Other"},
]
STUDY = """title: Ballot claims
accounts: [{account}]
window: {{from: 2024-06-01, to: 2024-07-31}}
include: {{matches: proposed}}
"""


@pytest.fixture()
def db(tmp_path: Path, write_jsonl) -> str:
    """Posts by two accounts and one fact-check, not matched yet."""
    path = str(tmp_path / "s.db")
    posts = write_jsonl(
        "p.jsonl",
        [
            page(
                [
                    post("1", "Voting machines switched millions of votes to the other side"),
                    post("2", "Lovely weather for a picnic today"),
                    post("3", "Dead people voted in Michigan", author="222"),
                ],
                users=USERS,
            )
        ],
    )
    assert run("ingest", "posts", str(posts), "--db", path)[0] == 0
    return path


def _factchecks(tmp_path: Path, db: str) -> None:
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [claimreview("https://example.org/fc/machines", "Voting machines switched millions of votes.", "False")]
        )
    )
    assert run("ingest", "factchecks", str(fc), "--db", db)[0] == 0


def _one_line(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_unknown_names_say_what_is_stored() -> None:
    stored = Names(("demo_ballot_truths", "Other_Voice", "someone"), ("us-election-2024",), ("de", "en"), ("x",))
    asked = Names(("@DEMO_BALLOT_TRUTHS", "demo_balot_truths", "zzzz"), ("us-election",), ("eng", "en"), ("twitter",))
    assert unknown_names(asked, stored) == [
        "no stored account 'demo_balot_truths' — did you mean 'demo_ballot_truths'?",
        "no stored account 'zzzz' (3 accounts have posts in the store)",
        "topic 'us-election' is not stored (stored: us-election-2024)",
        "no stored post is in language 'eng' (languages of stored posts: de, en)",
        "no stored post is from platform 'twitter' (stored: x)",
    ]
    assert unknown_names(Names(topics=("t",)), Names())[0].endswith(
        "(no topics are: score posts with `claimwatch match --topics FILE` or `claimwatch topics score FILE`)"
    )
    assert unknown_names(stored, stored) == []


def test_coverage_warnings() -> None:
    assert coverage_warnings(0, 5, 3, "this report") == []
    assert coverage_warnings(1, 5, 3, "this report") == [
        "1 of the 5 posts in this report is not matched yet and counts as repeating no fact-checked claim; "
        "run `claimwatch match`"
    ]
    assert "5 of the 5 posts in x are not matched yet and count as" in coverage_warnings(5, 5, 3, "x")[0]
    assert "holds no fact-checks" in coverage_warnings(5, 5, 0, "x")[0]
    assert coverage_warnings(0, 0, 0, "x") == []


@pytest.mark.slow
def test_report_names_a_typo_instead_of_printing_zero(db: str) -> None:
    line = _one_line(*run("report", "--db", db, "-a", "demo_acount")[::2])
    assert "no stored account 'demo_acount' — did you mean 'demo_account'?" in line
    line = _one_line(*run("report", "--db", db, "-a", "other_voice", "--topic", "election", "--lang", "EN")[::2])
    assert "no stored account" not in line, "handles compare case-insensitively, as the report selects them"
    assert "topic 'election' is not stored (no topics are" in line
    assert "no stored post is in language 'EN' (languages of stored posts: en)" in line


@pytest.mark.slow  # over half a second on 2 cores
def test_report_before_match_warns_in_the_output_and_the_json(db: str, tmp_path: Path) -> None:
    code, out, err = run("report", "--db", db)
    assert code == 0 and "warning: the store holds no fact-checks" in err
    _factchecks(tmp_path, db)
    code, out, err = run("report", "--db", db, "-a", "demo_account")
    assert code == 0 and "0 posts repeat claims" in out
    assert (
        "warning: 2 of the 2 posts in this report are not matched yet and count as repeating no fact-checked "
        "claim; run `claimwatch match`"
    ) in " ".join(err.split())
    code, out, err = run("report", "--db", db, "--json", "--out", str(tmp_path / "r"))
    warnings = json.loads(out)["warnings"]
    assert code == 0 and warnings == [w for w in warnings if "3 of the 3 posts" in w] and len(warnings) == 1
    assert json.loads((tmp_path / "r" / "report.json").read_text())["warnings"] == warnings


@pytest.mark.slow  # over half a second on 2 cores
def test_a_study_file_with_a_typo_names_the_file(db: str, tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(account="demo_acount"))
    line = _one_line(*run("study", "run", str(study), "--db", db)[::2])
    assert f"{study}: no stored account 'demo_acount' — did you mean 'demo_account'?" in line
    study.write_text(STUDY.format(account="demo_account") + "topic: us-election-2024\nplatform: [twitter]\n")
    line = _one_line(*run("study", "run", str(study), "--db", db)[::2])
    assert "topic 'us-election-2024' is not stored" in line and "platform 'twitter' (stored: x)" in line


@pytest.mark.slow  # over half a second on 2 cores
def test_a_study_before_match_warns(db: str, tmp_path: Path) -> None:
    _factchecks(tmp_path, db)
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.format(account="demo_account"))
    code, out, err = run("study", "run", str(study), "--db", db, "--json")
    assert code == 0 and json.loads(out)["summary"]["posts"] == 0
    assert json.loads(out)["warnings"] == [
        "2 of the 2 posts in the study's window are not matched yet and count as repeating no fact-checked claim; "
        "run `claimwatch match`"
    ]
    assert "warning: 2 of the 2 posts in the study's window" in " ".join(err.split())


@pytest.mark.slow
def test_no_warning_once_matched_and_one_for_a_post_added_since(db: str, tmp_path: Path, write_jsonl, encoder) -> None:
    _factchecks(tmp_path, db)
    assert run("match", "--db", db)[0] == 0
    code, out, err = run("report", "--db", db, "--json")
    assert code == 0 and json.loads(out)["warnings"] == [] and "warning" not in err
    later = write_jsonl("later.jsonl", [page([post("4", "Machines flipped the votes again")], users=USERS)])
    assert run("ingest", "posts", str(later), "--db", db)[0] == 0
    assert json.loads(run("report", "--db", db, "--json")[1])["warnings"] == [
        "1 of the 4 posts in this report is not matched yet and counts as repeating no fact-checked claim; "
        "run `claimwatch match`"
    ]
