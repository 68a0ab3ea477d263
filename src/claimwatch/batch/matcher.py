"""The callable a batch worker maps record batches through, and what it is built from.

A run is planned once, by the process that has the store (:func:`plan`): it brings the index up
to date, resolves the settings and reads what each fact-check id means (review URL, claim key).
Workers then need no store: :class:`BatchMatcher` loads the encoder, the check-worthiness and
retrieval models and the persisted index **from paths** (the index directory, model files), once,
and maps ``pa.RecordBatch → pa.RecordBatch``. On a Ray cluster those paths must be readable on
every node (a shared file system, or the same layout on each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from claimwatch import api
from claimwatch.batch import schema as S
from claimwatch.batch.convert import FactCheckKey, normalised_posts, posts_of, results_batch
from claimwatch.claims.analyse import Analyser
from claimwatch.claims.compute import Matching, match_version
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.retrieval import Retriever
from claimwatch.config import Settings
from claimwatch.store import repo


class IndexMoved(RuntimeError):
    """The index on disk is not the one the run was planned with (fact-checks changed meanwhile)."""


@dataclass(frozen=True)
class MatcherSpec:
    """Everything a worker needs to match as ``claimwatch match`` would, picklable."""

    #: resolved settings, ``index_dir`` set (a worker never reads config files or the environment)
    settings: Settings
    #: the index version (with the multilingual index's) the run was planned with
    version: str
    top_k: int
    threshold: float
    min_confidence: float
    topics: str | None = None
    #: fact-check id → what it means in the planning store (written with each candidate)
    factchecks: dict[int, FactCheckKey] = field(default_factory=dict)
    #: ONNX intra-op threads per worker: one, since a run has a worker per core
    threads: int = 1


def plan(ws: api.Workspace, *, topics: str | None = None) -> MatcherSpec:
    """The spec of a batch run against ``ws``'s store: index brought up to date first."""
    index = ws.load_index()
    ws.topic_set(topics)  # a bad topic file fails here, before any worker starts
    version = match_version(index, ws.multilingual(index))
    with ws.engine.connect() as conn:
        keys = {row.id: FactCheckKey(row.review_url, row.claim_key) for row in repo.factcheck_docs(conn)}
    st = ws.settings
    return MatcherSpec(
        st.with_overrides(index_dir=str(ws.index_dir)),
        version,
        st.top_k,
        st.threshold,
        st.min_confidence,
        topics,
        keys,
    )


class BatchMatcher:
    """Posts batch (:data:`schema.POSTS`) → results batch (:data:`schema.RESULTS`), models loaded once.

    The callable class Ray Data's ``map_batches`` instantiates once per actor; the local runner
    holds one per worker process."""

    def __init__(self, spec: MatcherSpec) -> None:
        tools = api.Tools(spec.settings)
        encoder = tools.encoder.with_threads(spec.threads)
        index = ClaimIndex.load(Path(spec.settings.index_dir))
        self.matching = Matching(
            Retriever(index, encoder, tools.retrieval_model(), alpha=spec.settings.alpha),
            top_k=spec.top_k,
            threshold=spec.threshold,
            min_confidence=spec.min_confidence,
            analyser=Analyser(encoder, tools.checkworthiness_model(), tools.topic_set(spec.topics)),
            multilingual=tools.multilingual(index),
        )
        if self.matching.version != spec.version:
            raise IndexMoved(
                f"the index at {spec.settings.index_dir} is {self.matching.version}, the run was planned with "
                f"{spec.version} (fact-checks changed meanwhile?): start the run again"
            )
        self.spec = spec
        self.models = self.matching.analyser.models() if self.matching.analyser else None

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
        """Results for one batch of posts, of the kind given (Ray hands tables and wants tables
        back; the local runner uses record batches)."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        out = pa.RecordBatch.from_pylist([], schema=S.RESULTS)
        if table.num_rows:
            posts, keys = posts_of(normalised_posts(table))
            results = self.matching.compute(posts)
            out = results_batch(results, keys, self.spec.version, self.models, self.spec.factchecks)
        return pa.Table.from_batches([out]) if isinstance(batch, pa.Table) else out
