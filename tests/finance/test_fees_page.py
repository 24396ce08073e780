"""/finance/fees: the fees each provider charged per month against the shipped contracts,
Vietnamese first, amounts as 180.000 ₫."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from recon.clock import FixedClock
from recon.db import Database
from tests.finance.test_roles import _session_client
from tests.reconcile.recon_builders import TOTAL, World

FEE = TOTAL * 88 // 10_000  # the shipped vnpay-demo contract: 0,88 %, rounded down


def test_fees_per_provider_and_month(app: Flask, make_user: Callable[..., str], db: Database,
                                     clock: FixedClock) -> None:
    w = World(db, clock)
    for extra in (0, 1_100):
        d = w.dossier()
        p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
        w.settle("vnpay", w.txn_of(p), TOTAL, fee=FEE + extra)
    client, _csrf = _session_client(app, make_user, "finance", "ketoan")
    page = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert "Phí đã thu so với hợp đồng" in page and "Phí theo hợp đồng" in page
    row = re.search(r'<tr data-provider="vnpay" data-month="2026-11">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells[0] == "11/2026" and cells[2] == "vnpay-demo"
    nbsp = "\u00a0"
    assert cells[3:8] == ["2", f"360.000{nbsp}₫", f"4.268{nbsp}₫", f"3.168{nbsp}₫",
                          f"+1.100{nbsp}₫"]
    # the line off contract links to the fee_mismatch findings of the provider
    assert cells[8] == ('<a href="/finance/discrepancies?kind=fee_mismatch&amp;provider=vnpay" '
                        'data-testid="fees-findings">1</a>')
    bad = client.get("/finance/fees?year=abc")
    assert bad.status_code == 422
    empty = client.get("/finance/fees?year=2020").get_data(as_text=True)
    assert "Không có dòng quyết toán nào trong năm này." in empty


def test_a_missing_settlement_shows_its_deadline_in_banking_days(
        app: Flask, make_user: Callable[..., str], db: Database, clock: FixedClock) -> None:
    """Paid Thu 26 Nov 2026 (the test clock), 2 banking days: due Mon 30 Nov; the page is
    read on the app's clock, and the weekend counts no day overdue."""
    from datetime import UTC, datetime

    from recon.engine.settings import engine_config_from_env

    w = World(db, clock, config=engine_config_from_env({}))
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL))
    w.run(as_of=datetime(2026, 12, 2, 3, tzinfo=UTC))  # Wed 2 Dec 10:00 in Huế
    (found,) = w.discrepancies("open")
    assert found.kind == "missing_settlement" and "2 ngày làm việc" in found.explanation
    clock.advance(datetime(2026, 12, 7, 3, tzinfo=UTC) - clock.now())  # Mon 7 Dec
    client, _csrf = _session_client(app, make_user, "finance", "ketoan")
    page = client.get(f"/finance/discrepancies/{found.id}").get_data(as_text=True)
    assert 'data-testid="deadline">30/11/2026 (2 ngày làm việc)' in page
    # Tue 1 .. Fri 4 Dec and Mon 7 Dec: five banking days after the deadline
    assert 'data-testid="overdue">5<' in page


def test_subscriptions_against_their_invoices(app: Flask, make_user: Callable[..., str],
                                              db: Database, clock: FixedClock) -> None:
    """SePay's month costs its package (199.000 ₫ up to 3.000 transactions, shipped demo
    contract); its invoice asks 210.000 ₫: +11.000 ₫. A VNPay invoice deducted from a payout
    has no subscription to be held against."""
    from datetime import date

    from recon.contracts.invoices import InvoiceIn
    from recon.settlements.fee_invoices import record_invoice

    w = World(db, clock)
    for _ in range(2):
        d = w.dossier()
        w.pay(TOTAL, provider="sepay", reference=w.intent(d, TOTAL))
    record_invoice(db, clock, InvoiceIn("sepay", "SP-2026-11", date(2026, 12, 1),
                                        date(2026, 11, 1), 210_000, "billed"), actor="test")
    record_invoice(db, clock, InvoiceIn("vnpay", "VNP-HD-7", date(2026, 11, 30),
                                        date(2026, 11, 1), 330_000, "deducted"), actor="test")
    client, _csrf = _session_client(app, make_user, "finance", "ketoan")
    page = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert "Phí thuê bao và hóa đơn phí" in page and "Theo hợp đồng" in page
    nbsp = "\u00a0"

    def cells(provider: str) -> list[str]:
        row = re.search(rf'<tr data-provider="{provider}" data-month="2026-11"><td>11/2026'
                        rf'</td><td>[^<]*</td><td class="mono nowrap">[^<]*</td>(.*?)</tr>',
                        page.split('data-testid="subscriptions"')[1], re.S)
        assert row is not None, provider
        return [re.sub(r"<[^>]+>", "", c).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]

    assert cells("sepay") == ["2", "3.000", f"199.000{nbsp}₫", f"210.000{nbsp}₫",
                              f"+11.000{nbsp}₫", "SP-2026-11 (thanh toán riêng)", "—"]
    # VNPay prices per transaction (its contract is no subscription): nothing to judge
    assert cells("vnpay") == ["0", "—", "—", f"330.000{nbsp}₫", "—",
                              "VNP-HD-7 (trừ vào tiền chuyển về)", "—"]
    english = client.get("/finance/fees?year=2026&lang=en").get_data(as_text=True)
    assert "Subscriptions and fee invoices" in english and "deducted from a payout" in english
    empty = client.get("/finance/fees?year=2020").get_data(as_text=True)
    assert "Không có thuê bao hay hóa đơn phí nào trong năm này." in empty


