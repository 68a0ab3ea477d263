"""Passwords and API tokens: how they are made, hashed and checked (no store here).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile);
API tokens are 256 random bits shown once, and the store keeps only their SHA-256 — enough for
a token that cannot be guessed, and a look-up by hash needs no slow hash per request.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from claimwatch.records import Role

#: the prefix marks a claimwatch token in a script or a leaked log (secret scanners can look for it)
TOKEN_PREFIX = "cw_"
MIN_PASSWORD = 8
MAX_NAME = 128

_hasher = PasswordHasher()
#: verified against when the user does not exist, so an unknown name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password is too short: at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Does ``password`` match? ``None`` (no such user) is checked against a dummy hash: same time."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (rehash at the next sign-in)."""
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    """A user name as stored: trimmed, printable, at most :data:`MAX_NAME` characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"user name {name!r}: give 1 to {MAX_NAME} printable characters")
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise ValueError(f"role {role!r}: one of {', '.join(r.value for r in Role)}") from None
