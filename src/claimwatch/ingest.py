"""Ingest: files → readers → records → store, in atomic batches.

Guarantees (each has a test): one bad record never stops a file; every bad record is
quarantined with file, location and reason; every valid record lands; re-running the
same ingest changes nothing; a run killed midway leaves only whole batches, and
re-running it completes the store without duplicates.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.sources import (
    FACTCHECK_FORMATS,
    POST_FORMATS,
    detect_factcheck_format,
    detect_post_format,
)
from claimwatch.sources.base import FormatError, ReadContext, clip_raw
from claimwatch.store import repo
from claimwatch.verdicts import VerdictTable

DEFAULT_BATCH = 1000

#: Called after each committed batch with (file, records read so far in that file).
ProgressFn = Callable[[Path, int], None]


@dataclass
class FileReport:
    path: str
    format: str | None = None
    observed_at: str | None = None
    #: where the fallback observation time came from: "--observed-at" or "file modification time"
    observed_at_source: str | None = None
    #: observation times the source itself carried (e.g. twarc2 ``__twarc.retrieved_at``)
    source_observed_at: list[str] = field(default_factory=list)
    read: int = 0
    rejected: int = 0
    warnings: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    run_id: int
    kind: str
    files: list[FileReport] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    snapshots_added: int = 0
    quarantined: int = 0
    warnings: int = 0

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be read (the CLI's non-zero exit)."""
        return self.read > 0

    def summary(self) -> str:
        text = (f"ingested {self.inserted}, updated {self.updated}, quarantined {self.quarantined} "
                f"(see `claimwatch quarantine list`)")
        extras = []
        if self.unchanged:
            extras.append(f"{self.unchanged} unchanged")
        if self.kind == "posts":
            extras.append(f"{self.snapshots_added} new metric snapshots")
        if self.warnings:
            extras.append(f"{self.warnings} fields stored as unknown")
        return text + (f"; {', '.join(extras)}" if extras else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["read"] = self.read
        return d


def ingest_posts(engine: sa.Engine, paths: list[Path], *, fmt: str = "auto", observed_at: datetime | None = None,
                 column_map: dict[str, str] | None = None, platform: str = "x", batch_size: int = DEFAULT_BATCH,
                 progress: ProgressFn | None = None) -> IngestReport:
    def write(conn: sa.Connection, batch: list[r.Post], run_id: int) -> repo.BatchCounts:
        return repo.upsert_posts(conn, batch, run_id)

    return _ingest(engine, "posts", paths, fmt, POST_FORMATS, detect_post_format, write,
                   ReadContext(observed_at=observed_at or _EPOCH, platform=platform, column_map=column_map or {}),
                   explicit_observed_at=observed_at is not None, batch_size=batch_size, progress=progress)


def ingest_factchecks(engine: sa.Engine, paths: list[Path], *, fmt: str = "auto",
                      column_map: dict[str, str] | None = None, verdicts: VerdictTable | None = None,
                      batch_size: int = DEFAULT_BATCH, progress: ProgressFn | None = None) -> IngestReport:
    table = verdicts or VerdictTable.load()

    def write(conn: sa.Connection, batch: list[r.FactCheck], run_id: int) -> repo.BatchCounts:
        pairs = []
        for fc in batch:
            fc.verdict, method = table.normalise(fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating)
            pairs.append((fc, method))
        return repo.upsert_factchecks(conn, pairs, run_id)

    return _ingest(engine, "factchecks", paths, fmt, FACTCHECK_FORMATS, detect_factcheck_format, write,
                   ReadContext(observed_at=_EPOCH, column_map=column_map or {}), explicit_observed_at=False,
                   batch_size=batch_size, progress=progress)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ingest(engine: sa.Engine, kind: str, paths: list[Path], fmt: str,
            formats: dict[str, Callable[[Path, ReadContext], Iterator[r.ReadResult]]],
            detect: Callable[[Path], str], write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
            ctx: ReadContext, *, explicit_observed_at: bool, batch_size: int,
            progress: ProgressFn | None) -> IngestReport:
    if fmt != "auto" and fmt not in formats:
        raise ValueError(f"unknown {kind} format {fmt!r}; choose auto or one of {', '.join(formats)}")
    with engine.begin() as conn:
        _close_dead_runs(conn)
        run_id = repo.start_run(conn, kind, [str(p) for p in paths],
                                {"format": fmt, "observed_at": ctx.observed_at.isoformat() if explicit_observed_at else None,
                                 "column_map": ctx.column_map, "pid": os.getpid(), "host": socket.gethostname()})
    report = IngestReport(run_id=run_id, kind=kind)
    status = "failed"
    try:
        for path in paths:
            report.files.append(_ingest_file(engine, kind, Path(path), fmt, formats, detect, write, ctx,
                                             explicit_observed_at, batch_size, progress, report))
        status = "completed"
    finally:
        with engine.begin() as conn:
            repo.finish_run(conn, run_id, status, report.to_dict())
    return report


def _ingest_file(engine: sa.Engine, kind: str, path: Path, fmt: str, formats: dict[str, Any],
                 detect: Callable[[Path], str], write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
                 base_ctx: ReadContext, explicit_observed_at: bool, batch_size: int,
                 progress: ProgressFn | None, report: IngestReport) -> FileReport:
    fr = FileReport(path=str(path))
    try:
        if not path.is_file():
            raise FormatError("no such file" if not path.exists() else "not a regular file")
        fr.format = detect(path) if fmt == "auto" else fmt
    except (FormatError, OSError) as exc:
        return _file_failed(engine, kind, path, fr, report, str(exc))

    ctx = ReadContext(observed_at=base_ctx.observed_at, platform=base_ctx.platform, column_map=base_ctx.column_map)
    if kind == "posts":
        if explicit_observed_at:
            fr.observed_at_source = "--observed-at"
        else:
            ctx.observed_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0)
            fr.observed_at_source = "file modification time"
        fr.observed_at = ctx.observed_at.isoformat()

    batch: list[Any] = []
    quarantine: list[tuple[r.Rejected, str]] = []
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    source_times: set[datetime] = set()

    def flush() -> None:
        with engine.begin() as conn:
            counts = write(conn, batch, report.run_id)
            quarantine.extend((c, "conflict") for c in counts.conflicts)
            repo.add_quarantine(conn, report.run_id, kind, quarantine)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        report.snapshots_added += counts.snapshots_added
        batch.clear()
        quarantine.clear()
        if progress:
            progress(path, fr.read)

    try:
        for item in formats[fr.format](path, ctx):
            if isinstance(item, r.Rejected):
                fr.rejected += 1
                report.quarantined += 1
                quarantine.append((item, "rejected"))
            else:
                rec = item.record
                dup = _duplicate_in_file(rec, seen)
                if dup is not None:
                    fr.rejected += 1
                    report.quarantined += 1
                    quarantine.append((dup, "rejected"))
                    continue
                fr.read += 1
                batch.append(rec)
                if isinstance(rec, r.Post) and rec.metrics and rec.metrics.observed_at != ctx.observed_at:
                    source_times.add(rec.metrics.observed_at)
                for w in item.warnings:
                    fr.warnings += 1
                    report.warnings += 1
                    quarantine.append((_warning_entry(rec, w), "field_dropped"))
            if len(batch) >= batch_size or len(quarantine) >= batch_size:
                flush()
    except FormatError as exc:
        if batch:
            flush()
        return _file_failed(engine, kind, path, fr, report, str(exc))
    if batch or quarantine:
        flush()
    fr.source_observed_at = sorted(t.isoformat() for t in source_times)
    return fr


