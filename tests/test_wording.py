"""Counted nouns: one helper decides "1 post" / "2 posts" for every output."""

from __future__ import annotations

import pytest

from claimwatch.wording import count, noun


@pytest.mark.parametrize(("n", "expected"), [(0, "0 posts"), (1, "1 post"), (2, "2 posts"), (1234, "1,234 posts")])
def test_count_agrees_with_the_number(n: int, expected: str) -> None:
    assert count(n, "post") == expected


def test_irregular_plurals_and_verbs_go_in_with_the_noun() -> None:
    assert [count(n, "match", "matches") for n in (1, 3)] == ["1 match", "3 matches"]
    assert noun(1, "decision was", "decisions were") == "decision was"
    assert noun(2, "decision was", "decisions were") == "decisions were"
