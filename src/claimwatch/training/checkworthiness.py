"""``claimwatch train checkworthiness``: rebuild the check-worthiness model from public data.

The recipe (fixed seed; chosen by the all-sets protocol of
:mod:`claimwatch.evaluation.checkworthiness_protocol`, not by one dev split):

- Data: every labelled set of :data:`claimwatch.evaluation.checkworthiness_sets.SETS` present under
  ``datasets`` (CheckThat! 2021/2022 1A tweets, 2023 1B / 2024 dev-test, 2024 dev and train,
  ClaimBuster's strict subset), each text once. The ``post`` head learns from every tweet, the
  ``sentence`` head from every debate sentence.
- Head: the mean of two logits: a class-balanced logistic regression over TF-IDF word 1-2 +
  character 2-5-grams (C = 4), and one over the frozen MiniLM embedding matching already computes
  (sentences: an MLP with 512 hidden units, seed 13; tweets: a class-balanced logistic regression,
  C = 1). Across the six sets this beat either part alone, other C values, an MLP for tweets,
  pooling tweets with sentences, and a meta-model over the logits and text features (v1's
  stacking, which learnt its training split rather than new debates: on the held-out CheckThat!
  2024 test v1 scored 0.610 against 0.655 for the plain embedding baseline).
- Threshold per kind: the one with the best mean F1 over the out-of-fold scores of all sets of
  that kind (the per-set figures in meta.json are at thresholds chosen on the *other* sets).

:func:`training_set` / :func:`dev_set` are the train/dev split recipe of the opt-in fine-tuned
model (:mod:`claimwatch.training.checkworthiness_finetune`): CheckThat! 2024 train for sentences,
2021/2022 1A train for tweets, texts of any dev or dev-test file removed.

Embeddings of the datasets are cached under ``~/.cache/claimwatch/cw-emb`` (see
evaluation.checkworthiness.cached_embeddings). The same data, encoder and seed give the same files.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.artefacts import file_sha256
from claimwatch.claims.checkworthiness import (
    MAX_CHARS,
    NGRAM_VECTORISERS,
    TEXT_FEATURES,
    CheckworthinessModel,
    DenseModel,
    Head,
    MetaModel,
    NgramModel,
    ngram_vectoriser,
    sigmoid,
)
from claimwatch.claims.encoder import Encoder
from claimwatch.evaluation.checkworthiness import (
    LabelledText,
    cached_embeddings,
    load_labelled,
)
from claimwatch.evaluation.checkworthiness_protocol import (
    Pool,
    choose_threshold_for,
    out_of_fold,
    plan,
    table,
)
from claimwatch.evaluation.checkworthiness_sets import DESCRIPTIONS, SETS, LabelledSet, load_sets, present_sets

SEED = 13
VERSION = "2"
#: Inverse regularisation of the n-gram and of the tweets' embedding logistic regression (all-sets CV).
NGRAM_C = 4.0
DENSE_C = 1.0
#: Hidden layers of the embedding part per kind (() = logistic regression) and the MLP's L2 penalty.
DENSE_HIDDEN: dict[str, tuple[int, ...]] = {"sentence": (512,), "post": ()}
DENSE_ALPHA = 1e-3
#: The baseline decides at sklearn's default (predict = probability ≥ 0.5).
BASELINE_THRESHOLD = 0.5

_CT24 = "clef2024-checkthat-task1-checkworthiness-en"
_CT23 = "clef2023-checkthat-task1b-checkworthiness-en"
_CT22 = "clef2022-checkthat-task1a-checkworthiness-tweets-en"
_CT21 = "clef2021-checkthat-task1a-checkworthiness-tweets-en"
#: The fine-tuned recipe's files per kind: training, dev (thresholds), and files only read to remove overlaps.
FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "sentence": {
        "train": (f"{_CT24}/CT24_checkworthy_english_train.fixed.tsv",),
        "dev": (f"{_CT24}/CT24_checkworthy_english_dev.tsv",),
        "held_out": (
            f"{_CT24}/CT24_checkworthy_english_dev-test.tsv",
            f"{_CT23}/CT23_1B_checkworthy_english_test_gold.tsv",
        ),
    },
    "post": {
        "train": (f"{_CT22}/CT22_english_1A_checkworthy_train.tsv", f"{_CT21}/dataset_train_v1_english.tsv"),
        "dev": (f"{_CT22}/CT22_english_1A_checkworthy_dev.tsv", f"{_CT21}/dataset_dev_v1_english.tsv"),
        "held_out": (f"{_CT22}/CT22_english_1A_checkworthy_dev_test.tsv",),
    },
}
#: What each head of the fine-tuned recipe trains on, for people (``describe()``).
TRAINED_ON = {
    "sentence": "CheckThat! 2024 task 1 train (ClaimBuster debates)",
    "post": "CheckThat! 2021+2022 task 1A train tweets",
}


def normalised(text: str) -> str:
    """The form overlaps are detected on: case, punctuation, spacing and links do not count."""
    t = re.sub(r"https?://\S+", " ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(re.findall(r"\w+", t))


@dataclass
class TrainingSet:
    """One head's training data for the fine-tuned recipe, after overlap removal."""

    items: list[LabelledText]
    removed_overlap: int
    removed_repeats: int

    @property
    def labels(self) -> np.ndarray:
        return np.array([x.checkworthy for x in self.items], dtype=np.int64)


