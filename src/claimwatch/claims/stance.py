"""Stance cues of a post towards a rated claim: does it **deny** the claim, or **debunk** it?

Issue 13: a post that says "No, X did not …" or "the viral post claiming X is false" shares the
claim's words and topic — it is close by every similarity measure — but it does not repeat the
claim. Such posts must not be counted as spreading it. These cues are plain regular expressions
(no model: they run for every candidate of every post) and return the words that fired, so an
analyst sees *why* a proposal was marked as a denial or a debunk.

Two rules keep claims that are themselves negative ("X did not win") apart from their denials:
a negation counts only when the claim has none and it governs one of the claim's key terms
(within a few words after it), and a verdict word ("false", "hoax") counts only when the claim
does not contain it ("the virus is a hoax" repeated is a repeat, not a debunk).

The work is split so that the re-ranker's features can compute each side once: :func:`post_stance`
per post, :func:`claim_stance` per claim, :func:`combine` per pair; :func:`stance_cues` is all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from claimwatch.claims.index import tokenize

#: Words after a negation that it governs, within its clause ("did not win the state": not → win, state).
NEGATION_SCOPE = 5

_APOS = "'’"
_NEGATION = re.compile(
    rf"\b(?:not|never|no|nobody|nothing|none|neither|nor|cannot|"
    rf"(?:is|are|was|were|do|does|did|has|have|had|ca|could|wo|would|should|must|ai)n[{_APOS}]t)\b",
    re.IGNORECASE,
)
#: Statements about the claim's truth: a denial wherever they stand (unless the claim says it too).
_UNTRUE = re.compile(
    rf"\b(?:(?:is|was|it[{_APOS}]s|that[{_APOS}]s|are)\s+(?:not|n[{_APOS}]t)\s+(?:true|real|correct|accurate)|"
    rf"(?:isn|wasn|aren)[{_APOS}]t\s+(?:true|real|correct|accurate)|untrue|never\s+happened|"
    rf"did\s+not\s+happen|didn[{_APOS}]t\s+happen|not\s+what\s+happened)\b",
    re.IGNORECASE,
)
#: Verdicts that reject a claim on their own (fact-checkers' vocabulary).
_STRONG_VERDICT = re.compile(
    r"\b(?:debunk(?:ed|ing|s)?|fact[- ]?check(?:ed|ers?|s)?|no\s+evidence|misleading|misinformation|"
    r"disinformation|baseless|false\s+claims?|fabricated|doctored|(?:has\s+been|was)\s+(?:denied|refuted))\b",
    re.IGNORECASE,
)
#: Verdicts that reject only when the post reports or quotes the claim ("X is a hoax" may be the claim).
_WEAK_VERDICT = re.compile(
    r"\b(?:false|fake|hoax|myth|lies?|bogus|rumou?rs?|conspiracy\s+theor(?:y|ies)|satire)\b", re.IGNORECASE
)
#: The post reports someone else's claim instead of making it.
_REPORTING = re.compile(
    r"\b(?:claim(?:s|ed|ing)?\s+that|claiming|(?:viral|facebook|social\s+media|online)\s+posts?|"
    r"posts?\s+(?:say|says|said|claim|claims|going\s+around)|going\s+around|circulating|"
    r"(?:people|some|they)\s+(?:are\s+)?(?:saying|say|claim|sharing)|contrary\s+to|despite\s+what|"
    r"(?:someone|somebody|they|he|she)\s+(?:posted|shared|sent\s+me)|(?:is|are)\s+spreading|going\s+viral|"
    r"viral\s+claims?|posts?\s+claims?|"
    r"supposedly|allegedly|according\s+to\s+(?:a\s+)?(?:viral|meme|rumou?r))\b",
    re.IGNORECASE,
)
#: Words after a negation that make it something else: "not only", "can't believe", "can't wait",
#: "never forget" (a call to remember the claim, not a denial of it).
_NOT_NEGATING = frozenset("only just believe wait stop surprised doubt forget".split())
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{8,})[\"“”«»]")
#: A negation governs words up to the end of its clause.
_CLAUSE_END = re.compile(r"[.!?;:,—–()\n]+")
_WORD = re.compile(rf"[\w{_APOS}-]+")


@dataclass(frozen=True)
class StanceCues:
    """The post's stance towards one claim; ``cues`` are the post's words that show it."""

    denies: bool
    debunks: bool
    cues: tuple[str, ...]


@dataclass(frozen=True)
class PostStance:
    """What a post says about truth, independent of any claim."""

    #: each negation in the post with the key terms it governs
    negations: tuple[tuple[str, frozenset[str]], ...]
    untrue: tuple[str, ...]
    strong: tuple[str, ...]
    weak: tuple[str, ...]
    reporting: tuple[str, ...]
    #: key terms inside quotation marks
    quoted: frozenset[str]


@dataclass(frozen=True)
class ClaimStance:
    """What a claim says itself: its key terms, whether it is negative, which verdict words it uses."""

    terms: frozenset[str]
    negated: bool
    words: frozenset[str]


def _found(pattern: re.Pattern[str], text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(m.group(0).lower().split()) for m in pattern.finditer(text)))


def post_stance(text: str) -> PostStance:
    negations = []
    # A negation inside quotation marks is someone else's words (often the claim's own), not the poster's.
    for clause in _CLAUSE_END.split(_QUOTED.sub(" ", text)):
        words = _WORD.findall(clause)
        for i, w in enumerate(words):
            if _NEGATION.fullmatch(w) and (i + 1 == len(words) or words[i + 1].lower() not in _NOT_NEGATING):
                scope = tokenize([" ".join(words[i + 1 : i + 1 + NEGATION_SCOPE])])[0]
                negations.append((w.lower(), frozenset(scope)))
    quoted = frozenset(t for span in _QUOTED.findall(text) for t in tokenize([span])[0])
    return PostStance(
        tuple(negations),
        _found(_UNTRUE, text),
        _found(_STRONG_VERDICT, text),
        _found(_WEAK_VERDICT, text),
        _found(_REPORTING, text),
        quoted,
    )


def claim_stance(text: str, terms: frozenset[str] | None = None) -> ClaimStance:
    """``terms``: the claim's tokens if the caller has them already (same tokenizer)."""
    return ClaimStance(
        frozenset(tokenize([text])[0]) if terms is None else terms,
        bool(_NEGATION.search(text)),
        frozenset(w.lower() for w in _WORD.findall(text)),
    )


