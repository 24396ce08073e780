"""The providers' query and statement APIs, as pure functions: requests built and signed,
responses checked and read. No HTTP, no database (``recon/settlements/fetch.py`` does the calling).

Money leaves here only as exact ints of VND: decimal strings (``"50000.00"``) are accepted when
their fraction is zero, anything else is a :class:`ProtocolError`, never rounded.

Signatures, as implemented here (hex digests, UTF-8):

- **VNPay querydr** request, HMAC-SHA512(hash secret) over the fields joined with ``|`` in this
  order: ``vnp_RequestId|vnp_Version|vnp_Command|vnp_TmnCode|vnp_TxnRef|vnp_TransactionDate|
  vnp_CreateDate|vnp_IpAddr|vnp_OrderInfo`` (built by :func:`adapters.vnpay.build_querydr`).
  The response is
  checked, when it carries ``vnp_SecureHash``, over ``vnp_ResponseId|vnp_Command|
  vnp_ResponseCode|vnp_Message|vnp_TmnCode|vnp_TxnRef|vnp_Amount|vnp_BankCode|vnp_PayDate|
  vnp_TransactionNo|vnp_TransactionType|vnp_TransactionStatus|vnp_OrderInfo|vnp_PromotionCode|
  vnp_PromotionAmount`` (:data:`VNPAY_QUERYDR_RESPONSE_FIELDS`; a missing field is empty).
- **ZaloPay /v2/query**: ``mac`` = HMAC-SHA256(key1, ``app_id|app_trans_id|key1``).
- **MoMo /v2/gateway/api/query**: ``signature`` = HMAC-SHA256(secret key,
  ``accessKey=..&orderId=..&partnerCode=..&requestId=..``), raw values.
- **payOS payment-requests** response: ``signature`` = HMAC-SHA256(checksum key) over the keys of
  ``data`` sorted a→z as ``key=value`` joined by ``&``; null (and the strings "null" and
  "undefined") become empty; an array is written as compact JSON whose objects have their
  keys sorted (how payOS's own SDK signs ``transactions``).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from adapters import momo, vnpay, zalopay
from adapters.fields import opt_bank_reference
from recon.clock import as_utc
from recon.money import MAX_VND

State = Literal["paid", "waiting", "failed", "not_found"]

DEFAULT_BASES: dict[str, str] = {
    "sepay": "https://my.sepay.vn",
    "payos": "https://api-merchant.payos.vn",
    "vnpay": "https://merchant.vnpay.vn",  # sandbox: https://sandbox.vnpayment.vn
    "zalopay": "https://openapi.zalopay.vn",  # sandbox: https://sb-openapi.zalopay.vn
    "momo": "https://payment.momo.vn",  # sandbox: https://test-payment.momo.vn
}
SEPAY_LIST_PATH = "/userapi/transactions/list"
PAYOS_PAYMENT_REQUEST_PATH = "/v2/payment-requests/{order_code}"
VNPAY_QUERYDR_PATH = "/merchant_webapi/api/transaction"
ZALOPAY_QUERY_PATH = "/v2/query"
MOMO_QUERY_PATH = "/v2/gateway/api/query"

VNPAY_QUERYDR_RESPONSE_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode",
                                 "vnp_Message", "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount",
                                 "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                                 "vnp_TransactionType", "vnp_TransactionStatus",
                                 "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount")

_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


class ProtocolError(ValueError):
    """A provider answer we cannot read or must not trust (bad signature, malformed)."""


@dataclass(frozen=True)
class ConfirmedPayment:
    """One payment a query API says was made."""

    provider_txn_id: str
    amount: int
    paid_at: datetime
    memo: str | None = None
    bank_reference: str | None = None  # the bank's reference of the credit (payOS: its id)


@dataclass(frozen=True)
class QueryOutcome:
    state: State
    detail: str
    payments: tuple[ConfirmedPayment, ...] = ()


@dataclass(frozen=True)
class SepayCredit:
    provider_txn_id: str
    amount_in: int
    amount_out: int
    transaction_at: datetime
    content: str | None
    code: str | None
    reference_number: str | None


# ---------------------------------------------------------------------------------------------
# shared


def _hmac(key: str, message: str, digest: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), digest).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.lower().encode("ascii", "replace"),
                               b.lower().encode("ascii", "replace"))


def load_json(body: bytes, what: str) -> Any:
    """JSON with every non-integer number kept as an exact Decimal."""
    try:
        return json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        snippet = body[:120].decode("utf-8", "replace")
        raise ProtocolError(f"{what} is not JSON ({exc.__class__.__name__}): {snippet!r}"
                            ) from None


def exact_vnd(value: object, what: str) -> int:
    """An amount from a provider as an exact int of VND: ints, and decimal strings or numbers
    whose fraction is zero (``"50000.00"``). Anything else is a :class:`ProtocolError`."""
    if isinstance(value, bool) or value is None:
        raise ProtocolError(f"{what} is not an amount: {value!r}")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise ProtocolError(f"{what} has a fraction of a dong: {value}")
        amount = int(value)
    elif isinstance(value, str):
        match = _DECIMAL.fullmatch(value.strip())
        if not match:
            raise ProtocolError(f"{what} is not a plain decimal amount: {value!r}")
        if (match.group(2) or "").strip("0"):
            raise ProtocolError(f"{what} has a fraction of a dong: {value!r}")
        if len(match.group(1).lstrip("0")) > 16:
            raise ProtocolError(f"{what} is too large: {value!r}")
        amount = int(match.group(1))
    else:
        raise ProtocolError(f"{what} is not an amount: {value!r}")
    if amount < 0 or amount > MAX_VND:
        raise ProtocolError(f"{what} is out of range: {amount}")
    return amount


def _id_text(value: object, what: str) -> str:
    if isinstance(value, bool) or value is None:
        raise ProtocolError(f"{what} is missing")
    if isinstance(value, Decimal):
        raise ProtocolError(f"{what} is not an id: {value}")
    text = str(value).strip()
    if not text or len(text) > 64:
        raise ProtocolError(f"{what} is not a usable id: {text!r}")
    return text


def vn_datetime(text: object, what: str) -> datetime:
    """``YYYY-MM-DD HH:mm:ss`` (Vietnam time) or ISO 8601; returned in UTC."""
    if not isinstance(text, str) or not text.strip():
        raise ProtocolError(f"{what} is missing")
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ProtocolError(f"{what} is not a date and time: {text!r}") from None


def _epoch_ms(value: object, what: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ProtocolError(f"{what} is not a time in epoch milliseconds: {value!r}")
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


# ---------------------------------------------------------------------------------------------
# SePay transactions list (the bank statement)


def sepay_list_params(day: date, *, limit: int, since_id: int | None = None,
                      account_number: str | None = None) -> dict[str, str]:
    params = {
        "transaction_date_min": f"{day.isoformat()} 00:00:00",
        "transaction_date_max": f"{day.isoformat()} 23:59:59",
        "limit": str(limit),
    }
    if since_id is not None:
        params["since_id"] = str(since_id)
    if account_number:
        params["account_number"] = account_number
    return params


def read_sepay_page(body: bytes) -> list[Mapping[str, Any]]:
    """The transactions of one page; the envelope must say success."""
    doc = load_json(body, "SePay's answer")
    if not isinstance(doc, dict):
        raise ProtocolError("SePay's answer is not a JSON object")
    if doc.get("status") not in (200, "200") or doc.get("error"):
        raise ProtocolError(f"SePay reported an error: status {doc.get('status')!r}, "
                            f"error {doc.get('error')!r}, messages {doc.get('messages')!r}")
    txns = doc.get("transactions")
    if not isinstance(txns, list) or not all(isinstance(t, dict) for t in txns):
        raise ProtocolError("SePay's answer has no 'transactions' list")
    return txns


def sepay_credit(txn: Mapping[str, Any]) -> SepayCredit:
    where = f"transaction {txn.get('id')!r}"
    content = txn.get("transaction_content")
    code = txn.get("code")
    ref = txn.get("reference_number")
    return SepayCredit(
        provider_txn_id=_id_text(txn.get("id"), f"{where}: id"),
        amount_in=exact_vnd(txn.get("amount_in", "0"), f"{where}: amount_in"),
        amount_out=exact_vnd(txn.get("amount_out", "0"), f"{where}: amount_out"),
        transaction_at=vn_datetime(txn.get("transaction_date"), f"{where}: transaction_date"),
        content=content if isinstance(content, str) else None,
        code=code if isinstance(code, str) else None,
        reference_number=ref if isinstance(ref, str) else None,
    )


# ---------------------------------------------------------------------------------------------
# payOS payment-requests


def _js_text(value: object) -> str:
    """How JavaScript's template string writes a JSON value (payOS signs that way)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, str):
        return "" if value in ("null", "undefined") else value
    if isinstance(value, list):
        return "[" + ",".join(_js_json(v, sort=True) for v in value) + "]"
    if isinstance(value, dict):
        return _js_json(value, sort=True)
    return str(value)


