"""A small synthetic store for the web tests: posts (one of them hostile) with fact-checks and
machine proposals, one confirmed; a study file; one user of each role. Everything example.org."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from ccdh_store import propose
from conftest import claimreview, page, post

import claimwatch
from claimwatch.records import MatchStatus

PASSWORD = "s3cret-example-pw"
USERS = {"admin": "ada", "analyst": "ana", "viewer": "vic"}
XSS_POST = "<script>alert('post')</script> the ballots were <b>shredded</b> <img src=x onerror=alert(2)>"
XSS_CLAIM = "<img src=x onerror=alert('fc')> ballots shredded in <i>bulk</i>"
STUDY = {
    "title": "SYNTHETIC: ballots (web test)",
    "accounts": ["demo_account"],
    "window": {"from": "2024-07-01", "to": "2024-07-31"},
    "include": {"matches": "proposed"},
    "narratives": [{"name": "shredded ballots", "factchecks": ["https://example.org/fc/shredded"]}],
}


def build(folder: Path) -> tuple[claimwatch.Workspace, Path]:
    """The store and its studies folder (holding ``ballots.yaml``)."""
    ws = claimwatch.open(folder / "web.db")
    posts = [
        post("1", XSS_POST, 5000),
        post("2", "Officials say the ballots were shredded before the count.", 12000),
        post("3", "Lovely weather for a walk today.", 300),
    ]
    (folder / "posts.jsonl").write_text(json.dumps(page(posts)) + "\n")
    ws.ingest_posts([folder / "posts.jsonl"])
    (folder / "fc.json").write_text(
        json.dumps([claimreview("https://example.org/fc/shredded", XSS_CLAIM, publisher="<b>Example & Co</b>")])
    )
    ws.ingest_factchecks([folder / "fc.json"])
    ids = propose(ws, [("1", "https://example.org/fc/shredded"), ("2", "https://example.org/fc/shredded")])
    ws.decide(ids[1], MatchStatus.CONFIRMED, "ana")
    for role, name in USERS.items():
        ws.add_user(name, role, PASSWORD)
    studies = folder / "studies"
    studies.mkdir()
    (studies / "ballots.yaml").write_text(yaml.safe_dump(STUDY))
    return ws, studies
