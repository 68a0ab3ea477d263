"""``claimwatch demo``: the whole pipeline on bundled, synthetic data (see demo/data/README.md)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from claimwatch import api
from claimwatch.analysis.report import Report, Selection
from claimwatch.reports import write_all
from claimwatch.reports.study import write_study

DATA_DIR = Path(__file__).resolve().parent / "data"
POST_FILES = ("posts_2024-08-01.jsonl", "posts_2024-11-01.jsonl", "posts_extra.csv")
FACTCHECK_FILES = ("factchecks.jsonld", "factchecks_tools.json")
#: Example topics (a "2024 US election" topic and an immigration one), scored while matching.
TOPICS_FILE = "topics.yaml"
#: A synthetic Community Notes download (notes + status history) dated like a real one, and label events.
NOTES_FILES = ("communitynotes_notes-00000.tsv", "communitynotes_noteStatusHistory-00000.tsv")
NOTES_SNAPSHOT = datetime(2024, 7, 31, tzinfo=UTC)
LABELS_FILE = "label_events.jsonl"
#: The example study: one account, the election topic, four narratives, CCDH's $1.39 CPM.
STUDY_FILE = "study.yaml"
#: The generic CSV carries no observation time; fix it so the demo is the same everywhere.
CSV_OBSERVED_AT = datetime(2024, 8, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class GroundTruthCheck:
    """How the shown match of each listed post compares with what the demo data's author intended."""

    right: int
    wrong_factcheck: int
    false_proposals: int
    missed: int

    def summary(self) -> str:
        return (f"against the demo's ground truth: {self.right} right, {self.wrong_factcheck} with the wrong "
                f"fact-check, {self.false_proposals} false proposals, {self.missed} missed")


def check_ground_truth(report: Report) -> GroundTruthCheck:
    truth: dict[str, set[str]] = {}
    with open(DATA_DIR / "GROUND_TRUTH.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            truth.setdefault(row["post_id"], set()).add(row["review_url"])
    right = wrong = false = missed = 0
    for row in report.rows:
        expected = truth.get(row.post_id)
        if row.fact_check is None:
            missed += expected is not None
        elif expected is None:
            false += 1
        elif row.fact_check.url in expected:
            right += 1
        else:
            wrong += 1
    return GroundTruthCheck(right, wrong, false, missed)


def run_demo(out: Path, db: str | None = None) -> tuple[Report, dict[str, Path], list[str]]:
    """Ingest, index, match and report into ``out``; starts from a fresh store each time."""
    out.mkdir(parents=True, exist_ok=True)
    target = db or str(out / "demo.db")
    if "://" in target:  # a server database: start from empty tables
        ws = api.open(target)
        ws.reset()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        ws = api.open(target)
    shutil.rmtree(ws.index_dir, ignore_errors=True)
    log = []
    rep = ws.ingest_posts([DATA_DIR / f for f in POST_FILES], observed_at=CSV_OBSERVED_AT)
    log.append(f"posts: {rep.summary()}")
    rep = ws.ingest_factchecks([DATA_DIR / f for f in FACTCHECK_FILES])
    log.append(f"fact-checks: {rep.summary()}")
    st = ws.build_index()
    log.append(f"index: {st.total} fact-checks encoded with {ws.encoder.name}")
    rep = ws.ingest_notes([DATA_DIR / f for f in NOTES_FILES], snapshot_date=NOTES_SNAPSHOT)
    log.append(f"community notes: {rep.summary()}")
    rep = ws.ingest_labels([DATA_DIR / LABELS_FILE])
    log.append(f"label events: {rep.summary()}")
    log.append(ws.match(topics=DATA_DIR / TOPICS_FILE).summary())
    report = ws.report(Selection())
    log.append(check_ground_truth(report).summary())
    paths = write_all(report, out)
    study = ws.run_study(DATA_DIR / STUDY_FILE)
    log += [f"study: {study.study['title']}", *study.headline()]
    paths.update({f"study-{fmt}": path for fmt, path in write_study(study, out / "study").items()})
    return report, paths, log
