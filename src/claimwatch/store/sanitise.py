"""Make records fit the store before they are written: the same input, the same result on
SQLite and PostgreSQL.

PostgreSQL refuses values SQLite takes: a NUL character in any text, a string longer than
its column, a count beyond BIGINT. Either store refuses a lone surrogate (a ``"\\ud800"``
JSON escape, a file name that is not UTF-8). Any of them used to abort a whole batch on one
store and pass on the other. Every ``repo`` writer runs its records through here first, and
the decision is made per field:

- **keys** (platform, ids, media keys, review URLs, label kinds) that do not fit their
  column or hold NUL / a surrogate: the record is rejected with the reason (a media key:
  that media item is dropped), because a cut or cleaned id would name another record;
- **free text** (post text, names, claims, titles, notes' fields): NUL removed, surrogates
  replaced by U+FFFD, with a field warning;
- **short codes and links** (language, handle, media type, note status, URLs): unknown
  (None) with a field warning;
- **numbers**: counts outside 0 … 2⁶³−1 and non-finite ratings become unknown, warned;
- **raw records** (JSON columns) are kept as they came: JSON escapes NUL and surrogates, so
  both stores hold them faithfully; ``NaN``/``Infinity`` (not JSON) are written as strings
  (see :func:`json_dumps`);
- **quarantine and provenance text** is escaped instead (NUL shows as ``\\u0000``), so the
  quarantine itself can never fail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.sources.base import clip_raw
from claimwatch.store import schema as s

#: Code points neither store can hold in text: NUL (PostgreSQL) and lone surrogates (both).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
BIGINT_MAX = 2**63 - 1


def storable(text: str) -> bool:
    """True when ``text`` can go into a text column of either store as it is."""
    return "\x00" not in text if text.isascii() else _UNSTORABLE.search(text) is None


def strip_text(text: str) -> str:
    """Derived text: NUL removed, a lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def escape_text(text: str, limit: int | None = None) -> str:
    """Evidence text (quarantine, provenance): unstorable code points written as ``\\uXXXX``,
    cut to ``limit`` characters (the cut marked)."""
    if not storable(text):
        text = _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def json_dumps(obj: Any) -> str:
    """The stores' JSON serializer: ``NaN``/``Infinity`` (which Python's parser accepts but JSON
    and PostgreSQL do not) are written as the strings "NaN", "Infinity", "-Infinity"."""
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if math.isnan(obj) else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def column_limit(column: sa.Column[Any]) -> int | None:
    return getattr(column.type, "length", None)


class Unfit(ValueError):
    """A key that cannot be stored: the record is rejected."""


class _Check:
    """Checks one record's fields: collects replaced values and warnings, raises :class:`Unfit`.
    (Runs for every row of a multi-million-row download: slotted, and ``what`` — the record named
    in a message — is only spelled out when there is something to say.)"""

    __slots__ = ("_kind", "_ident", "changes", "warnings")

    def __init__(self, kind: str, ident: object) -> None:
        self._kind, self._ident = kind, ident
        self.changes: dict[str, Any] = {}
        self.warnings: list[str] = []

    @property
    def what(self) -> str:
        return f"{self._kind} {_show(self._ident)}"

    def key(self, name: str, value: str | None, column: sa.Column[Any]) -> None:
        problem = _problem(value, column)
        if problem:
            shown = "" if _show(value) in self.what else f" {_show(value)}"
            raise Unfit(f"{self.what}: {name}{shown} {problem}; the record cannot be stored")

    def text(self, name: str, value: str | None) -> None:
        if value is not None and not storable(value):
            self.changes[name] = strip_text(value)
            self.warnings.append(f"field {name}: NUL or invalid characters removed")

    def short(self, name: str, value: str | None, column: sa.Column[Any]) -> None:
        problem = _problem(value, column)
        if problem:
            self.changes[name] = None
            self.warnings.append(f"field {name} = {_show(value)} {problem}; stored as unknown")

    def count(self, name: str, value: int | None) -> None:
        if value is not None and not 0 <= value <= BIGINT_MAX:
            self.changes[name] = None
            self.warnings.append(f"field {name} = {_show(value)} is out of range for a count; stored as unknown")

    def number(self, name: str, value: float | None) -> None:
        if value is not None and not math.isfinite(value):
            self.changes[name] = None
            self.warnings.append(f"field {name} = {value!r} is not a finite number; stored as unknown")

    def nested(self, name: str, check: _Check, value: Any) -> Any:
        """Fold a nested record's check into this one (its warnings prefixed with ``name``)."""
        self.warnings += [w.replace("field ", f"field {name}.", 1) for w in check.warnings]
        return replace(value, **check.changes) if check.changes else value


