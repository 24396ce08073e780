"""SePay bank-account notifications (POST JSON), authenticated by ``Authorization: Apikey <key>``.

The key is compared in constant time (the scheme name case-insensitively, the key exactly). Only
``transferType == "in"`` is a payment: ``"out"`` is answered as :attr:`Outcome.ignored`
(:class:`NotAPayment`); any other value is refused as malformed. ``id`` is the provider
transaction id, ``content`` (the transfer memo) is the memo, ``code`` (the payment code SePay
parsed with the prefix configured there, or null) the reference, ``referenceCode`` (the bank's
own reference for the credit, what the account's bank statement lists it by) the bank
reference.

Amounts: the webhook sends ``transferAmount`` as a JSON integer, while SePay's transactions API
writes amounts as decimal strings (``"50000.00"``). We accept an integer, a digit string, or a
decimal (string or JSON number) whose fraction is all zeros — ``"50000.00"`` is 50 000 VND —
and refuse anything else (``"50000.50"``, ``"50,000"``, ``"5e4"``): VND has no minor unit.

Answer 2xx ``{"success": true}``; anything else makes SePay retry (8 attempts over ~33 min).
"""

from __future__ import annotations

import secrets as _random
from datetime import datetime

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    EnvSpec,
    MalformedPayload,
    NotAPayment,
    Outcome,
    PaymentStatus,
    RawRequest,
    SignatureError,
    SignedParts,
    success_flag_ack,
    utf8,
)
from adapters.fields import (
    compact_json,
    get_str,
    get_txn_id,
    load_json_object,
    local_time,
    opt_bank_reference,
    opt_str,
    parse_vnd,
    show,
    vn_local,
)

SCHEME = "Apikey"


def api_key_from_header(value: str | None) -> str | None:
    """The key in ``Apikey <key>``; ``None`` when the header is absent; :class:`SignatureError`
    when it has another shape."""
    if value is None or not value.strip():
        return None
    scheme, _, key = value.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not key.strip():
        raise SignatureError("Authorization header must be 'Apikey <key>'")
    return key.strip()


class SePayAdapter(Adapter):
    name = "sepay"
    channel = "vietqr"
    hex_signature = False
    env_spec = EnvSpec(
        required=("RECON_SEPAY_API_KEY",),
        optional=("RECON_SEPAY_API_TOKEN",),
        rotating=("RECON_SEPAY_API_KEY",),
    )

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        key = api_key_from_header(request.headers.get("Authorization"))
        return SignedParts(signature=key, messages=(b"",), where="Authorization header (Apikey)")

    def _expected_signature(self, secret: bytes, message: bytes) -> bytes:
        return secret  # a shared key, not an HMAC: the base still compares in constant time

    def _parse(self, request: RawRequest) -> CallbackEvent:
        body = load_json_object(request.body)
        transfer_type = get_str(body, "transferType")
        if transfer_type == "out":
            raise NotAPayment("SePay outgoing transfer (transferType out): not a payment")
        if transfer_type != "in":
            raise MalformedPayload(f"unknown transferType {show(transfer_type)}")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=get_txn_id(body, "id"),
            amount=parse_vnd(
                body.get("transferAmount"), field="transferAmount", allow_zero_fraction=True
            ),
            status="succeeded",
            transaction_at=local_time(body.get("transactionDate"), field="transactionDate"),
            reference=opt_str(body, "code") or None,
            order_code=None,
            memo=opt_str(body, "content") or None,
            raw_status="transferType=in",
            channel=self.channel,
            bank_reference=opt_bank_reference(body, "referenceCode"),
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
        self._require_status(status, ("succeeded",))
        if memo is None and not reference:
            raise ValueError("pass a reference or a memo (the transfer description)")
        now = self._now()
        paid_at = transaction_at or now
        if provider_txn_id is None:
            provider_txn_id = str(1_000_000 + _random.randbelow(9_000_000))
        content = memo if memo is not None else f"{reference} chuyen tien"
        body = {
            "id": int(provider_txn_id) if provider_txn_id.isascii()
            and provider_txn_id.isdigit() and str(int(provider_txn_id)) == provider_txn_id
            else provider_txn_id,
            "gateway": "Vietcombank",
            "transactionDate": vn_local(paid_at),
            "accountNumber": "0123456789",
            "code": reference,
            "content": content,
            "transferType": "in",
            "transferAmount": amount,
            "accumulated": amount,
            "subAccount": None,
            "referenceCode": f"FT{_random.randbelow(10**10):010d}",
            "description": f"BankAPINotify {content}",
        }
        return RawRequest(
            method="POST",
            path=self._path(path),
            query_string="",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"{SCHEME} {self._secrets[0].decode('utf-8')}",
            },
            body=utf8(compact_json(body)),
            received_at=now,
        )
