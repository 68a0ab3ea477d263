"""Write a :class:`~claimwatch.analysis.study.StudyResult` in every format: ``study.json`` (the
target shape plus what the charts and methods need), ``study.html`` (one self-contained file),
``study.md``, ``study.csv`` (one row per post), ``manipulated_media.csv`` (the flagged posts),
``study.pdf`` and ``charts/*.png``.

Post and fact-check text is hostile input; the escaping is the v1 report's, shared from
:mod:`claimwatch.reports.render`: Jinja2 autoescaping and the same CSP for HTML, only http(s)
links, Markdown cells escaped, CSV formula cells neutralised. Each file is replaced whole or
not at all (:mod:`claimwatch.atomic`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from claimwatch import atomic
from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.post_rows import PostRow
from claimwatch.analysis.reach import ENGAGEMENT, describe_reach
from claimwatch.analysis.study import ExcludedPost, StudyResult
from claimwatch.media.evidence import media_match_phrase
from claimwatch.reports.charts import Chart, study_charts
from claimwatch.reports.render import claims_cell, csv_cell, env, md_cell, md_link
from claimwatch.reports.study_pdf import pdf_bytes
from claimwatch.reports.study_view import (
    Group,
    excluded_shown,
    groups,
    media_evidence,
    media_state,
)
from claimwatch.wording import count

FORMATS = ("json", "html", "md", "csv", "pdf")
#: the manipulated-media table as CSV (its own file: its rows are not the study's post rows)
MEDIA_CSV = "manipulated_media.csv"
CHART_DIR = "charts"


def write_study(result: StudyResult, out_dir: Path, stem: str = "study") -> dict[str, Path]:
    """Write every format into ``out_dir``; returns format → path (``charts`` → the PNG directory)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts, view = study_charts(result), groups(result)
    chart_dir = out_dir / CHART_DIR
    chart_dir.mkdir(exist_ok=True)
    for chart in charts:
        atomic.write_bytes(chart_dir / f"{chart.name}.png", chart.png)
    paths = {fmt: out_dir / f"{stem}.{fmt}" for fmt in FORMATS}
    atomic.write_text(paths["json"], json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    atomic.write_text(paths["html"], to_html(result, charts, view))
    atomic.write_text(paths["md"], to_markdown(result, charts, view))
    write_csv(result, paths["csv"])
    paths["media_csv"] = out_dir / MEDIA_CSV
    write_media_csv(result, paths["media_csv"])
    atomic.write_bytes(paths["pdf"], pdf_bytes(result, charts, view))
    return {**paths, "charts": chart_dir}


def to_html(result: StudyResult, charts: list[Chart], view: dict[str, list[Group]]) -> str:
    return env.get_template("study.html.j2").render(
        s=result,
        headline=result.headline(),
        charts=charts,
        groups=view,
        reach=describe_reach,
        excluded=excluded_shown(result),
        media_phrase=media_match_phrase,
    )


# --------------------------------------------------------------------------- Markdown


def _md_groups(heading: str, rows: list[Group]) -> list[str]:
    out = [f"| {heading} | posts | views | views unknown | fact-checks |", "|---|---:|---:|---:|---|"]
    out += [
        f"| {md_cell(g.label)} | {g.posts:,} | {g.views_cell} | {g.views_unknown:,} | "
        + ", ".join(md_link(publisher or url, url) for url, publisher in g.factchecks)
        + " |"
        for g in rows
    ]
    return out + [""]


def _md_factchecks(row: PostRow | ExcludedPost) -> str:
    return "; ".join(
        f"{md_link(fc.publisher or fc.url, fc.url)}: {md_cell(fc.rating_text)} ({md_cell(fc.match_method)})"
        for fc in row.fact_checks
    )


def _md_notes(row: PostRow) -> str:
    return md_cell(row.community_notes.describe())


def _md_excluded(result: StudyResult) -> list[str]:
    shown = excluded_shown(result)
    if not shown:
        return ["none"]
    out = [
        "| post | date | type | account | text | fact-checked claim | fact-checks | left out by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    out += [
        "| "
        + " | ".join(
            [
                md_link(e.post_id, e.url),
                md_cell(e.created_at.date() if e.created_at else ""),
                md_cell(e.post_type),
                md_cell(e.account),
                md_cell(e.text, 160),
                md_cell(claims_cell(e.fact_checks), 200),
                _md_factchecks(e),
                md_cell("; ".join(f"{x.rule}: {x.detail}" for x in e.reasons)),
            ]
        )
        + " |"
        for e in shown
    ]
    more = len(result.excluded_posts) - len(shown)
    return out + (["", f"{more:,} more in study.json (excluded_posts)."] if more else [])


def _md_media(result: StudyResult) -> list[str]:
    mm = result.manipulated_media
    out = [
        "## Manipulated media without a label",
        "",
        md_cell(
            mm.sentence()
            or "No post's media matched a bank item labelled manipulated or AI-generated, and no "
            "valid manifest declared AI generation."
        ),
        "",
    ]
    if not mm.rows:
        return out
    out += [
        "| post | account | media | bank item / manifest | evidence | views at as-of | label / note state |",
        "|---|---|---|---|---|---:|---|",
    ]
    out += [
        "| "
        + " | ".join(
            [
                md_link(m.post_id, m.url),
                md_cell(m.account),
                md_cell(", ".join(m.media_keys)),
                md_cell("; ".join(media_evidence(m)), 400),
                md_cell(m.evidence),
                "unknown" if m.views is None else f"{m.views:,}",
                md_cell(media_state(m)),
            ]
        )
        + " |"
        for m in mm.rows
    ]
    return out + [""]


def to_markdown(result: StudyResult, charts: list[Chart], view: dict[str, list[Group]]) -> str:
    st = result.study
    lines = [f"# {md_cell(st.title)}", "", f"Generated {rfc3339(result.generated_at)}.", ""]
    lines += [("- " if line.startswith("  ") else "") + md_cell(line.strip()) for line in result.headline()] + [""]
    lines += [f"![{md_cell(c.title)}]({CHART_DIR}/{c.name}.png)" for c in charts] + [""]
    lines += [
        "## By narrative",
        "",
        *_md_groups("narrative", view["narrative"]),
        "## By account",
        "",
        *_md_groups("account", view["account"]),
        "## By week",
        "",
        *_md_groups("week starting", view["week"]),
    ]
    lines += _md_media(result)
    lines += [
        "## Posts",
        "",
        (
            "| # | post | date | type | account | text | fact-checked claim | narrative | views "
            "| observed | fact-checks | Community Notes | label |"
        ),
        "|---:|---|---|---|---|---|---|---|---:|---|---|---|---|",
    ]
    lines += [
        "| "
        + " | ".join(
            [
                str(i),
                md_link(r.post_id, r.url),
                md_cell(r.created_at.date() if r.created_at else ""),
                md_cell(r.post_type),
                md_cell(r.account),
                md_cell(r.text, 160),
                md_cell(claims_cell(r.fact_checks), 200),
                md_cell(r.claim_category),
                describe_reach(r.views, r.engagement),
                md_cell(r.observed_at.date() if r.observed_at else ""),
                _md_factchecks(r),
                _md_notes(r),
                "yes" if r.platform_label.present else "no",
            ]
        )
        + " |"
        for i, r in enumerate(result.posts, start=1)
    ]
    lines += [
        "",
        "## Excluded posts",
        "",
        "Posts with an analyst-confirmed or machine-proposed fact-check match that the inclusion rules left "
        "out, with the first rule that did.",
        "",
        *_md_excluded(result),
    ]
    lines += ["", "## Proposed new narratives", ""]
    lines += [
        f"- {md_cell(p.name)} ({count(p.posts, 'post')}: {md_cell(', '.join(p.post_ids))})"
        for p in result.proposed_narratives
    ] or ["none"]
    lines += ["", "## Methods", ""] + [f"- {md_cell(m)}" for m in result.methods]
    lines += [
        "",
        f"- Inclusion rule: {md_cell(st.inclusion_rule)}",
        f"- Views metric: {md_cell(st.views_metric)}",
        f"- Community Notes rule: {md_cell(st.community_note_rule)}",
        f"- Ad-equivalent CPM (USD): {md_cell(st.ad_equivalent_cpm_usd)}",
    ]
    lines += ["", "## Sources", "", "| ingest run | kind | status | retrieved | files |", "|---:|---|---|---|---|"]
    lines += [
        f"| {s.ingest_run} | {md_cell(s.kind)} | {md_cell(s.status)} | {md_cell(rfc3339(s.retrieved))} | "
        f"{md_cell(', '.join(filter(None, s.files)))} |"
        for s in result.sources
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- CSV

CSV_FIELDS = (
    "post_id",
    "url",
    "created_at",
    "post_type",
    "account",
    "text",
    "factcheck_claims",
    "narrative",
    "narrative_rule",
    "views",
    "views_observed_at",
    *ENGAGEMENT,
    "observed_at",
    "factcheck_urls",
    "ratings",
    "match_methods",
    "notes_proposed",
    "note_shown_now",
    "note_shown_knowledge",
    "note_ever_shown",
    "label_present",
    "lang",
)


def _csv_row(r: PostRow) -> dict[str, str | int | bool | None]:
    """One flat row per post; several fact-checks are joined with "; " in the same order in each column."""
    fcs, cn = r.fact_checks, r.community_notes
    return {
        "post_id": r.post_id,
        "url": r.url,
        "created_at": rfc3339(r.created_at),
        "post_type": r.post_type,
        "account": r.account,
        "text": r.text,
        "factcheck_claims": claims_cell(fcs),
        "narrative": r.claim_category,
        "narrative_rule": r.category_rule,
        "views": r.views,
        "views_observed_at": rfc3339(r.views_observed_at),
        **r.engagement,
        "observed_at": rfc3339(r.observed_at),
        "factcheck_urls": "; ".join(fc.url for fc in fcs),
        "ratings": "; ".join(fc.rating_text or fc.rating_class or "" for fc in fcs),
        "match_methods": "; ".join(fc.match_method for fc in fcs),
        "notes_proposed": cn.proposed,
        "note_shown_now": cn.shown_now,
        "note_shown_knowledge": cn.shown_now_knowledge,
        "note_ever_shown": cn.ever_shown,
        "label_present": r.platform_label.present,
        "lang": r.lang,
    }


MEDIA_CSV_FIELDS = (
    "post_id",
    "url",
    "platform",
    "account",
    "created_at",
    "media_keys",
    "evidence",
    "bank_items",
    "bank_labels",
    "factcheck_urls",
    "match_methods",
    "match_evidence",
    "ai_manifests",
    "views",
    "views_observed_at",
    "label_state",
    "label",
    "notes",
    "state_reason",
    "in_headline",
)


def write_media_csv(result: StudyResult, path: Path) -> None:
    """``manipulated_media.csv``: one row per flagged post (the table of the study's block); the
    unlabelled ones first, most viewed first; several matches joined with "; " in one order."""
    with atomic.replacing(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MEDIA_CSV_FIELDS)
        writer.writeheader()
        for m in result.manipulated_media.rows:
            row = {
                "post_id": m.post_id,
                "url": m.url,
                "platform": m.platform,
                "account": m.account,
                "created_at": rfc3339(m.created_at),
                "media_keys": "; ".join(m.media_keys),
                "evidence": m.evidence,
                "bank_items": "; ".join(str(b.bank_item) for b in m.bank_matches),
                "bank_labels": "; ".join(b.label for b in m.bank_matches),
                "factcheck_urls": "; ".join(b.factcheck_url for b in m.bank_matches),
                "match_methods": "; ".join(b.match_method for b in m.bank_matches),
                "match_evidence": "; ".join(media_match_phrase(b.evidence) for b in m.bank_matches),
                "ai_manifests": "; ".join(media_evidence(m)[len(m.bank_matches) :]),
                "views": m.views,
                "views_observed_at": rfc3339(m.views_observed_at),
                "label_state": m.label_state,
                "label": m.label,
                "notes": m.notes,
                "state_reason": m.state_reason,
                "in_headline": m.in_headline,
            }
            writer.writerow({k: csv_cell(v) for k, v in row.items()})


def write_csv(result: StudyResult, path: Path) -> None:
    with atomic.replacing(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in result.posts:
            writer.writerow({k: csv_cell(v) for k, v in _csv_row(r).items()})
