"""Semantic search: fact-checks whose claim means what a query says (the matcher's retrieval), in
the library and on the Search page. Loads the sentence encoder, so slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import claimreview
from fastapi.testclient import TestClient
from web_store import PASSWORD, USERS

import claimwatch
from claimwatch.web import WebOptions, create_app

pytestmark = pytest.mark.slow

CLAIMS = {
    "https://example.org/fc/machines": "Voting machines switched votes from one candidate to another.",
    "https://example.org/fc/vaccine": "A vaccine changes the DNA of the people who receive it.",
    "https://example.org/fc/mail": "Mail ballots were sent to dead people in several states.",
}


@pytest.fixture()
def ws(tmp_path: Path) -> claimwatch.Workspace:
    ws = claimwatch.open(tmp_path / "s.db")
    (tmp_path / "fc.json").write_text(json.dumps([claimreview(url, text) for url, text in CLAIMS.items()]))
    ws.ingest_factchecks([tmp_path / "fc.json"])
    return ws


def test_the_closest_claim_comes_first(ws: claimwatch.Workspace, tmp_path: Path) -> None:
    found = ws.similar_factchecks("the machines flipped votes to the other candidate", limit=3)
    assert [f.review_url for f, _ in found][0] == "https://example.org/fc/machines"
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    assert ws.similar_factchecks("   ") == []
    # a fact-check ingested later is searched too (the retriever follows the store)
    (tmp_path / "more.json").write_text(
        json.dumps([claimreview("https://example.org/fc/wind", "Wind turbines cause cancer in nearby residents.")])
    )
    ws.ingest_factchecks([tmp_path / "more.json"])
    assert ws.similar_factchecks("windmills give people cancer", limit=1)[0][0].review_url.endswith("/fc/wind")


def test_the_search_page_lists_them_when_asked(ws: claimwatch.Workspace) -> None:
    ws.add_user(USERS["viewer"], "viewer", PASSWORD)
    c = TestClient(create_app(ws, WebOptions()))
    form = c.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    c.post("/login", data={"name": USERS["viewer"], "password": PASSWORD, "csrf_token": token})
    plain = c.get("/search", params={"q": "jab rewrites your genes"}).text
    assert "Fact-checks with the same meaning" not in plain
    page = c.get("/search", params={"q": "jab rewrites your genes", "meaning": "1"}).text
    section = page.split("Fact-checks with the same meaning", 1)[1].split("</table>", 1)[0]
    assert (
        section.index("changes the DNA") < section.index("review") and "dead people" not in section.split("</tr>", 2)[1]
    )
