"""Topics: what a post is about, from a few descriptions and/or keyword lists a study writes.

A topic file (YAML)::

    topics:
      - name: us-election-2024            # id used in filters and the store
        label: 2024 US election            # shown in reports (optional)
        descriptions:                      # sentences about the topic; matched by embedding
          - Voting, ballots and vote counting in the 2024 US presidential election
        keywords: [ballot, "voter fraud", "vot*"]   # whole words / phrases; * = any ending
        threshold: 0.4                     # cosine to the nearest description (optional)

A post is *in* a topic when any keyword occurs in it or its text's embedding is within
``threshold`` cosine of a description. Both parts are stored (similarity, keywords found),
so an analyst can see why a post was counted and re-threshold without re-encoding. The
embeddings are the ones matching computed for the post: nothing is encoded twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from claimwatch.claims.encoder import Encoder

#: Default cosine between a post and the nearest topic description for the post to count as
#: on-topic. Chosen on the demo's synthetic posts (all-MiniLM-L6-v2): election posts sit at
#: 0.35–0.7 from a one-line description, unrelated chatter below 0.25.
DEFAULT_THRESHOLD = 0.4
_TOPIC_KEYS = {"name", "label", "descriptions", "keywords", "threshold"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class TopicError(ValueError):
    """A topic file that cannot be used; the message names the file, the topic and the key."""


@dataclass(frozen=True)
class Topic:
    name: str
    label: str
    descriptions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def keywords_in(self, text: str) -> list[str]:
        return keywords_found(self._pattern, self.keywords, text)


@dataclass(frozen=True)
class TopicScore:
    topic: str
    similarity: float | None
    keywords: list[str]
    assigned: bool


def keywords_found(pattern: re.Pattern[str] | None, keywords: tuple[str, ...], text: str) -> list[str]:
    """The keywords (as written in the definition) that occur in ``text``; ``pattern`` from
    :func:`keyword_pattern` of the same keywords."""
    if pattern is None:
        return []
    found = {m.lastgroup for m in pattern.finditer(text)}
    return [kw for i, kw in enumerate(keywords) if f"k{i}" in found]


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One case-insensitive regex for whole words/phrases; a trailing * matches any ending."""
    if not keywords:
        return None
    parts = []
    for i, kw in enumerate(keywords):
        body = re.escape(kw.rstrip("*")).replace(r"\ ", r"\s+")
        end = r"\w*" if kw.endswith("*") else r"(?!\w)"
        parts.append(rf"(?P<k{i}>(?<!\w){body}{end})")
    return re.compile("|".join(parts), re.IGNORECASE)


def _topic(obj: Any, where: str) -> Topic:
    if not isinstance(obj, dict):
        raise TopicError(f"{where}: a topic must be a mapping with name, descriptions and/or keywords")
    unknown = sorted(set(obj) - _TOPIC_KEYS)
    if unknown:
        raise TopicError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOPIC_KEYS))})")
    name = obj.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TopicError(f"{where}: 'name' must be a short lowercase id such as us-election-2024, not {name!r}")
    where = f"{where} ({name})"

    def strings(key: str) -> tuple[str, ...]:
        value = obj.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise TopicError(f"{where}: {key!r} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    descriptions, keywords = strings("descriptions"), strings("keywords")
    if not descriptions and not keywords:
        raise TopicError(f"{where}: give 'descriptions' or 'keywords' (or both)")
    threshold = obj.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not -1 <= threshold <= 1:
        raise TopicError(f"{where}: 'threshold' must be a cosine between -1 and 1, not {threshold!r}")
    label = obj.get("label") or name
    if not isinstance(label, str):
        raise TopicError(f"{where}: 'label' must be text")
    return Topic(name, label, descriptions, keywords, float(threshold), keyword_pattern(keywords))


class TopicSet:
    """Topic definitions plus their description embeddings (computed once per encoder)."""

    def __init__(self, topics: list[Topic], source: str = "") -> None:
        names = [t.name for t in topics]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise TopicError(f"{source or 'topics'}: topic {dup!r} is defined twice")
        self.topics = topics
        self.source = source
        self._emb: dict[str, np.ndarray] = {}

    @classmethod
    def from_dicts(cls, items: Any, source: str = "topics") -> TopicSet:
        if not isinstance(items, list) or not items:
            raise TopicError(f"{source}: 'topics' must be a non-empty list")
        return cls([_topic(obj, f"{source}: topic {i + 1}") for i, obj in enumerate(items)], source)

    @classmethod
    def load(cls, path: str | Path) -> TopicSet:
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TopicError(f"cannot read topic file {p}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise TopicError(f"{p}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict) or set(data) != {"topics"}:
            raise TopicError(f"{p}: expected one top-level key 'topics'")
        return cls.from_dicts(data["topics"], str(p))

    def definition(self) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "label": t.label,
                "descriptions": list(t.descriptions),
                "keywords": list(t.keywords),
                "threshold": t.threshold,
            }
            for t in self.topics
        ]

    def version(self, encoder_name: str) -> str:
        """Changes when a definition or the encoder changes (stored scores are then recomputed)."""
        return hashlib.sha256(json.dumps([encoder_name, self.definition()]).encode()).hexdigest()[:16]

    def score(self, texts: list[str], embeddings: np.ndarray, encoder: Encoder) -> list[list[TopicScore]]:
        """Per text, one score per topic. ``embeddings`` are the texts' (normalised) embeddings."""
        sims: dict[str, np.ndarray] = {}
        for t in self.topics:
            if t.descriptions:
                key = f"{encoder.name}:{t.name}"
                if key not in self._emb:
                    self._emb[key] = encoder.encode(list(t.descriptions))
                sims[t.name] = (embeddings @ self._emb[key].T).max(axis=1) if len(texts) else np.zeros(0)
        out = []
        for i, text in enumerate(texts):
            row = []
            for t in self.topics:
                sim = round(float(sims[t.name][i]), 4) if t.name in sims else None
                kws = t.keywords_in(text)
                row.append(TopicScore(t.name, sim, kws, bool(kws) or (sim is not None and sim >= t.threshold)))
            out.append(row)
        return out
