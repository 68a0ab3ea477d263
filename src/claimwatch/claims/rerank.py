"""The trained re-ranker and its confidence calibration, stored as small plain files.

A model directory holds ``ranker.txt`` (a LightGBM LambdaMART model, text format),
``confidence.txt`` + ``calibration.json`` (monotone boosted model + isotonic map from
top-1 evidence to P(correct)), ``pair.txt`` (a second LambdaMART on pair features only, whose
score is part of that evidence) and
``meta.json`` (feature names, the encoder the features were computed with, the data and
command that trained it, checksums). Loading checks all of it: a model trained on other
features or with another encoder is refused with a clear message, not used silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.artefacts import read_meta, write_meta
from claimwatch.claims.features import FEATURE_NAMES

METHOD = "hybrid-rerank-lgbm-v1"
#: The model shipped with the package (rebuilt by `claimwatch train retrieval`, see its meta.json).
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "retrieval"


class ModelError(RuntimeError):
    pass


#: Top-1 evidence the confidence model looks at: how close the top claim is to the post (dense and
#: lexical), how far ahead of the other candidates by cosine, whether names and numbers agree,
#: whether the post denies or debunks the claim (a denial is not a repeat), and how long after the
#: post the claim was first fact-checked (a post long before the claim's first fact-check rarely
#: repeats it: issue 13 met a proposal for a claim that arose 8 months after the post).
#: Only what depends on the (post, claim) pair and on claims that compete with it: not the re-ranker
#: score, nor BM25 (both move when unrelated fact-checks join the collection: issue 13 measured
#: confidence moving by up to 0.35 with them after 10,000 unrelated claims were added). The re-ranker
#: still picks the top claim; the confidence says how sure that pick is. ``pair_score`` and
#: ``pair_lead`` are the score of a second ranker trained on PAIR_FEATURES only (stable for the same
#: reason) for the top claim, and its lead over the best other candidate: out-of-fold on the
#: calibration examples they raised the share of 2A dev posts proposed right at 0.5 from 0.68 to 0.73
#: with no more false proposals (issue 13).
CONFIDENCE_INPUTS = (
    "cos",
    "cos_lead",
    "claim_lag",
    "pair_score",
    "pair_lead",
    "cos_gap",
    "jaccard",
    "query_coverage",
    "names_shared",
    "names_doc_only",
    "num_shared",
    "num_doc_only",
    "stance_denies",
    "stance_debunks",
)
#: Inputs derived from several features; the rest are the top claim's feature values.
_DERIVED = 5
#: The pair ranker's features: what depends on the (post, claim) pair alone — no ranks, nothing
#: relative to the other candidates or to BM25 (whose statistics follow the whole collection) — and
#: no dates: CheckThat! pairs a tweet with the fact-check that cited it, days apart, so a ranker
#: learns "far apart in time = wrong" and a post repeating an old claim years later loses its
#: confidence (the demo's right proposals fell from 60 to 30 with them). Time enters the confidence
#: only as ``claim_lag``, one-sided and monotone.
PAIR_FEATURES = tuple(
    f
    for f in FEATURE_NAMES
    if f not in ("cos_gap", "cos_rank", "fused_v1", "days_apart", "claim_after_query") and not f.startswith("bm25_")
)
_PAIR_COLS = [FEATURE_NAMES.index(f) for f in PAIR_FEATURES]


def _top_and_lead(values: np.ndarray, top: int) -> tuple[float, float]:
    others = np.delete(values, top)
    return float(values[top]), float(values[top] - others.max()) if len(others) else 0.0


def confidence_inputs(scores: np.ndarray, features: np.ndarray, pair_scores: np.ndarray) -> np.ndarray:
    """The CONFIDENCE_INPUTS vector for one query's candidates (their re-ranker scores, feature rows
    and pair-ranker scores). ``claim_lag`` is log(1 + days) by which the claim's first fact-check
    follows the post, 0 when the claim came first or a date is unknown (no evidence either way)."""
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    top = int(np.argmax(scores))
    lag = float(features[top, col["days_apart"]]) if features[top, col["claim_after_query"]] == 1 else 0.0
    values = [
        *_top_and_lead(features[:, col["cos"]], top),
        lag,
        *_top_and_lead(pair_scores, top),
        *(float(features[top, col[n]]) for n in CONFIDENCE_INPUTS[_DERIVED:]),
    ]
    return np.nan_to_num(np.array(values, dtype=np.float64), nan=0.0)


#: +1: more of it can only raise confidence; -1: can only lower it. Monotone constraints keep the
#: model sane on inputs unlike its training data (a tiny collection, off-topic chatter).
CONFIDENCE_MONOTONE = (1, 1, -1, 1, 1, 1, 1, 1, 1, -1, 1, -1, -1, -1)


@dataclass
class Calibration:
    """P(top-1 correct): a small monotone gradient-boosted model over CONFIDENCE_INPUTS, then an
    isotonic map fitted on its out-of-fold predictions so probabilities mean what they say."""

    booster: Any
    iso_x: list[float]
    iso_y: list[float]

    def batch(self, inputs: np.ndarray) -> np.ndarray:
        """Probabilities for a matrix of CONFIDENCE_INPUTS rows."""
        raw = self.booster.predict(inputs, num_threads=1)
        return np.interp(raw, self.iso_x, self.iso_y)


class RetrievalModel:
    def __init__(
        self, booster: Any, calibration: Calibration | None, meta: dict[str, Any], pair: Any | None = None
    ) -> None:
        self.booster = booster
        self.calibration = calibration
        self.meta = meta
        #: the pair-feature ranker whose score the confidence looks at (with the calibration)
        self.pair = pair

    @property
    def method(self) -> str:
        return METHOD

    @property
    def encoder_name(self) -> str:
        return str(self.meta.get("encoder", ""))

    def score(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)

    def confidence_inputs(self, scores: list[np.ndarray], features: list[np.ndarray]) -> np.ndarray:
        """CONFIDENCE_INPUTS rows for queries with candidates (the pair ranker scores them in one call)."""
        assert self.pair is not None
        flat = self.pair.predict(np.vstack(features)[:, _PAIR_COLS], num_threads=1)
        pair = np.split(flat, np.cumsum([len(f) for f in features])[:-1])
        return np.vstack([confidence_inputs(s, f, p) for s, f, p in zip(scores, features, pair, strict=True)])

    def confidences(self, scores: list[np.ndarray], features: list[np.ndarray]) -> list[float | None]:
        """Calibrated P(the top-scored candidate is right) per query; None without a calibration
        or without candidates."""
        if self.calibration is None:
            return [None] * len(scores)
        present = [i for i, sc in enumerate(scores) if len(sc)]
        out: list[float | None] = [None] * len(scores)
        if present:
            inputs = self.confidence_inputs([scores[i] for i in present], [features[i] for i in present])
            for i, p in zip(present, self.calibration.batch(inputs), strict=True):
                out[i] = float(p)
        return out

    # ------------------------------------------------------------------ files

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / "ranker.txt"))
        files = ["ranker.txt"]
        if self.calibration and self.pair is not None:
            self.calibration.booster.save_model(str(directory / "confidence.txt"))
            self.pair.save_model(str(directory / "pair.txt"))
            (directory / "calibration.json").write_text(
                json.dumps({"iso_x": self.calibration.iso_x, "iso_y": self.calibration.iso_y})
            )
            files += ["confidence.txt", "pair.txt", "calibration.json"]
        write_meta(directory, dict(self.meta, features=list(FEATURE_NAMES), method=METHOD), files)

    @classmethod
    def load(cls, directory: Path) -> RetrievalModel:
        import lightgbm

        meta = read_meta(
            directory, "retrieval model", ModelError, missing_hint="build one with `claimwatch train retrieval`"
        )
        if tuple(meta.get("features", ())) != FEATURE_NAMES:
            raise ModelError(
                f"retrieval model at {directory} was trained on other features; retrain it with "
                "`claimwatch train retrieval`"
            )
        booster = lightgbm.Booster(model_file=str(directory / "ranker.txt"))
        calibration = pair = None
        if (directory / "calibration.json").is_file():
            iso = json.loads((directory / "calibration.json").read_text())
            calibration = Calibration(
                lightgbm.Booster(model_file=str(directory / "confidence.txt")), iso["iso_x"], iso["iso_y"]
            )
            pair = lightgbm.Booster(model_file=str(directory / "pair.txt"))
        return cls(booster, calibration, meta, pair)


#: LambdaMART settings of the shipped re-ranker; model selection (training.selection) varies them.
RANKER_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "map",
    "eval_at": [5],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambdarank_truncation_level": 20,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
RANKER_ROUNDS = 300


def train_ranker(
    features: list[np.ndarray],
    labels: list[np.ndarray],
    seed: int = 13,
    *,
    feature_names: tuple[str, ...] = FEATURE_NAMES,
    params: dict[str, Any] | None = None,
    rounds: int = RANKER_ROUNDS,
) -> Any:
    """LambdaMART over groups (one per query); deterministic for a fixed seed. ``feature_names``
    names the columns of ``features`` (a subset of FEATURE_NAMES when selecting features) and
    ``params`` overrides RANKER_PARAMS."""
    import lightgbm

    X = np.vstack(features)
    y = np.concatenate(labels)
    data = lightgbm.Dataset(X, y, group=[len(g) for g in labels], feature_name=list(feature_names))
    return lightgbm.train({**RANKER_PARAMS, "seed": seed, **(params or {})}, data, num_boost_round=rounds)


_CONFIDENCE_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 30,
    "monotone_constraints": list(CONFIDENCE_MONOTONE),
    "monotone_constraints_method": "advanced",
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
_CONFIDENCE_ROUNDS = 150


def fit_calibration(inputs: np.ndarray, correct: np.ndarray, seed: int = 13) -> tuple[Calibration, np.ndarray]:
    """Monotone boosted model on the inputs; isotonic on its 5-fold out-of-fold predictions.
    Also returns those out-of-fold probabilities (isotonic applied): a cross-validated view of
    how the calibration does on examples it was not fitted on."""
    import lightgbm
    from sklearn.isotonic import IsotonicRegression
    from sklearn.model_selection import StratifiedKFold

    y = correct.astype(float)
    params = dict(_CONFIDENCE_PARAMS, seed=seed)
    oof = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(inputs, y):
        fold = lightgbm.train(params, lightgbm.Dataset(inputs[train_idx], y[train_idx]), _CONFIDENCE_ROUNDS)
        oof[test_idx] = fold.predict(inputs[test_idx], num_threads=1)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(oof, y)
    booster = lightgbm.train(params, lightgbm.Dataset(inputs, y), _CONFIDENCE_ROUNDS)
    return (
        Calibration(booster, [float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_]),
        iso.predict(oof),
    )


def load_model(setting: str, encoder_name: str) -> RetrievalModel | None:
    """Resolve the ``retrieval_model`` setting: "" = the shipped model if it was trained with this
    encoder (else none), "none" = no model (v1 fusion), anything else = a directory that must load."""
    if setting.strip().lower() == "none":
        return None
    if not setting:
        if not (SHIPPED / "meta.json").is_file():
            return None
        model = RetrievalModel.load(SHIPPED)
        return model if model.encoder_name == encoder_name else None
    model = RetrievalModel.load(Path(setting).expanduser())
    if model.encoder_name != encoder_name:
        raise ModelError(
            f"retrieval model {setting} was trained with encoder {model.encoder_name!r}, "
            f"not {encoder_name!r}; retrain it or configure that encoder"
        )
    return model
