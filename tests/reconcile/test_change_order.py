"""Incremental runs read what changed in the order the database keeps (``change_seq``), not by
``as_of`` nor by any writer's clock (issue 15 §1): the late settlement file after a run "as of
next week", writers whose clocks run behind, a transaction that commits after a run has read,
a discrepancy reopened by hand, a reassessment, and ``as_of`` moving backwards."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from recon.cli import cli
from recon.clock import FixedClock
from recon.db import Database
from recon.models import SettlementFile, SettlementLine
from recon.review.actions import reopen
from tests.conftest import T0
from tests.reconcile.recon_builders import TOTAL, World


def _invoke(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


def _status(w: World) -> dict[str, str]:
    return {d.identity: d.status for d in w.discrepancies()}


def _open(w: World) -> set[tuple[Any, ...]]:
    return {(d.identity, d.expected_amount, d.actual_amount, d.delta, d.explanation,
             d.explanation_en) for d in w.discrepancies("open")}


# --------------------------------------------------------------------------- the late file


def test_a_late_file_after_a_run_as_of_next_week_is_read_by_the_next_incremental_run(
        db: Database, env: dict[str, str], tmp_path: Path) -> None:
    """The issue's scenario, as a user types it: reconcile as of a few days ahead, import the
    late settlement file (its rows carry today's time, before that as_of), reconcile again
    later without --full: the two missing settlements are resolved."""
    now = datetime.now(UTC).replace(microsecond=0)
    w = World(db, FixedClock(now))
    d1, d2 = w.dossier(), w.dossier()
    w.pay(TOTAL, txn="LATE-1", reference=w.intent(d1, TOTAL), paid_at=now - timedelta(hours=2))
    w.pay(TOTAL, txn="LATE-2", reference=w.intent(d2, TOTAL), paid_at=now - timedelta(hours=1))
    ahead = now + timedelta(days=4)
    first = _invoke("reconcile", "--as-of", ahead.isoformat())
    assert first["counts"]["missing_settlement"] == 2
    late = tmp_path / "vnpay_late.csv"
    settled_on = (now + timedelta(days=1)).date().isoformat()
    late.write_text(
        "provider_txn_id,amount,fee,transaction_at,settled_on,net_amount\n"
        f"LATE-1,{TOTAL},0,{(now - timedelta(hours=2)).isoformat()},{settled_on},{TOTAL}\n"
        f"LATE-2,{TOTAL},0,{(now - timedelta(hours=1)).isoformat()},{settled_on},{TOTAL}\n",
        encoding="utf-8")
    imported = _invoke("settlements", "import", "--provider", "vnpay", str(late))
    assert imported["lines"] == 2
    second = _invoke("reconcile", "--incremental", "--as-of",
                     (ahead + timedelta(days=1)).isoformat())
    assert second["mode"] == "incremental"
    assert second["auto_resolved"] == 2
    assert second["open_by_kind"]["missing_settlement"] == 0
    assert sorted(k for k, v in _status(w).items() if v == "auto_resolved") == [
        "missing_settlement:payment=1", "missing_settlement:payment=2"]


# --------------------------------------------------------------------------- skewed writers


def test_writers_whose_clocks_run_behind_are_read(db: Database) -> None:
    """Rows stamped a day before the last run's as_of (a writer's clock behind the
    scheduler's) are read by the next incremental run all the same."""
    w = World(db, FixedClock(T0))
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    paid = w.pay(TOTAL, reference=ref, paid_at=T0 - timedelta(days=5))
    first = w.run(as_of=T0 + timedelta(hours=1))
    assert first.counts["missing_settlement"] == 1
    behind = World(db, FixedClock(T0 - timedelta(days=1)))  # same data, a slow clock
    behind._seeded = True
    behind.settle("vnpay", w.txn_of(paid), TOTAL, settled_on=(T0 - timedelta(days=4)).date())
    behind.pay(TOTAL, txn="TWICE", reference=ref, paid_at=T0 - timedelta(days=1, hours=1))
    second = w.run(as_of=T0 + timedelta(hours=1, minutes=1))
    assert second.mode == "incremental"
    assert w.kinds() == ["duplicate_payment"]  # the second is not due yet
    assert _status(w)[f"missing_settlement:payment={paid}"] == "auto_resolved"
    open_now = _open(w)
    w.run("full", as_of=T0 + timedelta(hours=1, minutes=1))
    assert _open(w) == open_now


def test_a_reassessment_by_a_slow_writer_is_read(db: Database) -> None:
    """Replacing a dossier's fee lines (a reassessment) changes what it owes; the dossier is
    read again even though every timestamp written lies before the last run's as_of."""
    clock = FixedClock(T0)
    w = World(db, clock)
    code = "000.00.21.H57-261126-0777"
    d = w.dossier(code)
    w.pay(TOTAL, reference=w.intent(d, TOTAL), provider="cash", channel="cash",
          dossier_code=code)
    assert w.run(as_of=T0 + timedelta(days=3)).counts["underpaid"] == 0
    clock.advance(timedelta(days=-2))  # the intake host's clock is two days behind
    w.dossier(code, amounts=(100000, 80000, 20000))
    clock.advance(timedelta(days=2))
    second = w.run(as_of=T0 + timedelta(days=3, minutes=1))
    assert second.mode == "incremental"
    assert w.kinds() == ["underpaid"]
    w.dossier(code, amounts=(100000,))  # and back down: now overpaid
    w.run(as_of=T0 + timedelta(days=3, minutes=2))
    assert w.kinds() == ["overpaid"]
    assert [d.delta for d in w.discrepancies("open")] == [80000]


def test_a_discrepancy_reopened_by_hand_is_judged_again(db: Database) -> None:
    """Reopening a discrepancy whose condition no longer holds: the next incremental run
    closes it again, as a full run would."""
    w = World(db, FixedClock(T0))
    d = w.dossier()
    paid = w.pay(TOTAL, reference=w.intent(d, TOTAL), paid_at=T0 - timedelta(days=5))
    w.run(as_of=T0)
    w.settle("vnpay", w.txn_of(paid), TOTAL)
    w.run(as_of=T0 + timedelta(hours=1))
    identity = f"missing_settlement:payment={paid}"
    assert _status(w) == {identity: "auto_resolved"}
    with db.transaction() as s:
        did = s.execute(text("SELECT id FROM discrepancies")).scalar_one()
        reopen(s, w.clock, did, actor="ketoan", note="kiểm tra lại")
    assert _status(w) == {identity: "open"}
    third = w.run(as_of=T0 + timedelta(hours=2))
    assert third.mode == "incremental" and third.auto_resolved == 1
    assert _status(w) == {identity: "auto_resolved"}


def test_as_of_moving_backwards_stays_incremental_and_right(db: Database) -> None:
    """A run as of next week finds the settlement overdue; a run as of today (earlier) does
    not, and says so without a full run."""
    w = World(db, FixedClock(T0))
    d = w.dossier()
    paid = w.pay(TOTAL, reference=w.intent(d, TOTAL), paid_at=T0 - timedelta(hours=1))
    assert w.run(as_of=T0 + timedelta(days=7)).counts["missing_settlement"] == 1
    back = w.run(as_of=T0)
    assert back.mode == "incremental" and back.auto_resolved == 1
    assert _status(w) == {f"missing_settlement:payment={paid}": "auto_resolved"}
    again = w.run(as_of=T0 + timedelta(days=7))
    assert again.mode == "incremental" and again.reopened == 1
    assert w.kinds() == ["missing_settlement"]


def test_runs_record_their_mark_and_a_run_without_one_is_followed_by_a_full_run(
        db: Database) -> None:
    w = World(db, FixedClock(T0))
    w.run(as_of=T0)
    w.run(as_of=T0)
    marks = [r.change_mark for r in w.runs()]
    assert all(m is not None for m in marks) and marks == sorted(marks)
    with db.transaction() as s:  # as a run from before migration 0009 left it
        s.execute(text("UPDATE recon_runs SET change_mark = NULL"))
    assert w.run(as_of=T0).mode == "full"
    assert w.run(as_of=T0).mode == "incremental"


def test_every_write_is_stamped_by_the_database(db: Database) -> None:
    """Inserts and updates, through the ORM or plain SQL, get a change_seq; a fee line's
    deletion stamps its dossier."""
    w = World(db, FixedClock(T0))
    d = w.dossier()
    w.intent(d, TOTAL)
    paid = w.pay(TOTAL, paid_at=T0 - timedelta(days=3))
    w.settle("vnpay", w.txn_of(paid), TOTAL)
    tables = ("dossiers", "fee_lines", "payment_intents", "payments", "settlement_lines")

    def seqs() -> dict[str, list[int | None]]:
        with db.engine.connect() as conn:
            return {t: list(conn.execute(text(f"SELECT change_seq FROM {t} ORDER BY id"))
                            .scalars()) for t in tables}

    before = seqs()
    assert all(v and all(x is not None for x in v) for v in before.values()), before
    w.run(as_of=T0)  # a run in between: what follows is newer than its mark
    mark = w.runs()[-1].change_mark
    assert mark is not None
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET amount = amount + 1"))
        conn.execute(text("DELETE FROM fee_lines WHERE position = 1"))
    after = seqs()
    assert all(x is not None and x >= mark for x in after["payments"])
    assert all(x is not None and x >= mark for x in after["dossiers"])
    assert after["settlement_lines"] == before["settlement_lines"]


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_transaction_that_commits_after_a_run_read_is_read_next_time(
        backend: str, empty_pg: str) -> None:
    """A writer begins (and writes its settlement line, stamped before the run) while a run
    reads; it commits after. The run could not see it; the next incremental run does."""
    del backend
    db = Database(empty_pg)
    try:
        w = World(db, FixedClock(T0))
        d = w.dossier()
        paid = w.pay(TOTAL, reference=w.intent(d, TOTAL), paid_at=T0 - timedelta(days=5))
        assert w.run(as_of=T0).counts["missing_settlement"] == 1
        with db.engine.connect() as conn:
            conn.begin()
            with Session(bind=conn) as s:
                f = SettlementFile(provider="vnpay", filename="slow.csv", sha256="9" * 64,
                                   size=1, content=b"x", imported_at=T0, imported_by="slow",
                                   row_count=1, total_amount=TOTAL)
                s.add(f)
                s.flush()
                s.add(SettlementLine(file_id=f.id, line_no=1, provider="vnpay",
                                     provider_txn_id=w.txn_of(paid), amount=TOTAL, fee=0,
                                     net=TOTAL, settled_on=(T0 - timedelta(days=4)).date(),
                                     created_at=T0 + timedelta(minutes=1)))
                s.flush()
                # the run, on its own connections, while this transaction is still open
                during: list[Any] = []
                runner = threading.Thread(target=lambda: during.append(
                    w.run(as_of=T0 + timedelta(minutes=10))))
                runner.start()
                runner.join(60)
                assert during and during[0].mode == "incremental"
                assert during[0].auto_resolved == 0
            conn.commit()
        after = w.run(as_of=T0 + timedelta(minutes=20))
        assert after.mode == "incremental" and after.auto_resolved == 1
        assert _status(w) == {f"missing_settlement:payment={paid}": "auto_resolved"}
    finally:
        db.dispose()



@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_long_transaction_in_another_database_does_not_hold_the_mark_back(
        backend: str, empty_pg: str) -> None:
    """A transaction of another database on the same server (it cannot write recon's tables)
    is left out of the mark; one of recon's own database, begun at the same moment, holds it
    back (its writes are read next time)."""
    del backend
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    other = create_engine(make_url(empty_pg).set(database="postgres"))
    db = Database(empty_pg)
    try:
        w = World(db, FixedClock(T0))
        d = w.dossier()
        w.pay(TOTAL, reference=w.intent(d, TOTAL), paid_at=T0 - timedelta(days=5))
        w.run(as_of=T0)

        def touch() -> None:
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE payments SET amount = amount"))

        with other.connect() as elsewhere:
            elsewhere.begin()
            foreign = int(elsewhere.execute(text(
                "SELECT pg_current_xact_id()::text::bigint")).scalar_one())
            touch()  # a later transaction completes: the snapshot's xmax passes the foreign one
            w.run(as_of=T0 + timedelta(minutes=1))
            # the run's own transactions began after it: the mark lies beyond it
            assert w.runs()[-1].change_mark is not None
            assert w.runs()[-1].change_mark > foreign
            with db.engine.connect() as here:
                here.begin()
                local = int(here.execute(text(
                    "SELECT pg_current_xact_id()::text::bigint")).scalar_one())
                touch()
                w.run(as_of=T0 + timedelta(minutes=2))
                assert w.runs()[-1].change_mark == local
                here.rollback()
            elsewhere.rollback()
    finally:
        db.dispose()
        other.dispose()


def test_0009_change_seq_downgrades_and_upgrades_with_data(db: Database) -> None:
    """Downgrading to 0008 drops the columns, triggers and counter and keeps every row;
    upgrading again stamps new writes, and the first run after it is a full one."""
    from alembic import command

    from recon.cli.admin import alembic_config, upgrade_database

    w = World(db, FixedClock(T0))
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL), paid_at=T0 - timedelta(days=5))
    w.run(as_of=T0)
    db.dispose()
    command.downgrade(alembic_config(db.url), "0008_kinds_check")
    db.dispose()
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM payments")).scalar_one() == 1
        conn.execute(text("UPDATE payments SET amount = amount"))  # no trigger left behind
        conn.execute(text("DELETE FROM fee_lines WHERE position = 1"))
    db.dispose()
    upgrade_database(db.url)
    db.dispose()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT change_seq FROM payments")).scalar_one() is None
        assert conn.execute(text("SELECT change_mark FROM recon_runs")).scalar_one() is None
    assert w.run(as_of=T0).mode == "full"
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET amount = amount"))
        assert conn.execute(text("SELECT change_seq FROM payments")).scalar_one() is not None
    assert w.run(as_of=T0).mode == "incremental"
