"""Fault injection for the fact-check readers (issue 10, C1).

A generator writes files of every fact-check format in which most records carry one
fault — numbers beyond any float or int limit, JSON nested thousands deep, objects and
arrays where text belongs, dates out of range, ratings off their own scale, bad rows —
among valid records, in a random order. For each file: no exception escapes the reader,
every valid record lands unchanged, every record with a fatal fault is quarantined with
its location and a reason, and every record with a bad optional field lands with a
field warning. The same files go through ``ingest factchecks`` into a store.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import run_reader

import claimwatch
from claimwatch.records import Parsed, Rejected
from claimwatch.sources.base import ReadContext
from claimwatch.sources.factchecks import FACTCHECK_FORMATS

#: Raw JSON text put in place of a placeholder string after ``json.dumps`` (which could
#: not write these itself).
LITERALS = {
    "@DEEP@": "[" * 5000 + "]" * 5000,  # beyond Python's parser: RecursionError
    "@DEEPISH@": "[" * 200 + "]" * 200,  # parses, but far deeper than any record
    "@INF@": "1e400",
    "@NAN@": "NaN",
    "@BIGINT@": "9" * 400,  # int() works, float() overflows
    "@HUGEINT@": "9" * 5000,  # beyond Python's int/str conversion limit
}

PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")

# Outcomes
CLEAN, WARNED, REJECTED = "clean", "warned", "rejected"


@dataclass(frozen=True)
class Fault:
    name: str
    apply: Callable[[dict[str, Any]], None]
    outcome: str


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(record: dict[str, Any]) -> None:
        node = record
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return apply


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda record: record.pop(key, None)


CLAIMREVIEW_FAULTS = [
    Fault("claim nested 5000 deep", _set("claimReviewed", value="@DEEP@"), REJECTED),
    Fault("itemReviewed nested 200 deep", _set("itemReviewed", value="@DEEPISH@"), REJECTED),
    Fault("claim is an object", _set("claimReviewed", value={"text": "x"}), REJECTED),
    Fault("claim is a boolean", _set("claimReviewed", value=True), REJECTED),
    Fault("claim is null", _set("claimReviewed", value=None), REJECTED),
    Fault("no claim", _drop("claimReviewed"), REJECTED),
    Fault("url is an object", _set("url", value={"href": "https://factcheck.example/x"}), REJECTED),
    Fault("url is a number", _set("url", value=12345), REJECTED),
    Fault("url is empty", _set("url", value="  "), REJECTED),
    Fault("ratingValue 1e400", _set("reviewRating", "ratingValue", value="@INF@"), WARNED),
    Fault("ratingValue NaN", _set("reviewRating", "ratingValue", value="@NAN@"), WARNED),
    Fault("ratingValue 400 digits", _set("reviewRating", "ratingValue", value="@BIGINT@"), WARNED),
    Fault("ratingValue 5000 digits", _set("reviewRating", "ratingValue", value="@HUGEINT@"), WARNED),
    Fault("ratingValue an object", _set("reviewRating", "ratingValue", value={"v": 1}), WARNED),
    Fault("ratingValue off its scale", _set("reviewRating", "ratingValue", value=9), WARNED),
    Fault("date 1e30", _set("datePublished", value=1e30), WARNED),
    Fault("date -1e30", _set("datePublished", value=-1e30), WARNED),
    Fault("date year 99999", _set("datePublished", value="99999-01-01"), WARNED),
    Fault("date an object", _set("datePublished", value={"@value": {"y": 2024}}), WARNED),
    Fault("title an object", _set("name", value={"en": "t"}), WARNED),
    Fault("author name an array", _set("author", value=[[["Example"]]]), WARNED),
    Fault("claim date 10**400", _set("itemReviewed", "datePublished", value="@BIGINT@"), WARNED),
]

TOOLS_FAULTS = [
    Fault("claimant nested 5000 deep", _set("claimant", value="@DEEP@"), REJECTED),
    Fault("claimant nested 200 deep", _set("claimant", value="@DEEPISH@"), REJECTED),
    Fault("text is an object", _set("text", value={"t": 1}), REJECTED),
    Fault("text is null", _set("text", value=None), REJECTED),
    Fault("claimReview is an object", _set("claimReview", value={"url": "https://factcheck.example/x"}), REJECTED),
    Fault("claimReview entry is a number", _set("claimReview", value=[5]), REJECTED),
    Fault("claimReview is empty", _set("claimReview", value=[]), REJECTED),
    Fault("review url is a list of objects", lambda c: c["claimReview"][0].update(url=[{"u": 1}]), REJECTED),
    Fault("reviewDate 1e30", lambda c: c["claimReview"][0].update(reviewDate=1e30), WARNED),
    Fault("reviewDate year 99999", lambda c: c["claimReview"][0].update(reviewDate="99999-12-31"), WARNED),
    Fault("claimDate an object", _set("claimDate", value={"d": 1}), WARNED),
    Fault("title a nested array", lambda c: c["claimReview"][0].update(title=[[1]]), WARNED),
    Fault("textualRating an object", lambda c: c["claimReview"][0].update(textualRating={"r": "False"}), WARNED),
]

CSV_FAULTS = [
    Fault("empty review url", _set("review_url", value=""), REJECTED),
    Fault("empty claim", _set("claim_text", value=""), REJECTED),
    Fault("rating value 1e400", _set("rating_value", value="1e400"), WARNED),
    Fault("rating value 400 digits", _set("rating_value", value="9" * 400), WARNED),
    Fault("rating value off its scale", _set("rating_value", value="9"), WARNED),
    Fault("rating value not a number", _set("rating_value", value="n/a"), WARNED),
    Fault("review date year 99999", _set("review_date", value="99999-01-01"), WARNED),
    Fault("review date 1e30", _set("review_date", value="1e30"), WARNED),
    Fault("claim date epoch 10**11", _set("claim_date", value="99999999999999"), WARNED),
]
#: Whole-row faults a CSV writer cannot make from a dict: the row text itself.
CSV_ROW_FAULTS = {
    "one field too many": lambda line: line + ",extra",
    "not UTF-8": lambda line: line.replace("claim", "cl\xe1im"),  # written as Latin-1
}


def _claimreview(i: int) -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": f"https://factcheck.example/fc/{i}",
        "datePublished": "2024-07-29",
        "name": f"SYNTHETIC review {i}",
        "claimReviewed": f"SYNTHETIC claim number {i} about ballots",
        "author": {"@type": "Organization", "name": "Example Fact Check (SYNTHETIC)"},
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": 1,
            "bestRating": 5,
            "worstRating": 1,
            "alternateName": "False",
        },
        "itemReviewed": {
            "@type": "Claim",
            "author": {"@type": "Person", "name": "Example Account"},
            "datePublished": "2024-07-27",
        },
    }


def _tools_claim(i: int) -> dict[str, Any]:
    return {
        "text": f"SYNTHETIC claim number {i}",
        "claimant": "Example Account",
        "claimDate": "2024-07-27T00:00:00Z",
        "claimReview": [
            {
                "publisher": {"name": "Example Fact Check (SYNTHETIC)", "site": "factcheck.example"},
                "url": f"https://factcheck.example/fc/{i}",
                "title": f"SYNTHETIC review {i}",
                "reviewDate": "2024-07-29T00:00:00Z",
                "textualRating": "False",
                "languageCode": "en",
            }
        ],
    }


def _csv_row(i: int) -> dict[str, Any]:
    return {
        "review_url": f"https://factcheck.example/fc/{i}",
        "claim_text": f"SYNTHETIC claim number {i}",
        "rating": "Mostly False",
        "rating_value": "2",
        "best_rating": "5",
        "review_date": "2024-07-29",
        "claim_date": "2024-07-27",
    }


def _dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    for placeholder, literal in LITERALS.items():
        text = text.replace(json.dumps(placeholder), literal)
    return text


def _plan(rng: random.Random, faults: list[Fault], n_valid: int) -> list[Fault | None]:
    """Every fault once plus ``n_valid`` valid records (None), shuffled."""
    plan: list[Fault | None] = [*faults, *([None] * n_valid)]
    rng.shuffle(plan)
    return plan


def _records(plan: list[Fault | None], make: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, fault in enumerate(plan):
        record = make(i)
        if fault is not None:
            fault.apply(record)
        out.append(record)
    return out


@dataclass
class Generated:
    path: Path
    fmt: str
    #: per record, in document order: its fault (None for a valid one) and its valid url
    expected: list[tuple[Fault | None, str]]


def generate(kind: str, seed: int, tmp_path: Path) -> Generated:
    """One file of format ``kind`` holding every fault of that format among valid records."""
    rng = random.Random(seed)
    if kind in ("claimreview-json", "claimreview-jsonl", "claimreview-html", "datacommons"):
        plan = _plan(rng, CLAIMREVIEW_FAULTS, 15)
        docs = _records(plan, _claimreview)
        if kind == "claimreview-json":
            text = "[" + ",\n".join(_dumps(d) for d in docs) + "]"
        elif kind == "claimreview-jsonl":
            text = "\n".join(_dumps(d) for d in docs) + "\n"
        elif kind == "claimreview-html":
            scripts = "\n".join(f'<script type="application/ld+json">{_dumps(d)}</script>' for d in docs)
            text = f"<!doctype html>\n<html><head>\n{scripts}\n</head><body><p>SYNTHETIC</p></body></html>\n"
        else:
            elements = ",\n".join('{"@type": "DataFeedItem", "item": [%s]}' % _dumps(d) for d in docs)
            text = '{"@type": "DataFeed", "dataFeedElement": [%s]}' % elements
        fmt = "datacommons" if kind == "datacommons" else "claimreview"
    elif kind in ("factcheck-tools-page", "factcheck-tools-jsonl"):
        plan = _plan(rng, TOOLS_FAULTS, 12)
        claims = _records(plan, _tools_claim)
        if kind == "factcheck-tools-page":
            text = '{"claims": [%s], "nextPageToken": "CAo"}' % ",\n".join(_dumps(c) for c in claims)
        else:
            text = "\n".join(_dumps(c) for c in claims) + "\n"
        fmt = "factcheck-tools"
    else:  # csv
        row_faults = [Fault(name, lambda r: None, REJECTED) for name in CSV_ROW_FAULTS]
        plan = _plan(rng, CSV_FAULTS + row_faults, 12)
        header = list(_csv_row(0))
        lines = [",".join(header).encode()]
        for i, fault in enumerate(plan):
            row = _csv_row(i)
            if fault is not None:
                fault.apply(row)
            line = ",".join(f'"{row[h]}"' for h in header)
            if fault is not None and fault.name in CSV_ROW_FAULTS:
                line = CSV_ROW_FAULTS[fault.name](line)
            lines.append(line.encode("latin-1" if fault is not None and fault.name == "not UTF-8" else "utf-8"))
        path = tmp_path / f"{kind}-{seed}.csv"
        path.write_bytes(b"\n".join(lines) + b"\n")
        return Generated(path, "csv", [(f, f"https://factcheck.example/fc/{i}") for i, f in enumerate(plan)])
    path = tmp_path / f"{kind}-{seed}.{'html' if kind.endswith('html') else 'jsonl' if 'jsonl' in kind else 'json'}"
    path.write_text(text, encoding="utf-8")
    return Generated(path, fmt, [(f, f"https://factcheck.example/fc/{i}") for i, f in enumerate(plan)])


KINDS = [
    "claimreview-json",
    "claimreview-jsonl",
    "claimreview-html",
    "datacommons",
    "factcheck-tools-page",
    "factcheck-tools-jsonl",
    "csv",
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("kind", KINDS)
def test_no_record_stops_a_factcheck_reader(tmp_path: Path, kind: str, seed: int) -> None:
    generated = generate(kind, seed, tmp_path)
    ctx = ReadContext(observed_at=datetime(2024, 9, 1, tzinfo=UTC))
    results = list(FACTCHECK_FORMATS[generated.fmt](generated.path, ctx))  # no exception may escape
    assert len(results) == len(generated.expected), "one result per record, in order"
    for result, (fault, url) in zip(results, generated.expected, strict=True):
        what = fault.name if fault else "valid record"
        if fault is None or fault.outcome == WARNED:
            assert isinstance(result, Parsed), f"{what}: {getattr(result, 'reason', '')}"
            assert result.record.review_url == url, what
            if fault is None:
                assert result.warnings == [], what
                assert (result.record.rating_text, result.record.review_date) in {
                    ("False", datetime(2024, 7, 29, tzinfo=UTC)),
                    ("Mostly False", datetime(2024, 7, 29, tzinfo=UTC)),
                }, what
            else:
                assert result.warnings and all(w.reason for w in result.warnings), what
        else:
            assert isinstance(result, Rejected), what
            assert result.source.location and result.source.location != "document", what
            assert result.reason, what
            json.dumps(result.raw)  # the quarantine can store what it keeps


def _ingest_and_check(ws: claimwatch.Workspace, generated: Generated) -> None:
    report = ws.ingest_factchecks([generated.path])
    landed = [f for f, _ in generated.expected if f is None or f.outcome == WARNED]
    bad = [f for f, _ in generated.expected if f is not None and f.outcome == REJECTED]
    assert report.files[0].error is None and report.files[0].format == generated.fmt
    assert (report.inserted, report.files[0].rejected) == (len(landed), len(bad))
    assert report.warnings >= sum(1 for f in landed if f is not None)
    assert ws.ingest_factchecks([generated.path]).inserted == 0


@pytest.mark.slow  # over half a second on 2 cores
@pytest.mark.parametrize("kind", KINDS)
def test_faulty_files_ingest_into_a_store(ws: claimwatch.Workspace, tmp_path: Path, kind: str) -> None:
    _ingest_and_check(ws, generate(kind, 7, tmp_path))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_faulty_files_ingest_into_postgres(tmp_path: Path) -> None:
    assert PG_URL
    ws = claimwatch.open(PG_URL)
    for kind in KINDS:  # the kinds share review urls: one fresh store each
        ws.reset()
        _ingest_and_check(ws, generate(kind, 11, tmp_path))


def test_deep_json_document_outside_any_record_is_ignored(tmp_path: Path) -> None:
    """Depth that breaks the parser, outside every ClaimReview, costs nothing."""
    good = _dumps(_claimreview(1))
    path = tmp_path / "page.json"
    path.write_text(
        '{"@graph": [%s, {"@type": "WebPage", "breadcrumb": %s}]}' % (good, LITERALS["@DEEP@"]), encoding="utf-8"
    )
    parsed, rejected = run_reader(FACTCHECK_FORMATS["claimreview"], path, datetime(2024, 9, 1, tzinfo=UTC))
    assert [p.record.review_url for p in parsed] == ["https://factcheck.example/fc/1"] and rejected == []


def test_html_the_parser_chokes_on_keeps_what_came_before(tmp_path: Path) -> None:
    first, second = _dumps(_claimreview(1)), _dumps(_claimreview(2))
    path = tmp_path / "page.html"
    path.write_text(
        f'<html>\n<script type="application/ld+json">{first}</script>\n<![bogus[ x ]]>\n'
        f'<script type="application/ld+json">{second}</script>\n</html>\n',
        encoding="utf-8",
    )
    parsed, rejected = run_reader(FACTCHECK_FORMATS["claimreview"], path, datetime(2024, 9, 1, tzinfo=UTC))
    assert [p.record.review_url for p in parsed] == ["https://factcheck.example/fc/1"]
    [bad] = rejected
    assert bad.source.location == "line 3" and "HTML could not be parsed from here on" in bad.reason
