"""Match the store's posts against its fact-checks and record candidates and proposals.

Ranking is :class:`~claimwatch.claims.retrieval.Retriever`. What becomes a *proposal*:

- with a trained model (the default install ships one): the top candidate, when its
  calibrated confidence is at least ``min_confidence`` (so ``--min-confidence 0.9`` means
  "propose only where about nine in ten proposals are right", as measured on dev data);
- without one (v1): every candidate whose fused score is at least ``threshold``.

The other top-k candidates are stored as evidence for reviewers.

Matching reads a post's first :data:`MAX_MATCH_CHARS` characters (the stored text stays
whole; the evidence says when a post was longer), and writes only for posts whose text did
not change while it worked: an edited post is matched again on the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from typing import Any

import numpy as np
import sqlalchemy as sa

from claimwatch.claims import relation
from claimwatch.claims.analyse import Analyser, Analysis, PostText, prepare
from claimwatch.claims.analyse import Embedded as AnalysisEmbedded
from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, tokenize
from claimwatch.claims.language import Detected, detect_languages
from claimwatch.claims.multilingual import METHOD as MULTILINGUAL_METHOD
from claimwatch.claims.multilingual import MultilingualSearch, needs_multilingual, sureness
from claimwatch.claims.retrieval import STREAM_BATCH as BATCH
from claimwatch.claims.retrieval import Embedded, Hit, Retriever
from claimwatch.claims.stance import stance_cues
from claimwatch.claims.text import clean_query, skip_reason
from claimwatch.claims.topics import TopicScore
from claimwatch.overlap import overlapped
from claimwatch.store import repo
from claimwatch.store.db import retry_races, writing
from claimwatch.store.schema import utcnow
from claimwatch.wording import count

#: What matching and analysis read of a post: the encoder sees ~256 tokens anyway, sentences
#: stop at 64; BM25, language and check-worthiness get ample margin. A 10 MB post would
#: otherwise cost gigabytes (tokens, n-grams) for nothing.
MAX_MATCH_CHARS = 10_000
#: Why a post was left for the next run.
TEXT_CHANGED = "text changed while matching (matched on the next run)"


@dataclass
class MatchReport:
    index_version: str
    method: str
    posts_considered: int = 0
    posts_matched: int = 0
    proposals: int = 0
    #: of the proposals, those labelled as sharing the claim's narrative only (not repeating it)
    narrative: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        narrative = f", {self.narrative:,} of them sharing the claim's narrative only" if self.narrative else ""
        return (
            f"matched {count(self.posts_matched, 'post')} with {self.method} "
            f"({count(self.proposals, 'proposal')}{narrative}); skipped: {skipped}"
        )


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


def match_posts(
    engine: sa.Engine,
    retriever: Retriever,
    *,
    top_k: int,
    threshold: float,
    min_confidence: float,
    rematch: bool = False,
    analyser: Analyser | None = None,
    progress: Callable[[int, int], None] | None = None,
    multilingual: MultilingualSearch | None = None,
    post_ids: Sequence[int] | None = None,
) -> MatchReport:
    """Match every collected post not yet matched against this index version (with ``post_ids``,
    only those of them: the live runner matches its new posts without scanning the store).

    Posts with no matchable text (media-only, only links or handles) are recorded as
    skipped with the reason, not treated as errors. With an ``analyser``, each post's
    language, check-worthiness, claim sentence and topics are stored from the same
    encoder pass, and a long post's claim sentence is matched as a second query. With
    ``multilingual``, posts are routed by language (see :mod:`claimwatch.claims.multilingual`).
    """
    index = retriever.index
    # The multilingual index is part of what a match was made with: turning it on re-matches.
    version = index.version if multilingual is None else f"{index.version}+{multilingual.index.version}"
    report = MatchReport(version, retriever.method)
    with engine.connect() as conn:
        todo = repo.posts_to_match(conn, version, rematch, MAX_MATCH_CHARS, post_ids)
    report.posts_considered = len(todo)
    chunks = [todo[start : start + BATCH] for start in range(0, len(todo), BATCH)]
    done = 0
    encoder, workers = retriever.stream_encoder()
    for chunk, batch in overlapped(chunks, lambda c: _embed(c, retriever, encoder, analyser, multilingual), workers):
        analyses = (
            analyser.analyse(batch.posts, batch.post_embeddings(), batch.analysis_embeddings, batch.langs)
            if analyser
            else None
        )
        hits = _search(retriever, batch, analyses, top_k, multilingual)

        def proposed(h: Hit, rank: int, routed: bool, english: bool) -> tuple[bool, str | None]:
            return _proposal(h, rank, retriever, threshold, min_confidence, routed, english)

        with writing(engine) as conn:
            written = _write_chunk(
                conn, chunk, batch.reasons, hits, analyses, analyser, retriever.method, index, version, proposed
            )
        report.proposals += written.proposals
        report.narrative += written.narrative
        report.posts_matched += written.posts_matched
        for why, n in written.skipped.items():
            report.skipped[why] = report.skipped.get(why, 0) + n
        done += len(chunk)
        if progress:
            progress(done, len(todo))
    return report


@dataclass
class _Written:
    proposals: int = 0
    narrative: int = 0
    posts_matched: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


@retry_races
def _write_chunk(
    conn: sa.Connection,
    chunk: list[Any],
    reasons: list[str | None],
    hits: dict[int, tuple[str, list[Hit], bool]],
    analyses: list[Analysis] | None,
    analyser: Analyser | None,
    method: str,
    index: ClaimIndex,
    version: str,
    proposed: Callable[[Hit, int, bool, bool], tuple[bool, str | None]],
) -> _Written:
    """Store one chunk's matches, skip reasons and analysis, for posts whose text is still the
    one that was matched (their rows stay locked until commit, so an edit waits or is seen)."""
    out = _Written()
    current = repo.current_text_hashes(conn, [row.id for row in chunk])
    unchanged = [current.get(row.id) == row.text_hash for row in chunk]
    skipped: dict[int, str | None] = {}
    matched = []
    for pos, (row, why, same) in enumerate(zip(chunk, reasons, unchanged, strict=True)):
        if not same or why is not None:
            why = why if same else TEXT_CHANGED
            out.skipped[why] = out.skipped.get(why, 0) + 1
            if same:
                skipped[row.id] = why
            continue
        query, post_hits, routed = hits[pos]
        # the stance cues read English words: not for a post detected in another language
        english = analyses is None or analyses[pos].lang.lang in ("en", None)
        query_terms = set(tokenize([query])[0])
        cands = [
            repo.CandidateRow(
                int(h.doc_id),
                rank,
                round(h.score, 6),
                _evidence(
                    query, query_terms, index.claim_terms(h.row), index.docs[h.row].claim, h, row.text_length, english
                ),
                None if h.confidence is None else round(h.confidence, 4),
                *proposed(h, rank, routed, english),
            )
            for rank, h in enumerate(post_hits, start=1)
        ]
        out.narrative += sum(c.relation == relation.NARRATIVE for c in cands)
        matched.append(repo.PostMatches(row.id, cands, MULTILINGUAL_METHOD if routed else method))
    # the chunk's writes in a few statements each (one post at a time they were half of `match`)
    repo.set_match_states(conn, skipped, version, refresh=False)
    out.proposals += repo.write_matches_many(conn, matched, version, refresh=False)
    out.posts_matched += len(matched)
    if analyser and analyses is not None:
        _store_analysis(
            conn,
            [row for row, same in zip(chunk, unchanged, strict=True) if same],
            [a for a, same in zip(analyses, unchanged, strict=True) if same],
            analyser,
        )
    # the chunk's queue rows once, after its matches and analysis (per post it cost a third of `match`)
    repo.refresh_queue(conn, [row.id for row, same in zip(chunk, unchanged, strict=True) if same])
    return out


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


def _queries(chunk: list[Any]) -> tuple[list[Query | None], list[str | None]]:
    """Each stored post as a query, or None with the reason it has nothing to match."""
    cleaned = [clean_query(row.text) for row in chunk]
    reasons = [skip_reason(row.text, c) for row, c in zip(chunk, cleaned, strict=True)]
    queries = [
        None if why else Query(str(row.id), text, row.created_at)
        for row, text, why in zip(chunk, cleaned, reasons, strict=True)
    ]
    return queries, reasons


def _embed(
    chunk: list[Any],
    retriever: Retriever,
    encoder: Encoder,
    analyser: Analyser | None,
    multilingual: MultilingualSearch | None = None,
) -> _Batch:
    """Everything about a chunk that needs no store and releases the GIL: runs a chunk ahead."""
    queries, reasons = _queries(chunk)
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


def _store_analysis(conn: sa.Connection, chunk: list[Any], analyses: list[Analysis], analyser: Analyser) -> None:
    models = analyser.models()
    now = utcnow()
    rows, topic_rows = [], []
    for row, a in zip(chunk, analyses, strict=True):
        rows.append(
            dict(
                post_id=row.id,
                lang=a.lang.lang,
                lang_confidence=a.lang.confidence,
                checkworthiness=a.checkworthiness,
                claim_sentence=a.claim.text if a.claim else None,
                claim_start=a.claim.start if a.claim else None,
                claim_end=a.claim.end if a.claim else None,
                sentence_scores=a.sentence_scores,
                models=models,
                analysed_at=now,
            )
        )
        topic_rows += _topic_rows(row.id, a.topics, models["topics"], now)
    repo.write_analysis(conn, rows, refresh=False)  # _write_chunk refreshes the queue rows after
    if analyser.topics is not None:
        repo.write_topics(conn, [row.id for row in chunk], topic_rows)


def _topic_rows(post_id: int, scores: list[TopicScore], version: str, now: datetime) -> list[dict[str, Any]]:
    return [
        dict(
            post_id=post_id,
            topic=t.topic,
            similarity=t.similarity,
            keywords=t.keywords,
            assigned=t.assigned,
            topics_version=version,
            scored_at=now,
        )
        for t in scores
    ]


def score_topics(engine: sa.Engine, analyser: Analyser, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-score every collected post against ``analyser.topics`` (new or edited definitions).

    Encodes the posts' query texts again: matching keeps no post embeddings in the store
    (384 floats a post would outweigh the post itself)."""
    if analyser.topics is None:
        raise ValueError("no topics to score")
    with engine.connect() as conn:
        todo = repo.posts_to_match(conn, "", rematch=True, max_chars=MAX_MATCH_CHARS)  # every collected post
    models = analyser.models()
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        queries, _ = _queries(chunk)
        usable = [i for i, q in enumerate(queries) if q is not None]
        emb = analyser.encoder.encode([q.text for q in queries if q is not None])
        scores = analyser.topic_scores(
            [prepare(row.text or "", None) for row in chunk], dict(zip(usable, emb, strict=True))
        )
        now = utcnow()
        rows = [
            r
            for row, per_post in zip(chunk, scores, strict=True)
            for r in _topic_rows(row.id, per_post, models["topics"], now)
        ]
        with writing(engine) as conn:
            repo.write_topics(conn, [row.id for row in chunk], rows)
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    return len(todo)


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
