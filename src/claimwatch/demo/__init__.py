"""``claimwatch demo``: the whole pipeline on bundled, synthetic data (see demo/data/README.md).

The demo writes only its own folder (``--out``): its store (``demo.db``), index and reports. It
runs with the default settings whatever ``claimwatch.toml`` or ``CLAIMWATCH_*`` say — so it prints
the same figures everywhere and never opens the store or index they configure — and it refuses to
touch what it did not make: a folder it did not mark as its own (:data:`MARK`), or a store (an
explicit ``db``, e.g. a PostgreSQL database) holding anything but the demo's data.
"""

from __future__ import annotations

import csv
import shlex
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath

from claimwatch import api
from claimwatch.analysis.report import Report, Selection
from claimwatch.claims.relation import NARRATIVE
from claimwatch.config import Settings
from claimwatch.demo import media
from claimwatch.reports import write_all
from claimwatch.reports.study import write_study
from claimwatch.store import lookups
from claimwatch.store.db import display_name

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
#: The demo's synthetic pictures (the banked "doctored photo" and its re-share; see demo/media.py).
MEDIA_DIR = "media"
#: The demo's folder of study files for ``claimwatch serve --studies``.
STUDIES_DIR = "studies"
#: The file that marks a folder as the demo's own: only such a folder (or a new or empty one) is written.
MARK = ".claimwatch-demo"
_MARK_TEXT = (
    "Written by `claimwatch demo`, which may replace demo.db, demo.index/, demo.media/, media/, report.* and "
    "study/ here "
    "when it runs again.\n"
)


class DemoRefused(ValueError):
    """The demo was pointed at a folder or store it did not make; the message says which and why."""


@dataclass(frozen=True)
class GroundTruthCheck:
    """How the shown match of each listed post compares with what the demo data's author intended."""

    right: int
    wrong_factcheck: int
    false_proposals: int
    missed: int
    #: the right fact-check, labelled as sharing its narrative only (so out of the headline)
    narrative_only: int = 0

    def summary(self) -> str:
        narrative = (
            f" ({self.narrative_only} more with the right fact-check labelled as sharing its narrative only)"
            if self.narrative_only
            else ""
        )
        return (
            f"against the demo's ground truth: {self.right} right, {self.wrong_factcheck} with the wrong "
            f"fact-check, {self.false_proposals} false proposals, {self.missed} missed{narrative}"
        )


def check_ground_truth(report: Report) -> GroundTruthCheck:
    truth: dict[str, set[str]] = {}
    with open(DATA_DIR / "GROUND_TRUTH.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            truth.setdefault(row["post_id"], set()).add(row["review_url"])
    right = wrong = false = missed = narrative = 0
    for row in report.rows:
        expected = truth.get(row.post_id)
        fc = row.fact_check
        if fc is not None and fc.relation == NARRATIVE:  # every listed post repeats its claim: a miss
            narrative += expected is not None and fc.url in expected
            missed += expected is not None
        elif fc is None:
            missed += expected is not None
        elif expected is None:
            false += 1
        elif fc.url in expected:
            right += 1
        else:
            wrong += 1
    return GroundTruthCheck(right, wrong, false, missed, narrative)


def run_demo(out: Path, db: str | None = None) -> tuple[Report, dict[str, Path], list[str]]:
    """Ingest, index, match and report into ``out``, from an empty store each time. ``db``: another
    store for it (e.g. a PostgreSQL database made with ``claimwatch init``): a new file, or a
    store holding nothing but the demo's data.

    Raises :class:`DemoRefused` (or a :class:`~claimwatch.store.db.StoreError`) before it writes
    anything when ``out`` or ``db`` is someone else's."""
    _check_folder(out)
    if db is not None and ("://" in db or Path(db).exists()):
        probe = api.Workspace(Settings(db=db), read_only=True)  # nothing is written (or migrated) before the check
        try:
            _refuse_foreign_data(probe)
        finally:
            probe.engine.dispose()
    ws = api.Workspace(
        Settings(db=db or str(out / "demo.db"), index_dir=str(out / "demo.index"), media_dir=str(out / "demo.media"))
    )
    try:
        _refuse_foreign_data(ws)
        out.mkdir(parents=True, exist_ok=True)
        (out / MARK).write_text(_MARK_TEXT, encoding="utf-8")
        ws.reset()
        shutil.rmtree(ws.index_dir, ignore_errors=True)
        return _run(ws, out)
    finally:
        ws.engine.dispose()


def _check_folder(out: Path) -> None:
    """``out`` must be new, empty or marked by an earlier demo; anything else is the user's."""
    if out.exists() and not out.is_dir():
        raise DemoRefused(f"--out {out} is a file; give the demo a folder of its own (default claimwatch-demo)")
    if out.is_dir() and any(out.iterdir()) and not (out / MARK).is_file():
        raise DemoRefused(
            f"--out {out} holds files the demo did not write (it has no {MARK} mark); the demo writes "
            "only a new or empty folder or one of its own — give another --out"
        )


def _is_demo_file(path: str) -> bool:
    p = PurePath(path)
    return p.name in (*POST_FILES, *FACTCHECK_FILES, *NOTES_FILES, LABELS_FILE) and p.parent.match("demo/data")


def _refuse_foreign_data(ws: api.Workspace) -> None:
    """The demo empties its store first: only one that holds nothing but the demo's own data."""
    with ws.engine.connect() as conn:
        foreign = sorted(f for f in lookups.ingested_files(conn) if not _is_demo_file(f))
    if foreign:
        more = f" and {len(foreign) - 1} more files" if len(foreign) > 1 else ""
        raise DemoRefused(
            f"store {display_name(ws.settings.db)} holds data the demo did not "
            f"ingest (from {foreign[0]}{more}); the demo empties only a store of its own — give it "
            "another --out (or --db)"
        )


def _run(ws: api.Workspace, out: Path) -> tuple[Report, dict[str, Path], list[str]]:
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
    log += media.run(ws, out / MEDIA_DIR)
    report = ws.report(Selection())
    log.append(check_ground_truth(report).summary())
    paths = write_all(report, out)
    study = ws.run_study(DATA_DIR / STUDY_FILE)
    log += [f"study: {study.study.title}", *study.headline()]
    paths.update({f"study-{fmt}": path for fmt, path in write_study(study, out / "study").items()})
    studies = out / STUDIES_DIR  # what `claimwatch serve --studies` offers: the example study only
    studies.mkdir(exist_ok=True)
    paths["studies"] = Path(shutil.copyfile(DATA_DIR / STUDY_FILE, studies / STUDY_FILE))
    return report, paths, log


def open_commands(out: Path, db: str | None = None) -> list[str]:
    """The commands that open the demo in the web workspace (``claimwatch demo`` prints them at
    its end): an admin user for its store, then ``serve`` with the demo's study folder. A database
    URL is shown without its password (type yours in)."""
    store = shlex.quote(display_name(db) if db else str(out / "demo.db"))
    return [
        f"claimwatch users add NAME --role admin --db {store}",
        f"claimwatch serve --db {store} --studies {shlex.quote(str(out / STUDIES_DIR))}",
    ]
