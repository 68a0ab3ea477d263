"""The upsert shared by Community Notes and label events.

Notes, status rows and label events are keyed by their own ids, never by a post's store
key, so they land before (or without) their post and join when it arrives. A second copy
of a key within one file is told from a re-ingest without holding the file's keys in
memory: the stored row says which file, line and version of the file (snapshot, or
run for label streams) wrote it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from claimwatch import records as r
from claimwatch.store.common import BatchCounts, chunks, provenance, raw_text


@dataclass
class Keyed:
    """A row to upsert: its key, its column values (with provenance) and the record behind it."""

    key: tuple[Any, ...]
    values: dict[str, Any]
    source: r.SourceRef
    raw: Any


#: Computes the update for a stored row whose key comes again from another file (None: leave it).
Resolve = Callable[[Any, dict[str, Any]], "dict[str, Any] | None"]


def upsert_keyed(
    conn: sa.Connection,
    table: sa.Table,
    key_cols: tuple[str, ...],
    items: Sequence[Keyed],
    what: Callable[[tuple[Any, ...]], str],
    resolve: Resolve | None,
    version: str,
    extra_cols: tuple[str, ...] = (),
) -> BatchCounts:
    """Insert new keys; report in-file duplicates; ``resolve`` stored rows seen again.

    A stored row from the same path and ``version`` (the column telling one version of a
    file from another, e.g. its snapshot) but another line is an earlier copy in the same
    file: the record is a duplicate, on the first run and on every re-run alike. Another
    file of the same version with other content is a conflict: the first is kept and the
    disagreement reported. Across versions ``resolve`` decides; without it rows are
    observations that never change, and other content is a conflict as well.
    """
    counts = BatchCounts()
    batch: dict[tuple[Any, ...], Keyed] = {}
    for item in items:
        first = batch.get(item.key)
        if first is None:
            batch[item.key] = item
        else:
            counts.duplicates.append(
                _duplicate(item, first.source.location, first.values["content_hash"] == item.values["content_hash"])
            )
    cols = [
        table.c[k]
        for k in dict.fromkeys((*key_cols, "content_hash", version, "source_path", "source_location", *extra_cols))
    ]
    existing: dict[tuple[Any, ...], Any] = {}
    for chunk in chunks(sorted({k[0] for k in batch})):
        for row in conn.execute(sa.select(*cols).where(table.c[key_cols[0]].in_(chunk))):
            existing[tuple(row[: len(key_cols)])] = row
    inserts, updates = [], []
    for key, item in batch.items():
        old = existing.get(key)
        if old is None:
            inserts.append(item.values)
            counts.inserted += 1
            continue
        same = old.content_hash == item.values["content_hash"]
        if (
            old.source_path == item.source.path
            and old.source_location != item.source.location
            and getattr(old, version) == item.values[version]
        ):
            counts.duplicates.append(_duplicate(item, old.source_location, same))
            continue
        same_version = getattr(old, version) == item.values[version]
        change = resolve(old, item.values) if resolve and not same_version else None
        if change:
            updates.append((key, change))
        if change and "content_hash" in change:
            counts.updated += 1
        elif same or (resolve and not same_version):
            counts.unchanged += 1
        else:
            counts.conflicts.append(
                r.Rejected(
                    item.source,
                    f"conflicting {what(key)}: the copy from {old.source_path} {old.source_location} "
                    f"was kept, this one differs",
                    raw_text(item.raw),
                )
            )
    if inserts:
        conn.execute(sa.insert(table), inserts)
    # One executemany per set of changed columns (a new download may widen millions of spans).
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, change in updates:
        by_columns.setdefault(tuple(sorted(change)), []).append(
            {**change, **{f"key_{k}": v for k, v in zip(key_cols, key, strict=True)}}
        )
    for params in by_columns.values():
        conn.execute(sa.update(table).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key_cols)), params)
    return counts


def _duplicate(item: Keyed, first_location: str | None, same: bool) -> r.Rejected:
    how = "identical" if same else "different content; the first was kept"
    return r.Rejected(item.source, f"duplicate of the record at {first_location} ({how})", raw_text(item.raw))


def keyed_row(
    key: tuple[Any, ...],
    values: dict[str, Any],
    raw: Any,
    source: r.SourceRef | None,
    run_id: int | None,
    digest: str,
    now: datetime,
) -> Keyed:
    assert source is not None
    return Keyed(
        key, {**values, **provenance(raw, source, digest, run_id), "first_seen_at": now, "updated_at": now}, source, raw
    )


def row_digest(raw: dict[str, str]) -> str:
    """Content hash of a TSV row ({column: text}); cheaper than JSON for millions of rows."""
    return hashlib.sha256(
        "\x1f".join(f"{k}\x1e{v}" for k, v in raw.items()).encode("utf-8", "surrogatepass")
    ).hexdigest()
