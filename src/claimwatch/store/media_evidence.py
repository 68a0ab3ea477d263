"""What a study reads of the bank: the items behind a media match's fact-check (their label:
manipulated, ai-generated, miscaptioned…). Post media files come from
:func:`claimwatch.store.media_matches.post_files`, the matcher's own read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from claimwatch.store import schema as s
from claimwatch.store.common import chunks


@dataclass(frozen=True, slots=True)
class BankItemRef:
    """A bank item as a study shows it: what the fact-checker said of the media (``label``)."""

    id: int
    factcheck_id: int
    kind: str
    label: str
    note: str | None
    #: the banked file's SHA-256 (None: imported from a hash list, no file)
    sha256: str | None


def bank_items_by_factcheck(conn: sa.Connection, factcheck_ids: Sequence[int]) -> dict[int, list[BankItemRef]]:
    """The bank items whose own fact-check row is one of these (a media match's fact-check)."""
    out: dict[int, list[BankItemRef]] = {}
    b = s.MediaBankItem
    for chunk in chunks(sorted(set(factcheck_ids))):
        q = (
            sa.select(b.id, b.factcheck_id, b.kind, b.label, b.note, s.MediaFile.sha256)
            .outerjoin(s.MediaFile, s.MediaFile.id == b.file_id)
            .where(b.factcheck_id.in_(chunk))
            .order_by(b.id)
        )
        for row in conn.execute(q):
            out.setdefault(row.factcheck_id, []).append(BankItemRef(**row._mapping))
    return out
