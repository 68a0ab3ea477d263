"""The persisted hybrid (BM25 + dense) index over fact-check claims.

Built once by ``claimwatch index`` and kept next to the store. Rebuilding is
incremental: embeddings of fact-checks whose indexed text did not change are reused,
only new or edited claims are encoded. Every file's checksum is recorded in
``meta.json``; a file that does not match (a torn write, a disk error, a hand edit) is
detected on load and the index is rebuilt, never used silently.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from claimwatch.claims.encoder import Encoder

FORMAT_VERSION = 1
_STEMMER = Stemmer.Stemmer("english")


class IndexCorrupt(RuntimeError):
    pass


def tokenize(texts: list[str]) -> list[list[str]]:
    """Stemmed, stop-worded tokens; the one tokenizer for indexing, querying and evidence."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False)


def index_text(claim_text: str, title: str | None) -> str:
    """What a fact-check is matched on: the claim, plus the review title when it adds words."""
    title = (title or "").strip()
    if title and title.casefold() not in claim_text.casefold():
        return f"{claim_text} {title}"
    return claim_text


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class IndexStats:
    total: int
    encoded: int
    reused: int
    removed: int
    rebuilt_reason: str | None
    version: str


class ClaimIndex:
    """Fact-check ids, their normalised embeddings and a BM25 retriever, aligned by row."""

    def __init__(self, directory: Path, model: str, ids: np.ndarray, hashes: list[str],
                 embeddings: np.ndarray, bm25: bm25s.BM25 | None) -> None:
        self.directory = directory
        self.model = model
        self.ids = ids
        self.hashes = hashes
        self.embeddings = embeddings
        self.bm25 = bm25
        self.version = self._version(model, ids, hashes)

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def _version(model: str, ids: np.ndarray, hashes: list[str]) -> str:
        h = hashlib.sha256(model.encode())
        for i, th in zip(ids.tolist(), hashes):
            h.update(f"{i}:{th};".encode())
        return h.hexdigest()[:16]

    # ------------------------------------------------------------------ persistence

    @classmethod
    def load(cls, directory: Path) -> ClaimIndex:
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"no index at {directory}; run `claimwatch index`")
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("format_version") != FORMAT_VERSION:
                raise IndexCorrupt(f"index format {meta.get('format_version')} is not {FORMAT_VERSION}")
            for name, digest in meta["checksums"].items():
                path = directory / name
                if not path.is_file() or _file_sha(path) != digest:
                    raise IndexCorrupt(f"index file {path} is missing or does not match its checksum")
            ids = np.load(directory / "ids.npy", allow_pickle=False)
            emb = np.load(directory / "embeddings.npy", allow_pickle=False)
            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False) if len(ids) else None
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexCorrupt(f"index at {directory} is unreadable: {exc}") from exc
        if emb.shape[0] != len(ids) or len(meta["hashes"]) != len(ids):
            raise IndexCorrupt(f"index at {directory}: {len(ids)} ids but {emb.shape[0]} embeddings")
        return cls(directory, meta["model"], ids, meta["hashes"], emb, bm25)

    def save(self) -> None:
        """Write to a sibling temp directory, then swap, so a crash never leaves half an index."""
        tmp = self.directory.with_name(self.directory.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        np.save(tmp / "ids.npy", self.ids)
        np.save(tmp / "embeddings.npy", self.embeddings)
        files = ["ids.npy", "embeddings.npy"]
        if self.bm25 is not None:
            self.bm25.save(str(tmp / "bm25"), show_progress=False)
            files += [f"bm25/{p.name}" for p in sorted((tmp / "bm25").iterdir())]
        meta = {
            "format_version": FORMAT_VERSION, "model": self.model, "version": self.version,
            "count": len(self.ids), "dim": int(self.embeddings.shape[1]) if self.embeddings.ndim == 2 else 0,
            "built_at": datetime.now(UTC).isoformat(), "hashes": self.hashes,
            "checksums": {name: _file_sha(tmp / name) for name in files},
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        old = self.directory.with_name(self.directory.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if self.directory.exists():
            self.directory.rename(old)
        tmp.rename(self.directory)
        if old.exists():
            shutil.rmtree(old)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, directory: Path, docs: Iterable[tuple[int, str]], encoder: Encoder,
              show_progress: bool = False) -> tuple[ClaimIndex, IndexStats]:
        """Build or update the index for ``docs`` = (fact-check id, indexed text)."""
        docs = list(docs)
        reason = None
        previous: ClaimIndex | None = None
        try:
            previous = cls.load(directory)
            if previous.model != encoder.name:
                reason, previous = f"model changed from {previous.model} to {encoder.name}", None
        except FileNotFoundError:
            reason = "new index"
        except IndexCorrupt as exc:
            reason = f"rebuilt: {exc}"

        ids = np.array([d[0] for d in docs], dtype=np.int64)
        texts = [d[1] for d in docs]
        hashes = [_sha(t.encode())[:16] for t in texts]
        reuse: dict[tuple[int, str], int] = {}
        if previous is not None:
            reuse = {(int(i), h): row for row, (i, h) in enumerate(zip(previous.ids.tolist(), previous.hashes))}
        dim = encoder.dim
        emb = np.zeros((len(docs), dim), dtype=np.float32)
        todo = []
        for row, (i, h) in enumerate(zip(ids.tolist(), hashes)):
            old_row = reuse.get((i, h))
            if old_row is not None and previous is not None:
                emb[row] = previous.embeddings[old_row]
            else:
                todo.append(row)
        if todo:
            emb[todo] = encoder.encode([texts[i] for i in todo], show_progress=show_progress)
        bm25 = None
        if docs:
            bm25 = bm25s.BM25()
            bm25.index(tokenize(texts), show_progress=False)
        index = cls(directory, encoder.name, ids, hashes, emb, bm25)
        removed = 0 if previous is None else len(set(previous.ids.tolist()) - set(ids.tolist()))
        if previous is None or previous.version != index.version or reason:
            index.save()
        return index, IndexStats(len(ids), len(todo), len(ids) - len(todo), removed, reason, index.version)

    # ------------------------------------------------------------------ search

    def bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        if self.bm25 is None or not query_tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        known = [t for t in query_tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)
