"""Who is calling (session user or bearer token), CSRF tokens, security headers."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Flask, Response, abort, current_app, g, request, session
from flask.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionMixin,
)
from flask.wrappers import Request
from itsdangerous import URLSafeTimedSerializer
from werkzeug.datastructures import Headers as WerkzeugHeaders

from recon.accounts import sessions as web_sessions
from recon.accounts.auth import Principal, note_token_use, person_of, token_principal
from recon.accounts.scopes import scope_of
from recon.db import Database
from recon.scope import Scope

#: the cookie session's key for the server-side session id (recon.accounts.sessions)
SESSION_ID_KEY = "sid"

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
    session_id = session.get(SESSION_ID_KEY)
    if not isinstance(session_id, str) or not session_id:
        return None
    clock = current_app.extensions["recon.clock"]
    policy: web_sessions.SessionPolicy = current_app.extensions["recon.session_policy"]
    with database().read() as s:
        live = web_sessions.find(s, clock, session_id, policy)
    if live is None:
        clear_login()  # ended, expired or disabled: log in again
        return None
    web_sessions.touch(database(), clock, live)  # after the read, at most once a minute
    g.via_session = True
    return Principal("user", live.user_id, live.username, live.role,
                     person=person_of(live.username))


def clear_login() -> None:
    """Forget the login in this browser's cookie (its language stays)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


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
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy",
     "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
     "script-src 'self'; frame-ancestors 'none'; form-action 'self'"),
)
_WITH_HSTS = (("Strict-Transport-Security", HSTS), *SECURITY_HEADERS)
# werkzeug's Headers.extend validates each pair (a regex for a newline in name and value): a
# third of this function's cost, for constants and a request id that is [A-Za-z0-9._:-] or hex.
# The pairs go straight into the header list where werkzeug keeps one (every werkzeug so far)
_RAW_HEADER_LIST = isinstance(getattr(WerkzeugHeaders(), "_list", None), list)


def add_security_headers(response: Response, request_id: str | None = None) -> Response:
    """On every response (errors and webhooks too): the request id (replacing one a view set)
    and each security header a view did not set itself. HSTS wherever cookies are ``Secure``,
    i.e. outside development and test: the site is served over HTTPS there. One pass over the
    response's few headers and one ``extend``, not a case-insensitive lookup per header.
    ``request_id`` is a plain token (recon.web._request_id), fit for a header as it is."""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    add: list[tuple[str, str]] = []
    if request_id:
        if "x-request-id" in present:
            headers["X-Request-Id"] = request_id
        else:
            add.append(("X-Request-Id", request_id))
    wanted = _WITH_HSTS if current_app.config.get("SESSION_COOKIE_SECURE") else SECURITY_HEADERS
    add.extend(pair for pair in wanted if pair[0].lower() not in present)
    if _RAW_HEADER_LIST:
        headers._list.extend(add)
    else:
        headers.extend(add)
    return response


WEBHOOK_PREFIX = "/webhooks/"


class WebhookSession(NullSession):
    """A provider's webhook has no session: it authenticates by signature, and a cookie it may
    send is neither read nor answered. Reads see an empty session; a write is a bug."""


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, without the work every request paid for none: the
    signing serializer is built once per key set (Flask builds one per request, twice when
    saving), a request without a ``Cookie`` header opens an empty session without parsing
    cookies, webhooks open none (:class:`WebhookSession`), and an empty session nobody touched
    is not saved (Flask reads seven settings first to do nothing)."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if serializer is not None:
                self._serializers[key] = serializer
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return WebhookSession()
        if not request.environ.get("HTTP_COOKIE"):
            return None if self.get_signing_serializer(app) is None else self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.accessed and not session.modified:
            return  # Flask would do nothing either: no cookie to set, none to delete, no Vary
        super().save_session(app, session, response)


def configure_session(app: Flask, *, development: bool) -> None:
    app.session_interface = CookieSessions()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_NAME="recon_session",
    )


def load_scope(principal: Principal | None) -> Scope:
    """The agencies ``principal`` may see (issue 16), read once per request after the policy
    let the call in; views read it as :func:`recon.web.policy.scope`."""
    with database().read() as s:
        return scope_of(s, principal)
