"""The quarterly report counts each share of a transfer split across several dossiers (issue 17
§4) under its own dossier: its agency, procedure field and received channel, on the world of
``helpers`` plus one split transfer across two agencies and two procedures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from recon.db import Database
from recon.models import Dossier, FeeLine, Payment, PaymentAllocation
from recon.review import reports
from recon.scope import Scope
from tests.finance.helpers import T0, build_world, vn


@pytest.fixture
def split_db(db: Database) -> Database:
    """The world, plus d16 (Hộ tịch, AG2, counter, 25,000, received 20/03/2021), and one SePay
    transfer of 65,000 on 21/03/2021 split as d7's 40,000 (Đất đai, AG1, online) and d16's
    25,000; the transfer itself names no dossier."""
    world = build_world(db)
    with db.transaction() as s:
        d7 = s.get(Dossier, world.dossiers["d7"])
        d1 = s.get(Dossier, world.dossiers["d1"])
        d3 = s.get(Dossier, world.dossiers["d3"])
        assert d7 is not None and d1 is not None and d3 is not None
        d16 = Dossier(code="000.00.21.H57-T-D16", agency_id=d3.agency_id,
                      procedure_id=d1.procedure_id, applicant_name="Công dân d16",
                      received_at=vn(2021, 3, 20), received_channel="counter")
        d16.fee_lines = [FeeLine(position=0, kind="le_phi", name="Khoản 0", amount=25_000)]
        s.add(d16)
        at = vn(2021, 3, 21, 10)
        transfer = Payment(provider="sepay", provider_txn_id="TX-split", channel="vietqr",
                           amount=65_000, status="succeeded", paid_at=at, received_at=at,
                           dossier_id=None, recorded_by="test", updated_at=at)
        s.add(transfer)
        s.flush()
        s.add_all([PaymentAllocation(payment_id=transfer.id, dossier_id=d7.id, amount=40_000,
                                     created_at=at),
                   PaymentAllocation(payment_id=transfer.id, dossier_id=d16.id, amount=25_000,
                                     created_at=at)])
    return db


def test_the_quarterly_report_counts_split_shares_per_dossier(split_db: Database) -> None:
    with split_db.read() as s:
        r = reports.quarterly_report(s, 2021, 1)
    t = r.total  # the world's 7 paid dossiers and 810,000 cashless, plus d7 and d16
    assert (t.received, t.paid) == (11, 9)
    assert (t.paid_cashless, t.cashless_amount) == (8, 875_000)
    assert (t.paid_cash, t.cash_amount) == (2, 210_000)
    fields = {row.key: (row.received, row.paid, row.paid_cashless, row.cashless_amount)
              for row in r.by_field}
    assert fields == {"Hộ tịch": (5, 5, 5, 225_000), "Đất đai": (5, 4, 3, 650_000),
                      "—": (1, 0, 0, 0)}
    received = {row.key: (row.received, row.paid, row.paid_cashless, row.cashless_amount)
                for row in r.by_received_channel}
    assert received == {"counter": (5, 5, 4, 125_000), "online": (5, 4, 4, 750_000),
                        "postal": (1, 0, 0, 0)}
    channels = {c.channel: (c.dossiers, c.payments, c.amount) for c in r.by_payment_channel}
    assert channels["vietqr"] == (5, 4, 165_000)  # one transfer, two dossiers paid by it
    assert sum(c.amount for c in r.by_payment_channel) == t.cashless_amount + t.cash_amount


def test_an_agency_sees_only_its_share_of_a_split_transfer(split_db: Database) -> None:
    with split_db.read() as s:
        agency = dict(s.execute(select(Dossier.code, Dossier.agency_id).where(
            Dossier.code.in_(["000.00.21.H57-T-D7", "000.00.21.H57-T-D16"]))).all())
        ag1 = reports.quarterly_report(s, 2021, 1, Scope.of([agency["000.00.21.H57-T-D7"]]))
        ag2 = reports.quarterly_report(s, 2021, 1, Scope.of([agency["000.00.21.H57-T-D16"]]))
    # AG1: d1, d8, d9's 100,000 by QR and d7's share; AG2: d16's share (d14 is paid today)
    assert {c.channel: c.amount for c in ag1.by_payment_channel}["vietqr"] == 140_000
    assert {c.channel: c.amount for c in ag2.by_payment_channel}["vietqr"] == 25_000
    assert ag1.total.cashless_amount + ag2.total.cashless_amount == 875_000


def test_an_agency_dashboard_collects_its_share_of_a_split_transfer(split_db: Database) -> None:
    with split_db.read() as s:
        agency = dict(s.execute(select(Dossier.code, Dossier.agency_id).where(
            Dossier.code.in_(["000.00.21.H57-T-D7", "000.00.21.H57-T-D16"]))).all())
        ag1 = reports.dashboard(s, T0, day=date(2021, 3, 21),
                                scope=Scope.of([agency["000.00.21.H57-T-D7"]]))
        ag2 = reports.dashboard(s, T0, day=date(2021, 3, 21),
                                scope=Scope.of([agency["000.00.21.H57-T-D16"]]))
        everyone = reports.dashboard(s, T0, day=date(2021, 3, 21))
    for board, amount in ((ag1, 40_000), (ag2, 25_000), (everyone, 65_000)):
        assert (board.today.collected.count, board.today.collected.amount) == (1, amount)
        assert [(f.key, f.amount) for f in board.today.collected_by_provider] == [
            ("sepay", amount)]
