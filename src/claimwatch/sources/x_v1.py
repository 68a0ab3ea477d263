"""Twitter API v1.1 post objects (twarc1 archives, streaming, the account archive).

A v1.1 post has ``id_str``, ``full_text`` (``tweet_mode=extended``) or ``text`` plus
``extended_tweet.full_text`` (streaming), counts ``retweet_count`` / ``favorite_count``
(``quote_count`` / ``reply_count`` only from premium endpoints) and its author in
``user``. A retweet carries the *original's* counts and its ``retweeted_status``, so it is
a repost with no snapshot of its own. Text is HTML-escaped like v2's (see
:mod:`claimwatch.sources.x_text`).
"""

from __future__ import annotations

from typing import Any

from claimwatch.records import FieldWarning, MediaRef
from claimwatch.sources import x_media
from claimwatch.sources.x_text import unescape_x

#: Keys telling a v1.1 post from a v2 one (an archive post has no ``user``; see x_archive).
MARKERS = ("id_str", "user")

#: Our field -> v1.1 key, for fields that map one to one (post, then its ``user``).
POST_KEYS = {
    "created_at": "created_at",
    "lang": "lang",
    "reposts": "retweet_count",
    "quotes": "quote_count",
    "replies": "reply_count",
    "likes": "favorite_count",
}
USER_KEYS = {"author_handle": "screen_name", "author_name": "name", "author_followers": "followers_count"}


def fields(post: dict[str, Any]) -> dict[str, Any]:
    """A v1.1 post in our field names (see ``generic.FIELD_ALIASES``)."""
    user = post.get("user")
    user = user if isinstance(user, dict) else {}
    extended = post.get("extended_tweet")
    retweeted = post.get("retweeted_status")
    text = (
        (extended.get("full_text") if isinstance(extended, dict) else None) or post.get("full_text") or post.get("text")
    )
    out = {
        "id": post.get("id_str") or post.get("id"),
        "author_id": user.get("id_str") or user.get("id"),
        "text": unescape_x(text) if isinstance(text, str) else text,
        "repost_of": (retweeted.get("id_str") or retweeted.get("id")) if isinstance(retweeted, dict) else None,
        "quote_of": post.get("quoted_status_id_str"),
        "reply_to": post.get("in_reply_to_status_id_str"),
        "kind": None,
    }
    out.update({ours: post.get(theirs) for ours, theirs in POST_KEYS.items()})
    out.update({ours: user.get(theirs) for ours, theirs in USER_KEYS.items()})
    return out


def is_retweet_text(text: Any) -> bool:
    """ "RT @handle: …": how a retweet looks where no ``retweeted_status`` says so (the archive)."""
    return isinstance(text, str) and text.startswith("RT @")


def media(tweet: dict[str, Any], warnings: list[FieldWarning]) -> list[MediaRef]:
    """Photos, videos and GIFs of ``extended_entities.media`` (else ``entities.media``, which
    holds only the first photo). A video's ``url`` is its best MP4 variant and its
    ``media_url_https`` (a thumbnail) the preview; a photo's ``media_url_https`` is the photo."""
    entities = tweet.get("extended_entities") or tweet.get("entities")
    items = entities.get("media") if isinstance(entities, dict) else None
    refs = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not (item.get("id_str") or item.get("id")):
            warnings.append(FieldWarning("extended_entities.media", item, "media item without an id; ignored"))
            continue
        image = next((item[k] for k in x_media.V1_URLS if isinstance(item.get(k), str)), None)
        video = x_media.best_variant(x_media.mp4_variants(item))
        refs.append(
            MediaRef(
                media_key=str(item.get("id_str") or item.get("id")),
                type=item.get("type"),
                url=video or image,
                preview_url=image if video else None,
                duration_ms=x_media.v1_duration_ms(item),
                raw=item,
            )
        )
    return refs
