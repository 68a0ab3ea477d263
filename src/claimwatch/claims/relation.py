"""Claim vs narrative: does a post *repeat* a rated claim, or only *share its narrative*?

A study's headline counts posts that repeat a claim fact-checkers rated; a post on the same story
that does not repeat it (a question about mail ballots next to a rated claim about mail ballots,
a denial, a post quoting the claim to debunk it) belongs to the narrative, not to the headline.
The matcher labels each proposal with one of :data:`REPEATS` and :data:`NARRATIVE`; analysts can
confirm it as either (their word wins); a match with no label (matched before claimwatch recorded
it, or by the v1 fused-score method, which has no calibrated confidence) is *unknown*.

The rule, for a post's top candidate (the only one that can be proposed):

- **repeats**: the calibrated confidence (P(the post repeats this claim)) reaches the proposal
  threshold, and the post neither denies nor debunks the claim;
- **narrative**: otherwise, when the post is close to the claim in meaning — cosine at least
  :data:`NARRATIVE_COSINE` — or when it would be a repeat but denies or debunks it.

:data:`NARRATIVE_COSINE` = 0.60 was chosen on the dev half of the hand-written hard negatives
(``benchmarks/data/hard_negatives``): posts written to share a rated claim's narrative (the
``narrative``, ``denial`` and ``debunk`` kinds) against the others (news, opinion, jokes, questions,
anecdotes, calls to vote), by their nearest claim's MiniLM cosine in either collection: precision
0.73, recall 0.52 at 0.60 (0.55 gave the best F1, 0.65, at precision 0.64; a wrong narrative label
costs an analyst's time, so the more precise cut). Cosine alone is a weak judge of "same story";
the label is a proposal for review like any other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from claimwatch.claims.features import FEATURE_NAMES

if TYPE_CHECKING:
    from claimwatch.claims.retrieval import Hit

REPEATS: Final = "repeats"
NARRATIVE: Final = "narrative"
RELATIONS: Final = (REPEATS, NARRATIVE)
#: How each relation reads in reports, the review queue and the CLI.
DESCRIBED: Final = {
    REPEATS: "repeats the rated claim",
    NARRATIVE: "shares the claim's narrative only",
    None: "relation unknown",
}
NARRATIVE_COSINE: Final = 0.60


def classify(confidence: float | None, cosine: float | None, min_confidence: float, disputed: bool) -> str | None:
    """The top candidate's relation to its post, or None when it is not proposed at all.

    ``confidence``: calibrated P(the post repeats the claim) (None: no calibrated model);
    ``cosine``: the pair's sentence-embedding cosine (None: not computed);
    ``disputed``: the post denies or debunks the claim (:mod:`claimwatch.claims.stance`)."""
    sure = confidence is not None and confidence >= min_confidence
    if sure and not disputed:
        return REPEATS
    if sure or (cosine is not None and cosine >= NARRATIVE_COSINE):
        return NARRATIVE
    return None


_COS, _DENIES, _DEBUNKS = (FEATURE_NAMES.index(n) for n in ("cos", "stance_denies", "stance_debunks"))


def of_hit(hit: Hit, min_confidence: float, cosine_comparable: bool = True, stance: bool = True) -> str | None:
    """:func:`classify` for a ranked top hit, from its features: the pair's cosine (unless
    ``cosine_comparable`` is False: another encoder's scale) and, with ``stance`` (the cues are
    English words), the stance cues the re-ranker computed (:mod:`claimwatch.claims.stance`: the
    post denies or debunks the claim)."""
    f = hit.feature_values
    cosine = float(f[_COS]) if cosine_comparable and not np.isnan(f[_COS]) else None
    return classify(hit.confidence, cosine, min_confidence, stance and disputed(hit))


def disputed(hit: Hit) -> bool:
    """The re-ranker's stance cues say the post denies or debunks the hit's claim."""
    return bool(hit.feature_values[_DENIES] == 1 or hit.feature_values[_DEBUNKS] == 1)


def parse(value: str) -> str:
    """An analyst's relation from the CLI, a form or the API; ValueError names the choices."""
    if value not in RELATIONS:
        raise ValueError(f"relation {value!r}: one of {', '.join(RELATIONS)}")
    return value
