"""/finance/payouts through HTTP: each batch with its credit and state, the filters, the
exports (formula prefixes made inert), and both sides on a payout discrepancy's page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from recon.accounts.scopes import set_user_scope, user_id_by_name
from recon.clock import FixedClock
from recon.db import Database
from recon.review import payouts as payout_reads
from recon.settlements.payouts import engine_config, payout_config
from tests.finance.test_roles import _session_client
from tests.foundation.helpers import AGENCY
from tests.reconcile.payout_builders import (
    MON,
    credit,
    pay_and_settle,
    statement_of_wednesday,
    vn,
)
from tests.reconcile.recon_builders import World


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    """VNPay's Fri+Sat session credited (FT001), Monday's never; a credit no batch explains
    (its memo starts like a formula); reconciled as of the app's clock (Thursday 26/11)."""
    w = World(db, clock, config=engine_config({}))
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11"),
                    ("FT002", 55000, "=VNPAY HYPERLINK(1)")])
    statement_of_wednesday(w)
    w.run("full", as_of=clock.now())
    return w


@pytest.fixture
def finance(app: Flask, make_user: Callable[..., str], world: World) -> tuple[FlaskClient, str]:
    return _session_client(app, make_user, "finance", "ketoan")


def test_the_page_shows_each_batch_with_its_credit_and_state(
        finance: tuple[FlaskClient, str], world: World) -> None:
    client, csrf = finance
    page = client.get("/finance/payouts?month=2026-11").get_data(as_text=True)
    assert "Tiền chuyển về: đợt chuyển tiền và ghi có ngân hàng" in page
    assert page.count('data-testid="payout-batch"') == 2
    assert 'data-state="paid"' in page and 'data-state="missing"' in page
    assert "20/11/2026 – 22/11/2026" in page  # Friday's session runs over the weekend
    assert "FT001" in page and "196.000\u00a0₫" in page and "98.000\u00a0₫" in page
    assert "Chưa nhận được" in page and "Đã ghi có" in page
    assert "FT002" in page  # the credit no batch explains
    assert "Tải sao kê ngân hàng" in page and "/finance/settlement-files/" in page
    assert "Mở chênh lệch" in page
    client.post("/lang/en?next=/finance/payouts", data={"csrf_token": csrf})
    english = client.get("/finance/payouts?month=2026-11").get_data(as_text=True)
    assert "Not credited" in english and "Credits no batch explains" in english


def test_filters_by_provider_and_month(finance: tuple[FlaskClient, str], world: World) -> None:
    client, _ = finance
    momo = client.get("/finance/payouts?month=2026-11&provider=momo").get_data(as_text=True)
    assert 'data-testid="payout-batch"' not in momo and "Không có đợt chuyển tiền" in momo
    october = client.get("/finance/payouts?month=2026-10").get_data(as_text=True)
    assert 'data-testid="payout-batch"' not in october
    bad = client.get("/finance/payouts?month=tháng-mười")
    assert bad.status_code == 422 and "NNNN-TT" in bad.get_data(as_text=True)
    unknown = client.get("/finance/payouts?month=2026-11&provider=nope")
    assert unknown.status_code == 422


def test_exports_are_csv_and_xlsx(finance: tuple[FlaskClient, str], world: World) -> None:
    client, _ = finance
    response = client.get("/finance/payouts/export.csv?month=2026-11&provider=vnpay")
    assert response.status_code == 200 and "attachment" in response.headers[
        "Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Nhà cung cấp", "Phiên từ ngày", "Phiên đến ngày"]
    states = sorted(r[8] for r in rows[1:])
    assert states == ["Chưa nhận được", "Đã ghi có"]
    paid = next(r for r in rows[1:] if r[8] == "Đã ghi có")
    assert (paid[6], paid[9], paid[11]) == ("196000", "FT001", "196000")
    xlsx = client.get("/finance/payouts/export.xlsx?month=2026-11")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 3 and values[1][6] in (196000, 98000)


def _line(world: World, kind: str) -> int:
    [d] = [d for d in world.discrepancies("open") if d.kind == kind]
    assert d.settlement_line_id is not None
    return d.settlement_line_id


