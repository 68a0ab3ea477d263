"""Arrow record batches ↔ the typed records of :mod:`claimwatch.claims.compute`.

Rows become typed records at once (no dict rows leave this module): input batches become
:class:`~claimwatch.claims.compute.PostIn`, results become :class:`ResultRow` (a
:class:`~claimwatch.claims.compute.PostResult` plus what the import checks it against).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from claimwatch.batch import schema as S
from claimwatch.claims.analyse import Analysis
from claimwatch.claims.compute import MAX_MATCH_CHARS, PostIn, PostResult
from claimwatch.claims.language import Detected
from claimwatch.claims.sentences import Span
from claimwatch.claims.topics import TopicScore
from claimwatch.store.matches import CandidateRow


@dataclass(frozen=True, slots=True)
class FactCheckKey:
    """What a fact-check id means: its review URL and claim key (the store's unique key)."""

    review_url: str
    claim_key: str


@dataclass(frozen=True, slots=True)
class PostKey:
    platform: str
    platform_id: str


@dataclass(slots=True)
class ResultRow:
    """One results row as the import reads it."""

    post: PostKey
    index_version: str
    #: what produced the analysis (None: the run had none)
    models: dict[str, Any] | None
    result: PostResult
    #: each candidate's fact-check as the run's store knew it, in candidate order
    keys: list[FactCheckKey]


def normalised_posts(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """An input batch in the declared :data:`schema.POSTS` types (checked first with
    :func:`schema.check_schema`): narrower ints widened, zoned timestamps as UTC without a zone,
    text cut to what matching reads."""
    cols = []
    for f in S.POSTS:
        col = batch.column(f.name)
        if f.name == S.CREATED_AT and pa.types.is_null(col.type):
            col = pa.nulls(len(col), S.TIMESTAMP)
        if f.name == S.TEXT_LENGTH and col.null_count:  # unknown: the text's own length
            col = pc.if_else(pc.is_null(col), pc.utf8_length(batch.column(S.TEXT)), col)
        col = col.cast(f.type)  # a zoned timestamp keeps its UTC instant
        if f.name == S.TEXT:
            col = pc.utf8_slice_codeunits(col, 0, MAX_MATCH_CHARS)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=S.POSTS)


def posts_of(batch: pa.Table) -> tuple[list[PostIn], list[PostKey]]:
    """The posts of a :func:`normalised_posts` batch and their platform keys."""
    c = {name: batch.column(name).to_pylist() for name in S.POSTS.names}
    posts = [
        PostIn(pid, text, length or 0, th, created)
        for pid, text, length, th, created in zip(
            c[S.POST_ID], c[S.TEXT], c[S.TEXT_LENGTH], c[S.TEXT_HASH], c[S.CREATED_AT], strict=True
        )
    ]
    keys = [PostKey(p, i) for p, i in zip(c[S.PLATFORM], c[S.PLATFORM_ID], strict=True)]
    return posts, keys


def results_batch(
    results: list[PostResult],
    posts: list[PostKey],
    version: str,
    models: dict[str, Any] | None,
    factchecks: Mapping[int, FactCheckKey],
) -> pa.RecordBatch:
    """One results row per post, in :data:`schema.RESULTS`."""
    models_json = None if models is None else json.dumps(models)
    rows = []
    for res, key in zip(results, posts, strict=True):
        a = res.analysis
        rows.append(
            {
                S.PLATFORM: key.platform,
                S.PLATFORM_ID: key.platform_id,
                S.POST_ID: res.post_id,
                S.TEXT_HASH: res.text_hash,
                S.INDEX_VERSION: version,
                S.METHOD: res.method,
                S.SKIP_REASON: res.skip_reason,
                S.MODELS: models_json,
                S.CANDIDATES: [_candidate(c, factchecks[c.factcheck_id]) for c in res.candidates],
                **({} if a is None else _analysis(a)),
            }
        )
    return pa.RecordBatch.from_pylist(rows, schema=S.RESULTS)


def _candidate(c: CandidateRow, key: FactCheckKey) -> dict[str, Any]:
    return {
        S.FACTCHECK_ID: c.factcheck_id,
        S.REVIEW_URL: key.review_url,
        S.CLAIM_KEY: key.claim_key,
        "rank": c.rank,
        "score": c.score,
        "confidence": c.confidence,
        "proposed": c.proposed,
        "relation": c.relation,
        "evidence": json.dumps(c.evidence, ensure_ascii=False),
    }


def _analysis(a: Analysis) -> dict[str, Any]:
    return {
        S.LANG: a.lang.lang,
        S.LANG_CONFIDENCE: float(a.lang.confidence),
        S.CHECKWORTHINESS: None if a.checkworthiness is None else float(a.checkworthiness),
        S.CLAIM_SENTENCE: a.claim.text if a.claim else None,
        S.CLAIM_START: a.claim.start if a.claim else None,
        S.CLAIM_END: a.claim.end if a.claim else None,
        S.CLAIM_QUERY: a.claim_query,
        S.SENTENCE_SCORES: [{"start": start, "end": end, "score": score} for start, end, score in a.sentence_scores],
        S.TOPICS: [
            {"topic": t.topic, "similarity": t.similarity, "keywords": t.keywords, "assigned": t.assigned}
            for t in a.topics
        ],
    }


def results_of(batch: pa.RecordBatch) -> list[ResultRow]:
    """The rows of a results batch (its schema checked first with :func:`schema.check_schema`)."""
    return [_result_row(row) for row in batch.select(S.RESULTS.names).to_pylist()]


def _result_row(row: dict[str, Any]) -> ResultRow:
    models = None if row[S.MODELS] is None else json.loads(row[S.MODELS])
    analysis = None
    if models is not None:
        claim = row[S.CLAIM_SENTENCE]
        analysis = Analysis(
            Detected(row[S.LANG], row[S.LANG_CONFIDENCE]),
            row[S.CHECKWORTHINESS],
            None if claim is None else Span(row[S.CLAIM_START], row[S.CLAIM_END], claim),
            row[S.CLAIM_QUERY],
            [[sc["start"], sc["end"], sc["score"]] for sc in row[S.SENTENCE_SCORES] or []],
            [TopicScore(t["topic"], t["similarity"], t["keywords"] or [], t["assigned"]) for t in row[S.TOPICS] or []],
        )
    cands = row[S.CANDIDATES] or []
    result = PostResult(
        row[S.POST_ID],
        row[S.TEXT_HASH],
        row[S.SKIP_REASON],
        analysis,
        [
            CandidateRow(
                c[S.FACTCHECK_ID],
                c["rank"],
                c["score"],
                json.loads(c["evidence"]),
                c["confidence"],
                bool(c["proposed"]),
                c["relation"],
            )
            for c in cands
        ],
        row[S.METHOD],
    )
    keys = [FactCheckKey(c[S.REVIEW_URL], c[S.CLAIM_KEY]) for c in cands]
    return ResultRow(PostKey(row[S.PLATFORM], row[S.PLATFORM_ID]), row[S.INDEX_VERSION], models, result, keys)
