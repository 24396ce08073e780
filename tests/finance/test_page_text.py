"""Every finance page on the demo's data, read as its reader reads it (issue 13, items 7 and 8):

* no internal code on a Vietnamese page: no ``user:…``/``webhook:…`` actor, no audit action
  code (``payment.recorded``), no entity code (``payment 4685``), no callback outcome code;
* every number formatted: no run of four or more digits outside dates, times, ids (``#123``)
  and the codes the data carries (dossier codes, provider transaction ids, references...);
* every table that can be empty says so in a sentence (no empty body, no lone "—").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from recon.clock import FixedClock
from recon.db import Database
from recon.models import (
    Agency,
    Dossier,
    FeeInvoice,
    FeeLine,
    Payment,
    PaymentIntent,
    PortalFile,
    PortalLine,
    Procedure,
    Remittance,
    SettlementFile,
    SettlementLine,
    Transfer,
)
from recon.web import i18n
from tests.finance.demo_world import PASSWORDS, DemoWorld, build_demo_world
from tests.finance.pagetext import Node, parse, visible_text

DATES = re.compile(r"\d{1,2}/\d{1,2}/\d{4}|\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}(:\d{2})?")
IDS = re.compile(r"#\d+")
BARE = re.compile(r"(?<![\d.])\d{4,}(?![\d.])")


@pytest.fixture
def demo(db: Database, clock: FixedClock) -> DemoWorld:
    return build_demo_world(db, clock)


@pytest.fixture
def ketoan(app: Flask, demo: DemoWorld) -> FlaskClient:
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        token = sess["csrf"]
    response = client.post("/login", data={"username": "ketoan", "password": PASSWORDS["ketoan"],
                                           "csrf_token": token})
    assert response.status_code == 302
    return client


def _codes(db: Database) -> list[str]:
    """Everything the data calls by a code: shown as it is, never formatted."""
    columns = (Dossier.code, Payment.provider_txn_id, Payment.reference, Payment.bank_reference,
               Payment.receipt_number, Payment.memo, SettlementLine.provider_txn_id,
               SettlementLine.reference, SettlementFile.filename, PaymentIntent.reference,
               PaymentIntent.order_code, PaymentIntent.provider_order_id, Procedure.code,
               Agency.code, Agency.account_number, FeeLine.budget_code,
               Transfer.bank_reference, Agency.transfer_account, PortalLine.portal_txn_id,
               PortalLine.provider_txn_id, PortalLine.reference, PortalFile.filename,
               Remittance.voucher_no, FeeInvoice.number)
    found: set[str] = set()
    with db.read() as s:
        for column in columns:
            found.update(str(v) for v in s.scalars(select(column).distinct()) if v)
    return sorted(found, key=len, reverse=True)


def _pages(demo: DemoWorld) -> Iterator[str]:
    yield "/finance"
    yield "/finance?day=2021-03-15"
    yield "/finance/discrepancies"
    yield "/finance/discrepancies?status=all"
    for ident in demo.discrepancies.values():
        yield f"/finance/discrepancies/{ident}"
    yield f"/finance/discrepancies/{demo.pending}/approval"
    yield "/finance/approvals"
    yield "/finance/reports/daily?day=2021-03-15"
    yield "/finance/reports/daily?day=2020-06-01"  # an empty day
    yield "/finance/reports/quarterly?year=2021&quarter=1"
    yield "/finance/reports/quarterly?year=2020&quarter=2"  # an empty quarter
    yield "/finance/outstanding"
    yield "/finance/fees?year=2021"
    yield "/finance/fees?year=2020"  # an empty year
    yield "/finance/declarations?month=2021-03"
    yield "/finance/declarations?month=2020-06"  # an empty month
    yield "/finance/declarations?year=2021"
    yield "/finance/transfers"
    yield "/finance/audit"
    yield "/finance/audit?entity_type=payment"
    yield "/finance/audit/verify"


def _empty_tables(tree: Node) -> list[str]:
    problems = []
    for table in tree.find_all("table"):
        for body in table.find_all("tbody"):
            rows = body.find_all("tr")
            if not rows:
                problems.append(f"an empty table: {table.attrs}")
            for row in rows:
                if row.text() in ("—", "-", ""):
                    problems.append(f"a row says only {row.text()!r}: {table.attrs}")
    for item in tree.find_all("li"):
        if item.text() == "—":
            problems.append("a list item says only '—'")
    return problems


def test_every_finance_page_speaks_vietnamese_formats_numbers_and_names_empty_tables(
        ketoan: FlaskClient, demo: DemoWorld, db: Database) -> None:
    codes = _codes(db)
    leaks = ["user:", "webhook:", "system:", "token:", "fetch:", "Outcome", "accepted",
             "unknown_order", " order ", "Query", "JSON"]
    leaks += list(i18n.ACTION_LABELS)
    leaks += [f"{entity} " for entity in i18n.ENTITY_LABELS if "_" in entity]
    leaks += ["payment ", "discrepancy", "dossier "]
    pages = list(_pages(demo))
    assert len(pages) >= 18
    for url in pages:
        response = ketoan.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        text = visible_text(html)
        for leak in leaks:
            assert leak not in text, f"{url}: {leak!r} shown: …{_around(text, leak)}…"
        prose = text
        for code in codes:
            prose = prose.replace(code, " ")
        prose = IDS.sub(" ", DATES.sub(" ", prose))
        bare = BARE.findall(prose)
        assert not bare, f"{url}: unformatted numbers {bare}: …{_around(prose, bare[0])}…"
        assert not _empty_tables(parse(html)), (url, _empty_tables(parse(html)))


def test_the_demo_figures_run_into_thousands_and_are_grouped(ketoan: FlaskClient) -> None:
    """The check above is not vacuous: the quarter's counts pass 999 and show as 2.000."""
    text = visible_text(ketoan.get("/finance/reports/quarterly?year=2021&quarter=1")
                        .get_data(as_text=True))
    assert re.search(r"\b\d{1,3}\.\d{3}\b(?! ₫|\xa0₫)", text), text[:400]
    outstanding = visible_text(ketoan.get("/finance/outstanding").get_data(as_text=True))
    assert re.search(r"\b\d\.\d{3}\b", outstanding)  # ages of Q1 2021 dossiers, in days


