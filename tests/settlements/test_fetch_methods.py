"""`recon settlements fetch` records a confirmed payment with the method its provider's answer
states, read as a webhook's is (the adapter's table, the operator's RECON_PAYMENT_METHODS laid
over it); an answer naming no method, or a code nobody knows, records none and the fetch goes
on. Against the fake provider server of tests/settlements/conftest.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.errors import ConfigurationError
from recon.models import AuditEvent, Payment, PaymentIntent
from recon.settlements.fetch import fetch
from tests.settlements.conftest import FAST_HTTP, FakeProviders, make_settings
from tests.settlements.test_fetch import (
    MOMO_KEYS,
    PAYOS_KEYS,
    VNPAY_KEYS,
    ZALOPAY_KEYS,
    _payos_data,
    momo_route,
    payos_route,
    vnpay_route,
    zalopay_route,
)

MakeIntent = Callable[..., PaymentIntent]


def _methods(db: Database) -> list[tuple[str, str | None, bool | None]]:
    with db.read() as s:
        return [(p.provider_txn_id, p.method, p.card_foreign)
                for p in s.scalars(select(Payment).order_by(Payment.id))]


@pytest.mark.parametrize(("method", "expected"), [
    ({"vnp_CardType": "QRCODE", "vnp_BankCode": "VNPAYQR"}, "qr"),
    ({"vnp_CardType": "VISA", "vnp_BankCode": "INTCARD"}, "intl_card"),
    ({"vnp_BankCode": "VNBANK"}, "domestic_card"),  # the answer's documented, signed field
    ({}, None),  # vnp_BankCode NCB: a bank alone names no method
])
def test_vnpay_querydr_records_the_method(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent,
        method: dict[str, str], expected: str | None) -> None:
    intent = make_intent("vnpay")
    vnpay_route(fake, {intent.reference: "18000000"}, method=method)
    summary = fetch(db, clock, make_settings(fake, **VNPAY_KEYS), "vnpay")
    assert summary["errors"] == [] and summary["recorded"] == 1
    assert summary["payments"][0]["method"] == expected
    assert _methods(db) == [("14509170", expected, None)]
    with db.read() as s:
        evidence = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "payment.confirmed_by_query")).one()
    assert json.loads(evidence.data)["method"] == expected


@pytest.mark.parametrize(("pay_type", "expected"), [
    ("qr", "wallet"), ("napas", "domestic_card"), ("credit", "intl_card"), (None, None)])
def test_momo_query_records_the_method(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent,
        pay_type: str | None, expected: str | None) -> None:
    intent = make_intent("momo")
    momo_route(fake, {intent.reference: 0}, pay_type=pay_type)
    summary = fetch(db, clock, make_settings(fake, **MOMO_KEYS), "momo")
    assert (summary["recorded"], summary["errors"]) == (1, [])
    assert _methods(db) == [("3108111745", expected, None)]


def test_zalopay_and_payos_answers_record_no_method(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    make_intent("zalopay", provider_order_id="261126_HSPAIDREF01")
    zalopay_route(fake, {"261126_HSPAIDREF01": 180000})
    assert fetch(db, clock, make_settings(fake, **ZALOPAY_KEYS), "zalopay")["recorded"] == 1
    make_intent("payos", order_code=880001)
    payos_route(fake, {880001: _payos_data(880001, 180000, [("FT26330000001", 180000)])})
    assert fetch(db, clock, make_settings(fake, **PAYOS_KEYS), "payos")["recorded"] == 1
    assert _methods(db) == [("261126000000123", None, None), ("FT26330000001", None, None)]


def test_an_unknown_code_records_no_method_and_the_fetch_goes_on(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent) -> None:
    intent = make_intent("momo")
    momo_route(fake, {intent.reference: 0}, pay_type="somethingNew")
    summary = fetch(db, clock, make_settings(fake, **MOMO_KEYS), "momo")
    assert (summary["checked"], summary["recorded"], summary["errors"]) == (1, 1, [])
    assert summary["payments"][0]["method"] is None
    assert _methods(db) == [("3108111745", None, None)]
    with db.read() as s:
        assert s.get_one(PaymentIntent, intent.id).status == "paid"


OVERRIDE = """version = 1

[momo.payType]
qr = "qr"              # this centre's MoMo contract prices a QR payment as "qr"

[vnpay.vnp_BankCode]
NEWQR = "qr"           # a code the adapter does not know yet
"""


def test_the_operators_method_codes_apply_to_pulled_payments(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent,
        tmp_path: Path) -> None:
    path = tmp_path / "methods.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    momo_intent = make_intent("momo")
    momo_route(fake, {momo_intent.reference: 0}, pay_type="QR")
    momo_settings = make_settings(fake, **MOMO_KEYS, RECON_PAYMENT_METHODS=str(path))
    assert fetch(db, clock, momo_settings, "momo")["recorded"] == 1
    vnpay_intent = make_intent("vnpay")
    vnpay_route(fake, {vnpay_intent.reference: "18000000"}, method={"vnp_BankCode": "NEWQR"})
    vnpay_settings = make_settings(fake, **VNPAY_KEYS, RECON_PAYMENT_METHODS=str(path))
    assert fetch(db, clock, vnpay_settings, "vnpay")["recorded"] == 1
    # the adapters' own tables: wallet for payType qr; NEWQR unknown
    assert _methods(db) == [("3108111745", "qr", None), ("14509170", "qr", None)]


def test_a_bad_methods_file_stops_the_fetch_before_any_call(
        db: Database, clock: FixedClock, fake: FakeProviders, make_intent: MakeIntent,
        tmp_path: Path) -> None:
    intent = make_intent("momo")
    momo_route(fake, {intent.reference: 0})
    bad = tmp_path / "methods.toml"
    bad.write_text('version = 1\n[momo.payType]\nqr = "cash"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        fetch(db, clock, make_settings(fake, **MOMO_KEYS, RECON_PAYMENT_METHODS=str(bad)),
              "momo")
    assert "line 3, momo.payType.qr: 'cash' is no method" in caught.value.message
    assert "RECON_PAYMENT_METHODS" in (caught.value.hint or "")
    assert fake.calls() == 0 and _methods(db) == []


def test_the_command_records_and_prints_the_method(
        env: dict[str, str], db: Database, fake: FakeProviders, make_intent: MakeIntent,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`recon settlements fetch` as an operator runs it, with a methods file in the
    environment: the file's code for MoMo's payType is the payment's method."""
    from recon.cli import cli

    path = tmp_path / "methods.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    intent = make_intent("momo")
    momo_route(fake, {intent.reference: 0}, pay_type="qr")
    for key, value in {**FAST_HTTP, **MOMO_KEYS, "RECON_MOMO_API_BASE": fake.url,
                       "RECON_PAYMENT_METHODS": str(path)}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["settlements", "fetch", "--provider", "momo",
                                      "--date", "2026-11-26"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert [(p["provider_txn_id"], p["method"]) for p in summary["payments"]] == [
        ("3108111745", "qr")]
    assert _methods(db) == [("3108111745", "qr", None)]
