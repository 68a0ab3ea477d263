"""Where fetched media bytes live: a content-addressed folder (``media_dir/ab/cd/<sha256>``).

Bytes are written to a temporary file inside the folder (same filesystem), flushed to disk and
renamed to their digest's path; only then may the caller record the file row. So a path either
holds a whole file whose name is its SHA-256, or does not exist: an interrupted download leaves
at most a temporary file, which no row points to and :meth:`MediaStore.sweep` removes later.
The same bytes fetched from two URLs land on one path (the second rename finds it there).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from claimwatch.config import Settings
from claimwatch.store import db

#: temporary files live here (inside the media folder, so the rename never crosses filesystems)
TMP = ".tmp"
#: a temporary file older than this belongs to a run that died (no download runs this long)
STALE_S = 6 * 3600


def media_dir_for(store: str | Path) -> Path:
    """The media folder of a store: beside a SQLite file ``x.db`` → ``x.media/``; for a server
    database ``./claimwatch.media``. The same placement rule as the search index
    (:func:`claimwatch.store.db.index_dir_for`), with its own suffix."""
    return db.index_dir_for(store).with_suffix(".media")


def media_dir_of(settings: Settings, override: Path | None = None) -> Path:
    """The media folder a command uses: ``--media-dir``, else the ``media_dir`` setting
    (``CLAIMWATCH_MEDIA_DIR``), else :func:`media_dir_for` the store."""
    chosen = override or (Path(settings.media_dir) if settings.media_dir else None)
    return (chosen or media_dir_for(settings.db)).expanduser().resolve()


@dataclass(frozen=True, slots=True)
class StoredBytes:
    """A whole file now in the media folder: its digests, size and path relative to the folder."""

    sha256: str
    md5: str
    size_bytes: int
    path: str


class Sink:
    """An open temporary file that digests what is written to it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self._sha.update(chunk)
        self._md5.update(chunk)
        self.size += len(chunk)

    def digests(self) -> tuple[str, str]:
        """SHA-256 and MD5 (hex) of everything written."""
        return self._sha.hexdigest(), self._md5.hexdigest()


class MediaStore:
    """The media folder of one store."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, relative: str) -> Path:
        return self.root / relative

    @contextmanager
    def writing(self) -> Iterator[tuple[Sink, list[StoredBytes]]]:
        """``with store.writing() as (sink, done): sink.write(...)`` — on a clean exit the bytes are
        fsynced and renamed to their content address, and ``done`` holds the :class:`StoredBytes`;
        on any error (a refusal, a dropped connection, Ctrl-C) the temporary file is removed."""
        tmp_dir = self.root / TMP
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        done: list[StoredBytes] = []
        try:
            with os.fdopen(fd, "wb") as fh:
                sink = Sink(fh)
                yield sink, done
                fh.flush()
                os.fsync(fh.fileno())
            done.append(self._place(tmp, sink))
        finally:
            tmp.unlink(missing_ok=True)

    def _place(self, tmp: Path, sink: Sink) -> StoredBytes:
        sha, md5 = sink.digests()
        relative = f"{sha[:2]}/{sha[2:4]}/{sha}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == sink.size:
            tmp.unlink()  # the same bytes are already here (another URL, another run)
        else:
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        return StoredBytes(sha, md5, sink.size, relative)

    def sweep(self, older_than_s: float = STALE_S) -> int:
        """Remove temporary files left by runs that were killed; returns how many."""
        tmp_dir = self.root / TMP
        if not tmp_dir.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for part in tmp_dir.glob("*.part"):
            try:
                if part.stat().st_mtime < cutoff:
                    part.unlink()
                    removed += 1
            except FileNotFoundError:  # another run's sweep took it
                continue
        return removed


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX: the directory entry is data of the folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
