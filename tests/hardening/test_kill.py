"""``kill -9`` in the middle of things, on PostgreSQL; afterwards, checks by query.

- A gunicorn worker killed while it holds a callback's recording transaction open (the fault
  hook ``RECON_FAULT_RECORD_SLEEP_SECONDS`` sleeps there, test environment only): the provider
  got no answer, nothing of the payment was written, and its retry records it exactly once.
- A ``recon scheduler`` killed in the middle of a run: the next scheduler marks that run
  failed (abandoned), runs again, and leaves what an uninterrupted run leaves.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine

from bench.procs import base_env, start_scheduler
from bench.reconcile import build_postgresql
from bench.soak import seed_intents
from recon.audit.chain import record_on
from recon.clock import SystemClock
from recon.db import Database
from recon.engine.runner import run_reconciliation
from recon.settlements.payouts import engine_config
from tests.hardening.faultkit import Provider, count, gunicorn, signed, worker_in_transaction

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _idle_in_transaction(url: str) -> int:
    return count(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                      "current_database() AND state = 'idle in transaction'")


def test_worker_killed_inside_the_recording_transaction(empty_pg: str, tmp_path: Path) -> None:
    intents = seed_intents(empty_pg, 3)  # a VNPay, a MoMo and a ZaloPay order
    with gunicorn(empty_pg, tmp_path, workers=2, RECON_FAULT_RECORD_SLEEP_SECONDS="3") as web:
        for n, intent in enumerate(intents):
            txn = f"{880_000_000 + n}"
            raw = signed(intent.provider, txn, intent)
            provider = Provider(web.base)
            first = threading.Thread(target=lambda p=provider, i=intent, t=txn, r=raw: p.once(
                requests.Session(), i.provider, t, r))
            first.start()
            worker = worker_in_transaction(empty_pg, web)
            # inside the transaction: the call is archived, the payment not visible yet
            assert count(empty_pg, "SELECT count(*) FROM callbacks WHERE outcome = 'received'") \
                == n + 1  # and the killed deliveries before it, answered never
            os.kill(worker, signal.SIGKILL)
            first.join(timeout=30)
            assert [a.kind for a in provider.answers] == ["no_answer"]
            deadline = time.monotonic() + 20  # PostgreSQL sees the connection die
            while _idle_in_transaction(empty_pg) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _idle_in_transaction(empty_pg) == 0
            key = f"provider = '{intent.provider}' AND provider_txn_id = '{txn}'"
            # nothing half-written: no payment, the intent still open, no audit event
            assert count(empty_pg, f"SELECT count(*) FROM payments WHERE {key}") == 0
            assert count(empty_pg, "SELECT count(*) FROM payment_intents WHERE reference = "
                                f"'{intent.reference}' AND status = 'issued'") == 1
            assert count(empty_pg, "SELECT count(*) FROM audit_events WHERE action = "
                                f"'payment.recorded' AND data::text LIKE '%{txn}%'") == 0

            # the provider retries (the master has replaced the worker), then redelivers
            assert provider.deliver(intent.provider, txn, raw)
            assert provider.deliver(intent.provider, txn, raw)
            assert count(empty_pg, f"SELECT count(*) FROM payments WHERE {key}") == 1
            assert count(empty_pg, "SELECT count(*) FROM payment_intents WHERE reference = "
                                f"'{intent.reference}' AND status = 'paid'") == 1
            assert count(empty_pg, "SELECT count(*) FROM audit_events WHERE action = "
                                f"'payment.recorded' AND data::text LIKE '%{txn}%'") == 1
            # the killed delivery stays archived, unanswered ('received'); one accepted, one
            # duplicate (and any retry answered while the worker was being replaced)
            assert count(empty_pg, "SELECT count(*) FROM callbacks WHERE outcome = "
                                f"'accepted' AND {key}") == 1
            assert count(empty_pg, "SELECT count(*) FROM callbacks WHERE outcome = "
                                "'received'") == n + 1
        assert count(empty_pg, "SELECT count(*) FROM payments") == len(intents)
        assert count(empty_pg, "SELECT count(*) FROM callbacks WHERE outcome = 'error'") == 0
        assert len(web.worker_pids()) == 2  # the master replaced each killed worker


def test_scheduler_killed_mid_run(empty_pg: str, tmp_path: Path) -> None:
    engine = create_engine(empty_pg)
    build_postgresql(engine, 20000)
    engine.dispose()
    env = base_env(empty_pg, tmp_path, RECON_RECONCILE_INTERVAL_SECONDS="2",
                   RECON_LOG_LEVEL="INFO")
    first = start_scheduler(env, tmp_path, name="scheduler-killed")
    try:
        deadline = time.monotonic() + 60  # its catch-up run at start (full: none yet)
        while count(empty_pg, "SELECT count(*) FROM recon_runs WHERE status = 'running'") == 0:
            assert time.monotonic() < deadline, first.output()[-3000:]
            assert first.process.poll() is None, first.output()[-3000:]
            time.sleep(0.01)
        first.process.send_signal(signal.SIGSTOP)  # frozen where it is, inside the run
        assert count(empty_pg, "SELECT count(*) FROM recon_runs WHERE status = 'running'") == 1, \
            "the run finished before the scheduler could be stopped inside it"
    finally:
        first.process.kill()  # SIGKILL: no cleanup of any kind
        first.process.wait(timeout=10)
    killed = count(empty_pg, "SELECT max(id) FROM recon_runs")
    assert count(empty_pg, f"SELECT count(*) FROM recon_runs WHERE id = {killed} "
                        "AND status = 'running'") == 1  # left as it was
    assert count(empty_pg, "SELECT count(*) FROM discrepancies") == 0  # one transaction: none

    second = start_scheduler(env, tmp_path, name="scheduler-next")
    try:
        deadline = time.monotonic() + 120
        while count(empty_pg, f"SELECT count(*) FROM recon_runs WHERE id > {killed} "
                           "AND status = 'succeeded'") < 2:
            assert time.monotonic() < deadline, second.output()[-3000:]
            time.sleep(0.2)
    finally:
        assert second.stop(timeout=60) == 0, second.output()[-3000:]
    assert count(empty_pg, f"SELECT count(*) FROM recon_runs WHERE id = {killed} AND status = "
                        "'failed' AND error LIKE 'abandoned%'") == 1
    assert count(empty_pg, "SELECT count(*) FROM recon_runs WHERE status = 'running'") == 0
    assert count(empty_pg, "SELECT count(*) FROM recon_runs a JOIN recon_runs b ON a.id < b.id "
                        "AND b.started_at < a.finished_at AND a.started_at < b.finished_at "
                        f"AND a.id <> {killed}") == 0
    # what an uninterrupted run leaves: a full run now finds nothing new, closes nothing
    db = Database(empty_pg)
    try:
        # the scheduler's own configuration (banking days, fee contracts, the payout pass)
        final = run_reconciliation(db, clock=SystemClock(), audit=record_on, mode="full",
                                   triggered_by="test", config=engine_config(env))
    finally:
        db.dispose()
    assert (final.new, final.auto_resolved) == (0, 0)
    assert final.total > 0
