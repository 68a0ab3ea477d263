"""One saved-artefact format (meta.json + checksums) for indexes, trained models and encoder exports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from claimwatch.artefacts import META, read_meta, write_meta
from claimwatch.claims import checkworthiness as cw
from claimwatch.claims import rerank
from claimwatch.claims.rerank import ModelError


class Broken(RuntimeError):
    pass


@pytest.fixture()
def artefact(tmp_path: Path) -> Path:
    d = tmp_path / "a"
    (d / "sub").mkdir(parents=True)
    (d / "weights.bin").write_bytes(bytes(range(256)) * 10)
    (d / "sub" / "vocab.txt").write_text("ballot\nvote\n")
    write_meta(d, {"kind": "test", "version": 3}, ["weights.bin", "sub/vocab.txt"])
    return d


def test_round_trip(artefact: Path) -> None:
    meta = read_meta(artefact, "test model", Broken, required={"version": int})
    assert meta["kind"] == "test" and set(meta["checksums"]) == {"weights.bin", "sub/vocab.txt"}
    assert json.loads((artefact / META).read_text()) == meta


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("flip a byte", "test model file {d}/weights.bin is missing or does not match its checksum"),
        ("drop a file", "test model file {d}/sub/vocab.txt is missing"),
        ("drop meta.json", "no test model at {d} (meta.json missing); train one"),
        ("torn meta.json", "{d}/meta.json: unreadable"),
        ("meta.json is a list", "meta.json is not a JSON object but list"),
        ("no checksums", "meta.json has no dict 'checksums'"),
        ("version is text", "meta.json has no int 'version'"),
    ],
)
def test_every_fault_is_one_line_of_the_callers_error(artefact: Path, damage: str, needle: str) -> None:
    meta = json.loads((artefact / META).read_text())
    if damage == "flip a byte":
        data = bytearray((artefact / "weights.bin").read_bytes())
        data[100] ^= 0xFF
        (artefact / "weights.bin").write_bytes(bytes(data))
    elif damage == "drop a file":
        (artefact / "sub" / "vocab.txt").unlink()
    elif damage == "drop meta.json":
        (artefact / META).unlink()
    elif damage == "torn meta.json":
        (artefact / META).write_text((artefact / META).read_text()[:40])
    elif damage == "meta.json is a list":
        (artefact / META).write_text("[]")
    elif damage == "no checksums":
        (artefact / META).write_text(json.dumps({k: v for k, v in meta.items() if k != "checksums"}))
    else:
        (artefact / META).write_text(json.dumps(dict(meta, version="3")))
    with pytest.raises(Broken) as exc:
        read_meta(artefact, "test model", Broken, required={"version": int}, missing_hint="train one")
    assert needle.format(d=artefact) in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.slow  # over half a second on 2 cores
def test_the_shipped_models_are_in_the_format(tmp_path: Path) -> None:
    for shipped in (rerank.SHIPPED, cw.SHIPPED):
        assert set(read_meta(shipped, "shipped model", Broken)["checksums"])
    copy = tmp_path / "retrieval"
    shutil.copytree(rerank.SHIPPED, copy)
    assert rerank.RetrievalModel.load(copy).method == rerank.METHOD
    (copy / "ranker.txt").write_text((copy / "ranker.txt").read_text().replace("tree", "tr3e", 1))
    with pytest.raises(ModelError, match="retrieval model file .*ranker.txt is missing or does not match"):
        rerank.RetrievalModel.load(copy)
    with pytest.raises(ModelError, match="no retrieval model at .*train retrieval"):
        rerank.RetrievalModel.load(tmp_path / "nothing")
