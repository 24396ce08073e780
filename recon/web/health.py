"""`GET /healthz`: is the service up, can it reach its database, and can it write to it?

200 ``{"status": "ok", "version", "database": {"ok": true, "writable": true, "dialect",
"revision"}}``; otherwise 503 with ``database.problem`` (``unreachable``, ``not_migrated``,
``read_only``, ``disk_full``, ``overloaded``, ``busy``), a message in English and Vietnamese and
a hint for the administrator. "Writable" is a real committed write that changes nothing
(:meth:`recon.db.Database.probe_write`): a read-only or full database answers reads, so only a
write tells.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from recon import __version__
from recon.db import DatabaseFault, classify_fault
from recon.web.errors import RETRY_AFTER, describe
from recon.web.security import database

bp = Blueprint("health", __name__)


def _unhealthy(state: dict[str, object]) -> tuple[Response, int]:
    response = jsonify({"status": "unavailable", "version": __version__,
                        "database": {"ok": False, **state}})
    return response, 503


def _fault(exc: Exception) -> DatabaseFault:
    return classify_fault(exc) or DatabaseFault("unreachable", " ".join(str(exc).split())[:300])


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    db = database()
    try:
        state = db.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said plainly
        fault = _fault(exc)
        response, status = _unhealthy({"writable": False, "error": type(exc).__name__,
                                       **describe(fault)})
        response.headers["Retry-After"] = str(RETRY_AFTER[fault.kind])
        return response, status
    if state["revision"] is None:
        return _unhealthy({**state, "writable": None, "problem": "not_migrated",
                           "hint": "Run `recon db upgrade` to create the schema."})
    try:
        db.probe_write()
    except Exception as exc:  # noqa: BLE001 - said plainly, as above
        fault = _fault(exc)
        response, status = _unhealthy({**state, "writable": False,
                                       "error": type(exc).__name__, **describe(fault)})
        response.headers["Retry-After"] = str(RETRY_AFTER[fault.kind])
        return response, status
    return jsonify({"status": "ok", "version": __version__,
                    "database": {"ok": True, "writable": True, **state}}), 200
