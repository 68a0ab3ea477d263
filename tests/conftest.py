"""Shared fixtures: fresh stores, small hand-made inputs, and one encoder per test session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

import claimwatch
from claimwatch.claims.encoder import Encoder
from claimwatch.config import ENV_VARS
from claimwatch.records import Parsed, ReadResult, Rejected
from claimwatch.sources.base import ReadContext

FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The research datasets beside the checkout (tests using them skip when absent).
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

Reader = Callable[[Path, ReadContext], Iterator[ReadResult]]


def run_reader(
    reader: Reader, path: Path, observed_at: datetime, **ctx_args: object
) -> tuple[list[Parsed], list[Rejected]]:
    """All results of one reader on one file, split into parsed records and rejections."""
    parsed: list[Parsed] = []
    rejected: list[Rejected] = []
    for result in reader(path, ReadContext(observed_at=observed_at, **ctx_args)):
        (rejected if isinstance(result, Rejected) else parsed).append(result)
    return parsed, rejected


def write_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs an outside service (a PostgreSQL server, chromium) is slow as well, so the
    fast tier is simply ``-m "not slow"`` whatever the machine has installed."""
    for item in items:
        if item.get_closest_marker("postgres") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real bundled MiniLM, loaded once (a few seconds)."""
    enc = Encoder()
    enc.encode(["warm up"])
    return enc


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every setting at its default, whatever the developer's shell or folder says: no settings
    variable (the list comes from the settings definition) and no ``claimwatch.toml`` (a fresh cwd)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _outputs_fit_their_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every report and study JSON any test writes (``--json``, ``report.json``, ``study.json``,
    the demo) comes from ``to_dict``: check each against its declared schema (issue 11, B3)."""
    from claimwatch.analysis.report import Report
    from claimwatch.analysis.study import StudyResult
    from claimwatch.schemas import validate

    for cls in (Report, StudyResult):

        def checked(self: object, _to_dict: Callable[[object], dict] = cls.to_dict) -> dict:
            data = _to_dict(self)
            validate(data)
            return data

        monkeypatch.setattr(cls, "to_dict", checked)


@pytest.fixture()
def ws(tmp_path: Path) -> claimwatch.Workspace:
    return claimwatch.open(tmp_path / "t.db")


#: A PostgreSQL database the tests may empty (see README "Run the tests"); unset, its tests skip.
PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL"),
            ],
        ),
    ]
)
def each_store(request: pytest.FixtureRequest, tmp_path: Path) -> claimwatch.Workspace:
    """The same test on a fresh SQLite store and on the (emptied) PostgreSQL test database."""
    if request.param == "sqlite":
        return claimwatch.open(tmp_path / "t.db")
    ws = claimwatch.open(PG_URL)
    ws.reset()
    return ws


@pytest.fixture()
def mws(ws: claimwatch.Workspace, encoder: Encoder) -> claimwatch.Workspace:
    """A workspace sharing the session's loaded encoder (the same bundled model the default resolves to)."""
    ws._encoder = encoder
    return ws


def page(
    posts: list[dict],
    users: list[dict] | None = None,
    retrieved_at: str | None = "2024-08-01T12:00:00+00:00",
    tweets: list[dict] | None = None,
) -> dict:
    """An X API v2 page (twarc2 line when ``retrieved_at`` is set)."""
    users = users or [{"id": "111", "username": "demo_account", "name": "Demo (synthetic)"}]
    p = {
        "data": posts,
        "includes": {"users": users, **({"tweets": tweets} if tweets else {})},
        "meta": {"result_count": len(posts)},
    }
    if retrieved_at:
        p["__twarc"] = {"url": "https://api.example.org", "version": "2.14.1", "retrieved_at": retrieved_at}
    return p


def post(
    pid: str,
    text: str,
    views: int | None = 1000,
    *,
    author: str = "111",
    created: str = "2024-07-01T10:00:00.000Z",
    ref: tuple[str, str] | None = None,
    **extra: object,
) -> dict:
    metrics = {"retweet_count": 1, "reply_count": 2, "like_count": 3, "quote_count": 4, "bookmark_count": 5}
    if views is not None:
        metrics["impression_count"] = views
    d = {"id": pid, "text": text, "author_id": author, "created_at": created, "lang": "en", "public_metrics": metrics}
    if ref:
        d["referenced_tweets"] = [{"type": ref[0], "id": ref[1]}]
    d.update(extra)
    return d


@pytest.fixture()
def write_jsonl(tmp_path: Path) -> Callable[[str, list], Path]:
    def _write(name: str, lines: list) -> Path:
        path = tmp_path / name
        path.write_text(
            "".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines), encoding="utf-8"
        )
        return path

    return _write


def claimreview(
    url: str, claim: str, rating: str | None = "False", publisher: str = "Example Check (synthetic)", **extra: object
) -> dict:
    d: dict = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": url,
        "claimReviewed": claim,
        "datePublished": "2024-07-29",
        "author": {"@type": "Organization", "name": publisher},
    }
    if rating is not None:
        d["reviewRating"] = {"@type": "Rating", "alternateName": rating}
    d.update(extra)
    return d
