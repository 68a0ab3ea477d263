"""Benchmark: the media bank's PDQ index (``claimwatch.media.index``) — queries a second, recall
of planted near-duplicates, build and cache-load time, and resident memory.

    python benchmarks/media_index.py [--hashes 1000000] [--kind multihash|flat] [--queries 2000]
        [--batch 1000] [--seed 14] [--json] [--through-store]

The bank is ``--hashes`` synthetic "random-ish" PDQ hashes (seeded): real PDQ hashes are not
uniform (similar pictures share bits), so each is one of 50,000 random centres with every bit
flipped with probability 0.25 (members of a cluster differ in ~96 bits, centres in ~128): the
multi-index buckets fill unevenly, as with real photos. Queries: half are **planted
near-duplicates** — a bank hash with 0–31 random bits flipped (the match radius), whose recall
must be 100 % — and half unrelated random hashes, whose hits are counted as false matches.
Queries go in batches of ``--batch`` through ``PdqIndex.search`` (FAISS ``range_search``) on
FAISS's OpenMP threads (the machine's cores). Reported per wall second and per CPU second (the
process's CPU time on all threads), with the load average when the queries started: on a shared
machine the wall figure says more about the neighbours than about the index.

Memory (``/proc/self/status`` VmRSS): before building (Python, numpy, FAISS loaded), after
building (the index's share is the difference), the peak while building (VmHWM: the
generator's chunks on top), and the RSS a cached index adds when loaded in a fresh interpreter
(what a ``match`` run holds; the load reads the file whole, so its peak is higher). The bank's hashes are generated and added a chunk at a time,
so no full copy of them is held beside the index.

``--through-store``: the bank in a temporary SQLite store instead (1,000 items), and the time
``bank_index`` takes to build the index from it and cache it, then to load it from the cache —
what a ``match`` run pays the first time and every later time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from claimwatch.media.index import DEFAULT_MAX_DISTANCE, KINDS, MULTIHASH, PdqIndex

CENTRES = 50_000
FLIP_P = 0.25
CHUNK = 100_000


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    """Current resident set (VmRSS), MB."""
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """Peak resident set of this program (VmHWM, MB): unlike ``ru_maxrss`` it starts afresh at
    exec, so the fresh interpreter of the cache figure does not report its parent's peak."""
    return _status_mb("VmHWM")


def _bank_chunk(rng: np.random.Generator, centres: np.ndarray, start: int, n: int) -> list[tuple[int, bytes]]:
    bits = np.unpackbits(centres[rng.integers(0, len(centres), n)], axis=1)
    bits ^= (rng.integers(0, round(1 / FLIP_P), bits.shape, dtype=np.uint8) == 0).astype(np.uint8)
    codes = np.packbits(bits, axis=1)
    return list(zip(range(start, start + n), (bytes(row) for row in codes), strict=True))


def _flip(rng: np.random.Generator, code: bytes, k: int) -> bytes:
    bits = np.unpackbits(np.frombuffer(code, dtype=np.uint8))
    bits[rng.choice(256, size=k, replace=False)] ^= 1
    return np.packbits(bits).tobytes()


