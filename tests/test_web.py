"""The web workspace through its HTTP interface (FastAPI's TestClient): sign-in, sessions, CSRF,
the sign-in rate limit, roles on every route, API tokens, hostile text shown as text, the
security headers, and the dashboard and studies on a small synthetic store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_store import PASSWORD, USERS, XSS_CLAIM, XSS_POST, build

import claimwatch
from claimwatch.cli import app as cli
from claimwatch.store import schema as s
from claimwatch.web import WebOptions, create_app
from claimwatch.web.security import CSP, FailureLimit

#: routes anyone may reach: the sign-in form and the public API description
PUBLIC_GETS = {"/login", "/api/v1/openapi.json", "/api/v1/docs"}
#: changes every signed-in role may make (still CSRF-checked): signing in and out
ANY_ROLE = {"/login", "/logout"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("web")
    ws, studies = build(folder)
    return create_app(ws, WebOptions(studies_dir=studies, runs_dir=folder / "runs"))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def client(site, role: str | None = None) -> TestClient:
    """A browser: signed in as the user of ``role`` (or not at all)."""
    c = TestClient(site, follow_redirects=False)
    site.state.login_limit = FailureLimit()  # each test starts with no failures counted
    if role:
        token = csrf_of(c.get("/login").text)
        res = c.post("/login", data={"name": USERS[role], "password": PASSWORD, "csrf_token": token})
        assert res.status_code == 303, res.text
    return c


def csrf(c: TestClient) -> str:
    return csrf_of(c.get("/search").text)


# --------------------------------------------------------------------------- sign-in and sessions


@pytest.mark.slow  # over half a second on 2 cores
def test_pages_need_a_sign_in_and_the_session_cookie_is_strict(site):
    c = client(site)
    res = c.get("/")
    assert res.status_code == 303 and res.headers["location"].endswith("/login")
    token = csrf_of(c.get("/login").text)
    wrong = c.post("/login", data={"name": "ana", "password": "nope-nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    res = c.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 303
    cookie = res.headers["set-cookie"].lower()
    assert "claimwatch_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    page = c.get("/search")
    assert page.status_code == 200 and "ana (analyst)" in page.text
    assert csrf_of(page.text) != token, "signing in starts a new session with a new CSRF token"
    c.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert c.get("/search").status_code == 303


@pytest.mark.slow  # over half a second on 2 cores
def test_sign_in_needs_the_forms_csrf_token(site):
    c = client(site)
    c.get("/login")
    res = c.post("/login", data={"name": "ana", "password": PASSWORD})
    assert res.status_code == 403 and "CSRF" in res.text


@pytest.mark.slow  # over half a second on 2 cores
def test_sign_in_is_rate_limited_per_name_and_per_address(site):
    now = [0.0]
    c = client(site)
    site.state.login_limit = FailureLimit(5, 900, clock=lambda: now[0])
    token = csrf_of(c.get("/login").text)

    def sign_in(name: str, password: str) -> int:
        return c.post("/login", data={"name": name, "password": password, "csrf_token": token}).status_code

    assert [sign_in("ana", "wrong-guess") for _ in range(5)] == [401] * 5
    res = c.post("/login", data={"name": "ana", "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 429 and int(res.headers["retry-after"]) > 0, "even the right password waits"
    # the address is blocked too: another name from the same client
    assert sign_in("ada", PASSWORD) == 429
    now[0] += 901
    assert sign_in("ana", PASSWORD) == 303


@pytest.mark.slow  # over half a second on 2 cores
def test_a_removed_user_is_signed_out_at_once(tmp_path):
    ws, studies = build(tmp_path)
    ws.add_user("temp", "analyst", PASSWORD)
    site = create_app(ws, WebOptions(studies_dir=studies, runs_dir=tmp_path / "runs"))
    c = client(site)
    token = csrf_of(c.get("/login").text)
    c.post("/login", data={"name": "temp", "password": PASSWORD, "csrf_token": token})
    assert c.get("/search").status_code == 200
    ws.remove_user("temp")
    assert c.get("/search").status_code == 303


# --------------------------------------------------------------------------- roles and CSRF on every route


def _routes(site) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, inside included routers too (FastAPI ≥ 0.13x keeps
    an included router whole, as ``original_router``; earlier versions copied its routes)."""

    def walk(routes: list) -> list[APIRoute]:
        found = []
        for r in routes:
            if hasattr(r, "original_router"):
                found += walk(r.original_router.routes)
            elif isinstance(r, APIRoute):
                found.append(r)
        return found

    return [(m, r.path) for r in walk(site.routes) for m in r.methods if m != "HEAD"]


