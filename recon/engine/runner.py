"""The runner: load rows, run the pure core, persist what changed -- one run at a time.

This module orchestrates; the lock is :mod:`recon.engine.lock`, the reading
:mod:`recon.engine.load`, the writing :mod:`recon.engine.store`. A run
(:func:`run_reconciliation`) goes like this:

1. **Lock** (:class:`~recon.engine.lock.RunLock`): only one run at a time across every process
   and host; a runner that cannot get the lock raises :class:`RunInProgress` at once.
2. **Open the run.** In one short write transaction: every ``ReconRun`` still ``running`` is
   marked ``failed`` (we hold the lock, so its process is dead), the mode is decided, this
   run's change mark is taken (:func:`recon.engine.changes.take_mark`) and its row is inserted
   as ``running``.
3. **Load** in one read snapshot (:mod:`recon.engine.load`): a *full* run reads the open
   months (:func:`~recon.engine.load.load_open`: from the first month that is not closed, and
   of the closed ones only what links to them, changed since the last successful run, fell due
   since its ``as_of`` or is the subject of an open discrepancy), or everything when no month
   is closed or no run succeeded yet; an *incremental* run reads what changed since the last
   successful run in the order the database keeps (rows whose ``change_seq`` is at or above
   that run's ``change_mark``), the subjects of discrepancies reopened since, and succeeded
   payments whose settlement deadline lies between the two runs' ``as_of`` (either way),
   expanded to whole dossiers and whole provider transactions.
4. **Reconcile and classify** (pure; ``partial=True`` for incremental runs). A full run on
   PostgreSQL starts the core on the settlement lines and payments while the dossiers are
   still being read (see :class:`~recon.engine.load.FullLoad`).
5. **Persist in ONE write transaction** (:mod:`recon.engine.store`): the findings that changed
   are upserted by identity (an unchanged open one is not written), findings that no longer
   hold are set ``auto_resolved`` with the reason, the run row becomes ``succeeded`` with its
   counts (a full run's with ``seen_open``: it saw every open discrepancy), and the ``audit``
   the caller gives records one event of the run's changes. A ``kill -9`` before the commit leaves
   nothing but a ``running`` row (failed by the next run); after it, a rerun finds everything
   already in place. Either way the discrepancy set ends up exactly as one uninterrupted run
   leaves it. A full run on PostgreSQL opens that transaction before the core starts and
   upserts the findings that need no dossier in it, on a worker thread, while the core walks
   the dossiers (:class:`_EarlyWrite`); the rest follows as above.

``dry_run=True`` takes no lock and writes nothing at all (no ``ReconRun`` row, no discrepancy,
no audit event): it loads, reconciles, classifies against the open discrepancies, and reports.

Modes: ``full`` reads everything; ``incremental`` reads what changed and falls back to a full
run when there is no successful run with a change mark yet; ``auto`` is incremental.
``recon_runs.window_start`` keeps the previous run's ``as_of``, from which deadlines are
re-judged. What the incremental loader relies on: the database stamps ``change_seq`` on every
write (migration ``0009_change_seq``), the app never deletes payments, settlement lines, intents
or dossiers (a fee line's deletion stamps its dossier), and ``as_of`` drives settlement deadlines
only. The nightly full run re-derives everything in any case.

The engine imports no service: the audit trail is handed in (``audit``, an :class:`AuditWriter`
such as :func:`recon.audit.chain.record_on`) by whoever starts the run (the CLI, the scheduler).
"""

from __future__ import annotations

import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, bindparam, text

from recon.clock import Clock
from recon.db import Database
from recon.engine import (
    changes,
    closed,
    deposit_load,
    fee_invoice_load,
    forward_load,
    payout_load,
    portal_load,
    receipt_load,
)
from recon.engine.core import Reconciliation, reconcile
from recon.engine.kinds import KINDS
from recon.engine.lifecycle import Classification, classify
from recon.engine.load import (
    Loaded,
    full_load,
    horizon,
    load_full,
    load_incremental,
    load_splits_full,
    month_start,
    open_load,
    read_beside,
    read_snapshot,
    with_splits,
)
from recon.engine.lock import LOCK_KEY, RunInProgress, RunLock
from recon.engine.records import Discrepancy, EngineConfig, SettlementLineRow
from recon.engine.remittances import KINDS as REMITTANCE_KINDS
from recon.engine.remittances import RemittanceInputs, with_remittances
from recon.engine.remittances import findings_of as remittance_findings
from recon.engine.settings import DEFAULT_OVERLAP, engine_config_from_env, overlap_from_env
from recon.engine.store import (
    SYSTEM_ACTOR,
    analyze_discrepancies,
    fail_abandoned_runs,
    fail_run,
    finish_run,
    insert_run,
    open_by_kind,
    persist,
)

