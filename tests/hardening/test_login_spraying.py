"""Issue 16, item 9: password spraying. Besides the per-(username, address) limit, failed logins
are limited per address across usernames (RECON_LOGIN_MAX_FAILURES_PER_CLIENT, 30) and per
username across addresses (RECON_LOGIN_MAX_FAILURES_PER_USER, 10), within
RECON_LOGIN_WINDOW_SECONDS; the lockout page says, in Vietnamese or English, when to retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from recon import create_app
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database

PASSWORD = "correct-horse-battery"


def attempt(client: FlaskClient, username: str, password: str, address: str = "127.0.0.1",
            **kw: Any) -> Any:
    env = {"environ_base": {"REMOTE_ADDR": address}}
    client.get("/login", **env)
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf}, **env, **kw)


def test_spraying_many_names_from_one_address_is_locked(
        app: Flask, make_user: Callable[..., str], clock: FixedClock) -> None:
    """Two tries per name (under the pair limit of 5) over 15 names: the address limit (30)
    stops it, and then even a real user's right password from that address waits."""
    make_user("thu", "cashier")
    sprayer = app.test_client()
    for i in range(15):
        for guess in ("123456789a", "matkhau2026"):
            assert attempt(sprayer, f"nv{i:02d}", guess, "203.0.113.9").status_code == 401
    locked = attempt(sprayer, "nv99", "123456789a", "203.0.113.9")
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert "Có quá nhiều lần đăng nhập sai từ địa chỉ mạng này" in page
    assert "15 phút" in page and "lúc 10:15" in page  # T0 is 10:00 in Huế
    assert locked.headers["Retry-After"] == "900"
    assert attempt(sprayer, "thu", PASSWORD, "203.0.113.9").status_code == 429
    english = attempt(sprayer, "thu", PASSWORD, "203.0.113.9", query_string={"lang": "en"})
    assert "Too many failed logins from this network address. Try again in 15 minutes " \
        "(at 10:15)." in english.get_data(as_text=True)
    # another address is not concerned
    assert attempt(app.test_client(), "thu", PASSWORD, "198.51.100.7").status_code == 302
    clock.advance(timedelta(minutes=15))
    assert attempt(sprayer, "thu", PASSWORD, "203.0.113.9").status_code == 302


def test_one_name_from_many_addresses_is_locked(
        app: Flask, make_user: Callable[..., str], clock: FixedClock) -> None:
    """Two tries from each of five addresses (under the pair limit): the per-user limit (10)
    locks the name everywhere, with a message saying when and to tell an administrator."""
    make_user("ketoan", "finance")
    for n in range(5):
        botnet = app.test_client()
        for guess in ("123456789a", "matkhau2026"):
            assert attempt(botnet, "ketoan", guess, f"192.0.2.{n + 1}").status_code == 401
    clock.advance(timedelta(minutes=5))
    owner = attempt(app.test_client(), "ketoan", PASSWORD, "10.0.0.5")
    assert owner.status_code == 429
    page = owner.get_data(as_text=True)
    assert "Tài khoản này bị đăng nhập sai quá nhiều lần từ nhiều nơi" in page
    assert "10 phút" in page and "lúc 10:15" in page
    assert owner.headers["Retry-After"] == "600"
    clock.advance(timedelta(minutes=10))
    assert attempt(app.test_client(), "ketoan", PASSWORD, "10.0.0.5").status_code == 302


def test_someone_elses_pair_lock_does_not_lock_the_owner_out_elsewhere(
        app: Flask, make_user: Callable[..., str]) -> None:
    """A stranger reaching the pair limit (5) on ketoan from one address blocks that pair only:
    below the per-user limit (10), ketoan logs in from the office."""
    make_user("ketoan", "finance")
    stranger = app.test_client()
    for _ in range(5):
        assert attempt(stranger, "ketoan", "guess-guess", "203.0.113.50").status_code == 401
    pair = attempt(stranger, "ketoan", PASSWORD, "203.0.113.50")
    assert pair.status_code == 429
    assert "Đăng nhập sai quá nhiều lần. Vui lòng thử lại" in pair.get_data(as_text=True)
    assert attempt(app.test_client(), "ketoan", PASSWORD, "10.0.0.5").status_code == 302
    # the owner's success does not wipe the stranger's failures: still locked there
    assert attempt(stranger, "ketoan", PASSWORD, "203.0.113.50").status_code == 429


def test_the_spraying_limits_are_settings(env: dict[str, str], db: Database, clock: FixedClock,
                                          make_user: Callable[..., str]) -> None:
    app = create_app(load_settings({**env, "RECON_LOGIN_MAX_FAILURES_PER_CLIENT": "3",
                                    "RECON_LOGIN_MAX_FAILURES_PER_USER": "2"}),
                     clock=clock, database=db)
    client = app.test_client()
    for name in ("a1", "a2", "a3"):
        assert attempt(client, name, "x-x-x-x-x", "203.0.113.1").status_code == 401
    assert attempt(client, "a4", "x-x-x-x-x", "203.0.113.1").status_code == 429
    for n in range(2):
        assert attempt(client, "b1", "x-x-x-x-x", f"198.51.100.{n}").status_code == 401
    assert attempt(client, "b1", "x-x-x-x-x", "198.51.100.9").status_code == 429
    for name in ("RECON_LOGIN_MAX_FAILURES_PER_CLIENT", "RECON_LOGIN_MAX_FAILURES_PER_USER"):
        for bad in ("0", "many"):
            with pytest.raises(ValueError, match=name):
                create_app(load_settings({**env, name: bad}), clock=clock, database=db)
