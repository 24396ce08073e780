from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import AuditEvent, Dossier, FeeLine, Payment
from tests.foundation.helpers import dossier_body, seed_agency


@pytest.fixture
def intake(db: Database, clock: FixedClock, make_token: Any) -> dict[str, str]:
    seed_agency(db, clock)
    return {"Authorization": f"Bearer {make_token('intake')}"}


def _post(client: FlaskClient, headers: dict[str, str], body: Any) -> Any:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/api/v1/dossiers", data=raw, headers=headers,
                       content_type="application/json")


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(Dossier)) or 0,
                s.scalar(select(func.count()).select_from(FeeLine)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_create_then_read(client: FlaskClient, intake: dict[str, str]) -> None:
    response = _post(client, intake, dossier_body())
    assert response.status_code == 201, response.json
    assert response.json["status"] == "created"
    got = client.get("/api/v1/dossiers/000.00.21.H57-210401-0001", headers=intake)
    assert got.status_code == 200
    data = got.json
    assert data["total_assessed"] == 180000
    assert data["outstanding"] == 180000
    assert data["payment_status"] == "unpaid"
    assert data["applicant_name"] == "Nguyễn Thị Hương"
    assert data["received_at"] == "2021-04-01T01:30:00+00:00"
    assert [f["amount"] for f in data["fees"]] == [100000, 80000]


def test_same_body_twice_changes_nothing(client: FlaskClient, intake: dict[str, str],
                                         db: Database) -> None:
    assert _post(client, intake, dossier_body()).status_code == 201
    before = _counts(db)
    again = _post(client, intake, dossier_body())
    assert again.status_code == 200
    assert again.json["status"] == "unchanged"
    assert _counts(db) == before


def test_changed_fees_replaced_and_audited(client: FlaskClient, intake: dict[str, str],
                                           db: Database) -> None:
    _post(client, intake, dossier_body())
    body = dossier_body(fees=[{"kind": "le_phi", "name": "Lệ phí", "amount": 50000}])
    response = _post(client, intake, body)
    assert response.status_code == 200
    assert response.json["status"] == "updated"
    assert response.json["dossier"]["total_assessed"] == 50000
    with db.read() as s:
        actions = s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert s.scalar(select(func.count()).select_from(FeeLine)) == 1
    assert actions[-1] == "dossier.fees_reassessed"


def test_fees_of_a_paid_dossier_are_not_rewritten_silently(
        client: FlaskClient, intake: dict[str, str], db: Database, clock: FixedClock) -> None:
    _post(client, intake, dossier_body())
    with db.transaction() as s:
        dossier = s.scalars(select(Dossier)).one()
        s.add(Payment(provider="cash", provider_txn_id="BL-0001", channel="cash",
                      amount=180000, status="succeeded", paid_at=clock.now(),
                      received_at=clock.now(), dossier_id=dossier.id, updated_at=clock.now()))
    before = _counts(db)
    changed = dossier_body(fees=[{"kind": "le_phi", "name": "Lệ phí", "amount": 50000}])
    refused = _post(client, intake, changed)
    assert refused.status_code == 409
    assert "reassess" in refused.json["hint"]
    assert _counts(db) == before
    forced = _post(client, intake, {**changed, "reassess": True})
    assert forced.status_code == 200
    assert forced.json["dossier"]["total_assessed"] == 50000
    assert forced.json["dossier"]["payment_status"] == "overpaid"


def test_code_reused_with_another_agency(client: FlaskClient, intake: dict[str, str],
                                         db: Database, clock: FixedClock) -> None:
    seed_agency(db, clock, code="PHU-VANG")
    _post(client, intake, dossier_body())
    before = _counts(db)
    response = _post(client, intake, dossier_body(agency_code="PHU-VANG"))
    assert response.status_code == 409
    assert "HUE-TTHCC" in response.json["message"]
    assert _counts(db) == before


@pytest.mark.parametrize(("raw_amount", "fragment"), [
    ("100.0", "without decimals"), ("1e5", "without decimals"), ("-100", "negative"),
    ('"100,000"', "JSON integer"), ('"100000"', "JSON integer"), ("0", "more than 0"),
    ("true", "true/false"), ("null", "missing"),
])
def test_bad_amounts_refused_naming_the_field(client: FlaskClient, intake: dict[str, str],
                                              db: Database, raw_amount: str,
                                              fragment: str) -> None:
    body = json.dumps(dossier_body()).replace('"amount": 100000', f'"amount": {raw_amount}')
    before = _counts(db)
    response = _post(client, intake, body)
    assert response.status_code == 422, response.json
    fields = [e["field"] for e in response.json["errors"]]
    assert fields == ["fees[0].amount"]
    assert fragment in response.json["errors"][0]["message"]
    assert _counts(db) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"agency_code": "NOPE"}, "agency_code"),
    ({"received_at": "01/04/2021"}, "received_at"),
    ({"received_at": "2021-02-30T08:00:00"}, "received_at"),
    ({"applicant_name": ""}, "applicant_name"),
    ({"code": "bad code!"}, "code"),
    ({"fees": "180000"}, "fees"),
    ({"fees": [{"kind": "tax", "name": "x", "amount": 1}]}, "fees[0].kind"),
    ({"fees": [{"kind": "phi", "name": "A", "amount": 1},
               {"kind": "phi", "name": "A", "amount": 2}]}, "fees[1]"),
])
def test_bad_fields_refused(client: FlaskClient, intake: dict[str, str], db: Database,
                            change: dict[str, Any], field: str) -> None:
    before = _counts(db)
    response = _post(client, intake, dossier_body(**change))
    assert response.status_code == 422, response.json
    assert field in [e["field"] for e in response.json["errors"]]
    assert _counts(db) == before


