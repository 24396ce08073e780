"""The finance pages through HTTP: language, queue, detail, actions, exports, reports, audit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from recon.cli import cli
from recon.db import Database
from recon.models import Discrepancy
from tests.finance.helpers import World, build_world
from tests.finance.test_roles import _session_client


@pytest.fixture
def world(db: Database) -> World:
    return build_world(db)


@pytest.fixture
def finance(app: Flask, make_user: Callable[..., str], world: World) -> tuple[FlaskClient, str]:
    return _session_client(app, make_user, "finance", "ketoan")


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_dashboard_is_vietnamese_with_an_english_switch(finance: tuple[FlaskClient, str],
                                                        world: World) -> None:
    client, csrf = finance
    page = _text(client.get("/finance"))
    assert "Tổng quan" in page and "Chênh lệch đang mở theo loại" in page
    assert "Thanh toán trùng" in page  # a kind label, in Vietnamese
    assert "<svg" in page and 'data-testid="chart-age"' in page  # drawn by the server
    assert "<script src=\"/static/finance.js\"" in page and "cdn" not in page.lower()
    response = client.post("/lang/en?next=/finance", data={"csrf_token": csrf})
    assert response.status_code == 302
    english = _text(client.get("/finance"))
    assert "Open discrepancies by kind" in english and "Paid twice" in english


def test_queue_filters_and_search(finance: tuple[FlaskClient, str], world: World) -> None:
    client, _ = finance
    page = _text(client.get("/finance/discrepancies?provider=sepay"))
    assert "2 chênh lệch phù hợp" in page
    page = _text(client.get(f"/finance/discrepancies?q={world.codes['d4']}"))
    assert "1 chênh lệch phù hợp" in page and world.codes["d4"] in page
    assert "mã giao dịch (của đơn vị thanh toán hoặc ngân hàng)" in page  # what it searches
    bad = client.get("/finance/discrepancies?min=nhiều")
    assert bad.status_code == 422 and "Bộ lọc không hợp lệ" in _text(bad)


def test_detail_tells_the_whole_story(finance: tuple[FlaskClient, str], world: World) -> None:
    client, _ = finance
    page = _text(client.get(f"/finance/discrepancies/{world.discrepancies['A']}"))
    assert "Giải thích A" in page  # the explanation, Vietnamese by default
    assert world.codes["d4"] in page and "TX-d4-dup" in page
    assert "&#34;signature&#34;: &#34;••••&#34;" in page or '"signature": "••••"' in page
    assert "very-secret" not in page and "abcdef0123456789" not in page
    assert "970436******1234" in page
    line = _text(client.get(f"/finance/discrepancies/{world.discrepancies['D']}"))
    assert f"/finance/settlement-files/{world.files['a']}/download" in line
    assert "HS2ABCDEFGH7" in line and "000201TEST" in line  # the intent and its QR payload
    download = client.get(f"/finance/settlement-files/{world.files['a']}/download")
    assert download.status_code == 200
    assert download.data.startswith(b"provider_txn_id,amount")
    assert "attachment" in download.headers["Content-Disposition"]
    assert client.get("/finance/discrepancies/987654").status_code == 404
    back = _text(client.get(f"/finance/discrepancies/{world.discrepancies['A']}"
                            "?back=/finance/discrepancies%3Fkind%3Doverpaid"))
    assert 'href="/finance/discrepancies?kind=overpaid"' in back
    for hostile in ("javascript:alert(1)", "//evil.example/finance", "https://evil.example"):
        page = _text(client.get(f"/finance/discrepancies/{world.discrepancies['A']}",
                                query_string={"back": hostile}))
        assert '<a href="/finance/discrepancies">‹' in page
        assert f'href="{hostile}' not in page
    assert client.get("/finance/settlement-files/987654/download").status_code == 404


def test_resolve_through_the_form(finance: tuple[FlaskClient, str], world: World,
                                  db: Database) -> None:
    client, csrf = finance
    did = world.discrepancies["D"]
    missing = client.post(f"/finance/discrepancies/{did}/resolve",
                          data={"csrf_token": csrf, "resolution_type": "provider_corrected",
                                "note": "  "})
    assert missing.status_code == 422
    assert "Hãy ghi chú: đã làm gì và vì sao." in _text(missing)
    done = client.post(f"/finance/discrepancies/{did}/resolve",
                       data={"csrf_token": csrf, "resolution_type": "provider_corrected",
                             "note": "SePay gửi bảng kê điều chỉnh"})
    assert done.status_code == 303
    page = _text(client.get(done.headers["Location"]))
    assert "Đã xử lý xong." in page and "Nhà cung cấp đã điều chỉnh" in page
    assert 'data-testid="reopen-form"' in page
    again = client.post(f"/finance/discrepancies/{did}/resolve",
                        data={"csrf_token": csrf, "resolution_type": "provider_corrected",
                              "note": "twice"})
    assert again.status_code == 409 and "không còn mở" in _text(again)
    with db.read() as s:
        d = s.get(Discrepancy, did)
        assert d is not None and d.resolved_by == "user:ketoan"


def test_write_off_approval_by_a_second_person(app: Flask, world: World, db: Database,
                                               make_user: Callable[..., str],
                                               finance: tuple[FlaskClient, str]) -> None:
    maker, maker_csrf = finance
    did = world.discrepancies["C"]
    proposed = maker.post(f"/finance/discrepancies/{did}/resolve",
                          data={"csrf_token": maker_csrf, "resolution_type": "written_off",
                                "note": "Chênh 10.000 ₫, xóa sổ"})
    assert proposed.status_code == 303
    own = _text(maker.get(f"/finance/discrepancies/{did}/approval"))
    assert "Chênh 10.000 ₫, xóa sổ" in own and "user:ketoan" in own
    assert 'data-testid="approve-form"' not in own and 'data-testid="own-proposal"' in own
    refused = maker.post(f"/finance/discrepancies/{did}/approve",
                         data={"csrf_token": maker_csrf, "from": "approval"})
    assert refused.status_code == 403
    assert "không thể tự phê duyệt" in _text(refused)
    checker, checker_csrf = _session_client(app, make_user, "finance", "kiemsoat")
    listing = _text(checker.get("/finance/approvals"))
    assert f"/finance/discrepancies/{did}/approval" in listing
    review = _text(checker.get(f"/finance/discrepancies/{did}/approval"))
    assert 'data-testid="approve-form"' in review and "Xử lý xóa sổ chênh lệch" in review
    approved = checker.post(f"/finance/discrepancies/{did}/approve",
                            data={"csrf_token": checker_csrf, "note": "Đồng ý"})
    assert approved.status_code == 303
    with db.read() as s:
        d = s.get(Discrepancy, did)
        assert d is not None
        assert (d.status, d.resolution_type, d.proposed_by, d.resolved_by) == (
            "resolved", "written_off", "user:ketoan", "user:kiemsoat")


def test_assign_and_reopen_through_forms(finance: tuple[FlaskClient, str], world: World,
                                         db: Database) -> None:
    client, csrf = finance
    did = world.discrepancies["F"]
    assert client.post(f"/finance/discrepancies/{did}/assign",
                       data={"csrf_token": csrf, "user_id": "me"}).status_code == 303
    assert client.post(f"/finance/discrepancies/{did}/assign",
                       data={"csrf_token": csrf, "user_id": "abc"}).status_code == 422
    reopened = client.post(f"/finance/discrepancies/{did}/reopen",
                           data={"csrf_token": csrf, "note": "nhà cung cấp hoàn lại"})
    assert reopened.status_code == 303
    mine = _text(client.get("/finance/discrepancies?assigned=me"))
    assert f'data-row="{did}"' in mine
    with db.read() as s:
        assert s.scalar(select(Discrepancy.status).where(Discrepancy.id == did)) == "open"


def test_exports_of_the_filtered_view(finance: tuple[FlaskClient, str], world: World) -> None:
    client, _ = finance
    response = client.get("/finance/discrepancies/export.xlsx?provider=sepay&sort=amount_desc")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [r[0] for r in rows[1:]] == [world.discrepancies["B"], world.discrepancies["D"]]
    assert rows[0][0] == "Mã"
    as_csv = client.get("/finance/discrepancies/export.csv?status=all")
    assert as_csv.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(as_csv.data.decode("utf-8-sig"))))
    assert len(table) == 8
    assert client.get("/finance/discrepancies/export.pdf").status_code == 404
    outstanding = client.get("/finance/outstanding/export.xlsx")
    sheet = load_workbook(io.BytesIO(outstanding.data), read_only=True).active
    assert len(list(sheet.iter_rows(values_only=True))) == 5  # a header, four dossiers


def test_reports_pages_and_cli_say_the_same(finance: tuple[FlaskClient, str], world: World,
                                            env: dict[str, str]) -> None:
    client, _ = finance
    page = _text(client.get("/finance/reports/quarterly?year=2021&quarter=1"))
    assert 'data-testid="q-received">10<' in page
    assert 'data-testid="q-cashless">6<' in page
    assert 'data-testid="q-share">86%<' in page
    assert "810.000\u00a0₫" in page
    as_json = client.get("/finance/reports/quarterly.json?year=2021&quarter=1").json
    assert as_json is not None
    result = CliRunner().invoke(cli, ["report", "quarterly", "--year", "2021", "--quarter", "1",
                                      "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.output) == as_json
    text = CliRunner().invoke(cli, ["report", "quarterly", "--year", "2021", "--quarter", "1"])
    assert "86% of paid dossiers" in text.output and "810,000" in text.output
    xlsx = client.get("/finance/reports/quarterly.xlsx?year=2021&quarter=1")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    first = next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))
    assert first[:6] == ("Q1/2021", 10, 5, 7, 6, 810_000)
    daily = _text(client.get("/finance/reports/daily?day=2021-02-01"))
    assert "VNPay" in daily and "100.000\u00a0₫" in daily
    assert client.get("/finance/reports/quarterly?year=1999&quarter=1").status_code == 422
    outstanding = _text(client.get("/finance/outstanding?min_age=3"))
    assert world.codes["d13"] in outstanding and world.codes["d12"] not in outstanding


def test_dossier_lookup_for_manual_match(finance: tuple[FlaskClient, str],
                                         world: World) -> None:
    client, _ = finance
    found = client.get(f"/finance/dossiers/lookup?code={world.codes['d7']}")
    assert found.status_code == 200 and found.json == {
        "found": True, "code": world.codes["d7"], "applicant": "Công dân d7", "agency": "AG1",
        "assessed": 40_000, "paid": 0, "assessed_text": "40.000\u00a0₫",
        "paid_text": "0\u00a0₫"}
    assert client.get("/finance/dossiers/lookup?code=nope").status_code == 404


def test_audit_viewer_and_chain_verification(finance: tuple[FlaskClient, str], world: World,
                                             db: Database) -> None:
    client, csrf = finance
    client.post(f"/finance/discrepancies/{world.discrepancies['A']}/assign",
                data={"csrf_token": csrf, "user_id": "me"})
    page = _text(client.get("/finance/audit?entity_type=discrepancy"))
    assert "discrepancy.assigned" in page
    ok = _text(client.get("/finance/audit/verify"))
    assert 'data-testid="chain-ok"' in ok and "Chuỗi nhật ký toàn vẹn" in ok
    if db.dialect == "sqlite":  # break the chain behind the application's back
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            names = [r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                "tbl_name = 'audit_events'")]
            for name in names:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            conn.exec_driver_sql("UPDATE audit_events SET actor = 'mallory'")
        broken = _text(client.get("/finance/audit/verify"))
        assert 'data-testid="chain-broken"' in broken
        assert "nội dung của sự kiện đã bị sửa" in broken  # its reason, in Vietnamese


def test_detail_shows_a_payment_s_bank_reference(finance: tuple[FlaskClient, str],
                                                 world: World, db: Database) -> None:
    from recon.models import Payment

    with db.transaction() as s:
        payment = s.get(Payment, world.payments["unmatched"])
        assert payment is not None
        payment.bank_reference = "FT21069000777"
    client, _ = finance
    page = _text(client.get(f"/finance/discrepancies/{world.discrepancies['B']}"))
    assert "Số tham chiếu ngân hàng" in page and "FT21069000777" in page
    english = _text(client.get(f"/finance/discrepancies/{world.discrepancies['B']}?lang=en"))
    assert "Bank reference" in english
