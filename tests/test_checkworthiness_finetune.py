"""A check-worthiness model with its own fine-tuned encoder: training (a few real optimiser steps on
hand-written data), its files, `eval`, and `match` using it through the same analysis path."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import claimreview, page, post
from test_checkworthiness import CHATTER, CLAIMS, fake_datasets, tsv
from test_cli import run

import claimwatch
from claimwatch.claims.checkworthiness import load_model
from claimwatch.claims.rerank import ModelError
from claimwatch.store import schema as s

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("finetune")
    data = fake_datasets(root / "data", [True] * len(CLAIMS) + [False] * len(CHATTER))
    code, out, err = run(
        "train", "checkworthiness", "--finetune", "--steps", "6", "--datasets", str(data), "--out", str(root / "model")
    )
    assert code == 0, err
    assert "step 6/6" in err and f"own encoder in {root / 'model' / 'encoder'}" in " ".join(out.split())
    yield root / "model"
    # The ONNX export of this throwaway encoder went to the user cache (keyed by its path): drop it.
    export = load_model(str(root / "model")).own_encoder().cache_path
    shutil.rmtree(export, ignore_errors=True)


def test_the_model_keeps_its_encoder_checksummed_and_says_so(finetuned: Path, tmp_path: Path) -> None:
    meta = json.loads((finetuned / "meta.json").read_text())
    assert meta["own_encoder"] == "encoder" and meta["steps"] == 6
    assert "encoder/model.safetensors" in meta["checksums"] and "encoder/tokenizer.json" in meta["checksums"]
    assert {h["threshold"] for h in meta["heads"].values()} == {0.5}
    with np.load(finetuned / "sentence.npz") as npz:
        assert "ngram_coef" not in npz  # the fine-tuned encoder reads the words itself
    model = load_model(str(finetuned))
    assert "its own fine-tuned encoder from all-MiniLM-L6-v2" in model.describe()
    assert model.encoder_name.startswith(str(finetuned / "encoder"))
    scores = model.score(["Unemployment fell to 3.5 percent in 2019.", "", "🔥 https://t.co/x"], kind="sentence")
    assert 0.0 < scores[0] < 1.0 and scores[1] == scores[2] == 0.0

    damaged = tmp_path / "damaged"
    shutil.copytree(finetuned, damaged)
    weights = damaged / "encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelError, match="model.safetensors is missing or does not match its checksum"):
        load_model(str(damaged))


def test_eval_reads_a_finetuned_model(finetuned: Path, tmp_path: Path) -> None:
    test = tsv(
        tmp_path,
        "test.tsv",
        "Sentence_id\tText\tclass_label\n"
        "1\tTaxes went up 30 percent for 4 million families.\tYes\n2\tThank you so much, everyone.\tNo\n",
    )
    code, out, err = run("eval", "checkworthiness", "--data", str(test), "--model", str(finetuned), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 2 and res["threshold"] == 0.5 and "own fine-tuned encoder" in res["model"]


def test_match_scores_posts_with_the_models_own_encoder(finetuned: Path, tmp_path: Path, write_jsonl) -> None:
    ws = claimwatch.open(tmp_path / "t.db", checkworthiness_model=str(finetuned))
    fc = tmp_path / "fc.json"
    fc.write_text(
        json.dumps(
            [
                claimreview(
                    "https://example.org/fc/ballots",
                    "Poll workers threw thousands of mail ballots into a dumpster.",
                    "False",
                )
            ]
        )
    )
    ws.ingest_factchecks([fc])
    texts = {
        "1": "Poll workers dumped thousands of mail-in ballots in a dumpster behind the county office",
        "2": "Good morning everyone, have a lovely day!",
        "3": "Turnout was 67 percent in 2020. I think that is amazing. Thanks to every volunteer out there.",
    }
    ws.ingest_posts([write_jsonl("p.jsonl", [page([post(i, t) for i, t in texts.items()])])])
    ws.match()
    with ws.engine.connect() as conn:
        rows = {
            r.platform_id: r
            for r in conn.execute(
                sa.select(s.PostAnalysis, s.Post.platform_id).join(s.Post, s.Post.id == s.PostAnalysis.post_id)
            )
        }
    assert set(rows) == set(texts)
    model = ws.checkworthiness_model()
    assert all("own fine-tuned encoder" in r.models["checkworthiness"] for r in rows.values())
    # The stored scores are the model's own, computed from its encoder's embeddings of each post
    # (int8 activations are quantised per batch, so batch neighbours move scores very slightly).
    direct = model.score([texts[i] for i in sorted(texts)], kind="post")
    stored = [rows[i].checkworthiness for i in sorted(texts)]
    assert stored == pytest.approx(direct, abs=0.03)
    thread = rows["3"]  # sentences scored by the sentence head on the model's own embeddings
    assert len(thread.sentence_scores) == 3
    best = max(thread.sentence_scores, key=lambda row: row[2])
    assert thread.claim_sentence == texts["3"][best[0] : best[1]]
    assert best[2] == pytest.approx(model.score([thread.claim_sentence], kind="sentence")[0], abs=0.03)


def test_finetuning_is_seeded(finetuned: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "train",
        "checkworthiness",
        "--finetune",
        "--steps",
        "6",
        "--datasets",
        str(finetuned.parent / "data"),
        "--out",
        str(tmp_path / "again"),
    )
    assert code == 0, err
    for name in ("sentence.npz", "post.npz", "encoder/model.safetensors"):
        assert (tmp_path / "again" / name).read_bytes() == (finetuned / name).read_bytes(), name
    shutil.rmtree(load_model(str(tmp_path / "again")).own_encoder().cache_path, ignore_errors=True)


def test_finetuning_replaces_a_model_but_never_a_folder_of_the_users(finetuned: Path, tmp_path: Path) -> None:
    data = str(finetuned.parent / "data")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = run("train", "checkworthiness", "--finetune", "--steps", "1", "--datasets", data, "--out", str(mine))
    assert code == 2 and "is not a check-worthiness model directory; refusing to replace it" in " ".join(err.split())
    assert (mine / "notes.txt").read_text() == "keep me"

    shutil.copytree(finetuned, tmp_path / "old")
    code, _, err = run(
        "train", "checkworthiness", "--finetune", "--steps", "2", "--datasets", data, "--out", str(tmp_path / "old")
    )
    assert code == 0, err
    assert json.loads((tmp_path / "old" / "meta.json").read_text())["steps"] == 2
    assert load_model(str(tmp_path / "old")).score(["Taxes rose 4 percent."], kind="sentence")[0] > 0
    assert not (tmp_path / ".old.partial").exists()
    shutil.rmtree(load_model(str(tmp_path / "old")).own_encoder().cache_path, ignore_errors=True)
