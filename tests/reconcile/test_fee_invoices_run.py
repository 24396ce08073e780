"""Fee invoices on a real database (SQLite and PostgreSQL): imported all or nothing, refused
twice, and, when a provider deducted one from a payout, named by the payout pass as the
difference of the short credit, in full and incremental runs."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from recon.calendar.days import EVERY_DAY
from recon.clock import FixedClock
from recon.contracts.invoices import HEADER, InvoiceIn
from recon.db import Database
from recon.engine.payout_load import fee_invoice_deductions
from recon.engine.payouts import weekend_add_banking_days
from recon.errors import ValidationError
from recon.models import AuditEvent, FeeInvoice, FeeInvoiceFile
from recon.settlements.fee_invoices import (
    import_invoices,
    list_invoices,
    record_invoice,
)
from recon.settlements.payouts import engine_config
from tests.reconcile.payout_builders import (
    MON,
    at_day,
    credit,
    pay_and_settle,
    statement_of_wednesday,
    vn,
)
from tests.reconcile.recon_builders import World, state

INVOICE = 30_000  # what VNPay took off Monday's payout


@pytest.fixture
def w(db: Database) -> World:
    clock = FixedClock(vn(MON, 8).astimezone(UTC))
    config = replace(engine_config({"RECON_ENV": "production"},
                                   add_banking_days=weekend_add_banking_days),
                     calendar=EVERY_DAY)
    return World(db, clock, config=config)


def csv_file(*rows: str) -> bytes:
    return ("\ufeff" + "\r\n".join([HEADER, *rows]) + "\r\n").encode()


def counts(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (int(s.scalar(select(func.count()).select_from(FeeInvoice)) or 0),
                int(s.scalar(select(func.count()).select_from(FeeInvoiceFile)) or 0))


def test_a_file_is_imported_whole_and_kept(db: Database, clock: FixedClock) -> None:
    body = csv_file("sepay,SP-2021-01,2021-02-01,2021-01,199.000,18.091,billed,gói tháng 1",
                    "vnpay,VNP-HD-1,2021-02-03,2021-01,330000,30000,deducted,")
    result = import_invoices(db, clock, body, "hoa-don.csv", actor="test")
    assert (result.invoices, result.total, result.deducted) == (2, 529_000, 1)
    with db.read() as s:
        kept = s.scalars(select(FeeInvoiceFile)).one()
        assert kept.content == body and kept.size == len(body) and kept.imported_by == "test"
        views = list_invoices(s, month=date(2021, 1, 1))
        actions = set(s.scalars(select(AuditEvent.action)))
    assert [(v.provider, v.number, v.amount, v.vat_amount, v.charged_as, v.file_id)
            for v in views] == [("sepay", "SP-2021-01", 199_000, 18_091, "billed", kept.id),
                                ("vnpay", "VNP-HD-1", 330_000, 30_000, "deducted", kept.id)]
    assert "fee_invoices.imported" in actions


def test_one_bad_line_refuses_the_whole_file(db: Database, clock: FixedClock) -> None:
    body = csv_file("sepay,SP-1,2021-02-01,2021-01,199000,,billed,",
                    "sepay,SP-2,2021-03-01,2021-02,\"1,000.5\",,billed,",
                    "casso,CA-1,2021-03-01,2021-02,-150000,,billed,")
    with pytest.raises(ValidationError) as caught:
        import_invoices(db, clock, body, "bad.csv", actor="test")
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "amount"), (4, "amount")]
    assert "nothing was imported" in (caught.value.hint or "")
    assert counts(db) == (0, 0)


def test_the_same_file_or_an_invoice_already_recorded_is_refused(
        db: Database, clock: FixedClock) -> None:
    body = csv_file("sepay,SP-1,2021-02-01,2021-01,199000,,billed,")
    import_invoices(db, clock, body, "a.csv", actor="test")
    with pytest.raises(ValidationError, match="already imported as file"):
        import_invoices(db, clock, body, "a-again.csv", actor="test")
    other = csv_file("sepay,SP-2,2021-03-01,2021-02,199000,,billed,",
                     "sepay,SP-1,2021-02-01,2021-01,199000,,billed,")
    with pytest.raises(ValidationError) as caught:
        import_invoices(db, clock, other, "b.csv", actor="test")
    assert "invoice SP-1 of sepay (01/02/2021) is already recorded" in str(caught.value.errors)
    by_hand = InvoiceIn("sepay", "SP-1", date(2021, 2, 1), date(2021, 1, 1), 199_000, "billed")
    with pytest.raises(ValidationError, match="already recorded"):
        record_invoice(db, clock, by_hand, actor="test")
    # the same number of another provider is another invoice
    record_invoice(db, clock, replace(by_hand, provider="casso"), actor="test")
    assert counts(db) == (2, 1)


def test_an_xlsx_file_with_the_provider_named_by_the_importer(
        db: Database, clock: FixedClock) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["number", "issued_on", "period", "amount", "charged_as", "note"])
    sheet.append(["CA-2021-03", date(2021, 3, 1), "2021-03", 150000, "billed", "Casso"])
    out = io.BytesIO()
    book.save(out)
    result = import_invoices(db, clock, out.getvalue(), "casso.xlsx", provider="casso",
                             actor="test")
    assert result.invoices == 1
    with db.read() as s:
        (view,) = list_invoices(s, year=2021)
    assert (view.provider, view.period, view.amount) == ("casso", date(2021, 3, 1), 150_000)


def _short_credit(w: World) -> None:
    """Friday+Saturday's session paid in full on Monday; Monday's (98,000, due Tuesday) paid
    on Tuesday less the invoice."""
    pay_and_settle(w)
    credit(w, MON, [("FT001", 196000, "VNPAY TT PHIEN 20/11")])
    credit(w, MON + timedelta(days=1), [("FT004", 98000 - INVOICE, "VNPAY TT PHIEN 23/11")])
    statement_of_wednesday(w)
    at_day(w, MON + timedelta(days=3))


def _deducted(w: World, charged_as: str = "deducted") -> None:
    record_invoice(w.db, w.clock, InvoiceIn("vnpay", "VNP-HD-0042", MON, date(2026, 11, 1),
                                            INVOICE, charged_as, note="phí tháng 11"),
                   actor="test")


def _payout(w: World) -> object:
    [d] = [x for x in w.discrepancies("open") if x.kind.startswith("payout")]
    return d


def test_a_payout_less_a_deducted_invoice_names_it_in_a_full_run(w: World) -> None:
    _short_credit(w)
    _deducted(w)
    w.run("full", as_of=w.clock.now())
    d = _payout(w)
    assert (d.kind, d.expected_amount, d.actual_amount, d.delta) == (  # type: ignore[attr-defined]
        "payout_mismatch", 98000, 68000, -INVOICE)
    assert "VNP-HD-0042" in d.explanation and "hóa đơn phí" in d.explanation  # type: ignore[attr-defined]
    assert "fee invoice" in (d.explanation_en or "")  # type: ignore[attr-defined]


def test_a_billed_invoice_is_no_deduction(w: World) -> None:
    _short_credit(w)
    _deducted(w, "billed")
    w.run("full", as_of=w.clock.now())
    d = _payout(w)
    assert d.delta == -INVOICE and "VNP-HD-0042" not in d.explanation  # type: ignore[attr-defined]


def test_an_invoice_imported_later_is_named_by_the_next_incremental_run(w: World) -> None:
    _short_credit(w)
    w.run("full", as_of=w.clock.now())
    before = _payout(w)
    assert "VNP-HD-0042" not in before.explanation  # type: ignore[attr-defined]
    # weeks later (the credit is far outside the window of the days since the last run)
    at_day(w, MON + timedelta(days=70))
    w.run("auto", as_of=w.clock.now())
    w.later(hours=1)
    import_invoices(w.db, w.clock, csv_file(
        f"vnpay,VNP-HD-0042,{MON.isoformat()},2026-11,{INVOICE},,deducted,"), "vnp.csv",
        actor="test")
    w.later(minutes=5)
    summary = w.run("auto", as_of=w.clock.now())
    assert summary.mode == "incremental"
    after = _payout(w)
    assert after.identity == before.identity  # type: ignore[attr-defined]
    assert "VNP-HD-0042" in after.explanation  # type: ignore[attr-defined]
    assert "fee invoice" in (after.explanation_en or "")  # type: ignore[attr-defined]


def _invoice(w: World, number: str, amount: int, *, replaces: str | None = None,
             charged_as: str = "deducted", issued_on: date = MON) -> None:
    record_invoice(w.db, w.clock, InvoiceIn("vnpay", number, issued_on, date(2026, 11, 1),
                                            amount, charged_as, replaces=replaces),
                   actor="test")


def test_a_payout_less_the_replacement_names_the_replacement(w: World) -> None:
    """VNP-HD-0042 asked 25.000 ₫; its replacement VNP-HD-0043 asks the 30.000 ₫ VNPay took."""
    _short_credit(w)
    _invoice(w, "VNP-HD-0042", INVOICE - 5_000)
    _invoice(w, "VNP-HD-0043", INVOICE, replaces="VNP-HD-0042")
    w.run("full", as_of=w.clock.now())
    d = _payout(w)
    assert (d.kind, d.expected_amount, d.actual_amount, d.delta) == (  # type: ignore[attr-defined]
        "payout_mismatch", 98000, 68000, -INVOICE)
    assert "VNP-HD-0043" in d.explanation and "VNP-HD-0042" not in d.explanation  # type: ignore[attr-defined]
    assert "fee invoice VNP-HD-0043" in (d.explanation_en or "")  # type: ignore[attr-defined]
    assert "VNP-HD-0042" not in (d.explanation_en or "")  # type: ignore[attr-defined]


def test_a_replaced_invoice_explains_no_payout(w: World) -> None:
    """VNPay took 30.000 ₫, the amount of VNP-HD-0042, but VNP-HD-0043 replaced that invoice
    (25.000 ₫): the credit is short by an amount nothing standing explains."""
    _short_credit(w)
    _invoice(w, "VNP-HD-0042", INVOICE)
    _invoice(w, "VNP-HD-0043", INVOICE - 5_000, replaces="VNP-HD-0042")
    w.run("full", as_of=w.clock.now())
    d = _payout(w)
    assert (d.kind, d.expected_amount, d.actual_amount, d.delta) == (  # type: ignore[attr-defined]
        "payout_mismatch", 98000, 68000, -INVOICE)
    for text_ in (d.explanation, d.explanation_en or ""):  # type: ignore[attr-defined]
        assert "VNP-HD-0042" not in text_ and "VNP-HD-0043" not in text_
    assert "fee invoice" not in (d.explanation_en or "")  # type: ignore[attr-defined]
    assert "hóa đơn phí" not in d.explanation  # type: ignore[attr-defined]


def test_only_the_newest_of_a_chain_of_replacements_stands(w: World) -> None:
    _short_credit(w)
    _invoice(w, "VNP-HD-0042", INVOICE)
    _invoice(w, "VNP-HD-0043", INVOICE, replaces="VNP-HD-0042")
    _invoice(w, "VNP-HD-0044", INVOICE - 1_000, replaces="VNP-HD-0043")
    w.run("full", as_of=w.clock.now())
    d = _payout(w)
    assert "fee invoice" not in (d.explanation_en or "")  # type: ignore[attr-defined]
    with w.db.engine.connect() as conn:
        offered = fee_invoice_deductions(conn, ["vnpay"])
    assert [(x.reference, x.amount) for x in offered] == [("VNP-HD-0044", INVOICE - 1_000)]


@pytest.mark.parametrize(("amount", "charged_as", "named"), [
    (INVOICE - 5_000, "deducted", None),  # the correction asks less: nothing explains it
    (INVOICE, "billed", None),  # billed apart now: no deduction at all
    (INVOICE, "deducted", "VNP-HD-0043"),  # the same amount: the replacement explains it
])
def test_a_replacement_between_runs_is_judged_incrementally_as_a_full_run_does(
        w: World, amount: int, charged_as: str, named: str | None) -> None:
    _short_credit(w)
    _invoice(w, "VNP-HD-0042", INVOICE)
    w.run("full", as_of=w.clock.now())
    before = _payout(w)
    assert "fee invoice VNP-HD-0042" in (before.explanation_en or "")  # type: ignore[attr-defined]
    # weeks later (the credit is far outside the days since the last run); the replacement
    # is dated on the day of the one it replaces, so only the replaced invoice's days bring
    # the credit back into the window
    at_day(w, MON + timedelta(days=70))
    w.run("auto", as_of=w.clock.now())
    w.later(hours=1)
    _invoice(w, "VNP-HD-0043", amount, replaces="VNP-HD-0042", charged_as=charged_as,
             issued_on=date(2026, 11, 2))
    w.later(minutes=5)
    summary = w.run("auto", as_of=w.clock.now())
    assert summary.mode == "incremental"
    after = _payout(w)
    assert after.identity == before.identity  # type: ignore[attr-defined]
    assert "VNP-HD-0042" not in after.explanation  # type: ignore[attr-defined]
    assert "VNP-HD-0042" not in (after.explanation_en or "")  # type: ignore[attr-defined]
    if named is None:
        assert "fee invoice" not in (after.explanation_en or "")  # type: ignore[attr-defined]
    else:
        assert f"fee invoice {named}" in (after.explanation_en or "")  # type: ignore[attr-defined]
        assert named in after.explanation  # type: ignore[attr-defined]
    incremental = state(w.db)
    w.later(minutes=5)
    full = w.run("full", as_of=w.clock.now())
    assert (full.new, full.auto_resolved, full.reopened) == (0, 0, 0)
    assert state(w.db) == incremental


def test_the_command_imports_records_and_lists(env: dict[str, str], db: Database,
                                               tmp_path: Path) -> None:
    from click.testing import CliRunner

    from recon.cli import cli

    runner = CliRunner()
    good = tmp_path / "sepay.csv"
    good.write_bytes(csv_file("sepay,SP-2021-01,2021-02-01,2021-01,199.000,,billed,"))
    done = runner.invoke(cli, ["fee-invoices", "import", str(good)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output.strip().splitlines()[-1])["invoices"] == 1
    again = runner.invoke(cli, ["fee-invoices", "import", str(good)])
    assert again.exit_code == 1 and "already imported" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file("casso,CA-1,2021-02-01,2021-01,1.5,,billed,",
                             "casso,CA-2,2021-02-01,2021-01,150000,,later,"))
    refused = runner.invoke(cli, ["fee-invoices", "import", "--provider", "casso", str(bad)])
    assert refused.exit_code == 1
    assert "2 problem(s) in bad.csv; nothing was imported" in refused.output
    assert "line 2: amount: must be a whole number of VND" in refused.output
    assert "line 3: charged_as:" in refused.output
    recorded = runner.invoke(cli, ["fee-invoices", "record", "--provider", "vnpay", "--number",
                                   "VNP-1", "--date", "2021-02-03", "--month", "2021-01",
                                   "--amount", "330.000", "--vat", "30000", "--how",
                                   "deducted"], catch_exceptions=False)
    assert recorded.exit_code == 0, recorded.output
    for amount in ("1.5", "1,000.5", "-5"):
        wrong = runner.invoke(cli, ["fee-invoices", "record", "--provider", "vnpay",
                                    "--number", "VNP-2", "--date", "2021-02-03", "--month",
                                    "2021-01", "--amount", amount, "--how", "billed"])
        assert wrong.exit_code == 1 and "whole number of VND" in wrong.output, amount
    twice = runner.invoke(cli, ["fee-invoices", "record", "--provider", "vnpay", "--number",
                                "VNP-1", "--date", "2021-02-03", "--month", "2021-01",
                                "--amount", "330000", "--how", "deducted"])
    assert twice.exit_code == 1 and "already recorded" in twice.output
    listed = runner.invoke(cli, ["fee-invoices", "list", "--month", "2021-01"],
                           catch_exceptions=False)
    assert "SP-2021-01" in listed.output and "330.000\u00a0₫ (VAT 30.000\u00a0₫)" in listed.output
    assert counts(db) == (2, 1)
