"""PostgreSQL going away and coming back, and turning read-only, under real gunicorn workers.

These run on a private cluster (``initdb`` + ``pg_ctl`` on a free port in a temporary
directory; as root, as the ``postgres`` user), never the machine's shared server, which other
test sessions use. They fail, never skip, when the server binaries are missing.

- **Restart under load**: signed callbacks from every provider, each provider retrying as
  providers do, while the cluster is restarted (``pg_ctl restart -m fast``) and then stopped
  for two seconds and started again. During the outage every answer is a retry answer (or no
  answer) and ``/healthz`` says the database is unreachable; afterwards the pools reconnect
  (pre-ping) and calls succeed; every payment is recorded exactly once and every "delivered"
  answer was for a payment that is stored.
- **Crash under load** (``pg_ctl stop -m immediate``, then start: recovery from the WAL):
  every call answered "delivered" has its payment and its archived callback afterwards. (With
  ``synchronous_commit`` off for the recording too, this test loses an answered payment.)
- **Read-only** (``default_transaction_read_only = on``): webhooks are told to retry and the
  archive write itself is what fails (no callback row: nothing half-stored); the JSON API and
  pages that write answer 503 saying so in Vietnamese and English, reads still work, and
  ``/healthz`` says ``read_only``. Once writable again, the providers' retries are recorded once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from bench.procs import PrivateCluster
from bench.soak import Intent, seed_intents
from recon.accounts.auth import create_token
from recon.cli.admin import upgrade_database
from recon.clock import SystemClock
from recon.db import Database
from tests.foundation.helpers import dossier_body
from tests.hardening.faultkit import Answer, Provider, count, gunicorn, signed

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    made = PrivateCluster()
    try:
        made.start()
        yield made
    finally:
        made.destroy()


def _database(cluster: PrivateCluster, name: str) -> str:
    url = cluster.create_database(name)
    upgrade_database(url)
    return url


def _healthz(base: str) -> tuple[int, dict[str, object]]:
    try:
        response = requests.get(f"{base}/healthz", timeout=10)
    except requests.RequestException:
        return 0, {}
    return response.status_code, response.json()


class Clients:
    """``threads`` providers sending the intents' payments, paced, each retried until
    delivered."""

    def __init__(self, base: str, intents: list[Intent], threads: int = 3) -> None:
        self.providers = [Provider(base, pause=0.2) for _ in range(threads)]
        self.intents = intents
        self.delivered: dict[tuple[str, str], bool] = {}
        self.sent_at: dict[int, list[float]] = {}
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, index: int) -> None:
        provider = self.providers[index]
        for n in range(index, len(self.intents), len(self.providers)):
            intent = self.intents[n]
            txn = f"{900_000_000 + n}"
            self.delivered[(intent.provider, txn)] = provider.deliver(
                intent.provider, txn, signed(intent.provider, txn, intent))
            time.sleep(0.08)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=180)

    @property
    def answers(self) -> list[Answer]:
        return [a for p in self.providers for a in p.answers]


@contextmanager
def _under_load(cluster: PrivateCluster, tmp_path: Path, name: str,
                payments: int) -> Iterator[tuple[str, str, Clients]]:
    """A fresh database on the cluster, 3 gunicorn workers on it and the providers sending
    ``payments`` payments, 1.5 s under way: (database url, server base, clients)."""
    url = _database(cluster, name)
    intents = seed_intents(url, payments)
    with gunicorn(url, tmp_path, workers=3) as web:
        clients = Clients(web.base, intents)
        clients.start()
        time.sleep(1.5)
        yield url, web.base, clients


def _each_delivered_payment_stored_once(url: str, clients: Clients) -> None:
    """Nothing lost, nothing doubled: every provider was told "delivered" in the end, and each
    of those payments is stored once, with its accepted callback, paid intent and audit event.
    (A provider told "delivered" never retries: a payment lost after that answer is missing.)"""
    assert all(clients.delivered.values()) and len(clients.delivered) == len(clients.intents)
    keys = sorted(clients.delivered)
    stored = count(url, "SELECT count(*) FROM payments")
    assert stored == len(keys) == count(
        url, "SELECT count(DISTINCT (provider, provider_txn_id)) FROM payments")
    values = ", ".join(f"('{p}', '{t}')" for p, t in keys)
    assert count(url, f"SELECT count(*) FROM payments WHERE (provider, provider_txn_id) IN "
                      f"({values})") == len(keys)
    assert count(url, "SELECT count(*) FROM callbacks WHERE outcome = 'accepted'") == len(keys)
    assert count(url, "SELECT count(*) FROM payment_intents WHERE status = 'paid'") == len(keys)
    assert count(url, "SELECT count(*) FROM payment_intents i WHERE status = 'paid' AND NOT "
                      "EXISTS (SELECT 1 FROM payments p WHERE p.intent_id = i.id)") == 0
    assert count(url, "SELECT count(*) FROM audit_events WHERE action = 'payment.recorded'") \
        == len(keys)


def test_postgresql_restart_under_load(cluster: PrivateCluster, tmp_path: Path) -> None:
    with _under_load(cluster, tmp_path, "restart", 210) as (url, base, clients):
        cluster.pg_ctl("restart")  # fast: sessions are cut mid-transaction
        time.sleep(1.5)
        cluster.pg_ctl("stop")
        down_at = time.monotonic()  # from here until start: no server at all
        health_down = _healthz(base)
        time.sleep(2.0)
        up_at = time.monotonic()
        cluster.pg_ctl("start")
        back_at = time.monotonic()  # accepting connections again
        clients.join()
        health_up = _healthz(base)

    answers = clients.answers
    kinds = {a.kind for a in answers}
    # every provider was told "delivered" in the end (checked below), and nothing but retry
    # answers (or no answer, a connection cut) before that: never a refusal
    assert kinds <= {"delivered", "retry", "no_answer"}, [a for a in answers
                                                          if a.kind == "other"][:3]
    outage = [a for a in answers if down_at <= a.sent and a.at <= up_at]
    assert outage and {a.kind for a in outage} <= {"retry", "no_answer"}
    retried = [a for a in answers if a.kind != "delivered"]
    assert len(retried) >= len(outage) >= 3
    # in each provider's protocol: 503, VNPay RspCode 99, ZaloPay return_code 0
    assert {a.status for a in retried if a.status is not None} <= {200, 503}
    assert all('"99"' in a.body for a in retried if a.provider == "vnpay" and a.status == 200)
    assert health_down[0] == 503
    database = health_down[1]["database"]
    assert isinstance(database, dict) and database["problem"] == "unreachable"
    # back: the pools reconnected (pre-ping), /healthz is green, and every call whose answer
    # was sent after the server was back was delivered at once
    assert health_up[0] == 200, health_up
    after = [a for a in answers if a.sent > back_at + 0.5]
    assert after and all(a.kind == "delivered" for a in after)

    print({"requests": len(answers), "payments": len(clients.intents),  # shown with -s
           "answers": {k: sum(a.kind == k for a in answers) for k in sorted(kinds)},
           "outage_answers": len(outage), "after_outage": len(after)})
    _each_delivered_payment_stored_once(url, clients)


def test_postgresql_crash_under_load_loses_no_answered_call(cluster: PrivateCluster,
                                                             tmp_path: Path) -> None:
    """PostgreSQL crashes (``pg_ctl stop -m immediate``: no checkpoint, only the WAL already on
    disk survives) under load. A first delivery's archive commits without waiting for the disk
    and its recording commits synchronously before the answer: so after recovery every call
    answered "delivered" has its payment and its archived callback, and nothing is doubled."""
    with _under_load(cluster, tmp_path, "crash", 150) as (url, _, clients):
        cluster.pg_ctl("stop", mode="immediate")
        crashed_at = time.monotonic()
        time.sleep(1.0)
        cluster.pg_ctl("start")
        clients.join()

    answers = clients.answers
    before = [a for a in answers if a.kind == "delivered" and a.at < crashed_at]
    assert before, "no call was answered before the crash: raise the first sleep"
    assert {a.kind for a in answers} <= {"delivered", "retry", "no_answer"}
    _each_delivered_payment_stored_once(url, clients)
    # ... each with its archived, answered callback
    assert count(url, "SELECT count(*) FROM callbacks c JOIN payments p ON p.id = c.payment_id "
                      "WHERE c.outcome = 'accepted' AND c.response_status IS NOT NULL") \
        == len(clients.delivered)
    print({"requests": len(answers), "delivered_before_crash": len(before),  # shown with -s
           "answers": {k: sum(a.kind == k for a in answers)
                       for k in ("delivered", "retry", "no_answer")}})


def _csrf(session: requests.Session, base: str) -> str:
    page = session.get(f"{base}/login", timeout=10)
    assert page.status_code == 200  # a page that only reads still works
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_read_only_database(cluster: PrivateCluster, tmp_path: Path) -> None:
    url = _database(cluster, "readonly")
    intents = seed_intents(url, 7)  # one order per provider
    db = Database(url)
    with db.transaction() as s:
        _, token = create_token(s, SystemClock(), name="ro-admin", role="admin", user=None)
    db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    with gunicorn(url, tmp_path, workers=2) as web:
        try:
            cluster.sql("ALTER SYSTEM SET default_transaction_read_only = on")
            cluster.sql("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 20
            while _healthz(web.base)[0] != 503:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            status, health = _healthz(web.base)
            assert status == 503
            database = health["database"]
            assert isinstance(database, dict)
            assert (database["problem"], database["writable"]) == ("read_only", False)
            assert "chỉ đọc" in str(database["message_vi"])

            # webhooks: told to retry; the archive insert itself failed, nothing was stored
            before = count(url, "SELECT count(*) FROM callbacks")
            providers = [Provider(web.base) for _ in intents]
            with requests.Session() as session:
                for n, (intent, provider) in enumerate(zip(intents, providers, strict=True)):
                    answer = provider.once(session, intent.provider, f"{910_000_000 + n}",
                                           signed(intent.provider, f"{910_000_000 + n}",
                                                  intent))
                    assert answer.kind == "retry", answer
            assert count(url, "SELECT count(*) FROM callbacks") == before
            assert count(url, "SELECT count(*) FROM payments") == 0

            # the JSON API: a write is 503 with what to do, a read still works
            response = requests.post(f"{web.base}/api/v1/dossiers", headers=auth, timeout=10,
                                     json=dossier_body("000.00.21.H57-RO-0001",
                                                       agency_code="SOAK"))
            assert response.status_code == 503, response.text
            body = response.json()
            assert (body["error"], body["problem"]) == ("database_unavailable", "read_only")
            assert "read-only" in body["message"] and "chỉ đọc" in body["message_vi"]
            assert "Try again" in body["message"] and body["hint"]
            assert int(response.headers["Retry-After"]) > 0
            assert requests.get(f"{web.base}/api/v1/agencies", headers=auth,
                                timeout=10).status_code == 200

            # a page that writes (a failed login is counted in the database): 503, in
            # Vietnamese, or English when asked
            with requests.Session() as browser:
                csrf = _csrf(browser, web.base)
                page = browser.post(f"{web.base}/login", timeout=10, data={
                    "username": "nobody", "password": "wrong-password-1", "csrf_token": csrf})
                assert page.status_code == 503
                assert "chỉ đọc" in page.text and "thử lại" in page.text
                english = browser.post(f"{web.base}/login?lang=en", timeout=10, data={
                    "username": "nobody", "password": "wrong-password-1", "csrf_token": csrf})
                assert english.status_code == 503 and "read-only" in english.text
        finally:
            cluster.sql("ALTER SYSTEM RESET default_transaction_read_only")
            cluster.sql("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 20
        while _healthz(web.base)[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # writable again: each provider's retry is recorded, once
        for n, (intent, provider) in enumerate(zip(intents, providers, strict=True)):
            raw = signed(intent.provider, f"{910_000_000 + n}", intent)
            assert provider.deliver(intent.provider, f"{910_000_000 + n}", raw)
            assert provider.deliver(intent.provider, f"{910_000_000 + n}", raw)  # redelivery
    assert count(url, "SELECT count(*) FROM payments") == len(intents)
    assert count(url, "SELECT count(*) FROM payment_intents WHERE status = 'paid'") == \
        len(intents)
    assert count(url, "SELECT count(*) FROM callbacks WHERE outcome = 'accepted'") == \
        len(intents)
