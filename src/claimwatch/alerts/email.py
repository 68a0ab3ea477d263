"""SMTP channels: the alert as a text/plain + text/html message, sent with :mod:`smtplib` in a
worker thread (the event loop never waits on a mail server).

STARTTLS when the channel says so (the default), implicit TLS on port 465, a login only when a
user name and password are set — and never over a connection that is not encrypted. The subject
and every address are single header lines (CR/LF and other control characters are removed from
the subject; an address holding one is refused), so nothing from a post can add a header such as
``Bcc:``. ``Message-ID`` is made from the alert id and channel, so a mail system can drop a copy
re-sent after a crash.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from claimwatch.alerts.outcome import SENT, USER_AGENT, Outcome
from claimwatch.alerts.render import email_html, email_text, header_safe, subject
from claimwatch.live.watchlist import Channel

IMPLICIT_TLS_PORT = 465


class HeaderInjection(ValueError):
    """An address that would not stay one header line."""


def build_message(channel: Channel, alert_id: int, payload: dict[str, Any]) -> EmailMessage:
    for address in (channel.sender or "", *channel.to):
        if header_safe(address) != address or not address:
            raise HeaderInjection(f"address {address!r} holds a line break or control character; refused")
    msg = EmailMessage()
    msg["Subject"] = subject(payload)
    msg["From"] = channel.sender or ""
    msg["To"] = ", ".join(channel.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<claimwatch-alert-{alert_id}-{header_safe(channel.name)}@claimwatch.invalid>"
    msg["X-Claimwatch-Alert"] = str(alert_id)
    msg["User-Agent"] = USER_AGENT
    msg.set_content(email_text(payload))
    msg.add_alternative(email_html(payload), subtype="html")
    return msg


class SmtpTransport:
    def __init__(self, channel: Channel, timeout: float = 30.0, tls: ssl.SSLContext | None = None) -> None:
        self.channel = channel
        self.timeout = timeout
        #: the TLS settings (tests pass one trusting their own certificate); default: the system's
        self.tls = tls or ssl.create_default_context()

    async def send(self, alert_id: int, payload: dict[str, Any]) -> Outcome:
        try:
            msg = build_message(self.channel, alert_id, payload)
        except HeaderInjection as exc:
            return Outcome(False, str(exc), permanent=True)
        return await asyncio.to_thread(self._send, msg)

    def _send(self, msg: EmailMessage) -> Outcome:
        c = self.channel
        implicit = c.port == IMPLICIT_TLS_PORT
        if c.username and c.password and not (implicit or c.starttls):
            return Outcome(False, "refusing to send the SMTP password without TLS (set starttls: true)", permanent=True)
        try:
            smtp: smtplib.SMTP = (
                smtplib.SMTP_SSL(c.host or "", c.port, timeout=self.timeout, context=self.tls)
                if implicit
                else smtplib.SMTP(c.host or "", c.port, timeout=self.timeout)
            )
            with smtp:
                if c.starttls and not implicit:
                    smtp.starttls(context=self.tls)
                if c.username and c.password:
                    smtp.login(c.username, c.password)
                smtp.send_message(msg, from_addr=c.sender, to_addrs=list(c.to))
        except smtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{a}: {code}" for a, (code, _) in exc.recipients.items())
            return Outcome(False, f"every recipient refused ({refused})", permanent=True)
        except smtplib.SMTPNotSupportedError as exc:
            return Outcome(False, f"the server does not support it: {exc}", permanent=True)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            return Outcome(False, f"SMTP {exc.smtp_code}: {text}", permanent=500 <= exc.smtp_code < 600)
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS failed
            return Outcome(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return SENT

    async def aclose(self) -> None:
        return None
