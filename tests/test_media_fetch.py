"""Downloading post media: the downloader against a local HTTP server (loopback, allowed by the
opt-in), the queue (enqueue once, claim, back-off, refusal, concurrent runs, resuming) and the CLI.

Every body is made here (Pillow images, a few signature bytes); nothing touches the network."""

from __future__ import annotations

import io
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image
from typer.testing import CliRunner

import claimwatch
from claimwatch.cli import app
from claimwatch.config import Settings
from claimwatch.media import downloads
from claimwatch.media.fetch import Fetcher, FetchLimits, Outcome, sniff
from claimwatch.media.records import MediaKind, Refused
from claimwatch.media.storage import TMP, MediaStore, media_dir_for, media_dir_of
from claimwatch.store import db
from claimwatch.store import media_fetches as q
from claimwatch.store import schema as s
from tests.conftest import page, post

Handler = Callable[[BaseHTTPRequestHandler], None]


def jpeg(color: tuple[int, int, int] = (200, 30, 30), size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "JPEG", quality=90)
    return out.getvalue()


MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def send(body: bytes, status: int = 200, ctype: str = "image/jpeg", length: bool = True, **headers: str) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        if length:
            h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.end_headers()
        h.wfile.write(body)
        if not length:
            h.close_connection = True

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handle


def sequence(*handlers: Handler) -> Handler:
    """The n-th request gets the n-th handler (the last one repeats)."""
    calls = iter(range(10_000))

    def handle(h: BaseHTTPRequestHandler) -> None:
        handlers[min(next(calls), len(handlers) - 1)](h)

    return handle


def dropped(body: bytes) -> Handler:
    """Declares the whole body, sends half of it, closes the connection."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/jpeg")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    return handle


class Server:
    """A loopback HTTP server whose answers the test sets per path; it counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.delay = 0.0
        server = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.hits[self.path] += 1
                if server.delay:
                    time.sleep(server.delay)
                route = server.routes.get(self.path)
                if route is None:
                    send(b"<html>not found</html>", 404, "text/html")(self)
                else:
                    route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture()
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


LOCAL = FetchLimits(
    allow_private=True,
    connect_timeout_s=2,
    read_timeout_s=2,
    total_timeout_s=5,
    tries=3,
    backoff_s=0.01,
    retry_after_cap_s=5,
    max_bytes=1_000_000,
)


@pytest.fixture()
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


def fetcher(store: MediaStore, sleeps: list[float] | None = None, **limits: object) -> Fetcher:
    lim = FetchLimits(**{**{f: getattr(LOCAL, f) for f in LOCAL.__slots__}, **limits})
    return Fetcher(store, lim, sleep=(sleeps.append if sleeps is not None else (lambda _s: None)))


