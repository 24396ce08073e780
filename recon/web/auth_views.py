"""Login, logout, the language switch and the landing page."""

from __future__ import annotations

import logging
import math
import secrets
from datetime import datetime
from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from recon.accounts import login_limits
from recon.accounts import sessions as web_sessions
from recon.accounts.auth import authenticate, username_of
from recon.audit import chain as audit
from recon.clock import VN_TZ, Clock
from recon.web import i18n
from recon.web.security import SESSION_ID_KEY, clear_login, database

bp = Blueprint("auth", __name__)
log = logging.getLogger(__name__)

HOME_BY_ROLE = {"cashier": "/cashier", "finance": "/finance", "admin": "/finance"}


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target.rstrip("?") or None


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        password = request.form.get("password", "")
        clock: Clock = current_app.extensions["recon.clock"]
        limit: login_limits.LoginLimit = current_app.extensions["recon.login_limit"]
        policy: web_sessions.SessionPolicy = current_app.extensions["recon.session_policy"]
        client = login_limits.client_key(request.remote_addr)
        with database().read() as s:
            locked = login_limits.lockout(s, clock, username, client, limit)
        if locked is not None:
            log.warning("login refused: %s limit reached (username sha256 %s…) from %s",
                        locked.scope, login_limits.username_key(username)[:12], client)
            return _too_many_attempts(clock.now(), locked)
        session_id = None
        with database().transaction() as s:
            user = authenticate(s, username, password)
            if user is not None:
                user.last_login_at = clock.now()
                audit.record(s, clock, actor=f"user:{username}",
                             action="user.logged_in", entity_type="user", entity_id=user.id)
                login_limits.reset(s, username, client)
                session_id = web_sessions.start(s, clock, user.id, client=client, policy=policy)
            else:
                login_limits.record_failure(s, clock, username, client, limit)
        if user is None:
            log.warning("failed login (username sha256 %s…) from %s",
                        login_limits.username_key(username)[:12], client)
        if user is not None and session_id is not None:
            clear_login()
            session[SESSION_ID_KEY] = session_id
            session["csrf"] = secrets.token_urlsafe(32)  # a new token for the new session
            session.permanent = False
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
        error = i18n.translate("Wrong username or password.")
        return render_template("login.html", error=error), 401
    return render_template("login.html", error=error)


#: what a locked-out person reads, per limit reached (each says when to try again)
LOCKOUT_MESSAGES = {
    "pair": "Too many failed logins. Try again in {minutes} minutes (at {time}).",
    "client": "Too many failed logins from this network address. Try again in {minutes} "
              "minutes (at {time}).",
    "user": "Too many failed logins for this account from several places. Try again in "
            "{minutes} minutes (at {time}); if it was not you, tell an administrator.",
}


def _too_many_attempts(now: datetime, locked: login_limits.Lockout
                       ) -> tuple[str, int, dict[str, str]]:
    until = locked.until
    seconds = max(math.ceil((until - now).total_seconds()), 1)
    minutes = max(math.ceil(seconds / 60), 1)
    at = until.astimezone(VN_TZ).strftime("%H:%M")
    message = i18n.translate(LOCKOUT_MESSAGES[locked.scope]).format(minutes=minutes, time=at)
    return (render_template("login.html", error=message), 429,
            {"Retry-After": str(seconds)})


@bp.post("/logout")
def logout() -> BaseResponse:
    """End every session of the logged-in user (issue 16), this one included: a copy of any
    of their cookies opens nothing afterwards."""
    session_id = session.get(SESSION_ID_KEY)
    if isinstance(session_id, str) and session_id:
        clock: Clock = current_app.extensions["recon.clock"]
        policy: web_sessions.SessionPolicy = current_app.extensions["recon.session_policy"]
        with database().transaction() as s:
            # only a live session logs its user out everywhere: a stale cookie ends nothing
            live = web_sessions.find(s, clock, session_id, policy)
            if live is not None:
                ended = web_sessions.end_all(s, clock, live.user_id, "logout")
                audit.record(s, clock, actor=f"user:{username_of(s, live.user_id)}",
                             action="user.logged_out", entity_type="user",
                             entity_id=live.user_id, data={"sessions_ended": ended})
    clear_login()
    return redirect(url_for("auth.login"))


@bp.post("/lang/<code>")
def language(code: str) -> BaseResponse:
    if code in i18n.LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))


@bp.get("/")
def home() -> BaseResponse | str:
    principal = g.principal
    target = HOME_BY_ROLE.get(principal.role)
    if target and target.strip("/") + ".index" in current_app.view_functions:
        return redirect(target)
    return render_template("home.html", principal=principal)


__all__ = ["Response", "bp"]
