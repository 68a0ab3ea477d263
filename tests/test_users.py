"""Workspace users and API tokens: the store keeps argon2 hashes and token digests only, sign-in
is refused for wrong, unknown and removed users alike, tokens are shown once and can be revoked;
the CLI never takes a password as an argument."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import claimwatch
from claimwatch import auth
from claimwatch.cli import app
from claimwatch.records import Role
from claimwatch.store import schema as s

PASSWORD = "correct horse battery"
PG_URL = os.environ.get("CLAIMWATCH_TEST_PG_URL")


@pytest.mark.slow  # over half a second on 2 cores
def test_passwords_are_stored_as_argon2_hashes_and_verified(tmp_path):
    ws = claimwatch.open(tmp_path / "t.db")
    user = ws.add_user("ana@example.org", "analyst", PASSWORD)
    assert user.role == Role.ANALYST and not user.disabled
    with ws.engine.connect() as conn:
        stored = conn.scalar(sa.select(s.User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert ws.verify_login("ana@example.org", PASSWORD) == user
    assert ws.verify_login("ana@example.org", PASSWORD + "x") is None
    assert ws.verify_login("nobody", PASSWORD) is None


def test_unknown_users_are_checked_against_a_dummy_hash(monkeypatch, tmp_path):
    """An unknown name runs the same argon2 verification as a wrong password (no timing oracle)."""
    ws = claimwatch.open(tmp_path / "t.db")
    seen: list[str] = []
    real = auth._hasher

    class Spy:
        def verify(self, password_hash: str, password: str) -> bool:
            seen.append(password_hash)
            return real.verify(password_hash, password)

    monkeypatch.setattr(auth, "_hasher", Spy())
    assert ws.verify_login("nobody", PASSWORD) is None
    assert seen == [auth._DUMMY_HASH]


@pytest.mark.slow
def test_user_names_roles_and_passwords_are_checked(tmp_path):
    ws = claimwatch.open(tmp_path / "t.db")
    ws.add_user("ana", "admin", PASSWORD)
    for args, message in (
        (("ana", "viewer", PASSWORD), "exists already"),
        (("bo", "boss", PASSWORD), "one of viewer, analyst, admin"),
        (("bo", "viewer", "short"), "too short"),
        (("  ", "viewer", PASSWORD), "printable characters"),
    ):
        try:
            ws.add_user(*args)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError(f"{args} was accepted")
    assert [u.name for u in ws.list_users()] == ["ana"]


def test_tokens_are_shown_once_stored_hashed_and_revocable(tmp_path):
    ws = claimwatch.open(tmp_path / "t.db")
    ws.add_user("bot", "viewer", PASSWORD)
    token = ws.create_token("bot", "nightly")
    assert token.startswith(auth.TOKEN_PREFIX) and len(token) > 40
    with ws.engine.connect() as conn:
        digests = list(conn.scalars(sa.select(s.ApiToken.token_sha256)))
    assert digests == [auth.token_digest(token)]
    assert ws.verify_token(token).name == "bot"
    (info,) = ws.list_tokens("bot")
    assert info.name == "nightly" and info.last_used_at is not None and info.revoked_at is None
    assert ws.verify_token(token + "x") is None
    assert ws.revoke_token(info.id).revoked_at is not None
    assert ws.verify_token(token) is None
    assert ws.revoke_token(999) is None


@pytest.mark.slow
def test_removing_a_user_ends_their_sign_in_and_tokens(tmp_path):
    ws = claimwatch.open(tmp_path / "t.db")
    ws.add_user("bot", "analyst", PASSWORD)
    token = ws.create_token("bot", "ci")
    assert ws.remove_user("bot") and not ws.remove_user("bot")
    assert ws.verify_login("bot", PASSWORD) is None and ws.verify_token(token) is None
    assert ws.list_tokens() == []


def test_the_session_key_is_made_once_and_shared(tmp_path):
    ws = claimwatch.open(tmp_path / "t.db")
    key = ws.shared_secret("web_session_key")
    assert len(key) >= 48 and claimwatch.open(tmp_path / "t.db").shared_secret("web_session_key") == key


@pytest.mark.slow  # over half a second on 2 cores
def test_cli_users_add_list_token_remove(tmp_path):
    db = str(tmp_path / "t.db")
    run = CliRunner().invoke
    claimwatch.open(db)
    res = run(app, ["users", "add", "ana", "--role", "admin", "--password-stdin", "--db", db], input=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    assert claimwatch.open(db).verify_login("ana", PASSWORD) is not None
    res = run(app, ["users", "add", "bo", "--db", db], input="pw1234567\npw1234567\n")  # prompted twice
    assert res.exit_code == 0 and claimwatch.open(db).user("bo").role == "viewer"
    res = run(app, ["users", "token", "ana", "--name", "ci", "--db", db])
    token = res.stdout.strip().splitlines()[0]
    assert claimwatch.open(db).verify_token(token).name == "ana"
    listed = run(app, ["users", "list", "--json", "--db", db])
    assert '"name": "ci"' in listed.stdout and token not in listed.stdout and "argon2" not in listed.stdout
    assert run(app, ["users", "token", "ana", "--revoke", "1", "--db", db]).exit_code == 0
    assert claimwatch.open(db).verify_token(token) is None
    res = run(app, ["users", "add", "ana", "--password-stdin", "--db", db], input=PASSWORD + "\n")
    assert res.exit_code == 2 and "exists already" in res.output
    assert run(app, ["users", "remove", "bo", "--db", db]).exit_code == 0
    res = run(app, ["users", "remove", "bo", "--db", db])
    assert res.exit_code == 2 and "no user 'bo'" in res.output


@pytest.mark.slow
def test_cli_role_change_and_by_are_audited(tmp_path):
    db = str(tmp_path / "t.db")
    run = CliRunner().invoke
    claimwatch.open(db)
    add = ["users", "add", "cy", "--role", "viewer", "--password-stdin", "--by", "ada@example.org", "--db", db]
    assert run(app, add, input=PASSWORD + "\n").exit_code == 0
    res = run(app, ["users", "role", "cy", "analyst", "--by", "ada@example.org", "--db", db])
    assert res.exit_code == 0 and "now analyst" in res.output
    assert claimwatch.open(db).user("cy").role == "analyst"
    res = run(app, ["users", "role", "cy", "boss", "--db", db])
    assert res.exit_code == 2 and "boss" in res.output and claimwatch.open(db).user("cy").role == "analyst"
    assert run(app, ["users", "role", "nobody", "viewer", "--db", db]).exit_code == 2
    entries = claimwatch.open(db).audit(action="user.")
    assert [(e.actor, e.action) for e in entries] == [("ada@example.org", "user.role"), ("ada@example.org", "user.add")]
    assert (entries[0].before["role"], entries[0].after["role"]) == ("viewer", "analyst")


def test_the_cli_has_no_password_argument():
    res = CliRunner().invoke(app, ["users", "add", "--help"])
    assert "--password-stdin" in res.output and "--password " not in res.output


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="set CLAIMWATCH_TEST_PG_URL to run against PostgreSQL")
def test_users_tokens_and_the_session_key_on_postgres():
    ws = claimwatch.open(PG_URL)
    ws.reset()
    ws.add_user("ana", "analyst", PASSWORD)
    token = ws.create_token("ana", "ci")
    assert ws.verify_token(token).name == "ana" and ws.verify_login("ana", PASSWORD).role == "analyst"
    assert ws.shared_secret("web_session_key") == claimwatch.open(PG_URL).shared_secret("web_session_key")
    assert ws.remove_user("ana") and ws.verify_token(token) is None