def check_two_classes(labels: np.ndarray, what: str) -> None:
    """A classifier needs examples of both classes; say so plainly instead of failing deep in sklearn."""
    present = set(np.unique(labels).tolist())
    if present != {0, 1}:
        only = "check-worthy" if present == {1} else "not check-worthy"
        raise ValueError(
            f"{what}: every example is labelled {only}; training needs both classes (got {len(labels)} example(s))"
        )


def training_set(datasets: Path, kind: str, log: Callable[[str], None] = print) -> TrainingSet:
    """The training texts of one head, without texts of any dev / dev-test file or repeats."""
    files = FILES[kind]
    protected = {
        normalised(x.text)
        for rel in files["dev"] + files["held_out"] + _other_held_out(kind)
        if (datasets / rel).is_file()
        for x in load_labelled(datasets / rel)
    }
    items: list[LabelledText] = []
    seen: set[str] = set()
    overlap = repeats = 0
    for rel in files["train"]:
        for x in load_labelled(_required(datasets, rel)):
            key = normalised(x.text)
            if key in protected:
                overlap += 1
            elif key in seen:
                repeats += 1
            else:
                seen.add(key)
                items.append(x)
    log(
        f"{kind}: {len(items)} training texts ({sum(x.checkworthy for x in items)} check-worthy); removed "
        f"{overlap} that appear in dev/dev-test files and {repeats} repeats"
    )
    return TrainingSet(items, overlap, repeats)


def dev_set(datasets: Path, kind: str) -> list[LabelledText]:
    """The head's dev texts (those of its dev files that are present)."""
    return [x for rel in FILES[kind]["dev"] if (datasets / rel).is_file() for x in load_labelled(datasets / rel)]


def describe_head(
    datasets: Path, kind: str, data: TrainingSet, threshold: float, figures: dict[str, Any]
) -> dict[str, Any]:
    """What a model's meta.json records of one head: its data (files, counts, removals) and figures."""
    return {
        "train_files": {rel: file_sha256(datasets / rel)[:16] for rel in FILES[kind]["train"]},
        "dev_files": [rel for rel in FILES[kind]["dev"] if (datasets / rel).is_file()],
        "n_train": len(data.items),
        "positives": int(data.labels.sum()),
        "removed_dev_overlap": data.removed_overlap,
        "removed_repeats": data.removed_repeats,
        "threshold": threshold,
        "figures": figures,
    }


def _other_held_out(kind: str) -> tuple[str, ...]:
    """The other kind's dev/dev-test files: a text there must not be trained on by either head."""
    other = FILES["post" if kind == "sentence" else "sentence"]
    return other["dev"] + other["held_out"]


def _required(datasets: Path, rel: str) -> Path:
    path = datasets / rel
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: `train checkworthiness` needs the CLEF CheckThat! "
            "check-worthiness data (https://gitlab.com/checkthat_lab) in the layout of "
            "../shared/datasets"
        )
    return path


# ------------------------------------------------------------------------------ fitting


