"""Every labelled check-worthiness set under ``../shared/datasets``, each with the groups that keep
related texts together (one debate, one published split of tweets).

The sets (``SETS``; their SOURCE.md files say where each came from):

- ``CT21 1A``: CheckThat! 2021 1A COVID-19 tweets, train + dev + test (all three carry gold);
- ``CT22 1A``: CheckThat! 2022 1A tweets, train + dev + dev-test (its test file has no labels);
- ``CT23 1B``: CheckThat! 2023 1B test gold = CheckThat! 2024 task 1 dev-test (2020 debate sentences;
  either file will do, the texts are read once);
- ``CT24 dev``: CheckThat! 2024 task 1 dev = ClaimBuster groundtruth.csv (expert labels);
- ``ClaimBuster``: ClaimBuster's strict binary subset ``3xNCS.json`` (check-worthy factual sentences
  vs non-check-worthy, drawn from both ClaimBuster files, Meng et al. 2020);
- ``CT24 train``: CheckThat! 2024 task 1 train = ClaimBuster crowdsourced.csv (crowd labels).

The sets overlap (CT24 train ⊇ most of ClaimBuster's sentences; CT2022 1A train holds 145 CT2021
test tweets): :mod:`claimwatch.evaluation.checkworthiness_protocol` therefore holds out by
*text* and by *group* across sets, never by file. Groups: a debate sentence's group is its debate
(ClaimBuster's ``File_id``, looked up by ``Sentence_id``; the 2020 debates of CT23 1B are one
group; a sentence whose debate is unknown, without ClaimBuster's files, is a group of its own); a
tweet's group is the published split file it came from (a split is a time slice). Repeated texts
within a set keep their first occurrence. Training reads the sets whose files are present
(:func:`present_sets`); the all-sets evaluation needs every file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from claimwatch.evaluation.checkthat import DataError
from claimwatch.evaluation.checkworthiness import LabelledText, load_labelled

_CT24 = "clef2024-checkthat-task1-checkworthiness-en/CT24_checkworthy_english"
_CT23 = "clef2023-checkthat-task1b-checkworthiness-en/CT23_1B_checkworthy_english_test_gold.tsv"
_CT22 = "clef2022-checkthat-task1a-checkworthiness-tweets-en/CT22_english_1A_checkworthy"
_CT21 = "clef2021-checkthat-task1a-checkworthiness-tweets-en"
_CB = "claimbuster-arslan2020"
#: ClaimBuster's two sentence files: Sentence_id -> debate (File_id).
CLAIMBUSTER_FILES = (f"{_CB}/crowdsourced.csv", f"{_CB}/groundtruth.csv")
CLAIMBUSTER_STRICT = f"{_CB}/3xNCS.json"
#: The group of the CT23 1B / CT24 dev-test sentences (2020 debates, not in ClaimBuster).
DEBATES_2020 = "2020 debates"

#: Set name -> its files (TSV files in the CheckThat! layout; ``3xNCS.json`` for ClaimBuster).
SETS: dict[str, tuple[str, ...]] = {
    "CT21 1A": (
        f"{_CT21}/dataset_train_v1_english.tsv",
        f"{_CT21}/dataset_dev_v1_english.tsv",
        f"{_CT21}/dataset_test_english.tsv",
    ),
    "CT22 1A": (f"{_CT22}_train.tsv", f"{_CT22}_dev.tsv", f"{_CT22}_dev_test.tsv"),
    "CT23 1B": (_CT23, f"{_CT24}_dev-test.tsv"),
    "CT24 dev": (f"{_CT24}_dev.tsv",),
    "ClaimBuster": (CLAIMBUSTER_STRICT,),
    "CT24 train": (f"{_CT24}_train.fixed.tsv",),
}
#: What each set is, for people (a model's ``describe()``).
DESCRIPTIONS = {
    "CT21 1A": "CheckThat! 2021 1A tweets",
    "CT22 1A": "CheckThat! 2022 1A tweets",
    "CT23 1B": "CheckThat! 2023 1B test (2020 debates)",
    "CT24 dev": "CheckThat! 2024 task 1 dev",
    "ClaimBuster": "ClaimBuster 3xNCS",
    "CT24 train": "CheckThat! 2024 task 1 train",
}


@dataclass
class LabelledSet:
    """One set: its texts (kind ``post`` or ``sentence``), labels, groups and embeddings."""

    name: str
    items: list[LabelledText]
    groups: np.ndarray
    embeddings: np.ndarray | None = None

    @property
    def texts(self) -> list[str]:
        return [x.text for x in self.items]

    @property
    def labels(self) -> np.ndarray:
        return np.array([x.checkworthy for x in self.items], dtype=np.int64)

    @property
    def kind(self) -> str:
        return self.items[0].kind


def debates(datasets: Path) -> dict[str, str]:
    """ClaimBuster's Sentence_id -> debate file (empty without ClaimBuster's files)."""
    out: dict[str, str] = {}
    for rel in CLAIMBUSTER_FILES:
        if (datasets / rel).is_file():
            with open(datasets / rel, encoding="utf-8", newline="") as fh:
                out.update({row["Sentence_id"]: row["File_id"] for row in csv.DictReader(fh)})
    return out


def _strict_claimbuster(path: Path) -> list[LabelledText]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [
            LabelledText(str(r["sentence_id"]), str(r["text"]).strip(), bool(int(r["label"])), "sentence", n)
            for n, r in enumerate(rows, start=1)
            if str(r["text"]).strip()
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not ClaimBuster's xNCS JSON list ({exc})") from None


def load_set(datasets: Path, name: str, sentence_debates: dict[str, str] | None = None) -> LabelledSet:
    """One set of :data:`SETS`, de-duplicated by normalised text, with its groups."""
    from claimwatch.training.checkworthiness import normalised

    sentence_debates = debates(datasets) if sentence_debates is None else sentence_debates
    items: list[LabelledText] = []
    groups: list[str] = []
    seen: set[str] = set()
    for rel in SETS[name]:
        path = datasets / rel
        if not path.is_file():
            continue
        for x in _strict_claimbuster(path) if rel.endswith(".json") else load_labelled(path):
            key = normalised(x.text)
            if key in seen:
                continue
            seen.add(key)
            items.append(x)
            if x.kind == "post":
                groups.append(Path(rel).name)
            else:
                groups.append(DEBATES_2020 if name == "CT23 1B" else sentence_debates.get(x.id, f"{name}:{x.id}"))
    return LabelledSet(name, items, np.array(groups))


def present_sets(datasets: Path) -> list[str]:
    """The sets with at least one of their files under ``datasets``."""
    return [n for n, files in SETS.items() if any((datasets / rel).is_file() for rel in files)]


def load_sets(
    datasets: Path,
    names: Sequence[str] = tuple(SETS),
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> list[LabelledSet]:
    """The named sets (all by default), embedded by ``embed`` when given (e.g. cached_embeddings)."""
    missing = [datasets / SETS[n][0] for n in names if n not in present_sets(datasets)]
    if missing:
        raise FileNotFoundError(
            f"{missing[0]} not found: the all-sets evaluation needs the CheckThat! 2021-2024 check-worthiness "
            "files and ClaimBuster in the layout of ../shared/datasets"
        )
    cb = debates(datasets)
    sets = [load_set(datasets, n, cb) for n in names]
    if embed is not None:
        for s in sets:
            s.embeddings = embed(s.texts)
    return sets
