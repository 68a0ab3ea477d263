"""``claimwatch media …``: fetch post media, bank debunked media, read provenance, match.

Registered by :mod:`claimwatch.cli` at its end, and built on its helpers (store opening, one-line
errors), so every command keeps the CLI's boundary: no traceback reaches a user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from claimwatch import api
from claimwatch.analysis.jsonable import jsonable
from claimwatch.cli import ActorOpt, DbOpt, JsonOpt, _fail, _open, _progress, _say, _user_errors, _warn, console, err
from claimwatch.media import bank, downloads
from claimwatch.media.fetch import FetchLimits, FetchResult
from claimwatch.media.provenance import Limits, Provenance, ProvenanceState, read_provenance
from claimwatch.media.provenance_run import read_stored
from claimwatch.media.records import MediaLabel, Refused
from claimwatch.media.storage import MediaStore, media_dir_of
from claimwatch.terminal import safe
from claimwatch.wording import count

media_app = typer.Typer(
    help="Known manipulated media: fetch post media, bank debunked items, read provenance, match.",
    no_args_is_help=True,
)
bank_app = typer.Typer(help="The bank of debunked images, videos and audio clips.", no_args_is_help=True)
media_app.add_typer(bank_app, name="bank")

# ---------------------------------------------------------------- bank (media bank add/import/export/list)

_LABELS = " | ".join(m.value for m in MediaLabel)
FactcheckOpt = Annotated[
    str | None, typer.Option("--factcheck", help="Review URL of the fact-check that debunked the media.")
]
LabelOpt = Annotated[str | None, typer.Option("--label", help=f"What the fact-checker found: {_LABELS}.")]
ClaimOpt = Annotated[
    str | None, typer.Option("--claim", help="The debunked claim, when the fact-check is not in the store.")
]
RatingOpt = Annotated[
    str | None, typer.Option("--rating", help="The fact-check's rating as published, when it is not in the store.")
]
PublisherOpt = Annotated[str | None, typer.Option("--publisher", help="Who published the fact-check (with --claim).")]


@contextmanager
def _bank_errors() -> Iterator[None]:
    """A refused file, a bad list or option, an item in use: one line, exit 2."""
    with _user_errors():
        try:
            yield
        except Refused as exc:
            _fail(str(exc))


def _given(factcheck: str | None, claim: str | None, rating: str | None, publisher: str | None) -> bank.GivenFactCheck:
    return bank.GivenFactCheck(url=factcheck, claim=claim, rating=rating, publisher=publisher)


@bank_app.command("add")
def bank_add(
    file: Annotated[Path, typer.Argument(help="The debunked image, video or audio file.")],
    factcheck: FactcheckOpt = None,
    label: LabelOpt = None,
    claim: ClaimOpt = None,
    rating: RatingOpt = None,
    publisher: PublisherOpt = None,
    by: ActorOpt = None,
    db: DbOpt = None,
) -> None:
    """Bank a debunked image, video or audio file with the fact-check that debunked it (re-adding updates)."""
    if not file.is_file():
        _fail(f"{file}: no such file")
    ws = _open(db, create=True)
    with _bank_errors():
        done = bank.add_file(
            ws.engine,
            file,
            _given(factcheck, claim, rating, publisher),
            label=label or MediaLabel.OTHER.value,
            by=by,
            verdicts=ws.verdict_table(),
        )
    _warn(list(done.warnings))
    item = done.item
    verb = "banked" if done.created else "updated"
    _say(
        f"{verb} item {item.id} ({item.kind}, {item.label}): {count(item.pdq_hashes, 'PDQ hash', 'PDQ hashes')}, "
        f"{count(item.audio_prints, 'audio print')}; fact-check {item.review_url} "
        f"(rating: {item.rating_text or 'unknown'})"
    )


@bank_app.command("import")
def bank_import(
    file: Annotated[Path, typer.Argument(help="A ThreatExchange-compatible hash list (text, CSV, simple.<TYPE>.te).")],
    factcheck: FactcheckOpt = None,
    column: Annotated[
        str | None, typer.Option("--column", help="CSV column holding each entry's fact-check URL.")
    ] = None,
    label: LabelOpt = None,
    origin: Annotated[
        str | None, typer.Option("--origin", help="Name of the list (default: the file name); keys re-imports.")
    ] = None,
    claim: ClaimOpt = None,
    rating: RatingOpt = None,
    publisher: PublisherOpt = None,
    by: ActorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a ThreatExchange-compatible hash list; bad lines are reported and skipped (re-importing updates)."""
    if not file.is_file():
        _fail(f"{file}: no such file")
    ws = _open(db, create=True)
    with _bank_errors():
        rep = bank.import_list(
            ws.engine,
            file,
            _given(factcheck, claim, rating, publisher),
            url_column=column,
            label=label,
            origin=origin,
            by=by,
            verdicts=ws.verdict_table(),
        )
    if as_json:
        console.print_json(json.dumps(jsonable(asdict(rep))))
        return
    _warn(rep.warnings)
    for r in rep.rejected:
        line = r.source.location.removeprefix("line ")
        err.print(f"[yellow]rejected:[/] {escape(safe(f'{r.source.path}:{line}: {r.reason}'))}", highlight=False)
    _say(
        f"{file} ({rep.form}, origin {rep.origin}): {rep.inserted} new, {rep.updated} updated, "
        f"{count(len(rep.rejected), 'line')} rejected"
    )


