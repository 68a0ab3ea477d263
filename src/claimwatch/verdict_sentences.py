"""Sentence-style ratings: "This is false", "We rate the claim Mostly False", "No es cierto".

Many publishers write a sentence where a scale would have a label (Full Fact's
conclusions, FactCheck.org, PolitiFact's closing "We rate this claim False." lines, and
about one in eight Fact Check Tools reviews). The verdict is still a table entry; this
module only finds *where* in the sentence it stands and what the words around it do to
it. It knows grammar words, never ratings: those stay in the data table.

The rule (applied by :meth:`claimwatch.verdicts.VerdictTable.lookup` after the table's
exact, accent-stripped and prefix lookups failed):

1. Only the first sentence counts (a later sentence is explanation), split into clauses
   at ``, ; : | ( - – —`` ("Verdict: False", "The photo is real, but the caption is false").
2. In each clause, in order, a rating *phrase* is looked for:

   a. the whole clause is a phrase: "Totally false", "Not entirely accurate";
   b. after a copula ("is", "was", "es", "é", "est", "c'est", "ist", "è", ...): "The claim is
      False", "User's claim is mostly false", "Esto es falso"; only the first copula whose
      phrase parses counts, and the phrase must end the clause or be followed by a
      connective ("false *because* ..."), so in "the claim that it is true is false" the
      verdict is the last "false";
   c. anywhere after a rating verb ("rate", "rated", "give", "earns", "calificamos", ...):
      "We rate Smith's statement Half True", "we give it a Full Flop";
   d. in the first clause only, a phrase at the start followed by anything: "False claim
      about ...", "Partly false information" (Meta's label wording).

A phrase is ``[modifiers] TABLE-ENTRY``, the longest table entry at that position, where
the modifiers are fillers ("a", "as", "un", "une", ...), intensifiers ("totally",
"completely", "völlig", ...), hedges and negations, in any order:

- a negation before a table entry that is *true* makes it *false* ("not true", "no es
  cierto", "n'est pas vrai", "non è vero"); with an intensifier it makes a true or false
  entry *misleading* ("not entirely true" is partly true). A negated *false*, *misleading*,
  ... is refused ("not false" does not say what the claim is), and so is a double negation;
- a hedge ("probably", "likely", "seems", "wahrscheinlich", ...) makes any accuracy
  verdict *unproven*: the publisher stopped short of a finding;
- table entries that start with a negation ("Not true", "No evidence", "Niet waar") are
  entries, looked up before the negation is taken apart.

A refused phrase ends the search: the rating stays unmapped rather than being read from
a later clause. English degree words "largely", "mainly", "predominantly" are read as
"mostly", so "largely false" is looked up as "mostly false".
"""

from __future__ import annotations

import re
from collections.abc import Callable

from claimwatch.records import Verdict

#: ``key_at(words, i)`` → ``(verdict, end)`` for the longest table entry starting at
#: ``words[i]`` (``words[i:end]``), or None.
KeyAt = Callable[[tuple[str, ...], int], "tuple[Verdict, int] | None"]

_SENTENCE_END = re.compile(r"[.!?…]+[\"'”»’)]*(?:\s|$)|\n")
_CLAUSE_SEPARATOR = re.compile(r"[,;:|()\[\]–—]|--|\s-\s")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")

# Grammar words by language (en, es, pt, fr, de, it, nl: the languages of the table), casefolded.
#: Copulas; the hedging ones ("seems", "parece", "scheint") are also HEDGES.
COPULAS = frozenset(
    "is was are were it's that's this's what's remains seems seem appears appear parece semble scheint sembra lijkt "
    "es son era fue eran fueron está están resulta "
    "é são foi eram foram estão "
    "est sont était étaient c'est n'est "
    "ist sind war waren "
    "è sono "
    "zijn".split()
)
RATING_VERBS = frozenset(
    "rate rated rates rating ratings rule ruled rules give gives gave given earns earned earn receives received "
    "consider considered considers deem deemed label labeled labelled classify classified "
    "calificamos calificó califica consideramos clasificamos "
    "classificamos avaliamos "
    "jugeons considérons classons "
    "bewerten bewertet "
    "valutiamo consideriamo classifichiamo "
    "beoordelen beoordeeld".split()
)
NEGATIONS = frozenset("not no never nunca não nao pas ne nicht kein keine non mai niet geen".split())
HEDGES = frozenset(
    "probably likely possibly apparently presumably seemingly perhaps maybe may might could seems seem appears appear "
    "probablemente posiblemente quizás quizá aparentemente parece "
    "provavelmente possivelmente talvez parece "
    "probablement vraisemblablement semble "
    "wahrscheinlich vermutlich möglicherweise vielleicht scheint "
    "probabilmente forse sembra "
    "waarschijnlijk mogelijk misschien lijkt".split()
)
#: Intensifiers meaning "wholly": negated, they make a partial verdict ("not entirely true").
WHOLLY = frozenset(
    "totally completely entirely absolutely utterly wholly fully quite altogether 100 "
    "totalmente completamente absolutamente totalement complètement absolument entièrement "
    "völlig komplett total absolut ganz assolutamente volledig helemaal totaal compleet".split()
)
INTENSIFIERS = WHOLLY | frozenset(
    "clearly simply plainly patently blatantly demonstrably definitely outright flatly just also very "
    "rotundamente claramente también também clairement aussi eindeutig auch anche ook".split()
)
#: Skipped before a phrase: articles, "as", "to be", and a clause's leading "but"/"and" ("corny, but True").
FILLERS = frozenset("a an as to be but and so yet un una uno uma une ein eine einen als een lo la le".split())
#: Words that may follow a phrase after a copula or rating verb: connectives ("false
#: *because* ..."), rating nouns ("a True *rating*") and prepositions ("Pants on Fire *on*
#: the Truth-O-Meter").
CONTINUATIONS = frozenset(
    "rating ruling verdict label based "
    "because as since and but though although while given due according that in on about for of with when which "
    "who where after before or "
    "porque ya pues pero y que según en sobre de con cuando "
    "pois mas e segundo em com quando "
    "car parce mais et selon sur avec quand "
    "weil denn da aber und dass laut auf über mit wenn "
    "perché poiché ma che secondo su di quando "
    "omdat want maar en dat volgens op over met wanneer".split()
)
#: Nouns that may also follow a phrase after a copula ("this is a false *claim*"); not after
#: a rating verb, whose object comes first ("we rate this accurate *claim*, ..., as Half True").
CLAIM_NOUNS = frozenset("claim claims statement story post information news".split())
#: Degree words read as "mostly" (only "mostly" forms are table entries).
_SYNONYMS = {"largely": "mostly", "mainly": "mostly", "predominantly": "mostly"}

