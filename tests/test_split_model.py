"""Reassembly and verification of a model shipped as a split zip (claimwatch[large]), on a tiny
fake model built here: good parts, wrong size, wrong hash, a traversal entry, a truncated part."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from claimwatch.claims import encoder as encoder_mod
from claimwatch.claims import split_model
from claimwatch.claims.split_model import PartsReader, SplitModelError, SplitZipModel, materialise, model_dir

WEIGHTS = bytes(range(256)) * 400  # 100 kB, compressible
SMALL_FILES = {"config.json": b'{"model_type": "fake"}', "modules.json": b"[]", "1_Pooling/config.json": b"{}"}


def _spec(weights: bytes = WEIGHTS, **kw: object) -> SplitZipModel:
    base = SplitZipModel(
        name="fake-model",
        label="fake-model (test)",
        packages=("fake-model-part-001", "fake-model-part-002", "fake-model-part-003"),
        extra="large",
        folder="fake-model",
        files=("config.json", "modules.json", "1_Pooling/config.json", "model.safetensors"),
        weights="model.safetensors",
        weights_size=len(weights),
        weights_sha256=hashlib.sha256(weights).hexdigest(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _split_zip(tmp: Path, entries: dict[str, bytes], parts: int = 3) -> list[Path]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    data = buf.getvalue()
    step = -(-len(data) // parts)
    out = []
    for i in range(parts):
        p = tmp / f"part{i + 1}" / f"fake.zip.{i + 1:03d}"
        p.parent.mkdir(parents=True)
        p.write_bytes(data[i * step : (i + 1) * step])
        out.append(p)
    return out


def _model_entries(weights: bytes = WEIGHTS) -> dict[str, bytes]:
    entries = {f"fake-model/{k}": v for k, v in SMALL_FILES.items()}
    entries["fake-model/model.safetensors"] = weights
    entries["fake-model/desktop.ini"] = b"[junk]"
    return entries


def _leftovers(root: Path) -> list[str]:
    models = root / "models"
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_parts_read_as_one_seekable_stream(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"hello ")
    b.write_bytes(b"world")
    with PartsReader([a, b]) as r:
        assert r.read() == b"hello world"
        r.seek(4)
        assert r.read(4) == b"o wo"  # across the boundary
        r.seek(-3, io.SEEK_END)
        assert r.read() == b"rld"


def test_reassembles_verifies_and_reuses(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, _model_entries())
    root = tmp_path / "cache"
    got = materialise(_spec(), root, parts)
    assert got == model_dir(_spec(), root)
    assert (got / "model.safetensors").read_bytes() == WEIGHTS
    assert (got / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not (got / "desktop.ini").exists()  # not a file the model needs
    assert (got / "meta.json").is_file()
    assert _leftovers(root) == [got.name]  # no temp folder left
    # A second call uses the checked copy without the parts.
    assert materialise(_spec(), root, [tmp_path / "gone"]) == got


def test_damaged_cached_copy_is_rebuilt(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, _model_entries())
    root = tmp_path / "cache"
    got = materialise(_spec(), root, parts)
    (got / "model.safetensors").write_bytes(b"tampered")
    assert materialise(_spec(), root, parts) == got
    assert (got / "model.safetensors").read_bytes() == WEIGHTS


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_spec(weights_size=len(WEIGHTS) + 1), "not the expected"),
        (_spec(weights_sha256="0" * 64), "not the expected"),
    ],
    ids=["wrong-size", "wrong-hash"],
)
def test_mismatch_is_refused_and_nothing_kept(tmp_path: Path, spec: SplitZipModel, message: str) -> None:
    parts = _split_zip(tmp_path, _model_entries())
    root = tmp_path / "cache"
    with pytest.raises(SplitModelError, match=message) as err:
        materialise(spec, root, parts)
    assert "\n" not in str(err.value) and "nothing was used" in str(err.value)
    assert _leftovers(root) == []


def test_traversal_entry_is_refused(tmp_path: Path) -> None:
    entries = _model_entries()
    entries["fake-model/../../evil.txt"] = b"pwned"
    parts = _split_zip(tmp_path, entries)
    root = tmp_path / "cache"
    with pytest.raises(SplitModelError, match="unsafe entry"):
        materialise(_spec(), root, parts)
    assert not list(tmp_path.rglob("evil.txt"))
    assert _leftovers(root) == []


def test_truncated_part_is_refused(tmp_path: Path) -> None:
    parts = _split_zip(tmp_path, _model_entries())
    parts[1].write_bytes(parts[1].read_bytes()[:-100])
    root = tmp_path / "cache"
    with pytest.raises(SplitModelError, match="readable zip|not the expected"):
        materialise(_spec(), root, parts)
    assert _leftovers(root) == []


def test_zip_bomb_entry_is_refused(tmp_path: Path) -> None:
    bomb = b"\0" * (4 << 20)  # deflates ~1000:1
    parts = _split_zip(tmp_path, _model_entries(bomb))
    with pytest.raises(SplitModelError, match="would decompress"):
        materialise(_spec(bomb), tmp_path / "cache", parts)


def test_unfinished_folder_is_never_taken_for_done(tmp_path: Path) -> None:
    """A crash before the rename leaves only a dot-folder; the target (no meta.json) is rebuilt."""
    parts = _split_zip(tmp_path, _model_entries())
    root = tmp_path / "cache"
    target = model_dir(_spec(), root)
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(WEIGHTS[:10])  # half a copy, no meta.json
    assert materialise(_spec(), root, parts) == target
    assert (target / "model.safetensors").read_bytes() == WEIGHTS


def test_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLAIMWATCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(split_model.SPLIT_MODELS, "fake-model", _spec())
    split_model.cached_materialise.cache_clear()
    with pytest.raises(encoder_mod.ModelNotFound, match=r"pip install 'claimwatch\[large\]'") as err:
        encoder_mod.resolve_model("fake-model")
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_the_real_large_extra_when_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With claimwatch[large] installed: the five parts reassemble into the verified upstream weights."""
    from importlib import metadata

    spec = split_model.ALL_MPNET_BASE_V2
    try:
        metadata.distribution(spec.packages[0])
    except metadata.PackageNotFoundError:
        pytest.skip("the large extra is not installed")
    got = materialise(spec, tmp_path)
    assert (got / "model.safetensors").stat().st_size == 437_971_872
    assert json.loads((got / "meta.json").read_text())["checksums"]["model.safetensors"] == spec.weights_sha256
    assert json.loads((got / "modules.json").read_text())  # a sentence-transformers folder


def test_a_model_whose_int8_export_disagrees_runs_as_float32_onnx(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parts = _split_zip(tmp_path, _model_entries())
    spec = _spec(int8_ok=False)
    root = tmp_path / "cache"
    monkeypatch.setenv("CLAIMWATCH_CACHE_DIR", str(root))
    monkeypatch.setitem(split_model.SPLIT_MODELS, "fake-model", spec)
    monkeypatch.setattr(split_model, "part_paths", lambda _spec: parts)
    split_model.cached_materialise.cache_clear()
    try:
        enc = encoder_mod.Encoder("fake-model", backend="onnx-int8")  # nothing loads before encode()
        assert enc.backend == "onnx" and enc.name == "fake-model (test) [onnx]"
        assert enc.source == str(model_dir(spec, root))
        assert encoder_mod.Encoder("fake-model", backend="torch").backend == "torch"
    finally:
        split_model.cached_materialise.cache_clear()
