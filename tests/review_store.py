"""A synthetic store for the review-queue tests: six posts awaiting review (one hostile, one with
a photo), the claim sentence of each marked by the analysis, two or three candidate fact-checks per
post with their evidence, several posts proposed for one fact-check (a bulk confirm), one user of
each role, and a study file. Everything example.org."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from conftest import claimreview, page, post
from web_store import PASSWORD, USERS

import claimwatch
from claimwatch.store import repo
from claimwatch.store import schema as s

HOSTILE = "<script>alert('q')</script> Polls closed early. The ballots were <b>shredded</b> overnight."
#: (platform id, text, views, claim sentence in the text or None)
POSTS = [
    ("11", HOSTILE, 9000, "The ballots were <b>shredded</b> overnight."),
    ("12", "Breaking: the ballots were shredded before the count. Share this.", 8000, "the ballots were shredded"),
    ("13", "They shredded ballots in the county office, I saw it.", 7000, "They shredded ballots"),
    ("14", "Dead people voted in thousands, officials admit.", 6000, "Dead people voted in thousands"),
    ("15", "A thread on how dead voters were counted twice.", 5000, None),
    ("16", "Voting machines flipped votes, says a report.", 4000, "Voting machines flipped votes"),
]
FACTCHECKS = {
    "shredded": ("https://example.org/fc/shredded", "Ballots were shredded before the count", "False"),
    "dead": ("https://example.org/fc/dead-voters", "Thousands of dead people voted", "Pants on Fire"),
    "machines": ("https://example.org/fc/machines", "Voting machines flipped votes", "<i>Misleading</i>"),
}
#: per post: (fact-check key, rank, score, proposed) — the top candidate proposed, others below
CANDIDATES = {
    "11": [("shredded", 1, 0.91, True), ("machines", 2, 0.31, False)],
    "12": [("shredded", 1, 0.88, True), ("dead", 2, 0.22, False)],
    "13": [("shredded", 1, 0.84, True), ("machines", 2, 0.2, False)],
    "14": [("dead", 1, 0.9, True), ("shredded", 2, 0.25, False)],
    "15": [("dead", 1, 0.8, True), ("machines", 2, 0.3, False)],
    "16": [("machines", 1, 0.86, True), ("dead", 2, 0.4, False)],
}
STUDY = {
    "title": "SYNTHETIC: election claims (review test)",
    "accounts": ["demo_account"],
    "window": {"from": "2024-07-01", "to": "2024-07-31"},
    "include": {"matches": "proposed"},
    "narratives": [{"name": "shredded ballots", "factchecks": ["https://example.org/fc/shredded"]}],
}


def build(folder: Path) -> tuple[claimwatch.Workspace, Path]:
    """The store (``queue.db``) and its studies folder (``election.yaml``)."""
    ws = claimwatch.open(folder / "queue.db")
    posts = [post(pid, text, views) for pid, text, views, _ in POSTS]
    posts[0]["attachments"] = {"media_keys": ["3_1"]}
    data = page(posts)
    data["includes"]["media"] = [{"media_key": "3_1", "type": "photo", "url": "https://example.org/media/1.jpg"}]
    (folder / "posts.jsonl").write_text(json.dumps(data) + "\n")
    ws.ingest_posts([folder / "posts.jsonl"])
    (folder / "fc.json").write_text(
        json.dumps([claimreview(url, claim, rating=rating) for url, claim, rating in FACTCHECKS.values()])
    )
    ws.ingest_factchecks([folder / "fc.json"])
    with ws.engine.begin() as conn:
        ids = {
            r.platform_id: (r.id, r.text) for r in conn.execute(sa.select(s.Post.id, s.Post.platform_id, s.Post.text))
        }
        fcs = {r.review_url: r.id for r in conn.execute(sa.select(s.FactCheck.id, s.FactCheck.review_url))}
        analysis = []
        for pid, _, _, sentence in POSTS:
            post_id, text = ids[pid]
            start = text.find(sentence) if sentence else -1
            analysis.append(
                dict(post_id=post_id, lang="en", claim_sentence=sentence, checkworthiness=0.9,
                     claim_start=start if start >= 0 else None, claim_end=start + len(sentence) if start >= 0 else None)
            )  # fmt: skip
            rows = [
                repo.CandidateRow(
                    fcs[FACTCHECKS[key][0]],
                    rank,
                    score,
                    {
                        "shared_terms": ["ballots", "shredded"] if key == "shredded" else [key],
                        "features": {"cos": score},
                    },
                    score,
                    proposed,
                )  # fmt: skip
                for key, rank, score, proposed in CANDIDATES[pid]
            ]
            repo.write_matches(conn, post_id, rows, "test-fixture", "v")
        repo.write_analysis(conn, analysis)
    for role, name in USERS.items():
        ws.add_user(name, role, PASSWORD, actor="setup")
    studies = folder / "studies"
    studies.mkdir()
    (studies / "election.yaml").write_text(yaml.safe_dump(STUDY))
    return ws, studies


@pytest.fixture(scope="module")
def queue_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store built once per test module (users' argon2 hashes take a while)."""
    folder = tmp_path_factory.mktemp("queue")
    ws, _ = build(folder)
    ws.engine.dispose()  # the last connection closed: SQLite's write-ahead log is in the file
    return folder


@pytest.fixture()
def queue_folder(queue_template: Path, tmp_path: Path) -> Path:
    """A copy of the store (``queue.db``) and its ``studies`` folder for one test."""
    shutil.copy(queue_template / "queue.db", tmp_path / "queue.db")
    shutil.copytree(queue_template / "studies", tmp_path / "studies")
    return tmp_path
