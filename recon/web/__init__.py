"""HTTP: blueprints, the access policy, error mapping."""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.ctx import _AppCtxGlobals
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map, PathConverter
from werkzeug.wrappers import Response as BaseResponse

from adapters.scrub import mask_pans_text
from recon.accounts.login_limits import limit_from_settings
from recon.accounts.sessions import policy_from_settings as session_policy_from_settings
from recon.audit.sealing import sealer_for
from recon.config import Settings
from recon.errors import FieldError, ReconError, ValidationError
from recon.money import format_vnd
from recon.web import i18n
from recon.web.policy import allowed, is_public
from recon.web.security import (
    WEBHOOK_PREFIX,
    add_security_headers,
    check_csrf,
    configure_session,
    csrf_token,
    load_principal,
    load_scope,
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


class DossierCodeConverter(PathConverter):
    """``<dossier_code:...>``: a dossier code (it may hold ``/``), but never one ending in the
    name of a sub-resource: ``GET /dossiers/X/cash-payments`` is the POST-only route answering
    405 with ``Allow: POST``, not a search for the dossier ``X/cash-payments``."""

    regex = r"[^/].*?(?<!/cash-payments)(?<!/payment-intents)"


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


def _request_id(environ: Mapping[str, Any]) -> str:
    """The caller's ``X-Request-Id`` if it is a plain token, else 32 random hex digits."""
    sent = environ.get("HTTP_X_REQUEST_ID") or ""
    return sent if REQUEST_ID.fullmatch(sent) else os.urandom(16).hex()


NUL = "\x00"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul(pairs: Iterable[tuple[str | None, str | None]], where: str) -> None:
    for raw_key, raw_value in pairs:
        key, value = raw_key or "", raw_value or ""  # a multipart part may lack either
        if NUL in key or NUL in value:
            raise ValidationError(FieldError(key.replace(NUL, "") or where,
                                             "contains a NUL character (U+0000), which is "
                                             "not text"))


def _refuse_nul_in_url(req: Request) -> None:
    """No URL carries a NUL legitimately, and PostgreSQL refuses one in any query parameter
    (a 500 from deep inside otherwise). Not for webhooks: every call is archived first, raw
    (its query string still percent-encoded), and refused by its adapter. A decoded query
    holds a NUL only where the raw one has a NUL or ``%00``: only then is it parsed here."""
    path = req.path
    if path.startswith(WEBHOOK_PREFIX):
        return
    _refuse_nul([("path", path)], "path")
    query = req.query_string
    if b"\x00" in query or b"%00" in query:
        _refuse_nul(req.args.items(multi=True), "query")


def _refuse_nul_in_form() -> None:
    """Form fields and upload names, once the caller may post them (never webhooks: their raw
    bytes are archived as they came, and reading the form would consume them)."""
    if request.path.startswith(WEBHOOK_PREFIX) or request.mimetype not in FORM_TYPES:
        return
    _refuse_nul(request.form.items(multi=True), "form")
    _refuse_nul(((name, upload.filename or "") for name, upload
                 in request.files.items(multi=True)), "file")


def _before_request() -> BaseResponse | None:
    """Every request, in one hook (Flask dispatches each hook separately): start the audit
    sealer, note the start time and request id, refuse a NUL in the URL, apply the policy."""
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    _start_sealer(req.environ)
    ctx_g: _AppCtxGlobals = g._get_current_object()
    ctx_g.request_started = time.perf_counter()
    ctx_g.request_id = _request_id(req.environ)
    _refuse_nul_in_url(req)
    return _enforce_policy(req, ctx_g)


def _after_request(response: Response) -> Response:
    """Every response, in one hook: the request id, the security headers, the access line."""
    ctx_g: _AppCtxGlobals = g._get_current_object()
    request_id = ctx_g.get("request_id")
    add_security_headers(response, request_id)
    _log_access(response, request_id, ctx_g.get("request_started"))
    return response


SERVER_SOCKETS = ("gunicorn.socket", "werkzeug.socket")


def _start_sealer(environ: Mapping[str, Any]) -> None:
    """Every serving process seals the audit chain in the background (PostgreSQL; see
    recon.audit.sealing), from the first request it serves, whatever the route. Only real servers
    (gunicorn, ``recon serve``): an app built by a test or a command starts no thread.
    After the first request of a process, one comparison."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    pid = os.getpid()
    if app.extensions.get("recon.sealer_pid") == pid:
        return
    if any(key in environ for key in SERVER_SOCKETS):
        sealer_for(app.extensions["recon.db"], app.extensions["recon.settings"])
        app.extensions["recon.sealer_pid"] = pid  # a forked child starts its own


def _log_access(response: Response, request_id: str | None, started: float | None) -> None:
    """One line per request: method, path, status, duration, request id. Never the query
    string (VNPay signs its callback data there) nor any body."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    method, path, status = req.method, mask_pans_text(req.path[:300]), response.status_code
    access_log.info("%s %s %s %s ms", method, path, status, duration_ms,
                    extra={"method": method, "path": path, "status": status,
                           "duration_ms": duration_ms, "remote_addr": req.remote_addr,
                           "request_id": request_id})


def _enforce_policy(req: Request, ctx_g: _AppCtxGlobals) -> BaseResponse | None:
    endpoint = req.endpoint
    if is_public(endpoint):
        ctx_g.principal = None
        ctx_g.via_session = False
        if (endpoint or "").startswith("auth."):
            check_csrf(form=True)  # login, logout and the language switch are forms
            _refuse_nul_in_form()
        return None
    principal = load_principal()
    ctx_g.principal = principal
    if principal is not None and req.routing_exception is not None:
        return None  # an authenticated caller learns the truth: 404 or 405, not 403
    if principal is None:
        if wants_json():
            return _json_error(401, "unauthorized", "authentication required",
                               "Send 'Authorization: Bearer <token>' (recon tokens create ...).")
        return redirect(url_for("auth.login", next=req.full_path))
    if not allowed(endpoint, principal.role):
        if wants_json():
            return _json_error(403, "forbidden",
                               f"role {principal.role!r} may not use this route",
                               "Ask an administrator for a token or account with the right role.")
        return Response(render_template("error.html", status=403,
                                        message=i18n.translate(
                                            "You do not have access to this page.")), 403)
    ctx_g.scope = load_scope(principal)
    check_csrf()
    _refuse_nul_in_form()
    return None


#: headers an HTTP error carries that the protocol requires of the answer (RFC 9110: a 405
#: lists the methods the resource allows; a 401 names its challenge; a 503 or 429 when to retry)
PROTOCOL_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def _keep_protocol_headers(exc: HTTPException, response: Response) -> Response:
    """The JSON or HTML error keeps what werkzeug's own answer would have said in its headers
    (``MethodNotAllowed`` carries the route's valid methods as ``Allow``)."""
    for name, value in exc.get_headers():
        if name in PROTOCOL_HEADERS:
            response.headers[name] = value
    return response


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
            response = _json_error(status, (exc.name or "error").lower().replace(" ", "_"),
                                   exc.description or exc.name or "error", hint)
        else:
            message = i18n.translate("Page not found.") if status == 404 else (
                exc.description or exc.name or "")
            response = Response(render_template("error.html", status=status, message=message),
                                status=status, mimetype="text/html")
        return _keep_protocol_headers(exc, response)

    from recon.web import errors  # noqa: PLC0415

    errors.register(app, wants_json=wants_json)


def _bench_endpoints() -> Blueprint:
    """The benchmark's reference endpoints (``bench/endpoints.py``): not part of the
    application, so imported by name, from the repository's ``bench`` package."""
    try:
        module = importlib.import_module("bench.endpoints")
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            "RECON_BENCH_ENDPOINTS=1 needs the repository's bench/ package on the path (run "
            "the server from a checkout, as bench/webhooks.py does), or unset it") from exc
    blueprint: Blueprint = module.bp
    return blueprint