def files_in(store: MediaStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- the downloader


def test_image_is_stored_under_its_digest_with_the_declared_type_kept(server: Server, store: MediaStore) -> None:
    body = jpeg()
    server.routes["/a.jpg"] = send(body, ctype="image/jpeg; charset=binary")
    res = fetcher(store).fetch(server.url("/a.jpg"))
    assert res.outcome is Outcome.FETCHED and res.http_status == 200
    assert (res.info.kind, res.info.mime, res.declared_type) == (
        MediaKind.IMAGE,
        "image/jpeg",
        "image/jpeg; charset=binary",
    )
    import hashlib

    sha = hashlib.sha256(body).hexdigest()
    assert res.stored.sha256 == sha and res.stored.size_bytes == len(body)
    assert res.stored.path == f"{sha[:2]}/{sha[2:4]}/{sha}"
    assert store.path_of(res.stored.path).read_bytes() == body
    assert files_in(store) == [store.path_of(res.stored.path)]  # no temporary file left


def test_user_agent_names_claimwatch_and_no_compression_is_asked(server: Server, store: MediaStore) -> None:
    seen: dict[str, str] = {}

    def record(h: BaseHTTPRequestHandler) -> None:
        seen.update({k.lower(): v for k, v in h.headers.items()})
        send(jpeg())(h)

    server.routes["/ua.jpg"] = record
    assert fetcher(store).fetch(server.url("/ua.jpg")).outcome is Outcome.FETCHED
    assert seen["user-agent"].startswith("claimwatch/") and seen["accept-encoding"] == "identity"
    assert seen["host"] == f"127.0.0.1:{server.httpd.server_address[1]}"


def test_404_fails_without_retrying(server: Server, store: MediaStore) -> None:
    res = fetcher(store).fetch(server.url("/missing.jpg"))
    assert (res.outcome, res.http_status, res.reason) == (Outcome.FAILED, 404, "HTTP 404")
    assert server.hits["/missing.jpg"] == 1 and files_in(store) == []


def test_500_then_200_is_retried_within_the_run(server: Server, store: MediaStore) -> None:
    sleeps: list[float] = []
    server.routes["/flaky.jpg"] = sequence(send(b"oops", 500, "text/plain"), send(jpeg()))
    res = fetcher(store, sleeps).fetch(server.url("/flaky.jpg"))
    assert res.outcome is Outcome.FETCHED and server.hits["/flaky.jpg"] == 2
    assert sleeps == [LOCAL.backoff_s]


def test_500_every_time_fails_after_the_tries_with_doubling_pauses(server: Server, store: MediaStore) -> None:
    sleeps: list[float] = []
    server.routes["/down.jpg"] = send(b"oops", 503, "text/plain")
    res = fetcher(store, sleeps).fetch(server.url("/down.jpg"))
    assert (res.outcome, res.http_status) == (Outcome.FAILED, 503)
    assert server.hits["/down.jpg"] == LOCAL.tries and sleeps == [LOCAL.backoff_s, LOCAL.backoff_s * 2]


def test_429_retry_after_is_honoured_and_a_long_one_is_left_to_the_queue(server: Server, store: MediaStore) -> None:
    sleeps: list[float] = []
    server.routes["/busy.jpg"] = sequence(send(b"", 429, "text/plain", Retry_After="2"), send(jpeg()))
    assert fetcher(store, sleeps).fetch(server.url("/busy.jpg")).outcome is Outcome.FETCHED
    assert sleeps == [2.0]

    sleeps.clear()
    server.routes["/later.jpg"] = send(b"", 429, "text/plain", Retry_After="3600")
    res = fetcher(store, sleeps).fetch(server.url("/later.jpg"))
    assert (res.outcome, res.http_status, res.retry_after_s) == (Outcome.FAILED, 429, 3600.0)
    assert sleeps == [] and server.hits["/later.jpg"] == 1  # not waited for an hour


@pytest.mark.slow
def test_a_server_that_never_answers_times_out(server: Server, store: MediaStore) -> None:
    server.delay = 3.0
    server.routes["/slow.jpg"] = send(jpeg())
    started = time.monotonic()
    res = fetcher(store, read_timeout_s=0.3, tries=1).fetch(server.url("/slow.jpg"))
    assert res.outcome is Outcome.FAILED and res.reason.startswith("timed out")
    assert time.monotonic() - started < 2.5  # did not wait for the server


@pytest.mark.slow
def test_a_trickling_body_is_cut_at_the_total_deadline(server: Server, store: MediaStore) -> None:
    body = jpeg()

    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for i in range(0, len(body), 64):
            h.wfile.write(body[i : i + 64])
            h.wfile.flush()
            time.sleep(0.05)

    server.routes["/trickle.jpg"] = trickle
    res = fetcher(store, total_timeout_s=0.3, tries=1).fetch(server.url("/trickle.jpg"))
    assert res.outcome is Outcome.FAILED and "total" in res.reason
    assert files_in(store) == []


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_cap_is_refused_with_or_without_content_length(
    server: Server, store: MediaStore, declared: bool
) -> None:
    body = jpeg() + b"\x00" * 5000
    server.routes["/big.jpg"] = send(body, length=declared)
    res = fetcher(store, max_bytes=2000).fetch(server.url("/big.jpg"))
    assert res.outcome is Outcome.REFUSED and "2,000" in res.reason
    assert ("declares" in res.reason) is declared  # refused before the body when the header says so
    assert files_in(store) == []


def test_html_served_as_jpeg_is_refused_and_jpeg_served_as_text_is_kept(server: Server, store: MediaStore) -> None:
    server.routes["/error.jpg"] = send(b"<!DOCTYPE html><html><body>Rate limited</body></html>" * 3, ctype="image/jpeg")
    res = fetcher(store).fetch(server.url("/error.jpg"))
    assert (res.outcome, res.declared_type) == (Outcome.REFUSED, "image/jpeg")
    assert "HTML" in res.reason
    server.routes["/photo.txt"] = send(jpeg(), ctype="text/plain")
    res = fetcher(store).fetch(server.url("/photo.txt"))
    assert (res.outcome, res.info.mime, res.declared_type) == (Outcome.FETCHED, "image/jpeg", "text/plain")


def test_json_error_and_hls_playlist_are_not_media(server: Server, store: MediaStore) -> None:
    server.routes["/api"] = send(b'{"errors":[{"message":"Sorry, that page does not exist"}]}', ctype="video/mp4")
    server.routes["/pl.m3u8"] = send(b"#EXTM3U\n#EXT-X-VERSION:3\n" * 4, ctype="application/x-mpegURL")
    assert "JSON" in fetcher(store).fetch(server.url("/api")).reason
    assert "HLS playlist" in fetcher(store).fetch(server.url("/pl.m3u8")).reason


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/a.jpg", "gopher://example.org/"])
def test_a_redirect_to_another_scheme_is_refused(server: Server, store: MediaStore, target: str) -> None:
    server.routes["/r"] = redirect(target)
    res = fetcher(store).fetch(server.url("/r"))
    assert res.outcome is Outcome.REFUSED and "only http and https" in res.reason


def test_a_redirect_loop_and_too_many_redirects_fail(server: Server, store: MediaStore) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect(server.url("/a"))
    res = fetcher(store).fetch(server.url("/a"))
    assert res.outcome is Outcome.FAILED and "redirect loop" in res.reason
    for i in range(10):
        server.routes[f"/hop{i}"] = redirect(f"/hop{i + 1}", 301)
    res = fetcher(store, max_redirects=3).fetch(server.url("/hop0"))
    assert res.outcome is Outcome.FAILED and "more than 3 redirects" in res.reason
    assert server.hits["/hop4"] == 0


def test_a_redirect_is_followed_to_the_file(server: Server, store: MediaStore) -> None:
    server.routes["/short"] = redirect("/media/real.jpg", 301)
    server.routes["/media/real.jpg"] = send(jpeg())
    res = fetcher(store).fetch(server.url("/short"))
    assert res.outcome is Outcome.FETCHED and res.final_url == server.url("/media/real.jpg")


def test_loopback_is_refused_without_the_opt_in_and_nothing_is_requested(server: Server, store: MediaStore) -> None:
    server.routes["/a.jpg"] = send(jpeg())
    res = fetcher(store, allow_private=False).fetch(server.url("/a.jpg"))
    assert res.outcome is Outcome.REFUSED and "loopback, private or link-local" in res.reason
    assert server.hits["/a.jpg"] == 0


@pytest.mark.parametrize(
    "address", ["10.1.2.3", "192.168.0.10", "169.254.169.254", "::1", "fe80::1", "::ffff:127.0.0.1", "100.64.0.1"]
)
def test_a_host_resolving_to_a_private_address_is_refused_before_connecting(store: MediaStore, address: str) -> None:
    f = Fetcher(store, FetchLimits(tries=1), resolver=lambda host, port: ["93.184.215.14", address])
    res = f.fetch("https://media.example.org/a.jpg")
    assert res.outcome is Outcome.REFUSED and address in res.reason


def test_a_url_with_credentials_or_a_strange_scheme_is_refused(store: MediaStore) -> None:
    f = Fetcher(store, FetchLimits(tries=1), resolver=lambda host, port: ["93.184.215.14"])
    assert "user name or password" in f.fetch("https://user:secret@media.example.org/a.jpg").reason
    assert "only http and https" in f.fetch("ftp://media.example.org/a.jpg").reason


def test_every_redirect_hop_is_checked(server: Server, store: MediaStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback counts as public here (so the test server can answer), 10/8 as private: the
    server's redirect to a host that resolves into 10/8 is refused at that hop."""
    import ipaddress

    from claimwatch.media import fetch as fetch_module

    monkeypatch.setattr(fetch_module, "_refused_address", lambda ip: ip in ipaddress.ip_network("10.0.0.0/8"))
    server.routes["/to-inside"] = redirect("http://intranet.example/admin")
    f = Fetcher(store, FetchLimits(tries=1), resolver=lambda host, port: ["10.0.0.7"])
    res = f.fetch(server.url("/to-inside"))
    assert res.outcome is Outcome.REFUSED and "intranet.example" in res.reason and "10.0.0.7" in res.reason
    assert server.hits["/to-inside"] == 1


DID = "did:plc:ccccexamplecccexample03"
CID = "bafkreirecordvideoexamplerecordvideoexamplerecordvideoa"


def test_a_bluesky_blob_is_fetched_from_the_pds_its_did_document_names(server: Server, store: MediaStore) -> None:
    doc = {
        "id": DID,
        "service": [
            {"id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": "https://feed.example"},
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": server.url("")},
        ],
    }
    server.routes[f"/{DID}"] = send(json.dumps(doc).encode(), ctype="application/did+ld+json")
    server.routes[f"/xrpc/com.atproto.sync.getBlob?did={DID.replace(':', '%3A')}&cid={CID}"] = send(
        MP4_HEAD, ctype="video/mp4"
    )
    f = fetcher(store)
    f.plc_directory = server.url("")
    first = f.fetch(f"at://{DID}/blob/{CID}")
    assert first.outcome is Outcome.FETCHED and first.info.mime == "video/mp4"
    assert f.fetch(f"at://{DID}/blob/{CID}").outcome is Outcome.FETCHED
    assert server.hits[f"/{DID}"] == 1  # the PDS is looked up once per run


def test_a_did_document_without_a_pds_or_pointing_home_is_not_followed(server: Server, store: MediaStore) -> None:
    server.routes[f"/{DID}"] = send(json.dumps({"id": DID, "service": []}).encode(), ctype="application/json")
    f = fetcher(store)
    f.plc_directory = server.url("")
    res = f.fetch(f"at://{DID}/blob/{CID}")
    assert res.outcome is Outcome.FAILED and "names no atproto PDS" in res.reason
    res = fetcher(store, allow_private=False).fetch(f"at://did:web:localhost/blob/{CID}")
    assert res.outcome is Outcome.REFUSED and res.reason.startswith("DID document of did:web:localhost: localhost")
    assert "not a blob reference" in fetcher(store).fetch("at://did:plc:x/app.bsky.feed.post/1").reason


def tls_server(tmp_path: Path, name: str, body: bytes) -> tuple[ThreadingHTTPServer, ssl.SSLContext]:
    """An HTTPS server on loopback with a self-signed certificate for ``name``, and a client
    context trusting exactly that certificate."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName=DNS:{name}",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            assert self.headers["Host"].startswith(name)
            send(body)(self)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd, ssl.create_default_context(cafile=str(cert))


def test_https_goes_to_the_checked_address_with_the_hosts_tls_name(tmp_path: Path, store: MediaStore) -> None:
    httpd, trusted = tls_server(tmp_path, "media.example.org", jpeg())
    try:
        port = httpd.server_address[1]
        f = Fetcher(
            store, FetchLimits(allow_private=True, tries=1), resolver=lambda h, p: ["127.0.0.1"], verify=trusted
        )
        assert f.fetch(f"https://media.example.org:{port}/a.jpg").outcome is Outcome.FETCHED
        wrong = f.fetch(f"https://other.example.org:{port}/a.jpg")  # the certificate names another host
        assert wrong.outcome is Outcome.FAILED and "CERTIFICATE_VERIFY_FAILED" in wrong.reason
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_sniff_allow_list() -> None:
    assert sniff(jpeg()).mime == "image/jpeg"
    assert sniff(MP4_HEAD).kind is MediaKind.VIDEO
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ").mime == "audio/wav"
    assert sniff(b"ID3\x04\x00").mime == "audio/mpeg"
    for junk, word in [
        (b"", "empty"),
        (b"  <html>", "HTML"),
        (b"<svg xmlns=", "HTML/XML"),
        (b"MZ\x90\x00", "first bytes"),
    ]:
        with pytest.raises(Refused, match=word):
            sniff(junk)


def test_local_files_fifo_and_symlink_are_refused(tmp_path: Path, store: MediaStore) -> None:
    good = tmp_path / "a.jpg"
    good.write_bytes(jpeg())
    f = fetcher(store)
    assert f.fetch_file(good).outcome is Outcome.FETCHED
    fifo = tmp_path / "endless.jpg"
    os.mkfifo(fifo)
    res = f.fetch_file(fifo)
    assert res.outcome is Outcome.REFUSED and "not a regular file" in res.reason
    link = tmp_path / "link.jpg"
    link.symlink_to(good)
    assert f.fetch_file(link).outcome is Outcome.REFUSED
    assert f.fetch_file(tmp_path / "gone.jpg").outcome is Outcome.FAILED


def test_media_folder_sits_beside_a_sqlite_store_or_in_the_current_folder(tmp_path: Path) -> None:
    assert media_dir_for(tmp_path / "study.db") == tmp_path / "study.media"
    assert media_dir_for("postgresql+psycopg://u@h/db") == Path("claimwatch.media").resolve()
    store = str(tmp_path / "study.db")
    assert media_dir_of(Settings(db=store)) == tmp_path / "study.media"
    assert media_dir_of(Settings(db=store, media_dir=str(tmp_path / "setting"))) == tmp_path / "setting"
    assert media_dir_of(Settings(db=store, media_dir="x"), tmp_path / "flag") == tmp_path / "flag"


def test_sweep_removes_only_stale_temporary_files(store: MediaStore) -> None:
    (store.root / TMP).mkdir(parents=True)
    old, fresh = store.root / TMP / "old.part", store.root / TMP / "fresh.part"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (time.time() - 10 * 3600,) * 2)
    assert store.sweep() == 1 and not old.exists() and fresh.exists()


# ---------------------------------------------------------------------------- the queue


def media_page(urls: dict[str, str], video: tuple[str, list[dict]] | None = None) -> dict:
    """An X v2 page: one post per photo URL (key → url), and optionally a video post."""
    posts = [post(f"90{i}", f"photo post {i}", attachments={"media_keys": [key]}) for i, key in enumerate(urls)]
    media = [{"media_key": key, "type": "photo", "url": url} for key, url in urls.items()]
    if video:
        key, variants = video
        posts.append(post("990", "video post", attachments={"media_keys": [key]}))
        media.append({"media_key": key, "type": "video", "duration_ms": 10_000, "variants": variants})
    p = page(posts)
    p["includes"]["media"] = media
    return p


def ingest(ws: claimwatch.Workspace, tmp_path: Path, data: dict, name: str = "page.jsonl") -> None:
    path = tmp_path / name
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    ws.ingest_posts([path])


def fetches(ws: claimwatch.Workspace) -> list[sa.Row]:
    with ws.engine.connect() as conn:
        f = s.MediaFetch
        return conn.execute(
            sa.select(f.url, f.status, f.attempts, f.file_id, f.last_error, f.next_attempt_at).order_by(f.id)
        ).all()


def test_queue_fetches_each_reference_once_and_a_rerun_fetches_nothing(
    server: Server, tmp_path: Path, each_store: claimwatch.Workspace
) -> None:
    ws = each_store
    store = MediaStore(tmp_path / "m")
    server.routes["/1.jpg"] = send(jpeg((10, 10, 10)))
    server.routes["/2.jpg"] = send(jpeg((250, 250, 0)))
    ingest(ws, tmp_path, media_page({"3_1": server.url("/1.jpg"), "3_2": server.url("/2.jpg")}))
    first = downloads.fetch_media(ws.engine, store, LOCAL)
    assert (first.queued, first.fetched, first.failed, first.refused) == (2, 2, 0, 0)
    assert first.bytes == sum(p.stat().st_size for p in files_in(store))
    assert [r.status for r in fetches(ws)] == ["fetched", "fetched"] and all(r.file_id for r in fetches(ws))
    again = downloads.fetch_media(ws.engine, store, LOCAL)
    assert (again.queued, again.fetched, again.failed) == (0, 0, 0)
    assert server.hits == Counter({"/1.jpg": 1, "/2.jpg": 1})
    # re-ingesting the same posts with newer metrics keeps the media rows and their downloads
    newer = media_page({"3_1": server.url("/1.jpg"), "3_2": server.url("/2.jpg")})
    newer["__twarc"]["retrieved_at"] = "2024-08-02T12:00:00+00:00"
    for p in newer["data"]:
        p["public_metrics"]["impression_count"] = 5000
    ingest(ws, tmp_path, newer, "newer.jsonl")
    assert [r.status for r in fetches(ws)] == ["fetched", "fetched"]


def test_same_bytes_from_two_urls_are_one_file(server: Server, tmp_path: Path, ws: claimwatch.Workspace) -> None:
    body = jpeg()
    server.routes["/a.jpg"] = server.routes["/copy-of-a.jpg"] = send(body)
    ingest(ws, tmp_path, media_page({"3_1": server.url("/a.jpg"), "3_2": server.url("/copy-of-a.jpg")}))
    downloads.fetch_media(ws.engine, MediaStore(tmp_path / "m"), LOCAL)
    rows = fetches(ws)
    assert [r.status for r in rows] == ["fetched", "fetched"] and rows[0].file_id == rows[1].file_id
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.MediaFile)).scalar() == 1


def test_video_variant_under_the_cap_is_chosen(server: Server, tmp_path: Path, ws: claimwatch.Workspace) -> None:
    server.routes["/small.mp4"] = send(MP4_HEAD, ctype="video/mp4")
    variants = [
        {"content_type": "application/x-mpegURL", "url": server.url("/pl.m3u8")},
        {"bit_rate": 2_176_000, "content_type": "video/mp4", "url": server.url("/big.mp4")},  # ~2.7 MB in 10 s
        {"bit_rate": 256_000, "content_type": "video/mp4", "url": server.url("/small.mp4")},  # ~320 kB
    ]
    ingest(ws, tmp_path, media_page({}, ("13_1", variants)))
    summary = downloads.fetch_media(ws.engine, MediaStore(tmp_path / "m"), LOCAL)  # cap 1 MB
    assert summary.fetched == 1 and server.hits == Counter({"/small.mp4": 1})
    with ws.engine.connect() as conn:
        assert conn.execute(sa.select(s.MediaFile.kind, s.MediaFile.mime)).one() == ("video", "video/mp4")


@pytest.mark.slow
def test_failure_backs_off_exhausts_and_waits_for_retry_failed(
    server: Server, tmp_path: Path, ws: claimwatch.Workspace
) -> None:
    server.routes["/gone.jpg"] = send(b"no", 404, "text/plain")
    ingest(ws, tmp_path, media_page({"3_1": server.url("/gone.jpg")}))
    store, clock = MediaStore(tmp_path / "m"), [s.utcnow()]
    now = lambda: clock[0]  # noqa: E731
    assert downloads.fetch_media(ws.engine, store, LOCAL, now=now).failed == 1
    (row,) = fetches(ws)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 404")
    assert row.next_attempt_at == clock[0] + q.BACKOFF
    assert downloads.fetch_media(ws.engine, store, LOCAL, now=now).failed == 0  # not due yet
    for _ in range(q.MAX_ATTEMPTS - 1):
        clock[0] += q.BACKOFF_CAP
        downloads.fetch_media(ws.engine, store, LOCAL, now=now)
    (row,) = fetches(ws)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", q.MAX_ATTEMPTS, None)
    clock[0] += timedelta(days=30)
    assert downloads.fetch_media(ws.engine, store, LOCAL, now=now).failed == 0  # stays failed
    server.routes["/gone.jpg"] = send(jpeg())
    again = downloads.fetch_media(ws.engine, store, LOCAL, now=now, retry_failed=True)
    assert (again.retried, again.fetched) == (1, 1)
    assert server.hits["/gone.jpg"] == q.MAX_ATTEMPTS + 1


def test_a_long_retry_after_sets_the_next_attempt(server: Server, tmp_path: Path, ws: claimwatch.Workspace) -> None:
    server.routes["/busy.jpg"] = send(b"", 429, "text/plain", Retry_After="7200")
    ingest(ws, tmp_path, media_page({"3_1": server.url("/busy.jpg")}))
    clock = s.utcnow()
    downloads.fetch_media(ws.engine, MediaStore(tmp_path / "m"), LOCAL, now=lambda: clock)
    (row,) = fetches(ws)
    assert row.status == "failed" and row.next_attempt_at == clock + timedelta(seconds=7200)


def test_refused_rows_are_never_retried(server: Server, tmp_path: Path, ws: claimwatch.Workspace) -> None:
    server.routes["/page.jpg"] = send(b"<html><body>login</body></html>" * 4, ctype="image/jpeg")
    ingest(ws, tmp_path, media_page({"3_1": server.url("/page.jpg")}))
    store = MediaStore(tmp_path / "m")
    assert downloads.fetch_media(ws.engine, store, LOCAL).refused == 1
    assert downloads.fetch_media(ws.engine, store, LOCAL, retry_failed=True).refused == 0
    (row,) = fetches(ws)
    assert row.status == "refused" and "HTML" in row.last_error and server.hits["/page.jpg"] == 1


def test_a_dropped_connection_leaves_nothing_and_a_rerun_resumes(
    server: Server, tmp_path: Path, ws: claimwatch.Workspace
) -> None:
    body = jpeg() + b"\x00" * 20_000
    server.routes["/big.jpg"] = dropped(body)
    ingest(ws, tmp_path, media_page({"3_1": server.url("/big.jpg")}))
    store, clock = MediaStore(tmp_path / "m"), [s.utcnow()]
    first = downloads.fetch_media(ws.engine, store, LOCAL, now=lambda: clock[0])
    assert first.failed == 1 and "network error" in first.errors[0]
    (row,) = fetches(ws)
    assert row.file_id is None and files_in(store) == []  # nothing half-written, nothing counted
    server.routes["/big.jpg"] = send(body)
    clock[0] += q.BACKOFF
    assert downloads.fetch_media(ws.engine, store, LOCAL, now=lambda: clock[0]).fetched == 1
    assert [p.read_bytes() for p in files_in(store)] == [body]


@pytest.mark.slow
def test_an_interrupted_run_hands_its_claims_back(server: Server, tmp_path: Path, ws: claimwatch.Workspace) -> None:
    server.routes["/1.jpg"] = send(jpeg((1, 2, 3)))
    server.routes["/2.jpg"] = send(jpeg((200, 2, 3)))
    ingest(ws, tmp_path, media_page({"3_1": server.url("/1.jpg"), "3_2": server.url("/2.jpg")}))
    store = MediaStore(tmp_path / "m")

    def interrupt(url: str, result: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        downloads.fetch_media(ws.engine, store, LOCAL, progress=interrupt)
    assert [r.status for r in fetches(ws)] == ["fetched", "pending"]  # the first was recorded
    assert downloads.fetch_media(ws.engine, store, LOCAL).fetched == 1
    assert server.hits == Counter({"/1.jpg": 1, "/2.jpg": 1})


def test_a_killed_runs_claim_is_taken_again_after_its_lease(tmp_path: Path, ws: claimwatch.Workspace) -> None:
    ingest(ws, tmp_path, media_page({"3_1": "https://media.example.org/1.jpg"}))
    downloads.enqueue(ws.engine, None)
    now = s.utcnow()
    with db.writing(ws.engine) as conn:
        (claimed,) = q.claim(conn, now, 5, timedelta(minutes=10))
        assert q.claim(conn, now, 5, timedelta(minutes=10)) == []  # another run: nothing due
        assert [c.id for c in q.claim(conn, now + timedelta(minutes=11), 5, timedelta(minutes=10))] == [claimed.id]


@pytest.mark.slow
def test_two_concurrent_runs_never_download_a_row_twice(
    server: Server, tmp_path: Path, each_store: claimwatch.Workspace
) -> None:
    ws = each_store
    urls = {f"3_{i}": server.url(f"/{i}.jpg") for i in range(12)}
    for i in range(12):
        server.routes[f"/{i}.jpg"] = send(jpeg((i * 20, 0, 0)))
    server.delay = 0.02
    ingest(ws, tmp_path, media_page(urls))
    store = MediaStore(tmp_path / "m")
    results: list[downloads.FetchSummary] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(downloads.fetch_media(ws.engine, store, LOCAL))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.fetched for r in results) == 12 and sum(r.queued for r in results) == 12
    assert set(server.hits.values()) == {1}
    assert {r.status for r in fetches(ws)} == {"fetched"}


# ---------------------------------------------------------------------------- the CLI


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow  # several store opens and CLI runs: ~1-2 s on a busy machine
def test_cli_fetch_status_json_and_errors(server: Server, tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    claimwatch.open(db)
    server.routes["/a.jpg"] = send(jpeg())
    ws = claimwatch.open(db)
    ingest(ws, tmp_path, media_page({"3_1": server.url("/a.jpg"), "3_2": server.url("/nope.jpg")}))
    refused = cli("media", "fetch", "--db", db, "--json")
    assert refused.exit_code == 0 and json.loads(refused.stdout)["refused"] == 2  # loopback without the opt-in
    status = json.loads(cli("media", "status", "--db", db, "--json").stdout)
    assert {(c["status"], c["type"], c["n"]) for c in status["counts"]} == {("refused", "photo", 2)}
    assert "loopback" in status["recent_errors"][0]["error"]

    db2 = str(tmp_path / "cli2.db")
    ingest(claimwatch.open(db2), tmp_path, media_page({"3_1": server.url("/a.jpg")}), "p2.jsonl")
    done = cli("media", "fetch", "--db", db2, "--allow-private", "--timeout", "5")
    assert done.exit_code == 0 and "fetched 1" in done.stdout
    assert (tmp_path / "cli2.media").is_dir() and str(tmp_path / "cli2.media") in done.stdout

    bad = cli("media", "fetch", "--db", db2, "--max-bytes", "lots")
    assert bad.exit_code == 2 and "--max-bytes 'lots'" in bad.stderr and "Traceback" not in bad.output


@pytest.mark.slow  # several store opens and CLI runs: ~1-2 s on a busy machine
def test_cli_add_attaches_a_local_file_once(tmp_path: Path) -> None:
    db = str(tmp_path / "add.db")
    ws = claimwatch.open(db)
    ingest(ws, tmp_path, media_page({}) | {"data": [post("901", "a post")]})
    photo = tmp_path / "saved.jpg"
    photo.write_bytes(jpeg())
    first = cli("media", "add", "901", str(photo), "--db", db)
    assert first.exit_code == 0 and "attached" in first.stdout
    assert "already has this file" in cli("media", "add", "901", str(photo), "--db", db).stdout
    with ws.engine.connect() as conn:
        key, kind = conn.execute(sa.select(s.Media.media_key, s.Media.type)).one()
        assert key.startswith("local:") and kind == "image"
    assert [r.status for r in fetches(ws)] == ["fetched"]
    missing = cli("media", "add", "12345", str(photo), "--db", db)
    assert missing.exit_code == 2 and "no x post 12345 in the store" in missing.stderr
    text = tmp_path / "notes.txt"
    text.write_text("not an image at all, just notes")
    wrong = cli("media", "add", "901", str(text), "--db", db)
    assert wrong.exit_code == 2 and "not a media type" in wrong.stderr


def test_a_changed_post_version_updates_its_media_in_place_and_keeps_attached_files(
    tmp_path: Path, ws: claimwatch.Workspace
) -> None:
    first = media_page({"3_1": "https://media.example.org/1.jpg", "3_2": "https://media.example.org/2.jpg"})
    first["data"][0]["attachments"]["media_keys"] = ["3_1", "3_2"]  # post 900 has both, post 901 one
    ingest(ws, tmp_path, first)
    photo = tmp_path / "saved.jpg"
    photo.write_bytes(jpeg())
    downloads.add_local(ws.engine, MediaStore(tmp_path / "m"), LOCAL, "x", "900", photo)

    def media() -> dict[tuple[str, str], sa.Row]:
        with ws.engine.connect() as conn:
            rows = conn.execute(
                sa.select(s.Post.platform_id, s.Media.media_key, s.Media.id, s.Media.url).join(
                    s.Post, s.Post.id == s.Media.post_id
                )
            )
            return {(r.platform_id, r.media_key): r for r in rows}

    before = media()
    newer = media_page({"3_1": "https://media.example.org/1-new.jpg", "3_2": "https://media.example.org/2.jpg"})
    newer["__twarc"]["retrieved_at"] = "2024-08-02T12:00:00+00:00"
    newer["data"][0]["text"] = "photo post 0, edited"  # the new version of post 900 lists only 3_1
    ingest(ws, tmp_path, newer, "newer.jsonl")
    after = media()
    local = next(k for k in before if k[1].startswith("local:"))
    assert after[("900", "3_1")].id == before[("900", "3_1")].id  # the same row (its download kept)
    assert after[("900", "3_1")].url.endswith("/1-new.jpg")
    assert ("900", "3_2") not in after and ("901", "3_2") in after  # gone from this post only
    assert local in after  # the analyst's file stays with its post
