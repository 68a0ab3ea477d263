"""The persisted hybrid (BM25 + dense) index over claim documents.

Built once by ``claimwatch index`` and kept next to the store (or built in a temporary
directory for an evaluation). Rebuilding is incremental: embeddings of documents whose
embedded text did not change are reused, only new or edited claims are encoded. Every
file's checksum is recorded in ``meta.json``; a file that does not match (a torn write, a
disk error, a hand edit) is detected on load and the index is rebuilt, never used silently.

Besides the embeddings it keeps the documents themselves (claim, title, extra text, date,
speaker) and one BM25 index per text field, because the re-ranker's features compare a
query with each field separately.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from claimwatch.artefacts import META, read_meta, write_meta
from claimwatch.claims.docs import ClaimDoc
from claimwatch.claims.encoder import Encoder

FORMAT_VERSION = 2
_STEMMER = Stemmer.Stemmer("english")
#: From this many documents on, dense search uses an approximate (FAISS IVF, int8) index and the
#: embeddings are kept as float16; below it, search is exact.
ANN_MIN_DOCS = 100_000
ANN_NPROBE = 32
_ANN_SEED = 7
#: BM25 fields: the whole document, and each text field alone.
FIELDS = ("all", "claim", "title", "extra")


class IndexCorrupt(RuntimeError):
    pass


_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Stemmed, stop-worded tokens; the one tokenizer for indexing, querying and evidence.

    The same rules as ``bm25s.tokenize(stopwords="en", stemmer=…)``, without its per-call
    overhead (it runs for every query and every candidate)."""
    stem = _STEMMER.stemWords
    return [stem([w for w in _TOKEN.findall(t.lower()) if w not in _STOPWORDS]) for t in texts]


#: meta.json's own keys and the JSON types they must have: a file without them (a torn write,
#: ``null``, a list, a hand edit) makes the index corrupt, so it is rebuilt.
_META_TYPES = {"format_version": int, "model": str, "hashes": list, "bm25_fields": list}


def _field_text(doc: ClaimDoc, name: str) -> str:
    if name == "all":
        return " ".join(t for t in (doc.claim, doc.title, doc.extra) if t)
    return getattr(doc, name) or ""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _doc_hash(doc: ClaimDoc) -> str:
    return _sha(
        json.dumps(
            [doc.claim, doc.title, doc.extra, doc.date.isoformat() if doc.date else None, doc.speaker],
            ensure_ascii=False,
        ).encode()
    )[:16]


@dataclass
class IndexStats:
    total: int
    encoded: int
    reused: int
    removed: int
    rebuilt_reason: str | None
    version: str