def _problem(value: str | None, column: sa.Column[Any]) -> str | None:
    if value is None:
        return None
    limit = getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        return f"is {len(value):,} characters, longer than the {limit} the store keeps"
    if not storable(value):
        return "holds a NUL or an invalid character"
    return None


def _show(value: object, limit: int = 80) -> str:
    return escape_text(repr(value), limit)


T = TypeVar("T")


@dataclass
class Fitted(Generic[T]):
    """Records that can be written (some with fields set to unknown), and those that cannot."""

    records: list[T]
    #: the input position of each record kept
    kept: list[int] = field(default_factory=list)
    rejected: list[r.Rejected] = field(default_factory=list)
    #: one entry per field stored as unknown or cleaned (quarantined as ``field_dropped``)
    warnings: list[r.Rejected] = field(default_factory=list)


def _fit(records: Sequence[Any], check: Callable[[Any], _Check], describe: Callable[[Any], str]) -> Fitted[Any]:
    out: Fitted[Any] = Fitted([])
    for i, rec in enumerate(records):
        try:
            c = check(rec)
        except Unfit as exc:
            out.rejected.append(r.Rejected(_source(rec), str(exc), _raw(rec)))
            continue
        out.records.append(replace(rec, **c.changes) if c.changes else rec)
        out.kept.append(i)
        if c.warnings:
            raw = _raw(rec)
            out.warnings += [r.Rejected(_source(rec), f"{describe(rec)}: {w}", raw) for w in c.warnings]
    return out


def _source(rec: Any) -> r.SourceRef:
    return rec.source or r.SourceRef("?", "?", "?")


def _raw(rec: Any) -> str:
    return clip_raw(json.dumps(getattr(rec, "raw", None), ensure_ascii=False, default=str))


# --------------------------------------------------------------------------- posts

P, A, M = s.Post.__table__.c, s.Author.__table__.c, s.Media.__table__.c
_METRICS = r.METRIC_FIELDS


def _check_post(p: r.Post) -> _Check:
    c = _Check("post", p.platform_id)
    c.key("platform", p.platform, P.platform)
    c.key("platform_id", p.platform_id, P.platform_id)
    c.text("text", p.text)
    c.short("lang", p.lang, P.lang)
    c.short("url", p.url, P.url)
    c.short("referenced_id", p.referenced_id, P.referenced_id)
    if p.author is not None:
        _check_author(p.author, c)
    if p.media:
        _check_media(p.media, c)
    if p.metrics is not None:
        m = _Check("post", p.platform_id)
        for name in _METRICS:
            m.count(name, getattr(p.metrics, name))
        if m.changes:
            c.changes["metrics"] = c.nested("metrics", m, p.metrics)
    return c


def _check_author(a: r.Author, c: _Check) -> None:
    if _problem(a.platform, A.platform) or _problem(a.platform_id, A.platform_id):
        c.changes["author"] = None
        c.warnings.append(
            f"field author.platform_id = {_show(a.platform_id)}: not a storable account id; author stored as unknown"
        )
        return
    ac = _Check("author", a.platform_id)
    ac.short("handle", a.handle, A.handle)
    ac.text("name", a.name)
    ac.count("followers", a.followers)
    if ac.changes:
        c.changes["author"] = c.nested("author", ac, a)


