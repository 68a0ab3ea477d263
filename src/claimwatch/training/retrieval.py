"""``claimwatch train retrieval``: rebuild the re-ranker and its calibration from public data.

The recipe, with fixed seeds, on the CLEF CheckThat! layout under ``datasets``:

1. Candidates and features (see claims.features) for the **train** queries of task 2A
   (tweets → Snopes, CT2022) and task 2B (debates → PolitiFact, CT2021/22; claims with their
   article text, sentences with two neighbouring transcript sentences as context).
2. A LambdaMART re-ranker trained on both (claims.rerank.train_ranker), and a second one on the
   pair features only (claims.rerank.PAIR_FEATURES), whose score is evidence for the confidence.
3. Confidence calibration on the **dev** queries of both tasks, the same dev queries again against
   the collection without their gold claims (open world: the best candidate is then a related claim
   that is not theirs), plus posts that make no claim — CT2022 1A check-worthiness *train* tweets
   labelled 0 against the Snopes claims, and a seeded sample of CT2024 task 1 *train* sentences
   labelled "No" against the PolitiFact claims — so that posts matching nothing get low confidence —
   and the **dev** half of the hand-written hard negatives (``benchmarks/data/hard_negatives``:
   denials, debunks, same-narrative posts) against both collections, so that a post on a claim's
   topic that does not repeat it gets low confidence too.
   The dev queries (not train) are used because the ranker has seen the train queries' candidates.

Dev-test and test splits are never read here. The same data and seed give the same model.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.artefacts import file_sha256
from claimwatch.claims.docs import Query
from claimwatch.claims.encoder import Encoder
from claimwatch.claims.features import FEATURE_NAMES
from claimwatch.claims.index import ClaimIndex
from claimwatch.claims.rerank import (
    PAIR_FEATURES,
    RetrievalModel,
    fit_calibration,
    train_ranker,
)
from claimwatch.claims.retrieval import Retriever
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cached_index, clean_queries

SEED = 13
#: Debate sentences get this many neighbouring sentences as context.
DEBATE_CONTEXT = 2
#: Non-claim debate sentences sampled as calibration negatives (the set has ~17,000).
DEBATE_NEGATIVES = 1500
#: The dev half of the hand-written hard negatives (the test half is never read here).
HARD_NEGATIVES_DEV = Path(__file__).resolve().parents[3] / "benchmarks" / "data" / "hard_negatives" / "dev.tsv"


@dataclass(frozen=True)
class TaskFiles:
    name: str
    vclaims: Path
    queries: Path
    train_qrels: Path
    dev_qrels: Path
    context_window: int = 0

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.vclaims, self.queries, self.train_qrels, self.dev_qrels)


def require_files(files: list[Path]) -> None:
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"{f} not found: `train retrieval` needs the CLEF CheckThat! data "
                "(https://gitlab.com/checkthat_lab) in the layout of ../shared/datasets"
            )


def checkthat_tasks(datasets: Path) -> list[TaskFiles]:
    a = datasets / "clef2022-checkthat-task2a-tweets-snopes"
    b = datasets / "clef2021-2022-checkthat-task2b-debates-politifact"
    return [
        TaskFiles(
            "2A",
            a / "vclaims.jsonl",
            a / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv",
            a / "train" / "CT2022-Task2A-EN-Train_QRELs.tsv",
            a / "dev" / "CT2022-Task2A-EN-Dev_QRELs.tsv",
        ),
        TaskFiles(
            "2B",
            b / "vclaims_with_article_text.jsonl.gz",
            b / "train" / "CT2022-Task2B-EN-Train-Dev_Queries.tsv",
            b / "train" / "CT2022-Task2B-EN-Train_QRELs.tsv",
            b / "dev" / "CT2022-Task2B-EN-Dev_QRELs.tsv",
            DEBATE_CONTEXT,
        ),
    ]


def no_claim_posts(path: Path, limit: int | None = None) -> list[Query]:
    """Posts or sentences a check-worthiness set labels as making no claim worth checking: they
    should match nothing. Reads the CheckThat! tweet TSVs (class_label / check_worthiness 0) and
    the sentence TSVs (class_label "No"); ``limit`` takes a seeded sample."""
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            label = (row.get("class_label") or row.get("check_worthiness") or "").strip().lower()
            text = (row.get("tweet_text") or row.get("Text") or "").strip()
            if label in ("0", "no") and text:
                out.append(Query(f"nc-{row.get('tweet_id') or row.get('Sentence_id')}", text))
    if limit and len(out) > limit:
        rng = np.random.default_rng(SEED)
        out = [out[i] for i in sorted(rng.choice(len(out), size=limit, replace=False))]
    return out


@dataclass(frozen=True)
class LabelledCandidates:
    """One labelled query's stage-1 candidates: their claim ids and feature rows, and the query's
    gold claims (some may be missing from the candidates: MAP counts them all)."""

    task: str
    split: str
    query_id: str
    doc_ids: tuple[str, ...]
    features: np.ndarray
    gold: frozenset[str]

    @property
    def labels(self) -> np.ndarray:
        return np.array([1 if i in self.gold else 0 for i in self.doc_ids], dtype=np.int32)


@dataclass(frozen=True)
class LoadedTask:
    """A task's claim index, its queries by id and its train and dev qrels."""

    files: TaskFiles
    index: ClaimIndex
    queries: dict[str, Query]
    qrels: dict[str, dict[str, set[str]]]

    def labelled(self, split: str) -> list[Query]:
        """The queries of ``split`` ("train" or "dev") that have qrels, in id order."""
        return [self.queries[q] for q in sorted(self.qrels[split]) if q in self.queries]


