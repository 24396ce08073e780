"""The finance detail page shows a payment's e-receipt (form, series, number) and links to its
signed XML at /finance/receipts/<id>.xml (finance and administrators only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import Discrepancy, Receipt
from recon.receipts.signing import verify
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import Hooks, is_accepted, make_hooks


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _log_in(client: FlaskClient, make_user: object, role: str) -> None:
    password = make_user(f"{role}9", role)  # type: ignore[operator]
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    got = client.post("/login", data={"username": f"{role}9", "password": password,
                                      "csrf_token": csrf})
    assert got.status_code == 302


def _paid_with_a_finding(hooks: Hooks) -> tuple[int, Receipt]:
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
    with hooks.db.transaction() as s:
        receipt = s.scalars(select(Receipt)).one()
        now = hooks.clock.now()
        found = Discrepancy(identity="test:receipt", kind="missing_settlement", status="open",
                            payment_id=receipt.payment_id, expected_amount=1, actual_amount=0,
                            delta=-1, explanation="thử", detected_at=now, updated_at=now)
        s.add(found)
        s.flush()
        return found.id, receipt


def test_the_detail_page_shows_the_receipt_and_its_xml_downloads(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                       RECON_RECEIPT_P12_PASSWORD=PASSWORD)
    finding, receipt = _paid_with_a_finding(hooks)
    _log_in(hooks.client, make_user, "finance")
    page = hooks.client.get(f"/finance/discrepancies/{finding}").get_data(as_text=True)
    assert 'data-testid="e-receipt"' in page
    assert "Biên lai điện tử" in page and "EBL01" in page and "00000001" in page
    assert receipt.series in page
    link = f"/finance/receipts/{receipt.id}.xml"
    assert link in page
    got = hooks.client.get(link)
    assert got.status_code == 200 and got.mimetype == "application/xml"
    assert f"EBL01-{receipt.series}-00000001.xml" in got.headers["Content-Disposition"]
    assert verify(got.get_data()).signing_time
    assert hooks.client.get(f"/finance/receipts/{receipt.id + 1}.xml").status_code == 404


def test_the_desk_cannot_download_a_receipt(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        make_user: object) -> None:
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on", RECON_RECEIPT_P12_FILE=str(p12),
                       RECON_RECEIPT_P12_PASSWORD=PASSWORD)
    _finding, receipt = _paid_with_a_finding(hooks)
    _log_in(hooks.client, make_user, "cashier")
    assert hooks.client.get(f"/finance/receipts/{receipt.id}.xml").status_code == 403
