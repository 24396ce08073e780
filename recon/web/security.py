"""Who is calling (session user or bearer token), CSRF tokens, security headers."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, Response, abort, current_app, g, request, session
from sqlalchemy import select

from recon.auth import Principal, note_token_use, token_principal
from recon.db import Database
from recon.models import User

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def database() -> Database:
    db: Database = current_app.extensions["recon.db"]
    return db


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def load_principal() -> Principal | None:
    """Sets ``g.principal`` and ``g.via_session`` from a bearer token or the login session."""
    g.via_session = False
    token = bearer_token()
    if token is not None:
        with database().read() as s:
            principal = token_principal(s, token)
        if principal is not None:  # after the read: no transaction held while it writes
            note_token_use(database(), current_app.extensions["recon.clock"], principal)
        return principal
    user_id = session.get("user_id")
    if user_id is None:
        return None
    with database().read() as s:
        user = s.execute(select(User).where(User.id == user_id)).scalar_one_or_none()
    if user is None or not user.active:
        session.clear()
        return None
    g.via_session = True
    return Principal("user", user.id, user.username, user.role)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf(*, form: bool = False) -> None:
    """Forms (``form=True``) and browser calls made with the session cookie must carry the
    session's token. Bearer-token API calls and provider webhooks carry no cookie: exempt."""
    if request.method not in UNSAFE_METHODS:
        return
    if not form and not getattr(g, "via_session", False):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="csrf")


HSTS = "max-age=31536000; includeSubDomains"


def add_security_headers(response: Response) -> Response:
    """On every response (errors and webhooks too). HSTS wherever cookies are ``Secure``, i.e.
    outside development and test: the site is served over HTTPS there."""
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    return response


def configure_session(app: Flask, *, development: bool) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_NAME="recon_session",
    )
