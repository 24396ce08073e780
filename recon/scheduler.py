"""Scheduled reconciliation (APScheduler 3): incremental every few minutes, full nightly.

``recon scheduler`` runs :func:`run_blocking` (a ``BlockingScheduler``, the production shape:
one or more such processes beside the web workers); ``recon serve`` calls
:func:`start_background` (a ``BackgroundScheduler`` thread) unless ``--no-scheduler``.

Settings (environment):

- ``RECON_RECONCILE_INTERVAL_MINUTES`` (default 5; a fraction is allowed), or
  ``RECON_RECONCILE_INTERVAL_SECONDS`` which wins when set (tests use a couple of seconds);
- ``RECON_FULL_RECONCILE_CRON`` (default ``30 1 * * *``: 01:30 every night), in
  ``RECON_SCHEDULER_TIMEZONE`` (default ``Asia/Ho_Chi_Minh``).
- ``RECON_INTENT_EXPIRY_INTERVAL_SECONDS`` (default 60): how often issued payment intents whose
  time is up are marked expired (:func:`payments.intents.sweep_expired`; its own job, at start and
  then every interval; it takes no run lock: each change is conditional, so sweepers in several
  processes never conflict).
- ``RECON_REFUSED_CALLBACK_DAYS`` (default 30): refused webhook calls older than this are deleted
  (:func:`payments.refused.sweep`; its own job, at start and then every 6 hours).

However many schedulers run, on however many hosts, runs never overlap: each run takes the
runner's lock (:class:`recon.engine.lock.RunLock`) and a job that cannot get it does nothing
(incremental) or waits its turn for a while (full). Every incremental run covers everything since
the last *successful* run, whoever made it, so a skipped or failed tick leaves no gap.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Final

from flask import Flask

from recon.clock import Clock
from recon.config import DEFAULT_INTENT_EXPIRY_INTERVAL, Settings
from recon.db import Database

log = logging.getLogger("recon.scheduler")

DEFAULT_INTERVAL_MINUTES: Final = 5.0
DEFAULT_FULL_CRON: Final = "30 1 * * *"
DEFAULT_TIMEZONE: Final = "Asia/Ho_Chi_Minh"
# how long after its time the nightly full run may still start (see _add_jobs)
FULL_MISFIRE_GRACE: Final = timedelta(hours=3)
# how long the nightly full job waits for a running incremental run to finish
FULL_LOCK_WAIT: Final = timedelta(minutes=10)
# a catch-up run at start is full when the last successful full run is older than this
FULL_STALE_AFTER: Final = timedelta(hours=26)
# how often refused webhook calls past their retention are deleted (recon.payments.refused)
REFUSED_SWEEP_HOURS: Final = 6
#: how often the scheduler issues the receipts that issuing at payment could not (receipts on)
RECEIPT_SWEEP_SECONDS: Final = 60


@dataclass(frozen=True)
class ScheduleConfig:
    interval: timedelta
    full_cron: str
    timezone: tzinfo
    expiry_interval: timedelta = timedelta(seconds=DEFAULT_INTENT_EXPIRY_INTERVAL)
    receipts: bool = False  # RECON_RECEIPTS=on: sweep for missing receipts
    # RECON_RECEIPTS_ISSUE=worker: the sweep issues every receipt, every this many seconds
    receipt_worker_seconds: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ScheduleConfig:
        seconds_raw = settings.get("RECONCILE_INTERVAL_SECONDS")
        minutes_raw = settings.get("RECONCILE_INTERVAL_MINUTES")
        if seconds_raw is not None:
            interval = timedelta(seconds=_positive("RECON_RECONCILE_INTERVAL_SECONDS",
                                                   seconds_raw))
        elif minutes_raw is not None:
            interval = timedelta(minutes=_positive("RECON_RECONCILE_INTERVAL_MINUTES",
                                                   minutes_raw))
        else:
            interval = timedelta(minutes=DEFAULT_INTERVAL_MINUTES)
        cron = settings.get("FULL_RECONCILE_CRON", DEFAULT_FULL_CRON) or DEFAULT_FULL_CRON
        zone = settings.get("SCHEDULER_TIMEZONE", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE
        return cls(interval=interval, full_cron=cron, timezone=_zone(zone),
                   expiry_interval=timedelta(seconds=settings.intent_expiry_interval_seconds),
                   receipts=(settings.get("RECEIPTS") or "off").strip().lower() == "on",
                   receipt_worker_seconds=_receipt_worker_seconds(settings))


def _receipt_worker_seconds(settings: Settings) -> float | None:
    from recon.receipts.settings import ReceiptSettings  # noqa: PLC0415

    found = ReceiptSettings.from_env(settings.env)
    return found.sweep_seconds if found.enabled and not found.inline else None


def _positive(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def _zone(name: str) -> tzinfo:
    try:
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - no tz database: Vietnam has no DST, a fixed offset is exact
        if name == DEFAULT_TIMEZONE:
            return timezone(timedelta(hours=7), "ICT")
        raise ValueError(f"unknown time zone {name!r} (RECON_SCHEDULER_TIMEZONE)") from None


class Jobs:
    """What the scheduler calls; each call is one run attempt through the runner."""

    def __init__(self, app: Flask, *, name: str) -> None:
        self.app = app
        self.name = name
        self.settings: Settings = app.extensions["recon.settings"]
        self.db: Database = app.extensions["recon.db"]
        self.clock: Clock = app.extensions["recon.clock"]
        self.stopping = threading.Event()

    def stop(self) -> None:
        """No new attempt starts after this (a run under way finishes)."""
        self.stopping.set()

    def _run(self, mode: str, *, trigger: str, wait: timedelta | None = None) -> None:
        from recon.audit.chain import record_on  # noqa: PLC0415
        from recon.engine.runner import (  # noqa: PLC0415
            RunInProgress,
            overlap_from_env,
            run_reconciliation,
        )
        from recon.review.remittances import with_remittance_pass  # noqa: PLC0415
        from recon.settlements.payouts import engine_config  # noqa: PLC0415

        deadline = time.monotonic() + (wait.total_seconds() if wait else 0.0)
        while not self.stopping.is_set():
            try:
                summary = run_reconciliation(
                    self.db, clock=self.clock, audit=record_on,
                    config=with_remittance_pass(engine_config(self.settings.env),
                                                self.settings.env),
                    mode=mode,  # type: ignore[arg-type]
                    triggered_by=f"scheduler:{trigger}:{self.name}",
                    overlap=overlap_from_env(self.settings.env))
            except RunInProgress:
                if time.monotonic() < deadline:
                    self.stopping.wait(5)
                    continue
                log.info("%s run skipped: another run is in progress", trigger)
                return
            except Exception:
                log.exception("%s reconciliation failed", trigger)
                return
            log.info("%s run %s (%s): %s new, %s still open, %s auto-resolved in %.2fs",
                     trigger, summary.run_id, summary.mode, summary.new, summary.still_open,
                     summary.auto_resolved, summary.seconds)
            return

    def incremental(self) -> None:
        self._run("auto", trigger="incremental")

    def full(self) -> None:
        self._run("full", trigger="nightly", wait=FULL_LOCK_WAIT)

    def expire_intents(self) -> None:
        """Mark every issued intent whose time is up as expired, in batches until none is."""
        from recon.payments.intents import sweep_expired  # noqa: PLC0415

        try:
            expired = sweep_expired(self.db, self.clock, should_stop=self.stopping.is_set)
        except Exception:
            log.exception("intent expiry sweep failed")
            return
        if expired:
            log.info("intent expiry sweep: %s intents expired", expired)

    def sweep_refused_callbacks(self) -> None:
        """Delete refused webhook calls older than ``RECON_REFUSED_CALLBACK_DAYS``."""
        from recon.payments.refused import RefusalPolicy, sweep  # noqa: PLC0415

        try:
            deleted = sweep(self.db, self.clock, RefusalPolicy.from_settings(self.settings),
                            should_stop=self.stopping.is_set)
        except Exception:
            log.exception("refused-callback retention sweep failed")
            return
        if deleted:
            log.info("refused-callback retention sweep: %s calls deleted", deleted)

    def issue_missing_receipts(self) -> None:
        """Issue the receipts that issuing at payment could not (receipts on only); with
        ``RECON_RECEIPTS_ISSUE=worker``, every receipt owed, in batches (one block of numbers
        per batch: :func:`recon.receipts.issuing.sweep_owed`)."""
        from recon.receipts.issuing import issue_missing, receipting, sweep_owed  # noqa: PLC0415

        try:
            receipts = receipting(self.settings.env)
            if receipts is None:
                return
            if not receipts.settings.inline:
                issued = sweep_owed(self.db, self.clock, receipts,
                                    actor=f"scheduler:receipts:{self.name}",
                                    should_stop=self.stopping.is_set)
                if issued:
                    log.info("receipt sweep: %s receipts issued", issued)
                return
            summary = issue_missing(self.db, self.clock, receipts,
                                    actor=f"scheduler:receipts:{self.name}",
                                    should_stop=self.stopping.is_set)
        except Exception:
            log.exception("missing-receipt sweep failed")
            return
        if summary.payments:
            log.info("missing-receipt sweep: %s receipts issued, %s payments still without one",
                     summary.issued, summary.left)

    def catch_up(self) -> None:
        """At start: cover the whole window missed since the last successful run (incremental
        from its as_of), or everything when no full run succeeded recently."""
        mode = catch_up_mode(self.db, now=self.clock.now())
        log.info("catch-up run at start (%s)", mode)
        self._run(mode, trigger="catch-up", wait=FULL_LOCK_WAIT if mode == "full" else None)


def catch_up_mode(db: Database, *, now: datetime) -> str:
    from recon.engine.store import last_full_success  # noqa: PLC0415

    with db.engine.connect() as conn:
        last = last_full_success(conn)
    if last is None:
        return "full"
    return "full" if now - last > FULL_STALE_AFTER else "auto"


def _wall_now(zone: tzinfo) -> datetime:
    """"Now" as APScheduler counts it, for the jobs due at start: its triggers fire on the
    wall clock whatever clock the services are given (a fixed test clock would make them
    misfire). Business time (what a run covers, whether the last full run is stale) comes
    from the injected clock, never from here."""
    return datetime.now(zone)


def _add_jobs(scheduler: Any, jobs: Jobs, config: ScheduleConfig) -> None:
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415
    from apscheduler.triggers.interval import IntervalTrigger  # noqa: PLC0415

    interval = config.interval.total_seconds()
    scheduler.add_job(
        jobs.incremental, IntervalTrigger(seconds=interval, timezone=config.timezone),
        id="reconcile-incremental", name="incremental reconciliation", replace_existing=True,
        # One at a time in this process (the lock sees to the others).
        max_instances=1,
        # A backlog of missed ticks (process suspended, host asleep) becomes ONE run: each run
        # covers everything since the last successful run, so repeating it gains nothing.
        coalesce=True,
        # A tick that could not start on time may still start up to one interval late; later
        # than that the next tick is as good, so it is dropped rather than run back to back.
        misfire_grace_time=max(1, int(interval)),
    )
    scheduler.add_job(
        jobs.full, CronTrigger.from_crontab(config.full_cron, timezone=config.timezone),
        id="reconcile-full", name="nightly full reconciliation", replace_existing=True,
        max_instances=1,
        # Several missed nights need one full run, not one per night.
        coalesce=True,
        # The nightly run may start up to 3 hours late (the scheduler was down or busy at
        # 01:30): still before the working day. Later than that it is skipped, not run in
        # office hours; the next night (or the catch-up at the next start) does it.
        misfire_grace_time=int(FULL_MISFIRE_GRACE.total_seconds()),
    )
    expiry = config.expiry_interval.total_seconds()
    scheduler.add_job(
        jobs.expire_intents, IntervalTrigger(seconds=expiry, timezone=config.timezone),
        id="intents-expire", name="payment intent expiry sweep", replace_existing=True,
        # at start (intents that fell due while no scheduler ran), then every interval
        next_run_time=_wall_now(config.timezone),
        max_instances=1,
        # One sweep expires everything due, so a backlog of missed ticks is one sweep ...
        coalesce=True,
        # ... and a tick more than one interval late is dropped: the next one does the same.
        misfire_grace_time=max(1, int(expiry)),
    )
    scheduler.add_job(
        jobs.sweep_refused_callbacks, IntervalTrigger(hours=REFUSED_SWEEP_HOURS,
                                                      timezone=config.timezone),
        id="callbacks-sweep-refused", name="refused webhook call retention sweep",
        replace_existing=True, next_run_time=_wall_now(config.timezone), max_instances=1,
        coalesce=True, misfire_grace_time=int(REFUSED_SWEEP_HOURS * 3600),
    )
    if config.receipts:
        every = config.receipt_worker_seconds or RECEIPT_SWEEP_SECONDS
        scheduler.add_job(
            jobs.issue_missing_receipts,
            IntervalTrigger(seconds=every, timezone=config.timezone),
            id="receipts-issue-missing", name="missing e-receipt sweep", replace_existing=True,
            next_run_time=_wall_now(config.timezone), max_instances=1, coalesce=True,
            misfire_grace_time=max(int(every), 1),
        )
    scheduler.add_job(
        jobs.catch_up, "date", run_date=_wall_now(config.timezone), id="reconcile-catch-up",
        name="catch-up reconciliation at start", replace_existing=True, max_instances=1,
        # it must run even if the pool is busy for a while right at start
        misfire_grace_time=None,
    )


def _name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def start_background(app: Flask) -> Any:
    """For ``recon serve``: the same jobs in a background thread of the web process."""
    from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

    config = ScheduleConfig.from_settings(app.extensions["recon.settings"])
    scheduler = BackgroundScheduler(timezone=config.timezone, daemon=True)
    jobs = Jobs(app, name=_name())
    _add_jobs(scheduler, jobs, config)
    scheduler.start()
    atexit.register(jobs.stop)
    app.extensions["recon.scheduler"] = scheduler
    app.extensions["recon.scheduler_jobs"] = jobs
    log.info("background reconciliation every %s; full at %r; intent expiry every %s",
             config.interval, config.full_cron, config.expiry_interval)
    return scheduler


def run_blocking(app: Flask, *, install_signals: bool = True,
                 on_start: Callable[[Any], None] | None = None) -> None:
    """For ``recon scheduler``: run until SIGINT/SIGTERM; a run in progress is finished."""
    from apscheduler.schedulers.blocking import BlockingScheduler  # noqa: PLC0415

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ScheduleConfig.from_settings(app.extensions["recon.settings"])
    scheduler = BlockingScheduler(timezone=config.timezone)
    jobs = Jobs(app, name=_name())
    _add_jobs(scheduler, jobs, config)
    stopper: list[threading.Thread] = []
    if install_signals and threading.current_thread() is threading.main_thread():
        def _stop(signum: int, _frame: object) -> None:
            if stopper:
                log.info("signal %s: already stopping after the run in progress", signum)
                return
            log.info("signal %s: stopping after the run in progress", signum)
            jobs.stop()
            # Shut down on a thread of its own, waiting for the jobs under way, and have the
            # main thread join it below: when the main thread ends, Python stops every thread
            # pool from taking work, and a run under way that then starts one of its own
            # (the scans, the early write) would fail.
            stopper.append(threading.Thread(target=_shut_down, args=(scheduler,),
                                            name="recon-scheduler-stop"))
            stopper[0].start()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    log.info("reconciliation scheduler %s: incremental every %s, full at %r (%s); intent "
             "expiry every %s", _name(), config.interval, config.full_cron, config.timezone,
             config.expiry_interval)
    if on_start is not None:
        on_start(scheduler)
    if not jobs.stopping.is_set():  # (a signal before the start: nothing to start)
        scheduler.start()
    for thread in stopper:  # the loop may end before the jobs under way: wait for them
        thread.join()


def _shut_down(scheduler: Any) -> None:
    """Shut ``scheduler`` down once the jobs under way have finished (if it ever started)."""
    from apscheduler.schedulers import SchedulerNotRunningError  # noqa: PLC0415

    with contextlib.suppress(SchedulerNotRunningError):
        scheduler.shutdown(wait=True)


def stop_background(app: Flask) -> None:
    """For ``recon serve`` once it stops serving: no new job starts, and the jobs under way
    finish before this returns (before the main thread ends: Python then stops every thread
    pool from taking work, and a run that starts one of its own would fail)."""
    jobs: Jobs | None = app.extensions.pop("recon.scheduler_jobs", None)
    scheduler = app.extensions.pop("recon.scheduler", None)
    if jobs is not None:
        jobs.stop()
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=True)


def install(app: Flask) -> None:
    """Let ``recon serve`` start the background scheduler (``recon.start_scheduler``)."""
    app.extensions.setdefault("recon.start_scheduler", start_background)
    app.extensions.setdefault("recon.stop_scheduler", stop_background)
