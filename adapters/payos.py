"""payOS (VietQR payment links) webhook: POST JSON ``{code, desc, success, data, signature}``.

Signature: HMAC-SHA256 (checksum key), hex, over the keys of ``data`` sorted a→z as
``key=value`` joined by ``&``; null is the empty string; values are not URL-encoded. As in
payOS's own SDK, the strings ``"null"``/``"undefined"`` also sign as empty (the literal form is
accepted too) and an array is written as compact JSON with each object's keys sorted.

Our link to the order is ``data.orderCode`` (an integer: keep a numeric order code per intent),
reported as ``order_code``; ``data.reference`` (the bank transaction reference) is the provider
transaction id, and the bank reference too; ``data.description`` is the memo. Success is
``data.code == "00"`` (and the envelope's ``code``, when present, ``"00"``); any other code is a
failure.

Answer 2xx ``{"success": true}`` once recorded (payOS's own "confirm webhook" test call, which
carries a made-up order, included).
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    EnvSpec,
    MalformedPayload,
    Outcome,
    PaymentStatus,
    RawRequest,
    SignedParts,
    success_flag_ack,
    utf8,
)
from adapters.fields import (
    compact_json,
    get_int,
    get_object,
    get_txn_id,
    load_json_object,
    local_time,
    opt_bank_reference,
    opt_str,
    parse_vnd,
    signing_text,
    vn_local,
)


def _value_text(value: object, *, blank_null_strings: bool) -> str:
    if blank_null_strings and value in ("null", "undefined"):
        return ""
    if isinstance(value, list):  # arrays: compact JSON, each object's keys sorted
        return compact_json(_plain(value), sort_keys=True)
    return signing_text(value)


def _plain(value: object) -> object:
    """Decimals as floats so ``json.dumps`` writes them as numbers, as JavaScript would."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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


class PayOSAdapter(Adapter):
    name = "payos"
    channel = "payos"
    env_spec = EnvSpec(
        required=("RECON_PAYOS_CHECKSUM_KEY",),
        optional=("RECON_PAYOS_CLIENT_ID", "RECON_PAYOS_API_KEY"),
        rotating=("RECON_PAYOS_CHECKSUM_KEY",),
    )

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
        status: PaymentStatus = (
            "succeeded" if code == "00" and envelope_code in (None, "00") else "failed"
        )
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

    def build_callback(
        self,
        *,
        amount: int,
        reference: str | None = None,
        provider_txn_id: str | None = None,
        status: PaymentStatus = "succeeded",
        transaction_at: datetime | None = None,
        order_code: int | None = None,
        memo: str | None = None,
        path: str | None = None,
    ) -> RawRequest:
        if order_code is None:
            raise ValueError("a payOS webhook carries our orderCode: pass order_code")
        self._require_status(status, ("succeeded",))
        now = self._now()
        paid_at = transaction_at or now
        if provider_txn_id is None:
            provider_txn_id = f"FT{_random.randbelow(10**12):012d}"
        description = memo if memo is not None else (reference or f"DH{order_code}")
        data: dict[str, object] = {
            "orderCode": order_code,
            "amount": amount,
            "description": description,
            "accountNumber": "12345678",
            "reference": provider_txn_id,
            "transactionDateTime": vn_local(paid_at),
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
        body = {
            "code": "00",
            "desc": "success",
            "success": True,
            "data": data,
            "signature": self._sign(signature_message(data)),
        }
        return RawRequest(
            method="POST",
            path=self._path(path),
            query_string="",
            headers={"Content-Type": "application/json"},
            body=utf8(compact_json(body)),
            received_at=now,
        )
