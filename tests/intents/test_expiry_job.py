"""The scheduled intent expiry sweep: its job, its batches, its setting, its command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from recon.cli import cli
from recon.clock import Clock, FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.models import AuditEvent, PaymentIntent
from recon.payments import intents
from recon.payments.recording import PaymentEvent, record_payment
from recon.scheduler import Jobs, ScheduleConfig, _add_jobs
from tests.intents.helpers import CODE, seed

TTL = timedelta(minutes=15)


def _issue(db: Database, clock: Clock, app: Flask, channel: str, amount: int = 1000) -> int:
    with db.transaction() as s:
        outcome = intents.create_intent(s, clock, app.extensions["recon.settings"],
                                        dossier_code=CODE, channel=channel, amount=amount,
                                        actor="test")
        return outcome.intent.id


def _pay(db: Database, clock: Clock, intent_id: int) -> None:
    with db.transaction() as s:
        intent = s.get_one(PaymentIntent, intent_id)
        record_payment(s, clock, PaymentEvent(
            provider="sepay", provider_txn_id=f"txn-{intent_id}", channel="vietqr",
            amount=intent.amount, status="succeeded", paid_at=clock.now(),
            reference=intent.reference), actor="test", reference_prefix="HS")


def _statuses(db: Database) -> dict[int, str]:
    with db.read() as s:
        return {i.id: i.status for i in s.scalars(select(PaymentIntent))}


def _expired_events(db: Database) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "intent.expired")))


def test_the_job_expires_what_is_due_and_never_a_paid_intent(
        app: Flask, db: Database, clock: FixedClock) -> None:
    seed(db, clock)
    due = [_issue(db, clock, app, c) for c in ("vietqr", "momo", "zalopay")]
    paid = _issue(db, clock, app, "vnpay")
    _pay(db, clock, paid)
    clock.advance(timedelta(minutes=10))
    not_yet = _issue(db, clock, app, "payos")
    clock.advance(TTL - timedelta(minutes=10))  # the first four are at expires_at exactly

    Jobs(app, name="test").expire_intents()

    statuses = _statuses(db)
    assert [statuses[i] for i in due] == ["expired"] * 3
    assert statuses[paid] == "paid"
    assert statuses[not_yet] == "issued"
    events = _expired_events(db)
    assert sorted(int(e.entity_id) for e in events) == sorted(due)
    assert all(e.actor == "system" and '"via":"sweep"' in e.data for e in events)

    clock.advance(timedelta(days=1))  # long after: the paid one is still never touched
    Jobs(app, name="test").expire_intents()
    statuses = _statuses(db)
    assert statuses[paid] == "paid"
    assert statuses[not_yet] == "expired"
    assert len(_expired_events(db)) == 4


def test_the_job_does_nothing_once_stopped(app: Flask, db: Database,
                                           clock: FixedClock) -> None:
    seed(db, clock)
    intent_id = _issue(db, clock, app, "momo")
    clock.advance(TTL)
    jobs = Jobs(app, name="test")
    jobs.stop()
    jobs.expire_intents()
    assert _statuses(db)[intent_id] == "issued"


def test_sweep_loops_in_batches_until_none_is_due(app: Flask, db: Database, clock: FixedClock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db, clock)
    ids = [_issue(db, clock, app, c) for c in ("vietqr", "momo", "vnpay", "zalopay", "payos")]
    clock.advance(TTL)
    batches: list[int] = []
    real = intents.expire_due

    def counting(session: Any, clk: Clock, *, limit: int = 1000) -> int:
        done = real(session, clk, limit=limit)
        batches.append(done)
        return done

    monkeypatch.setattr(intents, "expire_due", counting)
    assert intents.sweep_expired(db, clock, batch=2) == 5
    assert batches == [2, 2, 1]
    assert {_statuses(db)[i] for i in ids} == {"expired"}
    assert intents.sweep_expired(db, clock, batch=2) == 0


def test_job_is_scheduled_with_its_own_interval() -> None:
    settings = load_settings({"RECON_ENV": "test",
                              "RECON_INTENT_EXPIRY_INTERVAL_SECONDS": "17"})
    scheduler = BackgroundScheduler()
    _add_jobs(scheduler, Jobs.__new__(Jobs), ScheduleConfig.from_settings(settings))
    job = scheduler.get_job("intents-expire")
    assert job is not None
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=17)
    assert (job.coalesce, job.misfire_grace_time, job.max_instances) == (True, 17, 1)
    assert scheduler.get_job("reconcile-incremental") is not None  # beside, not instead


def test_default_interval_and_bad_values() -> None:
    assert load_settings({"RECON_ENV": "test"}).intent_expiry_interval_seconds == 60
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ValueError, match="RECON_INTENT_EXPIRY_INTERVAL_SECONDS"):
            load_settings({"RECON_ENV": "test", "RECON_INTENT_EXPIRY_INTERVAL_SECONDS": bad})


def test_command_expires_due_intents(env: dict[str, str], app: Flask, db: Database) -> None:
    long_ago = FixedClock(datetime(2021, 4, 1, 2, 0, tzinfo=UTC))
    seed(db, long_ago)
    due = _issue(db, long_ago, app, "momo")
    paid = _issue(db, long_ago, app, "vnpay")
    _pay(db, long_ago, paid)
    result = CliRunner().invoke(cli, ["intents", "expire"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 payment intent expired."
    assert _statuses(db) == {due: "expired", paid: "paid"}
    again = CliRunner().invoke(cli, ["intents", "expire"], catch_exceptions=False)
    assert again.output.strip() == "0 payment intents expired."
