"""File checksums: how indexes, trained models and encoder exports detect damaged files."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def first_mismatch(directory: Path, checksums: Mapping[str, str]) -> Path | None:
    """The first listed file that is missing or whose SHA-256 differs, or None when all match."""
    for name, digest in checksums.items():
        path = directory / name
        if not path.is_file() or file_sha256(path) != digest:
            return path
    return None
