"""ZaloPay v2 callback (POST JSON ``{"data": "<json string>", "mac": "<hex>", "type": 1}``).

``mac`` = HMAC-SHA256(key2, the ``data`` string exactly as received), hex; it is checked before
``data`` is parsed. ZaloPay calls back only for successful payments, so every event is
``succeeded``; ``type`` 2 (an agreement/binding callback) is not a payment. ``app_trans_id`` is
``yymmdd_<our reference>`` (yymmdd in Vietnam time): the part after the first ``_`` is the
reference (the whole id when it does not have that shape).

Answer (always HTTP 200): ``return_code`` 1 when recorded (duplicates and payments we cannot
match included: they are kept for review and a retry would change nothing), -1 when refused
(bad mac, malformed), 0 to make ZaloPay call again (up to 3 times) when our side failed.

Query API (:class:`ZaloPayQuery`): ``POST /v2/query`` (a form) with ``app_id``,
``app_trans_id`` and ``mac`` = HMAC-SHA256(key1, ``app_id|app_trans_id|key1``) — see
:func:`build_query_request`.
"""

from __future__ import annotations

import hmac
import re
import secrets as _random
from collections.abc import Mapping
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
    NotAPayment,
    NotConfigured,
    Outcome,
    PayoutSpec,
    RawRequest,
    SignedParts,
    SimulatedPayment,
    Wire,
    compact_json,
    json_ack,
    response_json,
    utf8,
)
from adapters.fields import (
    epoch_time,
    get_id,
    get_str,
    get_txn_id,
    id_value,
    load_json_object,
    parse_vnd,
    show,
    to_epoch_ms,
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
    epoch_ms,
    exact_vnd,
    id_text,
)

QUERY_PATH = "/v2/query"
_APP_TRANS_ID = re.compile(r"[0-9]{6}_(.+)", re.DOTALL)

_ACKS: Mapping[Outcome, tuple[int, str]] = {
    Outcome.accepted: (1, "success"),
    Outcome.duplicate: (1, "success (already recorded)"),
    Outcome.unknown_order: (1, "success (recorded; no matching order)"),
    Outcome.amount_mismatch: (1, "success (recorded; amount differs from the order)"),
    Outcome.ignored: (1, "success (nothing to record)"),
    Outcome.bad_signature: (-1, "mac not equal"),
    Outcome.replayed: (-1, "mac not equal"),
    Outcome.malformed: (-1, "invalid data"),
    Outcome.retry_later: (0, "temporarily unavailable, call again"),
    Outcome.not_configured: (0, "temporarily unavailable, call again"),
}


def reference_from_app_trans_id(app_trans_id: str) -> str:
    """``yymmdd_<reference>`` → ``<reference>``; any other shape is returned whole."""
    match = _APP_TRANS_ID.fullmatch(app_trans_id)
    return match.group(1) if match else app_trans_id


def app_trans_id_for(reference: str, at: datetime) -> str:
    """The ``app_trans_id`` for an order created at ``at`` (yymmdd in Vietnam time)."""
    return f"{vn_local(at, '%y%m%d')}_{reference}"


def build_query_request(*, app_id: str, key1: str, app_trans_id: str
                        ) -> tuple[str, dict[str, str]]:
    """An order status query (POST form to :data:`QUERY_PATH`): ``(path, fields)``."""
    mac = hmac.new(utf8(key1), utf8(f"{app_id}|{app_trans_id}|{key1}"), "sha256").hexdigest()
    return QUERY_PATH, {"app_id": app_id, "app_trans_id": app_trans_id, "mac": mac}


class ZaloPayQuery(ConfirmApi):
    """``POST /v2/query`` about one order, named by its ``app_trans_id``."""

    default_base = "https://openapi.zalopay.vn"  # sandbox: https://sb-openapi.zalopay.vn
    required = ("RECON_ZALOPAY_APP_ID", "RECON_ZALOPAY_KEY1")
    # no method_fields: the /v2/query answer (its return codes, is_processing, amount,
    # discount_amount, zp_trans_id, ...) has no channel field, unlike the callback's data, so
    # a payment it confirms is recorded with no method (never guessed)

    def order_id(self, order: WaitingOrder) -> str:
        return order.provider_order_id or app_trans_id_for(order.reference, order.created_at)

    def request(self, order: WaitingOrder, now: datetime) -> ApiRequest:
        path, form = build_query_request(app_id=self.value("RECON_ZALOPAY_APP_ID"),
                                         key1=self.value("RECON_ZALOPAY_KEY1"),
                                         app_trans_id=self.order_id(order))
        return ApiRequest("POST", path, form=form)

    def read(self, body: bytes) -> QueryOutcome:
        doc = answer_object(body, "ZaloPay's answer")
        code = doc.get("return_code")
        message = f"{doc.get('return_message', '')} ({doc.get('sub_return_message', '')})"
        if code == 1:
            payment = ConfirmedPayment(
                provider_txn_id=id_text(doc.get("zp_trans_id"), "ZaloPay zp_trans_id"),
                amount=exact_vnd(doc.get("amount"), "ZaloPay amount"),
                paid_at=epoch_ms(doc.get("server_time"), "ZaloPay server_time"))
            return QueryOutcome("paid", f"ZaloPay 1: {message}", (payment,))
        if code == 3:
            return QueryOutcome("waiting", f"ZaloPay 3: {message}")
        if code == 2:
            return QueryOutcome("failed", f"ZaloPay 2: {message}")
        raise ProtocolError(f"ZaloPay answered return_code {code!r}: {message}")


