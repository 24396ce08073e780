"""`GET /healthz`: is the service up, can it reach its database, and can it write to it?

200 ``{"status": "ok", "version", "database": {"ok": true, "writable": true, "dialect",
"revision"}}``; otherwise 503 with ``database.problem`` (``unreachable``, ``not_migrated``,
``read_only``, ``disk_full``, ``overloaded``, ``busy``), a message in English and Vietnamese, a
hint for the administrator and ``Retry-After``. "Writable" is a real committed write that
changes nothing (:meth:`recon.db.Database.probe_write`): a read-only or full database answers
reads, so only a write tells. The write waits at most ``RECON_HEALTH_TIMEOUT_SECONDS`` (2 s) for
a lock: behind a long writer the answer is ``busy`` at once, never a hang.

``spool.pending`` counts the webhook calls kept in the spool (:mod:`recon.payments.spool`) while the
database could not store them and not imported yet; when there are any, ``warnings`` says so
and what to run. A warning never makes the answer a 503. ``webhooks.rate_limited_today`` counts
the refused webhook calls answered 429 today by the per-address limit (a count only).

That whole answer is for administrators only (``GET /admin/health``, an admin session or token):
a driver's error text names hosts, ports and users. ``/healthz`` is public (load balancers,
monitors) and answers only the state and this service's own fixed words: ``status``, and in
``database`` ``ok``, ``writable``, ``problem`` with its fixed ``message``/``message_vi``/``hint``,
``spool``, ``webhooks`` and ``warnings``; never the driver's ``detail`` or ``error``, nor the
version, dialect or schema revision. The same status code and ``Retry-After``; the details of a
failure go to the log.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from recon import __version__
from recon.config import Settings
from recon.db import Database, DatabaseFault, classify_fault, revision_status
from recon.payments.refused import limited_today
from recon.payments.spool import pending_lines
from recon.web.errors import RETRY_AFTER, describe
from recon.web.security import database

bp = Blueprint("health", __name__)
log = logging.getLogger("recon.web")


def _spool(settings: Settings) -> dict[str, object]:
    """``spool`` and, when there is something to say, ``warnings`` (cheap: counts lines)."""
    try:
        pending = pending_lines(settings.spool_path)
    except OSError as exc:
        log.warning("cannot read the spool directory %s: %s", settings.spool_path, exc)
        return {"spool": {"pending": None}, "warnings": [{
            "code": "spool_unreadable",
            "message": f"the spool directory cannot be read ({exc.strerror or exc}); check "
                       "RECON_SPOOL_DIR and its permissions",
            "message_vi": f"Không đọc được thư mục spool ({exc.strerror or exc}); hãy kiểm "
                          "tra RECON_SPOOL_DIR và quyền truy cập thư mục."}]}
    if not pending:
        return {"spool": {"pending": 0}}
    return {"spool": {"pending": pending}, "warnings": [{
        "code": "spooled_callbacks",
        "message": f"{pending} webhook calls were kept in the spool while the database could "
                   "not store them (their providers were told to retry); once the database is "
                   "healthy, run `recon callbacks spool-import` on this host",
        "message_vi": f"Có {pending} lệnh gọi webhook được lưu tạm trong spool khi cơ sở dữ "
                      "liệu không ghi được (nhà cung cấp đã được yêu cầu gửi lại); khi cơ sở dữ "
                      "liệu hoạt động bình thường, hãy chạy `recon callbacks spool-import` trên "
                      "máy chủ này."}]}


def _webhooks(db: Database) -> dict[str, object]:
    """``webhooks.rate_limited_today``: refused webhook calls answered 429 today (UTC), a count
    only (:mod:`recon.payments.refused`); None when it cannot be read."""
    try:
        count: int | None = limited_today(db, current_app.extensions["recon.clock"])
    except Exception:
        log.warning("cannot read the refused-call counter", exc_info=True)
        count = None
    return {"webhooks": {"rate_limited_today": count}}


Answer = tuple[dict[str, Any], int, str | None]  # the full answer, its status, Retry-After


def _unhealthy(state: dict[str, object], fault: DatabaseFault) -> Answer:
    settings: Settings = current_app.extensions["recon.settings"]
    return ({"status": "unavailable", "version": __version__,
             "database": {"ok": False, **state, **describe(fault)}, **_spool(settings)},
            503, str(RETRY_AFTER[fault.kind]))


def _fault(exc: Exception) -> DatabaseFault:
    fault = classify_fault(exc, database())
    if fault is None:  # whatever it is, the database cannot serve: said plainly, and logged
        log.exception("health check failed")
        return DatabaseFault("unreachable", " ".join(str(exc).split())[:300])
    return fault


def _check() -> Answer:
    db = database()
    settings: Settings = current_app.extensions["recon.settings"]
    try:
        state = db.ping(settings.health_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said plainly
        return _unhealthy({"writable": False, "error": type(exc).__name__}, _fault(exc))
    schema = revision_status(state["revision"])
    if schema in ("missing", "behind"):
        return _unhealthy({**state, "writable": None}, DatabaseFault(
            "not_migrated", "no schema yet" if schema == "missing" else
            f"the schema is at revision {state['revision']}, older than this code's"))
    try:
        db.probe_write(settings.health_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - said plainly, as above
        return _unhealthy({**state, "writable": False, "error": type(exc).__name__},
                          _fault(exc))
    return ({"status": "ok", "version": __version__,
             "database": {"ok": True, "writable": True, **state}, **_spool(settings),
             **_webhooks(db)}, 200, None)


def _respond(body: dict[str, Any], status: int, retry_after: str | None) -> tuple[Response, int]:
    response = jsonify(body)
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response, status


# fixed words of this service, never text from the driver or the environment
_PUBLIC_DB = frozenset({"ok", "writable", "problem", "message", "message_vi", "hint"})


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """The public answer: state words only, never a driver's text (hosts, ports, users)."""
    body, status, retry_after = _check()
    database_state = body["database"]
    public: dict[str, Any] = {
        "status": body["status"],
        "database": {key: value for key, value in database_state.items() if key in _PUBLIC_DB},
        **{key: body[key] for key in ("spool", "webhooks", "warnings") if key in body}}
    if status != 200:
        log.warning("health check: %s (%s): %s", database_state.get("problem"),
                    database_state.get("error", ""), database_state.get("detail", ""))
    return _respond(public, status, retry_after)


@bp.get("/admin/health")
def detail() -> tuple[Response, int]:
    """The whole answer (versions, revision, the fault's detail, the spool): administrators."""
    return _respond(*_check())
