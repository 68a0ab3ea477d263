"""Posts and fact-checks not in English: a second, multilingual dense index and language routing.

Why a second index rather than one multilingual encoder everywhere: the English path (MiniLM,
BM25 per field, the trained re-ranker and its calibration) is what every English figure was
measured and trained on; replacing its encoder would move them all and need the re-ranker
retrained. USE multilingual v3 (``--model use-multilingual-v3``, the ``multilingual`` extra)
instead embeds the same documents once more, row-aligned with the main index, and is used where
the English path is blind:

- a post detected as another language (:mod:`claimwatch.claims.language`) is ranked by its USE
  cosine to every fact-check, alone: BM25 is English-centric (English stemmer and stopwords), so
  for a German post it scores only names and numbers that happen to be spelled alike, and the
  fused score's lexical part is noise; MiniLM maps non-English text poorly (the shipped model's
  multilingual dev P@1 was 0.68);
- a post in English (or of undetermined language) keeps the English path; when the collection
  holds fact-checks detected as not English, the post is also ranked by USE cosine, and when
  that ranking's top hit is a non-English fact-check the post keeps whichever list's top hit is
  surer (as a post's claim sentence does). On an English-only collection nothing changes, so
  English figures are unchanged by construction.

A multilingual hit's confidence is a logistic calibration of its top cosine and its margin over
the runner-up (:data:`CALIBRATION`), fitted on English CheckThat! 2A *train* tweets against the
Snopes claims plus CheckThat! 2022 1A train tweets that make no claim (see
``benchmarks/multilingual.py --fit``), never on the multilingual sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claimwatch.claims.docs import ClaimDoc
from claimwatch.claims.encoder import USE_MULTILINGUAL, Encoder
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.language import UNDETERMINED, detect_languages
from claimwatch.claims.retrieval import Hit

#: What matches found on this path record as their method.
METHOD = "multilingual-use-v3"
ENGLISH = "en"
#: The folder of the multilingual index, next to the main one.
INDEX_SUFFIX = ".multilingual"
_COS = FEATURE_NAMES.index("cos")


@dataclass(frozen=True)
class Calibration:
    """P(the top hit is right) = sigmoid(cos·a + margin·b + c)."""

    cos: float
    margin: float
    intercept: float

    def __call__(self, top: np.ndarray, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.cos * top + self.margin * margin + self.intercept)))


#: Fitted by ``python benchmarks/multilingual.py --fit`` (see the module docstring).
CALIBRATION = Calibration(cos=7.2685, margin=13.0679, intercept=-5.8519)


def needs_multilingual(lang: str) -> bool:
    """Whether a post in ``lang`` is ranked by the multilingual path alone."""
    return lang not in (ENGLISH, UNDETERMINED)


class MultilingualSearch:
    """The multilingual index (row-aligned with the main one) and its searches."""

    def __init__(self, index: ClaimIndex, encoder: Encoder, doc_langs: Sequence[str]) -> None:
        self.index = index
        self.encoder = encoder
        self.doc_langs = list(doc_langs)
        #: rows of fact-checks not in English (what an English post is also searched against)
        self._foreign = np.array([needs_multilingual(lang) for lang in self.doc_langs], dtype=bool)
        self.foreign_rows = np.flatnonzero(self._foreign)

    @classmethod
    def build(
        cls, main: ClaimIndex, directory: Path | None = None, *, encoder: Encoder | None = None, persist: bool = True
    ) -> MultilingualSearch:
        """Embed ``main``'s documents with USE (incrementally, in ``directory``: default beside
        ``main``), in the same row order."""
        enc = encoder or Encoder(USE_MULTILINGUAL)
        where = directory or main.directory.with_name(main.directory.name + INDEX_SUFFIX)
        index, _ = ClaimIndex.build(where, main.docs, enc, persist=persist)
        langs = [d.lang for d in detect_languages([_doc_text(d) for d in main.docs])]
        return cls(index, enc, langs)

    def aligned_with(self, main: ClaimIndex) -> bool:
        return len(main) == len(self.index) and bool(np.array_equal(main.ids, self.index.ids))

    def search(self, embeddings: np.ndarray, top_k: int, rows: np.ndarray | None = None) -> list[list[Hit]]:
        """Top-k hits per query by USE cosine among ``rows`` (default: every document, through the
        index's dense search: approximate on large collections), with a calibrated confidence on
        the top hit; the score is the cosine."""
        n = len(self.index) if rows is None else len(rows)
        if not n or not len(embeddings):
            return [[] for _ in range(len(embeddings))]
        k = min(max(top_k, 2), n)  # the runner-up is needed for the margin
        if rows is None:
            found = self.index.dense_search(embeddings, k)
        else:
            sims = embeddings @ self.index.embeddings[rows].astype(np.float32).T
            found = rows[np.argpartition(-sims, k - 1, axis=1)[:, :k]]
        out = []
        for qi, cand in enumerate(found):
            cand = cand[cand >= 0]
            cos = self.index.cosines(embeddings[qi], cand)
            order = np.argsort(-cos, kind="stable")
            cand, cos = cand[order], cos[order]
            margin = cos[0] - cos[1] if len(cos) > 1 else cos[0]
            conf = float(CALIBRATION(np.array([cos[0]]), np.array([margin]))[0])
            hits = []
            for rank, (row, c) in enumerate(zip(cand[:top_k], cos[:top_k], strict=True)):
                feats = np.full(len(FEATURE_NAMES), np.nan, dtype=np.float32)
                feats[_COS] = c
                hits.append(Hit(int(row), self.index.docs[row].id, float(c), conf if rank == 0 else None, feats))
            out.append(hits)
        return out

    def route(
        self, langs: Sequence[str], main_hits: Sequence[list[Hit]], embeddings: np.ndarray, top_k: int
    ) -> list[tuple[list[Hit], bool]]:
        """Each post's hits and whether they came from the multilingual path.

        ``embeddings``: the USE embeddings of the posts (rows aligned with ``langs``)."""
        foreign = [i for i, lang in enumerate(langs) if needs_multilingual(lang)]
        others = [i for i, lang in enumerate(langs) if not needs_multilingual(lang)]
        out: list[tuple[list[Hit], bool]] = [(list(h), False) for h in main_hits]
        for i, hits in zip(foreign, self.search(embeddings[foreign], top_k), strict=True):
            out[i] = (hits, True)
        if len(self.foreign_rows) and others:
            # Ranked against every document, so the margin (and so the confidence) is the one the
            # calibration was fitted on; only a foreign top hit can be what the English path missed.
            for i, hits in zip(others, self.search(embeddings[others], top_k), strict=True):
                if (
                    hits
                    and self._foreign[hits[0].row]
                    and (not out[i][0] or sureness(hits[0]) > sureness(out[i][0][0]))
                ):
                    out[i] = (hits, True)
        return out

    def posts_needing_embeddings(self, langs: Sequence[str]) -> list[int]:
        """Positions of the posts the multilingual path looks at (all when foreign fact-checks exist)."""
        if len(self.foreign_rows):
            return list(range(len(langs)))
        return [i for i, lang in enumerate(langs) if needs_multilingual(lang)]


def sureness(hit: Hit) -> float:
    """How sure a top hit is: its calibrated confidence, else its score (what a post keeps when
    two queries or two paths disagree)."""
    return hit.confidence if hit.confidence is not None else hit.score


def _doc_text(doc: ClaimDoc) -> str:
    return doc.embed_text()
