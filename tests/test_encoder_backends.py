"""The ONNX encoder backends: exported locally from the bundled model, cached with integrity, and
close to the torch float32 embeddings. Each backend is exported once per session into a temp cache."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from claimwatch.artefacts import file_sha256
from claimwatch.claims import encoder as encoder_mod
from claimwatch.claims.encoder import (
    BACKENDS,
    DEFAULT_MODEL_NAME,
    Encoder,
    ExportCorrupt,
)
from claimwatch.config import CACHE_ENV

pytestmark = pytest.mark.slow

SENTENCES = [
    "5G towers spread the coronavirus, a leaked document shows.",
    "The senator voted against funding for veterans twelve times.",
    "This photo shows a shark swimming on a flooded highway after the hurricane.",
    "Drinking bleach does not cure COVID-19.",
]


def _no_network(*args: object, **kwargs: object) -> None:
    raise OSError("network access attempted during an encoder test")


@pytest.fixture(scope="session")
def fast_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("claimwatch-cache")


@pytest.fixture(scope="session")
def exported(fast_cache: Path) -> Callable[[str], Encoder]:
    """A loaded encoder per backend, exported at most once per session into the temp cache,
    with the network blocked."""
    made: dict[str, Encoder] = {}

    def get(backend: str) -> Encoder:
        if backend not in made:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(socket.socket, "connect", _no_network)
                mp.setenv(CACHE_ENV, str(fast_cache))
                enc = Encoder(backend=backend)
                enc.encode(["warm up"])
            made[backend] = enc
        return made[backend]

    return get


@pytest.fixture(scope="session", params=["onnx-int8", "onnx"])
def fast_encoder(request: pytest.FixtureRequest, exported: Callable[[str], Encoder]) -> Encoder:
    return exported(request.param)


@pytest.fixture(scope="session")
def torch_encoder(encoder: Encoder) -> Encoder:
    """The float32 reference: the session's encoder when it is torch (shares the loaded model)."""
    return encoder if encoder.backend == "torch" else Encoder(backend="torch")


@pytest.fixture(scope="session")
def int8_encoder(exported: Callable[[str], Encoder]) -> Encoder:
    return exported("onnx-int8")


def test_fast_backend_is_close_to_torch(fast_encoder: Encoder, torch_encoder: Encoder) -> None:
    emb = fast_encoder.encode(SENTENCES)
    assert emb.shape == (len(SENTENCES), 384) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    cos = (emb * torch_encoder.encode(SENTENCES)).sum(axis=1)
    assert cos.min() > (0.98 if fast_encoder.backend == "onnx-int8" else 0.9999), cos
    # A text of one or two tokens moves most under int8 (about 0.95-0.97), still the same neighbourhood.
    tiny = ["lol", "ok"]
    assert (fast_encoder.encode(tiny) * torch_encoder.encode(tiny)).sum(axis=1).min() > 0.93
    # Deterministic, and independent of input order (batches are formed by length).
    assert np.array_equal(fast_encoder.encode(SENTENCES[::-1])[::-1], emb)
    # Float32 is batch-independent; int8 quantises activations per batch, so other texts in a batch
    # move an embedding a little (about as much as int8 itself does).
    small = Encoder(backend=fast_encoder.backend, batch_size=1)
    small._model = fast_encoder.model
    alone = (small.encode(SENTENCES) * emb).sum(axis=1)
    assert alone.min() > (0.98 if fast_encoder.backend == "onnx-int8" else 0.99999), alone
    assert fast_encoder.encode([]).shape == (0, 384)
    assert fast_encoder.dim == 384


def test_export_is_cached_in_the_configured_dir(fast_encoder: Encoder, fast_cache: Path) -> None:
    path = fast_encoder.cache_path
    assert path is not None and path.parent == fast_cache / "encoders"
    assert path.name.endswith(f"-{fast_encoder.backend}-r{encoder_mod.EXPORT_RECIPE}")
    meta = json.loads((path / "meta.json").read_text())  # the artefact format every loader shares
    assert meta["backend"] == fast_encoder.backend
    assert set(meta["checksums"]) == {"model.onnx", "tokenizer.json", "encoder.json"}
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temp export dirs left behind"
    if fast_encoder.backend == "onnx-int8":  # int8 weights: about a quarter of the float32 file
        assert (path / "model.onnx").stat().st_size < 40 * 2**20


def test_name_carries_the_backend(fast_encoder: Encoder) -> None:
    assert fast_encoder.name == f"{DEFAULT_MODEL_NAME} [{fast_encoder.backend}]"
    assert Encoder(backend="torch").name == DEFAULT_MODEL_NAME
    names = {Encoder(backend=b).name for b in BACKENDS}
    assert len(names) == len(BACKENDS)
    assert (
        Encoder(backend="onnx-int8", max_seq_length=128).name == f"{DEFAULT_MODEL_NAME} [onnx-int8, max_seq_length=128]"
    )


def test_unknown_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"unknown encoder backend 'tensorrt'.*torch, onnx, onnx-int8"):
        Encoder(backend="tensorrt")
    monkeypatch.setenv("CLAIMWATCH_ENCODER_BACKEND", "int4")
    with pytest.raises(ValueError, match="CLAIMWATCH_ENCODER_BACKEND"):
        Encoder()
    monkeypatch.setenv("CLAIMWATCH_ENCODER_BACKEND", "ONNX-int8")
    assert Encoder().backend == "onnx-int8"


def _copy_export(enc: Encoder, root: Path) -> Path:
    assert enc.cache_path is not None
    dst = encoder_mod.export_dir(root, enc.source, enc.base_name, enc.backend)
    shutil.copytree(enc.cache_path, dst)
    return dst


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "drop meta.json", "other model", "empty tokenizer"])
def test_damaged_export_is_detected(int8_encoder: Encoder, tmp_path: Path, damage: str) -> None:
    d = _copy_export(int8_encoder, tmp_path)
    fingerprint = encoder_mod._fingerprint(int8_encoder.source)
    encoder_mod._check_export(d, fingerprint)  # the intact copy passes
    model = d / "model.onnx"
    if damage == "flip a byte":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "truncate":
        with open(model, "r+b") as fh:
            fh.truncate(model.stat().st_size // 3)
    elif damage == "drop meta.json":
        (d / "meta.json").unlink()
    elif damage == "empty tokenizer":
        (d / "tokenizer.json").write_text("")
    if damage == "other model":
        fingerprint = "0" * 64
    with pytest.raises(ExportCorrupt):
        encoder_mod._check_export(d, fingerprint)


def test_corrupted_cache_is_rebuilt(
    int8_encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _copy_export(int8_encoder, tmp_path)
    model = d / "model.onnx"
    good_sha = file_sha256(model)
    data = bytearray(model.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64  # same size, wrong bytes
    model.write_bytes(bytes(data))
    (d.parent / f".{d.name}.leftover").mkdir()  # an interrupted export's temp dir does not confuse it
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    enc = Encoder(backend="onnx-int8")
    emb = enc.encode(SENTENCES)
    err = capsys.readouterr().err
    assert "re-exporting" in err and "checksum" in err and str(d) in err
    assert enc.cache_path == d
    encoder_mod._check_export(d, encoder_mod._fingerprint(enc.source))
    assert file_sha256(model) == good_sha  # the export is deterministic: the same file again
    assert np.array_equal(emb, int8_encoder.encode(SENTENCES))
