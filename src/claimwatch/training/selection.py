"""Model selection for the re-ranker by grouped k-fold cross-validation (``train retrieval --cv``).

One dev split is too small to choose features or LambdaMART settings on (2B dev has 119 queries:
one query moves MAP@5 by ~0.008), and choosing on it spends the split that reports the figure. So
the choice is made on every labelled CheckThat! query — 2A and 2B, train and dev — in k folds:
each fold's queries are ranked by a re-ranker trained on the other folds, and MAP@5 is pooled over
all held-out queries per task (plus its spread over the folds).

Folds hold whole groups of queries that share a gold claim (many 2A tweets repeat one Snopes
claim): with such a pair split across folds, the model would have seen the answer during training.
``group_by_gold=False`` gives folds by query alone, as the first scratch measurement did.

The candidates and features are the training recipe's own (training.retrieval.labelled_candidates);
computing them encodes ~1,800 queries, so they are cached under claimwatch.config.cache_dir() keyed
by the input files, the encoder and the source of the code that computes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import claimwatch.claims
from claimwatch.artefacts import file_sha256
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.rerank import train_ranker
from claimwatch.config import cache_dir
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.metrics import average_precision
from claimwatch.training.retrieval import (
    SEED,
    LabelledCandidates,
    checkthat_tasks,
    labelled_candidates,
    load_task,
    require_files,
)

CV_K = 5

_RANK_AND_RELATIVE = ("cos_gap", "cos_rank", "bm25_all_rel", "bm25_claim_rel", "bm25_title_rel", "bm25_extra_rel")

#: The feature sets compared in benchmarks/RESULTS.md ("Model selection by cross-validation").
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "all (shipped)": FEATURE_NAMES,
    "without query_coverage": tuple(f for f in FEATURE_NAMES if f != "query_coverage"),
    "pair-only": tuple(f for f in FEATURE_NAMES if f not in (*_RANK_AND_RELATIVE, "fused_v1")),
    "pair-only + BM25-relative + fused": tuple(f for f in FEATURE_NAMES if f not in ("cos_gap", "cos_rank")),
    "without stance cues": tuple(f for f in FEATURE_NAMES if not f.startswith("stance_")),
}


@dataclass(frozen=True)
class TaskScore:
    map5: float
    fold_std: float
    n_queries: int


@dataclass(frozen=True)
class CVResult:
    """Held-out MAP@5 of one (feature set, LambdaMART settings) pair, per task."""

    features: str
    params: str
    tasks: dict[str, TaskScore]


def _grouped(queries: Sequence[LabelledCandidates], by_gold: bool) -> list[list[int]]:
    """Indices of ``queries`` in groups that must share a fold: one per query, or (``by_gold``) the
    connected components of "shares a gold claim with", each in first-seen order."""
    if not by_gold:
        return [[i] for i in range(len(queries))]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # A bipartite graph, queries then gold claims: its components are the groups.
    claim_no: dict[str, int] = {}
    edges = [(i, len(queries) + claim_no.setdefault(d, len(claim_no))) for i, q in enumerate(queries) for d in q.gold]
    n = len(queries) + len(claim_no)
    rows, cols = zip(*edges, strict=True) if edges else ((), ())
    _, component = connected_components(coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n)), directed=False)
    groups: dict[int, list[int]] = {}
    for i in range(len(queries)):
        groups.setdefault(int(component[i]), []).append(i)
    return list(groups.values())


def assign_folds(
    queries: Sequence[LabelledCandidates], k: int = CV_K, seed: int = SEED, group_by_gold: bool = True
) -> np.ndarray:
    """Fold number of each query: per task, groups are shuffled (seeded) and each goes to the fold
    with the fewest queries so far (ties: lowest fold). With singleton groups this is a seeded
    round robin, so every task is spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    folds = np.full(len(queries), -1, dtype=np.int64)
    for task in sorted({q.task for q in queries}):
        members = [i for i, q in enumerate(queries) if q.task == task]
        groups = _grouped([queries[i] for i in members], group_by_gold)
        sizes = np.zeros(k, dtype=np.int64)
        for g in rng.permutation(len(groups)):
            fold = int(np.argmin(sizes))
            folds[[members[i] for i in groups[g]]] = fold
            sizes[fold] += len(groups[g])
    return folds


