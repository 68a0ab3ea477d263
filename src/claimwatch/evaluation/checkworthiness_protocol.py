"""One evaluation protocol for check-worthiness over every labelled set (``eval checkworthiness --all-sets``).

Decision: **grouped k-fold per set over the pooled data, held out by group across sets.** For each
set S of :data:`claimwatch.evaluation.checkworthiness_sets.SETS`, its groups (debates; for tweets
the published split files) are split into at most :data:`FOLDS` folds. For each fold the model is
trained on every *other* labelled text of the pool — all sets, the rest of S included — except
(a) any text whose normalised form is in the held-out fold, wherever it appears, and (b) every
sentence of a held-out debate, in whichever set. The fold is then scored at the model's fixed
threshold; the set's F1 (positive class) is computed over all its out-of-fold predictions.

Why: the shipped model is trained on the pool, so the figure that predicts its behaviour on a new
debate or a new batch of tweets is one where exactly that unit was unseen. A split *file* is not a
safe unit: the sets share texts (CT24 train = ClaimBuster crowdsourced; CT2022 1A train holds
CT2021 1A test tweets) and debates (CT24 dev's sentences come from the same 30 debates as CT24
train's). Leave-one-set-out would drop all of CT24 train when scoring it, i.e. measure a
different model from the one shipped. Sets with one group (CT23 1B: the 2020 debates) are held
out whole, which *is* leave-one-set-out for them, the case closest to a new year's debates.

Thresholds: chosen per kind by :func:`choose_threshold_for` on the out-of-fold scores of the *other*
sets of that kind (never on S's own labels), so each figure is at a threshold S did not pick. The
shipped threshold is the one chosen on all sets of the kind.

Baseline (``baseline``): frozen all-MiniLM-L6-v2 embedding + ``sklearn`` ``LogisticRegression()``
(default C = 1, no class weights) trained on the same folds' texts of the held-out set's kind,
threshold 0.5 — the baseline the project was measured against on the held-out CheckThat! 2024 test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from claimwatch.claims.checkworthiness import sigmoid
from claimwatch.evaluation.checkworthiness_sets import LabelledSet
from claimwatch.evaluation.metrics import binary_metrics

FOLDS = 4
SEED = 13
#: Candidate thresholds (as in training.checkworthiness).
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)

#: A scorer factory: (texts, embeddings, labels, kinds) of the training fold -> a function giving
#: logits for (texts, embeddings, kinds) of the held-out fold.
Fit = Callable[
    [list[str], np.ndarray, np.ndarray, np.ndarray], Callable[[list[str], np.ndarray, np.ndarray], np.ndarray]
]


@dataclass
class Fold:
    """One held-out fold of one set, and the pool rows its model may train on."""

    set_index: int
    test: np.ndarray  # row indices into the set
    train: np.ndarray  # row indices into the pool


def folds_of(s: LabelledSet) -> list[np.ndarray]:
    """Grouped folds of a set (whole groups held out; one fold = the whole set if it has one group)."""
    from sklearn.model_selection import GroupKFold

    k = min(FOLDS, len(np.unique(s.groups)))
    if k < 2:
        return [np.arange(len(s.items))]
    return [te for _, te in GroupKFold(k).split(s.labels, s.labels, s.groups)]


@dataclass
class Pool:
    """Every set's texts once per kind (first occurrence wins), with where each came from."""

    texts: list[str]
    keys: list[str]
    labels: np.ndarray
    kinds: np.ndarray
    groups: np.ndarray
    embeddings: np.ndarray

    @classmethod
    def of(cls, sets: Sequence[LabelledSet]) -> Pool:
        from claimwatch.training.checkworthiness import normalised

        texts, keys, labels, kinds, groups, rows = [], [], [], [], [], []
        seen: set[tuple[str, str]] = set()
        for s in sets:
            assert s.embeddings is not None
            for i, x in enumerate(s.items):
                key = normalised(x.text)
                if (x.kind, key) in seen:
                    continue
                seen.add((x.kind, key))
                texts.append(x.text)
                keys.append(key)
                labels.append(int(x.checkworthy))
                kinds.append(x.kind)
                groups.append(s.groups[i])
                rows.append(s.embeddings[i])
        return cls(texts, keys, np.array(labels), np.array(kinds), np.array(groups), np.vstack(rows))


def plan(sets: Sequence[LabelledSet], pool: Pool) -> list[Fold]:
    """Every (set, fold) and the pool rows its model trains on (see the module docstring)."""
    from claimwatch.training.checkworthiness import normalised

    out = []
    for si, s in enumerate(sets):
        for test in folds_of(s):
            held_keys = {normalised(s.items[i].text) for i in test}
            held_groups = set(s.groups[test].tolist()) if s.kind == "sentence" else set()
            keep = np.array(
                [
                    k not in held_keys and (kind != "sentence" or g not in held_groups)
                    for k, kind, g in zip(pool.keys, pool.kinds, pool.groups, strict=True)
                ]
            )
            out.append(Fold(si, test, np.flatnonzero(keep)))
    return out


def out_of_fold(
    sets: Sequence[LabelledSet],
    pool: Pool,
    folds: Sequence[Fold],
    fit: Fit,
    *,
    same_kind: bool,
    log: Callable[[str], None] = print,
) -> list[np.ndarray]:
    """Out-of-fold logits of every set under ``fit``; ``same_kind`` trains only on the held-out
    set's kind (tweets for tweets), else on the whole pool."""
    scores = [np.zeros(len(s.items)) for s in sets]
    for n, f in enumerate(folds, start=1):
        s = sets[f.set_index]
        tr = f.train[pool.kinds[f.train] == s.kind] if same_kind else f.train
        model = fit([pool.texts[i] for i in tr], pool.embeddings[tr], pool.labels[tr], pool.kinds[tr])
        assert s.embeddings is not None
        kinds = np.array([s.kind] * len(f.test))
        scores[f.set_index][f.test] = model([s.items[i].text for i in f.test], s.embeddings[f.test], kinds)
        log(f"fold {n}/{len(folds)} ({s.name}) done")
    return scores


def f1_at(labels: np.ndarray, probs: np.ndarray, t: float) -> float:
    return binary_metrics(labels.astype(bool), probs >= t)["f1"]


def choose_threshold_for(labels: Sequence[np.ndarray], probs: Sequence[np.ndarray]) -> float:
    """The threshold with the best mean F1 over the given sets (ties: the lower one)."""
    return float(
        max(THRESHOLDS, key=lambda t: (np.mean([f1_at(y, p, t) for y, p in zip(labels, probs, strict=True)]), -t))
    )


def table(
    sets: Sequence[LabelledSet], logits: Sequence[np.ndarray], fixed: float | None = None
) -> list[dict[str, float | str]]:
    """Per set: F1 at a threshold chosen on the other sets of its kind (or at ``fixed``), and MAP."""
    from claimwatch.evaluation.checkworthiness import score_metrics

    probs = [sigmoid(x) for x in logits]
    rows = []
    for i, s in enumerate(sets):
        if fixed is None:
            others = [j for j, o in enumerate(sets) if o.kind == s.kind and j != i]
            t = choose_threshold_for([sets[j].labels for j in others], [probs[j] for j in others]) if others else 0.5
        else:
            t = fixed
        m = score_metrics(s.labels.astype(bool), probs[i], t)
        rows.append(
            {
                "set": s.name,
                "kind": s.kind,
                "n": len(s.items),
                "positives": int(s.labels.sum()),
                "threshold": t,
                "f1": m["f1"],
                "precision": m["precision"],
                "recall": m["recall"],
                "map": m["map"],
            }
        )
    return rows
