"""What a bounded full load holds (``recon.engine.load``).

Its dossiers (``_Dossiers``): every dossier numbered from the open months on comes from a scan
the load does not wait for. Looking one up, and adding those the expansion reaches, must not
wait for it either (the core walks the payments and lines meanwhile); only the rows do, and
they hold each dossier once.

Its payments and lines (``_Held``): every row of the open months' scan, found by the scan's
own condition on the row's dates rather than hashed by id, and those added to them, once."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime

from recon.engine.load import _Dossiers, _Held
from recon.engine.records import DossierRow, PaymentRow


def row(dossier_id: int) -> DossierRow:
    return DossierRow(dossier_id, f"HS-{dossier_id}", 100_000)


def test_lookups_and_additions_never_wait_for_the_scan() -> None:
    scan: Future[list[DossierRow]] = Future()  # never done while the lookups run
    held = _Dossiers({3: row(3)}, lo=10, scan=scan, span=5)
    assert 3 in held and 10 in held and 14 in held and 10**9 in held
    assert 4 not in held and 9 not in held and None not in held
    assert held.add(row(12)) is False  # the scan's: never held twice
    assert held.add(row(3)) is False
    assert held.add(row(7)) is True
    assert 7 in held
    assert held.at_most() == 2 + 5
    assert held.done_at is None and not scan.done()


def test_the_rows_wait_for_the_scan_and_hold_each_dossier_once() -> None:
    scan: Future[list[DossierRow]] = Future()
    held = _Dossiers({3: row(3)}, lo=10, scan=scan, span=3)
    held.add(row(7))
    held.add(row(11))
    got: list[list[DossierRow]] = []
    reader = threading.Thread(target=lambda: got.append(held.rows()))
    reader.start()
    reader.join(timeout=0.2)
    assert reader.is_alive() and not got  # still waiting for the scan
    assert held.done_at is None
    scan.set_result([row(10), row(11), row(12)])
    assert held.done_at is not None  # when the scan's rows were all in
    reader.join(timeout=5)
    assert [d.id for d in got[0]] == [10, 11, 12, 3, 7]
    assert held.ids() == [10, 11, 12, 3, 7]
    assert held.done_at is not None


def test_without_a_scan_the_dossiers_are_those_read_by_id() -> None:
    held = _Dossiers({5: row(5)})
    assert 5 in held and 6 not in held and 10**9 not in held
    assert held.add(row(6)) is True
    assert held.at_most() == 2
    assert held.ids() == [5, 6]


HORIZON = datetime(2026, 10, 1, tzinfo=UTC)


def payment(payment_id: int, month: int) -> PaymentRow:
    return PaymentRow(payment_id, "vnpay", f"T{payment_id}", "qr", 100_000, "succeeded",
                      datetime(2026, month, 5, tzinfo=UTC), None, None, None)


def is_open(p: PaymentRow) -> bool:
    return p.paid_at is not None and p.paid_at >= HORIZON


def test_a_row_of_the_scan_is_found_by_its_dates_and_never_held_twice() -> None:
    held = _Held([payment(1, 10), payment(2, 11)], is_open)
    assert held.holds(payment(2, 11)) and not held.holds(payment(3, 9))
    assert held.add(payment(2, 11)) is False  # the scan's
    assert held.add(payment(3, 9)) is True
    assert held.add(payment(3, 9)) is False
    assert held.holds(payment(3, 9))
    assert [p.id for p in held.rows()] == [1, 2, 3]
    assert [p.id for p in held] == [1, 2, 3]


def test_an_id_alone_is_looked_up_among_the_scan_and_the_added() -> None:
    held = _Held([payment(1, 10), payment(2, 11)], is_open)
    held.add(payment(7, 8))
    assert held.missing({1, 2, 7}) == set()
    assert held.missing({3}) == {3}
    assert held.missing({1, 3, 7, 9}) == {3, 9}
    assert held.missing(set()) == set()


def test_without_a_scan_the_rows_are_held_by_id() -> None:
    held = _Held.of([payment(4, 8), payment(5, 11)])
    assert held.holds(payment(4, 8)) and held.missing({5, 6}) == {6}
    assert held.add(payment(5, 11)) is False and held.add(payment(6, 9)) is True
    assert [p.id for p in held.rows()] == [4, 5, 6]
