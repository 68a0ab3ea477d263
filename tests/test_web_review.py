"""The review queue, a match's history and the audit log in the web workspace (TestClient): cards
with the claim sentence marked and hostile text escaped, decisions redrawn by htmx, a stale page's
conflict shown in its card, choose, bulk confirm, viewers read-only, the JSON API, the audit log's
page and export, and audit entries for user, token and study changes."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from review_store import HOSTILE, PASSWORD, USERS, queue_folder, queue_template  # noqa: F401 - fixtures

import claimwatch
from claimwatch.store import schema as s
from claimwatch.web import WebOptions, create_app
from claimwatch.web.security import FailureLimit

HTMX = {"HX-Request": "true"}


@pytest.fixture()
def site(queue_folder: Path):  # noqa: F811 - the shared fixture
    ws = claimwatch.open(queue_folder / "queue.db")
    return create_app(ws, WebOptions(studies_dir=queue_folder / "studies", runs_dir=queue_folder / "runs"))


def client(site, role: str) -> TestClient:
    c = TestClient(site, follow_redirects=False)
    site.state.login_limit = FailureLimit()
    token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").text).group(1)
    assert c.post("/login", data={"name": USERS[role], "password": PASSWORD, "csrf_token": token}).status_code == 303
    return c


def csrf(c: TestClient) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', c.get("/search").text).group(1)


def cards(html: str) -> list[str]:
    return re.findall(r'<article class="card[^"]*".*?</article>', html, re.S)


def decide(c: TestClient, match_id: int, decision: str, version: int | None, note: str = "", htmx: bool = True):
    data = {"decision": decision, "note": note, "csrf_token": csrf(c)}
    if version is not None:
        data["expected_version"] = str(version)
    return c.post(f"/review/match/{match_id}/decide", data=data, headers=HTMX if htmx else {})


# --------------------------------------------------------------------------- the page


@pytest.mark.slow  # over half a second on 2 cores
def test_the_queue_shows_one_card_per_post_best_first_with_the_claim_marked(site):
    ws = site.state.workspace
    html = client(site, "analyst").get("/review").text
    page = ws.review_queue(limit=50)
    found = cards(html)
    assert len(found) == page.total == 6
    assert [re.search(r'id="card-(\d+)"', c).group(1) for c in found] == [str(i.post.id) for i in page.items]
    hostile = found[0]
    assert "<script>alert" not in html and "<b>shredded</b>" not in html
    assert "&lt;script&gt;alert(&#39;q&#39;)&lt;/script&gt; Polls closed early." in hostile
    assert "<mark>The ballots were &lt;b&gt;shredded&lt;/b&gt; overnight.</mark>" in hostile
    assert 'href="https://example.org/media/1.jpg"' in hostile and ">photo</a>" in hostile
    assert "9,000 views at 2024-08-01" in hostile
    # both candidates side by side, with their evidence, and the top one's keyboard buttons
    assert hostile.count('<section class="candidate') == 2
    assert "Ballots were shredded before the count" in hostile and "Voting machines flipped votes" in hostile
    assert "terms: ballots, shredded" in hostile and "similarity 0.91" in hostile
    assert "&lt;i&gt;Misleading&lt;/i&gt;" in hostile
    assert hostile.count('data-key="confirm"') == 1 and hostile.count('data-key="reject"') == 1
    top = page.items[0]
    assert f'action="/review/match/{top.match_id}/decide"' in hostile
    assert "Confirm all 3 pending posts proposed for this fact-check" in hostile
    # the post with no claim sentence has nothing marked
    no_claim = next(c for c in found if "dead voters were counted twice" in c)
    assert "<mark>" not in no_claim


@pytest.mark.slow  # over half a second on 2 cores
def test_filters_and_pagination(site):
    c = client(site, "viewer")
    assert len(cards(c.get("/review?min_confidence=0.85").text)) == 4
    assert len(cards(c.get("/review?min_confidence=&max_confidence=0.85").text)) == 2
    assert len(cards(c.get("/review?account=@nobody_here").text)) == 0
    assert (
        len(cards(c.get("/review?account=demo_account&platform=x&lang=en&since=2024-07-01&until=2024-07-01").text)) == 6
    )
    assert len(cards(c.get("/review?until=2024-06-30").text)) == 0
    first = c.get("/review?limit=4").text
    assert len(cards(first)) == 4 and "offset=4" in first
    second = c.get("/review?limit=4&offset=4").text
    assert len(cards(second)) == 2 and "next →" not in second and "← previous" in second
    assert set(cards(first)).isdisjoint(cards(second))
    bad = c.get("/review?min_confidence=high")
    assert bad.status_code == 400 and "min_confidence &#39;high&#39;: a number" in bad.text
    assert c.get("/review?status=maybe").status_code == 400
    assert c.get("/review?since=July").status_code == 400


@pytest.mark.slow  # over half a second on 2 cores
def test_a_viewer_reads_the_queue_without_actions(site):
    html = client(site, "viewer").get("/review").text
    assert len(cards(html)) == 6
    assert "/decide" not in html and "bulk-confirm" not in html and 'name="note"' not in html
    assert "deciding needs the analyst role" in html


# --------------------------------------------------------------------------- decisions


@pytest.mark.slow  # over half a second on 2 cores
def test_confirm_redraws_the_card_decided_and_records_who_and_the_note(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    version = next(c.version for c in item.candidates if c.match_id == item.match_id)
    res = decide(client(site, "analyst"), item.match_id, "confirm", version, note="same claim")
    assert res.status_code == 200
    (card,) = cards(res.text)
    assert card.startswith('<article class="card decided"') and f"match {item.match_id} confirmed by you" in card
    assert "confirmed by ana" in card and 'data-key="confirm"' not in card and 'value="reopen"' in card
    (d,) = ws.match_history(item.match_id)
    assert (d.decided_by, d.decision, d.note, d.previous_status) == ("ana", "confirmed", "same claim", "proposed")
    assert item.post.id not in {i.post.id for i in ws.review_queue().items}


@pytest.mark.slow
def test_a_stale_page_gets_the_conflict_message_in_its_card(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    ws.decide(item.match_id, "rejected", "bob")  # another analyst, after the page was drawn
    res = decide(client(site, "analyst"), item.match_id, "confirm", 0)
    assert res.status_code == 409
    (card,) = cards(res.text)
    assert 'class="card pending conflict"' in card, "its weak candidate still awaits a decision"
    assert f"match {item.match_id} was decided by bob" in card and "reload and decide again" in card
    assert "rejected by bob" in card, "the card shows the match as it is now"
    assert [d.decided_by for d in ws.match_history(item.match_id)] == ["bob"], "nothing of ana's written"


def test_without_script_a_decision_posts_a_form_and_comes_back_to_the_queue(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    c = client(site, "analyst")
    res = decide(c, item.match_id, "reject", 0, htmx=False)
    assert res.status_code == 303 and res.headers["location"] == "/review"
    assert f"match {item.match_id} rejected by you" in c.get("/review").text
    assert decide(c, 999999, "confirm", 0).status_code == 404
    bad = decide(c, item.match_id, "approve", None)
    assert (
        bad.status_code == 400
        and "one of confirm, confirm:repeats, confirm:narrative, reject, reopen, choose" in bad.text
    )


def test_choose_confirms_a_candidate_and_rejects_the_proposal(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    weak = next(c for c in item.candidates if c.status == "candidate")
    res = decide(client(site, "analyst"), weak.match_id, "choose", weak.version, note="the machines claim")
    assert res.status_code == 200
    statuses = {c.match_id: c.status for c in ws.review_item(weak.match_id).candidates}
    assert statuses == {weak.match_id: "confirmed", item.match_id: "rejected"}
    assert "chosen by you" in res.text


def test_choose_from_a_stale_card_never_overturns_a_confirmation_it_did_not_show(site):
    """The card showed the proposal pending; Bob confirmed it since. Choosing the weak candidate from
    that card sends the versions it showed: 409, Bob's confirmation stands, nothing of ana's written."""
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    weak = next(c for c in item.candidates if c.status == "candidate")
    seen = ",".join(f"{c.match_id}:{c.version}" for c in item.candidates)
    c = client(site, "analyst")
    assert f'name="seen" value="{seen}"' in c.get("/review").text, "the card sends what it showed"
    ws.decide(item.match_id, "confirmed", "bob")
    res = c.post(
        f"/review/match/{weak.match_id}/decide",
        data={"decision": "choose", "expected_version": weak.version, "seen": seen, "csrf_token": csrf(c)},
        headers=HTMX,
    )
    assert res.status_code == 409 and f"match {item.match_id} was decided by bob" in res.text
    statuses = {x.match_id: x.status for x in ws.review_item(weak.match_id).candidates}
    assert statuses[item.match_id] == "confirmed" and statuses[weak.match_id] == "candidate"


@pytest.mark.slow  # over half a second on 2 cores
def test_reopen_puts_a_decided_match_back_in_the_queue(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    ws.decide(item.match_id, "confirmed", "ana")
    res = decide(client(site, "analyst"), item.match_id, "reopen", 1)
    assert res.status_code == 200 and cards(res.text)[0].startswith('<article class="card pending"')
    assert item.post.id in {i.post.id for i in ws.review_queue().items}


@pytest.mark.slow  # over half a second on 2 cores
def test_bulk_confirm_confirms_the_posts_of_one_fact_check_and_counts_the_skipped(site):
    ws = site.state.workspace
    html = client(site, "analyst").get("/review").text
    form = re.search(r"<form[^>]*bulk-confirm.*?</form>", cards(html)[0], re.S).group(0)
    ids = [int(i) for i in re.findall(r'name="match_ids" value="(\d+)"', form)]
    assert len(ids) == 3
    ws.decide(ids[1], "rejected", "bob")  # decided by someone else meanwhile: skipped, not overwritten
    c = client(site, "analyst")
    res = c.post("/review/bulk-confirm", data={"match_ids": ids, "note": "same claim", "csrf_token": csrf(c)},
                 headers=HTMX)  # fmt: skip
    assert res.status_code == 204 and res.headers["hx-refresh"] == "true"
    assert "confirmed 2 matches; 1 skipped: already decided by someone" in c.get("/review").text
    assert [ws.match_history(i)[-1].decided_by for i in ids] == ["ana", "bob", "ana"]
    assert ws.match_history(ids[1])[-1].new_status == "rejected"


@pytest.mark.slow
def test_decisions_need_the_csrf_token_and_the_analyst_role(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    viewer = client(site, "viewer")
    res = viewer.post(f"/review/match/{item.match_id}/decide", data={"decision": "confirm", "csrf_token": csrf(viewer)})
    assert res.status_code == 403 and "vic is a viewer" in res.text
    analyst = client(site, "analyst")
    res = analyst.post(f"/review/match/{item.match_id}/decide", data={"decision": "confirm"}, headers=HTMX)
    assert res.status_code == 403 and "CSRF" in res.text
    res = analyst.post("/review/bulk-confirm", data={"match_ids": [item.match_id]}, headers=HTMX)
    assert res.status_code == 403
    assert ws.match_history(item.match_id) == []


@pytest.mark.slow  # over half a second on 2 cores
def test_the_match_page_shows_its_history(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    ws.decide(item.match_id, "confirmed", "ana", note="<b>sure</b>")
    ws.decide(item.match_id, "reopened", "bob")
    html = client(site, "viewer").get(f"/review/match/{item.match_id}").text
    rows = re.findall(r"<tr><td>.*?</tr>", html, re.S)
    assert len(rows) == 2
    assert "ana" in rows[0] and "proposed → confirmed" in rows[0] and "&lt;b&gt;sure&lt;/b&gt;" in rows[0]
    assert "bob" in rows[1] and "reopened" in rows[1] and "confirmed → proposed" in rows[1]
    assert client(site, "viewer").get("/review/match/999999").status_code == 404


# --------------------------------------------------------------------------- the JSON API


def test_the_api_queue_decisions_history_and_audit(site):
    ws = site.state.workspace
    analyst = {"Authorization": f"Bearer {ws.create_token('ana', 'script')}"}
    viewer = {"Authorization": f"Bearer {ws.create_token('vic', 'script')}"}
    api = TestClient(site)
    queue = api.get("/api/v1/review/queue", params={"limit": 2, "min_confidence": "0.81"}, headers=viewer).json()
    assert queue["total"] == 5 and len(queue["items"]) == 2 and queue["items"][0]["post"]["text"] == HOSTILE
    top = queue["items"][0]
    cand = next(c for c in top["candidates"] if c["match_id"] == top["match_id"])
    assert cand["matched_terms"] == ["ballots", "shredded"] and cand["factcheck"]["review_url"].startswith("https://")
    url = f"/api/v1/matches/{top['match_id']}/decision"
    body = {"decision": "confirm", "expected_version": cand["version"], "note": "api"}
    assert api.post(url, json=body, headers=viewer).status_code == 403
    done = api.post(url, json=body, headers=analyst)
    assert done.status_code == 200 and done.json()["new_status"] == "confirmed" and done.json()["decided_by"] == "ana"
    stale = api.post(url, json={"decision": "reject", "expected_version": cand["version"]}, headers=analyst)
    assert stale.status_code == 409 and "decided by ana" in stale.json()["detail"]
    assert api.post(url, json={"decision": "maybe"}, headers=analyst).status_code == 422
    assert api.post("/api/v1/matches/999999/decision", json={"decision": "confirm"}, headers=analyst).status_code == 404
    history = api.get(f"/api/v1/matches/{top['match_id']}/history", headers=viewer).json()
    assert [h["decision"] for h in history] == ["confirmed"]

    second = queue["items"][1]
    weak = next(c for c in second["candidates"] if c["status"] == "candidate")
    chosen = api.post(f"/api/v1/matches/{weak['match_id']}/choose", json={"note": "x"}, headers=analyst).json()
    assert [d["decision"] for d in chosen] == ["chosen", "rejected"]

    pending = ws.proposals_by_factcheck([cand["factcheck"]["id"]])[cand["factcheck"]["id"]]
    bulk = api.post("/api/v1/matches/bulk-confirm", json={"match_ids": [*pending, top["match_id"]]}, headers=analyst)
    assert bulk.status_code == 200
    assert len(bulk.json()["confirmed"]) == len(pending) and bulk.json()["skipped"] == [top["match_id"]]

    entries = api.get("/api/v1/audit", params={"action": "match.", "actor": "ana"}, headers=viewer).json()
    assert {e["action"] for e in entries} == {"match.confirm", "match.choose", "match.reject"}
    assert entries[0]["at"] >= entries[-1]["at"], "newest first"


# --------------------------------------------------------------------------- audit log


def test_the_audit_page_filters_and_exports(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    ws.decide(item.match_id, "confirmed", "ana", note="<script>x</script>")
    c = client(site, "viewer")
    html = c.get("/audit").text
    rows = re.findall(r"<tr><td>.*?</tr>", html, re.S)
    assert len(rows) == 4 and "match.confirm" in rows[0] and "user.add" in rows[-1]
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert f'href="/review/match/{item.match_id}"' in rows[0]
    only = c.get("/audit?action=user.&actor=setup").text
    assert len(re.findall(r"<tr><td>", only)) == 3 and "<td>match.confirm" not in only
    assert "no entries with these filters" in c.get("/audit?actor=nobody").text
    jsonl = c.get("/audit/export?format=jsonl")
    assert "attachment" in jsonl.headers["content-disposition"]
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [e["action"] for e in lines] == ["user.add"] * 3 + ["match.confirm"], "oldest first"
    table = list(csv.DictReader(io.StringIO(c.get("/audit/export?format=csv").text)))
    assert [r["action"] for r in table] == [e["action"] for e in lines]
    assert c.get("/audit/export?format=xml").status_code == 422


@pytest.mark.slow  # over half a second on 2 cores
def test_user_token_and_study_changes_are_audited_with_who_made_them(site):
    ws = site.state.workspace
    admin, analyst = client(site, "admin"), client(site, "analyst")
    assert admin.post("/users", data={"name": "newbie", "role": "viewer", "password": PASSWORD,
                                      "csrf_token": csrf(admin)}).status_code == 303  # fmt: skip
    admin.post("/users/newbie/tokens", data={"label": "ci", "csrf_token": csrf(admin)})
    token_id = next(t.id for t in ws.list_tokens("newbie"))
    assert admin.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf(admin)}).status_code == 303
    assert admin.post("/users/newbie/remove", data={"csrf_token": csrf(admin)}).status_code == 303
    res = analyst.post("/studies/run", data={"study": "election.yaml", "csrf_token": csrf(analyst)})
    assert res.status_code == 303
    entries = ws.audit(limit=5)[::-1]
    assert [(e.actor, e.action, e.object_id) for e in entries] == [
        ("ada", "user.add", "newbie"),
        ("ada", "token.create", str(token_id)),
        ("ada", "token.revoke", str(token_id)),
        ("ada", "user.remove", "newbie"),
        ("ana", "study.run", "election.yaml"),
    ]
    assert entries[0].after["role"] == "viewer" and "password" not in json.dumps(entries[0].after)
    assert entries[2].before["revoked_at"] is None and entries[2].after["revoked_at"]
    assert entries[4].after["title"].startswith("SYNTHETIC") and entries[4].after["summary"]["posts"] >= 1
    assert not any("cw_" in json.dumps(e.after) for e in entries), "a token is never logged"
    # revoking twice, removing nobody: no entry
    ws.revoke_token(token_id, actor="ada")
    assert not ws.remove_user("nobody", actor="ada")
    assert len(ws.audit(limit=100)) == 3 + 5


@pytest.mark.slow
def test_confirm_as_narrative_only_from_the_card_and_the_api(site):
    ws = site.state.workspace
    item = ws.review_queue().items[0]
    with ws.engine.begin() as conn:  # the matcher's label for the top match, as `claimwatch match` stores it
        evidence = {"shared_terms": ["ballots"], "stance": ["<b>never</b>"]}  # hostile, as every post's words
        conn.execute(
            sa.update(s.Match).where(s.Match.id == item.match_id).values(relation="repeats", evidence=evidence)
        )
    c = client(site, "analyst")
    html = c.get("/review").text
    assert "repeats the rated claim" in html and 'value="confirm:narrative"' in html
    assert "denies or debunks it: “&lt;b&gt;never&lt;/b&gt;”" in html
    version = next(k.version for k in item.candidates if k.match_id == item.match_id)
    res = decide(c, item.match_id, "confirm:narrative", version)
    assert res.status_code == 200 and "shares the claim&#39;s narrative only" in res.text
    assert ws.match_history(item.match_id)[-1].relation == "narrative"
    assert decide(c, item.match_id, "reject:narrative", None).status_code == 400
    other = ws.review_queue().items[0]
    token = ws.create_token(USERS["analyst"], "relation test")
    res = TestClient(site).post(
        f"/api/v1/matches/{other.match_id}/decision",
        json={"decision": "confirm", "relation": "narrative"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert res.status_code == 200, res.text
    assert res.json()["relation"] == "narrative"
