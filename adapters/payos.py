"""payOS (VietQR payment links) webhook: POST JSON ``{code, desc, success, data, signature}``.

Signature: HMAC-SHA256 (checksum key), hex, over the keys of ``data`` sorted a→z as
``key=value`` joined by ``&``; null is the empty string; values are not URL-encoded. As in
payOS's own SDK, the strings ``"null"``/``"undefined"`` also sign as empty (the literal form is
accepted too), numbers are written as JavaScript writes them, and an array is written as
compact JSON (``JSON.stringify``) with the keys of each of its objects sorted.

Our link to the order is ``data.orderCode`` (an integer: keep a numeric order code per intent),
reported as ``order_code``; ``data.reference`` (the bank transaction reference) is the provider
transaction id, and the bank reference too; ``data.description`` is the memo. Success is
``data.code == "00"``; any other code is a failure. Only ``data`` is signed: an envelope
``code`` other than ``"00"`` around a signed success contradicts it and is refused as malformed
(archived, nothing recorded), never allowed to turn a signed success into a failure.

Answer 2xx ``{"success": true}`` once recorded (payOS's own "confirm webhook" test call, which
carries a made-up order, included).

Query API (:class:`PayOSQuery`): ``GET /v2/payment-requests/{orderCode}`` with headers
``x-client-id`` and ``x-api-key``; the answer's ``signature`` is over its ``data``, signed as a
webhook's is (:func:`signature_message`, one implementation for both).
"""

from __future__ import annotations

import hmac
import secrets as _random
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    EnvSpec,
    MalformedPayload,
    Outcome,
    PaymentStatus,
    RawRequest,
    SignedParts,
    SimulatedPayment,
    Wire,
    compact_json,
    success_flag_ack,
    success_flag_delivered,
    utf8,
)
from adapters.fields import (
    get_int,
    get_object,
    get_txn_id,
    load_json_object,
    local_time,
    opt_bank_reference,
    opt_str,
    parse_vnd,
    show,
    signing_text,
    vn_local,
)
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ConfirmedPayment,
    ProtocolError,
    QueryOutcome,
    WaitingOrder,
    answer_object,
    exact_vnd,
    id_text,
    same_hex,
    vn_datetime,
)

PAYMENT_REQUEST_PATH = "/v2/payment-requests/{order_code}"


def _js_number(value: Decimal) -> str:
    """A JSON number as JavaScript prints it (``180000.0`` → ``180000``, ``1.50`` → ``1.5``)."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _js_json(value: object, *, sort: bool = False) -> str:
    """``JSON.stringify`` (compact, non-ASCII kept), keys sorted at this level when asked."""
    if isinstance(value, dict):
        keys = sorted(value) if sort else list(value)
        return "{" + ",".join(f"{compact_json(str(k))}:{_js_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_js_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return _js_number(value)
    return compact_json(value)


def _value_text(value: object, *, blank_null_strings: bool) -> str:
    if blank_null_strings and value in ("null", "undefined"):
        return ""
    if isinstance(value, list):  # arrays: JSON, the keys of each object sorted (the SDK's way)
        return "[" + ",".join(_js_json(item, sort=True) for item in value) + "]"
    if isinstance(value, dict):
        return _js_json(value, sort=True)
    if isinstance(value, Decimal):
        return _js_number(value)
    return signing_text(value)


def signature_message(data: Mapping[str, object], *, blank_null_strings: bool = True) -> bytes:
    """``key=value&...`` over ``data`` sorted by key; null → "". payOS's own SDK also blanks
    the strings ``"null"`` and ``"undefined"`` (``blank_null_strings``)."""
    return utf8("&".join(
        f"{key}={_value_text(data[key], blank_null_strings=blank_null_strings)}"
        for key in sorted(data)
    ))


def signature_messages(data: Mapping[str, object]) -> tuple[bytes, ...]:
    """The SDK's message, and the literal one when a value is the text "null"/"undefined"."""
    messages = [signature_message(data)]
    literal = signature_message(data, blank_null_strings=False)
    if literal != messages[0]:
        messages.append(literal)
    return tuple(messages)


def sign(data: Mapping[str, object], checksum_key: str) -> str:
    """The ``signature`` payOS puts beside ``data`` (webhooks and API answers alike)."""
    return hmac.new(utf8(checksum_key), signature_message(data), "sha256").hexdigest()


def signature_matches(data: Mapping[str, object], signature: str, checksum_key: str) -> bool:
    return any(
        same_hex(hmac.new(utf8(checksum_key), message, "sha256").hexdigest(), signature)
        for message in signature_messages(data)
    )