def test_a_payout_discrepancy_shows_both_sides(finance: tuple[FlaskClient, str],
                                                world: World) -> None:
    client, _ = finance
    found = {d.kind: d.id for d in world.discrepancies("open")}
    missing = client.get(f"/finance/discrepancies/{found['payout_missing']}").get_data(
        as_text=True)
    assert 'data-testid="payout-batch-side"' in missing
    assert "Chưa có khoản ghi có nào thanh toán đợt này." in missing
    assert "V3" in missing  # the batch's line
    unexpected = client.get(f"/finance/discrepancies/{found['payout_unexpected']}").get_data(
        as_text=True)
    assert "Không có đợt chuyển tiền nào giải thích khoản ghi có này." in unexpected
    assert "FT002" in unexpected and 'data-testid="statement-download"' in unexpected
    line = client.get(f"/finance/settlement-lines/{_line(world, 'payout_unexpected')}/download.csv")
    assert line.status_code == 200 and "attachment" in line.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(line.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Sao kê", "Dòng", "Số tham chiếu ngân hàng"]
    assert rows[1][2:5] == ["FT002", "2026-11-23", "55000"]
    assert rows[1][5] == "'=VNPAY HYPERLINK(1)"  # a formula-like memo made inert
    batch_line = _line(world, "payout_missing")  # a provider's line is no statement line
    assert client.get(f"/finance/settlement-lines/{batch_line}/download.csv").status_code == 404
    assert found.keys() >= {"payout_missing", "payout_unexpected"}
    assert world.clock.now() - timedelta(days=3) < world.clock.now()


def test_a_user_of_some_agencies_sees_no_batch_and_downloads_no_statement_line(
        app: Flask, make_user: Callable[..., str], db: Database, clock: FixedClock,
        finance: tuple[FlaskClient, str], world: World) -> None:
    """A batch and the bank credit paying it span every agency (no agency's): a user of the
    very agency whose payments the batch settles sees the page empty, exports a header only
    and gets 404 for the statement line the whole deployment downloads."""
    whole, _ = finance
    line = _line(world, "payout_unexpected")
    assert whole.get(f"/finance/settlement-lines/{line}/download.csv").status_code == 200
    client, _ = _session_client(app, make_user, "finance", "ketoan-hue")
    with db.transaction() as s:
        set_user_scope(s, clock, user_id_by_name(s, "ketoan-hue"), [AGENCY])
    page = client.get("/finance/payouts?month=2026-11")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="payout-batch"' not in text and "FT001" not in text
    assert "FT002" not in text and "196.000" not in text
    export = client.get("/finance/payouts/export.csv?month=2026-11")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert export.status_code == 200 and len(rows) == 1  # the header only
    assert client.get(f"/finance/settlement-lines/{line}/download.csv").status_code == 404
    found = {d.kind: d.id for d in world.discrepancies("open")}
    assert client.get(f"/finance/discrepancies/{found['payout_unexpected']}").status_code == 404


@pytest.fixture
def refunds(world: World) -> World:
    """Monday's session also holds two refund lines: one of V1 (the file names its sale: 30.000
    ₫ refunded, 3.000 ₫ refund fee) and one carrying its sale's own id V2 (10.000 ₫, 3.000
    ₫). The engine takes each off the batch's net with its fee: 98.000 - 33.000 - 13.000 =
    52.000 ₫. Friday's credited session is untouched."""
    for txn, gross, original in (("R1", 30000, "V1"), ("V2", 10000, None)):
        world.settle("vnpay", txn, gross, fee=3000, settled_on=MON, kind="refund",
                     original_txn_id=original, transaction_at=vn(MON))
    return world


def test_refund_lines_are_labelled_and_lower_the_batch_net(
        finance: tuple[FlaskClient, str], refunds: World) -> None:
    client, csrf = finance
    page = client.get("/finance/payouts?month=2026-11").get_data(as_text=True)
    nbsp = "\u00a0"
    assert page.count('data-kind="refund"') == 2 and page.count('data-kind="sale"') == 3
    assert page.count('data-testid="payout-refund">Hoàn tiền</span>') == 2
    assert "hoàn cho giao dịch V1" in page and "hoàn cho giao dịch V2" not in page
    cells = re.findall(r'data-kind="(\w+)"><td class="mono">(\w+).*?'
                       r'data-testid="payout-line-in-net">([^<]*)<', page, re.S)
    assert sorted(cells) == sorted([
        ("sale", "V1", f"98.000{nbsp}₫"), ("sale", "V2", f"98.000{nbsp}₫"),
        ("sale", "V3", f"98.000{nbsp}₫"), ("refund", "R1", f"-33.000{nbsp}₫"),
        ("refund", "V2", f"-13.000{nbsp}₫")])
    # the batch nets as the engine counts them: Friday's unchanged and credited
    assert f"196.000{nbsp}₫" in page and 'data-state="paid"' in page
    assert (f'52.000{nbsp}₫<br><small data-testid="payout-refunds">trong đó 2 dòng hoàn tiền: '
            f'-46.000{nbsp}₫</small>') in page
    client.post("/lang/en?next=/finance/payouts", data={"csrf_token": csrf})
    english = client.get("/finance/payouts?month=2026-11").get_data(as_text=True)
    assert 'data-testid="payout-refund">Refund</span>' in english
    assert "In the batch net" in english and "refunding V1" in english


def test_a_batch_net_is_the_sum_of_its_lines_shares(db: Database, refunds: World) -> None:
    """What the page shows per line adds up to the engine's net of every batch."""
    with db.read() as s:
        page = payout_reads.payout_page(s, config=payout_config({}), now=refunds.clock.now(),
                                        month=MON)
    nets = {b.batch.session_on: (b.batch.net, sum(map(payout_reads.in_net, b.batch.lines)),
                                 b.refunds_in_net) for b in page.batches}
    assert nets == {MON - timedelta(days=3): (196000, 196000, 0),
                    MON: (52000, 52000, -46000)}


def test_exports_carry_the_refunds(finance: tuple[FlaskClient, str], refunds: World) -> None:
    client, _ = finance
    response = client.get("/finance/payouts/export.csv?month=2026-11")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][13:] == ["Số dòng hoàn tiền", "Số tiền hoàn", "Phí hoàn tiền",
                            "Hoàn tiền tính vào thực nhận"]
    by_state = {r[8]: r for r in rows[1:]}
    paid, missing = by_state["Đã ghi có"], by_state["Chưa nhận được"]
    assert (paid[3:7], paid[11], paid[13:]) == (["2", "200000", "4000", "196000"], "196000",
                                                ["0", "0", "0", "0"])
    assert (missing[3:7], missing[13:]) == (["3", "60000", "8000", "52000"],
                                            ["2", "40000", "6000", "-46000"])
    lines = client.get("/finance/payouts/export.csv?month=2026-11&part=lines")
    assert lines.status_code == 200 and "-dong.csv" in lines.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(lines.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["Nhà cung cấp", "Phiên từ ngày", "Mã giao dịch", "Loại",
                        "Giao dịch gốc", "Ngày đối soát", "Số tiền gộp", "Phí", "Thực nhận",
                        "Tính vào thực nhận của đợt"]
    assert sorted(r[2:5] + r[6:] for r in table[1:]) == sorted([
        ["V1", "Thanh toán", "", "100000", "2000", "98000", "98000"],
        ["V2", "Thanh toán", "", "100000", "2000", "98000", "98000"],
        ["V3", "Thanh toán", "", "100000", "2000", "98000", "98000"],
        ["R1", "Hoàn tiền", "V1", "30000", "3000", "27000", "-33000"],
        ["V2", "Hoàn tiền", "V2", "10000", "3000", "7000", "-13000"]])
    xlsx = client.get("/finance/payouts/export.xlsx?month=2026-11&part=lines")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 6 and sorted(v[9] for v in values[1:]) == [
        -33000, -13000, 98000, 98000, 98000]
    batches = load_workbook(io.BytesIO(client.get(
        "/finance/payouts/export.xlsx?month=2026-11").data)).active
    assert sorted(r[16].value for r in list(batches.iter_rows())[1:]) == [-46000, 0]
