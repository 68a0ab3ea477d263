"""C5: no input escapes into an output — Markdown, the terminal, charts, HTML and PDF.

One hostile store feeds every output: a post with Markdown link and image syntax, an autolink,
raw HTML, ANSI escape sequences, a bidi override, zero-width characters, a 10,000-character
word and a NUL, by an account whose handle is TeX for matplotlib's mathtext.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from ccdh_store import propose
from conftest import claimreview, page, post
from markdown_it import MarkdownIt
from typer.testing import CliRunner

import claimwatch
from claimwatch import Selection
from claimwatch.cli import app
from claimwatch.records import MatchStatus
from claimwatch.reports.render import md_cell, to_html, to_markdown
from claimwatch.terminal import safe

CHROMIUM = Path("/usr/bin/chromium")
ESC = "\x1b"
HOSTILE = (
    "[click me](javascript:alert(1)) ![](https://remote.example/pixel.png) <https://evil.example/auto> "
    "<img src=x onerror=alert(2)> \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \u202eexe.txt \u200bzero\u200dwidth "
    "nul\x00here [ref]: javascript:alert(3) " + "W" * 10_000 + " the ballots were shredded"
)
HANDLE = "$\\cmd$_x"
NARRATIVE = "_hidden narrative"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[claimwatch.Workspace, Path]:
    d = tmp_path_factory.mktemp("hostile_out")
    ws = claimwatch.open(d / "t.db")
    users = [{"id": "111", "username": HANDLE, "name": "\x1b[2JName"}]
    (d / "p.jsonl").write_text(
        json.dumps(page([post("1", HOSTILE, 5000), post("2", "ballots shredded again", 10)], users=users))
        + "\n"
        + "\x1b[31m not json\n"
    )
    ws.ingest_posts([d / "p.jsonl"])
    (d / "fc.json").write_text(
        json.dumps(
            [claimreview("https://example.org/fc/1", "Ballots were shredded", publisher="[Evil](javascript:x) \x1b[5m")]
        )
    )
    ws.ingest_factchecks([d / "fc.json"])
    for match_id in propose(ws, [("1", "https://example.org/fc/1"), ("2", "https://example.org/fc/1")]):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    (d / "study.yaml").write_text(
        yaml.safe_dump(
            {
                "title": "Hostile $x$ \x1b[1m",
                "accounts": [HANDLE],
                "window": {"from": "2024-07-01", "to": "2024-07-31"},
                "narratives": [{"name": NARRATIVE, "keywords": ["ballot*"]}],
            }
        )
    )
    return ws, d


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.stdout, res.stderr


# --------------------------------------------------------------------------- Markdown


class _Tags(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


@pytest.mark.slow
def test_markdown_keeps_no_link_image_or_html_from_a_post_live(store: tuple[claimwatch.Workspace, Path]) -> None:
    ws, _ = store
    md = to_markdown(ws.report(Selection()))
    tags = _Tags(_rendered(md)).tags
    assert not [t for t, _ in tags if t in ("img", "script", "iframe")]
    hrefs = [a["href"] for t, a in tags if t == "a"]
    assert hrefs and all(h.startswith("https://x.com/") or h == "https://example.org/fc/1" for h in hrefs), hrefs
    assert ESC not in md and "\x00" not in md and "\u202e" not in md
    text = _rendered(md_cell(HOSTILE))
    assert "[click me](javascript:alert(1)) ![](https://remote.example/pixel.png)" in text
    assert "&lt;img src=x onerror=alert(2)&gt;" in text


@pytest.mark.parametrize(
    "value",
    [
        "- item",
        "+ item",
        "1. one",
        "3) three",
        "# heading",
        "> quote",
        "===",
        "`code` | cell",
        "*em* _em_ ~~del~~",
        "[a]: https://remote.example/x",
        "a\\[b",
        "line\nbreak",
        "&amp; &#106;",
    ],
)
def test_md_cell_renders_as_the_literal_text(value: str) -> None:
    rendered = _rendered(f"- {md_cell(value)}\n")
    assert rendered.startswith("<ul>\n<li>") and rendered.count("<li>") == 1
    inner = re.sub(r"^<ul>\n<li>|</li>\n</ul>\n$", "", rendered)
    assert "<" not in inner.replace("&lt;", ""), inner
    unescaped = inner.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert unescaped == value.replace("\n", " ")


# --------------------------------------------------------------------------- the terminal


@pytest.mark.slow  # over half a second on 2 cores
def test_cli_output_shows_control_characters_and_never_sends_them(store: tuple[claimwatch.Workspace, Path]) -> None:
    ws, d = store
    db = str(d / "t.db")
    outputs = [
        run("report", "--db", db),
        run("quarantine", "list", "--raw", "--db", db),
        run("stats", "--db", db),
        run("study", "run", str(d / "study.yaml"), "--db", db),
    ]
    match_id = ws.report().rows[0].fact_check.match_id
    outputs.append(run("review", "confirm", str(match_id), "--by", "\x1b[2Jana", "--db", db))
    for code, out, err in outputs:
        assert code == 0, err
        assert ESC not in out + err and "\x07" not in out + err and "\u202e" not in out + err
    assert "\\x1b[5m" in re.sub(r"\s*│\s*", "", outputs[0][1]), "the fact-check publisher, shown escaped"
    assert "\\x1b[31m not json" in outputs[1][1]
    assert "\\x1b[2Jana" in outputs[-1][1]


def test_safe_keeps_text_and_line_breaks() -> None:
    assert safe("שלום 🗳️ 選挙\tok\nnext") == "שלום 🗳️ 選挙\tok\nnext"
    assert safe("\x1b[0m\r\x9b\u2066") == "\\x1b[0m\\x0d\\x9b\\u2066"


# --------------------------------------------------------------------------- charts, HTML, PDF


@pytest.mark.slow
def test_study_with_a_tex_handle_and_underscore_narrative_writes_every_file(
    store: tuple[claimwatch.Workspace, Path],
) -> None:
    ws, d = store
    out = d / "study-out"
    code, _, err = run("study", "run", str(d / "study.yaml"), "--db", str(d / "t.db"), "--out", str(out))
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {"study.html", "study.pdf", "study.md", "study.csv", "study.json"}
    svg_text = (out / "study.html").read_text()
    result = ws.run_study(d / "study.yaml")
    assert result.summary.by_category[0].claim_category == NARRATIVE
    from claimwatch.reports.charts import study_charts

    charts = {c.name: c.svg.decode() for c in study_charts(result)}
    assert HANDLE in charts["top_posts"], "the handle is drawn as text, not parsed as TeX"
    assert NARRATIVE in charts["top_posts"] and NARRATIVE in charts["views_over_time"], "in the legends"
    assert "\\u202e" in svg_text or "\u202e" not in svg_text


def test_html_report_escapes_and_wraps(store: tuple[claimwatch.Workspace, Path]) -> None:
    ws, _ = store
    page_html = to_html(ws.report(Selection()))
    assert ESC not in page_html and "\u202e" not in page_html and "\\u202eexe.txt" in page_html
    assert "<img src=x" not in page_html and 'href="javascript' not in page_html
    assert "overflow-wrap: anywhere" in page_html


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_hostile_html_in_chromium_fits_the_page(store: tuple[claimwatch.Workspace, Path]) -> None:
    """The report and the study report with the hostile post: nothing runs, nothing is loaded,
    and a 10,000-character word wraps instead of widening the page."""
    from playwright.sync_api import sync_playwright

    ws, d = store
    report_dir = d / "report-out"
    from claimwatch.reports import write_all

    pages = [write_all(ws.report(Selection()), report_dir)["html"]]
    run("study", "run", str(d / "study.yaml"), "--db", str(d / "t.db"), "--out", str(d / "study-html"))
    pages.append(d / "study-html" / "study.html")
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            tab.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            for html_file in pages:
                tab.goto(html_file.as_uri())
                assert tab.evaluate("document.documentElement.scrollWidth") <= 1280 + 20, html_file.name
                assert tab.evaluate("document.querySelectorAll('script, iframe').length") == 0
                tab.screenshot(path=str(html_file.with_suffix(".png")), full_page=False)
        finally:
            browser.close()
    assert requests == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm (poppler-utils)")
def test_hostile_pdf_renders(store: tuple[claimwatch.Workspace, Path]) -> None:
    _, d = store
    out = d / "study-pdf"
    assert run("study", "run", str(d / "study.yaml"), "--db", str(d / "t.db"), "--out", str(out))[0] == 0
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", str(out / "study.pdf"), str(out / "page")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert sorted(out.glob("page-*.png")), "every page rasterises"
