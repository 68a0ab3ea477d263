"""Mastodon (and other fediverse servers' Mastodon API) posts: REST ``Status`` entities and the
account export's ActivityPub outbox.

Shapes read, each as one JSON document, an array, or one per line (see :mod:`json_docs`):

- ``Status`` entities: an array (``/api/v1/accounts/:id/statuses``, timelines, bookmarks), one
  per line, or alone; ``/api/v2/search`` results ``{statuses: [...]}``; a thread's
  ``/api/v1/statuses/:id/context`` ``{ancestors, descendants}``;
- streaming API events ``{event: "update" | "status.update", payload: "<Status JSON>"}`` as a
  WebSocket recorder saves them; other events (delete, notification, …) are skipped;
- the account export's ``outbox.json`` (an ActivityPub ``OrderedCollection`` — or a fetched
  ``OrderedCollectionPage`` — of ``Create`` activities with ``Note`` objects and ``Announce``
  activities).

Decisions (README "Mastodon"):

- **Ids.** A status's numeric ``id`` only means something on the server that returned it (a
  remote status has another id on every server), so the id is taken from the global ``uri``:
  Mastodon's ``https://HOST/users/NAME/statuses/ID`` (``…/ID/activity`` for a boost) becomes
  ``ID@HOST``, the status's id on its own server, the same whichever server it was fetched from;
  other servers' URIs (``/objects/UUID``, ``/notes/ID``) are kept whole without the scheme.
- **Handles** are always ``user@instance``: ``acct`` is ``user`` for the serving server's own
  accounts, so the instance is then taken from the account's ``url`` (else the status URI).
  The qualified handle is also the author's id (the numeric account id is per server too).
- **Text** is the HTML ``content`` as plain text (:mod:`html_text`); a content warning
  (``spoiler_text`` / ``summary``) comes first, as its own paragraph: readers see it first and it
  often names the claim's topic. Both stay in ``raw``.
- **Kinds.** ``reblog`` → a repost of the reblogged status (stored as context with its own
  counts; the repost row has none); ``quote`` (4.4+: ``quote.quoted_status``; also the older
  ``quote`` status of forks) → quote; ``in_reply_to_id`` → reply. The parent's id is known only
  when its account is local to the serving server (``in_reply_to_id`` is that server's id); for a
  remote parent it stays in ``raw`` only. The outbox gives ``inReplyTo`` as a URI: always known.
- **Counts.** favourites → likes, reblogs → reposts, replies → replies, quotes (4.5+) → quotes;
  for a remote status they are what the serving server has seen. No views, ever.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claimwatch.records import FieldWarning, MediaRef, PostKind, ReadResult
from claimwatch.sources.base import ReadContext, load_json
from claimwatch.sources.generic import build_post
from claimwatch.sources.html_text import html_to_text
from claimwatch.sources.json_docs import ObjectsReader, Results, Skipped, UnknownShape, as_dict, as_list, as_text

FORMAT = "mastodon"
PLATFORM = "mastodon"

#: Status counter -> our metric field (there is no view count).
STATUS_COUNTS = {
    "favourites_count": "likes",
    "reblogs_count": "reposts",
    "replies_count": "replies",
    "quotes_count": "quotes",
}
#: ActivityPub collection on a Note -> our metric field (``totalItems``, when the server sends it).
NOTE_COUNTS = {"likes": "likes", "shares": "reposts", "replies": "replies"}
STREAM_STATUS_EVENTS = frozenset({"update", "status.update"})
#: ActivityPub object types that are posts (Question: a poll; Article/Page: long-form servers).
NOTE_TYPES = frozenset({"Note", "Question", "Article", "Page"})
#: Keys fediverse servers use for the quoted post's URI on a Note (FEP-044f, Misskey, Fedibird).
NOTE_QUOTE_KEYS = ("quote", "quoteUri", "quoteUrl", "_misskey_quote")

_MASTODON_STATUS_PATH = re.compile(r"/users/[^/]+/statuses/([^/]+)(?:/activity)?/?")
_MASTODON_ACTOR_PATH = re.compile(r"/users/([^/]+)/?")
#: A status id as servers write it (Mastodon: digits; others: letters and digits).
_LOCAL_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Statuses (and boosts) of a Mastodon file in any of the shapes above."""
    return _Reader(path, ctx).read()