def _url(path: str) -> str:
    for name, value in {
        "{name}": "vic",
        "{token_id}": "1",
        "{run_id}": "none",
        "{fmt}": "json",
        "{match_id}": "1",
        "{post_id}": "1",
    }.items():
        path = path.replace(name, value)
    return path


def _send(c: TestClient, method: str, path: str, headers: dict[str, str] | None = None, with_csrf: str = ""):
    if path.startswith("/api/"):
        body = {"name": "x-user", "role": "viewer", "password": PASSWORD}
        return c.request(method, _url(path), json=body, headers=headers or {})
    data = {"name": "x-user", "role": "viewer", "password": PASSWORD, "study": "ballots.yaml", "label": "t",
            "decision": "confirm", "match_ids": "1"}  # fmt: skip
    if with_csrf:
        data["csrf_token"] = with_csrf
    return c.request(method, _url(path), data=data, headers=headers or {})


@pytest.mark.slow  # over half a second on 2 cores
def test_every_change_refuses_a_viewer_and_a_request_without_csrf(site):
    changes = [(m, p) for m, p in _routes(site) if m not in ("GET", "HEAD", "OPTIONS")]
    assert len(changes) >= 10, changes  # the enumeration sees the routes
    viewer, admin = client(site, "viewer"), client(site, "admin")
    viewer_csrf = csrf(viewer)
    for method, path in changes:
        if path not in ANY_ROLE:
            res = _send(viewer, method, path, {"X-CSRF-Token": viewer_csrf}, with_csrf=viewer_csrf)
            assert res.status_code == 403, (method, path, res.status_code, res.text[:200])
            assert "viewer" in res.text
        res = _send(admin, method, path)
        assert res.status_code == 403, (method, path, res.status_code)
        assert "CSRF" in res.text
    assert viewer.get("/api/v1/users").status_code == 403, "user management is admin-only, reads too"
    assert client(site, "analyst").get("/users").status_code == 403


@pytest.mark.slow  # over half a second on 2 cores
def test_every_page_but_sign_in_needs_a_signed_in_user(site):
    c = client(site)
    for method, path in _routes(site):
        if method == "GET" and path not in PUBLIC_GETS:
            res = c.get(_url(path))
            assert res.status_code in (303, 401), (path, res.status_code)
            assert (res.status_code == 401) == path.startswith("/api/")


# --------------------------------------------------------------------------- API tokens