def _file_failed(engine: sa.Engine, kind: str, path: Path, fr: FileReport, report: IngestReport,
                 reason: str) -> FileReport:
    """A file that could not be read at all is quarantined as a whole, so it stays visible."""
    fr.error = reason
    try:
        head = path.read_bytes()[:2048].decode("utf-8", "replace")
    except OSError:
        head = ""
    with engine.begin() as conn:
        repo.add_quarantine(conn, report.run_id, kind,
                            [(r.Rejected(r.SourceRef(str(path), "file", fr.format or "unknown"), reason, head), "rejected")])
    report.quarantined += 1
    return fr


def _duplicate_in_file(rec: r.Post | r.FactCheck, seen: dict[tuple[str, str], tuple[str, str]]) -> r.Rejected | None:
    """The second copy of a record within one file is quarantined, naming the first."""
    if isinstance(rec, r.Post):
        if not rec.collected:  # context posts repeat across pages by design
            return None
        key, digest = (rec.platform, rec.platform_id), repo.post_content_hash(rec)
    else:
        key, digest = (rec.review_url, repo.claim_key(rec.claim_text)), repo.factcheck_content_hash(rec)
    assert rec.source is not None
    if key not in seen:
        seen[key] = (rec.source.location, digest)
        return None
    first_loc, first_digest = seen[key]
    same = "identical" if first_digest == digest else "different content; the first was kept"
    return r.Rejected(rec.source, f"duplicate of the record at {first_loc} ({same})",
                      clip_raw(json.dumps(rec.raw, ensure_ascii=False, default=str)))


def _warning_entry(rec: r.Post | r.FactCheck, w: r.FieldWarning) -> r.Rejected:
    ident = f"post {rec.platform_id}" if isinstance(rec, r.Post) else f"fact-check {rec.review_url}"
    assert rec.source is not None
    return r.Rejected(rec.source, f"{ident}: field {w.field} = {w.value!r}: {w.reason}",
                      clip_raw(json.dumps(rec.raw, ensure_ascii=False, default=str)))


def _close_dead_runs(conn: sa.Connection) -> None:
    """Mark runs left 'running' by a process on this host that no longer exists."""
    host = socket.gethostname()
    dead = []
    for run_id, opts in repo.running_runs(conn):
        pid = opts.get("pid")
        if opts.get("host") == host and isinstance(pid, int) and not _pid_alive(pid):
            dead.append(run_id)
    repo.mark_interrupted(conn, dead)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
