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

from claimwatch.analysis.jsonable import jsonable
from claimwatch.cli import ActorOpt, DbOpt, JsonOpt, _fail, _open, _say, _user_errors, _warn, console, err
from claimwatch.media import bank
from claimwatch.media.records import MediaLabel, Refused
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

# ---------------------------------------------------------------- provenance (media provenance)

# ---------------------------------------------------------------- match (media match)
