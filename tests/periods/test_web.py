"""/api/v1/periods and the finance page /finance/periods: propose, approve by another, the
report as XLSX and print-ready HTML, reopen by an admin; words in Vietnamese."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from flask.testing import FlaskClient
from openpyxl import load_workbook

from recon.db import Database
from tests.finance.helpers import World, build_world


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_closes_and_reopens_a_month(client: FlaskClient, db: Database,
                                            make_token: Any, make_user: Any) -> None:
    world: World = build_world(db)
    make_user("lan", "finance")
    make_user("minh", "finance")
    maker = make_token("finance", "maker", user="lan")
    checker = make_token("finance", "checker", user="minh")
    admin, desk = make_token("admin", "root"), make_token("cashier", "desk")
    assert client.get("/api/v1/periods", headers=_auth(desk)).status_code == 403
    refused = client.post("/api/v1/periods", json={"month": "2021-01"}, headers=_auth(maker))
    assert refused.status_code == 409 and "open discrepancies" in refused.text
    assert client.post("/api/v1/periods", json={"month": "Jan"},
                       headers=_auth(maker)).status_code == 422
    made = client.post("/api/v1/periods", json={"month": "2021-01", "carry_forward": {
        str(world.discrepancies["D"]): "bank owes"}}, headers=_auth(maker))
    assert made.status_code == 201, made.json
    pid = made.json["id"]
    assert client.post(f"/api/v1/periods/{pid}/approve",
                       headers=_auth(maker)).status_code == 403  # maker ≠ checker
    closed = client.post(f"/api/v1/periods/{pid}/approve", headers=_auth(checker))
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    snap = client.get(f"/api/v1/periods/{pid}/snapshot", headers=_auth(checker))
    assert hashlib.sha256(snap.data).hexdigest() == closed.json["snapshot_sha256"] \
        == snap.headers["X-Snapshot-SHA256"]
    xlsx = client.get(f"/api/v1/periods/{pid}/snapshot?format=xlsx", headers=_auth(checker))
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Mã" and any(r[10] == "bank owes" for r in rows[1:])
    resolve = client.post(f"/api/v1/periods/{pid}/reopen", json={"reason": "x"},
                          headers=_auth(checker))
    assert resolve.status_code == 403
    reopened = client.post(f"/api/v1/periods/{pid}/reopen", json={"reason": "bank fix"},
                           headers=_auth(admin))
    assert reopened.status_code == 200 and reopened.json["status"] == "open"
    assert reopened.json["snapshots"] == 1


def test_the_finance_page_lists_and_closes_months(client: FlaskClient, db: Database,
                                                   login: Any, make_token: Any,
                                                   make_user: Any) -> None:
    world: World = build_world(db)
    csrf = login("finance", "maker")
    page = client.get("/finance/periods")
    assert page.status_code == 200 and "Khóa sổ" in page.text
    refused = client.post("/finance/periods", data={"month": "2021-01", "csrf_token": csrf})
    assert refused.status_code == 409 and "Tháng còn chênh lệch đang mở" in refused.text
    done = client.post("/finance/periods", data={
        "month": "2021-01", "csrf_token": csrf,
        "carry_forward": f"{world.discrepancies['D']}=ngân hàng còn nợ 1.000 ₫"})
    assert done.status_code == 303
    listed = client.get("/finance/periods").text
    assert "Chờ phê duyệt khóa sổ" in listed and 'data-testid="approve-period"' not in listed
    [item] = client.get("/api/v1/periods", headers=_auth(make_token("finance", "x"))).json[
        "items"]
    make_user("minh", "finance")
    client.post(f"/api/v1/periods/{item['id']}/approve",
                headers=_auth(make_token("finance", "checker", user="minh")))
    report = client.get(f"/finance/periods/{item['id']}/report")
    assert report.status_code == 200 and "@media print" in report.text
    assert "ngân hàng còn nợ 1.000 ₫" in report.text and "Báo cáo khóa sổ tháng" in report.text
    xlsx = client.get(f"/finance/periods/{item['id']}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_page_names_the_agency_and_refuses_a_second_proposal(
        client: FlaskClient, db: Database, login: Any) -> None:
    build_world(db)
    csrf = login("finance", "maker")
    for agency in ("AG1", ""):  # May has nothing open: each scope is proposed at once
        made = client.post("/finance/periods", data={"month": "2021-05", "agency": agency,
                                                      "csrf_token": csrf})
        assert made.status_code == 303
    listed = client.get("/finance/periods").text
    assert '<td data-testid="period-agency">AG1</td>' in listed
    assert '<td data-testid="period-agency">Tất cả đơn vị</td>' in listed
    again = client.post("/finance/periods", data={"month": "2021-05", "agency": "AG1",
                                                   "csrf_token": csrf})
    assert again.status_code == 409
    assert "Tháng này đã có đề xuất khóa sổ hoặc đã khóa sổ" in again.text
