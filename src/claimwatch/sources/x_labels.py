"""X label stream events (``GET /2/tweets/label/stream``), one JSON object per line.

Two event kinds (schemas ``TweetNotice`` / ``TweetUnviewable`` in the X API v2 spec):
``{"data": {"public_tweet_notice": {tweet{id, author_id}, event_type, event_at,
application, label_title, details, extended_details_url}}}`` and
``{"data": {"public_tweet_unviewable": {tweet, event_at, application}}}``. Every event
is a record of its own: the history of a post's labels is the events, not a state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claimwatch.records import LabelEvent, Parsed, ReadResult, SourceRef
from claimwatch.sources.base import FormatError, ReadContext, iter_json_objects, json_type, parse_time, rejected, str_id

FORMAT = "x-label-stream"
#: Event key in ``data`` -> our label kind.
EVENT_KINDS = {"public_tweet_notice": "notice", "public_tweet_unviewable": "unviewable"}
ACTIONS = ("apply", "remove")
#: Lines looked at to recognise the format (the first may be a broken one).
_SNIFF_LINES = 20


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    for no, obj, rej in iter_json_objects(path, FORMAT):
        if rej is not None:
            yield rej
            continue
        assert obj is not None
        try:
            yield Parsed(_event(obj, SourceRef(str(path), f"line {no}", FORMAT)))
        except ValueError as exc:
            yield rejected(path, f"line {no}", FORMAT, str(exc), obj)


def _event(obj: dict[str, Any], source: SourceRef) -> LabelEvent:
    data = obj.get("data")
    if not isinstance(data, dict):
        if "errors" in obj:
            raise ValueError(f"an error message from the stream, not an event: {str(obj['errors'])[:300]}")
        raise ValueError("no 'data' object")
    kinds = [k for k in EVENT_KINDS if k in data]
    if len(kinds) != 1:
        raise ValueError(f"expected one of {', '.join(EVENT_KINDS)} in 'data', found keys {sorted(data)[:10]}")
    ev = data[kinds[0]]
    if not isinstance(ev, dict):
        raise ValueError(f"{kinds[0]} is a JSON {json_type(ev)}, not an object")
    tweet = ev.get("tweet")
    post_id = str_id(tweet.get("id") if isinstance(tweet, dict) else None, "tweet.id")
    action = ev.get("application")
    if action not in ACTIONS:
        raise ValueError(f"application {action!r} is neither 'apply' nor 'remove'")
    event_at = parse_time(ev.get("event_at"))
    if event_at is None:
        raise ValueError("event_at is missing")
    label = EVENT_KINDS[kinds[0]]
    event_type = ev.get("event_type") or ""
    if not isinstance(event_type, str):
        raise ValueError(f"event_type is a JSON {json_type(event_type)}, not a string")
    if label == "notice" and not event_type:
        raise ValueError("a public_tweet_notice without an event_type cannot be matched to its apply/remove")
    return LabelEvent(platform="x", platform_id=post_id, label=label, event_type=event_type, action=action,
                      event_at=event_at, label_title=_text(ev.get("label_title")), details=_text(ev.get("details")),
                      details_url=_text(ev.get("extended_details_url")), raw=obj, source=source)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def detect_label_format(path: Path) -> str:
    """``x-label-stream`` when one of the first lines is a label event; FormatError otherwise."""
    for i, (_, obj, _) in enumerate(iter_json_objects(path, FORMAT)):
        if obj is not None and isinstance(obj.get("data"), dict) and any(k in obj["data"] for k in EVENT_KINDS):
            return FORMAT
        if i >= _SNIFF_LINES:
            break
    raise FormatError("no X label stream event (a JSON line with data.public_tweet_notice or "
                      "data.public_tweet_unviewable) in its first lines")


LABEL_FORMATS = {FORMAT: read}
