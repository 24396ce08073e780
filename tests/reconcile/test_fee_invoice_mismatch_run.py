"""fee_invoice_mismatch on a real database (SQLite and PostgreSQL): found by full and
incremental runs alike, auto-resolved when the replacement invoice is recorded, an invoice no
contract covers, replacements refused when they name nothing valid, and the finding on the
detail page and the fees page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from flask import Flask

from recon.accounts.scopes import set_user_scope, user_id_by_name
from recon.clock import FixedClock
from recon.contracts import ContractBook, load_contracts
from recon.contracts.invoices import HEADER, InvoiceIn
from recon.db import Database
from recon.engine import EngineConfig
from recon.errors import ValidationError
from recon.settlements.fee_invoices import import_invoices, list_invoices, record_invoice
from tests.finance.test_roles import _session_client
from tests.foundation.helpers import AGENCY
from tests.reconcile.recon_builders import TOTAL, World, state

NOV = date(2026, 11, 1)  # the test clock's month
KIND = "fee_invoice_mismatch"
NBSP = "\u00a0"


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock, config=EngineConfig(contracts=load_contracts()))


def _sepay_month(w: World, amount: int, number: str = "SP-2026-11",
                 replaces: str | None = None) -> int:
    for _ in range(2):
        d = w.dossier()
        w.pay(TOTAL, provider="sepay", reference=w.intent(d, TOTAL))
    return record_invoice(w.db, w.clock, InvoiceIn(
        "sepay", number, date(2026, 12, 1), NOV, amount, "billed", replaces=replaces),
        actor="test")


def _findings(w: World, status: str | None = None) -> list:  # type: ignore[type-arg]
    return [d for d in w.discrepancies(status) if d.kind == KIND]


def test_found_by_a_full_run_and_the_same_by_an_incremental_one(w: World) -> None:
    invoice_id = _sepay_month(w, 221_000)
    w.run("full", as_of=w.clock.now())
    (found,) = _findings(w, "open")
    assert found.identity == f"{KIND}:fee_invoice={invoice_id}"
    assert (found.expected_amount, found.actual_amount, found.delta) == (199_000, 221_000,
                                                                         22_000)
    assert found.provider == "sepay" and "SP-2026-11" in found.explanation
    assert "Invoice SP-2026-11 of SePay for 2026-11" in (found.explanation_en or "")
    full = state(w.db)
    # an incremental run (nothing about the invoice changed) judges it the same way
    w.later(minutes=5)
    summary = w.run("auto", as_of=w.clock.now())
    assert summary.mode == "incremental" and state(w.db) == full


def test_a_replacement_invoice_auto_resolves_it_on_the_next_incremental_run(w: World) -> None:
    _sepay_month(w, 221_000)
    w.run("full", as_of=w.clock.now())
    (wrong,) = _findings(w, "open")
    w.later(minutes=5)
    record_invoice(w.db, w.clock, InvoiceIn("sepay", "SP-2026-11-R", date(2026, 12, 3), NOV,
                                            199_000, "billed", replaces="SP-2026-11"),
                   actor="test")
    w.later(minutes=5)
    assert w.run("auto", as_of=w.clock.now()).mode == "incremental"
    (closed,) = _findings(w)
    assert closed.identity == wrong.identity and closed.status == "auto_resolved"
    assert "SP-2026-11-R" in (closed.auto_resolved_reason or "")
    assert "now agrees with the contract" in (closed.auto_resolved_reason_en or "")
    incremental = state(w.db)
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    assert state(w.db) == incremental  # a full run agrees


def test_a_replacement_still_wrong_is_a_finding_about_it(w: World) -> None:
    _sepay_month(w, 221_000)
    w.run("full", as_of=w.clock.now())
    w.later(minutes=5)
    new_id = record_invoice(w.db, w.clock, InvoiceIn(
        "sepay", "SP-2026-11-R", date(2026, 12, 3), NOV, 210_000, "billed",
        replaces="SP-2026-11"), actor="test")
    w.later(minutes=5)
    w.run("auto", as_of=w.clock.now())
    by_status = {d.status: d for d in _findings(w)}
    assert set(by_status) == {"open", "auto_resolved"}
    assert by_status["open"].identity == f"{KIND}:fee_invoice={new_id}"
    assert by_status["open"].delta == 11_000
    assert "thay thế hóa đơn SP-2026-11" in by_status["open"].explanation


def test_an_invoice_for_a_month_no_contract_covers(w: World) -> None:
    record_invoice(w.db, w.clock, InvoiceIn("casso", "CA-2020-12", date(2021, 1, 2),
                                            date(2020, 12, 1), 150_000, "billed"), actor="test")
    w.run("full", as_of=w.clock.now())
    (found,) = _findings(w, "open")
    assert (found.expected_amount, found.actual_amount) == (0, 150_000)
    assert "không có hợp đồng phí nào của Casso" in found.explanation
    # without any contract (production without RECON_CONTRACTS_FILE) nothing is judged,
    # and what was open is closed
    w.config = replace(w.config, contracts=ContractBook())
    w.later(minutes=5)
    w.run("full", as_of=w.clock.now())
    assert [d.status for d in _findings(w)] == ["auto_resolved"]


def test_a_replacement_must_name_an_invoice_of_its_provider_and_month(
        db: Database, clock: FixedClock) -> None:
    record_invoice(db, clock, InvoiceIn("sepay", "SP-1", date(2026, 12, 1), NOV, 221_000,
                                        "billed"), actor="test")
    cases = [
        (InvoiceIn("sepay", "SP-X", date(2026, 12, 2), NOV, 199_000, "billed",
                   replaces="SP-9"), "invoice SP-9 of sepay is not recorded"),
        (InvoiceIn("casso", "SP-X", date(2026, 12, 2), NOV, 199_000, "billed",
                   replaces="SP-1"), "invoice SP-1 of casso is not recorded"),
        (InvoiceIn("sepay", "SP-X", date(2026, 12, 2), date(2026, 10, 1), 199_000,
                   "billed", replaces="SP-1"), "bills 11/2026, not 10/2026"),
        (InvoiceIn("sepay", "SP-X", date(2026, 12, 2), NOV, 199_000, "billed",
                   replaces="SP-X"), "must name another invoice's number"),
    ]
    for invoice, message in cases:
        with pytest.raises(ValidationError) as caught:
            record_invoice(db, clock, invoice, actor="test")
        assert message in str(caught.value.errors), message
    record_invoice(db, clock, InvoiceIn("sepay", "SP-2", date(2026, 12, 2), NOV, 199_000,
                                        "billed", replaces="SP-1"), actor="test")
    with pytest.raises(ValidationError, match="already replaced by SP-2"):
        record_invoice(db, clock, InvoiceIn("sepay", "SP-3", date(2026, 12, 3), NOV, 199_000,
                                            "billed", replaces="SP-1"), actor="test")
    # in a file, a replacement may name an invoice on an earlier line
    body = ("\r\n".join([HEADER + ",replaces",
                         "casso,CA-1,2026-12-01,2026-11,160000,,billed,,",
                         "casso,CA-2,2026-12-05,2026-11,150000,,billed,,CA-1"]) + "\r\n")
    result = import_invoices(db, clock, body.encode(), "casso.csv", actor="test")
    assert result.invoices == 2
    with db.read() as s:
        views = {v.number: v.replaces for v in list_invoices(s, month=NOV)}
    assert views == {"SP-1": None, "SP-2": "SP-1", "CA-1": None, "CA-2": "CA-1"}


def test_the_finding_on_its_page_and_on_the_fees_page(
        app: Flask, make_user: Callable[..., str], w: World) -> None:
    invoice_id = _sepay_month(w, 221_000)
    w.run("full", as_of=datetime(2026, 12, 2, 3, tzinfo=UTC))
    (found,) = _findings(w, "open")
    client, _csrf = _session_client(app, make_user, "finance", "ketoan")
    page = client.get(f"/finance/discrepancies/{found.id}").get_data(as_text=True)
    assert "Hóa đơn phí lệch hợp đồng" in page and 'data-testid="invoice-sides"' in page
    assert f'data-testid="invoice-expected">199.000{NBSP}₫<' in page
    assert f'data-testid="invoice-invoiced">221.000{NBSP}₫<' in page
    assert "SP-2026-11" in page and "sepay-demo" in page
    fees = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert f'href="/finance/discrepancies/{found.id}">Hóa đơn phí lệch hợp đồng</a>' in fees
    assert invoice_id > 0
    english = client.get(f"/finance/discrepancies/{found.id}?lang=en").get_data(as_text=True)
    assert "Fee invoice differs from contract" in english and "Expected by contract" in english


def test_a_user_of_some_agencies_does_not_see_the_centres_invoice_finding(
        app: Flask, make_user: Callable[..., str], w: World) -> None:
    """A provider's invoice is the centre's, not an agency's: a user narrowed to the very agency
    whose payments the invoice's month counts gets 404 for the finding, and the fees page keeps
    the invoices hidden."""
    _sepay_month(w, 221_000)
    w.run("full", as_of=w.clock.now())
    (found,) = _findings(w, "open")
    client, _csrf = _session_client(app, make_user, "finance", "ketoan-hue")
    with w.db.transaction() as s:
        set_user_scope(s, w.clock, user_id_by_name(s, "ketoan-hue"), [AGENCY])
    assert client.get(f"/finance/discrepancies/{found.id}").status_code == 404
    fees = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert 'data-testid="subscriptions-hidden"' in fees and "SP-2026-11" not in fees
    queue = client.get("/finance/discrepancies?kind=fee_invoice_mismatch").get_data(
        as_text=True)
    assert 'data-testid="queue-row"' not in queue


def test_the_command_records_a_replacement_and_lists_it(env: dict[str, str], db: Database,
                                                        ) -> None:
    from click.testing import CliRunner

    from recon.cli import cli

    runner = CliRunner()
    base = ["fee-invoices", "record", "--provider", "casso", "--date", "2026-12-01",
            "--month", "2026-11", "--how", "billed"]
    first = runner.invoke(cli, [*base, "--number", "CA-11", "--amount", "160.000"],
                          catch_exceptions=False)
    assert first.exit_code == 0, first.output
    wrong = runner.invoke(cli, [*base, "--number", "CA-11B", "--amount", "150000",
                                "--replaces", "CA-99"])
    assert wrong.exit_code == 1 and "invoice CA-99 of casso is not recorded" in wrong.output
    fixed = runner.invoke(cli, [*base, "--number", "CA-11B", "--amount", "150000",
                                "--replaces", "CA-11"], catch_exceptions=False)
    assert fixed.exit_code == 0, fixed.output
    listed = runner.invoke(cli, ["fee-invoices", "list", "--month", "2026-11"],
                           catch_exceptions=False)
    lines = [ln for ln in listed.output.splitlines() if "CA-11B" in ln]
    assert len(lines) == 1 and lines[0].endswith("billed  replaces CA-11")
