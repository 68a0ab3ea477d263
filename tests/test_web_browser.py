"""The web workspace in a real browser: Debian's chromium, driven by Playwright, against a live
uvicorn on a free loopback port. Signs in, opens the dashboard, a study and the posts behind a
figure, searches (htmx, under the strict CSP), sees a hostile post as text with no dialog fired,
and a viewer refused a change. Screenshots of each page go to the test's temporary folder."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from web_store import PASSWORD, USERS, build

import claimwatch
from claimwatch.web import WebOptions, create_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live(ws: claimwatch.Workspace, studies: Path, folder: Path) -> Iterator[str]:
    """The app over ``ws`` served by uvicorn on a free loopback port (in a thread); yields its URL."""
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(ws, WebOptions(studies_dir=studies, runs_dir=folder / "runs")),
                       host="127.0.0.1", port=port, log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("webbrowser")
    ws, studies = build(folder)
    with live(ws, studies, folder) as url:
        yield url


def test_sign_in_dashboard_search_and_a_refused_viewer(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    dialogs: list[str] = []
    problems: list[str] = []

    def watch(tab) -> None:
        tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "status of 403" not in m.text and "status of 501" not in m.text
                else None
            ),
        )
        tab.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def sign_in(tab, role: str) -> None:
        tab.goto(server + "/login")
        tab.fill("input[name=name]", USERS[role])
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button[type=submit]")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            watch(tab)
            sign_in(tab, "analyst")
            expect(tab.locator("h1")).to_have_text("Dashboard")
            tab.screenshot(path=shots / "1-dashboard.png", full_page=True)

            tab.click("text=ballots.yaml")
            expect(tab.locator(".headline")).to_contain_text("2 posts by @demo_account")
            charts = tab.locator("img.chart")
            assert charts.count() == 4
            for i in range(4):
                assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 300")
            tab.screenshot(path=shots / "2-study.png", full_page=True)
            tab.click("tr:has-text('Confirmed by an analyst') a")
            expect(tab.locator("tr[id^=post-]")).to_have_count(1)

            tab.goto(server + "/search")
            tab.fill("input[name=q]", "shredded")  # htmx searches as one types
            expect(tab.locator("#results h2").first).to_contain_text("Posts containing")
            hostile = tab.locator("td.text", has_text="<script>alert('post')</script>")
            expect(hostile).to_have_count(1)
            expect(tab.locator("td.text", has_text="<img src=x onerror=alert('fc')>")).to_have_count(1)
            assert "q=shredded" in tab.url, "htmx pushed the search into the address bar"
            assert tab.locator("#results img").count() == 0, "hostile markup made no element"
            tab.screenshot(path=shots / "3-search.png", full_page=True)
            assert tab.evaluate("window.__csp") == []

            viewer = browser.new_page(viewport={"width": 1280, "height": 900})
            watch(viewer)
            sign_in(viewer, "viewer")
            viewer.goto(server + "/studies")
            assert viewer.locator("form[action$='/studies/run']").count() == 0
            status = viewer.evaluate(
                """async () => {
                  const token = document.querySelector('meta[name=csrf-token]').content;
                  const body = new URLSearchParams({study: 'ballots.yaml', csrf_token: token});
                  return (await fetch('/studies/run', {method: 'POST', body, redirect: 'manual'})).status;
                }"""
            )
            assert status == 403
            viewer.goto(server + "/users")
            expect(viewer.locator("h1")).to_contain_text("this needs the admin role")
            viewer.screenshot(path=shots / "4-viewer-refused.png", full_page=True)
            assert viewer.evaluate("window.__csp") == []
        finally:
            browser.close()
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert problems == []
    print(f"screenshots in {shots}")
