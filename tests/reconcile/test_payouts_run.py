"""Payouts on a real database: a gateway's settlement file (its batches) and the centre's
VietinBank statement (the credits), imported as finance imports them, reconciled by full and
incremental runs. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta

import pytest

from recon.calendar.days import EVERY_DAY
from recon.clock import FixedClock
from recon.db import Database
from recon.engine.payouts import weekend_add_banking_days
from recon.engine.records import EngineConfig
from recon.settlements.importer import import_settlement
from recon.settlements.payouts import engine_config, payout_config
from tests.reconcile.payout_builders import (
    FRI,
    MON,
    at_day,
    credit,
    gateway_file,
    pay_and_settle,
    statement_of_wednesday,
    vn,
)
from tests.reconcile.recon_builders import World


@pytest.fixture
def w(db: Database) -> World:
    clock = FixedClock(vn(MON, 8).astimezone(UTC))
    return World(db, clock, config=_weekends_only())


def _weekends_only() -> EngineConfig:
    """The run's payout configuration, counting weekends only and judging no fee: these
    scenarios are about payouts (the banking calendar and the contracts have their own tests;
    the real configuration's payout days count on the calendar, below)."""
    return replace(engine_config({"RECON_ENV": "production"},
                                 add_banking_days=weekend_add_banking_days), calendar=EVERY_DAY)


def test_credits_pay_batches_and_the_faults_are_found(w: World) -> None:
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11"),     # Fri+Sat session: paid
                    ("FT002", 55000, "VNPAY TT PHIEN 19/11")])     # no batch: unexpected
    statement_of_wednesday(w)  # FT003, a citizen's transfer
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    kinds = {d.kind: d for d in w.discrepancies("open")}
    # Monday's session (due Tuesday) was never credited; FT002 is no batch's; FT003 is the
    # bank statement's ordinary unexpected line (no payment carries it)
    assert sorted(kinds) == ["payout_missing", "payout_unexpected", "unexpected_settlement"]
    assert (kinds["payout_missing"].expected_amount, kinds["payout_missing"].delta) == (
        98000, -98000)
    assert kinds["payout_unexpected"].actual_amount == 55000
    assert "VNPay" in kinds["payout_unexpected"].explanation


def test_the_missing_credit_imported_later_resolves_payout_missing_incrementally(
        w: World) -> None:
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])
    statement_of_wednesday(w)
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    assert w.kinds() == ["payout_missing", "unexpected_settlement"]
    w.later(hours=1)
    credit(w, MON + timedelta(days=3), [("FT010", 98000, "VNPAY TT PHIEN 23/11")])
    w.later(minutes=5)
    summary = w.run("auto", as_of=w.clock.now())
    assert summary.mode == "incremental"
    assert w.kinds() == ["unexpected_settlement"]
    [resolved] = w.discrepancies("auto_resolved")
    assert resolved.kind == "payout_missing"
    assert "FT010" in (resolved.auto_resolved_reason or "")


def test_a_short_credit_is_a_mismatch_with_both_amounts(w: World) -> None:
    pay_and_settle(w)
    credit(w, MON, [("FT001", 190000, "VNPAY TT PHIEN 20/11")])  # 6,000 short, on the day due
    credit(w, MON + timedelta(days=1), [("FT004", 98000, "VNPAY TT PHIEN 23/11")])
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    [d] = w.discrepancies("open")
    assert (d.kind, d.expected_amount, d.actual_amount, d.delta) == (
        "payout_mismatch", 196000, 190000, -6000)


def test_no_batch_is_missing_from_statements_not_yet_imported(w: World) -> None:
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])  # Monday's statement only
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    assert w.kinds() == []  # Monday's batch is due Tuesday: that statement is not in yet
    w.later(hours=1)
    statement_of_wednesday(w)
    w.later(minutes=5)
    w.run("auto", as_of=w.clock.now())
    assert w.kinds() == ["payout_missing", "unexpected_settlement"]


def test_without_a_payout_configuration_nothing_changes(w: World) -> None:
    w.config = EngineConfig()
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    assert w.kinds() == ["unexpected_settlement"]  # what finance saw before


def test_memo_and_days_are_settings() -> None:
    config = payout_config({"RECON_VNPAY_PAYOUT_MEMO": r"CTY VNPAY\s+\d+",
                            "RECON_VNPAY_PAYOUT_DAYS": "2"})
    assert config.providers["vnpay"].memo == r"CTY VNPAY\s+\d+"
    assert config.providers["vnpay"].days == 2
    assert set(config.providers) == {"vnpay", "momo", "zalopay", "pos"}
    from recon.errors import ValidationError
    with pytest.raises(ValidationError, match="RECON_VNPAY_PAYOUT_DAYS"):
        payout_config({"RECON_VNPAY_PAYOUT_DAYS": "two"})
    with pytest.raises(ValidationError, match="RECON_MOMO_PAYOUT_MEMO"):
        payout_config({"RECON_MOMO_PAYOUT_MEMO": "("})
    assert replace(_weekends_only(), payouts=None) == EngineConfig()


