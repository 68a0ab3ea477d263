"""One JSON object of a known format read into posts: what a live stream hands the watch runner.

An archive is read file by file; a stream delivers one object at a time (a Jetstream event, a
Mastodon streaming event or status, an X stream message or API page). :func:`read_object` reads
such an object with the same reader an archive of that format goes through, so a live post and
an ingested one are the same record. It never raises for a bad object: an object of a shape the
format does not have is a :class:`~claimwatch.records.Rejected` naming ``origin`` and
``location``, like a bad line of a file; an object that is not a post (a like, a deletion) gives
nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claimwatch.records import Parsed, ReadResult, SourceRef
from claimwatch.sources import bluesky, mastodon, x_v2
from claimwatch.sources.base import ReadContext, rejected
from claimwatch.sources.json_docs import ObjectsReader, Skipped, UnknownShape

#: The formats a live event can carry (``LiveEvent.fmt``).
OBJECT_FORMATS = (bluesky.FORMAT, mastodon.FORMAT, x_v2.FORMAT)

#: The readers whose per-object dispatch (``read_object``) reads a live object; X's is a page reader.
_OBJECT_READERS: dict[str, type[ObjectsReader]] = {bluesky.FORMAT: bluesky._Reader, mastodon.FORMAT: mastodon._Reader}


def read_object(fmt: str, obj: dict[str, Any], origin: str, location: str, ctx: ReadContext) -> list[ReadResult]:
    """The posts (and rejections) of one object of format ``fmt``; ``origin`` stands where an
    archive's path would (a replay file, a stream's name), ``location`` names the object in it."""
    if fmt == x_v2.FORMAT:
        return _x_object(obj, origin, location, ctx)
    reader_class = _OBJECT_READERS.get(fmt)
    if reader_class is None:
        raise ValueError(f"no object reader for format {fmt!r}; known: {', '.join(OBJECT_FORMATS)}")
    reader = reader_class(Path(origin), ctx)
    try:
        results = list(reader.read_object(obj, location))
    except UnknownShape as exc:
        return [rejected(origin, location, fmt, str(exc), obj)]
    return [r for r in results if not isinstance(r, Skipped)]


def _x_object(obj: dict[str, Any], origin: str, location: str, ctx: ReadContext) -> list[ReadResult]:
    """An X filtered-stream message ``{data: {post}, includes, matching_rules}`` or an API page
    (``data`` a list), or one post object (``twarc2 flatten``, a back-fill's item)."""
    observed_at, warning = x_v2.envelope_time(obj, ctx.observed_at)
    if "errors" in obj or any(key in obj for key in x_v2.PAGE_KEYS):
        results = list(x_v2.read_page(obj, origin, location, ctx, observed_at))
    elif "id" in obj and "text" in obj:
        results = list(x_v2.read_flat_post(obj, SourceRef(origin, location, x_v2.FORMAT), ctx, observed_at))
    else:
        return [rejected(origin, location, x_v2.FORMAT, "neither an X stream message or page nor a post", obj)]
    if warning is not None:
        for result in results:
            if isinstance(result, Parsed):
                result.warnings.append(warning)
    return results
