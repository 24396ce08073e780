"""Two `recon scheduler` processes on PostgreSQL with a 2-second interval for about 40 seconds,
while payments keep arriving: never two runs at once, no window skipped, nothing missed."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bench.reconcile import build_postgresql
from recon.audit.chain import record_on
from recon.clock import SystemClock
from recon.db import Database
from recon.engine.runner import run_reconciliation
from recon.engine.settings import engine_config_from_env
from tests.conftest import PG_ENV, TEST_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
RUN_FOR = 40.0


def _writer(url: str, stop: threading.Event, written: list[int]) -> None:
    """Unmatched bank transfers arriving every ~0.3 s (each one a new finding)."""
    engine = create_engine(url)
    n = 0
    while not stop.is_set():
        n += 1
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO payments (provider, provider_txn_id, channel, amount, status, "
                "paid_at, received_at, recorded_by, updated_at) VALUES ('sepay', :txn, "
                "'vietqr', 10000, 'succeeded', :now, :now, 'test', :now)"),
                {"txn": f"LIVE{n}", "now": now})
        written.append(n)
        stop.wait(0.3)
    engine.dispose()


def test_two_schedulers_never_overlap_and_skip_no_window(empty_pg: str, tmp_path: Path) -> None:
    engine = create_engine(empty_pg)
    build_postgresql(engine, 3000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_") or k == PG_ENV}
    env.update({
        "RECON_DATABASE_URL": empty_pg, "RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET,
        "RECON_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(ROOT),
        "RECON_RECONCILE_INTERVAL_SECONDS": "2",
        "RECON_FULL_RECONCILE_CRON": "* * * * *",  # a full run every minute, too
    })
    logs = [(tmp_path / f"scheduler{i}.log").open("w") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "recon.cli", "scheduler"], env=env,
                              stdout=log, stderr=subprocess.STDOUT) for log in logs]
    stop = threading.Event()
    written: list[int] = []
    writer = threading.Thread(target=_writer, args=(empty_pg, stop, written), daemon=True)
    try:
        writer.start()
        time.sleep(RUN_FOR - 6)
        stop.set()  # let the last ticks see the last payments
        writer.join(10)
        time.sleep(6)
    finally:
        stop.set()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=60) for proc in procs]
        for log in logs:
            log.close()
    output = "\n".join((tmp_path / f"scheduler{i}.log").read_text() for i in range(2))
    assert codes == [0, 0], output[-3000:]

    with engine.connect() as conn:
        runs = conn.execute(text(
            "SELECT id, mode, status, as_of, window_start, started_at, finished_at, "
            "triggered_by, error FROM recon_runs ORDER BY started_at")).all()
    engine.dispose()
    assert len(runs) >= 8, output[-3000:]
    assert all(r.status == "succeeded" for r in runs), [(r.id, r.error) for r in runs]
    # never two at once: each run starts after the one before it has finished
    for before, after in itertools.pairwise(runs):
        assert after.started_at >= before.finished_at, (before, after)
    # no window skipped: each incremental run starts its window at or before the as_of of
    # the last successful run before it
    by_id = sorted(runs, key=lambda r: r.id)
    for previous, run in itertools.pairwise(by_id):
        if run.mode == "incremental":
            assert run.window_start is not None and run.window_start <= previous.as_of
    # both processes took turns, and the nightly (here: every minute) full job ran too
    assert len({r.triggered_by.rsplit(":", 1)[-1] for r in runs}) == 2, output[-3000:]
    assert {r.mode for r in runs} == {"full", "incremental"}

    # nothing was missed: a full run now finds nothing new and closes nothing
    db = Database(empty_pg)
    try:
        # with the schedulers' own configuration (banking calendar, fee contracts)
        final = run_reconciliation(db, clock=SystemClock(), audit=record_on, mode="full",
                                   config=engine_config_from_env({}), triggered_by="test")
    finally:
        db.dispose()
    assert (final.new, final.auto_resolved) == (0, 0)
    assert final.counts["unmatched_payment"] >= len(written) > 20
