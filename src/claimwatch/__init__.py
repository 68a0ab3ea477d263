"""claimwatch: find posts repeating claims fact-checkers rated false or misleading, with evidence.

The library API lives in :mod:`claimwatch.api`; the CLI (``claimwatch``) is a thin layer on it.
"""

from claimwatch.analysis.report import Report, Selection
from claimwatch.api import DecisionConflict, UnknownMatch, Workspace, open
from claimwatch.records import MatchStatus, PostKind, Verdict
from claimwatch.store.db import StoreError

__all__ = [
    "DecisionConflict",
    "MatchStatus",
    "PostKind",
    "Report",
    "Selection",
    "StoreError",
    "UnknownMatch",
    "Verdict",
    "Workspace",
    "open",
]
__version__ = "0.1.0"