def _row_cells(html: str, provider: str) -> list[str]:
    row = re.search(rf'<tr data-provider="{provider}" data-month="2026-11">(.*?)</tr>', html,
                    re.S)
    assert row is not None, provider
    return [re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_refund_fees_apart_from_the_sales(app: Flask, make_user: Callable[..., str],
                                          db: Database, clock: FixedClock) -> None:
    """Refund lines priced by the contract's refund fee (the shipped vnpay-demo: 3.000 ₫, the
    percentage returned; momo-demo: 2.000 ₫ + 1,10 % of the amount refunded, rounded down),
    in their own table; the sales' row is what it was before they came; the line off contract
    is the fee_mismatch the run finds."""
    from recon.accounts.scopes import set_user_scope, user_id_by_name
    from recon.contracts import contracts_from_settings
    from recon.engine import EngineConfig
    from tests.foundation.helpers import AGENCY

    book = contracts_from_settings(app.extensions["recon.settings"].env)
    w = World(db, clock, config=EngineConfig(contracts=book))
    for extra in (0, 1_100):
        d = w.dossier()
        p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
        w.settle("vnpay", w.txn_of(p), TOTAL, fee=FEE + extra)
    client, _csrf = _session_client(app, make_user, "finance", "ketoan")
    before = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert "Không có dòng hoàn tiền nào trong năm này." in before
    sales = _row_cells(before.split('data-testid="refund-fees"')[0], "vnpay")
    nbsp = "\u00a0"
    assert sales[3:8] == ["2", f"360.000{nbsp}₫", f"4.268{nbsp}₫", f"3.168{nbsp}₫",
                          f"+1.100{nbsp}₫"]

    d = w.dossier()
    reference = w.intent(d, TOTAL, channel="vnpay")
    w.pay(TOTAL, txn="VR1", reference=reference)
    w.pay(TOTAL, txn="VR1", reference=reference, status="refunded")
    within = w.settle("vnpay", "RF1", TOTAL, fee=3_000, kind="refund", original_txn_id="VR1")
    off = w.settle("vnpay", "VR1", 100_000, fee=4_500, kind="refund")  # its sale's own id
    w.settle("momo", "MR9", 180_000, fee=3_980, kind="refund", original_txn_id="M-NONE")
    after = client.get("/finance/fees?year=2026").get_data(as_text=True)
    assert "Phí hoàn tiền so với hợp đồng" in after and "Phí hoàn tiền đã thu" in after
    sales_part, refund_part = after.split('data-testid="refund-fees"')
    refund_part = refund_part.split('data-testid="subscriptions"')[0]
    assert _row_cells(sales_part, "vnpay") == sales  # the sales' figures are unchanged
    assert 'data-provider="momo"' not in sales_part  # a refund makes no sale row
    # month, provider, contract, lines, refunded, charged, per contract, difference, off, none
    assert _row_cells(refund_part, "vnpay") == [
        "11/2026", "VNPay", "vnpay-demo", "2", f"280.000{nbsp}₫", f"7.500{nbsp}₫",
        f"6.000{nbsp}₫", f"+1.500{nbsp}₫", "1", "0"]
    assert ('<a href="/finance/discrepancies?kind=fee_mismatch&amp;provider=vnpay" '
            'data-testid="refund-fees-findings">1</a>') in refund_part
    assert _row_cells(refund_part, "momo") == [
        "11/2026", "MoMo", "momo-demo", "1", f"180.000{nbsp}₫", f"3.980{nbsp}₫",
        f"3.980{nbsp}₫", f"0{nbsp}₫", "0", "0"]
    # the run judges the same refund line off contract, against the same 3.000 ₫
    w.run("full")
    found = [x for x in w.discrepancies("open")
             if x.kind == "fee_mismatch" and x.settlement_line_id in (within, off)]
    assert [(x.settlement_line_id, x.expected_amount, x.actual_amount) for x in found] == [
        (off, 3_000, 4_500)]
    english = client.get("/finance/fees?year=2026&lang=en").get_data(as_text=True)
    assert "Refund fees against the contracts" in english and "Refund fee per contract" in english
    # a user of the agency sees the refunds of its payments, not a refund of a sale no
    # payment of its carries
    scoped, _ = _session_client(app, make_user, "finance", "ketoan-hue")
    with db.transaction() as s:
        set_user_scope(s, clock, user_id_by_name(s, "ketoan-hue"), [AGENCY])
    mine = scoped.get("/finance/fees?year=2026").get_data(as_text=True)
    mine_refunds = mine.split('data-testid="refund-fees"')[1]
    assert _row_cells(mine_refunds, "vnpay")[3:6] == ["2", f"280.000{nbsp}₫", f"7.500{nbsp}₫"]
    assert 'data-provider="momo"' not in mine_refunds
