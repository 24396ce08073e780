"""VNPay IPN: the PROVIDERS.md vector, status mapping, amounts (VND x 100), acknowledgements,
and the querydr request."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote_plus, urlencode

import pytest

from adapters import MalformedPayload, NotAPayment, Outcome, RawRequest, SignatureError
from adapters.vnpay import (
    QUERYDR_PATH,
    RESPONSE_CODES,
    TRANSACTION_STATUSES,
    build_querydr,
    hash_data,
    payment_status,
)
from tests.adapters.adapters_testkit import NOW, adapter_for, fixture_request

SECRET = "test_secret"
VECTOR = {
    "vnp_Amount": "1000000", "vnp_BankCode": "NCB", "vnp_BankTranNo": "VNP14422574",
    "vnp_CardType": "ATM", "vnp_OrderInfo": "Thanh toan don hang 2024-05-21T02:17:31.249Z",
    "vnp_PayDate": "20240521091806", "vnp_ResponseCode": "00", "vnp_TmnCode": "TEST_TMN_CODE",
    "vnp_TransactionNo": "14422574", "vnp_TransactionStatus": "00",
    "vnp_TxnRef": "1716257871703",
}
VECTOR_HASH = (
    "649982421beb422556a1374713c74e58e716ecbd05007c0c0e1f7effdfaf361dbf146889ca446139afe11b9954c4"
    "d5c486e99e3b86fcfab6957f29eb0be72895"
)


def signed(params: dict[str, str], secret: str = SECRET) -> RawRequest:
    """A query string signed the documented way, written independently of the adapter."""
    data = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in sorted(params.items()))
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()
    return RawRequest("GET", "/webhooks/vnpay", urlencode(dict(params, vnp_SecureHash=digest)),
                      {}, b"", NOW)


def test_vector_hash_data_and_signature() -> None:
    data = hash_data(VECTOR)
    assert data.startswith("vnp_Amount=1000000&vnp_BankCode=NCB&")
    assert "vnp_OrderInfo=Thanh+toan+don+hang+2024-05-21T02%3A17%3A31.249Z" in data
    assert hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest() == VECTOR_HASH
    event = adapter_for("vnpay").parse_callback(fixture_request("vnpay", "vector_success"))
    assert event.amount == 10000  # 1000000 / 100
    assert event.transaction_at == datetime(2024, 5, 21, 2, 18, 6, tzinfo=UTC)


def test_uppercase_hash_and_hash_type_and_foreign_params_are_tolerated() -> None:
    params = dict(parse_qsl(signed(VECTOR).query_string))
    params["vnp_SecureHash"] = params["vnp_SecureHash"].upper()
    params["vnp_SecureHashType"] = "HmacSHA512"  # excluded from the hash
    params["utm_source"] = "x"  # not a vnp_ parameter: ignored
    request = RawRequest("GET", "/", urlencode(params), {}, b"", NOW)
    assert adapter_for("vnpay").parse_callback(request).provider_txn_id == "14422574"


def test_a_foreign_vnp_parameter_is_signed() -> None:
    """Adding any vnp_* parameter after signing breaks the signature."""
    request = signed(VECTOR)
    forged = RawRequest("GET", "/", request.query_string + "&vnp_Extra=1", {}, b"", NOW)
    with pytest.raises(SignatureError):
        adapter_for("vnpay").parse_callback(forged)


def test_repeated_parameter_is_malformed() -> None:
    request = signed(VECTOR)
    doubled = RawRequest("GET", "/", request.query_string + "&vnp_Amount=1000000", {}, b"", NOW)
    with pytest.raises(MalformedPayload, match="twice"):
        adapter_for("vnpay").parse_callback(doubled)


def test_undecodable_query_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        adapter_for("vnpay").parse_callback(
            RawRequest("GET", "/", "vnp_OrderInfo=%ff%fe&vnp_SecureHash=ab", {}, b"", NOW)
        )


def test_empty_hash_counts_as_missing() -> None:
    params = dict(VECTOR, vnp_SecureHash="")
    with pytest.raises(SignatureError, match="missing"):
        adapter_for("vnpay").parse_callback(RawRequest("GET", "/", urlencode(params), {}, b"",
                                                       NOW))


@pytest.mark.parametrize(
    ("response_code", "transaction_status", "status"),
    [
        ("00", "00", "succeeded"),
        ("00", "01", "pending"),
        ("00", "02", "failed"),
        ("00", "04", "pending"),
        ("00", "05", "refunded"),
        ("00", "06", "refunded"),
        ("00", "07", "pending"),
        ("00", "09", "pending"),
        ("07", "07", "pending"),
        ("07", "00", "pending"),  # money taken but held as suspicious: not success
        *[(code, "02", "failed") for code in RESPONSE_CODES if code not in ("00", "07")],
        ("00", "42", "failed"),  # unknown transaction status: never success
        ("42", "00", "failed"),  # unknown response code: never success
        ("XX", "YY", "failed"),
    ],
)
def test_status_mapping(response_code: str, transaction_status: str, status: str) -> None:
    assert payment_status(response_code, transaction_status) == status
    params = dict(VECTOR, vnp_ResponseCode=response_code, vnp_TransactionStatus=transaction_status)
    event = adapter_for("vnpay").parse_callback(signed(params))
    assert event.status == status
    assert event.raw_status == (
        f"vnp_ResponseCode={response_code},vnp_TransactionStatus={transaction_status}"
    )


def test_every_documented_transaction_status_is_mapped() -> None:
    for code, (_, status) in TRANSACTION_STATUSES.items():
        expected = "succeeded" if code == "00" else status
        assert payment_status("00", code) == expected


@pytest.mark.parametrize(
    ("raw", "amount"),
    [("1000000", 10000), ("100", 1), ("5000000000", 50_000_000),
     ("100000000000000000", 10**15)],
)
def test_amount_is_vnd_times_100(raw: str, amount: int) -> None:
    event = adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_Amount=raw)))
    assert event.amount == amount


def test_zero_amount_is_not_a_payment() -> None:
    """Issue 16 item 11: 0 VND moves no money; VNPay answers it as ignored, never records."""
    with pytest.raises(NotAPayment):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_Amount="0")))


@pytest.mark.parametrize(
    "raw", ["1000050", "1", "99", "10000.00", "-100", "1e6", " 100", "1,000,000", "", "abc",
            "100000000000000100"],
)
def test_amount_refused(raw: str) -> None:
    with pytest.raises(MalformedPayload, match="vnp_Amount"):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_Amount=raw)))


def test_1000050_message_says_why() -> None:
    with pytest.raises(MalformedPayload, match="must end in 00"):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_Amount="1000050")))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("vnp_TmnCode", "OTHER", "not ours"),
        ("vnp_TxnRef", "", "vnp_TxnRef"),
        ("vnp_PayDate", "2024-05-21", "yyyyMMddHHmmss"),
        ("vnp_PayDate", "20241341091806", "not a valid date"),
        ("vnp_ResponseCode", "", "vnp_ResponseCode"),
    ],
)
def test_bad_fields(key: str, value: str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, **{key: value})))


def test_missing_fields() -> None:
    for key in ("vnp_TxnRef", "vnp_Amount", "vnp_PayDate", "vnp_TransactionStatus"):
        params = {k: v for k, v in VECTOR.items() if k != key}
        with pytest.raises(MalformedPayload, match=key):
            adapter_for("vnpay").parse_callback(signed(params))


def test_success_without_transaction_number_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="vnp_TransactionNo"):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_TransactionNo="0")))


def test_unpaid_transactions_get_distinct_ids() -> None:
    adapter = adapter_for("vnpay")
    ids = {
        adapter.parse_callback(signed(dict(VECTOR, vnp_ResponseCode="24",
                                           vnp_TransactionStatus="02", vnp_TransactionNo="0",
                                           vnp_TxnRef=ref))).provider_txn_id
        for ref in ("HS1", "HS2")
    }
    assert ids == {"unpaid:HS1", "unpaid:HS2"}


ACKS = {
    Outcome.accepted: "00",
    Outcome.duplicate: "02",
    Outcome.unknown_order: "01",
    Outcome.amount_mismatch: "04",
    Outcome.bad_signature: "97",
    Outcome.replayed: "97",
    Outcome.malformed: "99",
    Outcome.retry_later: "99",
    Outcome.not_configured: "99",
    Outcome.ignored: "00",
}


@pytest.mark.parametrize("outcome", list(Outcome))
def test_acknowledgement(outcome: Outcome) -> None:
    ack = adapter_for("vnpay").acknowledge(outcome, "a detail VNPay does not need")
    assert ack.status_code == 200  # always: RspCode carries the answer
    assert ack.content_type == "application/json"
    body = json.loads(ack.body)
    assert set(body) == {"RspCode", "Message"}
    assert body["RspCode"] == ACKS[outcome]
    assert "detail" not in body["Message"]


def test_already_confirmed_is_duplicate() -> None:
    adapter = adapter_for("vnpay")
    assert adapter.acknowledge(Outcome.already_confirmed) == adapter.acknowledge(Outcome.duplicate)
    assert json.loads(adapter.acknowledge(Outcome.accepted).body) == {
        "RspCode": "00", "Message": "Confirm Success"}


def test_build_callback_matches_the_documented_scheme() -> None:
    adapter = adapter_for("vnpay")
    request = adapter.build_callback(amount=150000, reference="HS7KQ2MX",
                                     provider_txn_id="14422999", memo="Lệ phí hộ tịch")
    params = dict(parse_qsl(request.query_string))
    given = params.pop("vnp_SecureHash")
    assert params["vnp_Amount"] == "15000000"
    assert signed(params).query_string.endswith(f"vnp_SecureHash={given}")
    event = adapter.parse_callback(request)
    assert event.memo == "Lệ phí hộ tịch"
    assert request.method == "GET"
    assert adapter.http_method == "GET"


def test_querydr_request() -> None:
    path, body = build_querydr(
        tmn_code="TEST_TMN_CODE", hash_secret=SECRET, request_id="REQ0001",
        txn_ref="1716257871703", transaction_date=datetime(2024, 5, 21, 2, 17, 31, tzinfo=UTC),
        create_date=datetime(2024, 5, 21, 3, 0, 0, tzinfo=UTC), ip_addr="127.0.0.1",
        order_info="Truy van giao dich", transaction_no="14422574",
    )
    assert path == QUERYDR_PATH == "/merchant_webapi/api/transaction"
    assert body["vnp_Command"] == "querydr"
    assert body["vnp_Version"] == "2.1.0"
    assert body["vnp_TransactionDate"] == "20240521091731"  # Vietnam time
    assert body["vnp_CreateDate"] == "20240521100000"
    data = ("REQ0001|2.1.0|querydr|TEST_TMN_CODE|1716257871703|20240521091731|20240521100000|"
            "127.0.0.1|Truy van giao dich")
    assert body["vnp_SecureHash"] == hmac.new(SECRET.encode(), data.encode(),
                                              hashlib.sha512).hexdigest()
    via_adapter = adapter_for("vnpay").querydr_request(
        request_id="REQ0001", txn_ref="1716257871703",
        transaction_date=datetime(2024, 5, 21, 2, 17, 31, tzinfo=UTC),
        create_date=datetime(2024, 5, 21, 3, 0, 0, tzinfo=UTC), ip_addr="127.0.0.1",
        order_info="Truy van giao dich", transaction_no="14422574",
    )
    assert via_adapter == (path, body)


def test_transaction_ids_fit_the_payments_column() -> None:
    with pytest.raises(MalformedPayload, match="longer than 64"):
        adapter_for("vnpay").parse_callback(signed(dict(VECTOR, vnp_TransactionNo="1" * 65)))
    long_ref = "R" * 100  # VNPay allows vnp_TxnRef up to 100 characters
    event = adapter_for("vnpay").parse_callback(signed(dict(
        VECTOR, vnp_TxnRef=long_ref, vnp_TransactionNo="0", vnp_ResponseCode="24",
        vnp_TransactionStatus="02")))
    assert event.provider_txn_id.startswith("unpaid:sha256:")
    assert len(event.provider_txn_id) <= 64
    assert event.reference == long_ref
