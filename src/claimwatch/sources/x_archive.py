"""The Twitter/X account archive ("Download an archive of your data"): ``data/tweets.js``.

Each data file is JavaScript: ``window.YTD.tweets.part0 = [ {"tweet": {…}}, … ]`` (older
archives: ``tweet.js`` / ``window.YTD.tweet.part0`` and, earliest, the post objects without
the ``{"tweet": …}`` wrapper; large archives split into ``part1``, ``part2`` …;
``deleted-tweets.js`` holds deleted posts the same way). The posts are API v1.1 objects
without ``user``: ``id_str``, ``full_text``, ``created_at`` ("Wed Oct 10 20:19:24 +0000
2018"), counts as strings, HTML-escaped text. A retweet has no ``retweeted_status``; it is
known by its "RT @handle:" text, so it is a repost with no snapshot (its counts are the
original's) and an unknown referenced id.

An archive belongs to one account whose handle the posts do not carry: ``--account`` names
it; else ``manifest.js`` beside the file (``window.__THAR_CONFIG`` with ``userInfo.userName``
/ ``accountId``) does; else the posts are stored without an author and the ingest summary
says so. The manifest's ``archiveInfo.generationDate`` is when the counts were true, so it
dates the snapshots. The archive's other files (likes, followers, DMs …) are refused by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, PostKind, ReadResult, SourceRef
from claimwatch.sources import x_v1
from claimwatch.sources.base import FormatError, ReadContext, json_type, load_json, parse_time, read_text, rejected
from claimwatch.sources.generic import build_post, context_account, note

FORMAT = "x-archive"
#: ``window.YTD.<name>.part<N> = `` before the JSON array.
PREFIX = re.compile(r"\s*window\.YTD\.(\w+)\.part\d+\s*=\s*")
#: Data files that hold the account's posts.
POST_FILES = ("tweets", "tweet", "deleted_tweets")
WRAPPER = "tweet"
MANIFEST = "manifest.js"
_MANIFEST_PREFIX = re.compile(r"\s*window\.__THAR_CONFIG\s*=\s*")


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """The posts of one archive data file (see the module docstring)."""
    items = _items(path)
    handle, account_id, generated = _manifest(path.parent / MANIFEST)
    if context_account(ctx):
        handle, account_id = context_account(ctx), None
    if handle is None:
        note(
            ctx,
            "no author: a Twitter archive's posts do not name their account (and no manifest.js lies beside "
            "the file); pass --account HANDLE",
        )
    for n, item in enumerate(items, start=1):
        tweet = item.get(WRAPPER) if isinstance(item, dict) and isinstance(item.get(WRAPPER), dict) else item
        source = SourceRef(str(path), f"item {n}", FORMAT)
        if not isinstance(tweet, dict):
            yield rejected(path, source.location, FORMAT, f"JSON {json_type(tweet)} where a post was expected", item)
            continue
        warnings: list[FieldWarning] = []
        fields = x_v1.fields(tweet)
        if not fields["repost_of"] and x_v1.is_retweet_text(fields["text"]):
            fields["kind"] = PostKind.REPOST
        fields["author_handle"], fields["author_id"] = handle, account_id
        yield build_post(
            fields, tweet, source, ctx, observed_at=generated, media=x_v1.media(tweet, warnings), warnings=warnings
        )


def _items(path: Path) -> list[Any]:
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})") from None
    match = PREFIX.match(text)
    if match is None:
        raise FormatError("not a Twitter archive data file: it does not start with 'window.YTD.<name>.partN ='")
    if match.group(1) not in POST_FILES:
        raise FormatError(
            f"a Twitter archive '{match.group(1)}' file, not the account's posts; "
            "claimwatch reads data/tweets.js (tweet.js in older archives)"
        )
    try:
        items = load_json(text[match.end() :])
    except ValueError as exc:
        raise FormatError(f"the archive's JSON is broken: {exc}") from None
    if not isinstance(items, list):
        raise FormatError(f"expected a JSON array after '{match.group(0).strip()}', found a JSON {json_type(items)}")
    return items


def _manifest(path: Path) -> tuple[str | None, str | None, datetime | None]:
    """Handle, account id and generation time from the archive's manifest, where there is one
    that can be read (anything else about it is ignored: the manifest is only a help)."""
    try:
        text = read_text(path)
        match = _MANIFEST_PREFIX.match(text)
        config = load_json(text[match.end() :].rstrip().rstrip(";")) if match else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None, None, None
    user = config.get("userInfo") if isinstance(config, dict) else None
    info = config.get("archiveInfo") if isinstance(config, dict) else None
    user = user if isinstance(user, dict) else {}
    try:
        generated = parse_time(info.get("generationDate")) if isinstance(info, dict) else None
    except (ValueError, OverflowError, OSError):
        generated = None
    handle, account_id = user.get("userName"), user.get("accountId")
    return (
        handle if isinstance(handle, str) and handle else None,
        account_id if isinstance(account_id, str) and account_id else None,
        generated,
    )
