"""Text as X delivers it: ``&``, ``<`` and ``>`` come HTML-escaped.

X (API v1.1 and v2, the account archive, and so every tool built on them: twarc, twarc-csv)
escapes exactly these three characters in a post's ``text``, so a post saying "Q&A" arrives
as ``Q&amp;A``. Readers of X sources unescape the *derived* text once; ``raw`` keeps what was
delivered. Only these three entities are undone, in one pass: a user who typed ``&amp;``
arrives as ``&amp;amp;`` and reads ``&amp;`` again, and ``&quot;`` (never produced by X) is
left alone. Generic CSV/JSONL files are not unescaped: whatever tool wrote them may already
have done it, and undoing it twice would change what the user wrote.
"""

from __future__ import annotations

import re

_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARS = {"amp": "&", "lt": "<", "gt": ">"}


def unescape_x(text: str) -> str:
    """``text`` with X's ``&amp;`` / ``&lt;`` / ``&gt;`` turned back into ``&`` / ``<`` / ``>``."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: _CHARS[m.group(1)], text)
