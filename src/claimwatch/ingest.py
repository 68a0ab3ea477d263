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
from claimwatch.sources.notes import NOTE_FORMATS, detect_notes_format, latest_timestamp
from claimwatch.sources.x_labels import LABEL_FORMATS, detect_label_format
from claimwatch.store import db, repo
from claimwatch.verdicts import VerdictTable

DEFAULT_BATCH = 1000
#: Community Notes downloads have millions of small rows: bigger batches, fewer commits.
NOTES_BATCH = 10_000

#: Called after each committed batch with (file, records read so far in that file).
ProgressFn = Callable[[Path, int], None]


@dataclass(frozen=True)
class FileTime:
    """How the time a file stands for is chosen: the option the user gave, else a fallback
    taken from the file (posts: when metrics were observed; Community Notes: the snapshot)."""

    option: str
    given: datetime | None
    fallback_name: str
    fallback: Callable[[Path, str], datetime | None]

    def resolve(self, path: Path, fmt: str) -> tuple[datetime, str]:
        if self.given is not None:
            return self.given, self.option
        when = self.fallback(path, fmt)
        if when is None:
            raise FormatError(f"no {self.fallback_name} to date the file by; pass {self.option}")
        return when, self.fallback_name

    def run_option(self) -> dict[str, str | None]:
        return {self.option.lstrip("-").replace("-", "_"): self.given.isoformat() if self.given else None}


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

    mtime = FileTime("--observed-at", observed_at, "file modification time",
                     lambda path, _fmt: datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0))
    return _ingest(engine, "posts", paths, fmt, POST_FORMATS, detect_post_format, write,
                   ReadContext(observed_at=_EPOCH, platform=platform, column_map=column_map or {}),
                   file_time=mtime, batch_size=batch_size, progress=progress)


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
                   ReadContext(observed_at=_EPOCH, column_map=column_map or {}), file_time=None,
                   batch_size=batch_size, progress=progress)


#: Store writer per Community Notes record type (one file holds one type).
_NOTE_WRITERS: dict[type, Callable[[sa.Connection, list[Any], int], repo.BatchCounts]] = {
    r.Note: repo.upsert_notes, r.NoteStatus: repo.add_note_statuses, r.NoteRatings: repo.set_note_ratings}


def ingest_notes(engine: sa.Engine, paths: list[Path], *, fmt: str = "auto", snapshot_date: datetime | None = None,
                 batch_size: int = NOTES_BATCH, progress: ProgressFn | None = None) -> IngestReport:
    """Community Notes notes / noteStatusHistory / ratings TSVs (told apart by header).

    Each file stands for one snapshot (download): ``snapshot_date``, else the latest
    timestamp in the file (a first pass over it; the report says which).
    """
    if snapshot_date is not None and snapshot_date.tzinfo is None:
        raise ValueError(f"snapshot date {snapshot_date.isoformat()} has no time zone; give it in UTC")

    def write(conn: sa.Connection, batch: list[Any], run_id: int) -> repo.BatchCounts:
        return _NOTE_WRITERS[type(batch[0])](conn, batch, run_id)

    latest = FileTime("--snapshot-date", snapshot_date, "latest timestamp in the file", latest_timestamp)
    return _ingest(engine, "notes", paths, fmt, NOTE_FORMATS, detect_notes_format, write,
                   ReadContext(observed_at=_EPOCH), file_time=latest, batch_size=batch_size, progress=progress)


