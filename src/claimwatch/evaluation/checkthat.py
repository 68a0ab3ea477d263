"""Readers for the CLEF CheckThat! claim-retrieval formats, exactly as the organisers ship them.

Verified claims: task 2A 2022 JSONL (``vclaim_id, vclaim, title, subtitle, author, date,
page_url``), 2A 2021 / 2020 TSV (``vclaim_id<TAB>vclaim<TAB>title``; 2020's id column is
unnamed), task 2B PolitiFact JSONL (``vclaim_id, vclaim, speaker, date "stated on <date> …",
title, url`` and optionally the article ``text``; ``.gz`` is read transparently). Queries:
TSV ``id<TAB>text`` with or without a header, read with ``QUOTE_NONE`` as the organisers do.
Qrels: TREC ``qid 0 docid relevance``.

Defects are never parsed silently: a line with the wrong number of fields (e.g. two
records fused on one line), a duplicate id with different text or an empty text raises
:class:`DataError` naming the file and line. Qrels naming unknown queries or claims are
reported as warnings by the evaluation (evaluation.retrieval.evaluate_files).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from claimwatch.claims.docs import ClaimDoc, Query
from claimwatch.sources.base import parse_time


class DataError(ValueError):
    """An evaluation file is malformed; the message names the file and line."""


def existing_file(path: str | Path) -> Path:
    """``path``, if it is a file; else a :class:`DataError` saying what it is instead."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give a file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig", newline="")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with _open_text(path) as fh:
            for no, line in enumerate(fh, start=1):
                yield no, line.rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


_STATED_ON = re.compile(r"stated on ([A-Z][a-z]+ \d{1,2}, \d{4})")


def _doc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    m = _STATED_ON.search(value)
    try:
        return parse_time(m.group(1) if m else value)
    except ValueError:
        return None


def load_vclaims(path: Path) -> list[ClaimDoc]:
    """Verified claims from any of the CheckThat! 2A/2B claim files (format by content)."""
    path = existing_file(path)
    first = next((line for _, line in numbered_lines(path) if line.strip()), "")
    docs = _vclaims_jsonl(path) if first.lstrip().startswith("{") else _vclaims_tsv(path)
    seen: dict[str, ClaimDoc] = {}
    for doc in docs:
        if doc.id in seen:
            if seen[doc.id] != doc:
                raise DataError(f"{path}: claim id {doc.id!r} appears twice with different content")
            continue
        seen[doc.id] = doc
    if not seen:
        raise DataError(f"{path}: no verified claims")
    return list(seen.values())


def _vclaims_jsonl(path: Path) -> Iterator[ClaimDoc]:
    for no, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{no}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict) or not obj.get("vclaim_id"):
            raise DataError(f"{path}:{no}: a verified claim needs 'vclaim_id'")
        claim = (obj.get("vclaim") or "").strip()
        if not claim:
            raise DataError(f"{path}:{no}: claim {obj['vclaim_id']!r} has empty 'vclaim' text")
        yield ClaimDoc(
            id=str(obj["vclaim_id"]),
            claim=claim,
            title=(obj.get("title") or "").strip(),
            extra=(obj.get("subtitle") or obj.get("text") or "").strip(),
            date=_doc_date(obj.get("date")),
            speaker=obj.get("speaker") or None,
        )


def _vclaims_tsv(path: Path) -> Iterator[ClaimDoc]:
    header: list[str] | None = None
    for no, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if header is None:
            header = fields
            if len(header) < 2 or "vclaim" not in header:
                raise DataError(f"{path}:{no}: expected a header with a 'vclaim' column, got {header}")
            continue
        if len(fields) != len(header):
            raise DataError(
                f"{path}:{no}: {len(fields)} fields but the header has {len(header)} (fused or split record?)"
            )
        row = dict(zip(header, fields, strict=True))
        doc_id = row.get("vclaim_id", row.get("", fields[0]))
        claim = row["vclaim"].strip().strip('"').replace('""', '"')
        if not claim:
            raise DataError(f"{path}:{no}: claim {doc_id!r} has empty text")
        yield ClaimDoc(id=str(doc_id), claim=claim, title=row.get("title", "").strip())


_QUERY_HEADER_IDS = {"", "id", "qid", "tweet_id", "iclaim_id", "query_id", "sentence_id", "line_number"}
_SIGNATURE_DATE = re.compile(r"\(@\w+\)\s+([A-Z][a-z]+ \d{1,2}, \d{4})\s*$")
_DEBATE_DATE = re.compile(r"^(\d{8})_")


def _query_date(qid: str, text: str) -> datetime | None:
    m = _SIGNATURE_DATE.search(text)
    try:
        if m:
            return parse_time(m.group(1))
        m = _DEBATE_DATE.match(qid)
        if m:
            return datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return None


def load_queries(path: Path, context_window: int = 0) -> list[Query]:
    """Queries from a CheckThat! TSV; ``context_window`` adds that many neighbouring debate
    sentences (same transcript, adjacent line numbers) as context."""
    path = existing_file(path)
    by_id: dict[str, Query] = {}
    for no, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if no == 1 and fields[0].strip().lower() in _QUERY_HEADER_IDS and len(fields) == 2:
            continue
        if len(fields) != 2:
            raise DataError(
                f"{path}:{no}: expected 'id<TAB>text', found {len(fields)} fields (two records fused on one line?)"
            )
        qid, text = fields[0].strip(), fields[1].strip()
        if not qid:
            raise DataError(f"{path}:{no}: empty query id")
        if not text:
            raise DataError(f"{path}:{no}: query {qid!r} has empty text")
        if qid in by_id:
            if by_id[qid].text != text:
                raise DataError(f"{path}:{no}: query id {qid!r} repeated with different text")
            continue
        by_id[qid] = Query(qid, text, _query_date(qid, text))
    if not by_id:
        raise DataError(f"{path}: no queries")
    queries = list(by_id.values())
    return _with_context(queries, context_window) if context_window else queries


_LINE_NO = re.compile(r"^(.*)_(\d+)$")


def _with_context(queries: list[Query], window: int) -> list[Query]:
    """Debate sentences ``<transcript>_<line>``: neighbours within ``window`` lines become context."""
    by_pos: dict[tuple[str, int], str] = {}
    for q in queries:
        m = _LINE_NO.match(q.id)
        if m:
            by_pos[(m.group(1), int(m.group(2)))] = q.text
    out = []
    for q in queries:
        m = _LINE_NO.match(q.id)
        if not m:
            out.append(q)
            continue
        doc, line = m.group(1), int(m.group(2))
        ctx = [by_pos[(doc, i)] for i in range(line - window, line + window + 1) if i != line and (doc, i) in by_pos]
        out.append(Query(q.id, q.text, q.date, " ".join(ctx)))
    return out


def load_qrels(path: Path) -> dict[str, set[str]]:
    """TREC qrels ``qid 0 docid rel`` (tabs or spaces); only rel > 0 counts."""
    path = existing_file(path)
    qrels: dict[str, set[str]] = {}
    for no, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 4:
            raise DataError(f"{path}:{no}: expected 'qid 0 docid relevance', found {len(fields)} fields")
        qid, _, doc, rel = fields
        if no == 1 and not rel.lstrip("-").isdigit():
            continue  # a header row
        try:
            relevant = int(rel) > 0
        except ValueError:
            raise DataError(f"{path}:{no}: relevance {rel!r} is not an integer") from None
        if relevant:
            qrels.setdefault(qid, set()).add(doc)
    if not qrels:
        raise DataError(f"{path}: no relevant pairs")
    return qrels
