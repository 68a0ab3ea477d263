"""Readers for the CLEF CheckThat! check-worthiness files, and the metrics they are scored by.

Formats, exactly as the organisers ship them (TSV, one record per line, a header row):

- debate sentences, CT2024 task 1 / CT2023 1B: ``Sentence_id, Text, class_label`` with labels
  ``Yes``/``No`` (CT2023's gold file spells the id column ``ClasSentence_id``; some files
  end lines with CR LF; texts with a comma or quote are CSV-quoted: ``"He said ""no""."``);
- tweets, CT2022 1A: ``topic, tweet_id, tweet_url, tweet_text, class_label`` (``1``/``0``);
- tweets, CT2021 1A: ``topic_id, tweet_id, tweet_url, tweet_text, claim, check_worthiness``
  (the dev file names the last column ``claim_worthiness``).

Defects are never parsed silently: a row with the wrong number of fields (the published
CT2024 train file fuses two records on its line 16,877; ``train.fixed.tsv`` splits them), an
empty text, an unknown label or an id repeated with other content raises :class:`DataError`
naming file and line. Files without labels (the test inputs) are refused: there is nothing
to score against.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from claimwatch.evaluation.checkthat import DataError, existing_file
from claimwatch.evaluation.checkthat import numbered_lines as lines
from claimwatch.evaluation.metrics import average_precision, binary_metrics

if TYPE_CHECKING:
    from claimwatch.claims.checkworthiness import CheckworthinessModel
    from claimwatch.claims.encoder import Encoder

_ID_COLUMNS = ("sentence_id", "classentence_id", "tweet_id", "id")
_TEXT_COLUMNS = ("text", "tweet_text")
_LABEL_COLUMNS = ("class_label", "check_worthiness", "claim_worthiness", "label")
_LABELS = {"yes": True, "1": True, "no": False, "0": False}


@dataclass(frozen=True)
class LabelledText:
    """One sentence or post with its gold label; ``kind`` is ``post`` for tweets and ``sentence``
    for debate sentences (which model head scores it); ``line`` is where it was read."""

    id: str
    text: str
    checkworthy: bool
    kind: str = "sentence"
    line: int = 0


def _unquote(field: str) -> str:
    """Undo the CSV quoting of a whole field (doubled inner quotes become one); a quote inside an
    unquoted field stays as it is (tweets quote people without quoting the field)."""
    if len(field) > 1 and field[0] == '"' and field[-1] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _column(header: list[str], names: Sequence[str], what: str, path: Path) -> int:
    low = [h.strip().lower() for h in header]
    for name in names:
        if name in low:
            return low.index(name)
    raise DataError(
        f"{path}:1: no {what} column in the header {header} (expected one of {', '.join(names)}"
        + ("; a test input without gold labels cannot be evaluated" if what == "label" else "")
        + ")"
    )


def load_labelled(path: Path) -> list[LabelledText]:
    """Every labelled sentence or tweet of a CheckThat! check-worthiness TSV, in file order."""
    path = existing_file(path)
    header: list[str] | None = None
    cols = (0, 0, 0)
    kind = "sentence"
    out: dict[str, LabelledText] = {}
    for no, line in lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = fields
            cols = (
                _column(header, _ID_COLUMNS, "id", path),
                _column(header, _TEXT_COLUMNS, "text", path),
                _column(header, _LABEL_COLUMNS, "label", path),
            )
            kind = "post" if header[cols[1]].strip().lower() == "tweet_text" else "sentence"
            continue
        if len(fields) != len(header):
            raise DataError(
                f"{path}:{no}: {len(fields)} fields but the header has {len(header)} "
                f"({_fused(fields, cols[2]) or 'a tab inside a text, or a missing field?'})"
            )
        rid, text, label = fields[cols[0]].strip(), _unquote(fields[cols[1]]).strip(), fields[cols[2]].strip()
        if not rid:
            raise DataError(f"{path}:{no}: empty id")
        if not text:
            raise DataError(f"{path}:{no}: record {rid!r} has empty text")
        if label.lower() not in _LABELS:
            raise DataError(f"{path}:{no}: label {label!r} of record {rid!r} is not Yes/No or 1/0")
        item = LabelledText(rid, text, _LABELS[label.lower()], kind, no)
        if rid in out:
            if (out[rid].text, out[rid].checkworthy) != (text, item.checkworthy):
                raise DataError(
                    f"{path}:{no}: id {rid!r} repeated with other text or label (first at line {out[rid].line})"
                )
            continue
        out[rid] = item
    if not out:
        raise DataError(f"{path}: no labelled records")
    return list(out.values())


def _fused(fields: list[str], label_col: int) -> str | None:
    """Name the published CT2024 defect: a label running into the next record's id (``No29286``)."""
    for f in fields[label_col:]:
        head = f.strip().rstrip("0123456789")
        if head.lower() in ("yes", "no") and len(head) < len(f.strip()):
            return (
                f"two records fused on one line: label {head!r} runs into the next id "
                f"{f.strip()[len(head) :]!r}; CheckThat! 2024 ships a .fixed.tsv with the line split"
            )
    return None


def score_metrics(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, float]:
    """What CheckThat! reports for check-worthiness: F1, precision and recall of the positive class and
    accuracy at ``threshold``, and MAP — the average precision of the whole list ranked by score
    (ties keep file order)."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    out: dict[str, float] = dict(binary_metrics(y, s >= threshold))
    ranked = [str(i) for i in np.argsort(-s, kind="stable")]
    out["map"] = average_precision(ranked, {str(i) for i in np.flatnonzero(y)}, len(ranked))
    out["n"] = len(y)
    out["positives"] = int(y.sum())
    out["threshold"] = float(threshold)
    return out


def cached_embeddings(texts: Sequence[str], encoder: Encoder) -> np.ndarray:
    """The matching embeddings of ``texts`` (see claims.checkworthiness.embedding_text), cached on
    disk by content and encoder under ``<cache>/cw-emb``: evaluations and training runs over the
    same files do not re-encode tens of thousands of sentences."""
    from claimwatch.claims.checkworthiness import embedding_text
    from claimwatch.config import cache_dir

    cleaned = [embedding_text(t) for t in texts]
    # A local model directory keeps its name when retrained in place: its files count too.
    h = hashlib.sha256(encoder.name.encode() + encoder.fingerprint.encode())
    for t in cleaned:
        h.update(t.encode() + b"\x1e")
    path = cache_dir() / "cw-emb" / f"{h.hexdigest()[:24]}.npy"
    if path.is_file():
        try:
            emb = np.load(path, allow_pickle=False)
            if emb.shape[0] == len(texts):
                return emb
        except (ValueError, OSError):
            pass  # a damaged cache file: encode again and replace it
    emb = encoder.encode(cleaned)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
    with os.fdopen(fd, "wb") as fh:
        np.save(fh, emb)
    os.replace(tmp, path)
    return emb


def evaluate(
    model: CheckworthinessModel,
    items: Sequence[LabelledText],
    encoder: Encoder,
    *,
    kind: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """The whole ``claimwatch eval checkworthiness``: score every item with the head for its kind
    (tweets: ``post``, debate sentences: ``sentence``, unless ``kind`` says otherwise) and measure."""
    kind = kind or items[0].kind
    texts = [x.text for x in items]
    default = model.threshold(kind)  # an unknown kind fails here, before anything is encoded
    scores = model.score(texts, cached_embeddings(texts, model.reading_encoder(encoder)), kind=kind)
    out = score_metrics([x.checkworthy for x in items], scores, default if threshold is None else threshold)
    out.update(kind=kind, model=model.describe())
    return out
