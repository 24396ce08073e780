"""Properties across every adapter (Hypothesis):

- build_callback produces a call that verifies with the same adapter and parses back to the
  event it describes;
- whatever arrives — arbitrary bytes, arbitrary JSON, arbitrary JSON correctly signed — a
  parse_callback either returns an event or raises an AdapterError subclass, nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters import PROVIDERS, AdapterError, CallbackEvent, RawRequest, SignatureError
from adapters.fields import MAX_VND, load_json
from adapters.momo import signature_message as momo_message
from adapters.payos import signature_message as payos_message
from adapters.scrub import contains_pan
from tests.adapters.adapters_testkit import (
    NOW,
    SECRET_VAR,
    FixedClock,
    adapter_for,
    env_for,
    fixture_request,
)

STATUSES = {
    "vnpay": ("succeeded", "failed", "pending", "refunded"),
    "momo": ("succeeded", "failed", "pending"),
    "zalopay": ("succeeded",),
    "payos": ("succeeded",),
    "sepay": ("succeeded",),
    "casso": ("succeeded",),
    "pos": ("succeeded", "failed", "refunded"),
}
VIETNAMESE = st.sampled_from([
    "Thanh toán lệ phí hộ tịch", "Nộp phí đăng ký hộ kinh doanh", "Đặng Thị Ánh Tuyết",
    "Lệ phí cấp giấy phép xây dựng — phường Vĩnh Ninh", "Phí thẩm định hồ sơ đất đai",
])
references = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=4, max_size=16)
txn_ids = st.integers(min_value=1, max_value=10**15 - 1).map(str)
moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31),
                       timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))
memos = st.one_of(VIETNAMESE, st.text(min_size=1, max_size=60))


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_build_callback_round_trip(provider: str, data: st.DataObject) -> None:
    clock = FixedClock(data.draw(moments) + timedelta(minutes=5))
    adapter = adapter_for(provider, max_age_seconds=300, clock=clock)
    amount = data.draw(st.integers(min_value=1, max_value=10**12 if provider == "pos"
                                   else MAX_VND))
    reference = data.draw(references)
    status = data.draw(st.sampled_from(STATUSES[provider]))
    txn = data.draw(txn_ids if provider != "pos" else txn_ids.map(lambda s: s[:12]))
    at = data.draw(moments)
    kwargs: dict[str, Any] = {"amount": amount, "reference": reference, "status": status,
                              "provider_txn_id": txn, "transaction_at": at}
    memo = None
    if provider not in ("zalopay", "pos"):
        memo = kwargs["memo"] = data.draw(memos)
    order_code = None
    if provider == "payos":
        order_code = kwargs["order_code"] = data.draw(st.integers(1, 2**53 - 1))
    if provider == "pos":
        assume(not contains_pan(reference))

    request = adapter.build_callback(**kwargs)
    adapter.verify(request)
    event = adapter.parse_callback(request)

    assert isinstance(event, CallbackEvent)
    assert (event.provider, event.amount, event.status) == (provider, amount, status)
    assert event.provider_txn_id == txn
    assert event.transaction_at == at
    assert event.transaction_at.tzinfo is not None
    assert event.order_code == order_code
    assert event.reference == (None if provider in ("payos", "casso") else reference)
    assert event.memo == memo
    assert request.received_at == clock.now()
    # the request is the provider's shape
    assert request.method == adapter.http_method
    assert request.path == f"/webhooks/{provider}"


# -- fuzzing ----------------------------------------------------------------------------------

PLAUSIBLE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
    st.sampled_from(["00", "0", "1", "in", "out", "sale", "void", "refund", "704", "2553",
                     "TEST_TMN_CODE", "MOMO", "2024-05-21 09:18:06", "20240521091806",
                     "2024-05-21T09:18:06+07:00", "1716257886000", "50000.00", "4111111111111111",
                     "240521_HS1", "Thành công"]),
)
json_values = st.recursive(
    PLAUSIBLE,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                      children, max_size=4),
    max_leaves=12,
)
KEYS = {
    "vnpay": ["vnp_Amount", "vnp_TmnCode", "vnp_TxnRef", "vnp_ResponseCode",
              "vnp_TransactionStatus", "vnp_TransactionNo", "vnp_PayDate", "vnp_OrderInfo"],
    "momo": ["partnerCode", "orderId", "requestId", "amount", "orderInfo", "orderType", "transId",
             "resultCode", "message", "payType", "responseTime", "extraData"],
    "zalopay": ["app_id", "app_trans_id", "amount", "zp_trans_id", "server_time", "app_time"],
    "payos": ["orderCode", "amount", "description", "reference", "transactionDateTime", "code",
              "desc"],
    "sepay": ["id", "transferType", "transferAmount", "transactionDate", "content", "code"],
    "casso": ["id", "amount", "description", "transactionDateTime", "reference"],
    "pos": ["event_id", "type", "terminal_id", "rrn", "response_code", "masked_pan", "amount",
            "currency", "transaction_at", "reference"],
}


def objects(provider: str) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects using the provider's own keys (so parsing gets past the first checks)."""
    return st.dictionaries(st.sampled_from(KEYS[provider]) | st.text(max_size=6), json_values,
                           max_size=len(KEYS[provider]) + 2)


