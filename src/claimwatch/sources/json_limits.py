"""JSON that no single value can turn into a traceback: nesting depth and number limits.

Python's ``json`` raises ``RecursionError`` for arrays or objects nested about 1,000 deep,
``ValueError`` for an integer of more than 4,300 digits, and reads ``1e400`` and the
non-standard ``NaN`` / ``Infinity`` literals as floats that no JSON column can store.
One such value in one record must cost that record, not the file (issue 10, C1), so:

- :func:`loads` keeps non-finite numbers and over-long integers as their text, turns an
  unpaired UTF-16 surrogate escape (``"\\ud800"``, which no UTF-8 store can hold) into
  U+FFFD, and when the document is nested too deep for the parser, cuts every container
  below :data:`DOCUMENT_DEPTH` to the string :data:`TOO_DEEP` and parses the rest;
- :func:`nesting_problem` tells a reader that one record is nested deeper than
  :data:`MAX_DEPTH` or holds a cut, so it quarantines that record alone;
- :func:`clip` is a depth-bounded copy of a record, safe to serialise into the quarantine.

Real fact-check records nest well under ten levels; the limits only ever meet hostile or
broken input. Nothing here recurses deeper than the limits.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: Deepest nesting accepted inside one record (a ClaimReview is about five levels deep).
MAX_DEPTH = 32
#: Depth below which containers are cut when the whole document is too deep to parse.
DOCUMENT_DEPTH = 100
#: What a cut container becomes.
TOO_DEEP = "[claimwatch: nested too deep; cut]"

# A JSON string literal, or one bracket; everything else is skipped by the regex engine.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_TOO_DEEP_JSON = json.dumps(TOO_DEEP)
# A surrogate escape with the backslashes before it: an odd run makes it an escape
# (JSON \\ud800 is a backslash and the text "ud800").
_SURROGATE_ESCAPE = re.compile(r"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")


def parse(text: str) -> Any:
    """``json.loads`` (control characters in strings allowed, as ``strict=False``) with the
    number and surrogate rules above; raises ``json.JSONDecodeError`` for text that is not
    JSON and ``RecursionError`` for nesting too deep for the parser (one record per line
    is then rejected whole: see ``base.load_json``)."""
    return _loads(_pair_surrogates(text))


def loads(text: str) -> Any:
    """:func:`parse`, but a document nested too deep for the parser is cut (see above) rather
    than refused: one deep branch must not cost a whole feed of fact-checks."""
    text = _pair_surrogates(text)
    try:
        return _loads(text)
    except RecursionError:
        return _loads(_cut_deep(text))


def _pair_surrogates(text: str) -> str:
    """``text`` with each unpaired ``\\uD800``-``\\uDFFF`` escape replaced by ``\\ufffd``."""
    escapes = [
        (m.end() - 6, m.end(), int(m.group(2), 16)) for m in _SURROGATE_ESCAPE.finditer(text) if len(m.group(1)) % 2
    ]
    pieces, kept, paired_to = [], 0, -1
    for i, (start, end, unit) in enumerate(escapes):
        if unit < 0xDC00:  # high: needs a low one right after it
            after = escapes[i + 1] if i + 1 < len(escapes) else None
            if after is not None and after[0] == end and after[2] >= 0xDC00:
                paired_to = after[1]
                continue
        elif end == paired_to:  # the low half of a pair
            continue
        pieces += [text[kept:start], "\\ufffd"]
        kept = end
    return "".join(pieces) + text[kept:] if pieces else text


def _loads(text: str) -> Any:
    return json.loads(text, strict=False, parse_int=_int, parse_float=_float, parse_constant=str)


def _int(digits: str) -> int | str:
    try:
        return int(digits)
    except ValueError:  # longer than Python's int/str conversion limit
        return digits


def _float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text


def _cut_deep(text: str) -> str:
    """``text`` with every array/object that opens at depth :data:`DOCUMENT_DEPTH` replaced
    by :data:`TOO_DEEP`; strings are skipped whole, so brackets inside them do not count."""
    pieces: list[str] = []
    depth, kept_to, cut_from = 0, 0, -1
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if depth == DOCUMENT_DEPTH and cut_from < 0:
                cut_from = match.start()
            depth += 1
        elif token in "]}":
            depth -= 1
            if depth == DOCUMENT_DEPTH and cut_from >= 0:
                pieces += [text[kept_to:cut_from], _TOO_DEEP_JSON]
                kept_to, cut_from = match.end(), -1
    pieces.append(text[kept_to:] if cut_from < 0 else text[kept_to:cut_from] + _TOO_DEEP_JSON)
    return "".join(pieces)


def nesting_problem(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why ``value`` cannot be stored as one record (too deep, or cut by :func:`loads`); None if it can."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if node == TOO_DEEP or depth > limit:
            return f"JSON nested more than {limit} levels deep (at {path or 'the top'})"
        if isinstance(node, dict):
            stack.extend((v, depth + 1, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(node))
    return None


def clip(value: Any, limit: int = MAX_DEPTH) -> Any:
    """A copy of ``value`` with containers below ``limit`` levels replaced by :data:`TOO_DEEP`."""
    if not isinstance(value, (dict, list)):
        return value
    if limit <= 0:
        return TOO_DEEP
    if isinstance(value, dict):
        return {k: clip(v, limit - 1) for k, v in value.items()}
    return [clip(v, limit - 1) for v in value]
