"""Settings in one place: defaults < ``claimwatch.toml`` < environment < command-line flags.

The TOML file is ``./claimwatch.toml`` or the file named by ``CLAIMWATCH_CONFIG``; its
keys are the field names of :class:`Settings`, at top level or under a ``[claimwatch]`` table.
Each setting's environment variable is ``CLAIMWATCH_`` + its upper-cased name (one exception,
``CLAIMWATCH_VERDICTS``), derived from the definition below so the two never drift apart.
Besides the settings, claimwatch reads :data:`CONFIG_ENV`, :data:`DEBUG_ENV` and :data:`CACHE_ENV`;
:data:`ENV_VARS` lists every variable that can change what a command does.
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
#: How the sentence encoder runs; see :mod:`claimwatch.claims.encoder`.
ENCODER_BACKENDS = ("torch", "onnx", "onnx-int8")

#: Names the settings file instead of ``./claimwatch.toml``.
CONFIG_ENV = "CLAIMWATCH_CONFIG"
#: ``1``: errors print their traceback before the one-line message (for bug reports).
DEBUG_ENV = "CLAIMWATCH_DEBUG"
#: Where caches live (encoder exports, evaluation indexes and embeddings); see :func:`cache_dir`.
CACHE_ENV = "CLAIMWATCH_CACHE_DIR"


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
    verdict_files: tuple[str, ...] = field(default_factory=tuple, metadata={"env": "CLAIMWATCH_VERDICTS"})
    #: where the search index lives; empty = next to the SQLite file
    index_dir: str = ""
    #: where fetched media files live; empty = next to the SQLite file (``x.db`` → ``x.media/``)
    media_dir: str = ""
    #: topic definitions (YAML) scored by ``match``; empty = no topics
    topics: str = ""
    #: check-worthiness model directory; empty = the shipped one; "none" = do not score
    checkworthiness_model: str = ""
    #: multilingual encoder for posts and fact-checks not in English (e.g. use-multilingual-v3,
    #: the 'multilingual' extra); empty or "none" = English path only
    multilingual_model: str = ""

    def with_overrides(self, **kw: Any) -> Settings:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


#: Each setting's environment variable.
SETTINGS_ENV = {f.name: f.metadata.get("env", f"CLAIMWATCH_{f.name.upper()}") for f in fields(Settings)}
#: Every environment variable that can change what a command does or prints (tests clear them all).
#: :data:`CACHE_ENV` is not among them: it only says where content-keyed, checksummed caches live.
ENV_VARS = (*SETTINGS_ENV.values(), CONFIG_ENV, DEBUG_ENV)
_DEFAULTS = Settings()


def _coerce(name: str, value: Any) -> Any:
    """A TOML or environment value as the type of the setting's default."""
    kind = type(getattr(_DEFAULTS, name))
    if kind is tuple:
        if isinstance(value, str):
            return tuple(p for p in value.split(os.pathsep) if p)
        return tuple(str(v) for v in value)
    if kind in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, not {value!r}")
        return kind(value)
    value = str(value)
    if name == "encoder_backend":
        value = value.strip().lower()
        if value not in ENCODER_BACKENDS:
            raise ValueError(f"unknown encoder backend {value!r}; choose one of {', '.join(ENCODER_BACKENDS)}")
    return value


def load_settings(env: dict[str, str] | None = None, cwd: Path | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    cfg_path = Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else (cwd or Path.cwd()) / "claimwatch.toml"
    if cfg_path.is_file():
        try:
            with open(cfg_path, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{cfg_path}: not valid TOML ({exc})") from None
        data = data.get("claimwatch", data)
        unknown = set(data) - set(SETTINGS_ENV)
        if unknown:
            raise ValueError(
                f"{cfg_path}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SETTINGS_ENV))}"
            )
        for name, value in data.items():
            try:
                values[name] = _coerce(name, value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{cfg_path}: {name} = {value!r}: {exc}") from None
    for name, var in SETTINGS_ENV.items():
        if env.get(var):
            try:
                values[name] = _coerce(name, env[var])
            except ValueError as exc:
                raise ValueError(f"environment variable {var}={env[var]!r}: {exc}") from None
    s = Settings(**values)
    if not all(0.0 <= v <= 1.0 for v in (s.threshold, s.alpha, s.min_confidence)) or s.top_k < 1:
        raise ValueError("threshold, alpha and min_confidence must be in [0, 1] and top_k ≥ 1")
    return s


def cache_dir() -> Path:
    """Root of claimwatch's user cache: ``$CLAIMWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/claimwatch``,
    else ``~/.cache/claimwatch``. Everything in it is keyed by content and checked on load, so it
    can be deleted at any time (it is rebuilt on use)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "claimwatch"
