"""The web workspace (``claimwatch serve``): server-rendered pages and a JSON API over one store,
built on the library API (:class:`claimwatch.api.Workspace`) like the CLI.

    >>> from claimwatch.web import create_app, WebOptions
    >>> app = create_app(claimwatch.open("study.db"), WebOptions(studies_dir=Path("studies")))

Security decisions are in :mod:`claimwatch.web.security`; the README's "Review in the browser"
says how to run it behind a reverse proxy.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from claimwatch.api import Workspace
from claimwatch.config import Settings
from claimwatch.web import api_v1, pages, review
from claimwatch.web import security as sec
from claimwatch.web.render import render
from claimwatch.web.studies import Runs

STATIC = Path(__file__).resolve().parent / "static"
#: a signed-in browser stays signed in this long without signing in again
SESSION_HOURS = 12


@dataclass(frozen=True)
class WebOptions:
    #: the folder whose study files the Dashboard and Studies pages offer
    studies_dir: Path = Path("studies")
    #: where report files of computed studies are written (default: a new temporary folder)
    runs_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="claimwatch-web-")))
    #: session cookie over HTTPS only (set behind a TLS-terminating proxy)
    secure_cookies: bool = False
    #: sign-in failures allowed per name and per address within ``login_window`` seconds
    login_failures: int = 5
    login_window: float = 15 * 60
    #: the largest study file an upload may be (bytes)
    max_upload: int = 256 * 1024


def create_app(workspace: Workspace | Settings, options: WebOptions | None = None) -> FastAPI:
    """The app over ``workspace`` (or the store named by ``settings``, opened for writing)."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    options = options or WebOptions()
    options.runs_dir.mkdir(parents=True, exist_ok=True)
    app = FastAPI(
        title="claimwatch",
        summary="Posts repeating fact-checked claims: review, search, studies, audit, users (JSON for every page).",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI needs inline script and a CDN: see api_docs, below
        redoc_url=None,
    )
    app.state.workspace = ws
    app.state.options = options
    app.state.runs = Runs()
    app.state.login_limit = sec.FailureLimit(options.login_failures, options.login_window)
    # Starlette's cookie is HttpOnly always; SameSite=Strict keeps it off every cross-site request.
    app.add_middleware(
        SessionMiddleware,
        secret_key=ws.shared_secret(sec.SESSION_SECRET),
        session_cookie=sec.SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=options.secure_cookies,
    )
    app.add_middleware(sec.SecurityHeaders)  # added last = outermost: on every response
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(pages.router)
    app.include_router(review.router)
    app.include_router(api_v1.router)
    app.include_router(review.api)

    @app.get("/api/v1/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        """The OpenAPI description as a plain page (no inline script, no CDN)."""
        return render(request, "api_docs.html.j2", sec.principal(request), spec=app.openapi())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 303:
            return RedirectResponse(exc.headers["Location"] if exc.headers else "/login", status_code=303)
        if sec.is_api(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        return render(
            request, "error.html.j2", _signed_in(request), status=exc.status_code, headers=exc.headers,
            message=exc.detail,
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if sec.is_api(request):
            return JSONResponse({"detail": exc.errors()}, 422)
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
        return render(request, "error.html.j2", _signed_in(request), status=422, message=where)

    return app


def _signed_in(request: Request) -> sec.Principal | None:
    """Who is signed in, for an error page's layout (an unknown token there is nobody)."""
    try:
        return sec.principal(request)
    except HTTPException:
        return None


__all__ = ["WebOptions", "create_app"]