def test_the_real_configuration_counts_payout_days_on_the_banking_calendar() -> None:
    """24/11/2026 (Vietnam Culture Day) is off in the shipped calendar: a batch of Monday
    23/11 due one banking day later is due on Wednesday 25/11, not Tuesday."""
    config = engine_config({})
    assert config.payouts is not None
    assert config.payouts.add_banking_days(date(2026, 11, 23), 1) == date(2026, 11, 25)
    assert weekend_add_banking_days(date(2026, 11, 23), 1) == date(2026, 11, 24)


def test_one_credit_for_two_sessions_then_a_stray_one(w: World) -> None:
    pay_and_settle(w)
    # a refunded VNPay payment: the provider takes it back from a later payout
    d = w.dossier(amounts=(50000,))
    w.pay(50000, provider="vnpay", txn="V9", reference=w.intent(d, 50000, channel="vnpay"),
          paid_at=vn(FRI), status="refunded")
    credit(w, MON + timedelta(days=1), [("FT020", 196000 + 98000, "VNPAY TT 2 PHIEN")])  # N:1
    statement_of_wednesday(w)
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    assert w.kinds() == ["unexpected_settlement"]  # both sessions paid by FT020

    credit(w, MON + timedelta(days=8), [("FT030", 45000, "VNPAY TT PHIEN 27/11")])
    w.later(hours=1)
    w.run("full", as_of=w.clock.now())
    [stray] = [d for d in w.discrepancies("open") if d.kind.startswith("payout")]
    assert (stray.kind, stray.actual_amount) == ("payout_unexpected", 45000)


def test_a_payout_less_a_chargeback_names_it(w: World) -> None:
    pay_and_settle(w)
    d = w.dossier(amounts=(50000,))
    w.pay(50000, provider="vnpay", txn="V9", reference=w.intent(d, 50000, channel="vnpay"),
          paid_at=vn(FRI), status="refunded")
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])
    credit(w, MON + timedelta(days=1), [("FT004", 48000, "VNPAY TT PHIEN 23/11")])  # 98,000 - V9
    statement_of_wednesday(w)
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    [d] = [x for x in w.discrepancies("open") if x.kind.startswith("payout")]
    assert (d.kind, d.expected_amount, d.actual_amount, d.delta) == (
        "payout_mismatch", 98000, 48000, -50000)
    assert "V9" in d.explanation and "chargeback" in (d.explanation_en or "")


def test_a_refund_line_in_a_batch_is_counted_once(w: World) -> None:
    """V9 refunded on Monday with a refund line in VNPay's file (50,000 and a 3,000 refund
    fee): Monday's batch is 98,000 - 53,000, and a credit of 45,000 pays it exactly; the
    refunded payment is no chargeback deduction any more (the refund counted twice would make
    a 45,000 credit less 50,000)."""
    pay_and_settle(w)
    d = w.dossier(amounts=(50000,))
    reference = w.intent(d, 50000, channel="vnpay")
    w.pay(50000, provider="vnpay", txn="V9", reference=reference, paid_at=vn(FRI))
    w.pay(50000, provider="vnpay", txn="V9", reference=reference, paid_at=vn(FRI),
          status="refunded")
    body = gateway_file([("V9", 50000, 0, FRI)])  # no kind column: a sale
    refund = (b"provider_txn_id,amount,fee,transaction_at,settled_on,kind,original_txn_id\r\n"
              + f"RF9,50000,3000,{vn(MON).isoformat()},{MON.isoformat()},refund,V9\r\n"
              .encode())
    import_settlement(w.db, w.clock, "vnpay", body, "vnpay-v9.csv", actor="test")
    import_settlement(w.db, w.clock, "vnpay", refund, "vnpay-refunds.csv", actor="test")
    credit(w, MON, [("FT001", 196000 + 50000, "VNPAY TT PHIEN 20/11")])
    credit(w, MON + timedelta(days=1), [("FT004", 98000 - 53000, "VNPAY TT PHIEN 23/11")])
    statement_of_wednesday(w)
    at_day(w, MON + timedelta(days=3))
    w.run("full", as_of=w.clock.now())
    assert w.kinds() == ["unexpected_settlement"]  # FT003 only: both batches paid exactly
    full = sorted((d.identity, d.status) for d in w.discrepancies())
    # an incremental run after a new line agrees
    w.later(hours=1)
    assert w.run(as_of=w.clock.now()).mode == "incremental"
    assert sorted((d.identity, d.status) for d in w.discrepancies()) == full
