"""The study report's charts, drawn with matplotlib on its Agg canvas (no pyplot, no global state).

Why matplotlib and not Vega-Lite (DESIGN.md's choice for the web app): the study report is one
self-contained HTML file under a CSP that allows no script at all (``default-src 'none'``), read
offline and archived as evidence; Vega-Lite needs JavaScript at view time. matplotlib draws the
chart once, at write time, into files that need nothing to display, and the same drawing also
gives the PNGs for slides and the images in the PDF.

Why SVG in ``<img src="data:image/svg+xml;base64,…">`` in the HTML: vector (sharp at any zoom)
and allowed by the report's ``img-src data:``; an SVG shown through ``<img>`` is its own
document, so it can run no script and its element ids (matplotlib names clip paths and glyphs)
cannot clash with the page's or another chart's. Text from the data (narrative names, handles)
reaches an SVG only through matplotlib's XML escaping, and is drawn as plain text: mathtext
is off (a handle like ``$\\cmd$`` would otherwise be parsed as TeX and stop the report), and a
legend label that starts with ``_`` (matplotlib's "leave me out" mark) is kept visible.
PNG (150 dpi) for slides and the PDF. Both are deterministic: fixed hash salt, no dates in
the metadata.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

import matplotlib as mpl
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from claimwatch.analysis.jsonable import rfc3339
from claimwatch.analysis.study import StudyResult
from claimwatch.reports.study_view import human, top_posts
from claimwatch.wording import count, noun

PNG_DPI = 150
#: the shortest span a date axis shows: a few observations (or one) on a week of days, not on hours
MIN_DATE_SPAN = timedelta(days=7)
#: the key of the summed curve in ``StudyResult.views_over_time``
ALL = "all"
_RC = {
    "svg.hashsalt": "claimwatch",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.parse_math": False,
}


@dataclass(frozen=True)
class Chart:
    #: file stem (``charts/<name>.png``) and HTML id (``chart-<name>``)
    name: str
    title: str
    #: what the chart shows, in words and numbers (the image's alt text)
    alt: str
    svg: bytes
    png: bytes

    @property
    def svg_data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg).decode("ascii")


def study_charts(result: StudyResult) -> list[Chart]:
    """Every chart of the study report, in report order."""
    colors = _narrative_colors(result)
    with mpl.rc_context(_RC):  # rc settings apply when artists are made, so around all of it
        return [
            _views_over_time(result, colors),
            _posts_per_week(result),
            _notes_coverage(result),
            _top_posts(result, colors),
        ]


def _render(name: str, title: str, alt: str, fig: Figure) -> Chart:
    fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    svg, png = io.BytesIO(), io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return Chart(name, title, alt, svg.getvalue(), png.getvalue())


def _figure(height: float = 3.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(8, height), layout="constrained")
    return fig, fig.add_subplot()


def _legend(label: str) -> str:
    """A legend entry from the data: one starting with "_" would be silently left out, so it
    gets a zero-width space in front."""
    return "\u200b" + label if label.startswith("_") else label


def _narrative_colors(result: StudyResult) -> dict[str, str]:
    """One colour per narrative, the same in every chart (tab10, in the summary's order)."""
    names = [c.claim_category for c in result.summary.by_category]
    return {n: f"C{i % 10}" for i, n in enumerate(names)} | {ALL: "black"}


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([]), ax.set_yticks([])


def _views_axis(ax: Axes, axis: str = "y") -> None:
    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda v, _: human(v)))


