"""Every recorded fixture, and the refusals every provider shares: tampered payload, wrong
secret, missing signature; and key rotation (the ``..._PREVIOUS`` secret)."""

from __future__ import annotations

import pytest

import adapters
from adapters import SignatureError
from tests.adapters.adapters_testkit import (
    ERRORS,
    SECRET_VAR,
    adapter_for,
    all_fixtures,
    check_event,
    env_for,
    fixture_names,
    fixture_request,
    load_fixture,
    strip_signature,
    tamper,
)

FIXTURES = all_fixtures()
PAYMENT_FIXTURES = [(p, n) for p, n in FIXTURES if "expect" in load_fixture(p, n)]
# SePay authenticates with a static API key: its body is not signed (see test_adapters_sepay)
SIGNED_BODY_FIXTURES = [(p, n) for p, n in PAYMENT_FIXTURES if p != "sepay"]


def test_every_provider_has_recorded_fixtures() -> None:
    for provider in adapters.PROVIDERS:
        names = fixture_names(provider)
        assert any("expect" in load_fixture(provider, n) for n in names), provider


@pytest.mark.parametrize(("provider", "name"), FIXTURES)
def test_fixture(provider: str, name: str) -> None:
    fixture = load_fixture(provider, name)
    adapter = adapter_for(provider)
    request = fixture_request(provider, name)
    if "error" in fixture:
        with pytest.raises(ERRORS[fixture["error"]]):
            adapter.parse_callback(request)
    else:
        adapter.verify(request)
        check_event(adapter.parse_callback(request), provider, fixture["expect"])


@pytest.mark.parametrize(("provider", "name"), SIGNED_BODY_FIXTURES)
def test_tampered_payload_is_refused(provider: str, name: str) -> None:
    request = tamper(provider, fixture_request(provider, name))
    with pytest.raises(SignatureError, match="does not match"):
        adapter_for(provider).parse_callback(request)


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_wrong_secret_is_refused(provider: str, name: str) -> None:
    adapter = adapter_for(provider, **{SECRET_VAR[provider]: "not-the-secret-0123456789"})
    with pytest.raises(SignatureError):
        adapter.parse_callback(fixture_request(provider, name))


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_missing_signature_is_refused(provider: str, name: str) -> None:
    request = strip_signature(provider, fixture_request(provider, name))
    with pytest.raises(SignatureError, match="missing"):
        adapter_for(provider).parse_callback(request)


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_previous_secret_still_verifies_during_rotation(provider: str, name: str) -> None:
    var = SECRET_VAR[provider]
    real = env_for(provider)[var]
    rotated = adapter_for(provider, **{var: "the-new-secret-0123456789", f"{var}_PREVIOUS": real})
    expect = load_fixture(provider, name)["expect"]
    check_event(rotated.parse_callback(fixture_request(provider, name)), provider, expect)
    # and the current secret keeps working when a previous one is configured
    current = adapter_for(provider, **{f"{var}_PREVIOUS": "the-old-secret-0123456789"})
    current.verify(fixture_request(provider, name))


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_previous_secret_alone_is_not_enough(provider: str, name: str) -> None:
    """A wrong current secret plus a wrong previous one: still refused."""
    var = SECRET_VAR[provider]
    adapter = adapter_for(provider, **{var: "wrong-current-0123456789",
                                       f"{var}_PREVIOUS": "wrong-previous-0123456789"})
    with pytest.raises(SignatureError):
        adapter.parse_callback(fixture_request(provider, name))


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_verify_alone_refuses_what_parse_refuses(provider: str, name: str) -> None:
    adapter = adapter_for(provider)
    with pytest.raises(SignatureError):
        adapter.verify(strip_signature(provider, fixture_request(provider, name)))


BANK_FEEDS = ("sepay", "casso", "payos")


@pytest.mark.parametrize(("provider", "name"), PAYMENT_FIXTURES)
def test_bank_reference_only_from_the_bank_feeds(provider: str, name: str) -> None:
    """SePay, Casso and payOS carry the bank's reference of the credit; the gateways, wallets
    and POS terminals have none."""
    event = adapter_for(provider).parse_callback(fixture_request(provider, name))
    if provider in BANK_FEEDS:
        assert event.bank_reference
        assert load_fixture(provider, name)["expect"]["bank_reference"] == event.bank_reference
    else:
        assert event.bank_reference is None
