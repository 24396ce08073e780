"""fee_mismatch on a real database (SQLite and PostgreSQL): a line whose fee is not its
contract's, found by an incremental run right after the import; a file whose net contradicts
its own gross and fee, kept with its stated net and found; auto-resolution when the operator
corrects the contracts; and the explanation with the contract, the channel, the tier, the rate
and both fees. Contracts per payment method, tiers by the month's count and the foreign-card
surcharge, judged on the payments' recorded method and card."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from recon.clock import FixedClock
from recon.contracts import parse_contracts
from recon.db import Database
from recon.engine import EngineConfig
from recon.models import SettlementLine
from recon.settlements.importer import import_settlement
from tests.reconcile.recon_builders import TOTAL, World

CONTRACTS = b'''version = 1
[[contract]]
id = "vnpay-test"
provider = "vnpay"
channel = "*"
valid_from = 2026-01-01
rate_bp = 88
rounding = "down"
'''
BOOK = parse_contracts(CONTRACTS, "test.toml")
FEE = TOTAL * 88 // 10_000  # 1.584 ₫


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock, config=EngineConfig(contracts=BOOK))


def _paid(w: World) -> tuple[int, str]:
    d = w.dossier()
    p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
    return p, w.txn_of(p)


def test_an_incremental_run_finds_a_fee_above_the_contract(w: World) -> None:
    _p, txn = _paid(w)
    w.settle("vnpay", txn, TOTAL, fee=FEE)
    first = w.run()
    assert first.mode == "full" and w.kinds() == []
    p2, txn2 = _paid(w)
    line = w.settle("vnpay", txn2, TOTAL, fee=FEE + 1_100)
    w.later(minutes=5)
    second = w.run()
    assert second.mode == "incremental"
    (d,) = w.discrepancies("open")
    assert d.identity == f"fee_mismatch:payment={p2}:settlement_line={line}"
    assert (d.expected_amount, d.actual_amount, d.delta) == (FEE, FEE + 1_100, 1_100)
    assert ("hợp đồng vnpay-test (kênh: mọi phương thức (giao dịch này: phương thức không "
            "được báo); 0,88\u00a0%, đã gồm VAT)") in d.explanation
    assert "1.584\u00a0₫" in d.explanation and "2.684\u00a0₫" in d.explanation
    assert ("contract vnpay-test (channel: any method (this payment: method not reported); "
            "0.88\u00a0%, VAT included)") in d.explanation_en
    # one đồng of rounding is no finding
    _p3, txn3 = _paid(w)
    w.settle("vnpay", txn3, TOTAL, fee=FEE + 1)
    w.later(minutes=5)
    w.run()
    assert w.kinds() == ["fee_mismatch"]


def test_correcting_the_contracts_auto_resolves(w: World) -> None:
    _p, txn = _paid(w)
    w.settle("vnpay", txn, TOTAL, fee=TOTAL * 100 // 10_000)  # charged 1 %
    w.run()
    assert w.kinds() == ["fee_mismatch"]
    w.config = EngineConfig(contracts=parse_contracts(CONTRACTS.replace(
        b"rate_bp = 88", b"rate_bp = 100")))
    w.later(minutes=5)
    summary = w.run("full")
    assert summary.auto_resolved == 1
    (d,) = w.discrepancies()
    assert d.status == "auto_resolved"
    assert d.auto_resolved_reason_en == (
        "The line's fee of 1.800\u00a0₫ now agrees with the fee contract.")


def test_a_file_that_contradicts_itself_is_kept_and_found(w: World, db: Database,
                                                          clock: FixedClock) -> None:
    p, txn = _paid(w)
    stated = TOTAL - FEE - 500
    csv = ("provider_txn_id,amount,fee,transaction_at,settled_on,net_amount\n"
           f"{txn},{TOTAL},{FEE},2026-11-26T10:00:00,2026-11-27,{stated}\n").encode()
    summary = import_settlement(db, clock, "vnpay", csv, "vnpay.csv", actor="test")
    assert summary.lines == 1 and summary.total_net == TOTAL - FEE
    with db.read() as s:
        line = s.scalars(select(SettlementLine)).one()
        assert (line.net, line.stated_net) == (TOTAL - FEE, stated)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.identity == f"fee_mismatch:payment={p}:settlement_line={line.id}"
    assert (d.expected_amount, d.actual_amount) == (TOTAL - FEE, stated)
    assert "tự mâu thuẫn" in d.explanation and "contradicts itself" in d.explanation_en


def test_no_contract_no_fee_finding(db: Database, clock: FixedClock) -> None:
    w = World(db, clock)  # no contracts: only the net is judged
    _p, txn = _paid(w)
    w.settle("vnpay", txn, TOTAL, fee=5_000)
    w.run()
    assert w.kinds() == []


def test_the_contract_of_the_transaction_date(w: World) -> None:
    """A contract that ended before the payment's date does not judge it."""
    w.config = EngineConfig(contracts=parse_contracts(CONTRACTS.replace(
        b"valid_from = 2026-01-01", b"valid_from = 2026-01-01\nvalid_to = 2026-06-30")))
    _p, txn = _paid(w)
    w.settle("vnpay", txn, TOTAL, fee=9_999, settled_on=date(2026, 11, 27))
    w.run()
    assert w.kinds() == []