@bank_app.command("export")
def bank_export(
    out: Annotated[Path, typer.Argument(help="The hash list file to write.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="te: `pdq <hex>` / `vpdq <json>` / `video_md5 <md5>` lines (py-tx reads them); "
            "hex: image PDQ only; csv: with quality, label and fact-check URL.",
        ),
    ] = "te",
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
    db: DbOpt = None,
) -> None:
    """Export the bank as a ThreatExchange-compatible hash list (audio prints have no TE type: skipped)."""
    ws = _open(db, read_only=True)
    with _bank_errors():
        counts = bank.export_list(ws.engine, out, fmt, force=force)
    for reason, n in sorted(counts.skipped.items()):
        _warn([f"skipped {n}: {reason}"])
    _say(f"wrote {count(counts.signals, 'signal')} of {count(counts.items, 'item')} to {out}")


@bank_app.command("list")
def bank_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The bank's items: kind, label, hashes and the fact-check each points at."""
    items = bank.list_items(_open(db, read_only=True).engine)
    if as_json:
        console.print_json(json.dumps(jsonable([asdict(i) for i in items])))
        return
    if not items:
        _say("the bank is empty")
        return
    t = Table("id", "kind", "label", "origin", "PDQ", "audio", "rating", "fact-check", "added by")
    for i in items:
        cells = [i.id, i.kind, i.label, i.origin, i.pdq_hashes, i.audio_prints, i.rating_text or "unknown"]
        t.add_row(*(Text(safe(c)) for c in (*cells, i.review_url, i.added_by or "")))
    console.print(t)


@bank_app.command("remove")
def bank_remove(
    item_id: Annotated[int, typer.Argument(help="The item's id (see `media bank list`).")],
    by: Annotated[str, typer.Option("--by", help="Who removes it (for the audit log).")],
    db: DbOpt = None,
) -> None:
    """Remove a bank item (refused when analysts decided matches on it)."""
    ws = _open(db)
    with _bank_errors():
        item = bank.remove(ws.engine, item_id, by=by)
    _say(f"removed item {item.id} ({item.kind}, {item.review_url})")


# ---------------------------------------------------------------- fetch (media fetch, media status)

MediaDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--media-dir",
        help="Folder of fetched media files (default: the media_dir setting, CLAIMWATCH_MEDIA_DIR, else beside "
        "a SQLite store x.db → x.media/, for a server database ./claimwatch.media).",
        show_default=False,
    ),
]
MaxBytesOpt = Annotated[
    str,
    typer.Option("--max-bytes", help="Refuse files larger than this (bytes, or with a K/M/G suffix)."),
]


def _size(value: str) -> int:
    """``--max-bytes``: a byte count, or one with a K/M/G (binary) suffix."""
    text = value.strip().upper().removesuffix("B")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if factor > 1 else text
    if not digits.isdigit() or int(digits) == 0:
        _fail(f"--max-bytes {value!r}: expected a positive number of bytes, e.g. 50000000 or 50M")
    return int(digits) * factor


def _media_store(ws: api.Workspace, media_dir: Path | None) -> MediaStore:
    return MediaStore(media_dir_of(ws.settings, media_dir))


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


