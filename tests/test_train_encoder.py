"""Fine-tuning the bi-encoder: the real loop on a handful of triples, the result loads as a model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from claimwatch.claims.encoder import Encoder
from claimwatch.training.encoder import fine_tune

TRIPLES = [
    (
        "they found 50k ballots in a dumpster",
        "A trooper found 50,000 ballots in a dumpster in Arizona.",
        "Voting machines switched votes in Michigan.",
    ),
    (
        "dominion deleted millions of votes",
        "Dominion voting machines deleted 2.7 million votes.",
        "Dead people voted in Wayne County.",
    ),
    (
        "dead people voted in michigan",
        "Thousands of dead people voted in Wayne County, Michigan.",
        "Arizona found 50,000 ballots in a dumpster.",
    ),
    (
        "non-citizens are registering to vote",
        "Non-citizens are registering to vote in swing states.",
        "Mail ballots are being thrown away in Pennsylvania.",
    ),
]


@pytest.mark.slow
def test_fine_tuning_moves_queries_towards_their_claims(tmp_path: Path, encoder: Encoder) -> None:
    out = tmp_path / "ft"
    logs: list[str] = []
    fine_tune(encoder.source, TRIPLES * 4, out, epochs=2, batch_size=4, lr=5e-5, log=logs.append)
    assert len(logs) == 2 and all("mean loss" in line for line in logs)
    assert (out / "config.json").is_file() and json.loads((out / "config.json").read_text())
    tuned = Encoder(str(out), backend="torch")
    base = Encoder(encoder.source, backend="torch")

    def margin(enc: Encoder) -> float:
        q, p, n = (enc.encode([t[k] for t in TRIPLES]) for k in range(3))
        return float(np.mean((q * p).sum(1) - (q * n).sum(1)))

    assert margin(tuned) > margin(base)