def _js_json(value: object, *, sort: bool = False) -> str:
    """``JSON.stringify`` (compact, non-ASCII kept), keys sorted at this level when asked."""
    if isinstance(value, dict):
        keys = sorted(value) if sort else list(value)
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + _js_json(value[k])
                              for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_js_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return _js_text(value)
    return json.dumps(value, ensure_ascii=False)


def payos_signature(data: Mapping[str, object], checksum_key: str) -> str:
    message = "&".join(f"{key}={_js_text(data[key])}" for key in sorted(data))
    return _hmac(checksum_key, message, "sha256")


def payos_headers(client_id: str, api_key: str) -> dict[str, str]:
    return {"x-client-id": client_id, "x-api-key": api_key}


def read_payos_payment_request(body: bytes, checksum_key: str) -> QueryOutcome:
    doc = load_json(body, "payOS's answer")
    if not isinstance(doc, dict):
        raise ProtocolError("payOS's answer is not a JSON object")
    code = str(doc.get("code", ""))
    desc = str(doc.get("desc", ""))
    data = doc.get("data")
    if code != "00" or not isinstance(data, dict):
        return QueryOutcome("not_found", f"payOS code {code}: {desc}")
    signature = doc.get("signature")
    if signature and (not isinstance(signature, str)
                      or not _same(payos_signature(data, checksum_key), signature)):
        raise ProtocolError("payOS's answer has a signature that does not match its data "
                            "(check RECON_PAYOS_CHECKSUM_KEY)")
    status = str(data.get("status", "")).upper()
    payments = []
    txns = data.get("transactions") or []
    if not isinstance(txns, list):
        raise ProtocolError("payOS's answer: data.transactions is not a list")
    for i, tx in enumerate(txns, start=1):
        if not isinstance(tx, dict):
            raise ProtocolError(f"payOS's answer: transaction {i} is not an object")
        reference = _id_text(tx.get("reference"), f"payOS transaction {i}: reference")
        payments.append(ConfirmedPayment(
            provider_txn_id=reference,
            amount=exact_vnd(tx.get("amount"), f"payOS transaction {i}: amount"),
            paid_at=vn_datetime(tx.get("transactionDateTime"),
                                f"payOS transaction {i}: transactionDateTime"),
            memo=tx.get("description") if isinstance(tx.get("description"), str) else None,
            bank_reference=opt_bank_reference(tx, "reference")))
    amount = exact_vnd(data.get("amount"), "payOS data.amount")
    paid = exact_vnd(data.get("amountPaid", 0), "payOS data.amountPaid")
    detail = f"payOS status {status}: {paid} of {amount} paid"
    if status == "PAID":
        return QueryOutcome("paid", detail, tuple(payments))
    if status in {"CANCELLED", "EXPIRED", "FAILED"}:
        return QueryOutcome("failed", detail, tuple(payments))
    return QueryOutcome("waiting", detail, tuple(payments))