@media_app.command("fetch")
def media_fetch(
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Download at most N files this run.")] = None,
    max_bytes: MaxBytesOpt = "200M",
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds one file may take (headers to last byte).")
    ] = 300.0,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Try failed downloads again now, those out of attempts too.")
    ] = False,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Also fetch from loopback, private and link-local addresses (refused by default: a post's URL "
            "is hostile). Only for a local mirror you run yourself.",
        ),
    ] = False,
    media_dir: MediaDirOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download the media the stored posts reference (resumable: re-run to continue)."""
    defaults = FetchLimits()
    limits = FetchLimits(
        max_bytes=_size(max_bytes),
        total_timeout_s=timeout,
        read_timeout_s=min(defaults.read_timeout_s, timeout),
        connect_timeout_s=min(defaults.connect_timeout_s, timeout),
        allow_private=allow_private,
    )
    ws = _open(db)
    store = _media_store(ws, media_dir)
    with _progress() as bar:
        task = bar.add_task("fetching media", total=limit)

        def tick(url: str, result: FetchResult) -> None:
            bar.update(task, advance=1, description=escape(f"{result.outcome.value}: {safe(url)[:60]}"))

        summary = downloads.fetch_media(ws.engine, store, limits, limit=limit, retry_failed=retry_failed, progress=tick)
    if as_json:
        _say(json.dumps({**asdict(summary), "media_dir": str(store.root)}))
        return
    _say(
        f"fetched {summary.fetched} ({_megabytes(summary.bytes)}), failed {summary.failed}, "
        f"refused {summary.refused}, skipped {summary.skipped} (nothing to fetch); "
        f"{count(summary.queued, 'new reference')} queued"
        + (f", {summary.retried} failed retried" if retry_failed else "")
    )
    for line in summary.errors[:10]:
        _say(f"  {line}", to=err)
    if len(summary.errors) > 10:
        _say(f"  … and {len(summary.errors) - 10} more (claimwatch media status)", to=err)
    _say(f"files in {store.root}")


@media_app.command("status")
def media_status(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The download queue: references by status and type, bytes fetched, recent errors."""
    st = downloads.status(_open(db, read_only=True).engine)
    if as_json:
        _say(
            json.dumps(
                {
                    "counts": [{"status": k[0], "type": k[1], "n": n} for k, n in sorted(st.counts.items(), key=str)],
                    "unqueued": st.unqueued,
                    "fetched_bytes": st.fetched_bytes,
                    "recent_errors": [{**asdict(e), "at": e.at.isoformat()} for e in st.recent_errors],
                }
            )
        )
        return
    table = Table(title="media downloads")
    table.add_column("status")
    table.add_column("type")
    table.add_column("references", justify="right")
    for (status, kind), n in sorted(st.counts.items(), key=str):
        table.add_row(Text(status), Text(safe(kind or "?")), f"{n:,}")
    console.print(table)
    _say(
        f"{count(st.unqueued, 'reference')} not queued yet (the next fetch queues them); "
        f"{_megabytes(st.fetched_bytes)} fetched"
    )
    for e in st.recent_errors:
        _say(f"{e.status} #{e.fetch_id} {e.url or '-'}: {e.error}")


@media_app.command("add")
def media_add(
    post: Annotated[str, typer.Argument(help="The post's id on its platform (as stored), e.g. 1816000000000000001.")],
    file: Annotated[Path, typer.Argument(help="The media file to attach (copied into the media folder).")],
    platform: Annotated[str, typer.Option(help="The post's platform: x, bluesky, mastodon, telegram …")] = "x",
    max_bytes: MaxBytesOpt = "200M",
    media_dir: MediaDirOpt = None,
    db: DbOpt = None,
) -> None:
    """Attach a local file to a stored post (e.g. a video an analyst saved): it is then matched
    like the post's fetched media."""
    ws = _open(db)
    limits = FetchLimits(max_bytes=_size(max_bytes))
    with _user_errors():
        done = downloads.add_local(ws.engine, _media_store(ws, media_dir), limits, platform, post, file)
    what = f"{done.mime}, {done.size_bytes:,} bytes, sha256 {done.sha256[:12]}…"
    if done.added:
        _say(f"attached {file} to {platform} post {post} as {done.media_key} ({what})")
    else:
        _say(f"{platform} post {post} already has this file as {done.media_key} ({what}); nothing changed")


# ---------------------------------------------------------------- provenance (media provenance)


