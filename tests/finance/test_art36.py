"""The Art. 36 daily reconciliation report (Decision 31/2021/QĐ-TTg): summary by agency,
provider, transaction type, status and processing result; one line per transaction; the time
of the reconciliation run; the page, its downloads and `recon report daily`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from recon.cli import cli
from recon.db import Database
from recon.models import Agency
from recon.review import reports
from recon.scope import Scope
from tests.finance.helpers import T0, World, build_world
from tests.finance.test_roles import _session_client

#: every payment day of the hand-built world, and one without any
DAYS = [date(2021, 1, 5), date(2021, 2, 1), date(2021, 2, 3), date(2021, 2, 4),
        date(2021, 3, 1), date(2021, 3, 2), date(2021, 3, 10), date(2021, 3, 31),
        date(2026, 11, 26), date(2020, 6, 1)]


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


def _detail(db: Database, day: date, scope: Scope | None = None,
            agency_id: int | None = None) -> list[reports.Art36Line]:
    with db.read() as s:
        run = reports.covering_run(s, day)
    kwargs = {"scope": scope} if scope is not None else {}
    return list(reports.art36_all_detail(db.read, day, agency_id=agency_id, run=run, batch=2,
                                         **kwargs))


@pytest.mark.parametrize("day", DAYS)
def test_summary_equals_detail_and_the_daily_totals(world: World, db: Database,
                                                    day: date) -> None:
    with db.read() as s:
        report = reports.art36_report(s, day)
        daily = reports.daily_summary(s, day)
    lines = _detail(db, day)
    assert report.count == len(lines) == daily.totals["payments"]
    assert report.amount == sum(d.amount for d in lines) == sum(r.amount for r in daily.payments)
    succeeded = [d for d in lines if d.status == "succeeded"]
    assert sum(d.amount for d in succeeded) == daily.totals["succeeded_amount"]
    # each summary row is the sum of its detail lines
    for row in report.summary:
        mine = [d for d in lines if (d.agency_code, d.provider, d.txn_type, d.status, d.result)
                == (row.agency_code, row.provider, row.txn_type, row.status, row.result)]
        assert (row.count, row.amount) == (len(mine), sum(d.amount for d in mine))
        assert set(row.kinds) == {k for d in mine for k in d.kinds}


def test_results_types_kinds_and_run_time(world: World, db: Database) -> None:
    with db.read() as s:
        feb1 = reports.art36_report(s, date(2021, 2, 1))
        feb4 = reports.art36_report(s, date(2021, 2, 4))
        mar1 = reports.art36_report(s, date(2021, 3, 1))
        mar2 = reports.art36_report(s, date(2021, 3, 2))
        today = reports.art36_report(s, date(2026, 11, 26))
    def key(r: reports.Art36Row) -> tuple[object, ...]:
        return (r.agency_code, r.provider, r.txn_type, r.status, r.result, r.kinds, r.count,
                r.amount)

    assert [key(r) for r in feb1.summary] == [
        ("AG1", "vnpay", "payment", "failed", "no_settlement", (), 1, 100_000),
        ("AG1", "vnpay", "payment", "succeeded", "settled", (), 1, 100_000)]
    assert [key(r) for r in feb4.summary] == [
        ("AG2", "momo", "payment", "succeeded", "awaiting_settlement", (), 1, 300_000),
        ("AG2", "momo", "payment", "succeeded", "discrepancy", ("duplicate_payment",), 1,
         300_000)]
    assert {(r.provider, r.result) for r in mar1.summary} == {
        ("cash", "cash"), ("casso", "awaiting_settlement")}
    assert [key(r) for r in mar2.summary] == [
        ("AG1", "zalopay", "refund", "refunded", "discrepancy", ("status_mismatch",), 1,
         50_000)]
    # the world's one run is as of T0 (10:00 ICT on 26/11/2026): it covers 2021; it saw
    # d14, paid at 09:00 that day, but not the whole day
    assert feb1.run is not None and feb1.run.covers_day and feb1.run.finished_at == T0
    assert all(r.reconciled_at == T0 for r in feb1.summary)
    assert today.run is not None and not today.run.covers_day
    assert [r.reconciled_at for r in today.summary] == [T0]
    assert feb4.as_dict()["basis"].startswith("Decision 31/2021")


def test_scope_and_agency_narrow_both_tables(world: World, db: Database) -> None:
    with db.read() as s:
        ids = {code: id_ for code, id_ in s.execute(select(Agency.code, Agency.id))}
    ag2_only = Scope.of([ids["AG2"]])
    seen: dict[str, int] = {"AG1": 0, "AG2": 0}
    for day in DAYS:
        with db.read() as s:
            scoped = reports.art36_report(s, day, ag2_only)
            narrowed = reports.art36_report(s, day, agency_id=ids["AG1"])
            both = reports.art36_report(s, day, ag2_only, agency_id=ids["AG1"])
        whole_lines = _detail(db, day)
        assert _detail(db, day, ag2_only) == [d for d in whole_lines if d.agency_code == "AG2"]
        assert _detail(db, day, agency_id=ids["AG1"]) == [
            d for d in whole_lines if d.agency_code == "AG1"]
        assert {r.agency_code for r in scoped.summary} <= {"AG2"}
        assert {r.agency_code for r in narrowed.summary} <= {"AG1"}
        assert scoped.count == sum(1 for d in whole_lines if d.agency_code == "AG2")
        assert narrowed.count == sum(1 for d in whole_lines if d.agency_code == "AG1")
        assert both.count == 0  # another agency than the scope's: nothing, never widened
        seen["AG1"] += narrowed.count
        seen["AG2"] += scoped.count
    assert seen["AG1"] > 0 and seen["AG2"] > 0


@pytest.fixture
def finance(app: Flask, make_user: Callable[..., str], world: World) -> tuple[FlaskClient, str]:
    return _session_client(app, make_user, "finance", "ketoan")


def test_page_and_downloads(finance: tuple[FlaskClient, str], db: Database) -> None:
    client, _csrf = finance
    page = client.get("/finance/reports/daily?day=2021-02-04")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Điều 36" in text and "Có chênh lệch đang mở" in text and "Chờ quyết toán" in text
    assert "600.000\u00a0₫" in text and "TX-d4-dup" in text
    english = client.get("/finance/reports/daily?day=2021-02-04&lang=en").get_data(as_text=True)
    assert "Awaiting settlement" in english
    data = client.get("/finance/reports/daily.json?day=2021-02-04").get_json()
    assert data["count"] == 2 and data["amount"] == 600_000
    # no portal list of that day: said, on the page and in the data
    assert data["portal"]["imported"] is False
    assert "Chưa nhập danh sách giao dịch của Cổng cho ngày này" in text
    assert [d["provider_txn_id"] for d in data["detail"]] == ["TX-d4", "TX-d4-dup"]
    assert sum(r["amount"] for r in data["summary"]) == sum(d["amount"] for d in data["detail"])
    detail_csv = client.get("/finance/reports/daily.csv?day=2021-02-04")
    rows = list(csv.reader(io.StringIO(detail_csv.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Đơn vị" and len(rows) == 3
    assert [r[3] for r in rows[1:]] == ["TX-d4", "TX-d4-dup"]
    summary_csv = client.get("/finance/reports/daily.csv?day=2021-02-04&part=summary")
    srows = list(csv.reader(io.StringIO(summary_csv.data.decode("utf-8-sig"))))
    assert sum(int(r[7]) for r in srows[1:]) == 600_000
    book = load_workbook(io.BytesIO(client.get("/finance/reports/daily.xlsx?day=2021-02-04").data),
                         read_only=True)
    assert book.sheetnames == ["Tổng hợp", "Chi tiết", "Cổng DVCQG"]
    portal_rows = list(book["Cổng DVCQG"].iter_rows(min_row=2, values_only=True))
    assert portal_rows and all(r[7] == "Chưa nhập danh sách của Cổng" for r in portal_rows)
    assert sum(r[6] for r in book["Chi tiết"].iter_rows(min_row=2, values_only=True)) == 600_000
    assert client.get("/finance/reports/daily.pdf?day=2021-02-04").status_code == 404
    assert client.get("/finance/reports/daily.csv?day=someday").status_code == 422


def test_cli_formats(finance: tuple[FlaskClient, str], tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["report", "daily", "--date", "2021-03-01"]
    as_json = json.loads(runner.invoke(cli, [*args, "--format", "json"],
                                       catch_exceptions=False).output)
    assert as_json["count"] == 2 and as_json["amount"] == 30_000
    assert {d["result"] for d in as_json["detail"]} == {"cash", "awaiting_settlement"}
    text = runner.invoke(cli, args, catch_exceptions=False)
    assert text.exit_code == 0 and "Art. 36" in text.output and "TX-d9-cash" in text.output
    assert "no portal list was imported for this day" in text.output
    csv_out = tmp_path / "d.csv"
    assert runner.invoke(cli, [*args, "--format", "csv", "-o", str(csv_out)]).exit_code == 0
    rows = list(csv.reader(io.StringIO(csv_out.read_text("utf-8-sig"))))
    assert sorted(int(r[6]) for r in rows[1:]) == [10_000, 20_000]
    xlsx_out = tmp_path / "d.xlsx"
    assert runner.invoke(cli, [*args, "--format", "xlsx"]).exit_code == 2  # needs -o
    assert runner.invoke(cli, [*args, "--format", "xlsx", "-o", str(xlsx_out)]).exit_code == 0
    book = load_workbook(xlsx_out, read_only=True)
    assert sum(r[7] for r in book["Tổng hợp"].iter_rows(min_row=2, values_only=True)) == 30_000
    ag1 = json.loads(runner.invoke(cli, [*args, "--agency", "AG1", "--format", "json"]).output)
    assert ag1["agency"] == "AG1" and [d["agency"] for d in ag1["detail"]] == ["AG1", "AG1"]
    ag2 = json.loads(runner.invoke(cli, [*args, "--agency", "AG2", "--format", "json"]).output)
    assert ag2["count"] == 0 and ag2["detail"] == []
    bad = runner.invoke(cli, [*args, "--agency", "NOPE"])
    assert bad.exit_code == 2 and "unknown agency NOPE" in bad.output
    assert runner.invoke(cli, ["report", "daily", "--date", "01/03/2021"]).exit_code == 2


def test_exports_are_formula_safe_and_the_page_is_limited(
        finance: tuple[FlaskClient, str], db: Database, world: World,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from recon.models import Payment
    from recon.web import finance as views

    with db.transaction() as s:
        dup = s.get(Payment, world.payments["d4-dup"])
        assert dup is not None
        dup.provider_txn_id = "=HYPERLINK(\"x\")"
    client, _csrf = finance
    rows = list(csv.reader(io.StringIO(client.get(
        "/finance/reports/daily.csv?day=2021-02-04").data.decode("utf-8-sig"))))
    assert [r[3] for r in rows[1:]] == ["TX-d4", "'=HYPERLINK(\"x\")"]
    book = load_workbook(io.BytesIO(client.get("/finance/reports/daily.xlsx?day=2021-02-04").data),
                         read_only=True)
    cells = [r[3] for r in book["Chi tiết"].iter_rows(min_row=2, values_only=True)]
    assert cells == ["TX-d4", "'=HYPERLINK(\"x\")"]
    monkeypatch.setattr(views, "DAILY_DETAIL_PAGE", 1)
    first = client.get("/finance/reports/daily?day=2021-02-04").get_data(as_text=True)
    assert "TX-d4<" in first and "HYPERLINK" not in first and "after=" in first
    assert "Đang hiện 1 trên 2 giao dịch" in first
    second = client.get(f"/finance/reports/daily?day=2021-02-04&after={world.payments['d4']}")
    assert "HYPERLINK" in second.get_data(as_text=True)


def test_the_page_shows_the_portal_list_of_the_day(finance: tuple[FlaskClient, str],
                                                   db: Database, world: World) -> None:
    """AG2's list of 04/02/2021 has one of its two MoMo payments: the portal's figure and
    recon's differ, on the page (vi and en) and in the workbook; another scope sees none."""
    from recon.clock import FixedClock
    from recon.portal.importer import import_portal_list

    with db.read() as s:
        ids = {c: i for c, i in s.execute(select(Agency.code, Agency.id))}
    listed = ("Mã giao dịch,Mã hồ sơ,Mã giao dịch trung gian,Trung gian thanh toán,Số tiền,"
              "Trạng thái,Thời gian giao dịch\n"
              f"G22.99.3-210204-000001,{world.codes['d4']}"
              ",TX-d4,MoMo,300.000,Thành công,04/02/2021 10:00:00\n").encode()
    import_portal_list(db, FixedClock(T0), listed, "dvc-ag2-0402.csv", agency="AG2",
                       actor="test")
    client, _csrf = finance
    text = client.get("/finance/reports/daily?day=2021-02-04").get_data(as_text=True)
    assert 'data-testid="art36-portal"' in text and "dvc-ag2-0402.csv" in text
    assert "Chưa nhập danh sách giao dịch của Cổng cho ngày này" not in text
    assert "Lệch" in text  # 1 listed, 2 paid
    english = client.get("/finance/reports/daily?day=2021-02-04&lang=en").get_data(as_text=True)
    assert "National Public Service Portal" in english and "Differs" in english
    data = client.get("/finance/reports/daily.json?day=2021-02-04").get_json()
    [ag2] = [p for p in data["portal"]["agencies"] if p["agency"] == "AG2"]
    assert (ag2["portal_count"], ag2["portal_amount"], ag2["recon_count"],
            ag2["recon_amount"], ag2["agrees"]) == (1, 300_000, 2, 600_000, False)
    with db.read() as s:
        only_ag1 = reports.art36_report(s, date(2021, 2, 4), Scope.of([ids["AG1"]]))
    assert all(p.agency_code == "AG1" for p in only_ag1.portal)
