"""Counted nouns in the words every output uses: "1 post", "2 posts", "1,234 posts".

Reports, studies, charts and the CLI say how many of something there are in hundreds of
sentences; a figure of one read "1 posts" wherever the noun was written plural by hand.
:func:`count` and :func:`noun` are the one place the choice is made. English only: the
plural is the singular plus "s" unless given (``count(n, "match", "matches")``), and a
verb that must agree goes in with the noun (``count(n, "decision was", "decisions were")``).
"""

from __future__ import annotations


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for exactly one, else ``plural`` (default: ``singular`` + "s")."""
    return singular if n == 1 else plural or singular + "s"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with thousands separators and the noun that fits it: "1 post", "1,234 posts"."""
    return f"{n:,} {noun(n, singular, plural)}"
