"""Refund lines on a real database (SQLite and PostgreSQL), issue 17: imported with their kind
(the file's transaction type through the profile's ``kind_values``; an unknown type refuses the
file and changes nothing), paired with the payment of the sale they reverse, and judged:

- a refund of a refunded payment: its fee against the contract's refund fee (a processing fee,
  plus the percentage unless the contract returns it), ``fee_mismatch`` when it differs; the
  sale's own line is then no ``status_mismatch``;
- a refund of a payment recon holds as succeeded: ``status_mismatch``;
- a refund of a sale recon never recorded: ``unexpected_settlement``;

each found by an incremental run as a full run finds it, and never as a settlement of the sale.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.contracts import parse_contracts
from recon.db import Database
from recon.engine import EngineConfig
from recon.errors import ValidationError
from recon.models import SettlementFile, SettlementLine
from recon.settlements.importer import canonical_csv, import_settlement, load_profiles
from tests.reconcile.recon_builders import TOTAL, World, state

CONTRACTS = b'''version = 1
[[contract]]
id = "vnpay-test"
provider = "vnpay"
channel = "*"
valid_from = 2026-01-01
rate_bp = 88
rounding = "down"
refund_fee_vnd = 3000
refund_returns_rate = true
[[contract]]
id = "momo-test"
provider = "momo"
channel = "*"
valid_from = 2026-01-01
rate_bp = 110
rounding = "down"
refund_fee_vnd = 2000
'''
BOOK = parse_contracts(CONTRACTS, "test.toml")
REFUNDED_AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam, the day after
SALE_FEE = TOTAL * 88 // 10_000
VNPAY_REFUND_FEE = 3_000  # the percentage is returned (Paykit's terms): the processing fee
MOMO_REFUND_FEE = 2_000 + TOTAL * 110 // 10_000  # not returned: 2,000 + 1,10 % = 3,980


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock, config=EngineConfig(contracts=BOOK))


def _sold(w: World, provider: str = "vnpay", *, refunded: bool = True
          ) -> tuple[int, str, str]:
    """A payment, settled as a sale, then (by default) refunded by the provider's call."""
    d = w.dossier()
    reference = w.intent(d, TOTAL, channel=provider)
    p = w.pay(TOTAL, provider=provider, reference=reference)
    txn = w.txn_of(p)
    w.settle(provider, txn, TOTAL, fee=SALE_FEE if provider == "vnpay" else 0)
    if refunded:
        w.pay(TOTAL, provider=provider, txn=txn, reference=reference, status="refunded")
    return p, txn, reference


def _refund_file(rows: list[tuple[str, int, int, str]], *, kind: str = "refund") -> bytes:
    """The canonical CSV of refund lines: (own id, gross, refund fee, the sale's id or '')."""
    return canonical_csv([{"provider_txn_id": own, "amount": gross, "fee": fee,
                           "net": gross - fee, "transaction_at": REFUNDED_AT,
                           "settled_on": date(2026, 11, 27), "kind": kind,
                           "original_txn_id": original} for own, gross, fee, original in rows]
                         ).encode()


def _import(w: World, provider: str, body: bytes, name: str = "refunds.csv") -> None:
    import_settlement(w.db, w.clock, provider, body, name, actor="test")


def _full_agrees(w: World) -> None:
    """A full run now finds exactly what the incremental runs left: it changes nothing."""
    before = state(w.db)
    w.later(minutes=5)
    summary = w.run("full")
    assert (summary.new, summary.auto_resolved, summary.reopened) == (0, 0, 0)
    assert state(w.db) == before


