"""Benchmark: `claimwatch batch run` (local and Ray) and `batch import` on 20,000 posts against the
14,231 CheckThat! 2022 Snopes claims.

    python benchmarks/batch_throughput.py [--posts 20000] [--workers 2] [--datasets ../shared/datasets]
        [--out /tmp/batch-bench] [--no-ray] [--with-match] [--part-rows 2048]

The data is ``benchmarks/ingest_match_100k.py``'s (same generator, same seed): a fifth of the posts
are CheckThat! training tweets, lightly varied; the rest synthetic chatter. Every command runs as
users run it, in a process of its own, timed from process start to exit:

- ``export posts --parquet`` (the posts the run reads);
- ``batch run --engine local --workers N``: ``local_posts_per_s`` over the whole command;
  ``local_posts_per_s_after_startup`` leaves out starting the worker processes and loading their
  models (the command reports when the last worker was ready);
- ``batch run --engine ray --workers N`` on a local Ray with N CPUs, over the same posts exported as
  part files of ``--part-rows`` posts (so Ray cuts the local runner's chunks;
  ``ray_result_rows_differing_from_local`` counts result rows that are not identical); its fixed
  start-up (starting Ray, the actors and their models) is measured by a run over 1 post and left out
  of ``ray_posts_per_s_after_startup``;
- ``batch import`` (the store writes ``match`` would do), and a second import (adds nothing).

``stages`` measures, in this process with one single-threaded worker's models, the CPU seconds per
1,000 posts of each stage (encoding; analysis + search + proposals + evidence; Arrow conversion),
and the peak RSS of a process holding them. ``*_peak_rss_mb`` sample the commands' processes (the
command itself, its largest worker, all together). ``--with-match`` also times ``claimwatch match`` on a copy of the store
(the same posts, the one-machine path) for a same-load comparison. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from ingest_match_100k import synthetic_archive, vclaims_as_claimreview

import claimwatch
from claimwatch.batch.convert import normalised_posts, posts_of, results_batch
from claimwatch.batch.matcher import BatchMatcher, plan

#: Peak resident memory (MB) seen by :func:`_cli` in the last command: its own process, each
#: worker (local worker processes, Ray's MapWorker actors), and all of its processes together.
PEAK_RSS: dict[str, int] = {}
#: CPU seconds the last command's worker processes and all of its processes used (sampled: a
#: process's last 0.2 s may be missed).
CPU_S: dict[str, float] = {}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cli(*args: str) -> tuple[str, float]:
    """Run ``claimwatch ARGS`` in a process of its own: (stdout, wall seconds); samples the memory
    of it and its descendants every 0.2 s into :data:`PEAK_RSS`."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "claimwatch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    PEAK_RSS.clear()
    CPU_S.clear()
    peak = {"command": 0, "worker": 0, "all": 0}
    cpu: dict[int, tuple[float, str]] = {}
    while proc.poll() is None:
        seen = _tree(proc.pid)
        peak["command"] = max(peak["command"], seen.get(proc.pid, (0, 0.0, ""))[0])
        peak["worker"] = max([peak["worker"], *(mb for mb, _, kind in seen.values() if kind == "worker")])
        peak["all"] = max(peak["all"], sum(mb for mb, _, _ in seen.values()))
        cpu |= {pid: (s, kind) for pid, (_, s, kind) in seen.items()}
        time.sleep(0.2)
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    PEAK_RSS.update(peak)
    CPU_S["workers"] = round(sum(s for s, kind in cpu.values() if kind == "worker"), 1)
    CPU_S["all"] = round(sum(s for s, _ in cpu.values()), 1)
    if proc.returncode != 0:
        raise SystemExit(f"claimwatch {' '.join(args)} failed ({proc.returncode}): {err.strip()[-2000:]}")
    return out.strip(), wall


