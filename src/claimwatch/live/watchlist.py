"""The watchlist file of ``claimwatch watch``: which streams to follow, whom to alert, how often to
re-fetch metrics. YAML, checked whole before anything connects; every mistake is one line naming
the key. Secrets are never written in the file: a key ending in ``_env`` names the environment
variable that holds it (a watchlist is shared and committed; tokens are not).

Example (synthetic)::

    streams:
      - name: bsky-accounts
        kind: jetstream
        url: wss://jetstream2.us-east.bsky.network/subscribe
        dids: [did:plc:abcdefghijklmnopqrstuvwx]
      - name: masto-election
        kind: mastodon
        instance: https://mastodon.example
        hashtags: [election]
        token_env: MASTODON_TOKEN
      - name: x-election
        kind: x
        rules: ["election fraud -is:retweet"]
        bearer_token_env: X_BEARER_TOKEN
    accounts:
      - {platform: x, handle: example_account}
    alerts:
      min_confidence: 0.9
      views_threshold: 100000
      channels:
        - {name: desk, kind: webhook, url_env: SLACK_WEBHOOK_URL, format: slack}
        - {name: editors, kind: smtp, host: smtp.example.org, from: claimwatch@example.org, to: [desk@example.org]}
    refetch:
      every: 1h
      for: 7d
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

JETSTREAM_COLLECTIONS = ("app.bsky.feed.post", "app.bsky.feed.repost")
#: Jetstream's own limits on a subscription's filters (its README: 10,000 DIDs, 100 collections).
MAX_DIDS = 10_000
MAX_COLLECTIONS = 100
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: spec fields that say how a stream is followed, not what: they leave its cursor key alone
_HOW = frozenset({"cursor_margin_s", "poll_s", "token_env", "bearer_token_env"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WatchlistError(ValueError):
    """A watchlist the runner cannot use; the message names the file and the key."""


@dataclass(frozen=True)
class StreamSpec:
    """What every stream has. ``kind`` picks the client."""

    name: str
    kind: str

    def fingerprint(self) -> str:
        """A hash of what the stream follows: changing a filter starts a new cursor, not a resume
        (settings of how it is followed — margins, poll interval, token variable — do not)."""
        followed = {k: v for k, v in asdict(self).items() if k not in _HOW}
        body = json.dumps(followed, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def key(self) -> str:
        return f"{self.name}:{self.fingerprint()}"


@dataclass(frozen=True)
class JetstreamSpec(StreamSpec):
    """Bluesky Jetstream. ``url`` is a v1 ``…/subscribe`` or a v2
    ``…/xrpc/network.bsky.jetstream.subscribeEvents`` endpoint (the client speaks both shapes)."""

    url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    dids: tuple[str, ...] = ()
    collections: tuple[str, ...] = JETSTREAM_COLLECTIONS
    #: how far before the stored cursor a reconnect resumes (Jetstream replays from a time, and
    #: events near the cut may arrive out of order); replays are absorbed by the store
    cursor_margin_s: float = 5.0


@dataclass(frozen=True)
class MastodonSpec(StreamSpec):
    """A Mastodon instance's streaming API (hashtag streams, and the ``user`` stream of the token's
    account when ``user``), with REST back-fill after a gap (streaming has no replay)."""

    instance: str = ""
    hashtags: tuple[str, ...] = ()
    user: bool = False
    #: accounts (``@name`` or ``name@host``) whose statuses are back-filled by REST
    accounts: tuple[str, ...] = ()
    token_env: str | None = None


@dataclass(frozen=True)
class XSpec(StreamSpec):
    """The X API v2 filtered stream (``mode: stream``) or recent search polled every ``poll_s``
    (``mode: search``), when the bearer token's variable is set; otherwise the stream is reported
    as not started and the others run."""

    rules: tuple[str, ...] = ()
    mode: str = "stream"
    poll_s: float = 60.0
    bearer_token_env: str = "X_BEARER_TOKEN"
    api_base: str = "https://api.x.com"


@dataclass(frozen=True)
class Account:
    """A watched account: its matched posts alert when they pass the view threshold."""

    platform: str
    handle: str


@dataclass(frozen=True)
class Channel:
    """Where alerts go. ``webhook``: POST JSON to ``url`` (``format`` json, or slack for a Slack
    incoming webhook's ``{"text", "blocks"}``). ``smtp``: mail ``to`` from ``sender``."""

    name: str
    kind: str
    url: str | None = None
    format: str = "json"
    host: str | None = None
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertRules:
    """When to alert: a text or media match with confidence ≥ ``min_confidence``; a watched
    account's matched post with views ≥ ``views_threshold`` (None: no view alerts)."""

    min_confidence: float = 0.9
    media: bool = True
    views_threshold: int | None = None
    channels: tuple[Channel, ...] = ()
    max_attempts: int = 8


@dataclass(frozen=True)
class Refetch:
    """Re-fetch metrics of matched posts every ``every`` for ``span`` after they were matched."""

    every: timedelta = timedelta(hours=1)
    span: timedelta = timedelta(days=7)
    enabled: bool = True


@dataclass(frozen=True)
class Watchlist:
    streams: tuple[JetstreamSpec | MastodonSpec | XSpec, ...]
    accounts: tuple[Account, ...] = ()
    alerts: AlertRules = field(default_factory=AlertRules)
    refetch: Refetch = field(default_factory=Refetch)
    source: str = "watchlist"


_TOP = {"streams", "accounts", "alerts", "refetch"}
_STREAM_KEYS = {
    "jetstream": {"name", "kind", "url", "dids", "collections", "cursor_margin_s"},
    "mastodon": {"name", "kind", "instance", "hashtags", "user", "accounts", "token_env"},
    "x": {"name", "kind", "rules", "mode", "poll_s", "bearer_token_env", "api_base"},
}
_ALERT_KEYS = {"min_confidence", "media", "views_threshold", "channels", "max_attempts"}
_CHANNEL_KEYS = {
    "webhook": {"name", "kind", "url", "url_env", "format"},
    "smtp": {
        "name",
        "kind",
        "host",
        "port",
        "starttls",
        "username_env",
        "password_env",
        "from",
        "to",
    },
}


def load_watchlist(path: str | Path, env: dict[str, str] | None = None) -> Watchlist:
    """Read and check a watchlist file (``env``: where ``*_env`` keys are looked up; os.environ)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise WatchlistError(f"cannot read watchlist {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise WatchlistError(f"{p}: not UTF-8 text ({exc.reason})") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WatchlistError(f"{p}: not valid YAML: {' '.join(str(exc).split())}") from exc
    return parse_watchlist(data, str(p), os.environ if env is None else env)


def parse_watchlist(data: Any, source: str = "watchlist", env: dict[str, str] | None = None) -> Watchlist:
    env = dict(os.environ) if env is None else env
    if not isinstance(data, dict):
        raise WatchlistError(f"{source}: a watchlist is a mapping with 'streams' (and accounts, alerts, refetch)")
    _no_unknown(data, _TOP, source)
    raw_streams = data.get("streams")
    if not isinstance(raw_streams, list) or not raw_streams:
        raise WatchlistError(f"{source}: 'streams' must list at least one stream (kind jetstream, mastodon or x)")
    streams = tuple(_stream(s, f"{source}: streams[{i}]") for i, s in enumerate(raw_streams))
    names = [s.name for s in streams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise WatchlistError(f"{source}: stream names must be unique; repeated: {', '.join(dup)}")
    accounts = tuple(_account(a, f"{source}: accounts[{i}]") for i, a in enumerate(_list(data, "accounts", source)))
    alerts = _alerts(data.get("alerts") or {}, f"{source}: alerts", env)
    if alerts.views_threshold is not None and not accounts:
        raise WatchlistError(f"{source}: alerts.views_threshold is set but no 'accounts' are watched")
    return Watchlist(streams, accounts, alerts, _refetch(data.get("refetch") or {}, f"{source}: refetch"), source)


def parse_duration(value: Any, where: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d`` (or a number of seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    m = _DURATION.match(str(value)) if isinstance(value, str) else None
    if not m or float(m.group(1)) <= 0:
        raise WatchlistError(f"{where}: a duration such as 90s, 15m, 1h or 7d, not {value!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def _stream(raw: Any, where: str) -> JetstreamSpec | MastodonSpec | XSpec:
    if not isinstance(raw, dict):
        raise WatchlistError(f"{where}: a stream is a mapping with 'name' and 'kind'")
    kind = raw.get("kind")
    if kind not in _STREAM_KEYS:
        raise WatchlistError(f"{where}: 'kind' must be one of {', '.join(_STREAM_KEYS)}, not {kind!r}")
    _no_unknown(raw, _STREAM_KEYS[kind], where)
    name = _name(raw.get("name"), where)
    if kind == "jetstream":
        url = _ws_url(raw.get("url", JetstreamSpec.url), f"{where}.url")
        dids = _strings(raw, "dids", where)
        bad = [d for d in dids if not d.startswith("did:")]
        if bad:
            raise WatchlistError(f"{where}.dids: not a DID: {bad[0]!r} (e.g. did:plc:…)")
        if len(dids) > MAX_DIDS:
            raise WatchlistError(f"{where}.dids: Jetstream takes at most {MAX_DIDS:,} DIDs per connection")
        collections = _strings(raw, "collections", where) or JETSTREAM_COLLECTIONS
        if len(collections) > MAX_COLLECTIONS:
            raise WatchlistError(f"{where}.collections: Jetstream takes at most {MAX_COLLECTIONS} collections")
        margin = _number(raw.get("cursor_margin_s", 5.0), f"{where}.cursor_margin_s", 0, 3600)
        return JetstreamSpec(name, kind, url, dids, collections, margin)
    if kind == "mastodon":
        instance = _http_url(raw.get("instance"), f"{where}.instance")
        hashtags = tuple(t.lstrip("#") for t in _strings(raw, "hashtags", where))
        user = _bool(raw.get("user", False), f"{where}.user")
        accounts = _strings(raw, "accounts", where)
        if not (hashtags or user or accounts):
            raise WatchlistError(f"{where}: follow at least one of hashtags, user: true, accounts")
        token_env = _env_name(raw.get("token_env"), f"{where}.token_env")
        if user and token_env is None:
            raise WatchlistError(f"{where}: the user stream needs token_env (a token of that account)")
        return MastodonSpec(name, kind, instance, hashtags, user, accounts, token_env)
    rules = _strings(raw, "rules", where)
    if not rules:
        raise WatchlistError(f"{where}: 'rules' must list at least one X search query")
    mode = raw.get("mode", "stream")
    if mode not in ("stream", "search"):
        raise WatchlistError(f"{where}.mode: 'stream' (filtered stream) or 'search' (recent search), not {mode!r}")
    poll = _number(raw.get("poll_s", 60.0), f"{where}.poll_s", 1, 86400)
    token_env = _env_name(raw.get("bearer_token_env", "X_BEARER_TOKEN"), f"{where}.bearer_token_env")
    api_base = _http_url(raw.get("api_base", XSpec.api_base), f"{where}.api_base")
    return XSpec(name, kind, rules, mode, poll, token_env or "X_BEARER_TOKEN", api_base)


def _account(raw: Any, where: str) -> Account:
    if not isinstance(raw, dict) or not {"platform", "handle"} <= set(raw):
        raise WatchlistError(f"{where}: an account is {{platform: x|bluesky|mastodon|telegram, handle: name}}")
    _no_unknown(raw, {"platform", "handle"}, where)
    platform, handle = raw["platform"], raw["handle"]
    if platform not in ("x", "bluesky", "mastodon", "telegram"):
        raise WatchlistError(f"{where}.platform: x, bluesky, mastodon or telegram, not {platform!r}")
    if not isinstance(handle, str) or not handle.strip().lstrip("@"):
        raise WatchlistError(f"{where}.handle: a non-empty handle")
    return Account(platform, handle.strip().lstrip("@"))


def _alerts(raw: Any, where: str, env: dict[str, str]) -> AlertRules:
    if not isinstance(raw, dict):
        raise WatchlistError(f"{where}: a mapping (min_confidence, media, views_threshold, channels)")
    _no_unknown(raw, _ALERT_KEYS, where)
    conf = _number(raw.get("min_confidence", 0.9), f"{where}.min_confidence", 0, 1)
    views = raw.get("views_threshold")
    if views is not None and (isinstance(views, bool) or not isinstance(views, int) or views < 0):
        raise WatchlistError(f"{where}.views_threshold: a whole number of views, not {views!r}")
    attempts = raw.get("max_attempts", 8)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise WatchlistError(f"{where}.max_attempts: a whole number from 1 to 100, not {attempts!r}")
    channels = tuple(_channel(c, f"{where}.channels[{i}]", env) for i, c in enumerate(_list(raw, "channels", where)))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise WatchlistError(f"{where}.channels: channel names must be unique")
    return AlertRules(conf, _bool(raw.get("media", True), f"{where}.media"), views, channels, attempts)


def _channel(raw: Any, where: str, env: dict[str, str]) -> Channel:
    if not isinstance(raw, dict) or raw.get("kind") not in _CHANNEL_KEYS:
        raise WatchlistError(f"{where}: a channel is a mapping with 'name' and 'kind' (webhook or smtp)")
    kind = raw["kind"]
    _no_unknown(raw, _CHANNEL_KEYS[kind], where)
    name = _name(raw.get("name"), where)
    if kind == "webhook":
        if ("url" in raw) == ("url_env" in raw):
            raise WatchlistError(f"{where}: give the webhook's 'url' or 'url_env' (the variable holding it), one")
        url = raw.get("url") if "url" in raw else _secret(raw, "url_env", where, env)
        url = _http_url(url, f"{where}.url")
        fmt = raw.get("format", "json")
        if fmt not in ("json", "slack"):
            raise WatchlistError(f"{where}.format: json or slack, not {fmt!r}")
        return Channel(name, kind, url=url, format=fmt)
    host = raw.get("host")
    if not isinstance(host, str) or not host.strip():
        raise WatchlistError(f"{where}.host: the SMTP server's host name")
    port = raw.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise WatchlistError(f"{where}.port: a port number, not {port!r}")
    sender = raw.get("from")
    if not isinstance(sender, str) or "@" not in sender:
        raise WatchlistError(f"{where}.from: the sender's address")
    to = _strings(raw, "to", where)
    if not to or any("@" not in a for a in to):
        raise WatchlistError(f"{where}.to: at least one recipient address")
    username = _secret(raw, "username_env", where, env) if "username_env" in raw else None
    password = _secret(raw, "password_env", where, env) if "password_env" in raw else None
    return Channel(
        name,
        kind,
        host=host.strip(),
        port=port,
        starttls=_bool(raw.get("starttls", True), f"{where}.starttls"),
        username=username,
        password=password,
        sender=sender,
        to=to,
    )


def _refetch(raw: Any, where: str) -> Refetch:
    if raw is False:
        return Refetch(enabled=False)
    if not isinstance(raw, dict):
        raise WatchlistError(f"{where}: a mapping (every, for), or false")
    _no_unknown(raw, {"every", "for", "enabled"}, where)
    every = parse_duration(raw.get("every", "1h"), f"{where}.every")
    span = parse_duration(raw.get("for", "7d"), f"{where}.for")
    if every < timedelta(minutes=1):
        raise WatchlistError(f"{where}.every: at least 1m (platform rate limits)")
    return Refetch(every, span, _bool(raw.get("enabled", True), f"{where}.enabled"))


def _no_unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(raw) - allowed)
    if unknown:
        raise WatchlistError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise WatchlistError(f"{where}.name: letters, digits, '_', '.', '-' (up to 64), not {value!r}")
    return value


def _list(raw: dict[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise WatchlistError(f"{where}.{key}: a list")
    return value


def _strings(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise WatchlistError(f"{where}.{key}: a list of non-empty strings")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise WatchlistError(f"{where}: a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise WatchlistError(f"{where}: true or false, not {value!r}")
    return value


def _env_name(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise WatchlistError(f"{where}: the name of an environment variable, not {value!r}")
    return value


def _secret(raw: dict[str, Any], key: str, where: str, env: dict[str, str]) -> str:
    var = _env_name(raw.get(key), f"{where}.{key}")
    assert var is not None
    value = env.get(var)
    if not value:
        raise WatchlistError(f"{where}.{key}: the environment variable {var} is not set")
    return value


def _ws_url(value: Any, where: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise WatchlistError(f"{where}: a ws:// or wss:// URL, not {value!r}")
    return value


def _http_url(value: Any, where: str) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise WatchlistError(f"{where}: an http(s):// URL, not {value!r}")
    if parts.username or parts.password:
        raise WatchlistError(f"{where}: no user name or password in the URL (use the *_env keys)")
    return value.rstrip("/")
