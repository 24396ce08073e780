"""Web security: login rate limiting shared by every worker, session cookies, key rotation,
security headers on every response, deny-by-default, CSRF on every state-changing route, and the
access log.

The full route × role matrix against the policy table (views stubbed) is
``tests/finance/test_roles.py::test_every_route_and_role_against_the_policy_table``; here the
real views answer: anonymous callers on every route, token roles on every ``/api`` route, a
route missing from the policy table, and the CSRF check on every unsafe method.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.routing import IntegerConverter, PathConverter, Rule

from recon import create_app
from recon.accounts.login_limits import username_key
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.models import LoginAttempt
from recon.web.policy import POLICY, PUBLIC, allowed
from tests.conftest import TEST_SECRET
from tests.hardening.hkit import Api, make_api

PASSWORD = "correct-horse-battery"
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz")
HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
           "Content-Security-Policy")


def login_form(client: FlaskClient, username: str, password: str, **kw: Any) -> Any:
    client.get("/login", **kw)
    where = {"base_url": kw["base_url"]} if "base_url" in kw else {}
    with client.session_transaction(**where) as sess:
        csrf = sess["csrf"]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf}, **kw)


# --------------------------------------------------------------------------------------------
# Login rate limiting


def test_five_failures_then_429_in_vietnamese_with_when_to_retry(
        client: FlaskClient, make_user: Callable[..., str], clock: FixedClock) -> None:
    make_user("thu", "cashier")
    for _ in range(5):
        assert login_form(client, "thu", "wrong-password-1").status_code == 401
    blocked = login_form(client, "thu", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Đăng nhập sai quá nhiều lần" in page
    assert "15 phút" in page and "lúc 10:15" in page  # T0 is 10:00 in Huế
    assert blocked.headers["Retry-After"] == "900"
    english = login_form(client, "thu", PASSWORD, query_string={"lang": "en"})
    assert english.status_code == 429
    assert "Too many failed logins" in english.get_data(as_text=True)
    clock.advance(timedelta(minutes=15))  # the window slides: the oldest failure leaves it
    assert login_form(client, "thu", PASSWORD).status_code == 302


def test_success_resets_and_the_window_slides(client: FlaskClient, make_user: Callable[..., str],
                                              clock: FixedClock) -> None:
    make_user("thu", "cashier")
    for _ in range(4):
        login_form(client, "thu", "nope-nope-nope")
    assert login_form(client, "thu", PASSWORD).status_code == 302  # success: count cleared
    for _ in range(4):
        assert login_form(client, "thu", "nope-nope-nope").status_code == 401
    clock.advance(timedelta(minutes=10))
    assert login_form(client, "thu", "nope-nope-nope").status_code == 401  # 5th
    assert login_form(client, "thu", PASSWORD).status_code == 429
    clock.advance(timedelta(minutes=5, seconds=1))  # the first four left the window
    assert login_form(client, "thu", PASSWORD).status_code == 302


def test_the_limit_is_per_username_and_address(app: Flask, make_user: Callable[..., str]
                                               ) -> None:
    make_user("thu", "cashier")
    make_user("lan", "finance")
    attacker = app.test_client()
    for _ in range(5):
        login_form(attacker, "thu", "guess-guess-guess")
    assert login_form(attacker, "thu", PASSWORD).status_code == 429
    assert login_form(attacker, "lan", PASSWORD).status_code == 302  # another user
    colleague = app.test_client()
    other_address = {"environ_base": {"REMOTE_ADDR": "10.20.30.40"}}
    assert login_form(colleague, "thu", PASSWORD, **other_address).status_code == 302


def test_counts_are_shared_by_two_app_instances_on_one_database(
        env: dict[str, str], database_url: str, db: Database, clock: FixedClock,
        make_user: Callable[..., str]) -> None:
    """Two separately built apps, each with its own engine and pool (as two gunicorn workers or
    two hosts would be), sharing only the database."""
    make_user("thu", "cashier")
    first_db, second_db = Database(database_url), Database(database_url)
    try:
        first = create_app(load_settings(env), clock=clock, database=first_db).test_client()
        second = create_app(load_settings(env), clock=clock, database=second_db).test_client()
        for client in (first, second, first, second, first):
            assert login_form(client, "thu", "wrong-wrong-wrong").status_code == 401
        assert login_form(second, "thu", PASSWORD).status_code == 429
        assert login_form(first, "thu", PASSWORD).status_code == 429
    finally:
        first_db.dispose()
        second_db.dispose()


def test_usernames_are_stored_hashed_and_old_attempts_pruned(
        client: FlaskClient, db: Database, clock: FixedClock) -> None:
    login_form(client, "Mật-khẩu-gõ-nhầm-ô", "x-x-x-x-x-x")
    with db.read() as s:
        rows = s.execute(select(LoginAttempt.username_hash, LoginAttempt.client)).all()
        dumped = " ".join(str(v) for (v,) in s.execute(text(
            "SELECT username_hash || ' ' || client FROM login_attempts")))
    assert rows == [(username_key("mật-khẩu-gõ-nhầm-ô"), "127.0.0.1")]
    assert "khẩu" not in dumped
    clock.advance(timedelta(minutes=16))
    login_form(client, "someone-else", "x-x-x-x-x-x")
    with db.read() as s:
        assert s.execute(select(LoginAttempt.username_hash)).scalars().all() == [
            username_key("someone-else")]


def test_limit_settings_are_checked(env: dict[str, str], db: Database, clock: FixedClock
                                    ) -> None:
    app = create_app(load_settings({**env, "RECON_LOGIN_MAX_FAILURES": "2"}), clock=clock,
                     database=db)
    client = app.test_client()
    for _ in range(2):
        login_form(client, "x1", "wrong-wrong-wrong")
    assert login_form(client, "x1", "wrong-wrong-wrong").status_code == 429
    for bad in ("soon", "0"):  # refused when the app is built, not at the first login
        with pytest.raises(ValueError, match="RECON_LOGIN_WINDOW_SECONDS"):
            create_app(load_settings({**env, "RECON_LOGIN_WINDOW_SECONDS": bad}), clock=clock,
                       database=db)


# --------------------------------------------------------------------------------------------
# Session cookies and key rotation


def app_for(env: dict[str, str], db: Database, clock: FixedClock, **extra: str) -> Flask:
    app = create_app(load_settings({**env, **extra}), clock=clock, database=db)
    app.config["TESTING"] = True
    return app


def session_cookie_header(response: Any) -> str:
    cookies = [v for v in response.headers.getlist("Set-Cookie")
               if v.startswith("recon_session=")]
    assert cookies, response.headers
    return str(cookies[-1])


def test_production_cookies_are_secure_httponly_lax(env: dict[str, str], db: Database,
                                                    clock: FixedClock,
                                                    make_user: Callable[..., str]) -> None:
    make_user("thu", "cashier")
    production = app_for(env, db, clock, RECON_ENV="production")
    client = production.test_client()
    response = login_form(client, "thu", PASSWORD, base_url="https://recon.example")
    assert response.status_code == 302
    cookie = session_cookie_header(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Strict-Transport-Security" in response.headers
    development = app_for(env, db, clock, RECON_ENV="development").test_client()
    cookie = session_cookie_header(development.get("/login"))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _logged_in_cookie(app: Flask) -> str:
    client = app.test_client()
    assert login_form(client, "thu", PASSWORD).status_code == 302
    cookie = client.get_cookie("recon_session")
    assert cookie is not None
    return cookie.value


def _is_logged_in(app: Flask, cookie: str) -> bool:
    client = app.test_client()
    client.set_cookie("recon_session", cookie)
    response = client.get("/")
    return response.status_code != 302 or "/login" not in response.headers["Location"]


def test_secret_key_rotation(env: dict[str, str], db: Database, clock: FixedClock,
                             make_user: Callable[..., str]) -> None:
    make_user("thu", "cashier")
    old_key, new_key = "old-key-" + "a" * 40, "new-key-" + "b" * 40
    cookie = _logged_in_cookie(app_for(env, db, clock, RECON_SECRET_KEY=old_key))
    rotated = app_for(env, db, clock, RECON_SECRET_KEY=new_key,
                      RECON_SECRET_KEY_PREVIOUS=f"older-{TEST_SECRET},{old_key}")
    assert _is_logged_in(rotated, cookie)  # signed with the old key: still accepted
    finished = app_for(env, db, clock, RECON_SECRET_KEY=new_key)
    assert not _is_logged_in(finished, cookie)  # the old key retired: log in again
    assert _is_logged_in(finished, _logged_in_cookie(rotated))  # new sessions use the new key
    forged = app_for(env, db, clock, RECON_SECRET_KEY="attacker-" + "c" * 40)
    assert not _is_logged_in(rotated, _logged_in_cookie(forged))


# --------------------------------------------------------------------------------------------
# Every route, real views


STRING_VALUES = {"provider": "pos", "code": "en", "filename": "app.css", "fmt": "csv"}


def sample_url(app: Flask, rule: Rule) -> str:
    args: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]
        if isinstance(converter, IntegerConverter):
            args[name] = 999_999
        elif isinstance(converter, PathConverter):
            args[name] = "000.00.21.H57-NOPE"
        else:
            args[name] = STRING_VALUES.get(name, "x")
    with app.test_request_context():
        return app.url_map.bind("localhost").build(rule.endpoint, args,
                                                   method=methods(rule)[0])


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def routes(app: Flask) -> list[tuple[str, str, str]]:
    return [(rule.endpoint, method, sample_url(app, rule))
            for rule in app.url_map.iter_rules() for method in methods(rule)]


def policy_denial(response: Any) -> str | None:
    """Which refusal of the policy layer this is, if it is one (a view's own 401/403 — a
    provider's bad signature, a file not found — is not)."""
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "login"
    body = response.get_json(silent=True) or {}
    if response.status_code == 401 and body.get("message") == "authentication required":
        return "login"
    if response.status_code == 403 and "may not use this route" in str(body.get("message")):
        return "forbidden"
    if response.status_code == 403 and "Bạn không có quyền" in response.get_data(as_text=True):
        return "forbidden"
    return None


@pytest.fixture
def api(env: dict[str, str], db: Database, clock: FixedClock) -> Api:
    return make_api(env, db, clock)


def test_anonymous_callers_reach_only_public_routes(api: Api) -> None:
    problems = []
    for endpoint, method, url in routes(api.app):
        response = api.client.open(url, method=method)
        public = POLICY.get(endpoint) is PUBLIC
        denial = policy_denial(response)
        if public and denial:
            problems.append(f"{method} {url}: public but {denial}")
        if not public:
            expected = 401 if url.startswith(JSON_PREFIXES) else 302
            if denial != "login" or response.status_code != expected:
                problems.append(f"{method} {url}: {response.status_code}, expected {expected}")
        missing = [h for h in HEADERS if h not in response.headers]
        if missing:
            problems.append(f"{method} {url}: no {missing}")
    assert not problems, "\n".join(problems)


def test_token_roles_on_every_api_route(api: Api) -> None:
    problems = []
    checked = 0
    for endpoint, method, url in routes(api.app):
        if not url.startswith("/api/"):
            continue
        for role, token in api.tokens.items():
            response = api.client.open(url, method=method,
                                       headers={"Authorization": f"Bearer {token}"})
            should = allowed(endpoint, role)
            denial = policy_denial(response)
            if (should and denial) or (not should and denial != "forbidden"):
                problems.append(f"token:{role} {method} {url}: {response.status_code}")
            assert response.status_code < 500, (role, method, url, response.get_data())
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 4 * 15


def test_a_route_missing_from_the_policy_is_denied_to_everyone(
        env: dict[str, str], db: Database, clock: FixedClock,
        make_token: Callable[..., str], make_user: Callable[..., str]) -> None:
    app = app_for(env, db, clock)
    app.add_url_rule("/api/v1/forgotten", "forgotten", lambda: "leaked")
    app.add_url_rule("/forgotten-page", "forgotten_page", lambda: "leaked")
    assert "forgotten" not in POLICY
    client = app.test_client()
    assert client.get("/api/v1/forgotten").status_code == 401
    assert client.get("/forgotten-page").status_code == 302
    for role in ("intake", "cashier", "finance", "admin"):
        response = client.get("/api/v1/forgotten",
                              headers={"Authorization": f"Bearer {make_token(role)}"})
        assert response.status_code == 403, role
    make_user("boss", "admin")
    assert login_form(client, "boss", PASSWORD).status_code == 302
    assert client.get("/forgotten-page").status_code == 403


def test_every_unsafe_route_needs_the_csrf_token_with_a_session(
        api: Api, make_user: Callable[..., str]) -> None:
    """A logged-in browser (the admin may use every staff route) posting without the page's
    token is refused before any view runs. Provider webhooks carry no session: exempt."""
    client = api.app.test_client()
    make_user("boss", "admin")
    assert login_form(client, "boss", PASSWORD).status_code == 302
    checked = 0
    for endpoint, method, url in routes(api.app):
        if method == "GET" or endpoint.startswith(("webhooks.", "bench_endpoints.")):
            continue
        response = client.open(url, method=method, data={"x": "1"})
        body = response.get_json(silent=True) or {}
        is_csrf = response.status_code == 400 and (
            body.get("error") == "csrf" or "Biểu mẫu đã hết hạn" in response.get_data(True))
        assert is_csrf, (method, url, response.status_code, response.get_data()[:200])
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------------------------
# Security headers and the access log


def test_security_headers_on_every_kind_of_response(api: Api, env: dict[str, str],
                                                    db: Database, clock: FixedClock) -> None:
    admin = api.auth("admin")
    calls = [
        ("GET", "/healthz", {}), ("GET", "/login", {}), ("GET", "/static/app.css", {}),
        ("GET", "/api/v1/openapi.json", {}), ("GET", "/api/v1/agencies", admin),
        ("GET", "/api/v1/nowhere", admin), ("GET", "/nowhere", {}),
        ("DELETE", "/api/v1/agencies", admin), ("POST", "/api/v1/dossiers", admin),
        ("POST", "/webhooks/pos", {}), ("GET", "/webhooks/vnpay", {}),
        ("GET", "/api/v1/dossiers?q=a%00b", admin),
    ]
    for environment, hsts in (("test", False), ("production", True)):
        app = app_for(env, db, clock, RECON_ENV=environment, **{
            k: v for k, v in api.app.config["RECON_SETTINGS"].env.items()
            if k.startswith(("RECON_POS", "RECON_VNPAY"))})
        client = app.test_client()
        for method, url, headers in calls:
            response = client.open(url, method=method, headers=headers,
                                   base_url="https://recon.example")
            for name in HEADERS:
                assert name in response.headers, (environment, method, url, name)
            assert ("Strict-Transport-Security" in response.headers) is hsts, (url, hsts)
            assert response.headers["X-Request-Id"]


def test_one_access_line_per_request_never_the_query_string(
        api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="recon.access")
    secret_query = "vnp_Amount=100&vnp_SecureHash=deadbeefcafe0123&vnp_TxnRef=HSQQQQ"
    api.client.get(f"/webhooks/vnpay?{secret_query}", headers={"X-Request-Id": "abc-123"})
    api.client.get("/api/v1/agencies?limit=5", headers={**api.auth(), "X-Request-Id": "<x y>"})
    lines = [r for r in caplog.records if r.name == "recon.access"]
    assert len(lines) == 2
    first, second = (r.__dict__ for r in lines)
    assert (first["method"], first["path"], first["status"]) == ("GET", "/webhooks/vnpay", 200)
    assert first["request_id"] == "abc-123" and isinstance(first["duration_ms"], float)
    assert second["path"] == "/api/v1/agencies" and second["status"] == 200
    assert second["request_id"] != "<x y>" and len(second["request_id"]) == 32  # a new id
    text_ = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for leaked in ("deadbeef", "vnp_Amount=", "vnp_TxnRef=HSQQQQ", "limit=5"):
        assert leaked not in text_, leaked
