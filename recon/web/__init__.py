"""HTTP: blueprints, the access policy, error mapping."""

from __future__ import annotations

import logging
import uuid

from flask import (
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from recon.config import Settings
from recon.errors import ReconError
from recon.money import format_vnd
from recon.web import i18n
from recon.web.policy import allowed, is_public
from recon.web.security import (
    add_security_headers,
    check_csrf,
    configure_session,
    csrf_token,
    load_principal,
)

log = logging.getLogger(__name__)
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz")


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == \
        "application/json"


def _json_error(status: int, code: str, message: str, hint: str | None = None,
                **extra: object) -> Response:
    body: dict[str, object] = {"error": code, "message": message}
    if hint:
        body["hint"] = hint
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _enforce_policy() -> BaseResponse | None:
    g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    if is_public(request.endpoint):
        g.principal = None
        g.via_session = False
        if (request.endpoint or "").startswith("auth."):
            check_csrf(form=True)  # login, logout and the language switch are forms
        return None
    principal = load_principal()
    g.principal = principal
    if principal is None:
        if wants_json():
            return _json_error(401, "unauthorized", "authentication required",
                               "Send 'Authorization: Bearer <token>' (recon tokens create ...).")
        return redirect(url_for("auth.login", next=request.full_path))
    if not allowed(request.endpoint, principal.role):
        if wants_json():
            return _json_error(403, "forbidden",
                               f"role {principal.role!r} may not use this route",
                               "Ask an administrator for a token or account with the right role.")
        return Response(render_template("error.html", status=403,
                                        message=i18n.translate(
                                            "You do not have access to this page.")), 403)
    check_csrf()
    return None


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ReconError)
    def _recon_error(exc: ReconError) -> Response | tuple[str, int]:
        if wants_json():
            response = jsonify(exc.as_dict())
            response.status_code = exc.http_status
            return response
        return render_template("error.html", status=exc.http_status, message=exc.message,
                               hint=exc.hint), exc.http_status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if status == 400 and exc.description == "csrf":
            message = i18n.translate("Your form expired. Reload the page and try again.")
            if wants_json():
                return _json_error(400, "csrf", "missing or wrong CSRF token",
                                   f"Send the page's token in the {'X-CSRF-Token'} header.")
            return render_template("error.html", status=400, message=message), 400
        if wants_json():
            hint = ("The request body is over the limit." if status == 413 else None)
            return _json_error(status, (exc.name or "error").lower().replace(" ", "_"),
                               exc.description or exc.name or "error", hint)
        message = i18n.translate("Page not found.") if status == 404 else (
            exc.description or exc.name or "")
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError) -> Response | tuple[str, int]:
        log.exception("database unavailable", extra={"request_id": g.get("request_id")})
        if wants_json():
            return _json_error(503, "database_unavailable",
                               "the database is unavailable; nothing was changed",
                               "Retry in a moment; if it persists, check the database server.")
        return render_template("error.html", status=503, message=i18n.translate(
            "Something went wrong. Try again; if it keeps happening, tell the administrator."
        )), 503


def init_app(app: Flask) -> None:
    settings: Settings = app.config["RECON_SETTINGS"]
    configure_session(app, development=settings.is_development)
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.secret_key_previous)
    from recon.web import (  # noqa: PLC0415
        api,
        auth_views,
        cashier,
        health,
        payments_api,
        settlements_api,
    )

    app.register_blueprint(health.bp)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(payments_api.bp)
    app.register_blueprint(cashier.bp)
    from recon.web import finance  # noqa: PLC0415 - issue 6

    app.register_blueprint(finance.bp)
    app.register_blueprint(settlements_api.bp)
    from recon.web import discrepancies_api  # noqa: PLC0415 - issue 5

    app.register_blueprint(discrepancies_api.bp)
    for extension in app.extensions.get("recon.blueprints", []):
        app.register_blueprint(extension)

    app.before_request(_enforce_policy)
    app.after_request(add_security_headers)

    @app.after_request
    def _request_id(response: Response) -> Response:
        if g.get("request_id"):
            response.headers["X-Request-Id"] = g.request_id
        return response

    _register_errors(app)
    app.jinja_env.globals.update(
        t=i18n.translate, lang=i18n.current_language, csrf_token=csrf_token,
        vnd=format_vnd)
    app.jinja_env.filters["vnd"] = format_vnd
