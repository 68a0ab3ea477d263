"""The same batch functions on Ray Data (the ``claimwatch[ray]`` extra).

``read_parquet`` → ``map_batches(BatchMatcher, concurrency=N)`` (one actor per worker, each
holding its models) → ``write_parquet``. Without ``address`` Ray starts on this machine with
``num_cpus=workers``; with one, it joins that cluster (whose nodes must read the index and model
paths the run was planned with). Ray writes its own part names: a re-run into the same folder
is not resumed (the local runner's is).

Chunks: Ray Data splits a single file evenly into blocks whatever its row groups, so its batches
would hold other posts than ``match``'s 1,024-post chunks, and the encoder's int8 dynamic
quantisation makes ~5 % of proposals near the threshold depend on that. A folder of part files cut
at multiples of 1,024 posts (``export posts --parquet DIR --part-rows N``) is read one block per
file, in order: the batches are then exactly the local runner's (tested). Other input is matched
with Ray's own blocks, and the run says so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from claimwatch.batch.inputs import checked_files
from claimwatch.batch.local import RunReport
from claimwatch.batch.matcher import BatchMatcher, MatcherSpec
from claimwatch.batch.schema import POSTS, BatchInputError

INSTALL_HINT = "--engine ray needs Ray: pip install 'claimwatch[ray]'"


class RayMissing(RuntimeError):
    pass


class RayRunFailed(RuntimeError):
    """A Ray run that failed: the first line of Ray's reason (its traceback is in Ray's logs)."""


def require_ray() -> Any:
    """The ray module, or :class:`RayMissing` saying what to install."""
    try:
        import ray
        import ray.data  # noqa: F401 - the 'data' part of the extra
    except ImportError:
        raise RayMissing(INSTALL_HINT) from None
    return ray


def run_ray(
    target: Path,
    out: Path,
    spec: MatcherSpec,
    *,
    workers: int,
    batch_size: int,
    address: str | None = None,
    object_store_mb: int | None = None,
) -> RunReport:
    ray = require_ray()
    files = checked_files(target, POSTS)  # refused here, with the file named, not deep in a Ray task
    if out.exists() and any(out.iterdir()):
        raise BatchInputError(f"{out} is not empty; give a new or empty --out folder for a Ray run")
    report = RunReport()
    start = time.perf_counter()
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=None if object_store_mb is None else object_store_mb * 1024 * 1024,
            )
    except Exception as exc:  # noqa: BLE001 - a cluster that cannot be reached, a local Ray that cannot start
        raise RayRunFailed(f"Ray could not start or connect: {_first_line(exc)}") from None
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # Reading and writing take no CPU of the budget: with one actor per CPU, a read task
        # waiting for a free CPU would wait for ever (the actors hold them all). Ray 2.60's
        # default (v2) Parquet reader lists files in a task that always asks for one CPU.
        ctx.use_datasource_v2 = False
        aligned = chunk_aligned(files, batch_size, workers)
        if aligned:
            ctx.execution_options.preserve_order = True  # the last, shorter part stays last
        else:
            report.notes.append(ALIGN_NOTE.format(batch_size=batch_size))
        ds = ray.data.read_parquet(
            [str(p) for p in files],
            columns=POSTS.names,
            num_cpus=0,
            **({"override_num_blocks": len(files)} if aligned else {}),
        )
        ds = ds.map_batches(
            BatchMatcher,
            fn_constructor_kwargs={"spec": spec},
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            batch_format="pyarrow",
            batch_size=batch_size,
        )
        try:
            ds.write_parquet(str(out), ray_remote_args={"num_cpus": 0})
        except Exception as exc:  # noqa: BLE001 - Ray wraps the worker's error in its own types
            raise RayRunFailed(f"the Ray run failed: {_first_line(exc)}") from None
        parts = sorted(out.glob("*.parquet"))
        report.posts = sum(pq.read_metadata(p).num_rows for p in parts)
        report.parts_written = len(parts)
    finally:
        ray.shutdown()
    report.seconds = time.perf_counter() - start
    return report


ALIGN_NOTE = (
    "Ray cut this input into blocks of its own, so ~5 % of proposals near the threshold may differ from the "
    "local runner's and `match`'s; for the same chunks export with --part-rows (a multiple of {batch_size:,}, "
    "at least as many parts as workers)"
)


def chunk_aligned(files: list[Path], batch_size: int, workers: int) -> bool:
    """Whether the input is part files Ray can read one block each with ``match``'s chunks: at least
    one per worker (else some would idle), every one but the last a multiple of ``batch_size`` posts."""
    if len(files) < max(workers, 2):
        return False
    rows = [pq.read_metadata(p).num_rows for p in files]
    return all(n % batch_size == 0 for n in rows[:-1])


def _first_line(exc: BaseException) -> str:
    """The innermost reason of a Ray error (its message carries the remote traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
