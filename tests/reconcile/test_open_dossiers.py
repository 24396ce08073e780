"""A bounded full load's dossiers (``recon.engine.load._Dossiers``): every dossier numbered
from the open months on comes from a scan the load does not wait for. Looking one up, and
adding those the expansion reaches, must not wait for it either (the core walks the payments
and lines meanwhile); only the rows do, and they hold each dossier once."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from recon.engine.load import _Dossiers
from recon.engine.records import DossierRow


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
    scan.set_result([row(10), row(11), row(12)])
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
