"""Webhook channels: POST the alert as JSON (``format: json``, the payload itself) or as a Slack
incoming-webhook message (``format: slack``).

Receivers can dedupe: every request carries ``Idempotency-Key: claimwatch-alert-<id>-<channel>``
and the body names the alert id. Redirects are not followed (a webhook URL that moved is a
configuration to fix, and following it would post the alert somewhere nobody chose). The URL is a
secret (a Slack webhook URL is its own credential): no error message repeats it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from claimwatch.alerts.outcome import SENT, USER_AGENT, Outcome
from claimwatch.alerts.render import slack_body
from claimwatch.live.backoff import server_wait
from claimwatch.live.watchlist import Channel

#: 4xx answers that are worth another try (request timeout, rate limited)
TRANSIENT_4XX = frozenset({408, 429})
_BODY_CHARS = 200


def idempotency_key(alert_id: int, channel: str) -> str:
    return f"claimwatch-alert-{alert_id}-{channel}"


def request_body(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    return slack_body(payload) if channel.format == "slack" else payload


class WebhookTransport:
    """One channel's HTTP client (kept open between alerts: no new connection per alert)."""

    def __init__(self, channel: Channel, timeout: float = 10.0) -> None:
        assert channel.url is not None
        self.channel = channel
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json"},
        )
        self._timeout = timeout

    async def send(self, alert_id: int, payload: dict[str, Any]) -> Outcome:
        body = json.dumps(request_body(self.channel, payload), ensure_ascii=False).encode()
        try:
            resp = await self._client.post(
                self.channel.url or "",
                content=body,
                headers={"Idempotency-Key": idempotency_key(alert_id, self.channel.name)},
            )
        except httpx.TimeoutException:
            return Outcome(False, f"no answer within {self._timeout:g} s (timed out)")
        except httpx.HTTPError as exc:
            return Outcome(False, self._scrub(f"{type(exc).__name__}: {exc}"))
        if resp.is_success:
            return SENT
        reason = f"HTTP {resp.status_code}"
        text = " ".join(resp.text[:_BODY_CHARS].split())
        if text:
            reason += f": {text}"
        if resp.is_redirect:
            return Outcome(False, f"{reason} (a redirect; not followed: give the webhook's final URL)", permanent=True)
        wait = server_wait(resp.headers)
        if 400 <= resp.status_code < 500 and resp.status_code not in TRANSIENT_4XX:
            return Outcome(False, reason, permanent=True)
        return Outcome(False, reason, retry_after=wait)

    def _scrub(self, text: str) -> str:
        return text.replace(self.channel.url or "\0", "<webhook URL>")

    async def aclose(self) -> None:
        await self._client.aclose()
