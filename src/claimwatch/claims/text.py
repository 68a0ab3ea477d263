"""Text preparation for matching: what to strip from a post before it becomes a query."""

from __future__ import annotations

import re

_RT_PREFIX = re.compile(r"^RT @\w{1,50}:\s*")
_URL = re.compile(r"https?://\S+|\bpic\.(?:twitter|x)\.com/\S+|\bwww\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w{1,50}")
# The signature of an embedded tweet: "— Name (@handle) January 28, 2021"
_EMBED_SIGNATURE = re.compile(r"[—–-]{1,2}\s*[^—–\n]{0,80}\(@\w{1,50}\)\s+\w+ \d{1,2}, \d{4}\s*$")
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w{2,}")

#: A query needs at least this many word tokens to be worth matching.
MIN_WORDS = 3


def clean_query(text: str) -> str:
    """Strip repost prefixes, URLs, embedded-tweet signatures and @-handles."""
    t = _RT_PREFIX.sub("", text or "")
    t = _EMBED_SIGNATURE.sub("", t)
    t = _URL.sub(" ", t)
    t = _HANDLE.sub(" ", t)
    t = t.replace("#", " ")
    return _WS.sub(" ", t).strip()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


_HASHTAG = re.compile(r"#\w+")


def skip_reason(raw_text: str, cleaned: str) -> str | None:
    """Why a post cannot be matched by text, or None when it can."""
    if word_count(cleaned) >= MIN_WORDS:
        return None
    if not (raw_text or "").strip():
        return "no text (media-only post)"
    if not clean_query(_HASHTAG.sub(" ", raw_text)):
        return "only links, handles or hashtags"
    return f"fewer than {MIN_WORDS} words"
