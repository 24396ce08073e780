"""MoMo payment gateway v2: the IPN (POST JSON) and the query API's request.

Signature: HMAC-SHA256 (secret key), hex, over ``accessKey=<our access key>&amount=..&extraData=..
&message=..&orderId=..&orderInfo=..&orderType=..&partnerCode=..&payType=..&requestId=..
&responseTime=..&resultCode=..&transId=..`` with raw (not URL-encoded) UTF-8 values; the access
key is ours, not in the body. A field that is absent or null signs as the empty string.

``resultCode`` 0 is success; the codes MoMo documents as "not final" (1000, 7000, 7002, 8000,
9000 — 9000 is authorised but not captured) are pending; every other code, documented or not, is
a failure. The v2 IPN carries no refunds (refund results come back from the refund API), so this
adapter never reports ``refunded``.

The answer is HTTP 204 within 15 s. MoMo does not document retries (one attempt is reported), so
the query API (:func:`build_query_request`) is how missed payments are caught.

Key rotation: ``RECON_MOMO_SECRET_KEY_PREVIOUS`` is tried with
``RECON_MOMO_ACCESS_KEY_PREVIOUS`` if that is set, else with the current access key.
"""

from __future__ import annotations

import hmac
import secrets as _random
from collections.abc import Mapping, Sequence
from datetime import datetime

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    Clock,
    EnvSpec,
    MalformedPayload,
    NotConfigured,
    Outcome,
    PaymentStatus,
    RawRequest,
    SignedParts,
    empty_ack,
    json_ack,
    utf8,
)
from adapters.fields import (
    compact_json,
    epoch_time,
    get_int,
    get_str,
    get_txn_id,
    load_json_object,
    opt_str,
    parse_vnd,
    show,
    signing_text,
    to_epoch_ms,
    unpaid_txn_id,
)

QUERY_PATH = "/v2/gateway/api/query"

#: the IPN fields in signing order (after accessKey)
SIGNED_FIELDS = (
    "amount", "extraData", "message", "orderId", "orderInfo", "orderType", "partnerCode",
    "payType", "requestId", "responseTime", "resultCode", "transId",
)

#: resultCode → (MoMo's meaning, our status); codes not listed are "failed"
RESULT_CODES: Mapping[int, tuple[str, PaymentStatus]] = {
    0: ("Successful", "succeeded"),
    1000: ("Initiated, waiting for the user to confirm", "pending"),
    7000: ("Being processed", "pending"),
    7002: ("Being processed by the payment method provider", "pending"),
    8000: ("Waiting for the user to confirm again", "pending"),
    9000: ("Authorised, not yet captured", "pending"),
    10: ("System under maintenance", "failed"),
    11: ("Access denied", "failed"),
    12: ("Unsupported API version", "failed"),
    13: ("Merchant authentication failed", "failed"),
    20: ("Bad request format", "failed"),
    21: ("Invalid amount", "failed"),
    22: ("Amount out of range", "failed"),
    40: ("Duplicated requestId", "failed"),
    41: ("Duplicated orderId", "failed"),
    42: ("Invalid orderId or not found", "failed"),
    43: ("Conflicting transaction in progress", "failed"),
    45: ("Duplicated itemId", "failed"),
    47: ("Inapplicable information", "failed"),
    98: ("QR code not generated", "failed"),
    99: ("Unknown error", "failed"),
    1001: ("Insufficient funds", "failed"),
    1002: ("Rejected by the issuer", "failed"),
    1003: ("Cancelled after authorisation", "failed"),
    1004: ("Over the payment limit", "failed"),
    1005: ("Payment URL or QR code expired", "failed"),
    1006: ("The user declined to confirm the payment", "failed"),
    1007: ("Account inactive", "failed"),
    1017: ("Cancelled by the merchant", "failed"),
    1026: ("Restricted by promotion rules", "failed"),
    1080: ("Refund attempt failed", "failed"),
    1081: ("Refund rejected: already refunded", "failed"),
    1088: ("Refund rejected: original payment not refundable", "failed"),
    2019: ("Invalid orderGroupId", "failed"),
    4001: ("User account restricted", "failed"),
    4002: ("User account not verified", "failed"),
    4100: ("User failed to log in", "failed"),
}

_BUILD_CODES: Mapping[str, tuple[int, str]] = {
    "succeeded": (0, "Successful."),
    "failed": (1006, "Transaction denied by user."),
    "pending": (9000, "Transaction is authorized successfully."),
}


def payment_status(result_code: int) -> PaymentStatus:
    known = RESULT_CODES.get(result_code)
    return known[1] if known else "failed"


def signature_message(access_key: str, body: Mapping[str, object]) -> bytes:
    fields = "&".join(f"{key}={signing_text(body.get(key))}" for key in SIGNED_FIELDS)
    return utf8(f"accessKey={access_key}&{fields}")


def build_query_request(
    *,
    partner_code: str,
    access_key: str,
    secret_key: str,
    order_id: str,
    request_id: str,
    lang: str = "vi",
) -> tuple[str, dict[str, str]]:
    """A transaction status query (POST JSON to :data:`QUERY_PATH`): ``(path, body)``, signed
    over ``accessKey=..&orderId=..&partnerCode=..&requestId=..``."""
    raw = (
        f"accessKey={access_key}&orderId={order_id}&partnerCode={partner_code}"
        f"&requestId={request_id}"
    )
    signature = hmac.new(utf8(secret_key), utf8(raw), "sha256").hexdigest()
    return QUERY_PATH, {
        "partnerCode": partner_code,
        "requestId": request_id,
        "orderId": order_id,
        "lang": lang,
        "signature": signature,
    }


