"""The media bank's library calls: bank a debunked file, import or export a shared hash list,
list and remove items. Every change lands in one transaction with its audit entry: a bank
change changes what gets flagged, so who made it is kept (``store.audit``).

Each item gets its own fact-check row (:mod:`claimwatch.store.media_bank`): copied from the
debunking fact-check when its review URL is in the store; otherwise the claim and rating must be
given by the user — a rating is never made up.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from claimwatch import atomic
from claimwatch.media import hashlist
from claimwatch.media.index import DEFAULT_MIN_QUALITY
from claimwatch.media.records import MediaHashes, MediaLabel
from claimwatch.records import Rejected, SourceRef
from claimwatch.store import audit, media_bank, sanitise
from claimwatch.store.db import writing
from claimwatch.store.media_bank import BankFactCheck, BankItem, NewBankItem
from claimwatch.store.media_files import upsert_file
from claimwatch.store.rows import AuditEntry
from claimwatch.verdicts import VerdictTable

#: what hashes a file for the bank (``media.hashing.hash_file``; tests pass their own)
Hasher = Callable[[Path], MediaHashes]
OBJECT = "media_bank_item"
_URL_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class GivenFactCheck:
    """The debunking fact-check as the user named it: its review URL and — for a review not in
    the store — the claim, the rating and the publisher as they give them."""

    url: str | None = None
    claim: str | None = None
    rating: str | None = None
    publisher: str | None = None


@dataclass(frozen=True, slots=True)
class Banked:
    item: BankItem
    created: bool
    warnings: tuple[str, ...] = ()


@dataclass
class ImportReport:
    path: str
    form: str
    origin: str
    entries: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _actor(by: str | None) -> str:
    """Who made the change: the name given, else the operating-system user (as the CLI's other
    audited commands)."""
    if by is not None:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_label(label: str) -> MediaLabel:
    try:
        return MediaLabel(label.strip().lower())
    except ValueError:
        raise ValueError(f"label {label!r} is not one of {', '.join(m.value for m in MediaLabel)}") from None


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(url) > _URL_LIMIT
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise ValueError(f"fact-check URL {url[:80]!r} is not an http(s) URL of at most {_URL_LIMIT} characters")
    return url


def resolve_factcheck(
    conn: sa.Connection, given: GivenFactCheck, url: str, verdicts: VerdictTable
) -> tuple[BankFactCheck, list[str]]:
    """The bank row's fact-check: the ingested debunking one; else what the user gives (``--claim``
    and ``--rating`` required: a bank item never gets a rating nobody gave), or gave before for
    this URL when they give nothing new."""
    url = check_url(url)
    found = media_bank.debunking_factcheck(conn, url)
    user_given_before = found is not None and "given_by_user" in found.raw
    if found is not None and not (user_given_before and given.claim and given.rating):
        ignored = [o for o, v in (("--claim", given.claim), ("--rating", given.rating)) if v]
        notes = (
            [f"{url} is in the store: its claim and rating are used, not {' and '.join(ignored)}"] if ignored else []
        )
        return found, notes
    for option, value in (("--claim", given.claim), ("--rating", given.rating), ("--publisher", given.publisher)):
        if value is not None and not sanitise.storable(value):
            raise ValueError(f"{option} must be plain text (it holds a NUL or a lone surrogate)")
    claim, rating = (given.claim or "").strip(), (given.rating or "").strip()
    if not claim or not rating:
        raise ValueError(
            f"fact-check {url} is not in the store: ingest it first, or give the claim and its rating "
            "(--claim TEXT --rating TEXT, and --publisher NAME)"
        )
    verdict, method = verdicts.normalise(rating)
    publisher = (given.publisher or "").strip() or None
    raw = {"given_by_user": {"claim": claim, "rating": rating, "publisher": publisher}}
    fc = BankFactCheck(
        review_url=url,
        claim_text=claim,
        rating_text=rating,
        verdict=verdict.value if verdict else None,
        verdict_method=method,
        raw=raw,
        publisher_name=publisher,
    )
    return fc, []


def _state(item: BankItem) -> dict[str, Any]:
    """An item for the audit log (JSON-able)."""
    return json.loads(json.dumps(dataclasses.asdict(item), default=str))


def _hash_for_bank(path: Path) -> MediaHashes:
    from claimwatch.media.hashing import hash_file

    return hash_file(path, for_bank=True)


# --------------------------------------------------------------------------- add a file


def add_file(
    engine: sa.Engine,
    path: Path,
    given: GivenFactCheck,
    *,
    label: str = MediaLabel.OTHER.value,
    by: str | None = None,
    note: str | None = None,
    verdicts: VerdictTable | None = None,
    hasher: Hasher | None = None,
) -> Banked:
    """Hash ``path`` (every dihedral variant; video frames densely) and bank it with its
    fact-check. Re-adding the same bytes updates the item. Raises ``Refused`` for a file the
    hasher will not read, ValueError for a bad label, URL or missing claim/rating."""
    if not given.url:
        raise ValueError("give the debunking fact-check's review URL (--factcheck URL)")
    check_url(given.url)  # before the (slow) hashing
    media_label = check_label(label)
    actor = _actor(by)
    audit.check_actor(actor)
    hashes = (hasher or _hash_for_bank)(path)
    table = verdicts or VerdictTable.load()
    with writing(engine) as conn:
        fc, warnings = resolve_factcheck(conn, given, given.url, table)
        file_id = upsert_file(conn, hashes, None)
        fc_id = media_bank.put_bank_factcheck(conn, hashes.sha256, fc)
        before = media_bank.find_item(conn, media_bank.FILE_ORIGIN, hashes.sha256)
        item_id, created = media_bank.put_item(
            conn,
            NewBankItem(
                kind=hashes.info.kind.value,
                label=media_label.value,
                origin=media_bank.FILE_ORIGIN,
                external_id=hashes.sha256,
                file_id=file_id,
                note=note,
                added_by=actor,
                raw={"file": str(path), "size_bytes": hashes.size_bytes, "mime": hashes.info.mime},
            ),
            fc_id,
            hashes,
        )
        item = media_bank.get_item(conn, item_id)
        assert item is not None
        audit.append_audit(
            conn,
            AuditEntry(
                actor,
                "media_bank.add" if created else "media_bank.update",
                OBJECT,
                str(item_id),
                None if before is None else _state(before),
                _state(item),
            ),
        )
    if not hashes.pdq and hashes.audio is None:
        warnings.append(f"{path}: no perceptual hash (only exact copies of the file will match)")
    elif hashes.pdq and all(h.quality < DEFAULT_MIN_QUALITY for h in hashes.pdq) and hashes.audio is None:
        warnings.append(
            f"{path}: every PDQ hash has quality below {DEFAULT_MIN_QUALITY} (a flat or tiny picture): "
            "kept, but not matched (only exact copies of the file will match)"
        )
    return Banked(item, created, tuple(warnings))


# --------------------------------------------------------------------------- import / export


def _merge(entries: list[hashlist.ListEntry]) -> tuple[dict[str, list[hashlist.ListEntry]], list[Rejected]]:
    """Entries grouped by their external id (a list may give one item several rows: our export
    writes an image's variants, a video's vPDQ and MD5 as rows of one id); a row whose kind
    differs from its id's first row is rejected."""
    groups: dict[str, list[hashlist.ListEntry]] = {}
    rejected = []
    for e in entries:
        group = groups.setdefault(e.external_id, [])
        if group and group[0].kind != e.kind:
            rejected.append(_reject(e, f"id {e.external_id!r} is {group[0].kind} at {group[0].location}, not {e.kind}"))
            continue
        group.append(e)
    return groups, rejected


