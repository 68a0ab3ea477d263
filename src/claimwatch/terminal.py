"""Text from the data on a terminal: control characters shown, never obeyed.

Post text, handles, file names and rating texts are hostile input. Printed as they are, an
ANSI escape sequence (``ESC [ …``) recolours, clears or retitles the analyst's terminal, a
carriage return overwrites what was printed before it, and a bidi override (U+202E) makes a
line read differently from what it holds. :func:`safe` writes every such character as a
visible escape (``\\x1b``, ``\\u202e``), keeping line breaks and tabs; every CLI output path
that carries data goes through it, and the Markdown renderer uses it too.
"""

from __future__ import annotations

import re

#: C0 controls except tab and line feed, DEL, C1 controls, and the bidi embeddings, overrides
#: and isolates (marks such as U+200E stay: they do not reorder anything on their own).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """``text`` as a string with control characters written as visible escapes."""
    s = "" if text is None else str(text)
    return _CONTROL.sub(_escape, s) if _CONTROL.search(s) else s
