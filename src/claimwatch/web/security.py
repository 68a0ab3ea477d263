"""Who is asking and may they: sessions, API tokens, CSRF, roles, the sign-in rate limit and
the security headers every response carries.

Decisions (README "Review in the browser" → Security):

- Sessions are Starlette's signed cookie (itsdangerous): HttpOnly, SameSite=Strict, Secure with
  ``--secure-cookies``; the signing key is kept in the store (:meth:`Workspace.shared_secret`),
  so every server on one store accepts the same sessions and a restart signs nobody out.
  The cookie holds only the user name and the CSRF token; the user is looked up on every request,
  so a removed or disabled user is signed out at once.
- CSRF: a random token per session, in every form (``csrf_token``) and, for htmx, the
  ``X-CSRF-Token`` header; every state-changing request through a session must carry it.
  Bearer-token requests carry no cookie, so they need none.
- :func:`require` is the one dependency every route uses: role, then CSRF for changes.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import Response

from claimwatch.api import Workspace
from claimwatch.records import Role
from claimwatch.store.rows import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "claimwatch_session"
SESSION_SECRET = "web_session_key"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders(BaseHTTPMiddleware):
    """The strict CSP and its companions on every response, error pages included."""

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


@dataclass(frozen=True)
class Principal:
    user: User
    #: "session" (a browser: changes need the CSRF token) or "token" (a script)
    via: str

    @property
    def role(self) -> Role:
        return Role(self.user.role)


def workspace(request: Request) -> Workspace:
    return request.app.state.workspace


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made when first needed (the sign-in form gets one too)."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


async def check_csrf(request: Request) -> None:
    """403 unless the request carries this session's CSRF token (header, else form field)."""
    expected = request.session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def principal(request: Request) -> Principal | None:
    """The caller: a bearer token (scripts) or the signed session cookie (browsers)."""
    ws = workspace(request)
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        user = ws.verify_token(auth[7:].strip())
        if user is None:
            raise HTTPException(401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"})
        return Principal(user, "token")
    name = request.session.get("user")
    user = ws.user(name) if isinstance(name, str) else None
    if user is None or user.disabled:
        return None
    return Principal(user, "session")


def is_api(request: Request) -> bool:
    return request.url.path.startswith(request.scope.get("root_path", "") + "/api/")


def require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency of every route: a signed-in caller with at least ``role``; for a change
    (any method but GET/HEAD/OPTIONS) through a session, the CSRF token as well."""

    async def dependency(request: Request) -> Principal:
        who = principal(request)
        if who is None:
            if is_api(request):
                raise HTTPException(401, "sign in or send Authorization: Bearer TOKEN", {"WWW-Authenticate": "Bearer"})
            raise HTTPException(303, "sign in first", {"Location": str(request.url_for("login_form"))})
        if request.method not in SAFE_METHODS and who.via == "session":
            await check_csrf(request)
        if not who.role.allows(role):
            raise HTTPException(403, f"{who.user.name} is a {who.role.value}; this needs the {role.value} role")
        return who

    return dependency


class FailureLimit:
    """Sign-in failures counted per key (the name tried, the client address): after ``limit``
    failures within ``window`` seconds a key is refused (429) until the oldest failure ages out.
    In memory, per server process: a restart forgets (say so in the README)."""

    def __init__(self, limit: int = 5, window: float = 15 * 60, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, keys: list[str]) -> int | None:
        """Seconds until every key may try again, or None when none is blocked."""
        now = self.clock()
        with self._lock:
            waits = [times[0] + self.window - now for key in keys if len(times := self._recent(key, now)) >= self.limit]
        return max(1, int(max(waits)) + 1) if waits else None

    def fail(self, keys: list[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