def init_app(app: Flask) -> None:
    settings: Settings = app.config["RECON_SETTINGS"]
    configure_session(app, development=settings.is_development)
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.secret_key_previous)
    app.url_map.converters["int"] = BigIntConverter  # before any route is added
    app.url_map.converters["dossier_code"] = DossierCodeConverter
    app.extensions["recon.login_limit"] = limit_from_settings(settings)  # checked at start-up
    app.extensions["recon.session_policy"] = session_policy_from_settings(settings)
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
    from recon.web import finance_periods, periods_api  # noqa: PLC0415 - issue 15

    app.register_blueprint(periods_api.bp)
    app.register_blueprint(finance_periods.bp)
    from recon.web import finance_receipts  # noqa: PLC0415 - issue 19

    app.register_blueprint(finance_receipts.bp)
    from recon.web import webhooks  # noqa: PLC0415 - issue 4

    app.register_blueprint(webhooks.bp)
    from recon.web import receipts  # noqa: PLC0415 - issue 19 (print view, public lookup)

    app.register_blueprint(receipts.bp)
    if settings.get("BENCH_ENDPOINTS") == "1":  # bench/webhooks.py only, never in production
        app.register_blueprint(_bench_endpoints())
    for extension in app.extensions.get("recon.blueprints", []):
        app.register_blueprint(extension)

    app.before_request(_before_request)
    app.after_request(_after_request)
    _register_errors(app)
    app.jinja_env.globals.update(
        t=i18n.translate, lang=i18n.current_language, csrf_token=csrf_token,
        vnd=format_vnd)
    app.jinja_env.filters["vnd"] = format_vnd
