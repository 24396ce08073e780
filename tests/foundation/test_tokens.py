"""`recon tokens list` and `recon tokens revoke`: what an operator sees and what the API does."""

from __future__ import annotations

import json
import re
from typing import Any

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from recon.cli import cli
from recon.db import Database
from recon.models import ApiToken, AuditEvent


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def _create(name: str, role: str = "intake") -> str:
    if "hoa" not in run("users", "list").output:
        made = run("users", "create", "hoa", "--role", "admin", input="a-long-password\n")
        assert made.exit_code == 0, made.output
    result = run("tokens", "create", name, "--role", role, "--user", "hoa", "--all-agencies")
    assert result.exit_code == 0, result.output
    token: str = result.stdout.strip().splitlines()[-1]
    return token


def _get(client: FlaskClient, token: str) -> int:
    return client.get("/api/v1/agencies", headers={"Authorization": f"Bearer {token}"}
                      ).status_code


def _token_id(db: Database, name: str) -> int:
    with db.read() as s:
        return int(s.scalars(select(ApiToken.id).where(ApiToken.name == name)).one())


def _revocations(db: Database) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "token.revoked")))


def test_list_when_there_are_none(env: dict[str, str], db: Database) -> None:
    result = run("tokens", "list")
    assert result.exit_code == 0
    assert "No API tokens" in result.output
    assert "recon tokens create" in result.output
    assert json.loads(run("tokens", "list", "--json").stdout) == []


def test_list_shows_every_token_but_never_a_secret(env: dict[str, str], db: Database) -> None:
    first = _create("mot-cua")
    second = _create("ngan-hang", "finance")
    with db.read() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    result = run("tokens", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3  # the header and one line per token
    assert "mot-cua" in lines[1] and "intake" in lines[1] and first[:12] in lines[1]
    assert "ngan-hang" in lines[2] and "finance" in lines[2] and second[:12] in lines[2]
    as_json = json.loads(run("tokens", "list", "--json").stdout)
    assert [(t["name"], t["role"], t["prefix"], t["revoked_at"]) for t in as_json] == [
        ("mot-cua", "intake", first[:12], None), ("ngan-hang", "finance", second[:12], None)]
    for shown in (result.stdout, json.dumps(as_json)):
        for secret in (first, second, first[12:], second[12:], *hashes):
            assert secret not in shown


def test_revoked_token_gets_401_and_the_revocation_is_audited(
        env: dict[str, str], db: Database, client: FlaskClient) -> None:
    kept = _create("giu-lai")
    revoked = _create("thu-hoi")
    assert _get(client, revoked) == 200
    token_id = _token_id(db, "thu-hoi")

    result = run("tokens", "revoke", str(token_id))
    assert result.exit_code == 0, result.output
    assert f"Revoked token {token_id}" in result.output
    assert "401" in result.output
    assert _get(client, revoked) == 401
    assert _get(client, kept) == 200  # only that one

    events = _revocations(db)
    assert [(e.entity_type, e.entity_id) for e in events] == [("api_token", str(token_id))]
    assert json.loads(events[0].data)["prefix"] == revoked[:12]
    listed = {t["name"]: t for t in json.loads(run("tokens", "list", "--json").stdout)}
    assert listed["thu-hoi"]["revoked_at"] is not None
    assert listed["giu-lai"]["revoked_at"] is None
    table = run("tokens", "list").stdout.splitlines()
    stamps = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
    assert len(stamps.findall(table[1])) == 2  # created and last used
    assert len(stamps.findall(table[2])) == 3  # created, last used and revoked


def test_revoke_is_idempotent(env: dict[str, str], db: Database) -> None:
    _create("thu-hoi")
    token_id = _token_id(db, "thu-hoi")
    assert run("tokens", "revoke", str(token_id)).exit_code == 0
    with db.read() as s:
        first_time = s.scalars(select(ApiToken.revoked_at)).one()
    assert first_time is not None

    again = run("tokens", "revoke", str(token_id))
    assert again.exit_code == 0, again.output
    assert "already revoked" in again.output
    assert "nothing changed" in again.output
    with db.read() as s:
        assert s.scalars(select(ApiToken.revoked_at)).one() == first_time
    assert len(_revocations(db)) == 1


def test_revoke_an_unknown_id_says_where_to_look(env: dict[str, str], db: Database) -> None:
    _create("mot-cua")
    result = run("tokens", "revoke", "999")
    assert result.exit_code == 1
    assert "no API token with id 999" in result.output
    assert "recon tokens list" in result.output
    assert _revocations(db) == []
    with db.read() as s:
        assert s.scalars(select(ApiToken.revoked_at)).one() is None