def status_id(uri: Any) -> str:
    """The store id of a status's ActivityPub URI (see the module docstring); ValueError if none."""
    host, path = _split(uri)
    if host is None:
        raise ValueError(f"{uri!r} is not an http(s) URI")
    m = _MASTODON_STATUS_PATH.fullmatch(path)
    return f"{m.group(1)}@{host}" if m else f"{host}{path.rstrip('/')}"


class _Reader(ObjectsReader):
    fmt = FORMAT

    def read_object(self, obj: dict[str, Any], location: str) -> Results:
        """Dispatch on the object's shape (before anything is yielded, so UnknownShape is eager)."""
        if isinstance(obj.get("orderedItems"), list):
            return self.items(obj["orderedItems"], f"{location} orderedItems", self._activity)
        if isinstance(obj.get("statuses"), list):
            return self.items(obj["statuses"], f"{location} statuses", self._status)
        if isinstance(obj.get("ancestors"), list) or isinstance(obj.get("descendants"), list):
            return self._context(obj, location)
        if "event" in obj and "payload" in obj:
            return self._event(obj, location)
        if "content" in obj and "account" in obj:
            return self._status(obj, location)
        if obj.get("type") in ("Create", "Announce"):
            return self._activity(obj, location)
        raise UnknownShape(f"not a Mastodon status, streaming event or ActivityPub outbox (keys {sorted(obj)[:12]})")

    def _context(self, obj: dict[str, Any], location: str) -> Results:
        """A thread's context: ancestors are context, descendants (the replies) are collected."""
        for key, collected in (("ancestors", False), ("descendants", True)):
            for n, item in enumerate(obj.get(key) or (), start=1):
                if isinstance(item, dict):
                    yield from self._status(item, f"{location} {key} item {n}", collected)

    def _event(self, event: dict[str, Any], location: str) -> Results:
        """A streaming event; ``payload`` is the Status as a JSON string (or already decoded)."""
        name = event.get("event")
        if name not in STREAM_STATUS_EVENTS:
            yield Skipped(f"streaming {name!r} events")
            return
        payload = event.get("payload")
        if isinstance(payload, str):
            try:
                payload = load_json(payload)
            except ValueError as exc:
                yield self.reject(location, f"event payload is not valid JSON ({exc})", event)
                return
        if not isinstance(payload, dict):
            yield self.reject(location, "event payload is not a status object", event)
            return
        yield from self._status(payload, location)

    # ------------------------------------------------------------------ REST statuses

    def _status(self, status: dict[str, Any], location: str, collected: bool = True) -> Results:
        """A Status; a boost yields the repost row and the boosted status as context, a quote
        yields the quoted status as context (one level: context is not followed further)."""
        reblog = status.get("reblog")
        if isinstance(reblog, dict):
            yield self._status_row(
                status, location, collected, (PostKind.REPOST, _uri_id(reblog.get("uri"))), text_from=reblog
            )
            if collected:
                yield from self._status(reblog, f"{location} reblog", collected=False)
            return
        quoted = _quoted_status(status.get("quote"))
        yield self._status_row(status, location, collected, _status_kind(status, quoted))
        if collected and quoted is not None:
            yield from self._status(quoted, f"{location} quote", collected=False)

    def _status_row(
        self,
        status: dict[str, Any],
        location: str,
        collected: bool,
        kind: tuple[PostKind, str | None],
        text_from: dict[str, Any] | None = None,
    ) -> ReadResult:
        try:
            key = status_id(status.get("uri") or status.get("url"))
        except ValueError as exc:
            return self.reject(location, f"status has no usable uri: {exc}", status)
        warnings: list[FieldWarning] = []
        account = as_dict(status.get("account"))
        handle = _handle(account, status.get("uri"), warnings)
        source = text_from or status
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            "id": key,
            "author_id": handle,
            "author_handle": handle,
            "author_name": account.get("display_name"),
            "author_followers": account.get("followers_count"),
            "created_at": status.get("created_at"),
            "lang": source.get("language"),
            "text": _post_text(source.get("spoiler_text"), source.get("content"), spoiler_is_html=False),
            "kind": kind[0],
            "referenced_id": kind[1],
            # a boost has no page of its own; its uri (…/activity) is no address for a reader
            "url": as_text(status.get("url")) or (None if text_from else as_text(status.get("uri"))),
        }
        fields.update({ours: status.get(theirs) for theirs, ours in STATUS_COUNTS.items()})
        media = [] if text_from else _status_media(status.get("media_attachments"))
        return build_post(
            fields,
            status,
            self.source(location),
            self.ctx,
            media=media,
            author_raw=account or None,
            collected=collected,
            warnings=warnings,
        )

    # ------------------------------------------------------------------ ActivityPub outbox

    def _activity(self, activity: dict[str, Any], location: str) -> Results:
        kind = activity.get("type")
        if kind == "Announce":
            yield self._announce(activity, location)
        elif (
            kind == "Create"
            and isinstance(activity.get("object"), dict)
            and activity["object"].get("type") in NOTE_TYPES
        ):
            yield self._note(activity["object"], activity, location)
        else:
            yield Skipped(f"ActivityPub {kind or 'untyped'} activities")

    def _note(self, note: dict[str, Any], activity: dict[str, Any], location: str) -> ReadResult:
        try:
            key = status_id(note.get("id"))
        except ValueError as exc:
            return self.reject(location, f"Note has no usable id: {exc}", activity)
        actor = note.get("attributedTo") or activity.get("actor")
        content, lang = _note_content(note)
        kind, referenced = _note_kind(note)
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            "id": key,
            "author_id": _actor_id(actor),
            "author_handle": _actor_handle(actor),
            "created_at": note.get("published") or activity.get("published"),
            "lang": lang,
            "text": _post_text(note.get("summary"), content, spoiler_is_html=True),
            "kind": kind,
            "referenced_id": referenced,
            "url": as_text(note.get("url")) or as_text(note.get("id")),
        }
        fields.update({ours: as_dict(note.get(theirs)).get("totalItems") for theirs, ours in NOTE_COUNTS.items()})
        return build_post(fields, activity, self.source(location), self.ctx, media=_note_media(note.get("attachment")))

    def _announce(self, activity: dict[str, Any], location: str) -> ReadResult:
        """A boost in the outbox: the boosted post is only a URI, so the row has no text."""
        boosted = activity.get("object")
        try:
            key = status_id(activity.get("id"))
            referenced = status_id(boosted.get("id") if isinstance(boosted, dict) else boosted)
        except ValueError as exc:
            return self.reject(location, f"Announce without usable ids: {exc}", activity)
        actor = activity.get("actor")
        fields = {
            "platform": PLATFORM,
            "id": key,
            "author_id": _actor_id(actor),
            "author_handle": _actor_handle(actor),
            "created_at": activity.get("published"),
            "kind": PostKind.REPOST,
            "referenced_id": referenced,
        }
        return build_post(fields, activity, self.source(location), self.ctx, media=[])