_REFUSED = object()  # a phrase that parses but says nothing usable ("not false")
_Result = Verdict | object | None


def words(text: str) -> tuple[str, ...]:
    """Casefolded words, contractions opened ("isn't" → "is not"), degree synonyms applied."""
    text = text.casefold().replace("’", "'").replace("n't", " not")
    return tuple(_SYNONYMS.get(w, w) for w in _WORD.findall(text))


def sentence_verdict(text: str, key_at: KeyAt) -> Verdict | None:
    """The verdict a rating sentence states, by the rule in the module docstring; None if none."""
    first_sentence = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    clauses = [words(c) for c in _CLAUSE_SEPARATOR.split(first_sentence)]
    for n, clause in enumerate(c for c in clauses if c):
        found = _clause_verdict(clause, key_at, first=n == 0)
        if found is not None:
            return found if isinstance(found, Verdict) else None
    return None


def _clause_verdict(clause: tuple[str, ...], key_at: KeyAt, *, first: bool) -> _Result:
    whole = _phrase(clause, 0, key_at, trailing=_nothing)
    if whole is not None:
        return whole
    for i, word in enumerate(clause):
        if word in COPULAS:
            found = _phrase(clause, i + 1, key_at, trailing=_continuation_or_noun)
            if found is not None:
                before = clause[i - 1] if i else ""
                hedged = before in HEDGES or word in HEDGES
                return _modify(found, negated=before in NEGATIONS, hedged=hedged, wholly=False)
        elif word in RATING_VERBS:
            # a phrase ending the clause first: "we rate this unsupported claim Pants on Fire"
            for trailing in (_nothing, _continuation):
                for start in range(i + 1, len(clause)):
                    found = _phrase(clause, start, key_at, trailing=trailing)
                    if found is not None:
                        return found
    return _phrase(clause, 0, key_at, trailing=_anything) if first else None


def _phrase(clause: tuple[str, ...], i: int, key_at: KeyAt, trailing: Callable[[tuple[str, ...]], bool]) -> _Result:
    """``[modifiers] TABLE-ENTRY`` at ``clause[i]``, followed by what ``trailing`` allows."""
    negated = hedged = wholly = False
    hit = key_at(clause, i) if i < len(clause) else None
    while hit is None and i < len(clause):
        word = clause[i]
        if word in NEGATIONS and not negated:
            negated = True
        elif word in HEDGES:
            hedged = True
        elif word in INTENSIFIERS:
            wholly = wholly or word in WHOLLY
        elif word not in FILLERS:
            return None
        i += 1
        hit = key_at(clause, i) if i < len(clause) else None
    if hit is None:
        return None
    verdict, end = hit
    if end < len(clause) and not trailing(clause[end:]):
        return None
    return _modify(verdict, negated=negated, hedged=hedged, wholly=wholly)


def _modify(found: _Result, *, negated: bool, hedged: bool, wholly: bool) -> _Result:
    if found is _REFUSED or not (negated or hedged):
        return found
    if negated and hedged:
        return _REFUSED
    if negated:
        if wholly:
            return Verdict.MISLEADING if found in (Verdict.TRUE, Verdict.FALSE) else _REFUSED
        return Verdict.FALSE if found is Verdict.TRUE else _REFUSED
    accuracy = (Verdict.FALSE, Verdict.MISLEADING, Verdict.MIXED, Verdict.TRUE, Verdict.UNPROVEN)
    return Verdict.UNPROVEN if found in accuracy else _REFUSED


def _nothing(rest: tuple[str, ...]) -> bool:
    return not rest


def _continuation(rest: tuple[str, ...]) -> bool:
    return rest[0] in CONTINUATIONS


def _continuation_or_noun(rest: tuple[str, ...]) -> bool:
    return rest[0] in CONTINUATIONS or rest[0] in CLAIM_NOUNS


def _anything(rest: tuple[str, ...]) -> bool:
    return True
