"""Telegram posts: Telegram Desktop's JSON export (``result.json``) and Telethon message dumps.

Shapes read:

- Desktop "Export chat history" (one chat ``{name, type, id, messages: [...]}``) and "Export
  Telegram data" (``{chats: {list: [chat]}, left_chats: {list: [chat]}, …}``), as written by
  tdesktop's ``export_output_json.cpp``;
- Telethon ``Message.to_dict()`` dumps (``{"_": "Message", peer_id, date, message, …}``,
  datetimes written with ``default=str``): a JSON array, one per line, or alone.

Decisions (README "Telegram"):

- **Ids.** Message ids count per chat, so a post is ``PEER/MESSAGE_ID`` with the chat written the
  way Desktop writes ``from_id`` — ``channel1234567890``, ``chat123`` (basic group),
  ``user123`` — which tells a channel from a user with the same number. Desktop's chat
  ``type`` and Telethon's ``peer_id`` give the kind (a chat type Desktop did not write when this
  was made keeps the bare number). No URL: ``https://t.me/USERNAME/ID`` needs the chat's public
  username, which neither source carries.
- **Author** is the message's ``from_id`` (a group member, or the channel itself for channel
  posts; old Desktop exports wrote a bare number), else the chat; Desktop gives the name
  (``from``), Telethon only ids.
- **Times.** Desktop's ``date`` is the exporting machine's local time without an offset, so
  ``date_unixtime`` is used; an export too old to have it falls back to ``date`` read as UTC, with
  a field warning. Telethon dates carry their offset.
- **Kinds.** A forwarded message (``forwarded_from`` / ``fwd_from``) is a new message in its chat
  with its own view counter, so it is no repost (claimwatch's reposts never carry views): it is a
  **quote** of the forwarded message (Telethon names the original ``PEER/ID`` when it was a channel
  post; Desktop only its name, kept in ``raw``). ``reply_to_message_id`` / ``reply_to`` → reply.
- **Counts.** views, forwards → reposts, ``replies.replies`` → replies, the sum of all reaction
  counts → likes (the breakdown stays in ``raw``). Absent counters are unknown, never 0 (group
  messages have no views; Desktop's writer emits no views or forwards at all).
- **Service messages** (joins, pins, calls: Desktop ``type: "service"``, Telethon
  ``MessageService``) are not posts: skipped, not quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimwatch.records import FieldWarning, MediaRef, PostKind, ReadResult
from claimwatch.sources.base import ReadContext, to_count
from claimwatch.sources.generic import build_post
from claimwatch.sources.json_docs import ObjectsReader, Results, Skipped, UnknownShape, as_dict, as_list, is_int

FORMAT = "telegram"
PLATFORM = "telegram"

#: Desktop chat ``type`` -> the peer kind of its id (the ``from_id`` prefixes Desktop writes).
DESKTOP_CHAT_PEERS = {
    "personal_chat": "user",
    "bot_chat": "user",
    "saved_messages": "user",
    "replies": "user",
    "verification_codes": "user",
    "private_group": "chat",
    "private_supergroup": "channel",
    "public_supergroup": "channel",
    "private_channel": "channel",
    "public_channel": "channel",
}
DESKTOP_MESSAGE = "message"
DESKTOP_SERVICE = "service"
#: Desktop message keys describing its photo / its file (video, voice, document, sticker …).
DESKTOP_PHOTO_KEYS = ("photo", "width", "height", "photo_file_size")
DESKTOP_FILE_KEYS = (
    "file",
    "file_name",
    "file_size",
    "thumbnail",
    "media_type",
    "mime_type",
    "duration_seconds",
    "width",
    "height",
    "sticker_emoji",
    "performer",
    "title",
)

TELETHON_MESSAGE = "Message"
#: Telethon message types that are not posts, and what they are.
TELETHON_NOT_POSTS = {"MessageService": "service messages", "MessageEmpty": "empty (deleted) messages"}
#: Telethon peer type -> (peer kind, id key).
TELETHON_PEERS = {
    "PeerUser": ("user", "user_id"),
    "PeerChat": ("chat", "chat_id"),
    "PeerChannel": ("channel", "channel_id"),
}
_PEER = re.compile(r"(?:user|chat|channel)\d{1,20}")


def read(path: Path, ctx: ReadContext) -> Iterator[ReadResult]:
    """Messages of a Telegram Desktop export or a Telethon dump."""
    return _Reader(path, ctx).read()


def peer_id(value: Any) -> str | None:
    """A Desktop-style peer id (``channel123``, ``user123``, ``chat123``) as given; None if it is not one."""
    return value if isinstance(value, str) and _PEER.fullmatch(value) else None


def message_id(peer: str, message: Any) -> str:
    """The store id ``PEER/ID`` of message ``message`` in chat ``peer``; ValueError when unusable."""
    if isinstance(message, bool) or not (isinstance(message, int) or (isinstance(message, str) and message.isdigit())):
        raise ValueError(f"message id {message!r} is not a whole number")
    return f"{peer}/{int(message)}"


@dataclass
class _Chat:
    """A Desktop chat: its id as a peer (``channel123``) and its name."""

    peer: str
    name: str | None


class _Reader(ObjectsReader):
    fmt = FORMAT

    def read_object(self, obj: dict[str, Any], location: str) -> Results:
        """Dispatch on the object's shape (before anything is yielded, so UnknownShape is eager)."""
        if isinstance(obj.get("messages"), list):
            return self._chat(obj, location)
        if isinstance(obj.get("chats"), dict) or isinstance(obj.get("left_chats"), dict):
            return self._full_export(obj, location)
        if obj.get("_") == TELETHON_MESSAGE or obj.get("_") in TELETHON_NOT_POSTS:
            return self._telethon(obj, location)
        raise UnknownShape(f"not a Telegram Desktop export or a Telethon message (keys {sorted(obj)[:12]})")

    # ------------------------------------------------------------------ Desktop

    def _full_export(self, export: dict[str, Any], location: str) -> Results:
        for section in ("chats", "left_chats"):
            chats = export.get(section)
            chats = chats.get("list") if isinstance(chats, dict) else None
            for n, chat in enumerate(chats if isinstance(chats, list) else (), start=1):
                if isinstance(chat, dict) and isinstance(chat.get("messages"), list):
                    yield from self._chat(chat, f"{location} {section} chat {n}")

    def _chat(self, chat: dict[str, Any], location: str) -> Results:
        """A chat's messages; a chat whose id is unusable rejects each of them (nothing to key by)."""
        bare = chat.get("id")
        usable = not isinstance(bare, bool) and isinstance(bare, (int, str)) and str(bare).lstrip("-").isdigit()
        name = chat.get("name") if isinstance(chat.get("name"), str) else None
        info = _Chat(f"{DESKTOP_CHAT_PEERS.get(chat.get('type'), '')}{bare}", name)
        for n, message in enumerate(chat["messages"], start=1):
            where = f"{location} message {n}"
            if usable:
                yield from self._desktop_message(message, info, where)
            else:
                yield self.reject(
                    where, f"the chat's id {bare!r} is not a number: its messages cannot be keyed", message
                )

    def _desktop_message(self, message: Any, chat: _Chat, location: str) -> Results:
        if not isinstance(message, dict):
            yield self.reject(location, "message is not a JSON object", message)
            return
        if message.get("type") == DESKTOP_SERVICE:
            yield Skipped("service messages (joins, pins, calls …)")
            return
        if message.get("type") != DESKTOP_MESSAGE:
            yield self.reject(
                location, f"message type {message.get('type')!r} is neither 'message' nor 'service'", message
            )
            return
        try:
            key = message_id(chat.peer, message.get("id"))
        except ValueError as exc:
            yield self.reject(location, str(exc), message)
            return
        warnings: list[FieldWarning] = []
        created = message.get("date_unixtime")
        if not created and message.get("date"):
            created = message["date"]
            warnings.append(
                FieldWarning(
                    "date", created, "no date_unixtime (an older export): the local time without offset is read as UTC"
                )
            )
        kind, referenced = _desktop_kind(message, chat)
        from_id = message.get("from_id")  # "user123" / "channel123"; a bare number in old exports
        author = peer_id(from_id) or (str(from_id) if is_int(from_id) else None)
        if author is None and from_id is not None:
            warnings.append(FieldWarning("from_id", from_id, "not a Telegram peer id; the chat is the author"))
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            "id": key,
            "created_at": created,
            "text": _desktop_text(message),
            "author_id": author or chat.peer,
            "author_name": message.get("from") if author else chat.name,
            "kind": kind,
            "referenced_id": referenced,
            "views": message.get("views"),
            "reposts": message.get("forwards"),
            "likes": _reaction_total(message.get("reactions"), warnings),
        }
        yield build_post(
            fields, message, self.source(location), self.ctx, media=_desktop_media(message), warnings=warnings
        )

    # ------------------------------------------------------------------ Telethon

    def _telethon(self, message: dict[str, Any], location: str) -> Results:
        kind = message.get("_")
        if kind in TELETHON_NOT_POSTS:
            yield Skipped(f"Telethon {TELETHON_NOT_POSTS[kind]}")
            return
        peer = _telethon_peer(message.get("peer_id"))
        try:
            if peer is None:
                raise ValueError(f"peer_id {message.get('peer_id')!r} names no user, chat or channel")
            key = message_id(peer, message.get("id"))
        except ValueError as exc:
            yield self.reject(location, str(exc), message)
            return
        warnings: list[FieldWarning] = []
        kind, referenced = _telethon_kind(message, peer)
        reactions = message.get("reactions")
        fields: dict[str, Any] = {
            "platform": PLATFORM,
            "id": key,
            "created_at": message.get("date"),
            "text": message.get("message"),
            "author_id": _telethon_peer(message.get("from_id")) or peer,
            "kind": kind,
            "referenced_id": referenced,
            "views": message.get("views"),
            "reposts": message.get("forwards"),
            "replies": as_dict(message.get("replies")).get("replies"),
            "likes": _reaction_total(as_dict(reactions).get("results"), warnings),
        }
        yield build_post(
            fields,
            message,
            self.source(location),
            self.ctx,
            media=_telethon_media(message.get("media")),
            warnings=warnings,
        )


