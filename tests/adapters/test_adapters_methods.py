"""The payment method (and a foreign card) each adapter reads from its provider's own fields:
VNPay vnp_CardType / vnp_BankCode, MoMo payType, ZaloPay channel, POS card_brand and
issuer_country; the bank-feed providers carry none (None, never a guess), and an unknown code
gives no method either."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import MalformedPayload
from adapters.base import METHODS
from recon.contracts.model import METHODS as CONTRACT_METHODS
from tests.adapters import test_adapters_momo as momo
from tests.adapters import test_adapters_pos as pos
from tests.adapters import test_adapters_vnpay as vnpay
from tests.adapters import test_adapters_zalopay as zalopay
from tests.adapters.adapters_testkit import adapter_for, fixture_request


def test_the_adapters_and_the_contracts_name_the_same_methods() -> None:
    assert METHODS == CONTRACT_METHODS


@pytest.mark.parametrize(("card_type", "bank_code", "method"), [
    ("ATM", "NCB", "domestic_card"),  # PROVIDERS.md's vector
    ("QRCODE", "VNPAYQR", "qr"),
    ("VISA", "INTCARD", "intl_card"),
    ("", "VNPAYQR", "qr"),  # no card type: the method code in vnp_BankCode
    ("", "VNBANK", "domestic_card"),
    ("", "NCB", None),  # a bank alone says nothing of the method
    ("SOMETHINGNEW", "XYZ", None),
])
def test_vnpay(card_type: str, bank_code: str, method: str | None) -> None:
    params = dict(vnpay.VECTOR, vnp_CardType=card_type, vnp_BankCode=bank_code)
    event = adapter_for("vnpay").parse_callback(vnpay.signed(params))
    assert (event.method, event.card_foreign) == (method, None)


def test_vnpay_vector_fixture_is_a_domestic_card() -> None:
    event = adapter_for("vnpay").parse_callback(fixture_request("vnpay", "vector_success"))
    assert event.method == "domestic_card"


@pytest.mark.parametrize(("pay_type", "method"), [
    ("qr", "wallet"), ("webApp", "wallet"), ("napas", "domestic_card"),
    ("credit", "intl_card"), ("", None), ("somethingNew", None),
])
def test_momo(pay_type: str, method: str | None) -> None:
    body: dict[str, Any] = dict(momo.VECTOR, payType=pay_type)
    event = adapter_for("momo").parse_callback(momo.signed(body))
    assert (event.method, event.card_foreign) == (method, None)


@pytest.mark.parametrize(("channel", "method"), [
    (38, "wallet"), ("38", "wallet"), (39, "domestic_card"), (36, "intl_card"),
    (37, "bank_account"), (99, None), (None, None),
])
def test_zalopay(channel: object, method: str | None) -> None:
    data = dict(zalopay.DATA, channel=channel)
    event = adapter_for("zalopay").parse_callback(zalopay.signed(data))
    assert event.method == method and event.card_foreign is None


@pytest.mark.parametrize(("brand", "country", "method", "foreign"), [
    ("NAPAS", None, "napas", None),  # PROVIDERS.md's fields: no issuer country
    ("VISA", "VN", "visa", False),
    ("visa", "kr", "visa", True),
    ("MASTERCARD", "SG", "mastercard", True),
    ("JCB", "", "jcb", None),
    ("DINERS", "US", None, True),
])
def test_pos(brand: str, country: str | None, method: str | None,
             foreign: bool | None) -> None:
    body = dict(pos.SALE, card_brand=brand)
    if country is not None:
        body["issuer_country"] = country
    event = pos.parse(pos.call(body))
    assert (event.method, event.card_foreign) == (method, foreign)


@pytest.mark.parametrize("country", ["VNM", "V1", 704])
def test_pos_refuses_an_issuer_country_that_is_not_two_letters(country: object) -> None:
    with pytest.raises(MalformedPayload, match="issuer_country"):
        pos.parse(pos.call(dict(pos.SALE, issuer_country=country)))


@pytest.mark.parametrize(("provider", "name"), [
    ("sepay", "credit"), ("casso", "vector_success"), ("payos", "vector_success"),
])
def test_bank_feeds_carry_no_method(provider: str, name: str) -> None:
    event = adapter_for(provider).parse_callback(fixture_request(provider, name))
    assert (event.method, event.card_foreign) == (None, None)
