"""Issue 19 item 2's must-show: 50 concurrent payments across 3 gunicorn workers get 50
consecutive receipt numbers, on PostgreSQL and on SQLite.

A real server (``gunicorn -w 3``, receipts on, a throw-away signing key), 50 open intents on 50
dossiers, and 50 correctly signed POS sales, one per intent, released together by a barrier. Then
every payment is recorded once and has one signed receipt, and the register of the one
(form code, series) holds exactly 1..50: none reused, none skipped, none spoiled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from adapters import RawRequest, get_adapter
from bench.procs import base_env, start_gunicorn
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import Callback, Payment, PaymentIntent, Receipt, ReceiptCounter
from recon.payments.intents import create_intent
from recon.receipts.signing import verify
from tests.conftest import TEST_SECRET
from tests.foundation.helpers import dossier_body, seed_agency
from tests.receipts.keys import PASSWORD, make_keys
from tests.webhooks.whkit import PROVIDER_ENV

pytestmark = pytest.mark.slow

PAYMENTS = 50
PROVIDER = "pos"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    p12, _ = make_keys(tmp_path)
    env = base_env(database_url, tmp_path, **PROVIDER_ENV, RECON_RECEIPTS="on",
                   RECON_RECEIPT_P12_FILE=str(p12), RECON_RECEIPT_P12_PASSWORD=PASSWORD,
                   RECON_RECEIPT_TAX_CODE="3300101234")
    try:
        proc = start_gunicorn(env, tmp_path, workers=3)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield proc.base
    finally:
        proc.stop(timeout=15)
        tail = proc.output()[-3000:]
        if "Traceback" in tail or "no receipt" in tail:
            print(tail)  # shown with a failure


def _intents(db: Database) -> list[PaymentIntent]:
    clock = SystemClock()
    settings = load_settings({**PROVIDER_ENV, "RECON_ENV": "test",
                              "RECON_SECRET_KEY": TEST_SECRET})
    seed_agency(db, clock)
    out: list[PaymentIntent] = []
    with db.transaction() as s:
        for i in range(PAYMENTS):
            code = f"000.00.21.H57-210401-{i + 1:04d}"
            upsert_dossier(s, clock, parse_dossier(dossier_body(code)), actor="test")
            out.append(create_intent(s, clock, settings, dossier_code=code, channel="pos",
                                     actor="test").intent)
    return out


def _signed(intent: PaymentIntent, n: int) -> RawRequest:
    adapter = get_adapter(PROVIDER, PROVIDER_ENV, max_age_seconds=0)
    return adapter.build_callback(amount=intent.amount, reference=intent.reference,
                                  provider_txn_id=f"{7000000 + n:012d}",
                                  order_code=intent.order_code)


def _fire_together(base: str, calls: list[RawRequest]) -> list[requests.Response | BaseException]:
    barrier = threading.Barrier(len(calls))
    results: list[requests.Response | BaseException] = [RuntimeError("not sent")] * len(calls)

    def deliver(index: int, raw: RawRequest) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = requests.request(raw.method, base + raw.path,
                                              headers=dict(raw.headers),
                                              data=raw.body or None, timeout=90)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions
            results[index] = exc

    threads = [threading.Thread(target=deliver, args=(i, raw)) for i, raw in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def test_fifty_concurrent_payments_in_three_workers_get_fifty_consecutive_numbers(
        database_url: str, server: str) -> None:
    db = Database(database_url)
    try:
        intents = _intents(db)
        results = _fire_together(server, [_signed(intent, n) for n, intent in
                                          enumerate(intents)])
        for result in results:
            assert isinstance(result, requests.Response), result
            assert result.status_code == 200, result.text
            assert result.json() == {"status": "accepted"}, result.text
        with db.read() as s:
            payments = list(s.scalars(select(Payment).order_by(Payment.id)))
            receipts = list(s.scalars(select(Receipt).order_by(Receipt.number)))
            counters = s.execute(select(ReceiptCounter.form_code, ReceiptCounter.series,
                                        ReceiptCounter.last_number)).all()
            accepted = s.scalar(select(func.count()).select_from(Callback).where(
                Callback.outcome == "accepted"))
            paid = s.scalars(select(PaymentIntent.status)).all()
    finally:
        db.dispose()
    assert accepted == PAYMENTS and set(paid) == {"paid"}
    assert len(payments) == PAYMENTS
    assert {p.dossier_id for p in payments} == {i.dossier_id for i in intents}
    # one (form code, series), numbered exactly 1..50: none reused, none skipped
    assert len({(r.form_code, r.series) for r in receipts}) == 1
    assert [r.number for r in receipts] == list(range(1, PAYMENTS + 1))
    assert [c.last_number for c in counters] == [PAYMENTS]
    assert (counters[0].form_code, counters[0].series) == (receipts[0].form_code,
                                                            receipts[0].series)
    assert {r.status for r in receipts} == {"issued"}
    # one receipt per payment, each for its own payment's amount, each signature valid
    assert sorted(r.payment_id or 0 for r in receipts) == [p.id for p in payments]
    amount_of = {p.id: p.amount for p in payments}
    assert all(r.amount == amount_of[r.payment_id or 0] for r in receipts)
    for receipt in receipts:
        assert receipt.document is not None
        assert verify(receipt.document.encode("utf-8")).signing_time