def _reject(entry: hashlist.ListEntry, reason: str) -> Rejected:
    return Rejected(
        SourceRef(entry.path, entry.location, "hashlist"), reason, json.dumps(entry.raw, default=str)[:2000]
    )


def import_list(
    engine: sa.Engine,
    path: Path,
    given: GivenFactCheck,
    *,
    url_column: str | None = None,
    label: str | None = None,
    origin: str | None = None,
    by: str | None = None,
    verdicts: VerdictTable | None = None,
) -> ImportReport:
    """Bank every valid entry of a hash list (one transaction, with one audit entry); each bad
    line is reported (file:line and why) and skipped. Entries are keyed by (``origin``, their id
    in the list, else the hash), so re-importing the list updates them."""
    origin = (origin or path.name).strip()
    if not origin or len(origin) > 64 or origin == media_bank.FILE_ORIGIN or not sanitise.storable(origin):
        raise ValueError(
            f"--origin {origin!r}: name the list in at most 64 characters (not {media_bank.FILE_ORIGIN!r})"
        )
    if given.url is None and url_column is None:
        raise ValueError(
            "give the debunking fact-check: --factcheck URL (all entries) or --column NAME (a URL per entry)"
        )
    default_label = check_label(label) if label else None
    actor = _actor(by)
    audit.check_actor(actor)
    table = verdicts or VerdictTable.load()
    listed = hashlist.read_hashlist(path, url_column=url_column)
    report = ImportReport(str(path), listed.form, origin, entries=len(listed.entries), rejected=list(listed.rejected))
    groups, mixed = _merge(listed.entries)
    report.rejected.extend(mixed)
    facts: dict[str, tuple[BankFactCheck, list[str]] | str] = {}
    low = 0
    with writing(engine) as conn:
        for external_id, rows in groups.items():
            first = rows[0]
            try:
                # --column: each row's URL (--factcheck fills an empty cell); else --factcheck for all
                url = (first.factcheck_url if url_column else None) or given.url
                if not url:
                    raise ValueError(f"no fact-check URL in column {url_column!r}")
                if url not in facts:
                    try:
                        facts[url] = resolve_factcheck(conn, given, url, table)
                    except ValueError as exc:
                        facts[url] = str(exc)
                resolved = facts[url]
                if isinstance(resolved, str):
                    raise ValueError(resolved)
                fc, notes = resolved
                # the user's --label wins over a list's label column
                item_label = default_label or (check_label(first.label) if first.label else MediaLabel.OTHER)
            except ValueError as exc:
                report.rejected.extend(_reject(e, str(exc)) for e in rows)
                continue
            for n in notes:
                if n not in report.warnings:
                    report.warnings.append(n)
            fc_id = media_bank.put_bank_factcheck(conn, f"{origin}:{external_id}", fc)
            pdq = tuple(h for e in rows for h in e.pdq)
            md5 = next((e.md5 for e in rows if e.md5), None)
            raw = {"list": path.name, "form": listed.form, "rows": [e.raw for e in rows]}
            tags = sorted({t for e in rows for t in e.tags})
            _, created = media_bank.put_item(
                conn,
                NewBankItem(
                    kind=first.kind,
                    label=item_label.value,
                    origin=origin,
                    external_id=external_id,
                    note=sanitise.escape_text(" ".join(tags)) or None,
                    added_by=actor,
                    raw=raw,
                ),
                fc_id,
                pdq,
                md5,
            )
            report.inserted += created
            report.updated += not created
            low += sum(1 for h in pdq if h.quality is not None and h.quality < DEFAULT_MIN_QUALITY)
        if low:
            report.warnings.append(
                f"{low} PDQ hash(es) of quality below {DEFAULT_MIN_QUALITY}: kept, but not matched (pdq/README: "
                "hashes of quality 49 or less are unreliable)"
            )
        audit.append_audit(
            conn,
            AuditEntry(
                actor,
                "media_bank.import",
                "media_bank",
                origin,
                None,
                {
                    "file": str(path),
                    "form": listed.form,
                    "inserted": report.inserted,
                    "updated": report.updated,
                    "rejected": len(report.rejected),
                },
            ),
        )
    return report