# ---------------------------------------------------------------------------------------------
# VNPay querydr


def vnpay_querydr_body(*, tmn_code: str, hash_secret: str, request_id: str, txn_ref: str,
                       transaction_date: datetime, create_date: datetime, ip_addr: str,
                       order_info: str) -> dict[str, str]:
    """The JSON body of a ``querydr`` call, signed by the VNPay adapter's own builder."""
    _, body = vnpay.build_querydr(
        tmn_code=tmn_code, hash_secret=hash_secret, request_id=request_id, txn_ref=txn_ref,
        transaction_date=transaction_date, create_date=create_date, ip_addr=ip_addr,
        order_info=order_info)
    return body


def vnpay_response_hash(doc: Mapping[str, object], hash_secret: str) -> str:
    return _hmac(hash_secret, "|".join(
        "" if doc.get(k) is None else _js_text(doc.get(k))
        for k in VNPAY_QUERYDR_RESPONSE_FIELDS), "sha512")


def read_vnpay_querydr(body: bytes, hash_secret: str) -> QueryOutcome:
    doc = load_json(body, "VNPay's answer")
    if not isinstance(doc, dict):
        raise ProtocolError("VNPay's answer is not a JSON object")
    sent = doc.get("vnp_SecureHash")
    if sent and (not isinstance(sent, str)
                 or not _same(vnpay_response_hash(doc, hash_secret), sent)):
        raise ProtocolError("VNPay's answer has a vnp_SecureHash that does not match "
                            "(check RECON_VNPAY_HASH_SECRET)")
    code = str(doc.get("vnp_ResponseCode", ""))
    message = str(doc.get("vnp_Message", ""))
    if code == "91":
        return QueryOutcome("not_found", f"VNPay 91: {message}")
    if code == "97":
        raise ProtocolError("VNPay refused our request signature (97): check "
                            "RECON_VNPAY_HASH_SECRET and RECON_VNPAY_TMN_CODE")
    if code != "00":
        raise ProtocolError(f"VNPay could not answer the query ({code}: {message})")
    status = str(doc.get("vnp_TransactionStatus", ""))
    detail = f"VNPay transaction status {status}"
    if status == "00":
        raw_amount = doc.get("vnp_Amount")
        hundredths = exact_vnd(raw_amount, "VNPay vnp_Amount")
        if hundredths % 100:
            raise ProtocolError(f"VNPay vnp_Amount {raw_amount!r} is not a whole number of VND "
                                "(it is VND x 100)")
        pay_date = str(doc.get("vnp_PayDate", ""))
        try:
            paid_at = as_utc(datetime.strptime(pay_date, "%Y%m%d%H%M%S"))  # noqa: DTZ007
        except ValueError:
            raise ProtocolError(f"VNPay vnp_PayDate {pay_date!r} is not yyyyMMddHHmmss"
                                ) from None
        payment = ConfirmedPayment(
            provider_txn_id=_id_text(doc.get("vnp_TransactionNo"), "VNPay vnp_TransactionNo"),
            amount=hundredths // 100, paid_at=paid_at,
            memo=str(doc.get("vnp_OrderInfo") or "") or None)
        return QueryOutcome("paid", detail, (payment,))
    if status == "02":
        return QueryOutcome("failed", detail + " (failed)")
    return QueryOutcome("waiting", detail)