CHANNELS = CONTRACTS + b'''[[contract]]
id = "vnpay-atm"
provider = "vnpay"
channel = "domestic_card"
valid_from = 2026-01-01
rate_bp = 110
rounding = "down"
[[contract]]
id = "pos-visa"
provider = "pos"
channel = "visa"
valid_from = 2026-01-01
rate_bp = 180
foreign_card_surcharge_bp = 60
rounding = "down"
[[contract]]
id = "momo-wallet"
provider = "momo"
channel = "wallet"
valid_from = 2026-01-01
rate_bp = 110
tiers = [{ from_count = 3, rate_bp = 90 }]
rounding = "down"
'''


def _paid_by(w: World, provider: str, **kw: object) -> tuple[int, str]:
    d = w.dossier()
    p = w.pay(TOTAL, provider=provider, reference=w.intent(d, TOTAL, channel=provider), **kw)
    return p, w.txn_of(p)


def test_the_contract_of_the_payment_method(db: Database, clock: FixedClock) -> None:
    """A VNPay card payment is judged by the domestic-card contract, a QR payment (and one
    whose method is unknown) by the "*" one; the explanation names the channel."""
    w = World(db, clock, config=EngineConfig(contracts=parse_contracts(CHANNELS)))
    _p1, card = _paid_by(w, "vnpay", method="domestic_card")
    _p2, qr = _paid_by(w, "vnpay", method="qr")
    p3, card_at_qr_rate = _paid_by(w, "vnpay", method="domestic_card")
    w.settle("vnpay", card, TOTAL, fee=TOTAL * 110 // 10_000)
    w.settle("vnpay", qr, TOTAL, fee=FEE)
    line = w.settle("vnpay", card_at_qr_rate, TOTAL, fee=FEE)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.identity == f"fee_mismatch:payment={p3}:settlement_line={line}"
    assert (d.expected_amount, d.actual_amount) == (TOTAL * 110 // 10_000, FEE)
    assert "hợp đồng vnpay-atm (kênh: thẻ nội địa (ATM); 1,10\u00a0%" in d.explanation
    assert "contract vnpay-atm (channel: domestic (ATM) card; 1.10\u00a0%" in d.explanation_en


def test_the_surcharge_only_for_a_card_issued_abroad(db: Database, clock: FixedClock) -> None:
    w = World(db, clock, config=EngineConfig(contracts=parse_contracts(CHANNELS)))
    base, surcharged = TOTAL * 180 // 10_000, TOTAL * 240 // 10_000
    _a, home = _paid_by(w, "pos", method="visa", card_foreign=False)
    _b, abroad = _paid_by(w, "pos", method="visa", card_foreign=True)
    _c, unknown = _paid_by(w, "pos", method="visa")
    p4, home_charged_abroad = _paid_by(w, "pos", method="visa", card_foreign=False)
    w.settle("pos", home, TOTAL, fee=base)
    w.settle("pos", abroad, TOTAL, fee=surcharged)
    w.settle("pos", unknown, TOTAL, fee=surcharged)  # unknown: both readings accepted
    w.settle("pos", home_charged_abroad, TOTAL, fee=surcharged)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.payment_id == p4 and (d.expected_amount, d.actual_amount) == (base, surcharged)
    assert "thẻ phát hành trong nước: không phụ phí thẻ nước ngoài" in d.explanation
    assert "card issued in Vietnam: no foreign-card surcharge" in d.explanation_en


def test_a_tier_by_the_months_count(db: Database, clock: FixedClock) -> None:
    """From the month's third wallet payment on the rate is 0,90 %: the base rate after that
    is a finding (naming the tier and the count), the tier's rate before it is not."""
    w = World(db, clock, config=EngineConfig(contracts=parse_contracts(CHANNELS)))
    base, tier = TOTAL * 110 // 10_000, TOTAL * 90 // 10_000
    fees = [tier, base, base, tier]  # 1st at the tier: accepted; 3rd at the base: a finding
    paid = []
    for fee in fees:
        p, txn = _paid_by(w, "momo", method="wallet")
        paid.append((p, w.settle("momo", txn, TOTAL, fee=fee)))
        w.later(minutes=1)
    w.run()
    (d,) = w.discrepancies("open")
    assert (d.payment_id, d.settlement_line_id) == paid[2]
    assert (d.expected_amount, d.actual_amount) == (tier, base)
    assert "bậc 1 (từ giao dịch thứ 3 trong tháng)" in d.explanation
    assert "đây là giao dịch thứ 3 trong tháng" in d.explanation
    assert "tier 1 (from the month's transaction 3)" in d.explanation_en
    assert "the month's transaction 3 under this contract" in d.explanation_en


def test_an_incremental_run_counts_the_whole_month_of_a_tiered_contract(
        db: Database, clock: FixedClock) -> None:
    """The month's third wallet payment arrives after a full run judged the first two: the
    incremental run reads the provider's whole month, so it counts 3 as a full run does (the
    base rate charged is a finding), and a later change to the first payment's dossier neither
    resolves nor duplicates it; a full run then agrees, finding for finding."""
    w = World(db, clock, config=EngineConfig(contracts=parse_contracts(CHANNELS)))
    base, tier = TOTAL * 110 // 10_000, TOTAL * 90 // 10_000
    paid = []
    for _ in range(2):
        p, txn = _paid_by(w, "momo", method="wallet")
        paid.append((p, w.settle("momo", txn, TOTAL, fee=base)))
        w.later(minutes=1)
    assert w.run().mode == "full" and w.kinds() == []
    p3, txn3 = _paid_by(w, "momo", method="wallet")
    third = (p3, w.settle("momo", txn3, TOTAL, fee=base))
    w.later(minutes=5)
    assert w.run().mode == "incremental"
    (d,) = w.discrepancies("open")
    assert (d.payment_id, d.settlement_line_id) == third
    assert (d.expected_amount, d.actual_amount) == (tier, base)
    # touch only the third payment's transaction again: still its month's third
    w.settle("momo", txn3, TOTAL, fee=base)  # a duplicate line of it
    w.later(minutes=5)
    assert w.run().mode == "incremental"
    incremental = sorted((x.identity, x.status) for x in w.discrepancies())
    assert (f"fee_mismatch:payment={third[0]}:settlement_line={third[1]}", "open") in incremental
    w.later(minutes=5)
    assert w.run("full").mode == "full"
    assert sorted((x.identity, x.status) for x in w.discrepancies()) == incremental
