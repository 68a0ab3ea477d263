"""``claimwatch train checkworthiness --finetune``: a check-worthiness model with its own encoder.

The shipped model reads matching's frozen MiniLM embedding (no second encoder pass). This recipe
fine-tunes a copy of that encoder end to end instead, with one linear head per kind, on the same
training sets (:func:`claimwatch.training.checkworthiness.training_set`: overlap with dev/dev-test
removed). Measured on CheckThat! dev-test (benchmarks/RESULTS.md) it is clearly better than the
frozen-embedding heads, at a price: posts are encoded a second time, by this encoder, whenever it
scores them (`claimwatch match` ran about a fifth slower in our benchmark), and the model is ~90 MB,
too large to ship.

Recipe (fixed seed, 2 CPU cores: about 20 minutes):

- one encoder for both kinds, so a post costs one extra pass however many heads read it;
  batches are single-kind (32 debate sentences up to 64 tokens, or 16 tweets up to 128 tokens),
  drawn in a seeded shuffled order: 2 passes over the sentences, 3 over the tweets;
- loss: binary cross-entropy weighted so both classes count equally (``pos_weight`` = negatives
  / positives per kind), which makes 0.5 the balanced decision point; the threshold is 0.5 and
  not tuned: dev and dev-test want different thresholds (0.77 vs 0.35 in our runs), so any
  tuned value would fit one debate era, not unseen data;
- AdamW, learning rate 5e-5 (encoder) / 1e-3 (heads), 6 % linear warm-up then linear decay.

The head scores the L2-normalised mean-pooled embedding, exactly what :class:`Encoder` returns
for the saved directory, so scoring runs through the same ONNX int8 path as matching.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from claimwatch.claims.checkworthiness import (
    OWN_ENCODER_DIR,
    TEXT_FEATURES,
    CheckworthinessModel,
    DenseModel,
    Head,
    MetaModel,
    embedding_text,
)
from claimwatch.evaluation.checkworthiness import score_metrics
from claimwatch.training.checkworthiness import (
    SEED,
    TRAINED_ON,
    check_two_classes,
    describe_head,
    dev_set,
    training_set,
)

VERSION = "1-finetuned"
#: Per kind: batch size, token limit, passes over the data.
BATCHES = {"sentence": (32, 64, 2), "post": (16, 128, 3)}
LR_ENCODER = 5e-5
LR_HEAD = 1e-3
WARMUP = 0.06
#: The embedding is unit length; the head sees it scaled so its logits can grow without huge weights.
SCALE = 10.0
THRESHOLD = 0.5


def finetune(
    datasets: Path,
    out: Path,
    *,
    steps: int | None = None,
    base: str | None = None,
    seed: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune the encoder and both heads; writes the model to ``out`` and returns its metadata.

    ``steps`` stops early (tests and smoke runs); ``base`` is the sentence-transformers directory
    to start from (default: the bundled MiniLM); ``seed`` (default: the recipe's) measures run-to-run spread."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from claimwatch.claims.encoder import offline, resolve_model

    offline()
    hf_logging.disable_progress_bar()

    _check_target(out)
    seed = SEED if seed is None else seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    source, base_name = resolve_model(base)
    data = {kind: training_set(datasets, kind, log) for kind in BATCHES}
    texts = {k: [embedding_text(x.text) for x in d.items] for k, d in data.items()}
    labels = {k: d.labels.astype(np.float32) for k, d in data.items()}
    for kind in BATCHES:
        check_two_classes(data[kind].labels, f"{kind} training set")
    tok = AutoTokenizer.from_pretrained(source)
    enc = AutoModel.from_pretrained(source)
    dim = int(enc.config.hidden_size)
    heads = torch.nn.ModuleDict({k: torch.nn.Linear(dim, 1) for k in BATCHES})
    plan = _plan(labels, rng)
    total = min(len(plan), steps) if steps else len(plan)
    opt = torch.optim.AdamW(
        [{"params": enc.parameters(), "lr": LR_ENCODER}, {"params": heads.parameters(), "lr": LR_HEAD}],
        weight_decay=0.01,
    )
    warm = max(1, int(WARMUP * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / total))
    pos_weight = {k: torch.tensor(float((1 - y.mean()) / y.mean())) for k, y in labels.items()}

    def logits(kind: str, batch: list[str]) -> Any:
        t = tok(batch, padding=True, truncation=True, max_length=BATCHES[kind][1], return_tensors="pt")
        hidden = enc(**t).last_hidden_state
        mask = t["attention_mask"].unsqueeze(-1).float()
        pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)
        return heads[kind](pooled * SCALE).squeeze(-1)

    enc.train()
    t0 = time.perf_counter()
    for step, (kind, rows) in enumerate(plan[:total], start=1):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits(kind, [texts[kind][i] for i in rows]),
            torch.from_numpy(labels[kind][rows]),
            pos_weight=pos_weight[kind],
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == total:
            log(f"step {step}/{total}: {kind} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)")
    enc.eval()
    # Written beside the target and moved into place whole: an interrupted run leaves the old model.
    partial = out.parent / f".{out.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    _save_encoder(source, enc, tok, partial / OWN_ENCODER_DIR)
    model = CheckworthinessModel(
        {k: _head(heads[k], len(TEXT_FEATURES)) for k in BATCHES},
        {
            "name": "claimwatch check-worthiness (fine-tuned encoder)",
            "version": VERSION,
            "seed": seed,
            "own_encoder": OWN_ENCODER_DIR,
            "base_encoder": base_name,
            "steps": total,
            "command": "claimwatch train checkworthiness " + " ".join(sys.argv[3:]),
            "trained_on_summary": TRAINED_ON,
        },
    )
    model.save(partial)
    _check_target(out)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    model.directory = out
    # Dev figures through the real scoring path (the saved encoder, ONNX as configured).
    encoder = model.own_encoder()
    described: dict[str, Any] = {}
    for kind, d in data.items():
        dev = dev_set(datasets, kind)
        figures = {}
        if dev:
            scores = model.score([x.text for x in dev], kind=kind, encoder=encoder)
            figures["dev"] = {
                k: round(float(v), 4) for k, v in score_metrics([x.checkworthy for x in dev], scores, THRESHOLD).items()
            }
            log(f"{kind}: dev F1 {figures['dev']['f1']:.3f} MAP {figures['dev']['map']:.3f} at {THRESHOLD}")
        described[kind] = describe_head(datasets, kind, d, THRESHOLD, figures)
    model.meta["heads"] = described
    model.save(out)
    return model.meta


def _check_target(out: Path) -> None:
    """``out`` may be new, empty or a model to replace; anything else is the user's and stays."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "meta.json").is_file())):
        raise ValueError(
            f"{out} exists and is not a check-worthiness model directory; refusing to replace it (choose a new --out)"
        )


