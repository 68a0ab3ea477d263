"""Workspace users, their API tokens, and the secrets the store's servers share.

Passwords and tokens never reach these queries in the clear: callers hand over an argon2 hash
(:mod:`claimwatch.auth`) or a token's SHA-256, and reads never return the password hash except
through :func:`login_record`, the one place that verifies a sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from claimwatch.store import schema as s
from claimwatch.store.rows import ApiTokenInfo, User

_USER_COLUMNS = (s.User.id, s.User.name, s.User.role, s.User.created_at, s.User.disabled)
_TOKEN_COLUMNS = (
    s.ApiToken.id,
    s.User.name.label("user"),
    s.ApiToken.name,
    s.ApiToken.created_at,
    s.ApiToken.last_used_at,
    s.ApiToken.revoked_at,
)


def find_user(conn: sa.Connection, name: str) -> User | None:
    row = conn.execute(sa.select(*_USER_COLUMNS).where(s.User.name == name)).first()
    return User(**row._mapping) if row else None


def login_record(conn: sa.Connection, name: str) -> tuple[User, str] | None:
    """The user called ``name`` and their password hash, to verify a sign-in."""
    row = conn.execute(sa.select(*_USER_COLUMNS, s.User.password_hash).where(s.User.name == name)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    password_hash = values.pop("password_hash")
    return User(**values), password_hash


def add_user(conn: sa.Connection, name: str, role: str, password_hash: str) -> User:
    conn.execute(sa.insert(s.User).values(name=name, role=role, password_hash=password_hash, disabled=False))
    user = find_user(conn, name)
    assert user is not None
    return user


def set_role(conn: sa.Connection, user_id: int, role: str) -> None:
    conn.execute(sa.update(s.User).where(s.User.id == user_id).values(role=role))


def set_password_hash(conn: sa.Connection, user_id: int, password_hash: str) -> None:
    conn.execute(sa.update(s.User).where(s.User.id == user_id).values(password_hash=password_hash))


def remove_user(conn: sa.Connection, name: str) -> bool:
    """Delete the user and their tokens; False when there is no such user."""
    user_id = conn.scalar(sa.select(s.User.id).where(s.User.name == name))
    if user_id is None:
        return False
    conn.execute(sa.delete(s.ApiToken).where(s.ApiToken.user_id == user_id))
    conn.execute(sa.delete(s.User).where(s.User.id == user_id))
    return True


def list_users(conn: sa.Connection) -> list[User]:
    return [User(**row._mapping) for row in conn.execute(sa.select(*_USER_COLUMNS).order_by(s.User.name))]


def add_token(conn: sa.Connection, user_id: int, name: str, token_sha256: str) -> ApiTokenInfo:
    token_id = conn.execute(
        sa.insert(s.ApiToken).values(user_id=user_id, name=name, token_sha256=token_sha256).returning(s.ApiToken.id)
    ).scalar_one()
    return _tokens(conn, s.ApiToken.id == token_id)[0]


def list_tokens(conn: sa.Connection, user: str | None = None) -> list[ApiTokenInfo]:
    return _tokens(conn, *([s.User.name == user] if user is not None else []))


def _tokens(conn: sa.Connection, *where: sa.ColumnElement[bool]) -> list[ApiTokenInfo]:
    q = sa.select(*_TOKEN_COLUMNS).join(s.User, s.User.id == s.ApiToken.user_id).where(*where)
    return [ApiTokenInfo(**row._mapping) for row in conn.execute(q.order_by(s.ApiToken.id))]


def user_for_token(conn: sa.Connection, token_sha256: str, now: datetime) -> User | None:
    """The enabled user owning the unrevoked token with this hash (its ``last_used_at`` set to ``now``)."""
    row = conn.execute(
        sa.select(s.ApiToken.id.label("token_id"), *_USER_COLUMNS)
        .join(s.User, s.User.id == s.ApiToken.user_id)
        .where(s.ApiToken.token_sha256 == token_sha256, s.ApiToken.revoked_at.is_(None), s.User.disabled.is_(False))
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    conn.execute(sa.update(s.ApiToken).where(s.ApiToken.id == values.pop("token_id")).values(last_used_at=now))
    return User(**values)


def revoke_token(conn: sa.Connection, token_id: int, now: datetime) -> ApiTokenInfo | None:
    """Mark the token revoked (kept, with when); None when there is no such token."""
    conn.execute(
        sa.update(s.ApiToken).where(s.ApiToken.id == token_id, s.ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    found = _tokens(conn, s.ApiToken.id == token_id)
    return found[0] if found else None


def shared_secret(conn: sa.Connection, name: str, make: Callable[[], str]) -> str:
    """The secret called ``name``, created with ``make`` the first time. Two servers starting at once
    both insert; the second insert is a no-op (the unique key), so both read back the winner's."""
    value = conn.scalar(sa.select(s.AppSecret.value).where(s.AppSecret.name == name))
    if value is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(s.AppSecret).values(name=name, value=make()))
        except sa.exc.IntegrityError:
            pass
        value = conn.scalar(sa.select(s.AppSecret.value).where(s.AppSecret.name == name))
    assert value is not None
    return value
