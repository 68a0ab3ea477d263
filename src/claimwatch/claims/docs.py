"""What retrieval works on: claim documents and queries, independent of where they came from.

A store fact-check and a CheckThat! verified claim both become a :class:`ClaimDoc`; a post
and a CheckThat! tweet or debate sentence both become a :class:`Query`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ClaimDoc:
    """A claim to match against. ``extra`` is further text: a subtitle or the article."""

    id: str
    claim: str
    title: str = ""
    extra: str = ""
    date: datetime | None = None
    speaker: str | None = None

    def embed_text(self) -> str:
        """What the dense encoder sees: the claim, plus the title when it adds words."""
        title = self.title.strip()
        if title and title.casefold() not in self.claim.casefold():
            return f"{self.claim} {title}"
        return self.claim


@dataclass(frozen=True)
class Query:
    """A post or sentence to find claims for; ``text`` is already cleaned (see claims.text)."""

    id: str
    text: str
    #: when it was posted or said; claims reviewed around then are likelier
    date: datetime | None = None
    #: surrounding sentences (debate transcripts), if any
    context: str = ""
