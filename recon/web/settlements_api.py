"""`/api/v1/settlements` and `/api/v1/settlement-files`: upload and read settlement files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file

from recon.config import Settings
from recon.errors import FieldError, Forbidden, NotFound, ValidationError
from recon.models import SettlementFile
from recon.settlements import files
from recon.settlements.importer import (
    PROVIDERS,
    check_provider,
    import_settlement,
    profiles_from_settings,
)
from recon.web.policy import scope
from recon.web.query import choice_arg, int_arg
from recon.web.security import database

bp = Blueprint("settlements_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 200
MIMETYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".json": "application/json",
}


@bp.post("/settlements")
def upload_settlement() -> tuple[Response, int]:
    """Multipart form: ``provider``, optional ``profile``, ``file``. 201 with the summary;
    422 with every bad row; 409 when the same file was imported before."""
    if not scope().is_all:
        raise Forbidden("a settlement file spans agencies: only a user or token of the whole "
                        "deployment imports one",
                        hint="Ask province finance to import it; `recon tokens create NAME "
                             "--role finance --all-agencies` makes such a token.")
    provider = check_provider(request.form.get("provider", ""))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError(FieldError("file", "is missing: send the report as the 'file' "
                                         "part of a multipart/form-data request"))
    data = upload.read()
    settings: Settings = current_app.config["RECON_SETTINGS"]
    summary = import_settlement(
        database(), current_app.extensions["recon.clock"], provider, data,
        Path(upload.filename).name or "upload", profile=request.form.get("profile") or None,
        profiles=profiles_from_settings(settings), actor=g.principal.actor)
    return jsonify(summary.as_dict()), 201


@bp.get("/settlement-files")
def list_settlement_files() -> Response:
    """Newest first; ``limit`` (≤ 200), ``before`` (an id: the next page), ``provider``."""
    limit = int_arg("limit", 50, minimum=1, maximum=MAX_PAGE) or 50
    before = int_arg("before", None, minimum=1)
    provider = choice_arg("provider", tuple(PROVIDERS))
    with database().read() as s:
        items = files.list_files(s, limit=limit, before=before, provider=provider,
                                 scope=scope())
    for item in items:
        item["imported_at"] = item["imported_at"].isoformat()
    next_before = items[-1]["id"] if len(items) == limit else None
    return jsonify({"items": items, "count": len(items), "next_before": next_before})


def _file_or_404(file_id: int) -> SettlementFile:
    with database().read() as s:
        row = files.get_file(s, file_id, scope())
        if row is None:
            raise NotFound(f"no settlement file {file_id}",
                           hint="List them with GET /api/v1/settlement-files.")
        return row


@bp.get("/settlement-files/<int:file_id>")
def get_settlement_file(file_id: int) -> Response:
    with database().read() as s:
        found = files.file_with_totals(s, file_id, scope())
    if found is None:
        raise NotFound(f"no settlement file {file_id}",
                       hint="List them with GET /api/v1/settlement-files.")
    out: dict[str, Any] = found[0]
    out["imported_at"] = out["imported_at"].isoformat()
    count, gross, fee, net, distinct, first, last = found[1]
    out["lines"] = {
        "count": count, "total_amount": gross, "total_fee": fee,
        "total_net": net, "distinct_transactions": distinct,
        "settled_from": _iso(first), "settled_to": _iso(last),
    }
    return jsonify(out)


def _iso(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()  # type: ignore[attr-defined]


@bp.get("/settlement-files/<int:file_id>/content")
def settlement_file_content(file_id: int) -> Response:
    """The original file, byte for byte, as a download."""
    row = _file_or_404(file_id)
    mimetype = MIMETYPES.get(Path(row.filename).suffix.lower(), "application/octet-stream")
    response = send_file(io.BytesIO(row.content), mimetype=mimetype, as_attachment=True,
                         download_name=row.filename or f"settlement-{file_id}")
    response.headers["X-Content-SHA256"] = row.sha256
    response.headers["Cache-Control"] = "private, no-store"
    return response


__all__ = ["bp"]
