"""The default batch runner: this machine's cores, one worker process per core.

Each worker holds its own :class:`~claimwatch.batch.matcher.BatchMatcher` (its models loaded once,
single-threaded ONNX sessions: N processes on N cores keep every core busy with no thread
contention and no GIL between them). The parent reads the input a row group at a time and hands
out batches of :data:`~claimwatch.claims.retrieval.STREAM_BATCH` posts; each result is a Parquet
part file written under a temporary name and renamed, so a part either exists whole or not at
all, and a re-run skips the parts already written (restartable).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from claimwatch import atomic
from claimwatch.batch.inputs import checked_files, read_batches
from claimwatch.batch.matcher import BatchMatcher, MatcherSpec
from claimwatch.batch.schema import POSTS, BatchInputError

#: Records what a results folder holds, so a re-run into it is the same run (or refused).
MANIFEST = "_batch_run.json"


@dataclass
class RunReport:
    posts: int = 0
    parts_written: int = 0
    #: parts already in the folder from an earlier, interrupted run
    parts_skipped: int = 0
    #: seconds from the start until every worker had its models loaded (process start included)
    load_seconds: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    #: what the user should know about the run that is no problem (printed as notes)
    notes: list[str] = field(default_factory=list)

    def summary(self, workers: int, engine: str) -> str:
        skipped = f", {self.parts_skipped} part(s) already there" if self.parts_skipped else ""
        timing = f"{self.seconds:.1f} s"
        if self.load_seconds:
            rate = self.posts / max(self.seconds - self.load_seconds, 1e-9)
            timing += f" ({self.load_seconds:.1f} s starting workers and loading models, {rate:,.0f} posts/s after)"
        return (
            f"batch run ({engine}, {workers} worker(s)): {self.posts:,} posts in {self.parts_written} part(s)"
            f"{skipped}, {timing}"
        )


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_local(
    target: Path,
    out: Path,
    spec: MatcherSpec,
    *,
    workers: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Match every post of ``target`` (a Parquet file or a folder of them) into part files in ``out``."""
    files = checked_files(target, POSTS)
    _claim_folder(out, files, spec, batch_size)
    spec = replace(spec, threads=max(1, default_workers() // workers))
    report = RunReport()
    start = time.time()  # wall clock: compared with the workers' ready times
    with ProcessPoolExecutor(
        max_workers=workers,
        # spawn: a worker must not inherit the parent's threads or ONNX sessions through fork
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_load,
        initargs=(spec,),
    ) as pool:
        pending: deque[Future[tuple[int, float]]] = deque()
        for n, path in enumerate(files):
            for group, k, batch in read_batches(path, POSTS, batch_size, report.problems):
                dest = out / f"part-{n:04d}-{path.stem[:40]}-rg{group:05d}-{k:05d}.parquet"
                if dest.exists():
                    report.parts_skipped += 1
                    continue
                pending.append(pool.submit(_match_part, batch, dest))
                while len(pending) >= 2 * workers:  # bounded: the input is never all in memory
                    _collect(pending.popleft(), report, start, progress)
        while pending:
            _collect(pending.popleft(), report, start, progress)
    report.seconds = time.time() - start
    return report


def _collect(
    fut: Future[tuple[int, float]], report: RunReport, start: float, progress: Callable[[int], None] | None
) -> None:
    rows, ready = fut.result()
    report.posts += rows
    report.parts_written += 1
    if ready:
        report.load_seconds = max(report.load_seconds, ready - start)
    if progress:
        progress(report.posts)


def _claim_folder(out: Path, files: list[Path], spec: MatcherSpec, batch_size: int) -> None:
    """Create ``out`` or check it holds parts of this same run (input files, batch size, index)."""
    run = {
        "inputs": [
            {"path": str(p.resolve()), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files
        ],
        "batch_size": batch_size,
        "index_version": spec.version,
        "settings": {k: v for k, v in asdict(spec.settings).items() if k not in ("db",)},
        "topics": spec.topics,
    }
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            earlier = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = None
        if earlier != json.loads(json.dumps(run, default=str)):
            raise BatchInputError(
                f"{out} holds results of another run (other input, batch size, index or settings); "
                "give a new --out folder"
            )
        return
    if out.exists() and any(out.iterdir()):
        raise BatchInputError(f"{out} is not empty and holds no batch run; give a new or empty --out folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(manifest, json.dumps(run, default=str, indent=1))


# ------------------------------------------------------------------------ in the worker processes

_matcher: BatchMatcher | None = None
#: when this worker's models were loaded (wall clock), reported with its first part
_ready_at = 0.0
_load_error: str | None = None


class WorkerFailed(RuntimeError):
    """A worker could not load its models (the reason, one line)."""


def _load(spec: MatcherSpec) -> None:
    """Load the models; a failure is kept and raised by the first task (an initializer's own
    exception would only break the pool, its reason lost)."""
    global _matcher, _ready_at, _load_error
    try:
        _matcher = BatchMatcher(spec)
    except Exception as exc:  # noqa: BLE001 - reported to the parent by _match_part
        _load_error = str(exc) or type(exc).__name__
    _ready_at = time.time()


def _match_part(batch: pa.RecordBatch, dest: Path) -> tuple[int, float]:
    """Match one batch and write its part whole (temporary name, then renamed); returns its rows
    and, from a worker's first part, when the worker was ready."""
    global _ready_at
    if _matcher is None:
        raise WorkerFailed(f"a worker could not load the models: {_load_error}")
    results = _matcher(batch)
    with atomic.replacing(dest, "wb") as fh:
        pq.write_table(pa.Table.from_batches([results]), fh)
    ready, _ready_at = _ready_at, 0.0  # reported once per worker
    return results.num_rows, ready
