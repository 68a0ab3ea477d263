"""The keyboard across the queue's pages, in a real browser (Debian's chromium, Playwright, a live
uvicorn on loopback): with two cards a page, deciding a page's last pending card brings the
queue's next posts with the focus on the first (a rejected card that keeps weak candidates does
not hold the page back), and the page holding the end of the queue stays with its outcome shown.
``benchmarks/analyst_keyboard.py`` drives the same path to measure it."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_store import PASSWORD, USERS, build
from test_web_browser import ARGS, CHROMIUM, live

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

#: one key per card in queue order; pages of two cards
KEYS = ["r", "c", "c", "r", "c", "c"]


def test_the_keyboard_carries_on_to_the_next_page_of_the_queue(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ws, studies = build(tmp_path)
    queue = ws.review_queue().items
    order = [item.post.id for item in queue]
    assert len(order) == len(KEYS)
    problems: list[str] = []
    with live(ws, studies, tmp_path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page()
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.goto(url + "/login")
            tab.fill("input[name=name]", USERS["analyst"])
            tab.fill("input[name=password]", PASSWORD)
            tab.click("button[type=submit]")
            tab.goto(url + "/review?limit=2")
            tab.keyboard.press("j")
            for i, (post_id, key) in enumerate(zip(order, KEYS, strict=True)):
                card = tab.locator(f"#card-{post_id}")
                expect(card).to_be_focused()
                if i in (1, 3):  # the page's last card: the same filters again, the next two posts
                    with tab.expect_navigation():
                        tab.keyboard.press(key)
                    assert tab.url.endswith("/review?limit=2")
                    expect(tab.locator(".card")).to_have_count(2)
                    expect(tab.locator(f"#card-{order[i + 1]}")).to_be_focused()
                else:
                    tab.keyboard.press(key)
                    expect(card.locator(".done")).to_contain_text("by you")
            expect(tab.locator(f"#card-{order[-1]} .done")).to_contain_text("confirmed by you")  # no reload
        finally:
            browser.close()

    assert problems == []
    for item, key in zip(queue, KEYS, strict=True):
        (decision,) = ws.match_history(item.match_id)
        assert (decision.decided_by, decision.new_status) == ("ana", "confirmed" if key == "c" else "rejected")
    assert ws.review_queue().total == 0
