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

Statement API (:class:`SePayStatement`): ``GET /userapi/transactions/list`` with a bearer token
(``RECON_SEPAY_API_TOKEN``), one Vietnam day (``transaction_date_min``/``_max``), paged by
``since_id`` and ``limit`` (at most 5000); optionally one account (``RECON_SEPAY_ACCOUNT_NUMBER``).

Settlement profile: ``sepay_export``, SePay's own transactions export (money in only).
"""

from __future__ import annotations

import secrets as _random
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

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
    success_flag_ack,
    success_flag_delivered,
)
from adapters.fields import (
    get_str,
    get_txn_id,
    id_value,
    load_json_object,
    local_time,
    opt_bank_reference,
    opt_str,
    parse_vnd,
    show,
    vn_local,
)
from adapters.pull import (
    ApiRequest,
    ProtocolError,
    StatementApi,
    StatementLine,
    answer_object,
    exact_vnd,
    id_text,
    vn_datetime,
)

SCHEME = "Apikey"
LIST_PATH = "/userapi/transactions/list"

#: SePay's own export (my.sepay.vn → Giao dịch → Xuất Excel/CSV)
SETTLEMENT_PROFILES: Mapping[str, Mapping[str, object]] = {
    "sepay_export": {
        "description": "SePay transactions export (my.sepay.vn → Giao dịch → Xuất Excel/CSV): "
                       "money in only, SePay's id as id",
        "header_row": "auto",
        "optional_columns": ["reference"],
        "datetime_formats": ["%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S", "iso"],
        "thousands_separator": ",",
        "decimal_separator": ".",
        "columns": {
            "provider_txn_id": ["ID", "Mã giao dịch SePay", "id"],
            "transaction_at": ["Ngày giao dịch", "Thời gian giao dịch", "transaction_date"],
            "amount": ["Tiền vào", "Số tiền vào", "amount_in"],
            "reference": ["Nội dung", "Nội dung thanh toán", "transaction_content"],
        },
        "filters": [{"column": "amount", "positive": True}],
    },
}


def api_key_from_header(value: str | None) -> str | None:
    """The key in ``Apikey <key>``; ``None`` when the header is absent; :class:`SignatureError`
    when it has another shape."""
    if value is None or not value.strip():
        return None
    scheme, _, key = value.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not key.strip():
        raise SignatureError("Authorization header must be 'Apikey <key>'")
    return key.strip()


class SePayStatement(StatementApi):
    """The bank account's transactions of one Vietnam day, oldest id first."""

    default_base = "https://my.sepay.vn"
    required = ("RECON_SEPAY_API_TOKEN",)
    optional = ("RECON_SEPAY_ACCOUNT_NUMBER",)
    profile = "sepay_api"
    page_size_variable = "RECON_SEPAY_PAGE_SIZE"
    max_page_size = 5000

    def page_request(self, day: date, *, limit: int, cursor: str | None) -> ApiRequest:
        params = {
            "transaction_date_min": f"{day.isoformat()} 00:00:00",
            "transaction_date_max": f"{day.isoformat()} 23:59:59",
            "limit": str(limit),
        }
        if cursor is not None:
            params["since_id"] = cursor
        account = self.value("RECON_SEPAY_ACCOUNT_NUMBER")
        if account:
            params["account_number"] = account
        return ApiRequest("GET", LIST_PATH, params=params, headers={
            "Authorization": f"Bearer {self.value('RECON_SEPAY_API_TOKEN')}",
            "Accept": "application/json"})

    def read_page(self, body: bytes) -> list[Mapping[str, Any]]:
        """The transactions of one page; the envelope must say success."""
        doc = answer_object(body, "SePay's answer")
        if doc.get("status") not in (200, "200") or doc.get("error"):
            raise ProtocolError(f"SePay reported an error: status {doc.get('status')!r}, "
                                f"error {doc.get('error')!r}, messages {doc.get('messages')!r}")
        transactions = doc.get("transactions")
        if not isinstance(transactions, list) or not all(
                isinstance(t, dict) for t in transactions):
            raise ProtocolError("SePay's answer has no 'transactions' list")
        return transactions

    def key(self, transaction: Mapping[str, Any]) -> str:
        return str(transaction.get("id"))

    def next_cursor(self, keys: Iterable[str]) -> str | None:
        numeric = [int(k) for k in keys if k.isdigit()]
        return str(max(numeric) + 1) if numeric else None

    def line(self, transaction: Mapping[str, Any]) -> StatementLine:
        where = f"transaction {transaction.get('id')!r}"
        memo = next((value for value in (transaction.get(name) for name in (
            "transaction_content", "code", "reference_number")) if isinstance(value, str)
            and value), None)
        return StatementLine(
            provider_txn_id=id_text(transaction.get("id"), f"{where}: id"),
            amount_in=exact_vnd(transaction.get("amount_in", "0"), f"{where}: amount_in"),
            amount_out=exact_vnd(transaction.get("amount_out", "0"), f"{where}: amount_out"),
            transaction_at=vn_datetime(transaction.get("transaction_date"),
                                       f"{where}: transaction_date"),
            memo=memo)

    def file_header(self, provider: str, day: date) -> dict[str, object]:
        return {"provider": provider, "api": LIST_PATH, "date": day.isoformat(),
                "account_number": self.value("RECON_SEPAY_ACCOUNT_NUMBER") or None}


class SePayAdapter(Adapter):
    name = "sepay"
    label = "SePay"
    channel = "vietqr"
    hex_signature = False
    env_spec = EnvSpec(
        required=("RECON_SEPAY_API_KEY",),
        optional=("RECON_SEPAY_API_TOKEN",),
        rotating=("RECON_SEPAY_API_KEY",),
    )
    link = CallbackLink.memo
    pull_api = SePayStatement
    settlement_profiles = SETTLEMENT_PROFILES

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

    @classmethod
    def delivered(cls, status_code: int, body: bytes | str) -> bool:
        return success_flag_delivered(status_code, body)

    # -- the simulator -----------------------------------------------------------------------

    def _new_txn_id(self, paid_at: datetime) -> str:
        return str(1_000_000 + _random.randbelow(9_000_000))

    def _callback_fields(self, payment: SimulatedPayment) -> dict[str, object]:
        content = payment.transfer_memo
        return {
            "id": id_value(payment.provider_txn_id),
            "gateway": "Vietcombank",
            "transactionDate": vn_local(payment.paid_at),
            "accountNumber": "0123456789",
            "code": payment.reference,
            "content": content,
            "transferType": "in",
            "transferAmount": payment.amount,
            "accumulated": payment.amount,
            "subAccount": None,
            "referenceCode": f"FT{_random.randbelow(10**10):010d}",
            "description": f"BankAPINotify {content}",
        }

    def _wire(self, fields: dict[str, object], payment: SimulatedPayment) -> Wire:
        key = self._secrets[0].decode("utf-8")
        return Wire.json(fields, headers={"Authorization": f"{SCHEME} {key}"})
