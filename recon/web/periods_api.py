"""`/api/v1/periods`: closed months (khóa sổ) for finance; the service is
:mod:`recon.review.periods`."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from typing import Final

from flask import Blueprint, Response, current_app, g, jsonify, send_file

from recon.errors import Conflict, FieldError, ValidationError
from recon.periods import parse_month
from recon.review import periods
from recon.review.actions import MAX_NOTE
from recon.web.api import json_body
from recon.web.policy import scope
from recon.web.query import choice_arg
from recon.web.security import database

bp = Blueprint("periods_api", __name__, url_prefix="/api/v1")
#: ``YYYY-MM`` of the books: years 1900–2099 (the OpenAPI document declares the same pattern)
MONTH_PATTERN: Final = re.compile(r"(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])")
#: a discrepancy id as a JSON object key
CARRY_KEY: Final = re.compile(r"[0-9]{1,18}")


def _body() -> dict[str, object]:
    data = json_body()  # refuses NUL and unpaired surrogates, as every JSON body of the API
    if not isinstance(data, dict):
        raise ValidationError(FieldError("body", "must be a JSON object"))
    return data


def _note(value: object, field: str, *, required: bool) -> str | None:
    """A note as the document declares it: a string (null when optional), at most
    ``MAX_NOTE`` characters, with something in it when required."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ValidationError(FieldError(field, "must be a string" + (
            "" if required else " or null")))
    if len(value) > MAX_NOTE:
        raise ValidationError(FieldError(field, f"at most {MAX_NOTE} characters"))
    if required and not value.strip():
        raise ValidationError(FieldError(field, "write why"),
                              hint="A note is required: it is what an auditor reads.")
    return value


def _proposal(data: dict[str, object]) -> tuple[date, str | None, str | None, dict[int, str]]:
    raw_month = data.get("month")
    if not isinstance(raw_month, str) or not MONTH_PATTERN.fullmatch(raw_month):
        raise ValidationError(FieldError("month", f"{raw_month!r} is not a month: write "
                                         "YYYY-MM, e.g. 2021-03"))
    month = parse_month(raw_month)
    agency = data.get("agency")
    if agency is not None and not isinstance(agency, str):
        raise ValidationError(FieldError("agency", "must be an agency code or null"))
    note = _note(data.get("note"), "note", required=False)
    raw = data.get("carry_forward", {})
    if not isinstance(raw, dict) or not all(CARRY_KEY.fullmatch(k) for k in raw):
        raise ValidationError(FieldError("carry_forward", "an object {discrepancy id: note}"))
    carry = {int(k): _note(v, f"carry_forward[{k}]", required=True) or ""
             for k, v in raw.items()}
    return month, agency, note, carry


@bp.get("/periods")
def list_periods() -> Response:
    with database().read() as s:
        items = [periods.as_dict(p, len(periods.snapshots(s, p.id)))
                 for p in periods.list_periods(s, scope())]
    return jsonify({"items": items, "count": len(items)})


@bp.post("/periods")
def propose_period() -> tuple[Response, int]:
    """``{"month": "2021-03", "agency": null, "note": "…", "carry_forward": {"42": "…"}}``"""
    month, agency, note, carry = _proposal(_body())
    with database().transaction() as s:
        p = periods.propose(s, current_app.extensions["recon.clock"], actor=g.principal.actor,
                            month=month, agency_code=agency, note=note, carry_forward=carry,
                            person=g.principal.person, scope=scope())
        out = periods.as_dict(p)
    return jsonify(out), 201


@bp.post("/periods/<int:period_id>/approve")
def approve_period(period_id: int) -> Response:
    with database().transaction() as s:
        p = periods.approve(s, current_app.extensions["recon.clock"], period_id,
                            actor=g.principal.actor, person=g.principal.person, scope=scope())
        out = periods.as_dict(p, len(periods.snapshots(s, p.id)))
    return jsonify(out)


@bp.post("/periods/<int:period_id>/reopen")
def reopen_period(period_id: int) -> Response:
    reason = _note(_body().get("reason"), "reason", required=True)
    with database().transaction() as s:
        p = periods.reopen(s, current_app.extensions["recon.clock"], period_id,
                           actor=g.principal.actor, role=g.principal.role, reason=reason,
                           scope=scope())
        out = periods.as_dict(p, len(periods.snapshots(s, p.id)))
    return jsonify(out)


@bp.get("/periods/<int:period_id>/snapshot")
def period_snapshot(period_id: int) -> Response:
    """The last close's frozen snapshot (JSON, exactly the hashed text), or ``?format=xlsx``."""
    with database().read() as s:
        p = periods.get(s, period_id, scope=scope())
        text, digest = p.snapshot, p.snapshot_sha256
    if text is None:
        raise Conflict(f"period {period_id} has never been closed: it has no snapshot",
                       hint="Close the month first (propose, then approve).")
    if choice_arg("format", ("json", "xlsx"), "json") == "xlsx":
        out = io.BytesIO()
        periods.write_report_xlsx(json.loads(text), out)
        out.seek(0)
        return send_file(out, mimetype="application/vnd.openxmlformats-officedocument."
                         "spreadsheetml.sheet", as_attachment=True,
                         download_name=f"khoa-so-{period_id}.xlsx")
    response = Response(text, mimetype="application/json")
    response.headers["X-Snapshot-SHA256"] = digest or ""
    return response
