"""RECON_RECEIPTS_ISSUE=worker: the webhook records and issues nothing; the scheduler's sweep
issues every receipt owed in batches, one block of consecutive numbers per batch, in order of
payment; two sweeps at once never issue a receipt twice nor skip a number (both databases)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.errors import ConfigurationError
from recon.models import Payment, Receipt
from recon.receipts.issuing import Receipting, issue_batch, receipting, sweep_owed
from recon.receipts.settings import ReceiptSettings
from recon.receipts.signing import verify
from recon.scheduler import ScheduleConfig
from tests.receipts.figures import assert_figures_stored
from tests.receipts.keys import PASSWORD, make_keys
from tests.receipts.test_at_payment import CODE_B, CODE_C, CODE_D, _cash, _dossier_code, _split
from tests.webhooks.whkit import TOTAL, Hooks, is_accepted, make_hooks


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))[0]


def _worker_env(env: dict[str, str], p12: Path) -> dict[str, str]:
    return {**env, "RECON_RECEIPTS": "on", "RECON_RECEIPTS_ISSUE": "worker",
            "RECON_RECEIPT_P12_FILE": str(p12), "RECON_RECEIPT_P12_PASSWORD": PASSWORD}


def _paid(hooks: Hooks, count: int) -> list[int]:
    """``count`` succeeded webhook payments, each of its own dossier; their ids."""
    for i in range(count):
        intent = hooks.intent("sepay", f"000.00.21.H57-210401-{i + 1:04d}")
        assert is_accepted("sepay", hooks.send(hooks.call("sepay", intent)))
    return [p.id for p in hooks.payments()]


def _register(db: Database) -> list[tuple[int, int | None, str]]:
    with db.read() as s:
        return [(r.number, r.payment_id, r.status)
                for r in s.scalars(select(Receipt).order_by(Receipt.number))]


def _receipting(hooks: Hooks) -> Receipting:
    found = receipting(hooks.settings.env)
    assert found is not None and not found.settings.inline
    return found


def test_worker_mode_webhook_issues_nothing_and_one_sweep_issues_all_in_payment_order(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = make_hooks(_worker_env(env, p12), db, clock)
    ids = _paid(hooks, 4)
    assert _register(db) == []  # the webhook issued nothing
    # the last one was recorded first: payment order is (recorded, id), not id alone
    with db.transaction() as s:
        s.execute(update(Payment).where(Payment.id == ids[3])
                  .values(received_at=clock.now() - timedelta(minutes=1)))
    counter_updates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE RECEIPT_COUNTERS"):
            counter_updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        issued = sweep_owed(db, clock, _receipting(hooks), actor="scheduler:receipts:test")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert issued == 4
    order = [ids[3], ids[0], ids[1], ids[2]]
    assert _register(db) == [(n + 1, pid, "issued") for n, pid in enumerate(order)]
    # one lock of the counter and one block drawn: no update per receipt
    assert len(counter_updates) == 2
    with db.read() as s:
        assert all(verify(r.document.encode("utf-8"))
                   for r in s.scalars(select(Receipt)) if r.document)
    assert assert_figures_stored(db) == 4  # issued by the sweep
    # a second sweep finds nothing owed
    assert sweep_owed(db, clock, _receipting(hooks), actor="scheduler:receipts:test") == 0
    assert len(_register(db)) == 4


def test_batches_continue_the_numbering_of_the_block_before(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = make_hooks(_worker_env(env, p12), db, clock)
    ids = _paid(hooks, 5)
    assert issue_batch(db, clock, _receipting(hooks), actor="t", limit=2) == 2
    assert [n for n, _p, _s in _register(db)] == [1, 2]
    assert sweep_owed(db, clock, _receipting(hooks), actor="t", limit=2) == 3
    assert _register(db) == [(n + 1, pid, "issued") for n, pid in enumerate(ids)]


def test_two_sweeps_at_the_same_moment_never_issue_twice_nor_skip(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = make_hooks(_worker_env(env, p12), db, clock)
    ids = _paid(hooks, 12)
    receipts = _receipting(hooks)
    start = threading.Barrier(2)
    totals: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait()
            totals.append(sweep_owed(db, clock, receipts, actor="t", limit=5))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(totals) == 12
    register = _register(db)
    assert [n for n, _p, _s in register] == list(range(1, 13))  # none skipped, none twice
    assert sorted(p for _n, p, _s in register if p is not None) == ids  # each payment once
    assert {s for _n, _p, s in register} == {"issued"}


def test_inline_stays_the_default_and_worker_mode_has_its_own_interval(
        env: dict[str, str], p12: Path) -> None:
    on = {**env, "RECON_RECEIPTS": "on", "RECON_RECEIPT_P12_FILE": str(p12),
          "RECON_RECEIPT_P12_PASSWORD": PASSWORD}
    assert ReceiptSettings.from_env(on).inline
    assert ScheduleConfig.from_settings(load_settings(on)).receipt_worker_seconds is None
    worker = {**on, "RECON_RECEIPTS_ISSUE": "worker", "RECON_RECEIPTS_SWEEP_SECONDS": "2"}
    assert ScheduleConfig.from_settings(load_settings(worker)).receipt_worker_seconds == 2.0
    for name, bad in (("RECON_RECEIPTS_ISSUE", "later"), ("RECON_RECEIPTS_SWEEP_SECONDS", "0"),
                      ("RECON_RECEIPTS_SWEEP_SECONDS", "soon")):
        with pytest.raises(ConfigurationError, match=name):
            ReceiptSettings.from_env({**worker, name: bad})


def test_worker_mode_cash_stays_inline_and_a_split_gets_one_receipt_per_share(
        env: dict[str, str], db: Database, clock: FixedClock, p12: Path) -> None:
    hooks = make_hooks(_worker_env(env, p12), db, clock)
    _cash(hooks, CODE_B, "BL-0001")  # the desk prints at once: issued with the payment
    assert [(n, s) for n, _p, s in _register(db)] == [(1, "issued")]
    _split(hooks)
    assert len(_register(db)) == 1  # the webhook issued nothing
    assert sweep_owed(db, clock, _receipting(hooks), actor="t") == 2
    with db.read() as s:
        receipts = list(s.scalars(select(Receipt).order_by(Receipt.number)))
    assert [(r.number, _dossier_code(r), r.amount) for r in receipts] == [
        (1, CODE_B, TOTAL), (2, CODE_C, TOTAL), (3, CODE_D, TOTAL)]
    assert sweep_owed(db, clock, _receipting(hooks), actor="t") == 0
