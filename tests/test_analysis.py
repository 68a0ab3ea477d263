"""Claim spans, language, topics and their storage by ``match`` (real encoder, real store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post

import claimwatch
from claimwatch.analysis.report import Selection
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.language import detect_languages
from claimwatch.claims.sentences import MAX_CHARS, MAX_SENTENCES, split_sentences
from claimwatch.claims.topics import TopicError, TopicSet
from claimwatch.reports import write_all
from claimwatch.store import schema as s

TOPICS = """
topics:
  - name: us-election
    label: US election
    descriptions: [Voting, ballots and vote counting in US elections]
    keywords: ["ballot*", "voter fraud"]
  - name: weather
    descriptions: [Weather, rain, storms and temperatures]
"""


def test_sentences_keep_offsets_and_respect_abbreviations() -> None:
    text = "Long post, bear with me. Dr. Smith said 2.7M votes were deleted! Is that true?\n- Another line"
    spans = split_sentences(text)
    assert [sp.text for sp in spans] == [
        "Long post, bear with me.",
        "Dr. Smith said 2.7M votes were deleted!",
        "Is that true?",
        "- Another line",
    ]
    assert all(text[sp.start : sp.end] == sp.text for sp in spans)


def test_sentences_of_hostile_sizes() -> None:
    assert split_sentences("") == [] and split_sentences("   \n ") == []
    huge = "This is one sentence about ballots. " * 4000  # ~140 KB
    assert len(split_sentences(huge)) == MAX_SENTENCES
    no_punct = "word " * 1000
    spans = split_sentences(no_punct)
    assert spans and all(len(sp.text) <= MAX_CHARS for sp in spans)


def test_language_detection_and_undetermined_text() -> None:
    got = detect_languages(
        [
            "The election was stolen by voting machines in Georgia",
            "Die Wahl wurde gefälscht, sagt er heute",
            "lol",
            "",
            "https://t.co/x @a #b #c",
            "😂😂😂 🔥",
            "¡Atención! Este año se puede votar mandando un WhatsApp",
        ]
    )
    assert [d.lang for d in got] == ["en", "de", "und", "und", "und", "und", "es"]
    assert got[0].confidence > 0.9


def test_topic_file_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    for text, message in [
        ("topics: []", "non-empty list"),
        ("topics:\n  - name: x\n    keywords: [a]\n    colour: red", "unknown key 'colour'"),
        ("topics:\n  - name: Bad Name\n    keywords: [a]", "short lowercase id"),
        ("topics:\n  - name: x", "give 'descriptions' or 'keywords'"),
        ("topics:\n  - name: x\n    keywords: [a]\n    threshold: 3", "'threshold' must be a cosine"),
        ("topics:\n  - name: x\n    keywords: [a]\n  - name: x\n    keywords: [b]", "defined twice"),
        ("other: 1", "one top-level key 'topics'"),
        ("topics: [", "not valid YAML"),
    ]:
        bad.write_text(text)
        with pytest.raises(TopicError, match=message):
            TopicSet.load(bad)
    with pytest.raises(TopicError, match="cannot read topic file"):
        TopicSet.load(tmp_path / "missing.yaml")


def test_topic_scores_combine_keywords_and_similarity(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(TOPICS)
    topics = TopicSet.load(path)
    texts = [
        "They found ballots in a dumpster!",
        "Vote counting in Georgia was rigged, officials admit",
        "Heavy rain and thunderstorms expected through Wednesday",
        "My cat sleeps all day",
    ]
    scores = topics.score(texts, encoder.encode(texts), encoder)
    by_text = [{t.topic: t for t in row} for row in scores]
    assert by_text[0]["us-election"].keywords == ["ballot*"] and by_text[0]["us-election"].assigned
    assert by_text[1]["us-election"].keywords == [] and by_text[1]["us-election"].assigned  # by similarity
    assert by_text[2]["weather"].assigned and not by_text[2]["us-election"].assigned
    assert not any(t.assigned for t in by_text[3].values())
    assert topics.version(encoder.name) != TopicSet.load(path).version("another encoder")


@pytest.mark.slow
def test_match_stores_language_and_topics_and_reports_filter_by_them(
    mws: claimwatch.Workspace, tmp_path: Path, write_jsonl
) -> None:
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [
                claimreview(
                    "https://example.org/fc/ballots",
                    "Poll workers threw thousands of mail ballots into a dumpster.",
                    "False",
                )
            ]
        )
    )
    mws.ingest_factchecks([fc])
    mws.ingest_posts(
        [
            write_jsonl(
                "p.jsonl",
                [
                    page(
                        [
                            post(
                                "1",
                                "Poll workers dumped thousands of mail-in ballots in a dumpster behind the county office",
                            ),
                            post("2", "Heavy rain and thunderstorms expected through Wednesday, stay safe everyone"),
                            post(
                                "3",
                                "Die Briefwahl-Stimmzettel wurden im Müllcontainer gefunden, sagt ein Wahlhelfer",
                                lang="de",
                            ),
                            post("4", "https://t.co/abc @someone"),
                        ]
                    )
                ],
            )
        ]
    )
    topics = tmp_path / "topics.yaml"
    topics.write_text(TOPICS)
    mws.match(topics=topics)
    stats = mws.stats()
    assert stats.posts_analysed == 4
    assert stats.posts_by_language == {"en": 2, "de": 1, "und": 1}
    assert stats.posts_by_topic == {"us-election": 1, "weather": 1}

    election = mws.report(Selection(topics=("us-election",)))
    assert [r.post_id for r in election.rows] == ["1"]
    assert election.rows[0].topics == ("us-election",)
    german = mws.report(Selection(langs=("de",)))
    assert [r.post_id for r in german.rows] == ["3"] and german.rows[0].lang == "de"
    full = mws.report()
    assert {c.lang: c.posts for c in full.languages} == {"en": 2, "de": 1, "und": 1}
    paths = write_all(full, tmp_path / "out")
    assert "## Posts by language" in paths["md"].read_text()
    assert 'id="languages"' in paths["html"].read_text()

    # New topic definitions re-score without re-matching; dropped topics disappear.
    topics.write_text("topics:\n  - name: rain\n    keywords: [rain]\n")
    assert mws.score_topics(topics) == 4
    assert mws.stats().posts_by_topic == {"rain": 1}


@pytest.mark.slow  # over a second on 2 cores
def test_match_refuses_a_bad_topic_file_before_any_work(mws: claimwatch.Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("topics:\n  - name: x\n")
    with pytest.raises(TopicError):
        mws.match(topics=bad)
    assert mws.stats().posts_analysed == 0


@pytest.mark.slow
def test_match_analyses_hostile_posts(mws: claimwatch.Workspace, tmp_path: Path, write_jsonl) -> None:
    """A 100 KB thread, a mixed-language post, emoji-only and whitespace-only posts: each gets a
    stored analysis (or a skip reason), none stops the run."""
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [
                claimreview(
                    "https://example.org/fc/ballots",
                    "Poll workers threw thousands of mail ballots into a dumpster.",
                    "False",
                )
            ]
        )
    )
    mws.ingest_factchecks([fc])
    thread = " ".join(f"Part {i}: the county says turnout was {i}% higher than in 2020." for i in range(2500))
    assert len(thread) > 100_000
    mws.ingest_posts(
        [
            write_jsonl(
                "p.jsonl",
                [
                    page(
                        [
                            post("1", thread),
                            post(
                                "2",
                                "Poll workers dumped ballots in a dumpster. Die Stimmzettel wurden weggeworfen, sagen sie.",
                            ),
                            post("3", "🔥🔥🔥 😂 https://t.co/x"),
                            post("4", "   \n\t "),
                        ]
                    )
                ],
            )
        ]
    )
    report = mws.match()
    assert report.posts_matched == 2 and sum(report.skipped.values()) == 2
    with mws.engine.connect() as conn:
        rows = {r.post_id: r for r in conn.execute(sa.select(s.PostAnalysis))}
    assert len(rows) == 4
    long_one = max(rows.values(), key=lambda r: len(r.sentence_scores))
    assert len(long_one.sentence_scores) == 64 and long_one.lang == "en"
    assert long_one.claim_sentence and long_one.claim_start is not None
    undetermined = [r for r in rows.values() if r.lang == "und"]
    assert len(undetermined) == 2 and all(r.checkworthiness is None for r in undetermined)
    assert mws.checkworthiness_model() is not None  # the shipped model
    # The English thread is scored; the mostly German post is not: the model reads English only.
    assert 0.0 <= long_one.checkworthiness <= 1.0
    mixed = next(r for r in rows.values() if r.lang not in ("en", "und"))
    assert mixed.lang == "de" and mixed.checkworthiness is None and mixed.claim_sentence is None
