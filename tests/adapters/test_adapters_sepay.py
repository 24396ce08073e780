"""SePay: the API key header, transfer types, amount forms, acknowledgements."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from adapters import MalformedPayload, NotAPayment, Outcome, RawRequest, SignatureError
from tests.adapters.adapters_testkit import NOW, adapter_for, fixture_request

KEY = "sepay-test-key-0123456789abcdef"
BODY: dict[str, Any] = {
    "id": 92704, "gateway": "Vietcombank", "transactionDate": "2024-07-25 14:02:37",
    "accountNumber": "0123499999", "code": None, "content": "HS8N2KQ4 nop le phi",
    "transferType": "in", "transferAmount": 2277000, "accumulated": 19077000,
    "subAccount": None, "referenceCode": "MBVCB.3278907687", "description": "",
}


def call(body: dict[str, Any] | str = BODY, authorization: str | None = f"Apikey {KEY}"
         ) -> RawRequest:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization  # lower case: lookups ignore case
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return RawRequest("POST", "/webhooks/sepay", "", headers, text.encode(), NOW)


def test_credit() -> None:
    event = adapter_for("sepay").parse_callback(call())
    assert (event.provider_txn_id, event.amount, event.status) == ("92704", 2277000, "succeeded")
    assert event.memo == "HS8N2KQ4 nop le phi"
    assert event.reference is None  # SePay found no payment code
    assert event.channel == "vietqr"


@pytest.mark.parametrize(
    "authorization", [f"Apikey {KEY}", f"apikey {KEY}", f"APIKEY  {KEY} "],
)
def test_api_key_header_forms(authorization: str) -> None:
    """Each spelling of the scheme is accepted with the right key, and only with it."""
    adapter = adapter_for("sepay")
    adapter.verify(call(authorization=authorization))
    event = adapter.parse_callback(call(authorization=authorization))
    assert (event.provider_txn_id, event.amount) == ("92704", 2277000)
    wrong = authorization.replace(KEY, "sepay-wrong-key-0123456789abcdef")
    with pytest.raises(SignatureError, match="does not match"):
        adapter.verify(call(authorization=wrong))


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing"),
        ("", "missing"),
        (f"Bearer {KEY}", "Apikey <key>"),
        (KEY, "Apikey <key>"),
        ("Apikey ", "Apikey <key>"),
        (f"Apikey {KEY.upper()}", "does not match"),  # the key itself is case-sensitive
        (f"Apikey {KEY}x", "does not match"),
        (f"Apikey {KEY[:-1]}", "does not match"),
        ("Apikey khóa-sai", "does not match"),
    ],
)
def test_api_key_refused(authorization: str | None, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        adapter_for("sepay").parse_callback(call(authorization=authorization))


def test_body_is_not_covered_by_the_key() -> None:
    """SePay's scheme authenticates the sender, not the content: documented, not a bug."""
    event = adapter_for("sepay").parse_callback(call(dict(BODY, transferAmount=1)))
    assert event.amount == 1


def test_outgoing_transfer_is_not_a_payment() -> None:
    with pytest.raises(NotAPayment, match="out"):
        adapter_for("sepay").parse_callback(call(dict(BODY, transferType="out")))


@pytest.mark.parametrize("transfer_type", ["IN", "credit", "", None, 1])
def test_unknown_transfer_type_is_refused(transfer_type: object) -> None:
    with pytest.raises(MalformedPayload, match="transferType"):
        adapter_for("sepay").parse_callback(call(dict(BODY, transferType=transfer_type)))


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("50000", 50000), ("50000.00", 50000), ("50000.0", 50000), ("50000.", 50000),
        (50000, 50000), ("000123", 123),
    ],
)
def test_amount_forms_accepted(raw: object, amount: int) -> None:
    assert adapter_for("sepay").parse_callback(call(dict(BODY, transferAmount=raw))).amount == (
        amount)


@pytest.mark.parametrize("raw", ["0", 0, "0.00", "000"])
def test_zero_credit_is_not_a_payment(raw: object) -> None:
    """Issue 16 item 11: a 0 VND credit was recorded as a succeeded payment."""
    with pytest.raises(NotAPayment, match="not positive"):
        adapter_for("sepay").parse_callback(call(dict(BODY, transferAmount=raw)))


