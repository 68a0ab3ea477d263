"""The server-rendered pages: sign-in, dashboard, search, studies, users (the review queue and
the audit log are in :mod:`claimwatch.web.review`).

Every route takes :func:`~claimwatch.web.security.require` (sign-in excepted): the role it needs
and, for a change, the CSRF token. Pages render through one autoescaping Jinja environment.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from claimwatch.records import Role
from claimwatch.web import security as sec
from claimwatch.web.render import render
from claimwatch.web.studies import DRAWING, Run, study_files, study_path

router = APIRouter()
Viewer = Annotated[sec.Principal, Depends(sec.require(Role.VIEWER))]
Analyst = Annotated[sec.Principal, Depends(sec.require(Role.ANALYST))]
Admin = Annotated[sec.Principal, Depends(sec.require(Role.ADMIN))]

#: report formats a run offers for download, with their media types
DOWNLOADS = {
    "html": "text/html",
    "pdf": "application/pdf",
    "csv": "text/csv",
    "json": "application/json",
    "md": "text/markdown",
}


def _base(request: Request) -> str:
    return request.scope.get("root_path", "")


def _see(request: Request, path: str, flash: str | None = None) -> RedirectResponse:
    if flash:
        request.session["flash"] = flash
    return RedirectResponse(_base(request) + path, status_code=303)


# --------------------------------------------------------------------------- sign-in


@router.get("/login", name="login_form")
def login_form(request: Request) -> HTMLResponse:
    return render(request, "login.html.j2", None)


@router.post("/login")
async def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
    """Sign in: CSRF-checked (no signing in a victim as the attacker), rate-limited per name and
    per client address; success starts a fresh session (a new CSRF token)."""
    await sec.check_csrf(request)
    limit: sec.FailureLimit = request.app.state.login_limit
    address = request.client.host if request.client else "unknown"
    keys = [f"name:{name.strip().casefold()}", f"addr:{address}"]
    wait = limit.retry_after(keys)
    if wait is not None:
        return render(
            request, "login.html.j2", None, status=429, headers={"Retry-After": str(wait)},
            error=f"too many failed sign-ins: try again in {(wait + 59) // 60} min",
        )  # fmt: skip
    user = sec.workspace(request).verify_login(name.strip(), password)
    if user is None:
        limit.fail(keys)
        return render(request, "login.html.j2", None, status=401, error="wrong name or password")
    limit.forget(keys[0])
    request.session.clear()
    request.session["user"] = user.name
    sec.csrf_token(request)
    return _see(request, "/")


@router.post("/logout")
def logout(request: Request, who: Viewer) -> Response:
    request.session.clear()
    return _see(request, "/login")


# --------------------------------------------------------------------------- dashboard and study runs


@router.get("/", name="dashboard")
def dashboard(request: Request, who: Viewer, study: str | None = None) -> Response:
    """A study's headline, figures and charts (computed now: decisions show at once), or, with no
    study chosen, the study files and the check-worthy claims that no fact-check covers yet."""
    options = request.app.state.options
    if study:
        path = study_path(options.studies_dir, study)
        if path is None:
            raise HTTPException(404, f"no study file {study!r} in {options.studies_dir}")
        return render(request, "run.html.j2", who, run=_compute(request, path, study))
    ws = sec.workspace(request)
    return render(
        request,
        "dashboard.html.j2",
        who,
        studies=study_files(options.studies_dir),
        folder=options.studies_dir,
        unchecked=ws.unchecked(50),
        unchecked_rule=ws.unchecked_rule(),
        warnings=ws.store_warnings(),
    )


def _compute(request: Request, path: Path, source: str, actor: str | None = None) -> Run:
    """Compute a study; ``actor``: who ran it, for the audit log (viewing a dashboard is not logged)."""
    try:
        result = sec.workspace(request).run_study(path, actor=actor)
    except ValueError as exc:  # a bad study file, an unknown account or topic: one line
        raise HTTPException(400, str(exc)) from None
    return request.app.state.runs.add(source, result)


def _run(request: Request, run_id: str) -> Run:
    run = request.app.state.runs.get(run_id)
    if run is None:
        raise HTTPException(404, "this computed study is no longer kept (the server restarted or ran many since)")
    return run


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str, who: Viewer) -> HTMLResponse:
    return render(request, "run.html.j2", who, run=_run(request, run_id))


@router.get("/runs/{run_id}/posts")
def run_posts(request: Request, run_id: str, who: Viewer, group: str = "all") -> HTMLResponse:
    """The posts behind one figure of a run: all, a status, or one narrative/account/week row."""
    run = _run(request, run_id)
    rows = run.result.posts
    if group in ("confirmed", "proposed"):
        rows = [r for r in rows if r.fact_check and r.fact_check.match_status == group]
        title = f"{len(rows)} posts whose shown fact-check match is {group}"
    elif group != "all":
        found = run.group(group)
        if found is None:
            raise HTTPException(404, f"no figure {group!r} in this study")
        wanted = set(found.post_ids)
        rows = [r for r in rows if r.post_id in wanted]
        title = f"{found.kind} {found.label}: {len(rows)} posts"
    else:
        title = f"all {len(rows)} posts of the study"
    return render(request, "posts.html.j2", who, run=run, rows=rows, title=title)


@router.get("/runs/{run_id}/charts/{name}.png")
def run_chart(request: Request, run_id: str, name: str, who: Viewer) -> Response:
    chart = next((c for c in _run(request, run_id).charts() if c.name == name), None)
    if chart is None:
        raise HTTPException(404, f"no chart {name!r}")
    return Response(chart.png, media_type="image/png")


@router.get("/runs/{run_id}/report.{fmt}")
def run_download(request: Request, run_id: str, fmt: str, who: Viewer) -> FileResponse:
    """A report file of the run, written by the report writers the first time it is asked for;
    sent as an attachment (the HTML report is for reading offline, not under this site)."""
    run = _run(request, run_id)
    if fmt not in DOWNLOADS:
        raise HTTPException(404, f"no {fmt!r} report; one of {', '.join(DOWNLOADS)}")
    if not run.files:
        from claimwatch.reports.study import write_study  # matplotlib and fpdf2 load only when they draw

        with DRAWING:
            run.files = write_study(run.result, request.app.state.options.runs_dir / run.id)
    return FileResponse(run.files[fmt], media_type=DOWNLOADS[fmt], filename=f"study.{fmt}")


# --------------------------------------------------------------------------- studies


@router.get("/studies")
def studies(request: Request, who: Viewer) -> HTMLResponse:
    options = request.app.state.options
    return render(request, "studies.html.j2", who, studies=study_files(options.studies_dir), folder=options.studies_dir)


@router.post("/studies/run")
def run_study(
    request: Request,
    who: Analyst,
    study: Annotated[str | None, Form()] = None,
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Run a study file from the folder, or an uploaded one (kept only in the server's temporary
    folder), and go to its page with the report downloads."""
    options = request.app.state.options
    if upload is not None and upload.filename:
        folder = Path(tempfile.mkdtemp(prefix="upload-", dir=options.runs_dir))
        path, source = folder / "study.yaml", upload.filename
        path.write_bytes(upload.file.read(options.max_upload + 1)[: options.max_upload + 1])
        if path.stat().st_size > options.max_upload:
            raise HTTPException(413, f"a study file is at most {options.max_upload // 1024} KiB")
    elif study:
        found = study_path(options.studies_dir, study)
        if found is None:
            raise HTTPException(404, f"no study file {study!r} in {options.studies_dir}")
        path, source = found, study
    else:
        raise HTTPException(400, "choose a study file or upload one")
    run = _compute(request, path, source, actor=who.user.name)
    return _see(request, f"/runs/{run.id}")


