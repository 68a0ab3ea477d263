"""The study definition file (YAML): everything a study report is computed from, checked
completely before any work starts. An example with every key::

    title: Posts by @example_account repeating debunked election claims
    platform: x                       # or a list; default: all platforms in the store
    accounts: [example_account]       # handles; default: every account
    window: {from: 2024-01-01, to: 2024-07-31}      # dates inclusive (UTC)
    topic:                            # which posts count as "about the topic" (optional)
      name: election
      keywords: [election, ballot*, vote*]          # and/or descriptions: [...] (see topics.py)
    # or: topic: us-election-2024     # a topic already scored by `claimwatch match --topics`
    include:
      kinds: [original, quote]        # reposts carry no views of their own
      matches: confirmed              # confirmed | proposed (confirmed + machine proposals)
      min_confidence: 0.9             # for machine proposals with a calibrated confidence
      verdicts: [false, misleading]
    narratives:
      - name: importing voters
        description: Claims that non-citizens are brought in or registered to vote
        factchecks: [https://www.politifact.com/...]  # seed fact-checks (review URLs)
        keywords: [non-citizen*, illegal alien*]
    cpm_usd: 1.39                     # ad-equivalent price of 1,000 views
    views: {policy: as_of, as_of: 2024-08-01}       # or {policy: latest}
    notes: {as_of: 2024-08-12}        # Community Notes snapshot date (default: latest)
    labels: {as_of: 2024-08-01}       # "carried a label" at this time (default: window end)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from claimwatch.claims.topics import TopicError, TopicSet
from claimwatch.records import PostKind, Verdict

_KEYS = {
    "title",
    "platform",
    "accounts",
    "window",
    "topic",
    "include",
    "narratives",
    "cpm_usd",
    "views",
    "notes",
    "labels",
}
_INCLUDE_KEYS = {"kinds", "matches", "min_confidence", "verdicts"}
_NARRATIVE_KEYS = {"name", "description", "factchecks", "keywords"}


class StudyError(ValueError):
    """A study file that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Narrative:
    name: str
    description: str = ""
    factchecks: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Study:
    title: str
    start: date
    end: date
    accounts: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    #: a stored topic's name, an inline topic set (one topic), or None (every post is on-topic)
    topic: str | TopicSet | None = None
    kinds: tuple[str, ...] = (PostKind.ORIGINAL.value, PostKind.QUOTE.value)
    confirmed_only: bool = True
    min_confidence: float | None = None
    verdicts: tuple[str, ...] = (Verdict.FALSE.value, Verdict.MISLEADING.value)
    narratives: tuple[Narrative, ...] = ()
    cpm_usd: float | None = None
    views_as_of: datetime | None = None
    notes_as_of: datetime | None = None
    labels_as_of: datetime | None = None
    source: str = ""
    source_sha256: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime:
        """Exclusive end: the day after ``end``."""
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)