def test_a_refund_at_the_contract_fee_reverses_the_sale(w: World) -> None:
    p, txn, _ref = _sold(w)
    first = w.run()
    assert first.mode == "full"
    # refunded, its sale settled and no refund line yet: the settlement stands unexplained
    assert w.open_identities() == [f"status_mismatch:payment={p}:settlement_line="
                                   f"{w.discrepancies()[0].settlement_line_id}"]
    _import(w, "vnpay", _refund_file([(f"RF{txn}", TOTAL, VNPAY_REFUND_FEE, txn)]))
    w.later(minutes=5)
    second = w.run()
    assert second.mode == "incremental" and second.auto_resolved == 1
    assert w.open_identities() == []
    (resolved,) = w.discrepancies("auto_resolved")
    assert "refund line" in (resolved.auto_resolved_reason_en or "")
    from recon.review import workbench
    with w.db.read() as s:
        story = workbench.story(s, resolved.id)
        assert story is not None and [pay.id for pay in story.payments] == [p]
        assert [(ln.kind, ln.provider_txn_id) for ln in story.lines] == [
            ("sale", txn), ("refund", f"RF{txn}")]
    assert "dòng hoàn tiền" in (resolved.auto_resolved_reason or "")
    with w.db.read() as s:
        refund = s.scalars(select(SettlementLine).where(SettlementLine.kind == "refund")).one()
    assert (refund.provider_txn_id, refund.original_txn_id, refund.amount, refund.fee) == (
        f"RF{txn}", txn, TOTAL, VNPAY_REFUND_FEE)
    _full_agrees(w)


def test_a_refund_fee_above_the_contract_is_a_fee_mismatch(w: World) -> None:
    w.run()
    p, txn, _ref = _sold(w)
    # the refund carries the sale's own id (no original id in the file)
    _import(w, "vnpay", _refund_file([(txn, TOTAL, VNPAY_REFUND_FEE + 1_500, "")]))
    w.later(minutes=5)
    assert w.run().mode == "incremental"
    (d,) = w.discrepancies("open")
    with w.db.read() as s:
        line_id = s.scalar(select(SettlementLine.id).where(SettlementLine.kind == "refund"))
    assert d.identity == f"fee_mismatch:payment={p}:settlement_line={line_id}"
    assert (d.expected_amount, d.actual_amount, d.delta) == (3_000, 4_500, 1_500)
    assert "phí hoàn tiền 4.500\u00a0₫" in d.explanation
    assert "hợp đồng vnpay-test" in d.explanation and "3.000\u00a0₫" in d.explanation
    assert "không thu phí phần trăm" in d.explanation
    assert ("charged a refund fee of 4.500\u00a0₫, 1.500\u00a0₫ more than contract "
            "vnpay-test's refund fee") in d.explanation_en
    _full_agrees(w)
    # the detail page's story: the payment, its sale line and its refund line
    from recon.review import workbench
    with w.db.read() as s:
        story = workbench.story(s, d.id)
        assert story is not None
        assert [pay.id for pay in story.payments] == [p]
        assert [(ln.kind, ln.provider_txn_id) for ln in story.lines] == [
            ("sale", txn), ("refund", txn)]


def test_the_percentage_is_expected_unless_the_contract_returns_it(w: World) -> None:
    w.run()
    _pv, vnpay_txn, _r1 = _sold(w, "vnpay")
    pm, momo_txn, _r2 = _sold(w, "momo")
    # VNPay returns the percentage: charging it is a finding; MoMo keeps it: no finding
    _import(w, "vnpay", _refund_file([(f"R{vnpay_txn}", TOTAL, 3_000 + SALE_FEE, vnpay_txn)]))
    _import(w, "momo", _refund_file([(f"R{momo_txn}", TOTAL, MOMO_REFUND_FEE, momo_txn)]))
    w.later(minutes=5)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.kind == "fee_mismatch" and d.payment_id != pm
    assert (d.expected_amount, d.actual_amount) == (3_000, 3_000 + SALE_FEE)
    _full_agrees(w)
    # MoMo charging only its processing fee is short of its contract's refund fee
    _p3, txn3, _r3 = _sold(w, "momo")
    _import(w, "momo", _refund_file([(f"R{txn3}", TOTAL, 2_000, txn3)]), "momo2.csv")
    w.later(minutes=5)
    w.run()
    found = [x for x in w.discrepancies("open") if x.expected_amount == MOMO_REFUND_FEE]
    assert len(found) == 1 and found[0].actual_amount == 2_000
    assert "cộng 1,10\u00a0% số tiền hoàn" in found[0].explanation
    _full_agrees(w)