def run(hashes: int, kind: str, queries: int, batch: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (CENTRES, 32), dtype=np.uint8)
    planted_n = queries // 2
    # which bank hashes get a planted near-duplicate (ids are 1-based, like store ids)
    planted_ids = set(rng.choice(hashes, size=planted_n, replace=False) + 1)
    planted: list[tuple[int, bytes]] = []
    rss_before = _rss_mb()

    def chunks():
        for start in range(1, hashes + 1, CHUNK):
            chunk = _bank_chunk(rng, centres, start, min(CHUNK, hashes + 1 - start))
            planted.extend((i, v) for i, v in chunk if i in planted_ids)
            yield chunk

    t0 = time.perf_counter()
    index = PdqIndex.build(chunks(), kind=kind, version=f"bench-{hashes}-{seed}")
    build_s = time.perf_counter() - t0
    rss_built, peak_built = _rss_mb(), _peak_mb()

    flips = rng.integers(0, DEFAULT_MAX_DISTANCE + 1, len(planted))
    near = [_flip(rng, v, int(k)) for (_, v), k in zip(planted, flips, strict=True)]
    unrelated = [bytes(r) for r in rng.integers(0, 256, (queries - len(near), 32), dtype=np.uint8)]
    query_codes = near + unrelated

    load_before = os.getloadavg()[0]
    t0, cpu0 = time.perf_counter(), time.process_time()
    found: dict[int, set[int]] = {}
    hits_total = 0
    for start in range(0, len(query_codes), batch):
        rows, ids, _ = index.search(query_codes[start : start + batch])
        hits_total += len(rows)
        for r, i in zip(rows.tolist(), ids.tolist(), strict=True):
            found.setdefault(start + r, set()).add(i)
    query_s, query_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    recalled = sum(1 for q, (i, _) in enumerate(planted) if i in found.get(q, set()))
    false_queries = sum(1 for q in range(len(near), len(query_codes)) if found.get(q))

    # the cache: what a later ``match`` run does (load instead of build), with the built index gone
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pdqidx"
        t0 = time.perf_counter()
        index.save(path)
        save_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        version, n = index.version, len(index)
        del index
        # in a fresh interpreter: this one's heap keeps what the built index freed
        out = subprocess.run(
            [sys.executable, __file__, "--load", str(path), "--version", version, "--kind", kind],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        loaded = json.loads(out)
        assert loaded["ntotal"] == n

    return dict(
        hashes=hashes,
        kind=kind,
        faiss=faiss.__version__,
        threads=faiss.omp_get_max_threads(),
        queries=len(query_codes),
        planted=len(planted),
        batch=batch,
        build_s=round(build_s, 2),
        queries_per_s=round(len(query_codes) / query_s),
        # CPU seconds the queries took on all threads: on a machine shared with other jobs the wall
        # figure falls with the load; this one does not (2 free cores give about twice it)
        queries_per_cpu_s=round(len(query_codes) / query_cpu_s),
        load_average_1min=round(load_before, 1),
        recall_planted=recalled / len(planted) if planted else None,
        unrelated_queries_with_a_hit=false_queries,
        hits=hits_total,
        cache_file_mb=round(size_mb, 1),
        cache_save_s=round(save_s, 2),
        cache_load_s=loaded["load_s"],
        rss_before_mb=round(rss_before),
        rss_built_mb=round(rss_built),
        peak_rss_while_building_mb=round(peak_built),
        index_rss_mb=round(rss_built - rss_before),
        loaded_index_rss_mb=loaded["index_rss_mb"],
        loaded_peak_rss_mb=loaded["peak_rss_mb"],
        peak_rss_mb=round(_peak_mb()),
    )


def through_store(hashes: int, kind: str, seed: int, items: int = 1000) -> dict:
    """What ``match`` pays for the index: the bank in a SQLite store (``items`` items sharing the
    hashes), ``bank_index`` built from it (keyset pages) and cached, then loaded from the cache."""
    import claimwatch
    from claimwatch.media.hashlist import ListedPdq
    from claimwatch.media.index import bank_index
    from claimwatch.store import media_bank
    from claimwatch.store.db import writing
    from claimwatch.store.media_bank import BankFactCheck, NewBankItem

    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 256, (CENTRES, 32), dtype=np.uint8)
    per_item = hashes // items
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CLAIMWATCH_CACHE_DIR"] = str(Path(tmp) / "cache")
        engine = claimwatch.open(Path(tmp) / "bank.db").engine
        fc = BankFactCheck("https://example.org/fc/bench", "synthetic", "False", "false", "table", raw={})
        t0 = time.perf_counter()
        with writing(engine) as conn:
            for n in range(items):
                key = f"bench-{n}"
                fc_id = media_bank.put_bank_factcheck(conn, key, fc)
                chunk = _bank_chunk(rng, centres, 0, per_item)
                pdq = [ListedPdq(v, 90) for _, v in chunk]
                media_bank.put_item(conn, NewBankItem("image", "manipulated", "bench", key), fc_id, pdq)
        store_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        built = bank_index(engine, kind=kind)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = bank_index(engine, kind=kind)
        cached_s = time.perf_counter() - t0
        assert len(built) == len(again) == per_item * items
        engine.dispose()
    return dict(
        hashes=per_item * items,
        kind=kind,
        store_write_s=round(store_s, 1),
        index_from_store_and_cache_s=round(first_s, 1),
        index_from_cache_s=round(cached_s, 1),
    )


def load_only(path: Path, version: str, kind: str) -> dict:
    """What a ``match`` run's process holds after loading the cached index."""
    before = _rss_mb()
    t0 = time.perf_counter()
    index = PdqIndex.load(path, version, kind)
    load_s = time.perf_counter() - t0
    assert index is not None
    return dict(
        ntotal=len(index),
        load_s=round(load_s, 2),
        index_rss_mb=round(_rss_mb() - before),
        peak_rss_mb=round(_peak_mb()),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hashes", type=int, default=1_000_000)
    ap.add_argument("--kind", choices=KINDS, default=MULTIHASH)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--through-store", action="store_true", help="time bank_index on a SQLite bank instead")
    ap.add_argument("--load", type=Path, help=argparse.SUPPRESS)  # the fresh-process half of the cache figure
    ap.add_argument("--version", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.load:
        json.dump(load_only(a.load, a.version, a.kind), sys.stdout)
        return
    if a.through_store:
        res = through_store(a.hashes, a.kind, a.seed)
    else:
        res = run(a.hashes, a.kind, a.queries, a.batch, a.seed)
    if a.json:
        json.dump(res, sys.stdout)
        print()
    else:
        for k, v in res.items():
            print(f"{k:32} {v}")


if __name__ == "__main__":
    main()
