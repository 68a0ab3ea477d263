"""Throughput and peak memory of **ranking only**, against 14k real and 1M synthetic fact-checks.

Ranking only: post text in, ranked candidates out, in memory. Not what ``claimwatch match``
does end to end (language, check-worthiness, claim sentences, topics, store writes and the
review-queue refresh come on top): ``benchmarks/ingest_match_100k.py`` measures that command.

    python benchmarks/matching_throughput.py --claims 14k  [--posts 5000] [--backend onnx-int8]
    python benchmarks/matching_throughput.py --claims 1m   [--posts 5000]

Each run is a separate process so peak memory (ru_maxrss) belongs to that setting alone. For 1M
the index is built (and cached under ~/.cache/claimwatch/bench-1m) by one process and served by a
second one, so the reported serving memory is that of matching alone; the build's peak is reported
too.

* ``14k``: the 14,231 CLEF CheckThat! 2022 2A Snopes claims (real), indexed with the encoder.
* ``1m``: those claims plus 985,769 synthetic ones (word-shuffled recombinations of real claims,
  seeded). Encoding a million texts with MiniLM on 2 CPU cores takes hours, so the synthetic
  claims' embeddings are the embedding of the real claim they were derived from plus Gaussian
  noise (σ = 0.05, renormalised): right for measuring speed and memory, meaningless for accuracy.

Posts: CheckThat! 2A train/dev tweets and synthetic chatter, 1:4, seeded. Reported: posts/s for
(a) the plain pipeline — sentence-transformers (torch float32) + BM25 fusion (v1), encoding a batch
then searching it (at 1M its queries meet the int8-built index: same model, speed is what counts)
— and (b) the full ranking pipeline as ``claimwatch match`` runs it (ONNX int8 encoders running a
batch ahead on both cores, candidates, features, LambdaMART, calibrated confidence), both from raw
post text to ranked candidates, in the same process (``full_posts_per_s`` is ranking only). Needs the CheckThat! data under
``--datasets`` (https://gitlab.com/checkthat_lab/clef2022-checkthat-lab).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.rerank import load_model
from claimwatch.claims.retrieval import STREAM_BATCH, Retriever
from claimwatch.claims.text import clean_query
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cache_dir, cached_index

CHATTER = (
    "game tonight coffee weather rain sunny weekend team great season music concert recipe pizza traffic "
    "city park dog cat movie trailer amazing birthday friends family school library market garden"
).split()


def posts(tweets: list[str], n: int, seed: int = 3) -> list[Query]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = (
            tweets[rng.randrange(len(tweets))]
            if i % 5 == 0
            else " ".join(rng.choice(CHATTER) for _ in range(rng.randint(6, 30)))
        )
        out.append(Query(str(i), clean_query(text)))
    return out


def synthetic_million(
    real: list[ClaimDoc], real_emb: np.ndarray, total: int, seed: int = 11
) -> tuple[list[ClaimDoc], np.ndarray]:
    rng = np.random.default_rng(seed)
    n_extra = total - len(real)
    src = rng.integers(0, len(real), n_extra)
    docs = list(real)
    for k, i in enumerate(src):
        words = real[i].claim.split()
        rng.shuffle(words)
        docs.append(ClaimDoc(id=f"syn-{k}", claim=" ".join(words), title=real[i].title))
    emb = np.empty((total, real_emb.shape[1]), dtype=np.float32)
    emb[: len(real)] = real_emb
    for start in range(0, n_extra, 100_000):
        part = src[start : start + 100_000]
        block = real_emb[part] + rng.normal(0, 0.05, (len(part), real_emb.shape[1])).astype(np.float32)
        emb[len(real) + start : len(real) + start + len(part)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return docs, emb


class _Precomputed:
    """Stands in for the encoder while the 1M index is built from precomputed embeddings."""

    def __init__(self, name: str, emb: np.ndarray) -> None:
        self.name, self._emb, self.dim = name, emb, emb.shape[1]

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        assert len(texts) == len(self._emb)
        return self._emb


def timed(retriever: Retriever, queries: list[Query], batch: int = STREAM_BATCH) -> float:
    """Steady-state posts/s through :meth:`Retriever.search_batches`, the path ``claimwatch match``
    takes. One small batch first loads the per-core encoder sessions (a one-time cost of a
    long-running matcher, not a per-post one)."""
    for _ in retriever.search_batches([queries[:64]], top_k=5):
        pass
    start = time.perf_counter()
    for _ in retriever.search_batches((queries[i : i + batch] for i in range(0, len(queries), batch)), top_k=5):
        pass
    return len(queries) / (time.perf_counter() - start)


def timed_plain(retriever: Retriever, queries: list[Query], batch: int = 256) -> float:
    """Steady-state posts/s of the plain pipeline: encode a batch with sentence-transformers, then search it."""
    retriever.search(queries[:64], top_k=5)
    start = time.perf_counter()
    for i in range(0, len(queries), batch):
        retriever.search(queries[i : i + batch], top_k=5)
    return len(queries) / (time.perf_counter() - start)


def _peak_mb() -> int:
    """Peak resident memory of this process. VmHWM, because ru_maxrss survives exec() on Linux and
    would report the building parent's peak in the serving child."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def build_million(real: list[ClaimDoc], encoder: Encoder, directory: Path) -> None:
    real_index = cached_index(real, encoder)
    docs, emb = synthetic_million(real, real_index.embeddings.astype(np.float32), 1_000_000)
    ClaimIndex.build(directory, docs, _Precomputed(encoder.name, emb))  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", choices=("14k", "1m"), required=True)
    ap.add_argument("--posts", type=int, default=5000)
    ap.add_argument("--backend", default=None, help="encoder backend (default: the encoder's default)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    args = ap.parse_args()
    d = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    if not (d / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! 2022 2A not found under {d}; see the docstring")
    encoder = Encoder(backend=args.backend) if args.backend else Encoder()
    real = checkthat.load_vclaims(d / "vclaims.jsonl")
    million_dir = cache_dir() / "bench-1m" / encoder.name.replace(" ", "_").replace("/", "_")
    if args.claims == "1m" and not args.serve:
        t0 = time.perf_counter()
        if not (million_dir / "meta.json").is_file():
            build_million(real, encoder, million_dir)
        build = {"index_build_s": round(time.perf_counter() - t0, 1), "build_peak_rss_mb": _peak_mb()}
        served = subprocess.run(
            [
                sys.executable,
                __file__,
                "--claims",
                "1m",
                "--serve",
                "--posts",
                str(args.posts),
                "--datasets",
                str(args.datasets),
            ]
            + (["--backend", args.backend] if args.backend else []),
            check=True,
            capture_output=True,
            text=True,
        )
        print(json.dumps({**json.loads(served.stdout), **build}, indent=1))
        return
    t0 = time.perf_counter()
    index = ClaimIndex.load(million_dir) if args.claims == "1m" else cached_index(real, encoder)
    load_s = time.perf_counter() - t0
    tweets = [q.text for q in checkthat.load_queries(d / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv")]
    queries = posts(tweets, args.posts)
    model = load_model("", encoder.name)
    # The full pipeline first: torch's OpenMP threads keep spinning for a while after the baseline
    # ran and would take CPU from it (`claimwatch match` never loads torch with the ONNX backends).
    full = timed(Retriever(index, encoder, model), queries)
    # The baseline: sentence-transformers (torch, float32) + BM25 fusion, one batch after another.
    st = Encoder(backend="torch")
    plain_index = cached_index(real, st) if args.claims == "14k" else index
    plain = timed_plain(Retriever(plain_index, st, None), queries)
    print(
        json.dumps(
            {
                "claims": len(index),
                "posts": len(queries),
                "encoder": encoder.name,
                "ann": index.ann is not None,
                "index_load_s": round(load_s, 1),
                "measures": "ranking only (no analysis, no store); claimwatch match: ingest_match_100k.py",
                "plain_st_bm25_posts_per_s": round(plain),
                "full_posts_per_s": round(full),
                "full_vs_plain": round(full / plain, 2),
                "model": model.method if model else None,
                "serving_peak_rss_mb": _peak_mb(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
