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
the query API (:func:`build_query_request`, called through :class:`MoMoQuery`) is how missed
payments are caught.

Settlement profile: ``momo_report``, the business portal's transaction report.

Key rotation: ``RECON_MOMO_SECRET_KEY_PREVIOUS`` is tried with
``RECON_MOMO_ACCESS_KEY_PREVIOUS`` if that is set, else with the current access key.
"""

from __future__ import annotations

import hmac
import secrets as _random
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from adapters.base import (
    Acknowledgement,
    Adapter,
    CallbackEvent,
    CallbackLink,
    Clock,
    EnvSpec,
    MalformedPayload,
    NotConfigured,
    Outcome,
    PaymentStatus,
    PayoutSpec,
    RawRequest,
    SignedParts,
    SimulatedPayment,
    Wire,
    empty_ack,
    json_ack,
    utf8,
)
from adapters.fields import (
    epoch_time,
    get_int,
    get_str,
    get_txn_id,
    id_value,
    load_json_object,
    opt_str,
    parse_vnd,
    show,
    signing_text,
    to_epoch_ms,
    unpaid_txn_id,
)
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ConfirmedPayment,
    ProtocolError,
    QueryOutcome,
    WaitingOrder,
    answer_object,
    epoch_ms,
    exact_vnd,
    id_text,
)

QUERY_PATH = "/v2/gateway/api/query"

#: payType (the IPN's and the query answer's): paid in the MoMo app (by QR, web or app
#: redirect, mini app) from the wallet, or by card through MoMo's gateway
PAYMENT_METHODS: Mapping[str, Mapping[str, str]] = {
    "payType": {"QR": "wallet", "WEBAPP": "wallet", "APP": "wallet", "MINIAPP": "wallet",
                "NAPAS": "domestic_card", "CREDIT": "intl_card"},
}

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

#: the query API's resultCodes that are not an answer about the order
QUERY_WAITING = frozenset({1000, 7000, 7002, 9000})
QUERY_NOT_FOUND = frozenset({42})
QUERY_REFUSED_US = frozenset({11, 13})  # access denied; merchant authentication failed

#: the business portal's transaction report (the usual shape; contracts differ in titles)
SETTLEMENT_PROFILES: Mapping[str, Mapping[str, object]] = {
    "momo_report": {
        "description": "MoMo business portal transaction report, CSV or XLSX, amounts as "
                       "1,234,000",
        "header_row": "auto",
        "stop_at": ["Tổng cộng"],
        "optional_columns": ["net_amount", "reference", "kind", "original_txn_id"],
        "datetime_formats": ["%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "iso"],
        "date_formats": ["%d/%m/%Y", "iso"],
        "thousands_separator": ",",
        "decimal_separator": ".",
        "strip": ["VND", "đ", "₫"],
        "blank_is_zero": ["fee"],
        "columns": {
            "provider_txn_id": ["Mã giao dịch", "Mã giao dịch MoMo", "transId"],
            "reference": ["Mã đơn hàng", "orderId"],
            "amount": ["Số tiền", "Số tiền giao dịch"],
            "fee": ["Phí giao dịch", "Phí"],
            "net_amount": ["Số tiền thực nhận", "Thực nhận"],
            "transaction_at": ["Thời gian giao dịch", "Thời gian thanh toán"],
            "settled_on": ["Ngày thanh toán cho đối tác", "Ngày quyết toán"],
            # the transaction type (sale or refund) and a refund's original transaction;
            # titles and values as the usual export shows them (unverified: add yours)
            "kind": ["Loại giao dịch", "Loại GD"],
            "original_txn_id": ["Mã giao dịch gốc", "originalTransId"],
        },
        "kind_values": {"sale": ["Thanh toán", "PAYMENT"],
                        "refund": ["Hoàn tiền", "HOAN TIEN", "REFUND"]},
        "filters": [{"column": "Trạng thái", "equals": ["Thành công"]}],
    },
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


class MoMoQuery(ConfirmApi):
    """``POST /v2/gateway/api/query`` about one order (our reference is its orderId)."""

    default_base = "https://payment.momo.vn"  # sandbox: https://test-payment.momo.vn
    required = ("RECON_MOMO_PARTNER_CODE", "RECON_MOMO_ACCESS_KEY", "RECON_MOMO_SECRET_KEY")
    payment_methods = PAYMENT_METHODS
    method_fields = ("payType",)  # the query answer carries payType, as the IPN does

    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        path, body = build_query_request(
            partner_code=self.value("RECON_MOMO_PARTNER_CODE"),
            access_key=self.value("RECON_MOMO_ACCESS_KEY"),
            secret_key=self.value("RECON_MOMO_SECRET_KEY"),
            order_id=order.reference,
            request_id=f"{order.reference}-Q{int(now.timestamp() * 1000)}")
        return ApiRequest("POST", path, json=body)

    def read(self, body: bytes) -> QueryOutcome:
        doc = answer_object(body, "MoMo's answer")
        code = doc.get("resultCode")
        message = str(doc.get("message", ""))
        if isinstance(code, bool) or not isinstance(code, int):
            raise ProtocolError(f"MoMo's answer has no resultCode: {code!r}")
        if code == 0:
            when = doc.get("lastUpdated", doc.get("responseTime"))
            payment = ConfirmedPayment(
                provider_txn_id=id_text(doc.get("transId"), "MoMo transId"),
                amount=exact_vnd(doc.get("amount"), "MoMo amount"),
                paid_at=epoch_ms(when, "MoMo lastUpdated/responseTime"),
                method=self.method_of(doc))
            return QueryOutcome("paid", f"MoMo 0: {message}", (payment,))
        if code in QUERY_REFUSED_US:
            raise ProtocolError(f"MoMo refused our request ({code}: {message}): check "
                                f"{', '.join(self.required[:-1])} and {self.required[-1]}")
        if code in QUERY_WAITING:
            return QueryOutcome("waiting", f"MoMo {code}: {message}")
        if code in QUERY_NOT_FOUND:
            return QueryOutcome("not_found", f"MoMo {code}: {message}")
        return QueryOutcome("failed", f"MoMo {code}: {message}")


class MoMoAdapter(Adapter):
    name = "momo"
    label = "MoMo"
    channel = "momo"
    # payouts: contract-specific days, memo never seen (LEGS.md A.4): unverified, overridable
    payout = PayoutSpec(memo=r"\bM_?SERVICE\b|\bMOMO\b.*\b(?:TT|THANH\s*TOAN|DOI\s*SOAT)\b",
                        days=1)
    env_spec = EnvSpec(
        required=("RECON_MOMO_PARTNER_CODE", "RECON_MOMO_ACCESS_KEY", "RECON_MOMO_SECRET_KEY"),
        # the access key is part of the signed message: it rotates with the secret
        rotating=("RECON_MOMO_SECRET_KEY", "RECON_MOMO_ACCESS_KEY"),
        arguments=(
            ("partner_code", "RECON_MOMO_PARTNER_CODE"),
            ("access_keys", "RECON_MOMO_ACCESS_KEY"),
        ),
    )
    link = CallbackLink.reference
    link_field = "orderId"
    simulated_statuses = ("succeeded", "failed", "pending")
    pull_api = MoMoQuery
    settlement_profiles = SETTLEMENT_PROFILES
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = PAYMENT_METHODS

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
            method=self.method_of(body),
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

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return str(3_000_000_000 + _random.randbelow(999_999_999))

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        result_code, message = _BUILD_CODES[payment.status]
        return {
            "partnerCode": self.partner_code,
            "orderId": payment.reference,
            "requestId": payment.reference,
            "amount": payment.amount,
            "orderInfo": payment.memo if payment.memo is not None
            else f"Thanh toán hồ sơ {payment.reference}",
            "orderType": "momo_wallet",
            "transId": id_value(payment.provider_txn_id),
            "resultCode": result_code,
            "message": message,
            "payType": "qr",
            "responseTime": to_epoch_ms(payment.paid_at),
            "extraData": "",
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        signature = self._sign(signature_message(self._access_keys[0], fields))
        return Wire.json({**fields, "signature": signature},
                         content_type="application/json; charset=UTF-8")

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
