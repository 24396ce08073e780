"""Report figures on the hand-built world of ``helpers``: every number worked out by hand."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from recon.db import Database
from recon.review import reports
from tests.finance.helpers import T0, build_world


@pytest.fixture
def world_db(db: Database) -> Database:
    build_world(db)
    return db


def test_quarterly_totals(world_db: Database) -> None:
    with world_db.read() as s:
        r = reports.quarterly_report(s, 2021, 1)
    t = r.total
    assert (t.received, t.received_online) == (10, 5)
    assert t.paid == 7  # d1 d2 d3 d4 d8 d9 d11; not d6 (paid 01/04 00:00), not d10 (refunded)
    assert (t.paid_cashless, t.cashless_amount) == (6, 810_000)  # the duplicate counts as money
    assert (t.paid_cash, t.cash_amount) == (2, 210_000)
    assert (t.share_bp, t.share_percent) == (8571, 86)
    assert r.as_dict()["cashless_share_percent"] == 86


def test_quarterly_by_field_and_channel(world_db: Database) -> None:
    with world_db.read() as s:
        r = reports.quarterly_report(s, 2021, 1)
    fields = {row.key: (row.received, row.received_online, row.paid, row.paid_cashless,
                        row.cashless_amount) for row in r.by_field}
    assert fields == {
        "Hộ tịch": (4, 1, 4, 4, 200_000),
        "Đất đai": (5, 4, 3, 2, 610_000),
        "—": (1, 0, 0, 0, 0),
    }
    channels = {c.channel: (c.dossiers, c.payments, c.amount) for c in r.by_payment_channel}
    assert channels == {
        "vietqr": (3, 3, 100_000), "vnpay": (1, 1, 100_000), "momo": (1, 2, 600_000),
        "zalopay": (0, 0, 0), "payos": (1, 1, 10_000), "pos": (0, 0, 0),
        "cash": (2, 2, 210_000),
    }
    received = {row.key: (row.received, row.paid, row.paid_cashless, row.cashless_amount)
                for row in r.by_received_channel}
    assert received == {"counter": (4, 4, 3, 100_000), "online": (5, 3, 3, 710_000),
                        "postal": (1, 0, 0, 0)}
    assert sum(v[0] for v in received.values()) == r.total.received
    assert sum(v[1] for v in received.values()) == r.total.paid


def test_quarter_boundaries_are_vietnam_time(world_db: Database) -> None:
    with world_db.read() as s:
        q2 = reports.quarterly_report(s, 2021, 2)
        q4 = reports.quarterly_report(s, 2020, 4)
    assert (q2.total.paid, q2.total.cashless_amount) == (1, 80_000)  # d6 at 01/04 00:00 ICT
    assert (q4.total.received, q4.total.paid) == (1, 0)  # d8 received 31/12 23:30 ICT


def test_quarterly_text_has_the_published_shape(world_db: Database) -> None:
    with world_db.read() as s:
        text = reports.quarterly_text(reports.quarterly_report(s, 2021, 1))
    assert "Dossiers received:" in text and "10" in text
    assert re.search(r"paid cashless:\s+6 \(86% of paid dossiers; 85,71%\)", text)
    assert "810,000" in text


def test_dashboard_today_and_month(world_db: Database) -> None:
    with world_db.read() as s:
        board = reports.dashboard(s, T0)
    today, month = board.today, board.month
    assert [(f.key, f.count, f.amount) for f in today.collected_by_channel] == [
        ("vietqr", 1, 45_000)]
    assert [(f.key, f.amount) for f in today.collected_by_provider] == [("sepay", 45_000)]
    assert (today.settled.count, today.settled.amount) == (1, 45_000)
    assert (today.outstanding.count, today.outstanding.amount) == (1, 15_000)  # d12
    assert (month.collected.count, month.collected.amount) == (2, 115_000)
    assert {f.key: f.amount for f in month.collected_by_channel} == {"cash": 70_000,
                                                                     "vietqr": 45_000}
    assert (month.outstanding.count, month.outstanding.amount) == (2, 40_000)  # d12 d13
    assert (board.outstanding_all.count, board.outstanding_all.amount) == (4, 130_000)
    by_kind = {f.key: (f.count, f.amount) for f in board.open_by_kind if f.count}
    assert by_kind == {"duplicate_payment": (1, 300_000), "unmatched_payment": (1, 70_000),
                       "missing_settlement": (1, 10_000), "amount_mismatch": (1, 1_000),
                       "status_mismatch": (1, 50_000), "overpaid": (1, 5_000)}
    assert [(f.key, f.count, f.amount) for f in board.open_by_age] == [
        ("0–1", 3, 375_000), ("2–3", 1, 10_000), ("4–7", 1, 1_000), ("> 7", 1, 50_000)]
    assert (board.open_total.count, board.pending_approval) == (6, 1)
    assert board.last_run is not None


def test_dashboard_for_another_day(world_db: Database) -> None:
    with world_db.read() as s:
        board = reports.dashboard(s, T0, day=date(2021, 2, 4))
    assert (board.today.collected.count, board.today.collected.amount) == (2, 600_000)
    # February 2021: d2 (vnpay), d3 (cash), d4 twice (momo)
    assert (board.month.collected.count, board.month.collected.amount) == (4, 900_000)
    assert (board.month.settled.count, board.month.settled.fee) == (1, 880)


def test_daily_summary(world_db: Database) -> None:
    with world_db.read() as s:
        feb1 = reports.daily_summary(s, date(2021, 2, 1))
        feb2 = reports.daily_summary(s, date(2021, 2, 2))
        today = reports.daily_summary(s, date(2026, 11, 26))
    rows = [(r.agency_code, r.provider, r.channel, r.status, r.count, r.amount, r.settled_count,
             r.settled_amount) for r in feb1.payments]
    assert rows == [("AG1", "vnpay", "vnpay", "failed", 1, 100_000, 0, 0),
                    ("AG1", "vnpay", "vnpay", "succeeded", 1, 100_000, 1, 100_000)]
    assert feb1.totals["succeeded_amount"] == 100_000
    assert feb1.totals["unsettled_count"] == 0
    assert [(x.provider, x.count, x.amount, x.fee, x.net) for x in feb2.settled] == [
        ("vnpay", 1, 100_000, 880, 99_120)]
    assert feb2.payments == []
    kinds = {k.kind: (k.open, k.resolved, k.auto_resolved) for k in today.discrepancies}
    assert kinds == {"duplicate_payment": (1, 0, 0), "overpaid": (1, 0, 0)}
    assert today.runs == 1


def test_daily_summary_names_unmatched_money(world_db: Database) -> None:
    with world_db.read() as s:
        day = reports.daily_summary(s, date(2021, 3, 10))
    assert [(r.agency_code, r.provider, r.amount, r.settled_count) for r in day.payments] == [
        (None, "sepay", 70_000, 0)]
    assert day.totals["unsettled_count"] == 1


def test_outstanding_with_age_and_pages(world_db: Database) -> None:
    with world_db.read() as s:
        page = reports.outstanding(s, T0, limit=3)
        rest = reports.outstanding(s, T0, limit=3, after=page.next_after)
        old = reports.outstanding(s, T0, min_age_days=3)
        ag2 = reports.outstanding(s, T0, agency_code="AG2")
    codes = [r.code.rsplit("-", 1)[1] for r in page.rows + rest.rows]
    assert codes == ["D10", "D7", "D13", "D12"]  # oldest first: 02/03/2021, 20/03/2021, ...
    assert [r.assessed for r in page.rows + rest.rows] == [50_000, 40_000, 25_000, 15_000]
    ages = [r.age_days for r in page.rows + rest.rows]
    assert ages[2:] == [3, 0]
    assert ages[0] == (date(2026, 11, 26) - date(2021, 3, 2)).days
    assert page.next_after is not None and rest.next_after is None
    assert (page.total.count, page.total.amount) == (4, 130_000)
    assert [(b.key, b.count, b.amount) for b in page.by_age] == [
        ("0–1", 1, 15_000), ("2–3", 1, 25_000), ("4–7", 0, 0), ("> 7", 2, 90_000)]
    assert [r.code.rsplit("-", 1)[1] for r in old.rows] == ["D10", "D7", "D13"]
    assert ag2.rows == [] and ag2.total.count == 0


@pytest.mark.parametrize(("part", "whole", "bp", "percent"), [
    (2835, 4648, 6099, 61), (1, 3, 3333, 33), (2, 3, 6667, 67), (1, 2, 5000, 50),
    (0, 0, 0, 0), (5, 5, 10000, 100), (1, 8, 1250, 13),
])
def test_shares_are_integers_rounded_half_up(part: int, whole: int, bp: int,
                                             percent: int) -> None:
    assert reports.share_bp(part, whole) == bp
    assert reports.share_percent(part, whole) == percent
    assert isinstance(reports.share_bp(part, whole), int)


def test_daily_summary_counts_a_payment_settled_by_the_bank_statement(
        world_db: Database) -> None:
    """A SePay credit listed by the bank's reference on the statement is settled."""
    from recon.models import Payment, SettlementFile, SettlementLine

    with world_db.transaction() as s:
        payment = s.scalars(select(Payment).where(
            Payment.provider_txn_id == "TX-unmatched")).one()
        payment.bank_reference = "FT21069000777"
        f = SettlementFile(provider="sepay", filename="vietinbank-2021-03-10.csv",
                           sha256="f" * 64, size=1, content=b"x", imported_by="test",
                           row_count=1, total_amount=70_000)
        s.add(f)
        s.flush()
        s.add(SettlementLine(file_id=f.id, line_no=1, provider="sepay",
                             provider_txn_id="FT21069000777", amount=70_000, fee=0,
                             net=70_000, settled_on=date(2021, 3, 10)))
    with world_db.read() as s:
        day = reports.daily_summary(s, date(2021, 3, 10))
    assert [(r.provider, r.amount, r.settled_count, r.settled_amount)
            for r in day.payments] == [("sepay", 70_000, 1, 70_000)]
    assert day.totals["unsettled_count"] == 0