# ---------------------------------------------------------------------------------------------
# ZaloPay /v2/query


def zalopay_query_form(*, app_id: str, key1: str, app_trans_id: str) -> dict[str, str]:
    """The signed form of a ``/v2/query`` call (the ZaloPay adapter's builder)."""
    _, form = zalopay.build_query_request(app_id=app_id, key1=key1, app_trans_id=app_trans_id)
    return form


def zalopay_app_trans_id(reference: str, created_at: datetime) -> str:
    """``yymmdd_<reference>``, the date in Vietnam time (how recon names ZaloPay orders)."""
    return zalopay.app_trans_id_for(reference, created_at)


def read_zalopay_query(body: bytes) -> QueryOutcome:
    doc = load_json(body, "ZaloPay's answer")
    if not isinstance(doc, dict):
        raise ProtocolError("ZaloPay's answer is not a JSON object")
    code = doc.get("return_code")
    message = f"{doc.get('return_message', '')} ({doc.get('sub_return_message', '')})"
    if code == 1:
        payment = ConfirmedPayment(
            provider_txn_id=_id_text(doc.get("zp_trans_id"), "ZaloPay zp_trans_id"),
            amount=exact_vnd(doc.get("amount"), "ZaloPay amount"),
            paid_at=_epoch_ms(doc.get("server_time"), "ZaloPay server_time"))
        return QueryOutcome("paid", f"ZaloPay 1: {message}", (payment,))
    if code == 3:
        return QueryOutcome("waiting", f"ZaloPay 3: {message}")
    if code == 2:
        return QueryOutcome("failed", f"ZaloPay 2: {message}")
    raise ProtocolError(f"ZaloPay answered return_code {code!r}: {message}")