def export_list(engine: sa.Engine, out: Path, fmt: str = "te", *, force: bool = False) -> hashlist.ExportCounts:
    """Write the bank as a hash list, whole or not at all; an existing ``out`` is replaced only
    with ``force`` (this command did not make it)."""
    if fmt not in hashlist.FORMATS:
        raise ValueError(f"--format {fmt!r}: choose {', '.join(hashlist.FORMATS)}")
    if out.is_dir():
        raise ValueError(f"{out} is a folder; give a file name")
    if out.exists() and not force:
        raise ValueError(f"{out} exists; give --force to replace it")
    with engine.connect() as conn:
        items = media_bank.list_items(conn)
        hashes = media_bank.item_hashes(conn, [i.id for i in items])
    export = [
        hashlist.ExportItem(
            external_id=i.external_id or str(i.id),
            kind=i.kind,
            label=i.label,
            factcheck_url=i.review_url,
            pdq=hashes[i.id][0],
            md5=i.md5 or hashes[i.id][1],
            has_audio=bool(i.audio_prints),
        )
        for i in items
    ]
    with atomic.replacing(out, "w", encoding="utf-8", newline="") as fh:
        return hashlist.write_hashlist(fh, export, fmt)


# --------------------------------------------------------------------------- list / remove


def list_items(engine: sa.Engine) -> list[BankItem]:
    with engine.connect() as conn:
        return media_bank.list_items(conn)


def remove(engine: sa.Engine, item_id: int, *, by: str) -> BankItem:
    """Remove an item (its hashes, undecided matches and own fact-check row go with it).
    ValueError when there is none; ``BankItemInUse`` when analysts decided matches on it."""
    audit.check_actor(by)
    with writing(engine) as conn:
        item = media_bank.remove_item(conn, item_id)
        if item is None:
            raise ValueError(f"no bank item {item_id}")
        audit.append_audit(conn, AuditEntry(by, "media_bank.remove", OBJECT, str(item_id), _state(item), None))
    return item