class ZaloPayAdapter(Adapter):
    name = "zalopay"
    label = "ZaloPay"
    channel = "zalopay"
    # payouts: contract-specific days, memo never seen (LEGS.md A.4): unverified, overridable
    payout = PayoutSpec(memo=r"\bZALO\s*PAY\b|\bZION\b", days=1)
    env_spec = EnvSpec(
        required=("RECON_ZALOPAY_APP_ID", "RECON_ZALOPAY_KEY2"),
        optional=("RECON_ZALOPAY_KEY1",),
        rotating=("RECON_ZALOPAY_KEY2",),
        arguments=(("app_id", "RECON_ZALOPAY_APP_ID"), ("key1", "RECON_ZALOPAY_KEY1")),
    )
    link = CallbackLink.reference
    link_field = "app_trans_id"
    carries_memo = False
    pull_api = ZaloPayQuery
    # data.channel, ZaloPay's payment channel code: 38 the ZaloPay wallet, 39 an ATM card,
    # 36 Visa/Mastercard/JCB, 41 an international debit card, 37 a linked bank account
    payment_methods: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "channel": {"38": "wallet", "39": "domestic_card", "36": "intl_card", "41": "intl_card",
                    "37": "bank_account"},
    }

    def __init__(
        self,
        *,
        app_id: str,
        secrets: tuple[str, ...],
        key1: str | None = None,
        max_age_seconds: int = 300,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(secrets=secrets, max_age_seconds=max_age_seconds, clock=clock)
        self.app_id = app_id
        self._key1 = key1

    def _envelope(self, request: RawRequest) -> tuple[str, object, object]:
        body = load_json_object(request.body)
        data = body.get("data")
        if not isinstance(data, str):
            raise MalformedPayload("data must be a JSON string")
        return data, body.get("mac"), body.get("type", 1)

    def _signed_parts(self, request: RawRequest) -> SignedParts:
        data, mac, _ = self._envelope(request)
        return SignedParts(
            signature=mac if isinstance(mac, str) else None,
            messages=(utf8(data),),
            where="mac",
        )

    def _parse(self, request: RawRequest) -> CallbackEvent:
        data_text, _, callback_type = self._envelope(request)
        if callback_type in (2, "2"):
            raise NotAPayment("ZaloPay agreement (type 2) callback: not a payment")
        if callback_type not in (1, "1"):
            raise MalformedPayload(f"unknown callback type {show(callback_type)}")
        data = load_json_object(data_text, what="data")
        app_id = get_id(data, "app_id", where="data.")
        if app_id != self.app_id:
            raise MalformedPayload(f"data.app_id {show(app_id)} is not ours ({self.app_id!r})")
        app_trans_id = get_str(data, "app_trans_id", where="data.")
        return CallbackEvent(
            provider=self.name,
            provider_txn_id=get_txn_id(data, "zp_trans_id", where="data."),
            amount=parse_vnd(data.get("amount"), field="data.amount"),
            status="succeeded",
            transaction_at=epoch_time(data.get("server_time"), field="data.server_time"),
            reference=reference_from_app_trans_id(app_trans_id),
            order_code=None,
            memo=None,
            raw_status="type=1",
            channel=self.channel,
            method=self.method_of(data),
        )

    @classmethod
    def acknowledge(cls, outcome: Outcome, detail: str | None = None) -> Acknowledgement:
        code, message = _ACKS[outcome]
        if detail and code != 1:
            message = f"{message}: {detail}"
        return json_ack(200, {"return_code": code, "return_message": message})

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        answer = response_json(body)
        return (200 <= status_code < 300 and isinstance(answer, dict)
                and answer.get("return_code") == 1)

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return vn_local(paid_at, "%y%m%d") + str(100_000_000 + _random.randbelow(899_999_999))

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        assert payment.reference is not None  # the base checked the link
        return {
            "app_id": int(self.app_id) if self.app_id.isdigit() else self.app_id,
            "app_trans_id": app_trans_id_for(payment.reference, payment.paid_at),
            "app_time": to_epoch_ms(payment.paid_at),
            "app_user": "recon",
            "amount": payment.amount,
            "embed_data": "{}",
            "item": "[]",
            "zp_trans_id": id_value(payment.provider_txn_id),
            "server_time": to_epoch_ms(payment.paid_at),
            "channel": 38,
            "merchant_user_id": "",
            "user_fee_amount": 0,
            "discount_amount": 0,
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        data_text = compact_json(fields)
        return Wire.json({"data": data_text, "mac": self._sign(utf8(data_text)), "type": 1})

    def query_request(self, *, app_trans_id: str) -> tuple[str, dict[str, str]]:
        """:func:`build_query_request` with this adapter's app id and key1."""
        if not self._key1:
            raise NotConfigured("RECON_ZALOPAY_KEY1 is not set (needed for the query API)")
        return build_query_request(app_id=self.app_id, key1=self._key1, app_trans_id=app_trans_id)
