"""Figures that say no more than the data knows (issue 11, part A), in `report` and a study, in
every format, on one small hand-made store (no encoder: matches are recorded as the matcher and
an analyst would record them):

- A3: debunked posts without known views are "views unknown for all N", never "viewed 0 times";
  the observation dates come only from the posts behind the figure; no table shows 0 for unknown.
- A6: a debunked post a study's rules left out is listed with the rule and the reason.
- A7: the readable reports show the fact-checked claim next to the post, and the posts behind the
  headline first.

Every JSON written here is checked against its declared schema. All data is SYNTHETIC.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from ccdh_store import propose
from conftest import claimreview, page, post
from pdf_text import pdf_text
from typer.testing import CliRunner

import claimwatch
from claimwatch.analysis.study_blocks import WeekTotal
from claimwatch.cli import app
from claimwatch.records import MatchStatus
from claimwatch.reports import write_all
from claimwatch.reports.study import write_study
from claimwatch.schemas import validate

SHRED = "https://example.org/fc/shredded"
TURNOUT = "https://example.org/fc/turnout"
SHRED_CLAIM = "Election officials shredded thousands of mail ballots in Example County."
#: post id → (text, views (None: the source counted none), created, reply?)
POSTS = {
    "1": ("The election ballots were shredded in Example County!", None, "2024-07-02T10:00:00.000Z"),
    "2": ("Baking bread this weekend, wish us luck", 700, "2024-07-03T10:00:00.000Z"),
    "4": ("They shredded the ballots in the county again", 500, "2024-07-05T10:00:00.000Z"),
    "5": ("@someone yes, election ballots were shredded", 50, "2024-07-06T10:00:00.000Z"),
    "6": ("Election workers shredded mail ballots, I saw it", 300, "2024-06-01T10:00:00.000Z"),
    "7": ("Election turnout among young voters went up", 20, "2024-07-08T10:00:00.000Z"),
    "8": ("Election ballots shredded by the thousands", 10, "2024-07-09T10:00:00.000Z"),
}
LATER = ("3", "Gardening tips for the autumn", 900, "2024-07-04T10:00:00.000Z")
STUDY = {
    "title": "SYNTHETIC: shredded ballots",
    "accounts": ["demo_account"],
    "window": {"from": "2024-07-01", "to": "2024-07-31"},
    "topic": {"name": "election", "keywords": ["election*"]},
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[claimwatch.Workspace, Path]:
    d = tmp_path_factory.mktemp("honest")
    ws = claimwatch.open(d / "t.db")
    first = [
        post(
            pid,
            text,
            views,
            created=created,
            **({"referenced_tweets": [{"type": "replied_to", "id": "99"}]} if pid == "5" else {}),
        )
        for pid, (text, views, created) in POSTS.items()
    ]
    (d / "aug.jsonl").write_text(json.dumps(page(first)) + "\n")
    # An unrelated post observed later: its date must not date the debunked posts' views.
    (d / "sep.jsonl").write_text(
        json.dumps(
            page([post(LATER[0], LATER[1], LATER[2], created=LATER[3])], retrieved_at="2024-09-15T12:00:00+00:00")
        )
        + "\n"
    )
    assert ws.ingest_posts([d / "aug.jsonl", d / "sep.jsonl"]).ok
    (d / "fc.json").write_text(
        json.dumps(
            [claimreview(SHRED, SHRED_CLAIM, "False"), claimreview(TURNOUT, "Turnout among young voters rose.", "True")]
        )
    )
    ws.ingest_factchecks([d / "fc.json"])
    confirmed = [(pid, SHRED) for pid in ("1", "4", "5", "6")] + [("7", TURNOUT)]
    for match_id in propose(ws, confirmed):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    propose(ws, [("8", SHRED)])  # a machine proposal nobody confirmed
    (d / "study.yaml").write_text(yaml.safe_dump(STUDY))
    return ws, d


def _cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


# --------------------------------------------------------------------------- A3: unknown is never 0


@pytest.mark.slow  # over half a second on 2 cores
def test_report_headline_says_views_unknown_for_all_and_dates_only_its_posts(store) -> None:
    ws, _ = store
    rep = ws.report(claimwatch.Selection(handles=("demo_account",), keywords=("bread", "The election ballots")))
    h = rep.headline
    assert (h.debunked_posts, h.debunked_views, h.debunked_views_unknown) == (1, None, 1)
    sentence = h.sentence()
    assert sentence.startswith(
        "1 post repeats claims rated false or misleading; views unknown for all 1: 1 of them "
        "with engagement counts only (x: 1): likes 3"
    )
    assert "viewed 0" not in sentence and "as last observed" not in sentence
    assert "Selection: 2 posts, 700 views (views unknown for 1)." in sentence
    data = rep.to_dict()
    validate(data)
    assert data["headline"]["debunked_views"] is None and data["headline"]["observed_to"] is None
    [en] = rep.languages
    assert (en.debunked_posts, en.debunked_views, en.debunked_views_unknown) == (1, None, 1)


@pytest.mark.slow  # over half a second on 2 cores
def test_report_observation_dates_come_from_the_posts_behind_the_figure(store) -> None:
    ws, _ = store
    h = ws.report(claimwatch.Selection(handles=("demo_account",))).headline
    assert h.debunked_views == 500 + 50 + 300 + 10 and h.debunked_views_unknown == 1
    assert "(views as last observed 2024-08-01)" in h.sentence()
    assert h.observed_to.date().isoformat() == "2024-08-01", "the later, unrelated snapshot dates nothing here"


@pytest.mark.slow  # over half a second on 2 cores
def test_study_headline_and_tables_never_show_0_for_unknown_views(store, tmp_path: Path) -> None:
    ws, d = store
    result = ws.run_study(d / "study.yaml")
    assert [r.post_id for r in result.posts] == ["1"]
    lines = result.headline()
    assert lines[0].startswith(
        "1 post by @demo_account repeats claims that fact-checkers rated false or misleading; "
        "views unknown for all 1: 1 of them with engagement counts only"
    )
    assert "without one had views unknown for all 1." in lines[2]
    assert not any(re.search(r"(?<![\d,])0 views|viewed 0 ", line) for line in lines), lines
    assert result.summary.total_views is None and result.summary.ad_equivalent_usd is None
    assert result.by_week == [WeekTotal(date(2024, 7, 1), posts=1, views=None, views_unknown=1)]
    assert result.notes_coverage.views_of_those is None or result.notes_coverage.posts_with_proposed_notes == 0
    paths = write_study(result, tmp_path / "out")
    validate(json.loads(paths["json"].read_text()))
    md = paths["md"].read_text()
    assert "| 2024-07-01 | 1 | unknown | 1 |" in md, "the by-week row says unknown, and how many"
    assert "| demo\\_account | 1 | unknown | 1 |" in md
    page_html = paths["html"].read_text()
    assert '<td class="num">unknown</td>' in page_html and "views unknown" in page_html


# --------------------------------------------------------------------------- A6: excluded posts are listed


@pytest.mark.slow  # over half a second on 2 cores
def test_study_lists_the_posts_each_rule_left_out(store, tmp_path: Path) -> None:
    ws, d = store
    result = ws.run_study(d / "study.yaml")
    excluded = {e.post_id: e for e in result.excluded_posts}
    assert {pid: [r.rule for r in e.reasons] for pid, e in excluded.items()} == {
        "4": ["topic"],
        "5": ["kind"],
        "6": ["window"],
        "7": ["verdict"],
        "8": ["match status"],
    }
    assert "no topic keyword" in excluded["4"].reasons[0].detail, "the confirmed debunked post dropped by the topic"
    assert excluded["4"].fact_checks[0].match_method == "analyst-confirmed"
    assert excluded["4"].fact_checks[0].claim == SHRED_CLAIM
    assert "created 2024-06-01" in excluded["6"].reasons[0].detail
    assert "'True' (true)" in excluded["7"].reasons[0].detail and "machine-proposed" in excluded["8"].reasons[0].detail
    [methods] = [m for m in result.methods if m.startswith("Excluded:")]
    assert "5 posts" in methods and "kind 1, match status 1, topic 1, verdict 1, window 1" in methods
    paths = write_study(result, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    validate(data)
    assert {e["post_id"]: e["reasons"][0]["rule"] for e in data["excluded_posts"]}["4"] == "topic"
    md = paths["md"].read_text()
    section = md[md.index("## Excluded posts") : md.index("## Proposed new narratives")]
    assert section.count("](<https://x.com/demo_account/status/") == 5
    assert "topic: not on the topic 'election'" in section and SHRED_CLAIM in section
    page_html = paths["html"].read_text()
    table = page_html[page_html.index('id="excluded-table"') :]
    assert table[: table.index("</table>")].count("<tr>") == 5 + 1


def test_a_study_with_nothing_left_out_says_so(store) -> None:
    ws, d = store
    result = ws.run_study(
        claimwatch.analysis.study_file.parse_study(
            {
                **STUDY,
                "topic": None,
                "include": {
                    "kinds": ["original", "quote", "reply"],
                    "matches": "proposed",
                    "verdicts": ["false", "misleading", "true"],
                },
                "window": {"from": "2024-06-01", "to": "2024-07-31"},
            }
        )
    )
    assert result.excluded_posts == []
    assert any(m.startswith("Excluded: no post") for m in result.methods)


# --------------------------------------------------------------------------- A7: claim next to the post, headline first


@pytest.mark.slow  # over half a second on 2 cores
def test_readable_report_lists_the_posts_behind_the_headline_first_with_their_claim(store, tmp_path: Path) -> None:
    ws, d = store
    rep = ws.report(claimwatch.Selection(handles=("demo_account",)))
    assert [r.post_id for r in rep.rows] == ["6", "1", "2", "3", "4", "5", "7", "8"], "the data: oldest first"
    expected = ["4", "6", "5", "8", "1", "7", "3", "2"]  # debunked by views (unknown last), matched, the rest
    assert [r.post_id for r in rep.ordered()] == expected
    paths = write_all(rep, tmp_path / "out")
    md = paths["md"].read_text()
    table = [line for line in md.splitlines() if line.startswith("| ") and "status/" in line]
    assert [line.split("status/")[1].split(">")[0] for line in table[:8]] == expected
    row4 = table[0]
    assert row4.index("They shredded the ballots") < row4.index(SHRED_CLAIM) < row4.index("| 500 |")
    with open(paths["csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["post_id"] for r in rows] == expected
    assert (
        list(rows[0])[list(rows[0]).index("text") + 1] == "factcheck_claim"
        and rows[0]["factcheck_claim"] == SHRED_CLAIM
    )
    assert rows[0]["created_at"] == "2024-07-05T10:00:00Z" and rows[0]["match_method"] == "analyst-confirmed"
    page_html = paths["html"].read_text()
    assert page_html.index("status/4") < page_html.index("status/6") < page_html.index("status/2")
    assert SHRED_CLAIM in page_html
    validate(json.loads(paths["json"].read_text()))
    printed = _cli("report", "--db", str(d / "t.db"), "--json")
    validate(json.loads(printed))


@pytest.mark.slow  # over half a second on 2 cores
def test_study_formats_show_the_claim_next_to_the_post(store, tmp_path: Path) -> None:
    ws, d = store
    out = tmp_path / "study"
    printed = _cli("study", "run", str(d / "study.yaml"), "--db", str(d / "t.db"), "--out", str(out), "--json")
    validate(json.loads(printed))
    md = (out / "study.md").read_text()
    [row] = [line for line in md.splitlines() if line.startswith("| 1 | [1]")]
    assert row.index("The election ballots were shredded") < row.index(SHRED_CLAIM)
    with open(out / "study.csv", newline="", encoding="utf-8") as fh:
        [only] = list(csv.DictReader(fh))
    assert only["factcheck_claims"] == SHRED_CLAIM and only["views"] == ""
    assert SHRED_CLAIM in (out / "study.html").read_text()
    # The PDF wraps the cell into lines: the claim's words come right after the post's id row starts.
    drawn = " ".join(pdf_text((out / "study.pdf").read_bytes()))
    assert SHRED_CLAIM.rstrip(".") in drawn.replace("- ", "-")
