"""The review queue's study and narrative filters: the library (the posts a study selects, a
narrative's by its seed and keyword rules), ``claimwatch review queue --study --narrative``, the
page's filters and the API's query."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from review_store import queue_folder, queue_template  # noqa: F401 - fixtures
from test_web_review import cards, client
from typer.testing import CliRunner

import claimwatch
from claimwatch.analysis.study_file import Narrative, load_study
from claimwatch.cli import app
from claimwatch.web import WebOptions, create_app


@pytest.fixture()
def folder(queue_folder: Path) -> Path:  # noqa: F811 - the fixture
    return queue_folder


def ids(page) -> list[str]:
    return [item.post.platform_id for item in page.items]


@pytest.mark.slow  # over half a second on 2 cores
def test_a_study_keeps_its_posts_and_a_narrative_those_its_rules_assign(folder: Path) -> None:
    ws = claimwatch.open(folder / "queue.db")
    study = load_study(folder / "studies" / "election.yaml")
    everything = ws.review_queue(limit=50)
    assert ids(ws.review_queue(study=study, limit=50)) == ids(everything) and everything.total == 6
    later = dataclasses.replace(study, start=study.end, end=study.end)  # a window with none of the posts
    assert ws.review_queue(study=later).total == 0
    other = dataclasses.replace(study, accounts=("someone_else",))
    assert ws.review_queue(study=other).total == 0
    # seed rule: the proposed shredded-ballots fact-check; post 14 has it only as a weak candidate
    seeded = ws.review_queue(study=study, narrative="shredded ballots", limit=50)
    assert sorted(ids(seeded)) == ["11", "12", "13"] and seeded.total == 3
    # keyword rule, on the fact-checks' claims and the post
    by_words = dataclasses.replace(study, narratives=(*study.narratives, Narrative("dead voters", keywords=("dead",))))
    assert sorted(ids(ws.review_queue(study=by_words, narrative="dead voters"))) == ["14", "15"]
    # filters combine: the narrative's posts from one account only
    assert ws.review_queue(study=study, narrative="shredded ballots", accounts=["nobody"]).total == 0


@pytest.mark.slow  # over half a second on 2 cores
def test_a_narrative_filter_needs_a_study_that_names_it(folder: Path) -> None:
    ws = claimwatch.open(folder / "queue.db")
    with pytest.raises(ValueError, match="needs the study"):
        ws.review_queue(narrative="shredded ballots")
    with pytest.raises(ValueError, match=r"narrative 'x' is not in election.yaml \(its narratives: shredded ballots\)"):
        ws.review_queue(study=folder / "studies" / "election.yaml", narrative="x")


@pytest.mark.slow  # over half a second on 2 cores
def test_cli_queue_with_study_and_narrative(folder: Path) -> None:
    runner, db, study = CliRunner(), str(folder / "queue.db"), str(folder / "studies" / "election.yaml")
    res = runner.invoke(
        app, ["review", "queue", "--db", db, "--study", study, "--narrative", "shredded ballots", "--json"]
    )
    assert res.exit_code == 0, res.output
    page = json.loads(res.output)
    assert page["total"] == 3 and sorted(i["post"]["platform_id"] for i in page["items"]) == ["11", "12", "13"]
    res = runner.invoke(app, ["review", "queue", "--db", db, "--study", study, "--narrative", "x"])
    assert res.exit_code == 2 and "error: narrative 'x' is not in election.yaml" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["review", "queue", "--db", db, "--study", str(folder / "none.yaml")])
    assert res.exit_code == 2 and "cannot read study file" in res.output


@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_page_and_api_filter_by_study_and_narrative(folder: Path) -> None:
    site = create_app(
        claimwatch.open(folder / "queue.db"),
        WebOptions(studies_dir=folder / "studies", runs_dir=folder / "runs"),
    )
    c = client(site, "viewer")
    page = c.get("/review", params={"study": "election.yaml", "narrative": "shredded ballots"})
    assert page.status_code == 200 and len(cards(page.text)) == 3
    assert "<option selected>election.yaml</option>" in page.text and 'value="shredded ballots"' in page.text
    assert c.get("/review", params={"study": "election.yaml", "narrative": ""}).text.count('class="card') == 6
    api = c.get("/api/v1/review/queue", params={"study": "election.yaml", "narrative": "shredded ballots"}).json()
    assert api["total"] == 3 and {i["post"]["platform_id"] for i in api["items"]} == {"11", "12", "13"}
    missing = c.get("/api/v1/review/queue", params={"study": "../queue.db"})
    assert missing.status_code == 404 and "no study file '../queue.db'" in missing.json()["detail"]
    bad = c.get("/review", params={"study": "election.yaml", "narrative": "x"})
    assert bad.status_code == 400 and "narrative &#39;x&#39; is not in election.yaml" in bad.text
