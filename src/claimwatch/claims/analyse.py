"""Per-post text analysis that rides on matching's encoder pass: language, check-worthiness,
the claim sentence, and topic scores.

A post's text is embedded once, for matching; check-worthiness and topics read that same
embedding. Only posts of several sentences cost extra encoding — their sentences, so the
claim sentence can be found (and matched on its own: a long post's average embedding
blurs the one sentence that repeats a debunked claim). A check-worthiness model with its own
fine-tuned encoder is the exception: it chose quality over speed, and its encoder reads every
post and sentence once more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.claims.language import (
    DETECTOR,
    UNDETERMINED,
    Detected,
    detect_languages,
)
from claimwatch.claims.sentences import Span, split_sentences
from claimwatch.claims.text import MIN_WORDS, clean_query, word_count
from claimwatch.claims.topics import TopicScore, TopicSet


class Scorer(Protocol):
    """A check-worthiness model: scores in [0, 1] from texts and their embeddings."""

    def describe(self) -> str: ...

    def own_encoder(self) -> Encoder | None: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def threshold(self, kind: str = "post") -> float: ...

    def score(self, texts: list[str], embeddings: np.ndarray | None = None, *, kind: str = "post") -> np.ndarray: ...


@dataclass
class PostText:
    """One post's text prepared for analysis: its query text and its sentences."""

    text: str
    query: str | None
    #: sentences with matchable text (offsets into ``text``); empty when the post is one sentence
    sentences: list[Span] = field(default_factory=list)
    sentence_queries: list[str] = field(default_factory=list)


def prepare(text: str, query: str | None) -> PostText:
    """Split ``text`` into sentences when it has more than one worth scoring."""
    post = PostText(text, query)
    if query is None:
        return post
    spans = [sp for sp in split_sentences(text) if word_count(clean_query(sp.text)) >= MIN_WORDS]
    if len(spans) > 1:
        post.sentences = spans
        post.sentence_queries = [clean_query(sp.text) for sp in spans]
    return post


@dataclass
class Embedded:
    """What the background stage encodes for a batch's analysis, beyond the posts' own embeddings."""

    #: matching's encoder: the sentences of multi-sentence posts, flat, in post order
    sentences: np.ndarray
    #: the check-worthiness model's own encoder (None when it reads matching's): the posts with a
    #: query, in order, and the sentences as above
    own_posts: np.ndarray | None = None
    own_sentences: np.ndarray | None = None


@dataclass
class Analysis:
    lang: Detected
    checkworthiness: float | None
    claim: Span | None
    #: the claim sentence's query text when it should be matched on its own
    claim_query: str | None
    sentence_scores: list[list[float]]
    topics: list[TopicScore]


