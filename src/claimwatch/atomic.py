"""Output files written whole or not at all.

Every report, study and export file is written to a temporary sibling (same folder, so the
same filesystem), flushed to disk, and renamed over the target. A full disk or a crash
midway leaves the previous file intact and no temporary file behind; a reader never sees
half a report. The new file gets the usual permissions (0666 less the umask), not a temp
file's 0600.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def replacing(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """``with replacing(path) as fh: fh.write(...)`` — ``path`` is replaced only when the block
    completes; on any error the temporary file is removed and ``path`` is left as it was."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    with replacing(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    with replacing(path, "wb") as fh:
        fh.write(data)
