"""Readers, one module per input format, and format detection.

Post formats are registered in :mod:`claimwatch.sources.posts`, fact-check formats in
:mod:`claimwatch.sources.factchecks`; both map a format name to a reader function.
"""

from claimwatch.sources.base import FormatError, ReadContext
from claimwatch.sources.factchecks import FACTCHECK_FORMATS, detect_factcheck_format
from claimwatch.sources.posts import POST_FORMATS, detect_post_format

__all__ = [
    "FACTCHECK_FORMATS",
    "POST_FORMATS",
    "FormatError",
    "ReadContext",
    "detect_factcheck_format",
    "detect_post_format",
]
