"""Normalise fact-checkers' free-text ratings into :class:`~claimwatch.records.Verdict`.

Why a data table and not code: every publisher has its own scale and wording, and
analysts need to add or correct entries without touching code. The shipped table is
``claimwatch/data/verdicts.tsv`` (``rating<TAB>verdict<TAB>lang<TAB>note``). Users can
add TSV/CSV files with the same columns; their rows override shipped ones.

Class decisions (DESIGN): *misleading* includes missing context, out of context,
half-true, partly true/false and mostly-false, because a study headline counts
"false or misleading" and these all leave a false impression. *mixed* is kept for
ratings that explicitly say both ("Mixture", "Discutible"). Unsupported / no evidence
is *unproven*, not false: nothing was shown to be untrue; so are Snopes' "Legend"
(folklore whose truth cannot be established) and hedged verdicts ("probably false"). Ratings that do not judge
accuracy (Flip-O-Meter, Promise-O-Meter, "Outdated") are *other*. One Pinocchio is
*true* because the Washington Post itself likens it to Mostly True.

Lookup, in order (the first hit wins; the method says which one was used):

1. ``table``: the :func:`normalise_key` of the text, exactly;
2. ``table``: the same key with accents stripped (against accent-stripped table keys),
   so "Enganoso" typed without the tilde still works. Accents are not stripped in the
   first lookup because they can carry meaning;
3. ``table``: prefix rule: a rating that starts with a table entry followed by a
   separator (``. : ; , ! | ( – —`` or `` - ``) and some explanation, e.g.
   "False. The photo is from 2015" or "Misleading: the figure is old". Only the text
   before the first separator is tried, so a later word cannot override the lead;
4. ``sentence``: a sentence-style rating ("This is false", "We rate the claim Mostly
   False", "No es cierto", "Totally False. The video ...") is read by the rule in
   :mod:`claimwatch.verdict_sentences`: the table entry in the first sentence, after a
   copula or a rating verb or at its start, with negations and hedges applied ("not
   true" → false, "probably false" → unproven, "not false" → refused);
5. ``numeric``: when the text is missing or unknown and ``rating_value`` and ``best``
   are given: ``s = (value - worst) / (best - worst)`` with ``worst`` defaulting to 1
   when ``best > 1`` and to 0 otherwise (ClaimReview's own default scale is 1..5).
   ``best == worst`` or ``s`` outside [0, 1] (e.g. the ``-1`` "not verifiable"
   convention) is refused. Bands: ``s < 0.125`` false, ``< 0.375`` misleading,
   ``< 0.625`` mixed, else true; on a 1..5 scale that is 1 false, 2 misleading,
   3 mixed, 4-5 true, matching the table's Mostly True -> true. A known text always
   beats the numbers: publishers' numeric scales are less consistent than their words;
6. ``unmapped``: verdict ``None``.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from claimwatch.records import Verdict
from claimwatch.verdict_sentences import sentence_verdict, words

_DASHES = re.compile(r"[\s\-‐‑_]+")
_PREFIX_SEPARATOR = re.compile(r"[.:;,!|(–—]|\s-\s")
_REQUIRED_COLUMNS = ("rating", "verdict")


def normalise_key(text: str) -> str:
    """The lookup key of a rating: casefolded, hyphens/underscores/whitespace collapsed
    to one space, typographic apostrophes made plain, surrounding punctuation removed.

    "Pants on Fire!", "pants-fire" → "pants on fire" / "pants fire".
    """
    s = unicodedata.normalize("NFC", text).casefold().replace("’", "'")
    s = _DASHES.sub(" ", s)
    start, end = 0, len(s)
    while start < end and _is_edge(s[start]):
        start += 1
    while end > start and _is_edge(s[end - 1]):
        end -= 1
    return s[start:end]


def _is_edge(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZ"


def _strip_accents(key: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", key) if not unicodedata.combining(c))


class VerdictTable:
    """Rating text → verdict lookups; build with :meth:`load`."""

    __slots__ = ("_exact", "_folded", "_phrases", "_folded_phrases", "_longest")

    def __init__(self, rows: Iterable[tuple[str, Verdict]]) -> None:
        """``rows`` are ``(key, verdict)`` pairs; later rows override earlier ones."""
        self._exact: dict[str, Verdict] = {}
        self._folded: dict[str, Verdict] = {}
        for key, verdict in rows:
            self._exact[key] = verdict
            self._folded[_strip_accents(key)] = verdict
        # The same entries as word tuples, for finding them inside sentences.
        self._phrases = {words(key): v for key, v in self._exact.items()}
        self._folded_phrases = {words(key): v for key, v in self._folded.items()}
        self._longest = max(map(len, self._phrases), default=0)

    @classmethod
    def load(cls, extra: list[Path] | None = None) -> VerdictTable:
        """The shipped table plus user files (in order; later rows win).

        A malformed user row raises ``ValueError`` naming the file and line: a silently
        skipped row would silently change study counts.
        """
        if not extra:
            return _default_table()
        rows = list(_shipped_rows())
        for path in extra:
            rows.extend(_read_table(Path(path)))
        return cls(rows)

    def lookup(self, rating_text: str) -> Verdict | None:
        """The verdict of a rating text by the table alone (no numeric fallback)."""
        return self._lookup(rating_text)[0]

    def _lookup(self, rating_text: str) -> tuple[Verdict | None, str]:
        """Exact key, accent-stripped key, prefix rule (``table``), then the sentence rule."""
        hit = self._lookup_key(normalise_key(rating_text))
        sep = _PREFIX_SEPARATOR.search(rating_text)
        if hit is None and sep is not None and sep.start() > 0:
            hit = self._lookup_key(normalise_key(rating_text[: sep.start()]))
        if hit is not None:
            return hit, "table"
        hit = sentence_verdict(rating_text, self._phrase_at)
        return hit, "sentence" if hit is not None else "unmapped"

    def _phrase_at(self, clause: tuple[str, ...], i: int) -> tuple[Verdict, int] | None:
        """The longest entry that ``clause[i:]`` starts with, as ``(verdict, end)``."""
        for end in range(min(len(clause), i + self._longest), i, -1):
            part = clause[i:end]
            hit = self._phrases.get(part)
            if hit is None:
                hit = self._folded_phrases.get(tuple(_strip_accents(w) for w in part))
            if hit is not None:
                return hit, end
        return None

    def _lookup_key(self, key: str) -> Verdict | None:
        if not key:
            return None
        hit = self._exact.get(key)
        return hit if hit is not None else self._folded.get(_strip_accents(key))

    def normalise(
        self,
        rating_text: str | None,
        rating_value: float | None = None,
        best: float | None = None,
        worst: float | None = None,
    ) -> tuple[Verdict | None, str]:
        """``(verdict, method)``; method ``"table"``, ``"sentence"``, ``"numeric"`` or ``"unmapped"``."""
        if rating_text:
            hit, method = self._lookup(rating_text)
            if hit is not None:
                return hit, method
        numeric = numeric_verdict(rating_value, best, worst)
        if numeric is not None:
            return numeric, "numeric"
        return None, "unmapped"

    def __len__(self) -> int:
        return len(self._exact)


def numeric_verdict(value: float | None, best: float | None, worst: float | None = None) -> Verdict | None:
    """The numeric fallback described in the module docstring; None when refused."""
    if value is None or best is None:
        return None
    if worst is None:
        worst = 1.0 if best > 1 else 0.0
    if not all(math.isfinite(x) for x in (value, best, worst)) or best == worst:
        return None
    s = (value - worst) / (best - worst)
    if not 0.0 <= s <= 1.0:
        return None
    if s < 0.125:
        return Verdict.FALSE
    if s < 0.375:
        return Verdict.MISLEADING
    if s < 0.625:
        return Verdict.MIXED
    return Verdict.TRUE


@lru_cache(maxsize=1)
def _default_table() -> VerdictTable:
    return VerdictTable(_shipped_rows())


@lru_cache(maxsize=1)
def _shipped_rows() -> tuple[tuple[str, Verdict], ...]:
    ref = resources.files("claimwatch") / "data" / "verdicts.tsv"
    with resources.as_file(ref) as path:
        return tuple(_read_table(path))


def _read_table(path: Path) -> list[tuple[str, Verdict]]:
    """Rows of a TSV or CSV verdict table (delimiter taken from the header line).

    Blank lines and lines starting with ``#`` are skipped. The same key given two
    different verdicts within one file is an error: one of them is a mistake.
    """
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read verdict table: {exc}") from exc
    content = [
        (no, line) for no, line in enumerate(lines, start=1) if line.strip() and not line.lstrip().startswith("#")
    ]
    if not content:
        raise ValueError(f"{path}: empty verdict table (expected a header rating, verdict, lang, note)")
    header_no, header_line = content[0]
    delimiter = "\t" if "\t" in header_line else ","
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    header = [h.strip().casefold() for h in next(csv.reader([header_line], delimiter=delimiter, quoting=quoting))]
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{path}:{header_no}: header lacks column(s) {', '.join(missing)}; expected rating, verdict, lang, note"
        )
    i_rating, i_verdict = header.index("rating"), header.index("verdict")
    valid = ", ".join(v.value for v in Verdict)
    rows: list[tuple[str, Verdict]] = []
    seen: dict[str, tuple[Verdict, int]] = {}
    for no, line in content[1:]:
        fields = next(csv.reader([line], delimiter=delimiter, quoting=quoting))
        if len(fields) <= max(i_rating, i_verdict):
            raise ValueError(f"{path}:{no}: {len(fields)} field(s); need at least rating and verdict")
        key = normalise_key(fields[i_rating])
        if not key:
            raise ValueError(f"{path}:{no}: empty rating")
        try:
            verdict = Verdict(fields[i_verdict].strip().casefold())
        except ValueError:
            raise ValueError(f"{path}:{no}: unknown verdict {fields[i_verdict]!r}; use one of {valid}") from None
        if key in seen and seen[key][0] is not verdict:
            raise ValueError(
                f"{path}:{no}: rating {fields[i_rating]!r} is already {seen[key][0].value} on line {seen[key][1]}"
            )
        seen[key] = (verdict, no)
        rows.append((key, verdict))
    return rows
