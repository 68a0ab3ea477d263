"""Download one post media file, treating the URL and everything the server sends as hostile.

A post names the URL, so the URL is the attacker's: it may point at this machine or its network
(SSRF), redirect to ``file://``, never end, lie about its size or type, or answer with an HTML
error page. Hence, for every hop:

- only http/https; the host is resolved here and every address must be public (loopback,
  private, link-local, multicast and reserved ranges are refused unless ``allow_private``, which
  only tests and deliberate local setups use); the connection then goes to the address that was
  checked (the Host header and TLS name stay the host's), so a second DNS answer cannot swap it;
- redirects are followed by hand, capped, each one checked like the first;
- connect/read timeouts plus a total deadline per attempt (a server trickling bytes is cut off);
- a byte cap: a declared Content-Length over it is refused before any body is read, and the body
  is counted as it streams (the header is never trusted);
- the type is sniffed from the first bytes (:func:`sniff`); the declared Content-Type is kept,
  never believed; HTML and JSON (error pages) are refused;
- 5xx, 429 and network errors are retried a few times, honouring Retry-After up to a cap (a
  longer Retry-After ends the attempt and is handed to the queue as the next attempt time);
- no credentials: proxies and ``.netrc`` from the environment are ignored (``trust_env=False``),
  no cookies are kept, and no body is decompressed (``Accept-Encoding: identity``).

A Bluesky blob (``at://DID/blob/CID``) is fetched from the author's PDS: the DID document
(PLC directory, or the did:web host) names it, and both requests go through the same checks.

The bytes go through :class:`~claimwatch.media.storage.MediaStore` (temporary file, fsync,
rename to the content address), so nothing half-written is ever a file.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import re
import socket
import ssl
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import httpx

from claimwatch import __version__
from claimwatch.media import guard
from claimwatch.media.records import MediaInfo, Refused
from claimwatch.media.storage import MediaStore, StoredBytes

USER_AGENT = f"claimwatch/{__version__} (media fetch for fact-checking research)"
#: bytes read before the type is decided (every signature below fits)
SNIFF_BYTES = 64
CHUNK = 64 * 1024
MIB = 1024 * 1024
PLC_DIRECTORY = "https://plc.directory"
#: a DID document is small; a bigger answer is not one
DOC_CAP = 256 * 1024
#: a DID (did:plc:…, did:web:…) and a base32 CIDv1, checked before either goes into a URL
DID = r"did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}"
CID = r"b[a-z2-7]{20,200}"
#: the queue's form of a Bluesky blob (see ``media.refs``): the repo's DID and the blob's CID
_AT_BLOB = re.compile(rf"at://({DID})/blob/({CID})")


def blob_ref(did: str, cid: str) -> str | None:
    """``at://DID/blob/CID`` — fetched from the PDS the DID names — or None if either is malformed."""
    ref = f"at://{did}/blob/{cid}"
    return ref if _AT_BLOB.fullmatch(ref) else None


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """How far a download may go. The defaults suit post media (a photo is a few MB, a post
    video rarely over 100 MB); ``media fetch`` options override them."""

    max_bytes: int = 200 * MIB
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    #: the whole attempt, headers to last byte
    total_timeout_s: float = 300.0
    max_redirects: int = 5
    #: attempts within one run (network errors, 5xx, 429)
    tries: int = 3
    #: first pause between attempts; doubles each time
    backoff_s: float = 1.0
    #: the longest Retry-After waited for within a run; a longer one is left to the queue
    retry_after_cap_s: float = 30.0
    #: fetch from loopback/private/link-local addresses (tests, deliberate local mirrors only)
    allow_private: bool = False


class Outcome(StrEnum):
    FETCHED = "fetched"
    #: worth another try later (network, 5xx, 429, 404 — a platform may be slow to publish)
    FAILED = "failed"
    #: never worth another try: too large, not media, a forbidden address or scheme
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class FetchResult:
    outcome: Outcome
    #: one line: why it failed or was refused (None when fetched)
    reason: str | None = None
    http_status: int | None = None
    declared_type: str | None = None
    final_url: str | None = None
    stored: StoredBytes | None = None
    info: MediaInfo | None = None
    #: the server's Retry-After when it was longer than a run waits (seconds)
    retry_after_s: float | None = None


