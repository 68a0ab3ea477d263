"""``claimwatch train checkworthiness``: rebuild the check-worthiness model from public data.

The recipe, with fixed seeds, on the CLEF CheckThat! layout under ``datasets``:

- ``sentence`` head: CheckThat! 2024 task 1 *train* (``train.fixed.tsv``, 22,501 debate sentences =
  ClaimBuster crowdsourced); cross-validation folds never split a debate (ClaimBuster's
  ``File_id``, when ``claimbuster-arslan2020/crowdsourced.csv`` is present).
- ``post`` head: CheckThat! 2021 1A and 2022 1A *train* tweets.
- Any training text whose normalised form (lower case, words only, no links) appears in a dev or
  dev-test file of either kind is removed, as are repeats within the training data: the
  CheckThat! splits share sentences ("I'll give you an example.") and tweets (CT2021 train holds
  70 CT2022 dev/dev-test tweets; CT2022 train repeats many CT2021 train tweets).
- Per head: out-of-fold n-gram and dense logits feed the stacked logistic regression; the
  threshold maximises the mean F1 of the out-of-fold predictions and of the head's dev set
  (CT2024 dev; CT2022 1A dev + CT2021 1A dev). Dev-test files are only read to remove overlaps.

Embeddings of the datasets are cached under ``~/.cache/claimwatch/cw-emb`` (see
evaluation.checkworthiness.cached_embeddings). The same data, encoder and seed give the same files.
"""

from __future__ import annotations

import csv
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
    CheckworthinessModel,
    DenseModel,
    Head,
    MetaModel,
    NgramModel,
    ngram_vectoriser,
    text_features,
)
from claimwatch.claims.encoder import Encoder
from claimwatch.evaluation.checkworthiness import (
    LabelledText,
    cached_embeddings,
    load_labelled,
)
from claimwatch.evaluation.metrics import binary_metrics

SEED = 13
VERSION = "1"
FOLDS = 4
#: Regularisation of the n-gram logistic regression (chosen on cross-validation and dev).
NGRAM_C = 4.0
#: Hidden layers and ensemble members of the dense part, per kind (() = logistic regression).
DENSE = {"sentence": ((512,), 3), "post": ((), 1)}
#: L2 penalty of the MLP / inverse regularisation of the embedding logistic regression.
DENSE_ALPHA = 1e-3
DENSE_C = 0.3
#: Candidate thresholds for the yes/no decision.
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)

_CT24 = "clef2024-checkthat-task1-checkworthiness-en"
_CT23 = "clef2023-checkthat-task1b-checkworthiness-en"
_CT22 = "clef2022-checkthat-task1a-checkworthiness-tweets-en"
_CT21 = "clef2021-checkthat-task1a-checkworthiness-tweets-en"
#: Per kind: training files, dev files (thresholds), and files only read to remove overlaps.
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
_CLAIMBUSTER = "claimbuster-arslan2020/crowdsourced.csv"
#: What each head is trained on, for people (``describe()``).
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
    """One head's data after overlap removal; ``groups`` keep related texts in one CV fold."""

    items: list[LabelledText]
    groups: np.ndarray | None
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
    groups = _debates(datasets, items) if kind == "sentence" else None
    return TrainingSet(items, groups, overlap, repeats)


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


def _debates(datasets: Path, items: Sequence[LabelledText]) -> np.ndarray | None:
    """The ClaimBuster debate of each sentence (CV groups), or None without ClaimBuster's file."""
    path = datasets / _CLAIMBUSTER
    if not path.is_file():
        return None
    with open(path, encoding="utf-8", newline="") as fh:
        debate = {row["Sentence_id"]: row["File_id"] for row in csv.DictReader(fh)}
    names = sorted({debate.get(x.id, "") for x in items})
    return np.array([names.index(debate.get(x.id, "")) for x in items])


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