def load_study(path: str | Path) -> Study:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(f"cannot read study file {p}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyError(f"{p}: not valid YAML: {exc}") from exc
    return parse_study(data, str(p), hashlib.sha256(text.encode()).hexdigest())


def parse_study(data: Any, source: str = "study", sha256: str = "") -> Study:
    if not isinstance(data, dict):
        raise StudyError(f"{source}: a study file is a mapping of keys such as title, accounts, window")
    _no_unknown(data, _KEYS, source)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise StudyError(f"{source}: 'title' is required")
    window = data.get("window")
    if not isinstance(window, dict) or set(window) != {"from", "to"}:
        raise StudyError(f"{source}: 'window' needs 'from' and 'to' dates, e.g. {{from: 2024-01-01, to: 2024-07-31}}")
    start, end = _date(window["from"], f"{source}: window.from"), _date(window["to"], f"{source}: window.to")
    if end < start:
        raise StudyError(f"{source}: the window is empty ({start} is after {end})")
    include = data.get("include") or {}
    if not isinstance(include, dict):
        raise StudyError(f"{source}: 'include' must be a mapping")
    _no_unknown(include, _INCLUDE_KEYS, f"{source}: include")
    kinds = _choices(
        include.get("kinds", ["original", "quote"]), [k.value for k in PostKind], f"{source}: include.kinds", "kind"
    )
    matches = include.get("matches", "confirmed")
    if matches not in ("confirmed", "proposed"):
        raise StudyError(f"{source}: include.matches must be 'confirmed' or 'proposed', not {matches!r}")
    min_conf = include.get("min_confidence")
    if min_conf is not None and (
        isinstance(min_conf, bool) or not isinstance(min_conf, int | float) or not 0 <= min_conf <= 1
    ):
        raise StudyError(f"{source}: include.min_confidence must be a probability in [0, 1]")
    verdicts = _choices(
        include.get("verdicts", ["false", "misleading"]),
        [v.value for v in Verdict],
        f"{source}: include.verdicts",
        "verdict",
    )
    cpm = data.get("cpm_usd")
    if cpm is not None and (isinstance(cpm, bool) or not isinstance(cpm, int | float) or cpm < 0):
        raise StudyError(f"{source}: cpm_usd must be a non-negative number of dollars per 1,000 views")
    return Study(
        title=title.strip(),
        start=start,
        end=end,
        accounts=tuple(a.lstrip("@") for a in _strings(data.get("accounts", []), f"{source}: accounts")),
        platforms=_strings(data.get("platform", []), f"{source}: platform"),
        topic=_topic(data.get("topic"), source),
        kinds=kinds,
        confirmed_only=matches == "confirmed",
        min_confidence=None if min_conf is None else float(min_conf),
        verdicts=verdicts,
        narratives=_narratives(data.get("narratives", []), source),
        cpm_usd=None if cpm is None else float(cpm),
        views_as_of=_views(data.get("views"), source),
        notes_as_of=_as_of(data.get("notes"), f"{source}: notes"),
        labels_as_of=_as_of(data.get("labels"), f"{source}: labels"),
        source=source,
        source_sha256=sha256,
        raw=data,
    )


def _no_unknown(obj: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise StudyError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(known))})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise StudyError(f"{where}: expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _choices(value: Any, allowed: list[str], where: str, what: str) -> tuple[str, ...]:
    # YAML reads an unquoted `false` (the verdict) as a boolean: take it back as the word.
    if isinstance(value, list):
        value = [str(v).lower() if isinstance(v, bool) else v for v in value]
    chosen = _strings(value, where)
    bad = sorted(set(chosen) - set(allowed))
    if bad or not chosen:
        raise StudyError(f"{where}: unknown {what} {bad[0] if bad else '(none)'!r} ({what}s: {', '.join(allowed)})")
    return chosen


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise StudyError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _moment(value: Any, where: str) -> datetime:
    """A date means the end of that day (UTC): "as of 2024-08-01" includes what was seen on it."""
    end_of_day = time(23, 59, 59, tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, end_of_day)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise StudyError(f"{where}: {value!r} is not a date or time") from None
    if len(str(value)) <= 10:
        return datetime.combine(dt.date(), end_of_day)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _as_of(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"as_of"}:
        raise StudyError(f"{where}: expected {{as_of: YYYY-MM-DD}}")
    return _moment(value["as_of"], f"{where}.as_of")


def _views(value: Any, source: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StudyError(f"{source}: views must be {{policy: latest}} or {{policy: as_of, as_of: YYYY-MM-DD}}")
    _no_unknown(value, {"policy", "as_of"}, f"{source}: views")
    policy = value.get("policy", "latest")
    if policy == "latest":
        if "as_of" in value:
            raise StudyError(f"{source}: views.as_of needs policy: as_of")
        return None
    if policy != "as_of" or "as_of" not in value:
        raise StudyError(f"{source}: views.policy must be 'latest' or 'as_of' (with views.as_of)")
    return _moment(value["as_of"], f"{source}: views.as_of")


def _topic(value: Any, source: str) -> str | TopicSet | None:
    if value is None or isinstance(value, str):
        return value
    try:
        return TopicSet.from_dicts([value], f"{source}: topic")
    except TopicError as exc:
        raise StudyError(str(exc)) from None


def _narratives(value: Any, source: str) -> tuple[Narrative, ...]:
    if not isinstance(value, list):
        raise StudyError(f"{source}: narratives must be a list")
    out = []
    for i, obj in enumerate(value, start=1):
        where = f"{source}: narratives[{i}]"
        if not isinstance(obj, dict):
            raise StudyError(f"{where}: a narrative is a mapping with name and description/factchecks/keywords")
        _no_unknown(obj, _NARRATIVE_KEYS, where)
        name = obj.get("name")
        if not isinstance(name, str) or not name.strip():
            raise StudyError(f"{where}: 'name' is required")
        description = obj.get("description") or ""
        if not isinstance(description, str):
            raise StudyError(f"{where} ({name}): 'description' must be text")
        n = Narrative(
            name.strip(),
            description.strip(),
            _strings(obj.get("factchecks", []), f"{where}.factchecks"),
            _strings(obj.get("keywords", []), f"{where}.keywords"),
        )
        if not (n.description or n.factchecks or n.keywords):
            raise StudyError(f"{where} ({name}): give a description, seed factchecks or keywords")
        out.append(n)
    names = [n.name for n in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise StudyError(f"{source}: narrative {dup!r} is defined twice")
    return tuple(out)
