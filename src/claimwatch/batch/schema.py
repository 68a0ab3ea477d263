"""The batch engine's declared Arrow schemas: the posts a run reads and the results it writes.

Column names are the external contract (other tools write the input, read the output): they are
defined here once. One results row per post; its candidates a ``list<struct>``, each naming the
fact-check by store id *and* by review URL + claim key, so an import can check the id still
means the same fact-check in the store it writes to.
"""

from __future__ import annotations

import pyarrow as pa

# --------------------------------------------------------------------------- posts (input)
POST_ID = "post_id"
PLATFORM = "platform"
PLATFORM_ID = "platform_id"
TEXT = "text"
TEXT_LENGTH = "text_length"
TEXT_HASH = "text_hash"
CREATED_AT = "created_at"

#: Timestamps are UTC without a zone, as the store keeps them.
TIMESTAMP = pa.timestamp("us")

POSTS = pa.schema(
    [
        pa.field(POST_ID, pa.int64(), nullable=False),
        pa.field(PLATFORM, pa.string(), nullable=False),
        pa.field(PLATFORM_ID, pa.string(), nullable=False),
        # the first MAX_MATCH_CHARS characters (what matching reads); text_length: the whole post's
        pa.field(TEXT, pa.string()),
        pa.field(TEXT_LENGTH, pa.int64()),
        pa.field(TEXT_HASH, pa.string()),
        pa.field(CREATED_AT, TIMESTAMP),
    ]
)

# --------------------------------------------------------------------------- results (output)
INDEX_VERSION = "index_version"
METHOD = "method"
SKIP_REASON = "skip_reason"
LANG = "lang"
LANG_CONFIDENCE = "lang_confidence"
CHECKWORTHINESS = "checkworthiness"
CLAIM_SENTENCE = "claim_sentence"
CLAIM_START = "claim_start"
CLAIM_END = "claim_end"
CLAIM_QUERY = "claim_query"
SENTENCE_SCORES = "sentence_scores"
TOPICS = "topics"
#: what produced the analysis (JSON text, as the store keeps it); null: the run had no analysis
MODELS = "models"
CANDIDATES = "candidates"

TOPIC = pa.struct(
    [
        pa.field("topic", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("assigned", pa.bool_()),
    ]
)

#: a sentence's span in the post and its check-worthiness (the store keeps [start, end, score])
SENTENCE_SCORE = pa.struct(
    [pa.field("start", pa.int32()), pa.field("end", pa.int32()), pa.field("score", pa.float64())]
)

FACTCHECK_ID = "factcheck_id"
REVIEW_URL = "review_url"
CLAIM_KEY = "claim_key"

CANDIDATE = pa.struct(
    [
        pa.field(FACTCHECK_ID, pa.int64()),
        pa.field(REVIEW_URL, pa.string()),
        pa.field(CLAIM_KEY, pa.string()),
        pa.field("rank", pa.int32()),
        pa.field("score", pa.float64()),
        pa.field("confidence", pa.float64()),
        pa.field("proposed", pa.bool_()),
        pa.field("relation", pa.string()),
        #: JSON text (its keys vary by feature set and stance)
        pa.field("evidence", pa.string()),
    ]
)

RESULTS = pa.schema(
    [
        pa.field(PLATFORM, pa.string()),
        pa.field(PLATFORM_ID, pa.string()),
        pa.field(POST_ID, pa.int64()),
        pa.field(TEXT_HASH, pa.string()),
        pa.field(INDEX_VERSION, pa.string()),
        pa.field(METHOD, pa.string()),
        pa.field(SKIP_REASON, pa.string()),
        pa.field(LANG, pa.string()),
        pa.field(LANG_CONFIDENCE, pa.float64()),
        pa.field(CHECKWORTHINESS, pa.float64()),
        pa.field(CLAIM_SENTENCE, pa.string()),
        pa.field(CLAIM_START, pa.int32()),
        pa.field(CLAIM_END, pa.int32()),
        pa.field(CLAIM_QUERY, pa.string()),
        pa.field(SENTENCE_SCORES, pa.list_(SENTENCE_SCORE)),
        pa.field(TOPICS, pa.list_(TOPIC)),
        pa.field(MODELS, pa.string()),
        pa.field(CANDIDATES, pa.list_(CANDIDATE)),
    ]
)


class BatchInputError(ValueError):
    """A batch input or results file that cannot be used: one line naming it and the reason."""


def check_schema(schema: pa.Schema, expected: pa.Schema, where: str) -> None:
    """Refuse a file whose columns are missing or of another type than ``expected`` declares.

    Extra columns are allowed (an export may carry more); integer and string widths are not
    coerced silently: a post id read as text would not find its post."""
    missing = [f.name for f in expected if f.name not in schema.names]
    if missing:
        raise BatchInputError(f"{where}: missing column(s) {', '.join(missing)}")
    for f in expected:
        got = schema.field(f.name).type
        if not _compatible(got, f.type):
            raise BatchInputError(f"{where}: column {f.name} is {got}, expected {f.type}")


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if got == want:
        return True
    if pa.types.is_string(want):
        return pa.types.is_large_string(got) or pa.types.is_string_view(got)
    if pa.types.is_timestamp(want):
        return pa.types.is_timestamp(got) or pa.types.is_null(got)
    if pa.types.is_integer(want):
        return pa.types.is_integer(got)
    return False