# --------------------------------------------------------------------------- search


@router.get("/search")
def search(request: Request, who: Viewer, q: str = "", limit: int = 50, meaning: str = "") -> HTMLResponse:
    """Posts and fact-checks containing the words as typed (any case); with ``meaning``, also the
    fact-checks whose claim means the same (semantic: the matcher's retrieval, see
    :meth:`~claimwatch.api.Workspace.similar_factchecks`)."""
    ws, phrase, limit = sec.workspace(request), q.strip(), max(1, min(limit, 200))
    posts = ws.search_posts(phrase, limit) if phrase else []
    factchecks = ws.search_factchecks(phrase, limit) if phrase else []
    similar = ws.similar_factchecks(phrase, 10) if phrase and meaning else []
    return render(
        request,
        "search.html.j2",
        who,
        q=phrase,
        posts=posts,
        factchecks=factchecks,
        limit=limit,
        meaning=bool(meaning),
        similar=similar,
    )


# --------------------------------------------------------------------------- users (admin)


@router.get("/users")
def users(request: Request, who: Admin) -> HTMLResponse:
    ws = sec.workspace(request)
    return render(request, "users.html.j2", who, users=ws.list_users(), tokens=ws.list_tokens(), roles=list(Role))


@router.post("/users")
def add_user(
    request: Request,
    who: Admin,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    try:
        user = sec.workspace(request).add_user(name, role, password, actor=who.user.name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _see(request, "/users", f"user {user.name} added ({user.role})")


@router.post("/users/{name}/remove")
def remove_user(request: Request, name: str, who: Admin) -> Response:
    if name == who.user.name:
        raise HTTPException(400, "you cannot remove yourself; another admin can")
    if not sec.workspace(request).remove_user(name, actor=who.user.name):
        raise HTTPException(404, f"no user {name!r}")
    return _see(request, "/users", f"user {name} removed")


@router.post("/users/{name}/tokens")
def create_token(request: Request, name: str, who: Admin, label: Annotated[str, Form()] = "script") -> HTMLResponse:
    """A new API token, shown on this one page only (the store keeps its hash)."""
    ws = sec.workspace(request)
    try:
        token = ws.create_token(name, label, actor=who.user.name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return render(
        request, "users.html.j2", who, users=ws.list_users(), tokens=ws.list_tokens(), roles=list(Role),
        new_token=token, token_user=name,
    )  # fmt: skip


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: int, who: Admin) -> Response:
    if sec.workspace(request).revoke_token(token_id, actor=who.user.name) is None:
        raise HTTPException(404, f"no API token {token_id}")
    return _see(request, "/users", f"API token {token_id} revoked")
