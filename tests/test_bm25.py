"""The index's BM25 scoring (reused buffers, pool-only scoring) gives bm25s's numbers exactly."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from claimwatch.claims.docs import ClaimDoc
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex, FieldScores, tokenize

WORDS = "ballot vote machine dead voters mail fraud count county election audit poll worker dumpster".split()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> ClaimIndex:
    rng = random.Random(5)
    docs = [
        ClaimDoc(
            id=str(i),
            claim=" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))),
            title=" ".join(rng.choice(WORDS) for _ in range(3)),
        )
        for i in range(300)
    ]
    return ClaimIndex.build(Path(tmp_path_factory.mktemp("idx")) / "i", docs, encoder, persist=False)[0]


@pytest.mark.slow
@pytest.mark.parametrize("dense_share", [1 / 16, 10.0])  # whole-buffer passes, and scattered ones
def test_field_scores_match_bm25s_and_release_the_buffer(
    index: ClaimIndex, dense_share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FieldScores, "DENSE_SHARE", dense_share)
    for query in ("dead voters mail ballot ballot", "machine", "unknownword", ""):
        tokens = tokenize([query])[0]
        for field in ("all", "claim", "title"):
            retriever = index.bm25[field]
            known = [t for t in tokens if t in retriever.vocab_dict]
            want = np.asarray(retriever.get_scores(known), np.float32) if known else np.zeros(len(index), np.float32)
            got = index.bm25_scores(tokens, field)
            rows = np.arange(len(index))
            assert np.array_equal(got.at(rows), want)
            assert got.max == float(want.max())
            positive = np.flatnonzero(want > 0)
            top = got.top(10)
            assert len(top) == min(10, len(positive)) and set(top) <= set(positive)
            assert np.all(np.diff(want[top]) <= 0)  # best first
            if len(top):
                assert want[top[0]] == want.max()
            got.release()
            assert not index._buffers[field].any()


def test_pool_scores_are_exact_on_the_pool(index: ClaimIndex) -> None:
    tokens = tokenize(["county election audit poll worker dead"])[0]
    full = index.bm25_scores(tokens, "claim")
    pool = np.array(sorted(random.Random(1).sample(range(len(index)), 40)))
    part = index.bm25_at(tokens, "claim", pool)
    assert np.array_equal(part.at(pool), full.at(pool))
    assert part.max == float(full.at(pool).max())
    full.release()
