"""The study report as PDF, with fpdf2 (pure Python, no browser or TeX): the headline, the
charts, the narrative and week tables, every post (most viewed first) and the methods and sources.

Text is set in DejaVu Sans, the TTF that ships inside matplotlib (so no font to install), which
covers Latin, Greek, Cyrillic, Hebrew, Arabic and many symbols. A character it lacks (CJK, most
emoji) is replaced by "?" rather than dropped silently or left to crash the writer: the PDF is
for reading the figures; the exact post text is in the HTML, CSV and JSON. Right-to-left text
is not shaped (it needs HarfBuzz), so it shows in logical order.

Lines are broken here, not by fpdf2 (:mod:`claimwatch.reports.pdf_layout`): a post id, a date
or a view count is never cut in two; long ids wrap after their punctuation, and a table whose
figures do not fit at 7.5 pt is set smaller, down to 5 pt.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.reach import describe_reach
from claimwatch.analysis.study import StudyResult
from claimwatch.reports.charts import Chart
from claimwatch.reports.pdf_layout import Column, Measure, column_widths, wrap
from claimwatch.reports.render import clip, safe_url
from claimwatch.reports.study_view import Group, media_evidence, media_state
from claimwatch.terminal import safe

FONT = "dejavu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
REPLACEMENT = "?"
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(243, 243, 243))
#: table type sizes (pt) tried in turn until every column's figures fit
TABLE_SIZES = (7.5, 7.0, 6.5, 6.0, 5.5, 5.0)
_PAD = 1.0
#: characters of post text a table cell shows
_TEXT_CHARS = 140


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

    def measure(self, size: float, bold: bool = False) -> Measure:
        """The width (mm) of a string in our font at ``size`` pt."""

        def width(text: str) -> float:
            self.set_font(FONT, "B" if bold else "", size)
            return self.get_string_width(text)

        return width


def pdf_bytes(result: StudyResult, charts: list[Chart], view: dict[str, list[Group]]) -> bytes:
    pdf = _Pdf(format="A4")
    for style, name in _FONT_FILES.items():
        pdf.add_font(FONT, style, _font_path(name))
    pdf.set_creation_date(result.generated_at)
    pdf.set_title(_printable(result.study.title))
    pdf.set_margins(15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    _text(pdf, result.study.title, size=15, bold=True)
    _text(pdf, f"Generated {rfc3339(result.generated_at)}.", size=8, grey=True)
    for line in result.headline():
        _text(pdf, line.strip(), size=10.5, indent=8 if line.startswith("  ") else 0, gap=1)
    for chart in charts:
        pdf.ln(3)
        pdf.image(chart.png, w=pdf.epw, alt_text=f"{chart.title}: {chart.alt}")
    _table(pdf, "By narrative", _group_columns("narrative"), _group_rows(view["narrative"]))
    _table(pdf, "By week", _group_columns("week starting"), _group_rows(view["week"]))
    _media(pdf, result)
    _posts(pdf, result)
    _methods(pdf, result)
    return bytes(pdf.output())


def _text(
    pdf: _Pdf, text: str, size: float = 9, bold: bool = False, grey: bool = False, indent: float = 0, gap: float = 2
) -> None:
    pdf.set_text_color(110 if grey else 20)
    pdf.set_x(pdf.l_margin + indent)
    width = pdf.epw - indent
    lines = wrap(_printable(text), width - 2 * pdf.c_margin, pdf.measure(size, bold))
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.multi_cell(width, size * 0.5, lines, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(gap)


def _group_columns(heading: str) -> list[Column]:
    return [
        Column(heading, 60, text=True),
        Column("posts", 15, "R"),
        Column("views", 25, "R"),
        Column("views unknown", 15, "R"),
    ]


def _group_rows(groups: list[Group]) -> list[list[str]]:
    return [[g.label, f"{g.posts:,}", g.views_cell, f"{g.views_unknown:,}"] for g in groups]


def _table(
    pdf: _Pdf, title: str, columns: Sequence[Column], rows: list[list[str]], links: list[list[str | None]] | None = None
) -> None:
    """A titled table whose columns fit their figures; ``links[i][j]`` (when given) makes body cell (i, j) a link."""
    pdf.ln(3)
    if pdf.will_page_break(30):  # a title alone at the foot of a page
        pdf.add_page()
    _text(pdf, title, size=12, bold=True)
    cells = [[_printable(value) for value in row] for row in rows]
    for size in TABLE_SIZES:
        widths = column_widths(columns, cells, pdf.epw, _PAD, pdf.measure(size), pdf.measure(size, bold=True))
        if widths:
            break
    else:  # figures too wide even at the smallest size (hostile input): the weights decide, wrap cuts
        widths = [pdf.epw * c.weight / sum(c.weight for c in columns) for c in columns]
    body, heading = pdf.measure(size), pdf.measure(size, bold=True)
    pdf.set_font(FONT, size=size)
    with pdf.table(
        width=pdf.epw,
        col_widths=tuple(widths),
        headings_style=_HEADINGS,
        line_height=size * 0.53,
        padding=_PAD,
        text_align=tuple({"L": "LEFT", "R": "RIGHT"}[c.align] for c in columns),
    ) as table:
        head = table.row()
        for col, width in zip(columns, widths, strict=True):
            head.cell(wrap(col.heading, width - 2 * _PAD, heading))
        for i, row in enumerate(cells):
            line = table.row()
            for j, (value, width, col) in enumerate(zip(row, widths, columns, strict=True)):
                align = "RIGHT" if col.align == "R" and _is_figure(value) else "LEFT"
                line.cell(
                    wrap(value, width - 2 * _PAD, body), align=align, link=safe_url(links[i][j]) if links else None
                )


def _is_figure(cell: str) -> bool:
    """A number (right-aligned in its column), not words such as "unknown; likes 1,520"."""
    return cell.replace(",", "").replace(".", "").isdigit()


def _posts(pdf: _Pdf, result: StudyResult) -> None:
    """Every post of the study, most viewed first (the order of ``result.posts``), with its evidence."""
    columns = [
        Column("#", 5, "R"),
        Column("post", 28),
        Column("date", 15),
        Column("account", 24),
        Column("narrative", 18, text=True),
        Column("views", 20, "R", text=True),
        Column("fact-checked claim and rating", 38, text=True),
        Column("Community Notes", 20, text=True),
        Column("text", 35, text=True),
    ]
    rows, links = [], []
    for i, r in enumerate(result.posts, start=1):
        fcs = r.fact_checks
        rows.append(
            [
                f"{i:,}",
                r.post_id,
                r.created_at.date().isoformat() if r.created_at else "",
                r.account or "",
                r.claim_category or "",
                describe_reach(r.views, r.engagement),
                "; ".join(
                    f"{clip(fc.claim or '', _TEXT_CHARS)} — {fc.publisher or fc.url}: "
                    f"{fc.rating_text or fc.rating_class or ''} ({fc.match_method})"
                    for fc in fcs
                ),
                r.community_notes.describe(),
                clip(r.text or "", _TEXT_CHARS),
            ]
        )
        links.append([None, r.url, None, None, None, None, fcs[0].url if fcs else None, None, None])
    _table(pdf, f"Posts ({len(rows):,}), most viewed first", columns, rows, links)


def _media(pdf: _Pdf, result: StudyResult) -> None:
    """The flagged posts (manipulated media), unlabelled first; nothing when there are none."""
    mm = result.manipulated_media
    if not mm.rows:
        return
    columns = [
        Column("post", 28),
        Column("account", 22),
        Column("bank item / manifest", 50, text=True),
        Column("evidence", 18),
        Column("views at as-of", 18, "R"),
        Column("label / note state", 40, text=True),
    ]
    rows = [
        [
            m.post_id,
            m.account or "",
            "; ".join(media_evidence(m)),
            m.evidence,
            "unknown" if m.views is None else f"{m.views:,}",
            media_state(m),
        ]
        for m in mm.rows
    ]
    links = [[m.url, None, None, None, None, None] for m in mm.rows]
    _table(pdf, f"Manipulated media without a label ({mm.posts_without_label:,} of {mm.posts:,})", columns, rows, links)


def _methods(pdf: _Pdf, result: StudyResult) -> None:
    st = result.study
    pdf.ln(3)
    _text(pdf, "Methods", size=12, bold=True)
    for line in result.methods:
        _text(pdf, "• " + line, gap=1)
    for label, value in (
        ("Inclusion rule", st.inclusion_rule),
        ("Views metric", st.views_metric),
        ("Community Notes rule", st.community_note_rule),
        ("Ad-equivalent CPM (USD)", st.ad_equivalent_cpm_usd),
    ):
        _text(pdf, f"{label}: {value}", gap=1)
    _table(
        pdf,
        "Sources",
        [
            Column("run", 10, "R"),
            Column("kind", 20),
            Column("status", 18),
            Column("retrieved", 40),
            Column("files", 92, text=True),
        ],
        [
            [f"{s.ingest_run}", s.kind, s.status, rfc3339(s.retrieved) or "", ", ".join(filter(None, s.files))]
            for s in result.sources
        ],
    )