def ingest_labels(engine: sa.Engine, paths: list[Path], *, batch_size: int = DEFAULT_BATCH,
                  progress: ProgressFn | None = None) -> IngestReport:
    """X label stream events (JSON lines); every event is kept, for posts stored or not."""
    return _ingest(engine, "labels", paths, "auto", LABEL_FORMATS, detect_label_format, repo.add_label_events,
                   ReadContext(observed_at=_EPOCH), file_time=None, batch_size=batch_size, progress=progress)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ingest(engine: sa.Engine, kind: str, paths: list[Path], fmt: str,
            formats: dict[str, Callable[[Path, ReadContext], Iterator[r.ReadResult]]],
            detect: Callable[[Path], str], write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
            ctx: ReadContext, *, file_time: FileTime | None, batch_size: int,
            progress: ProgressFn | None) -> IngestReport:
    if fmt != "auto" and fmt not in formats:
        raise ValueError(f"unknown {kind} format {fmt!r}; choose auto or one of {', '.join(formats)}")
    with db.writing(engine) as conn:
        _close_dead_runs(conn)
        run_id = repo.start_run(conn, kind, [str(p) for p in paths],
                                {"format": fmt, **(file_time.run_option() if file_time else {}),
                                 "column_map": ctx.column_map, "pid": os.getpid(), "host": socket.gethostname()})
    report = IngestReport(run_id=run_id, kind=kind)
    status = "failed"
    try:
        for path in paths:
            report.files.append(_ingest_file(engine, kind, Path(path), fmt, formats, detect, write, ctx,
                                             file_time, batch_size, progress, report))
        status = "completed"
    finally:
        with db.writing(engine) as conn:
            repo.finish_run(conn, run_id, status, report.to_dict())
    return report


def _ingest_file(engine: sa.Engine, kind: str, path: Path, fmt: str, formats: dict[str, Any],
                 detect: Callable[[Path], str], write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
                 base_ctx: ReadContext, file_time: FileTime | None, batch_size: int,
                 progress: ProgressFn | None, report: IngestReport) -> FileReport:
    fr = FileReport(path=str(path))
    ctx = ReadContext(observed_at=base_ctx.observed_at, platform=base_ctx.platform, column_map=base_ctx.column_map)
    try:
        if not path.is_file():
            raise FormatError("no such file" if not path.exists() else "not a regular file")
        fr.format = detect(path) if fmt == "auto" else fmt
        if file_time is not None:
            ctx.observed_at, fr.observed_at_source = file_time.resolve(path, fr.format)
            fr.observed_at = ctx.observed_at.isoformat()
    except (FormatError, OSError) as exc:
        return _file_failed(engine, kind, path, fr, report, str(exc))

    batch: list[Any] = []
    quarantine: list[tuple[r.Rejected, str]] = []
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    source_times: set[datetime] = set()

    def flush() -> None:
        with db.writing(engine) as conn:
            counts = write(conn, batch, report.run_id) if batch else repo.BatchCounts()
            refused = counts.duplicates + counts.rejected
            quarantine.extend((c, "conflict") for c in counts.conflicts)
            quarantine.extend((d, "rejected") for d in refused)
            quarantine.extend((w, "field_dropped") for w in counts.field_warnings)
            repo.add_quarantine(conn, report.run_id, kind, quarantine)
        fr.read -= len(refused)
        fr.rejected += len(refused)
        report.quarantined += len(refused)
        fr.warnings += len(counts.field_warnings)
        report.warnings += len(counts.field_warnings)
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
    with db.writing(engine) as conn:
        repo.add_quarantine(conn, report.run_id, kind,
                            [(r.Rejected(r.SourceRef(str(path), "file", fr.format or "unknown"), reason, head), "rejected")])
    report.quarantined += 1
    return fr


def _duplicate_in_file(rec: Any, seen: dict[tuple[str, str], tuple[str, str]]) -> r.Rejected | None:
    """The second copy of a post or fact-check within one file is quarantined, naming the first.

    Notes and label events are checked by the store instead (see ``repo._upsert_keyed``):
    a notes download has millions of rows, too many keys to hold here.
    """
    if not isinstance(rec, (r.Post, r.FactCheck)):
        return None
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


def _warning_entry(rec: Any, w: r.FieldWarning) -> r.Rejected:
    if isinstance(rec, r.Post):
        ident = f"post {rec.platform_id}"
    elif isinstance(rec, r.FactCheck):
        ident = f"fact-check {rec.review_url}"
    else:
        ident = f"note {rec.note_id}"
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
