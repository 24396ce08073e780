"""A full disk under SQLite, for real: gunicorn's workers are running when their file size
limit (``RLIMIT_FSIZE``, set from outside with ``prlimit``) drops to 4 KiB, with SIGXFSZ
ignored, so every write SQLite makes past it fails (``database or disk is full`` / ``disk I/O
error``) exactly as on a full disk; then the limit is lifted, as when space is freed.

While full: webhooks answer their protocol's retry and store nothing (the archive write is what
fails), the JSON API and pages that write answer 503 saying what happened and what to do, in
Vietnamese and English, reads still work, and ``/healthz`` says ``disk_full``. Afterwards the
providers' retries are recorded exactly once.
"""

from __future__ import annotations

import re
import resource
import shutil
import time
from pathlib import Path

import pytest
import requests

from bench.soak import seed_intents
from recon.accounts.auth import create_token
from recon.clock import SystemClock
from recon.db import Database
from tests.foundation.helpers import dossier_body
from tests.hardening.faultkit import Provider, count, gunicorn, signed

pytestmark = pytest.mark.slow

FULL = 4096  # bytes: every database file is already past it


def _limit(pids: list[int], soft: int) -> None:
    for pid in pids:
        _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft if soft >= 0 else hard, hard))


def _health(base: str) -> tuple[int, dict[str, object]]:
    response = requests.get(f"{base}/healthz", timeout=30)
    return response.status_code, response.json()


def test_sqlite_full_disk(tmp_path: Path, sqlite_template: Path) -> None:
    path = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    intents = seed_intents(url, 7)  # one order per provider
    db = Database(url)
    with db.transaction() as s:
        _, token = create_token(s, SystemClock(), name="full-admin", role="admin", user=None)
    db.dispose()
    auth = {"Authorization": f"Bearer {token}"}
    with gunicorn(url, tmp_path, workers=2, ignore_sigxfsz=True) as web:
        assert _health(web.base)[0] == 200
        pids = [web.pid, *web.worker_pids()]
        callbacks_before = count(url, "SELECT count(*) FROM callbacks")
        providers = [Provider(web.base) for _ in intents]
        _limit(pids, FULL)
        try:
            status, health = _health(web.base)
            assert status == 503, health
            database = health["database"]
            assert isinstance(database, dict)
            assert (database["problem"], database["writable"]) == ("disk_full", False)
            assert "detail" not in database  # the driver's words are for administrators only
            assert "đầy" in str(database["message_vi"])
            admin = requests.get(f"{web.base}/admin/health", headers=auth, timeout=30)
            assert admin.status_code == 503, admin.text
            detail = admin.json()["database"]["detail"]
            assert re.search(r"disk is full|disk I/O error", str(detail))
            print("admin health while full:", detail)  # shown with -s

            with requests.Session() as session:
                for n, (intent, provider) in enumerate(zip(intents, providers, strict=True)):
                    txn = f"{920_000_000 + n}"
                    answer = provider.once(session, intent.provider, txn,
                                           signed(intent.provider, txn, intent))
                    assert answer.kind == "retry", answer

            response = requests.post(f"{web.base}/api/v1/dossiers", headers=auth, timeout=30,
                                     json=dossier_body("000.00.21.H57-FULL-0001",
                                                       agency_code="SOAK"))
            assert response.status_code == 503, response.text
            body = response.json()
            assert (body["error"], body["problem"]) == ("database_unavailable", "disk_full")
            assert "free disk space" in body["message"] and "đầy" in body["message_vi"]
            assert response.headers["Retry-After"] == "60"
            assert requests.get(f"{web.base}/api/v1/agencies", headers=auth,
                                timeout=30).status_code == 200  # reads still work

            with requests.Session() as browser:
                page = browser.get(f"{web.base}/login", timeout=30)
                assert page.status_code == 200
                found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert found is not None
                answer_page = browser.post(f"{web.base}/login", timeout=30, data={
                    "username": "nobody", "password": "wrong-password-1",
                    "csrf_token": found.group(1)})
                assert answer_page.status_code == 503
                assert "đã đầy" in answer_page.text and "thử lại" in answer_page.text
        finally:
            _limit(pids, -1)  # space freed

        deadline = time.monotonic() + 30
        while _health(web.base)[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert count(url, "SELECT count(*) FROM callbacks") == callbacks_before
        assert count(url, "SELECT count(*) FROM payments") == 0
        for n, (intent, provider) in enumerate(zip(intents, providers, strict=True)):
            txn = f"{920_000_000 + n}"
            raw = signed(intent.provider, txn, intent)
            assert provider.deliver(intent.provider, txn, raw)
            assert provider.deliver(intent.provider, txn, raw)  # a redelivery: a duplicate
    assert count(url, "SELECT count(*) FROM payments") == len(intents)
    assert count(url, "SELECT count(DISTINCT provider || provider_txn_id) FROM payments") == \
        len(intents)
    assert count(url, "SELECT count(*) FROM payment_intents WHERE status = 'paid'") == \
        len(intents)
    assert count(url, "SELECT count(*) FROM callbacks WHERE outcome = 'accepted'") == \
        len(intents)
    assert count(url, "SELECT count(*) FROM callbacks WHERE outcome = 'error'") == 0
