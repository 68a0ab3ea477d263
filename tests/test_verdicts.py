"""Rating → verdict normalisation: the shipped table, lookup rules, sentence-style ratings,
numeric fallback, user tables, and coverage on real rating texts (skipped when ../shared is
absent)."""

from __future__ import annotations

import csv
import gzip
import json
import re
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest
from conftest import DATASETS

from claimwatch.records import Verdict
from claimwatch.verdicts import VerdictTable, normalise_key

POLITIFACT = DATASETS / "politifact-claimreview-derived-from-checkthat2b" / "politifact_claimreviews.csv"
JIANG = DATASETS / "jiang2018-factchecks-linked-social-posts" / "factchecks.csv"
ARTICLES = DATASETS / "clef2021-2022-checkthat-task2b-debates-politifact" / "vclaims_with_article_text.jsonl.gz"
FIXTURE_POLITIFACT = Path(__file__).parent / "fixtures" / "factchecks" / "politifact_claimreviews.csv"

# verdict initials, so the tables below read as columns
F, M, X, T, U, S, O = (  # noqa: E741
    Verdict.FALSE,
    Verdict.MISLEADING,
    Verdict.MIXED,
    Verdict.TRUE,
    Verdict.UNPROVEN,
    Verdict.SATIRE,
    Verdict.OTHER,
)


@pytest.fixture(scope="module")
def table() -> VerdictTable:
    return VerdictTable.load()


@pytest.mark.parametrize(
    ("rating", "verdict"),
    [
        # PolitiFact Truth-O-Meter / Flip-O-Meter, labels and URL slugs
        ("Pants on Fire", F),
        ("Pants on Fire!", F),
        ("pants-fire", F),
        ("False", F),
        ("Mostly False", M),
        ("barely-true", M),
        ("Half True", M),
        ("half-true", M),
        ("Mostly True", T),
        ("True", T),
        ("Full Flop", O),
        ("half-flip", O),
        ("No Flip", O),
        # Washington Post
        ("Four Pinocchios", F),
        ("Three Pinocchios", M),
        ("Two Pinocchios", M),
        ("One Pinocchio", T),
        ("Geppetto Checkmark", T),
        ("Bottomless Pinocchio", F),
        # Snopes
        ("Mixture", X),
        ("Unproven", U),
        ("Unfounded", U),
        ("Miscaptioned", M),
        ("Misattributed", F),
        ("Correct Attribution", T),
        ("Scam", F),
        ("Legend", U),
        ("Labeled Satire", S),
        ("Outdated", O),
        ("Research In Progress", U),
        ("Fake", F),
        ("Altered Photo", F),
        # AFP / Reuters / AP / Full Fact
        ("Missing context", M),
        ("Partly false", M),
        ("Altered", F),
        ("Out of context", M),
        ("No evidence", U),
        ("Misleading", M),
        ("Satire", S),
        ("Incorrect", F),
        ("Correct", T),
        # other languages
        ("Falso", F),
        ("Engañoso", M),
        ("Enganoso", M),
        ("Engañosa", M),
        ("Verdadero", T),
        ("Verdadeiro", T),
        ("Impreciso", M),
        ("Irreführend", M),
        ("Falsch", F),
        ("Richtig", T),
        ("Teilweise falsch", M),
        ("Fehlender Kontext", M),
        ("Trompeur", M),
        ("Faux", F),
        ("Vrai", T),
        ("Partiellement faux", M),
        ("Manque de contexte", M),
        ("Fuori contesto", M),
        ("Vero", T),
        ("Onwaar", F),
        ("Misleidend", M),
        # scales added from the publishers' published lists
        ("Not Yet Rated", O),
        ("Undetermined", U),
        ("Unverifiable", U),
        ("Understated", M),
        ("Partly correct", M),
        ("Timo", F),
        ("No hay pruebas", U),
        ("De olho", O),
        ("Nicht belegt", U),
        ("Doctored", F),
        # ClaimsKG's normalised classes (OTHER is deliberately unmapped: ClaimsKG's bin for unplaced ratings)
        ("TRUE", T),
        ("FALSE", F),
        ("MIXTURE", X),
    ],
)
def test_known_ratings(table: VerdictTable, rating: str, verdict: Verdict) -> None:
    assert table.normalise(rating) == (verdict, "table")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Pants on Fire!", "pants on fire"),
        ("pants-fire", "pants fire"),
        ("  Half_True ", "half true"),
        ("«Faux»", "faux"),
        ("C’eri quasi", "c'eri quasi"),
        ("MOSTLY   FALSE.", "mostly false"),
    ],
)
def test_normalise_key(text: str, key: str) -> None:
    assert normalise_key(text) == key