def test_audit_log_and_detail_name_actions_actors_and_entities(
        ketoan: FlaskClient, demo: DemoWorld) -> None:
    audit = parse(ketoan.get("/finance/audit").get_data(as_text=True))
    actors = {n.text() for n in audit.walk() if n.attrs.get("data-testid") == "audit-actor"}
    actions = {n.text() for n in audit.walk()
               if n.attrs.get("data-testid") == "audit-action-label"}
    assert "Người dùng ketoan" in actors and "Dữ liệu mẫu" in actors
    assert {"Đăng nhập", "Đề xuất cách xử lý", "Giao xử lý chênh lệch"} <= actions
    entities = {n.text() for n in audit.walk()
                if n.attrs.get("data-testid") == "audit-entity-label"}
    assert any(e.startswith("Chênh lệch #") for e in entities)
    payments = parse(ketoan.get("/finance/audit?entity_type=payment").get_data(as_text=True))
    shown = {n.text() for n in payments.walk()
             if n.attrs.get("data-testid") == "audit-action-label"}
    assert "Ghi nhận khoản thanh toán" in shown
    refs = {n.text() for n in payments.walk()
            if n.attrs.get("data-testid") == "audit-entity-label"}
    assert f"Khoản thanh toán #{demo.payment_id}" in refs
    assert "Thông báo từ SePay" in {n.text() for n in payments.walk()
                                    if n.attrs.get("data-testid") == "audit-actor"}
    english = ketoan.get("/finance/audit?lang=en").get_data(as_text=True)
    assert "User ketoan" in english and "Resolution proposed" in english
    assert "Logged in" in english

    detail = ketoan.get(f"/finance/discrepancies/{demo.resolved}").get_data(as_text=True)
    assert "Người dùng kiemsoat" in visible_text(detail)
    outcomes = {n.text() for n in parse(ketoan.get(
        f"/finance/discrepancies/{demo.discrepancies['amount_mismatch']}").get_data(
        as_text=True)).walk() if n.attrs.get("data-testid") == "callback-outcome"}
    assert outcomes <= {label for _, label in i18n.OUTCOME_LABELS.values()}


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(at - 60, 0): at + 60]
