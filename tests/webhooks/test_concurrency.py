"""Exactly once under real concurrency: gunicorn with 3 worker processes, on PostgreSQL and SQLite.

50 identical deliveries fired at once must leave exactly one payment and get only accepted or
duplicate answers (no 5xx); then 200 rounds of a few concurrent duplicates each, with fresh
transaction ids across every provider, must leave exactly one payment per id.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from adapters import RawRequest, get_adapter
from bench.procs import base_env, start_gunicorn
from recon.audit import chain as audit
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.intake.dossiers import parse_dossier, upsert_dossier
from recon.models import AuditEvent, Callback, Payment, PaymentIntent
from recon.payments.intents import create_intent
from tests.conftest import TEST_SECRET, _truncate_pg
from tests.foundation.helpers import dossier_body, seed_agency
from tests.webhooks.whkit import CHANNEL, PROVIDER_ENV, PROVIDERS

pytestmark = pytest.mark.slow

IDENTICAL = 50
ROUNDS = 200
PER_ROUND = 3


def _accepted_or_duplicate(provider: str, response: requests.Response) -> bool:
    if response.status_code >= 300:
        return False
    if provider == "vnpay":
        return bool(response.json()["RspCode"] in ("00", "02"))
    if provider == "zalopay":
        return bool(response.json()["return_code"] == 1)
    if provider == "pos":
        return bool(response.json()["status"] in ("accepted", "duplicate"))
    if provider in ("payos", "sepay", "casso"):
        return bool(response.json() == {"success": True})
    return response.status_code == 204  # momo


@pytest.fixture(params=["postgresql", "sqlite"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path,
              sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        target = tmp_path / "recon.db"
        shutil.copyfile(sqlite_template, target)
        yield f"sqlite:///{target}"
        return
    url: str = request.getfixturevalue("pg_url")  # fails, never skips, without PostgreSQL
    _truncate_pg(url)
    yield url
    _truncate_pg(url)


@pytest.fixture
def gunicorn(server_db: str, tmp_path: Path) -> Iterator[str]:
    # every worker seals the audit chain in the background (PostgreSQL), all at once
    env = base_env(server_db, tmp_path, **PROVIDER_ENV, RECON_AUDIT_SEAL_SECONDS="0.5")
    try:
        server = start_gunicorn(env, tmp_path, workers=3)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.base
    finally:
        server.stop(timeout=15)
        tail = server.output()[-2000:]
        if " 500 " in tail or "Traceback" in tail:
            print(tail)  # shown with a failure


def _intents(db: Database, count: int) -> list[PaymentIntent]:
    clock = SystemClock()
    settings = load_settings({**PROVIDER_ENV, "RECON_ENV": "test",
                              "RECON_SECRET_KEY": TEST_SECRET})
    seed_agency(db, clock)
    out: list[PaymentIntent] = []
    with db.transaction() as s:
        for i in range(count):
            code = f"000.00.21.H57-210401-{i + 1:04d}"
            upsert_dossier(s, clock, parse_dossier(dossier_body(code)), actor="test")
            outcome = create_intent(s, clock, settings, dossier_code=code,
                                    channel=CHANNEL[PROVIDERS[i % len(PROVIDERS)]],
                                    actor="test")
            out.append(outcome.intent)
    return out


def _signed(provider: str, intent: PaymentIntent, txn_id: str) -> RawRequest:
    adapter = get_adapter(provider, PROVIDER_ENV, max_age_seconds=0)
    memo = (f"MBVCB.3278907687.{intent.reference}.NGUYEN VAN A chuyen tien"
            if provider in ("sepay", "casso") else None)
    return adapter.build_callback(amount=intent.amount, reference=intent.reference,
                                  provider_txn_id=txn_id, order_code=intent.order_code,
                                  memo=memo)


def _fire(base: str, provider: str, raw: RawRequest, copies: int
          ) -> list[requests.Response | BaseException]:
    """``copies`` identical deliveries released together by a barrier."""
    barrier = threading.Barrier(copies)
    results: list[requests.Response | BaseException] = [RuntimeError("not sent")] * copies
    url = base + raw.path + (f"?{raw.query_string}" if raw.query_string else "")

    def deliver(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = requests.request(raw.method, url, headers=dict(raw.headers),
                                              data=raw.body or None, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions
            results[index] = exc

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _check_answers(provider: str, results: list[Any]) -> None:
    for result in results:
        assert isinstance(result, requests.Response), result
        assert result.status_code < 500, result.text
        assert _accepted_or_duplicate(provider, result), (result.status_code, result.text)


def test_concurrent_deliveries_record_exactly_once(server_db: str, gunicorn: str) -> None:
    db = Database(server_db)
    try:
        intents = _intents(db, ROUNDS)

        # 1. fifty identical deliveries at once
        first = intents[0]
        provider = PROVIDERS[0]
        _check_answers(provider, _fire(gunicorn, provider, _signed(provider, first, "5000001"),
                                       IDENTICAL))
        with db.read() as s:
            assert s.scalar(select(func.count()).select_from(Payment)) == 1
            assert s.scalar(select(func.count()).select_from(Callback)) == IDENTICAL
            outcomes = s.scalars(select(Callback.outcome)).all()
        assert outcomes.count("accepted") == 1
        assert set(outcomes) == {"accepted", "duplicate"}

        # 2. rounds of concurrent duplicates with fresh ids, every provider in turn
        for i in range(1, ROUNDS):
            provider = PROVIDERS[i % len(PROVIDERS)]
            raw = _signed(provider, intents[i], f"{6000000 + i}")
            _check_answers(provider, _fire(gunicorn, provider, raw, PER_ROUND))

        deadline = time.monotonic() + 30  # the workers' sealers chain every audit event
        while True:
            with db.read() as s:
                unsealed = audit.unsealed_count(s)
            if unsealed == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        with db.read() as s:
            rows = s.execute(select(Payment.provider, Payment.provider_txn_id,
                                    Payment.intent_id, Payment.amount)).all()
            paid = s.scalars(select(PaymentIntent.status)).all()
            errors = s.scalar(select(func.count()).select_from(Callback).where(
                Callback.outcome == "error"))
            chain = audit.verify_chain(s)
            events = s.scalar(select(func.count()).select_from(AuditEvent))
        assert len(rows) == ROUNDS  # one per transaction id, however many deliveries
        assert len({(p, t) for p, t, _, _ in rows}) == ROUNDS
        assert {intent_id for _, _, intent_id, _ in rows} == {i.id for i in intents}
        assert set(paid) == {"paid"}
        assert errors == 0
        assert chain.ok, chain.reason
        assert unsealed == 0
        assert chain.checked == events  # every event chained, none twice, no fork
    finally:
        db.dispose()
