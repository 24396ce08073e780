"""Issue 15 §3, work bounded by what is open: a full run reads the open months (and whatever
open discrepancies and new data refer to), never the closed years behind them, and writes what
a run reading everything would write; a full run that finds what the night before found writes
no finding at all, yet every open finding is recorded as seen by it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, select, text

from recon.clock import VN_TZ, FixedClock
from recon.db import Database
from recon.engine import EngineConfig, closed, reconcile
from recon.engine import load as load_module
from recon.engine.changes import last_success
from recon.engine.lifecycle import classify
from recon.engine.load import (
    Loaded,
    Splits,
    horizon,
    load_full,
    load_open,
    load_open_with_splits,
    load_splits_full,
    read_snapshot,
    with_splits,
)
from recon.models import ReconRun
from recon.models.reconciliation import Discrepancy, last_seen_run
from tests.reconcile.recon_builders import World

AUG, SEP, OCT = date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)


def vn(month: date, day: int, hour: int = 10) -> datetime:
    return datetime(month.year, month.month, day, hour, tzinfo=VN_TZ).astimezone(UTC)


def received(month: date, day: int) -> str:
    return f"{month:%Y-%m}-{day:02d}T08:00:00+07:00"


def close(db: Database, *months: date) -> None:
    """Months closed for every agency (what an approved close leaves in ``periods``)."""
    with db.engine.begin() as conn:
        for m in months:
            conn.execute(text(
                "INSERT INTO periods (month, scope_key, status, approved_by, approved_at, "
                "created_at, updated_at) VALUES (:m, 0, 'closed', 'user:checker', :at, :at, :at)"),
                {"m": m, "at": datetime(2026, 11, 1, tzinfo=UTC).strftime(
                    "%Y-%m-%d %H:%M:%S.%f") if db.dialect == "sqlite"
                    else datetime(2026, 11, 1, tzinfo=UTC)})


def writes(conn: Connection, loaded: Loaded, as_of: datetime, config: EngineConfig,
           now: datetime) -> tuple[list[tuple[Any, ...]], list[str]]:
    """What a run over ``loaded`` would write: the findings that are new or differ from the
    stored ones (a closed month's held back), and the identities it would auto-resolve."""
    result = reconcile(dossiers=loaded.dossiers, intents=loaded.intents,
                       payments=loaded.payments, settlement_lines=loaded.lines, as_of=as_of,
                       config=config)
    classification = classify(loaded.previous_open, result)
    keep, keep_res = closed.hold(conn, result.discrepancies, classification.resolved, now)
    stored = {r[0]: tuple(r[1:]) for r in conn.execute(text(
        "SELECT identity, status, expected_amount, actual_amount, delta, explanation, "
        "explanation_en FROM discrepancies"))}
    out = []
    for d in keep:
        values = (d.expected_amount, d.actual_amount, d.delta, d.explanation, d.explanation_en)
        before = stored.get(d.identity)
        if before is None or before[0] == "auto_resolved" or (
                before[0] == "open" and tuple(before[1:]) != values):
            out.append((d.identity, *values))
    return sorted(out), sorted(r.identity for r in keep_res)


def changed_payments(conn: Connection, mark: int) -> set[int]:
    """Payments a run reads again because they changed at or after the last run's mark. On a
    shared PostgreSQL server the mark (the oldest transaction still running anywhere, other
    sessions' included) may lag behind this test's writes: then more is read, never less."""
    return set(conn.execute(text("SELECT id FROM payments WHERE change_seq >= :m"),
                            {"m": mark}).scalars())


def split_transfer(db: Database, clock: FixedClock, transfer: int, dossiers: tuple[int, ...],
                   *, through_intent: tuple[int, ...] = ()) -> None:
    """``transfer`` made a payment of no dossier of its own, split 90.000 ₫ to each of
    ``dossiers``; the payments ``through_intent`` left linked by their intent alone."""
    with db.engine.begin() as conn:
        for payment in (transfer, *through_intent):
            conn.execute(text("UPDATE payments SET dossier_id = NULL WHERE id = :p"),
                         {"p": payment})
        for dossier in dossiers:
            conn.execute(text("INSERT INTO payment_allocations (payment_id, dossier_id, amount, "
                              "created_at) VALUES (:p, :d, 90000, :at)"),
                         {"p": transfer, "d": dossier, "at": clock.now()})


def core_findings(rows: Loaded, split: Splits, as_of: datetime,
                  config: EngineConfig) -> list[Any]:
    """What the core finds over ``rows`` and ``split``."""
    return reconcile(dossiers=rows.dossiers, intents=rows.intents, payments=rows.payments,
                     settlement_lines=rows.lines, as_of=as_of, config=config,
                     allocations=split.allocations, unsplit=split.unsplit).discrepancies


def clean_then_closed(w: World, db: Database) -> None:
    """A full run that finds nothing, then August and September closed an hour later."""
    w.run("full")
    assert w.kinds() == []  # each dossier paid in full, every payment settled
    close(db, AUG, SEP)
    w.later(hours=1)


def open_months_with_splits(conn: Connection, w: World) -> tuple[Loaded, Splits]:
    """The bounded load of October on, completed for split payments, after the last run."""
    previous = last_success(conn)
    assert previous is not None
    return load_open_with_splits(conn, month=OCT, previous=previous, as_of=w.clock.now(),
                                 config=w.config, parallel=False)


class History:
    """Two closed months (August, September 2026) behind two open ones, with a dossier of
    each shape: clean and closed, short and still open, received in a closed month and paid
    in an open one, paid across the horizon, settled across it, and late data."""

    def __init__(self, db: Database, clock: FixedClock) -> None:
        w = self.w = World(db, clock)
        self.db = db

        def dossier(month: date, day: int) -> str:
            return w.codes[w.dossier(received_at=received(month, day))]

        # clean in August: never read again once August is closed
        code = dossier(AUG, 3)
        self.clean = w.pay(180000, dossier_code=code, paid_at=vn(AUG, 3))
        self.clean_line = w.settle("vnpay", w.txn_of(self.clean), 180000,
                                   settled_on=date(2026, 8, 4))
        # short in August: an open underpaid, read for it
        code = dossier(AUG, 5)
        self.short = w.pay(100000, dossier_code=code, paid_at=vn(AUG, 5))
        w.settle("vnpay", w.txn_of(self.short), 100000, settled_on=date(2026, 8, 6))
        # received in September, paid in October: the dossier is read with its payment
        code = dossier(SEP, 28)
        self.late_paid = w.pay(180000, dossier_code=code, paid_at=vn(OCT, 2))
        w.settle("vnpay", w.txn_of(self.late_paid), 180000, settled_on=date(2026, 10, 3))
        # paid half in September, half in October: the whole dossier is read
        code = dossier(SEP, 20)
        self.split_early = w.pay(90000, dossier_code=code, paid_at=vn(SEP, 21))
        w.settle("vnpay", w.txn_of(self.split_early), 90000, settled_on=date(2026, 9, 22))
        self.split_late = w.pay(90000, dossier_code=code, paid_at=vn(OCT, 1))
        w.settle("vnpay", w.txn_of(self.split_late), 90000, settled_on=date(2026, 10, 2))
        # paid in September, settled in October: the payment is read with the line
        code = dossier(SEP, 29)
        self.settled_late = w.pay(180000, dossier_code=code, paid_at=vn(SEP, 30))
        w.settle("vnpay", w.txn_of(self.settled_late), 180000, settled_on=date(2026, 10, 1))
        # clean in October
        code = dossier(OCT, 10)
        self.open_clean = w.pay(180000, dossier_code=code, paid_at=vn(OCT, 10))
        w.settle("vnpay", w.txn_of(self.open_clean), 180000, settled_on=date(2026, 10, 11))


def test_a_full_run_reads_the_open_months_and_what_open_work_refers_to(
        db: Database, clock: FixedClock) -> None:
    h = History(db, clock)
    first = h.w.run("full")
    assert first.open_from is None  # nothing closed yet: everything is read
    assert first.loaded["payments"] == 7
    assert h.w.kinds() == ["underpaid"]

    close(db, AUG, SEP)
    # late data for a closed month: a second line for August's clean payment
    h.w.later(hours=1)
    h.w.settle("vnpay", h.w.txn_of(h.clean), 180000, settled_on=date(2026, 8, 4))
    with read_snapshot(db) as conn:
        assert horizon(conn) == OCT
        previous = last_success(conn)
        assert previous is not None and previous.mark is not None
        bounded = load_open(conn, month=OCT, previous=previous,
                            as_of=clock.now(), config=h.w.config, parallel=False)
        everything = load_full(conn, parallel=False)
        changed = changed_payments(conn, previous.mark)
        # PostgreSQL reads the open months at once on connections sharing the snapshot: the
        # same rows as one connection reads
        at_once = load_open(conn, month=OCT, previous=previous, as_of=clock.now(),
                            config=h.w.config, parallel=True)
        assert [sorted(rows) for rows in at_once] == [sorted(rows) for rows in bounded]
        # what is read: the open months, what they link to, the short dossier (open
        # discrepancy) and the clean one (its new line); nothing else of August/September
        # (but what changed since the last run's mark: see changed_payments)
        expected = {h.clean, h.short, h.late_paid, h.split_early, h.split_late,
                    h.settled_late, h.open_clean}
        assert {p.id for p in bounded.payments} - changed == expected - changed
        assert len(bounded.payments) < len(everything.payments) + 1
        assert bounded.previous_open == everything.previous_open
        # ... and it writes exactly what reading everything would write
        assert writes(conn, bounded, clock.now(), h.w.config, clock.now()) == writes(
            conn, everything, clock.now(), h.w.config, clock.now())

    second = h.w.run("full")
    assert second.open_from == OCT.isoformat()
    assert second.loaded["payments"] >= 7
    assert sorted(h.w.kinds()) == ["late_for_closed_period", "underpaid"]

    # the next night, nothing new: nothing is written (the summary still counts the closed
    # month's duplicate line as found and the late finding as no longer found by the core:
    # the closed month holds both back)
    before = _rows(db)
    h.w.later(hours=1)
    third = h.w.run("full")
    assert third.open_from == OCT.isoformat()
    assert _rows(db) == before
    # still read: the short dossier (its open underpaid) and the clean one (its open late
    # finding), with the five payments of the open months and those linked to them
    assert third.loaded["payments"] >= 7
    if db.dialect == "sqlite":  # (PostgreSQL's mark may lag on a shared server: see above)
        assert second.loaded["payments"] == third.loaded["payments"] == 7


def test_a_timestamp_stored_in_another_format_is_read_once(db: Database,
                                                          clock: FixedClock) -> None:
    """A payment's time written by another tool in another text format (SQLite keeps text:
    ``T`` for the space, no fraction) is held once, as the open months' scan read it: never
    twice, never dropped, whatever Python makes of the same instant."""
    h = History(db, clock)
    h.w.run("full")
    close(db, AUG, SEP)
    h.w.later(hours=1)
    with db.engine.begin() as conn:  # 30/09 23:00 in Vietnam: before the horizon
        conn.execute(text("UPDATE payments SET paid_at = :at WHERE id = :id"),
                     {"at": "2026-09-30T16:00:00+00:00", "id": h.settled_late})
    with read_snapshot(db) as conn:
        previous = last_success(conn)
        assert previous is not None
        bounded, _splits = open_months_with_splits(conn, h.w)
        everything = load_full(conn, parallel=False)
    ids = [p.id for p in bounded.payments]
    assert len(ids) == len(set(ids))
    assert h.settled_late in ids
    assert {p.id for p in everything.payments} >= set(ids)


def test_without_open_discrepancies_a_closed_month_is_not_read_at_all(
        db: Database, clock: FixedClock) -> None:
    h = History(db, clock)
    h.w.run("full")
    with db.engine.begin() as conn:  # the short dossier paid in full after all
        conn.execute(text("UPDATE payments SET amount = 180000 WHERE id = :i"),
                     {"i": h.short})
    h.w.later(hours=1)
    h.w.run("full")
    assert h.w.kinds() == ["amount_mismatch"]  # its line says 100.000 ₫
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE settlement_lines SET amount = 180000, net = 180000 "
                          "WHERE provider_txn_id = :t"), {"t": h.w.txn_of(h.short)})
    h.w.later(hours=1)
    h.w.run("full")
    assert h.w.kinds() == []
    close(db, AUG, SEP)
    h.w.later(hours=1)
    with read_snapshot(db) as conn:
        previous = last_success(conn)
        assert previous is not None and previous.mark is not None
        bounded = load_open(conn, month=OCT, previous=previous, as_of=clock.now(),
                            config=h.w.config, parallel=False)
        changed = changed_payments(conn, previous.mark)
    # October's three payments, and September's two linked to them; August not at all
    expected = {h.late_paid, h.split_early, h.split_late, h.settled_late, h.open_clean}
    assert {p.id for p in bounded.payments} - changed == expected - changed
    assert h.clean not in {p.id for p in bounded.payments} - changed
    if db.dialect == "sqlite":
        assert not changed
    summary = h.w.run("full")
    assert summary.open_from == OCT.isoformat()
    if not changed:
        assert summary.loaded["payments"] == 5
        assert summary.loaded["settlement_lines"] == 5
        assert summary.loaded["dossiers"] == 4
    assert summary.new == summary.auto_resolved == 0