class ClaimIndex:
    """Documents, their normalised embeddings and per-field BM25 retrievers, aligned by row."""

    def __init__(
        self,
        directory: Path,
        model: str,
        docs: list[ClaimDoc],
        hashes: list[str],
        embeddings: np.ndarray,
        bm25: dict[str, bm25s.BM25],
        ann: Any = None,
    ) -> None:
        self.directory = directory
        self.model = model
        self.docs = docs
        self.ids = np.array([d.id for d in docs], dtype=object)
        self.row_of = {d.id: i for i, d in enumerate(docs)}
        self.hashes = hashes
        self.embeddings = embeddings
        self.bm25 = bm25
        self.ann = ann
        self.dates = np.array([d.date.timestamp() / 86400 if d.date else np.nan for d in docs], dtype=np.float64)
        #: per-field BM25 work buffers, reused by every query (see :meth:`bm25_scores`)
        self._buffers: dict[str, np.ndarray] = {}
        self._claim_terms: dict[int, frozenset[str]] = {}
        h = hashlib.sha256(model.encode())
        for d, th in zip(docs, hashes, strict=True):
            h.update(f"{d.id}:{th};".encode())
        self.version = h.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.docs)

    # ------------------------------------------------------------------ persistence

    @classmethod
    def load(cls, directory: Path) -> ClaimIndex:
        if not (directory / META).is_file():
            raise FileNotFoundError(f"no index at {directory}; run `claimwatch index`")
        try:
            meta = read_meta(directory, "index", IndexCorrupt, required=_META_TYPES)
            if meta["format_version"] != FORMAT_VERSION:
                raise IndexCorrupt(f"index format {meta['format_version']} is not {FORMAT_VERSION}")
            emb = np.load(directory / "embeddings.npy", allow_pickle=False)
            with open(directory / "docs.jsonl", encoding="utf-8") as fh:
                docs = [_doc_from_json(json.loads(line)) for line in fh]
            bm25 = {f: bm25s.BM25.load(str(directory / f"bm25_{f}"), show_progress=False) for f in meta["bm25_fields"]}
            ann = None
            if (directory / "dense.faiss").is_file():
                import faiss

                ann = faiss.read_index(str(directory / "dense.faiss"))
                ann.nprobe = ANN_NPROBE
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise IndexCorrupt(f"index at {directory} is unreadable: {type(exc).__name__}: {exc}") from exc
        if emb.shape[0] != len(docs) or len(meta["hashes"]) != len(docs):
            raise IndexCorrupt(f"index at {directory}: {len(docs)} documents but {emb.shape[0]} embeddings")
        return cls(directory, meta["model"], docs, meta["hashes"], emb, bm25, ann)

    def save(self) -> None:
        """Write to a sibling temp directory, then swap, so a crash never leaves half an index."""
        tmp = self.directory.with_name(self.directory.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        np.save(tmp / "embeddings.npy", self.embeddings)
        with open(tmp / "docs.jsonl", "w", encoding="utf-8") as fh:
            for d in self.docs:
                fh.write(json.dumps(_doc_to_json(d), ensure_ascii=False) + "\n")
        files = ["embeddings.npy", "docs.jsonl"]
        if self.ann is not None:
            import faiss

            faiss.write_index(self.ann, str(tmp / "dense.faiss"))
            files.append("dense.faiss")
        for name, retriever in self.bm25.items():
            retriever.save(str(tmp / f"bm25_{name}"), show_progress=False)
            files += [f"bm25_{name}/{p.name}" for p in sorted((tmp / f"bm25_{name}").iterdir())]
        write_meta(
            tmp,
            {
                "format_version": FORMAT_VERSION,
                "model": self.model,
                "version": self.version,
                "count": len(self.docs),
                "dim": int(self.embeddings.shape[1]),
                "built_at": datetime.now(UTC).isoformat(),
                "bm25_fields": sorted(self.bm25),
                "hashes": self.hashes,
            },
            files,
        )
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
    def build(
        cls,
        directory: Path,
        docs: Sequence[ClaimDoc],
        encoder: Encoder,
        *,
        persist: bool = True,
        show_progress: bool = False,
    ) -> tuple[ClaimIndex, IndexStats]:
        """Build or update the index for ``docs`` (reusing embeddings of unchanged documents)."""
        docs = list(docs)
        reason = None
        previous: ClaimIndex | None = None
        if persist:
            try:
                previous = cls.load(directory)
                if previous.model != encoder.name:
                    reason, previous = f"model changed from {previous.model} to {encoder.name}", None
            except FileNotFoundError:
                reason = "new index"
            except IndexCorrupt as exc:
                reason = f"rebuilt: {exc}"

        hashes = [_doc_hash(d) for d in docs]
        embed_keys = [_sha(d.embed_text().encode())[:16] for d in docs]
        reuse: dict[tuple[str, str], int] = {}
        if previous is not None:
            reuse = {(d.id, _sha(d.embed_text().encode())[:16]): row for row, d in enumerate(previous.docs)}
        emb = np.zeros((len(docs), encoder.dim), dtype=np.float32)
        todo = []
        for row, (d, key) in enumerate(zip(docs, embed_keys, strict=True)):
            old_row = reuse.get((d.id, key))
            if old_row is not None and previous is not None:
                emb[row] = previous.embeddings[old_row].astype(np.float32)
            else:
                todo.append(row)
        if todo:
            emb[todo] = encoder.encode([docs[i].embed_text() for i in todo], show_progress=show_progress)
        bm25 = _bm25_fields(docs)
        ann = _build_ann(emb) if len(docs) >= ANN_MIN_DOCS else None
        if ann is not None:
            emb = emb.astype(np.float16)
        index = cls(directory, encoder.name, docs, hashes, emb, bm25, ann)
        removed = 0 if previous is None else len(set(previous.row_of) - set(index.row_of))
        if persist and (previous is None or previous.version != index.version or reason):
            index.save()
        return index, IndexStats(len(docs), len(todo), len(docs) - len(todo), removed, reason, index.version)

    def without(self, ids: set[str]) -> ClaimIndex:
        """An in-memory copy without the documents ``ids``, as if they had never been indexed.

        Embeddings are reused (no re-encoding); the BM25 indexes are rebuilt over the rest so term
        statistics are those of the smaller collection. For leave-gold-out evaluation."""
        keep = [row for row, d in enumerate(self.docs) if d.id not in ids]
        return self._derived([self.docs[r] for r in keep], [self.hashes[r] for r in keep], self.embeddings[keep])

    def plus(self, docs: Sequence[ClaimDoc], encoder: Encoder) -> ClaimIndex:
        """An in-memory copy with ``docs`` added (only they are encoded): what the collection would be
        after ingesting them. For the stability check (does adding unrelated claims move confidence?)."""
        added = encoder.encode([d.embed_text() for d in docs]).astype(self.embeddings.dtype)
        return self._derived(
            [*self.docs, *docs], [*self.hashes, *(_doc_hash(d) for d in docs)], np.vstack([self.embeddings, added])
        )

    def _derived(self, docs: list[ClaimDoc], hashes: list[str], emb: np.ndarray) -> ClaimIndex:
        ann = _build_ann(emb.astype(np.float32)) if len(docs) >= ANN_MIN_DOCS else None
        # a directory of its own, so an accidental save() never overwrites the full index
        directory = self.directory.with_name(self.directory.name + ".derived")
        return ClaimIndex(directory, self.model, docs, hashes, emb, _bm25_fields(docs), ann)

    # ------------------------------------------------------------------ scoring

    def claim_terms(self, row: int) -> frozenset[str]:
        """The tokens of a document's claim (what match evidence shows as shared terms), computed
        once per document: the same claims turn up as candidates of many posts."""
        got = self._claim_terms.get(row)
        if got is None:
            got = self._claim_terms[row] = frozenset(tokenize([self.docs[row].claim])[0])
        return got

    def dense_search(self, query_embeddings: np.ndarray, k: int) -> np.ndarray:
        """Rows of the ``k`` nearest documents per query (exact below ANN_MIN_DOCS); -1 pads."""
        k = min(k, len(self.docs))
        if self.ann is not None:
            _, rows = self.ann.search(np.ascontiguousarray(query_embeddings, dtype=np.float32), k)
            return rows
        sims = query_embeddings @ self.embeddings.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1)

    def cosines(self, query_embedding: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return (self.embeddings[rows].astype(np.float32) @ query_embedding).astype(np.float32)

    def bm25_scores(self, query_tokens: list[str], field: str = "all") -> FieldScores:
        """BM25 of one tokenised query against every document for one field.

        The same float32 sums as ``bm25s.BM25.get_scores`` (one ``np.add.at`` per query term, in
        query order), but into a collection-sized buffer kept per field and zeroed again by
        :meth:`FieldScores.release`: nothing collection-sized is allocated or scanned per query,
        which at a million fact-checks was most of the ranking time. Call ``release()`` before
        scoring the next query in the same field."""
        retriever = self.bm25.get(field)
        buffer = self._buffers.get(field)
        if buffer is None:
            buffer = self._buffers[field] = np.zeros(len(self.docs), dtype=np.float32)
        if retriever is None:
            return FieldScores(buffer, np.zeros(0, dtype=np.int64), 0)
        mat, vocab = retriever.scores, retriever.vocab_dict
        data, indices, indptr = mat["data"], mat["indices"], mat["indptr"]
        slices = [(indptr[tid], indptr[tid + 1]) for tid in (vocab.get(t) for t in query_tokens) if tid is not None]
        for lo, hi in slices:
            np.add.at(buffer, indices[lo:hi], data[lo:hi])
        touched = np.concatenate([indices[lo:hi] for lo, hi in slices]) if slices else np.zeros(0, dtype=np.int64)
        return FieldScores(buffer, touched, len(slices))

    def bm25_at(self, query_tokens: list[str], field: str, rows: np.ndarray) -> PoolScores:
        """Exact BM25 of one field for ``rows`` (sorted) only: a binary search per query term in
        its posting list (sorted by row), so the cost follows the pool, not the postings."""
        out = np.zeros(len(rows), dtype=np.float32)
        retriever = self.bm25.get(field)
        if retriever is not None and len(rows):
            mat, vocab = retriever.scores, retriever.vocab_dict
            data, indices, indptr = mat["data"], mat["indices"], mat["indptr"]
            for tid in (vocab.get(t) for t in query_tokens):
                if tid is None:
                    continue
                lo, hi = indptr[tid], indptr[tid + 1]
                pos = np.searchsorted(indices[lo:hi], rows)
                hit = pos < hi - lo
                hit[hit] = indices[lo + pos[hit]] == rows[hit]
                out[hit] += data[lo + pos[hit]]
        return PoolScores(rows, out)


class PoolScores:
    """BM25 of one field for a query's candidate pool only (``rows`` sorted), normalised by the
    pool's best instead of the collection's: the pool holds the best "all"-field BM25 hits, so
    the field's collection-wide best is almost always in it."""

    def __init__(self, rows: np.ndarray, values: np.ndarray) -> None:
        self._rows = rows
        self._values = values
        self.max = float(values.max()) if len(values) else 0.0

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self._values[np.searchsorted(self._rows, rows)]

    def release(self) -> None:
        pass


class FieldScores:
    """One query's BM25 scores for one field: a shared buffer plus the rows that may be non-zero.

    When the query's postings touch a large part of the collection, whole-buffer passes (fill,
    max, a scan for non-zeros) beat gathering and scattering at random positions."""

    #: touched entries per collection row above which whole-buffer passes are used
    DENSE_SHARE = 1 / 16

    def __init__(self, buffer: np.ndarray, touched: np.ndarray, terms: int) -> None:
        self._buffer = buffer
        self._touched = touched  # with repeats: a row appears once per query term it contains
        self._terms = terms
        self._dense = len(touched) > len(buffer) * self.DENSE_SHARE
        if not len(touched):
            self.max = 0.0
        else:
            self.max = float(buffer.max() if self._dense else buffer[touched].max())

    def at(self, rows: np.ndarray) -> np.ndarray:
        return self._buffer[rows]

    def top(self, k: int) -> np.ndarray:
        """Rows of the k largest positive scores, best first (ties in row order)."""
        if not len(self._touched):
            return np.zeros(0, dtype=np.int64)
        values = self._buffer[self._touched]
        m = min(len(values), k * max(self._terms, 1))  # enough slots for k distinct rows
        part = np.argpartition(-values, m - 1)[:m] if m < len(values) else np.arange(len(values))
        candidates = np.unique(self._touched[part])
        candidates = candidates[self._buffer[candidates] > 0]
        if len(candidates) > k:
            candidates = np.sort(candidates[np.argpartition(-self._buffer[candidates], k - 1)[:k]])
        return candidates[np.argsort(-self._buffer[candidates], kind="stable")].astype(np.int64)

    def release(self) -> None:
        if self._dense:
            self._buffer.fill(0.0)
        else:
            self._buffer[self._touched] = 0.0


def _bm25_fields(docs: Sequence[ClaimDoc]) -> dict[str, bm25s.BM25]:
    """One BM25 index per field that has any text."""
    bm25 = {}
    for name in FIELDS:
        texts = [_field_text(d, name) for d in docs]
        if docs and any(texts):
            bm25[name] = bm25s.BM25()
            bm25[name].index(tokenize(texts), show_progress=False)
    return bm25


def _doc_to_json(d: ClaimDoc) -> dict[str, object]:
    out = asdict(d)
    out["date"] = d.date.isoformat() if d.date else None
    return out


def _doc_from_json(obj: dict[str, object]) -> ClaimDoc:
    date = obj.get("date")
    return ClaimDoc(
        id=str(obj["id"]),
        claim=str(obj["claim"]),
        title=str(obj.get("title") or ""),
        extra=str(obj.get("extra") or ""),
        date=datetime.fromisoformat(str(date)) if date else None,
        speaker=obj.get("speaker") or None,
    )  # type: ignore[arg-type]


def _build_ann(emb: np.ndarray) -> Any:
    """IVF with 8-bit scalar quantisation: ~4× smaller than the float vectors, recall@10 ≈ 0.97."""
    import faiss

    n, dim = emb.shape
    nlist = int(min(65536, max(256, 4 * np.sqrt(n))))
    rng = np.random.default_rng(_ANN_SEED)
    sample = emb[rng.choice(n, size=min(n, 64 * nlist), replace=False)]
    quantizer = faiss.IndexFlatIP(dim)
    ann = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    ann.cp.seed = _ANN_SEED
    ann.train(np.ascontiguousarray(sample, dtype=np.float32))
    ann.add(np.ascontiguousarray(emb, dtype=np.float32))
    ann.nprobe = ANN_NPROBE
    return ann
