"""Media files and their hashes: one row per distinct file (by SHA-256), hashes written with the
mark that says they are complete (``hashed_at``) in one transaction."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence

import sqlalchemy as sa

from claimwatch.media.records import AudioPrint, MediaHashes, PdqHash
from claimwatch.store import schema as s
from claimwatch.store.common import chunks

PDQ = "pdq"
CHROMAPRINT = "chromaprint"


def print_bytes(audio: AudioPrint) -> bytes:
    """A raw fingerprint as little-endian uint32s (the stored form, the same on every machine)."""
    values = array("I", audio.values)
    if values.itemsize != 4:  # pragma: no cover - every platform we run on has a 4-byte "I"
        raise RuntimeError("array('I') is not 32-bit here")
    return values.tobytes() if _little_endian() else _swapped(values).tobytes()


def print_from_bytes(value: bytes, duration_ms: int | None = None) -> AudioPrint:
    values = array("I")
    values.frombytes(value)
    return AudioPrint(tuple(values if _little_endian() else _swapped(values)), duration_ms)


def _little_endian() -> bool:
    return sys.byteorder == "little"


def _swapped(values: array) -> array:
    out = array("I", values)
    out.byteswap()
    return out


def hash_rows(hashes: MediaHashes) -> list[dict]:
    """The ``media_hashes`` / ``media_bank_hashes`` columns of one file's hashes."""
    rows = [dict(algo=PDQ, variant=h.variant, t_ms=h.t_ms, quality=h.quality, value=h.value) for h in hashes.pdq]
    if hashes.audio is not None:
        rows.append(
            dict(algo=CHROMAPRINT, variant="original", t_ms=None, quality=None, value=print_bytes(hashes.audio))
        )
    return rows


def upsert_file(conn: sa.Connection, hashes: MediaHashes, path: str | None) -> int:
    """The file's row (found by SHA-256, else made), its hashes replaced by these and marked
    complete — all in the caller's transaction, so an interrupted run leaves no half-hashed file."""
    info = hashes.info
    values = dict(
        md5=hashes.md5,
        size_bytes=hashes.size_bytes,
        mime=info.mime,
        kind=info.kind.value,
        width=info.width,
        height=info.height,
        duration_ms=info.duration_ms,
        hashed_at=s.utcnow(),
        hash_error=None,
    )
    file_id = conn.execute(sa.select(s.MediaFile.id).where(s.MediaFile.sha256 == hashes.sha256)).scalar()
    if file_id is None:
        file_id = conn.execute(
            sa.insert(s.MediaFile).values(sha256=hashes.sha256, path=path, created_at=s.utcnow(), **values)
        ).inserted_primary_key[0]
    else:
        if path is not None:
            values["path"] = path
        conn.execute(sa.update(s.MediaFile).where(s.MediaFile.id == file_id).values(**values))
        conn.execute(sa.delete(s.MediaHash).where(s.MediaHash.file_id == file_id))
    rows = hash_rows(hashes)
    if rows:
        conn.execute(sa.insert(s.MediaHash), [dict(file_id=file_id, **row) for row in rows])
    return int(file_id)


def file_hashes(
    conn: sa.Connection, file_ids: Sequence[int]
) -> dict[int, tuple[tuple[PdqHash, ...], AudioPrint | None]]:
    """The stored hashes of hashed files (PDQ in frame order; the audio print or None)."""
    out: dict[int, tuple[list[PdqHash], AudioPrint | None]] = {}
    for chunk in chunks(sorted(set(file_ids))):
        h = s.MediaHash
        rows = conn.execute(
            sa.select(h.file_id, h.algo, h.variant, h.t_ms, h.quality, h.value, s.MediaFile.duration_ms)
            .join(s.MediaFile, s.MediaFile.id == h.file_id)
            .where(h.file_id.in_(chunk), s.MediaFile.hashed_at.is_not(None))
            .order_by(h.file_id, h.t_ms, h.id)
        )
        for row in rows:
            pdq, audio = out.setdefault(row.file_id, ([], None))
            if row.algo == PDQ:
                pdq.append(PdqHash(row.value, row.quality or 0, row.variant, row.t_ms))
            elif row.algo == CHROMAPRINT:
                out[row.file_id] = (pdq, print_from_bytes(row.value, row.duration_ms))
    return {fid: (tuple(pdq), audio) for fid, (pdq, audio) in out.items()}