def fit_dense(embeddings: np.ndarray, labels: np.ndarray, hidden: tuple[int, ...], members: int) -> DenseModel:
    """``members`` MLPs with seeds SEED, SEED+1, ... (or one logistic regression when ``hidden`` is empty)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if not hidden:
        lr = LogisticRegression(C=DENSE_C, class_weight="balanced", max_iter=5000).fit(embeddings, labels)
        return DenseModel([[(lr.coef_.T.astype(np.float32), lr.intercept_.astype(np.float32))]])
    layers = []
    for m in range(members):
        with warnings.catch_warnings():  # max_iter is part of the recipe (with early stopping on larger sets)
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp = MLPClassifier(
                hidden_layer_sizes=hidden,
                alpha=DENSE_ALPHA,
                early_stopping=len(labels) >= 200,
                random_state=SEED + m,
                max_iter=200,
            ).fit(embeddings, labels)
        layers.append(
            [(w.astype(np.float32), b.astype(np.float32)) for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)]
        )
    return DenseModel(layers)


def _folds(labels: np.ndarray, groups: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    k = min(FOLDS, int(np.bincount(labels).min()))
    if k < 2:
        raise ValueError(
            f"training needs at least 2 examples of each class for cross-validation "
            f"(got {int(labels.sum())} check-worthy of {len(labels)})"
        )
    if groups is not None and len(np.unique(groups)) >= k:
        return list(GroupKFold(k).split(labels, labels, groups))
    return list(StratifiedKFold(k, shuffle=True, random_state=SEED).split(labels, labels))


def fit_head(
    texts: Sequence[str],
    labels: np.ndarray,
    embeddings: np.ndarray,
    kind: str,
    *,
    groups: np.ndarray | None = None,
    dev: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Head, dict[str, Any]]:
    """Fit one head; returns it with its cross-validation and dev figures (at its threshold)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    check_two_classes(labels, f"{kind} training set")
    hidden, members = DENSE[kind]
    texts = list(texts)
    features = text_features(texts)
    oof = np.zeros((len(texts), 2))
    with threadpool_limits(1):  # reproducible sums, and the machine's other core stays free
        for n, (tr, va) in enumerate(_folds(labels, groups), start=1):
            ngram = fit_ngram([texts[i] for i in tr], labels[tr])
            oof[va, 0] = ngram.logits([texts[i] for i in va])
            oof[va, 1] = fit_dense(embeddings[tr], labels[tr], hidden, members).logits(embeddings[va])
            log(f"{kind}: fold {n} done")
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale == 0] = 1.0
        meta = MetaModel(np.zeros(2 + features.shape[1]), 0.0, mean, scale)
        lr = LogisticRegression(C=1.0, max_iter=5000).fit(meta.inputs(oof[:, 0], oof[:, 1], features), labels)
        meta.coef, meta.bias = lr.coef_[0], float(lr.intercept_[0])
        head = Head(fit_ngram(texts, labels), fit_dense(embeddings, labels, hidden, members), meta, 0.5)
    oof_probs = meta.probabilities(meta.inputs(oof[:, 0], oof[:, 1], features))
    dev_probs = head.probabilities(dev[0], dev[2]) if dev else None
    head.threshold = choose_threshold(labels, oof_probs, dev[1] if dev else None, dev_probs)
    figures = {"cv": _figures(labels, oof_probs, head.threshold)}
    if dev:
        figures["dev"] = _figures(dev[1], dev_probs, head.threshold)
    return head, figures


def choose_threshold(
    labels: np.ndarray, probs: np.ndarray, dev_labels: np.ndarray | None = None, dev_probs: np.ndarray | None = None
) -> float:
    """The threshold with the best mean F1 over the out-of-fold predictions and the dev set: the
    cross-validated folds stand for unseen debates/tweets, dev for cleanly labelled ones."""

    def f1(y: np.ndarray, p: np.ndarray, t: float) -> float:
        return binary_metrics(y.astype(bool), p >= t)["f1"]

    best = max(
        THRESHOLDS,
        key=lambda t: (
            np.mean(
                [f1(labels, probs, t)]
                + ([f1(dev_labels, dev_probs, t)] if dev_labels is not None and dev_probs is not None else [])
            ),
            -t,
        ),
    )
    return float(best)


def _figures(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    from claimwatch.evaluation.checkworthiness import score_metrics

    return {k: round(float(v), 4) for k, v in score_metrics(labels.astype(bool), probs, threshold).items()}


# ------------------------------------------------------------------------------ the recipe


def train(datasets: Path, out: Path, encoder: Encoder, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train both heads; writes the model to ``out`` and returns its metadata."""
    heads: dict[str, Head] = {}
    described: dict[str, Any] = {}
    for kind in ("sentence", "post"):
        data = training_set(datasets, kind, log)
        texts = [x.text for x in data.items]
        log(f"{kind}: embedding {len(texts)} texts (cached after the first run)")
        emb = cached_embeddings(texts, encoder)
        dev_items = dev_set(datasets, kind)
        dev = None
        if dev_items:
            dev_texts = [x.text for x in dev_items]
            dev = (
                dev_texts,
                np.array([x.checkworthy for x in dev_items], dtype=np.int64),
                cached_embeddings(dev_texts, encoder),
            )
        heads[kind], figures = fit_head(texts, data.labels, emb, kind, groups=data.groups, dev=dev, log=log)
        log(
            f"{kind}: threshold {heads[kind].threshold:.2f}; "
            + "; ".join(f"{split} F1 {f['f1']:.3f} MAP {f['map']:.3f}" for split, f in figures.items())
        )
        described[kind] = describe_head(datasets, kind, data, heads[kind].threshold, figures)
    meta = {
        "name": "claimwatch check-worthiness",
        "version": VERSION,
        "encoder": encoder.name,
        "seed": SEED,
        "command": "claimwatch train checkworthiness " + " ".join(sys.argv[3:]),
        "trained_on_summary": TRAINED_ON,
        "heads": described,
    }
    model = CheckworthinessModel(heads, meta)
    model.save(out)
    return model.meta
