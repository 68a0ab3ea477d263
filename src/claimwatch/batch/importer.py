"""``claimwatch batch import``: a batch run's results into the store, as ``claimwatch match`` writes.

Rows go through :func:`claimwatch.claims.match.write_results` (the writer ``match`` uses), so a
run + import leaves the store as ``match`` would. Before that, each row is checked against the
store it goes into:

- the post must be the same post (store id *and* platform + platform id);
- each candidate's fact-check id must mean the same fact-check (review URL + claim key);
- the results must be for the store's current index version (``allow_other_version`` takes
  them anyway: they are recorded with their own version, so ``match`` re-matches those posts);
- a post already matched against that version is left alone: importing twice changes nothing;
- a post whose text changed since the export is counted, not written (matched on the next run).

A refused row is one line naming the part file and row; the other rows are imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from claimwatch import api
from claimwatch.batch.convert import FactCheckKey, PostKey, ResultRow, results_of
from claimwatch.batch.inputs import checked_files, read_batches
from claimwatch.batch.schema import RESULTS
from claimwatch.claims.compute import match_version
from claimwatch.claims.match import Written, write_results
from claimwatch.claims.retrieval import STREAM_BATCH
from claimwatch.store import repo
from claimwatch.store.db import writing

#: At most this many refusals are listed one by one (the rest are counted).
MAX_LISTED = 20


@dataclass
class ImportReport:
    index_version: str
    rows: int = 0
    #: rows for posts already matched against their index version (an earlier import or `match`)
    already: int = 0
    refused: int = 0
    problems: list[str] = field(default_factory=list)
    written: Written = field(default_factory=Written)

    def refuse(self, message: str) -> None:
        self.refused += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(message)

    def summary(self) -> str:
        w = self.written
        skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(w.skipped.items())) or "none"
        return (
            f"imported {self.rows:,} result rows: {w.posts_matched:,} posts matched ({w.proposals:,} proposals), "
            f"{self.already:,} already matched, {self.refused:,} refused; skipped: {skipped}"
        )


def import_results(
    ws: api.Workspace,
    target: Path,
    *,
    allow_other_version: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    files = checked_files(target, RESULTS)
    index = ws.load_index()
    report = ImportReport(match_version(index, ws.multilingual(index)))
    with ws.engine.connect() as conn:
        known = {row.id: FactCheckKey(row.review_url, row.claim_key) for row in repo.factcheck_docs(conn)}
    for path in files:
        first_row = 0
        for _, _, batch in read_batches(path, RESULTS, STREAM_BATCH, report.problems):
            rows = list(enumerate(results_of(batch), start=first_row))
            first_row += batch.num_rows
            report.rows += len(rows)
            _import_rows(ws, path, rows, known, report, allow_other_version)
            if progress:
                progress(report.rows)
    return report


def _import_rows(
    ws: api.Workspace,
    path: Path,
    rows: list[tuple[int, ResultRow]],
    known: dict[int, FactCheckKey],
    report: ImportReport,
    allow_other_version: bool,
) -> None:
    """Check one batch of rows and write those that pass, in one transaction."""
    with writing(ws.engine) as conn:
        ids = [row.result.post_id for _, row in rows]
        platform_ids = repo.platform_ids_of(conn, ids)
        accepted: dict[int, ResultRow] = {}
        for n, row in rows:
            why = _refusal(row, platform_ids, known, report.index_version, allow_other_version)
            if why is None and row.result.post_id in accepted:
                why = f"post {row.result.post_id} appears twice"
            if why is not None:
                report.refuse(f"{path} row {n}: {why}")
            else:
                accepted[row.result.post_id] = row
        by_run: dict[tuple[str, str], list[ResultRow]] = {}
        for row in accepted.values():  # one write per index version and analysis models
            by_run.setdefault((row.index_version, repr(row.models)), []).append(row)
        for (version, _), group in by_run.items():
            todo = {p.id for p in repo.posts_to_match(conn, version, False, 1, [r.result.post_id for r in group])}
            fresh = [r for r in group if r.result.post_id in todo]
            report.already += len(group) - len(fresh)
            if fresh:
                write_results(conn, [r.result for r in fresh], version, fresh[0].models).add_to(report.written)


def _refusal(
    row: ResultRow,
    platform_ids: dict[int, tuple[str, str]],
    known: dict[int, FactCheckKey],
    version: str,
    allow_other_version: bool,
) -> str | None:
    res = row.result
    if row.index_version != version and not allow_other_version:
        return (
            f"made with index {row.index_version}, the store's is {version} (fact-checks or settings changed "
            "since the run): run `claimwatch batch run` again, or import with --allow-other-version"
        )
    if PostKey(*platform_ids.get(res.post_id, ("", ""))) != row.post:
        return f"post {res.post_id} is not {row.post.platform} post {row.post.platform_id} in this store"
    for cand, key in zip(res.candidates, row.keys, strict=True):
        if known.get(cand.factcheck_id) != key:
            return f"fact-check {cand.factcheck_id} is not {key.review_url} (claim key {key.claim_key}) in this store"
    return None
