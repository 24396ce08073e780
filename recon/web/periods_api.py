"""`/api/v1/periods`: closed months (khóa sổ) for finance; the service is
:mod:`recon.review.periods`."""

from __future__ import annotations

import io
import json

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file

from recon.errors import FieldError, ValidationError
from recon.periods import parse_month
from recon.review import periods
from recon.web.policy import scope
from recon.web.security import database

bp = Blueprint("periods_api", __name__, url_prefix="/api/v1")


def _body() -> dict[str, object]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(FieldError("body", "must be a JSON object"))
    return data


@bp.get("/periods")
def list_periods() -> Response:
    with database().read() as s:
        items = [periods.as_dict(p, len(periods.snapshots(s, p.id)))
                 for p in periods.list_periods(s, scope())]
    return jsonify({"items": items, "count": len(items)})


@bp.post("/periods")
def propose_period() -> tuple[Response, int]:
    """``{"month": "2021-03", "agency": null, "note": "…", "carry_forward": {"42": "…"}}``"""
    data = _body()
    try:
        month = parse_month(data.get("month"))
    except ValueError as exc:
        raise ValidationError(FieldError("month", str(exc))) from None
    raw = data.get("carry_forward") or {}
    if not isinstance(raw, dict) or not all(str(k).isdigit() for k in raw):
        raise ValidationError(FieldError("carry_forward", "an object {discrepancy id: note}"))
    agency = data.get("agency")
    with database().transaction() as s:
        p = periods.propose(s, current_app.extensions["recon.clock"], actor=g.principal.actor,
                            month=month, agency_code=agency if isinstance(agency, str) else None,
                            note=data.get("note"),
                            carry_forward={int(k): str(v) for k, v in raw.items()},
                            scope=scope())
        out = periods.as_dict(p)
    return jsonify(out), 201


@bp.post("/periods/<int:period_id>/approve")
def approve_period(period_id: int) -> Response:
    with database().transaction() as s:
        p = periods.approve(s, current_app.extensions["recon.clock"], period_id,
                            actor=g.principal.actor, scope=scope())
        out = periods.as_dict(p, len(periods.snapshots(s, p.id)))
    return jsonify(out)


@bp.post("/periods/<int:period_id>/reopen")
def reopen_period(period_id: int) -> Response:
    data = _body()
    with database().transaction() as s:
        p = periods.reopen(s, current_app.extensions["recon.clock"], period_id,
                           actor=g.principal.actor, role=g.principal.role,
                           reason=data.get("reason"), scope=scope())
        out = periods.as_dict(p, len(periods.snapshots(s, p.id)))
    return jsonify(out)


@bp.get("/periods/<int:period_id>/snapshot")
def period_snapshot(period_id: int) -> Response:
    """The last close's frozen snapshot (JSON, exactly the hashed text), or ``?format=xlsx``."""
    with database().read() as s:
        p = periods.get(s, period_id, scope=scope())
        text, digest = p.snapshot, p.snapshot_sha256
    if text is None:
        raise ValidationError(FieldError("period", "has never been closed"),
                              hint="Close the month first.")
    if request.args.get("format") == "xlsx":
        out = io.BytesIO()
        periods.write_report_xlsx(json.loads(text), out)
        out.seek(0)
        return send_file(out, mimetype="application/vnd.openxmlformats-officedocument."
                         "spreadsheetml.sheet", as_attachment=True,
                         download_name=f"khoa-so-{period_id}.xlsx")
    response = Response(text, mimetype="application/json")
    response.headers["X-Snapshot-SHA256"] = digest or ""
    return response