TEMPLATE_FIXTURE = {"vnpay": "vector_success", "momo": "vector_success",
                    "zalopay": "docs_sample", "payos": "vector_success", "sepay": "credit",
                    "casso": "vector_success", "pos": "sale_approved"}


def template(provider: str) -> dict[str, Any]:
    """The fields of a valid recorded call (the part that gets signed)."""
    request = fixture_request(provider, TEMPLATE_FIXTURE[provider])
    if provider == "vnpay":
        params = dict(parse_qsl(request.query_string))
        params.pop("vnp_SecureHash")
        return params
    body = json.loads(request.body)
    if provider == "momo":
        body.pop("signature")
        return body
    if provider == "zalopay":
        data: dict[str, Any] = json.loads(body["data"])
        return data
    if provider in ("payos", "casso"):
        inner: dict[str, Any] = body["data"]
        return inner
    return body


@st.composite
def mutated(draw: st.DrawFn, provider: str) -> dict[str, Any]:
    """A valid call's fields with some replaced by arbitrary values, some dropped, or an
    arbitrary object altogether."""
    if draw(st.integers(0, 4)) == 0:
        return draw(objects(provider))
    fields = template(provider)
    keys = sorted(fields)
    values = st.text(max_size=20) if provider == "vnpay" else json_values
    for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        if draw(st.booleans()):
            fields[key] = draw(values)
        else:
            del fields[key]
    return fields


def outcome(provider: str, request: RawRequest) -> CallbackEvent | AdapterError:
    adapter = adapter_for(provider, max_age_seconds=300)
    try:
        return adapter.parse_callback(request)
    except AdapterError as exc:  # anything else fails the test
        assert str(exc)
        return exc


def as_request(body: bytes, *, query: str = "", headers: dict[str, str] | None = None
               ) -> RawRequest:
    return RawRequest("POST", "/webhooks/x", query, headers or {}, body, NOW)


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=400), query=st.text(max_size=200),
       header=st.text(max_size=60))
def test_arbitrary_bytes_only_raise_adapter_errors(provider: str, body: bytes, query: str,
                                                   header: str) -> None:
    headers = {"Authorization": header, "X-Casso-Signature": header,
               "X-Recon-Signature": header}
    result = outcome(provider, as_request(body, query=query, headers=headers))
    assert isinstance(result, AdapterError)  # nothing unsigned ever parses


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_arbitrary_json_only_raises_adapter_errors(provider: str, data: st.DataObject) -> None:
    value = data.draw(st.one_of(json_values, objects(provider)))
    body = json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode()
    result = outcome(provider, as_request(body, headers={
        "X-Casso-Signature": "t=1716257886000,v1=00", "X-Recon-Signature": "t=1716257886,v1=00",
        "Authorization": "Apikey wrong"}))
    assert isinstance(result, AdapterError)


