"""`GET /healthz`: is the service up, can it reach its database, and can it write to it?

200 ``{"status": "ok", "version", "database": {"ok": true, "writable": true, "dialect",
"revision"}}``; otherwise 503 with ``database.problem`` (``unreachable``, ``not_migrated``,
``read_only``, ``disk_full``, ``overloaded``, ``busy``), a message in English and Vietnamese, a
hint for the administrator and ``Retry-After``. "Writable" is a real committed write that
changes nothing (:meth:`recon.db.Database.probe_write`): a read-only or full database answers
reads, so only a write tells. The write waits at most ``RECON_HEALTH_TIMEOUT_SECONDS`` (2 s) for
a lock: behind a long writer the answer is ``busy`` at once, never a hang.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from recon import __version__
from recon.config import Settings
from recon.db import DatabaseFault, classify_fault, revision_status
from recon.web.errors import RETRY_AFTER, describe
from recon.web.security import database

bp = Blueprint("health", __name__)
log = logging.getLogger("recon.web")


def _unhealthy(state: dict[str, object], fault: DatabaseFault) -> tuple[Response, int]:
    response = jsonify({"status": "unavailable", "version": __version__,
                        "database": {"ok": False, **state, **describe(fault)}})
    response.headers["Retry-After"] = str(RETRY_AFTER[fault.kind])
    return response, 503


def _fault(exc: Exception) -> DatabaseFault:
    fault = classify_fault(exc, database())
    if fault is None:  # whatever it is, the database cannot serve: said plainly, and logged
        log.exception("health check failed")
        return DatabaseFault("unreachable", " ".join(str(exc).split())[:300])
    return fault


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
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
    return jsonify({"status": "ok", "version": __version__,
                    "database": {"ok": True, "writable": True, **state}}), 200