class PayOSQuery(ConfirmApi):
    """``GET /v2/payment-requests/{orderCode}``: a payment link's state and transactions."""

    default_base = "https://api-merchant.payos.vn"
    required = ("RECON_PAYOS_CLIENT_ID", "RECON_PAYOS_API_KEY", "RECON_PAYOS_CHECKSUM_KEY")
    credentials = ("RECON_PAYOS_CLIENT_ID", "RECON_PAYOS_API_KEY")
    # no method_fields: a payment link is paid by a VietQR bank transfer, and neither the
    # answer's transactions nor the webhook's data name a method (no payment_methods table):
    # recorded with none, as the webhook records it

    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        return ApiRequest("GET", PAYMENT_REQUEST_PATH.format(order_code=order.order_code),
                          headers={"x-client-id": self.value("RECON_PAYOS_CLIENT_ID"),
                                   "x-api-key": self.value("RECON_PAYOS_API_KEY")})

    def read(self, body: bytes) -> QueryOutcome:
        doc = answer_object(body, "payOS's answer")
        code = str(doc.get("code", ""))
        desc = str(doc.get("desc", ""))
        data = doc.get("data")
        if code != "00" or not isinstance(data, dict):
            return QueryOutcome("not_found", f"payOS code {code}: {desc}")
        signature = doc.get("signature")
        if signature and (not isinstance(signature, str) or not signature_matches(
                data, signature, self.value("RECON_PAYOS_CHECKSUM_KEY"))):
            raise ProtocolError("payOS's answer has a signature that does not match its data "
                                "(check RECON_PAYOS_CHECKSUM_KEY)")
        status = str(data.get("status", "")).upper()
        transactions = data.get("transactions") or []
        if not isinstance(transactions, list):
            raise ProtocolError("payOS's answer: data.transactions is not a list")
        payments = tuple(_payment(number, tx) for number, tx in enumerate(transactions, 1))
        amount = exact_vnd(data.get("amount"), "payOS data.amount")
        paid = exact_vnd(data.get("amountPaid", 0), "payOS data.amountPaid")
        detail = f"payOS status {status}: {paid} of {amount} paid"
        if status == "PAID":
            return QueryOutcome("paid", detail, payments)
        if status in {"CANCELLED", "EXPIRED", "FAILED"}:
            return QueryOutcome("failed", detail, payments)
        return QueryOutcome("waiting", detail, payments)


def _payment(number: int, tx: object) -> ConfirmedPayment:
    if not isinstance(tx, dict):
        raise ProtocolError(f"payOS's answer: transaction {number} is not an object")
    transaction: dict[str, Any] = tx
    where = f"payOS transaction {number}"
    description = transaction.get("description")
    return ConfirmedPayment(
        provider_txn_id=id_text(transaction.get("reference"), f"{where}: reference"),
        amount=exact_vnd(transaction.get("amount"), f"{where}: amount"),
        paid_at=vn_datetime(transaction.get("transactionDateTime"),
                            f"{where}: transactionDateTime"),
        memo=description if isinstance(description, str) else None,
        bank_reference=opt_bank_reference(transaction, "reference"))


class PayOSAdapter(Adapter):
    name = "payos"
    label = "payOS"
    channel = "payos"
    env_spec = EnvSpec(
        required=("RECON_PAYOS_CHECKSUM_KEY",),
        optional=("RECON_PAYOS_CLIENT_ID", "RECON_PAYOS_API_KEY"),
        rotating=("RECON_PAYOS_CHECKSUM_KEY",),
    )
    link = CallbackLink.order_code
    link_field = "orderCode"
    pull_api = PayOSQuery

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        body = load_json_object(request.body)
        data = get_object(body, "data")
        signature = body.get("signature")
        return SignedParts(
            signature=signature if isinstance(signature, str) else None,
            messages=signature_messages(data),
            where="signature",
        )

    def _parse(self, request: RawRequest) -> CallbackEvent:
        body = load_json_object(request.body)
        data = get_object(body, "data")
        code = opt_str(data, "code", where="data.")
        if code is None:
            raise MalformedPayload("data.code is missing")
        envelope_code = body.get("code")
        if envelope_code is not None and not isinstance(envelope_code, str):
            raise MalformedPayload("code must be text")
        if envelope_code not in (None, "00") and code == "00":
            raise MalformedPayload(f"code {show(envelope_code)} contradicts the signed data.code "
                                   f"{show(code)} (only data is signed)")
        status: PaymentStatus = "succeeded" if code == "00" else "failed"
        order_code = get_int(data, "orderCode", where="data.")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=get_txn_id(data, "reference", where="data."),
            amount=parse_vnd(data.get("amount"), field="data.amount"),
            status=status,
            transaction_at=local_time(
                data.get("transactionDateTime"), field="data.transactionDateTime"
            ),
            reference=None,
            order_code=order_code,
            memo=opt_str(data, "description", where="data.") or None,
            raw_status=f"code={code}" if envelope_code in (None, "00")
            else f"code={envelope_code},data.code={code}",
            channel=self.channel,
            bank_reference=opt_bank_reference(data, "reference"),
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        return success_flag_ack(outcome, detail)

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        return success_flag_delivered(status_code, body)

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return f"FT{_random.randbelow(10**12):012d}"

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        description = payment.memo if payment.memo is not None else (
            payment.reference or f"DH{payment.order_code}")
        return {
            "orderCode": payment.order_code,
            "amount": payment.amount,
            "description": description,
            "accountNumber": "12345678",
            "reference": payment.provider_txn_id,
            "transactionDateTime": vn_local(payment.paid_at),
            "currency": "VND",
            "paymentLinkId": _random.token_hex(16),
            "code": "00",
            "desc": "Thành công",
            "counterAccountBankId": "",
            "counterAccountBankName": "",
            "counterAccountName": "",
            "counterAccountNumber": "",
            "virtualAccountName": "",
            "virtualAccountNumber": "",
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        return Wire.json({
            "code": "00",
            "desc": "success",
            "success": True,
            "data": fields,
            "signature": self._sign(signature_message(fields)),
        })
