"""What one send attempt came to, whatever the channel: the deliverer decides from it whether the
delivery is done, retried later, or failed for good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from claimwatch import __version__

USER_AGENT = f"claimwatch/{__version__} (alerts)"


@dataclass(frozen=True, slots=True)
class Outcome:
    """``ok``, or ``error`` (one line) that is ``permanent`` (retrying cannot help: a 4xx, a
    refused recipient) or not; ``retry_after``: seconds the server asked us to wait."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


SENT = Outcome(True)


class Transport(Protocol):
    """Sends one alert payload on one channel. Never raises for a channel's failure: it says so."""

    async def send(self, alert_id: int, payload: dict[str, Any]) -> Outcome: ...

    async def aclose(self) -> None: ...