def _rows(db: Database) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        extra = ", xmin::text, xmax::text" if db.dialect == "postgresql" else ""
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, identity, status, last_run_id, updated_at, delta, explanation"
            f"{extra} FROM discrepancies ORDER BY id"))]


def test_a_steady_rerun_writes_no_finding_and_records_them_seen(
        db: Database, clock: FixedClock) -> None:
    h = History(db, clock)
    h.w.pay(5000, provider="momo")  # unmatched, and soon missing its settlement
    first = h.w.run("full")
    assert first.new >= 2
    before = _rows(db)
    h.w.later(minutes=5)
    second = h.w.run("full")
    assert (second.new, second.auto_resolved, second.reopened) == (0, 0, 0)
    assert second.still_open == len([r for r in before if r[2] == "open"])
    # not one finding row was written (on PostgreSQL: not even locked)
    assert _rows(db) == before
    with db.read() as s:
        run = s.get(ReconRun, second.run_id)
        assert run is not None and run.seen_open is True
        seen = s.execute(select(Discrepancy.identity,
                                last_seen_run(Discrepancy.last_run_id, Discrepancy.status))
                         .where(Discrepancy.status == "open")).all()
    assert seen and {r[1] for r in seen} == {second.run_id}
    assert {r[3] for r in before} == {first.run_id}