def combine(post: PostStance, claim: ClaimStance) -> StanceCues:
    cues: list[str] = []
    if not claim.negated:
        cues += [neg for neg, scope in post.negations if scope & claim.terms]
    cues += [u for u in post.untrue if not set(u.split()) <= claim.words]
    denies = bool(cues)
    verdicts = [v for v in post.strong if not set(v.split()) <= claim.words]
    weak = [v for v in post.weak if not set(v.split()) <= claim.words]
    # A weak verdict rejects what the post reports or quotes; a quote must be of the claim.
    framed = list(post.reporting) + (["(quotes the claim)"] if len(post.quoted & claim.terms) >= 2 else [])
    # Reported or quoted, the claim is rejected by a weak verdict or by any negation in the post
    # ('"Needles on gas pumps infect people" has been circulating. Never a single case.').
    rejected = weak + [neg for neg, _ in post.negations] + list(post.untrue)
    if framed and (verdicts or rejected):
        verdicts += rejected + framed
    return StanceCues(denies, bool(verdicts), tuple(dict.fromkeys(cues + verdicts)))


def stance_cues(post_text: str, claim_text: str) -> StanceCues:
    """Does the post deny or debunk the claim? Pure text, no model; see the module docstring."""
    return combine(post_stance(post_text), claim_stance(claim_text))
