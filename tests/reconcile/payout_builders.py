"""A provider's batches and the centre's bank credits, imported as finance imports them: a
canonical settlement file of VNPay and VietinBank statements (shared by the payout tests)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from recon.clock import VN_TZ
from recon.settlements.importer import import_settlement
from tests.reconcile.recon_builders import World

MON = date(2026, 11, 23)  # a Monday
FRI = MON - timedelta(days=3)


def vn(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), VN_TZ)


def gateway_file(rows: list[tuple[str, int, int, date]]) -> bytes:
    """recon's canonical settlement CSV: (txn, gross, fee, day of the transaction)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["provider_txn_id", "amount", "fee", "transaction_at", "settled_on"])
    for txn, amount, fee, day in rows:
        writer.writerow([txn, amount, fee, vn(day).isoformat(), day.isoformat()])
    return out.getvalue().encode()


def statement(day: date, rows: list[tuple[str, int, str]]) -> bytes:
    """A VietinBank statement: (bank reference, credit, memo)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["SAO KÊ TÀI KHOẢN / ACCOUNT STATEMENT"])
    writer.writerow([])
    writer.writerow(["STT", "Ngày giao dịch", "Số tham chiếu", "Nội dung", "Số tiền ghi nợ",
                     "Số tiền ghi có"])
    for n, (ref, amount, memo) in enumerate(rows, start=1):
        writer.writerow([n, f"{day:%d/%m/%Y} 09:15:00", ref, memo, "", f"{amount:,}"])
    writer.writerow(["Tổng cộng", "", "", "", "0", f"{sum(r[1] for r in rows):,}"])
    return out.getvalue().encode()


def pay_and_settle(w: World) -> None:
    """VNPay payments on Friday, Saturday and Monday (Fri+Sat is one session), settled."""
    for txn, day in (("V1", FRI), ("V2", FRI + timedelta(days=1)), ("V3", MON)):
        d = w.dossier(amounts=(100000,))
        w.pay(100000, provider="vnpay", txn=txn, reference=w.intent(d, 100000, channel="vnpay"),
              paid_at=vn(day))
    body = gateway_file([("V1", 100000, 2000, FRI), ("V2", 100000, 2000, FRI + timedelta(1)),
                         ("V3", 100000, 2000, MON)])
    summary = import_settlement(w.db, w.clock, "vnpay", body, "vnpay-2026-11-23.csv",
                                actor="test")
    assert summary.lines == 3


def credit(w: World, day: date, rows: list[tuple[str, int, str]]) -> None:
    import_settlement(w.db, w.clock, "sepay", statement(day, rows), f"saoke-{day}.csv",
                      actor="test", profile="vietinbank_statement")


def at_day(w: World, day: date, hour: int = 12) -> None:
    target = vn(day, hour).astimezone(UTC)
    if w.clock.now() < target:
        w.clock.advance(target - w.clock.now())




def statement_of_wednesday(w: World) -> None:
    """Wednesday's statement, with one citizen's transfer no payment carries (an ordinary
    ``unexpected_settlement``): the imported statements now reach past Monday's batch's due day
    (Tuesday), so that batch can be missing."""
    credit(w, MON + timedelta(days=2), [("FT003", 180000, "HS7K2P NOP PHI")])
