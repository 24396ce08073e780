"""Issue 16, item 7: sessions can be ended. The cookie carries only a random id; the session
lives in ``web_sessions``. Logout, a password change and `recon users disable` end every
session of that user; the idle (30 minutes) and absolute (12 hours) limits hold, on the
project's clock. Each test replays a cookie copied while it was good."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from recon import create_app
from recon.cli import cli
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.models import AuditEvent, WebSession
from tests.conftest import TEST_SECRET

PASSWORD = "correct-horse-battery"
COOKIE = "recon_session"


def _login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf})
    assert response.status_code == 302, response.text
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _replay(app: Flask, cookie: str, path: str = "/finance") -> Any:
    """A second browser (the thief's) sending a copy of the cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief.get(path)


def _opens(response: Any) -> bool:
    return response.status_code == 200


def _sent_to_login(response: Any) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_cookie_copied_before_logout_opens_nothing_after_it(
        app: Flask, client: FlaskClient, db: Database, make_user: Any) -> None:
    make_user("ketoan", "finance")
    csrf = _login(client, "ketoan")
    copied = _cookie(client)
    assert _opens(_replay(app, copied))  # the copy works while the session does
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert _sent_to_login(_replay(app, copied))
    with db.read() as s:
        [row] = s.scalars(select(WebSession)).all()
        assert row.end_reason == "logout" and row.ended_at is not None
        assert s.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "user.logged_out")).one()


def test_logout_ends_every_session_of_that_user_only(
        app: Flask, db: Database, make_user: Any) -> None:
    make_user("ketoan", "finance")
    make_user("kiemsoat", "finance")
    desk, home, colleague = app.test_client(), app.test_client(), app.test_client()
    csrf = _login(desk, "ketoan")
    _login(home, "ketoan")
    _login(colleague, "kiemsoat")
    home_cookie, colleague_cookie = _cookie(home), _cookie(colleague)
    desk.post("/logout", data={"csrf_token": csrf})
    assert _sent_to_login(_replay(app, home_cookie))
    assert _opens(_replay(app, colleague_cookie))


