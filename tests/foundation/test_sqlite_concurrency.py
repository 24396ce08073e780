"""Concurrent writers on the embedded SQLite database queue; none fails with "locked"."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from recon.clock import FixedClock
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import AuditEvent, Dossier
from tests.conftest import T0
from tests.foundation.helpers import dossier_body, seed_agency


def test_many_threads_write_without_database_locked(tmp_path: Path,
                                                    sqlite_template: Path) -> None:
    target = tmp_path / "recon.db"
    target.write_bytes(sqlite_template.read_bytes())
    db = Database(f"sqlite:///{target}")
    clock = FixedClock(T0)
    seed_agency(db, clock)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(worker: int) -> None:
        start.wait()
        for i in range(15):
            try:
                with db.transaction() as s:
                    # read first, then write: the classic deferred-transaction upgrade deadlock
                    s.execute(select(func.count()).select_from(Dossier)).scalar_one()
                    upsert_dossier(s, clock, parse_dossier(dossier_body(code=f"W{worker}-{i}")),
                                   actor="test")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dossier)) == 120
        # the audit chain stayed linear under concurrency
        hashes = s.scalars(select(AuditEvent.prev_hash)).all()
    assert len(hashes) == len(set(hashes))
    db.dispose()
