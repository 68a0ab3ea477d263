"""The JSON API (``/api/v1``): the same library calls as the pages, the typed records as JSON.
Scripts send ``Authorization: Bearer TOKEN`` (``claimwatch users token NAME``); a browser
session works too, with its CSRF token in ``X-CSRF-Token`` for changes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from claimwatch.records import Role
from claimwatch.store.rows import ApiTokenInfo, StoredFactCheck, StoredPost, StoreStats, User
from claimwatch.web import security as sec
from claimwatch.web.studies import study_files, study_path

router = APIRouter(prefix="/api/v1")
Viewer = Annotated[sec.Principal, Depends(sec.require(Role.VIEWER))]
Admin = Annotated[sec.Principal, Depends(sec.require(Role.ADMIN))]


class NewUser(BaseModel):
    name: str
    role: Role = Role.VIEWER
    password: str


class NewToken(BaseModel):
    name: str = "script"


class Token(BaseModel):
    #: shown once: the store keeps only its SHA-256
    token: str


@router.get("/me")
def me(who: Viewer) -> User:
    return who.user


@router.get("/stats")
def stats(request: Request, who: Viewer) -> StoreStats:
    return sec.workspace(request).stats()


@router.get("/search/posts")
def search_posts(request: Request, who: Viewer, q: str, limit: int = 50) -> list[StoredPost]:
    return sec.workspace(request).search_posts(q.strip(), max(1, min(limit, 200)))


@router.get("/search/factchecks")
def search_factchecks(request: Request, who: Viewer, q: str, limit: int = 50) -> list[StoredFactCheck]:
    return sec.workspace(request).search_factchecks(q.strip(), max(1, min(limit, 200)))


@router.get("/studies")
def studies(request: Request, who: Viewer) -> list[str]:
    return study_files(request.app.state.options.studies_dir)


@router.get("/studies/{name}")
def study(request: Request, name: str, who: Viewer) -> dict[str, Any]:
    """The study computed now, in the shape of ``schemas/study.schema.json``."""
    path = study_path(request.app.state.options.studies_dir, name)
    if path is None:
        raise HTTPException(404, f"no study file {name!r}")
    try:
        return sec.workspace(request).run_study(path).to_dict()
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/users")
def users(request: Request, who: Admin) -> list[User]:
    return sec.workspace(request).list_users()


@router.post("/users", status_code=201)
def add_user(request: Request, body: NewUser, who: Admin) -> User:
    try:
        return sec.workspace(request).add_user(body.name, body.role, body.password, actor=who.user.name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.delete("/users/{name}", status_code=204)
def remove_user(request: Request, name: str, who: Admin) -> None:
    if name == who.user.name:
        raise HTTPException(400, "you cannot remove yourself; another admin can")
    if not sec.workspace(request).remove_user(name, actor=who.user.name):
        raise HTTPException(404, f"no user {name!r}")


@router.get("/tokens")
def tokens(request: Request, who: Admin) -> list[ApiTokenInfo]:
    return sec.workspace(request).list_tokens()


@router.post("/users/{name}/tokens", status_code=201)
def create_token(request: Request, name: str, body: NewToken, who: Admin) -> Token:
    try:
        return Token(token=sec.workspace(request).create_token(name, body.name, actor=who.user.name))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


@router.delete("/tokens/{token_id}")
def revoke_token(request: Request, token_id: int, who: Admin) -> ApiTokenInfo:
    revoked = sec.workspace(request).revoke_token(token_id, actor=who.user.name)
    if revoked is None:
        raise HTTPException(404, f"no API token {token_id}")
    return revoked