@media_app.command()
def provenance(
    file: Annotated[Path | None, typer.Argument(help="A local media file to read (no store needed).")] = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="Read every stored, hashed file whose provenance is not read yet.")
    ] = False,
    media_dir: Annotated[
        Path | None,
        typer.Option("--media-dir", help="The media folder (default: beside a SQLite store x.db, x.media/)."),
    ] = None,
    max_mb: Annotated[int, typer.Option("--max-mb", min=1, help="Refuse files larger than this.")] = 500,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds one read may take.")] = 20.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """C2PA content credentials, read offline: state (valid, invalid, absent, unreadable), claim
    generator, actions, digitalSourceType and whether a valid manifest declares AI generation.
    A missing or invalid manifest is unknown provenance, never "authentic"."""
    if (file is None) == (not stored):
        _fail("give a FILE to read, or --stored to read the store's files (not both)")
    limits = Limits(max_bytes=max_mb * 2**20, seconds=timeout)
    if file is not None:
        if not file.is_file():
            _fail(f"{file}: no such file")
        p = read_provenance(file, limits)
        if as_json:
            print(json.dumps(jsonable(p)))
        else:
            _show_provenance(file, p)
        return
    ws = _open(db)
    done = read_stored(ws.engine, media_dir_of(ws.settings, media_dir), limits)
    if as_json:
        print(json.dumps(jsonable(done) | {"read": done.read}))
        return
    states = ", ".join(f"{n:,} {state}" for state, n in sorted(done.states.items())) or "none"
    _say(f"provenance read for {count(done.read, 'file')} ({states}); {done.ai_declared:,} declare AI generation")
    for file_id, path in done.missing:
        _say(f"file {file_id}: {path} is not in the media folder; not read", to=err)


def _show_provenance(file: Path, p: Provenance) -> None:
    lines = [f"{file}: {p.state.value}" + (f" ({p.reason})" if p.reason else "")]
    if p.state is ProvenanceState.VALID:
        signer = f", signer {p.signer.value}" if p.signer else ""
        lines.append(f"  signed by: {p.issuer or 'unknown issuer'}{signer}")
    if p.claim_generator:
        lines.append(f"  claim generator: {p.claim_generator}")
    for a in p.actions:
        src = f" — {a.digital_source_type}" if a.digital_source_type else ""
        lines.append(f"  action: {a.action}{' by ' + a.software_agent if a.software_agent else ''}{src}")
    ai = {True: "yes (a valid manifest says so)", False: "no", None: "unknown (no valid manifest)"}[p.ai_declared]
    lines.append(f"  AI-generated by its own declaration: {ai}")
    if p.validation:
        lines.append("  validation: " + ", ".join(p.validation))
    for line in lines:
        _say(line)


# ---------------------------------------------------------------- match (media match)


@media_app.command("match")
def media_match(
    max_distance: Annotated[
        int, typer.Option("--max-distance", help="PDQ: the largest Hamming distance (of 256 bits) that matches.")
    ] = 31,
    min_quality: Annotated[
        int, typer.Option("--min-quality", help="PDQ: hashes below this quality are not used.")
    ] = 50,
    min_share: Annotated[
        float, typer.Option("--min-share", help="Video: the share of the post's frames that must match.")
    ] = 0.5,
    max_ber: Annotated[float, typer.Option("--max-ber", help="Audio: the largest bit-error rate that matches.")] = 0.2,
    rematch: Annotated[
        bool,
        typer.Option(
            "--rematch",
            help="Match every post with media again; by default only posts not yet matched against the "
            "current bank with these thresholds, or with newly hashed media.",
        ),
    ] = False,
    media_dir: MediaDirOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match the posts' media against the bank of debunked items.

    Hashes the fetched media not hashed yet (and reads its provenance) first; proposals join the
    review queue beside the text matches."""
    from claimwatch.media.match import MediaRules, match_media

    if not 0 <= max_distance < 256:
        _fail(f"--max-distance must be 0–255, not {max_distance}")
    if not 0 <= min_quality <= 100:
        _fail(f"--min-quality must be 0–100, not {min_quality}")
    if not 0 < min_share <= 1 or not 0 < max_ber < 0.5:
        _fail("--min-share must be in (0, 1] and --max-ber in (0, 0.5)")
    ws = _open(db)
    rules = MediaRules(max_distance=max_distance, min_quality=min_quality, min_share=min_share, max_ber=max_ber)
    with _user_errors(), _progress() as bar:
        task = bar.add_task("matching media", total=None)
        done = match_media(
            ws.engine,
            media_dir_of(ws.settings, media_dir),
            rules=rules,
            rematch=rematch,
            progress=lambda n, total: bar.update(task, completed=n, total=total),
        )
    if as_json:
        print(json.dumps(jsonable(done)))
        return
    for reason in done.refused:
        _say(f"refused: {reason}", to=err)
    proposals = ", ".join(f"{n:,} {method}" for method, n in sorted(done.proposals.items())) or "none"
    _say(
        f"hashed {count(done.hashed, 'file')} ({len(done.refused):,} refused); matched "
        f"{count(done.files, 'file')} of {count(done.posts, 'post')} against {count(done.bank_items, 'bank item')}: "
        f"proposals {proposals}"
    )
