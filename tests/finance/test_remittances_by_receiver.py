"""Lệ phí a receiving centre pays into the budget itself (issue 18 §2–3): its transfers count as
remitted for the collector, month and tiểu mục they discharged, shown as paid by the centre; a
C1-02/NS voucher recording the same transfer is counted once (told apart by its bank
reference, or, without one, by its date and total), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask import Flask
from sqlalchemy import select

from recon.audit.chain import record_on
from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine.records import EngineConfig
from recon.engine.remittances import (
    BudgetTransfer,
    Discharge,
    VoucherLine,
    VoucherTotal,
    allocate,
    discharge_lines,
    same_money,
)
from recon.engine.runner import run_reconciliation
from recon.intake.agencies import create_agency
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Discrepancy
from recon.money import format_vnd
from recon.payments.recording import PaymentEvent, record_payment
from recon.review import declarations
from recon.review.remittances import receiver_payments, remittance_config, voucher_page
from recon.settlements.remittances import LineIn, VoucherIn, record_voucher
from recon.settlements.transfers import record_transfer
from tests.finance.test_roles import _session_client

MARCH = date(2021, 3, 1)
KEY = ("DEPT", "2771", MARCH)

# --------------------------------------------------------------------------- pure


def _t(tid: int, ref: str, day: date, amount: int, *collectors: str) -> BudgetTransfer:
    return BudgetTransfer(tid, ref, "CENTRE", day, amount, frozenset(collectors))


def test_a_voucher_is_the_transfer_by_its_reference_else_by_day_and_total() -> None:
    d = date(2021, 3, 3)
    transfers = [_t(1, "FT1", d, 100_000, "DEPT"), _t(2, "FT2", d, 100_000, "DEPT"),
                 _t(3, "FT3", d, 70_000, "OTHER")]
    vouchers = [
        VoucherTotal("A", d, "DEPT", 100_000, "ft2 "),  # by reference (case, spaces)
        VoucherTotal("B", d, "DEPT", 100_000),  # no reference: the first one left, FT1
        VoucherTotal("C", d, "DEPT", 100_000),  # both taken: other money
        VoucherTotal("D", d, "DEPT", 100_000, "FT9"),  # names another payment: other money
        VoucherTotal("E", d, "CENTRE", 70_000),  # the receiver's own voucher for FT3
        VoucherTotal("F", date(2021, 3, 4), "OTHER", 70_000),  # another day
    ]
    assert same_money(vouchers, transfers) == {"A": 2, "B": 1, "E": 3}
    # a remitter that is neither the receiver nor a collector it paid for never matches
    assert same_money([VoucherTotal("G", d, "ELSE", 70_000, "FT3")], transfers) == {}


def test_discharges_count_where_they_belong_first_and_never_settle_the_month() -> None:
    on = date(2021, 4, 1)
    lines = discharge_lines([
        Discharge(7, "FT7", "CENTRE", on, "DEPT", "2771", date(2021, 3, 31), 30_000),
        Discharge(7, "FT7", "CENTRE", on, "DEPT", "2771", date(2021, 3, 31), 20_000),
        Discharge(7, "FT7", "CENTRE", on, "DEPT", "2632", date(2021, 3, 31), 5_000),
        Discharge(8, "FT8", "CENTRE", on, "DEPT", "2771", date(2021, 3, 2), 0)])
    assert [(ln.remitter, ln.budget_code, ln.month, ln.amount, ln.paid_by) for ln in lines] == [
        ("DEPT", "2632", MARCH, 5_000, "CENTRE"), ("DEPT", "2771", MARCH, 50_000, "CENTRE")]
    # an undated voucher of the same day pays what the transfer left, not the same month twice
    owed = {KEY: 60_000, ("DEPT", "2771", date(2021, 2, 1)): 0}
    voucher = VoucherLine(1, "GNT-1", date(2021, 3, 31), "DEPT", "2771", 10_000)
    got = allocate(owed, [voucher, *lines])
    assert got.remitted[KEY] == 60_000 and got.by_receiver[KEY] == 50_000
    assert KEY not in got.settled  # dated April, yet the collector settled nothing
    assert [p.paid_by for p in got.parts if p.key == KEY] == ["CENTRE", None]


# --------------------------------------------------------------------------- the database


def _world(db: Database, clock: FixedClock) -> None:
    """CENTRE receives a lệ phí of 100.000 ₫ (2771) that DEPT collects: CENTRE pays it into the
    budget itself; March owes DEPT 100.000 ₫ under 2771."""
    with db.transaction() as s:
        for code, name in (("CENTRE", "Trung tâm Phục vụ hành chính công"),
                           ("DEPT", "Sở Tư pháp")):
            create_agency(s, clock, code=code, name=name, bank_bin="970415",
                          account_number="113000000000", account_name="TEST", actor="test")
    body = {"code": "HT-1", "agency_code": "CENTRE", "procedure_code": "1.001193",
            "procedure_name": "Đăng ký khai sinh", "applicant_name": "Lê Văn Tám",
            "received_at": "2021-03-02T09:00:00+07:00",
            "fees": [{"kind": "le_phi", "name": "Lệ phí hộ tịch", "amount": 100_000,
                      "budget_code": "2771", "collector_code": "DEPT"}]}
    with db.transaction() as s:
        upsert_dossier(s, clock, parse_dossier(body), actor="test")
        record_payment(s, clock, PaymentEvent(
            provider="cash", provider_txn_id="CASH-1", channel="cash", amount=100_000,
            status="succeeded", paid_at=datetime(2021, 3, 2, 10, tzinfo=VN_TZ),
            dossier_code="HT-1"), actor="user:thungan", reference_prefix="HS")


def _run(db: Database, clock: FixedClock, when: datetime, mode: str = "auto") -> None:
    run_reconciliation(db, clock=clock, audit=record_on, mode=mode, as_of=when,
                       config=EngineConfig(remittances=remittance_config({})),
                       triggered_by="test")


def _open(db: Database) -> dict[str, tuple[int, int]]:
    with db.read() as s:
        return {i: (e, a) for i, e, a in s.execute(
            select(Discrepancy.identity, Discrepancy.expected_amount, Discrepancy.actual_amount)
            .where(Discrepancy.status == "open", Discrepancy.kind.like("remittance_%")))}


def _pay_in(db: Database, clock: FixedClock, ref: str = "FT21000001") -> None:
    record_transfer(db, clock, agency="CENTRE", to="budget", amount=100_000,
                    at=datetime(2021, 3, 2, 17, tzinfo=VN_TZ), reference=ref, actor="test")


def _voucher(db: Database, clock: FixedClock, no: str, ref: str | None,
             on: date = date(2021, 3, 2), who: str = "DEPT") -> None:
    record_voucher(db, clock, VoucherIn(no, on, who, (LineIn("599", "2771", "46", 100_000,
                                                             period=MARCH),),
                                        bank_reference=ref), actor="test")


def test_the_centres_transfer_is_the_collectors_remittance(db: Database,
                                                            clock: FixedClock) -> None:
    _world(db, clock)
    late = datetime(2021, 4, 21, 9, tzinfo=VN_TZ)
    _run(db, clock, late)
    assert list(_open(db).values()) == [(100_000, 0)]  # DEPT's March 2771: overdue
    _pay_in(db, clock)
    _run(db, clock, late.replace(hour=10))
    assert _open(db) == {}  # resolved: the centre's transfer counts for DEPT
    with db.read() as s:
        reason = s.scalar(select(Discrepancy.auto_resolved_reason).where(
            Discrepancy.kind == "remittance_overdue"))
        decl = declarations.monthly(s, MARCH, collectors=["DEPT"])
        paid = receiver_payments(s)
    assert reason is not None and "FT21000001 (CENTRE)" in reason
    [row] = decl.collectors[0].rows
    assert (row.to_remit, row.remitted, row.remitted_by_receiver, row.difference) == (
        100_000, 100_000, 100_000, 0)
    assert decl.as_dict()["collectors"][0]["le_phi"][0]["remitted_by_receiver"] == 100_000
    assert [(p.transfer, p.receiver, p.collector, p.budget_code, p.month, p.amount)
            for p in paid] == [("FT21000001 (CENTRE)", "CENTRE", "DEPT", "2771", "03/2021",
                                100_000)]


def test_a_voucher_for_the_same_money_is_counted_once(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    _pay_in(db, clock)
    _voucher(db, clock, "GNT-REF", "FT21000001", on=date(2021, 3, 3))  # by reference
    _voucher(db, clock, "GNT-OTHER", "FT21009999")  # another payment: money of its own
    when = datetime(2021, 4, 21, 9, tzinfo=VN_TZ)
    _run(db, clock, when, "full")
    assert list(_open(db).values()) == [(100_000, 200_000)]  # the other voucher: excess
    with db.read() as s:
        pages = {v.voucher_no: v for v in voucher_page(s)}
    assert pages["GNT-REF"].same_as == "FT21000001 (CENTRE)"
    assert pages["GNT-REF"].lines[0]["allocated"] == []
    assert pages["GNT-OTHER"].same_as is None and pages["GNT-OTHER"].lines[0]["allocated"]


def test_without_a_reference_the_day_and_total_tell(db: Database, clock: FixedClock) -> None:
    _world(db, clock)
    _pay_in(db, clock)
    _voucher(db, clock, "GNT-SAME", None)  # same day, same total
    _run(db, clock, datetime(2021, 4, 21, 9, tzinfo=VN_TZ), "full")
    assert _open(db) == {}
    _voucher(db, clock, "GNT-LATER", None, on=date(2021, 3, 9))  # another day: more money
    _run(db, clock, datetime(2021, 4, 21, 10, tzinfo=VN_TZ))
    assert list(_open(db).values()) == [(100_000, 200_000)]


def test_the_pages_label_what_the_centre_paid_in(app: Flask, db: Database, clock: FixedClock,
                                                 make_user: Callable[..., str]) -> None:
    _world(db, clock)
    _pay_in(db, clock)
    _voucher(db, clock, "GNT-REF", "FT21000001")
    client = _session_client(app, make_user, "finance", "ketoan1")[0]
    html = client.get("/finance/remittances").get_data(as_text=True)
    assert "Đơn vị tiếp nhận nộp thay vào ngân sách" in html
    assert "FT21000001 (CENTRE)" in html and format_vnd(100_000) in html
    assert "Cùng khoản tiền với lệnh chuyển FT21000001 (CENTRE)" in html
    page = client.get("/finance/declarations?month=2021-03&agency=DEPT").get_data(as_text=True)
    assert f"trong đó đơn vị tiếp nhận nộp thay: {format_vnd(100_000)}" in page
    english = client.get("/finance/remittances?lang=en").get_data(as_text=True)
    assert "Paid in by the receiving centre" in english
