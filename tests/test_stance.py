"""Stance cues: denials and debunks of a claim are told apart from repeats, hand-written pairs."""

import pytest

from claimwatch.claims.stance import stance_cues

REPEATS = [
    ("Biden lost Georgia, they stole it from Trump!", "Joe Biden lost Georgia"),
    ("Dominion machines switched votes in Arizona", "Dominion voting machines switched votes"),
    # claims that are themselves negative: repeating them is not a denial
    ("Trump did not win Michigan, period. Stop the steal is over.", "Trump did not win Michigan"),
    ("The moon landing never happened, wake up", "The moon landing never happened"),
    ("Masks don't stop viruses. Never did.", "Face masks do not stop viruses"),
    # a verdict word the claim itself uses
    ("The virus is a hoax, wake up people", "The coronavirus is a hoax"),
    # negations that do not govern the claim's terms, or are not negations
    ("No way! Dead people voted in Wayne County, not kidding", "Dead people voted in Wayne County"),
    ("Not only did dead people vote in Wayne County, they voted twice", "Dead people voted in Wayne County"),
    ("I can't believe Dominion machines switched votes!", "Dominion voting machines switched votes"),
    (
        "Never forget the Atlanta video: suitcases full of ballots dragged out from under a table.",
        "A Georgia video shows workers pulling suitcases of ballots out from under a table",
    ),
]

DENIALS = [
    ("No, Joe Biden did not lose Georgia. The recount confirmed it.", "Joe Biden lost Georgia", "not"),
    ("It's not true that Pelosi was arrested.", "Nancy Pelosi was arrested", "it's not true"),
    ("Pelosi was never arrested, stop sharing this", "Nancy Pelosi was arrested", "never"),
    ("The vaccine doesn’t change your DNA.", "The COVID vaccine changes your DNA", "doesn’t"),
    # a negative claim denied by a statement about its truth
    ("That Trump did not win Michigan is untrue: he won it.", "Trump did not win Michigan", "untrue"),
]

DEBUNKS = [
    ("The claim that vaccines cause autism is false, decades of studies show.", "Vaccines cause autism", "false"),
    (
        "Viral post says 5G spreads the coronavirus. Fact check: no evidence.",
        "5G towers spread the coronavirus",
        "no evidence",
    ),
    ('"Dead people voted in Wayne County" — this is a myth.', "Dead people voted in Wayne County", "myth"),
    (
        "Debunked: the story about ballots found in a river in Wisconsin",
        "Ballots were found in a river in Wisconsin",
        "debunked",
    ),
]


@pytest.mark.parametrize(("post", "claim"), REPEATS)
def test_a_post_repeating_the_claim_neither_denies_nor_debunks_it(post: str, claim: str) -> None:
    cues = stance_cues(post, claim)
    assert not cues.denies and not cues.debunks
    assert cues.cues == ()


@pytest.mark.parametrize(("post", "claim", "cue"), DENIALS)
def test_denials_are_found_with_the_words_that_show_them(post: str, claim: str, cue: str) -> None:
    cues = stance_cues(post, claim)
    assert cues.denies
    assert cue in cues.cues


@pytest.mark.parametrize(("post", "claim", "cue"), DEBUNKS)
def test_debunks_are_found_with_the_words_that_show_them(post: str, claim: str, cue: str) -> None:
    cues = stance_cues(post, claim)
    assert cues.debunks
    assert cue in cues.cues


def test_a_weak_verdict_needs_the_claim_reported_or_quoted() -> None:
    # "fake" alone may be the poster's own claim ("the fake election"); reported, it rejects
    assert not stance_cues("This fake election was stolen in Arizona", "The election in Arizona was stolen").debunks
    reported = stance_cues("Posts say the election in Arizona was stolen. Fake.", "The election in Arizona was stolen")
    assert reported.debunks and "fake" in reported.cues


def test_a_quote_of_another_claim_does_not_make_a_debunk() -> None:
    assert not stance_cues('"Wind turbines cause cancer" is a myth', "Ballots were found in a river").debunks


def test_a_negation_far_from_the_claims_terms_is_not_a_denial() -> None:
    post = "Nobody told me. Anyway, millions of illegal votes were cast in California"
    assert not stance_cues(post, "Millions of illegal votes were cast in California").denies
