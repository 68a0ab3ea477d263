"""The bank's PDQ index: FAISS binary indexes, as ThreatExchange's py-tx and HMA use them.

``multihash`` (default) is py-tx's ``PDQMultiHashIndex``: ``IndexBinaryMultiHash(256, 16, 16)`` —
multi-index hashing (Norouzi et al.), 16 slots of 16 bits; a hash within distance d of a query
agrees within ``d // 16`` bits on at least one slot, so probing each slot with ``nflip = d // 16``
finds every hash within d (exact, not approximate) — wrapped in ``IndexBinaryIDMap2`` so hits
carry the bank's hash ids. ``flat`` (``IndexBinaryFlat``) compares with every hash: smaller, and
slower on a big bank (figures in ``benchmarks/media_index.py``).

Queries go many at once (``range_search``). A built index is cached on disk
(:func:`claimwatch.config.cache_dir`), keyed by the store and a version of the bank's hashes, so
a ``match`` run loads a 1M-hash index instead of rebuilding it; the file is written whole
(:mod:`claimwatch.atomic`) and checked on load (version, kind, size, checksum) — a stale or
damaged cache is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import sqlalchemy as sa

from claimwatch import atomic
from claimwatch.config import cache_dir
from claimwatch.store import media_bank

log = logging.getLogger(__name__)

BITS = 256
#: py-tx's ``PDQ_CONFIDENT_MATCH_THRESHOLD`` and pdq/README.md's recommended match distance
DEFAULT_MAX_DISTANCE = 31
#: pdq/README.md: discard hashes of quality ≤ 49 (py-tx ``QUALITY_THRESHOLD``)
DEFAULT_MIN_QUALITY = 50
MULTIHASH = "multihash"
FLAT = "flat"
KINDS = (MULTIHASH, FLAT)
#: MIH slots: 16 × 16 bits, the layout Meta chose for PDQ (pdq/README-MIH.md, tested on 24M hashes)
NHASH = 16
_MAGIC = b"CWPDQIX1"


@dataclass(frozen=True, slots=True)
class IndexHit:
    """A bank hash within the distance of a query hash: ``query_row`` is the query's position."""

    query_row: int
    hash_id: int
    distance: int


def _empty(kind: str) -> faiss.IndexBinary:
    if kind == MULTIHASH:
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryMultiHash(BITS, NHASH, BITS // NHASH))
    if kind == FLAT:
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(BITS))
    raise ValueError(f"unknown PDQ index kind {kind!r}: choose {', '.join(KINDS)}")


