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
from dataclasses import asdict, dataclass, field, replace
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
from claimwatch.sources.base import FormatError, ReadContext, clip_raw, head_bytes
from claimwatch.sources.generic import PostReadContext
from claimwatch.sources.notes import NOTE_FORMATS, check_column_map, detect_notes_format, latest_timestamp
from claimwatch.sources.x_labels import LABEL_FORMATS, detect_label_format
from claimwatch.store import db, repo
from claimwatch.verdicts import VerdictTable
from claimwatch.wording import count

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
    #: the range and number of distinct observation times the source itself carried (e.g.
    #: twarc2 ``__twarc.retrieved_at``), and how many snapshots had none (dated ``observed_at``)
    source_observed_from: str | None = None
    source_observed_to: str | None = None
    source_observed_times: int = 0
    fallback_snapshots: int = 0
    read: int = 0
    rejected: int = 0
    #: observations that contradict a stored one (same post and time, other numbers); kept apart
    conflicts: int = 0
    warnings: int = 0
    #: what the reader said about the file as a whole (columns not read, no author …)
    notes: list[str] = field(default_factory=list)
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
    #: posts that arrived in a version observed before the stored one (kept in post_versions, not applied)
    older_versions: int = 0
    quarantined: int = 0
    conflicts: int = 0
    warnings: int = 0

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be read (the CLI's non-zero exit)."""
        return self.read > 0

    def summary(self) -> str:
        text = (
            f"ingested {self.inserted}, updated {self.updated}, quarantined {self.quarantined} "
            f"(see `claimwatch quarantine list`)"
        )
        extras = []
        if self.older_versions:
            extras.append(
                f"{count(self.older_versions, 'post')} came in a version older than the stored one: kept as "
                "history, not applied"
            )
        if self.conflicts:
            extras.append(
                f"{self.conflicts} conflicting observations kept apart, the first kept "
                "(`claimwatch quarantine list --action conflict`)"
            )
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


def ingest_posts(
    engine: sa.Engine,
    paths: list[Path],
    *,
    fmt: str = "auto",
    observed_at: datetime | None = None,
    column_map: dict[str, str] | None = None,
    platform: str = "x",
    account: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Post archives. ``account`` is the handle of the one account the files belong to, the
    author of posts that name none (a Twitter account archive)."""

    def write(conn: sa.Connection, batch: list[r.Post], run_id: int) -> repo.BatchCounts:
        return repo.upsert_posts(conn, batch, run_id)

    mtime = FileTime(
        "--observed-at",
        observed_at,
        "file modification time",
        lambda path, _fmt: datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).replace(microsecond=0),
    )
    return _ingest(
        engine,
        "posts",
        paths,
        fmt,
        POST_FORMATS,
        detect_post_format,
        write,
        PostReadContext(
            observed_at=_EPOCH,
            platform=platform,
            column_map=column_map or {},
            account=(account or "").strip().lstrip("@") or None,
        ),
        file_time=mtime,
        batch_size=batch_size,
        progress=progress,
    )


def ingest_factchecks(
    engine: sa.Engine,
    paths: list[Path],
    *,
    fmt: str = "auto",
    column_map: dict[str, str] | None = None,
    verdicts: VerdictTable | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFn | None = None,
) -> IngestReport:
    table = verdicts or VerdictTable.load()

    def write(conn: sa.Connection, batch: list[r.FactCheck], run_id: int) -> repo.BatchCounts:
        pairs = []
        for fc in batch:
            fc.verdict, method = table.normalise(fc.rating_text, fc.rating_value, fc.best_rating, fc.worst_rating)
            pairs.append((fc, method))
        return repo.upsert_factchecks(conn, pairs, run_id)

    return _ingest(
        engine,
        "factchecks",
        paths,
        fmt,
        FACTCHECK_FORMATS,
        detect_factcheck_format,
        write,
        ReadContext(observed_at=_EPOCH, column_map=column_map or {}),
        file_time=None,
        batch_size=batch_size,
        progress=progress,
    )


#: Store writer per Community Notes record type (one file holds one type).
_NOTE_WRITERS: dict[type, Callable[[sa.Connection, list[Any], int], repo.BatchCounts]] = {
    r.Note: repo.upsert_notes,
    r.NoteStatus: repo.add_note_statuses,
    r.NoteRatings: repo.set_note_ratings,
}


def ingest_notes(
    engine: sa.Engine,
    paths: list[Path],
    *,
    fmt: str = "auto",
    snapshot_date: datetime | None = None,
    column_map: dict[str, str] | None = None,
    batch_size: int = NOTES_BATCH,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Community Notes notes / noteStatusHistory / ratings TSVs (told apart by header).

    Each file stands for one snapshot (download): ``snapshot_date``, else the latest
    timestamp in the file (a first pass over it; the report says which). ``column_map``
    names the column of a field (``claimwatch.sources.notes.MAP_FIELDS``) in each file whose
    format has that field.
    """
    if snapshot_date is not None and snapshot_date.tzinfo is None:
        raise ValueError(f"snapshot date {snapshot_date.isoformat()} has no time zone; give it in UTC")
    column_map = column_map or {}
    check_column_map(column_map)

    def write(conn: sa.Connection, batch: list[Any], run_id: int) -> repo.BatchCounts:
        return _NOTE_WRITERS[type(batch[0])](conn, batch, run_id)

    latest = FileTime(
        "--snapshot-date",
        snapshot_date,
        "latest timestamp in the file",
        lambda path, found: latest_timestamp(path, found, column_map),
    )
    return _ingest(
        engine,
        "notes",
        paths,
        fmt,
        NOTE_FORMATS,
        lambda path: detect_notes_format(path, column_map),
        write,
        ReadContext(observed_at=_EPOCH, column_map=column_map),
        file_time=latest,
        batch_size=batch_size,
        progress=progress,
    )


def ingest_labels(
    engine: sa.Engine, paths: list[Path], *, batch_size: int = DEFAULT_BATCH, progress: ProgressFn | None = None
) -> IngestReport:
    """X label stream events (JSON lines); every event is kept, for posts stored or not."""
    return _ingest(
        engine,
        "labels",
        paths,
        "auto",
        LABEL_FORMATS,
        detect_label_format,
        repo.add_label_events,
        ReadContext(observed_at=_EPOCH),
        file_time=None,
        batch_size=batch_size,
        progress=progress,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ingest(
    engine: sa.Engine,
    kind: str,
    paths: list[Path],
    fmt: str,
    formats: dict[str, Callable[[Path, ReadContext], Iterator[r.ReadResult]]],
    detect: Callable[[Path], str],
    write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
    ctx: ReadContext,
    *,
    file_time: FileTime | None,
    batch_size: int,
    progress: ProgressFn | None,
) -> IngestReport:
    if fmt != "auto" and fmt not in formats:
        raise ValueError(f"unknown {kind} format {fmt!r}; choose auto or one of {', '.join(formats)}")
    with db.writing(engine) as conn:
        close_dead_runs(conn)
        run_id = repo.start_run(
            conn,
            kind,
            [str(p) for p in paths],
            {
                "format": fmt,
                **(file_time.run_option() if file_time else {}),
                "column_map": ctx.column_map,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                **({"account": ctx.account} if isinstance(ctx, PostReadContext) else {}),
            },
        )
    report = IngestReport(run_id=run_id, kind=kind)
    status = "failed"
    try:
        for path in paths:
            report.files.append(
                _ingest_file(
                    engine, kind, Path(path), fmt, formats, detect, write, ctx, file_time, batch_size, progress, report
                )
            )
        status = "completed"
    finally:
        with db.writing(engine) as conn:
            repo.finish_run(conn, run_id, status, report.to_dict())
    return report


def _ingest_file(
    engine: sa.Engine,
    kind: str,
    path: Path,
    fmt: str,
    formats: dict[str, Any],
    detect: Callable[[Path], str],
    write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
    base_ctx: ReadContext,
    file_time: FileTime | None,
    batch_size: int,
    progress: ProgressFn | None,
    report: IngestReport,
) -> FileReport:
    fr = FileReport(path=str(path))
    ctx = replace(base_ctx)
    if isinstance(ctx, PostReadContext):
        ctx.notes = fr.notes  # the reader's notes on this file go straight to its report
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
        counts = write_batch(engine, kind, write, batch, quarantine, report.run_id)
        refused = len(counts.duplicates) + len(counts.rejected) + len(counts.refused)
        fr.read -= refused
        fr.rejected += refused
        report.quarantined += refused
        fr.conflicts += len(counts.conflicts)
        report.conflicts += len(counts.conflicts)
        fr.warnings += len(counts.field_warnings)
        report.warnings += len(counts.field_warnings)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.older_versions += counts.older_versions
        report.unchanged += counts.unchanged
        report.snapshots_added += counts.snapshots_added
        batch.clear()
        quarantine.clear()
        if progress:
            progress(path, fr.read)

    location = "the first record"
    try:
        for item in formats[fr.format](path, ctx):
            if isinstance(item, r.Rejected):
                location = item.source.location
                fr.rejected += 1
                report.quarantined += 1
                quarantine.append((item, "rejected"))
            else:
                rec = item.record
                assert rec.source is not None
                location = rec.source.location
                dup = _duplicate_in_file(rec, seen)
                if dup is not None:
                    fr.rejected += 1
                    report.quarantined += 1
                    quarantine.append((dup, "rejected"))
                    continue
                fr.read += 1
                batch.append(rec)
                if isinstance(rec, r.Post) and rec.metrics:
                    if rec.metrics.observed_at != ctx.observed_at:
                        source_times.add(rec.metrics.observed_at)
                    else:
                        fr.fallback_snapshots += 1
                for w in item.warnings:
                    fr.warnings += 1
                    report.warnings += 1
                    quarantine.append((warning_entry(rec, w), "field_dropped"))
            if len(batch) >= batch_size or len(quarantine) >= batch_size:
                flush()
    except FormatError as exc:
        if batch or quarantine:
            flush()
        return _file_failed(engine, kind, path, fr, report, str(exc))
    except Exception as exc:  # noqa: BLE001 - a reader bug must cost this file's rest, not the run
        if batch or quarantine:
            flush()
        return _file_failed(
            engine,
            kind,
            path,
            fr,
            report,
            f"reading stopped after {location} at an unexpected error ({type(exc).__name__}: "
            f"{str(exc)[:200]}); the {fr.read:,} records before it were stored. This is a claimwatch "
            "bug: please report it with that record",
        )
    if batch or quarantine:
        flush()
    if source_times:
        fr.source_observed_from, fr.source_observed_to = min(source_times).isoformat(), max(source_times).isoformat()
        fr.source_observed_times = len(source_times)
    return fr


def write_batch(
    engine: sa.Engine,
    kind: str,
    write: Callable[[sa.Connection, list[Any], int], repo.BatchCounts],
    batch: list[Any],
    quarantine: list[tuple[r.Rejected, str]],
    run_id: int,
) -> repo.BatchCounts:
    """Write a batch and its quarantine entries in one transaction.

    When the store refuses the batch (a value one database accepts and another does not,
    a constraint), the records are written one by one instead, so the record at fault is
    quarantined with the store's reason and every other record lands.
    """
    try:
        with db.writing(engine) as conn:
            counts = write(conn, batch, run_id) if batch else repo.BatchCounts()
            quarantine_counts(conn, kind, run_id, quarantine, counts)
        return counts
    except sa.exc.OperationalError:
        raise  # the store itself is unusable (disk full, locked, gone): not one record's fault
    except (sa.exc.StatementError, ValueError, OverflowError) as exc:
        if len(batch) <= 1 and not quarantine:
            if not batch:
                raise
            return _refused(engine, kind, batch[0], exc, run_id)
    counts = repo.BatchCounts()
    for rec in batch:
        try:
            with db.writing(engine) as conn:
                counts.add(write(conn, [rec], run_id))
        except sa.exc.OperationalError:
            raise
        except (sa.exc.StatementError, ValueError, OverflowError) as exc:
            counts.add(_refused(engine, kind, rec, exc, run_id))
    with db.writing(engine) as conn:
        quarantine_counts(conn, kind, run_id, quarantine, counts)
    return counts


def quarantine_counts(
    conn: sa.Connection, kind: str, run_id: int, quarantine: list[tuple[r.Rejected, str]], counts: repo.BatchCounts
) -> None:
    entries = list(quarantine)
    entries.extend((c, "conflict") for c in counts.conflicts)
    entries.extend((d, "rejected") for d in counts.duplicates + counts.rejected)
    entries.extend((w, "field_dropped") for w in counts.field_warnings)
    repo.add_quarantine(conn, run_id, kind, entries)


def _refused(engine: sa.Engine, kind: str, rec: Any, exc: Exception, run_id: int) -> repo.BatchCounts:
    """Quarantine one record the store would not take, with the store's own reason."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    entry = r.Rejected(
        rec.source,
        f"{_ident(rec)}: the store refused it: {reason}",
        clip_raw(json.dumps(rec.raw, ensure_ascii=False, default=str)),
    )
    with db.writing(engine) as conn:
        repo.add_quarantine(conn, run_id, kind, [(entry, "rejected")])
    return repo.BatchCounts(refused=[entry])


def _file_failed(
    engine: sa.Engine, kind: str, path: Path, fr: FileReport, report: IngestReport, reason: str
) -> FileReport:
    """A file that could not be read at all is quarantined as a whole, so it stays visible."""
    fr.error = reason
    head = ""
    if path.is_file():  # never open a FIFO or device: reading it could block forever
        try:
            head = head_bytes(path, 2048).decode("utf-8", "replace")
        except (OSError, FormatError):
            pass
    with db.writing(engine) as conn:
        repo.add_quarantine(
            conn,
            report.run_id,
            kind,
            [(r.Rejected(r.SourceRef(str(path), "file", fr.format or "unknown"), reason, head), "rejected")],
        )
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
    return r.Rejected(
        rec.source,
        f"duplicate of the record at {first_loc} ({same})",
        clip_raw(json.dumps(rec.raw, ensure_ascii=False, default=str)),
    )


def _ident(rec: Any) -> str:
    """How a record is named in a quarantine reason."""
    if isinstance(rec, r.Post):
        return f"post {rec.platform_id}"
    if isinstance(rec, r.FactCheck):
        return f"fact-check {rec.review_url}"
    if isinstance(rec, r.LabelEvent):
        return f"label event on post {rec.platform_id}"
    return f"note {rec.note_id}"


def warning_entry(rec: Any, w: r.FieldWarning) -> r.Rejected:
    assert rec.source is not None
    value = repr(w.value)
    value = value if len(value) <= 200 else value[:200] + "…"
    return r.Rejected(
        rec.source,
        f"{_ident(rec)}: field {w.field} = {value}: {w.reason}",
        clip_raw(json.dumps(rec.raw, ensure_ascii=False, default=str)),
    )


def close_dead_runs(conn: sa.Connection) -> None:
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