Mode = Literal["full", "incremental", "auto"]
REMITTANCE_PREFIXES = tuple(f"{k}:" for k in REMITTANCE_KINDS)
Progress = Callable[[str], None]

ANALYZE_AFTER = 10_000  # new discrepancies after which a run refreshes the statistics


class AuditWriter(Protocol):
    """Appends one audit event in the caller's transaction on ``conn``
    (:func:`recon.audit.chain.record_on` is one)."""

    def __call__(self, conn: Connection, clock: Clock, *, actor: str, action: str,
                 entity_type: str, entity_id: str | int,
                 data: Mapping[str, Any] | None = None) -> object: ...


# --------------------------------------------------------------------------- the summary


@dataclass
class RunSummary:
    """What one run found and changed; ``as_dict()`` is the CLI's JSON line."""

    run_id: int | None
    mode: str
    requested_mode: str
    as_of: datetime
    window_start: datetime | None
    dry_run: bool
    counts: dict[str, int]
    new: int
    still_open: int
    auto_resolved: int
    reopened: int
    untouched: int
    loaded: dict[str, int]
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    open_by_kind: dict[str, int] | None = None  # every open discrepancy after the run
    held: int = 0  # a closed month's findings not written, or left open (engine.closed)
    open_from: str | None = None  # a full run that read the open months from this one on

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": "dry_run" if self.dry_run else "succeeded",
            "mode": self.mode,
            "as_of": self.as_of.isoformat(),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "dry_run": self.dry_run,
            "counts": self.counts,
            "total": self.total,
            "new": self.new,
            "still_open": self.still_open,
            "auto_resolved": self.auto_resolved,
            "reopened": self.reopened,
            "untouched": self.untouched,
            "held": self.held,
            "open_by_kind": self.open_by_kind,
            "loaded": self.loaded,
            "open_from": self.open_from,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 3),
        }

    def run_counts(self) -> dict[str, Any]:
        """What the ReconRun row keeps in ``counts``."""
        return {"by_kind": self.counts, "total": self.total, "new": self.new,
                "still_open": self.still_open, "auto_resolved": self.auto_resolved,
                "reopened": self.reopened, "untouched": self.untouched,
                "held": self.held, "loaded": self.loaded, "open_by_kind": self.open_by_kind,
                "open_from": self.open_from,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


# --------------------------------------------------------------------------- a run


def _decide(requested: Mode, last: changes.Previous | None, as_of: datetime,
            overlap: timedelta) -> tuple[str, datetime | None, int | None]:
    """The mode, and for an incremental run the previous run's ``as_of`` (recorded as the
    window start: deadlines are re-judged from it) and its change mark (what is read). Neither
    ``as_of`` nor ``overlap`` (kept for callers; no longer needed) decides what is read."""
    del as_of, overlap
    if changes.decide(requested, last) == "full" or last is None:
        return "full", None, None
    return "incremental", last.as_of, last.mark


def run_reconciliation(
    db: Database,
    *,
    clock: Clock,
    audit: AuditWriter,
    config: EngineConfig | None = None,
    as_of: datetime | None = None,
    mode: Mode = "auto",
    dry_run: bool = False,
    triggered_by: str = "cli",
    overlap: timedelta = DEFAULT_OVERLAP,
    progress: Progress | None = None,
    retain: list[object] | None = None,
) -> RunSummary:
    """One reconciliation run (see the module docstring). Raises :class:`RunInProgress` when
    another run holds the lock (nothing is written then). ``audit`` writes the run's audit
    event in its write transaction (:func:`recon.audit.chain.record_on`). ``retain``: the
    run's result (and the rows it holds) is appended there instead of freed on return, for a
    caller that exits next (:func:`recon.cli.common.end_without_freeing`)."""
    # Millions of fresh tuples and no cycles among them: the cyclic collector would rescan
    # them again and again while they are built, and all of them in one pass (half a second
    # at a million dossiers) as soon as it is switched back on. So it stays off until the run
    # is over and its rows are freed (by reference counting, which also takes them back off
    # the collector's count).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_reconciliation(db, clock=clock, audit=audit, config=config, as_of=as_of,
                                   mode=mode, dry_run=dry_run, triggered_by=triggered_by,
                                   overlap=overlap, progress=progress, retain=retain)
    finally:
        if retain is not None:
            # the rows the caller keeps leave the collector's generations: switched back on,
            # it would otherwise walk them all at once, for nothing (they hold no cycle)
            gc.freeze()
        if collecting:
            gc.enable()


