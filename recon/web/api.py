"""`/api/v1`: JSON for the one-stop software and the desks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from recon.errors import FieldError, NotFound, ValidationError
from recon.intake import agencies as intake_agencies
from recon.intake import dossiers as intake_dossiers
from recon.intake.dossiers import (
    dossier_as_dict,
    paid_amount,
    parse_dossier,
    upsert_dossier,
)
from recon.text_safety import first_bad_text
from recon.web.policy import scope
from recon.web.query import date_arg, int_arg, text_arg
from recon.web.security import database

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_PAGE = 500


def _clock() -> Any:
    return current_app.extensions["recon.clock"]


def json_body() -> Any:
    """The request body as JSON, with every number that is not an integer kept exact."""
    raw = request.get_data(cache=True)
    if not raw:
        raise ValidationError(FieldError("body", "is empty: send a JSON object"))
    try:
        parsed = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(FieldError("body", f"is not valid JSON: {exc}")) from None
    except RecursionError:  # "[[[[..." deeper than the parser's stack
        raise ValidationError(FieldError("body", "is nested too deeply")) from None
    except ArithmeticError:  # 1e1000000000000000000: beyond what Decimal can hold
        raise ValidationError(FieldError("body", "holds a number out of any range")) from None
    bad = first_bad_text(parsed)  # "\u0000" and "\ud800" parse, but no database stores them
    if bad is not None:
        raise ValidationError(bad)
    return parsed


@bp.post("/dossiers")
def create_dossier() -> tuple[Response, int]:
    body = json_body()
    reassess = body.get("reassess", False) if isinstance(body, dict) else False
    # a JSON boolean only: bool("false") is True, and reassessing rewrites fees of paid dossiers
    problem = (None if isinstance(reassess, bool) else
               FieldError("reassess", "must be true or false (a JSON boolean)"))
    try:
        inp = parse_dossier(body)
    except ValidationError as exc:
        if problem is None:
            raise
        raise ValidationError([*exc.errors, problem]) from None
    if problem is not None:
        raise ValidationError(problem)
    with database().transaction() as s:
        dossier, outcome = upsert_dossier(s, _clock(), inp, actor=g.principal.actor,
                                          reassess=reassess, scope=scope())
        payload = dossier_as_dict(dossier, paid_amount(s, dossier.id))
    return jsonify({"status": outcome, "dossier": payload}), 201 if outcome == "created" else 200


@bp.get("/dossiers/<dossier_code:code>")
def get_dossier(code: str) -> Response:
    with database().read() as s:
        dossier = intake_dossiers.find_dossier(s, code, scope())
        if dossier is None:
            raise NotFound(f"no dossier with code {code!r}",
                           hint="Check the code, or send the dossier with POST /api/v1/dossiers.")
        return jsonify(dossier_as_dict(dossier, paid_amount(s, dossier.id)))


@bp.get("/dossiers")
def list_dossiers() -> Response:
    """Filter by agency, procedure, received date range, code prefix; keyset pagination."""
    limit = int_arg("limit", 50, minimum=1, maximum=MAX_PAGE) or 50
    after = int_arg("after", 0) or 0
    filters = intake_dossiers.DossierFilters(
        agency_code=text_arg("agency_code"), procedure_code=text_arg("procedure_code"),
        received_from=date_arg("received_from"), received_to=date_arg("received_to"),
        code_prefix=text_arg("q"), scope=scope())
    with database().read() as s:
        dossiers = intake_dossiers.list_dossiers(s, filters, after=after, limit=limit)
        ids = [d.id for d in dossiers]
        paid = intake_dossiers.paid_amounts(s, ids)
        items = [dossier_as_dict(d, paid.get(d.id, 0)) for d in dossiers]
    next_after = ids[-1] if len(ids) == limit else None
    return jsonify({"items": items, "count": len(items), "next_after": next_after})


@bp.get("/agencies")
def list_agencies() -> Response:
    with database().read() as s:
        rows = intake_agencies.list_agencies(s, scope())
        return jsonify({"items": [
            {"code": a.code, "name": a.name, "bank_bin": a.bank_bin,
             "account_number": a.account_number, "account_name": a.account_name}
            for a in rows]})