def test_a_finding_that_changes_is_written_and_only_it(db: Database, clock: FixedClock) -> None:
    h = History(db, clock)
    other = h.w.pay(5000, provider="momo")
    first = h.w.run("full")
    before = {r[1]: r for r in _rows(db)}
    with db.engine.begin() as conn:  # the short payment grows: its underpaid changes
        conn.execute(text("UPDATE payments SET amount = 150000 WHERE id = :i"),
                     {"i": h.short})
    h.w.later(minutes=5)
    second = h.w.run("full")
    after = {r[1]: r for r in _rows(db)}
    changed = {i for i in after if after[i] != before.get(i)}
    assert {i.split(":")[0] for i in changed} <= {"underpaid", "amount_mismatch"}
    underpaid = next(i for i in after if i.startswith("underpaid:"))
    assert after[underpaid][3] == second.run_id and after[underpaid][5] == -30000
    unmatched = f"unmatched_payment:payment={other}"
    assert after[unmatched] == before[unmatched]
    assert after[unmatched][3] == first.run_id


@pytest.mark.parametrize("ids", ["each under one provider", "one under two providers"])
def test_the_open_months_read_every_row_linked_across_the_horizon(
        db: Database, clock: FixedClock, ids: str) -> None:
    """The shapes a bounded read could miss (issue 15 §3): a line settled before the horizon
    for a payment of the open months, bank references matching across it both ways, and
    payments carrying no dossier of their own (through their intent) on either side. What
    is read, and what a run would write, is what reading everything gives, whether the open
    payments' transaction ids are each under one provider or not (a key is a pair: the id
    alone would hide a payment before the horizon whose id another provider's open payment
    carries). The transactions across the horizon are found through ``transaction_spans``,
    kept by the triggers as the rows were written."""
    h = History(db, clock)
    w = h.w
    # a line of September for a payment of October (the line came first)
    code = w.codes[w.dossier(received_at=received(SEP, 25))]
    early_line_paid = w.pay(180000, dossier_code=code, paid_at=vn(OCT, 3))
    early_line = w.settle("vnpay", w.txn_of(early_line_paid), 180000,
                          settled_on=date(2026, 9, 26))
    # a September transfer whose bank statement line lies in October, and an October transfer
    # whose statement line lies in September (its reference is a transaction of the open months)
    code = w.codes[w.dossier(received_at=received(SEP, 27))]
    bank_early = w.pay(180000, provider="sepay", txn="SE901", dossier_code=code,
                       paid_at=vn(SEP, 29), bank_reference="FT26273000001")
    w.settle("sepay", "FT26273000001", 180000, settled_on=date(2026, 10, 1))
    code = w.codes[w.dossier(received_at=received(OCT, 4))]
    bank_late = w.pay(180000, provider="sepay", txn="SE902", dossier_code=code,
                      paid_at=vn(OCT, 5), bank_reference="FT26273000002")
    bank_late_line = w.settle("sepay", "FT26273000002", 180000, settled_on=date(2026, 9, 30))
    # a dossier paid in September and, through its intent alone, in October; and one paid
    # through its intent alone in September and directly in October
    intent_dossier = w.dossier(received_at=received(SEP, 10))
    intent_early = w.pay(90000, dossier_code=w.codes[intent_dossier], paid_at=vn(SEP, 11))
    intent_late = w.pay(90000, reference=w.intent(intent_dossier, 90000), paid_at=vn(OCT, 6))
    other = w.dossier(received_at=received(SEP, 12))
    intent_before = w.pay(90000, reference=w.intent(other, 90000), paid_at=vn(SEP, 13))
    direct_after = w.pay(90000, dossier_code=w.codes[other], paid_at=vn(OCT, 7))
    # a September sale refunded in October before it was settled: only the refund line's
    # original id names it
    code = w.codes[w.dossier(received_at=received(SEP, 14))]
    refunded_sale = w.pay(180000, dossier_code=code, paid_at=vn(SEP, 15))
    refund_line = w.settle("vnpay", "RF-OCT-1", 180000, settled_on=date(2026, 10, 8),
                           kind="refund", original_txn_id=w.txn_of(refunded_sale))
    # a September payment whose transaction id an October payment of another provider also
    # carries, settled in October: the id is held in the open months, but not by its provider
    code = w.codes[w.dossier(received_at=received(SEP, 16))]
    same_id_early = w.pay(180000, provider="vnpay", txn="SAME-ID-1", dossier_code=code,
                          paid_at=vn(SEP, 17))
    code = w.codes[w.dossier(received_at=received(OCT, 9))]
    w.pay(180000, provider="momo", txn="SAME-ID-1", dossier_code=code, paid_at=vn(OCT, 10))
    same_id_line = w.settle("vnpay", "SAME-ID-1", 180000, settled_on=date(2026, 10, 11))
    if ids == "one under two providers":  # two open payments with one id
        for provider in ("vnpay", "momo"):
            code = w.codes[w.dossier(received_at=received(OCT, 12))]
            w.pay(90000, provider=provider, txn="SAME-ID-2", dossier_code=code,
                  paid_at=vn(OCT, 13))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET dossier_id = NULL WHERE id IN (:a, :b)"),
                     {"a": intent_late, "b": intent_before})
        # (refunded as recorded: no open finding names it, only the line's original id does)
        conn.execute(text("UPDATE payments SET status = 'refunded' WHERE id = :p"),
                     {"p": refunded_sale})
    w.run("full")
    close(db, AUG, SEP)
    w.later(hours=1)
    with read_snapshot(db) as conn:
        previous = last_success(conn)
        assert previous is not None and previous.mark is not None
        everything = load_full(conn, parallel=False)
        changed = changed_payments(conn, previous.mark)
        for parallel in (False, True):
            bounded = load_open(conn, month=OCT, previous=previous, as_of=clock.now(),
                                config=w.config, parallel=parallel)
            payments = {p.id for p in bounded.payments}
            assert {early_line_paid, bank_early, bank_late, intent_early, intent_late,
                    intent_before, direct_after} <= payments
            assert {early_line, bank_late_line} <= {ln.id for ln in bounded.lines}
            assert {intent_dossier, other} <= {d.id for d in bounded.dossiers}
            assert refunded_sale in payments and refund_line in {ln.id for ln in bounded.lines}
            assert same_id_early in payments and same_id_line in {ln.id for ln in bounded.lines}
            # August's clean payment is not read (unless a shared server's mark lags)
            assert h.clean not in payments - changed
            assert writes(conn, bounded, clock.now(), w.config, clock.now()) == writes(
                conn, everything, clock.now(), w.config, clock.now())