def load_task(t: TaskFiles, encoder: Encoder) -> LoadedTask:
    index = cached_index(checkthat.load_vclaims(t.vclaims), encoder)
    queries = {q.id: q for q in checkthat.load_queries(t.queries, t.context_window)}
    qrels = {"train": checkthat.load_qrels(t.train_qrels), "dev": checkthat.load_qrels(t.dev_qrels)}
    return LoadedTask(t, index, queries, qrels)


def labelled_candidates(task: LoadedTask, split: str, encoder: Encoder) -> list[LabelledCandidates]:
    """Candidates and features of ``split``'s queries, as the re-ranker is trained on them."""
    retriever = Retriever(task.index, encoder)
    queries, qrels = task.labelled(split), task.qrels[split]
    return [
        LabelledCandidates(
            task.files.name,
            split,
            q.id,
            tuple(task.index.docs[r].id for r in cand.rows),
            cand.features,
            frozenset(qrels[q.id]),
        )
        for q, cand in zip(queries, retriever.candidates(clean_queries(queries)), strict=True)
    ]


def _top1(
    retriever: Retriever, queries: list[Query], qrels: dict[str, set[str]] | None
) -> tuple[list[np.ndarray], list[bool]]:
    """Confidence inputs of each query's top hit, and whether that hit is right (never, without qrels)."""
    assert retriever.model is not None
    correct, scores, features = [], [], []
    for q, cand in zip(queries, retriever.candidates(clean_queries(queries)), strict=True):
        if len(cand.rows) == 0:
            continue
        sc = retriever.model.score(cand.features)
        best = retriever.index.docs[int(cand.rows[int(np.argmax(sc))])].id
        scores.append(sc)
        features.append(cand.features)
        correct.append(bool(qrels) and best in qrels.get(q.id, set()))
    return list(retriever.model.confidence_inputs(scores, features)) if scores else [], correct


@dataclass
class CalibrationSet:
    """The calibration examples, with the name of the group each came from (for the per-group log)."""

    inputs: list[np.ndarray]
    correct: list[bool]
    groups: list[str]

    def add(self, group: str, inputs: list[np.ndarray], correct: list[bool]) -> None:
        self.inputs += inputs
        self.correct += correct
        self.groups += [group] * len(inputs)


def calibration_cv(oof: np.ndarray, correct: np.ndarray) -> dict[str, float | None]:
    """Out-of-fold figures of the calibration at the default confidence 0.5: precision of the
    proposals, and the share of wrong top-1s (no-claim posts, open-world and misranked queries)
    proposed anyway."""
    proposed = oof >= 0.5
    return {
        "precision@0.5": round(float(correct[proposed].mean()), 4) if proposed.any() else None,
        "wrong_proposed@0.5": round(float(proposed[~correct].mean()), 4) if (~correct).any() else None,
    }


def _file_sha(path: Path) -> str:
    return file_sha256(path)[:16]


