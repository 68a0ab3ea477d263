"""Settings: one definition gives the TOML keys, the environment variables and their types."""

from __future__ import annotations

import os
import re
from dataclasses import fields
from pathlib import Path

import pytest

import claimwatch
from claimwatch import config
from claimwatch.config import CACHE_ENV, ENV_VARS, SETTINGS_ENV, Settings, cache_dir, load_settings

SRC = Path(claimwatch.__file__).parent

#: A valid value other than the default for every setting, as an environment variable would say it.
OTHER = {
    "db": "other.db",
    "model": "/models/mini",
    "encoder_backend": "torch",
    "threshold": "0.7",
    "top_k": "3",
    "alpha": "0.5",
    "min_confidence": "0.9",
    "retrieval_model": "none",
    "verdict_files": f"a.tsv{os.pathsep}b.tsv",
    "index_dir": "idx",
    "media_dir": "media",
    "topics": "topics.yaml",
    "checkworthiness_model": "none",
    "multilingual_model": "use-multilingual-v3",
}


def test_every_setting_is_read_from_its_environment_variable() -> None:
    assert set(OTHER) == {f.name for f in fields(Settings)}
    for name, value in OTHER.items():
        s = load_settings({SETTINGS_ENV[name]: value})
        assert getattr(s, name) != getattr(Settings(), name), name
        assert [f.name for f in fields(Settings) if getattr(s, f.name) != getattr(Settings(), f.name)] == [name]
    assert SETTINGS_ENV["verdict_files"] == "CLAIMWATCH_VERDICTS" and SETTINGS_ENV["top_k"] == "CLAIMWATCH_TOP_K"
    assert load_settings({"CLAIMWATCH_VERDICTS": OTHER["verdict_files"]}).verdict_files == ("a.tsv", "b.tsv")


def test_toml_then_environment_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "claimwatch.toml"
    cfg.write_text(
        '[claimwatch]\ndb = "from-toml.db"\nthreshold = 0.7\ntop_k = 2\nverdict_files = ["x.tsv"]\n'
        'encoder_backend = "ONNX"\n'
    )
    s = load_settings({}, cwd=tmp_path)
    assert (s.db, s.threshold, s.top_k, s.verdict_files, s.encoder_backend) == (
        "from-toml.db",
        0.7,
        2,
        ("x.tsv",),
        "onnx",
    )
    s = load_settings({"CLAIMWATCH_DB": "from-env.db", "CLAIMWATCH_CONFIG": str(cfg)}, cwd=tmp_path / "elsewhere")
    assert (s.db, s.top_k) == ("from-env.db", 2)
    assert s.with_overrides(db="flag.db", top_k=None).db == "flag.db"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('encoder_backend = "int4"', "unknown encoder backend 'int4'"),
        ("top_k = true", "top_k"),
        ('threshold = "high"', "threshold = 'high'"),
        ("colour = 1", "unknown setting(s) colour"),
        ("threshold = [", "not valid TOML"),
    ],
)
def test_a_bad_settings_file_is_one_line_naming_it(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "claimwatch.toml").write_text(text + "\n")
    with pytest.raises(ValueError, match=re.escape(needle)) as exc:
        load_settings({}, cwd=tmp_path)
    assert str(tmp_path / "claimwatch.toml") in str(exc.value) and "\n" not in str(exc.value)


def test_a_bad_environment_variable_names_it() -> None:
    with pytest.raises(ValueError, match="CLAIMWATCH_ENCODER_BACKEND='int4'.*torch, onnx, onnx-int8"):
        load_settings({"CLAIMWATCH_ENCODER_BACKEND": "int4"})
    with pytest.raises(ValueError, match="CLAIMWATCH_TOP_K='many'"):
        load_settings({"CLAIMWATCH_TOP_K": "many"})


def test_one_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "claimwatch"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    from claimwatch.claims import encoder
    from claimwatch.evaluation import checkworthiness, retrieval

    # Every cache (encoder exports, evaluation indexes, embeddings) asks the one function.
    assert not [
        m.__name__ for m in (encoder, retrieval, checkworthiness) if "def cache_dir" in Path(m.__file__).read_text()
    ]
    assert encoder.Encoder(backend="onnx-int8").cache_path.parent == tmp_path / "mine" / "encoders"


def test_every_claimwatch_variable_the_code_reads_is_in_the_definition() -> None:
    """The test setup clears ENV_VARS; a variable read anywhere else would let a shell change results."""
    named = {m for path in SRC.rglob("*.py") for m in re.findall(r"CLAIMWATCH_[A-Z_]+", path.read_text())}
    assert named - {CACHE_ENV} <= set(ENV_VARS), sorted(named - set(ENV_VARS))
    assert config.CONFIG_ENV in ENV_VARS and config.DEBUG_ENV in ENV_VARS
    assert not {v for v in ENV_VARS if os.environ.get(v)}, "the autouse fixture clears them for every test"
