"""Fact-check readers and format detection on small fixtures (tests/fixtures/factchecks).

The fixtures follow ../shared/formats and the formats' public specs (see the fixtures'
README.md); politifact_claimreviews.csv is ten rows copied from the derived PolitiFact
dataset (one per rating, plus a claim spanning two lines).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest
from conftest import DATASETS, Reader, run_reader, write_file

from claimwatch.records import FactCheck, FieldWarning, Parsed, Rejected, Verdict
from claimwatch.sources import claimreview, datacommons, factcheck_csv, factcheck_tools
from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.factchecks import FACTCHECK_FORMATS, detect_factcheck_format

FIXTURES = Path(__file__).parent / "fixtures" / "factchecks"
POLITIFACT = DATASETS / "politifact-claimreview-derived-from-checkthat2b" / "politifact_claimreviews.csv"
NO_RATING = "no rating: verdict unknown"


def run(reader: Reader, path: Path, **ctx_args) -> tuple[list[Parsed], list[Rejected]]:
    return run_reader(reader, path, datetime(2024, 9, 1, tzinfo=UTC), **ctx_args)


def records(parsed: list[Parsed]) -> list[FactCheck]:
    return [p.record for p in parsed]


# --- ClaimReview JSON-LD ---------------------------------------------------------------


def test_single_claimreview_maps_every_field() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_single.json")
    assert rejected == []
    [p] = parsed
    fc = p.record
    assert fc.review_url == "https://factcheck.example/2024/07/29/claim-about-voter-rolls/"
    assert fc.claim_text.startswith("SYNTHETIC SAMPLE: a claim that large numbers")
    assert (fc.publisher_name, fc.publisher_site) == ("Example Fact Check (SYNTHETIC)", "factcheck.example")
    assert fc.title == "SYNTHETIC SAMPLE: No, non-citizens are not registering en masse"
    assert fc.review_date == datetime(2024, 7, 29, tzinfo=UTC)
    assert fc.claimant == "Example Account"
    assert fc.claim_date == datetime(2024, 7, 27, tzinfo=UTC)
    assert fc.appearances == [
        "https://x.com/example_account/status/1816000000000000001",
        "https://bsky.app/profile/example.bsky.social/post/3kyexamplerkey2b",
        "https://x.com/other_account/status/1815999999999999999",
    ]
    assert (fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating) == ("False", 1.0, 5.0, 1.0)
    assert fc.language == "en"
    assert fc.verdict is None, "readers leave the verdict to the ingest step"
    assert fc.raw == json.loads((FIXTURES / "claimreview_single.json").read_text(encoding="utf-8"))
    assert (fc.source.location, fc.source.format) == ("document", "claimreview")
    assert p.warnings == []


def test_list_with_type_variants_missing_url_and_missing_rating() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_list.json")
    assert [fc.review_url for fc in records(parsed)] == [
        "https://checagem.example/2024/07/30/eleitores/",
        "https://faktencheck.example/2024/07/28/video/",
    ]
    pt, de = parsed
    # @type as a list, Language object, author list, string ratings, string claimant
    assert pt.record.language == "pt"
    assert pt.record.publisher_name == "Exemplo Checagem (SYNTHETIC)"
    assert (pt.record.rating_value, pt.record.best_rating, pt.record.worst_rating) == (1.0, 5.0, 1.0)
    assert pt.record.claimant == "Redes sociais"
    assert pt.record.review_date == datetime(2024, 7, 30, 13, tzinfo=UTC)
    assert pt.record.claim_date is None
    assert pt.warnings == [
        FieldWarning("itemReviewed.datePublished", "27/07/2024", "unreadable date; stored as unknown")
    ]
    # "schema:ClaimReview" without any rating: lands, visibly unrated; publisher from `publisher`
    assert de.record.rating_text is None and de.record.rating_value is None
    assert de.warnings == [FieldWarning("reviewRating", None, NO_RATING)]
    assert (de.record.publisher_name, de.record.publisher_site) == (
        "Beispiel Faktencheck (SYNTHETIC)",
        "faktencheck.example",
    )
    # the review without url is quarantined; the WebPage is simply not a ClaimReview
    assert [(r.source.location, r.reason) for r in rejected] == [("[2]", "ClaimReview has no url")]
    assert "a review without a url" in rejected[0].raw


def test_nested_graph_one_review_url_covering_several_claims() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_graph.json")
    assert rejected == []
    one, two = records(parsed)
    assert one.review_url == two.review_url == "https://factcheck.example/2024/08/01/roundup/"
    assert one.claim_text != two.claim_text
    assert [one.source.location, two.source.location] == ["@graph[2].@graph[0]", "@graph[2].@graph[1]"]
    assert one.rating_text == "Four Pinocchios"
    assert two.rating_text == "Missing context"  # from reviewRating.name
    assert two.review_date is None and two.rating_value is None
    assert {w.field for w in parsed[1].warnings} == {"datePublished", "reviewRating.ratingValue"}


def test_html_page_finds_claimreview_nested_in_news_article() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_page.html")
    assert rejected == []
    [p] = parsed
    fc = p.record
    assert fc.review_url == "https://chequeo.example/2024/07/31/enganoso/"
    assert fc.rating_text == "Engañoso"
    assert fc.title == "SYNTHETIC SAMPLE: Es engañoso que ..."
    assert fc.language == "es"
    # script 1 is the BreadcrumbList; the text/javascript block is not JSON-LD at all
    assert fc.source.location == "line 11 (script 2): review"
    assert detect_factcheck_format(FIXTURES / "claimreview_page.html") == "claimreview"


def test_html_page_without_claimreview_is_a_format_error(tmp_path: Path) -> None:
    page = write_file(
        tmp_path, "article.html", '<html><script type="application/ld+json">{"@type": "NewsArticle"}</script></html>'
    )
    with pytest.raises(FormatError, match="no ClaimReview"):
        run(claimreview.read, page)


def test_jsonl_bad_line_is_rejected_and_the_others_land() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_lines.jsonl")
    assert [(fc.review_url, fc.source.location) for fc in records(parsed)] == [
        ("https://factcheck.example/a/", "line 1"),
        ("https://factcheck.example/c/", "line 3: [0]"),
    ]
    [bad] = rejected
    assert bad.source.location == "line 2"
    assert bad.reason.startswith("invalid JSON")
    assert "claim B" in bad.raw


def test_jsonl_with_a_broken_first_line_is_still_jsonl(tmp_path: Path) -> None:
    good = json.dumps(
        {
            "@type": "ClaimReview",
            "url": "https://x.example/2",
            "claimReviewed": "two",
            "reviewRating": {"alternateName": "False"},
        }
    )
    path = write_file(tmp_path, "cut.jsonl", '{"@type": "ClaimReview", "url": "https://x.exa\n' + good + "\n")
    parsed, rejected = run(claimreview.read, path)
    assert [fc.source.location for fc in records(parsed)] == ["line 2"]
    assert rejected[0].source.location == "line 1" and rejected[0].reason.startswith("invalid JSON")


def test_malformed_json_names_the_position(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "broken.json",
        '{\n  "@type": "ClaimReview",\n  "url": "https://x.example/"\n  "claimReviewed": "c"\n}\n',
    )
    with pytest.raises(FormatError, match=r"not valid JSON: .* line 4 column 3"):
        run(claimreview.read, path)


def test_json_without_claimreview_is_a_format_error(tmp_path: Path) -> None:
    path = write_file(tmp_path, "other.json", json.dumps({"@type": "NewsArticle", "headline": "x"}))
    with pytest.raises(FormatError, match="ClaimReview"):
        run(claimreview.read, path)


def test_from_claimreview_rejects_missing_claim_text() -> None:
    from claimwatch.records import SourceRef

    result = claimreview.from_claimreview(
        {"@type": "ClaimReview", "url": "https://x.example/"}, SourceRef("f", "document", "claimreview")
    )
    assert isinstance(result, Rejected)
    assert "claimReviewed" in result.reason


# --- Fact Check Tools ------------------------------------------------------------------


def test_factcheck_tools_page_one_record_per_review() -> None:
    parsed, rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_page.json")
    fcs = records(parsed)
    assert [(fc.source.location, fc.rating_text, fc.language) for fc in fcs] == [
        ("claims[0].claimReview[0]", "False", "en"),
        ("claims[0].claimReview[1]", "Falso", "pt"),
        ("claims[1].claimReview[0]", "Irreführend", "de"),
    ]
    # one claim reviewed by two publishers
    assert fcs[0].claim_text == fcs[1].claim_text and fcs[0].review_url != fcs[1].review_url
    assert (fcs[1].publisher_name, fcs[1].publisher_site) == ("Exemplo Checagem (SYNTHETIC)", "checagem.example")
    assert fcs[0].claimant == "Social media posts"
    assert fcs[0].claim_date == datetime(2024, 7, 27, tzinfo=UTC)
    assert fcs[0].review_date == datetime(2024, 7, 29, tzinfo=UTC)
    assert fcs[0].title == "SYNTHETIC SAMPLE: No, non-citizens are not registering en masse"
    assert len(fcs[0].raw["claimReview"]) == 1 and fcs[0].raw["claimant"] == "Social media posts"
    assert all(fc.verdict is None for fc in fcs)
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("claims[1].claimReview[1]", "claimReview has no url"),
        ("claims[2]", "claim has no claimReview entries"),
    ]


def test_factcheck_tools_jsonl_pages() -> None:
    parsed, rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_pages.jsonl")
    assert rejected == []
    first, second = parsed
    assert first.record.source.location == "line 1: claims[0].claimReview[0]"
    assert first.record.rating_text == "Pants on Fire!"
    assert second.record.source.location == "line 2: claims[0].claimReview[0]"
    assert second.record.publisher_site == "factcheck.example"  # derived from the review url
    assert second.record.review_date is None
    assert second.warnings == [
        FieldWarning("reviewDate", "yesterday", "unreadable date; stored as unknown"),
        FieldWarning("textualRating", None, NO_RATING),
    ]


def test_factcheck_tools_reader_refuses_a_claimreview_file() -> None:
    with pytest.raises(FormatError, match="claims:search"):
        run(factcheck_tools.read, FIXTURES / "claimreview_single.json")


# --- Data Commons --------------------------------------------------------------------------


def test_datacommons_feed_null_item_is_rejected_and_inspectable() -> None:
    parsed, rejected = run(datacommons.read, FIXTURES / "datacommons_feed.json")
    fcs = records(parsed)
    assert [fc.source.location for fc in fcs] == [
        "dataFeedElement[0].item[0]",
        "dataFeedElement[0].item[1]",
        "dataFeedElement[2].item",
    ]
    # one review page, two claims
    assert fcs[0].review_url == fcs[1].review_url and fcs[0].claim_text != fcs[1].claim_text
    assert (fcs[0].rating_text, fcs[0].rating_value, fcs[0].best_rating) == ("False", 1.0, 5.0)
    # a numeric-only rating is a rating: no "no rating" warning
    assert (fcs[1].rating_text, fcs[1].rating_value) == (None, 2.0) and parsed[1].warnings == []
    assert fcs[2].rating_text == "Enganoso"
    [null] = rejected
    assert (null.source.location, null.reason) == ("dataFeedElement[1]", "feed item has no ClaimReview (item is null)")
    assert "withdrawn" in null.raw


def test_datacommons_reader_refuses_a_plain_claimreview() -> None:
    with pytest.raises(FormatError, match="DataFeed"):
        run(datacommons.read, FIXTURES / "claimreview_single.json")


# --- CSV ---------------------------------------------------------------------------------


def test_politifact_csv_without_mapping() -> None:
    parsed, rejected = run(factcheck_csv.read, FIXTURES / "politifact_claimreviews.csv")
    assert rejected == []
    fcs = records(parsed)
    assert [fc.rating_text for fc in fcs] == [
        "false",
        "pants-fire",
        "half-true",
        "true",
        "barely-true",
        "mostly-true",
        "full-flop",
        "half-flip",
        "no-flip",
        "barely-true",
    ]
    first = fcs[0]
    assert first.review_url.startswith("https://www.politifact.com/factchecks/2019/oct/30/")
    assert (first.publisher_name, first.publisher_site) == ("PolitiFact", "politifact.com")
    assert first.claimant == "GayDonna Vandergriff"
    assert first.review_date == datetime(2019, 10, 30, tzinfo=UTC)
    assert first.title == "Vandergriff inaccurately describes bill that would have eased late-term abortion laws"
    assert first.raw["vclaim_id"] == "vclaim-pol-00000" and first.raw["claim_context"] == "in a campaign mailer."
    multiline = fcs[-1]
    assert "\n" in multiline.claim_text and multiline.source.location == "line 11"
    assert all(p.warnings == [] for p in parsed)


@pytest.mark.skipif(not POLITIFACT.exists(), reason="shared PolitiFact dataset not present")
def test_real_politifact_csv_reads_without_mapping() -> None:
    assert detect_factcheck_format(POLITIFACT) == "csv"
    head = list(islice(factcheck_csv.read(POLITIFACT, ReadContext(observed_at=datetime.now(UTC))), 500))
    assert len(head) == 500 and all(isinstance(r, Parsed) and r.warnings == [] for r in head)


def test_csv_with_custom_columns_and_mapping() -> None:
    mapping = {
        "review_url": "Fact-check link",
        "claim_text": "Statement checked",
        "rating_text": "Verdict label",
        "publisher_name": "Checker",
        "review_date": "Published on",
        "claimant": "Stated by",
        "rating_value": "Score",
        "best_rating": "Out of",
    }
    parsed, rejected = run(factcheck_csv.read, FIXTURES / "custom_columns.csv", column_map=mapping)
    de, numeric = parsed
    assert (de.record.rating_text, de.record.claimant, de.record.review_date) == (
        "Irreführend",
        "X users",
        datetime(2024, 7, 28, tzinfo=UTC),
    )
    assert de.record.raw["Internal id"] == "fc-001"
    assert (numeric.record.rating_text, numeric.record.rating_value, numeric.record.best_rating) == (None, 2.0, 5.0)
    assert numeric.warnings == [FieldWarning("Published on", "02/08/2024", "unreadable date; stored as unknown")]
    [no_link] = rejected
    assert no_link.source.location == "line 4" and no_link.reason == "no review_url (column 'Fact-check link' is empty)"


def test_csv_without_usable_columns_says_how_to_map() -> None:
    with pytest.raises(FormatError) as err:
        run(factcheck_csv.read, FIXTURES / "custom_columns.csv")
    message = str(err.value)
    assert "Fact-check link" in message and "Statement checked" in message
    assert "--map review_url=COLUMN" in message and "--map claim_text=COLUMN" in message


def test_csv_map_to_a_missing_column_is_refused() -> None:
    with pytest.raises(FormatError, match="--map claim_text=Claim: no such column"):
        run(factcheck_csv.read, FIXTURES / "politifact_claimreviews.csv", column_map={"claim_text": "Claim"})


def test_jiang_shaped_csv_has_no_claim_column(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "factchecks.csv",
        "factcheck,href,ruling,ruling_date,site,checkedby\n"
        "https://www.snopes.com/x/,https://www.facebook.com/p/1,FALSE,2016-03-25T11:45:52-08:00,facebook,snopes\n",
    )
    assert detect_factcheck_format(path) == "csv"
    with pytest.raises(FormatError, match=r"no column for claim_text .* columns found: factcheck, href, ruling"):
        run(factcheck_csv.read, path)
    parsed, _ = run(factcheck_csv.read, path, column_map={"claim_text": "href"})
    assert (parsed[0].record.publisher_name, parsed[0].record.rating_text) == ("snopes", "FALSE")


# --- bad input shared by all readers ------------------------------------------------------


def test_non_utf8_files(tmp_path: Path) -> None:
    latin1_json = write_file(
        tmp_path,
        "latin1.json",
        json.dumps({"@type": "ClaimReview", "url": "u", "claimReviewed": "é"}, ensure_ascii=False).encode("latin-1"),
    )
    with pytest.raises(FormatError, match="not UTF-8"):
        detect_factcheck_format(latin1_json)
    with pytest.raises(FormatError, match="not UTF-8"):
        run(claimreview.read, latin1_json)

    good = json.dumps(
        {
            "@type": "ClaimReview",
            "url": "https://x.example/1",
            "claimReviewed": "one",
            "reviewRating": {"alternateName": "False"},
        }
    )
    bad = json.dumps(
        {"@type": "ClaimReview", "url": "https://x.example/2", "claimReviewed": "Fálso"}, ensure_ascii=False
    )
    mixed_jsonl = write_file(tmp_path, "mixed.jsonl", good.encode() + b"\n" + bad.encode("latin-1") + b"\n")
    parsed, rejected = run(claimreview.read, mixed_jsonl)
    assert [fc.review_url for fc in records(parsed)] == ["https://x.example/1"]
    assert rejected[0].source.location == "line 2" and "UTF-8" in rejected[0].reason

    csv_path = write_file(
        tmp_path,
        "rows.csv",
        b"review_url,claim_text,rating\nhttps://x.example/1,one,False\n"
        + "https://x.example/2,Fálso,False\n".encode("latin-1"),
    )
    parsed, rejected = run(factcheck_csv.read, csv_path)
    assert len(parsed) == 1 and rejected[0].source.location == "line 3" and "UTF-8" in rejected[0].reason


@pytest.mark.parametrize("name", sorted(FACTCHECK_FORMATS))
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = write_file(tmp_path, "empty.json", "  \n")
    with pytest.raises(FormatError, match="empty file"):
        detect_factcheck_format(path)
    with pytest.raises(FormatError, match="empty file"):
        run(FACTCHECK_FORMATS[name], path)


# --- detection -------------------------------------------------------------------------------


def test_registry_keys() -> None:
    assert set(FACTCHECK_FORMATS) == {"claimreview", "factcheck-tools", "datacommons", "csv", "claimskg"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claimreview_single.json", "claimreview"),
        ("claimreview_list.json", "claimreview"),
        ("claimreview_graph.json", "claimreview"),
        ("claimreview_page.html", "claimreview"),
        ("claimreview_lines.jsonl", "claimreview"),
        ("factcheck_tools_page.json", "factcheck-tools"),
        ("factcheck_tools_pages.jsonl", "factcheck-tools"),
        ("datacommons_feed.json", "datacommons"),
        ("politifact_claimreviews.csv", "csv"),
        ("custom_columns.csv", "csv"),
        ("claimreview_variants.json", "claimreview"),
        ("datacommons_feed_variants.json", "datacommons"),
        ("factcheck_tools_page_list.json", "factcheck-tools"),
        ("factcheck_tools_claims.jsonl", "factcheck-tools"),
        ("factcheck_tools_markup_pages.json", "factcheck-tools"),
        ("factcheck_tools_image_search.json", "factcheck-tools"),
        ("claimskg_explorer.csv", "claimskg"),
        ("claimskg_extractor.csv", "csv"),
        ("factcheck_tools_flattened.csv", "csv"),
        ("claimreview_flattened.csv", "csv"),
        ("factchecks.tsv", "csv"),
    ],
)
def test_detect_fixture_formats(name: str, expected: str) -> None:
    assert detect_factcheck_format(FIXTURES / name) == expected


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "x_page.json",
            json.dumps(
                {
                    "data": [{"id": "1816000000000000001", "text": "t", "author_id": "1"}],
                    "includes": {"users": []},
                    "meta": {"result_count": 1},
                }
            ),
        ),
        ("twarc2.jsonl", json.dumps({"data": [{"id": "1", "text": "t"}], "__twarc": {"version": "2.14.1"}}) + "\n"),
        ("twarc.csv", "id,author_id,created_at,text,public_metrics.like_count\n1816000000000000001,1,2024-07-27,t,3\n"),
    ],
)
def test_posts_file_is_sent_to_ingest_posts(tmp_path: Path, name: str, content: str) -> None:
    with pytest.raises(FormatError, match="looks like social-media posts .*claimwatch ingest posts"):
        detect_factcheck_format(write_file(tmp_path, name, content))


def test_unrelated_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="JSON without ClaimReview"):
        detect_factcheck_format(write_file(tmp_path, "x.json", '{"hello": "world"}'))


# --- real variants: ClaimReview JSON-LD ---------------------------------------------------------


def test_claimreview_schema_variants() -> None:
    parsed, rejected = run(claimreview.read, FIXTURES / "claimreview_variants.json")
    by_url = {fc.review_url: p for p in parsed for fc in [p.record]}
    old = by_url["https://factcheck.example/2017/06/01/creative-work/"].record
    # a bare string reviewRating is the rating text; a CreativeWork's own url is where the claim appeared
    assert (old.rating_text, old.claimant, old.appearances) == (
        "Mostly False",
        "Example Blog",
        ["https://blog.example/post/1"],
    )
    assert old.claim_date == datetime(2017, 5, 30, tzinfo=UTC)
    listed = by_url["https://factcheck.example/2024/07/02/first-appearance/"]  # url as {"@id"}
    assert listed.record.claim_text == "SYNTHETIC SAMPLE: a claim given as a one-element list."
    assert (listed.record.rating_text, listed.record.rating_value) == ("Misleading", 2.0)  # name; "2" as a string
    assert listed.record.appearances == [
        "https://x.com/example_account/status/1816000000000000002",
        "https://video.example/watch?v=example",
    ]
    assert listed.record.review_date == datetime(2024, 7, 2, tzinfo=UTC) and listed.warnings == []
    prefixed = by_url["https://factcheck.example/2024/07/03/prefixed/"].record
    assert (prefixed.rating_text, prefixed.claimant) == ("The claim is False.", "Example Candidate")
    off_scale = by_url["https://factcheck.example/2024/07/04/off-scale/"]
    assert off_scale.record.rating_value is None and off_scale.record.best_rating == 5.0
    assert off_scale.warnings[0] == FieldWarning("ratingValue", 9.0, "outside the rating scale 1..5; stored as unknown")
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("@graph[5]", "ClaimReview claimReviewed (claim text) is a JSON object, not text"),
        ("@graph[6]", "ClaimReview url is a JSON object, not text"),
    ]


def test_html_entities_are_unescaped_in_derived_text_and_kept_in_raw() -> None:
    parsed, _ = run(claimreview.read, FIXTURES / "claimreview_variants.json")
    [p] = [p for p in parsed if p.record.review_url.endswith("/entities/")]
    # twice-escaped "&amp;amp;" is one "&"; "&nottingham" (no ";") is text, not the legacy entity &not
    assert p.record.claim_text == "SYNTHETIC SAMPLE: Q&A says 'ballots' were lost – AT&T &nottingham"
    assert p.record.title == 'SYNTHETIC SAMPLE: "Lost" ballots were found & counted'
    assert (
        p.record.raw["claimReviewed"]
        == "SYNTHETIC SAMPLE: Q&amp;A says &#39;ballots&#39; were lost &#8211; AT&T &nottingham"
    )


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (factcheck_csv.read_claimskg, "claimskg_explorer.csv"),
        (factcheck_tools.read, "factcheck_tools_claims.jsonl"),
    ],
)
def test_entities_unescaped_in_every_reader(reader: Reader, name: str) -> None:
    texts = [t for p in run(reader, FIXTURES / name)[0] for t in (p.record.claim_text, p.record.title) if t]
    assert any("&" in t or "'" in t or "“" in t for t in texts)
    assert not any(e in t for t in texts for e in ("&amp;", "&#39;", "&#8220;"))


# --- real variants: Fact Check Tools -------------------------------------------------------------


def test_factcheck_tools_list_of_pages_with_an_empty_last_page() -> None:
    parsed, rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_page_list.json")
    assert rejected == []
    assert [(p.record.source.location, p.record.rating_text) for p in parsed] == [
        ("[0].claims[0].claimReview[0]", "False"),
        ("[1].claims[0].claimReview[0]", "Totally False. The photo is from 2015."),
    ]
    # a review without publisher name takes its site from publisher.site
    assert (parsed[1].record.publisher_name, parsed[1].record.publisher_site) == (None, "checker.example")


def test_factcheck_tools_claims_one_per_line() -> None:
    parsed, rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_claims.jsonl")
    assert [(p.record.source.location, p.record.language) for p in parsed] == [
        ("line 1: claimReview[0]", "en"),
        ("line 1: claimReview[1]", "pt"),
        ("line 4: claimReview[0]", "de"),
    ]
    assert parsed[0].record.claim_text == parsed[1].record.claim_text
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("line 2", "claim has no claimReview entries"),
        ("line 3", "not Fact Check Tools output (a claims:search page, claims or markup pages)"),
    ]
    assert "without its claimReview array" in rejected[1].raw


def test_factcheck_tools_empty_pages(tmp_path: Path) -> None:
    for content in ('{"nextPageToken": "CAo"}', "{}", '[{}, {"nextPageToken": "CAo"}]'):
        assert run(factcheck_tools.read, write_file(tmp_path, "empty.json", content)) == ([], [])


def test_factcheck_tools_markup_pages() -> None:
    parsed, rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_markup_pages.json")
    first, second = (p.record for p in parsed)
    assert first.review_url == "https://factcheck.example/2024/07/10/markup/"  # the page's url: the markup has none
    assert second.review_url == "https://factcheck.example/2024/07/10/markup/#claim-2"
    assert (first.publisher_name, first.claimant, first.review_date, first.claim_date) == (
        "Example Fact Check (SYNTHETIC)",
        "Example Account",
        datetime(2024, 7, 10, tzinfo=UTC),
        datetime(2024, 7, 8, tzinfo=UTC),
    )
    assert first.appearances == [
        "https://x.com/example_account/status/1816000000000000003",
        "https://video.example/watch?v=first",
    ]
    assert (first.rating_text, first.rating_value, first.best_rating, first.worst_rating) == (
        "Pants on Fire",
        1.0,
        6.0,
        1.0,
    )
    assert first.raw["claimReviewMarkups"][0]["rating"]["ratingExplanation"] == "SYNTHETIC SAMPLE explanation"
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("claimReviewMarkupPages[1]", "markup page has no claimReviewMarkups entries")
    ]


def test_factcheck_tools_image_search_results() -> None:
    [p], rejected = run(factcheck_tools.read, FIXTURES / "factcheck_tools_image_search.json")
    assert rejected == [] and p.record.source.location == "results[0].claim.claimReview[0]"
    assert (p.record.claimant, p.record.rating_text) == ("Viral image", "Miscaptioned")


# --- real variants: Data Commons ------------------------------------------------------------------


def test_datacommons_item_shapes() -> None:
    parsed, rejected = run(datacommons.read, FIXTURES / "datacommons_feed_variants.json")
    assert [p.record.source.location for p in parsed] == [
        "dataFeedElement[0].item",
        "dataFeedElement[2]",
        "dataFeedElement[3].item[0]",
        "dataFeedElement[3].item[1]",
    ]
    beyond_float, far_date = parsed[2], parsed[3]
    assert (
        beyond_float.record.rating_value is None and beyond_float.record.raw["reviewRating"]["ratingValue"] == "1e400"
    )
    assert beyond_float.warnings == [
        FieldWarning("reviewRating.ratingValue", "1e400", "not a finite number; stored as unknown")
    ]
    assert far_date.warnings == [FieldWarning("datePublished", "99999-01-01", "unreadable date; stored as unknown")]
    assert [(r.source.location, r.reason) for r in rejected] == [
        ("dataFeedElement[1]", "feed item has no ClaimReview (no item)"),
        ("dataFeedElement[4]", "feed item has no ClaimReview (item is null)"),
    ]


# --- real variants: CSV ---------------------------------------------------------------------------


def test_claimskg_explorer_export_is_mapped_natively() -> None:
    parsed, rejected = run(factcheck_csv.read_claimskg, FIXTURES / "claimskg_explorer.csv")
    fcs = records(parsed)
    first = fcs[0]
    assert first.review_url == "https://www.factcheck.example/2020/10/14/ballots-counted-twice/"  # link
    assert (first.claimant, first.publisher_name, first.publisher_site) == (
        "Example Account",
        "factcheck.example",
        "factcheck.example",
    )
    assert first.claim_date == datetime(2020, 10, 12, tzinfo=UTC) and first.review_date is None
    assert first.title == "SYNTHETIC SAMPLE: No, ballots were not counted twice" and first.language == "en"
    assert first.raw["keywords"] == "elections,ballots" and first.source.format == "claimskg"
    # truthRating on ClaimsKG's 1..3 scale; -1 (OTHER) is the "not rated" convention, not a bad value
    assert [(fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating) for fc in fcs[:4]] == [
        ("FALSE", 1.0, 3.0, 1.0),
        ("MIXTURE", 2.0, 3.0, 1.0),
        ("TRUE", 3.0, 3.0, 1.0),
        ("OTHER", -1.0, 3.0, 1.0),
    ]
    assert all(p.warnings == [] for p in parsed[:4])
    assert parsed[4].warnings == [FieldWarning("ratingValue", 7.0, "outside the rating scale 1..3; stored as unknown")]
    assert "\n" in fcs[4].claim_text
    [no_link] = rejected
    assert (no_link.source.location, no_link.reason) == ("line 6", "no review_url (column 'link' is empty)")


def test_claimskg_classes_normalise(tmp_path: Path) -> None:
    from claimwatch.verdicts import VerdictTable

    table = VerdictTable.load()
    parsed, _ = run(factcheck_csv.read_claimskg, FIXTURES / "claimskg_explorer.csv")
    got = [
        table.normalise(fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating)[0] for fc in records(parsed)
    ]
    assert got == [Verdict.FALSE, Verdict.MIXED, Verdict.TRUE, None, Verdict.FALSE]
    # the numbers alone give the same classes
    numeric = [table.normalise(None, fc.rating_value, fc.best_rating, fc.worst_rating)[0] for fc in records(parsed)]
    assert numeric == [Verdict.FALSE, Verdict.MIXED, Verdict.TRUE, None, None]


def test_claimskg_map_overrides_the_family() -> None:
    parsed, _ = run(factcheck_csv.read_claimskg, FIXTURES / "claimskg_explorer.csv", column_map={"review_url": "id"})
    assert parsed[0].record.review_url == "https://claimskg.example/creative_work/0001"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "claimskg_extractor.csv",
            [
                (
                    "https://www.factcheck.example/2019/05/03/moon-cheese/",
                    "Pants on Fire!",
                    1.0,
                    5.0,
                    "Example Fact Check",
                    "Example Blogger",
                    "SYNTHETIC SAMPLE: Moon is not cheese",
                ),
                (
                    "https://www.factcheck.example/2019/06/12/budget/",
                    "Mostly False",
                    None,
                    None,
                    "Example Fact Check",
                    "Example Senator",
                    "SYNTHETIC SAMPLE: The budget grew 8%",
                ),
            ],
        ),
        (
            "factcheck_tools_flattened.csv",
            [
                (
                    "https://factcheck.example/2024/07/29/voter-rolls/",
                    "This is false.",
                    None,
                    None,
                    "Example Fact Check (SYNTHETIC)",
                    "Social media posts",
                    "SYNTHETIC SAMPLE: No & no again",
                ),
                (
                    "https://checagem.example/2024/07/30/eleitores/",
                    "Falso",
                    None,
                    None,
                    "Exemplo Checagem (SYNTHETIC)",
                    "Social media posts",
                    "SYNTHETIC SAMPLE: É falso",
                ),
            ],
        ),
        (
            "claimreview_flattened.csv",
            [
                (
                    "https://factcheck.example/2024/07/29/voter-rolls/",
                    "False",
                    1.0,
                    5.0,
                    "Example Fact Check (SYNTHETIC)",
                    "Example Account",
                    None,
                ),
                (
                    "https://factcheck.example/2024/07/30/numbers/",
                    None,
                    2.0,
                    5.0,
                    "Example Fact Check (SYNTHETIC)",
                    "Example Account",
                    None,
                ),
            ],
        ),
        (
            "factchecks.tsv",
            [
                (
                    "https://factcheck.example/2024/08/02/tab/",
                    "Mostly False",
                    None,
                    None,
                    "Example Fact Check (SYNTHETIC)",
                    None,
                    None,
                ),
                (
                    "https://factcheck.example/2024/08/03/tab2/",
                    "The claim is false",
                    None,
                    None,
                    "Example Fact Check (SYNTHETIC)",
                    None,
                    None,
                ),
            ],
        ),
    ],
)
def test_flattened_csv_families_read_without_mapping(name: str, expected: list[tuple]) -> None:
    parsed, rejected = run(factcheck_csv.read, FIXTURES / name)
    assert rejected == [] and all(p.warnings == [] for p in parsed)
    assert [
        (fc.review_url, fc.rating_text, fc.rating_value, fc.best_rating, fc.publisher_name, fc.claimant, fc.title)
        for fc in records(parsed)
    ] == expected


def test_flattened_dates_land_in_the_right_fields() -> None:
    fc = records(run(factcheck_csv.read, FIXTURES / "claimreview_flattened.csv")[0])[0]
    assert (fc.review_date, fc.claim_date) == (datetime(2024, 7, 29, tzinfo=UTC), datetime(2024, 7, 27, tzinfo=UTC))
    fc = records(run(factcheck_csv.read, FIXTURES / "factcheck_tools_flattened.csv")[0])[0]
    assert (fc.review_date, fc.claim_date, fc.language) == (
        datetime(2024, 7, 29, tzinfo=UTC),
        datetime(2024, 7, 27, tzinfo=UTC),
        "en",
    )


TWARC_CSV = Path(__file__).parent / "fixtures" / "posts" / "twarc_csv_flattened.csv"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["review_url", "claim_text", "rating"], True),
        (
            ["factcheck", "href", "ruling", "ruling_date", "site", "checkedby"],
            True,
        ),  # Jiang & Wilson: no claim, but rated
        (
            ["text", "claimant", "claimDate", "url", "title", "reviewDate", "textualRating"],
            True,
        ),  # Fact Check Tools, flattened
        (["claimReviewed", "url", "reviewRating.alternateName"], True),
        (
            [
                "id",
                "text",
                "date",
                "truthRating",
                "ratingName",
                "author",
                "headline",
                "named_entities_claim",
                "named_entities_article",
                "keywords",
                "source",
                "sourceURL",
                "link",
                "language",
            ],
            True,
        ),  # ClaimsKG
        (["id", "text", "url", "created_at", "likes", "verdict"], False),  # posts, even with a "verdict" column
        (["id", "author_handle", "created_at", "text", "views", "likes"], False),
        (["id_str", "full_text", "favorite_count", "retweet_count", "user.screen_name"], False),
        (["url", "text", "title", "language"], False),  # nothing fact-check specific
        (["noteId", "noteAuthorParticipantId", "createdAtMillis", "tweetId", "classification"], False),
    ],
)
def test_is_factcheck_header(header: list[str], expected: bool) -> None:
    assert factcheck_csv.is_factcheck_header(header) is expected


def test_twarc_csv_header_is_not_a_factcheck_header() -> None:
    header = factcheck_csv.read_header(TWARC_CSV)[0]
    assert "author.name" in header and factcheck_csv.is_factcheck_header(header) is False


# --- files that are not fact-checks are refused whole, naming the command --------------------------


@pytest.mark.parametrize(
    ("name", "content", "command"),
    [
        (
            "posts.csv",
            "id,author_handle,created_at,text,views,likes\n1816000000000000001,example_account,2024-07-27,t,10,1\n",
            "claimwatch ingest posts",
        ),
        (
            "archive.csv",
            "id_str,full_text,favorite_count,retweet_count,created_at\n1816000000000000001,t,1,2,2024-07-27\n",
            "claimwatch ingest posts",
        ),
        (
            "notes-00000.tsv",
            "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttweetId\tclassification\n1\tA\t1\t2\tX\n",
            "claimwatch ingest notes",
        ),
        (
            "noteStatusHistory-00000.tsv",
            "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\tcurrentStatus\n1\tA\t1\tX\n",
            "claimwatch ingest notes",
        ),
        (
            "labels.jsonl",
            json.dumps(
                {
                    "data": {
                        "public_tweet_notice": {
                            "tweet": {"id": "1"},
                            "event_type": "misleading",
                            "event_at": "2024-07-28T10:15:00Z",
                            "application": "apply",
                        }
                    }
                }
            )
            + "\n",
            "claimwatch ingest labels",
        ),
    ],
)
def test_other_files_name_the_right_command(tmp_path: Path, name: str, content: str, command: str) -> None:
    with pytest.raises(FormatError, match=command):
        detect_factcheck_format(write_file(tmp_path, name, content))


def test_posts_in_the_twarc_csv_fixture_are_refused() -> None:
    with pytest.raises(FormatError, match="looks like social-media posts .*claimwatch ingest posts"):
        detect_factcheck_format(TWARC_CSV)


# --- through the ingest: verdicts of sentence ratings and the new formats ---------------------------


def test_ingest_variants_normalises_sentence_ratings(ws) -> None:
    from claimwatch.store import repo

    names = ["factcheck_tools_claims.jsonl", "claimskg_explorer.csv", "claimreview_variants.json", "factchecks.tsv"]
    report = ws.ingest_factchecks([FIXTURES / n for n in names])
    assert [f.format for f in report.files] == ["factcheck-tools", "claimskg", "claimreview", "csv"]
    assert all(f.error is None for f in report.files)
    with ws.engine.connect() as conn:
        rows = repo.factchecks_for_verdicts(conn)
    methods = {row.rating_text: (row.verdict, row.verdict_method) for row in rows}
    assert methods["User's claim is mostly false."] == ("misleading", "sentence")
    assert methods["Não é verdade"] == ("false", "sentence")
    assert methods["The claim is False."] == ("false", "sentence")
    assert methods["MIXTURE"] == ("mixed", "table") and methods["OTHER"] == (None, "unmapped")
    assert ws.ingest_factchecks([FIXTURES / n for n in names]).inserted == 0, "re-running adds nothing"


def test_a_factcheck_table_with_an_id_and_a_date_is_not_taken_for_posts(tmp_path: Path) -> None:
    path = write_file(
        tmp_path,
        "ours.csv",
        "id,date,Statement checked,Verdict label,Fact-check link\n"
        "fc-1,2024-07-28,SYNTHETIC claim,Falsch,https://faktencheck.example/1\n",
    )
    assert detect_factcheck_format(path) == "csv"
    mapping = {"claim_text": "Statement checked", "rating_text": "Verdict label", "review_url": "Fact-check link"}
    [p], _ = run(factcheck_csv.read, path, column_map=mapping)
    assert (p.record.review_url, p.record.rating_text) == ("https://faktencheck.example/1", "Falsch")
