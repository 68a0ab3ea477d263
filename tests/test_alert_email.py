"""SMTP alerts against aiosmtpd on loopback: plain, STARTTLS with a login (a self-signed
certificate made at test time), a refused recipient, header injection refused."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from alert_store import HOSTILE, add_post, deliveries, payload, queue_alert, store

from claimwatch.alerts.deliver import Deliverer
from claimwatch.alerts.email import SmtpTransport, build_message
from claimwatch.live.watchlist import Channel

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult  # noqa: E402


class Inbox:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.refuse and address == self.refuse:
            return "550 5.1.1 no such user (synthetic)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _channel(port: int, **kw: Any) -> Channel:
    base = dict(host="127.0.0.1", port=port, starttls=False, sender="claimwatch@example.org", to=("desk@example.org",))
    return Channel("mail", "smtp", **{**base, **kw})


def _send(engine, channel: Channel, transport: SmtpTransport | None = None, now: datetime | None = None):  # noqa: ANN001, ANN202
    async def go():  # noqa: ANN202
        async with Deliverer(engine, (channel,), transports={"mail": transport} if transport else None) as d:
            return await d.deliver_due(now)

    return asyncio.run(go())


def test_plain_smtp_sends_a_text_and_html_message(tmp_path: Path) -> None:
    inbox = Inbox()
    ctl = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=_port())
    ctl.start()
    try:
        engine = store(tmp_path)
        post = add_post(engine, "301")
        alert_id = queue_alert(
            engine, post, [("mail", "smtp")], body=payload(post, text=HOSTILE, author="evil\r\nBcc: victim@example.org")
        )
        report = _send(engine, _channel(ctl.port))
    finally:
        ctl.stop()
    assert report.sent == 1
    [(rcpt, msg)] = inbox.messages
    assert rcpt == ["desk@example.org"]
    assert msg["Bcc"] is None and "victim@example.org" in msg["Subject"]  # text in the subject, not a header
    assert msg["Message-ID"] == f"<claimwatch-alert-{alert_id}-mail@claimwatch.invalid>"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "<script>" not in parts["text/html"] and "&lt;script&gt;" in parts["text/html"]
    assert '<a href="https://x.example/' in parts["text/html"]
    assert "Views: unknown" in parts["text/plain"]
    assert [x.status for x in deliveries(engine)] == ["sent"]


def test_a_refused_recipient_is_a_permanent_failure(tmp_path: Path) -> None:
    ctl = aiosmtpd_controller.Controller(Inbox(refuse="desk@example.org"), hostname="127.0.0.1", port=_port())
    ctl.start()
    try:
        engine = store(tmp_path)
        queue_alert(engine, add_post(engine, "302"), [("mail", "smtp")])
        report = _send(engine, _channel(ctl.port))
    finally:
        ctl.stop()
    assert report.failed == 1
    [row] = deliveries(engine)
    assert row.status == "failed" and "550" in row.last_error


def test_an_unreachable_server_is_retried(tmp_path: Path) -> None:
    engine = store(tmp_path)
    queue_alert(engine, add_post(engine, "303"), [("mail", "smtp")])
    now = datetime.now(UTC) + timedelta(seconds=1)
    report = _send(engine, _channel(_port()), SmtpTransport(_channel(_port()), timeout=2), now)
    assert report.retrying == 1
    [row] = deliveries(engine)
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > now


def test_header_injection_in_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        build_message(_channel(25, to=("desk@example.org\r\nBcc: x@example.org",)), 1, payload(1))
    out = asyncio.run(SmtpTransport(_channel(25, sender="a@example.org\nX: y")).send(1, payload(1)))
    assert not out.ok and out.permanent


def test_no_password_without_tls() -> None:
    out = asyncio.run(SmtpTransport(_channel(_port(), username="u", password="p")).send(1, payload(1)))
    assert not out.ok and out.permanent and "without TLS" in (out.error or "")


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509", reason="STARTTLS test needs cryptography for a test certificate")
    import ipaddress

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_starttls_with_login(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"alerts" and data.password == b"s3cret")

    inbox = Inbox()
    ctl = aiosmtpd_controller.Controller(
        inbox,
        hostname="127.0.0.1",
        port=_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=auth,
        auth_required=True,
    )
    ctl.start()
    try:
        engine = store(tmp_path)
        queue_alert(engine, add_post(engine, "304"), [("mail", "smtp")])
        channel = _channel(ctl.port, starttls=True, username="alerts", password="s3cret")
        client_tls = ssl.create_default_context(cafile=str(cert))
        report = _send(engine, channel, SmtpTransport(channel, timeout=5, tls=client_tls))
    finally:
        ctl.stop()
    assert report.sent == 1, report.errors
    assert logins == [(b"alerts", b"s3cret")] and len(inbox.messages) == 1
