"""Benchmark: how fast an analyst can clear the review queue with the keyboard, and the UI's share.

    python benchmarks/analyst_keyboard.py [--proposals 100] [--db PATH-or-URL] [--decisions N]
        [--reading 5] [--json]

Builds a synthetic store (seeded, labelled synthetic, example.org URLs) with ``--proposals``
posts awaiting review, through ``workspace_latency``'s builders, or takes an existing one with
``--db`` (decisions are WRITTEN to it: give a copy, never a store you want to keep as it is).
Adds an analyst, starts ``claimwatch serve`` on a free loopback port in a subprocess, signs in
with Playwright (Debian's chromium) and clears the queue as an analyst does: ``j`` to the first
card, then per card ``c`` (confirm) or ``r`` (reject, one card in four), on one card in ten ``n``,
a note, ``Escape`` first, and on one in seven a look back (``k``) and forward (``j``).

After each key the script waits until the UI is ready for the next one: the decided card redrawn
(its "confirmed/rejected by you" line) and the focus on the next pending card (``review.js``
moves it once htmx has settled the swap; on the page's last pending card it reloads the queue and
focuses its first card). The UI's time per decision is measured in the page, from the key event's
timestamp to the focus landing on the next card (``performance.timeOrigin``-based, so it spans
the reload), which leaves Playwright's own round trips out. Reported: p50/p95/max, the decisions
a minute the UI alone would allow, and the analyst's budget with ``--reading`` seconds of reading
per card (a stated assumption): UI share = ui / (ui + R), decisions a minute = 60 / (ui + R).

Finally it checks the store: every decision recorded, by the signed-in analyst, with the note
where one was typed, and the queue shorter by the number decided.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from workspace_latency import Scale, build_store, counts_of, serving

import claimwatch
from claimwatch.records import MatchStatus

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
ANALYST = "bench-analyst"
#: one card in REJECT_EVERY is rejected, one in NOTE_EVERY gets a note, one in LOOK_EVERY a look back
REJECT_EVERY, NOTE_EVERY, LOOK_EVERY = 4, 10, 7

#: runs in every page: when the last decision key went down and when focus last landed on a card,
#: both on the wall clock (timeOrigin + the page's monotonic clock) so a reload does not lose them
PROBE = """
document.addEventListener("keydown", function (e) {
  if (e.key === "c" || e.key === "r") sessionStorage.setItem("bench.key", String(performance.timeOrigin + e.timeStamp));
}, true);
document.addEventListener("focusin", function (e) {
  if (e.target.classList && e.target.classList.contains("card"))
    window.__focused = {id: e.target.id, at: performance.timeOrigin + performance.now()};
}, true);
"""
#: ready for the next key: the decided card shows its outcome (or left the page with a reload),
#: and the focus is on another card still pending
READY = """([decided]) => {
  const card = document.getElementById(decided);
  const active = document.activeElement;
  return (!card || card.querySelector(".done, .error") !== null)
    && active && active.id !== decided && active.classList.contains("card") && active.classList.contains("pending")
    && window.__focused && window.__focused.id === active.id;
}"""


@dataclass
class Decided:
    match_id: int
    key: str
    note: str | None
    ui_ms: float
    reload: bool


def build(path: str, proposals: int, seed: int) -> None:
    """A synthetic store with ``proposals`` posts awaiting review among ten times as many posts."""
    ws = claimwatch.open(path)
    scale = Scale(posts=proposals * 10, factchecks=max(300, proposals * 3), pending=proposals)
    seconds = build_store(ws.engine, scale, seed)
    ws.engine.dispose()
    print(f"built {path} ({scale}) in {seconds:.1f} s", file=sys.stderr)


def add_analyst(path: str) -> str:
    ws = claimwatch.open(path)
    password = secrets.token_urlsafe(16)
    if any(u.name == ANALYST for u in ws.list_users()):
        ws.remove_user(ANALYST, actor="benchmark")
    ws.add_user(ANALYST, "analyst", password, actor="benchmark")
    ws.engine.dispose()
    return password


def clear_queue(url: str, password: str, decisions: int, shots: Path | None) -> list[Decided]:
    """Sign in and decide ``decisions`` cards with the keyboard; the UI time of each."""
    from playwright.sync_api import sync_playwright

    out: list[Decided] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 1000})
            tab.add_init_script(PROBE)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            tab.set_default_timeout(120_000)
            # Signed in with the form's own token and the tab's cookies, without following the
            # redirect to the dashboard (minutes on a 1M-post store until it is bounded).
            tab.goto(url + "/login")
            form = {"name": ANALYST, "password": password}
            form["csrf_token"] = tab.get_attribute("input[name=csrf_token]", "value") or ""
            signed = tab.context.request.post(url + "/login", form=form, max_redirects=0)
            if signed.status != 303:
                raise RuntimeError(f"sign-in failed: HTTP {signed.status}")
            tab.goto(url + "/review")
            tab.keyboard.press("j")
            tab.wait_for_function("() => document.activeElement && document.activeElement.matches('.card.pending')")
            if shots:
                tab.screenshot(path=shots / "queue-before.png")
            on_page: set[str] = set()  # cards decided on the page shown
            for i in range(decisions):
                card = tab.evaluate("() => document.activeElement.id")
                action = tab.get_attribute(f"#{card} form.decide:has(button[data-key=confirm])", "action")
                match_id = int(action.split("/")[-2])  # …/review/match/ID/decide
                if i % LOOK_EVERY == LOOK_EVERY - 1:  # a look at the previous card (the next on top), and back
                    top = tab.evaluate("(id) => document.querySelector('.card').id === id", card)
                    for move in "jk" if top else "kj":
                        tab.keyboard.press(move)
                    tab.wait_for_function(f"() => document.activeElement.id === {json.dumps(card)}")
                note = None
                if i % NOTE_EVERY == NOTE_EVERY - 1:
                    note = f"benchmark note {i} (synthetic)"
                    tab.keyboard.press("n")
                    tab.keyboard.type(note)
                    tab.keyboard.press("Escape")
                    tab.wait_for_function(f"() => document.activeElement.id === {json.dumps(card)}")
                key = "r" if i % REJECT_EVERY == REJECT_EVERY - 1 else "c"
                # a rejected card keeps its weak candidates (class "pending"): count the others
                waiting = tab.eval_on_selector_all(".card.pending", "cs => cs.map(c => c.id)")
                reload = not set(waiting) - on_page - {card} and i + 1 < decisions
                on_page.add(card)
                if reload:  # review.js brings the queue's next posts
                    with tab.expect_navigation():
                        tab.keyboard.press(key)
                    on_page = set()
                else:
                    tab.keyboard.press(key)
                if i + 1 < decisions:
                    tab.wait_for_function(READY, arg=[card])
                    ui = tab.evaluate("() => window.__focused.at - Number(sessionStorage.getItem('bench.key'))")
                else:  # the last decision: its card redrawn is all there is to wait for
                    tab.wait_for_function(
                        "([d]) => document.getElementById(d).querySelector('.done, .error') !== null", arg=[card]
                    )
                    ui = tab.evaluate("() => performance.timeOrigin + performance.now()") - float(
                        tab.evaluate("() => sessionStorage.getItem('bench.key')")
                    )
                out.append(Decided(match_id, key, note, ui, reload))
                if shots and i == 0:
                    tab.screenshot(path=shots / "queue-after-first.png")
        finally:
            browser.close()
    if problems:
        raise RuntimeError(f"the page reported errors: {problems[:5]}")
    return out


def check_store(path: str, done: list[Decided], pending_before: int) -> list[str]:
    """What the store says about each decision; an empty list when every one is as made."""
    ws = claimwatch.open(path)
    wrong = []
    for d in done:
        history = ws.match_history(d.match_id)
        want = MatchStatus.CONFIRMED if d.key == "c" else MatchStatus.REJECTED
        if [(h.decided_by, h.new_status, h.note) for h in history] != [(ANALYST, want.value, d.note)]:
            wrong.append(f"match {d.match_id}: {history}")
    left = ws.review_queue(limit=1).total
    if left != pending_before - len(done):
        wrong.append(f"queue: {pending_before} before, {len(done)} decided, {left} left")
    ws.engine.dispose()
    return wrong


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proposals", type=int, default=100, help="posts awaiting review in the store built")
    ap.add_argument("--db", help="an existing store to clear (a COPY: decisions are written to it)")
    ap.add_argument("--decisions", type=int, help="cards to decide (default: --proposals, at most 200 with --db)")
    ap.add_argument("--reading", type=float, default=5.0, help="seconds an analyst reads a card (assumption)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--screenshots", type=Path, help="folder for screenshots of the queue")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"needs Debian's chromium at {CHROMIUM}")
    folder = None
    if args.db:
        path = args.db
        if "://" not in path and not Path(path).is_file():
            sys.exit(f"{path}: no such store")
    else:
        folder = tempfile.mkdtemp(prefix="analyst-keyboard-")
        path = os.path.join(folder, "queue.db")
        build(path, args.proposals, args.seed)
    decisions = args.decisions or (min(200, args.proposals) if args.db else args.proposals)
    password = add_analyst(path)
    ws = claimwatch.open(path)
    pending_before = ws.review_queue(limit=1).total
    print(f"{counts_of(ws.engine)}; {pending_before:,} posts in the proposed queue", file=sys.stderr)
    ws.engine.dispose()
    if decisions > pending_before:
        sys.exit(f"only {pending_before} posts await review: ask for fewer --decisions")
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    with serving(path) as base:
        t0 = time.perf_counter()
        done = clear_queue(base, password, decisions, args.screenshots)
        wall = time.perf_counter() - t0
    wrong = check_store(path, done, pending_before)

    ui = [d.ui_ms for d in done]
    in_page = [d.ui_ms for d in done if not d.reload]
    reloads = [d.ui_ms for d in done if d.reload]
    p50 = statistics.median(ui)
    mean_s = statistics.fmean(ui) / 1000
    figures = {
        "store": "built" if folder else path,
        "scale": asdict(counts_of(claimwatch.open(path).engine)),
        "decisions": len(done),
        "confirmed": sum(d.key == "c" for d in done),
        "rejected": sum(d.key == "r" for d in done),
        "notes": sum(d.note is not None for d in done),
        "ui_ms": {"p50": p50, "p95": percentile(ui, 0.95), "max": max(ui), "mean": mean_s * 1000},
        "ui_ms_card_redrawn": {"p50": statistics.median(in_page), "p95": percentile(in_page, 0.95)}
        if in_page
        else None,
        "ui_ms_page_reload": {"n": len(reloads), "p50": statistics.median(reloads), "max": max(reloads)}
        if reloads
        else None,
        "ui_alone_per_minute": 60 / mean_s,
        "reading_s": args.reading,
        "ui_share": mean_s / (mean_s + args.reading),
        "analyst_per_minute": 60 / (mean_s + args.reading),
        "wall_seconds": wall,
        "store_check": wrong or "every decision recorded, by the analyst, with its note",
    }
    if args.json:
        print(json.dumps(figures, indent=2, default=str))
    else:
        for k, v in figures.items():
            print(f"{k}: {v}")
    if folder:
        print(f"store kept in {path}", file=sys.stderr)
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