def fit_ngram(texts: Sequence[str], labels: np.ndarray) -> NgramModel:
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    # n-grams seen once are noise in a large set, but all a tiny (user-supplied, test) set has.
    vectorisers = [
        ngram_vectoriser(analyzer, rng, min_df=2 if len(texts) >= 1000 else 1) for _, analyzer, rng in NGRAM_VECTORISERS
    ]
    clipped = [t[:MAX_CHARS] for t in texts]
    x = hstack([v.fit_transform(clipped) for v in vectorisers]).tocsr()
    lr = LogisticRegression(C=NGRAM_C, class_weight="balanced", max_iter=5000).fit(x, labels)
    return NgramModel(vectorisers, lr.coef_[0].astype(np.float32), float(lr.intercept_[0]))


def fit_embedding(embeddings: np.ndarray, labels: np.ndarray, kind: str) -> DenseModel:
    """The embedding part of a head: an MLP for debate sentences (22k+ of them), a class-balanced
    logistic regression for tweets (3k: an MLP overfits them); see :data:`DENSE_HIDDEN`."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    hidden = DENSE_HIDDEN[kind]
    if not hidden:
        lr = LogisticRegression(C=DENSE_C, class_weight="balanced", max_iter=5000).fit(embeddings, labels)
        return DenseModel([[(lr.coef_.T.astype(np.float32), lr.intercept_.astype(np.float32))]])
    with warnings.catch_warnings():  # max_iter is part of the recipe (with early stopping on larger sets)
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(
            hidden_layer_sizes=hidden,
            alpha=DENSE_ALPHA,
            early_stopping=len(labels) >= 200,
            random_state=SEED,
            max_iter=200,
        ).fit(embeddings, labels)
    return DenseModel(
        [[(w.astype(np.float32), b.astype(np.float32)) for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)]]
    )


def averaging_meta(n_features: int) -> MetaModel:
    """The head's output: the mean of the n-gram and embedding logits (text features unused, weight 0)."""
    return MetaModel(np.r_[0.5, 0.5, np.zeros(n_features)], 0.0, np.zeros(n_features), np.ones(n_features))


def fit_head(texts: Sequence[str], embeddings: np.ndarray, labels: np.ndarray, kind: str) -> Head:
    """One head of the recipe (threshold 0.5 until cross-validation chooses one)."""
    check_two_classes(labels, f"{kind} training set")
    dense = fit_embedding(embeddings, labels, kind)
    return Head(fit_ngram(texts, labels), dense, averaging_meta(len(TEXT_FEATURES)), 0.5)


def fold_logits(texts: list[str], emb: np.ndarray, labels: np.ndarray, kinds: np.ndarray) -> Callable[..., np.ndarray]:
    """The recipe as the all-sets protocol fits it per fold: logits of held-out texts."""
    head = fit_head(texts, emb, labels, str(kinds[0]))  # the protocol trains on one kind
    return lambda t, e, _k: _logit(head.probabilities(t, e))