def _tree(root: int) -> dict[int, tuple[int, float, str]]:
    """pid → (RSS in MB, CPU seconds so far, "worker" or "other") for ``root`` and its descendants
    (Linux /proc)."""
    parent: dict[int, int] = {}
    ticks: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent[int(stat.parent.name)] = int(fields[1])
            ticks[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        kids = [pid for pid, pp in parent.items() if pp in frontier and pid not in tree]
        tree.update(kids)
        frontier = kids
    out = {}
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        if rss:
            worker = "multiprocessing.spawn" in cmd or "MapWorker" in cmd
            out[pid] = (int(rss.group(1)) // 1024, ticks.get(pid, 0.0), "worker" if worker else "other")
    return out


def _stages(ws: claimwatch.Workspace, posts: Path, n: int) -> dict[str, float]:
    """CPU seconds per 1,000 posts of each stage, one worker's models single-threaded (as a batch
    worker runs them), over the first ``n`` posts; and that worker's peak RSS."""
    matcher = BatchMatcher(plan(ws))
    m = matcher.matching
    table = pq.read_table(posts).slice(0, n)
    enc = res = conv = 0.0
    done = 0
    for batch in normalised_posts(table).to_batches(max_chunksize=1024):
        chunk, keys = posts_of(batch)
        t0 = time.process_time()
        embedded = m.embed(chunk)
        t1 = time.process_time()
        results = m.results(chunk, embedded)
        t2 = time.process_time()
        results_batch(results, keys, m.version, matcher.models, matcher.spec.factchecks)
        t3 = time.process_time()
        enc, res, conv, done = enc + t1 - t0, res + t2 - t1, conv + t3 - t2, done + len(chunk)
    per_k = 1000 / done
    return {
        "posts": done,
        "encode_cpu_s_per_1k": round(enc * per_k, 2),
        "search_analysis_cpu_s_per_1k": round(res * per_k, 2),
        "arrow_cpu_s_per_1k": round(conv * per_k, 2),
        "one_worker_posts_per_cpu_s": round(done / (enc + res + conv)),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    ap.add_argument("--out", type=Path, default=Path("/tmp/batch-bench"))
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--with-match", action="store_true")
    ap.add_argument("--stage-posts", type=int, default=4096)
    ap.add_argument("--part-rows", type=int, default=2048, help="posts per part file of the Ray input")
    args = ap.parse_args()
    ct = args.datasets / "clef2022-checkthat-task2a-tweets-snopes"
    if not (ct / "vclaims.jsonl").is_file():
        raise SystemExit(f"CheckThat! 2022 2A data not found under {ct}; see ingest_match_100k.py for where to get it")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with open(ct / "train" / "CT2022-Task2A-EN-Train-Dev_Queries.tsv", encoding="utf-8") as fh:
        tweets = [row[1] for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if len(row) > 1]
    archive, claims, db = args.out / "archive.jsonl", args.out / "claims.json", args.out / "bench.db"
    synthetic_archive(archive, args.posts, tweets)
    n_claims = vclaims_as_claimreview(ct / "vclaims.jsonl", claims)
    ws = claimwatch.open(db)
    ws.ingest_factchecks([claims])
    ws.ingest_posts([archive])
    ws.build_index()
    if args.with_match:  # before anything else writes to the store: a copy to match the one-machine way
        shutil.copy(db, args.out / "match.db")
    posts = args.out / "posts.parquet"
    _, export_s = _cli("export", "posts", "--parquet", str(posts), "--db", str(db), "--pending")
    result: dict[str, object] = {
        "posts": args.posts,
        "factchecks": n_claims,
        "workers": args.workers,
        "model": ws.encoder.name,
        "export_s": round(export_s, 1),
    }

    line, wall = _cli("batch", "run", str(posts), "--out", str(args.out / "local"), "--db", str(db),
                      "--workers", str(args.workers))  # fmt: skip
    startup = float(re.search(r"\(([\d.]+) s starting workers", line).group(1))  # type: ignore[union-attr]
    result |= {
        "local_s": round(wall, 1),
        "local_posts_per_s": round(args.posts / wall),
        "local_startup_s": round(startup, 1),
        "local_posts_per_s_after_startup": round(args.posts / (wall - startup)),
        "local_summary": line,
        "local_peak_rss_mb": dict(PEAK_RSS),
        "local_cpu_s": dict(CPU_S),
        "local_posts_per_worker_cpu_s": round(args.posts / CPU_S["workers"]),
    }

    if not args.no_ray:
        one = args.out / "one.parquet"
        pq.write_table(pq.read_table(posts).slice(0, 1), one)
        _, ray_startup = _cli("batch", "run", str(one), "--out", str(args.out / "ray1"), "--db", str(db),
                              "--engine", "ray", "--workers", str(args.workers))  # fmt: skip
        # part files cut at matching's chunks: Ray reads one block each and cuts the local runner's batches
        parts = args.out / "parts"
        _cli("export", "posts", "--parquet", str(parts), "--db", str(db), "--pending",
             "--part-rows", str(args.part_rows))  # fmt: skip
        line, wall = _cli("batch", "run", str(parts), "--out", str(args.out / "ray"), "--db", str(db),
                          "--engine", "ray", "--workers", str(args.workers))  # fmt: skip
        got = pq.read_table(args.out / "ray").sort_by("post_id")
        want = pq.read_table(args.out / "local").sort_by("post_id")
        differ = sum(a != b for a, b in zip(got.to_pylist(), want.to_pylist(), strict=True))
        result |= {
            "ray_input": f"{len(list(parts.iterdir()))} part files of {args.part_rows} posts",
            "ray_result_rows_differing_from_local": differ,
            "ray_s": round(wall, 1),
            "ray_posts_per_s": round(args.posts / wall),
            "ray_startup_s": round(ray_startup, 1),
            "ray_posts_per_s_after_startup": round(args.posts / (wall - ray_startup)),
            "ray_peak_rss_mb": dict(PEAK_RSS),
            "ray_cpu_s": dict(CPU_S),
            "ray_posts_per_worker_cpu_s": round(args.posts / CPU_S["workers"]),
        }

    line, wall = _cli("batch", "import", str(args.out / "local"), "--db", str(db))
    again, wall2 = _cli("batch", "import", str(args.out / "local"), "--db", str(db))
    result |= {
        "import_s": round(wall, 1),
        "import_posts_per_s": round(args.posts / wall),
        "import_summary": line,
        "import_peak_rss_mb": PEAK_RSS["command"],
        "import_cpu_s": CPU_S["all"],
        "reimport_s": round(wall2, 1),
        "reimport_summary": again,
    }
    if args.with_match:
        line, wall = _cli("match", "--db", str(args.out / "match.db"))
        result |= {
            "match_s": round(wall, 1),
            "match_posts_per_s": round(args.posts / wall),
            "match_summary": line,
            "match_peak_rss_mb": PEAK_RSS["command"],
            "match_cpu_s": CPU_S["all"],
        }
    result["stages"] = _stages(ws, posts, args.stage_posts)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
