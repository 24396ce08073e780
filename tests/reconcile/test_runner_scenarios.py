"""The runner on a real database: one persisted scenario per discrepancy kind, clean scenarios
that raise nothing, reruns, auto-resolution, reopening, dry runs, the lock and abandoned runs."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from recon.clock import FixedClock
from recon.db import Database
from recon.engine import EngineConfig
from recon.engine.lock import RunInProgress, RunLock
from recon.engine.settings import engine_config_from_env
from recon.models import AuditEvent, ReconRun
from tests.reconcile.recon_builders import AS_OF_LATE, TOTAL, World, state


@pytest.fixture
def w(db: Database, clock: FixedClock) -> World:
    return World(db, clock)


def _only(w: World, kind: str) -> None:
    rows = w.discrepancies("open")
    assert [d.kind for d in rows] == [kind], [(d.identity, d.explanation_en) for d in rows]


# --------------------------------------------------------------------------- one per kind


def test_underpaid(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(100000, reference=ref)
    w.settle("vnpay", w.txn_of(p), 100000)
    summary = w.run(as_of=AS_OF_LATE)
    _only(w, "underpaid")
    row = w.discrepancies("open")[0]
    assert (row.dossier_id, row.expected_amount, row.actual_amount, row.delta) == (
        d, TOTAL, 100000, -80000)
    assert "80.000" in row.explanation and row.explanation_en
    assert summary.counts["underpaid"] == 1 and summary.new == 1


def test_overpaid(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(200000, reference=ref)
    w.settle("vnpay", w.txn_of(p), 200000)
    w.run(as_of=AS_OF_LATE)
    _only(w, "overpaid")
    assert w.discrepancies("open")[0].delta == 20000


def test_duplicate_payment(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p1 = w.pay(TOTAL, reference=ref)
    w.later(minutes=3)
    p2 = w.pay(TOTAL, reference=ref, provider="momo")
    for p, prov in ((p1, "vnpay"), (p2, "momo")):
        w.settle(prov, w.txn_of(p), TOTAL)
    w.run(as_of=AS_OF_LATE)
    _only(w, "duplicate_payment")
    row = w.discrepancies("open")[0]
    assert (row.dossier_id, row.payment_id, row.delta) == (d, p2, TOTAL)


def test_unmatched_payment(w: World) -> None:
    w.dossier()
    p = w.pay(55000, provider="sepay", memo="CHUYEN TIEN NOP PHI KHONG GHI MA")
    w.settle("sepay", w.txn_of(p), 55000)
    w.run(as_of=AS_OF_LATE)
    _only(w, "unmatched_payment")
    assert w.discrepancies("open")[0].payment_id == p


def test_missing_settlement(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(TOTAL, reference=ref)
    w.run(as_of=AS_OF_LATE)
    _only(w, "missing_settlement")
    row = w.discrepancies("open")[0]
    assert (row.payment_id, row.expected_amount, row.actual_amount) == (p, TOTAL, 0)


def test_unexpected_settlement(w: World) -> None:
    line = w.settle("zalopay", "ZP-NOBODY", 99000)
    w.run(as_of=AS_OF_LATE)
    _only(w, "unexpected_settlement")
    assert w.discrepancies("open")[0].settlement_line_id == line


def test_amount_mismatch_with_tolerance_still_recorded(db: Database, clock: FixedClock) -> None:
    w = World(db, clock, config=engine_config_from_env({"RECON_VNPAY_TOLERANCE_VND": "2000"}))
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(TOTAL, reference=ref)
    # the fee the shipped vnpay contract gives (0,88 %, rounded down): no fee_mismatch too
    line = w.settle("vnpay", w.txn_of(p), TOTAL + 1000, fee=(TOTAL + 1000) * 88 // 10_000)
    w.run(as_of=AS_OF_LATE)
    _only(w, "amount_mismatch")
    row = w.discrepancies("open")[0]
    assert (row.payment_id, row.settlement_line_id, row.delta) == (p, line, 1000)
    assert row.within_tolerance is True


def test_duplicate_settlement(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(TOTAL, reference=ref)
    txn = w.txn_of(p)
    w.settle("vnpay", txn, TOTAL)
    extra = w.settle("vnpay", txn, TOTAL, settled_on=(w.clock.now() + timedelta(days=2)).date())
    w.run(as_of=AS_OF_LATE)
    _only(w, "duplicate_settlement")
    assert w.discrepancies("open")[0].settlement_line_id == extra


def test_status_mismatch(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(TOTAL, reference=ref, status="failed")
    w.settle("vnpay", w.txn_of(p), TOTAL)
    w.run(as_of=AS_OF_LATE)
    _only(w, "status_mismatch")


# --------------------------------------------------------------------------- clean


def test_clean_scenarios_raise_nothing(w: World) -> None:
    # split payments over the fee lines (two intents, two providers)
    d1 = w.dossier(amounts=(100000, 80000))
    p1 = w.pay(100000, reference=w.intent(d1, 100000))
    p2 = w.pay(80000, reference=w.intent(d1, 80000), provider="momo")
    w.settle("vnpay", w.txn_of(p1), 100000)
    w.settle("momo", w.txn_of(p2), 80000)
    # fees netted by the provider: gross matches, fee and net are the provider's business
    d2 = w.dossier()
    p3 = w.pay(TOTAL, reference=w.intent(d2, TOTAL), provider="zalopay")
    w.settle("zalopay", w.txn_of(p3), TOTAL, fee=1980)
    # a bank memo with the reference buried in other text (matched by record_payment)
    d3 = w.dossier()
    ref = w.intent(d3, TOTAL)
    p4 = w.pay(TOTAL, provider="sepay",
               memo=f"MBVCB.3278907687.{ref.lower()}.NGUYEN VAN A chuyen tien le phi")
    w.settle("sepay", w.txn_of(p4), TOTAL)
    # cash: counted as paid, never settled
    d4 = w.dossier()
    w.pay(TOTAL, provider="cash", channel="cash",
          dossier_code=w.codes[d4])
    # a dossier nobody paid yet: outstanding, not a discrepancy
    w.dossier()
    summary = w.run(as_of=AS_OF_LATE)
    assert w.discrepancies() == []
    assert summary.total == 0 and summary.loaded["payments"] == 5


def test_payment_inside_its_settlement_deadline(w: World) -> None:
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL))
    w.run(as_of=w.clock.now() + timedelta(days=2))  # the deadline day is not over yet
    assert w.discrepancies() == []
    w.run(as_of=w.clock.now() + timedelta(days=3))
    assert w.kinds() == ["missing_settlement"]


# --------------------------------------------------------------------------- lifecycle


def test_rerun_changes_nothing(w: World) -> None:
    d = w.dossier()
    p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
    w.settle("vnpay", w.txn_of(p), TOTAL + 1)
    w.pay(5000, provider="sepay", memo="no reference here")
    w.settle("momo", "M-UNKNOWN", 1000)
    first = w.run("full", as_of=AS_OF_LATE)
    before = state(w.db)
    ids_before = {d.identity: d.id for d in w.discrepancies()}
    for mode in ("full", "incremental", "full"):
        again = w.run(mode, as_of=AS_OF_LATE)
        assert again.new == 0 and again.auto_resolved == 0
    assert state(w.db) == before
    assert {d.identity: d.id for d in w.discrepancies()} == ids_before
    assert first.new == len(before) == 4


def test_late_settlement_auto_resolves_with_reason(w: World) -> None:
    d = w.dossier()
    p = w.pay(TOTAL, reference=w.intent(d, TOTAL))
    w.run(as_of=AS_OF_LATE)
    assert w.kinds() == ["missing_settlement"]
    w.later(days=9)
    w.settle("vnpay", w.txn_of(p), TOTAL, settled_on=(AS_OF_LATE + timedelta(days=1)).date())
    summary = w.run(as_of=w.clock.now())
    assert summary.mode == "incremental" and summary.auto_resolved == 1
    row = w.discrepancies()[0]
    assert row.status == "auto_resolved"
    assert row.auto_resolved_reason_en == "The settlement arrived on 2026-12-06."
    assert row.auto_resolved_reason and "06/12/2026" in row.auto_resolved_reason
    assert row.resolved_at == w.clock.now() and row.resolution_type == "auto"
    with w.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "reconcile.run")
                          .order_by(AuditEvent.id.desc())).first()
    assert event is not None
    assert json.loads(event.data)["auto_resolved"] == [row.identity]


def test_auto_resolved_reopens_when_it_holds_again(w: World) -> None:
    d = w.dossier()
    ref = w.intent(d, TOTAL)
    p = w.pay(100000, reference=ref)
    w.settle("vnpay", w.txn_of(p), 100000)
    w.run(as_of=AS_OF_LATE)
    assert w.kinds() == ["underpaid"]
    w.later(days=10)
    p2 = w.pay(80000, reference=ref, provider="momo")
    w.settle("momo", w.txn_of(p2), 80000)
    w.run(as_of=w.clock.now())
    assert w.kinds() == [] and w.kinds("auto_resolved") == ["underpaid"]
    w.later(minutes=10)
    w.pay(80000, reference=ref, provider="momo", txn=w.txn_of(p2), status="refunded")
    summary = w.run(as_of=w.clock.now())
    assert summary.reopened == 1
    rows = w.discrepancies()
    assert len(rows) == 2  # the same underpaid row, reopened; plus the status mismatch
    underpaid = next(r for r in rows if r.kind == "underpaid")
    assert underpaid.status == "open" and underpaid.auto_resolved_reason is None
    assert {r.kind for r in rows} == {"underpaid", "status_mismatch"}


def test_human_resolution_is_never_undone(w: World) -> None:
    d = w.dossier()
    w.pay(100000, reference=w.intent(d, TOTAL), provider="cash", channel="cash")
    w.run(as_of=AS_OF_LATE)
    with w.db.transaction() as s:
        s.execute(text("UPDATE discrepancies SET status = 'resolved', resolution_note = 'ok', "
                       "resolved_by = 'ketoan'"))
    w.run("full", as_of=AS_OF_LATE)
    rows = w.discrepancies()
    assert [(r.kind, r.status, r.resolution_note) for r in rows] == [
        ("underpaid", "resolved", "ok")]


def test_dry_run_writes_nothing(w: World) -> None:
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL))
    summary = w.run(as_of=AS_OF_LATE, dry_run=True)
    assert summary.dry_run and summary.run_id is None and summary.new == 1
    assert summary.counts["missing_settlement"] == 1
    assert w.discrepancies() == [] and w.runs() == []


def test_run_rows_and_counts(w: World) -> None:
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL))
    first = w.run(as_of=AS_OF_LATE)
    second = w.run(as_of=AS_OF_LATE + timedelta(minutes=5))
    runs = w.runs()
    assert [(r.mode, r.status, r.dry_run) for r in runs] == [
        ("full", "succeeded", False), ("incremental", "succeeded", False)]
    assert runs[1].window_start is not None and runs[1].window_start <= runs[0].as_of
    counts = json.loads(runs[0].counts)
    assert counts["by_kind"]["missing_settlement"] == 1 and counts["new"] == 1
    assert (first.run_id, second.run_id) == (runs[0].id, runs[1].id)
    assert second.open_by_kind is not None and second.open_by_kind["missing_settlement"] == 1


def test_incremental_without_a_previous_run_is_full(w: World) -> None:
    assert w.run("incremental", as_of=AS_OF_LATE).mode == "full"
    # an earlier as_of no longer forces a full run: deadlines are re-judged both ways
    # (tests/reconcile/test_change_order.py)
    assert w.run("incremental", as_of=AS_OF_LATE - timedelta(days=1)).mode == "incremental"


def test_abandoned_run_is_marked_failed_by_the_next(w: World) -> None:
    with w.db.transaction() as s:
        s.add(ReconRun(mode="full", as_of=w.clock.now(), started_at=w.clock.now(),
                       status="running", triggered_by="killed", dry_run=False, counts="{}"))
    w.run(as_of=AS_OF_LATE)
    runs = w.runs()
    assert [r.status for r in runs] == ["failed", "succeeded"]
    assert runs[0].error and "abandoned" in runs[0].error


def test_one_run_at_a_time(w: World) -> None:
    lock = RunLock(w.db)
    assert lock.acquire()
    try:
        assert not RunLock(w.db).acquire()
        with pytest.raises(RunInProgress):
            w.run(as_of=AS_OF_LATE)
        assert w.runs() == []
    finally:
        lock.release()
    w.run(as_of=AS_OF_LATE)
    assert len(w.runs()) == 1


def test_a_failed_run_is_recorded_and_changes_nothing(w: World,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    d = w.dossier()
    w.pay(TOTAL, reference=w.intent(d, TOTAL))
    from recon.engine import runner

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(runner, "_close_run", boom)
    with pytest.raises(RuntimeError):
        w.run(as_of=AS_OF_LATE)
    assert w.discrepancies() == []
    run = w.runs()[0]
    assert run.status == "failed" and run.error == "RuntimeError: disk full"
    monkeypatch.undo()
    summary = w.run(as_of=AS_OF_LATE)
    assert summary.mode == "full" and w.kinds() == ["missing_settlement"]


def test_engine_config_from_env() -> None:
    cfg = engine_config_from_env({"RECON_VNPAY_SETTLEMENT_DAYS": "3",
                                  "RECON_MOMO_TOLERANCE_VND": "500",
                                  "RECON_SETTLEMENT_DAYS": "4", "RECON_OTHER": "x"})
    assert cfg == EngineConfig(settlement_days={"vnpay": 3}, default_settlement_days=4,
                               tolerances={"momo": 500}, calendar=cfg.calendar,
                               contracts=cfg.contracts)
    # the days count on the banking calendar (recon/calendar): Tết 2026 is no banking day
    assert cfg.banking_days and not cfg.calendar.is_banking_day(date(2026, 2, 17))
    # and the fee contracts of RECON_CONTRACTS_FILE (the shipped demo contracts by default)
    assert cfg.contracts.find("vnpay", "vnpay", date(2021, 2, 1)) is not None
    with pytest.raises(ValueError, match="RECON_VNPAY_SETTLEMENT_DAYS"):
        engine_config_from_env({"RECON_VNPAY_SETTLEMENT_DAYS": "two"})
