"""Speed and accuracy of the encoder backends (torch float32, ONNX float32, ONNX int8).

    python benchmarks/encoder_speed.py [--datasets ../shared/datasets] [--configs torch,onnx,onnx-int8]
                                       [--repeats 2] [--threads N] [--speed-only]

Needs CLEF CheckThat! 2022 task 2A (English) under ``--datasets``; it is public at
https://gitlab.com/checkthat_lab/clef2022-checkthat-lab (task 2A: the train/dev queries,
the dev qrels and ``vclaims.jsonl``). Uses the train/dev tweets for speed and the **dev**
qrels for accuracy; dev-test and test are never read.

For each configuration (a backend, optionally ``@<max_seq_length>``, e.g. ``onnx-int8@128``):

- load: the first use, including the one-time ONNX export when the cache is empty;
- sentences/s encoding (a) the 1,196 2A train/dev tweets and (b) 2,000 verified claims
  (claim + " " + title), batch 64, best and median of ``--repeats`` timed passes after a warm-up,
  taken round-robin over the configurations; also per CPU-second of the process (less sensitive
  to other processes; with ``--threads 1`` it is what one core does);
- dense-only MAP@5 on 2A dev: query embeddings @ all 14,231 claim embeddings; per query the
  sum of precision@i over ranks i <= 5 holding a relevant claim, over the number of relevant
  claims; tweets used as they are;
- mean / min cosine between the torch float32 embeddings and this configuration's, on the tweets
  and on all claims.

Prints one JSON object. The machine's load average is recorded: on a shared 2-core machine other
work skews the speeds, so compare configurations within one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from claimwatch.artefacts import META
from claimwatch.claims.encoder import Encoder

TASK = "clef2022-checkthat-task2a-tweets-snopes"
N_CLAIMS_SPEED = 2000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_data(datasets: Path) -> tuple[list[str], list[str], list[str], dict[str, set[int]]]:
    d = datasets / TASK
    need = [
        d / "vclaims.jsonl",
        d / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv",
        d / "dev" / "CT2022-Task2A-EN-Dev_QRELs.tsv",
    ]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        raise SystemExit(
            f"CheckThat! 2022 task 2A data not found ({', '.join(missing)}). It is public at "
            "https://gitlab.com/checkthat_lab/clef2022-checkthat-lab (task 2A English); "
            f"put it under {d} or pass --datasets"
        )
    with open(need[0], encoding="utf-8") as fh:
        vclaims = [json.loads(line) for line in fh if line.strip()]
    claim_texts = [f"{v['vclaim']} {v['title']}" for v in vclaims]
    row_of = {v["vclaim_id"]: i for i, v in enumerate(vclaims)}
    with open(need[1], encoding="utf-8", newline="") as fh:
        queries = {r[0]: r[1] for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if len(r) >= 2}
    qrels: dict[str, set[int]] = {}
    with open(need[2], encoding="utf-8", newline="") as fh:
        for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(r) >= 4 and r[3].strip() != "0":
                qrels.setdefault(r[0], set()).add(row_of[r[2]])
    dev_ids = sorted(qrels)
    missing_q = [q for q in dev_ids if q not in queries]
    if missing_q:
        raise SystemExit(f"{len(missing_q)} dev qrel ids have no query text, e.g. {missing_q[0]}")
    tweets = list(queries.values())
    dev_texts = [queries[q] for q in dev_ids]
    return tweets, claim_texts, dev_texts, {str(i): qrels[q] for i, q in enumerate(dev_ids)}


def map_at_5(scores: np.ndarray, qrels: dict[str, set[int]]) -> float:
    aps = []
    for i in range(scores.shape[0]):
        rel = qrels[str(i)]
        top = np.argsort(-scores[i], kind="stable")[:5]
        hits, ap = 0, 0.0
        for rank, doc in enumerate(top.tolist(), start=1):
            if doc in rel:
                hits += 1
                ap += hits / rank
        aps.append(ap / len(rel))
    return float(np.mean(aps))


def timed(enc: Encoder, texts: list[str], repeats: int = 1) -> dict[str, float]:
    """Sentences per wall-clock second (best, median) and per CPU-second of this process (best).

    The CPU-second rate is less sensitive to other processes taking cores; with one thread it
    is what one core does."""
    rates, cpu_rates = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        enc.encode(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
        cpu_rates.append(len(texts) / max(time.process_time() - c0, 1e-9))
    return {
        "best": round(max(rates), 1),
        "median": round(statistics.median(rates), 1),
        "per_cpu_second": round(max(cpu_rates), 1),
    }


def cos_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    c = (a * b).sum(axis=1)
    return {"mean": round(float(c.mean()), 5), "min": round(float(c.min()), 5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument(
        "--configs",
        default="torch,onnx,onnx-int8",
        help="comma-separated backends, each optionally @max_seq_length (e.g. onnx-int8@128)",
    )
    ap.add_argument("--repeats", type=int, default=2, help="timed passes per measurement (best and median kept)")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for torch and ONNX Runtime (default: torch's own, ONNX Runtime all CPUs)",
    )
    ap.add_argument("--speed-only", action="store_true", help="skip MAP@5 (which encodes all 14,231 claims)")
    args = ap.parse_args()

    tweets, claims, dev_texts, qrels = load_data(args.datasets)
    speed_claims = claims[:N_CLAIMS_SPEED]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if "torch" not in configs:
        configs.insert(0, "torch")  # the float32 reference for the cosines
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    result: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch_threads": torch.get_num_threads(),
            "onnx_threads": args.threads or "all CPUs",
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "data": {
            "tweets": len(tweets),
            "speed_claims": len(speed_claims),
            "claims": len(claims),
            "dev_queries": len(dev_texts),
        },
        "batch_size": 64,
        "repeats": args.repeats,
        "backends": {},
    }
    encoders: dict[str, Encoder] = {}
    rows: dict[str, dict] = result["backends"]
    for cfg in configs:
        backend, _, msl = cfg.partition("@")
        enc = Encoder(backend=backend, batch_size=64, max_seq_length=int(msl) if msl else None, threads=args.threads)
        log(f"[{cfg}] loading {enc.name}")
        t0 = time.perf_counter()
        enc.encode(tweets[:64])  # load (+ export on first use) and warm up
        rows[cfg] = {"name": enc.name, "load_seconds": round(time.perf_counter() - t0, 2)}
        if enc.cache_path is not None:
            meta = json.loads((enc.cache_path / META).read_text())
            rows[cfg]["export_seconds"] = meta.get("export_seconds")
            rows[cfg]["model_file_mb"] = round((enc.cache_path / "model.onnx").stat().st_size / 2**20, 1)
        encoders[cfg] = enc
    # Timed passes round-robin over the configurations, so that other work on the machine
    # slows them alike rather than whichever happened to run at the time.
    for what, texts in (("tweets_per_s", tweets), ("claims_per_s", speed_claims)):
        passes: dict[str, list[dict[str, float]]] = {cfg: [] for cfg in configs}
        for rep in range(args.repeats):
            for cfg, enc in encoders.items():
                passes[cfg].append(timed(enc, texts, 1))
            log(
                f"timing {what} pass {rep + 1}/{args.repeats}: "
                + ", ".join(f"{c} {p[-1]['best']}" for c, p in passes.items())
            )
        for cfg, p in passes.items():
            walls = [x["best"] for x in p]
            rows[cfg][what] = {
                "best": max(walls),
                "median": round(statistics.median(walls), 1),
                "per_cpu_second": max(x["per_cpu_second"] for x in p),
            }
    ref: dict[str, np.ndarray] = {}
    for cfg, enc in encoders.items():
        row = rows[cfg]
        tweet_emb = enc.encode(tweets)
        row["shape_dtype"] = [list(tweet_emb.shape), str(tweet_emb.dtype)]
        if cfg == "torch":
            ref["tweets"] = tweet_emb
        row["cos_vs_torch_tweets"] = cos_stats(tweet_emb, ref["tweets"])
        if not args.speed_only:
            log(f"[{cfg}] encoding {len(claims)} claims for MAP@5")
            t0 = time.perf_counter()
            claim_emb = enc.encode(claims)
            row["all_claims_per_s_unpaired"] = round(len(claims) / (time.perf_counter() - t0), 1)
            if cfg == "torch":
                ref["claims"] = claim_emb
            row["cos_vs_torch_claims"] = cos_stats(claim_emb, ref["claims"])
            row["map5_dense_dev"] = round(map_at_5(enc.encode(dev_texts) @ claim_emb.T, qrels), 4)
        log(f"[{cfg}] {json.dumps(row)}")
    base = result["backends"]["torch"]
    for row in result["backends"].values():
        row["speedup_tweets"] = round(row["tweets_per_s"]["best"] / base["tweets_per_s"]["best"], 2)
        row["speedup_claims"] = round(row["claims_per_s"]["best"] / base["claims_per_s"]["best"], 2)
        if "map5_dense_dev" in row:
            row["map5_delta"] = round(row["map5_dense_dev"] - base["map5_dense_dev"], 4)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
