"""The review queue in a real browser (Debian's chromium, Playwright, a live uvicorn on loopback):
an analyst clears six pending posts with the keyboard only (j, c, r), the dashboard's "confirmed
by an analyst" headline changes, the study report downloads. Screenshots of /review before and
after go to the test's temporary folder (and, with CLAIMWATCH_SCREENSHOTS=DIR, to DIR)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from review_store import HOSTILE, PASSWORD, USERS, build
from test_web_browser import ARGS, CHROMIUM, live

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

#: the keys pressed, one per card in queue order (after the first j, focus follows each decision)
KEYS = ["c", "c", "r", "c", "c", "r"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("reviewbrowser")
    ws, studies = build(folder)
    with live(ws, studies, folder) as url:
        yield url, ws, studies / "election.yaml"


def test_an_analyst_clears_the_queue_with_the_keyboard(server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, ws, study = server
    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []
    dialogs: list[str] = []
    queue = ws.review_queue().items
    order, first_match = [item.post.id for item in queue], queue[0].match_id
    assert len(order) == len(KEYS) >= 5
    before = ws.run_study(study).summary.posts_analyst_confirmed

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1000})
            tab.add_init_script(
                "window.__csp = []; document.addEventListener('securitypolicyviolation',"
                " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
            )
            tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            tab.goto(url + "/login")
            tab.fill("input[name=name]", USERS["analyst"])
            tab.fill("input[name=password]", PASSWORD)
            tab.click("button[type=submit]")
            tab.goto(url + "/?study=election.yaml")
            headline = tab.locator(".headline")
            expect(headline).to_contain_text(f"{before} confirmed by an analyst")

            tab.goto(url + "/review")
            expect(tab.locator(".card.pending")).to_have_count(6)
            expect(tab.locator(".card").first.locator("p.text")).to_have_text(HOSTILE)
            expect(tab.locator(".card mark").first).to_have_text("The ballots were <b>shredded</b> overnight.")
            tab.screenshot(path=shots / "review-before.png", full_page=True, caret="initial")

            tab.keyboard.press("j")
            expect(tab.locator(f"#card-{order[0]}")).to_be_focused()
            tab.keyboard.press("n")  # the note field, and Escape back to the card
            expect(tab.locator(f"#note-{order[0]}")).to_be_focused()
            tab.keyboard.type("seen in the browser")
            tab.keyboard.press("Escape")
            expect(tab.locator(f"#card-{order[0]}")).to_be_focused()
            for i, (post_id, key) in enumerate(zip(order, KEYS, strict=True)):
                card = tab.locator(f"#card-{post_id}")
                expect(card).to_be_focused()
                tab.keyboard.press(key)
                done = "confirmed" if key == "c" else "rejected"
                expect(card.locator(".done")).to_contain_text(f"{done} by you")
                if i + 1 < len(order):
                    expect(tab.locator(f"#card-{order[i + 1]}")).to_be_focused()
            tab.screenshot(path=shots / "review-after.png", full_page=True, caret="initial")

            assert tab.evaluate("window.__csp") == [], "every swap ran under the strict CSP"
            tab.goto(url + "/review")
            expect(tab.locator(".card")).to_have_count(0)
            expect(tab.locator(".empty")).to_contain_text("Nothing to review")

            after = ws.run_study(study).summary
            assert after.posts_analyst_confirmed > before
            tab.goto(url + "/?study=election.yaml")
            expect(headline).to_contain_text(f"{after.posts_analyst_confirmed} confirmed by an analyst")
            with tab.expect_download() as download:
                tab.click("ul.downloads a:text('CSV')")
            saved = tmp_path / "study.csv"
            download.value.save_as(saved)
            assert "shredded" in saved.read_text(encoding="utf-8")
        finally:
            browser.close()

    (decision,) = ws.match_history(first_match)
    assert (decision.decided_by, decision.note) == ("ana", "seen in the browser"), "the note went with the key"
    assert dialogs == [] and problems == [], (dialogs, problems)
    if os.environ.get("CLAIMWATCH_SCREENSHOTS"):
        for shot in shots.iterdir():
            shutil.copy(shot, Path(os.environ["CLAIMWATCH_SCREENSHOTS"]) / shot.name)
    print(f"screenshots in {shots}")
