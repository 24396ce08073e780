"""Bounded retries of serialization failures and deadlocks (SQLSTATE 40001 / 40P01), provoked
for real on PostgreSQL: :func:`recon.db.retrying` reruns the whole unit of work with jittered
backoff, succeeds once the conflict is gone, and gives up after N attempts; the webhook's
recording transaction uses it, so a deadlock costs the provider nothing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from recon.clock import FixedClock
from recon.db import (
    RETRY_ATTEMPTS,
    Database,
    classify_fault,
    is_retryable,
    retrying,
    sqlstate,
)
from tests.conftest import T0, TEST_SECRET, _truncate_pg
from tests.webhooks.whkit import is_accepted, make_hooks, wait_for_lock_waiter

pytestmark = pytest.mark.postgres


@pytest.fixture
def probe(pg_url: str) -> Iterator[Engine]:
    """Two rows in a scratch table of the test database."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS retry_probe"))
        conn.execute(text("CREATE TABLE retry_probe (id int PRIMARY KEY, n int NOT NULL)"))
        conn.execute(text("INSERT INTO retry_probe VALUES (1, 0), (2, 0)"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE retry_probe"))
    engine.dispose()


def _value(engine: Engine, row: int = 1) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT n FROM retry_probe WHERE id = :i"),
                                {"i": row}).scalar_one())


def _increment(engine: Engine, interfere: Callable[[int], bool],
               attempts: list[int]) -> Callable[[], int]:
    """A unit of work in REPEATABLE READ: read n, then write n + 1. When ``interfere(attempt)``
    says so, another session commits a change to the row in between: PostgreSQL then aborts
    the write with a serialization failure (40001)."""
    def work() -> int:
        attempts.append(len(attempts) + 1)
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                conn.begin():
            n = int(conn.execute(text("SELECT n FROM retry_probe WHERE id = 1")).scalar_one())
            if interfere(len(attempts)):
                with engine.begin() as other:
                    other.execute(text("UPDATE retry_probe SET n = n + 100 WHERE id = 1"))
            conn.execute(text("UPDATE retry_probe SET n = :n WHERE id = 1"), {"n": n + 1})
            return n + 1
    return work


def test_a_serialization_failure_is_retried_once_and_succeeds(probe: Engine) -> None:
    attempts: list[int] = []
    delays: list[float] = []
    result = retrying(_increment(probe, lambda a: a == 1, attempts), sleep=delays.append,
                      base_delay=0.02)
    assert attempts == [1, 2]
    assert result == 101 == _value(probe)  # the rerun read the other session's commit
    assert len(delays) == 1 and 0.01 <= delays[0] < 0.03  # jittered: 0.02 x [0.5, 1.5)


