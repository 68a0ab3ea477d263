"""X label stream events (``GET /2/tweets/label/stream``), one JSON object per line.

Two event kinds (schemas ``TweetNotice`` / ``TweetUnviewable`` in the X API v2 spec):
``{"data": {"public_tweet_notice": {tweet{id, author_id}, event_type, event_at,
application, label_title, details, extended_details_url}}}`` and
``{"data": {"public_tweet_unviewable": {tweet, event_at, application}}}``. Every event
is a record of its own: the history of a post's labels is the events, not a state.

Every per-line problem rejects that line only. Before anything walks an event, an iterative
check refuses what no store can keep or no message can show (nesting deeper than
:data:`MAX_DEPTH`, NUL characters; NaN/Infinity arrive as text, see ``json_limits``); times that overflow and ids that are not
X ids (floats, objects, arrays) are rejections, never exceptions, and so are times before
X existed or in the future.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import LabelEvent, Parsed, ReadResult, SourceRef
from claimwatch.sources.base import FormatError, ReadContext, iter_json_objects, json_type, parse_time, rejected

# X ids and times follow the same rules as in the Community Notes downloads
from claimwatch.sources.cn_tsv import numeric_id, plausible_time, shown

FORMAT = "x-label-stream"
#: Event key in ``data`` -> our label kind.
EVENT_KINDS = {"public_tweet_notice": "notice", "public_tweet_unviewable": "unviewable"}
ACTIONS = ("apply", "remove")
#: Lines looked at to recognise the format (the first may be a broken one).
_SNIFF_LINES = 20
#: Real events nest four levels deep.
MAX_DEPTH = 32
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
#: Notice types are short words; the store keeps 64 characters.
_MAX_EVENT_TYPE = 64


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    for no, obj, rej in iter_json_objects(path, FORMAT):
        if rej is not None:
            yield rej
            continue
        assert obj is not None
        problem = _unstorable(obj)
        if problem:
            yield rejected(
                path,
                f"line {no}",
                FORMAT,
                problem,
                f"[a JSON object {problem}; not kept]" if problem == _TOO_DEEP else obj,
            )
            continue
        try:
            yield Parsed(_event(obj, SourceRef(str(path), f"line {no}", FORMAT)))
        except (ValueError, ArithmeticError) as exc:
            yield rejected(path, f"line {no}", FORMAT, str(exc), obj)


def _unstorable(obj: dict[str, Any]) -> str | None:
    """Why an event cannot be kept as it is, or None. Iterative, so no depth makes it recurse."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _TOO_DEEP
        if isinstance(value, dict):
            if any("\x00" in k for k in value):
                return "contains a NUL character"
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and "\x00" in value:
            return "contains a NUL character"
    return None


def _event(obj: dict[str, Any], source: SourceRef) -> LabelEvent:
    data = obj.get("data")
    if not isinstance(data, dict):
        if "errors" in obj:
            raise ValueError(f"an error message from the stream, not an event: {shown(str(obj['errors']))}")
        raise ValueError("no 'data' object")
    kinds = [k for k in EVENT_KINDS if k in data]
    if len(kinds) != 1:
        raise ValueError(
            f"expected one of {', '.join(EVENT_KINDS)} in 'data', found keys {[shown(k) for k in sorted(data)[:10]]}"
        )
    ev = data[kinds[0]]
    if not isinstance(ev, dict):
        raise ValueError(f"{kinds[0]} is a JSON {json_type(ev)}, not an object")
    tweet = ev.get("tweet")
    post_id = numeric_id(tweet.get("id") if isinstance(tweet, dict) else None, "tweet.id")
    action = ev.get("application")
    if action not in ACTIONS:
        raise ValueError(f"application {shown(str(action))!r} is neither 'apply' nor 'remove'")
    event_at = _event_at(ev.get("event_at"))
    label = EVENT_KINDS[kinds[0]]
    event_type = ev.get("event_type") or ""
    if not isinstance(event_type, str):
        raise ValueError(f"event_type is a JSON {json_type(event_type)}, not a string")
    if len(event_type) > _MAX_EVENT_TYPE or not event_type.isprintable():
        raise ValueError(
            f"event_type {shown(event_type)!r} is longer than {_MAX_EVENT_TYPE} characters or has control characters"
        )
    if label == "notice" and not event_type:
        raise ValueError("a public_tweet_notice without an event_type cannot be matched to its apply/remove")
    return LabelEvent(
        platform="x",
        platform_id=post_id,
        label=label,
        event_type=event_type,
        action=action,
        event_at=event_at,
        label_title=_text(ev.get("label_title")),
        details=_text(ev.get("details")),
        details_url=_text(ev.get("extended_details_url")),
        raw=obj,
        source=source,
    )


def _event_at(value: Any) -> datetime:
    if isinstance(value, (dict, list)):
        raise ValueError(f"event_at is a JSON {json_type(value)}, not a time")
    try:
        event_at = parse_time(value)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"event_at {shown(str(value))!r} is not a readable time") from None
    if event_at is None:
        raise ValueError("event_at is missing")
    try:
        return plausible_time(event_at)
    except ValueError as exc:
        raise ValueError(f"event_at {shown(str(value))!r}: {exc}") from None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def detect_label_format(path: Path) -> str:
    """``x-label-stream`` when one of the first lines is a label event; FormatError otherwise."""
    for i, (_, obj, _) in enumerate(iter_json_objects(path, FORMAT)):
        if obj is not None and isinstance(obj.get("data"), dict) and any(k in obj["data"] for k in EVENT_KINDS):
            return FORMAT
        if i >= _SNIFF_LINES:
            break
    raise FormatError(
        "no X label stream event (a JSON line with data.public_tweet_notice or "
        "data.public_tweet_unviewable) in its first lines"
    )


LABEL_FORMATS = {FORMAT: read}
