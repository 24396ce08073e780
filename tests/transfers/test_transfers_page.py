"""The onward transfers' page and a forward_overdue's detail page (Vietnamese by default):
owed, forwarded and overdue per ledger with the transfers; both sides of the finding."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select

from recon.models import Discrepancy
from tests.reconcile.recon_builders import World
from tests.transfers.conftest import COLLECTOR
from tests.transfers.test_forwarding_run import _forwarded_dossier, _record


def test_the_page_and_the_detail_show_both_sides(w: World, client: FlaskClient,
                                                 login: Callable[..., str]) -> None:
    d = _forwarded_dossier(w)
    p = w.pay(180_000, reference=w.intent(d, 180_000))
    _record(w, COLLECTOR, 80_000, "FT21101", hours=2)
    w.later(hours=30)
    w.run()
    login("finance")
    html = client.get("/finance/transfers").get_data(as_text=True)
    assert "Chuyển tiền thu hộ" in html and "trong vòng 24 giờ" in html
    assert "Ngân sách nhà nước (lệ phí)" in html and "Sở Tư pháp tỉnh Thừa Thiên Huế" in html
    assert "100.000\u00a0₫" in html and "FT21101" in html  # the budget's overdue, the transfer
    with w.db.read() as s:
        found = s.scalar(select(Discrepancy).where(Discrepancy.kind == "forward_overdue"))
    assert found is not None and found.payment_id == p
    page = client.get(f"/finance/discrepancies/{found.id}")
    assert page.status_code == 200
    detail = page.get_data(as_text=True)
    assert 'data-testid="forward-owed-side"' in detail
    assert 'data-testid="forward-transfer-side"' in detail
    assert "Khoản phải chuyển" in detail and "FT21101" in detail
    assert "Chậm chuyển tiền thu hộ" in detail
    english = client.get("/finance/transfers?lang=en").get_data(as_text=True)
    assert "Onward transfers" in english and "State budget (charges)" in english
