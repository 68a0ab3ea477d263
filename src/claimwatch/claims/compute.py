"""Matching's compute, apart from the store: a chunk of posts in, per-post results out.

:func:`~claimwatch.claims.match.match_posts` reads posts from the store and writes what this
computes; the batch engine (:mod:`claimwatch.batch`) runs the same functions over Arrow record
batches, on this machine's cores or on Ray, and imports the results later. One code path for
both is what makes a batch run + import leave the store as ``claimwatch match`` would.

:class:`Matching` holds what a run needs loaded once (retriever, analyser, multilingual search,
the proposal settings); :meth:`Matching.embed` is the stage that releases the GIL (encoding,
run ahead in background threads), :meth:`Matching.results` the Python rest (search, proposals,
evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate

import numpy as np

from claimwatch.claims import relation
from claimwatch.claims.analyse import Analyser, Analysis, PostText, prepare
from claimwatch.claims.analyse import Embedded as AnalysisEmbedded
from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, tokenize
from claimwatch.claims.language import Detected, detect_languages
from claimwatch.claims.multilingual import METHOD as MULTILINGUAL_METHOD
from claimwatch.claims.multilingual import MultilingualSearch, needs_multilingual, sureness
from claimwatch.claims.retrieval import Embedded, Hit, Retriever
from claimwatch.claims.stance import stance_cues
from claimwatch.claims.text import clean_query, skip_reason
from claimwatch.store.matches import CandidateRow

#: What matching and analysis read of a post: the encoder sees ~256 tokens anyway, sentences
#: stop at 64; BM25, language and check-worthiness get ample margin. A 10 MB post would
#: otherwise cost gigabytes (tokens, n-grams) for nothing.
MAX_MATCH_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class PostIn:
    """What matching reads of a post (the store's ``posts_to_match`` row, or a batch input row)."""

    id: int
    #: the first :data:`MAX_MATCH_CHARS` characters
    text: str | None
    #: the whole post's length (the evidence says when matching read less)
    text_length: int
    #: the hash of the text matched: results are written only while the post still has it
    text_hash: str | None
    created_at: datetime | None


@dataclass(slots=True)
class PostResult:
    """One post's matching outcome, before it is written anywhere."""

    post_id: int
    #: the hash of the text these results were computed from (written only while it is current)
    text_hash: str | None
    #: why the post has nothing to match (then no candidates), else None
    skip_reason: str | None
    #: language, check-worthiness, claim sentence, topics (None without an analyser)
    analysis: Analysis | None
    candidates: list[CandidateRow]
    method: str


def match_version(index: ClaimIndex, multilingual: MultilingualSearch | None) -> str:
    """What a match was made with: the multilingual index is part of it (turning it on re-matches)."""
    return index.version if multilingual is None else f"{index.version}+{multilingual.index.version}"


class Matching:
    """A matching run's loaded models and settings: what the store-bound and batch runners share."""

    def __init__(
        self,
        retriever: Retriever,
        *,
        top_k: int,
        threshold: float,
        min_confidence: float,
        analyser: Analyser | None = None,
        multilingual: MultilingualSearch | None = None,
    ) -> None:
        self.retriever = retriever
        self.top_k = top_k
        self.threshold = threshold
        self.min_confidence = min_confidence
        self.analyser = analyser
        self.multilingual = multilingual

    @property
    def version(self) -> str:
        return match_version(self.retriever.index, self.multilingual)

    def embed(self, chunk: list[PostIn], encoder: Encoder | None = None) -> _Batch:
        """The stage that releases the GIL (see :func:`claimwatch.overlap.overlapped`)."""
        return _embed(chunk, self.retriever, encoder or self.retriever.encoder, self.analyser, self.multilingual)

    def results(self, chunk: list[PostIn], batch: _Batch) -> list[PostResult]:
        """Search, proposals and evidence for a chunk embedded by :meth:`embed`."""
        a = self.analyser
        analyses = (
            a.analyse(batch.posts, batch.post_embeddings(), batch.analysis_embeddings, batch.langs) if a else None
        )
        hits = _search(self.retriever, batch, analyses, self.top_k, self.multilingual)
        index, method = self.retriever.index, self.retriever.method
        out = []
        for pos, (row, why) in enumerate(zip(chunk, batch.reasons, strict=True)):
            analysis = None if analyses is None else analyses[pos]
            if why is not None:
                out.append(PostResult(row.id, row.text_hash, why, analysis, [], method))
                continue
            query, post_hits, routed = hits[pos]
            # the stance cues read English words: not for a post detected in another language
            english = analysis is None or analysis.lang.lang in ("en", None)
            query_terms = set(tokenize([query])[0])
            cands = [
                CandidateRow(
                    int(h.doc_id),
                    rank,
                    round(h.score, 6),
                    _evidence(
                        query,
                        query_terms,
                        index.claim_terms(h.row),
                        index.docs[h.row].claim,
                        h,
                        row.text_length,
                        english,
                    ),
                    None if h.confidence is None else round(h.confidence, 4),
                    *_proposal(h, rank, self.retriever, self.threshold, self.min_confidence, routed, english),
                )
                for rank, h in enumerate(post_hits, start=1)
            ]
            out.append(
                PostResult(row.id, row.text_hash, None, analysis, cands, MULTILINGUAL_METHOD if routed else method)
            )
        return out

    def compute(self, chunk: list[PostIn], encoder: Encoder | None = None) -> list[PostResult]:
        """Both stages, one after the other (a worker process that runs one chunk at a time)."""
        return self.results(chunk, self.embed(chunk, encoder))


def _proposal(
    hit: Hit,
    rank: int,
    retriever: Retriever,
    threshold: float,
    min_confidence: float,
    multilingual: bool = False,
    english: bool = True,
) -> tuple[bool, str | None]:
    """Whether a hit is proposed, and as what (:mod:`claimwatch.claims.relation`; None: unknown).

    With a calibrated confidence only the top hit can be proposed: as a repeat of the rated claim,
    or as sharing its narrative. The multilingual path's cosine is another encoder's (USE), on
    another scale than the narrative cut: there only the confidence decides. For a post detected in
    another language on the English path neither the stance cues (English words) nor the cosine
    (MiniLM's, inflated for texts it was not trained on: 475 of 3,000 non-English posts got a
    narrative label by it) are read. The v1 method has no confidence: its proposals' relation is
    unknown."""
    if multilingual or (retriever.model is not None and retriever.model.calibration is not None):
        if rank != 1:
            return False, None
        label = relation.of_hit(hit, min_confidence, cosine_comparable=english and not multilingual, stance=english)
        return label is not None, label
    return hit.score >= threshold, None


@dataclass
class _Batch:
    """A chunk of posts after the background stage: queries, embeddings, sentences, languages."""

    queries: list[Query | None]
    reasons: list[str | None]
    embedded: Embedded
    posts: list[PostText]
    analysis_embeddings: AnalysisEmbedded
    langs: list[Detected]
    #: the multilingual path's view: each query's language and USE embedding (None when off)
    query_langs: list[str] | None = None
    ml_embeddings: np.ndarray | None = None
    #: the sentences' nearest documents (computed in the background, like the posts')
    sentence_nearest: np.ndarray | None = None
    _offsets: list[int] | None = field(default=None, init=False, repr=False)

    def positions(self) -> list[int]:
        return [i for i, q in enumerate(self.queries) if q is not None]

    def post_embeddings(self) -> dict[int, np.ndarray]:
        return dict(zip(self.positions(), self.embedded.embeddings, strict=True))

    def sentence_row(self, pos: int, query: str) -> int:
        """Where one sentence query of the post at ``pos`` is among the flat sentence rows."""
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(p.sentence_queries) for p in self.posts)]
        return self._offsets[pos] + self.posts[pos].sentence_queries.index(query)