# ---------------------------------------------------------------------- Desktop fields


def _desktop_text(message: dict[str, Any]) -> str:
    """``text`` is a string, or an array of strings and entity objects ``{type, text, …}``
    (``text_entities`` holds the same as objects only)."""
    text = message.get("text")
    if text is None:
        text = message.get("text_entities")
    if isinstance(text, str):
        return text
    parts = text if isinstance(text, list) else ()
    return "".join(
        p if isinstance(p, str) else p.get("text", "") if isinstance(p, dict) and isinstance(p.get("text"), str) else ""
        for p in parts
    )


def _desktop_kind(message: dict[str, Any], chat: _Chat) -> tuple[PostKind, str | None]:
    """A forward is a quote (of a message Desktop does not name); then a reply, in this chat unless
    ``reply_to_peer_id`` names another."""
    if message.get("forwarded_from") is not None or message.get("forwarded_from_id") is not None:
        return PostKind.QUOTE, None
    reply_to = message.get("reply_to_message_id")
    if reply_to is None:
        return PostKind.ORIGINAL, None
    try:
        return PostKind.REPLY, message_id(peer_id(message.get("reply_to_peer_id")) or chat.peer, reply_to)
    except ValueError:
        return PostKind.REPLY, None


def _desktop_media(message: dict[str, Any]) -> list[MediaRef]:
    """The message's photo and its file, keyed ``photo`` / ``file`` (a message has at most one
    of each). The export's paths are local files, not URLs: they stay in ``raw``."""
    media = []
    if "photo" in message:
        media.append(MediaRef("photo", "photo", raw={k: message[k] for k in DESKTOP_PHOTO_KEYS if k in message}))
    if "file" in message:
        mime = message.get("mime_type")
        kind = message.get("media_type") or (mime.split("/", 1)[0] if isinstance(mime, str) else None) or "file"
        seconds, _ = to_count(message.get("duration_seconds"), "duration_seconds")
        media.append(
            MediaRef(
                "file",
                str(kind),
                duration_ms=seconds * 1000 if seconds is not None else None,
                raw={k: message[k] for k in DESKTOP_FILE_KEYS if k in message},
            )
        )
    return media


