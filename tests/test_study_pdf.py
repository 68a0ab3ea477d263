"""The study's PDF and charts on the figures that broke them: 19-digit X ids, Bluesky ids of 50
characters, billions of views, one observation of views, and a study of one post. The PDF is
read back with ``pdf_text`` (each drawn line), the charts through the labels their SVG keeps."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from ccdh_store import propose
from conftest import claimreview, page, post
from pdf_text import pdf_text

import claimwatch
from claimwatch.analysis.study import StudyResult
from claimwatch.records import MatchStatus
from claimwatch.reports.charts import Chart, study_charts
from claimwatch.reports.pdf_layout import Column, column_widths, pieces, wrap
from claimwatch.reports.study import write_study

POSTS = Path(__file__).parent / "fixtures" / "posts"
USERS = [{"id": "900000777", "username": "example_account", "name": "Example (synthetic)"}]
#: X ids (19 digits) and their views: billions, as the most viewed accounts have
X_VIEWS = {f"18160000000000{n:05d}": views for n, views in enumerate([2_345_678_901, 1_234_567_890, 987_654_321])}
BLUESKY = [
    "did:plc:aaaaexampleaaaaexample01/post/3kaaaoriginal1",
    "did:plc:aaaaexampleaaaaexample01/post/3kaaaquote0006",
]
FACTCHECK = "https://example.org/fc/counted-twice"


def _study(d: Path, ws: claimwatch.Workspace, **extra: object) -> StudyResult:
    (d / "study.yaml").write_text(
        yaml.safe_dump(
            {
                "title": "SYNTHETIC: long ids and large numbers",
                "window": {"from": "2024-07-01", "to": "2024-07-31"},
                **extra,
            }
        )
    )
    return ws.run_study(d / "study.yaml")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[claimwatch.Workspace, Path]:
    """X posts observed on 2024-08-01 and again on the 3rd; Bluesky posts (no view counts)."""
    d = tmp_path_factory.mktemp("pdf")
    ws = claimwatch.open(d / "t.db")
    for day, factor in ((1, 1), (3, 2)):
        lines = [
            page(
                [
                    post(
                        pid,
                        f"The ballots were counted twice, post {pid}",
                        views * factor,
                        author="900000777",
                        created=f"2024-07-{10 + i:02d}T08:00:00.000Z",
                    )
                    for i, (pid, views) in enumerate(X_VIEWS.items())
                ],
                USERS,
                f"2024-08-0{day}T12:00:00+00:00",
            )
        ]
        (d / f"x{day}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        assert ws.ingest_posts([d / f"x{day}.jsonl"]).ok
    assert ws.ingest_posts([POSTS / "bluesky_getAuthorFeed.json"], observed_at=None).ok
    (d / "fc.json").write_text(json.dumps([claimreview(FACTCHECK, "The ballots were counted twice.")]))
    ws.ingest_factchecks([d / "fc.json"])
    for match_id in propose(ws, [(pid, FACTCHECK) for pid in [*X_VIEWS, *BLUESKY]]):
        ws.decide(match_id, MatchStatus.CONFIRMED, "analyst@example.org")
    return ws, d


@pytest.fixture(scope="module")
def report(store: tuple[claimwatch.Workspace, Path]) -> tuple[StudyResult, dict[str, Path]]:
    ws, d = store
    result = _study(d, ws)
    return result, write_study(result, d / "out")


def _xticks(chart: Chart) -> list[str]:
    """The x-axis tick labels of a chart, as its SVG writes them (one comment per label)."""
    return re.findall(r'<g id="xtick_\d+">.*?<!-- (.*?) -->', chart.svg.decode(), re.DOTALL)


def _drawn_in_pieces(lines: list[str], text: str) -> list[str] | None:
    """The consecutive drawn lines that spell ``text``, if some do."""
    for start in range(len(lines)):
        parts: list[str] = []
        while start + len(parts) < len(lines) and text.startswith("".join(parts) + lines[start + len(parts)]):
            parts.append(lines[start + len(parts)])
            if "".join(parts) == text:
                return parts
    return None


def _chart(charts: list[Chart], name: str) -> Chart:
    return next(c for c in charts if c.name == name)


# --------------------------------------------------------------------------- line breaking


def test_lines_break_after_spaces_and_punctuation_never_between_digits() -> None:
    assert pieces(BLUESKY[0]) == ["did:", "plc:", "aaaaexampleaaaaexample01/", "post/", "3kaaaoriginal1"]
    for figure in ("1816000000000000001", "1,234,567,890", "2024-08-01", "2024-08-01T12:00:00Z", "$23,769,000"):
        assert pieces(figure) == [figure]
    assert pieces("at://did:plc:x/app.bsky.feed.post/3k") == [
        "at://",
        "did:",
        "plc:",
        "x/",
        "app.",
        "bsky.",
        "feed.",
        "post/",
        "3k",
    ]
    assert "".join(pieces("views 1,234 on 2024-08-01, said @a_b.")) == "views 1,234 on 2024-08-01, said @a_b."


def test_wrap_fills_lines_and_cuts_only_what_cannot_fit() -> None:
    width = len  # one unit per character
    assert wrap("did:plc:aaaaexampleaaaaexample01/post/3kaaaoriginal1", 31.5, width).split("\n") == [
        "did:plc:",
        "aaaaexampleaaaaexample01/post/",
        "3kaaaoriginal1",
    ]
    assert wrap("1816000000000000001 1,234,567,890 views", 20.5, width).split("\n") == [
        "1816000000000000001",
        "1,234,567,890 views",
    ]
    assert wrap("a" * 25, 10.5, width).split("\n") == ["a" * 10, "a" * 10, "a" * 5], "a word wider than the line"


def test_columns_are_as_wide_as_their_widest_figure() -> None:
    cols = [Column("post", 10), Column("views", 10, "R"), Column("text", 80, text=True)]
    cells = [["1816000000000000001", "1,234,567,890", "x" * 300]]
    widths = column_widths(cols, cells, 100, 1, len, len)
    assert widths and widths[0] >= 19 + 2 and widths[1] >= 13 + 2 and abs(sum(widths) - 100) < 1e-6
    assert widths[2] < 300, "free text wraps instead of widening its column"
    assert column_widths(cols, cells, 30, 1, len, len) is None, "figures that cannot fit: try a smaller type"


# --------------------------------------------------------------------------- the PDF


@pytest.mark.slow  # over half a second on 2 cores
def test_pdf_never_breaks_an_id_a_date_or_a_view_count(report: tuple[StudyResult, dict[str, Path]]) -> None:
    result, paths = report
    lines = pdf_text(paths["pdf"].read_bytes())
    for pid, views in X_VIEWS.items():
        assert pid in lines, f"X id {pid} drawn whole on one line"
        assert f"{views * 2:,}" in lines, "billions of views drawn whole"
    assert "2024-07-10" in lines and f"{sum(X_VIEWS.values()) * 2:,}" in lines
    for pid in BLUESKY:  # long ids wrap, but only after their punctuation
        parts = _drawn_in_pieces(lines, pid)
        assert parts and all(p[-1] in "/:@._-" for p in parts[:-1]), parts
    assert any(line.startswith("Posts (5)") for line in lines)
    assert [r.post_id for r in result.posts[:3]] == list(X_VIEWS), "most viewed first"


@pytest.mark.slow  # over half a second on 2 cores
def test_a_table_with_figures_too_wide_at_7_5_pt_is_set_smaller(
    store: tuple[claimwatch.Workspace, Path], tmp_path: Path
) -> None:
    ws, d = store
    result = _study(d, ws)
    first = result.posts[0]  # a "word" of digits no column holds at 7.5 pt
    result.posts[0] = replace(
        first, fact_checks=(replace(first.fact_checks[0], publisher="9" * 40), *first.fact_checks[1:])
    )
    pdf = pdf_text(write_study(result, tmp_path)["pdf"].read_bytes())
    assert any("9" * 40 in line for line in pdf), "shrunk until the figure fits, not cut"


# --------------------------------------------------------------------------- charts


@pytest.mark.slow  # over half a second on 2 cores
def test_views_over_time_with_two_observations_has_a_date_axis(report: tuple[StudyResult, dict[str, Path]]) -> None:
    result, _ = report
    assert [p.observed_at.date() for p in result.views_over_time["all"]] == [date(2024, 8, 1), date(2024, 8, 3)]
    ticks = _xticks(_chart(study_charts(result), "views_over_time"))
    assert len(ticks) >= 4 and not any(":" in t for t in ticks), f"days, never hours: {ticks}"


@pytest.mark.slow  # over half a second on 2 cores
def test_views_over_time_with_one_observation_is_one_dated_point(store: tuple[claimwatch.Workspace, Path]) -> None:
    ws, d = store
    result = _study(d, ws, views={"policy": "as_of", "as_of": "2024-08-01"})
    assert [len(points) for points in result.views_over_time.values()] == [1, 1]
    chart = _chart(study_charts(result), "views_over_time")
    ticks = _xticks(chart)
    assert len(ticks) >= 4 and not any(":" in t for t in ticks), f"days, never hours: {ticks}"
    svg = chart.svg.decode()
    assert "one observation: 2024-08-01 12:00 UTC" in svg
    assert f"all debunked-claim posts ({sum(X_VIEWS.values()) / 1e9:.3g} bn)" in svg


@pytest.mark.slow  # over half a second on 2 cores
def test_posts_per_week_on_a_date_axis(report: tuple[StudyResult, dict[str, Path]]) -> None:
    result, _ = report
    ticks = _xticks(_chart(study_charts(result), "posts_per_week"))
    assert ticks and not any(":" in t for t in ticks)
    assert {w.week for w in result.by_week} == {date(2024, 7, 8), date(2024, 7, 22)}


# --------------------------------------------------------------------------- "1 post"


@pytest.mark.slow  # over a second on 2 cores
def test_a_study_of_one_post_says_1_post_everywhere(store: tuple[claimwatch.Workspace, Path], tmp_path: Path) -> None:
    ws, d = store
    result = _study(d, ws, accounts=["example_account"], window={"from": "2024-07-10", "to": "2024-07-10"})
    assert result.summary.posts == 1
    headline = "\n".join(result.headline())
    assert "1 post by @example_account" in headline and "1 posts" not in headline
    charts = study_charts(result)
    assert _chart(charts, "top_posts").title == "Top 1 post by views"
    assert "1 post" in _chart(charts, "posts_per_week").alt and "1 posts" not in _chart(charts, "notes_coverage").alt
    paths = write_study(result, tmp_path)
    for fmt in ("md", "html"):
        assert "1 posts" not in paths[fmt].read_text(), fmt
    assert not any("1 posts" in line for line in pdf_text(paths["pdf"].read_bytes()))
    svg = base64.b64decode(re.search(r'data:image/svg\+xml;base64,([^"]+)', paths["html"].read_text())[1])
    assert b"1 posts" not in svg
