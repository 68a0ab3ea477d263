"""Write a :class:`~claimwatch.analysis.study.StudyResult` to files."""

from __future__ import annotations

import json
from pathlib import Path

from claimwatch.analysis.study import StudyResult


def write_study(result: StudyResult, out_dir: Path, stem: str = "study") -> dict[str, Path]:
    """Write every format into ``out_dir``; returns format → path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json"}
    paths["json"].write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return paths