def post_queries(chunk: list[PostIn]) -> tuple[list[Query | None], list[str | None]]:
    """Each stored post as a query, or None with the reason it has nothing to match."""
    cleaned = [clean_query(row.text) for row in chunk]
    reasons = [skip_reason(row.text, c) for row, c in zip(chunk, cleaned, strict=True)]
    queries = [
        None if why else Query(str(row.id), text, row.created_at)
        for row, text, why in zip(chunk, cleaned, reasons, strict=True)
    ]
    return queries, reasons


def _embed(
    chunk: list[PostIn],
    retriever: Retriever,
    encoder: Encoder,
    analyser: Analyser | None,
    multilingual: MultilingualSearch | None = None,
) -> _Batch:
    """Everything about a chunk that needs no store and releases the GIL: runs a chunk ahead."""
    queries, reasons = post_queries(chunk)
    embedded = retriever.embed([q for q in queries if q is not None], encoder)
    if analyser is None:  # sentences and languages only feed the analysis
        batch = _Batch(queries, reasons, embedded, [], AnalysisEmbedded(np.zeros((0, 0), np.float32)), [])
    else:
        posts = [prepare(row.text or "", None if q is None else q.text) for row, q in zip(chunk, queries, strict=True)]
        sentences = analyser.embed(posts, encoder)
        batch = _Batch(queries, reasons, embedded, posts, sentences, analyser.languages(posts))
        batch.sentence_nearest = retriever.nearest(sentences.sentences)
    if multilingual is not None:
        _embed_multilingual(batch, multilingual)
    return batch