def _check_media(media: list[r.MediaRef], c: _Check) -> None:
    kept = []
    for i, m in enumerate(media):
        problem = _problem(m.media_key, M.media_key)
        if problem:
            c.warnings.append(f"field media[{i}].media_key = {_show(m.media_key)} {problem}; media item dropped")
            continue
        mc = _Check("media", m.media_key)
        mc.short("type", m.type, M.type)
        mc.short("url", m.url, M.url)
        mc.short("preview_url", m.preview_url, M.preview_url)
        mc.count("duration_ms", m.duration_ms)
        mc.count("view_count", m.view_count)
        kept.append(c.nested(f"media[{i}]", mc, m))
    if kept != media:
        c.changes["media"] = kept


def fit_posts(posts: Sequence[r.Post]) -> Fitted[r.Post]:
    return _fit(posts, _check_post, lambda p: f"post {p.platform_id}")


# --------------------------------------------------------------------------- fact-checks

F = s.FactCheck.__table__.c


def _check_factcheck(fc: r.FactCheck) -> _Check:
    c = _Check("fact-check", fc.review_url)
    c.key("review_url", fc.review_url, F.review_url)
    for name in ("claim_text", "claimant", "publisher_name", "publisher_site", "title", "rating_text"):
        c.text(name, getattr(fc, name))
    c.short("language", fc.language, F.language)
    for name in ("rating_value", "best_rating", "worst_rating"):
        c.number(name, getattr(fc, name))
    return c


def fit_factchecks(fcs: Sequence[r.FactCheck]) -> Fitted[r.FactCheck]:
    return _fit(fcs, _check_factcheck, lambda fc: f"fact-check {fc.review_url}")


# --------------------------------------------------------------------------- Community Notes and labels

N, NS, NR, L = (s.Note.__table__.c, s.NoteStatus.__table__.c, s.NoteRatings.__table__.c, s.LabelEvent.__table__.c)
_STATUS_CODES = ("current_status", "first_non_nmr_status", "latest_non_nmr_status", "locked_status")


def _check_note(n: r.Note) -> _Check:
    c = _Check("note", n.note_id)
    c.key("note_id", n.note_id, N.note_id)
    c.key("tweet_id", n.tweet_id, N.tweet_id)
    c.short("classification", n.classification, N.classification)
    c.short("author_id", n.author_id, N.author_id)
    return c


def _check_status(st: r.NoteStatus) -> _Check:
    c = _Check("note", st.note_id)
    c.key("note_id", st.note_id, NS.note_id)
    for name in _STATUS_CODES:
        c.short(name, getattr(st, name), NS[name])
    c.short("decided_by", st.decided_by, NS.decided_by)
    return c


def _check_ratings(x: r.NoteRatings) -> _Check:
    c = _Check("ratings of note", x.note_id)
    c.key("note_id", x.note_id, NR.note_id)
    c.key("file_name", x.file_name, NR.file_name)
    return c


def _check_label(e: r.LabelEvent) -> _Check:
    c = _Check("label event on post", e.platform_id)
    for name in ("platform", "platform_id", "label", "event_type", "action"):
        c.key(name, getattr(e, name), L[name])
    c.text("label_title", e.label_title)
    c.text("details", e.details)
    c.short("details_url", e.details_url, L.details_url)
    return c


def fit_notes(notes: Sequence[r.Note]) -> Fitted[r.Note]:
    return _fit(notes, _check_note, lambda n: f"note {n.note_id}")


def fit_statuses(rows: Sequence[r.NoteStatus]) -> Fitted[r.NoteStatus]:
    return _fit(rows, _check_status, lambda st: f"note {st.note_id}")


def fit_ratings(rows: Sequence[r.NoteRatings]) -> Fitted[r.NoteRatings]:
    return _fit(rows, _check_ratings, lambda x: f"ratings of note {x.note_id}")


def fit_labels(events: Sequence[r.LabelEvent]) -> Fitted[r.LabelEvent]:
    return _fit(events, _check_label, lambda e: f"label event on post {e.platform_id}")
