"""Benchmark: ingest a synthetic Community Notes download (notes + noteStatusHistory) into a fresh SQLite store.

    python benchmarks/notes_ingest.py [--rows 2000000] [--out DIR]

Writes ``notes-00000.tsv`` (the 24 columns of the public notes file, a ~200-character
summary per note, 3 notes per post on average) and a matching ``noteStatusHistory-00000.tsv``
(the 23-column layout) to a temporary directory, then times ``Workspace.ingest_notes`` on
each with ``--snapshot-date`` (one streaming pass per file). Prints one JSON object with
rows/s per file and the peak resident memory of this process (ru_maxrss; writing the files
streams and takes little), to copy into RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import claimwatch
from claimwatch.sources import cn_columns as c

NOTE_COLUMNS = [
    c.NOTE_ID,
    c.NOTE_AUTHOR,
    c.CREATED_AT_MILLIS,
    c.TWEET_ID,
    c.CLASSIFICATION,
    "believable",
    "harmful",
    "validationDifficulty",
    "misleadingOther",
    "misleadingFactualError",
    "misleadingManipulatedMedia",
    "misleadingOutdatedInformation",
    "misleadingMissingImportantContext",
    "misleadingUnverifiedClaimAsFact",
    "misleadingSatire",
    "notMisleadingOther",
    "notMisleadingFactuallyCorrect",
    "notMisleadingOutdatedButNotWhenWritten",
    "notMisleadingClearlySatire",
    "notMisleadingPersonalOpinion",
    "trustworthySources",
    c.SUMMARY,
    "isMediaNote",
    "isCollaborativeNote",
]
STATUS_COLUMNS = [
    c.NOTE_ID,
    c.NOTE_AUTHOR,
    c.CREATED_AT_MILLIS,
    c.FIRST_NON_NMR_AT,
    c.FIRST_NON_NMR_STATUS,
    c.CURRENT_STATUS_AT,
    c.CURRENT_STATUS,
    c.LATEST_NON_NMR_AT,
    c.LATEST_NON_NMR_STATUS,
    c.LOCKED_AT,
    c.LOCKED_STATUS,
    "timestampMillisOfRetroLock",
    "currentCoreStatus",
    "currentExpansionStatus",
    "currentGroupStatus",
    c.DECIDED_BY,
    "currentModelingGroup",
    "timestampMillisOfMostRecentStatusChange",
    "timestampMillisOfNmrDueToMinStableCrhTime",
    "currentMultiGroupStatus",
    "currentModelingMultiGroup",
    "timestampMinuteOfFinalScoringOutput",
    "timestampMillisOfFirstNmrDueToMinStableCrhTime",
]
WORDS = (
    "this video was edited the original shows claim is false according to official results election "
    "officials confirmed ballots counted voters machines source context missing photo taken years ago"
).split()
START_MS = 1_640_995_200_000  # 2022-01-01
SNAPSHOT = datetime(2024, 8, 10, tzinfo=UTC)


def write_download(folder: Path, rows: int, seed: int = 5) -> tuple[Path, Path]:
    """The notes file and its status history, written row by row."""
    rng = random.Random(seed)
    notes, status = folder / "notes-00000.tsv", folder / "noteStatusHistory-00000.tsv"
    statuses = (c.NEEDS_MORE_RATINGS,) * 8 + (c.CURRENTLY_RATED_HELPFUL, c.CURRENTLY_RATED_NOT_HELPFUL)
    with open(notes, "w", encoding="utf-8") as nf, open(status, "w", encoding="utf-8") as sf:
        nf.write("\t".join(NOTE_COLUMNS) + "\n")
        sf.write("\t".join(STATUS_COLUMNS) + "\n")
        for i in range(rows):
            note_id, tweet_id = str(1_700_000_000_000_000_000 + i), str(1_600_000_000_000_000_000 + i // 3)
            author = f"{rng.getrandbits(256):064X}"
            created = START_MS + i * 40_000
            misleading = rng.random() < 0.85
            summary = " ".join(rng.choice(WORDS) for _ in range(30)) + f" https://example.org/source/{i}"
            flags = [str(int(rng.random() < 0.3)) for _ in range(len(NOTE_COLUMNS) - 12)]
            nf.write(
                "\t".join(
                    [
                        note_id,
                        author,
                        str(created),
                        tweet_id,
                        c.MISLEADING if misleading else c.NOT_MISLEADING,
                        "",
                        "",
                        "",
                        *flags,
                        "1",
                        summary,
                        "0",
                        "0",
                    ]
                )
                + "\n"
            )
            current = rng.choice(statuses)
            decided = current != c.NEEDS_MORE_RATINGS
            t = str(created + 3_600_000)
            sf.write(
                "\t".join(
                    [
                        note_id,
                        author,
                        str(created),
                        t if decided else "",
                        current if decided else "",
                        t,
                        current,
                        t if decided else "",
                        current if decided else "",
                        "",
                        "",
                        "",
                        current,
                        current,
                        "",
                        "CoreModel (v1.1)",
                        "0",
                        t if decided else "-1",
                        "",
                        "",
                        "0",
                        "",
                        "",
                    ]
                )
                + "\n"
            )
    return notes, status


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--out", type=Path, default=None, help="Folder for the files and store (default: a temp dir).")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        notes, status = write_download(folder, args.rows)
        t1 = time.perf_counter()
        ws = claimwatch.open(folder / "bench.db")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        runs = {}
        for name, path in (("notes", notes), ("status_history", status)):
            start = time.perf_counter()
            rep = ws.ingest_notes([path], SNAPSHOT)
            secs = time.perf_counter() - start
            runs[name] = {
                "rows": rep.read,
                "seconds": round(secs, 1),
                "rows_per_s": round(rep.read / secs),
                "file_mb": round(path.stat().st_size / 2**20),
                "summary": rep.summary(),
            }
        db_mb = sum(p.stat().st_size for p in folder.glob("bench.db*")) / 2**20
        print(
            json.dumps(
                {
                    "rows": args.rows,
                    "write_files_s": round(t1 - t0, 1),
                    **runs,
                    "store_mb": round(db_mb),
                    "peak_rss_mb_before_ingest": round(rss_before / 1024),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