def test_accents_are_stripped_only_as_a_fallback(table: VerdictTable, tmp_path: Path) -> None:
    assert table.normalise("Irrefuhrend") == (M, "table")
    assert table.normalise("ENGANOSA") == (M, "table")
    # with an unaccented user entry, the accented text still hits its own exact entry first
    user = tmp_path / "user.tsv"
    user.write_text("rating\tverdict\nFalsch\tfalse\nirrefuhrend\tother\n", encoding="utf-8")
    custom = VerdictTable.load([user])
    assert custom.normalise("Irreführend") == (M, "table")
    assert custom.normalise("Irrefuhrend") == (O, "table")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("False. The photo is from 2015.", F),
        ("Misleading: the figure is from 2019", M),
        ("Falso – la foto es de 2015", F),
        ("Mostly false - the numbers are old", M),
        ("Verdadeiro, mas sem contexto", T),
    ],
)
def test_prefix_rule(table: VerdictTable, text: str, verdict: Verdict) -> None:
    assert table.normalise(text) == (verdict, "table")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        # the shapes seen in Fact Check Tools reviews (issue 10: 13 of 105 were left unknown)
        ("This is false", F),
        ("The claim is False", F),
        ("User's claim is mostly false.", M),
        ("Totally False. The video was recorded in 2015.", F),
        ("This is misleading. The figure is from 2019.", M),
        ("It's false.", F),
        ("This claim is unproven.", U),
        ("The post is satire", S),
        ("The video is altered", F),
        ("This is a false claim", F),
        ("It is a mixture of true and false statements", X),
        # rating verbs: PolitiFact's closing lines, the Flip-O-Meter, Pinocchios
        ("We rate this claim Pants on Fire!", F),
        ("We rate Smith's statement Mostly True.", T),
        ("We rate it as False.", F),
        ("We give him a True.", T),
        ("So we rate it a Full Flop.", O),
        ("We rate this unsupported claim Pants on Fire!", F),
        ("He earns the rating of Half Flip.", O),
        ("This claim earns Three Pinocchios", M),
        ("That is how we rate this claim: Mostly True.", T),
        ("We rate this partly accurate claim, which leaves out context, as Half True.", M),
        ("Editor's note: This statement was rated Barely True when it was published.", M),
        # a leading verdict phrase, a label, degree words and intensifiers
        ("Verdict: False", F),
        ("False claim about vaccines", F),
        ("Partly false information", M),
        ("Largely false", M),
        ("Completely fabricated", F),
        ("The photo is real, but the caption is false", F),
        # negations
        ("Not true at all", F),
        ("Isn't true", F),
        ("This is not accurate", F),
        ("Not entirely true", M),
        ("Not completely false", M),
        ("There is no evidence for this", U),
        # hedges stop short of a finding
        ("Probably false", U),
        ("This is likely misleading", U),
        ("The claim seems true", U),
        # multilingual copulas and negations
        ("Esto es falso", F),
        ("Es un bulo", F),
        ("No es cierto", F),
        ("Es engañoso", M),
        ("Isso é falso", F),
        ("Não é verdade", F),
        ("C'est faux", F),
        ("Ce n'est pas vrai", F),
        ("Das ist falsch", F),
        ("Das ist nicht wahr", F),
        ("Das ist irreführend", M),
        ("È falso", F),
        ("Non è vero", F),
        ("Dit is onwaar", F),
        ("Dat is niet waar", F),
        ("Esto es probablemente falso", U),
    ],
)
def test_sentence_style_ratings(table: VerdictTable, text: str, verdict: Verdict) -> None:
    assert table.normalise(text) == (verdict, "sentence")


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("The claim that it is true is false", F),  # the copula whose phrase ends the clause
        ("This is false because the figure is correct", F),  # a connective after the verdict
        ("The claim is correct. It is false that the figure is wrong.", T),  # only the first sentence counts
    ],
)
def test_sentence_rule_picks_the_stated_verdict(table: VerdictTable, text: str, verdict: Verdict) -> None:
    assert table.normalise(text)[0] is verdict


@pytest.mark.parametrize(
    "text",
    [
        "Truefalse",
        "Not false at all",
        "Not rated. See below",
        "The claim",
        "",
        "This is not false",  # a negated non-true verdict does not say what the claim is
        "No es falso",
        "Not probably false",  # the same in Spanish; a negated hedge
        "We rate this claim.",
        "The claim is not false, the figure is true",  # a refused clause ends the search
        "Some say it is probably satire",
    ],
)
def test_unknown_text_is_unmapped(table: VerdictTable, text: str) -> None:
    assert table.normalise(text) == (None, "unmapped")