def test_missing_fields_listed_together(client: FlaskClient, intake: dict[str, str]) -> None:
    response = _post(client, intake, {"code": "X-1"})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json["errors"]}
    assert {"agency_code", "procedure_code", "applicant_name", "received_at", "fees"} <= fields


def test_malformed_json(client: FlaskClient, intake: dict[str, str]) -> None:
    response = _post(client, intake, "{not json")
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "body"


def test_needs_a_token_with_the_right_role(client: FlaskClient, intake: dict[str, str],
                                           make_token: Any) -> None:
    assert _post(client, {}, dossier_body()).status_code == 401
    assert _post(client, {"Authorization": "Bearer rcn_wrong"}, dossier_body()).status_code \
        == 401
    cashier = {"Authorization": f"Bearer {make_token('cashier')}"}
    assert _post(client, cashier, dossier_body()).status_code == 403
    # a cashier may read
    _post(client, intake, dossier_body())
    assert client.get("/api/v1/dossiers/000.00.21.H57-210401-0001",
                      headers=cashier).status_code == 200


def test_unknown_dossier_404(client: FlaskClient, intake: dict[str, str]) -> None:
    response = client.get("/api/v1/dossiers/NOPE-1", headers=intake)
    assert response.status_code == 404
    assert "hint" in response.json


def test_list_filters_and_pages(client: FlaskClient, intake: dict[str, str]) -> None:
    for i in range(1, 8):
        day = "01" if i <= 4 else "02"
        _post(client, intake, dossier_body(code=f"000.00.21.H57-2104{day}-000{i}",
                                           received_at=f"2021-04-{day}T09:00:00+07:00"))
    page1 = client.get("/api/v1/dossiers?limit=3", headers=intake).json
    assert [d["code"][-4:] for d in page1["items"]] == ["0001", "0002", "0003"]
    page2 = client.get(f"/api/v1/dossiers?limit=3&after={page1['next_after']}",
                       headers=intake).json
    assert [d["code"][-4:] for d in page2["items"]] == ["0004", "0005", "0006"]
    on_day2 = client.get("/api/v1/dossiers?received_from=2021-04-02&received_to=2021-04-03",
                         headers=intake).json
    assert on_day2["count"] == 3
    assert client.get("/api/v1/dossiers?limit=0", headers=intake).status_code == 422
    prefix = client.get("/api/v1/dossiers?q=000.00.21.H57-210402", headers=intake).json
    assert prefix["count"] == 3
