"""Casso bank-account notifications, webhook v2: POST JSON ``{"error": 0, "data": {...}}``.

Header ``X-Casso-Signature: t=<epoch ms>,v1=<hex>``; v1 = HMAC-SHA512(checksum key,
``t + "." + JSON of the whole body with keys sorted recursively, compact separators``). The
signature is over a re-serialisation, so the body has to be parsed before it can be checked.
How Casso writes non-ASCII text when signing is unconfirmed: both ``\\uXXXX`` escapes and raw
UTF-8 are accepted (they encode the same data). A timestamp further than ``max_age_seconds``
from the time the call was received is refused as a replay (0 turns the check off).

``data.id`` is the provider transaction id, ``data.description`` the memo, ``data.reference``
(the bank's own reference for the credit, what the account's bank statement lists it by) the
bank reference. A negative amount is
an outgoing transfer: not a payment (:class:`NotAPayment`). Webhook v1 (``data`` a list) is
refused: configure webhook v2 in Casso.

Answer 2xx ``{"success": true}`` once recorded.
"""

from __future__ import annotations

import secrets as _random
from datetime import datetime

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    EnvSpec,
    MalformedPayload,
    NotAPayment,
    Outcome,
    RawRequest,
    SignatureError,
    SignedParts,
    SimulatedPayment,
    Wire,
    compact_json,
    success_flag_ack,
    utf8,
)
from adapters.fields import (
    epoch_time,
    get_txn_id,
    id_value,
    load_json_object,
    local_time,
    opt_bank_reference,
    opt_str,
    parse_vnd,
    show,
    to_epoch_ms,
    vn_local,
)

HEADER = "X-Casso-Signature"


def parse_signature_header(value: str | None) -> tuple[str, str] | None:
    """``t=<ms>,v1=<hex>`` → ``(t, v1)``; ``None`` when absent; :class:`SignatureError` when
    unreadable."""
    if value is None or not value.strip():
        return None
    parts: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"{HEADER} must look like 't=<ms>,v1=<hex>'")
        parts[key.strip()] = val.strip()
    t, v1 = parts.get("t"), parts.get("v1")
    if not t or not v1:
        raise SignatureError(f"{HEADER} must carry both t= and v1=")
    if not (t.isascii() and t.isdigit()) or len(t) > 16:
        raise SignatureError(f"{HEADER} t= must be a Unix time in milliseconds")
    return t, v1


def signature_messages(timestamp: str, body: object) -> tuple[bytes, ...]:
    """``t.<sorted compact JSON>``, with non-ASCII escaped and raw."""
    messages: list[bytes] = []
    for ascii_only in (False, True):
        message = utf8(f"{timestamp}.{compact_json(body, ascii_only=ascii_only, sort_keys=True)}")
        if message not in messages:
            messages.append(message)
    return tuple(messages)


class CassoAdapter(Adapter):
    name = "casso"
    label = "Casso"
    channel = "vietqr"
    digest = "sha512"
    env_spec = EnvSpec(
        required=("RECON_CASSO_CHECKSUM_KEY",),
        optional=("RECON_CASSO_API_KEY",),
        rotating=("RECON_CASSO_CHECKSUM_KEY",),
    )
    link = CallbackLink.memo

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        header = parse_signature_header(request.headers.get(HEADER))
        if header is None:
            return SignedParts(signature=None, messages=(), where=f"{HEADER} header")
        timestamp, v1 = header
        try:
            signed_at = epoch_time(timestamp, field=f"{HEADER} t=")
        except MalformedPayload as exc:
            raise SignatureError(str(exc)) from None
        # numbers as the sender wrote them (float, not Decimal) to re-serialise the same way
        body = load_json_object(request.body, exact=False)
        return SignedParts(
            signature=v1,
            messages=signature_messages(timestamp, body),
            where=f"{HEADER} header",
            timestamp=signed_at,
        )

    def _parse(self, request: RawRequest) -> CallbackEvent:
        body = load_json_object(request.body)
        error = body.get("error")
        if type(error) is not int or error != 0:
            raise MalformedPayload(f"error must be 0, got {show(error)}")
        data = body.get("data")
        if isinstance(data, list):
            raise MalformedPayload("data is a list (Casso webhook v1): configure webhook v2")
        if not isinstance(data, dict):
            raise MalformedPayload("data must be a JSON object")
        amount = data.get("amount")
        if isinstance(amount, int) and not isinstance(amount, bool) and amount < 0:
            raise NotAPayment("Casso outgoing transfer (negative amount): not a payment")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=get_txn_id(data, "id", where="data."),
            amount=parse_vnd(amount, field="data.amount"),
            status="succeeded",
            transaction_at=local_time(
                data.get("transactionDateTime"), field="data.transactionDateTime"
            ),
            reference=None,
            order_code=None,
            memo=opt_str(data, "description", where="data.") or None,
            raw_status="error=0",
            channel=self.channel,
            bank_reference=opt_bank_reference(data, "reference"),
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        return success_flag_ack(outcome, detail)

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return str(1_000_000 + _random.randbelow(9_000_000))

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        return {
            "error": 0,
            "data": {
                "id": id_value(payment.provider_txn_id),
                "reference": f"FT{_random.randbelow(10**10):010d}",
                "description": payment.transfer_memo,
                "amount": payment.amount,
                "runningBalance": payment.amount,
                "transactionDateTime": vn_local(payment.paid_at),
                "accountNumber": "88888888",
                "bankName": "VPBank",
                "bankAbbreviation": "VPB",
                "virtualAccountNumber": "",
                "virtualAccountName": "",
                "counterAccountName": "NGUYỄN VĂN A",
                "counterAccountNumber": "8888888888",
                "counterAccountBankId": "970415",
                "counterAccountBankName": "VietinBank",
            },
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        timestamp = str(to_epoch_ms(payment.sent_at))
        message = signature_messages(timestamp, fields)[0]  # raw UTF-8, as JavaScript signs
        return Wire.json(fields, headers={HEADER: f"t={timestamp},v1={self._sign(message)}"})
