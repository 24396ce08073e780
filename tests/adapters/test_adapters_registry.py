"""The registry, configuration from RECON_* variables, the records and the error hierarchy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import adapters
from adapters import (
    PROVIDERS,
    Adapter,
    AdapterError,
    CallbackEvent,
    Headers,
    MalformedPayload,
    NotAPayment,
    NotConfigured,
    NotSupported,
    Outcome,
    RawRequest,
    ReplayError,
    SignatureError,
    UnknownProvider,
    env_spec,
    get_adapter,
)
from tests.adapters.adapters_testkit import SECRET_VAR, env_for

REQUIRED = {
    "vnpay": {"RECON_VNPAY_TMN_CODE", "RECON_VNPAY_HASH_SECRET"},
    "momo": {"RECON_MOMO_PARTNER_CODE", "RECON_MOMO_ACCESS_KEY", "RECON_MOMO_SECRET_KEY"},
    "zalopay": {"RECON_ZALOPAY_APP_ID", "RECON_ZALOPAY_KEY2"},
    "payos": {"RECON_PAYOS_CHECKSUM_KEY"},
    "sepay": {"RECON_SEPAY_API_KEY"},
    "casso": {"RECON_CASSO_CHECKSUM_KEY"},
    "pos": {"RECON_POS_SECRET"},
}


def test_providers() -> None:
    assert PROVIDERS == ("vnpay", "momo", "zalopay", "payos", "sepay", "casso", "pos")
    for name in PROVIDERS:
        adapter = get_adapter(name, env_for(name), max_age_seconds=300)
        assert isinstance(adapter, Adapter)
        assert adapter.name == name
        assert adapter.max_age_seconds == 300
        assert adapter.http_method == ("GET" if name == "vnpay" else "POST")


def test_unknown_provider() -> None:
    with pytest.raises(UnknownProvider, match="known: vnpay, momo"):
        get_adapter("paypal", {}, max_age_seconds=300)
    assert issubclass(UnknownProvider, LookupError)


@pytest.mark.parametrize("name", PROVIDERS)
def test_required_variables(name: str) -> None:
    assert set(env_spec(name).required) == REQUIRED[name]
    assert SECRET_VAR[name] in env_spec(name).rotating
    assert f"{SECRET_VAR[name]}_PREVIOUS" in env_spec(name).all


@pytest.mark.parametrize(("name", "variable"),
                         [(n, v) for n in PROVIDERS for v in sorted(REQUIRED[n])])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_variable_is_named(name: str, variable: str, value: str | None) -> None:
    env = env_for(name)
    if value is None:
        env.pop(variable, None)
    else:
        env[variable] = value
    with pytest.raises(NotConfigured, match=variable):
        get_adapter(name, env, max_age_seconds=300)


@pytest.mark.parametrize("name", PROVIDERS)
def test_nothing_configured_names_every_variable(name: str) -> None:
    with pytest.raises(NotConfigured) as info:
        get_adapter(name, {}, max_age_seconds=300)
    for variable in REQUIRED[name]:
        assert variable in str(info.value)
    assert info.value.outcome is Outcome.not_configured


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_previous_secret_alone_does_not_configure(name: str) -> None:
    env = env_for(name)
    env[f"{SECRET_VAR[name]}_PREVIOUS"] = env.pop(SECRET_VAR[name])
    with pytest.raises(NotConfigured, match=SECRET_VAR[name]):
        get_adapter(name, env, max_age_seconds=300)


def test_secrets_do_not_leak_through_repr() -> None:
    for name in PROVIDERS:
        adapter = get_adapter(name, env_for(name), max_age_seconds=300)
        secret = env_for(name)[SECRET_VAR[name]]
        assert secret not in repr(adapter)
        assert secret not in repr(vars(adapter))  # stored as bytes, but not as the str either


def test_negative_max_age_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="max_age"):
        get_adapter("pos", env_for("pos"), max_age_seconds=-1)


def test_error_hierarchy_and_outcomes() -> None:
    for cls in (SignatureError, MalformedPayload, ReplayError, NotConfigured, NotAPayment,
                NotSupported, UnknownProvider):
        assert issubclass(cls, AdapterError)
    assert SignatureError.outcome is Outcome.bad_signature
    assert MalformedPayload.outcome is Outcome.malformed
    assert ReplayError.outcome is Outcome.replayed
    assert NotConfigured.outcome is Outcome.not_configured
    assert NotAPayment.outcome is Outcome.ignored


def test_outcome_values() -> None:
    assert Outcome.already_confirmed is Outcome.duplicate
    assert {o.value for o in Outcome} == {
        "accepted", "duplicate", "unknown_order", "amount_mismatch", "bad_signature",
        "malformed", "retry_later", "not_configured", "replayed", "ignored"}


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_an_acknowledgement(name: str, outcome: Outcome) -> None:
    ack = get_adapter(name, env_for(name), max_age_seconds=300).acknowledge(outcome, "détail")
    assert 200 <= ack.status_code < 600
    if ack.body:
        json.loads(ack.body)
        ack.body.decode("ascii")  # JSON answers are plain ASCII
    if outcome is Outcome.retry_later:  # the provider must try again
        retried = ack.status_code >= 500 or json.loads(ack.body).get("return_code") == 0 or (
            json.loads(ack.body).get("RspCode") == "99")
        assert retried


def test_headers_are_case_insensitive() -> None:
    headers = Headers({"X-Casso-Signature": "t=1,v1=a", "content-type": "application/json"})
    assert headers["x-casso-signature"] == headers["X-CASSO-SIGNATURE"] == "t=1,v1=a"
    assert headers.get("Content-Type") == "application/json"
    assert "CONTENT-TYPE" in headers
    assert list(headers) == ["X-Casso-Signature", "content-type"]
    assert headers == {"x-casso-signature": "t=1,v1=a", "Content-Type": "application/json"}
    assert hash(headers) == hash(Headers(dict(headers)))
    request = RawRequest("POST", "/", "", {"Authorization": "Apikey k"}, b"",
                         datetime(2024, 1, 1, tzinfo=UTC))
    assert request.headers["authorization"] == "Apikey k"
    assert isinstance(request.headers, Headers)


def test_raw_request_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RawRequest("POST", "/", "", {}, b"", datetime(2024, 1, 1))


def test_callback_event_validates_itself() -> None:
    good = {
        "provider": "pos", "provider_txn_id": "1", "amount": 1, "status": "succeeded",
        "transaction_at": datetime(2024, 1, 1, tzinfo=UTC), "reference": None,
        "order_code": None, "memo": None, "raw_status": "x", "channel": "pos",
    }
    CallbackEvent(**good)  # type: ignore[arg-type]
    for bad in ({"amount": -1}, {"amount": True}, {"amount": 1.0}, {"status": "paid"},
                {"transaction_at": datetime(2024, 1, 1)}, {"provider_txn_id": ""}):
        with pytest.raises(ValueError):
            CallbackEvent(**{**good, **bad})  # type: ignore[arg-type]


def test_public_api_is_exported() -> None:
    for name in ("get_adapter", "PROVIDERS", "Adapter", "RawRequest", "CallbackEvent",
                 "Acknowledgement", "Outcome", "AdapterError", "SignatureError",
                 "MalformedPayload", "ReplayError", "NotConfigured"):
        assert hasattr(adapters, name)


@pytest.mark.parametrize("name", PROVIDERS)
def test_acknowledging_needs_no_configuration(name: str) -> None:
    """When get_adapter raises NotConfigured, the provider still gets its own answer."""
    from adapters import adapter_class

    with pytest.raises(NotConfigured):
        get_adapter(name, {}, max_age_seconds=300)
    ack = adapter_class(name).acknowledge(Outcome.not_configured)
    configured = get_adapter(name, env_for(name), max_age_seconds=300)
    assert ack == configured.acknowledge(Outcome.not_configured)


# --------------------------------------------------------------------------------------------
# from_env is one method of the base class, driven by each adapter's EnvSpec


def test_from_env_passes_each_declared_argument() -> None:
    from adapters.momo import MoMoAdapter
    from adapters.vnpay import VNPayAdapter
    from adapters.zalopay import ZaloPayAdapter

    vnpay = get_adapter("vnpay", env_for("vnpay", RECON_VNPAY_TMN_CODE="TMN42"),
                        max_age_seconds=300)
    assert isinstance(vnpay, VNPayAdapter) and vnpay.tmn_code == "TMN42"
    zalo = get_adapter("zalopay", env_for("zalopay", RECON_ZALOPAY_APP_ID="777",
                                          RECON_ZALOPAY_KEY1="   "), max_age_seconds=300)
    assert isinstance(zalo, ZaloPayAdapter) and zalo.app_id == "777"
    assert zalo._key1 is None  # blank optional: unset
    momo = get_adapter("momo", env_for("momo", RECON_MOMO_PARTNER_CODE="P1",
                                       RECON_MOMO_ACCESS_KEY="NEW",
                                       RECON_MOMO_SECRET_KEY_PREVIOUS="old-secret",
                                       RECON_MOMO_ACCESS_KEY_PREVIOUS="OLD"),
                       max_age_seconds=300)
    assert isinstance(momo, MoMoAdapter) and momo.partner_code == "P1"
    assert momo._access_keys == ("NEW", "OLD")  # one per secret
    same = get_adapter("momo", env_for("momo", RECON_MOMO_ACCESS_KEY="NEW",
                                       RECON_MOMO_SECRET_KEY_PREVIOUS="old-secret"),
                       max_age_seconds=300)
    assert isinstance(same, MoMoAdapter) and same._access_keys == ("NEW", "NEW")


def test_from_env_passes_max_age_and_clock() -> None:
    class Fixed:
        def now(self) -> datetime:
            return datetime(2026, 1, 1, tzinfo=UTC)

    clock = Fixed()
    adapter = get_adapter("casso", env_for("casso"), max_age_seconds=17, clock=clock)
    assert adapter.max_age_seconds == 17
    assert adapter.clock is clock


@pytest.mark.parametrize(("spec", "problem"), [
    ({"required": ("A",)}, "signing secret"),
    ({"required": ("A",), "rotating": ("B",)}, "rotating B is not required"),
    ({"required": ("A",), "rotating": ("A",), "arguments": (("x", "C"),)},
     "argument x: C is neither"),
    ({"required": ("A",), "rotating": ("A",), "arguments": (("clock", "A"),)},
     "argument clock is set by the base class"),
])
def test_a_misdeclared_env_spec_is_refused(spec: dict[str, Any], problem: str) -> None:
    from adapters import EnvSpec

    with pytest.raises(ValueError, match=problem):
        EnvSpec(**spec)