def baseline_logits(
    texts: list[str], emb: np.ndarray, labels: np.ndarray, kinds: np.ndarray
) -> Callable[..., np.ndarray]:
    """The reference the recipe must beat on every set: frozen embedding + sklearn's default
    LogisticRegression (C = 1, no class weights)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(max_iter=5000).fit(emb, labels)
    return lambda _t, e, _k: lr.decision_function(e)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


# ------------------------------------------------------------------------------ the recipe


def all_sets(datasets: Path, encoder: Encoder, names: Sequence[str] | None = None) -> list[LabelledSet]:
    """The labelled sets present under ``datasets`` (or ``names``), embedded (cached on disk)."""
    if names is None:
        names = present_sets(datasets)
        if "CT24 train" not in names:
            _required(datasets, SETS["CT24 train"][0])
    return load_sets(datasets, names, embed=lambda texts: cached_embeddings(texts, encoder))


def cross_validate(
    sets: Sequence[LabelledSet], *, baseline: bool = False, log: Callable[[str], None] = print
) -> tuple[list[dict[str, Any]], dict[str, float], list[np.ndarray]]:
    """The all-sets protocol (evaluation.checkworthiness_protocol) for the recipe or the baseline:
    per-set figures, per kind the threshold chosen on all its sets' out-of-fold scores, and the
    out-of-fold logits."""
    pool = Pool.of(sets)
    for kind in sorted(set(pool.kinds.tolist())):
        check_two_classes(pool.labels[pool.kinds == kind], f"{kind} training set")
    with threadpool_limits_one():
        fit = baseline_logits if baseline else fold_logits
        logits = out_of_fold(sets, pool, plan(sets, pool), fit, same_kind=True, log=log)
    rows = table(sets, logits, BASELINE_THRESHOLD if baseline else None)
    thresholds = {}
    for kind in sorted({s.kind for s in sets}):
        idx = [i for i, s in enumerate(sets) if s.kind == kind]
        thresholds[kind] = (
            BASELINE_THRESHOLD
            if baseline
            else choose_threshold_for([sets[i].labels for i in idx], [sigmoid(logits[i]) for i in idx])
        )
    return rows, thresholds, logits


def train(datasets: Path, out: Path, encoder: Encoder, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Cross-validate the recipe over every labelled set (thresholds), fit one head per kind on all
    of that kind's texts, write the model to ``out`` and return its metadata."""
    sets = all_sets(datasets, encoder)
    for s in sets:
        log(f"{s.name}: {len(s.items)} {s.kind}s ({int(s.labels.sum())} check-worthy), {len(set(s.groups))} groups")
    rows, thresholds, _ = cross_validate(sets, log=log)
    for r in rows:
        log(f"{r['set']}: held-out F1 {r['f1']:.3f} at {r['threshold']:.2f} (MAP {r['map']:.3f})")
    pool = Pool.of(sets)
    heads: dict[str, Head] = {}
    described: dict[str, Any] = {}
    with threadpool_limits_one():
        for kind, t in thresholds.items():
            rows_k = np.flatnonzero(pool.kinds == kind)
            texts_k = [pool.texts[i] for i in rows_k]
            heads[kind] = fit_head(texts_k, pool.embeddings[rows_k], pool.labels[rows_k], kind)
            heads[kind].threshold = t
            described[kind] = {
                "sets": [s.name for s in sets if s.kind == kind],
                "n_train": len(rows_k),
                "positives": int(pool.labels[rows_k].sum()),
                "threshold": t,
                "figures": {r["set"]: _rounded(r) for r in rows if r["kind"] == kind},
            }
            log(f"{kind}: {len(rows_k)} training texts, threshold {t:.2f}")
    meta = {
        "name": "claimwatch check-worthiness",
        "version": VERSION,
        "encoder": encoder.name,
        "seed": SEED,
        "command": "claimwatch train checkworthiness " + " ".join(sys.argv[3:]),
        "trained_on_summary": {k: " + ".join(DESCRIPTIONS[n] for n in d["sets"]) for k, d in described.items()},
        "sets": {n: list(SETS[n]) for n in (s.name for s in sets)},
        "heads": described,
    }
    model = CheckworthinessModel(heads, meta)
    model.save(out)
    return model.meta


def threadpool_limits_one() -> Any:
    """One BLAS thread: reproducible sums, and the machine's other core stays free."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items() if k not in ("set", "kind")}


def all_sets_report(datasets: Path, encoder: Encoder, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """``eval checkworthiness --all-sets``: the recipe and the baseline under the all-sets protocol,
    per set and on average (no model is written; the shipped model is the recipe fitted on all).
    The baseline is reported at sklearn's 0.5 and at thresholds chosen on the other sets; "above the
    baseline" means above both."""
    sets = all_sets(datasets, encoder, names=tuple(SETS))
    rows, thresholds, _ = cross_validate(sets, log=log)
    base, _, base_logits = cross_validate(sets, baseline=True, log=log)
    # The baseline also at thresholds chosen like the recipe's (on the other sets of the kind).
    tuned = table(sets, base_logits)
    for r, b, bt in zip(rows, base, tuned, strict=True):
        r["baseline_f1"], r["baseline_map"] = b["f1"], b["map"]
        r["baseline_cv_threshold"], r["baseline_cv_f1"] = bt["threshold"], bt["f1"]
    return {
        "sets": [_rounded(r) | {"set": r["set"], "kind": r["kind"]} for r in rows],
        "mean_f1": round(float(np.mean([r["f1"] for r in rows])), 4),
        "baseline_mean_f1": round(float(np.mean([r["f1"] for r in base])), 4),
        "baseline_cv_mean_f1": round(float(np.mean([r["f1"] for r in tuned])), 4),
        "all_above_baseline": all(r["f1"] >= max(r["baseline_f1"], r["baseline_cv_f1"]) for r in rows),
        "thresholds": thresholds,
        "encoder": encoder.name,
    }
