"""Pull APIs as the adapters declare them: pure requests and answer readers (the HTTP side is
tests/settlements/test_fetch.py). payOS's signature is one implementation for webhooks and API
answers; each provider's query names what it needs; amounts are exact."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters import ADAPTERS, PROVIDERS, NotConfigured, RawRequest, adapter_class
from adapters.momo import MoMoQuery
from adapters.payos import PayOSQuery, sign, signature_message
from adapters.pull import (
    ApiRequest,
    ConfirmApi,
    ProtocolError,
    StatementApi,
    WaitingOrder,
    exact_vnd,
    vn_datetime,
)
from adapters.sepay import SePayStatement
from adapters.vnpay import QUERYDR_RESPONSE_FIELDS, VNPayQuery
from adapters.zalopay import ZaloPayQuery
from tests.adapters.adapters_testkit import NOW, adapter_for, env_for

ORDER = WaitingOrder(id=7, reference="HS7K3M9QX2PA",
                     created_at=datetime(2026, 11, 26, 2, 30, tzinfo=UTC), order_code=880001)
PAYOS_ENV = {"RECON_PAYOS_CLIENT_ID": "client-1", "RECON_PAYOS_API_KEY": "api-key-1",
             "RECON_PAYOS_CHECKSUM_KEY": "checksum-key-1"}


def test_which_providers_have_which_api() -> None:
    kinds = {name: (None if cls.pull_api is None else
                    "statement" if issubclass(cls.pull_api, StatementApi) else "confirm")
             for name, cls in ADAPTERS.items()}
    assert kinds == {"vnpay": "confirm", "momo": "confirm", "zalopay": "confirm",
                     "payos": "confirm", "sepay": "statement", "casso": None, "pos": None}
    for name in PROVIDERS:
        api = adapter_class(name).pull_api
        if api is not None:
            assert api.default_base.startswith("https://")
            assert all(v.startswith("RECON_") for v in (*api.required, *api.optional))


@pytest.mark.parametrize(("api", "missing"), [
    (PayOSQuery, "RECON_PAYOS_CLIENT_ID, RECON_PAYOS_API_KEY, RECON_PAYOS_CHECKSUM_KEY"),
    (ZaloPayQuery, "RECON_ZALOPAY_APP_ID, RECON_ZALOPAY_KEY1"),
    (SePayStatement, "RECON_SEPAY_API_TOKEN"),
])
def test_a_pull_api_names_every_missing_variable(api: type[ConfirmApi], missing: str) -> None:
    with pytest.raises(NotConfigured, match=f"not set: {missing}$"):
        api({"RECON_PAYOS_CLIENT_ID": "   "})


def _payos_answer(data: dict[str, Any], signature: str) -> bytes:
    return json.dumps({"code": "00", "desc": "success", "data": data,
                       "signature": signature}).encode()


def test_payos_signs_webhooks_and_answers_with_one_function() -> None:
    """A payment-request answer (with its transactions array) and a webhook carrying the same
    data verify with the same signature: one implementation, adapters/payos.py."""
    data: dict[str, Any] = {
        "id": "124c33293c43417ab7879e14c8d9eb18", "orderCode": 880001, "amount": 180000,
        "amountPaid": 180000, "status": "PAID", "canceledAt": None, "code": "00",
        "desc": "Thành công", "reference": "FT1",
        "transactionDateTime": "2026-11-26 09:31:05",
        "transactions": [{"reference": "FT1", "amount": 180000, "description": "CT HS",
                          "transactionDateTime": "2026-11-26 09:31:05",
                          "virtualAccountName": None}],
    }
    key = PAYOS_ENV["RECON_PAYOS_CHECKSUM_KEY"]
    signature = sign(data, key)
    assert signature == hmac.new(key.encode(), signature_message(data), hashlib.sha256
                                 ).hexdigest()
    assert b'transactions=[{"amount":180000,"description":"CT HS","reference":"FT1",' \
        in signature_message(data)  # each object's keys sorted, JSON.stringify's form
    outcome = PayOSQuery(PAYOS_ENV).read(_payos_answer(data, signature))
    assert outcome.state == "paid"
    assert [(p.provider_txn_id, p.amount, p.bank_reference) for p in outcome.payments] == [
        ("FT1", 180000, "FT1")]
    webhook = RawRequest("POST", "/webhooks/payos", "", {}, json.dumps(
        {"code": "00", "data": data, "signature": signature}).encode(), NOW)
    adapter_for("payos", RECON_PAYOS_CHECKSUM_KEY=key).verify(webhook)
    with pytest.raises(ProtocolError, match="RECON_PAYOS_CHECKSUM_KEY"):
        PayOSQuery(PAYOS_ENV).read(_payos_answer({**data, "amountPaid": 1}, signature))


def test_payos_numbers_sign_as_javascript_writes_them() -> None:
    data = {"a": Decimal("180000.0"), "b": Decimal("1.50"), "c": [{"y": Decimal("2.0"), "x": 1}]}
    assert signature_message(data) == b'a=180000&b=1.5&c=[{"x":1,"y":2}]'


def test_payos_request_carries_the_client_headers() -> None:
    request = PayOSQuery(PAYOS_ENV).request(ORDER, NOW)
    assert request == ApiRequest("GET", "/v2/payment-requests/880001", headers={
        "x-client-id": "client-1", "x-api-key": "api-key-1"})


def test_vnpay_query_is_the_adapter_querydr_and_the_answer_hash_is_checked() -> None:
    env = {"RECON_VNPAY_TMN_CODE": "HUETTHCC", "RECON_VNPAY_HASH_SECRET": "vnp-secret"}
    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    request = VNPayQuery(env).request(ORDER, now)
    assert request.json is not None and request.json["vnp_IpAddr"] == "127.0.0.1"
    assert request.json["vnp_TransactionDate"] == "20261126093000"  # GMT+7
    assert VNPayQuery({**env, "RECON_VNPAY_QUERY_IP": "10.0.0.9"}).request(
        ORDER, now).json["vnp_IpAddr"] == "10.0.0.9"  # type: ignore[index]
    doc = {"vnp_ResponseCode": "00", "vnp_TransactionStatus": "00", "vnp_Amount": "18000000",
           "vnp_PayDate": "20261126093512", "vnp_TransactionNo": "14509170",
           "vnp_TxnRef": ORDER.reference}
    message = "|".join(str(doc.get(k, "")) for k in QUERYDR_RESPONSE_FIELDS)
    doc["vnp_SecureHash"] = hmac.new(b"vnp-secret", message.encode(), hashlib.sha512).hexdigest()
    (payment,) = VNPayQuery(env).read(json.dumps(doc).encode()).payments
    assert (payment.amount, payment.paid_at) == (180000, datetime(2026, 11, 26, 2, 35, 12,
                                                                  tzinfo=UTC))
    with pytest.raises(ProtocolError, match="does not match"):
        VNPayQuery(env).read(json.dumps({**doc, "vnp_Amount": "28000000"}).encode())


def test_zalopay_and_momo_queries_name_the_order() -> None:
    zalo = ZaloPayQuery({"RECON_ZALOPAY_APP_ID": "2553", "RECON_ZALOPAY_KEY1": "k1"})
    assert zalo.order_id(ORDER) == "261126_HS7K3M9QX2PA"
    assert zalo.request(ORDER, NOW).form == {
        "app_id": "2553", "app_trans_id": "261126_HS7K3M9QX2PA",
        "mac": hmac.new(b"k1", b"2553|261126_HS7K3M9QX2PA|k1", hashlib.sha256).hexdigest()}
    named = WaitingOrder(id=1, reference="HS1", created_at=NOW, provider_order_id="240521_X")
    assert zalo.order_id(named) == "240521_X"
    momo = MoMoQuery(env_for("momo"))
    body = momo.request(ORDER, NOW).json
    assert body is not None and body["orderId"] == ORDER.reference
    assert str(body["requestId"]).startswith(f"{ORDER.reference}-Q")
    assert momo.read(b'{"resultCode": 1000, "message": "x"}').state == "waiting"
    with pytest.raises(ProtocolError, match="RECON_MOMO_SECRET_KEY"):
        momo.read(b'{"resultCode": 13, "message": "auth"}')


def test_sepay_statement_pages_and_lines() -> None:
    api = SePayStatement({"RECON_SEPAY_API_TOKEN": "t", "RECON_SEPAY_ACCOUNT_NUMBER": "113"})
    request = api.page_request(date(2026, 11, 25), limit=2, cursor="92706")
    assert request.target == ("/userapi/transactions/list?transaction_date_min=2026-11-25+"
                              "00%3A00%3A00&transaction_date_max=2026-11-25+23%3A59%3A59&"
                              "limit=2&since_id=92706&account_number=113")
    assert request.headers["Authorization"] == "Bearer t"
    assert api.next_cursor(["92704", "92705"]) == "92706"
    line = api.line({"id": "92704", "amount_in": "180000.00", "amount_out": "0.00",
                     "transaction_date": "2026-11-25 09:12:44", "transaction_content": "",
                     "code": "HS7K3M9QX2PA"})
    assert (line.amount_in, line.memo) == (180000, "HS7K3M9QX2PA")
    with pytest.raises(ProtocolError, match="SePay reported an error"):
        api.read_page(b'{"status": 401, "error": "Unauthenticated"}')


@pytest.mark.parametrize("value", ["180000.50", "1e5", "-1", True, None, Decimal("0.5")])
def test_amounts_are_exact(value: object) -> None:
    with pytest.raises(ProtocolError):
        exact_vnd(value, "amount")
    assert exact_vnd("180000.00", "amount") == exact_vnd(Decimal("180000.0"), "amount") == 180000
    assert vn_datetime("2026-11-26 09:31:05", "t") == datetime(2026, 11, 26, 2, 31, 5,
                                                               tzinfo=UTC)


def test_an_api_request_has_one_body() -> None:
    with pytest.raises(ValueError, match="one body"):
        ApiRequest("POST", "/", json={"a": 1}, body=b"{}")