def test_the_cookie_holds_a_random_id_and_the_database_only_its_hash(
        app: Flask, client: FlaskClient, db: Database, make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    with client.session_transaction() as sess:
        sid = sess["sid"]
        assert "user_id" not in sess
    with db.read() as s:
        [row] = s.scalars(select(WebSession)).all()
    assert row.token_hash == hashlib.sha256(sid.encode()).hexdigest()
    assert sid not in row.token_hash


def test_idle_for_30_minutes_ends_the_session(
        app: Flask, client: FlaskClient, clock: FixedClock, make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    copied = _cookie(client)
    clock.advance(timedelta(minutes=29))
    assert _opens(client.get("/finance"))  # use keeps it alive (last seen noted)
    clock.advance(timedelta(minutes=29))
    assert _opens(_replay(app, copied))
    clock.advance(timedelta(minutes=30))
    assert _sent_to_login(client.get("/finance"))
    assert _sent_to_login(_replay(app, copied))


def test_twelve_hours_end_a_session_however_busy(
        app: Flask, client: FlaskClient, clock: FixedClock, make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    for _ in range(11 * 4 + 3):  # a request every 15 minutes: never idle
        clock.advance(timedelta(minutes=15))
        assert _opens(client.get("/finance"))
    clock.advance(timedelta(minutes=15))  # 12 hours since the login
    assert _sent_to_login(client.get("/finance"))
    _login(client, "ketoan")  # logging in again starts a new one
    assert _opens(client.get("/finance"))


def test_last_seen_is_written_at_most_once_a_minute(
        client: FlaskClient, db: Database, clock: FixedClock, make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    start = clock.now()
    for _ in range(5):
        clock.advance(timedelta(seconds=10))
        assert _opens(client.get("/finance"))
    with db.read() as s:
        assert s.scalars(select(WebSession.last_seen_at)).one() == start
    clock.advance(timedelta(seconds=15))  # 65 s after the last write
    client.get("/finance")
    with db.read() as s:
        assert s.scalars(select(WebSession.last_seen_at)).one() == clock.now()


def test_the_limits_are_settings(env: dict[str, str], db: Database, clock: FixedClock,
                                 make_user: Any) -> None:
    app = create_app(load_settings({**env, "RECON_SESSION_IDLE_MINUTES": "5",
                                    "RECON_SESSION_MAX_HOURS": "1"}), clock=clock, database=db)
    app.config["TESTING"] = True
    make_user("ketoan", "finance")
    client = app.test_client()
    _login(client, "ketoan")
    clock.advance(timedelta(minutes=4))
    assert _opens(client.get("/finance"))
    clock.advance(timedelta(minutes=5))
    assert _sent_to_login(client.get("/finance"))
    _login(client, "ketoan")
    for _ in range(14):
        clock.advance(timedelta(minutes=4))
        assert _opens(client.get("/finance"))
    clock.advance(timedelta(minutes=4))  # 60 minutes since this login
    assert _sent_to_login(client.get("/finance"))
    for name, bad in (("RECON_SESSION_IDLE_MINUTES", "0"), ("RECON_SESSION_MAX_HOURS", "x")):
        with pytest.raises(ValueError, match=name):
            create_app(load_settings({**env, name: bad}), clock=clock, database=db)


def test_a_password_change_ends_every_session(
        app: Flask, client: FlaskClient, db: Database, env: dict[str, str],
        make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    copied = _cookie(client)
    result = CliRunner().invoke(cli, ["users", "password", "ketoan"],
                                input="a-new-long-password\n")
    assert result.exit_code == 0, result.output
    assert "1 open session(s) ended" in result.output
    assert _sent_to_login(client.get("/finance"))
    assert _sent_to_login(_replay(app, copied))
    _login(client, "ketoan", "a-new-long-password")
    assert _opens(client.get("/finance"))
    short = CliRunner().invoke(cli, ["users", "password", "ketoan"], input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    assert _opens(client.get("/finance"))  # a refused change ends nothing


def test_recon_users_disable_ends_every_session(
        app: Flask, client: FlaskClient, db: Database, env: dict[str, str],
        make_user: Any) -> None:
    make_user("ketoan", "finance")
    _login(client, "ketoan")
    copied = _cookie(client)
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "disable", "ketoan"])
    assert result.exit_code == 0, result.output
    assert _sent_to_login(_replay(app, copied))
    assert _sent_to_login(client.get("/finance"))
    again = runner.invoke(cli, ["users", "disable", "ketoan"])
    assert "already disabled" in again.output
    assert runner.invoke(cli, ["users", "enable", "ketoan"]).exit_code == 0
    assert _sent_to_login(_replay(app, copied))  # enabling does not revive old sessions
    listed = runner.invoke(cli, ["users", "list"])
    assert "ketoan" in listed.output
    with db.read() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(["user.disabled", "user.enabled"])).order_by(AuditEvent.id)))
    assert actions == ["user.disabled", "user.enabled"]


def test_a_cookie_signed_with_the_key_but_naming_a_user_id_is_nothing(
        env: dict[str, str], app: Flask, make_user: Any) -> None:
    """Before 0012 the cookie said ``user_id``: such a cookie (even validly signed) opens
    nothing now; only a live server-side session does."""
    make_user("ketoan", "finance")
    assert env["RECON_SECRET_KEY"] == TEST_SECRET
    forged = app.test_client()
    with forged.session_transaction() as sess:
        sess["user_id"] = 1
    assert _sent_to_login(forged.get("/finance"))


def test_a_stale_cookie_cannot_log_its_user_out_elsewhere(
        app: Flask, db: Database, clock: FixedClock, make_user: Any) -> None:
    """Logout ends every session only from a live one: an expired copy ends nothing."""
    make_user("ketoan", "finance")
    old, current = app.test_client(), app.test_client()
    old_csrf = _login(old, "ketoan")
    clock.advance(timedelta(minutes=31))  # the first session is idle past the limit
    _login(current, "ketoan")
    assert old.post("/logout", data={"csrf_token": old_csrf}).status_code == 302
    assert _opens(current.get("/finance"))
    with db.read() as s:
        assert s.scalars(select(WebSession.end_reason)).all() == [None, None]