# ---------------------------------------------------------------------- kinds


def _status_kind(status: dict[str, Any], quoted: dict[str, Any] | None) -> tuple[PostKind, str | None]:
    """Quote before reply (as for X); a reply's parent id only when the serving server's own."""
    if quoted is not None or isinstance(status.get("quote"), dict):
        return PostKind.QUOTE, _uri_id(quoted.get("uri")) if quoted else None
    if status.get("in_reply_to_id") is None:
        return PostKind.ORIGINAL, None
    return PostKind.REPLY, _local_parent_id(status)


def _local_parent_id(status: dict[str, Any]) -> str | None:
    """``in_reply_to_id@HOST`` when the parent's account is local to the serving server (then the
    serving server's id is the parent's own); None otherwise."""
    parent_account = str(status.get("in_reply_to_account_id"))
    accounts = [as_dict(status.get("account")), *(as_dict(m) for m in as_list(status.get("mentions")))]
    account = next((a for a in accounts if str(a.get("id")) == parent_account), None)
    acct = account.get("acct") if account else None
    host, _ = _split(account.get("url")) if account else (None, "")
    parent = status.get("in_reply_to_id")
    if not isinstance(acct, str) or "@" in acct or host is None or not _LOCAL_ID.fullmatch(str(parent)):
        return None
    return f"{parent}@{host}"


def _quoted_status(quote: Any) -> dict[str, Any] | None:
    """The quoted Status: Mastodon 4.4+ ``quote.quoted_status``, or a fork's ``quote`` Status."""
    quote = as_dict(quote)
    if isinstance(quote.get("quoted_status"), dict):
        return quote["quoted_status"]
    return quote if "uri" in quote and "content" in quote else None


def _note_kind(note: dict[str, Any]) -> tuple[PostKind, str | None]:
    quote = next((note[k] for k in NOTE_QUOTE_KEYS if isinstance(note.get(k), str)), None)
    if quote is not None:
        return PostKind.QUOTE, _uri_id(quote)
    reply = note.get("inReplyTo")
    if isinstance(reply, dict):
        reply = reply.get("id")
    if reply:
        return PostKind.REPLY, _uri_id(reply)
    return PostKind.ORIGINAL, None


