"""Login, the access policy, CSRF, health."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from recon.web.policy import POLICY


def test_every_route_is_in_the_policy_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - set(POLICY)
    assert not missing, f"routes without a policy entry (denied, but say so): {missing}"


def test_healthz_reports_database(client: FlaskClient, make_token: Any) -> None:
    assert client.get("/healthz").json["database"]["ok"] is True  # public: state words only
    response = client.get("/admin/health",
                          headers={"Authorization": f"Bearer {make_token('admin')}"})
    assert response.status_code == 200
    assert response.json["database"]["ok"] is True
    from alembic.script import ScriptDirectory

    from recon.cli.admin import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert response.json["database"]["revision"] == head


def test_login_page_is_vietnamese_with_english_switch(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page
    assert "Mật khẩu" in page
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english
    assert "Password" in english


def test_login_wrong_password(client: FlaskClient, make_user: Any) -> None:
    make_user("thu", "cashier")
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login", data={"username": "thu", "password": "nope-nope-nope",
                                           "csrf_token": csrf})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)


def test_login_without_csrf_refused(client: FlaskClient, make_user: Any) -> None:
    password = make_user("thu", "cashier")
    response = client.post("/login", data={"username": "thu", "password": password})
    assert response.status_code == 400


def test_login_then_home(client: FlaskClient, login: Any) -> None:
    login("finance")
    response = client.get("/")
    assert response.status_code in (200, 302)
    with client.session_transaction() as sess:
        # the cookie carries a random session id, never the user's id (issue 16)
        assert len(sess["sid"]) >= 40
        assert "user_id" not in sess


def test_pages_redirect_to_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_logout_needs_csrf(client: FlaskClient, login: Any) -> None:
    csrf = login("cashier")
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/").status_code == 302


def test_session_cookie_flags(client: FlaskClient, login: Any) -> None:
    client.get("/login")
    cookie = client.get_cookie("recon_session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_open_redirect_refused(client: FlaskClient, make_user: Any) -> None:
    password = make_user("thu", "cashier")
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "thu", "password": password, "csrf_token": csrf})
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_unknown_route_404_not_500(client: FlaskClient, make_token: Any) -> None:
    token = make_token("admin")
    response = client.get("/api/v1/nothing", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (401, 403, 404)
