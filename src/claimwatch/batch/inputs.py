"""Where a batch run's posts come from: Parquet files, read one row group at a time.

A file that is not Parquet, or lacks a column of :data:`schema.POSTS` (or has it in another
type), is refused as a whole with one line naming it; a row group that cannot be read is
reported (file and row group) and the rest of the file is still used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from claimwatch.batch.schema import BatchInputError, check_schema


@dataclass(frozen=True, slots=True)
class Part:
    """One unit of work: a slice of one row group, and the results file it becomes."""

    name: str
    batch: pa.RecordBatch


def parquet_files(target: Path) -> list[Path]:
    """``target`` itself, or the ``*.parquet`` files in it (sorted: parts are named by position)."""
    if target.is_dir():
        files = sorted(p for p in target.glob("*.parquet") if not p.name.startswith("."))
        if not files:
            raise BatchInputError(f"{target}: no .parquet files in this folder")
        return files
    if not target.exists():
        raise BatchInputError(f"{target}: no such file or folder")
    return [target]


def checked_files(target: Path, expected: pa.Schema) -> list[Path]:
    """The Parquet files of ``target``, each checked to hold ``expected``'s columns: a run or import
    refuses bad input before it loads a model or touches a store."""
    files = parquet_files(target)
    for path in files:
        open_parquet(path, expected)
    return files


def open_parquet(path: Path, expected: pa.Schema) -> pq.ParquetFile:
    """The file, its columns checked against ``expected``; one line naming it when unusable."""
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise BatchInputError(f"{path}: not a Parquet file ({_reason(exc)})") from None
    check_schema(pf.schema_arrow, expected, str(path))
    return pf


def read_batches(
    path: Path, expected: pa.Schema, batch_size: int, problems: list[str]
) -> Iterator[tuple[int, int, pa.RecordBatch]]:
    """``(row group, batch number in it, batch)`` of ``path``'s ``expected`` columns; a row group
    that cannot be read is noted in ``problems`` and skipped."""
    pf = open_parquet(path, expected)
    for group in range(pf.num_row_groups):
        try:
            for k, batch in enumerate(pf.iter_batches(batch_size, row_groups=[group], columns=expected.names)):
                yield group, k, batch
        except (pa.ArrowException, OSError) as exc:
            problems.append(f"{path} row group {group}: cannot be read ({_reason(exc)}); its rows were skipped")


def _reason(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