# ---------------------------------------------------------------------- Telethon fields


def _telethon_peer(peer: Any) -> str | None:
    """``channel123`` / ``chat123`` / ``user123`` from a Telethon Peer dict."""
    if not isinstance(peer, dict) or peer.get("_") not in TELETHON_PEERS:
        return None
    kind, key = TELETHON_PEERS[peer["_"]]
    number = peer.get(key)
    return f"{kind}{number}" if is_int(number) else None


def _telethon_kind(message: dict[str, Any], peer: str) -> tuple[PostKind, str | None]:
    """A forward is a quote of ``fwd_from``'s channel post when named; then a reply."""
    forward = message.get("fwd_from")
    if isinstance(forward, dict):
        origin = _telethon_peer(forward.get("from_id"))
        try:
            return PostKind.QUOTE, message_id(origin, forward.get("channel_post")) if origin else None
        except ValueError:
            return PostKind.QUOTE, None
    reply = message.get("reply_to")
    if not isinstance(reply, dict) or reply.get("reply_to_msg_id") is None:
        return PostKind.ORIGINAL, None
    try:
        return PostKind.REPLY, message_id(
            _telethon_peer(reply.get("reply_to_peer_id")) or peer, reply.get("reply_to_msg_id")
        )
    except ValueError:
        return PostKind.REPLY, None