def train(
    datasets: Path,
    out: Path,
    encoder: Encoder,
    *,
    hard_negatives_file: Path = HARD_NEGATIVES_DEV,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train and calibrate; writes the model to ``out`` and returns its metadata."""
    tasks = checkthat_tasks(datasets)
    negatives_file = (
        datasets / "clef2022-checkthat-task1a-checkworthiness-tweets-en" / "CT22_english_1A_checkworthy_train.tsv"
    )
    debate_negatives_file = (
        datasets / "clef2024-checkthat-task1-checkworthiness-en" / "CT24_checkworthy_english_train.fixed.tsv"
    )
    require_files([p for t in tasks for p in t.files] + [negatives_file, debate_negatives_file])
    if not hard_negatives_file.is_file():
        raise FileNotFoundError(
            f"{hard_negatives_file} not found: `train retrieval` calibrates on the hard-negative dev posts "
            "of claimwatch's source tree (benchmarks/data/hard_negatives); run it from a checkout"
        )
    indexes: dict[str, ClaimIndex] = {}
    dev_sets: dict[str, tuple[list[Query], dict[str, set[str]]]] = {}
    feats: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for t in tasks:
        log(f"{t.name}: indexing {t.vclaims.name}")
        task = load_task(t, encoder)
        indexes[t.name] = task.index
        dev_sets[t.name] = (task.labelled("dev"), task.qrels["dev"])
        labelled = labelled_candidates(task, "train", encoder)
        feats += [c.features for c in labelled]
        labels += [c.labels for c in labelled]
        log(
            f"{t.name}: {len(labelled)} train queries, gold among candidates for "
            f"{sum(int(c.labels.any()) for c in labelled)}"
        )
    booster = train_ranker(feats, labels, seed=SEED)
    pair_cols = [FEATURE_NAMES.index(f) for f in PAIR_FEATURES]
    pair = train_ranker([f[:, pair_cols] for f in feats], labels, seed=SEED, feature_names=PAIR_FEATURES)
    model = RetrievalModel(booster, None, {}, pair)
    cal = CalibrationSet([], [], [])
    for name, (dev_q, dev_qrels) in dev_sets.items():
        x, c = _top1(Retriever(indexes[name], encoder, model), dev_q, dev_qrels)
        cal.add(f"{name} dev", x, c)
        log(f"{name}: dev top-1 accuracy {np.mean(c):.3f} ({len(c)} queries)")
        # Open world: the same posts against the collection without any of their gold claims. Their
        # best candidate is then a related claim, not theirs — the typical error of a real feed.
        # (None of them restates its gold claim: their claim-to-claim cosine is ≤ 0.81 at the 99th
        # percentile, so a near-duplicate fact-check is not mislabelled wrong here.)
        gold = {d for ds in dev_qrels.values() for d in ds}
        x, c = _top1(Retriever(indexes[name].without(gold), encoder, model), dev_q, None)
        cal.add(f"{name} dev open world", x, c)
        log(f"calibration: {len(x)} {name} dev queries against the collection without their gold claims")
    hard = no_claim_posts(hard_negatives_file)
    for name, file, limit in (("2A", negatives_file, None), ("2B", debate_negatives_file, DEBATE_NEGATIVES)):
        negatives = no_claim_posts(file, limit)
        x, c = _top1(Retriever(indexes[name], encoder, model), negatives, None)
        cal.add(f"{name} no-claim", x, c)
        log(f"calibration: {len(negatives)} no-claim posts from {file.name} against the {name} claims")
        # Hand-written posts on the collections' topics that repeat no rated claim (denials,
        # debunks, same narrative, news): against both collections, their best candidate is wrong.
        x, c = _top1(Retriever(indexes[name], encoder, model), hard, None)
        cal.add(f"hard negatives dev vs {name}", x, c)
    log(f"calibration: {len(hard)} hard-negative dev posts ({hard_negatives_file.name}) against both collections")
    correct = np.array(cal.correct)
    model.calibration, oof = fit_calibration(np.vstack(cal.inputs), correct, seed=SEED)
    cv = calibration_cv(oof, correct)
    log(f"calibration, 5-fold out-of-fold: {cv}")
    groups = np.array(cal.groups)
    for group in dict.fromkeys(cal.groups):
        g = groups == group
        log(
            f"  {group}: {int(g.sum())} examples, right {correct[g].mean():.3f}, mean out-of-fold confidence "
            f"{oof[g].mean():.3f}, proposed at 0.5 {(oof[g] >= 0.5).mean():.3f}"
        )
    model.meta = {
        "encoder": encoder.name,
        "seed": SEED,
        "command": "claimwatch train retrieval " + " ".join(sys.argv[3:]),
        "trained_on": {
            t.name: {
                "vclaims": _file_sha(t.vclaims),
                "queries": _file_sha(t.queries),
                "train_qrels": _file_sha(t.train_qrels),
            }
            for t in tasks
        },
        "calibrated_on": {
            **{t.name: _file_sha(t.dev_qrels) for t in tasks},
            "open_world": "dev queries without their gold claims",
            "hard_negatives": _file_sha(hard_negatives_file),
            "no_claim_tweets": _file_sha(negatives_file),
            "no_claim_sentences": _file_sha(debate_negatives_file),
        },
        "n_train_queries": len(feats),
        "n_calibration_examples": len(correct),
        "calibration_cv": cv,
    }
    model.save(out)
    return model.meta
