"""Read the C2PA provenance of every stored, hashed file not read yet (``claimwatch media
provenance --stored``): one child-process read per file (:func:`~claimwatch.media.provenance.read_provenance`),
each file's row written in its own transaction, so an interrupted run keeps what it read and the
next run carries on with the rest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from claimwatch.media.provenance import DEFAULT_LIMITS, Limits, read_provenance
from claimwatch.store.media_provenance import files_without_provenance, save_provenance


@dataclass
class StoredRead:
    """What a run read: files per state, AI declarations, and files whose bytes were missing."""

    states: Counter[str] = field(default_factory=Counter)
    ai_declared: int = 0
    #: (file id, path) whose bytes are not in the media folder: not recorded, so a later run retries
    missing: list[tuple[int, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(self.states.values())


def read_stored(
    engine: sa.Engine, media_dir: Path, limits: Limits = DEFAULT_LIMITS, limit: int | None = None
) -> StoredRead:
    """Read and store the provenance of up to ``limit`` stored files that have none yet."""
    with engine.connect() as conn:
        todo = files_without_provenance(conn, limit)
    out = StoredRead()
    for file_id, rel in todo:
        path = media_dir / rel
        # a stored path is relative to the media folder; one that leaves it is not read
        if not path.resolve().is_relative_to(media_dir.resolve()) or not path.is_file():
            out.missing.append((file_id, str(path)))
            continue
        p = read_provenance(path, limits)
        with engine.begin() as conn:
            save_provenance(conn, file_id, p)
        out.states[p.state.value] += 1
        out.ai_declared += bool(p.ai_declared)
    return out
