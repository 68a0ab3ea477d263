"""Render a :class:`~claimwatch.analysis.report.Report` to files.

Post and fact-check text is hostile input: HTML output is autoescaped by Jinja2; in
Markdown every piece of data is plain text (:func:`md_cell`: no link, image, HTML, table or
block syntax from a post stays live); CSV cells that a spreadsheet would run as a formula
are prefixed with an apostrophe. Every file is written whole or not at all (:mod:`claimwatch.atomic`).
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from claimwatch import atomic
from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.post_rows import FactCheckRef
from claimwatch.analysis.report import TABLE_COLUMNS, Report, queue_score
from claimwatch.claims.relation import NARRATIVE
from claimwatch.terminal import safe
from claimwatch.wording import count

#: Shared by every HTML report (the v1 report and the study report): autoescaping on, one set of filters.
env = Environment(
    loader=PackageLoader("claimwatch", "reports/templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=lambda value: value if isinstance(value, Markup) or not isinstance(value, str) else safe(value),
)
env.filters["thousands"] = lambda n: "unknown" if n is None else f"{n:,}"
env.filters["rfc3339"] = rfc3339
env.filters["counted"] = count  # {{ n | counted("post") }}: "1 post", "2 posts"
_ID_BREAKS = re.compile(r"(?<=[/:@._-])")


def breakable_id(value: object) -> Markup:
    """A post id or handle, escaped, that may wrap after ``/ : @ . _ -`` (a Bluesky
    ``did:plc:…/post/…`` or a fediverse ``host/objects/UUID`` is 30–70 characters) but never
    inside a number or a word."""
    return Markup("<wbr>").join(escape(safe(part)) for part in _ID_BREAKS.split("" if value is None else str(value)))


env.filters["breakable"] = breakable_id


def safe_url(url: str | None) -> str | None:
    """Only http(s) links leave a report; a ``javascript:`` URL from a source never does."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


env.filters["safe_url"] = safe_url

FORMATS = ("md", "csv", "json", "html")