class Analyser:
    def __init__(self, encoder: Encoder, checkworthiness: Scorer | None = None, topics: TopicSet | None = None) -> None:
        self.encoder = encoder
        self.checkworthiness = checkworthiness
        self.topics = topics

    def models(self) -> dict[str, Any]:
        """What produced the stored values (kept with every analysis row)."""
        return {
            "language": DETECTOR,
            "checkworthiness": self.checkworthiness.describe() if self.checkworthiness else None,
            "encoder": self.encoder.name,
            "topics": self.topics.version(self.encoder.name) if self.topics else None,
        }

    def embed(self, posts: list[PostText], encoder: Encoder | None = None) -> Embedded:
        """Embeddings of every sentence of multi-sentence posts, in post order, and what the
        check-worthiness model's own encoder needs (background stage; ``encoder`` is matching's
        copy for this stage, single-threaded when stages run side by side)."""
        sentences = [q for p in posts for q in p.sentence_queries]
        out = Embedded((encoder or self.encoder).encode(sentences))
        own = self._own_encoder(encoder)
        if own is not None:
            out.own_posts = own.encode([p.query for p in posts if p.query is not None])
            out.own_sentences = own.encode(sentences)
        return out

    def _own_encoder(self, stage_encoder: Encoder | None) -> Encoder | None:
        """The check-worthiness model's own encoder, with as many threads as the stage's encoder."""
        own = self.checkworthiness.own_encoder() if self.checkworthiness is not None else None
        if own is None or stage_encoder is None or stage_encoder.threads == own.threads:
            return own
        return own.with_threads(stage_encoder.threads)  # a light handle: loaded sessions are shared

    def languages(self, posts: list[PostText]) -> list[Detected]:
        return detect_languages([p.text for p in posts])

    def analyse(
        self, posts: list[PostText], post_embeddings: dict[int, np.ndarray], embedded: Embedded, langs: list[Detected]
    ) -> list[Analysis]:
        """``post_embeddings``: position → embedding of the post's query text (posts with a query)."""
        cw_post, cw_whole, cw_sent = self._checkworthiness(posts, post_embeddings, embedded)
        topic_scores = self.topic_scores(posts, post_embeddings)
        out = []
        offset = 0
        for i, post in enumerate(posts):
            n = len(post.sentences)
            scores = cw_sent[offset : offset + n]
            offset += n
            cw = cw_post.get(i) if self._model_reads(langs[i]) else None
            claim = Span(0, len(post.text), post.text) if cw is not None else None
            claim_query = None
            sentence_scores: list[list[float]] = []
            if cw is not None and i in cw_whole:  # one sentence: the post itself
                sentence_scores = [[0, len(post.text), round(cw_whole[i], 4)]]
            if n and len(scores) and cw is not None and self.checkworthiness is not None:
                best = int(np.argmax(scores))
                claim = post.sentences[best]
                sentence_scores = [
                    [sp.start, sp.end, round(float(sc), 4)] for sp, sc in zip(post.sentences, scores, strict=True)
                ]
                if scores[best] >= self.checkworthiness.threshold("sentence"):
                    claim_query = post.sentence_queries[best]  # a sentence that states a claim: match it too
            out.append(
                Analysis(
                    langs[i], None if cw is None else round(cw, 4), claim, claim_query, sentence_scores, topic_scores[i]
                )
            )
        return out

    def _model_reads(self, lang: Detected) -> bool:
        """Language picks the model: a check-worthiness model scores only the languages it was
        trained on (undetermined short texts included); other posts get no score rather than
        an English model's guess, and reports count them apart by language."""
        if self.checkworthiness is None:
            return False
        return lang.lang == UNDETERMINED or lang.lang in self.checkworthiness.languages

    def _checkworthiness(
        self, posts: list[PostText], post_embeddings: dict[int, np.ndarray], embedded: Embedded
    ) -> tuple[dict[int, float], dict[int, float], np.ndarray]:
        """Post scores (by position), the sentence head's score of one-sentence posts (by
        position) and the sentences' scores of longer posts (flat, in order).

        The model reads the raw text (links, hashtags and handles are among its features) with the
        embedding of the cleaned text. A post's score comes from the ``post`` head (trained on
        CheckThat! tweets: is this post worth a fact-checker's time); the ``sentence`` head
        (ClaimBuster debates: does it state a checkable fact) scores its sentences — a one-sentence
        post is its own sentence — and picks the claim sentence of a long post."""
        if self.checkworthiness is None:
            return {}, {}, np.zeros(len(embedded.sentences))
        with_query = [i for i, p in enumerate(posts) if p.query is not None]
        post_scores: dict[int, float] = {}
        whole: dict[int, float] = {}
        own = embedded.own_posts is not None
        sentence_embeddings = embedded.own_sentences if own else embedded.sentences
        if with_query:
            emb = embedded.own_posts if own else np.stack([post_embeddings[i] for i in with_query])
            texts = [posts[i].text for i in with_query]
            post_scores = dict(
                zip(with_query, map(float, self.checkworthiness.score(texts, emb, kind="post")), strict=True)
            )
            rows = [k for k, i in enumerate(with_query) if not posts[i].sentences]  # one-sentence posts
            if rows:
                whole = dict(
                    zip(
                        (with_query[k] for k in rows),
                        map(float, self.checkworthiness.score([texts[k] for k in rows], emb[rows], kind="sentence")),
                        strict=True,
                    )
                )
        sentences = [sp.text for p in posts for sp in p.sentences]
        sent_scores = (
            self.checkworthiness.score(sentences, sentence_embeddings, kind="sentence") if sentences else np.zeros(0)
        )
        return post_scores, whole, sent_scores

    def topic_scores(self, posts: list[PostText], post_embeddings: dict[int, np.ndarray]) -> list[list[TopicScore]]:
        if self.topics is None:
            return [[] for _ in posts]
        dim = self.encoder.dim
        emb = (
            np.stack([post_embeddings.get(i, np.zeros(dim, np.float32)) for i in range(len(posts))])
            if posts
            else np.zeros((0, dim), np.float32)
        )
        scored = self.topics.score([p.text for p in posts], emb, self.encoder)
        # Posts without matchable text have no embedding: their topics rest on keywords alone.
        return [
            row if i in post_embeddings else [TopicScore(t.topic, None, t.keywords, bool(t.keywords)) for t in row]
            for i, row in enumerate(scored)
        ]