@pytest.mark.slow
def test_api_tokens_act_as_their_user_without_cookies_or_csrf(site):
    ws = site.state.workspace
    admin_token, viewer_token = ws.create_token("ada", "t1"), ws.create_token("vic", "t2")
    api = TestClient(site)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {viewer_token}"})
    assert me.status_code == 200 and me.json()["name"] == "vic" and "password" not in me.text
    add = api.post(
        "/api/v1/users",
        json={"name": "scripted", "role": "analyst", "password": PASSWORD},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert add.status_code == 201 and add.json()["role"] == "analyst"
    refused = api.post(
        "/api/v1/users", json={"name": "x2", "password": PASSWORD}, headers={"Authorization": f"Bearer {viewer_token}"}
    )
    assert refused.status_code == 403
    token_id = next(t.id for t in ws.list_tokens("vic") if t.name == "t2")
    revoke = api.delete(f"/api/v1/tokens/{token_id}", headers={"Authorization": f"Bearer {admin_token}"})
    assert revoke.status_code == 200 and revoke.json()["revoked_at"]
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {viewer_token}"}).status_code == 401
    assert api.get("/api/v1/me", headers={"Authorization": "Bearer cw_made_up"}).status_code == 401
    ws.remove_user("scripted")


def test_the_api_searches_and_computes_studies(site):
    c = client(site, "viewer")
    posts = c.get("/api/v1/search/posts", params={"q": "SHREDDED"}).json()
    assert {p["platform_id"] for p in posts} == {"1", "2"}
    fcs = c.get("/api/v1/search/factchecks", params={"q": "bulk"}).json()
    assert [f["claim_text"] for f in fcs] == [XSS_CLAIM]
    assert c.get("/api/v1/studies").json() == ["ballots.yaml"]
    study = c.get("/api/v1/studies/ballots.yaml").json()
    assert study["summary"]["posts"] == 2 and study["summary"]["posts_analyst_confirmed"] == 1
    assert c.get("/api/v1/studies/..%2Fweb.db").status_code == 404


# --------------------------------------------------------------------------- hostile text and headers


def test_hostile_post_and_fact_check_text_is_shown_as_text(site):
    c = client(site, "viewer")
    with site.state.workspace.engine.begin() as conn:
        conn.execute(sa.update(s.Post).where(s.Post.platform_id == "1").values(url="javascript:alert('url')"))
    for url in ("/search?q=shredded", "/search?q=bulk"):
        page = c.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page and "javascript:" not in page
    page = c.get("/search?q=shredded").text
    assert "&lt;script&gt;alert(&#39;post&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(&#39;fc&#39;)&gt;" in c.get("/search?q=bulk").text


def test_every_response_carries_the_strict_csp(site):
    c = client(site, "viewer")
    for url in ("/login", "/search?q=x", "/api/v1/me", "/static/app.css", "/review", "/nowhere"):
        res = c.get(url)
        assert res.headers["content-security-policy"] == CSP, url
        assert res.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP and "unsafe" not in CSP
    page = c.get("/search?q=shredded").text
    assert " style=" not in page
    assert not re.search(r"<[^>]+\son\w+=", page), "no inline event handlers"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "every script is a file from /static"


def test_htmx_is_served_from_the_package(site):
    c = client(site, "viewer")
    res = c.get("/static/htmx.min.js")
    assert res.status_code == 200 and "htmx" in res.text[:2000]
    assert "https://" not in c.get("/search").text.split("<main>")[0], "nothing from a CDN in the layout"


# --------------------------------------------------------------------------- dashboard, studies, stubs


@pytest.mark.slow  # the first dashboard loads the check-worthiness model (~1 s)
def test_dashboard_numbers_link_to_the_posts_behind_them(site):
    c = client(site, "viewer")
    home = c.get("/").text
    assert "ballots.yaml" in home and "Check-worthy claims with no fact-check yet" in home
    assert "not matched yet" in home, "an empty list of claims says why it may be empty"
    run = c.get("/?study=ballots.yaml").text
    assert "2 posts by @demo_account" in run and "1 confirmed by an analyst" in run
    links = dict(re.findall(r'href="(/runs/[^"]+/posts\?group=([\w-]+))"', run))
    groups = {g: u for u, g in links.items()}
    assert {"all", "confirmed", "proposed", "group-narrative-1"} <= set(groups)
    assert c.get(groups["confirmed"]).text.count('<tr id="post-') == 1
    posts = c.get(groups["group-narrative-1"]).text
    assert posts.count('<tr id="post-') == 2
    assert "&lt;script&gt;alert(&#39;post&#39;)" in posts and "&lt;b&gt;Example &amp; Co&lt;/b&gt;" in posts
    assert "<script>alert" not in posts and XSS_POST not in posts
    chart = re.search(r'src="(/runs/[^"]+/charts/[\w]+\.png)"', run).group(1)
    png = c.get(chart)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert c.get("/?study=../web.db").status_code == 404


@pytest.mark.slow  # writes every report format, the PDF and charts included
def test_an_analyst_runs_a_study_and_downloads_its_report(site):
    c = client(site, "analyst")
    res = c.post("/studies/run", data={"study": "ballots.yaml", "csrf_token": csrf(c)})
    assert res.status_code == 303 and res.headers["location"].startswith("/runs/")
    report = c.get(res.headers["location"] + "/report.json")
    assert report.status_code == 200 and "attachment" in report.headers["content-disposition"]
    assert json.loads(report.content)["study"]["title"] == "SYNTHETIC: ballots (web test)"
    csv_text = c.get(res.headers["location"] + "/report.csv").text
    assert "shredded" in csv_text
    upload = c.post(
        "/studies/run",
        data={"csrf_token": csrf(c)},
        files={"upload": ("mine.yaml", b"title: [unclosed", "application/x-yaml")},
    )
    assert upload.status_code == 400 and "not valid YAML" in upload.text


@pytest.mark.slow
def test_admin_manages_users_and_tokens_in_the_browser(site):
    c = client(site, "admin")
    res = c.post("/users", data={"name": "newbie", "role": "viewer", "password": PASSWORD, "csrf_token": csrf(c)})
    assert res.status_code == 303
    page = c.post("/users/newbie/tokens", data={"label": "ci", "csrf_token": csrf(c)}).text
    token = re.search(r"<pre>(cw_[^<]+)</pre>", page).group(1)
    assert site.state.workspace.verify_token(token).name == "newbie"
    assert c.get("/users").text.count(token) == 0, "a token is shown once"
    assert c.post("/users/newbie/remove", data={"csrf_token": csrf(c)}).status_code == 303
    assert site.state.workspace.user("newbie") is None
    assert c.post("/users/ada/remove", data={"csrf_token": csrf(c)}).status_code == 400


def test_api_docs_list_the_routes(site):
    c = client(site)
    docs = c.get("/api/v1/docs").text
    assert "/api/v1/search/posts" in docs and "/api/v1/users/{name}/tokens" in docs
    assert c.get("/api/v1/openapi.json").json()["paths"]


# --------------------------------------------------------------------------- serve


def test_serve_binds_loopback_by_default_and_needs_a_user(tmp_path):
    assert "127.0.0.1" in CliRunner().invoke(cli, ["serve", "--help"]).output
    db = str(tmp_path / "t.db")
    claimwatch.open(db)
    res = CliRunner().invoke(cli, ["serve", "--db", db])
    assert res.exit_code == 2 and "claimwatch users add NAME --role admin" in res.output


def test_the_templates_autoescape(site):
    from claimwatch.web.render import env

    assert env.autoescape is True
    assert all(Path(env.loader.searchpath[0], n).suffix == ".j2" for n in env.list_templates())


def test_behind_a_proxy_under_a_path_every_link_keeps_the_prefix(site):
    """``serve --root-path /cw``: the proxy forwards /cw/…; links, redirects and assets say /cw/…."""
    c = TestClient(site, root_path="/cw", follow_redirects=False)
    site.state.login_limit = FailureLimit()
    assert c.get("/cw/search").headers["location"].endswith("/cw/login")
    page = c.get("/cw/login").text
    links = re.findall(r'(?:href|src|action)="([^"]+)"', page)
    assert links and all(link.startswith("/cw/") for link in links), links
    res = c.post("/cw/login", data={"name": "vic", "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert res.headers["location"] == "/cw/"
    assert c.get("/cw/api/v1/me").json()["name"] == "vic"
    assert c.get("/cw/nowhere/api/v1").status_code == 404
