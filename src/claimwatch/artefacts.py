"""Saved artefacts in one format: search indexes, trained models and encoder exports.

An artefact is a folder of files plus ``meta.json``, which says what the artefact is (each kind
adds its own keys) and holds the SHA-256 of every file in it (``checksums``, paths relative to
the folder). :func:`read_meta` checks both on every load, so a torn write, a disk error or a hand
edit is found and the artefact rebuilt or refused with one line, never used silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

META = "meta.json"


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


def write_meta(directory: Path, meta: Mapping[str, Any], files: Iterable[str]) -> dict[str, Any]:
    """Write ``meta.json``: ``meta`` plus the checksum of each of ``files``; returns what it wrote.
    Call it last: an artefact whose ``meta.json`` is missing counts as unfinished."""
    out = dict(meta, checksums={name: file_sha256(directory / name) for name in files})
    (directory / META).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


def read_meta(
    directory: Path,
    what: str,
    error: type[Exception],
    *,
    required: Mapping[str, type] | None = None,
    missing_hint: str = "",
) -> dict[str, Any]:
    """``meta.json`` of the ``what`` (e.g. "retrieval model") at ``directory``, checked: a JSON
    object with ``checksums`` and the ``required`` keys of their JSON types, every listed file
    present with its recorded SHA-256. Any fault raises ``error`` with one line saying which."""
    path = directory / META
    if not path.is_file():
        raise error(f"no {what} at {directory} ({META} missing){'; ' + missing_hint if missing_hint else ''}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(f"{path}: unreadable ({exc})") from None
    if not isinstance(meta, dict):
        raise error(f"{META} is not a JSON object but {type(meta).__name__}")
    for key, kind in {"checksums": dict, **(required or {})}.items():
        if not isinstance(meta.get(key), kind):
            raise error(f"{META} has no {kind.__name__} {key!r}")
    bad = first_mismatch(directory, meta["checksums"])
    if bad is not None:
        raise error(f"{what} file {bad} is missing or does not match its checksum")
    return meta