def test_every_dossier_numbered_from_the_open_months_on_is_read_whole(
        db: Database, clock: FixedClock) -> None:
    """The dossiers from the first one received in the open months on are read whole, paid or
    not: an October dossier nobody has paid yet, and dossiers received and paid in September
    but numbered after October's first one (ids need not follow the day received), one with
    its September payment and line, one with the payment its intent alone links. What a run
    would write is what reading everything gives."""
    h = History(db, clock)
    w = h.w
    unpaid = w.dossier(received_at=received(OCT, 20))
    numbered_late = w.dossier(received_at=received(SEP, 18))
    paid_early = w.pay(180000, dossier_code=w.codes[numbered_late], paid_at=vn(SEP, 19))
    settled_early = w.settle("vnpay", w.txn_of(paid_early), 180000,
                             settled_on=date(2026, 9, 20))
    # ... and one paid in September through its intent alone
    through_intent = w.dossier(received_at=received(SEP, 22), amounts=(90000,))
    intent_paid = w.pay(90000, reference=w.intent(through_intent, 90000), paid_at=vn(SEP, 23))
    w.settle("vnpay", w.txn_of(intent_paid), 90000, settled_on=date(2026, 9, 24))
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE payments SET dossier_id = NULL WHERE id = :p"),
                     {"p": intent_paid})
    w.run("full")
    assert w.kinds() == ["underpaid"]  # History's short dossier: the others are clean
    close(db, AUG, SEP)
    w.later(hours=1)
    with read_snapshot(db) as conn:
        previous = last_success(conn)
        assert previous is not None
        everything = load_full(conn, parallel=False)
        for parallel in (False, True):
            bounded = load_open(conn, month=OCT, previous=previous, as_of=clock.now(),
                                config=w.config, parallel=parallel)
            assert {unpaid, numbered_late, through_intent} <= {d.id for d in bounded.dossiers}
            assert {paid_early, intent_paid} <= {p.id for p in bounded.payments}
            assert settled_early in {ln.id for ln in bounded.lines}
            assert writes(conn, bounded, clock.now(), w.config, clock.now()) == writes(
                conn, everything, clock.now(), w.config, clock.now())


