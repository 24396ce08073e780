"""ZaloPay callback: the documented sample and its mac, mac over the data string as received,
app_trans_id → reference, acknowledgements (return_code 1 / -1 / 0) and the query request."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters import (
    MalformedPayload,
    NotAPayment,
    NotSupported,
    Outcome,
    RawRequest,
    SignatureError,
)
from adapters.zalopay import (
    QUERY_PATH,
    app_trans_id_for,
    build_query_request,
    reference_from_app_trans_id,
)
from tests.adapters.adapters_testkit import NOW, adapter_for, fixture_request

KEY1 = "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL"
KEY2 = "kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIz"
DOCS_MAC = "d8d33baf449b31d7f9b94fa50d7c942c08cd4d83f28fa185557da21acb104f67"
DATA: dict[str, Any] = {
    "app_id": 2553, "app_trans_id": "240521_HS5RM8KD", "app_time": 1716257871703,
    "app_user": "demo", "amount": 75000, "embed_data": "{}", "item": "[]",
    "zp_trans_id": 240521000000777, "server_time": 1716257886000, "channel": 38,
    "merchant_user_id": "u", "user_fee_amount": 0, "discount_amount": 0,
}


def signed(data: dict[str, Any] | str, *, key: str = KEY2, type_: object = 1) -> RawRequest:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    mac = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    envelope: dict[str, object] = {"data": text, "mac": mac}
    if type_ is not None:
        envelope["type"] = type_
    return RawRequest("POST", "/webhooks/zalopay", "", {}, json.dumps(envelope).encode(), NOW)


def test_documented_sample_verifies_with_the_given_mac() -> None:
    request = fixture_request("zalopay", "docs_sample")
    envelope = json.loads(request.body)
    assert envelope["mac"] == DOCS_MAC
    assert hmac.new(KEY2.encode(), envelope["data"].encode(), hashlib.sha256).hexdigest() == (
        DOCS_MAC)
    event = adapter_for("zalopay").parse_callback(request)
    assert event.provider_txn_id == "200904000000389"
    assert event.amount == 10000
    assert event.reference == "2553_1598435687208"
    assert event.transaction_at == datetime(2020, 9, 4, 3, 16, 53, 498000, tzinfo=UTC)


def test_mac_is_over_the_data_string_as_received() -> None:
    """The same data re-serialised differently (spaces) is not what ZaloPay signed."""
    request = fixture_request("zalopay", "docs_sample")
    envelope = json.loads(request.body)
    envelope["data"] = json.dumps(json.loads(envelope["data"]))  # ", " and ": " separators
    forged = RawRequest("POST", "/", "", {}, json.dumps(envelope).encode(), NOW)
    with pytest.raises(SignatureError):
        adapter_for("zalopay").parse_callback(forged)


def test_data_is_not_parsed_before_the_mac_is_checked() -> None:
    """Unparseable data with a bad mac is a signature failure, not a parse error."""
    body = json.dumps({"data": "{not json", "mac": "00" * 32, "type": 1}).encode()
    with pytest.raises(SignatureError):
        adapter_for("zalopay").parse_callback(RawRequest("POST", "/", "", {}, body, NOW))


def test_vietnamese_data_verifies() -> None:
    data = dict(DATA, app_user="Nguyễn Thị Hằng", embed_data='{"ghi_chu":"Lệ phí"}')
    assert adapter_for("zalopay").parse_callback(signed(data)).reference == "HS5RM8KD"


@pytest.mark.parametrize(
    ("app_trans_id", "reference"),
    [("240521_HS5RM8KD", "HS5RM8KD"), ("200904_2553_1598435687208", "2553_1598435687208"),
     ("HS5RM8KD", "HS5RM8KD"), ("24052_HS1", "24052_HS1"), ("240521-HS1", "240521-HS1")],
)
def test_reference_from_app_trans_id(app_trans_id: str, reference: str) -> None:
    assert reference_from_app_trans_id(app_trans_id) == reference


def test_app_trans_id_uses_the_vietnam_date() -> None:
    # 17:30 UTC on 20 May is already 21 May in Vietnam
    assert app_trans_id_for("HS1", datetime(2024, 5, 20, 17, 30, tzinfo=UTC)) == "240521_HS1"


def test_missing_type_is_an_order_callback() -> None:
    assert adapter_for("zalopay").parse_callback(signed(DATA, type_=None)).status == "succeeded"


def test_agreement_callback_is_not_a_payment() -> None:
    with pytest.raises(NotAPayment):
        adapter_for("zalopay").parse_callback(signed(DATA, type_=2))
    with pytest.raises(MalformedPayload, match="type"):
        adapter_for("zalopay").parse_callback(signed(DATA, type_=7))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (dict(DATA, app_id=9999), "not ours"),
        (dict(DATA, amount="75.000"), "amount"),
        (dict(DATA, amount=75000.0), "amount"),
        ({k: v for k, v in DATA.items() if k != "zp_trans_id"}, "zp_trans_id"),
        (dict(DATA, server_time=-5), "server_time"),
        ("[1, 2]", "JSON object"),
        ("{oops", "not valid JSON"),
    ],
)
def test_bad_data(data: dict[str, Any] | str, message: str) -> None:
    with pytest.raises(MalformedPayload, match=message):
        adapter_for("zalopay").parse_callback(signed(data))


def test_data_must_be_a_string() -> None:
    body = json.dumps({"data": DATA, "mac": "00", "type": 1}).encode()
    with pytest.raises(MalformedPayload, match="data must be a JSON string"):
        adapter_for("zalopay").parse_callback(RawRequest("POST", "/", "", {}, body, NOW))


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (Outcome.accepted, 1), (Outcome.duplicate, 1), (Outcome.unknown_order, 1),
        (Outcome.amount_mismatch, 1), (Outcome.ignored, 1), (Outcome.bad_signature, -1),
        (Outcome.replayed, -1), (Outcome.malformed, -1), (Outcome.retry_later, 0),
        (Outcome.not_configured, 0),
    ],
)
def test_acknowledgement(outcome: Outcome, code: int) -> None:
    ack = adapter_for("zalopay").acknowledge(outcome)
    assert ack.status_code == 200
    body = json.loads(ack.body)
    assert body["return_code"] == code
    assert isinstance(body["return_message"], str)


def test_success_acknowledgement_is_the_documented_one() -> None:
    assert json.loads(adapter_for("zalopay").acknowledge(Outcome.accepted).body) == {
        "return_code": 1, "return_message": "success"}
    bad = json.loads(adapter_for("zalopay").acknowledge(Outcome.bad_signature, "x").body)
    assert bad == {"return_code": -1, "return_message": "mac not equal: x"}


def test_build_callback_is_success_only() -> None:
    adapter = adapter_for("zalopay")
    for status in ("failed", "pending", "refunded"):
        with pytest.raises(NotSupported):
            adapter.build_callback(amount=1000, reference="HS1", status=status)
    with pytest.raises(NotSupported, match="memo"):
        adapter.build_callback(amount=1000, reference="HS1", memo="x")


def test_query_request() -> None:
    path, fields = build_query_request(app_id="2553", key1=KEY1, app_trans_id="240521_HS5RM8KD")
    assert path == QUERY_PATH == "/v2/query"
    expected = hmac.new(KEY1.encode(), f"2553|240521_HS5RM8KD|{KEY1}".encode(),
                        hashlib.sha256).hexdigest()
    assert fields == {"app_id": "2553", "app_trans_id": "240521_HS5RM8KD", "mac": expected}
    assert adapter_for("zalopay").query_request(app_trans_id="240521_HS5RM8KD") == (path, fields)


def test_query_request_needs_key1() -> None:
    from adapters import NotConfigured

    adapter = adapter_for("zalopay", RECON_ZALOPAY_KEY1=None)
    with pytest.raises(NotConfigured, match="RECON_ZALOPAY_KEY1"):
        adapter.query_request(app_trans_id="240521_HS1")
