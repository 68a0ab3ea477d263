"""Claim spans: split a post, thread or transcript into sentences with their character offsets.

A rule-based splitter on purpose: posts are short, informal and full of line breaks, emoji
and handles, where trained sentence splitters for edited prose do no better, and the
offsets must point into the stored text so a report can highlight the claim sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A sentence ends at ., !, ?, … (plus closing quotes/brackets) before whitespace and a
#: capital, digit or opening mark; a line break or bullet always ends one.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[¡¿]?[A-Z0-9@#¡¿])|\s*\n\s*|\s+[•·|]\s+")
#: Abbreviations after which a period does not end a sentence.
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Sen|Rep|Gov|Gen|Lt|Col|St|Jr|Sr|vs|No|U\.S|U\.K|e\.g|i\.e|approx|etc)|\b[A-Z])\.$"
)

#: Long documents are scored on their first sentences only: a 100 KB post stays cheap.
MAX_SENTENCES = 64
#: A "sentence" longer than this (no punctuation at all) is cut; the encoder sees ~256 tokens anyway.
MAX_CHARS = 1000


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


def split_sentences(text: str, max_sentences: int = MAX_SENTENCES) -> list[Span]:
    """Sentences of ``text`` in order, stripped, with offsets into ``text``; at most ``max_sentences``."""
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if _ABBREV.search(text[start : m.start()]):
            continue
        _add(spans, text, start, m.start())
        start = m.end()
        if len(spans) >= max_sentences:
            return spans
    _add(spans, text, start, len(text))
    return spans[:max_sentences]


def _add(spans: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > MAX_CHARS:  # no boundary for a long stretch: cut at the last space before the limit
        cut = text.rfind(" ", start, start + MAX_CHARS)
        cut = cut if cut > start else start + MAX_CHARS
        spans.append(Span(start, cut, text[start:cut]))
        start = cut + 1 if cut < end and text[cut] == " " else cut
    if end > start:
        spans.append(Span(start, end, text[start:end]))
