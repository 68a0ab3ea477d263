"""Narratives: put each matched post into one of the study's categories, and propose new
categories for debunked claims the study did not name.

A post is assigned by the first rule that decides, in this order (the rule is reported):

1. ``seed fact-check`` — one of its fact-checks is listed under a narrative;
2. ``keywords`` — a narrative's keywords occur in its fact-checks' claims or titles or in the
   post (the narrative with most distinct keywords found; ties go to the earlier one);
3. ``embedding`` — the fact-checked claim is within :data:`MIN_SIMILARITY` cosine of a
   narrative's description (nearest one wins);
4. otherwise ``unassigned``.

Unassigned posts are grouped by the similarity of their fact-checked claims (single link at
:data:`CLUSTER_SIMILARITY`); every group of two or more posts becomes a *proposed*
narrative, named by its most central claim, for an analyst to accept into the study file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from claimwatch.analysis.study_file import Narrative
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.topics import keyword_pattern, keywords_found

#: Cosine between a fact-checked claim and a narrative description to assign by embedding.
MIN_SIMILARITY = 0.4
#: Cosine between two fact-checked claims to group them into one proposed narrative.
CLUSTER_SIMILARITY = 0.6
UNASSIGNED = "unassigned"


@dataclass
class MatchedPost:
    """What assignment needs of a matched post: its text and the fact-checks behind it."""

    key: int
    text: str
    factcheck_urls: list[str]
    #: claim text (+ title) of each fact-check, same order as the URLs
    factcheck_texts: list[str]


@dataclass(frozen=True)
class Assignment:
    narrative: str
    method: str
    similarity: float | None = None
    keywords: tuple[str, ...] = ()


@dataclass
class ProposedNarrative:
    name: str
    posts: list[int] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)


def assign(
    posts: list[MatchedPost], narratives: tuple[Narrative, ...], encoder: Encoder | None
) -> dict[int, Assignment]:
    seeds = {url: n.name for n in reversed(narratives) for url in n.factchecks}  # earlier narratives win
    patterns = [(n, keyword_pattern(n.keywords)) for n in narratives]
    described = [n for n in narratives if n.description]
    out: dict[int, Assignment] = {}
    pending: list[MatchedPost] = []
    for p in posts:
        seeded = next((seeds[u] for u in p.factcheck_urls if u in seeds), None)
        if seeded:
            out[p.key] = Assignment(seeded, "seed fact-check")
            continue
        haystack = " \n ".join([*p.factcheck_texts, p.text])
        best: tuple[int, Narrative, tuple[str, ...]] | None = None
        for n, pattern in patterns:
            kws = tuple(keywords_found(pattern, n.keywords, haystack))
            if kws and (best is None or len(kws) > best[0]):
                best = (len(kws), n, kws)
        if best:
            out[p.key] = Assignment(best[1].name, "keywords", keywords=best[2])
        else:
            pending.append(p)
    if pending and described and encoder is not None:
        claim_emb = encoder.encode([" ".join(p.factcheck_texts) or p.text for p in pending])
        desc_emb = encoder.encode([n.description for n in described])
        sims = claim_emb @ desc_emb.T
        for p, row in zip(pending, sims, strict=True):
            j = int(np.argmax(row))
            if row[j] >= MIN_SIMILARITY:
                out[p.key] = Assignment(described[j].name, "embedding", similarity=round(float(row[j]), 4))
    for p in posts:
        out.setdefault(p.key, Assignment(UNASSIGNED, UNASSIGNED))
    return out


def propose(posts: list[MatchedPost], encoder: Encoder | None) -> list[ProposedNarrative]:
    """Groups of related fact-checked claims among ``posts`` (the unassigned ones)."""
    if encoder is None or len(posts) < 2:
        return []
    claims = [p.factcheck_texts[0] if p.factcheck_texts else p.text for p in posts]
    emb = encoder.encode(claims)
    sims = emb @ emb.T
    parent = list(range(len(posts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(posts)):
        for j in range(i + 1, len(posts)):
            if sims[i, j] >= CLUSTER_SIMILARITY:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(posts)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        central = max(members, key=lambda i: float(sims[i, members].sum()))
        out.append(
            ProposedNarrative(
                name=claims[central][:120],
                posts=[posts[i].key for i in members],
                claims=sorted({claims[i] for i in members}),
            )
        )
    return sorted(out, key=lambda g: (-len(g.posts), g.name))
