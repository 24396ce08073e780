"""503s for a database that cannot do its part: unreachable, read-only, disk full, overloaded.

Every such error — raised anywhere under a request (loading the caller's session, a page, an
API call) — is answered 503 with ``Retry-After``, saying in Vietnamese and English what happened
(nothing was saved) and what to do next; JSON for ``/api``, ``/webhooks`` and ``/healthz``
callers, the error page otherwise. Webhooks never get here: :func:`payments.ingest.handle_callback`
catches its own failures and answers each provider's own "retry" code. A database error that is
not about availability (a bug of ours, a constraint) stays a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from flask import Flask, Response, current_app, g, jsonify, render_template
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recon.db import DatabaseFault, classify_fault
from recon.web import i18n

log = logging.getLogger("recon.web")

#: kind -> (Vietnamese, English): what happened and what the reader does next
#: kind -> what the administrator checks (English: it goes to operators and logs)
ADMIN_HINTS: Final[dict[str, str]] = {
    "unreachable": "Check that RECON_DATABASE_URL is right and the database is there: "
                   "PostgreSQL running and accepting connections, or the SQLite file's "
                   "directory present and readable (GET /healthz says what it sees).",
    "read_only": "PostgreSQL: default_transaction_read_only, or a standby without a primary; "
                 "SQLite: the permissions of the database file and its directory.",
    "disk_full": "Free space on the database's disk (PostgreSQL's data and WAL directories, or "
                 "the SQLite file's directory), then retry.",
    "overloaded": "Too many connections, out of memory, or every connection of a worker's "
                  "pool in use: check max_connections, the number of workers and threads, and "
                  "long requests holding connections (README, Deployment).",
    "busy": "A long transaction or a migration holds locks; it should pass.",
    "conflict": "Transient: concurrent changes to the same rows.",
    "not_migrated": "Run `recon db upgrade`.",
}
#: seconds a caller should wait before retrying
RETRY_AFTER: Final[dict[str, int]] = {"unreachable": 30, "read_only": 60, "disk_full": 60,
                                      "overloaded": 10, "busy": 5, "conflict": 1,
                                      "not_migrated": 60}


def describe(fault: DatabaseFault) -> dict[str, object]:
    """The JSON description of a fault (also /healthz's)."""
    en, vi = i18n.FAULT_MESSAGES[fault.kind]
    return {"problem": fault.kind, "message": en, "message_vi": vi,
            "hint": ADMIN_HINTS[fault.kind], "detail": fault.detail}


PUBLIC_HINT: Final = ("Nothing was saved: retry after the Retry-After delay; if it lasts, "
                      "tell the administrator (quote the X-Request-Id).")


def public_description(fault: DatabaseFault) -> dict[str, object]:
    """What any caller (authenticated or not) learns of a fault: the state word and what to
    do, never the driver's words nor the deployment's settings (those go to the log and to
    ``/admin/health``)."""
    en, vi = i18n.FAULT_MESSAGES[fault.kind]
    return {"problem": fault.kind, "message": en, "message_vi": vi, "hint": PUBLIC_HINT}


def database_unavailable(fault: DatabaseFault, *, as_json: bool) -> Response:
    """The 503 for ``fault``: JSON, or the error page in the reader's language. The driver's
    detail and the administrator's hint are logged (by the caller), never answered."""
    if as_json:
        response = jsonify({"error": "database_unavailable", **public_description(fault)})
    else:
        response = Response(render_template(
            "error.html", status=503, message=i18n.fault_message(fault.kind)),
            mimetype="text/html")
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER[fault.kind])
    return response


def register(app: Flask, *, wants_json: Callable[[], bool]) -> None:
    """Map database errors: availability faults to 503, anything else to a plain 500."""

    @app.errorhandler(PoolTimeout)  # every pooled connection busy: overloaded, not a bug
    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError | PoolTimeout) -> Response:
        fault = classify_fault(exc, current_app.extensions["recon.db"])
        if fault is None:
            log.exception("database error", extra={"request_id": g.get("request_id")})
            if wants_json():
                response = jsonify({"error": "internal_error",
                                    "message": "an internal error occurred; nothing was "
                                               "changed",
                                    "hint": "Retry; if it keeps happening, tell the "
                                            "administrator (quote the X-Request-Id)."})
            else:
                response = Response(render_template("error.html", status=500, message=(
                    i18n.translate("Something went wrong. Try again; if it keeps happening, "
                                   "tell the administrator."))), mimetype="text/html")
            response.status_code = 500
            return response
        log.error("database unavailable (%s): %s; %s", fault.kind, fault.detail,
                  ADMIN_HINTS[fault.kind], extra={"request_id": g.get("request_id")})
        return database_unavailable(fault, as_json=wants_json())
