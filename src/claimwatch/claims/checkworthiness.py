"""Check-worthiness: how likely a post or sentence makes a factual claim worth fact-checking, in [0, 1].

The model reuses what matching already computes: the sentence embedding of the cleaned text
(:func:`embedding_text`, the same text :mod:`claimwatch.claims.match` encodes), so scoring a
post that is being matched costs no second encoder pass. On top of the embedding it looks at
the words themselves. Each *kind* of text has its own head, because the CheckThat! labels mean
different things for debate sentences (a factual claim the public would want checked) and for
tweets (a claim worth a fact-checker's time: harmful, of general interest):

- ``sentence``: one sentence of speech or a transcript (trained on the debate sentences of
  CheckThat! 2023/2024 and ClaimBuster);
- ``post``: a whole social-media post (trained on the CheckThat! 2021/2022 1A tweets).

A head is three small parts:

1. ``ngram``: logistic regression over TF-IDF word 1-2-grams and character 2-5-grams;
2. ``dense``: a small MLP (or a logistic regression) over the 384-d MiniLM embedding;
3. ``meta``: logistic regression over the two logits plus cheap text features (numbers, names,
   first person, hedges, question marks, links, ...). The shipped model (v2) gives each logit
   weight 0.5 and the text features 0: a plain average, because a fitted meta-model learnt its
   training split and did worse on new debates (see :mod:`claimwatch.training.checkworthiness`).

``threshold`` (per kind) turns the score into a yes/no; it was chosen by cross-validation over
every labelled set (:mod:`claimwatch.evaluation.checkworthiness_protocol`). Texts with no word
left after cleaning (only links, emoji, handles) score 0; long texts are scored on their first
:data:`MAX_CHARS` characters (the encoder sees ~256 tokens anyway; split long posts into
sentences to score each).

Files (``meta.json`` + one ``<kind>.npz`` per head, arrays only, loaded without pickle) are
checked against the SHA-256 sums in ``meta.json`` on load.

A model may bring its own encoder (``claimwatch train checkworthiness --finetune``, see
:mod:`claimwatch.training.checkworthiness_finetune`): a fine-tuned sentence-transformers directory
under :data:`OWN_ENCODER_DIR`, whose embeddings its heads read instead of matching's. Such a model
scores better but costs a second encoder pass per post; its heads have no n-gram part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from claimwatch.artefacts import META, read_meta, write_meta
from claimwatch.claims.rerank import ModelError
from claimwatch.claims.text import clean_query

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from claimwatch.claims.encoder import Encoder

METHOD = "checkworthiness-stacked-v1"
KINDS = ("post", "sentence")
#: The model shipped with the package (rebuilt by `claimwatch train checkworthiness`, see its meta.json).
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "checkworthiness"
#: Characters of a text the n-gram features and text features look at.
MAX_CHARS = 2000
#: Where a model with its own (fine-tuned) encoder keeps it.
OWN_ENCODER_DIR = "encoder"
_WORD = re.compile(r"\w", re.UNICODE)


def embedding_text(text: str) -> str:
    """The text whose embedding the model expects: what matching encodes for a post."""
    return clean_query(text)


# ------------------------------------------------------------------------------ text features

_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_PERCENT = re.compile(r"%|\bper ?cent\b", re.IGNORECASE)
_MONEY = re.compile(r"[$€£]|\b(?:dollars?|million|billion|trillion)\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
_NAME = re.compile(r"(?<=\w[\s,;:])[A-Z][a-z]+")
_FIRST_SINGULAR = re.compile(r"\b(?:i|me|my|mine|i'm|i've|i'd|i'll)\b", re.IGNORECASE)
_FIRST_PLURAL = re.compile(r"\b(?:we|us|our|ours|we're|we've|we'll)\b", re.IGNORECASE)
_SECOND = re.compile(r"\b(?:you|your|you're|you've)\b", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:think|believe|feel|hope|maybe|perhaps|probably|should|must|want|going to|will|would|"
    r"could|might)\b",
    re.IGNORECASE,
)
_COMPARISON = re.compile(
    r"\b(?:more|less|fewer|than|most|least|highest|lowest|largest|biggest|worst|best|"
    r"increase\w*|decrease\w*|cut|raised?|doubled?|tripled?)\b",
    re.IGNORECASE,
)
_REPORTED = re.compile(r"\b(?:was|were|did|had|voted|passed|signed|said|created|lost|won)\b", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|\bwww\.\S+")
_HASHTAG = re.compile(r"#\w+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_TOKEN = re.compile(r"\w+")

#: What :func:`text_features` returns, in order (rates are per word).
TEXT_FEATURES = (
    "log_words",
    "has_number",
    "number_rate",
    "has_percent",
    "has_money",
    "has_year",
    "name_rate",
    "i_rate",
    "we_rate",
    "you_rate",
    "hedge_rate",
    "comparison_rate",
    "reported_rate",
    "question",
    "exclamation",
    "links",
    "hashtags",
    "handles",
)


def text_features(texts: Sequence[str]) -> np.ndarray:
    """Cheap signals of a checkable claim (numbers, names, comparisons) or of opinion and chatter
    (first person, hedges, questions, links), one row per text."""
    rows = []
    for raw in texts:
        t = raw[:MAX_CHARS]
        words = max(1, len(_TOKEN.findall(t)))
        rows.append(
            [
                np.log1p(words),
                bool(re.search(r"\d", t)),
                len(_NUMBER.findall(t)) / words,
                bool(_PERCENT.search(t)),
                bool(_MONEY.search(t)),
                bool(_YEAR.search(t)),
                len(_NAME.findall(t)) / words,
                len(_FIRST_SINGULAR.findall(t)) / words,
                len(_FIRST_PLURAL.findall(t)) / words,
                len(_SECOND.findall(t)) / words,
                len(_HEDGE.findall(t)) / words,
                len(_COMPARISON.findall(t)) / words,
                len(_REPORTED.findall(t)) / words,
                t.rstrip().endswith("?"),
                "!" in t,
                len(_URL.findall(t)),
                len(_HASHTAG.findall(t)),
                len(_HANDLE.findall(t)),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(TEXT_FEATURES))


# ------------------------------------------------------------------------------ the parts of a head

#: The two n-gram vectorisers: (name, analyzer, n-gram range).
NGRAM_VECTORISERS = (("word", "word", (1, 2)), ("char", "char_wb", (2, 5)))


def ngram_vectoriser(
    analyzer: str, ngram_range: tuple[int, int], vocabulary: dict[str, int] | None = None, min_df: int = 1
) -> TfidfVectorizer:
    """The TF-IDF settings used both when fitting and when rebuilding a vectoriser from saved arrays."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer=analyzer,
        ngram_range=ngram_range,
        sublinear_tf=True,
        lowercase=True,
        vocabulary=vocabulary,
        min_df=min_df,
        dtype=np.float32,
    )


