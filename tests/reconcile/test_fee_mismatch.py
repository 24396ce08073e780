"""fee_mismatch on a real database (SQLite and PostgreSQL): a line whose fee is not its
contract's, found by an incremental run right after the import; a file whose net contradicts
its own gross and fee, kept with its stated net and found; auto-resolution when the operator
corrects the contracts; and the explanation with the contract, the rate and both fees."""

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
channel = "vnpay"
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
    assert "hợp đồng vnpay-test (0,88\u00a0%, đã gồm VAT)" in d.explanation
    assert "1.584\u00a0₫" in d.explanation and "2.684\u00a0₫" in d.explanation
    assert "contract vnpay-test (0.88\u00a0%, VAT included)" in d.explanation_en
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
