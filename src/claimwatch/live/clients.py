"""From a watchlist's stream specs to running clients, and the metric fetchers for the same tokens.

Tokens come from the environment variables the watchlist names (never the file). A stream whose
token is missing is not built: the caller gets a one-line reason to report and runs the others.
"""

from __future__ import annotations

from collections.abc import Mapping

from claimwatch.live.events import LiveSource
from claimwatch.live.jetstream import JetstreamSource
from claimwatch.live.mastodon_stream import MastodonSource
from claimwatch.live.watchlist import JetstreamSpec, MastodonSpec, XSpec
from claimwatch.live.x_stream import XSource


def build_source(spec: JetstreamSpec | MastodonSpec | XSpec, env: Mapping[str, str]) -> LiveSource | str:
    """The client of ``spec``, or why it cannot start (a token variable that is not set)."""
    if isinstance(spec, JetstreamSpec):
        return JetstreamSource(spec)
    if isinstance(spec, MastodonSpec):
        token = env.get(spec.token_env) if spec.token_env else None
        if spec.token_env and not token:
            return f"stream {spec.name}: not started: the environment variable {spec.token_env} is not set"
        return MastodonSource(spec, token or None)
    token = env.get(spec.bearer_token_env)
    if not token:
        return f"stream {spec.name}: not started: set {spec.bearer_token_env} to an X API bearer token"
    return XSource(spec, token)