def _date_axis(ax: Axes, first: datetime, last: datetime) -> None:
    """Ticks on whole days (or weeks, months) from ``first`` to ``last``, never on hours: data
    observed on one day or a few would otherwise get matplotlib's hourly ticks, as if the time of
    day mattered. A span shorter than :data:`MIN_DATE_SPAN` is widened to it around the data."""
    if last - first < MIN_DATE_SPAN:
        pad = (MIN_DATE_SPAN - (last - first)) / 2
        first, last = first - pad, last + pad
        locator: mdates.DateLocator = mdates.DayLocator(interval=max(1, ceil((last - first).days / 8)))
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.set_xlim(first, last)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _views_over_time(result: StudyResult, colors: dict[str, str]) -> Chart:
    fig, ax = _figure()
    curves = {k: v for k, v in result.views_over_time.items() if v}
    order = [n for n in colors if n in curves] + sorted(set(curves) - set(colors))
    times = sorted({p.observed_at for name in order for p in curves[name]})
    for name in order:
        points = curves[name]
        xs, ys = [p.observed_at for p in points], [p.views for p in points]
        label = "all debunked-claim posts" if name == ALL else _legend(name)
        if len(times) == 1:  # one observation is a point per narrative, not a curve: its value in the legend
            label += f" ({human(ys[0])})"
        ax.plot(xs, ys, marker="o", color=colors.get(name), linestyle="--" if name == ALL else "-", label=label)
    if len(times) == 1:
        ax.set_xlabel(f"one observation: {times[0]:%Y-%m-%d %H:%M} UTC")
    if order:
        _date_axis(ax, times[0], times[-1])
        ax.set_ylim(bottom=0)
        _views_axis(ax)
        ax.set_ylabel("views (summed, as observed)")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    else:
        _no_data(ax, "view snapshots")
    alt = (
        "; ".join(
            f"{'all posts' if n == ALL else n}: {human(curves[n][-1].views)} "
            f"{noun(curves[n][-1].views, 'view')} by "
            f"{rfc3339(curves[n][-1].observed_at)[:10]}"
            for n in order
        )
        or "no view snapshots"
    )
    return _render("views_over_time", "Views over time, by narrative", alt, fig)


def _posts_per_week(result: StudyResult) -> Chart:
    fig, ax = _figure(3.0)
    weeks = result.by_week
    if weeks:
        starts = [datetime.combine(w.week, datetime.min.time()) for w in weeks]
        ax.bar(starts, [w.posts for w in weeks], width=6, align="edge", color="C0")
        _date_axis(ax, starts[0] - timedelta(days=1), starts[-1] + timedelta(days=7))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("posts (week starting Monday)")
    else:
        _no_data(ax, "posts")
    alt = "; ".join(f"week of {w.week}: {count(w.posts, 'post')}" for w in weeks) or "no posts"
    return _render("posts_per_week", "Debunked-claim posts per week", alt, fig)


def _notes_coverage(result: StudyResult) -> Chart:
    cov = result.notes_coverage
    proposed, none_shown = cov.posts_with_proposed_notes, cov.posts_with_proposed_notes_none_shown
    unknown = cov.posts_with_proposed_notes_status_unknown
    bars = [
        ("no note proposed", cov.posts - proposed, "#bbbbbb"),
        ("notes proposed, none shown", none_shown, "#b42318"),
        ("note shown", proposed - none_shown - unknown, "#1a7f37"),
    ]
    if unknown:  # never folded into "none shown"
        bars.append(("notes proposed, status unknown", unknown, "#ffffff"))
    fig, ax = _figure(2.2 + 0.3 * (len(bars) - 3))
    drawn = ax.barh([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    if unknown:
        drawn[-1].set(hatch="//", edgecolor="#666666")
    ax.bar_label(drawn, fmt="{:,.0f}", padding=3)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("posts")
    alt = "; ".join(f"{label}: {count(n, 'post')}" for label, n, _ in bars)
    return _render("notes_coverage", "Community Notes on the debunked-claim posts", alt, fig)


def _top_posts(result: StudyResult, colors: dict[str, str]) -> Chart:
    top = top_posts(result)
    fig, ax = _figure(0.9 + 0.3 * max(len(top), 3))
    if top:
        labels = [f"{r.created_at.date() if r.created_at else ''} @{r.account or '?'} {r.post_id}" for r in top]
        ax.barh(labels, [r.views for r in top], color=[colors.get(r.claim_category, "C7") for r in top])
        ax.invert_yaxis()
        _views_axis(ax, "x")
        ax.set_xlabel("views")
        shown = {r.claim_category for r in top}
        handles = [Patch(color=colors.get(n, "C7"), label=_legend(n)) for n in colors if n in shown]
        ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    else:
        _no_data(ax, "posts with known views")
    alt = "; ".join(f"post {r.post_id} (@{r.account}): {count(r.views, 'view')}" for r in top) or "no posts"
    return _render("top_posts", f"Top {count(len(top), 'post')} by views", alt, fig)
