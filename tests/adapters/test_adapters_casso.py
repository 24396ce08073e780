"""Casso webhook v2: the PROVIDERS.md vector, escaped and raw UTF-8 signing, replay window,
header parsing, outgoing transfers, acknowledgements."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import (
    MalformedPayload,
    NotAPayment,
    NotSupported,
    Outcome,
    RawRequest,
    ReplayError,
    SignatureError,
)
from tests.adapters.adapters_testkit import adapter_for, fixture_request

KEY = "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs"
T = "1727948258788"
SIGNED_AT = datetime(2024, 10, 3, 9, 37, 38, 788000, tzinfo=UTC)


def vector() -> RawRequest:
    return fixture_request("casso", "vector_success")


def body_of(request: RawRequest) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.body)
    return body


def signed(body: dict[str, Any], *, t: str = T, ascii_only: bool = False, key: str = KEY,
           received_at: datetime = SIGNED_AT + timedelta(seconds=2)) -> RawRequest:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_only)
    v1 = hmac.new(key.encode(), f"{t}.{canonical}".encode(), hashlib.sha512).hexdigest()
    return RawRequest("POST", "/webhooks/casso", "", {"X-Casso-Signature": f"t={t},v1={v1}"},
                      json.dumps(body, ensure_ascii=False).encode(), received_at)


def test_vector_verifies_exactly() -> None:
    request = vector()
    body = body_of(request)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert canonical.startswith('{"data":{"accountNumber":"88888888","amount":599000,')
    expected = request.headers["x-casso-signature"].split("v1=")[1]
    assert hmac.new(KEY.encode(), f"{T}.{canonical}".encode(), hashlib.sha512).hexdigest() == (
        expected)
    adapter = adapter_for("casso", max_age_seconds=300)
    event = adapter.parse_callback(request)
    assert (event.provider_txn_id, event.amount, event.memo) == ("0", 599000,
                                                                 "giao dich thu nghiem")


@pytest.mark.parametrize("ascii_only", [True, False])
def test_both_serialisations_of_vietnamese_verify(ascii_only: bool) -> None:
    body = body_of(vector())
    body["data"]["description"] = "HS2W9XKM Nguyễn Văn Ánh nộp lệ phí"
    event = adapter_for("casso").parse_callback(signed(body, ascii_only=ascii_only))
    assert event.memo == "HS2W9XKM Nguyễn Văn Ánh nộp lệ phí"


def test_nested_keys_are_sorted_recursively() -> None:
    body = body_of(vector())
    body["data"]["extra"] = {"z": 1, "a": {"y": [{"q": 1, "b": 2}], "c": None}}
    assert adapter_for("casso").parse_callback(signed(body)).amount == 599000


def test_replay_window() -> None:
    request = vector()  # received 1.2 s after signing
    for delta in (299, -299):  # inside the window, either side of the signing time
        on_time = dataclasses.replace(request, received_at=SIGNED_AT + timedelta(seconds=delta))
        assert adapter_for("casso", max_age_seconds=300).parse_callback(on_time).amount == 599000
    for delta in (301, -301, 86_400 * 365):
        late = dataclasses.replace(request, received_at=SIGNED_AT + timedelta(seconds=delta))
        with pytest.raises(ReplayError, match="limit is 300 s"):
            adapter_for("casso", max_age_seconds=300).parse_callback(late)
        # 0 turns the check off: the late call is read, and still only with a good signature
        off = adapter_for("casso", max_age_seconds=0)
        assert off.parse_callback(late).provider_txn_id == "0"
        with pytest.raises(SignatureError, match="does not match"):
            off.verify(signed(body_of(late), key="wrong-key", received_at=late.received_at))


def test_replay_is_checked_after_the_signature() -> None:
    request = signed(body_of(vector()), key="wrong-key", received_at=SIGNED_AT + timedelta(
        days=1))
    with pytest.raises(SignatureError):
        adapter_for("casso", max_age_seconds=300).parse_callback(request)


def test_timestamp_is_signed() -> None:
    request = vector()
    header = request.headers["X-Casso-Signature"].replace(f"t={T}", "t=1727948258789")
    forged = dataclasses.replace(request, headers={"X-Casso-Signature": header})
    with pytest.raises(SignatureError, match="does not match"):
        adapter_for("casso").parse_callback(forged)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "missing"),
        ("v1=abc", "both t= and v1="),
        (f"t={T}", "both t= and v1="),
        (f"t={T};v1=abc", "both t= and v1="),
        ("garbage", "must look like"),
        ("t=yesterday,v1=abc", "milliseconds"),
        ("t=-5,v1=abc", "milliseconds"),
        ("t=12,v1=abc", "plausible"),
        ("t=99999999999999999,v1=abc", "milliseconds"),
    ],
)
def test_unreadable_header(header: str, message: str) -> None:
    request = dataclasses.replace(vector(), headers={"X-Casso-Signature": header})
    with pytest.raises(SignatureError, match=message):
        adapter_for("casso").parse_callback(request)


def test_header_with_spaces_and_extra_parts_is_read() -> None:
    request = vector()
    good = request.headers["X-Casso-Signature"]
    header = good.replace(",", " , ") + ",v0=ignored"
    spaced = dataclasses.replace(request, headers={"x-casso-signature": header})
    adapter_for("casso").verify(spaced)
    assert adapter_for("casso").parse_callback(spaced).amount == 599000
    # the digest really is read from v1= in that spelling: change one digit and it is refused
    digest = good.split("v1=")[1]
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    tampered = dataclasses.replace(request, headers={
        "x-casso-signature": header.replace(digest, flipped)})
    with pytest.raises(SignatureError, match="does not match"):
        adapter_for("casso").verify(tampered)


def test_outgoing_transfer_is_not_a_payment() -> None:
    body = body_of(vector())
    body["data"]["amount"] = -20000
    with pytest.raises(NotAPayment, match="negative"):
        adapter_for("casso").parse_callback(signed(body))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.update(error=1), "error must be 0"),
        (lambda b: b.update(error=False), "error must be 0"),
        (lambda b: b.pop("error"), "error must be 0"),
        (lambda b: b.update(data=[b["data"]]), "webhook v1"),
        (lambda b: b.update(data="x"), "JSON object"),
        (lambda b: b["data"].update(amount=599000.5), "amount"),
        (lambda b: b["data"].update(amount="599.000"), "amount"),
        (lambda b: b["data"].pop("id"), "data.id"),
        (lambda b: b["data"].update(transactionDateTime="03/10/2024"), "transactionDateTime"),
    ],
)
def test_malformed(edit: Any, message: str) -> None:
    body = body_of(vector())
    edit(body)
    with pytest.raises(MalformedPayload, match=message):
        adapter_for("casso").parse_callback(signed(body))


@pytest.mark.parametrize(
    ("outcome", "status"),
    [(Outcome.accepted, 200), (Outcome.duplicate, 200), (Outcome.unknown_order, 200),
     (Outcome.amount_mismatch, 200), (Outcome.ignored, 200), (Outcome.bad_signature, 401),
     (Outcome.replayed, 401), (Outcome.malformed, 400), (Outcome.retry_later, 503),
     (Outcome.not_configured, 503)],
)
def test_acknowledgement(outcome: Outcome, status: int) -> None:
    ack = adapter_for("casso").acknowledge(outcome)
    assert ack.status_code == status
    assert json.loads(ack.body)["success"] is (status == 200)


def test_build_callback_signs_now_and_is_fresh(clock: Any) -> None:
    adapter = adapter_for("casso", max_age_seconds=300, clock=clock)
    request = adapter.build_callback(amount=1000, reference="HS1")
    assert request.received_at == clock.now()
    adapter.verify(request)
    event = adapter.parse_callback(request)
    assert (event.amount, event.memo, event.status) == (1000, "HS1 chuyen tien", "succeeded")
    # signed now: its t= is the clock's time, so it goes stale 300 s after it, not before
    t = request.headers["X-Casso-Signature"].split(",")[0]
    assert t == f"t={int(clock.now().timestamp() * 1000)}"
    stale = dataclasses.replace(request, received_at=clock.now() + timedelta(seconds=301))
    with pytest.raises(ReplayError):
        adapter.verify(stale)
    with pytest.raises(NotSupported):
        adapter.build_callback(amount=1000, reference="HS1", status="refunded")


def test_data_reference_is_the_bank_reference() -> None:
    """``data.reference`` is the bank's reference for the credit (what the bank statement lists
    it by); ``data.id`` stays the provider transaction id."""
    event = adapter_for("casso").parse_callback(vector())
    assert (event.provider_txn_id, event.bank_reference) == ("0", "MA_GIAO_DICH_THU_NGHIEM")
    body = body_of(vector())
    body["data"]["reference"] = "FT24277000123"
    assert adapter_for("casso").parse_callback(signed(body)).bank_reference == "FT24277000123"


@pytest.mark.parametrize("value", [None, "", " ", "R" * 65, ["FT1"]])
def test_bank_reference_absent_or_unusable_is_none(value: object) -> None:
    body = body_of(vector())
    body["data"]["reference"] = value
    event = adapter_for("casso").parse_callback(signed(body))
    assert (event.bank_reference, event.amount) == (None, 599000)
    del body["data"]["reference"]
    assert adapter_for("casso").parse_callback(signed(body)).bank_reference is None