@dataclass
class NgramModel:
    """Logistic regression over TF-IDF n-grams: fitted vectorisers plus one weight per n-gram."""

    vectorisers: list[TfidfVectorizer]
    coef: np.ndarray
    bias: float

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        from scipy.sparse import hstack

        clipped = [t[:MAX_CHARS] for t in texts]
        x = hstack([v.transform(clipped) for v in self.vectorisers]).tocsr()
        return np.asarray(x @ self.coef, dtype=np.float64) + self.bias

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"ngram_coef": self.coef.astype(np.float32), "ngram_bias": np.array([self.bias])}
        for (name, _, _), v in zip(NGRAM_VECTORISERS, self.vectorisers, strict=True):
            out[f"{name}_vocab"] = np.array(sorted(v.vocabulary_, key=v.vocabulary_.__getitem__))
            out[f"{name}_idf"] = v.idf_.astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> NgramModel:
        vectorisers = []
        for name, analyzer, ngram_range in NGRAM_VECTORISERS:
            v = ngram_vectoriser(analyzer, ngram_range, {str(t): i for i, t in enumerate(a[f"{name}_vocab"])})
            v.idf_ = a[f"{name}_idf"]
            vectorisers.append(v)
        return cls(vectorisers, a["ngram_coef"], float(a["ngram_bias"][0]))


@dataclass
class DenseModel:
    """An ensemble of small ReLU networks over the embedding (one layer = logistic regression);
    ``layers[m]`` is member m's list of (weights, bias). The logit of the mean probability."""

    layers: list[list[tuple[np.ndarray, np.ndarray]]]

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        probs = []
        for member in self.layers:
            h = embeddings.astype(np.float32, copy=False)
            for i, (w, b) in enumerate(member):
                h = h @ w + b
                if i < len(member) - 1:
                    np.maximum(h, 0.0, out=h)
            probs.append(sigmoid(h[:, 0].astype(np.float64)))
        return _logit(np.mean(probs, axis=0))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f"dense_{m}_{i}_{part}": arr.astype(np.float32)
            for m, member in enumerate(self.layers)
            for i, wb in enumerate(member)
            for part, arr in zip("wb", wb, strict=True)
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> DenseModel:
        layers: list[list[tuple[np.ndarray, np.ndarray]]] = []
        m = 0
        while f"dense_{m}_0_w" in a:
            member, i = [], 0
            while f"dense_{m}_{i}_w" in a:
                member.append((a[f"dense_{m}_{i}_w"], a[f"dense_{m}_{i}_b"]))
                i += 1
            layers.append(member)
            m += 1
        if not layers:
            raise KeyError("dense_0_0_w")
        return cls(layers)