def cross_validate(
    queries: Sequence[LabelledCandidates],
    feature_sets: Mapping[str, Sequence[str]],
    param_sets: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    k: int = CV_K,
    seed: int = SEED,
    group_by_gold: bool = True,
    log: Callable[[str], None] = print,
) -> list[CVResult]:
    """Held-out MAP@5 per task for every feature set × LambdaMART settings (overrides of
    claims.rerank.RANKER_PARAMS; default: the shipped settings). A query without candidates scores
    0 and is left out of training, as in real use."""
    unknown = sorted({f for cols in feature_sets.values() for f in cols} - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(unknown)}; known: {', '.join(FEATURE_NAMES)}")
    folds = assign_folds(queries, k, seed, group_by_gold)
    labels = [q.labels for q in queries]
    results = []
    for fname, cols in feature_sets.items():
        ci = [FEATURE_NAMES.index(c) for c in cols]
        for pname, params in (param_sets or {"shipped": {}}).items():
            ap: dict[str, list[float]] = {}
            per_fold: dict[str, list[list[float]]] = {}
            for fold in range(k):
                train = [i for i in range(len(queries)) if folds[i] != fold and len(labels[i])]
                booster = train_ranker(
                    [queries[i].features[:, ci] for i in train],
                    [labels[i] for i in train],
                    seed,
                    feature_names=tuple(cols),
                    params=dict(params),
                )
                for i in np.flatnonzero(folds == fold):
                    q = queries[i]
                    ranked: list[str] = []
                    if len(q.doc_ids):
                        scores = booster.predict(q.features[:, ci], num_threads=1)
                        ranked = [q.doc_ids[j] for j in np.argsort(-scores, kind="stable")]
                    score = average_precision(ranked, set(q.gold), 5)
                    ap.setdefault(q.task, []).append(score)
                    per_fold.setdefault(q.task, [[] for _ in range(k)])[fold].append(score)
            tasks = {
                t: TaskScore(
                    round(float(np.mean(v)), 4),
                    round(float(np.std([np.mean(f) for f in per_fold[t] if f])), 4),
                    len(v),
                )
                for t, v in sorted(ap.items())
            }
            log(f"{fname} / {pname}: " + ", ".join(f"{t} {s.map5:.4f} ± {s.fold_std:.4f}" for t, s in tasks.items()))
            results.append(CVResult(fname, pname, tasks))
    return results


# --------------------------------------------------------------------------- the labelled data, cached


def _cache_key(datasets: Path, encoder: Encoder) -> str:
    """Inputs, encoder and the source of every module that shapes candidates or features: a change
    to any of them computes the features afresh."""
    h = hashlib.sha256(f"{encoder.name}\x1f{FEATURE_NAMES}".encode())
    for t in checkthat_tasks(datasets):
        for f in t.files:
            h.update(file_sha256(f).encode())
    code = [Path(claimwatch.claims.__file__).parent, Path(checkthat.__file__)]
    for path in sorted(p for c in code for p in ([c] if c.is_file() else c.rglob("*.py"))):
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def save_labelled(path: Path, queries: Sequence[LabelledCandidates]) -> None:
    """One .npz (no pickled objects): the feature rows and candidate ids of all queries back to back,
    with per-query offsets and their task, split, id and gold ids."""
    offsets = np.cumsum([0] + [len(q.doc_ids) for q in queries])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        features=np.vstack([q.features for q in queries]).astype(np.float32),
        offsets=offsets,
        doc_ids=np.array([d for q in queries for d in q.doc_ids], dtype=np.str_),
        meta=np.array([json.dumps([q.task, q.split, q.query_id, sorted(q.gold)]) for q in queries], dtype=np.str_),
    )
    tmp.replace(path)


def load_labelled(path: Path) -> list[LabelledCandidates]:
    with np.load(path, allow_pickle=False) as z:
        feats, offsets, doc_ids, meta = z["features"], z["offsets"], z["doc_ids"], z["meta"]
    out = []
    for n, m in enumerate(meta):
        task, split, qid, gold = json.loads(str(m))
        a, b = int(offsets[n]), int(offsets[n + 1])
        out.append(LabelledCandidates(task, split, qid, tuple(map(str, doc_ids[a:b])), feats[a:b], frozenset(gold)))
    return out


def labelled_queries(
    datasets: Path, encoder: Encoder, *, log: Callable[[str], None] = print
) -> list[LabelledCandidates]:
    """Candidates of every labelled 2A and 2B query (train, then dev; ids in order), from the cache
    when the same inputs, encoder and code made them before."""
    tasks = checkthat_tasks(datasets)
    require_files([p for t in tasks for p in t.files])
    path = cache_dir() / "retrieval-cv" / f"{_cache_key(datasets, encoder)}.npz"
    if path.is_file():
        log(f"candidates and features from the cache {path}")
        return load_labelled(path)
    out: list[LabelledCandidates] = []
    for t in tasks:
        log(f"{t.name}: indexing {t.vclaims.name}")
        task = load_task(t, encoder)
        for split in ("train", "dev"):
            out += labelled_candidates(task, split, encoder)
            log(f"{t.name} {split}: {len(task.labelled(split))} queries")
    save_labelled(path, out)
    return out