def test_a_refund_of_an_unknown_sale_then_the_payment_arrives(w: World) -> None:
    w.run()
    _import(w, "vnpay", _refund_file([("RF-NOPE", 50_000, 3_000, "NOPE")]))
    w.later(minutes=5)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.kind == "unexpected_settlement" and d.payment_id is None
    assert "dòng hoàn tiền mã RF-NOPE" in d.explanation and "NOPE" in d.explanation
    assert "lists refund RF-NOPE" in d.explanation_en
    _full_agrees(w)
    # the sale and its refund are recorded after all: the refund line is explained (a
    # refunded payment with a refund line and no sale line is no finding)
    dossier = w.dossier(amounts=(50_000,))
    reference = w.intent(dossier, 50_000, channel="vnpay")
    w.pay(50_000, provider="vnpay", txn="NOPE", reference=reference)
    w.pay(50_000, provider="vnpay", txn="NOPE", reference=reference, status="refunded")
    w.later(minutes=5)
    summary = w.run()
    assert summary.mode == "incremental" and summary.auto_resolved == 1
    assert w.open_identities() == []
    (resolved,) = w.discrepancies("auto_resolved")
    assert "The refunded payment (VNPay transaction NOPE)" in (
        resolved.auto_resolved_reason_en or "")
    _full_agrees(w)


def test_a_refund_of_a_payment_held_as_succeeded_is_a_status_mismatch(w: World) -> None:
    w.run()
    p, txn, reference = _sold(w, refunded=False)
    _import(w, "vnpay", _refund_file([(f"RF{txn}", TOTAL, VNPAY_REFUND_FEE, txn)]))
    w.later(minutes=5)
    w.run()
    (d,) = w.discrepancies("open")
    assert d.kind == "status_mismatch" and d.payment_id == p
    assert "báo hoàn tiền" in d.explanation and "thành công" in d.explanation
    assert "not refunded" in d.explanation_en
    # the sale line still settles the payment: no missing_settlement, no unexpected line
    _full_agrees(w)
    # the provider's refund call arrives: the status agrees, the refund fee is judged (right)
    w.pay(TOTAL, provider="vnpay", txn=txn, reference=reference, status="refunded")
    w.later(minutes=5)
    summary = w.run()
    assert summary.mode == "incremental" and summary.auto_resolved == 1
    assert w.open_identities() == []
    _full_agrees(w)


def test_kinds_are_imported_through_the_profile_and_unknown_ones_refuse_the_file(
        w: World, db: Database, clock: FixedClock) -> None:
    profile = load_profiles()["vnpay_merchant"]
    assert profile.kind_of("HOÀN TIỀN") == "refund" and profile.kind_of("Thanh toán") == "sale"
    header = ("Mã GD VNPAY;Mã GD merchant;Số tiền;Phí;Thời gian thanh toán;Ngày quyết toán;"
              "Trạng thái;Loại giao dịch;Mã GD gốc\n")
    good = (header
            + "14001;HS1;180.000;1.584;26/11/2026 10:00:00;27/11/2026;Thành công;Thanh toán;\n"
            + "14002;HS1;180.000;3.000;28/11/2026 10:00:00;29/11/2026;Thành công;Hoàn tiền;"
            "14001\n").encode()
    bad = good.replace("Hoàn tiền;".encode(), b"Refund-partial;").replace(b"14002", b"14003")
    vnpay_csv = {"profile": "vnpay_merchant"}
    with pytest.raises(ValidationError) as refused:
        import_settlement(db, clock, "vnpay", bad.replace(b";", b","), "bad.csv",
                          actor="test", **vnpay_csv)  # type: ignore[arg-type]
    message = str(refused.value) + " ".join(str(e) for e in refused.value.errors)
    assert "Refund-partial" in message and "kind_values" in message
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SettlementFile)) == 0
        assert s.scalar(select(func.count()).select_from(SettlementLine)) == 0
    summary = import_settlement(db, clock, "vnpay", good.replace(b";", b","), "good.csv",
                                actor="test", **vnpay_csv)  # type: ignore[arg-type]
    assert summary.lines == 2
    with db.read() as s:
        rows = s.execute(select(SettlementLine.provider_txn_id, SettlementLine.kind,
                                SettlementLine.original_txn_id, SettlementLine.fee)
                         .order_by(SettlementLine.line_no)).all()
    assert [tuple(r) for r in rows] == [("14001", "sale", None, 1_584),
                                        ("14002", "refund", "14001", 3_000)]
