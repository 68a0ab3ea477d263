"""The study report as PDF, with fpdf2 (pure Python, no browser or TeX): the headline, the
charts, the narrative and week tables, the top posts and the methods and sources.

Text is set in DejaVu Sans, the TTF that ships inside matplotlib (so no font to install), which
covers Latin, Greek, Cyrillic, Hebrew, Arabic and many symbols. A character it lacks (CJK, most
emoji) is replaced by "?" rather than dropped silently or left to crash the writer: the PDF is
for reading the figures; the exact post text is in the HTML, CSV and JSON. Right-to-left text
is not shaped (it needs HarfBuzz), so it shows in logical order.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import matplotlib as mpl
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.study import StudyResult
from claimwatch.reports.charts import Chart
from claimwatch.reports.render import clip, safe_url
from claimwatch.reports.study_view import Group, top_posts
from claimwatch.terminal import safe

FONT = "dejavu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
REPLACEMENT = "?"
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(243, 243, 243))


def _font_path(name: str) -> Path:
    return Path(mpl.get_data_path()) / "fonts" / "ttf" / name


@functools.cache
def _covered() -> frozenset[int]:
    """Code points every face we use can draw."""
    maps = [set(TTFont(_font_path(f), lazy=True).getBestCmap()) for f in _FONT_FILES.values()]
    return frozenset(set.intersection(*maps))


def _printable(text: object) -> str:
    """``text`` with control characters shown as escapes (see :mod:`claimwatch.terminal`) and every
    character the font lacks replaced (line breaks and tabs become spaces)."""
    covered = _covered()
    s = safe(text)
    return "".join(ch if ord(ch) in covered else " " if ch in "\n\r\t" else REPLACEMENT for ch in s)


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"claimwatch study report · page {self.page_no()}", align="C")


def pdf_bytes(result: StudyResult, charts: list[Chart], view: dict[str, list[Group]]) -> bytes:
    pdf = _Pdf(format="A4")
    for style, name in _FONT_FILES.items():
        pdf.add_font(FONT, style, _font_path(name))
    pdf.set_creation_date(result.generated_at)
    pdf.set_title(_printable(result.study["title"]))
    pdf.set_margins(15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    _text(pdf, result.study["title"], size=15, bold=True)
    _text(pdf, f"Generated {rfc3339(result.generated_at)}.", size=8, grey=True)
    for line in result.headline():
        _text(pdf, line.strip(), size=10.5, indent=8 if line.startswith("  ") else 0, gap=1)
    for chart in charts:
        pdf.ln(3)
        pdf.image(chart.png, w=pdf.epw, alt_text=f"{chart.title}: {chart.alt}")
    _table(pdf, "By narrative", _groups_table("narrative", view["narrative"]), (60, 15, 25, 15), "LRRR")
    _table(pdf, "By week", _groups_table("week starting", view["week"]), (60, 15, 25, 15), "LRRR")
    _top_posts(pdf, result)
    _methods(pdf, result)
    return bytes(pdf.output())


def _text(pdf: FPDF, text: str, size: float = 9, bold: bool = False, grey: bool = False, indent: float = 0,
          gap: float = 2) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(110 if grey else 20)
    pdf.set_x(pdf.l_margin + indent)
    pdf.multi_cell(pdf.epw - indent, size * 0.5, _printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(gap)


def _groups_table(heading: str, rows: list[Group]) -> list[list[Any]]:
    return [[heading, "posts", "views", "views unknown"]] + [
        [g.label, f"{g.posts:,}", g.views_cell, f"{g.views_unknown:,}"] for g in rows]


def _table(pdf: FPDF, title: str, rows: list[list[Any]], widths: tuple[float, ...], align: str,
           links: list[list[str | None]] | None = None) -> None:
    """A titled table; ``links[i][j]`` (when given) makes body cell (i, j) a link."""
    pdf.ln(3)
    _text(pdf, title, size=12, bold=True)
    pdf.set_font(FONT, size=7.5)
    with pdf.table(col_widths=widths, text_align=tuple({"L": "LEFT", "R": "RIGHT"}[a] for a in align),
                   headings_style=_HEADINGS, line_height=4, padding=1) as table:
        for i, cells in enumerate(rows):
            row = table.row()
            for j, value in enumerate(cells):
                url = safe_url(links[i - 1][j]) if links and i else None
                row.cell(_printable(value), link=url)


def _top_posts(pdf: FPDF, result: StudyResult) -> None:
    top = top_posts(result)
    rows: list[list[Any]] = [["#", "post", "date", "account", "narrative", "views", "fact-checks", "text"]]
    links: list[list[str | None]] = []
    for i, r in enumerate(top, start=1):
        fcs = r.fact_checks
        rows.append([i, r.post_id, r.created_at.date().isoformat() if r.created_at else "", r.account or "",
                     r.claim_category, f"{r.views:,}", "; ".join(f"{fc.publisher or fc.url}: {fc.rating_text or ''} "
                                                               f"({fc.match_method})" for fc in fcs),
                     clip(r.text or "", 140)])
        links.append([None, r.url, None, None, None, None, fcs[0].url if fcs else None, None])
    _table(pdf, f"Top {len(top)} posts by views", rows, (6, 31, 15, 23, 20, 17, 35, 36), "RLLLLRLL", links)


def _methods(pdf: FPDF, result: StudyResult) -> None:
    st = result.study
    pdf.ln(3)
    _text(pdf, "Methods", size=12, bold=True)
    for line in result.methods:
        _text(pdf, "• " + line, gap=1)
    for label, value in (("Inclusion rule", st["inclusion_rule"]), ("Views metric", st["views_metric"]),
                         ("Community Notes rule", st["community_note_rule"]),
                         ("Ad-equivalent CPM (USD)", st["ad_equivalent_cpm_usd"])):
        _text(pdf, f"{label}: {value}", gap=1)
    _table(pdf, "Sources", [["run", "kind", "status", "retrieved", "files"]]
           + [[s["ingest_run"], s["kind"], s["status"], s["retrieved"] or "", ", ".join(s["files"])]
              for s in result.sources], (10, 20, 18, 40, 92), "RLLLL")