def _hex(key: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(key.encode(), message, getattr(hashlib, digest)).hexdigest()


def signed_arbitrary(provider: str, data: st.DataObject) -> RawRequest:
    """A correctly signed call whose content is arbitrary: parsing is what gets exercised."""
    secret = env_for(provider)[SECRET_VAR[provider]]
    body = data.draw(mutated(provider))
    if provider == "vnpay":
        params = {k: v for k, v in body.items()
                  if isinstance(v, str) and k not in ("vnp_SecureHash", "vnp_SecureHashType")}
        text = "&".join(f"{quote_plus(k)}={quote_plus(v, errors='surrogatepass')}"
                        for k, v in sorted(params.items()) if k.startswith("vnp_"))
        query = urlencode(dict(params, vnp_SecureHash=_hex(secret, text.encode(), "sha512")),
                          errors="surrogatepass")
        return RawRequest("GET", "/", query, {}, b"", NOW)
    # what the adapter will see once it has parsed the JSON (numbers exact, as Decimal)
    as_parsed: Any = load_json(json.dumps(body))
    if provider == "momo":
        access = env_for("momo")["RECON_MOMO_ACCESS_KEY"]
        payload = dict(body, signature=_hex(secret, momo_message(access, as_parsed)))
        return as_request(json.dumps(payload).encode())
    if provider == "zalopay":
        text = (json.dumps(body) if data.draw(st.integers(0, 5))
                else data.draw(st.text(max_size=50)))
        envelope = {"data": text, "mac": _hex(secret, text.encode("utf-8", "surrogatepass")),
                    "type": data.draw(st.sampled_from([1, 1, 1, 2, "1", 3, None]))}
        return as_request(json.dumps(envelope).encode())
    if provider == "payos":
        envelope = {"code": data.draw(st.sampled_from(["00", "00", "01", None])), "data": body,
                    "signature": _hex(secret, payos_message(as_parsed))}
        return as_request(json.dumps(envelope).encode())
    if provider == "sepay":
        return as_request(json.dumps(body).encode(), headers={"Authorization": f"Apikey {secret}"})
    if provider == "casso":
        envelope: Any = data.draw(st.sampled_from(["object", "object", "object", "list", "raw"]))
        payload: Any = ({"error": data.draw(st.sampled_from([0, 1, "0"])), "data": body}
                        if envelope == "object" else [body] if envelope == "list" else body)
        t = "1716257886000"
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        v1 = _hex(secret, f"{t}.{canonical}".encode("utf-8", "surrogatepass"), "sha512")
        return as_request(json.dumps(payload, ensure_ascii=False).encode("utf-8", "surrogatepass"),
                          headers={"X-Casso-Signature": f"t={t},v1={v1}"})
    assert provider == "pos"
    raw = json.dumps(body).encode()
    t = "1716257886"
    v1 = _hex(secret, t.encode() + b"." + raw)
    return as_request(raw, headers={"X-Recon-Signature": f"t={t},v1={v1}"})


@pytest.mark.parametrize("provider", PROVIDERS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_signed_arbitrary_content_only_raises_adapter_errors(provider: str,
                                                             data: st.DataObject) -> None:
    request = signed_arbitrary(provider, data)
    result = outcome(provider, request)
    assert not isinstance(result, SignatureError), result  # it was signed: parsing was reached
    if isinstance(result, CallbackEvent):
        assert result.amount >= 0
        assert result.transaction_at.tzinfo is not None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_fuzz_reaches_events(provider: str) -> None:
    """The signed fuzzer is not only producing errors: a built callback with a field swapped for
    another plausible value still parses (sanity check of the harness)."""
    adapter = adapter_for(provider, max_age_seconds=0)
    request = adapter.build_callback(amount=1000, reference="HS1", order_code=5
                                     if provider == "payos" else None)
    assert isinstance(outcome(provider, dataclasses.replace(request, received_at=NOW)),
                      CallbackEvent)