def _telethon_media(media: Any) -> list[MediaRef]:
    """A photo, a document (video/audio/image/other by its MIME type) or a link preview."""
    kind = as_dict(media).get("_")
    if kind == "MessageMediaPhoto":
        photo_id = as_dict(media.get("photo")).get("id")
        return [MediaRef(str(photo_id), "photo", raw=media)] if is_int(photo_id) else []
    if kind == "MessageMediaDocument":
        doc = media.get("document")
        if not is_int(as_dict(doc).get("id")):
            return []
        mime = doc.get("mime_type")
        major = mime.split("/", 1)[0] if isinstance(mime, str) else ""
        durations = (as_dict(a).get("duration") for a in as_list(doc.get("attributes")))
        seconds = next((d for d in durations if _is_seconds(d)), None)
        return [
            MediaRef(
                str(doc["id"]),
                major if major in ("video", "audio", "image") else "document",
                duration_ms=None if seconds is None else round(seconds * 1000),
                raw=media,
            )
        ]
    if kind == "MessageMediaWebPage":
        url = as_dict(media.get("webpage")).get("url")
        return [MediaRef("webpage", "webpage", url if isinstance(url, str) else None, raw=media)]
    return []


# ---------------------------------------------------------------------- shared


def _reaction_total(items: Any, warnings: list[FieldWarning]) -> int | None:
    """The sum of every reaction's ``count`` (emoji, custom emoji, paid); None when there is no list."""
    if not isinstance(items, list):
        return None
    total = 0
    for item in items:
        count, warning = to_count(as_dict(item).get("count"), "reaction count")
        if warning:
            warnings.append(warning)
        total += count or 0
    return total


def _is_seconds(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e9
