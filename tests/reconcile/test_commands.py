"""`recon reconcile`, `recon discrepancies export` (JSON, CSV, XLSX read back), the API, and
the scheduler's wiring."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from recon.cli import cli
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.engine.lock import RunLock
from recon.review.exports import FIELDS
from recon.scheduler import (
    ScheduleConfig,
    _add_jobs,
    catch_up_mode,
    start_background,
)
from tests.reconcile.recon_builders import AS_OF_LATE, TOTAL, World

REQUIRED = {"id", "kind", "status", "dossier_code", "provider", "provider_txn_id", "reference",
            "expected_amount", "actual_amount", "delta", "detected_at", "explanation",
            "explanation_en", "agency_code", "resolution_note", "resolved_at"}


@pytest.fixture
def world(db: Database, clock: FixedClock, env: dict[str, str]) -> World:
    """A little of everything: underpaid, missing settlement, unmatched, unexpected line."""
    w = World(db, clock)
    d = w.dossier("000.00.21.H57-261126-0042")
    ref = w.intent(d, TOTAL)
    w.pay(100000, reference=ref)
    w.pay(20000, provider="sepay", memo="chuyển tiền không ghi mã")
    w.settle("momo", "MM-1", 50000)
    return w


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------- reconcile


def test_reconcile_prints_a_json_summary_last(world: World) -> None:
    result = _invoke("reconcile", "--as-of", "2026-12-05T10:00:00+07:00")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["mode"] == "full" and summary["status"] == "succeeded"
    assert summary["as_of"] == "2026-12-05T03:00:00+00:00"
    assert summary["counts"]["underpaid"] == 1 and summary["counts"]["missing_settlement"] == 2
    assert summary["new"] == summary["total"] == 5
    assert (summary["still_open"], summary["auto_resolved"]) == (0, 0)
    assert isinstance(summary["run_id"], int) and summary["seconds"] >= 0
    assert "loading" in result.stderr  # progress goes to stderr
    again = json.loads(_invoke("reconcile", "--incremental", "--as-of",
                               "2026-12-05T10:05:00").stdout.splitlines()[-1])
    assert again["mode"] == "incremental" and again["new"] == 0
    assert again["as_of"] == "2026-12-05T03:05:00+00:00"  # no offset: Vietnam time


def test_the_command_as_the_process_ends_with_its_summary_and_its_run_kept(
        world: World) -> None:
    """As the process itself (not under a test's runner), `recon reconcile` exits as soon as
    its run has committed and printed, without freeing the rows it read: its output is whole
    (a pipe buffers it), its run is recorded, and the next run finds the lock free."""
    command = [sys.executable, "-m", "recon.cli", "reconcile", "--full", "--as-of"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    first = subprocess.run([*command, AS_OF_LATE.isoformat()], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["new"] == 5
    assert "wrote 5 new, 0 still open" in first.stderr
    again = subprocess.run([*command, AS_OF_LATE.isoformat()], env=env, capture_output=True,
                           text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["still_open"] == 5
    assert [r.status for r in world.runs()] == ["succeeded", "succeeded"]


def test_reconcile_dry_run_writes_nothing(world: World) -> None:
    result = _invoke("reconcile", "--dry-run", "--full", "--as-of", AS_OF_LATE.isoformat())
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["dry_run"] is True and summary["run_id"] is None and summary["new"] == 5
    assert world.runs() == [] and world.discrepancies() == []


def test_reconcile_exits_cleanly_when_another_run_holds_the_lock(world: World) -> None:
    lock = RunLock(world.db)
    assert lock.acquire()
    try:
        result = _invoke("reconcile", "--as-of", AS_OF_LATE.isoformat())
    finally:
        lock.release()
    assert result.exit_code == 0
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "skipped"
    assert "another reconciliation run is in progress" in result.stderr
    assert world.runs() == []


def test_reconcile_refuses_a_bad_as_of(world: World) -> None:
    result = _invoke("reconcile", "--as-of", "yesterday")
    assert result.exit_code == 2 and "ISO 8601" in result.output


# --------------------------------------------------------------------------- export


@pytest.fixture
def reconciled(world: World) -> World:
    world.run(as_of=AS_OF_LATE)
    world.later(days=10)
    world.settle("sepay", world.txn_of(2), 20000)  # one missing settlement arrives
    world.run(as_of=world.clock.now())
    return world


def test_export_json(reconciled: World) -> None:
    result = _invoke("discrepancies", "export")
    items = json.loads(result.stdout)
    assert len(items) == 4 and all(set(i) >= REQUIRED for i in items)
    underpaid = next(i for i in items if i["kind"] == "underpaid")
    assert underpaid["dossier_code"] == "000.00.21.H57-261126-0042"
    assert underpaid["agency_code"] == "HUE-TTHCC"
    assert (underpaid["expected_amount"], underpaid["actual_amount"], underpaid["delta"]) == (
        180000, 100000, -80000)
    missing = next(i for i in items if i["kind"] == "missing_settlement")
    assert missing["provider"] == "vnpay" and missing["reference"].startswith("HS")
    unexpected = next(i for i in items if i["kind"] == "unexpected_settlement")
    assert unexpected["provider_txn_id"] == "MM-1"
    assert datetime.fromisoformat(underpaid["detected_at"]).tzinfo is not None
    everything = json.loads(_invoke("discrepancies", "export", "--status", "all").stdout)
    closed = [i for i in everything if i["status"] == "auto_resolved"]
    assert len(everything) == 5 and len(closed) == 1
    assert closed[0]["auto_resolved_reason_en"].startswith("The settlement arrived on")


def test_export_csv_has_a_bom_and_reads_back(reconciled: World, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    result = _invoke("discrepancies", "export", "--format", "csv", "--status", "all",
                     "--output", str(out))
    assert result.exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 5 and list(rows[0]) == list(FIELDS)
    underpaid = next(r for r in rows if r["kind"] == "underpaid")
    assert underpaid["delta"] == "-80000" and underpaid["dossier_code"].endswith("0042")
    assert "Hồ sơ" in underpaid["explanation"]


def test_export_xlsx_reads_back_with_formatted_amounts(reconciled: World,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "d.xlsx"
    assert _invoke("discrepancies", "export", "--format", "xlsx", "--output",
                   str(out)).exit_code == 0
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    assert header[:4] == ["id", "identity", "kind", "status"]
    assert "detected_at (ICT)" in header
    assert len(rows) == 5  # header + 4 open
    col = {name: i for i, name in enumerate(header)}
    underpaid = next(r for r in rows[1:] if r[col["kind"]].value == "underpaid")
    cell = underpaid[col["expected_amount"]]
    assert cell.value == 180000 and isinstance(cell.value, int)
    assert cell.number_format == "#,##0"
    assert underpaid[col["delta"]].value == -80000
    assert isinstance(underpaid[col["detected_at (ICT)"]].value, datetime)


def test_export_to_stdout_xlsx_is_binary(reconciled: World) -> None:
    result = CliRunner().invoke(cli, ["discrepancies", "export", "--format", "xlsx"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"PK")


# --------------------------------------------------------------------------- API


def _finance(make_token: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('finance')}"}


def test_api_lists_discrepancies_with_filters_and_keyset_pages(
        reconciled: World, client: FlaskClient, make_token: Any) -> None:
    headers = _finance(make_token)
    first = client.get("/api/v1/discrepancies?limit=3", headers=headers).get_json()
    assert first["count"] == 3 and first["next_after"] == first["items"][-1]["id"]
    rest = client.get(f"/api/v1/discrepancies?limit=3&after={first['next_after']}",
                      headers=headers).get_json()
    assert rest["count"] == 1 and rest["next_after"] is None
    kinds = client.get("/api/v1/discrepancies?kind=underpaid", headers=headers).get_json()
    assert [i["kind"] for i in kinds["items"]] == ["underpaid"]
    closed = client.get("/api/v1/discrepancies?status=auto_resolved&provider=sepay",
                        headers=headers).get_json()
    assert [i["kind"] for i in closed["items"]] == ["missing_settlement"]
    bad = client.get("/api/v1/discrepancies?kind=late", headers=headers)
    assert bad.status_code == 422
    runs = client.get("/api/v1/recon-runs?limit=1", headers=headers).get_json()
    assert runs["items"][0]["mode"] == "incremental" and runs["next_before"] is not None
    older = client.get(f"/api/v1/recon-runs?before={runs['next_before']}",
                       headers=headers).get_json()
    assert [r["mode"] for r in older["items"]] == ["full"]
    assert older["items"][0]["counts"]["by_kind"]["underpaid"] == 1


def test_api_is_for_finance_only(reconciled: World, client: FlaskClient,
                                 make_token: Any) -> None:
    cashier = {"Authorization": f"Bearer {make_token('cashier')}"}
    assert client.get("/api/v1/discrepancies", headers=cashier).status_code == 403
    assert client.get("/api/v1/recon-runs", headers=cashier).status_code == 403
    assert client.get("/api/v1/discrepancies").status_code == 401


# --------------------------------------------------------------------------- scheduler


def test_schedule_settings() -> None:
    default = ScheduleConfig.from_settings(load_settings({}))
    assert default.interval == timedelta(minutes=5) and default.full_cron == "30 1 * * *"
    assert str(default.timezone) == "Asia/Ho_Chi_Minh"
    fast = ScheduleConfig.from_settings(load_settings({
        "RECON_RECONCILE_INTERVAL_MINUTES": "0.5", "RECON_FULL_RECONCILE_CRON": "0 2 * * *"}))
    assert fast.interval == timedelta(seconds=30) and fast.full_cron == "0 2 * * *"
    seconds = ScheduleConfig.from_settings(load_settings({
        "RECON_RECONCILE_INTERVAL_MINUTES": "5", "RECON_RECONCILE_INTERVAL_SECONDS": "2"}))
    assert seconds.interval == timedelta(seconds=2)
    with pytest.raises(ValueError, match="RECON_RECONCILE_INTERVAL_MINUTES"):
        ScheduleConfig.from_settings(load_settings({"RECON_RECONCILE_INTERVAL_MINUTES": "0"}))


def test_jobs_are_set_up_on_purpose(app: Flask) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from recon.scheduler import Jobs

    config = ScheduleConfig.from_settings(load_settings({}))
    scheduler = BackgroundScheduler(timezone=config.timezone)
    _add_jobs(scheduler, Jobs(app, name="test"), config)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    incremental, full = jobs["reconcile-incremental"], jobs["reconcile-full"]
    assert (incremental.coalesce, incremental.max_instances) == (True, 1)
    assert incremental.misfire_grace_time == 300
    assert (full.coalesce, full.max_instances) == (True, 1)
    assert full.misfire_grace_time == 3 * 3600
    assert str(full.trigger).startswith("cron[") and "hour='1', minute='30'" in str(full.trigger)
    assert "reconcile-catch-up" in jobs


def test_catch_up_judges_staleness_by_the_app_clock(world: World, app: Flask, clock: FixedClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's clock, not the wall clock: a full run as of the clock's now is fresh, however
    far the clock stands from today."""
    from recon.scheduler import Jobs

    clock.advance(datetime(2021, 6, 1, 3, 0, tzinfo=UTC) - clock.now())
    world.run("full", as_of=clock.now())
    chosen: list[str] = []
    monkeypatch.setattr(Jobs, "_run", lambda self, mode, **_kw: chosen.append(mode))
    Jobs(app, name="test").catch_up()
    clock.advance(timedelta(hours=30))
    Jobs(app, name="test").catch_up()
    assert chosen == ["auto", "full"]


def test_catch_up_is_full_when_no_recent_full_run(world: World) -> None:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    assert catch_up_mode(world.db, now=now) == "full"
    world.run("full", as_of=now)
    assert catch_up_mode(world.db, now=now + timedelta(hours=2)) == "auto"
    assert catch_up_mode(world.db, now=now + timedelta(hours=30)) == "full"


def test_serve_starts_the_background_scheduler(app: Flask) -> None:
    assert app.extensions["recon.start_scheduler"] is start_background