def _embed_multilingual(batch: _Batch, multilingual: MultilingualSearch) -> None:
    """Each query's language (the analysis's when there is one) and its USE embedding where needed."""
    texts = [q.text for q in batch.queries if q is not None]
    if batch.langs:
        langs = [batch.langs[i].lang for i in batch.positions()]
    else:
        langs = [d.lang for d in detect_languages(texts)]
    needed = multilingual.posts_needing_embeddings(langs)
    emb = np.zeros((len(texts), multilingual.index.embeddings.shape[1]), dtype=np.float32)
    if needed:
        emb[needed] = multilingual.encoder.encode([texts[i] for i in needed])
    batch.query_langs, batch.ml_embeddings = langs, emb


def _search(
    retriever: Retriever,
    batch: _Batch,
    analyses: list[Analysis] | None,
    top_k: int,
    multilingual: MultilingualSearch | None = None,
) -> dict[int, tuple[str, list[Hit], bool]]:
    """Hits per post position, with the query text that produced them and whether they came from
    the multilingual path.

    A claim sentence is searched as well; the post keeps whichever query's top hit is surer
    (the calibrated confidence, else the score).
    """
    positions = batch.positions()
    # A post in another language is ranked by the multilingual index alone: it skips English ranking.
    langs = batch.query_langs if multilingual is not None else None
    keep = [k for k in range(len(positions)) if langs is None or not needs_multilingual(langs[k])]
    ranked = [positions[k] for k in keep]
    queries = [q for q in (batch.queries[i] for i in ranked) if q is not None]
    extra = [
        (i, q, analyses[i].claim_query)
        for i, q in zip(ranked, queries, strict=True)
        if analyses is not None and analyses[i].claim_query
    ]
    embedded = batch.embedded
    if len(keep) < len(positions):
        context = {new: embedded.context[old] for new, old in enumerate(keep) if old in embedded.context}
        nearest = None if embedded.nearest is None else embedded.nearest[keep]
        embedded = Embedded(embedded.embeddings[keep], context, nearest)
    if extra:
        queries = queries + [Query(q.id, text, q.date) for _, q, text in extra]
        rows = [batch.sentence_row(i, text) for i, _, text in extra]
        nearest = None
        if embedded.nearest is not None and batch.sentence_nearest is not None:
            nearest = np.vstack([embedded.nearest, batch.sentence_nearest[rows]])
        embedded = Embedded(
            np.vstack([embedded.embeddings, batch.analysis_embeddings.sentences[rows]]), embedded.context, nearest
        )
    found = retriever.search(queries, top_k, embedded) if queries else []
    out: dict[int, tuple[str, list[Hit]]] = {i: ("", []) for i in positions}
    out |= {i: (q.text, hits) for i, q, hits in zip(ranked, queries[: len(ranked)], found[: len(ranked)], strict=True)}
    for (i, _, text), hits in zip(extra, found[len(ranked) :], strict=True):
        if hits and (not out[i][1] or sureness(hits[0]) > sureness(out[i][1][0])):
            out[i] = (text, hits)
    if multilingual is None or batch.query_langs is None or batch.ml_embeddings is None:
        return {i: (text, hits, False) for i, (text, hits) in out.items()}
    routed = multilingual.route(batch.query_langs, [out[i][1] for i in positions], batch.ml_embeddings, top_k)
    return {
        i: (batch.queries[i].text if ml else out[i][0], hits, ml)  # type: ignore[union-attr]
        for i, (hits, ml) in zip(positions, routed, strict=True)
    }


def _evidence(
    query: str,
    query_terms: set[str],
    claim_terms: frozenset[str],
    claim: str,
    hit: Hit,
    post_chars: int,
    english: bool = True,
) -> dict[str, object]:
    """What an analyst needs to judge the proposal: the scores, the features and the shared words,
    the post's words that deny or debunk the claim (and, for a post longer than matching reads, how
    much of it was read)."""
    out: dict[str, object] = {
        "shared_terms": sorted(query_terms & claim_terms)[:20],
        "query": query[:500],
        "features": hit.features,
    }
    if english and relation.disputed(hit):
        out["stance"] = list(stance_cues(query, claim).cues)
    if post_chars > MAX_MATCH_CHARS:
        out["text_read"] = {"chars": MAX_MATCH_CHARS, "post_chars": post_chars}
    return out
