"""Study files the web app offers, and the studies it has computed (kept in memory, few).

A study file is named by its file name inside the configured folder, never by a path from the
request, so no request reads outside that folder. A computed study (a *run*) keeps its result,
its charts (drawn on first view) and, when its report files were written, their folder: the
dashboard's links to posts and charts point into a run, so the figures a page shows and the
posts behind them are the same computation.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from claimwatch.analysis.study import StudyResult
from claimwatch.reports.charts import Chart
from claimwatch.reports.study_view import Group, groups

STUDY_SUFFIXES = (".yaml", ".yml")
#: runs kept per server process (the oldest is forgotten first)
KEPT_RUNS = 16
#: matplotlib's pyplot state is not thread-safe: requests draw charts one at a time
DRAWING = threading.Lock()


def study_files(folder: Path) -> list[str]:
    """The study file names in ``folder`` (none when it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in STUDY_SUFFIXES and p.is_file())


def study_path(folder: Path, name: str) -> Path | None:
    """The file called ``name`` in ``folder``, if it is one of :func:`study_files`."""
    return folder / name if name in study_files(folder) else None


@dataclass
class Run:
    id: str
    source: str
    result: StudyResult
    #: the report files (format → path) when they were written
    files: dict[str, Path] = field(default_factory=dict)
    _charts: list[Chart] | None = None
    _groups: dict[str, list[Group]] | None = None

    def charts(self) -> list[Chart]:
        if self._charts is None:
            from claimwatch.reports.charts import study_charts  # matplotlib loads when a chart is drawn

            with DRAWING:
                self._charts = study_charts(self.result)
        return self._charts

    def groups(self) -> dict[str, list[Group]]:
        if self._groups is None:
            self._groups = groups(self.result)
        return self._groups

    def group(self, anchor: str) -> Group | None:
        return next((g for rows in self.groups().values() for g in rows if g.anchor == anchor), None)


class Runs:
    """The last :data:`KEPT_RUNS` computed studies, by a random id."""

    def __init__(self) -> None:
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, source: str, result: StudyResult) -> Run:
        run = Run(secrets.token_urlsafe(12), source, result)
        with self._lock:
            self._runs[run.id] = run
            while len(self._runs) > KEPT_RUNS:
                self._runs.popitem(last=False)
        return run

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)