def test_sentence_rule_reads_user_entries(tmp_path: Path) -> None:
    user = tmp_path / "user.tsv"
    user.write_text("rating\tverdict\nFlat Earth Level\tfalse\n", encoding="utf-8")
    custom = VerdictTable.load([user])
    assert custom.normalise("We rate this claim Flat Earth Level.") == (F, "sentence")
    assert custom.normalise("The claim is not flat earth level") == (None, "unmapped")


@pytest.mark.parametrize(
    ("value", "best", "worst", "expected"),
    [
        (1, 5, 1, (F, "numeric")),
        (5, 5, 1, (T, "numeric")),
        (3, 5, 1, (X, "numeric")),
        (2, 5, 1, (M, "numeric")),
        (4, 5, 1, (T, "numeric")),
        (1, 5, None, (F, "numeric")),  # worst assumed 1 when best > 1
        (0, 1, None, (F, "numeric")),  # ... and 0 when best <= 1
        (3, 3, 3, (None, "unmapped")),  # best == worst
        (-1, 5, 1, (None, "unmapped")),  # outside the scale ("not verifiable" convention)
        (7, 5, 1, (None, "unmapped")),
        (3, None, 1, (None, "unmapped")),  # best is required
        (None, 5, 1, (None, "unmapped")),
    ],
)
def test_numeric_fallback(
    table: VerdictTable,
    value: float | None,
    best: float | None,
    worst: float | None,
    expected: tuple[Verdict | None, str],
) -> None:
    assert table.normalise(None, value, best, worst) == expected
    assert table.normalise("some unknown wording", value, best, worst) == expected


def test_known_text_beats_numbers(table: VerdictTable) -> None:
    assert table.normalise("True", 1, 5, 1) == (T, "table")