def clip(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text[: limit - 1] + "…" if limit and len(text) > limit else text


#: Markdown syntax characters, backslash-escaped wherever they occur in data: links and images
#: (``[``, ``]``), emphasis and code (``*``, ``_``, `````, ``~``), headings, table cells, escapes.
_MD_INLINE = re.compile(r"([\\`*_~\[\]#|])")
#: What opens a block when it starts a line: a list item or setext underline, an ordered list.
_MD_BLOCK_START = re.compile(r"^(\s*)([-+=])|^(\s*\d+)([.)])")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def md_cell(value: object, limit: int | None = None) -> str:
    """``value`` as literal Markdown text for a table cell or a paragraph: HTML characters as
    entities (no raw HTML, no ``<http://…>`` autolink), Markdown syntax backslash-escaped (no
    ``[x](javascript:…)`` link, no ``![](https://remote/img)`` image), control characters shown as
    escapes, line breaks as spaces."""
    text = safe(_LINE_BREAK.sub(" ", clip("" if value is None else str(value), limit)))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_BLOCK_START.sub(
        lambda m: "".join(g for g in (m[1], m[3]) if g) + "\\" + (m[2] or m[4]), _MD_INLINE.sub(r"\\\1", text), count=1
    )


def md_link(text: object, url: str | None) -> str:
    """A Markdown link to an http(s) URL, else the escaped text alone. The URL sits in ``<…>`` and
    the characters that would end it or the table cell are percent-encoded (same URL, no breakout)."""
    url = safe_url(url)
    if not url:
        return md_cell(text)
    for ch, code in (("<", "%3C"), (">", "%3E"), ("|", "%7C"), (" ", "%20"), ("\n", "%0A"), ("\r", "%0D")):
        url = url.replace(ch, code)
    return f"[{md_cell(text)}](<{url}>)"


def claims_cell(fact_checks: tuple[FactCheckRef, ...]) -> str:
    """The fact-checked claims of a post's fact-checks, in their order, for a table cell."""
    return "; ".join(dict.fromkeys(fc.claim for fc in fact_checks))


def _day(when: datetime | None) -> str:
    """The UTC date of a time, for a table's date column ("" when unknown)."""
    return when.date().isoformat() if when else ""


env.filters["day"] = _day


def csv_cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _confidence(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


env.filters["confidence"] = _confidence


def to_markdown(report: Report) -> str:
    h = report.headline
    lines = [
        "# claimwatch report",
        "",
        f"**{md_cell(h.sentence())}**",
        "",
        f"Generated {rfc3339(report.generated_at)}. Selection: {md_cell(json.dumps(report.selection))}.",
        "",
        f"Matching: {md_cell(json.dumps(report.matching))}.",
        "",
        "Posts behind the headline first (debunked, then other matched posts), most viewed first.",
        "",
        "| # | post | date | type | account | text | fact-checked claim | views | observed | fact-check | rating "
        "| verdict | status | score | confidence |",
        "|---|---|---|---|---|---|---|---:|---|---|---|---|---|---:|---:|",
    ]
    for i, row in enumerate(report.ordered(), start=1):
        fc = row.fact_check
        post = md_link(row.post_id, row.url)
        fc_cell = (md_link(fc.publisher or "fact-check", fc.url) if safe_url(fc.url) else md_cell(fc.url)) if fc else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    str(i),
                    post,
                    _day(row.created_at),
                    md_cell(row.post_type),
                    md_cell(row.account),
                    md_cell(row.text, 160),
                    md_cell(fc.claim if fc else "", 200),
                    row.reach(),
                    _day(row.observed_at),
                    fc_cell,
                    md_cell(fc.rating_text if fc else ""),
                    md_cell(fc.rating_class if fc else ""),
                    md_cell(
                        (fc.match_status + (" (narrative only)" if fc.relation == NARRATIVE else "")) if fc else ""
                    ),
                    f"{fc.match_score:.3f}" if fc else "",
                    _confidence(fc.match_confidence if fc else None),
                ]
            )
            + " |"
        )
    lines += [
        "",
        "## Posts by language",
        "",
        "| language | posts | debunked posts | their views | views unknown |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {md_cell(c.lang)} | {c.posts:,} | {c.debunked_posts:,} | "
        f"{'unknown' if c.debunked_views is None else f'{c.debunked_views:,}'} | {c.debunked_views_unknown:,} |"
        for c in report.languages
    ]
    lines += [
        "",
        "## Check-worthy claims with no fact-check yet",
        "",
        f"_{md_cell(report.unchecked_rule)}_",
        "",
        "| # | post | date | account | claim sentence | check-worthiness | views |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for i, row in enumerate(report.unchecked, start=1):
        lines.append(
            f"| {i} | {md_link(row.post_id, row.url)} | {_day(row.created_at)} | "
            f"{md_cell(row.account)} | "
            f"{md_cell(row.claim_sentence or row.text, 200)} | {queue_score(row):.2f} | "
            f"{row.reach()} |"
        )
    if report.earlier_decisions:
        lines += [
            "",
            "## Decisions made on an earlier text of the post",
            "",
            "_The post was edited after the decision, so it is not counted above; review it again._",
            "",
            "| match | post | account | fact-check | decision | by | on | status now |",
            "|---:|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {d.match_id} | {md_link(d.post_id, d.url)} | {md_cell(d.account)} | "
            f"{md_link(d.publisher or d.review_url, d.review_url)} | {md_cell(d.decision)} | "
            f"{md_cell(d.decided_by)} | {_day(d.decided_at)} | {md_cell(d.status)} |"
            for d in report.earlier_decisions
        ]
    return "\n".join(lines) + "\n"


def write_csv(report: Report, path: Path) -> None:
    rows = report.table()
    with atomic.replacing(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})


def to_html(report: Report) -> str:
    return env.get_template("report.html.j2").render(
        r=report,
        h=report.headline,
        queue_score=queue_score,
        rows=report.ordered(),
        selection_json=json.dumps(report.selection, indent=1),
        matching_json=json.dumps(report.matching, indent=1),
    )


def write_all(report: Report, out_dir: Path, stem: str = "report") -> dict[str, Path]:
    """Write every format into ``out_dir``; returns format → path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {fmt: out_dir / f"{stem}.{fmt}" for fmt in FORMATS}
    atomic.write_text(paths["md"], to_markdown(report))
    write_csv(report, paths["csv"])
    atomic.write_text(paths["json"], json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    atomic.write_text(paths["html"], to_html(report))
    return paths