class MoMoAdapter(Adapter):
    name = "momo"
    channel = "momo"
    env_spec = EnvSpec(
        required=("RECON_MOMO_PARTNER_CODE", "RECON_MOMO_ACCESS_KEY", "RECON_MOMO_SECRET_KEY"),
        # the access key is part of the signed message: it rotates with the secret
        rotating=("RECON_MOMO_SECRET_KEY", "RECON_MOMO_ACCESS_KEY"),
        arguments=(
            ("partner_code", "RECON_MOMO_PARTNER_CODE"),
            ("access_keys", "RECON_MOMO_ACCESS_KEY"),
        ),
    )

    def __init__(
        self,
        *,
        partner_code: str,
        access_keys: Sequence[str],
        secrets: Sequence[str],
        max_age_seconds: int = 300,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(secrets=secrets, max_age_seconds=max_age_seconds, clock=clock)
        if not access_keys or not access_keys[0]:
            raise NotConfigured("momo: no access key configured")
        self.partner_code = partner_code
        # one access key per secret (the current one when no previous access key is given)
        self._access_keys = tuple(
            access_keys[i] if i < len(access_keys) and access_keys[i] else access_keys[0]
            for i in range(len(self._secrets))
        )

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        body = load_json_object(request.body)
        signature = body.get("signature")
        # the message depends on the access key: built per secret in _messages_for
        fields = "&".join(f"{key}={signing_text(body.get(key))}" for key in SIGNED_FIELDS)
        return SignedParts(
            signature=signature if isinstance(signature, str) else None,
            messages=(utf8(fields),),
            where="signature",
        )

    def _messages_for(self, parts: SignedParts, secret_index: int) -> Sequence[bytes]:
        prefix = utf8(f"accessKey={self._access_keys[secret_index]}&")
        return tuple(prefix + message for message in parts.messages)

    def _parse(self, request: RawRequest) -> CallbackEvent:
        body = load_json_object(request.body)
        partner_code = get_str(body, "partnerCode")
        if partner_code != self.partner_code:
            raise MalformedPayload(
                f"partnerCode {show(partner_code)} is not ours ({self.partner_code!r})"
            )
        reference = get_str(body, "orderId")
        result_code = get_int(body, "resultCode")
        status = payment_status(result_code)
        trans_id = get_txn_id(body, "transId")
        if trans_id == "0":
            if status == "succeeded":
                raise MalformedPayload("a successful payment must carry transId")
            trans_id = unpaid_txn_id(reference)
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=trans_id,
            amount=parse_vnd(body.get("amount"), field="amount"),
            status=status,
            transaction_at=epoch_time(body.get("responseTime"), field="responseTime"),
            reference=reference,
            order_code=None,
            memo=opt_str(body, "orderInfo") or None,
            raw_status=f"resultCode={result_code}",
            channel=self.channel,
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        """204 No Content once the call is recorded (whatever we made of the order); 4xx for
        a call we refuse; 503 when our side failed (MoMo may not retry: the query API will
        catch it)."""
        if outcome in (Outcome.bad_signature, Outcome.replayed):
            return json_ack(401, {"message": detail or "invalid signature"})
        if outcome is Outcome.malformed:
            return json_ack(400, {"message": detail or "invalid request"})
        if outcome in (Outcome.retry_later, Outcome.not_configured):
            return json_ack(503, {"message": detail or "temporarily unavailable"})
        return empty_ack(204)

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
        if not reference:
            raise ValueError("a MoMo IPN carries our reference in orderId: pass reference")
        self._require_status(status, tuple(_BUILD_CODES))
        result_code, message = _BUILD_CODES[status]
        now = self._now()
        if provider_txn_id is None:
            provider_txn_id = str(3_000_000_000 + _random.randbelow(999_999_999))
        trans_id: int | str = (
            int(provider_txn_id)
            if provider_txn_id.isascii() and provider_txn_id.isdigit()
            and str(int(provider_txn_id)) == provider_txn_id
            else provider_txn_id
        )
        body: dict[str, object] = {
            "partnerCode": self.partner_code,
            "orderId": reference,
            "requestId": reference,
            "amount": amount,
            "orderInfo": memo if memo is not None else f"Thanh toán hồ sơ {reference}",
            "orderType": "momo_wallet",
            "transId": trans_id,
            "resultCode": result_code,
            "message": message,
            "payType": "qr",
            "responseTime": to_epoch_ms(transaction_at or now),
            "extraData": "",
        }
        body["signature"] = self._sign(signature_message(self._access_keys[0], body))
        return RawRequest(
            method="POST",
            path=self._path(path),
            query_string="",
            headers={"Content-Type": "application/json; charset=UTF-8"},
            body=utf8(compact_json(body)),
            received_at=now,
        )

    def query_request(self, *, order_id: str, request_id: str, lang: str = "vi"
                      ) -> tuple[str, dict[str, str]]:
        """:func:`build_query_request` with this adapter's keys."""
        return build_query_request(
            partner_code=self.partner_code,
            access_key=self._access_keys[0],
            secret_key=self._secrets[0].decode("utf-8"),
            order_id=order_id,
            request_id=request_id,
            lang=lang,
        )
