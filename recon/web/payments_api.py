"""`/api/v1`: payment intents, their QR codes, and cash taken at the desk. Thin: parse, call
:mod:`recon.payments.intents`, serialise."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from recon.clock import Clock
from recon.config import Settings
from recon.errors import FieldError, ValidationError
from recon.models import PaymentIntent
from recon.payments import intents
from recon.web.api import json_body
from recon.web.policy import scope
from recon.web.query import choice_arg
from recon.web.security import database

bp = Blueprint("payments_api", __name__, url_prefix="/api/v1")

IMMUTABLE = "private, max-age=31536000, immutable"
CREATE_KEYS = frozenset({"channel", "amount", "note"})
CASH_KEYS = frozenset({"amount", "receipt_number"})


def _clock() -> Clock:
    clock: Clock = current_app.extensions["recon.clock"]
    return clock


def _settings() -> Settings:
    settings: Settings = current_app.extensions["recon.settings"]
    return settings


def _object(keys: frozenset[str]) -> dict[str, Any]:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError(FieldError("body", "must be a JSON object"))
    unknown = sorted(set(body) - keys)
    if unknown:
        raise ValidationError([FieldError(k, "is not a known field (expected one of "
                                          f"{', '.join(sorted(keys))})") for k in unknown])
    return body


def intent_body(intent: PaymentIntent) -> dict[str, Any]:
    out = intents.intent_as_dict(intent, _clock().now())
    has_qr = bool(intent.qr_payload)
    out["qr_png_url"] = url_for("payments_api.intent_qr_png", intent_id=intent.id) \
        if has_qr else None
    out["qr_svg_url"] = url_for("payments_api.intent_qr_svg", intent_id=intent.id) \
        if has_qr else None
    return out


@bp.post("/dossiers/<dossier_code:code>/payment-intents")
def create_intent(code: str) -> tuple[Response, int]:
    body = _object(CREATE_KEYS)
    with database().transaction() as s:
        outcome = intents.create_intent(
            s, _clock(), _settings(), dossier_code=code, channel=body.get("channel"),
            amount=body.get("amount"), note=body.get("note"), actor=g.principal.actor,
            scope=scope())
        payload = intent_body(outcome.intent)
    payload["reused"] = not outcome.created
    response = jsonify(payload)
    response.headers["Location"] = url_for("payments_api.get_intent",
                                           intent_id=outcome.intent.id)
    return response, 201 if outcome.created else 200


@bp.get("/payment-intents/<int:intent_id>")
def get_intent(intent_id: int) -> Response:
    intent = intents.read_intent(database(), _clock(), intent_id, scope())
    response = jsonify(intent_body(intent))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/payment-intents/<int:intent_id>/cancel")
def cancel_intent(intent_id: int) -> Response:
    with database().transaction() as s:
        intent = intents.cancel_intent(s, _clock(), intent_id, actor=g.principal.actor,
                                       scope=scope())
        return jsonify(intent_body(intent))


def _image(intent_id: int, fmt: intents.ImageFormat, mimetype: str) -> Response:
    size = intents.parse_size(choice_arg("size", ("screen", "print"), "screen"))
    with database().read() as s:
        intent = intents.get_intent(s, intent_id, scope())
    payload = intent.qr_payload or ""
    etag = hashlib.sha256(f"{fmt}:{size}:{payload}".encode()).hexdigest()[:32]
    if payload and request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(intents.qr_image(intent, fmt, size), mimetype=mimetype)
    response.set_etag(etag)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


@bp.get("/payment-intents/<int:intent_id>/qr.png")
def intent_qr_png(intent_id: int) -> Response:
    return _image(intent_id, "png", "image/png")


@bp.get("/payment-intents/<int:intent_id>/qr.svg")
def intent_qr_svg(intent_id: int) -> Response:
    return _image(intent_id, "svg", "image/svg+xml")


@bp.post("/dossiers/<dossier_code:code>/cash-payments")
def record_cash(code: str) -> tuple[Response, int]:
    body = _object(CASH_KEYS)
    with database().transaction() as s:
        outcome = intents.record_cash(
            s, _clock(), _settings(), dossier_code=code, amount=body.get("amount"),
            receipt_number=body.get("receipt_number"), actor=g.principal.actor,
            scope=scope())
        payment = outcome.result.payment
        payload = {
            "outcome": outcome.result.outcome,
            "payment": {"id": payment.id, "provider": payment.provider,
                        "channel": payment.channel, "amount": payment.amount,
                        "receipt_number": payment.receipt_number, "status": payment.status,
                        "paid_at": payment.paid_at.isoformat(),
                        "recorded_by": payment.recorded_by},
            "dossier": {"code": outcome.dossier_code,
                        "total_assessed": outcome.balance.assessed,
                        "total_paid": outcome.balance.paid,
                        "outstanding": outcome.balance.outstanding},
        }
    return jsonify(payload), 200 if outcome.duplicate else 201
