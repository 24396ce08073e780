"""Two part payments of one intent recorded at the same moment (PostgreSQL, READ COMMITTED).

Each part alone is short of the intent; together they cover it. Without a lock, each recording
transaction sums the payments it can see — its own — and neither marks the intent paid, which
the expiry sweep would later mark ``expired`` although it is fully paid. ``_settle_intent``
locks the intent before summing, so the second part waits for the first to commit and sees
it. These tests hold the first part's transaction open and show the second one waiting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from recon.clock import FixedClock
from recon.db import Database
from recon.models import PaymentIntent
from recon.payments.recording import PaymentEvent, record_new_payment, record_payment
from tests.conftest import T0, TEST_SECRET, _truncate_pg
from tests.webhooks.whkit import (
    PAID_AT,
    Hooks,
    is_accepted,
    make_hooks,
    wait_for_lock_waiter,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def hooks(pg_url: str) -> Iterator[Hooks]:
    _truncate_pg(pg_url)
    db = Database(pg_url)
    env = {"RECON_DATABASE_URL": pg_url, "RECON_ENV": "test", "RECON_SECRET_KEY": TEST_SECRET}
    try:
        yield make_hooks(env, db, FixedClock(T0))
    finally:
        db.dispose()
        _truncate_pg(pg_url)


def _part(intent: PaymentIntent, txn: str, amount: int) -> PaymentEvent:
    return PaymentEvent(provider="sepay", provider_txn_id=txn, channel="vietqr", amount=amount,
                        status="succeeded", paid_at=PAID_AT, reference=intent.reference)


def test_two_parts_recorded_at_once_mark_the_intent_paid(hooks: Hooks, pg_url: str) -> None:
    intent = hooks.intent("sepay")
    first_half = intent.amount // 2
    second_half = intent.amount - first_half
    assert 0 < first_half < intent.amount and 0 < second_half < intent.amount
    prefix = hooks.settings.reference_prefix
    results: list[str] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with hooks.db.transaction() as s:
                outcome = record_payment(s, hooks.clock, _part(intent, "PART-2", second_half),
                                         actor="test", reference_prefix=prefix)
                results.append(outcome.outcome)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with hooks.db.transaction() as s:  # the first part, its transaction held open
        first = record_payment(s, hooks.clock, _part(intent, "PART-1", first_half),
                               actor="test", reference_prefix=prefix)
        assert first.outcome == "recorded"
        thread = threading.Thread(target=second)
        thread.start()
        # the second part waits for the intent's lock, held by this open transaction
        assert wait_for_lock_waiter(pg_url), "the second part did not wait for the first"
        assert results == []
    thread.join(timeout=60)
    assert not errors, errors
    assert results == ["recorded"]
    row = hooks.intent_row(intent.id)
    assert row.status == "paid"  # the second part summed both
    assert sum(p.amount for p in hooks.payments()) == intent.amount


def test_a_part_payment_takes_the_general_path(hooks: Hooks) -> None:
    """The one-statement fast path cannot lock before it sums: it writes nothing for a part
    payment and leaves it to record_payment."""
    intent = hooks.intent("sepay")
    with hooks.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        part = record_new_payment(conn, hooks.clock, _part(intent, "PART-1", intent.amount - 1),
                                  actor="test",
                                  reference_prefix=hooks.settings.reference_prefix)
        whole = record_new_payment(conn, hooks.clock, _part(intent, "WHOLE-1", intent.amount),
                                   actor="test",
                                   reference_prefix=hooks.settings.reference_prefix)
    assert part is None
    assert whole is not None and whole.intent_paid
    assert [p.provider_txn_id for p in hooks.payments()] == ["WHOLE-1"]


def test_part_payments_through_the_webhook_pay_the_intent(hooks: Hooks) -> None:
    intent = hooks.intent("sepay")
    half = intent.amount // 2
    first = hooks.send(hooks.call("sepay", intent, amount=half, provider_txn_id="70000001"))
    assert is_accepted("sepay", first)
    assert hooks.intent_row(intent.id).status == "issued"
    second = hooks.send(hooks.call("sepay", intent, amount=intent.amount - half,
                                   provider_txn_id="70000002"))
    assert is_accepted("sepay", second)
    assert hooks.intent_row(intent.id).status == "paid"
    assert [p.amount for p in hooks.payments()] == [half, intent.amount - half]