def _run_reconciliation(
    db: Database,
    *,
    clock: Clock,
    audit: AuditWriter,
    config: EngineConfig | None,
    as_of: datetime | None,
    mode: Mode,
    dry_run: bool,
    triggered_by: str,
    overlap: timedelta,
    progress: Progress | None,
    retain: list[object] | None,
) -> RunSummary:
    keep = retain.append if retain is not None else (lambda _result: None)
    cfg = config if config is not None else EngineConfig()
    at = as_of if as_of is not None else clock.now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    at = at.astimezone(UTC)
    say = progress or (lambda _message: None)
    if dry_run:
        with read_snapshot(db) as conn:
            actual, window, since_mark = _decide(mode, changes.last_success(conn), at, overlap)
            summary, result, classification = _compute(
                conn, run_id=None, mode=actual, requested=mode, as_of=at, window_start=window,
                config=cfg, dry_run=True, say=say, since_mark=since_mark)
            # what a run would write: a closed month's findings held back, as a run holds them
            # (read only), so a dry run counts as the run would
            held = closed.Held()
            closed.hold(conn, result.discrepancies, classification.resolved, clock.now(), held)
            _count_as_held(summary, result, classification, held)
            keep(result)
            return summary

    with RunLock(db):
        started = time.perf_counter()
        run_id, actual, window, since_mark = _open_run(
            db, clock, requested=mode, as_of=at, overlap=overlap, triggered_by=triggered_by,
            say=say)
        try:
            with contextlib.ExitStack() as stack:
                early: _EarlyWrite | None = None
                held = closed.Held()  # what closed months keep from being written
                if db.dialect == "postgresql" and actual == "full":
                    # the write transaction opens first: the findings that need no dossier
                    # are upserted in it (on another thread) while the core walks the dossiers
                    wconn = stack.enter_context(db.engine.begin())
                    early = stack.enter_context(_EarlyWrite(wconn, run_id=run_id,
                                                            now=clock.now(), held=held))
                with read_snapshot(db) as conn:
                    summary, result, classification = _compute(
                        conn, run_id=run_id, mode=actual, requested=mode, as_of=at,
                        window_start=window, config=cfg, dry_run=False, say=say,
                        settled=None if early is None else early.submit, since_mark=since_mark,
                        more=None if early is None else early.submit_more)
                t0 = time.perf_counter()
                # (the counts follow the write: with closed months behind, what they hold back
                # and the late findings it makes are known only once written)
                say(f"writing {len(result.discrepancies):,} findings")
                if early is None:
                    wconn = stack.enter_context(db.engine.begin())
                    now = clock.now()
                    written: set[str] = set()
                    reopened: list[str] = []
                else:
                    now = early.now
                    written, reopened = early.result()
                    summary.timings["write_early"] = early.seconds
                rest = [d for d in result.discrepancies if d.identity not in written]
                reopened = sorted(reopened + persist(wconn, run_id=run_id, now=now,
                                                     findings=rest,
                                                     resolved=classification.resolved,
                                                     held=held))
                classification = _count_as_held(summary, result, classification, held)
                summary.reopened = len(reopened)
                say(f"wrote {summary.new:,} new, {summary.still_open:,} still open, "
                    f"{summary.auto_resolved:,} auto-resolved"
                    + (f", {summary.held:,} held back for closed months" if held else ""))
                summary.open_by_kind = open_by_kind(wconn)
                summary.timings["write"] = time.perf_counter() - t0
                summary.seconds = time.perf_counter() - started
                _close_run(wconn, clock, run_id, summary, classification, reopened, audit)
                t1 = time.perf_counter()
            # (the run row keeps the timings up to here; the summary adds the commit's)
            summary.timings["commit"] = time.perf_counter() - t1
        except BaseException as exc:
            fail_run(db, run_id, now=clock.now(), error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        if summary.new >= ANALYZE_AFTER and db.dialect == "postgresql":
            t2 = time.perf_counter()
            analyze_discrepancies(db)
            summary.timings["analyze"] = time.perf_counter() - t2
        summary.seconds = time.perf_counter() - started
    keep(result)
    return summary


def _count_as_held(summary: RunSummary, result: Reconciliation,
                   classification: Classification, held: closed.Held) -> Classification:
    """The run's counts and classification as written: what closed months held back taken
    out, the late findings made instead in (:meth:`closed.Held.correct`)."""
    if not held:
        return classification
    summary.counts = held.counts(summary.counts, result.discrepancies)
    corrected = held.correct(classification)
    summary.new, summary.still_open, summary.auto_resolved, summary.held = (
        len(corrected.new), len(corrected.still_open), len(corrected.resolved), held.count)
    return corrected


class _EarlyWrite:
    """Upserts the findings the core hands over before it walks the dossiers, on a worker
    thread, in the run's write transaction (``conn``, which nothing else touches until
    :meth:`result`); then, handed over as soon as the core returns (:meth:`submit_more`), its
    dossier-stage findings, while the later passes run (no pass drops one of those). Leaving
    the context waits for the worker, so an error elsewhere rolls the transaction back only
    once it is idle."""

    def __init__(self, conn: Connection, *, run_id: int, now: datetime,
                 held: closed.Held | None = None) -> None:
        self.conn = conn
        self.held = held
        self.run_id = run_id
        self.now = now
        self.seconds = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-write")
        self._future: Future[list[str]] | None = None
        self._more: Future[list[str]] | None = None
        self._identities: set[str] = set()

    def submit(self, findings: list[Discrepancy]) -> None:
        if self._future is not None:
            raise RuntimeError("the early findings come once")
        self._identities = {d.identity for d in findings}
        self._future = self._pool.submit(self._write, findings)

    def submit_more(self, findings: list[Discrepancy]) -> None:
        """The core's dossier-stage findings (disjoint from the first ones), written after
        them on the same worker."""
        if self._future is None or self._more is not None:
            raise RuntimeError("the dossier-stage findings come once, after the early ones")
        self._identities.update(d.identity for d in findings)
        self._more = self._pool.submit(self._write, findings)

    def _write(self, findings: list[Discrepancy]) -> list[str]:
        started = time.perf_counter()
        try:
            return persist(self.conn, run_id=self.run_id, now=self.now, findings=findings,
                           held=self.held)
        finally:
            self.seconds += time.perf_counter() - started

    def result(self) -> tuple[set[str], list[str]]:
        """The identities written, and those of them reopened."""
        if self._future is None:
            return set(), []
        reopened = self._future.result()
        if self._more is not None:
            reopened = reopened + self._more.result()
        return self._identities, reopened

    def __enter__(self) -> _EarlyWrite:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pool.shutdown(wait=True)


def _open_run(db: Database, clock: Clock, *, requested: Mode, as_of: datetime,
              overlap: timedelta, triggered_by: str,
              say: Progress) -> tuple[int, str, datetime | None, int | None]:
    with db.engine.begin() as conn:
        now = clock.now()
        stale = fail_abandoned_runs(conn, now)
        if stale:
            say(f"marked {stale} abandoned run(s) failed")
        actual, window, since_mark = _decide(requested, changes.last_success(conn), as_of, overlap)
        mark = changes.take_mark(conn)
        run_id = insert_run(conn, mode=actual, as_of=as_of, window_start=window, now=now,
                            triggered_by=triggered_by, mark=mark)
    say(f"run {run_id}: {actual}, as of {as_of.isoformat()}"
        + (f", changes since mark {since_mark}, deadlines since {window.isoformat()}"
           if window else ""))
    return run_id, actual, window, since_mark


def _compute(conn: Connection, *, run_id: int | None, mode: str, requested: str,
             as_of: datetime, window_start: datetime | None, config: EngineConfig,
             dry_run: bool, say: Progress,
             settled: Callable[[list[Discrepancy]], None] | None = None,
             since_mark: int | None = None,
             more: Callable[[list[Discrepancy]], None] | None = None,
             ) -> tuple[RunSummary, Reconciliation, Classification]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("loading" + (" everything" if mode == "full" else " recent activity"))
    return _load_and_reconcile(conn, run_id=run_id, mode=mode, requested=requested,
                               as_of=as_of, window_start=window_start, config=config,
                               dry_run=dry_run, say=say, t0=t0, timings=timings,
                               settled=settled, since_mark=since_mark, more=more)


def _load_and_reconcile(conn: Connection, *, run_id: int | None, mode: str, requested: str,
                        as_of: datetime, window_start: datetime | None, config: EngineConfig,
                        dry_run: bool, say: Progress, t0: float, timings: dict[str, float],
                        settled: Callable[[list[Discrepancy]], None] | None = None,
                        since_mark: int | None = None,
                        more: Callable[[list[Discrepancy]], None] | None = None,
                        ) -> tuple[RunSummary, Reconciliation, Classification]:
    # the payout pass (recon/engine/payout_load.py) reads and matches before the core runs:
    # the credits it claims leave the core's early findings
    def payout_pass(loaded_lines: Callable[[], list[SettlementLineRow]] | None = None,
                    opens: date | None = None, opens_mark: int | None = None,
                    ) -> payout_load.PayoutPass | None:
        nonlocal settled
        started = time.perf_counter()
        found = payout_load.prepare(conn, config=config.payouts, mode=mode, as_of=as_of,
                                    mark=since_mark if opens is None else opens_mark,
                                    since=window_start, loaded_lines=loaded_lines,
                                    opens=opens)
        if found is not None:
            settled = found.early(settled)
            timings["payouts"] = time.perf_counter() - started
            say(f"payouts: {len(found.outcome.batches):,} batches, "
                f"{len(found.outcome.credits):,} provider credits in "
                f"{timings['payouts']:.2f}s")
        return found

    month = horizon(conn) if mode == "full" else None
    last = changes.last_success(conn) if month is not None else None
    payouts: payout_load.PayoutPass | None = None
    remitted: Future[RemittanceInputs] | None = None  # the remittance pass's read, under way
    if month is not None and last is not None and last.mark is not None:
        # closed months behind: read the open ones, and what links to them or is still open
        say(f"reading the open months from {month:%m/%Y}")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-beside") as side:
            if config.remittances is not None:
                # the remittance pass's check of what the open months owe (the server's
                # work) on a connection of its own while the open months load
                remitted = read_beside(conn, side, config.remittances.reader(
                    mode, write=not dry_run, say=say, since=month_start(month)))
            opened_mark = last.mark

            def payouts_while_scanning(lines: Callable[[], list[SettlementLineRow]]) -> None:
                # the payout pass before the core (see its module doc), on this connection
                # while the open months' scans go on: its batch lines from their lines (every
                # line settled from the first open day on) and the few days before it
                nonlocal payouts
                payouts = payout_pass(lines, opens=month, opens_mark=opened_mark)

            with open_load(conn, month=month, previous=last, as_of=as_of, config=config,
                           while_scanning=payouts_while_scanning) as bounded:
                t1 = time.perf_counter()
                say(f"loaded {len(bounded.payments):,} payments, "
                    f"{len(bounded.lines):,} settlement lines in {t1 - t0:.2f}s; "
                    "reconciling while the dossiers load")
                # the findings written while the core and the later passes go on, as below;
                # the core walks lines and payments first, and asks for the dossiers only then
                result = reconcile(dossiers=bounded.dossiers, intents=bounded.intents,
                                   payments=bounded.payments, settlement_lines=bounded.lines,
                                   as_of=as_of, config=config, settled=settled,
                                   allocations=bounded.splits.allocations,
                                   unsplit=bounded.splits.unsplit)
                _hand_over_dossier_findings(result, more)
                loaded = bounded.loaded()
                # (the dossiers' scan may be done before the rest of the load)
                loaded_at = max(t1, bounded.dossiers_done or time.perf_counter())
    elif mode == "full":
        month = None
        with full_load(conn) as load:
            # the big scans run on their own connections (PostgreSQL) while the payout pass
            # reads and matches on this one, and the remittance pass's read (the server's
            # work: one aggregate over every payment and fee line) on one more
            if config.remittances is not None:
                remitted = load.beside(config.remittances.reader(
                    mode, write=not dry_run, say=say))
            payouts = payout_pass(load.lines)  # its batch lines: the load's, not a copy
            payments, lines = load.payments(), load.lines()
            t1 = time.perf_counter()
            say(f"loaded {len(payments):,} payments, {len(lines):,} settlement lines in "
                f"{t1 - t0:.2f}s; reconciling while the dossiers load")
            # the core walks lines and payments first, and asks for the dossiers only then
            splits = load_splits_full(conn)
            result = reconcile(dossiers=load.dossiers, intents=load.intents,
                               payments=payments, settlement_lines=lines, as_of=as_of,
                               config=config, settled=settled,
                               allocations=splits.allocations, unsplit=splits.unsplit)
            _hand_over_dossier_findings(result, more)
            loaded = load.loaded()
            loaded_at = load.dossiers_done or time.perf_counter()
    else:
        assert window_start is not None and since_mark is not None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-beside") as side:
            if config.remittances is not None:
                # the remittance pass's update of what the changed dossiers owe (its own
                # transaction) and its read, on a connection of their own while this one
                # reads what changed: both are mostly the server's waiting
                remitted = read_beside(conn, side, config.remittances.reader(
                    mode, write=not dry_run, say=say))
            payouts = payout_pass()
            loaded, splits = with_splits(conn, load_incremental(
                conn, mark=since_mark, since=window_start, as_of=as_of, config=config))
            loaded_at = t1 = time.perf_counter()
            result = reconcile(dossiers=loaded.dossiers, intents=loaded.intents,
                               payments=loaded.payments, settlement_lines=loaded.lines,
                               as_of=as_of, config=config, allocations=splits.allocations,
                               unsplit=splits.unsplit)
    timings["load"] = loaded_at - t0
    say(f"loaded {len(loaded.dossiers):,} dossiers, {len(loaded.payments):,} payments, "
        f"{len(loaded.lines):,} settlement lines in {loaded_at - t0:.2f}s")
    previous_open: list[str] = loaded.previous_open
    if payouts is not None:
        result = payouts.apply(result)
        previous_open = payouts.previous(previous_open)
    # the forwarding pass (recon/engine/forward_load.py): what is owed onward and the transfers
    t_fwd = time.perf_counter()
    forwarding = forward_load.prepare(conn, as_of=as_of,
                                      deadline_hours=config.forward_deadline_hours)
    result = forwarding.apply(result)
    previous_open = forwarding.previous(previous_open)
    timings["forwarding"] = time.perf_counter() - t_fwd
    # the deposit pass (recon/engine/deposit_load.py): phí into the fee-pending accounts
    t_dep = time.perf_counter()
    deposits = deposit_load.prepare(conn, as_of=as_of)
    result = deposits.apply(result)
    previous_open = deposits.previous(previous_open)
    timings["deposits"] = time.perf_counter() - t_dep
    say(f"deposits: {len(deposits.outcome.states):,} phí parts under a deposit rule, "
        f"{len(deposits.outcome.findings):,} overdue in {timings['deposits']:.2f}s")
    # the fee invoice pass (recon/engine/fee_invoice_load.py): subscriptions' invoices
    t_inv = time.perf_counter()
    invoices = fee_invoice_load.prepare(conn, config.contracts)
    result = invoices.apply(result)
    previous_open = invoices.previous(previous_open)
    timings["fee_invoices"] = time.perf_counter() - t_inv
    say(f"fee invoices: {len(invoices.outcome.months):,} provider-months invoiced, "
        f"{len(invoices.outcome.findings):,} off contract in {timings['fee_invoices']:.2f}s")
    # the portal pass (recon/engine/portal_load.py): the portal's daily lists, three ways
    t_portal = time.perf_counter()
    portal = portal_load.prepare(conn, config=config, mode=mode, mark=since_mark)
    if portal is not None:
        result = portal.apply(result)
        previous_open = portal.previous(previous_open)
        timings["portal"] = time.perf_counter() - t_portal
        say(f"portal: {len(portal.outcome.entries):,} portal lines on "
            f"{len(portal.outcome.judged):,} agency-days, {len(portal.outcome.findings):,} "
            f"differences in {timings['portal']:.2f}s")
    # the receipt pass (recon/engine/receipt_load.py), only with e-receipts on
    t_receipts = time.perf_counter()
    receipts = receipt_load.prepare(conn, config=config.receipts, mode=mode, as_of=as_of,
                                    mark=since_mark, since=window_start)
    if receipts is not None:
        checked = receipts.apply(result)
        result = checked
        previous_open = receipts.previous(previous_open)
        timings["receipts"] = time.perf_counter() - t_receipts
        say(f"receipts: {len(checked.receipts.findings):,} findings over "
            f"{len(checked.receipts.seen_payments):,} payments in {timings['receipts']:.2f}s")
    else:
        previous_open = receipt_load.without_receipt_kinds(previous_open)
    if config.remittances is None:
        # a run without the remittance pass leaves its findings as they are
        previous_open = [i for i in previous_open if not i.startswith(REMITTANCE_PREFIXES)]
    else:
        # the remittance pass (recon/engine/remittances.py) judges every month in every run:
        # what is owed per collector, month and tiểu mục, against the C1-02/NS vouchers
        t_r = time.perf_counter()
        # (with closed months behind, a full run rechecks what the open months owe)
        inputs = (remitted.result() if remitted is not None else
                  config.remittances.reader(mode, write=not dry_run, say=say,
                                            since=None if month is None else
                                            month_start(month))(conn))
        outcome = remittance_findings(inputs, as_of,
                                      due_day=config.remittances.due_day)
        result = with_remittances(result, outcome)
        opened = conn.execute(text(
            "SELECT identity FROM discrepancies WHERE status = 'open' AND kind IN :kinds")
            .bindparams(bindparam("kinds", expanding=True)),
            {"kinds": list(REMITTANCE_KINDS)}).scalars()
        previous_open = sorted({*previous_open, *opened})
        timings["remittances"] = time.perf_counter() - t_r
        say(f"remittances: {len(outcome.owed):,} amounts owed, "
            f"{len(outcome.allocation.parts):,} voucher allocations, "
            f"{len(outcome.findings):,} findings in {timings['remittances']:.2f}s")
    classification = classify(previous_open, result, partial=mode != "full")
    t2 = time.perf_counter()
    timings["reconcile"] = t2 - t1  # from the core's start: in a full run, overlaps the load
    timings["load_and_reconcile"] = t2 - t0
    say(f"reconciled: {len(result.discrepancies):,} discrepancies in {t2 - t1:.2f}s")
    summary = RunSummary(
        run_id=run_id, mode=mode, requested_mode=requested, as_of=as_of,
        window_start=window_start, dry_run=dry_run, counts=result.counts(),
        new=len(classification.new), still_open=len(classification.still_open),
        auto_resolved=len(classification.resolved), reopened=0,
        untouched=len(classification.untouched),
        loaded={"dossiers": len(loaded.dossiers), "payments": len(loaded.payments),
                "settlement_lines": len(loaded.lines), "intents": len(loaded.intents)},
        timings=timings, open_from=None if month is None else month.isoformat(),
    )
    summary.seconds = t2 - t0
    return summary, result, classification




def _hand_over_dossier_findings(result: Reconciliation,
                                more: Callable[[list[Discrepancy]], None] | None) -> None:
    """The core's dossier-stage findings to ``more`` (the early write), written while the
    later passes run (no pass drops one of those)."""
    if more is not None:
        stage = {k.name for k in result.kinds.dossier_kinds}
        more([d for d in result.discrepancies if d.kind in stage])


def _close_run(conn: Connection, clock: Clock, run_id: int, summary: RunSummary,
               classification: Classification, reopened: list[str],
               audit: AuditWriter) -> None:
    finish_run(conn, run_id, now=clock.now(),
               counts=json.dumps(summary.run_counts(), sort_keys=True),
               seen_open=summary.mode == "full")
    if classification.new or classification.resolved or reopened:
        audit(conn, clock, actor=SYSTEM_ACTOR, action="reconcile.run",
              entity_type="recon_run", entity_id=run_id, data={
                  "mode": summary.mode,
                  "as_of": summary.as_of.isoformat(),
                  "counts": summary.counts,
                  "new": summary.new,
                  "new_by_kind": _by_kind(d.kind for d in classification.new),
                  "auto_resolved": [r.identity for r in classification.resolved],
                  "reopened": reopened,
              })


def _by_kind(kinds: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(KINDS, 0)
    for kind in kinds:
        out[kind] += 1
    return {k: v for k, v in out.items() if v}


__all__ = [
    "DEFAULT_OVERLAP",
    "LOCK_KEY",
    "AuditWriter",
    "Loaded",
    "Mode",
    "RunInProgress",
    "RunLock",
    "RunSummary",
    "engine_config_from_env",
    "load_full",
    "load_incremental",
    "overlap_from_env",
    "persist",
    "read_snapshot",
    "run_reconciliation",
]