def as_codes(hashes: Sequence[bytes] | np.ndarray) -> np.ndarray:
    """Query or bank hashes as the (n, 32) uint8 array FAISS takes (PDQ bytes as stored)."""
    if isinstance(hashes, np.ndarray):
        codes = np.ascontiguousarray(hashes, dtype=np.uint8)
    else:
        if any(len(h) != BITS // 8 for h in hashes):
            raise ValueError("a PDQ hash is 32 bytes")
        codes = np.frombuffer(b"".join(hashes), dtype=np.uint8)
    return codes.reshape(-1, BITS // 8)


class PdqIndex:
    """PDQ hashes (by bank hash id) searchable by Hamming distance."""

    def __init__(self, index: faiss.IndexBinary, kind: str, version: str = "") -> None:
        self._index = index
        self.kind = kind
        self.version = version
        # the MultiHash probe depth is index state set per search: one search at a time
        self._lock = threading.Lock()

    @classmethod
    def build(cls, chunks: Iterable[Sequence[tuple[int, bytes]]], kind: str = MULTIHASH, version: str = "") -> PdqIndex:
        """From (hash id, 32 bytes) pairs, a chunk at a time (so a 10M bank is never two copies)."""
        index = _empty(kind)
        for chunk in chunks:
            if chunk:
                ids = np.fromiter((i for i, _ in chunk), dtype=np.int64, count=len(chunk))
                index.add_with_ids(as_codes([v for _, v in chunk]), ids)
        return cls(index, kind, version)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, hashes: Sequence[bytes] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query rows, hash ids, distances) of every bank hash within ``max_distance`` of each
        query, as arrays (the matcher's and the benchmark's path: no Python object per hit)."""
        if not 0 <= max_distance < BITS:
            raise ValueError(f"PDQ distance must be 0–{BITS - 1}, not {max_distance}")
        codes = as_codes(hashes)
        if not len(codes) or not len(self):
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        with self._lock:
            if self.kind == MULTIHASH:
                faiss.downcast_IndexBinary(self._index.index).nflip = max_distance // NHASH
            # FAISS keeps distances strictly below the radius
            lims, dist, ids = self._index.range_search(codes, max_distance + 1)
        rows = np.repeat(np.arange(len(codes), dtype=np.int64), np.diff(lims).astype(np.int64))
        return rows, ids.astype(np.int64), dist.astype(np.int64)

    def query(self, hashes: Sequence[bytes] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE) -> list[IndexHit]:
        """Hits of many query hashes at once, by query row then distance."""
        rows, ids, dist = self.search(hashes, max_distance)
        hits = [IndexHit(int(r), int(i), int(d)) for r, i, d in zip(rows, ids, dist, strict=True)]
        return sorted(hits, key=lambda h: (h.query_row, h.distance, h.hash_id))

    # ------------------------------------------------------------------ the on-disk cache

    def save(self, path: Path) -> None:
        """Write the index whole (temporary sibling, then rename: a reader sees all or nothing).
        Layout: magic, FAISS's serialisation (streamed, never a second copy in memory), then a
        JSON trailer (version, kind, size, SHA-256 of the FAISS bytes) and its length."""
        digest = hashlib.sha256()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(path, "wb") as fh:
            fh.write(_MAGIC)

            def write(chunk: bytes) -> int:
                digest.update(chunk)
                return fh.write(chunk)

            faiss.write_index_binary(self._index, faiss.PyCallbackIOWriter(write))
            meta = dict(
                version=self.version,
                kind=self.kind,
                ntotal=len(self),
                payload_end=fh.tell(),
                sha256=digest.hexdigest(),
                faiss=faiss.__version__,
            )
            trailer = json.dumps(meta).encode()
            fh.write(trailer + len(trailer).to_bytes(4, "big"))

    @classmethod
    def load(cls, path: Path, version: str, kind: str) -> PdqIndex | None:
        """The cached index if it is whole and of this bank version and kind; None otherwise.
        Checksummed, then streamed into FAISS (a 10M index is never held twice)."""
        try:
            with path.open("rb") as fh:
                size = fh.seek(0, 2)
                fh.seek(size - 4)
                n = int.from_bytes(fh.read(4), "big")
                fh.seek(size - 4 - n)
                meta = json.loads(fh.read(n))
                end = meta.get("payload_end")
                if (
                    meta.get("version") != version
                    or meta.get("kind") != kind
                    or meta.get("faiss") != faiss.__version__
                    or end != size - 4 - n
                ):
                    return None
                fh.seek(0)
                if fh.read(len(_MAGIC)) != _MAGIC:
                    return None
                # checked before FAISS reads a byte: a damaged size field must not become an allocation
                digest = hashlib.sha256()
                while fh.tell() < end:
                    digest.update(fh.read(min(1 << 20, end - fh.tell())))
                if digest.hexdigest() != meta.get("sha256"):
                    return None
                fh.seek(len(_MAGIC))

                def read(want: int) -> bytes:
                    return fh.read(max(0, min(want, end - fh.tell())))

                index = faiss.read_index_binary(faiss.PyCallbackIOReader(read))
                if fh.tell() != end:
                    return None
        except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: FAISS refusing the bytes
            log.info("PDQ index cache %s unusable (%s): rebuilding", path, exc)
            return None
        if index.ntotal != meta.get("ntotal"):
            return None
        return cls(index, kind, version)


def _store_key(url: sa.URL) -> str:
    """The store as one string: a SQLite file by its absolute path (``a.db`` in two folders is
    two stores), a server by its URL without the password."""
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return "sqlite:" + str(Path(url.database).resolve())
    return url.render_as_string(hide_password=True)


def _cache_path(store: str, kind: str, min_quality: int, version: str) -> Path:
    key = hashlib.sha256(f"{store}\n{kind}\n{min_quality}".encode()).hexdigest()[:16]
    return cache_dir() / "media-index" / key / f"{version}.pdqidx"


def bank_index(
    engine: sa.Engine,
    *,
    kind: str = MULTIHASH,
    min_quality: int = DEFAULT_MIN_QUALITY,
    use_cache: bool = True,
    chunk_size: int = 100_000,
) -> PdqIndex:
    """The index of the bank's PDQ hashes of quality ≥ ``min_quality`` (unknown quality kept):
    loaded from the cache when it holds this bank version, else built from the store (and
    cached, unless the bank changed while it was read)."""
    if kind not in KINDS:
        raise ValueError(f"unknown PDQ index kind {kind!r}: choose {', '.join(KINDS)}")
    store = _store_key(engine.url)
    with engine.connect() as conn:
        version = media_bank.pdq_version(conn, min_quality)
        path = _cache_path(store, kind, min_quality, version)
        if use_cache and path.exists():
            cached = PdqIndex.load(path, version, kind)
            if cached is not None:
                return cached
        index = PdqIndex.build(media_bank.pdq_chunks(conn, min_quality, chunk_size), kind, version)
        unchanged = media_bank.pdq_version(conn, min_quality) == version
    if use_cache and unchanged:
        try:
            index.save(path)
            for old in path.parent.glob("*.pdqidx"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only or full cache folder: the index still works
            log.warning("cannot cache the PDQ index in %s: %s", path.parent, exc.strerror or exc)
    return index
