"""Issue 15 §3 for the payout pass: a full run with closed months behind reads the batches
and credits from the first open day less the pass's reach, and judges from the first open day
less the reach only, as an incremental window does; the closed months' payout findings stay
as they were. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import text

from recon.calendar.days import EVERY_DAY
from recon.clock import FixedClock
from recon.db import Database
from recon.engine import payout_load
from recon.engine.load import read_snapshot
from recon.engine.payouts import weekend_add_banking_days
from recon.engine.records import EngineConfig
from recon.settlements.importer import import_settlement
from recon.settlements.payouts import engine_config
from tests.reconcile.payout_builders import at_day, credit, gateway_file, vn
from tests.reconcile.recon_builders import World
from tests.reconcile.test_bounded_runs import close

FEB_SESSION = date(2026, 2, 10)   # a Tuesday of a closed month, never credited
FEB_PAID = date(2026, 2, 3)       # credited
OCT = date(2026, 10, 1)
OCT_PAID = date(2026, 10, 6)      # a Tuesday of the open month, credited
OCT_SESSION = date(2026, 10, 7)   # never credited


@pytest.fixture
def w(db: Database) -> World:
    clock = FixedClock(vn(FEB_PAID, 8).astimezone(UTC))
    config: EngineConfig = replace(engine_config({"RECON_ENV": "production"},
                                                 add_banking_days=weekend_add_banking_days),
                                   calendar=EVERY_DAY)
    return World(db, clock, config=config)


def _batch(w: World, day: date, txns: tuple[str, ...]) -> None:
    """VNPay payments of 100.000 ₫ on ``day``, settled with a fee of 2.000 ₫ each."""
    at_day(w, day, 9)
    for txn in txns:
        d = w.dossier(amounts=(100000,), received_at=f"{day:%Y-%m-%d}T08:00:00+07:00")
        w.pay(100000, provider="vnpay", txn=txn, reference=w.intent(d, 100000, channel="vnpay"),
              paid_at=vn(day))
    import_settlement(w.db, w.clock, "vnpay",
                      gateway_file([(t, 100000, 2000, day) for t in txns]),
                      f"vnpay-{day}.csv", actor="test")


def _open_findings(db: Database) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT identity, expected_amount, actual_amount, delta, explanation "
            "FROM discrepancies WHERE status = 'open' ORDER BY identity"))]


def test_a_bounded_full_run_judges_payouts_from_the_horizon_and_keeps_the_closed_ones(
        w: World, db: Database) -> None:
    # February: one session credited, one never credited, and a credit no batch explains
    _batch(w, FEB_PAID, ("F1", "F2"))
    credit(w, FEB_PAID + timedelta(days=1), [("FT101", 196000, "VNPAY TT PHIEN 03/02")])
    _batch(w, FEB_SESSION, ("F3",))
    credit(w, FEB_SESSION + timedelta(days=3), [("FT102", 55000, "VNPAY TT PHIEN 01/02")])
    # October: the same shapes
    _batch(w, OCT_PAID, ("O1", "O2"))
    credit(w, OCT_PAID + timedelta(days=1), [("FT201", 196000, "VNPAY TT PHIEN 06/10")])
    _batch(w, OCT_SESSION, ("O3",))
    credit(w, OCT_SESSION + timedelta(days=3), [("FT202", 55000, "VNPAY TT PHIEN 01/10")])
    at_day(w, date(2026, 10, 20))
    as_of = w.clock.now()
    first = w.run("full", as_of=as_of)
    assert first.open_from is None
    before = _open_findings(db)
    payout_kinds = sorted(i[0].split(":")[0] for i in before if i[0].startswith("payout_"))
    assert payout_kinds == ["payout_missing", "payout_missing", "payout_unexpected",
                            "payout_unexpected"]

    close(db, *(date(2026, m, 1) for m in range(2, 10)))
    w.later(hours=1)
    with read_snapshot(db) as conn:
        everything = payout_load.prepare(conn, config=w.config.payouts, mode="full",
                                         as_of=as_of)
        bounded = payout_load.prepare(conn, config=w.config.payouts, mode="full",
                                      as_of=as_of, opens=OCT)
    assert everything is not None and bounded is not None
    reach = timedelta(days=w.config.payouts.reach())
    # read: October's batches and credits (and none of February's)
    assert {b.session_on for b in bounded.outcome.batches} == {OCT_PAID, OCT_SESSION}
    assert {b.session_on for b in everything.outcome.batches} == {
        FEB_PAID, FEB_SESSION, OCT_PAID, OCT_SESSION}
    assert all(c.booked_on >= OCT - 2 * reach for _, c in bounded.outcome.credits.values())
    assert len(everything.outcome.credits) == 4 and len(bounded.outcome.credits) == 2
    # judged: what lies from the horizon less the reach on, exactly as reading everything
    judged = [d for d in everything.outcome.findings
              if d.settlement_line_id in bounded.seen]
    assert sorted(bounded.outcome.findings) == sorted(judged) and len(judged) == 2
    assert len(everything.outcome.findings) == 4
    # the open February findings are not the pass's to classify: the run keeps them
    feb = [i for i in everything.previous_open if i not in bounded.previous_open]
    assert len(feb) == 2
    assert not set(feb) & set(bounded.previous(feb))

    second = w.run("full", as_of=as_of)
    assert second.open_from == OCT.isoformat()
    assert _open_findings(db) == before
    assert second.auto_resolved == 0 and second.new == 0
