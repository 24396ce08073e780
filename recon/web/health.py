"""`GET /healthz`: is the service up, and can it reach its database?"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from recon import __version__
from recon.web.security import database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        state = database().ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy", said plainly
        return jsonify({"status": "unavailable", "version": __version__,
                        "database": {"ok": False, "error": type(exc).__name__,
                                     "hint": "Check RECON_DATABASE_URL and that the database "
                                             "server is running."}}), 503
    ok = state["revision"] is not None
    database_state: dict[str, object] = {"ok": ok, **state}
    if not ok:
        database_state["hint"] = "Run `recon db upgrade` to create the schema."
    body = {"status": "ok" if ok else "unavailable", "version": __version__,
            "database": database_state}
    return jsonify(body), 200 if ok else 503