@pytest.mark.parametrize("number", ["50000.00", "50000.0", "1000000.000"])
def test_json_decimal_number_with_zero_fraction(number: str) -> None:
    text = json.dumps(dict(BODY, transferAmount="__N__")).replace('"__N__"', number)
    amount = adapter_for("sepay").parse_callback(call(text)).amount
    assert amount == int(Decimal(number))


@pytest.mark.parametrize(
    "raw",
    ["50000.50", "50000.01", "50,000", "50.000,00", "5e4", "5E+4", "-50000", "+50000",
     " 50000", "", "５００００", True, None, [50000], {"v": 1}, -1, "1" * 17],
)
def test_amount_forms_refused(raw: object) -> None:
    with pytest.raises(MalformedPayload, match="transferAmount"):
        adapter_for("sepay").parse_callback(call(dict(BODY, transferAmount=raw)))


@pytest.mark.parametrize("number", ["50000.5", "5e4", "5.0E+4", "1e400", "-0.0"])
def test_json_numbers_refused(number: str) -> None:
    text = json.dumps(dict(BODY, transferAmount="__N__")).replace('"__N__"', number)
    if number == "-0.0":  # negative zero is zero: no money moved, not a payment (issue 16)
        with pytest.raises(NotAPayment):
            adapter_for("sepay").parse_callback(call(text))
        return
    with pytest.raises(MalformedPayload, match="transferAmount"):
        adapter_for("sepay").parse_callback(call(text))


def test_code_is_the_reference_and_content_the_memo() -> None:
    event = adapter_for("sepay").parse_callback(call(dict(BODY, code="HS8N2KQ4")))
    assert (event.reference, event.memo) == ("HS8N2KQ4", "HS8N2KQ4 nop le phi")
    event = adapter_for("sepay").parse_callback(call(dict(BODY, code="", content="")))
    assert (event.reference, event.memo) == (None, None)


def test_vietnamese_memo() -> None:
    memo = "HS8N2KQ4 Nguyễn Văn Ánh nộp lệ phí đăng ký"
    assert adapter_for("sepay").parse_callback(call(dict(BODY, content=memo))).memo == memo


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.accepted, 200), (Outcome.duplicate, 200), (Outcome.unknown_order, 200),
     (Outcome.amount_mismatch, 200), (Outcome.ignored, 200), (Outcome.bad_signature, 401),
     (Outcome.replayed, 401), (Outcome.malformed, 400), (Outcome.retry_later, 503),
     (Outcome.not_configured, 503)],
)
def test_acknowledgement(outcome: Outcome, status: int) -> None:
    ack = adapter_for("sepay").acknowledge(outcome, "reason")
    assert ack.status_code == status
    body = json.loads(ack.body)
    assert body == ({"success": True} if status == 200 else {"success": False,
                                                             "error": "reason"})


def test_reference_code_is_the_bank_reference() -> None:
    """``referenceCode`` is the bank's own reference for the credit: what the account's bank
    statement lists it by (the reconciliation matches statement lines on it)."""
    event = adapter_for("sepay").parse_callback(fixture_request("sepay", "credit"))
    assert (event.provider_txn_id, event.bank_reference) == ("92704", "MBVCB.3278907687")
    event = adapter_for("sepay").parse_callback(call(dict(BODY, referenceCode=" FT24207XY ")))
    assert event.bank_reference == "FT24207XY"
    event = adapter_for("sepay").parse_callback(call(dict(BODY, referenceCode=2420712345)))
    assert event.bank_reference == "2420712345"


@pytest.mark.parametrize("value", [None, "", "   ", "F" * 65, ["FT1"], {"a": 1}, True, -1,
                                   "FT\n1"])
def test_bank_reference_absent_or_unusable_is_none_and_the_payment_still_counts(
        value: object) -> None:
    body = dict(BODY, referenceCode=value)
    event = adapter_for("sepay").parse_callback(call(body))
    assert (event.bank_reference, event.amount) == (None, 2277000)
    del body["referenceCode"]
    assert adapter_for("sepay").parse_callback(call(body)).bank_reference is None
