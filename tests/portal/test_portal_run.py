"""``portal_mismatch`` through real runs: the portal's list of a day against recon's payments
and the providers' lines; full and incremental runs, auto-resolution; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recon.clock import FixedClock
from recon.db import Database
from recon.portal.importer import import_portal_list
from tests.conftest import T0
from tests.reconcile.recon_builders import World

DAY = date(2026, 11, 26)  # T0 is 26/11/2026 10:00 in Huế
HEADER = ("Mã giao dịch,Mã hồ sơ,Mã giao dịch trung gian,Trung gian thanh toán,Số tiền,"
          "Trạng thái,Thời gian giao dịch\n")


def row(n: int, code: str, txn: str, amount: int, status: str = "Thành công",
        when: str = "26/11/2026 10:00:00") -> str:
    return f"G22.99.3-261126-{n:06d},{code},{txn},VNPAY,{amount},{status},{when}\n"


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock)


def portal(w: World, rows: list[str], name: str = "dvc.csv") -> None:
    import_portal_list(w.db, w.clock, (HEADER + "".join(rows)).encode(), name,
                       agency="HUE-TTHCC", actor="test")


def open_portal(w: World) -> dict[str, str]:
    return {d.identity: d.explanation_en or "" for d in w.discrepancies("open")
            if d.kind == "portal_mismatch"}


def three_payments(w: World) -> tuple[list[str], list[int]]:
    codes, ids = [], []
    for i in range(3):
        d = w.dossier()
        codes.append(w.codes[d])
        ids.append(w.pay(180000, txn=f"V{i + 1}", dossier_code=w.codes[d]))
        w.settle("vnpay", f"V{i + 1}", 180000)
    return codes, ids


def test_what_the_portal_and_recon_tell_differently_is_found_and_resolved(w: World) -> None:
    codes, (p1, p2, p3) = three_payments(w)
    portal(w, [row(1, codes[0], "V1", 180000),
               row(2, codes[1], "V2", 150000),           # amount differs
               row(3, codes[2], "V9", 50000),            # recon lacks it
               row(4, codes[2], "V8", 20000, "Thất bại")])  # failed: no money, no finding
    # V3 (p3) is missing from the portal's list
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    found = open_portal(w)
    assert set(found) == {f"portal_mismatch:payment={p2}", f"portal_mismatch:payment={p3}",
                          "portal_mismatch:portal_line=3"}
    assert "differ on the amount" in found[f"portal_mismatch:payment={p2}"]
    assert "150.000\u00a0₫" in found[f"portal_mismatch:payment={p2}"]
    assert "180.000\u00a0₫" in found[f"portal_mismatch:payment={p2}"]
    assert "settled 180.000\u00a0₫" in found[f"portal_mismatch:payment={p2}"]
    assert "portal's list of that day lacks it" in found[f"portal_mismatch:payment={p3}"]
    assert "recon has no such payment" in found["portal_mismatch:portal_line=3"]
    [vi] = [d.explanation for d in w.discrepancies("open")
            if d.identity == f"portal_mismatch:payment={p2}"]
    assert "Cổng DVCQG" in vi and "Lệch số tiền" in vi
    assert p1 not in {d.payment_id for d in w.discrepancies("open")
                      if d.kind == "portal_mismatch"}

    # the portal publishes a corrected list of the day: it replaces the first
    w.later(minutes=5)
    portal(w, [row(1, codes[0], "V1", 180000), row(2, codes[1], "V2", 180000),
               row(5, codes[2], "V3", 180000)], "dvc-corrected.csv")
    w.later(minutes=5)
    w.run("incremental", as_of=w.clock.now())
    assert open_portal(w) == {}
    resolved = {d.identity: d.auto_resolved_reason_en for d in w.discrepancies("auto_resolved")
                if d.kind == "portal_mismatch"}
    assert "now agree" in (resolved[f"portal_mismatch:payment={p2}"] or "")
    assert "now agree" in (resolved[f"portal_mismatch:payment={p3}"] or "")
    assert "no longer in the newest list" in (resolved["portal_mismatch:portal_line=3"] or "")
    assert [r.mode for r in w.runs()] == ["full", "incremental"]


def test_an_incremental_run_finds_a_later_payment_the_portal_lacks(w: World) -> None:
    codes, (p1, _p2, _p3) = three_payments(w)
    portal(w, [row(1, codes[0], "V1", 180000), row(2, codes[1], "V2", 180000),
               row(3, codes[2], "V3", 180000, "Đang xử lý")])
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    # status: the portal says pending, recon succeeded
    assert list(open_portal(w)) == [f"portal_mismatch:payment={_p3}"]
    assert "differ on the status" in open_portal(w)[f"portal_mismatch:payment={_p3}"]
    # a payment recorded later for that day, which the list does not have
    d = w.dossier()
    late = w.pay(90000, txn="V7", dossier_code=w.codes[d], paid_at=T0 + timedelta(hours=3))
    w.later(minutes=5)
    summary = w.run("incremental", as_of=w.clock.now())
    assert summary.mode == "incremental"
    assert set(open_portal(w)) == {f"portal_mismatch:payment={_p3}",
                                   f"portal_mismatch:payment={late}"}
    # a payment of a day no list covers is none of the portal's business
    d = w.dossier()
    w.pay(70000, txn="V6", dossier_code=w.codes[d], paid_at=T0 + timedelta(days=1))
    w.later(minutes=5)
    w.run("incremental", as_of=w.clock.now())
    assert len(open_portal(w)) == 2
    del p1


def test_a_line_listed_twice_and_a_dossier_told_differently(w: World) -> None:
    codes, (_p1, p2, _p3) = three_payments(w)
    portal(w, [row(1, codes[0], "V1", 180000), row(2, codes[0], "V2", 180000),
               row(3, codes[2], "V3", 180000), row(4, codes[2], "V3", 180000)])
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    found = open_portal(w)
    assert set(found) == {f"portal_mismatch:payment={p2}", "portal_mismatch:portal_line=4"}
    assert "differ on the dossier" in found[f"portal_mismatch:payment={p2}"]
    assert "a second time" in found["portal_mismatch:portal_line=4"]
    # a full run again changes nothing
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    assert open_portal(w) == found
