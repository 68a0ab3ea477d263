"""``claimwatch train encoder``: fine-tune the bi-encoder on the CheckThat! training pairs.

Contrastive training with in-batch and hard negatives (multiple-negatives ranking loss, the
recipe of the strongest CheckThat! systems), on CPU, with fixed seeds:

- pairs: every **train** query of task 2A (tweet → Snopes claim) and 2B (debate sentence →
  PolitiFact claim) with its gold claim, both as matching sees them (cleaned query; the claim's
  embedded text);
- hard negative: the base encoder's nearest claim that is not gold (from the cached index);
- loss: cross-entropy of the query against its positive among all positives and hard negatives
  of the batch, cosine scaled by 20.

The result is a sentence-transformers directory (~90 MB: too big to ship; the default install
keeps the bundled MiniLM). Use it with ``--model DIR`` (then re-index, and retrain the re-ranker
and check-worthiness model for it: they are tied to the encoder's embeddings). Dev and dev-test
are never read here.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.claims.encoder import Encoder
from claimwatch.evaluation import checkthat
from claimwatch.evaluation.retrieval import cached_index, clean_queries
from claimwatch.training.retrieval import SEED, checkthat_tasks

SCALE = 20.0


def training_triples(
    datasets: Path, encoder: Encoder, *, log: Callable[[str], None] = print
) -> list[tuple[str, str, str]]:
    """(query, gold claim text, hard negative claim text) for the train queries of 2A and 2B."""
    triples: list[tuple[str, str, str]] = []
    for t in checkthat_tasks(datasets):
        index = cached_index(checkthat.load_vclaims(t.vclaims), encoder)
        queries = {q.id: q for q in clean_queries(checkthat.load_queries(t.queries))}
        qrels = checkthat.load_qrels(t.train_qrels)
        todo = [(queries[q], gold) for q, gold in sorted(qrels.items()) if q in queries]
        emb = encoder.encode([q.text for q, _ in todo])
        near = index.dense_search(emb, 10)
        for (q, gold), rows in zip(todo, near, strict=True):
            negative = next((index.docs[r] for r in rows if r >= 0 and index.docs[r].id not in gold), None)
            for g in sorted(gold):
                if g in index.row_of and negative is not None:
                    triples.append((q.text, index.docs[index.row_of[g]].embed_text(), negative.embed_text()))
        log(f"{t.name}: {len(todo)} train queries")
    return triples


def fine_tune(
    source: str,
    triples: list[tuple[str, str, str]],
    out: Path,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 2e-5,
    log: Callable[[str], None] = print,
) -> None:
    """Plain PyTorch loop over sentence-transformers modules (no extra training libraries)."""
    import torch
    from sentence_transformers import SentenceTransformer

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    model = SentenceTransformer(source, device="cpu")
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    order = list(range(len(triples)))
    for epoch in range(epochs):
        random.Random(SEED + epoch).shuffle(order)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = [triples[i] for i in order[start : start + batch_size]]
            if len(batch) < 2:
                continue
            q, p, n = (_embed(model, [t[k] for t in batch]) for k in range(3))
            scores = q @ torch.cat([p, n]).T * SCALE
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        log(f"epoch {epoch + 1}: mean loss {total / max(len(order), 1):.4f}")
    model.eval()
    model.save(str(out))


def _embed(model: Any, texts: list[str]) -> Any:
    import torch

    features = model.tokenize(texts)
    return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=1)


def train_encoder(
    datasets: Path, out: Path, base: Encoder, *, epochs: int = 1, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Fine-tune ``base``'s model and write it with a ``claimwatch-training.json`` beside it."""
    triples = training_triples(datasets, base, log=log)
    if not triples:
        raise ValueError(f"no training pairs found under {datasets}")
    log(f"fine-tuning {base.base_name} on {len(triples)} (query, claim, hard negative) triples")
    fine_tune(base.source, triples, out, epochs=epochs, log=log)
    meta = {
        "base": base.base_name,
        "seed": SEED,
        "epochs": epochs,
        "triples": len(triples),
        "loss_scale": SCALE,
        "command": "claimwatch train encoder " + " ".join(sys.argv[3:]),
    }
    (out / "claimwatch-training.json").write_text(json.dumps(meta, indent=1))
    return meta