# ---------------------------------------------------------------------------------------------
# MoMo /v2/gateway/api/query

MOMO_WAITING = frozenset({1000, 7000, 7002, 9000})
MOMO_NOT_FOUND = frozenset({42})
MOMO_REFUSED_US = frozenset({11, 13})  # access denied; merchant authentication failed


def momo_query_body(*, partner_code: str, access_key: str, secret_key: str, order_id: str,
                    request_id: str, lang: str = "vi") -> dict[str, str]:
    """The signed body of a ``/v2/gateway/api/query`` call (the MoMo adapter's builder)."""
    _, body = momo.build_query_request(partner_code=partner_code, access_key=access_key,
                                       secret_key=secret_key, order_id=order_id,
                                       request_id=request_id, lang=lang)
    return body


def read_momo_query(body: bytes) -> QueryOutcome:
    doc = load_json(body, "MoMo's answer")
    if not isinstance(doc, dict):
        raise ProtocolError("MoMo's answer is not a JSON object")
    code = doc.get("resultCode")
    message = str(doc.get("message", ""))
    if isinstance(code, bool) or not isinstance(code, int):
        raise ProtocolError(f"MoMo's answer has no resultCode: {code!r}")
    if code == 0:
        when = doc.get("lastUpdated", doc.get("responseTime"))
        payment = ConfirmedPayment(
            provider_txn_id=_id_text(doc.get("transId"), "MoMo transId"),
            amount=exact_vnd(doc.get("amount"), "MoMo amount"),
            paid_at=_epoch_ms(when, "MoMo lastUpdated/responseTime"))
        return QueryOutcome("paid", f"MoMo 0: {message}", (payment,))
    if code in MOMO_REFUSED_US:
        raise ProtocolError(f"MoMo refused our request ({code}: {message}): check "
                            "RECON_MOMO_PARTNER_CODE, RECON_MOMO_ACCESS_KEY and "
                            "RECON_MOMO_SECRET_KEY")
    if code in MOMO_WAITING:
        return QueryOutcome("waiting", f"MoMo {code}: {message}")
    if code in MOMO_NOT_FOUND:
        return QueryOutcome("not_found", f"MoMo {code}: {message}")
    return QueryOutcome("failed", f"MoMo {code}: {message}")


__all__ = [
    "DEFAULT_BASES", "ConfirmedPayment", "ProtocolError", "QueryOutcome", "SepayCredit",
    "exact_vnd", "momo_query_body", "payos_headers", "payos_signature",
    "read_momo_query", "read_payos_payment_request", "read_sepay_page", "read_vnpay_querydr",
    "read_zalopay_query", "sepay_credit", "sepay_list_params", "vnpay_querydr_body",
    "vnpay_response_hash", "zalopay_app_trans_id", "zalopay_query_form",
]