def test_a_persistent_serialization_failure_gives_up_after_n_attempts(
        probe: Engine, caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []
    delays: list[float] = []
    with pytest.raises(OperationalError) as raised:
        retrying(_increment(probe, lambda _a: True, attempts), attempts=3,
                 sleep=delays.append, base_delay=0.02, max_delay=0.03)
    assert sqlstate(raised.value) == "40001" and is_retryable(raised.value)
    assert attempts == [1, 2, 3]
    assert len(delays) == 2 and all(d < 0.045 for d in delays)  # capped, then jittered
    assert _value(probe) == 300  # only the other session's writes: ours never committed
    assert "persisted through 3 attempts" in caplog.text
    fault = classify_fault(raised.value)
    assert fault is not None and fault.kind == "conflict"


def test_other_errors_are_not_retried(probe: Engine) -> None:
    attempts: list[int] = []

    def work() -> None:
        attempts.append(1)
        with probe.begin() as conn:
            conn.execute(text("INSERT INTO retry_probe VALUES (1, 5)"))  # duplicate key

    with pytest.raises(IntegrityError):
        retrying(work, sleep=lambda _d: None)
    assert attempts == [1]


def test_a_deadlock_between_two_units_of_work_is_retried(pg_url: str, probe: Engine) -> None:
    db = Database(pg_url)
    barrier = threading.Barrier(2)
    attempts: list[str] = []
    errors: list[BaseException] = []

    def transfer(first: int, second: int, name: str) -> Callable[[], None]:
        def unit(session: object) -> None:
            from sqlalchemy.orm import Session

            assert isinstance(session, Session)
            attempts.append(name)
            session.execute(text("UPDATE retry_probe SET n = n + 1 WHERE id = :i"),
                            {"i": first})
            if attempts.count(name) == 1:
                barrier.wait(timeout=10)  # both hold their first row: opposite orders
            session.execute(text("UPDATE retry_probe SET n = n + 1 WHERE id = :i"),
                            {"i": second})

        def run() -> None:
            try:
                db.run(unit)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
        return run

    deadlocks_before = _deadlocks(probe)
    threads = [threading.Thread(target=transfer(1, 2, "a")),
               threading.Thread(target=transfer(2, 1, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.dispose()
    assert errors == []
    assert len(attempts) == 3  # one of the two was chosen as the deadlock victim, and rerun
    assert _value(probe, 1) == _value(probe, 2) == 2  # both units applied exactly once
    assert _deadlocks(probe) == deadlocks_before + 1


def _deadlocks(engine: Engine) -> int:
    deadline = time.monotonic() + 5  # statistics reach the view a moment later
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        value = int(conn.execute(text(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )).scalar_one())
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with engine.connect() as conn:
            newer = int(conn.execute(text(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            )).scalar_one())
        if newer == value:
            break
        value = newer
    return value


def test_a_webhook_that_deadlocks_is_retried_and_recorded_once(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The recording transaction of a real callback deadlocks with another writer (which
    holds the intent and then inserts the same provider transaction): PostgreSQL aborts the
    callback's transaction, the ingest reruns it, the provider hears "accepted" once."""
    _truncate_pg(pg_url)
    db = Database(pg_url)
    other = create_engine(pg_url)
    try:
        env = {"RECON_DATABASE_URL": pg_url, "RECON_ENV": "test",
               "RECON_SECRET_KEY": TEST_SECRET}
        hooks = make_hooks(env, db, FixedClock(T0))
        intent = hooks.intent("momo")
        raw = hooks.call("momo", intent, provider_txn_id="4400000001")
        with other.connect() as conn:
            conn.execute(text("SET deadlock_timeout = '10s'"))  # the callback detects it
            conn.commit()  # (a session setting: it stays) and the next statement begins anew
            conn.execute(text("UPDATE payment_intents SET updated_at = updated_at "
                              "WHERE id = :i"), {"i": intent.id})
            answer: list[object] = []
            sender = threading.Thread(target=lambda: answer.append(hooks.send(raw)))
            with caplog.at_level(logging.WARNING, logger="recon.db"):
                sender.start()
                assert wait_for_lock_waiter(pg_url), \
                    "the callback never waited for the intent's lock"
                now = datetime.now(UTC)
                conn.execute(text(  # ... and this waits for the callback's insert: a cycle
                    "INSERT INTO payments (provider, provider_txn_id, channel, amount, status, "
                    "paid_at, received_at, recorded_by, updated_at) VALUES ('momo', "
                    "'4400000001', 'momo', 1, 'succeeded', :now, :now, 'other', :now) "
                    "ON CONFLICT DO NOTHING"), {"now": now})
                conn.rollback()  # the other writer gives up; the rerun goes through
                sender.join(timeout=60)
        assert len(answer) == 1 and is_accepted("momo", answer[0])
        assert "deadlock (attempt 1 of" in caplog.text
        payments = hooks.payments()
        assert [(p.provider_txn_id, p.amount, p.intent_id) for p in payments] == [
            ("4400000001", intent.amount, intent.id)]
        assert hooks.intent_row(intent.id).status == "paid"
        assert [c.outcome for c in hooks.callbacks()] == ["accepted"]
        assert RETRY_ATTEMPTS >= 2
    finally:
        other.dispose()
        db.dispose()
        _truncate_pg(pg_url)