class _Retry(Exception):
    """An attempt that may succeed if repeated (network error, 5xx, 429)."""

    def __init__(self, reason: str, status: int | None = None, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.status, self.retry_after_s = status, retry_after_s


class _Refuse(Exception):
    def __init__(self, reason: str, status: int | None = None, declared: str | None = None) -> None:
        super().__init__(reason)
        self.status, self.declared = status, declared


class _Fail(Exception):
    """A definite answer that is not the file (4xx): not repeated in this run."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


# ------------------------------------------------------------------------------------ the type


def sniff(head: bytes) -> MediaInfo:
    """The media type of a file from its first bytes (the hashers' own sniffing,
    :func:`claimwatch.media.guard.sniff`), or :class:`Refused` naming what it is instead. HEIC
    and AVIF are refused here: the hashers do not decode them, so they would be kept for nothing."""
    found = guard.sniff(head)
    if found is None:
        raise Refused(_not_media(head))
    if found.mime in _UNREAD:
        raise Refused(f"an {found.name} image, which claimwatch does not read")
    return MediaInfo(found.kind, found.mime)


_UNREAD = frozenset({"image/heic", "image/avif"})


def _not_media(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return "an empty body, not media"
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<svg", b"<!--")):
        return "an HTML/XML page (an error or login page?), not media"
    if text.startswith((b"{", b"[")):
        return "a JSON document (an API error?), not media"
    if text.startswith(b"#extm3u"):
        return "an HLS playlist (a list of segments), not a media file"
    return f"not a media type claimwatch reads (first bytes {head[:8].hex()})"


# ------------------------------------------------------------------------------- addresses


def _refused_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the system resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _Retry(f"cannot resolve {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# ---------------------------------------------------------------------------- the fetcher


@dataclass
class Fetcher:
    """Downloads into a :class:`MediaStore`. One per run: it keeps an HTTP client open.

    ``resolver`` and ``sleep`` are seams for tests (a fake DNS answer, no real waiting)."""

    store: MediaStore
    limits: FetchLimits = field(default_factory=FetchLimits)
    resolver: Resolver = resolve
    sleep: Callable[[float], None] = time.sleep
    #: where did:plc documents are resolved (Bluesky blobs)
    plc_directory: str = PLC_DIRECTORY
    #: TLS verification (httpx's ``verify``: the system's CAs, or a context a test trusts)
    verify: ssl.SSLContext | bool = True

    def __post_init__(self) -> None:
        #: DID -> PDS endpoint, for this run
        self._pds: dict[str, str] = {}
        lim = self.limits
        # No kept-alive connections: the pool is keyed by the (pinned) address, and a connection
        # opened with one host's TLS name must not carry another host's request.
        self._client = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            verify=self.verify,
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=httpx.Timeout(lim.read_timeout_s, connect=lim.connect_timeout_s),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "image/*,video/*,audio/*"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def fetch(self, url: str) -> FetchResult:
        """The file at ``url`` (http/https; a ``file://`` path the queue made from a local export;
        an ``at://DID/blob/CID`` Bluesky blob): fetched, failed (worth retrying later) or refused."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return self.fetch_file(Path(unquote(urlsplit(url).path)))
        if scheme == "at":
            target = self._blob_url(url)
            if isinstance(target, FetchResult):
                return target
            url = target
        return self._retrying(url, self._body)

    def _retrying(self, url: str, read: Callable[[str, httpx.Response, float], _T]) -> _T | FetchResult:
        """``read`` the answer to ``url``, retrying network errors, 5xx and 429 (see the module
        docstring); a failure or refusal as a :class:`FetchResult`."""
        lim, pause = self.limits, self.limits.backoff_s
        for attempt in range(1, lim.tries + 1):
            try:
                return self._attempt(url, read)
            except _Refuse as exc:
                return FetchResult(Outcome.REFUSED, str(exc), exc.status, exc.declared)
            except _Fail as exc:
                return FetchResult(Outcome.FAILED, str(exc), exc.status)
            except _Retry as exc:
                wait = pause if exc.retry_after_s is None else exc.retry_after_s
                if attempt == lim.tries or wait > lim.retry_after_cap_s:
                    later = exc.retry_after_s if wait > lim.retry_after_cap_s else None
                    return FetchResult(Outcome.FAILED, str(exc), exc.status, retry_after_s=later)
                self.sleep(wait)
                pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    # ---------------------------------------------------------------- Bluesky blobs

    def _blob_url(self, url: str) -> str | FetchResult:
        """``at://DID/blob/CID`` → the ``com.atproto.sync.getBlob`` URL on the PDS the DID
        document names (did:plc from the PLC directory, did:web from the host); cached per run."""
        match = _AT_BLOB.fullmatch(url)
        if match is None:
            return FetchResult(Outcome.REFUSED, f"not a blob reference claimwatch makes: {url[:100]}")
        did, cid = match.group(1), match.group(2)
        if did not in self._pds:
            doc_url = _did_document_url(did, self.plc_directory)
            if doc_url is None:
                return FetchResult(Outcome.REFUSED, f"{did}: a DID method claimwatch does not resolve")
            doc = self._retrying(doc_url, self._json_body)
            if isinstance(doc, FetchResult):
                return replace(doc, reason=f"DID document of {did}: {doc.reason}")
            endpoint = _pds_endpoint(doc)
            if endpoint is None:
                return FetchResult(Outcome.FAILED, f"DID document of {did} names no atproto PDS")
            self._pds[did] = endpoint
        query = urlencode({"did": did, "cid": cid})
        return f"{self._pds[did].rstrip('/')}/xrpc/com.atproto.sync.getBlob?{query}"

    def _json_body(self, url: str, response: httpx.Response, deadline: float) -> dict[str, Any]:
        _check_status(response)
        body = b""
        for chunk in response.iter_raw(CHUNK):
            body += chunk
            if len(body) > DOC_CAP:
                raise _Refuse(f"{url}: more than {DOC_CAP:,} bytes, not a DID document")
            if time.monotonic() > deadline:
                raise _Retry(f"timed out (total {self.limits.total_timeout_s:g} s)")
        try:
            doc = json.loads(body)
        except ValueError:
            raise _Fail(f"{url}: not JSON", response.status_code) from None
        if not isinstance(doc, dict):
            raise _Fail(f"{url}: not a JSON object", response.status_code)
        return doc

    # ---------------------------------------------------------------- one attempt

    def _attempt(self, url: str, read: Callable[[str, httpx.Response, float], _T]) -> _T:
        deadline = time.monotonic() + self.limits.total_timeout_s
        seen: list[str] = []
        while True:
            request = self._pinned_request(url)
            seen.append(url)
            try:
                with self._client.stream("GET", request[0], headers=request[1], extensions=request[2]) as response:
                    if response.is_redirect:
                        url = self._next_hop(url, response, seen)
                        continue
                    return read(url, response, deadline)
            except httpx.TimeoutException as exc:
                raise _Retry(f"timed out ({_timeout_kind(exc)})") from None
            except (httpx.TransportError, httpx.StreamError) as exc:
                raise _Retry(f"network error: {exc or type(exc).__name__}") from None

    def _pinned_request(self, url: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
        """The request to the checked address of ``url``'s host (see the module docstring)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise _Refuse(f"not a valid URL ({exc})") from None
        if parsed.scheme not in ("http", "https"):
            raise _Refuse(f"a {parsed.scheme or 'scheme-less'} URL; only http and https are fetched")
        host = parsed.host
        if not host:
            raise _Refuse("a URL without a host")
        if parsed.userinfo:
            raise _Refuse("a URL with a user name or password; refused")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = self.resolver(host, port)
        if not addresses:
            raise _Retry(f"cannot resolve {host}: no address")
        if not self.limits.allow_private:
            bad = next((a for a in addresses if _refused_address(ipaddress.ip_address(a))), None)
            if bad is not None:
                raise _Refuse(
                    f"{host} is a loopback, private or link-local address ({bad}); refused "
                    "(posts are hostile; --allow-private fetches from such addresses)"
                )
        headers = {"Host": parsed.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return parsed.copy_with(host=addresses[0]), headers, extensions

    def _next_hop(self, url: str, response: httpx.Response, seen: list[str]) -> str:
        location = response.headers.get("Location")
        if not location:
            raise _Fail(f"HTTP {response.status_code} redirect without a Location", response.status_code)
        target = urljoin(url, location)
        scheme = urlsplit(target).scheme.lower()
        if scheme not in ("http", "https"):
            raise _Refuse(f"redirected to a {scheme or 'scheme-less'} URL; only http and https are followed")
        if target in seen:
            raise _Fail(f"redirect loop ({len(seen)} hops back to {target})", response.status_code)
        if len(seen) > self.limits.max_redirects:
            raise _Fail(f"more than {self.limits.max_redirects} redirects", response.status_code)
        return target

    def _body(self, url: str, response: httpx.Response, deadline: float) -> FetchResult:
        status, declared = response.status_code, response.headers.get("Content-Type")
        _check_status(response)
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > self.limits.max_bytes:
            raise _Refuse(
                f"declares {int(length):,} bytes, over the {self.limits.max_bytes:,}-byte cap", status, declared
            )

        def chunks() -> Iterator[bytes]:
            for chunk in response.iter_raw(CHUNK):
                if time.monotonic() > deadline:
                    raise _Retry(f"timed out (total {self.limits.total_timeout_s:g} s)")
                yield chunk

        try:
            stored, info = self._store(chunks())
        except Refused as exc:
            raise _Refuse(str(exc), status, declared) from None
        return FetchResult(Outcome.FETCHED, None, status, declared, url, stored, info)

    # ---------------------------------------------------------------- bytes → store

    def _store(self, chunks: Iterator[bytes]) -> tuple[StoredBytes, MediaInfo]:
        """Stream ``chunks`` into the media folder: the type decided on the first bytes, the cap
        enforced as they come; :class:`Refused` (or any error) leaves nothing behind."""
        cap, head, info = self.limits.max_bytes, b"", None
        with self.store.writing() as (sink, done):
            for chunk in chunks:
                if sink.size + len(head) + len(chunk) > cap:
                    raise Refused(f"more than {cap:,} bytes (the cap); refused")
                if info is None:
                    head += chunk
                    if len(head) < SNIFF_BYTES:
                        continue
                    info, chunk, head = sniff(head), head, b""
                sink.write(chunk)
            if info is None:
                info = sniff(head)
                sink.write(head)
        return done[0], info

    def fetch_file(self, path: Path) -> FetchResult:
        """A local file (an export's file the queue named — posts never give ``file://`` — or one an
        analyst attaches): a regular file only (a FIFO or device is an endless stream), not through
        a symlink, under the same cap and type check as a download."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            reason = f"{path}: {exc.strerror or exc}"
            return FetchResult(Outcome.FAILED if exc.errno == errno.ENOENT else Outcome.REFUSED, reason)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return FetchResult(Outcome.REFUSED, f"{path}: not a regular file")
            if st.st_size > self.limits.max_bytes:
                return FetchResult(
                    Outcome.REFUSED, f"{path}: {st.st_size:,} bytes, over the {self.limits.max_bytes:,}-byte cap"
                )
            try:
                stored, info = self._store(iter(lambda: fh.read(CHUNK), b""))
            except Refused as exc:
                return FetchResult(Outcome.REFUSED, f"{path}: {exc}")
        return FetchResult(Outcome.FETCHED, final_url=path.as_uri(), stored=stored, info=info)


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retry(f"HTTP {status}", status, _retry_after(response.headers.get("Retry-After")))
    if status != 200:
        raise _Fail(f"HTTP {status}", status)


def _did_document_url(did: str, plc_directory: str) -> str | None:
    """Where a DID's document is: the PLC directory for did:plc, the host for did:web."""
    if did.startswith("did:plc:"):
        return f"{plc_directory.rstrip('/')}/{did}"
    if did.startswith("did:web:"):
        host, *path = (unquote(part) for part in did.removeprefix("did:web:").split(":"))
        return f"https://{host}/{'/'.join(path)}/did.json" if path else f"https://{host}/.well-known/did.json"
    return None


def _pds_endpoint(doc: dict[str, Any]) -> str | None:
    """The ``#atproto_pds`` service endpoint of a DID document (an http/https URL), else None."""
    services = doc.get("service")
    for service in services if isinstance(services, list) else ():
        if not isinstance(service, dict) or not str(service.get("id", "")).endswith("#atproto_pds"):
            continue
        endpoint = service.get("serviceEndpoint")
        if isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("http", "https"):
            return endpoint
    return None


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.ReadTimeout):
        return "no data for the read timeout"
    return type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110 §10.2.3); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
