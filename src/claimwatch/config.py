"""Settings in one place: defaults < ``claimwatch.toml`` < environment < command-line flags.

The TOML file is ``./claimwatch.toml`` or the file named by ``CLAIMWATCH_CONFIG``; its
keys are the field names below, at top level or under a ``[claimwatch]`` table.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

#: The proposal threshold on the fused score. Chosen on CheckThat! 2022 2A *dev* (not
#: dev-test): see README "Matching". Analysts can raise it for precision.
DEFAULT_THRESHOLD = 0.62
DEFAULT_TOP_K = 5
#: Weight of dense cosine vs. relative BM25 in the fused score (tuned on 2A dev).
DEFAULT_ALPHA = 0.8
#: With a trained model: propose the top candidate when P(correct) is at least this.
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Settings:
    db: str = "claimwatch.db"
    #: sentence-transformers model: a local path or a name; empty = the bundled all-MiniLM-L6-v2
    model: str = ""
    #: torch (float32) | onnx (float32) | onnx-int8 (default: 2x faster, same MAP@5; see README)
    encoder_backend: str = "onnx-int8"
    threshold: float = DEFAULT_THRESHOLD
    top_k: int = DEFAULT_TOP_K
    alpha: float = DEFAULT_ALPHA
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    #: trained re-ranker directory; empty = the shipped one (when it fits the encoder); "none" = v1 fusion
    retrieval_model: str = ""
    #: extra verdict tables (TSV rating<TAB>verdict[<TAB>lang<TAB>note]) overriding the shipped one
    verdict_files: tuple[str, ...] = field(default_factory=tuple)
    #: where the search index lives; empty = next to the SQLite file
    index_dir: str = ""
    #: topic definitions (YAML) scored by ``match``; empty = no topics
    topics: str = ""
    #: check-worthiness model directory; empty = the shipped one; "none" = do not score
    checkworthiness_model: str = ""

    def with_overrides(self, **kw: Any) -> Settings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_ENV = {
    "db": "CLAIMWATCH_DB",
    "model": "CLAIMWATCH_MODEL",
    "encoder_backend": "CLAIMWATCH_ENCODER_BACKEND",
    "threshold": "CLAIMWATCH_THRESHOLD",
    "top_k": "CLAIMWATCH_TOP_K",
    "alpha": "CLAIMWATCH_ALPHA",
    "min_confidence": "CLAIMWATCH_MIN_CONFIDENCE",
    "retrieval_model": "CLAIMWATCH_RETRIEVAL_MODEL",
    "verdict_files": "CLAIMWATCH_VERDICTS",
    "index_dir": "CLAIMWATCH_INDEX_DIR",
    "topics": "CLAIMWATCH_TOPICS",
    "checkworthiness_model": "CLAIMWATCH_CHECKWORTHINESS_MODEL",
}


def _coerce(name: str, value: Any) -> Any:
    if name in ("threshold", "alpha", "min_confidence"):
        return float(value)
    if name == "top_k":
        return int(value)
    if name == "verdict_files":
        if isinstance(value, str):
            return tuple(p for p in value.split(os.pathsep) if p)
        return tuple(str(v) for v in value)
    return str(value)


def load_settings(env: dict[str, str] | None = None, cwd: Path | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    cfg_path = Path(env["CLAIMWATCH_CONFIG"]) if env.get("CLAIMWATCH_CONFIG") else (cwd or Path.cwd()) / "claimwatch.toml"
    known = {f.name for f in fields(Settings)}
    if cfg_path.is_file():
        with open(cfg_path, "rb") as fh:
            data = tomllib.load(fh)
        data = data.get("claimwatch", data)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{cfg_path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for name, var in _ENV.items():
        if env.get(var):
            try:
                values[name] = _coerce(name, env[var])
            except ValueError as exc:
                raise ValueError(f"environment variable {var}={env[var]!r}: {exc}") from None
    s = Settings(**values)
    if not all(0.0 <= v <= 1.0 for v in (s.threshold, s.alpha, s.min_confidence)) or s.top_k < 1:
        raise ValueError("threshold, alpha and min_confidence must be in [0, 1] and top_k ≥ 1")
    return s