@pytest.mark.parametrize("allocations_read", ["by id", "every allocation"])
@pytest.mark.parametrize("transfer_in", ["open month", "closed month"])
def test_a_transfer_split_across_the_horizon_is_read_with_both_dossiers(
        db: Database, clock: FixedClock, allocations_read: str, transfer_in: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A transfer split between a dossier of September and one of October, one of which
    has a payment of its own: in October (read by the transfer's allocations) or in
    September (the dossier read by its own payment in October, and the transfer by its
    allocation). The bounded run reads both dossiers, both payments and both allocations,
    and writes what reading everything writes."""
    if allocations_read == "every allocation":
        monkeypatch.setattr(load_module, "_ALL_ALLOCATIONS_ABOVE", 0)
    w = World(db, clock)
    if transfer_in == "open month":
        alone = w.dossier(received_at=received(SEP, 20), amounts=(140000,))
        other = w.dossier(received_at=received(OCT, 3), amounts=(90000,))
        own = w.pay(50000, dossier_code=w.codes[alone], paid_at=vn(SEP, 21))
        w.settle("vnpay", w.txn_of(own), 50000, settled_on=date(2026, 9, 22))
        transfer = w.pay(180000, paid_at=vn(OCT, 5))
        w.settle("vnpay", w.txn_of(transfer), 180000, settled_on=date(2026, 10, 6))
    else:
        other = w.dossier(received_at=received(SEP, 20), amounts=(90000,))
        alone = w.dossier(received_at=received(SEP, 28), amounts=(140000,))
        transfer = w.pay(180000, paid_at=vn(SEP, 25))
        w.settle("vnpay", w.txn_of(transfer), 180000, settled_on=date(2026, 9, 26))
        own = w.pay(50000, dossier_code=w.codes[alone], paid_at=vn(OCT, 2))
        w.settle("vnpay", w.txn_of(own), 50000, settled_on=date(2026, 10, 3))
    split_transfer(db, clock, transfer, (alone, other))
    clean_then_closed(w, db)
    with read_snapshot(db) as conn:
        bounded, splits = open_months_with_splits(conn, w)
        assert {alone, other} <= {d.id for d in bounded.dossiers}
        assert {own, transfer} <= {p.id for p in bounded.payments}
        assert sorted((a.payment_id, a.dossier_id) for a in splits.allocations) == sorted(
            [(transfer, alone), (transfer, other)])
        # the same as completing the plain open months' load
        again, again_splits = with_splits(conn, load_open(
            conn, month=OCT, previous=last_success(conn), as_of=clock.now(), config=w.config,
            parallel=False))
        assert [sorted(rows) for rows in again] == [sorted(rows) for rows in bounded]
        assert sorted(again_splits.allocations) == sorted(splits.allocations)
        assert sorted(again_splits.unsplit) == sorted(splits.unsplit)
        # ... and the core finds over it what it finds over everything
        everything, every_split = load_full(conn, parallel=False), load_splits_full(conn)
        assert core_findings(bounded, splits, clock.now(), w.config) == core_findings(
            everything, every_split, clock.now(), w.config)
    summary = w.run("full")
    assert summary.open_from == OCT.isoformat()
    assert w.kinds() == []  # a dossier or payment not read: underpaid, or a share unmatched


def test_a_dossier_reached_by_a_split_share_is_read_with_its_payment_through_an_intent(
        db: Database, clock: FixedClock) -> None:
    """A September transfer split between an October dossier nobody else has paid and a
    September one paid the rest by a September payment that reaches it only through its
    intent: the bounded load reaches the September dossier by the share, and reads it whole,
    that payment and its intent included. A dossier read without it would look underpaid,
    and the run would report that, late, for a closed month."""
    w = World(db, clock)
    paid_twice = w.dossier(received_at=received(SEP, 20), amounts=(180000,))
    share_only = w.dossier(received_at=received(OCT, 3), amounts=(90000,))
    transfer = w.pay(180000, paid_at=vn(SEP, 25))
    w.settle("vnpay", w.txn_of(transfer), 180000, settled_on=date(2026, 9, 26))
    by_intent = w.pay(90000, reference=w.intent(paid_twice, 90000), paid_at=vn(SEP, 27))
    w.settle("vnpay", w.txn_of(by_intent), 90000, settled_on=date(2026, 9, 28))
    split_transfer(db, clock, transfer, (share_only, paid_twice), through_intent=(by_intent,))
    clean_then_closed(w, db)
    with read_snapshot(db) as conn:
        bounded, splits = open_months_with_splits(conn, w)
        assert {share_only, paid_twice} <= {d.id for d in bounded.dossiers}
        assert {transfer, by_intent} <= {p.id for p in bounded.payments}
        intent_id = conn.execute(text("SELECT intent_id FROM payments WHERE id = :p"),
                                 {"p": by_intent}).scalar_one()
        assert intent_id in {i.id for i in bounded.intents}
        everything, every_split = load_full(conn, parallel=False), load_splits_full(conn)
        assert core_findings(bounded, splits, clock.now(), w.config) == core_findings(
            everything, every_split, clock.now(), w.config) == []
    summary = w.run("full")
    assert summary.open_from == OCT.isoformat()
    assert w.kinds() == []  # not underpaid, nor late for a closed month


def test_a_payment_of_a_closed_month_that_falls_due_later_is_read_as_reading_everything_does(
        db: Database, clock: FixedClock) -> None:
    """A payment of September's last evening and one of October's first day, neither settled
    nor due when the previous run judged them: by the next run, September closed, both are
    overdue. The September one is read because it fell due since that run (the look-up of
    what fell due covers the days before the horizon; the open months are read whole), and
    the run writes what reading everything writes."""
    w = World(db, clock)
    late_evening = w.pay(180000, dossier_code=w.codes[w.dossier(received_at=received(SEP, 29))],
                         paid_at=vn(SEP, 30, hour=22))
    first_day = w.pay(180000, dossier_code=w.codes[w.dossier(received_at=received(OCT, 1))],
                      paid_at=vn(OCT, 1))
    w.run("full", as_of=vn(OCT, 1, hour=0))
    assert w.kinds() == []  # not due yet
    close(db, AUG, SEP)
    w.later(hours=1)
    as_of = vn(OCT, 20)
    with read_snapshot(db) as conn:
        previous = last_success(conn)
        assert previous is not None
        bounded = load_open(conn, month=OCT, previous=previous, as_of=as_of, config=w.config,
                            parallel=False)
        assert {late_evening, first_day} <= {p.id for p in bounded.payments}
        everything = load_full(conn, parallel=False)
        expected = writes(conn, everything, as_of, w.config, clock.now())
        assert writes(conn, bounded, as_of, w.config, clock.now()) == expected
        assert [i for i, *_ in expected[0] if i.startswith("missing_settlement")] == [
            f"missing_settlement:payment={first_day}"]  # September's is held back


def test_a_payment_reached_by_a_split_share_brings_the_payment_its_bank_line_goes_to(
        db: Database, clock: FixedClock) -> None:
    """A September bank transfer of a dossier reached only by a split share carries the same
    bank reference as an earlier transfer of another September dossier, whose statement line
    the core gives to the earlier one (the lowest id carrying it). The bounded load reads that
    earlier payment too, so the line is not taken for a second settlement of the later one."""
    w = World(db, clock)
    other = w.dossier(received_at=received(SEP, 8), amounts=(180000,))
    share_and_bank = w.dossier(received_at=received(SEP, 9), amounts=(180000,))
    share_only = w.dossier(received_at=received(OCT, 3), amounts=(90000,))
    earlier = w.pay(180000, provider="sepay", txn="SE801", dossier_code=w.codes[other],
                    paid_at=vn(SEP, 10), bank_reference="FT26253000007")
    later = w.pay(90000, provider="sepay", txn="SE802", dossier_code=w.codes[share_and_bank],
                  paid_at=vn(SEP, 11), bank_reference="FT26253000007")
    w.settle("sepay", "FT26253000007", 180000, settled_on=date(2026, 9, 12))
    w.settle("sepay", "SE802", 90000, settled_on=date(2026, 9, 12))  # the later one's own
    transfer = w.pay(180000, paid_at=vn(SEP, 25))
    w.settle("vnpay", w.txn_of(transfer), 180000, settled_on=date(2026, 9, 26))
    split_transfer(db, clock, transfer, (share_only, share_and_bank))
    with read_snapshot(db) as conn:
        assert core_findings(load_full(conn, parallel=False), load_splits_full(conn),
                             clock.now(), w.config) == []
    clean_then_closed(w, db)
    with read_snapshot(db) as conn:
        bounded, splits = open_months_with_splits(conn, w)
        assert {transfer, later, earlier} <= {p.id for p in bounded.payments}
        assert core_findings(bounded, splits, clock.now(), w.config) == []
    w.run("full")
    assert w.kinds() == []  # no second settlement, nothing late for a closed month
