"""The OpenAPI 3.1 document of `/api/v1` and the provider webhooks, served at
``GET /api/v1/openapi.json`` (public: it documents, it grants nothing).

Built from Python data so schemas are shared (money is always an integer with a ``minimum``).
``tests/hardening/test_openapi.py`` fails when a route under ``/api/v1`` or ``/webhooks`` is not
documented here, ``tests/hardening/test_schemathesis.py`` checks every answer against it, and
``tests/hardening/test_api_contract.py`` runs every Schemathesis check and phase (the stateful
one follows :data:`LINKS`): the document must declare every constraint the API enforces.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify

from adapters import PROVIDERS, adapter_class
from recon import __version__
from recon.engine.kinds import KINDS
from recon.intake.dossiers import CODE_PATTERN
from recon.models.dossiers import FEE_KINDS, RECEIVED_CHANNELS
from recon.money import MAX_VND
from recon.payments.intents import INTENT_CHANNELS, RECEIPT_SCHEMA_PATTERN
from recon.review.actions import MAX_NOTE
from recon.web.periods_api import CARRY_KEY, MONTH_PATTERN
from recon.web.query import BIGINT_MAX

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

Schema = dict[str, Any]
JSON = "application/json"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (JSON Schema 2020-12, as OpenAPI 3.1 uses it)."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    kind = out.get("type")
    out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def obj(properties: dict[str, Schema], required: list[str] | None = None, *,
        additional: bool = True, description: str | None = None) -> Schema:
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if not additional:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def every_key(properties: dict[str, Schema], *, additional: bool = True,
              description: str | None = None) -> Schema:
    """An object whose every property is always present (responses the server builds)."""
    return obj(properties, list(properties), additional=additional, description=description)


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
ID: Schema = {"type": "integer", "minimum": 1}
BOOL: Schema = {"type": "boolean"}
DATETIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
MONEY: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_VND,
                 "description": "whole VND (no minor unit); never a decimal or a string"}
POSITIVE_MONEY: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_VND,
                          "description": "whole VND, more than 0"}
SIGNED_MONEY: Schema = {"type": "integer", "description": "whole VND; may be negative"}
SUM_MONEY: Schema = {"type": "integer", "minimum": 0,
                     "description": "a sum of whole VND amounts"}
SETTLEMENT_PROVIDERS = list(PROVIDERS)
#: a query parameter's text: present means not empty (``?q=`` is refused, not read as absent)
QUERY_TEXT: Schema = {"type": "string", "minLength": 1}
#: a date (midnight, Vietnam time) or a date-time (without an offset: Vietnam time)
QUERY_MOMENT: Schema = {"anyOf": [DATE, DATETIME]}
#: what an auditor reads: something written, at most MAX_NOTE characters
NOTE: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "pattern": r"\S"}

EXAMPLE_AGENCY = "HUE-TTPVHCC"

SCHEMAS: dict[str, Schema] = {
    "FieldError": obj({
        "field": {"type": "string", "description": "the field (or `body`, `record`, `file`)"},
        "message": STR,
        "line": {"type": "integer", "minimum": 0,
                 "description": "the line or row of a file, when there is one"},
    }, ["field", "message"]),
    "Error": obj({
        "error": {"type": "string", "description": "a stable code: invalid, not_found, "
                  "conflict, unauthorized, forbidden, csrf, ..."},
        "message": STR,
        "hint": {"type": "string", "description": "what to do about it"},
        "errors": {"type": "array", "items": ref("FieldError"),
                   "description": "every problem found, for validation errors (422)"},
    }, ["error", "message"]),
    "FeeLineIn": obj({
        "kind": {"type": "string", "enum": list(FEE_KINDS)},
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
        "amount": POSITIVE_MONEY,
        "retention_bp": nullable({"type": "integer", "minimum": 0, "maximum": 10000,
                                  "description": "phí only: the retained share (tỷ lệ để "
                                  "lại) in basis points, 5000 = 50 %; a lệ phí takes none or "
                                  "0 (docs/treasury.md)"}),
        "budget_code": nullable({"type": "string", "pattern": "^[0-9]{4}$",
                                 "description": "the tiểu mục of the budget index, e.g. 2716"}),
        "collector_code": nullable({"type": "string", "minLength": 1, "maxLength": 40,
                                    "pattern": r"\S", "description": "the agency collecting "
                                    "this fee; absent: the dossier's agency"}),
        "deposit_rule": nullable({
            "type": "string",
            "pattern": r"^((day|week|month):([0-9]|[1-5][0-9]|60)|week:(mon|tue|wed|thu|fri|sat"
                       r"|sun))$",
            "description": "phí only: how often it is deposited into the collector's fee "
                           "account awaiting budget remittance, PERIOD:DAYS after the period "
                           "(month:5 = by the 5th of the next month; week:thu; day:1); "
                           "docs/treasury.md", "examples": ["month:5", "week:thu"]}),
    }, ["kind", "name", "amount"]),
    "DossierIn": obj({
        "code": {"type": "string", "pattern": f"^{CODE_PATTERN.pattern}$",
                 "examples": ["000.00.21.H57-210401-0001"]},
        "agency_code": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": r"\S",
                        "description": "an existing agency's code (GET /api/v1/agencies); an "
                                       "unknown one is 422", "examples": [EXAMPLE_AGENCY]},
        "procedure_code": {"type": "string", "minLength": 1, "maxLength": 40,
                           "pattern": r"\S"},
        "procedure_name": {"type": "string", "minLength": 1, "maxLength": 500,
                           "pattern": r"\S"},
        "procedure_field": nullable({"type": "string", "maxLength": 255}),
        "applicant_name": {"type": "string", "minLength": 1, "maxLength": 255,
                           "pattern": r"\S"},
        "received_at": {**DATETIME, "description": "ISO 8601; without an offset it is "
                        "Vietnam time (UTC+7)"},
        "received_channel": {"type": "string", "enum": list(RECEIVED_CHANNELS),
                             "default": "counter"},
        "fees": {"type": "array", "items": ref("FeeLineIn")},
        "reassess": {"type": "boolean", "default": False,
                     "description": "replace the fees of a dossier that already has payments "
                                    "(audited); without it that is 409"},
    }, ["code", "agency_code", "procedure_code", "procedure_name", "applicant_name",
        "received_at", "fees"]),
    "FeeLine": every_key({
        "kind": {"type": "string", "enum": list(FEE_KINDS)},
        "name": STR,
        "amount": MONEY,
        "retention_bp": nullable({"type": "integer", "minimum": 0, "maximum": 10000}),
        "budget_code": nullable(STR),
        "collector_code": nullable(STR),
        "deposit_rule": nullable(STR),
    }),
    "Dossier": obj({
        "code": STR,
        "agency_code": STR,
        "procedure_code": STR,
        "procedure_name": STR,
        "procedure_field": nullable(STR),
        "applicant_name": STR,
        "received_at": DATETIME,
        "received_channel": {"type": "string", "enum": list(RECEIVED_CHANNELS)},
        "status": STR,
        "fees": {"type": "array", "items": ref("FeeLine")},
        "total_assessed": SUM_MONEY,
        "total_paid": SUM_MONEY,
        "outstanding": SUM_MONEY,
        "payment_status": {"type": "string", "enum": ["no_fee", "unpaid", "partially_paid",
                                                      "paid", "overpaid"]},
    }, ["code", "agency_code", "procedure_code", "procedure_name", "procedure_field",
        "applicant_name", "received_at", "received_channel", "status", "fees",
        "total_assessed", "total_paid", "outstanding", "payment_status"]),
    "DossierWritten": every_key({
        "status": {"type": "string", "enum": ["created", "unchanged", "updated"]},
        "dossier": ref("Dossier"),
    }),
    "DossierPage": every_key({
        "items": {"type": "array", "items": ref("Dossier")},
        "count": {"type": "integer", "minimum": 0},
        "next_after": nullable(ID),
    }),
    "Agency": every_key({
        "code": STR, "name": STR,
        "bank_bin": {"type": "string", "pattern": "^[0-9]{6}$"},
        "account_number": STR, "account_name": STR,
    }),
    "AgencyList": every_key({"items": {"type": "array", "items": ref("Agency")}}),
    "IntentIn": obj({
        "channel": {"type": "string", "enum": list(INTENT_CHANNELS)},
        "amount": nullable({**POSITIVE_MONEY, "description": "at most what is outstanding; "
                            "leave it out (or null) to collect everything outstanding"}),
        "note": nullable({"type": "string", "description": "VietQR only: added to the "
                          "transfer purpose after the reference"}),
    }, ["channel"], additional=False),
    "Intent": obj({
        "id": ID,
        "dossier_code": STR,
        "reference": STR,
        "amount": POSITIVE_MONEY,
        "channel": {"type": "string", "enum": list(INTENT_CHANNELS)},
        "status": {"type": "string", "enum": ["issued", "paid", "expired", "cancelled"]},
        "created_at": DATETIME,
        "expires_at": DATETIME,
        "expires_in_seconds": {"type": "integer", "minimum": 0},
        "paid_at": nullable(DATETIME),
        "closed_at": nullable(DATETIME),
        "qr_payload": nullable(STR),
        "order_code": nullable(INT),
        "app_trans_id": nullable(STR),
        "bank": nullable(every_key({"bin": STR, "short_name": STR, "name": STR})),
        "account_number": nullable(STR),
        "account_name": nullable(STR),
        "qr_png_url": nullable(STR),
        "qr_svg_url": nullable(STR),
        "reused": {"type": "boolean", "description": "on create: an open intent for the "
                   "same dossier, channel and amount was returned instead of a new one"},
    }, ["id", "dossier_code", "reference", "amount", "channel", "status", "created_at",
        "expires_at", "expires_in_seconds", "paid_at", "closed_at", "qr_payload",
        "order_code", "app_trans_id", "bank", "account_number", "account_name",
        "qr_png_url", "qr_svg_url"]),
    "CashIn": obj({
        "amount": POSITIVE_MONEY,
        "receipt_number": {"type": "string", "pattern": RECEIPT_SCHEMA_PATTERN,
                           "description": "the number printed on the cash receipt (biên lai): "
                                          "1–64 printable ASCII characters (spaces around it "
                                          "are trimmed)", "examples": ["BL-0001234"]},
    }, ["amount", "receipt_number"], additional=False),
    "CashRecorded": every_key({
        "outcome": STR,
        "payment": every_key({
            "id": ID, "provider": {"const": "cash"}, "channel": {"const": "cash"},
            "amount": POSITIVE_MONEY, "receipt_number": nullable(STR),
            "status": {"type": "string", "enum": ["succeeded", "failed", "refunded"]},
            "paid_at": DATETIME, "recorded_by": STR,
        }),
        "dossier": every_key({
            "code": STR, "total_assessed": SUM_MONEY, "total_paid": SUM_MONEY,
            "outstanding": SUM_MONEY,
        }),
    }),
    "SettlementUpload": obj({
        "provider": {"type": "string", "enum": SETTLEMENT_PROVIDERS},
        "profile": {"type": "string", "description": "a column profile (`recon settlements "
                    "profiles`); without it the file's header picks one"},
        "file": {"type": "string", "format": "binary",
                 "description": "the report: CSV, XLSX or JSON"},
    }, ["provider", "file"]),
    "SettlementImport": obj({
        "file_id": ID,
        "provider": {"type": "string", "enum": SETTLEMENT_PROVIDERS},
        "filename": STR,
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": {"type": "integer", "minimum": 0},
        "format": STR,
        "profile": nullable(STR),
        "source": STR,
        "rows": {"type": "integer", "minimum": 0},
        "lines": {"type": "integer", "minimum": 0},
        "skipped": {"type": "integer", "minimum": 0},
        "total_amount": SUM_MONEY,
        "total_fee": SUM_MONEY,
        "total_net": SIGNED_MONEY,
        "settled_from": nullable(DATE),
        "settled_to": nullable(DATE),
        "imported_at": DATETIME,
        "already_settled": {"type": "integer", "minimum": 0},
    }, ["file_id", "provider", "filename", "sha256", "size", "format", "profile", "source",
        "rows", "lines", "skipped", "total_amount", "total_fee", "total_net", "settled_from",
        "settled_to", "imported_at"]),
    "SettlementFile": every_key({
        "id": ID,
        "provider": STR,
        "filename": STR,
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size": {"type": "integer", "minimum": 0},
        "source": STR,
        "profile": nullable(STR),
        "imported_at": DATETIME,
        "imported_by": STR,
        "row_count": {"type": "integer", "minimum": 0},
        "total_amount": SUM_MONEY,
    }),
    "SettlementFilePage": every_key({
        "items": {"type": "array", "items": ref("SettlementFile")},
        "count": {"type": "integer", "minimum": 0},
        "next_before": nullable(ID),
    }),
    "SettlementFileDetail": {"allOf": [ref("SettlementFile"), every_key({
        "lines": every_key({
            "count": {"type": "integer", "minimum": 0},
            "total_amount": SUM_MONEY,
            "total_fee": SUM_MONEY,
            "total_net": SIGNED_MONEY,
            "distinct_transactions": {"type": "integer", "minimum": 0},
            "settled_from": nullable(DATE),
            "settled_to": nullable(DATE),
        }),
    })]},
    "Discrepancy": every_key({
        "id": ID,
        "identity": STR,
        "kind": {"type": "string", "enum": list(KINDS)},
        "status": {"type": "string", "enum": ["open", "resolved", "auto_resolved"]},
        "dossier_code": nullable(STR),
        "agency_code": nullable(STR),
        "provider": nullable(STR),
        "provider_txn_id": nullable(STR),
        "reference": nullable(STR),
        "expected_amount": nullable(MONEY),
        "actual_amount": nullable(MONEY),
        "delta": nullable(SIGNED_MONEY),
        "within_tolerance": BOOL,
        "detected_at": DATETIME,
        "explanation": {"type": "string", "description": "Vietnamese"},
        "explanation_en": nullable(STR),
        "dossier_id": nullable(ID),
        "payment_id": nullable(ID),
        "settlement_line_id": nullable(ID),
        "first_run_id": nullable(ID),
        "last_run_id": nullable(ID),
        "resolution_type": nullable(STR),
        "resolution_note": nullable(STR),
        "resolved_by": nullable(STR),
        "resolved_at": nullable(DATETIME),
        "auto_resolved_reason": nullable(STR),
        "auto_resolved_reason_en": nullable(STR),
        "updated_at": DATETIME,
    }),
    "DiscrepancyPage": every_key({
        "items": {"type": "array", "items": ref("Discrepancy")},
        "count": {"type": "integer", "minimum": 0},
        "next_after": nullable(ID),
    }),
    "ReconRun": every_key({
        "id": ID,
        "mode": {"type": "string", "enum": ["full", "incremental"]},
        "status": {"type": "string", "enum": ["running", "succeeded", "failed"]},
        "dry_run": BOOL,
        "as_of": DATETIME,
        "window_start": nullable(DATETIME),
        "started_at": DATETIME,
        "finished_at": nullable(DATETIME),
        "triggered_by": STR,
        "counts": {"type": "object", "description": "what the run found, by kind"},
        "error": nullable(STR),
    }),
    "ReconRunPage": every_key({
        "items": {"type": "array", "items": ref("ReconRun")},
        "count": {"type": "integer", "minimum": 0},
        "next_before": nullable(ID),
    }),
    "Period": every_key({
        "id": ID, "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
        "agency_id": nullable(ID),
        "status": {"type": "string", "enum": ["open", "proposed", "closed"]},
        "proposed_by": nullable(STR), "proposed_at": nullable(DATETIME),
        "proposal_note": nullable(STR),
        "carried_forward": {"type": "object", "additionalProperties": STR,
                            "description": "discrepancy id -> why it is carried forward"},
        "approved_by": nullable(STR), "approved_at": nullable(DATETIME),
        "reopened_by": nullable(STR), "reopened_at": nullable(DATETIME),
        "reopen_reason": nullable(STR),
        "snapshot_sha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
        "snapshots": {"type": "integer", "minimum": 0},
    }, description="A month's books (khóa sổ), for one agency or (agency_id null) all"),
    "PeriodPage": every_key({
        "items": {"type": "array", "items": ref("Period")},
        "count": {"type": "integer", "minimum": 0},
    }),
    "ProviderAnswer": {
        "description": "The provider's own protocol: VNPay `{RspCode, Message}`, ZaloPay "
                       "`{return_code, return_message}`, payOS/SePay/Casso `{success}`, POS "
                       "`{status}`; MoMo answers 204 with no body.",
        "type": "object",
    },
}

ERROR_TEXT = {
    400: "Bad request (unreadable body, or a browser call without its CSRF token)",
    401: "No valid bearer token (send `Authorization: Bearer <token>`)",
    403: "The token's role may not use this route",
    404: "Not found (another agency's object, for a token of some agencies, is not found "
         "either)",
    405: "Method not allowed",
    409: "Conflict with what is stored (nothing was changed)",
    413: "The body is over the limit",
    422: "Invalid input: every problem is listed in `errors` (nothing was written)",
    503: "The database is unavailable; nothing was changed (retry)",
}


def error(status: int, text: str | None = None) -> Schema:
    return {"description": text or ERROR_TEXT[status],
            "content": {JSON: {"schema": ref("Error")}}}


def ok(schema: Schema, description: str, *, headers: dict[str, Any] | None = None) -> Schema:
    out: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def responses(success: dict[int, Schema], *errors: int, auth: bool = True,
              why: dict[int, str] | None = None) -> dict[str, Any]:
    """The answers of an operation; ``why`` says what else than the usual leads to an error
    status (rules of state no schema can carry, such as an agency that must exist)."""
    out: dict[str, Any] = {str(status): body for status, body in success.items()}
    codes = set(errors) | {503}
    if auth:
        codes |= {401, 403}
    for status in sorted(codes):
        text = ERROR_TEXT[status] + (f"; {why[status]}" if why and status in why else "")
        out[str(status)] = error(status, text)
    return out


def query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def path(name: str, schema: Schema, description: str, example: object = None) -> Schema:
    out: Schema = {"name": name, "in": "path", "required": True, "schema": schema,
                   "description": description}
    if example is not None:
        out["example"] = example
    return out


EXAMPLE_CODE = "000.00.21.H57-210401-0001"
EXAMPLE_DOSSIER = {
    "code": EXAMPLE_CODE, "agency_code": EXAMPLE_AGENCY, "procedure_code": "1.001612",
    "procedure_name": "Đăng ký thành lập hộ kinh doanh", "applicant_name": "Nguyễn Thị Hương",
    "received_at": "2021-04-01T08:30:00+07:00",
    "fees": [{"kind": "le_phi", "name": "Lệ phí đăng ký hộ kinh doanh", "amount": 100000},
             {"kind": "phi", "name": "Phí cung cấp thông tin", "amount": 80000}],
}
EXAMPLE_SETTLEMENT_CSV = (
    "provider_txn_id,amount,fee,transaction_at,settled_on\n"
    "14422574,100000,1100,2021-04-01T08:41:00+07:00,2021-04-02\n"
)
DOSSIER_CODE = path("code", {"type": "string", "minLength": 1},
                    "the dossier code (it may contain `/`)", EXAMPLE_CODE)
INTENT_ID = path("intent_id", {"type": "integer", "minimum": 0}, "the payment intent id", 1)
FILE_ID = path("file_id", {"type": "integer", "minimum": 0}, "the settlement file id", 1)
SIZE = query("size", {"type": "string", "enum": ["screen", "print"], "default": "screen"},
             "`print` for a larger image")


def _json_body(schema: Schema, description: str, example: object = None) -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": True, "description": description, "content": {JSON: media}}


def _image(fmt: str, mimetype: str) -> Schema:
    return {
        "tags": ["payments"],
        "summary": f"The intent's VietQR code as {fmt.upper()} (cached forever: it never "
                   "changes)",
        "parameters": [INTENT_ID, SIZE],
        "responses": responses({
            200: {"description": "the image; ETag set, `If-None-Match` gives 304",
                  "content": {mimetype: {"schema": {"type": "string",
                                                    "format": "binary"}}}},
            304: {"description": "not modified"},
        }, 404, 422),
    }


def _paths() -> dict[str, Any]:
    limit = query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                  "page size")
    files_limit = query("limit", {"type": "integer", "minimum": 1, "maximum": 200,
                                  "default": 50}, "page size")
    return {
        "/api/v1/openapi.json": {"get": {
            "tags": ["meta"], "summary": "This document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1",
                                  "content": {JSON: {"schema": {"type": "object"}}}}},
        }},
        "/api/v1/dossiers": {
            "post": {
                "tags": ["intake"],
                "summary": "Create or update a dossier with its fee lines (idempotent on code)",
                "description": "201 created; 200 unchanged for the same body, or updated when "
                               "the fees were reassessed (audited). Amounts are JSON integers "
                               "of VND; anything else is 422 naming the field, with nothing "
                               "written. Roles: intake, admin. A token of some agencies sends "
                               "only their dossiers: another agency is an unknown agency "
                               "(422), another agency's dossier code is not found (404).",
                "requestBody": _json_body(ref("DossierIn"), "the dossier as the one-stop "
                                          "software assessed it", EXAMPLE_DOSSIER),
                "responses": responses({
                    201: ok(ref("DossierWritten"), "created"),
                    200: ok(ref("DossierWritten"), "unchanged or updated"),
                }, 400, 404, 409, 413, 422, why={
                    404: "the dossier belongs to an agency outside the caller's scope",
                    422: "also when `agency_code` names no agency (agencies are created by "
                         "an administrator: `recon agencies create`; GET /api/v1/agencies "
                         "lists them)",
                    409: "the dossier has payments and its fees changed without `reassess`"}),
            },
            "get": {
                "tags": ["intake"],
                "summary": "Dossiers, filtered, in id order (keyset pagination)",
                "parameters": [
                    query("agency_code", QUERY_TEXT, "only this agency"),
                    query("procedure_code", QUERY_TEXT, "only this procedure"),
                    query("received_from", QUERY_MOMENT, "ISO date or date-time, inclusive "
                          "(without an offset: Vietnam time)"),
                    query("received_to", QUERY_MOMENT, "ISO date or date-time, exclusive "
                          "(without an offset: Vietnam time)"),
                    query("q", QUERY_TEXT, "dossier code prefix"),
                    limit,
                    query("after", {"type": "integer", "minimum": 0, "maximum": BIGINT_MAX},
                          "the previous page's `next_after`"),
                ],
                "responses": responses({200: ok(ref("DossierPage"), "a page")}, 422),
            },
        },
        "/api/v1/dossiers/{code}": {"get": {
            "tags": ["intake"],
            "summary": "A dossier with what was assessed, paid and is outstanding",
            "parameters": [DOSSIER_CODE],
            "responses": responses({200: ok(ref("Dossier"), "the dossier")}, 404),
        }},
        "/api/v1/agencies": {"get": {
            "tags": ["intake"], "summary": "Agencies and their collection accounts",
            "responses": responses({200: ok(ref("AgencyList"), "every agency")}),
        }},
        "/api/v1/dossiers/{code}/payment-intents": {"post": {
            "tags": ["payments"],
            "summary": "Issue a payment intent (a VietQR code or a gateway order)",
            "description": "Returns an open intent for the same dossier, channel and amount "
                           "instead of a new one (200, `reused`). Roles: cashier, admin.",
            "parameters": [DOSSIER_CODE],
            "requestBody": _json_body(ref("IntentIn"), "the channel, and optionally an amount "
                                      "below what is outstanding",
                                      {"channel": "vietqr", "amount": 100000}),
            "responses": responses({
                201: ok(ref("Intent"), "issued", headers={"Location": {"schema": STR}}),
                200: ok(ref("Intent"), "an open intent reused",
                        headers={"Location": {"schema": STR}}),
            }, 400, 404, 409, 413, 422),
        }},
        "/api/v1/payment-intents/{intent_id}": {"get": {
            "tags": ["payments"], "summary": "A payment intent and its state",
            "parameters": [INTENT_ID],
            "responses": responses({200: ok(ref("Intent"), "the intent")}, 404),
        }},
        "/api/v1/payment-intents/{intent_id}/cancel": {"post": {
            "tags": ["payments"], "summary": "Cancel an open intent (roles: cashier, admin)",
            "parameters": [INTENT_ID],
            "responses": responses({200: ok(ref("Intent"), "cancelled (or already closed)")},
                                   400, 404, 409),
        }},
        "/api/v1/payment-intents/{intent_id}/qr.png": {"get": _image("png", "image/png")},
        "/api/v1/payment-intents/{intent_id}/qr.svg": {"get": _image("svg", "image/svg+xml")},
        "/api/v1/dossiers/{code}/cash-payments": {"post": {
            "tags": ["payments"],
            "summary": "Record cash taken at the desk, once per receipt number",
            "description": "201 recorded; 200 when the same receipt, dossier and amount were "
                           "recorded before (nothing written). Roles: cashier, admin.",
            "parameters": [DOSSIER_CODE],
            "requestBody": _json_body(ref("CashIn"), "the amount and the receipt number",
                                      {"amount": 80000, "receipt_number": "BL-0001234"}),
            "responses": responses({
                201: ok(ref("CashRecorded"), "recorded"),
                200: ok(ref("CashRecorded"), "already recorded"),
            }, 400, 404, 409, 413, 422),
        }},
        "/api/v1/settlements": {"post": {
            "tags": ["settlements"],
            "summary": "Import a provider's settlement report or bank statement (all or "
                       "nothing)",
            "description": "422 lists every bad row with its row number (nothing written); "
                           "409 when the same bytes were imported before. Roles: finance, "
                           "admin, of the whole deployment (a file spans agencies: a token of "
                           "some agencies gets 403).",
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": ref("SettlementUpload"),
                "example": {"provider": "vnpay", "file": EXAMPLE_SETTLEMENT_CSV}}}},
            "responses": responses({201: ok(ref("SettlementImport"), "imported")},
                                   400, 409, 413, 422, why={
                                       422: "also when the file's content is not a report "
                                            "the profile reads (encoding, header, rows)"}),
        }},
        "/api/v1/settlement-files": {"get": {
            "tags": ["settlements"], "summary": "Imported settlement files, newest first",
            "parameters": [
                files_limit,
                query("before", {"type": "integer", "minimum": 1, "maximum": BIGINT_MAX},
                      "the previous page's `next_before`"),
                query("provider", {"type": "string", "enum": SETTLEMENT_PROVIDERS},
                      "only this provider"),
            ],
            "responses": responses({200: ok(ref("SettlementFilePage"), "a page")}, 422),
        }},
        "/api/v1/settlement-files/{file_id}": {"get": {
            "tags": ["settlements"], "summary": "A settlement file and the totals of its lines",
            "parameters": [FILE_ID],
            "responses": responses({200: ok(ref("SettlementFileDetail"), "the file")}, 404),
        }},
        "/api/v1/settlement-files/{file_id}/content": {"get": {
            "tags": ["settlements"], "summary": "The original file, byte for byte",
            "parameters": [FILE_ID],
            "responses": responses({200: {
                "description": "the file as a download; `X-Content-SHA256` is its hash",
                "headers": {"X-Content-SHA256": {"schema": {"type": "string",
                                                            "pattern": "^[0-9a-f]{64}$"}}},
                "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                    "format": "binary"}},
                            "text/csv": {"schema": {"type": "string"}},
                            "application/json": {},
                            "application/vnd.openxmlformats-officedocument.spreadsheetml"
                            ".sheet": {"schema": {"type": "string", "format": "binary"}}},
            }}, 404),
        }},
        "/api/v1/discrepancies": {"get": {
            "tags": ["reconciliation"],
            "summary": "Discrepancies found by reconciliation, in id order",
            "parameters": [
                query("kind", {"type": "string", "enum": list(KINDS)}, "only this kind"),
                query("status", {"type": "string", "enum": ["open", "resolved",
                                                            "auto_resolved", "all"],
                                 "default": "open"}, "`all` for every status"),
                query("provider", QUERY_TEXT, "only this provider"),
                limit,
                query("after", {"type": "integer", "minimum": 0, "maximum": BIGINT_MAX},
                      "the previous page's `next_after`"),
            ],
            "responses": responses({200: ok(ref("DiscrepancyPage"), "a page")}, 422),
        }},
        "/api/v1/recon-runs": {"get": {
            "tags": ["reconciliation"], "summary": "Reconciliation runs, newest first",
            "parameters": [
                limit,
                query("before", {"type": "integer", "minimum": 0, "maximum": BIGINT_MAX},
                      "the previous page's `next_before`"),
                query("status", {"type": "string", "enum": ["running", "succeeded",
                                                            "failed"]}, "only this status"),
            ],
            "responses": responses({200: ok(ref("ReconRunPage"), "a page")}, 422),
        }},
        **_period_paths(),
        "/webhooks/{provider}": _webhook_paths(),
    }


def _period_paths() -> dict[str, Any]:
    period_id = path("period_id", {"type": "integer", "minimum": 0}, "the period id", 1)
    one = ok(ref("Period"), "the period")
    return {
        "/api/v1/periods": {
            "get": {"tags": ["reconciliation"],
                    "summary": "Months proposed, closed or reopened (khóa sổ), newest first",
                    "responses": responses({200: ok(ref("PeriodPage"), "every period")})},
            "post": {"tags": ["reconciliation"],
                     "summary": "Propose closing a month; refused (409) while it has open "
                                "discrepancies not carried forward with a note",
                     "requestBody": _json_body(obj({
                         "month": {"type": "string", "pattern": f"^{MONTH_PATTERN.pattern}$",
                                   "description": "YYYY-MM"},
                         "agency": nullable({"type": "string", "description": "an agency's "
                                             "code (it must exist: 422 otherwise); null or "
                                             "blank for every agency"}),
                         "note": nullable({"type": "string", "maxLength": MAX_NOTE}),
                         "carry_forward": {"type": "object",
                                           "propertyNames": {
                                               "pattern": f"^{CARRY_KEY.pattern}$"},
                                           "additionalProperties": NOTE,
                                           "description": "discrepancy id -> why it is "
                                                          "carried forward"},
                     }, ["month"]), "the month", {"month": "2021-03", "carry_forward": {
                         "42": "VNPay's March file has not arrived"}}),
                     "responses": responses({201: ok(ref("Period"), "proposed")}, 409, 422)},
        },
        "/api/v1/periods/{period_id}/approve": {"post": {
            "tags": ["reconciliation"],
            "summary": "Approve a proposed close (not by the person who proposed it; a token "
                       "counts as its owner, a token with no owner is refused 403): the month "
                       "is closed, its snapshot stored and its sha256 audited",
            "parameters": [period_id],
            "responses": responses({200: one}, 404, 409)}},
        "/api/v1/periods/{period_id}/reopen": {"post": {
            "tags": ["reconciliation"],
            "summary": "Reopen a closed month (admin only), with a reason; snapshots are kept",
            "parameters": [period_id],
            "requestBody": _json_body(obj({"reason": NOTE}, ["reason"]), "why",
                                      {"reason": "the bank corrected its statement"}),
            "responses": responses({200: one}, 404, 409, 422)}},
        "/api/v1/periods/{period_id}/snapshot": {"get": {
            "tags": ["reconciliation"],
            "summary": "The last close's frozen snapshot: the hashed JSON text, or "
                       "`?format=xlsx`",
            "parameters": [period_id, query("format", {"type": "string",
                                                       "enum": ["json", "xlsx"],
                                                       "default": "json"}, "xlsx")],
            "responses": responses({200: {
                "description": "the snapshot; `X-Snapshot-SHA256` is its hash",
                "content": {JSON: {}, "application/vnd.openxmlformats-officedocument."
                            "spreadsheetml.sheet": {"schema": {"type": "string",
                                                               "format": "binary"}}}}},
                404, 409, 422)}},
    }


def _webhook_answers() -> dict[str, Any]:
    answer = {JSON: {"schema": ref("ProviderAnswer")}}
    return {
        "200": {"description": "recorded, duplicate, ignored, or (VNPay, ZaloPay) refused in "
                               "the protocol's own codes", "content": answer},
        "204": {"description": "MoMo: recorded"},
        "400": {"description": "malformed (the call is archived)", "content": answer},
        "401": {"description": "bad signature or replayed (the call is archived)",
                "content": answer},
        "404": error(404, "no such provider"),
        "429": {**error(429, "too many refused calls from this address (not archived): "
                             "retry after `Retry-After` seconds"),
                "headers": {"Retry-After": {"schema": {"type": "string",
                                                       "pattern": "^[0-9]+$"}}}},
        "405": {**error(405, "VNPay calls with GET, every other provider with POST; "
                                 "`Allow` names the provider's method"),
                "headers": {"Allow": {"schema": STR, "required": True}}},
        "413": {"description": "body over 64 KiB (its first 64 KiB are archived)",
                "content": answer},
        "503": {"description": "not configured, or our side failed: the provider retries",
                "content": answer},
    }


def _providers_using(method: str) -> list[str]:
    return [name for name in PROVIDERS if adapter_class(name).http_method == method]


def _webhook_paths() -> dict[str, Any]:
    """One path, two methods: each provider calls with one of them (VNPay GET, the others
    POST), so each method's ``provider`` lists only its own; the other method is 405 with
    ``Allow`` naming the right one."""
    get_provider = path("provider", {"type": "string", "enum": _providers_using("GET")},
                        "the payment provider (GET: VNPay)")
    post_provider = path("provider", {"type": "string", "enum": _providers_using("POST")},
                         "the payment provider (POST: every one but VNPay)")
    common = ("Public: authenticated by the provider's signature over the raw bytes, never by "
              "a token or cookie. The raw call is archived first (card numbers masked, "
              "credentials redacted), then verified, recorded exactly once per "
              "(provider, transaction) and answered in the provider's own protocol.")
    return {
        "get": {
            "tags": ["webhooks"], "security": [], "parameters": [get_provider],
            "summary": "VNPay IPN (signed query string)",
            "description": common + " Only `vnpay` uses GET.",
            "responses": _webhook_answers(),
        },
        "post": {
            "tags": ["webhooks"], "security": [], "parameters": [post_provider],
            "summary": "Payment callback (MoMo, ZaloPay, payOS, SePay, Casso, POS)",
            "description": common + " Every provider but `vnpay` uses POST.",
            "requestBody": {"required": False, "description": "the provider's signed body, "
                            "exactly as it sends it", "content": {
                                JSON: {"schema": {}},
                                "application/x-www-form-urlencoded": {"schema": {
                                    "type": "object"}},
                            }},
            "responses": _webhook_answers(),
        },
    }


#: (path, method) -> operationId: the operations the links below reach
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("/api/v1/dossiers", "post"): "putDossier",
    ("/api/v1/dossiers", "get"): "listDossiers",
    ("/api/v1/dossiers/{code}", "get"): "getDossier",
    ("/api/v1/dossiers/{code}/payment-intents", "post"): "createPaymentIntent",
    ("/api/v1/dossiers/{code}/cash-payments", "post"): "recordCashPayment",
    ("/api/v1/payment-intents/{intent_id}", "get"): "getPaymentIntent",
    ("/api/v1/payment-intents/{intent_id}/cancel", "post"): "cancelPaymentIntent",
    ("/api/v1/payment-intents/{intent_id}/qr.png", "get"): "getPaymentIntentQrPng",
    ("/api/v1/payment-intents/{intent_id}/qr.svg", "get"): "getPaymentIntentQrSvg",
    ("/api/v1/settlement-files", "get"): "listSettlementFiles",
    ("/api/v1/settlement-files/{file_id}", "get"): "getSettlementFile",
    ("/api/v1/settlement-files/{file_id}/content", "get"): "getSettlementFileContent",
    ("/api/v1/settlements", "post"): "importSettlement",
    ("/api/v1/periods", "post"): "proposePeriod",
    ("/api/v1/periods/{period_id}/approve", "post"): "approvePeriod",
    ("/api/v1/periods/{period_id}/reopen", "post"): "reopenPeriod",
    ("/api/v1/periods/{period_id}/snapshot", "get"): "getPeriodSnapshot",
}


def _link(operation_id: str, description: str, body: object = None,
          **parameters: str) -> Schema:
    out: Schema = {"operationId": operation_id, "parameters": parameters,
                   "description": description}
    if body is not None:
        out["requestBody"] = body
    return out


def _intent_links(source: str) -> dict[str, Schema]:
    """From an intent (``source`` is where its id is in the answer) to what a desk does next."""
    return {
        "GetIntent": _link("getPaymentIntent", "the intent's state", intent_id=source),
        "GetQrPng": _link("getPaymentIntentQrPng", "its VietQR code (PNG)", intent_id=source),
        "GetQrSvg": _link("getPaymentIntentQrSvg", "its VietQR code (SVG)", intent_id=source),
        "CancelIntent": _link("cancelPaymentIntent", "cancel it", intent_id=source),
    }


def _dossier_links(source: str) -> dict[str, Schema]:
    """From a dossier (``source`` is where its code is in the answer) to paying for it."""
    return {
        "GetDossier": _link("getDossier", "the dossier", code=source),
        "CreateIntent": _link("createPaymentIntent", "issue a payment intent for it",
                              code=source),
        "CreateVietQR": _link("createPaymentIntent", "a VietQR code for everything it owes",
                              {"channel": "vietqr"}, code=source),
        "RecordCash": _link("recordCashPayment", "record cash for it", code=source),
    }


#: (operationId, status) -> the links of that answer: they let a client (and Schemathesis's
#: stateful phase) go from a dossier to its intents, their QR images and their cancellation
LINKS: dict[tuple[str, str], dict[str, Schema]] = {
    ("putDossier", "201"): _dossier_links("$response.body#/dossier/code"),
    ("putDossier", "200"): _dossier_links("$response.body#/dossier/code"),
    ("listDossiers", "200"): _dossier_links("$response.body#/items/0/code"),
    ("getDossier", "200"): _dossier_links("$response.body#/code"),
    ("createPaymentIntent", "201"): _intent_links("$response.body#/id"),
    ("createPaymentIntent", "200"): _intent_links("$response.body#/id"),
    ("getPaymentIntent", "200"): {
        "CancelIntent": _link("cancelPaymentIntent", "cancel it",
                              intent_id="$response.body#/id")},
    ("listSettlementFiles", "200"): {
        "GetFile": _link("getSettlementFile", "the first file's totals",
                         file_id="$response.body#/items/0/id"),
        "GetContent": _link("getSettlementFileContent", "the first file's bytes",
                            file_id="$response.body#/items/0/id")},
    ("importSettlement", "201"): {
        "GetFile": _link("getSettlementFile", "the file's totals",
                         file_id="$response.body#/file_id"),
        "GetContent": _link("getSettlementFileContent", "the file's bytes",
                            file_id="$response.body#/file_id")},
    ("proposePeriod", "201"): {
        "Approve": _link("approvePeriod", "approve the close", period_id="$response.body#/id"),
        "Reopen": _link("reopenPeriod", "reopen it", period_id="$response.body#/id"),
        "Snapshot": _link("getPeriodSnapshot", "its snapshot",
                          period_id="$response.body#/id")},
    ("approvePeriod", "200"): {
        "Snapshot": _link("getPeriodSnapshot", "the snapshot just taken",
                          period_id="$response.body#/id"),
        "Reopen": _link("reopenPeriod", "reopen it", period_id="$response.body#/id")},
}


def _with_ids_and_links(paths: dict[str, Any]) -> dict[str, Any]:
    for (route, method), operation_id in OPERATION_IDS.items():
        operation = paths[route][method]
        operation["operationId"] = operation_id
        for status, response in operation["responses"].items():
            links = LINKS.get((operation_id, status))
            if links:  # a copy: operations may share one response object
                operation["responses"][status] = {**response, "links": copy.deepcopy(links)}
    return paths


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "recon",
            "version": __version__,
            "description": "Payment reconciliation for public administrative service centres. "
                           "Money is always an integer number of VND, spelled without a "
                           "fraction or exponent (`100000`, never `100000.0`). No text may hold "
                           "U+0000 (NUL) or an unpaired surrogate (422). A query parameter "
                           "given empty (`?limit=`) is refused (422), never read as absent. "
                           "Errors share one shape: "
                           "`{error, message, hint?, errors?: [{field, message, line?}]}`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": name} for name in ("intake", "payments", "settlements",
                                             "reconciliation", "webhooks", "meta")],
        "paths": _with_ids_and_links(_paths()),
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer",
                "description": "`recon tokens create NAME --role intake|cashier|finance|admin "
                               "(--agency CODE ...|--all-agencies)`: a token of some "
                               "agencies sees and acts on their data only",
            }},
            "schemas": SCHEMAS,
        },
    }


def document() -> dict[str, Any]:
    """A fresh copy of the document (callers may change theirs)."""
    return copy.deepcopy(_document())


@bp.get("/openapi.json")
def spec() -> Response:
    response = jsonify(_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