@dataclass
class MetaModel:
    """Logistic regression over [n-gram logit, dense logit, standardised text features]."""

    coef: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def inputs(self, ngram: np.ndarray, dense: np.ndarray, features: np.ndarray) -> np.ndarray:
        return np.column_stack([ngram, dense, (features - self.mean) / self.scale])

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        return sigmoid(inputs @ self.coef + self.bias)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "meta_coef": self.coef,
            "meta_bias": np.array([self.bias]),
            "meta_mean": self.mean,
            "meta_scale": self.scale,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> MetaModel:
        return cls(a["meta_coef"], float(a["meta_bias"][0]), a["meta_mean"], a["meta_scale"])


def _configured_encoder() -> Encoder:
    """The encoder the settings name (library use without one; commands pass theirs)."""
    from claimwatch.claims.encoder import Encoder
    from claimwatch.config import load_settings

    return Encoder(load_settings().model or None)  # and the configured backend


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, clipped so no logit overflows."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class Head:
    """Everything that scores one kind of text, and the threshold for a yes/no."""

    #: None in models whose fine-tuned encoder carries the words (the meta weight is then 0)
    ngram: NgramModel | None
    dense: DenseModel
    meta: MetaModel
    threshold: float

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        ngram = self.ngram.logits(texts) if self.ngram is not None else np.zeros(len(texts))
        inputs = self.meta.inputs(ngram, self.dense.logits(embeddings), text_features(texts))
        return self.meta.probabilities(inputs)

    def arrays(self) -> dict[str, np.ndarray]:
        ngram = self.ngram.arrays() if self.ngram is not None else {}
        return {**ngram, **self.dense.arrays(), **self.meta.arrays(), "threshold": np.array([self.threshold])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> Head:
        ngram = NgramModel.from_arrays(a) if "ngram_coef" in a else None
        return cls(ngram, DenseModel.from_arrays(a), MetaModel.from_arrays(a), float(a["threshold"][0]))


# ------------------------------------------------------------------------------ the model


@dataclass
class CheckworthinessModel:
    """Scores posts and sentences; ``meta`` records the encoder, training data, version and figures."""

    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)
    #: where the model was loaded from or saved to (its own encoder lives there)
    directory: Path | None = None
    _own_encoder: Encoder | None = field(default=None, init=False, repr=False)

    @property
    def encoder_name(self) -> str:
        """The encoder whose embeddings the dense part was trained on; others do not fit."""
        own = self.own_encoder()
        return own.name if own is not None else str(self.meta.get("encoder", ""))

    @property
    def has_own_encoder(self) -> bool:
        return bool(self.meta.get("own_encoder"))

    def own_encoder(self) -> Encoder | None:
        """The model's fine-tuned encoder (run with the configured backend), or None when the
        model reads matching's embeddings."""
        rel = self.meta.get("own_encoder")
        if not rel:
            return None
        if self._own_encoder is None:
            from claimwatch.claims.encoder import Encoder

            if self.directory is None:
                raise ModelError("a check-worthiness model with its own encoder must be saved or loaded first")
            self._own_encoder = Encoder(str(self.directory / rel))  # the configured backend
        return self._own_encoder

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages of the training data (ISO 639-1); the CheckThat! sets used here are English."""
        return tuple(self.meta.get("languages") or ("en",))

    def threshold(self, kind: str = "post") -> float:
        return self._head(kind).threshold

    def describe(self) -> str:
        """One line for people: which model, trained on what, with which encoder."""
        m = self.meta
        data = "; ".join(f"{k}: {v}" for k, v in m.get("trained_on_summary", {}).items())
        encoder = (
            f"its own fine-tuned encoder from {m.get('base_encoder', '?')}"
            if self.has_own_encoder
            else f"encoder {self.encoder_name or 'unknown'}"
        )
        return (
            f"{m.get('name', METHOD)} v{m.get('version', '?')} ({', '.join(sorted(self.heads))} heads; "
            f"trained on {data or 'unknown data'}; {encoder})"
        )

    def score(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray | None = None,
        *,
        kind: str = "post",
        encoder: Encoder | None = None,
    ) -> np.ndarray:
        """P(check-worthy) per text.

        ``embeddings`` are the rows matching already computed for these texts (the encoding of
        :func:`embedding_text`, by the encoder named :attr:`encoder_name`); without them the texts
        are encoded here with ``encoder`` (default: the model's own encoder, else the configured one)."""
        head = self._head(kind)
        texts = [t or "" for t in texts]
        out = np.zeros(len(texts), dtype=np.float64)
        cleaned = [embedding_text(t) for t in texts]
        usable = [i for i, c in enumerate(cleaned) if _WORD.search(c)]
        if embeddings is None:
            embeddings = np.zeros((len(texts), 0), dtype=np.float32)
            if usable:
                reader = self.check_encoder(encoder) if encoder is not None else self.reading_encoder()
                encoded = reader.encode([cleaned[i] for i in usable])
                embeddings = np.zeros((len(texts), encoded.shape[1]), dtype=np.float32)
                embeddings[usable] = encoded
        elif embeddings.ndim != 2 or embeddings.shape[0] != len(texts):
            raise ValueError(f"embeddings have shape {embeddings.shape}; expected one row per text ({len(texts)})")
        if usable:
            out[usable] = head.probabilities([texts[i] for i in usable], embeddings[usable])
        return out

    def _head(self, kind: str) -> Head:
        if kind not in self.heads:
            raise ValueError(f"unknown kind {kind!r}: this model scores {', '.join(sorted(self.heads))}")
        return self.heads[kind]

    def reading_encoder(self, matching: Encoder | None = None) -> Encoder:
        """The encoder whose embeddings this model reads beside matching's ``matching`` (default: the
        configured one): its own, else ``matching`` if the model was trained on its embeddings."""
        own = self.own_encoder()
        return own if own is not None else self.check_encoder(matching or _configured_encoder())

    def check_encoder(self, encoder: Encoder) -> Encoder:
        """``encoder``, if its embeddings are the ones this model was trained on; else a ModelError."""
        if self.encoder_name and encoder.name != self.encoder_name:
            raise ModelError(
                f"check-worthiness model was trained on embeddings of {self.encoder_name!r}, "
                f"not {encoder.name!r}; retrain it or configure that encoder"
            )
        return encoder

    # ------------------------------------------------------------------ files

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for kind, head in self.heads.items():
            np.savez_compressed(directory / f"{kind}.npz", **head.arrays())
        files = sorted(f"{kind}.npz" for kind in self.heads)
        if self.meta.get("own_encoder"):
            own = directory / self.meta["own_encoder"]
            files += sorted(p.relative_to(directory).as_posix() for p in own.rglob("*") if p.is_file())
        self.meta = write_meta(
            directory,
            dict(self.meta, method=METHOD, kinds=sorted(self.heads), text_features=list(TEXT_FEATURES)),
            files,
        )
        self.directory = directory

    @classmethod
    def load(cls, directory: Path) -> CheckworthinessModel:
        directory = Path(directory)
        meta = read_meta(
            directory,
            "check-worthiness model",
            ModelError,
            missing_hint="build one with `claimwatch train checkworthiness`",
        )
        if meta.get("method") != METHOD or tuple(meta.get("text_features", ())) != TEXT_FEATURES:
            raise ModelError(
                f"check-worthiness model at {directory} was built by another version "
                f"({meta.get('method')!r}); retrain it with `claimwatch train checkworthiness`"
            )
        kinds = meta.get("kinds") or []
        missing = [k for k in kinds if f"{k}.npz" not in meta["checksums"]]
        if not kinds or missing:
            raise ModelError(f"{directory / META} lists no checksum for head(s) {missing or kinds}")
        heads = {}
        for kind in kinds:
            path = directory / f"{kind}.npz"
            try:
                with np.load(path, allow_pickle=False) as npz:
                    heads[kind] = Head.from_arrays(dict(npz))
            except (KeyError, ValueError, OSError) as exc:
                raise ModelError(f"check-worthiness model file {path} is incomplete: {exc}") from None
        if meta.get("own_encoder") and not (directory / meta["own_encoder"] / "config.json").is_file():
            raise ModelError(f"check-worthiness model at {directory} lacks its encoder ({meta['own_encoder']}/)")
        return cls(heads, meta, directory)


def load_model(setting: str = "") -> CheckworthinessModel:
    """The model named by a setting: "" = the shipped one, anything else = a model directory."""
    return CheckworthinessModel.load(Path(setting).expanduser() if setting else SHIPPED)


def is_model_dir(path: str | Path) -> bool:
    """Does ``path`` hold a check-worthiness model (not, say, a sentence encoder)? Only what its
    ``meta.json`` says is read; nothing is verified."""
    meta = Path(path).expanduser() / META
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("method") == METHOD
    except (OSError, ValueError, AttributeError):
        return False