@pytest.mark.slow  # over half a second on 2 cores
def test_user_tables_override_shipped_rows(tmp_path: Path) -> None:
    tsv = tmp_path / "ours.tsv"
    tsv.write_text(
        "rating\tverdict\tlang\tnote\n# our study's decision\nHalf True\tmixed\ten\tstudy protocol 3.2\n"
        "Totally bogus\tfalse\ten\t\n",
        encoding="utf-8",
    )
    csv_file = tmp_path / "more.csv"
    csv_file.write_text(
        'rating,verdict,lang,note\n"Nope, wrong",false,en,"has a comma"\nTotally bogus,other,en,\n', encoding="utf-8"
    )
    custom = VerdictTable.load([tsv, csv_file])
    assert custom.normalise("Half-True") == (X, "table")
    assert custom.normalise("Nope, wrong") == (F, "table")
    assert custom.normalise("Totally bogus") == (O, "table"), "a later file overrides an earlier one"
    assert VerdictTable.load().normalise("Half True") == (M, "table"), "the shipped table is untouched"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rating\tverdict\nFalse\tfalse\nWrongish\tfalsy\n", r"bad\.tsv:3: unknown verdict 'falsy'"),
        ("rating\tlang\nFalse\ten\n", r"bad\.tsv:1: header lacks column\(s\) verdict"),
        ("rating\tverdict\nFalse\n", r"bad\.tsv:2: 1 field"),
        ("rating\tverdict\n\tfalse\n", r"bad\.tsv:2: empty rating"),
        ("rating\tverdict\nNope\tfalse\nnope\ttrue\n", r"bad\.tsv:3: rating 'nope' is already false on line 2"),
        ("", r"bad\.tsv: empty verdict table"),
    ],
)
def test_malformed_user_table(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        VerdictTable.load([bad])


def test_default_table_is_cached_and_covers_languages() -> None:
    assert VerdictTable.load() is VerdictTable.load(None)
    rows = _shipped_rows()
    assert set(rows[0]) == {"rating", "verdict", "lang", "note"}
    langs = {lang for row in rows for lang in row["lang"].split(",")}
    assert {"en", "de", "es", "fr", "pt", "it", "nl"} <= langs
    assert all(row["note"] for row in rows), "every shipped row says why"
    assert len(VerdictTable.load()) == len(rows), "no duplicate keys in the shipped table"


def _shipped_rows() -> list[dict[str, str]]:
    ref = resources.files("claimwatch") / "data" / "verdicts.tsv"
    with resources.as_file(ref) as path, open(path, encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_shipped_table_names_its_sources() -> None:
    ref = resources.files("claimwatch") / "data" / "verdicts.tsv"
    with resources.as_file(ref) as path:
        comments = path.read_text(encoding="utf-8")
    for scale in (
        "PolitiFact",
        "Snopes",
        "Washington Post",
        "AFP",
        "Reuters",
        "Full Fact",
        "FactCheck.org",
        "Lead Stories",
        "USA Today",
        "Logically",
        "Correctiv",
        "Maldita",
        "Newtral",
        "Chequeado",
        "Aos Fatos",
        "Lupa",
        "Africa Check",
        "ClaimsKG",
    ):
        assert scale in comments, scale


def test_shipped_keys_do_not_collide_once_accents_are_stripped() -> None:
    folded: dict[str, set[str]] = {}
    for row in _shipped_rows():
        key = "".join(
            c for c in unicodedata.normalize("NFKD", normalise_key(row["rating"])) if not unicodedata.combining(c)
        )
        folded.setdefault(key, set()).add(row["verdict"])
    assert {k: v for k, v in folded.items() if len(v) > 1} == {}


# --- coverage on real rating texts ------------------------------------------------------------


def _column(path: Path, column: str) -> Counter[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return Counter(row[column] for row in csv.DictReader(fh))


def test_every_politifact_rating_in_the_fixture_maps(table: VerdictTable) -> None:
    ratings = _column(FIXTURE_POLITIFACT, "rating")
    assert len(ratings) == 9
    assert {r: table.normalise(r)[1] for r in ratings} == {r: "table" for r in ratings}


@pytest.mark.skipif(not POLITIFACT.exists(), reason="shared PolitiFact dataset not present")
def test_every_distinct_politifact_rating_maps(table: VerdictTable) -> None:
    ratings = _column(POLITIFACT, "rating")
    unmapped = sorted(r for r in ratings if table.normalise(r)[0] is None)
    assert unmapped == []
    assert sum(ratings.values()) == 19_250


@pytest.mark.skipif(not (DATASETS / "liar-wang2017" / "train.tsv").exists(), reason="LIAR not present")
def test_every_liar_label_maps(table: VerdictTable) -> None:
    labels: set[str] = set()
    for split in ("train", "valid", "test"):
        with open(DATASETS / "liar-wang2017" / f"{split}.tsv", encoding="utf-8", newline="") as fh:
            labels |= {row[1] for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if len(row) > 1}
    labels.discard("label")  # a header row in one split
    assert len(labels) == 6
    assert {label: table.normalise(label)[0] for label in labels} == {
        "pants-fire": F,
        "false": F,
        "barely-true": M,
        "half-true": M,
        "mostly-true": T,
        "true": T,
    }


@pytest.mark.skipif(not JIANG.exists(), reason="shared Jiang & Wilson 2018 dataset not present")
def test_jiang2018_rulings_coverage(table: VerdictTable) -> None:
    rulings = _column(JIANG, "ruling")
    mapped = {r for r in rulings if table.normalise(r)[0] is not None}
    row_share = sum(rulings[r] for r in mapped) / sum(rulings.values())
    report = f"{len(mapped)}/{len(rulings)} distinct rulings mapped, {row_share:.1%} of rows"
    assert row_share >= 0.90, report
    assert len(mapped) == len(rulings), report  # all 11 distinct texts (FALSE, Pants on Fire!, MIXTURE, ...)


@pytest.mark.slow
@pytest.mark.skipif(not ARTICLES.exists(), reason="shared CheckThat! 2B article texts not present")
def test_politifact_closing_sentences_agree_with_their_labels(table: VerdictTable) -> None:
    """Real sentence-style ratings: the closing "We rate ..." line of 16k PolitiFact articles.

    The line is read by the sentence rule alone (the table has no such sentences) and must
    give the verdict of the record's own label; the few misses are lines about another
    check or with typos ("Mostly Ffalse").
    """
    verb = re.compile(r"\bwe\s+(?:rate|give|rule)\b", re.IGNORECASE)
    pairs = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            found = [s for s in re.findall(r"[^.!?\n]*[.!?]?", record.get("text") or "") if verb.search(s)]
            if found:
                pairs.append((found[-1][verb.search(found[-1]).start() :], record["truth_label"]))
    verdicts = {s: table.normalise(s) for s, _ in pairs}
    assert {m for v, m in verdicts.values()} <= {"sentence", "unmapped"}
    mapped = [(s, label) for s, label in pairs if verdicts[s][0] is not None]
    agree = sum(verdicts[s][0] is table.normalise(label)[0] for s, label in mapped)
    assert len(pairs) > 15_000
    assert len(mapped) / len(pairs) > 0.99, f"{len(mapped)} of {len(pairs)} closing lines mapped"
    assert agree / len(mapped) > 0.999, f"{agree} of {len(mapped)} agree with the label"
