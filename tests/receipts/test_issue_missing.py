"""`recon receipts issue-missing` and the scheduler's sweep: the receipts of succeeded payments
whose issuing failed (here: the key was missing when they were recorded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from sqlalchemy import select

from recon.cli import cli
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.models import Payment, Receipt
from recon.payments.intents import record_cash
from recon.receipts.signing import verify
from recon.scheduler import Jobs, ScheduleConfig, _add_jobs
from tests.receipts.figures import assert_figures_stored
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import TOTAL, Hooks, is_accepted, make_hooks

CODE_B = "000.00.21.H57-210401-0002"
CODE_C = "000.00.21.H57-210401-0003"


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _recorded_without_key(env: dict[str, str], db: Database, clock: FixedClock,
                          tmp_path: Path) -> Hooks:
    """Three succeeded payments (webhook, cash, and a part payment owed the part it pays),
    recorded with receipts on but no key: none has a receipt."""
    hooks = make_hooks(env, db, clock, RECON_RECEIPTS="on",
                       RECON_RECEIPT_P12_FILE=str(tmp_path / "missing.p12"))
    assert is_accepted("sepay", hooks.send(hooks.call("sepay", hooks.intent("sepay"))))
    for code, amount, number in ((CODE_B, TOTAL, "BL-1"), (CODE_C, TOTAL - 30_000, "BL-2")):
        hooks.dossier(code)
        with db.transaction() as s:
            record_cash(s, clock, hooks.settings, dossier_code=code, amount=amount,
                        receipt_number=number, actor="cashier1")
    with db.read() as s:
        assert s.scalars(select(Receipt)).all() == []
    return hooks


def _issued(db: Database) -> list[tuple[int, int | None, str]]:
    with db.read() as s:
        return [(r.number, r.payment_id, r.status)
                for r in s.scalars(select(Receipt).order_by(Receipt.number))]


def test_issue_missing_issues_each_once_with_progress(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _recorded_without_key(env, db, clock, tmp_path)
    monkeypatch.setenv("RECON_RECEIPTS", "on")
    monkeypatch.setenv("RECON_RECEIPT_P12_FILE", str(p12))
    monkeypatch.setenv("RECON_RECEIPT_P12_PASSWORD", PASSWORD)
    result = CliRunner().invoke(cli, ["receipts", "issue-missing"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 payment(s) without a receipt: 3 receipt(s) issued, 0 payment(s) still" in (
        result.output)
    assert "Issuing missing receipts" in result.output + (result.stderr or "")
    with db.read() as s:
        paid = [p.id for p in s.scalars(select(Payment).order_by(Payment.id))]
        documents = [r.document for r in s.scalars(select(Receipt))]
        part = s.scalars(select(Receipt).where(Receipt.payment_id == paid[2])).one()
    assert _issued(db) == [(1, paid[0], "issued"), (2, paid[1], "issued"),
                           (3, paid[2], "issued")]
    assert part.amount == TOTAL - 30_000  # the part payment's receipt states what it paid
    assert all(d is not None and verify(d.encode("utf-8")) for d in documents)
    again = CliRunner().invoke(cli, ["receipts", "issue-missing"], catch_exceptions=False)
    assert again.exit_code == 0 and "0 payment(s) without a receipt" in again.output
    assert len(_issued(db)) == 3
    assert assert_figures_stored(db) == 3


def test_issue_missing_says_what_to_do_when_receipts_are_off(
        env: dict[str, str], db: Database) -> None:
    result = CliRunner().invoke(cli, ["receipts", "issue-missing"])
    assert result.exit_code == 1
    assert "RECON_RECEIPTS=on" in result.output + (result.stderr or "")


def test_the_scheduler_sweeps_when_receipts_are_on(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path,
        tmp_path: Path) -> None:
    hooks = _recorded_without_key(env, db, clock, tmp_path)
    off = ScheduleConfig.from_settings(load_settings({}))
    scheduler = BackgroundScheduler(timezone=off.timezone)
    _add_jobs(scheduler, Jobs(hooks.app, name="test"), off)
    assert "receipts-issue-missing" not in {job.id for job in scheduler.get_jobs()}
    on_env = {**env, "RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
              "RECON_RECEIPT_P12_PASSWORD": PASSWORD}
    app = make_hooks(on_env, db, clock).app
    on = ScheduleConfig.from_settings(load_settings(on_env))
    scheduler = BackgroundScheduler(timezone=on.timezone)
    jobs = Jobs(app, name="test")
    _add_jobs(scheduler, jobs, on)
    sweep = {job.id: job for job in scheduler.get_jobs()}["receipts-issue-missing"]
    assert (sweep.coalesce, sweep.max_instances) == (True, 1)
    jobs.issue_missing_receipts()
    assert [(n, status) for n, _p, status in _issued(db)] == [(1, "issued"), (2, "issued"),
                                                              (3, "issued")]