def _uri_id(uri: Any) -> str | None:
    try:
        return status_id(uri)
    except ValueError:
        return None


# ---------------------------------------------------------------------- accounts and text


def _handle(account: dict[str, Any], status_uri: Any, warnings: list[FieldWarning]) -> str | None:
    """``user@instance``; the instance of a local ``acct`` from the account url, else the status URI."""
    acct = account.get("acct") or account.get("username")
    if not isinstance(acct, str) or not acct.strip("@ "):
        return None
    acct = acct.strip().lstrip("@")
    if "@" in acct:
        return acct
    host = _split(account.get("url"))[0] or _split(status_uri)[0]
    if host is None:
        warnings.append(
            FieldWarning("account.acct", acct, "no instance known to qualify the handle with; stored as given")
        )
        return acct
    return f"{acct}@{host}"


def _actor_handle(actor: Any) -> str | None:
    """``user@HOST`` from a Mastodon actor URI ``https://HOST/users/USER``; None for other shapes."""
    host, path = _split(actor)
    m = _MASTODON_ACTOR_PATH.fullmatch(path)
    return f"{m.group(1)}@{host}" if host and m else None


def _actor_id(actor: Any) -> str | None:
    """The author id: the qualified handle, else the actor URI without its scheme."""
    host, path = _split(actor)
    return _actor_handle(actor) or (f"{host}{path.rstrip('/')}" if host else None)


def _post_text(spoiler: Any, content: Any, *, spoiler_is_html: bool) -> str:
    """The content warning (if any) as the first paragraph, then the content as plain text."""
    body = html_to_text(content) if isinstance(content, str) else ""
    warning = spoiler if isinstance(spoiler, str) else ""
    warning = (html_to_text(warning) if spoiler_is_html else warning).strip()
    return f"{warning}\n\n{body}" if warning and body else warning or body


def _note_content(note: dict[str, Any]) -> tuple[Any, str | None]:
    """A Note's HTML and language: ``content``, or the one entry of ``contentMap`` (its key the language)."""
    content_map = as_dict(note.get("contentMap"))
    lang = next(iter(content_map)) if len(content_map) == 1 else None
    return note.get("content") or (content_map.get(lang) if lang else None), lang


def _split(uri: Any) -> tuple[str | None, str]:
    """``(host, path)`` of an http(s) URI (host lower-cased, with any port); ``(None, "")`` otherwise."""
    if not isinstance(uri, str):
        return None, ""
    try:
        parts = urlsplit(uri.strip())
        port = parts.port
    except ValueError:
        return None, ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, ""
    return (f"{parts.hostname}:{port}" if port else parts.hostname), parts.path


# ---------------------------------------------------------------------- media


def _status_media(attachments: Any) -> list[MediaRef]:
    """``media_attachments``: the attachment id is the key (unique within the status)."""
    media = []
    for n, item in enumerate(attachments if isinstance(attachments, list) else (), start=1):
        if not isinstance(item, dict):
            continue
        key = item.get("id")
        media.append(
            MediaRef(
                media_key=str(key) if isinstance(key, (str, int)) and str(key) else f"attachment {n}",
                type=as_text(item.get("type")),
                url=as_text(item.get("url")) or as_text(item.get("remote_url")),
                preview_url=as_text(item.get("preview_url")),
                duration_ms=_milliseconds(as_dict(as_dict(item.get("meta")).get("original")).get("duration")),
                raw=item,
            )
        )
    return media


def _milliseconds(seconds: Any) -> int | None:
    """A duration in seconds (``meta.original.duration``) as whole milliseconds; None if unusable."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < 1e9:
        return None
    return round(seconds * 1000)


def _note_media(attachments: Any) -> list[MediaRef]:
    """A Note's ``attachment`` Documents: no ids, so the position is the key; the type is the
    MIME type's major part (``image/jpeg`` → image)."""
    if isinstance(attachments, dict):
        attachments = [attachments]
    media = []
    for n, item in enumerate(attachments if isinstance(attachments, list) else (), start=1):
        if isinstance(item, dict):
            mime = as_text(item.get("mediaType"))
            media.append(
                MediaRef(
                    f"attachment {n}",
                    mime.split("/", 1)[0] if mime else as_text(item.get("type")),
                    as_text(item.get("url")),
                    raw=item,
                )
            )
    return media
