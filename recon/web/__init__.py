"""HTTP: blueprints, the access policy, error mapping."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable

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
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response as BaseResponse

from adapters.scrub import mask_pans_text
from recon.config import Settings
from recon.errors import FieldError, ReconError, ValidationError
from recon.login_limits import limit_from_settings
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
access_log = logging.getLogger("recon.access")
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz")
# a caller's X-Request-Id is kept only if it is a plain token (it goes into logs and the database)
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


BIGINT_MAX = 2**63 - 1


class BigIntConverter(IntegerConverter):
    """``<int:...>`` that matches only what fits a BIGINT id: a larger number is no route (404),
    never an overflow in the database driver (500)."""

    def __init__(self, url_map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(url_map, fixed_digits, min, BIGINT_MAX if max is None else max, signed)


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


def _request_id() -> str:
    sent = request.headers.get("X-Request-Id") or ""
    return sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


NUL = "\x00"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul(pairs: Iterable[tuple[str | None, str | None]], where: str) -> None:
    for raw_key, raw_value in pairs:
        key, value = raw_key or "", raw_value or ""  # a multipart part may lack either
        if NUL in key or NUL in value:
            raise ValidationError(FieldError(key.replace(NUL, "") or where,
                                             "contains a NUL character (U+0000), which is "
                                             "not text"))


def _refuse_nul_in_url() -> None:
    """No URL carries a NUL legitimately, and PostgreSQL refuses one in any query parameter
    (a 500 from deep inside otherwise). Not for webhooks: every call is archived first, raw
    (its query string still percent-encoded), and refused by its adapter."""
    if request.path.startswith("/webhooks/"):
        return
    _refuse_nul([("path", request.path)], "path")
    _refuse_nul(request.args.items(multi=True), "query")


def _refuse_nul_in_form() -> None:
    """Form fields and upload names, once the caller may post them (never webhooks: their raw
    bytes are archived as they came, and reading the form would consume them)."""
    if request.path.startswith("/webhooks/") or request.mimetype not in FORM_TYPES:
        return
    _refuse_nul(request.form.items(multi=True), "form")
    _refuse_nul(((name, upload.filename or "") for name, upload
                 in request.files.items(multi=True)), "file")


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = _request_id()
    _refuse_nul_in_url()


def _log_access(response: Response) -> Response:
    """One line per request: method, path, status, duration, request id (from the log filter).
    Never the query string (VNPay signs its callback data there) nor any body."""
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    path = mask_pans_text(request.path[:300])
    access_log.info("%s %s %s %s ms", request.method, path, response.status_code, duration_ms,
                    extra={"method": request.method, "path": path,
                           "status": response.status_code, "duration_ms": duration_ms,
                           "remote_addr": request.remote_addr})
    return response


def _enforce_policy() -> BaseResponse | None:
    if not g.get("request_id"):
        g.request_id = _request_id()
    if is_public(request.endpoint):
        g.principal = None
        g.via_session = False
        if (request.endpoint or "").startswith("auth."):
            check_csrf(form=True)  # login, logout and the language switch are forms
            _refuse_nul_in_form()
        return None
    principal = load_principal()
    g.principal = principal
    if principal is not None and request.routing_exception is not None:
        return None  # an authenticated caller learns the truth: 404 or 405, not 403
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
    _refuse_nul_in_form()
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

    from recon.web import errors  # noqa: PLC0415

    errors.register(app, wants_json=wants_json)


def init_app(app: Flask) -> None:
    settings: Settings = app.config["RECON_SETTINGS"]
    configure_session(app, development=settings.is_development)
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.secret_key_previous)
    app.url_map.converters["int"] = BigIntConverter  # before any route is added
    app.extensions["recon.login_limit"] = limit_from_settings(settings)  # checked at start-up
    proxies = int(settings.get("TRUSTED_PROXIES") or 0)  # behind nginx on the same host: 1
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    from recon.web import (  # noqa: PLC0415
        api,
        auth_views,
        cashier,
        health,
        payments_api,
        settlements_api,
    )

    app.register_blueprint(health.bp)
    from recon.web import openapi  # noqa: PLC0415 - issue 7

    app.register_blueprint(openapi.bp)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(payments_api.bp)
    app.register_blueprint(cashier.bp)
    from recon.web import finance  # noqa: PLC0415 - issue 6

    app.register_blueprint(finance.bp)
    app.register_blueprint(settlements_api.bp)
    from recon.web import discrepancies_api  # noqa: PLC0415 - issue 5

    app.register_blueprint(discrepancies_api.bp)
    from recon.web import webhooks  # noqa: PLC0415 - issue 4

    app.register_blueprint(webhooks.bp)
    if settings.get("BENCH_ENDPOINTS") == "1":  # bench/webhooks.py only, never in production
        from recon.web import bench_endpoints  # noqa: PLC0415

        app.register_blueprint(bench_endpoints.bp)
    for extension in app.extensions.get("recon.blueprints", []):
        app.register_blueprint(extension)

    app.before_request(_start_request)
    app.before_request(_enforce_policy)
    app.after_request(add_security_headers)
    app.after_request(_log_access)

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
