"""An analyst attaches a stored fact-check to a post (one the machine missed or ranked low):
``ws.propose_factcheck`` re-uses or adds the match, confirms it as the analyst's (history
``chosen``, audit ``match.attach``) and rejects the post's other proposals, guarded like choose;
the card's fact-check search and attach button, and ``POST /api/v1/posts/{id}/attach``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from review_store import queue_folder, queue_template  # noqa: F401 - fixtures
from test_web_review import HTMX, cards, client, csrf

import claimwatch
from claimwatch import DecisionConflict
from claimwatch.store import schema as s
from claimwatch.web import WebOptions, create_app


@pytest.fixture()
def ws(queue_folder: Path) -> claimwatch.Workspace:  # noqa: F811 - the fixture
    return claimwatch.open(queue_folder / "queue.db")


def item_of(ws: claimwatch.Workspace, platform_id: str):
    return next(i for i in ws.review_queue(status="all", limit=50).items if i.post.platform_id == platform_id)


def factcheck_id(ws: claimwatch.Workspace, phrase: str) -> int:
    (fc,) = ws.search_factchecks(phrase)
    return fc.id


@pytest.mark.slow  # over half a second on 2 cores
def test_attach_adds_the_analysts_match_and_rejects_the_other_proposal(ws) -> None:
    item = item_of(ws, "14")  # proposed: dead voters; weak candidate: shredded
    proposed = next(c for c in item.candidates if c.status == "proposed")
    machines = factcheck_id(ws, "machines flipped")
    d = ws.propose_factcheck(item.post.id, machines, "ana", note="the machine missed it")
    assert (d.decided_by, d.decision, d.new_status, d.previous_status, d.note) == (
        "ana",
        "chosen",
        "confirmed",
        "candidate",
        "the machine missed it",
    )
    card = ws.review_item(d.match_id)
    by_fc = {c.factcheck.id: c for c in card.candidates}
    assert by_fc[machines].status == "confirmed" and by_fc[machines].method == "analyst"
    assert by_fc[machines].rank == max(c.rank for c in item.candidates) + 1
    assert by_fc[proposed.factcheck.id].status == "rejected"
    (rejection,) = ws.match_history(proposed.match_id)
    assert rejection.note == f"match {d.match_id} chosen instead: the machine missed it"
    weak = next(c for c in item.candidates if c.status == "candidate")
    assert by_fc[weak.factcheck.id].status == "candidate"  # a weak candidate is left for the record
    actions = [(e.action, e.object_id) for e in ws.audit(action="match.")]
    assert ("match.attach", str(d.match_id)) in actions and ("match.reject", str(proposed.match_id)) in actions


@pytest.mark.slow  # over half a second on 2 cores
def test_attach_reuses_the_pairs_match(ws) -> None:
    item = item_of(ws, "11")
    weak = next(c for c in item.candidates if c.status == "candidate")
    d = ws.propose_factcheck(item.post.id, weak.factcheck.id, "ana")
    assert d.match_id == weak.match_id and d.previous_status == "candidate"
    with ws.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).where(s.Match.post_id == item.post.id)) == 2
    assert ws.review_item(d.match_id).candidates[0].method != "analyst"  # the machine's match, re-used as it was


@pytest.mark.slow  # over half a second on 2 cores
def test_attach_refuses_unknown_ids_and_a_stale_card_writes_nothing(ws) -> None:
    item = item_of(ws, "16")
    machines, dead = factcheck_id(ws, "machines flipped"), factcheck_id(ws, "dead people")
    with pytest.raises(LookupError, match="no post with id 999999"):
        ws.propose_factcheck(999_999, machines, "ana")
    with pytest.raises(LookupError, match="no fact-check with id 999999"):
        ws.propose_factcheck(item.post.id, 999_999, "ana")
    seen = {c.match_id: c.version for c in item.candidates}
    ws.decide(item.match_id, "confirmed", "bob")  # another analyst confirms the proposal meanwhile
    shredded = factcheck_id(ws, "shredded before")
    with pytest.raises(DecisionConflict, match=f"match {item.match_id} was decided by bob"):
        ws.propose_factcheck(item.post.id, shredded, "ana", seen_versions=seen)
    with ws.engine.connect() as conn:
        pairs = conn.execute(sa.select(s.Match.factcheck_id).where(s.Match.post_id == item.post.id)).scalars().all()
    assert shredded not in pairs and sorted(pairs) == sorted([machines, dead])
    assert [e.action for e in ws.audit(action="match.attach")] == []


@pytest.mark.slow  # over half a second on 2 cores
def test_card_search_lists_factchecks_and_attach_redraws_the_card(ws, tmp_path: Path) -> None:
    site = create_app(ws, WebOptions(studies_dir=tmp_path / "studies", runs_dir=tmp_path / "runs"))
    analyst = client(site, "analyst")
    item = item_of(ws, "14")
    page = analyst.get("/review").text
    card = next(c for c in cards(page) if f'id="card-{item.post.id}"' in c)
    seen = re.search(r'name="seen" value="([^"]+)"', card).group(1)
    assert f'hx-get="/review/post/{item.post.id}/factchecks"' in card and f'id="found-{item.post.id}"' in card
    found = analyst.get(f"/review/post/{item.post.id}/factchecks", params={"q": "MACHINES", "seen": seen}, headers=HTMX)
    assert found.status_code == 200 and "Voting machines flipped votes" in found.text
    assert "&lt;i&gt;Misleading&lt;/i&gt;" in found.text and "<i>" not in found.text
    machines = factcheck_id(ws, "machines flipped")
    assert f'name="factcheck_id" value="{machines}"' in found.text and 'name="csrf_token"' in found.text
    assert "No stored fact-check contains" in analyst.get(f"/review/post/{item.post.id}/factchecks?q=zzz").text
    data = {"factcheck_id": str(machines), "seen": seen, "note": "found it", "csrf_token": csrf(analyst)}
    res = analyst.post(f"/review/post/{item.post.id}/attach", data=data, headers=HTMX)
    assert res.status_code == 200, res.text
    (redrawn,) = cards(res.text)
    assert f"fact-check {machines} attached by you" in redrawn and "confirmed by ana" in redrawn
    again = analyst.post(f"/review/post/{item.post.id}/attach", data=data, headers=HTMX)  # the same stale card
    assert again.status_code == 409 and "while you were reviewing it" in again.text
    viewer = client(site, "viewer")
    listed = viewer.get(f"/review/post/{item.post.id}/factchecks?q=machines").text
    assert "Voting machines flipped votes" in listed and "/attach" not in listed
    refused = viewer.post(f"/review/post/{item.post.id}/attach", data={**data, "csrf_token": csrf(viewer)})
    assert refused.status_code == 403 and "viewer" in refused.text


@pytest.mark.slow  # over 0.6 s (the fast tier stays under a minute)
def test_api_attach(ws, tmp_path: Path) -> None:
    site = create_app(ws, WebOptions(studies_dir=tmp_path / "studies", runs_dir=tmp_path / "runs"))
    token = ws.create_token("ana", "script")
    api = client(site, "viewer")  # a session does not matter: the bearer token acts as its user
    auth = {"Authorization": f"Bearer {token}"}
    item = item_of(ws, "15")
    machines = factcheck_id(ws, "machines flipped")
    res = api.post(f"/api/v1/posts/{item.post.id}/attach", json={"factcheck_id": machines}, headers=auth)
    assert res.status_code == 200, res.text
    assert res.json()["decision"] == "chosen" and res.json()["decided_by"] == "ana"
    missing = api.post(f"/api/v1/posts/{item.post.id}/attach", json={"factcheck_id": 999_999}, headers=auth)
    assert missing.status_code == 404 and missing.json()["detail"] == "no fact-check with id 999999"
    stale = {"factcheck_id": factcheck_id(ws, "dead people"), "seen_versions": {str(item.match_id): 0}}
    assert api.post(f"/api/v1/posts/{item.post.id}/attach", json=stale, headers=auth).status_code == 409
