"""Retrieval: candidates from the hybrid index, features, learned re-ranking, calibrated confidence.

Stage 1 scores every claim with the v1 fusion (α·cosine + (1−α)·relative BM25) and keeps
the top ``n_candidates`` plus the best BM25 hits. Stage 2 (when a trained
:class:`~claimwatch.claims.rerank.RetrievalModel` is available) re-orders them with a
LambdaMART model over :mod:`~claimwatch.claims.features` and turns the top score into a
calibrated probability that the top claim is right. Without a model the v1 fused score
is the score and there is no calibrated confidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.features import (
    FEATURE_NAMES,
    DocTerms,
    QueryScores,
    candidate_features,
    doc_terms,
)
from claimwatch.claims.index import ANN_MIN_DOCS, FIELDS, ClaimIndex, tokenize
from claimwatch.claims.rerank import RetrievalModel
from claimwatch.overlap import overlapped

N_CANDIDATES = 30
#: Posts per batch when streaming: per-batch costs (the dense matrix product, the model calls)
#: amortise; 1,024 matched ~10 % more posts/s than 256 on 2 cores.
STREAM_BATCH = 1024
#: With a trained model, a query whose nearest claim is below this cosine is not re-ranked: its
#: candidates keep the v1 fused order and its confidence is 0 (most posts in a feed match nothing;
#: they skip the feature and LambdaMART work). Chosen on CheckThat! 2A *dev* and 2B *dev*: the
#: highest value that costs neither MAP@5 (0.35 cost 2B dev 0.008; debate sentences sit far from
#: their PolitiFact claims), and no 2A dev query below it had its right claim at rank 1.
RERANK_MIN_COSINE = 0.30
#: Nearest documents by embedding, and best BM25 hits, that form the candidate pool.
N_DENSE = 100
N_LEXICAL = 20


@dataclass
class Hit:
    row: int
    doc_id: str
    score: float
    #: calibrated probability that this hit is a correct match (top hit only; None without a model)
    confidence: float | None
    #: the re-ranker's inputs for this pair, in FEATURE_NAMES order (NaN = not applicable)
    feature_values: np.ndarray

    @property
    def features(self) -> dict[str, float]:
        """Named, rounded feature values for evidence; built on demand (most hits are never shown)."""
        values = self.feature_values.tolist()  # Python floats: per-element numpy scalars cost more than the rounding
        return {name: round(v, 4) for name, v in zip(FEATURE_NAMES, values, strict=True) if v == v}  # v != v: NaN


@dataclass
class Embedded:
    """A batch's query embeddings, computed once and shared by every consumer of the batch
    (candidate search, check-worthiness, topics): posts are never encoded twice."""

    embeddings: np.ndarray
    #: query position → embedding of "context + text" (debate sentences with their surroundings)
    context: dict[int, np.ndarray]
    #: each embedding's nearest document rows (:meth:`Retriever.nearest`) when computed ahead, in
    #: the background stage that encoded them; None: :meth:`Retriever.candidates` computes them
    nearest: np.ndarray | None = None


@dataclass
class Candidates:
    """One query's candidate rows and their feature matrix. ``gated``: too far from every claim
    to be re-ranked; only cos, bm25_all_rel and fused_v1 are filled in."""

    rows: np.ndarray
    features: np.ndarray
    gated: bool = False


class Retriever:
    def __init__(
        self,
        index: ClaimIndex,
        encoder: Encoder,
        model: RetrievalModel | None = None,
        *,
        alpha: float = 0.8,
        n_candidates: int = N_CANDIDATES,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.model = model
        self.alpha = alpha
        self.n_candidates = n_candidates
        self._doc_terms: dict[int, DocTerms] = {}
        self._stream_encoder: Encoder | None = None

    @property
    def method(self) -> str:
        return self.model.method if self.model else "hybrid-bm25-dense-v1"

    def _terms_of(self, row: int) -> DocTerms:
        got = self._doc_terms.get(row)
        if got is None:
            doc = self.index.docs[row]
            got = self._doc_terms[row] = doc_terms(doc, tokenize([f"{doc.claim} {doc.title}"])[0])
        return got

    def _score_batch(self, cands: list[Candidates]) -> list[np.ndarray]:
        """Re-ranker scores for a whole batch in one model call (per-call overhead dominates)."""
        fused_col = FEATURE_NAMES.index("fused_v1")
        out = [c.features[:, fused_col].astype(np.float64) for c in cands]
        ranked = [i for i, c in enumerate(cands) if not c.gated and len(c.rows)]
        if self.model is None or not ranked:
            return out
        flat = self.model.score(np.vstack([cands[i].features for i in ranked]))
        for i, sc in zip(ranked, np.split(flat, np.cumsum([len(cands[i].rows) for i in ranked])[:-1]), strict=True):
            out[i] = sc
        return out

    def _confidences(self, cands: list[Candidates], scores: list[np.ndarray]) -> list[float | None]:
        if self.model is None:
            return [None] * len(cands)
        ranked = [i for i, c in enumerate(cands) if not c.gated]
        out: list[float | None] = [0.0 if c.gated and len(c.rows) else None for c in cands]
        for i, conf in zip(
            ranked,
            self.model.confidences([scores[i] for i in ranked], [cands[i].features for i in ranked]),
            strict=True,
        ):
            out[i] = conf
        return out

    def embed(self, queries: list[Query], encoder: Encoder | None = None) -> Embedded:
        """One encoder pass for a batch: the texts, plus "context + text" where a query has context;
        with their nearest documents (a background stage thus does all of a batch's work that
        releases the GIL)."""
        enc = encoder or self.encoder
        with_ctx = [i for i, q in enumerate(queries) if q.context]
        ctx = enc.encode([f"{queries[i].context} {queries[i].text}" for i in with_ctx]) if with_ctx else []
        emb = enc.encode([q.text for q in queries])
        return Embedded(emb, dict(zip(with_ctx, ctx, strict=True)), self.nearest(emb))

    def nearest(self, embeddings: np.ndarray) -> np.ndarray | None:
        """Rows of the documents nearest each embedding, the dense half of a candidate pool (None
        for an empty index). A matrix product and a partition: numpy work that releases the GIL."""
        return self.index.dense_search(embeddings, N_DENSE) if len(self.index) and len(embeddings) else None

    def stream_encoder(self) -> tuple[Encoder, int]:
        """The encoder for background stages and how many may run at once (see :func:`overlapped`)."""
        workers = self.encoder.stream_workers()
        if workers > 1 and self._stream_encoder is None:
            self._stream_encoder = self.encoder.with_threads(1)
        return (self._stream_encoder or self.encoder), workers

    def candidates(
        self, queries: list[Query], embedded: Embedded | None = None, *, gate: float | None = None
    ) -> list[Candidates]:
        """Stage 1 for a batch of queries: candidate rows with their features.

        The pool is the nearest documents by embedding (exact, or approximate on large
        indexes) plus the best BM25 hits; the v1 fused score picks ``n_candidates`` from it.
        Queries whose nearest claim is below ``gate`` cosine are marked ``gated`` and get no
        pairwise features.
        """
        if not queries or len(self.index) == 0:
            return [
                Candidates(np.zeros(0, dtype=np.int64), np.zeros((0, len(FEATURE_NAMES)), np.float32)) for _ in queries
            ]
        embedded = embedded or self.embed(queries)
        q_emb, ctx_emb = embedded.embeddings, embedded.context
        dense_rows = embedded.nearest if embedded.nearest is not None else self.index.dense_search(q_emb, N_DENSE)
        out = []
        # Collection-sized work buffers, shared by the batch: only pool positions are written and read.
        n = len(self.index)
        # From the ANN size on, the claim/title/extra BM25 features are scored on the candidate
        # pool only and normalised by the pool's best (the collection's best is almost always in
        # it: the pool holds the best whole-document BM25 hits). On CheckThat! dev this changed
        # MAP@5 by 0.0000 (2A) and −0.0003 (2B); at 1M claims it took ranking from 219 to 317 q/s.
        large = n >= ANN_MIN_DOCS
        cos, fused, cos_ctx = (np.empty(n, dtype=np.float32) for _ in range(3))
        for qi, (q, tokens) in enumerate(zip(queries, tokenize([q.text for q in queries]), strict=True)):
            all_scores = self.index.bm25_scores(tokens, "all")
            top = all_scores.max
            pool = dense_rows[qi][dense_rows[qi] >= 0]
            if top > 0:
                pool = np.concatenate([pool, all_scores.top(N_LEXICAL)])
            pool = np.unique(pool)
            cos[pool] = self.index.cosines(q_emb[qi], pool)
            fused[pool] = self.alpha * cos[pool] + (1 - self.alpha) * (all_scores.at(pool) / top if top > 0 else 0.0)
            if qi in ctx_emb:
                cos_ctx[pool] = self.index.cosines(ctx_emb[qi], pool)
            rows = pool[np.argsort(-fused[pool], kind="stable")[: self.n_candidates]]
            if gate is not None and (not len(pool) or float(cos[pool].max()) < gate):
                rel = all_scores.at(rows) / top if top > 0 else np.zeros(len(rows), dtype=np.float32)
                out.append(Candidates(rows, _lean_features(cos[rows], rel, fused[rows]), gated=True))
                all_scores.release()
                continue
            bm25 = {
                f: all_scores
                if f == "all"
                else self.index.bm25_at(tokens, f, pool)
                if large
                else self.index.bm25_scores(tokens, f)
                for f in FIELDS
                if f in self.index.bm25
            }
            qs = QueryScores(cos=cos, cos_ctx=cos_ctx if qi in ctx_emb else None, bm25=bm25, tokens=tokens, fused=fused)
            out.append(Candidates(rows, candidate_features(q, qs, rows, self.index.dates, self._terms_of)))
            for scores in bm25.values():
                scores.release()
        return out

    def search(self, queries: list[Query], top_k: int, embedded: Embedded | None = None) -> list[list[Hit]]:
        """Top-k hits per query, best first."""
        cands = self.candidates(queries, embedded, gate=RERANK_MIN_COSINE if self.model else None)
        scores = self._score_batch(cands)
        confidences = self._confidences(cands, scores)
        results = []
        for cand, sc, conf in zip(cands, scores, confidences, strict=True):
            order = np.argsort(-sc, kind="stable")[:top_k]
            hits = []
            for rank, j in enumerate(order):
                row = int(cand.rows[j])
                hits.append(
                    Hit(row, self.index.docs[row].id, float(sc[j]), conf if rank == 0 else None, cand.features[j])
                )
            results.append(hits)
        return results

    def search_batches(self, batches: Iterable[list[Query]], top_k: int) -> Iterator[tuple[Embedded, list[list[Hit]]]]:
        """:meth:`search` over a stream of batches, encoding the next batch while ranking this one.

        Yields each batch's embeddings with its hits, in batch order.
        """
        encoder, workers = self.stream_encoder()
        for batch, embedded in overlapped(batches, lambda b: self.embed(b, encoder), workers):
            yield embedded, self.search(batch, top_k, embedded)


def _lean_features(cos: np.ndarray, bm25_all_rel: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """The features a gated query's evidence shows: similarity and the v1 score."""
    out = np.full((len(cos), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    out[:, FEATURE_NAMES.index("cos")] = cos
    out[:, FEATURE_NAMES.index("bm25_all_rel")] = bm25_all_rel
    out[:, FEATURE_NAMES.index("fused_v1")] = fused
    return out