def _plan(labels: dict[str, np.ndarray], rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Every batch of the run, (kind, row indices), in one seeded shuffled order."""
    plan = []
    for kind, (size, _, passes) in BATCHES.items():
        for _ in range(passes):
            perm = rng.permutation(len(labels[kind]))
            plan += [(kind, perm[i : i + size]) for i in range(0, len(perm), size)]
    order = rng.permutation(len(plan))
    return [plan[i] for i in order]


def _head(linear: Any, n_features: int) -> Head:
    """The trained linear layer as a :class:`Head`: the dense logit alone decides (no n-grams,
    text features weighted 0), threshold :data:`THRESHOLD`."""
    w = linear.weight.detach().numpy().T.astype(np.float32) * SCALE
    b = linear.bias.detach().numpy().astype(np.float32)
    coef = np.zeros(2 + n_features)
    coef[1] = 1.0
    meta = MetaModel(coef, 0.0, np.zeros(n_features), np.ones(n_features))
    return Head(None, DenseModel([[(w, b)]]), meta, THRESHOLD)


def _save_encoder(source: str, enc: Any, tok: Any, target: Path) -> None:
    """A sentence-transformers directory: the base model's module files with the tuned weights."""
    src = Path(source)
    shutil.copytree(
        src, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.onnx", "onnx", ".*", "README.md")
    )
    enc.save_pretrained(target, safe_serialization=True)
    tok.save_pretrained(target)
