"""Stopped politely in the middle of a run, on PostgreSQL: ``recon scheduler`` on SIGTERM (what
systemd and the soak send) and ``recon serve`` on Ctrl+C. The run under way finishes and
succeeds, and the process exits 0.

When a Python program's main thread ends, the interpreter stops every thread pool from taking
new work, and a full run starts pools of its own while it runs (its scans, the early write):
a run still under way then failed with "cannot schedule new futures after interpreter
shutdown". The signal is sent as soon as the run's row appears, long before the run starts
them."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bench.procs import ROOT, Proc, base_env, start_scheduler
from bench.reconcile import build_postgresql
from tests.hardening.faultkit import count

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DOSSIERS = 20000  # a full run of some seconds: the signal lands inside it


def _signal_inside_the_first_run(url: str, proc: Proc, signum: int) -> None:
    deadline = time.monotonic() + 60
    while count(url, "SELECT count(*) FROM recon_runs WHERE status = 'running'") == 0:
        assert time.monotonic() < deadline, proc.output()[-3000:]
        assert proc.process.poll() is None, proc.output()[-3000:]
        time.sleep(0.01)
    proc.process.send_signal(signum)


def _the_run_finished(url: str, proc: Proc) -> None:
    try:
        code = proc.process.wait(timeout=120)
    finally:
        proc.stop(timeout=5)
    output = proc.output()
    assert code == 0, output[-3000:]
    assert count(url, "SELECT count(*) FROM recon_runs") == 1, output[-3000:]
    assert count(url, "SELECT count(*) FROM recon_runs WHERE status = 'succeeded' "
                      "AND mode = 'full'") == 1, output[-3000:]
    assert count(url, "SELECT count(*) FROM discrepancies") > 0
    assert "Traceback" not in output, output[-3000:]


@pytest.fixture
def pg_with_dossiers(empty_pg: str) -> str:
    engine = create_engine(empty_pg)
    build_postgresql(engine, DOSSIERS)
    engine.dispose()
    return empty_pg


def test_scheduler_sigterm_lets_the_run_under_way_finish(pg_with_dossiers: str,
                                                         tmp_path: Path) -> None:
    env = base_env(pg_with_dossiers, tmp_path, RECON_RECONCILE_INTERVAL_SECONDS="600",
                   RECON_LOG_LEVEL="INFO")
    proc = start_scheduler(env, tmp_path)  # its catch-up run at start is a full one
    _signal_inside_the_first_run(pg_with_dossiers, proc, signal.SIGTERM)
    _the_run_finished(pg_with_dossiers, proc)
    assert "stopping after the run in progress" in proc.output()


def test_serve_ctrl_c_lets_the_background_run_finish(pg_with_dossiers: str,
                                                     tmp_path: Path) -> None:
    env = base_env(pg_with_dossiers, tmp_path, RECON_RECONCILE_INTERVAL_SECONDS="600",
                   RECON_LOG_LEVEL="INFO")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "recon.cli", "serve", "--port", "0"], env=env, cwd=ROOT,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc = Proc(process, log)
    _signal_inside_the_first_run(pg_with_dossiers, proc, signal.SIGINT)
    _the_run_finished(pg_with_dossiers, proc)
    assert "stopping the scheduler (a reconciliation under way finishes first)" in proc.output()
