"""The ``claimwatch`` command: parses arguments, calls :mod:`claimwatch.api`, prints with Rich."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from claimwatch import api, atomic
from claimwatch.analysis.jsonable import jsonable
from claimwatch.analysis.report import Report, Selection
from claimwatch.claims.encoder import ModelNotFound
from claimwatch.claims.relation import DESCRIBED, NARRATIVE
from claimwatch.claims.rerank import ModelError
from claimwatch.config import DEBUG_ENV
from claimwatch.ingest import FileReport, IngestReport
from claimwatch.media.evidence import is_media_evidence, media_match_phrase
from claimwatch.records import MatchStatus
from claimwatch.sources.notes import MAP_FIELDS as NOTE_MAP_FIELDS
from claimwatch.store.db import StoreError
from claimwatch.store.rows import Decision, QueueItem
from claimwatch.terminal import safe
from claimwatch.wording import count


class _Boundary(TyperGroup):
    """Where every command's errors end: a store that cannot be opened, read or written, and an
    output file that cannot be written, each as one line naming it and the reason (exit 2)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except StoreError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))


app = typer.Typer(
    help="Find posts repeating fact-checked claims, measure their reach, report with evidence.",
    no_args_is_help=True,
    add_completion=False,
    cls=_Boundary,
)
ingest_app = typer.Typer(
    help="Read post archives, fact-check feeds, Community Notes downloads or label events into the store.",
    no_args_is_help=True,
)
quarantine_app = typer.Typer(help="Inspect records that could not be used.", no_args_is_help=True)
review_app = typer.Typer(
    help="Review proposed matches: the queue, decisions (kept as history) and their history.", no_args_is_help=True
)
verdicts_app = typer.Typer(help="Rating → verdict normalisation.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(review_app, name="review")
audit_app = typer.Typer(
    help="The append-only log of every change to matches, studies, users and tokens.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")
app.add_typer(verdicts_app, name="verdicts")
eval_app = typer.Typer(help="Measure matching quality on labelled data.", no_args_is_help=True)
train_app = typer.Typer(help="Rebuild trained models from public data (fixed seeds).", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")

# Piped output (files, CI logs) is not squeezed into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

# Options override settings; their defaults (claimwatch.toml, CLAIMWATCH_* variables) are read in
# one place, claimwatch.config, so no option names an environment variable of its own.
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a SQLite file or a SQLAlchemy URL such as "
        "postgresql+psycopg://user@host/db (default: the db setting, "
        "CLAIMWATCH_DB, else ./claimwatch.db).",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="The sentence encoder: a sentence-transformers "
        "model path or cached name, or all-mpnet-base-v2 (the 'large' extra) or use-multilingual-v3 "
        "(the 'multilingual' extra) (default: the model setting, "
        "CLAIMWATCH_MODEL, else the bundled all-MiniLM-L6-v2).",
    ),
]
MultilingualOpt = Annotated[
    str | None,
    typer.Option(
        "--multilingual-model",
        help="Encoder for posts and fact-checks not in English, e.g. use-multilingual-v3 (the 'multilingual' "
        "extra), or 'none' (default: the multilingual_model setting, CLAIMWATCH_MULTILINGUAL_MODEL, else none).",
    ),
]
CwModelOpt = Annotated[
    str | None,
    typer.Option(
        "--cw-model",
        help="Check-worthiness model directory, or 'none' "
        "(default: the checkworthiness_model setting, "
        "CLAIMWATCH_CHECKWORTHINESS_MODEL, else the shipped model).",
    ),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="Column mapping FIELD=COLUMN (repeatable), e.g. --map views=impressions."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
DatasetsOpt = Annotated[
    Path, typer.Option(help="Folder with the CLEF CheckThat! data in the layout of ../shared/datasets.")
]


def _open(db: str | None, *, read_only: bool = False, create: bool = False, **overrides: Any) -> api.Workspace:
    """The store; ``read_only`` for commands that only read it, ``create`` for those that may start
    a new one (init, ingest): elsewhere a missing store is a mistyped path (see ``claimwatch.store.db``)."""
    try:
        return api.open(db, read_only=read_only, create=create, **overrides)
    except ValueError as exc:  # a bad settings file or environment variable
        _fail(str(exc))


def _tools(**overrides: Any) -> api.Tools:
    """The configured encoder and models, for commands that need no store."""
    try:
        return api.tools(**overrides)
    except ValueError as exc:
        _fail(str(exc))


def _log(message: str) -> None:
    """Progress of a long command (training), on stderr."""
    err.print(message, highlight=False, markup=False)


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and exit ``code``; with ``CLAIMWATCH_DEBUG=1`` the traceback of the
    error being handled comes first (for bug reports; users never need it)."""
    if os.environ.get(DEBUG_ENV) == "1" and sys.exc_info()[0] is not None:
        traceback.print_exc()
    err.print(f"[bold red]error:[/] {escape(safe(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _say(text: object, *, to: Console | None = None) -> None:
    """Print a line that carries data (control characters shown, never obeyed; no markup)."""
    (to or console).print(safe(text), highlight=False, markup=False, soft_wrap=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Errors caused by the user's input or settings end as one clear line, not a traceback."""
    try:
        yield
    except (ValueError, ModelNotFound, ModelError, FileNotFoundError) as exc:
        _fail(str(exc))


def _check_out(path: Path | None, option: str, *, folder: bool = True) -> None:
    """Refuse an output path that cannot be what ``option`` needs, before any work: a folder
    option naming a file (or under one), a file option naming a folder."""
    if path is None:
        return
    if not folder:
        if path.is_dir():
            _fail(f"{option} {path} is a folder; give a file name")
        return
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        where = "is a file" if blocker == path else f"is inside {blocker}, which is a file"
        _fail(f"{option} {path} {where}; give a folder (new or existing) for the output files")


def _write_out(out: Path, write: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """Report files into the folder ``out``; a file that cannot be written is one line (the files
    written before it are complete, the previous version of that one is kept)."""
    try:
        return write()
    except OSError as exc:
        _fail(f"cannot write the report to {out} (a folder): {exc.filename or out}: {exc.strerror or exc}")


def _parse_map(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            _fail(f"--map {pair!r}: expected FIELD=COLUMN")
        out[field.strip()] = column.strip()
    return out


def _parse_time(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"{option} {value!r} is not an ISO date or time (e.g. 2024-08-01 or 2024-08-01T12:00:00Z)")
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _warn(warnings: list[str]) -> None:
    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(safe(w))}", highlight=False)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


# ---------------------------------------------------------------------------- init / stats


@app.command()
def init(db: DbOpt = None) -> None:
    """Create the store (or migrate it to the current schema)."""
    ws = _open(db, create=True)
    _say(f"store ready: {ws.engine.url.render_as_string(hide_password=True)}")


@app.command()
def stats(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of everything in the store, and rating texts no verdict rule covers."""
    data = _open(db, read_only=True).stats()
    if as_json:
        print(json.dumps(asdict(data)))
        return
    t = Table(show_header=False, box=None)
    for key, n in (
        ("posts", data.posts),
        ("context_posts", data.context_posts),
        ("authors", data.authors),
        ("media", data.media),
        ("snapshots", data.snapshots),
        ("factchecks", data.factchecks),
        ("posts_matched", data.posts_matched),
        ("posts_skipped", data.posts_skipped),
        ("quarantined", data.quarantined),
        ("field_warnings", data.field_warnings),
    ):
        t.add_row(key, f"{n:,}")
    t.add_row("posts by kind", ", ".join(f"{k} {v:,}" for k, v in sorted(data.posts_by_kind.items())))
    t.add_row("fact-checks by verdict", ", ".join(f"{k} {v:,}" for k, v in sorted(data.factchecks_by_verdict.items())))
    t.add_row(
        "matches",
        ", ".join(f"{k} {v:,}" for k, v in data.matches.items())
        + (
            f"; {data.decisions_on_earlier_text:,} decisions made on an earlier text (re-review)"
            if data.decisions_on_earlier_text
            else ""
        ),
    )
    t.add_row(
        "community notes",
        f"{data.notes:,} ({data.notes_on_stored_posts:,} on stored posts), "
        f"{data.note_status_rows:,} status rows in {data.note_status_snapshots:,} snapshots, "
        f"{data.notes_with_rating_counts:,} with rating counts",
    )
    t.add_row("label events", f"{data.label_events:,} on {count(data.labelled_posts, 'post')}")
    console.print(t)
    if data.unmapped_ratings:
        console.print(
            "\n[bold]Rating texts without a verdict[/] (add them to a verdict table, see "
            "`claimwatch verdicts apply --help`):"
        )
        for row in data.unmapped_ratings:
            _say(f"  {row.count:>6,}  {row.rating!r}")


# ---------------------------------------------------------------------------- ingest


def _print_ingest(report: IngestReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        for f in report.files:
            if f.error:
                err.print(f"[red]✗[/] {escape(safe(f.path))}: {escape(safe(f.error))}", highlight=False)
                continue
            line = f"[green]✓[/] {escape(safe(f.path))} \\[{f.format}]: read {f.read:,}, quarantined {f.rejected:,}"
            if f.conflicts:
                line += f", {f.conflicts:,} conflicting observations"
            if f.warnings:
                line += f", {f.warnings:,} fields stored as unknown"
            console.print(line, highlight=False)
            _print_observed(f, report.kind)
            for text in f.notes:
                console.print(f"    note: {text}", highlight=False, markup=False)
        console.print(report.summary(), highlight=False, markup=False)
    if not report.ok:
        raise typer.Exit(1)


def _print_observed(f: FileReport, kind: str) -> None:
    """When the file's snapshots were observed: the source's own times as a range, and the
    fallback time only for what it dated (all of it, or the snapshots the source left undated)."""
    option = "--snapshot-date" if kind == "notes" else "--observed-at"
    hint = "" if f.observed_at_source == option else f"; pass {option} to set it"
    if f.source_observed_times:
        span = (
            f.source_observed_from
            if f.source_observed_times == 1
            else (f"{f.source_observed_from} … {f.source_observed_to}")
        )
        times = "1 time" if f.source_observed_times == 1 else f"{f.source_observed_times:,} times"
        console.print(f"    snapshots observed {span} ({times}, from the source)", highlight=False, markup=False)
        if f.fallback_snapshots:
            console.print(
                f"    {f.fallback_snapshots:,} snapshots had no observation time in the source: dated "
                f"{f.observed_at} ({f.observed_at_source}{hint})",
                highlight=False,
                markup=False,
            )
    elif f.observed_at and (kind == "notes" or f.fallback_snapshots):
        what = "snapshot of" if kind == "notes" else "snapshots observed at"
        console.print(f"    {what} {f.observed_at} ({f.observed_at_source}{hint})", highlight=False, markup=False)


def _run_ingest(kind: str, files: list[Path], call: Any) -> IngestReport:
    with _progress() as prog:
        task = prog.add_task(f"ingest {kind}", total=None)

        def progress(path: Path, done: int) -> None:
            prog.update(task, description=f"{path.name}: {done:,} records", advance=0)

        return call(progress)


@ingest_app.command("posts")
def ingest_posts(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Post archives (X API v2 pages or posts, twarc2 JSONL, twarc-csv, "
            "a Twitter account archive's tweets.js, CSV, JSONL; Bluesky API "
            "responses / Jetstream, Mastodon statuses / outbox, Telegram Desktop "
            "export / Telethon dumps; gzip, bzip2, xz or a one-file zip as they are)."
        ),
    ],
    db: DbOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto|x-v2|twarc2|twarc-csv|x-archive|csv|jsonl|bluesky|mastodon|telegram")
    ] = "auto",
    observed_at: Annotated[
        str | None,
        typer.Option(
            help="When the metrics were observed, if the source does not say (default: the file's modification time)."
        ),
    ] = None,
    column_map: MapOpt = None,
    platform: Annotated[str, typer.Option(help="Platform for generic CSV/JSONL rows without one.")] = "x",
    account: Annotated[
        str | None,
        typer.Option(
            help="Handle of the one account the files belong to: the author of "
            "posts that name none (a Twitter account archive)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest post archives; bad records go to the quarantine, valid ones always land."""
    ws = _open(db, create=True)
    when = _parse_time(observed_at, "--observed-at")
    with _user_errors():
        report = _run_ingest(
            "posts",
            files,
            lambda cb: ws.ingest_posts(
                files,
                fmt=fmt,
                observed_at=when,
                column_map=_parse_map(column_map),
                platform=platform,
                account=account,
                progress=cb,
            ),
        )
    _print_ingest(report, as_json)


@ingest_app.command("factchecks")
def ingest_factchecks(
    files: Annotated[
        list[Path],
        typer.Argument(help="ClaimReview JSON-LD / HTML, Fact Check Tools pages, Data Commons feed, or CSV."),
    ],
    db: DbOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|claimreview|factcheck-tools|datacommons|csv")] = "auto",
    column_map: MapOpt = None,
    verdicts: Annotated[list[Path] | None, typer.Option("--verdicts", help="Extra verdict table(s) (TSV).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest fact-checks and normalise their ratings into verdicts."""
    ws = _open(db, create=True, verdict_files=tuple(str(v) for v in verdicts) if verdicts else None)
    with _user_errors():
        report = _run_ingest(
            "factchecks",
            files,
            lambda cb: ws.ingest_factchecks(files, fmt=fmt, column_map=_parse_map(column_map), progress=cb),
        )
    _print_ingest(report, as_json)


@ingest_app.command("notes")
def ingest_notes(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Community Notes TSV downloads: notes, noteStatusHistory and "
            "(optional) ratings files, told apart by their header."
        ),
    ],
    db: DbOpt = None,
    snapshot_date: Annotated[
        str | None,
        typer.Option(
            help="When the download was taken, e.g. 2024-08-10; give "
            "all files of one download the same date (default: each "
            "file's latest timestamp)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="auto|cn-notes|cn-status|cn-ratings")] = "auto",
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN (repeatable) for a column under a name no download used, e.g. --map "
            "tweet_id=postId. Fields: "
            + "; ".join(f"{fmt}: {', '.join(names)}" for fmt, names in NOTE_MAP_FIELDS.items()),
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest Community Notes downloads; each status-history file is kept as a snapshot of its own."""
    ws = _open(db, create=True)
    when = _parse_time(snapshot_date, "--snapshot-date")
    with _user_errors():
        report = _run_ingest(
            "notes",
            files,
            lambda cb: ws.ingest_notes(files, when, fmt=fmt, column_map=_parse_map(column_map), progress=cb),
        )
    _print_ingest(report, as_json)


@ingest_app.command("labels")
def ingest_labels(
    files: Annotated[
        list[Path], typer.Argument(help="X label stream events (JSON lines from /2/tweets/label/stream).")
    ],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest platform label events; every apply/remove is kept, also for posts not in the store yet."""
    ws = _open(db, create=True)
    with _user_errors():
        report = _run_ingest("labels", files, lambda cb: ws.ingest_labels(files, progress=cb))
    _print_ingest(report, as_json)


# ---------------------------------------------------------------------------- index / match


@app.command()
def index(db: DbOpt = None, model: ModelOpt = None, multilingual_model: MultilingualOpt = None) -> None:
    """Build or update the search index over all fact-checks (only new or edited ones are encoded)."""
    ws = _open(db, model=model, multilingual_model=multilingual_model)
    with _user_errors(), _progress() as prog:
        prog.add_task("encoding fact-checks", total=None)
        st = ws.build_index(show_progress=err.is_terminal)
    why = f" ({st.rebuilt_reason})" if st.rebuilt_reason else ""
    _say(
        f"index {st.version} at {ws.index_dir}: {st.total:,} fact-checks, {st.encoded:,} encoded, "
        f"{st.reused:,} reused, {st.removed:,} removed{why}"
    )


@app.command()
def match(
    db: DbOpt = None,
    model: ModelOpt = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Without a trained model: propose candidates whose fused score is at least this."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="With a trained model: propose the top candidate when P(correct) is at least this, e.g. 0.9."
        ),
    ] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Candidates stored per post.")] = None,
    rematch: Annotated[bool, typer.Option(help="Match every post again, not only new ones.")] = False,
    topics: Annotated[
        Path | None,
        typer.Option(
            help="Topic definitions (YAML) to score posts against; "
            'see README "Topics" (default: the topics setting, '
            "CLAIMWATCH_TOPICS)."
        ),
    ] = None,
    cw_model: CwModelOpt = None,
    multilingual_model: MultilingualOpt = None,
) -> None:
    """Propose fact-checks for posts not yet matched against the current index; store each post's
    language, check-worthiness, claim sentence and topics."""
    ws = _open(
        db,
        model=model,
        threshold=threshold,
        top_k=top_k,
        min_confidence=min_confidence,
        checkworthiness_model=cw_model,
        multilingual_model=multilingual_model,
    )
    with _user_errors(), _progress() as prog:
        task = prog.add_task("matching posts", total=None)
        rep = ws.match(
            rematch=rematch, topics=topics, progress=lambda done, total: prog.update(task, completed=done, total=total)
        )
    if ws.index_stats and ws.index_stats.rebuilt_reason:
        _say(f"index: {ws.index_stats.rebuilt_reason}", to=err)
    console.print(rep.summary(), highlight=False, markup=False)
    cw_model = ws.checkworthiness_model()
    console.print(f"check-worthiness: {cw_model.describe() if cw_model else 'off'}", highlight=False, markup=False)


topics_app = typer.Typer(help="Score posts against topic definitions.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


@topics_app.command("score")
def topics_score(
    file: Annotated[Path, typer.Argument(help="Topic definitions (YAML).")],
    db: DbOpt = None,
    model: ModelOpt = None,
) -> None:
    """Re-score every post against new or edited topic definitions, without re-matching."""
    ws = _open(db, model=model)
    with _user_errors(), _progress() as prog:
        task = prog.add_task("scoring topics", total=None)
        n = ws.score_topics(file, progress=lambda done, total: prog.update(task, completed=done, total=total))
    counts = ws.stats().posts_by_topic
    _say(f"scored {count(n, 'post')}; in topic: " + (", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"))


# ---------------------------------------------------------------------------- report


def print_report(report: Report, limit: int) -> None:
    console.print(Text(safe(f"\n{report.headline.sentence()}\n"), style="bold"), highlight=False)
    t = Table(title=f"posts ({len(report.rows):,}; showing debunked first, up to {limit})", show_lines=False)
    for col in (
        "post",
        "date",
        "kind",
        "account",
        "text",
        "views",
        "fact-check",
        "rating",
        "verdict",
        "status",
        "score",
        "conf.",
    ):
        t.add_column(col, overflow="fold", justify="right" if col in ("views", "score", "conf.") else "left")
    for row in report.ordered()[:limit]:
        fc = row.fact_check
        t.add_row(
            *(
                Text(safe(c))
                for c in (
                    row.post_id,
                    row.created_at.date().isoformat() if row.created_at else "",
                    row.post_type,
                    row.account or "",
                    row.text[:80] + ("…" if len(row.text) > 80 else ""),
                    row.reach(),
                    (fc.publisher or "") if fc else "",
                    (fc.rating_text or "") if fc else "",
                    (fc.rating_class or "") if fc else "",
                    (fc.match_status + (" (narrative)" if fc.relation == NARRATIVE else "")) if fc else "",
                    f"{fc.match_score:.3f}" if fc else "",
                    f"{fc.match_confidence:.0%}" if fc and fc.match_confidence is not None else "",
                )
            )
        )
    console.print(t)


@app.command()
def report(
    db: DbOpt = None,
    account: Annotated[list[str] | None, typer.Option("--account", "-a", help="Author handle (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="First day (UTC, inclusive), e.g. 2024-01-01.")] = None,
    until: Annotated[str | None, typer.Option(help="Last moment (UTC, exclusive), e.g. 2024-08-01.")] = None,
    keyword: Annotated[
        list[str] | None, typer.Option("--keyword", "-k", help="Only posts containing it (repeatable: any).")
    ] = None,
    confirmed_only: Annotated[
        bool, typer.Option(help="Count analyst-confirmed matches only (default: confirmed and proposed).")
    ] = False,
    include_reposts: Annotated[bool, typer.Option(help="List reposts too (they never add views).")] = False,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", "-t", help="Only posts in this topic (repeatable: any).")
    ] = None,
    lang: Annotated[
        list[str] | None, typer.Option("--lang", help="Only posts in this language, e.g. en (repeatable).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for report.md/.csv/.json/.html.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to print.")] = 25,
    as_json: JsonOpt = False,
) -> None:
    """Headline and per-post table for a selection; with --out, write Markdown, CSV, JSON and HTML."""
    _check_out(out, "--out")
    ws = _open(db, read_only=True)
    sel = Selection(
        handles=tuple(account or ()),
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        keywords=tuple(keyword or ()),
        include_proposed=not confirmed_only,
        include_reposts=include_reposts,
        topics=tuple(topic or ()),
        langs=tuple(lang or ()),
    )
    with _user_errors():  # UnknownName: an account, topic or language no stored post has
        rep = ws.report(sel)
    _warn(rep.warnings)
    if as_json:
        print(json.dumps(rep.to_dict()))
    else:
        print_report(rep, limit)
    if out:
        from claimwatch.reports import write_all  # the renderers (Jinja2) load only when a report is written

        paths = _write_out(out, lambda: write_all(rep, out))
        _say("wrote " + ", ".join(str(p) for p in paths.values()), to=err)


# ---------------------------------------------------------------------------- studies

study_app = typer.Typer(
    help="Reproducible studies: reach, notes, labels and narratives from a study file.", no_args_is_help=True
)
app.add_typer(study_app, name="study")


@study_app.command("run")
def study_run(
    file: Annotated[Path, typer.Argument(help='Study definition (YAML); see README "Studies".')],
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the study report files.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute a study from the store: the same file and store always give the same figures."""
    _check_out(out, "--out")
    ws = _open(db, read_only=True)
    with _user_errors():
        result = ws.run_study(file)
    _warn(result.warnings)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        console.print(Text(safe(result.study.title), style="bold"), highlight=False)
        for line in result.headline():
            _say(line)
    if out:
        from claimwatch.reports.study import write_study  # matplotlib and fpdf2 load only when they draw

        paths = _write_out(out, lambda: write_study(result, out))
        _say("wrote " + ", ".join(str(p) for p in paths.values()), to=err)


# ---------------------------------------------------------------------------- quarantine / review / verdicts


@quarantine_app.command("list")
def quarantine_list(
    db: DbOpt = None,
    limit: Annotated[int, typer.Option(help="Entries to show.")] = 50,
    offset: Annotated[int, typer.Option(help="Entries to skip.")] = 0,
    action: Annotated[str | None, typer.Option(help="rejected | field_dropped | conflict")] = None,
    file: Annotated[str | None, typer.Option(help="Only entries whose file path contains this.")] = None,
    raw: Annotated[bool, typer.Option(help="Show the raw record text too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List quarantined records with file, location and reason."""
    rows = _open(db, read_only=True).quarantine(action=action, path=file, limit=limit, offset=offset)
    if as_json:
        print(json.dumps([asdict(row) for row in rows], default=str))
        return
    if not rows:
        console.print("the quarantine is empty" if not (offset or action or file) else "no entries")
        return
    t = Table(show_lines=raw)
    for col in ("id", "action", "file", "where", "reason") + (("raw",) if raw else ()):
        t.add_column(col, overflow="fold")
    for row in rows:
        cells = [str(row.id), row.action, row.source_path, row.location, row.reason]
        if raw:
            cells.append(row.raw[:2000])
        t.add_row(*(Text(safe(c)) for c in cells))
    console.print(t)


@contextmanager
def _review_errors() -> Iterator[None]:
    """An unknown match id or a decision someone else made first: one line, like user errors."""
    try:
        with _user_errors():
            yield
    except (api.UnknownMatch, api.DecisionConflict) as exc:
        _fail(str(exc))


ByOpt = Annotated[str, typer.Option("--by", help="Who decided (recorded with the time).")]
NoteOpt = Annotated[str | None, typer.Option(help="Why (kept with the decision).")]
RelationOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="repeats (the post repeats the rated claim: counted in headlines) or narrative (it only "
        "shares the claim's narrative: counted in the narrative figures). Default: the matcher's label.",
    ),
]


def _by(by: str) -> str:
    if not by.strip():
        _fail("--by must name the analyst")
    return by.strip()


def _said(decisions: list[Decision]) -> None:
    for d in decisions:
        what = f", {DESCRIBED[d.relation]}" if d.new_status == MatchStatus.CONFIRMED else ""
        _say(f"match {d.match_id}: {d.new_status} by {d.decided_by} ({d.decision}; version {d.version}){what}")


def _decide(
    match_id: int, status: MatchStatus | str, by: str, note: str | None, db: str | None, relation: str | None = None
) -> None:
    by = _by(by)
    with _review_errors():
        _said([_open(db).decide(match_id, status, by, note, relation=relation)])


@review_app.command("confirm")
def review_confirm(
    match_id: int, by: ByOpt, note: NoteOpt = None, relation: RelationOpt = None, db: DbOpt = None
) -> None:
    """Confirm a match: the post repeats the fact-checked claim, or (--as narrative) shares its narrative only."""
    _decide(match_id, MatchStatus.CONFIRMED, by, note, db, relation)


@review_app.command("reject")
def review_reject(match_id: int, by: ByOpt, note: NoteOpt = None, db: DbOpt = None) -> None:
    """Reject a match (it does not); re-matching never brings it back as a proposal."""
    _decide(match_id, MatchStatus.REJECTED, by, note, db)


@review_app.command("reopen")
def review_reopen(match_id: int, by: ByOpt, note: NoteOpt = None, db: DbOpt = None) -> None:
    """Withdraw a decision: the match is pending again, with the machine's status (history kept)."""
    _decide(match_id, "reopened", by, note, db)


@review_app.command("choose")
def review_choose(
    match_id: int, by: ByOpt, note: NoteOpt = None, relation: RelationOpt = None, db: DbOpt = None
) -> None:
    """Pick this candidate for its post: confirm it, reject the post's other proposed or confirmed matches."""
    by = _by(by)
    with _review_errors():
        _said(_open(db).choose(match_id, by, note, relation=relation))


@review_app.command("history")
def review_history(match_id: int, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Every decision on a match, oldest first."""
    with _review_errors():
        history = _open(db, read_only=True).match_history(match_id)
    if as_json:
        print(json.dumps(jsonable(history)))
        return
    if not history:
        _say(f"match {match_id}: no decisions yet")
        return
    t = Table()
    for col in ("when (UTC)", "who", "decision", "status", "version", "note"):
        t.add_column(col, overflow="fold")
    for d in history:
        status = f"{d.previous_status or '?'} → {d.new_status}"
        cells = [f"{d.decided_at:%Y-%m-%d %H:%M:%S}", d.decided_by, d.decision, status, str(d.version), d.note or ""]
        t.add_row(*(Text(safe(c)) for c in cells))
    console.print(t)


@review_app.command("queue")
def review_queue(
    db: DbOpt = None,
    status: Annotated[str, typer.Option(help="proposed | candidate | all | decided")] = "proposed",
    account: Annotated[list[str] | None, typer.Option("--account", help="Author handle (repeatable).")] = None,
    min_confidence: Annotated[float | None, typer.Option(help="Lowest confidence (else score) to list.")] = None,
    max_confidence: Annotated[float | None, typer.Option(help="Highest confidence (else score) to list.")] = None,
    platform: Annotated[str | None, typer.Option(help="Only posts from this platform.")] = None,
    lang: Annotated[str | None, typer.Option(help="Only posts in this language (ISO 639-1).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Posts to show.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Posts to skip.")] = 0,
    study: Annotated[
        Path | None, typer.Option(help="Only the posts this study file selects (accounts, window, platforms, kinds).")
    ] = None,
    narrative: Annotated[
        str | None, typer.Option(help="Only the posts in this narrative of --study (seed and keyword rules).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Posts awaiting review, highest confidence × views first: each candidate's match id, the post,
    the fact-checked claim, publisher, rating and confidence (decide with confirm/reject/choose)."""
    with _user_errors():
        page = _open(db, read_only=True).review_queue(
            status=status,
            accounts=account or (),
            min_confidence=min_confidence,
            max_confidence=max_confidence,
            platform=platform,
            lang=lang,
            limit=limit,
            offset=offset,
            study=study,
            narrative=narrative,
        )
    if as_json:
        print(json.dumps(jsonable(page)))
        return
    if not page.items:
        _say("nothing to review" if not offset else f"no posts after the first {offset:,}")
        return
    t = Table(show_lines=True)
    for col in ("match", "status", "post", "fact-checked claim", "publisher", "rating", "confidence"):
        t.add_column(col, overflow="fold")
    for item in page.items:
        for i, c in enumerate(item.candidates):
            fc = c.factcheck
            cells = [
                ("▶ " if c.match_id == item.match_id else "  ") + str(c.match_id),
                c.status
                + (f"\n{DESCRIBED[c.relation]}" if c.relation else "")
                + (
                    f"\ndenies or debunks it: {', '.join(map(str, stance))}"
                    if (stance := c.evidence.get("stance"))
                    else ""
                )
                + (f"\nmedia: {media_match_phrase(c.evidence)}" if is_media_evidence(c.evidence) else ""),
                _queued_post(item) if i == 0 else "",
                fc.claim_text,
                fc.publisher_name or fc.publisher_site or "",
                fc.rating_text or "",
                f"{c.confidence:.0%}" if c.confidence is not None else f"score {c.score:.2f}",
            ]
            t.add_row(*(Text(safe(cell)) for cell in cells))
    console.print(t)
    shown = f"{offset + 1:,}–{offset + len(page.items):,}"
    _say(
        f"posts {shown} of {page.total:,}; ▶ marks the match to decide: claimwatch review confirm|reject|choose ID --by NAME"
    )


def _queued_post(item: QueueItem) -> str:
    p = item.post
    views = "views unknown" if item.views is None else f"{item.views:,} views"
    if item.views_observed_at is not None:
        views += f" ({item.views_observed_at:%Y-%m-%d})"
    when = f"{p.created_at:%Y-%m-%d}" if p.created_at else "date unknown"
    text = p.text if len(p.text) <= 500 else p.text[:500] + "…"
    return f"{text}\n— @{p.handle or '?'} · {when} · {views}" + (f"\n{p.url}" if p.url else "")


@audit_app.command("list")
def audit_list(
    db: DbOpt = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor's entries.")] = None,
    action: Annotated[str | None, typer.Option(help="An action (match.confirm) or a prefix ending in '.'.")] = None,
    since: Annotated[str | None, typer.Option(help="Only entries at or after this date/time (UTC).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Entries to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Entries to skip.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Audit entries, newest first: when, who, what, on which object, before → after."""
    when = _parse_time(since, "--since")
    with _user_errors():
        rows = _open(db, read_only=True).audit(since=when, actor=actor, action=action, limit=limit, offset=offset)
    if as_json:
        print(json.dumps(jsonable(rows)))
        return
    if not rows:
        _say("the audit log is empty" if not (actor or action or since or offset) else "no entries")
        return
    t = Table()
    for col in ("id", "when (UTC)", "actor", "action", "object", "before", "after"):
        t.add_column(col, overflow="fold")
    for e in rows:
        cells = [
            str(e.id),
            f"{e.at:%Y-%m-%d %H:%M:%S}" if e.at else "",
            e.actor,
            e.action,
            f"{e.object_type} {e.object_id or ''}".strip(),
            json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
            json.dumps(e.after, ensure_ascii=False) if e.after is not None else "",
        ]
        t.add_row(*(Text(safe(c)) for c in cells))
    console.print(t)


@audit_app.command("export")
def audit_export(
    db: DbOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl | csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: standard output).")] = None,
) -> None:
    """The whole audit log, oldest first, as JSON Lines or CSV."""
    _check_out(out, "--out", folder=False)
    with _user_errors():
        n = _open(db, read_only=True).export_audit(out if out is not None else sys.stdout, format=fmt)
    if out is not None:
        _say(f"wrote {count(n, 'audit entry', 'audit entries')} to {out}", to=err)


# ---------------------------------------------------------------------------- users / serve

users_app = typer.Typer(
    help="Who may use the web workspace (claimwatch serve), and their API tokens.", no_args_is_help=True
)
app.add_typer(users_app, name="users")


def _read_password(from_stdin: bool) -> str:
    """The new password: one line from stdin (scripts), else typed twice at a hidden prompt —
    never an argument, which other users of the machine can read in the process list."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


ActorOpt = Annotated[
    str | None, typer.Option("--by", help="Who makes the change, for the audit log (default: your login name).")
]


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Option(help="admin | analyst | viewer")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    by: ActorOpt = None,
    db: DbOpt = None,
) -> None:
    """Add a user: viewers read, analysts also decide and run studies, admins also manage users."""
    ws = _open(db)
    with _user_errors():
        user = ws.add_user(name, role, _read_password(password_stdin), actor=by)
    _say(f"user {user.name} added ({user.role})")


@users_app.command("remove")
def users_remove(name: str, by: ActorOpt = None, db: DbOpt = None) -> None:
    """Remove a user and their API tokens (their past decisions keep their name)."""
    if not _open(db).remove_user(name, actor=by):
        _fail(f"no user {name!r}")
    _say(f"user {name} removed")


@users_app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="The sign-in name.")],
    role: Annotated[str, typer.Argument(help="admin | analyst | viewer")],
    by: ActorOpt = None,
    db: DbOpt = None,
) -> None:
    """Give a user another role (takes effect on their next request; audited)."""
    with _user_errors():
        user = _open(db).set_role(name, role, actor=by)
    _say(f"user {user.name} is now {user.role}")


@users_app.command("list")
def users_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Users with their role, and their API tokens (names and dates, never the tokens)."""
    ws = _open(db, read_only=True)
    users, tokens = ws.list_users(), ws.list_tokens()
    if as_json:
        print(json.dumps({"users": [asdict(u) for u in users], "tokens": [asdict(tk) for tk in tokens]}, default=str))
        return
    if not users:
        console.print("no users yet: add one with `claimwatch users add NAME --role admin`")
        return
    t = Table()
    for col in ("name", "role", "created", "disabled", "API tokens"):
        t.add_column(col, overflow="fold")
    for u in users:
        mine = [f"{tk.id}:{tk.name}" + (" (revoked)" if tk.revoked_at else "") for tk in tokens if tk.user == u.name]
        t.add_row(
            *(
                Text(safe(c))
                for c in (u.name, u.role, str(u.created_at)[:19], "yes" if u.disabled else "", ", ".join(mine))
            )
        )
    console.print(t)


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--name", help="What the token is for (shown in `users list`).")] = "script",
    revoke: Annotated[int | None, typer.Option(help="Revoke the token with this id instead.")] = None,
    by: ActorOpt = None,
    db: DbOpt = None,
) -> None:
    """Create an API token for NAME (printed once: only its hash is stored), or --revoke ID."""
    ws = _open(db)
    if revoke is not None:
        if ws.revoke_token(revoke, actor=by) is None:
            _fail(f"no API token with id {revoke}")
        _say(f"API token {revoke} revoked")
        return
    with _user_errors():
        token = ws.create_token(name, label, actor=by)
    print(token)
    _say("keep it now: claimwatch stores only its hash. Use it as `Authorization: Bearer TOKEN`.", to=err)


@app.command()
def serve(
    db: DbOpt = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default; see README for a proxy).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    studies: Annotated[
        Path | None,
        typer.Option(help="Folder of study files the Dashboard and Studies pages offer (default: ./studies)."),
    ] = None,
    root_path: Annotated[str, typer.Option(help="URL prefix when a reverse proxy serves the app under a path.")] = "",
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.")
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxy addresses whose forwarded headers are trusted.")
    ] = "127.0.0.1",
    secure_cookies: Annotated[
        bool, typer.Option(help="Send the session cookie over HTTPS only (behind a TLS proxy).")
    ] = False,
) -> None:
    """The web workspace: dashboard, search, studies and a JSON API (/api/v1) over the store."""
    import uvicorn  # the web stack loads only for this command

    from claimwatch.web import WebOptions, create_app

    ws = _open(db)
    if not ws.list_users():
        _fail(f"no users in {db or 'the store'} yet: add one first with `claimwatch users add NAME --role admin`")
    options = WebOptions(studies_dir=studies or Path("studies"), secure_cookies=secure_cookies)
    _say(f"claimwatch workspace on http://{host}:{port}{root_path}/ (Ctrl+C stops it)", to=err)
    uvicorn.run(
        create_app(ws, options),
        host=host,
        port=port,
        root_path=root_path,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level="warning",
    )


@verdicts_app.command("apply")
def verdicts_apply(
    db: DbOpt = None,
    verdicts: Annotated[
        list[Path] | None, typer.Option("--verdicts", help="Extra verdict table(s) (TSV: rating, verdict, lang, note).")
    ] = None,
) -> None:
    """Re-normalise every stored rating with the shipped table plus your own."""
    ws = _open(db, verdict_files=tuple(str(v) for v in verdicts) if verdicts else None)
    with _user_errors():
        res = ws.renormalise_verdicts()
    console.print(f"{res['changed']:,} of {res['factchecks']:,} fact-checks changed verdict")


@verdicts_app.command("show")
def verdicts_show(
    rating: Annotated[str, typer.Argument(help="A rating text, e.g. 'Pants on Fire'.")],
    verdicts: Annotated[
        list[Path] | None,
        typer.Option(
            "--verdicts", help="Extra verdict table(s) (default: the verdict_files setting, CLAIMWATCH_VERDICTS)."
        ),
    ] = None,
) -> None:
    """Show how a rating text is normalised (with the shipped table and your configured ones)."""
    with _user_errors():
        verdict, method = _tools(verdict_files=tuple(str(v) for v in verdicts) if verdicts else None).verdict(rating)
    console.print(f"{rating!r} → {verdict.value if verdict else 'unknown'} ({method})", highlight=False, markup=False)


# ---------------------------------------------------------------------------- eval / train

RetrievalModelOpt = Annotated[
    str | None,
    typer.Option(
        "--retrieval-model",
        help="Trained re-ranker directory, or 'none' for plain BM25 + dense fusion (default: the "
        "retrieval_model setting, CLAIMWATCH_RETRIEVAL_MODEL, else the shipped model).",
    ),
]


def _print_eval(res: dict[str, Any]) -> None:
    t = Table(title=f"retrieval ({res['method']}, {res['n_queries']} queries)", show_header=False)
    for key in ("map@1", "map@3", "map@5", "p@1", "recall@5", "recall@20", "mrr"):
        t.add_row(key.upper(), f"{res[key]:.4f}")
    console.print(t)
    if "top1_at_confidence" in res:
        console.print(_top1_table("top-1 proposals at confidence ≥ t", res["top1_at_confidence"]))
        for key, title in (("reliability", "queries"), ("reliability_with_no_claim_posts", "queries + no-claim posts")):
            if key not in res:
                continue
            ece = res["ece" if key == "reliability" else "ece_with_no_claim_posts"]
            rel = Table(title=f"reliability on {title} (ECE {ece:.3f})")
            for col in ("confidence", "n", "mean confidence", "accuracy"):
                rel.add_column(col, justify="right")
            for b in res[key]:
                if b["n"]:
                    rel.add_row(
                        f"{b['low']:.1f}–{b['high']:.1f}",
                        str(b["n"]),
                        f"{b['mean_confidence']:.3f}",
                        f"{b['accuracy']:.3f}",
                    )
            console.print(rel)
    if "no_claim_posts" in res:
        _say(_false_proposals(res, res["method"], f"on {count(res['no_claim_posts'], 'post')} without a fact-check"))
        per_file = res["negatives_per_file"]
        if len(per_file) > 1:
            for name, sub in per_file.items():
                _say(_false_proposals(sub, res["method"], f"on {count(sub['no_claim_posts'], 'post')} of {name}"))
    if "open_world" in res:
        _print_open_world(res["open_world"])


def _top1_table(title: str, points: list[dict[str, Any]]) -> Table:
    """Precision/recall of top-1 proposals at each threshold (metrics.ThresholdPoint rows)."""
    t = Table(title=title)
    for col in ("t", "proposed", "precision", "recall"):
        t.add_column(col, justify="right")
    for p in points:
        t.add_row(
            f"{p['threshold']:g}",
            str(p["proposed"]),
            "-" if p["precision"] is None else f"{p['precision']:.3f}",
            f"{p['recall']:.3f}",
        )
    return t


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _false_proposals(res: dict[str, Any], method: str, where: str) -> str:
    """The false proposal line: at confidences where they exist, else at the score threshold."""
    head = f"false proposals {where}: "
    if "false_proposal_rate" in res:
        return head + ", ".join(f"{_rate(r)} at confidence ≥ {t}" for t, r in res["false_proposal_rate"].items())
    score = "fused score" if method == "hybrid-bm25-dense-v1" else "re-ranker score"
    ((t, r),) = res["false_proposal_rate_at_score"].items()
    return head + (
        f"no calibrated confidence without a trained model, so none at a confidence; {_rate(r)} at the "
        f"{score} threshold {t} (from which `claimwatch match` proposes)"
    )


def _print_open_world(ow: dict[str, Any]) -> None:
    _say(
        f"open world (leave-gold-out, seed {ow['seed']}, fraction {ow['fraction']}): {ow['claims_removed']:,} "
        f"gold claims removed ({ow['collection']:,} left); {ow['open_queries']} queries without their gold, "
        f"{ow['closed_queries']} with it"
    )
    _say(_false_proposals(ow, ow["method"], f"on the {ow['open_queries']} queries without their gold"))
    by = "confidence" if ow["decided_by"] == "confidence" else "score"
    console.print(_top1_table(f"top-1 proposals at {by} ≥ t on the queries that keep their gold", ow[f"top1_at_{by}"]))
    if ow["closed_world"]:
        cw_ = ow["closed_world"]
        _say(
            "closed world in the reduced collection: "
            + ", ".join(f"{k.upper()} {cw_[k]:.4f}" for k in ("map@5", "p@1"))
        )


@eval_app.command("retrieval")
def eval_retrieval(
    vclaims: Annotated[
        str,
        typer.Option(
            help="Verified claims: CheckThat! JSONL/TSV (2A or 2B), or a claimwatch "
            "store (.db file or database URL) to evaluate your own fact-checks."
        ),
    ],
    queries: Annotated[Path, typer.Option(help="Queries TSV (id<TAB>text).")],
    qrels: Annotated[
        Path,
        typer.Option(help="TREC qrels (qid 0 claim_id 1); for a store, claim ids are fact-check ids or review URLs."),
    ],
    model: ModelOpt = None,
    retrieval_model: RetrievalModelOpt = None,
    negatives: Annotated[
        list[Path] | None,
        typer.Option(
            help="Check-worthiness TSV; its label-0 posts measure the false proposal rate on posts "
            "without a fact-check. Repeat for several files (reported per file and together)."
        ),
    ] = None,
    open_world: Annotated[
        bool,
        typer.Option(
            "--open-world",
            help="Also leave gold out: a seeded share of the queries lose their gold claims from the "
            "collection; report how often they are proposed something anyway, and top-1 precision on the rest.",
        ),
    ] = False,
    open_world_seed: Annotated[int, typer.Option(help="Seed of the leave-gold-out pick.")] = 13,
    open_world_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the queries whose gold claims leave the collection.")
    ] = 0.5,
    context: Annotated[int, typer.Option(help="Neighbouring debate sentences to add as context.")] = 0,
    depth: Annotated[int, typer.Option(help="Claims ranked per query.")] = 20,
    run_out: Annotated[Path | None, typer.Option("--run-out", help="Write a TREC run file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """MAP@1/3/5, P@1, Recall@5/@20, MRR; with a calibrated model also precision/recall at confidence
    0.5/0.7/0.9 and a reliability table; with --open-world, the leave-gold-out figures."""
    from claimwatch.evaluation.retrieval import OpenWorld

    _check_out(run_out, "--run-out", folder=False)
    with _user_errors():  # DataError (a malformed file, with its line) is a ValueError
        res, run = _tools(model=model, retrieval_model=retrieval_model).eval_retrieval(
            vclaims,
            queries,
            qrels,
            negatives=negatives or (),
            open_world=OpenWorld(open_world_fraction, open_world_seed) if open_world else None,
            context=context,
            depth=depth,
            show_progress=err.is_terminal,
        )
    _warn(run.warnings)
    if run_out:
        atomic.write_text(run_out, "\n".join(run.trec_lines()) + "\n")
    if as_json:
        print(json.dumps(res))
    else:
        _print_eval(res)


@train_app.command("retrieval")
def train_retrieval(
    datasets: DatasetsOpt,
    out: Annotated[
        Path | None,
        typer.Option(help="Where the model goes; point --retrieval-model or CLAIMWATCH_RETRIEVAL_MODEL at it."),
    ] = None,
    model: ModelOpt = None,
    cv: Annotated[
        bool,
        typer.Option(
            "--cv",
            help="Instead of training: compare the re-ranker's feature sets by grouped k-fold cross-validation "
            "over all labelled 2A+2B queries (train and dev) and print held-out MAP@5 per task; writes no model.",
        ),
    ] = False,
    folds: Annotated[int, typer.Option(min=2, help="With --cv: the number of folds.")] = 5,
    by_query: Annotated[
        bool,
        typer.Option(
            "--by-query",
            help="With --cv: fold by query alone (default: queries sharing a gold claim stay in one fold).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train the re-ranker on CheckThat! 2A+2B train and calibrate it on their dev sets (seeded)."""
    if cv:
        if out is not None:
            _fail("--cv writes no model; drop --out (or --cv to train one)")
        with _user_errors():
            results = _tools(model=model).cv_retrieval(datasets, folds=folds, group_by_gold=not by_query, log=_log)
        if as_json:
            print(json.dumps([asdict(r) for r in results]))
            return
        t = Table(title=f"re-ranker, {folds}-fold CV by {'query' if by_query else 'gold-claim group'} (seed 13)")
        tasks = sorted({name for r in results for name in r.tasks})
        t.add_column("feature set")
        for name in tasks:
            t.add_column(f"{name} MAP@5 ± fold std", justify="right")
        for r in results:
            t.add_row(r.features, *(f"{r.tasks[n].map5:.4f} ± {r.tasks[n].fold_std:.4f}" for n in tasks))
        console.print(t)
        return
    if out is None:
        _fail("give --out (where the model goes), or --cv to compare feature sets without training")
    _check_out(out, "--out")
    with _user_errors():
        meta = _tools(model=model).train_retrieval(datasets, out, log=_log)
    _say(f"model written to {out} ({meta['n_train_queries']} training queries, encoder {meta['encoder']})")


@train_app.command("encoder")
def train_encoder_cmd(
    datasets: DatasetsOpt,
    out: Annotated[
        Path, typer.Option(help="Where the fine-tuned sentence-transformers model goes; use it with --model DIR.")
    ],
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training pairs.")] = 1,
    model: ModelOpt = None,
) -> None:
    """Fine-tune the bi-encoder on CheckThat! 2A+2B train pairs with hard negatives (seeded)."""
    _check_out(out, "--out")
    with _user_errors():
        meta = _tools(model=model).train_encoder(datasets, out, epochs=epochs, log=_log)
    _say(f"encoder written to {out} ({meta['triples']} training triples, {meta['epochs']} epoch(s))")


@eval_app.command("checkworthiness")
def eval_checkworthiness(
    data: Annotated[
        Path | None,
        typer.Option(
            help="A labelled CheckThat! check-worthiness TSV: debate sentences "
            "(Sentence_id, Text, class_label Yes/No) or tweets (tweet_id, tweet_text, "
            "class_label / check_worthiness 1/0)."
        ),
    ] = None,
    all_sets: Annotated[
        bool,
        typer.Option(
            "--all-sets",
            help="Instead: cross-validate the training recipe and the MiniLM + logistic regression baseline "
            "over every labelled set under --datasets (held out by debate / split file) and print F1 per set.",
        ),
    ] = False,
    datasets: Annotated[
        Path | None,
        typer.Option(help="With --all-sets: the folder with CheckThat! and ClaimBuster data (../shared/datasets)."),
    ] = None,
    cw_model: CwModelOpt = None,
    model: ModelOpt = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="Score with the 'post' or 'sentence' head (default: post for "
            "tweet files, sentence for sentence files)."
        ),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Decision threshold (default: the model's for that kind).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """F1, precision and recall of the check-worthy class, accuracy and MAP of the ranking by score."""
    from claimwatch.claims.checkworthiness import is_model_dir

    if all_sets:
        if datasets is None or data is not None or cw_model or threshold is not None or kind:
            _fail(
                "--all-sets evaluates the training recipe on --datasets DIR; drop --data/--cw-model/--kind/--threshold"
            )
        with _user_errors():
            report = _tools(model=model).cv_checkworthiness(datasets, log=_log)
        if as_json:
            print(json.dumps(report))
            return
        _print_all_sets(report)
        return
    if data is None:
        _fail("give --data FILE (a labelled TSV), or --all-sets --datasets DIR")

    if model and not cw_model and is_model_dir(model):  # the spelling before --cw-model existed
        _say(
            f"note: `--model {model}` names a check-worthiness model; use `--cw-model {model}` (--model is the "
            "sentence encoder in every command; the old spelling will stop working)",
            to=err,
        )
        cw_model, model = model, None
    with _user_errors():  # DataError (a malformed file, with its line) is a ValueError
        res = _tools(model=model, checkworthiness_model=cw_model).eval_checkworthiness(
            data, kind=kind, threshold=threshold
        )
    if as_json:
        print(json.dumps(res))
        return
    _say(
        f"model: {res['model']}\n{res['kind']} head, {res['n']} texts ({res['positives']} check-worthy), "
        f"threshold {res['threshold']:.2f}:"
    )
    t = Table(show_header=False)
    for key in ("f1", "precision", "recall", "accuracy", "map"):
        t.add_row(key.upper() if key == "map" else key, f"{res[key]:.4f}")
    console.print(t)


def _print_all_sets(report: dict[str, Any]) -> None:
    t = Table(title=f"check-worthiness over every labelled set (held out by debate / split file), {report['encoder']}")
    for col in ("set", "head", "n (check-worthy)", "threshold", "F1", "baseline F1 at 0.5 / CV", "MAP", "baseline MAP"):
        t.add_column(col, justify="left" if col in ("set", "head") else "right")
    for r in report["sets"]:
        t.add_row(
            r["set"],
            r["kind"],
            f"{r['n']:,} ({r['positives']:,})",
            f"{r['threshold']:.2f}",
            f"{r['f1']:.3f}",
            f"{r['baseline_f1']:.3f} / {r['baseline_cv_f1']:.3f}",
            f"{r['map']:.3f}",
            f"{r['baseline_map']:.3f}",
        )
    console.print(t)
    verdict = "every set above its baseline" if report["all_above_baseline"] else "NOT above the baseline on every set"
    _say(
        f"mean F1 {report['mean_f1']:.3f} (baseline {report['baseline_mean_f1']:.3f} at 0.5, "
        f"{report['baseline_cv_mean_f1']:.3f} at CV thresholds); {verdict}"
    )


@train_app.command("checkworthiness")
def train_checkworthiness(
    datasets: Annotated[
        Path,
        typer.Option(help="Folder with the CLEF CheckThat! check-worthiness data in the layout of ../shared/datasets."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Where the model goes; point `eval checkworthiness --cw-model` or the "
            "checkworthiness_model setting at it."
        ),
    ],
    model: ModelOpt = None,
    finetune: Annotated[
        bool,
        typer.Option(
            "--finetune",
            help="Fine-tune a copy of the encoder with the heads (better, ~20 min on 2 cores, 90 MB; "
            "scoring then costs a second encoder pass). Starts from --model or the bundled one.",
        ),
    ] = False,
    steps: Annotated[
        int | None, typer.Option(help="With --finetune: stop after this many batches (smoke runs).", min=1)
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="With --finetune: another random seed than the recipe's (to measure run-to-run spread)."),
    ] = None,
) -> None:
    """Train the sentence head on CheckThat! 2024 task 1 train and the post head on 2021/2022 1A train
    tweets (seeded): over matching's embeddings with thresholds from cross-validation and dev, or
    with --finetune on a fine-tuned encoder of its own."""
    _check_out(out, "--out")
    with _user_errors():
        meta = _tools(model=model).train_checkworthiness(
            datasets, out, finetune=finetune, steps=steps, seed=seed, log=_log
        )
    heads = ", ".join(f"{k} ({h['n_train']} texts, threshold {h['threshold']:.2f})" for k, h in meta["heads"].items())
    encoder = f"own encoder in {out / meta['own_encoder']}" if meta.get("own_encoder") else f"encoder {meta['encoder']}"
    _say(f"model written to {out}: {heads}; {encoder}")


# ---------------------------------------------------------------------------- demo


@app.command()
def demo(
    out: Annotated[
        Path,
        typer.Option(
            help="The demo's folder: its store, index and report files (a new or empty "
            "folder, or one an earlier demo wrote)."
        ),
    ] = Path("claimwatch-demo"),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Another store for the demo, e.g. a PostgreSQL database "
            "made with `claimwatch init`: a new file or a store holding only "
            "demo data (the db setting and CLAIMWATCH_DB are not used).",
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on the bundled synthetic demo data and write the report (with the default
    settings, so it prints the same figures everywhere; your configured store is never opened)."""
    from claimwatch.demo import open_commands, run_demo

    with _user_errors():  # DemoRefused: a folder or store the demo did not make
        rep, paths, log = run_demo(out, db)
    for line in log:
        _say(line)
    print_report(rep, limit=30)
    _say("wrote " + ", ".join(str(p) for p in paths.values()))
    _say("open the demo in the web workspace (review queue, dashboard, studies): add yourself, then serve")
    for command in open_commands(out, db):
        _say(f"  {command}")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # e.g. `claimwatch stats | head`
        sys.exit(0)


# The media commands build on the helpers above, so they are registered last.
from claimwatch.media_cli import media_app  # noqa: E402

app.add_typer(media_app, name="media")
from claimwatch.alerts_cli import alerts_app, metrics_app  # noqa: E402

app.add_typer(alerts_app, name="alerts")
app.add_typer(metrics_app, name="metrics")
from claimwatch.live_cli import watch  # noqa: E402

app.command("watch")(watch)
from claimwatch.batch_cli import batch_app, export_app  # noqa: E402

app.add_typer(batch_app, name="batch")
app.add_typer(export_app, name="export")
