"""`POST /api/v1/settlements` and `/api/v1/settlement-files`: finance and admin only."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from recon.db import Database
from recon.models import SettlementFile
from tests.settlements.conftest import FIXTURES

CANONICAL = (FIXTURES / "canonical.csv").read_bytes()


def _upload(client: FlaskClient, data: bytes, filename: str = "report.csv",
            provider: str = "vnpay", headers: dict[str, str] | None = None,
            **form: str) -> Any:
    body: dict[str, Any] = {"provider": provider, **form}
    if data is not None:
        body["file"] = (io.BytesIO(data), filename)
    return client.post("/api/v1/settlements", data=body, headers=headers or {},
                       content_type="multipart/form-data")


def js(response: Any) -> Any:
    return response.get_json()


@pytest.fixture
def finance(client: FlaskClient, login: Any) -> dict[str, str]:
    return {"X-CSRF-Token": login("finance")}


def test_finance_uploads_a_report(client: FlaskClient, finance: dict[str, str],
                                  db: Database) -> None:
    response = _upload(client, CANONICAL, "canonical.csv", headers=finance)
    assert response.status_code == 201, js(response)
    body = js(response)
    assert (body["lines"], body["profile"], body["provider"]) == (3, "canonical", "vnpay")
    with db.read() as s:
        row = s.scalars(select(SettlementFile)).one()
    assert row.imported_by == "user:finance1"
    assert row.content == CANONICAL


def test_bearer_token_of_finance_needs_no_csrf(client: FlaskClient, make_token: Any) -> None:
    headers = {"Authorization": f"Bearer {make_token('finance')}"}
    response = _upload(client, (FIXTURES / "vietinbank_statement.xlsx").read_bytes(),
                       "sao-ke.xlsx", provider="payos", headers=headers)
    assert response.status_code == 201, js(response)
    assert js(response)["profile"] == "vietinbank_statement"
    assert js(response)["format"] == "xlsx"


@pytest.mark.parametrize("role", ["cashier", "intake"])
def test_other_roles_are_refused(client: FlaskClient, make_token: Any, role: str,
                                 db: Database) -> None:
    headers = {"Authorization": f"Bearer {make_token(role)}"}
    assert _upload(client, CANONICAL, headers=headers).status_code == 403
    assert client.get("/api/v1/settlement-files", headers=headers).status_code == 403
    assert client.get("/api/v1/settlement-files/1/content",
                      headers=headers).status_code == 403
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SettlementFile)) == 0


def test_anonymous_is_401(client: FlaskClient) -> None:
    assert _upload(client, CANONICAL).status_code == 401
    assert client.get("/api/v1/settlement-files").status_code == 401


def test_session_upload_needs_csrf(client: FlaskClient, login: Any) -> None:
    login("finance")
    assert _upload(client, CANONICAL).status_code == 400


def test_bad_rows_are_422_with_every_row(client: FlaskClient, finance: dict[str, str],
                                         db: Database) -> None:
    data = (b"provider_txn_id,amount,fee,transaction_at,settled_on\n"
            b"A,1e5,0,2026-11-24T10:00:00,2026-11-25\n"
            b"B,100,0,2026-11-24T10:00:00,25/11/2026\n")
    response = _upload(client, data, headers=finance)
    assert response.status_code == 422
    assert js(response)["error"] == "invalid"
    assert [(e["line"], e["field"]) for e in js(response)["errors"]] == [
        (2, "amount"), (3, "settled_on")]
    assert "Nothing was imported" in js(response)["hint"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SettlementFile)) == 0


def test_duplicate_is_409(client: FlaskClient, finance: dict[str, str]) -> None:
    assert _upload(client, CANONICAL, headers=finance).status_code == 201
    again = _upload(client, CANONICAL, "again.csv", headers=finance)
    assert again.status_code == 409
    assert js(again)["error"] == "duplicate_file"
    assert "nothing was changed" in js(again)["message"]


def test_missing_parts_are_422(client: FlaskClient, finance: dict[str, str]) -> None:
    no_file = client.post("/api/v1/settlements", data={"provider": "vnpay"}, headers=finance,
                          content_type="multipart/form-data")
    assert no_file.status_code == 422
    assert js(no_file)["errors"][0]["field"] == "file"
    no_provider = _upload(client, CANONICAL, provider="", headers=finance)
    assert no_provider.status_code == 422
    assert js(no_provider)["errors"][0]["field"] == "provider"
    bad_profile = _upload(client, CANONICAL, headers=finance, profile="nope")
    assert bad_profile.status_code == 422
    assert "unknown profile" in js(bad_profile)["errors"][0]["message"]


def test_list_detail_and_download(client: FlaskClient, finance: dict[str, str]) -> None:
    first = _upload(client, CANONICAL, "canonical.csv", headers=finance).get_json()
    momo = (FIXTURES / "momo_report.csv").read_bytes()
    second = _upload(client, momo, "momo.csv", provider="momo", headers=finance).get_json()
    listing = client.get("/api/v1/settlement-files").get_json()
    assert [i["id"] for i in listing["items"]] == [second["file_id"], first["file_id"]]
    assert listing["next_before"] is None
    page = client.get("/api/v1/settlement-files?limit=1").get_json()
    assert [i["id"] for i in page["items"]] == [second["file_id"]]
    rest = client.get(f"/api/v1/settlement-files?limit=1&before={page['next_before']}").get_json()
    assert [i["id"] for i in rest["items"]] == [first["file_id"]]
    only_momo = client.get("/api/v1/settlement-files?provider=momo").get_json()
    assert [i["provider"] for i in only_momo["items"]] == ["momo"]
    assert client.get("/api/v1/settlement-files?provider=paypal").status_code == 422
    assert client.get("/api/v1/settlement-files?limit=0").status_code == 422

    detail = client.get(f"/api/v1/settlement-files/{second['file_id']}").get_json()
    assert detail["filename"] == "momo.csv" and detail["profile"] == "momo_report"
    assert detail["lines"] == {"count": 2, "total_amount": 1180000, "total_fee": 11800,
                               "total_net": 1168200, "distinct_transactions": 2,
                               "settled_from": "2026-11-25", "settled_to": "2026-11-25"}

    download = client.get(f"/api/v1/settlement-files/{second['file_id']}/content")
    assert download.status_code == 200
    assert download.data == momo
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "momo.csv" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(momo).hexdigest()
    assert download.mimetype == "text/csv"

    assert client.get("/api/v1/settlement-files/999").status_code == 404
    assert client.get("/api/v1/settlement-files/999/content").status_code == 404
