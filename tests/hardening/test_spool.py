"""The spool: a webhook call the archive cannot store (a read-only database here) is kept on
local disk — scrubbed as the archive scrubs it — while the provider is told to retry; ``recon
callbacks spool-import`` archives each spooled call once (outcome ``spooled``), refuses plainly
while the database still cannot write, and ``/healthz`` counts what waits. Appends from several
processes and threads, with an import claiming files in between, lose nothing."""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import os
import shutil
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import create_engine, text

from adapters import RawRequest
from bench.soak import PROVIDER_ENV, accepted_or_duplicate, is_retry_answer, seed_intents, signed
from recon import create_app
from recon.cli import cli
from recon.clock import SystemClock
from recon.config import load_settings
from recon.db import Database
from recon.payments.spool import (
    IMPORTED,
    IMPORTING,
    REJECTED,
    claim,
    pending_lines,
    spool_callback,
)
from tests.conftest import PG_ENV, TEST_SECRET

PAN = "4111 1111 1111 1111"
MASKED = "4111 11** **** 1111"
API_KEY = "Apikey spool-test-secret-value-123456"


def _env(url: str, tmp_path: Path, spool: Path) -> dict[str, str]:
    return {**PROVIDER_ENV, "RECON_DATABASE_URL": url, "RECON_ENV": "test",
            "RECON_SECRET_KEY": TEST_SECRET, "RECON_INSTANCE_PATH": str(tmp_path / "instance"),
            "RECON_SPOOL_DIR": str(spool)}


def _app(env: dict[str, str], db: Database | None = None) -> Flask:
    app = create_app(load_settings(env), clock=SystemClock(), database=db)
    app.config["TESTING"] = True
    return app


def _read_only(url: str, tmp_path: Path) -> tuple[Database, str]:
    """The database opened read-only (as on a read-only mount or a read-only PostgreSQL), and a
    URL under which the CLI cannot write either."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        db = Database(url, creator=lambda: sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False))
        return db, f"sqlite:///{tmp_path}"  # a directory: SQLite cannot open it
    db = Database(url, connect_args={"options": "-c default_transaction_read_only=on"})
    return db, url + "?options=-c%20default_transaction_read_only%3Don"


def _send(app: Flask, raw: RawRequest, **headers: str) -> tuple[int, bytes]:
    response = app.test_client().open(
        raw.path + (f"?{raw.query_string}" if raw.query_string else ""), method=raw.method,
        headers={**dict(raw.headers), **headers}, data=raw.body or None)
    return response.status_code, response.get_data()


def _pan_call() -> RawRequest:
    body = json.dumps({"id": 1, "content": f"the card {PAN} paid", "transferAmount": 1})
    return RawRequest(method="POST", path="/webhooks/sepay", query_string="",
                      headers={"Content-Type": "application/json", "Authorization": API_KEY},
                      body=body.encode(), received_at=datetime.now(UTC))


def _import(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Result:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(cli, ["callbacks", "spool-import", *args],
                              catch_exceptions=False)


def _rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def _spool_lines(spool: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(spool.glob("callbacks-*.jsonl"))
            for line in path.read_text().splitlines()]


def test_a_call_the_archive_cannot_store_is_spooled_then_imported_once(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("RECON_") and k != PG_ENV]:
        monkeypatch.delenv(key)
    spool = tmp_path / "spool"
    env = _env(database_url, tmp_path, spool)
    intent = seed_intents(database_url, 1)[0]
    paying = signed(intent.provider, "940000001", intent)
    read_only, unwritable_url = _read_only(database_url, tmp_path)
    try:
        app = _app(env, read_only)
        # the provider is told to retry, as before; the call is on disk
        status, body = _send(app, paying, **{"X-Request-Id": "req-spool-1"})
        assert is_retry_answer(intent.provider, status, body)
        status, body = _send(app, _pan_call())
        assert is_retry_answer("sepay", status, body)

        health = app.test_client().get("/healthz")
        assert health.status_code == 503 and health.json["database"]["problem"] == "read_only"
        assert health.json["spool"] == {"pending": 2}
        assert "recon callbacks spool-import" in health.json["warnings"][0]["message"]
        assert "spool" in health.json["warnings"][0]["message_vi"]
    finally:
        read_only.dispose()

    files = list(spool.glob("callbacks-*.jsonl"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    raw_bytes = files[0].read_bytes()
    assert PAN.encode() not in raw_bytes and b"spool-test-secret" not in raw_bytes
    first, second = _spool_lines(spool)
    assert (first["provider"], first["request_id"]) == (intent.provider, "req-spool-1")
    assert "read_only" in first["reason"] or "readonly" in first["reason"].lower()
    assert "[SQL" not in first["reason"] and "parameters" not in first["reason"]
    assert MASKED.encode() in base64.b64decode(second["body_b64"])
    assert PAN.encode() not in base64.b64decode(second["body_b64"])
    assert second["headers"]["Authorization"] == "Apikey spoo****"
    assert _rows(database_url, "SELECT count(*) FROM callbacks") == [(0,)]

    # the database still cannot write: a plain refusal, and the spool is left as it was
    refused = _import(monkeypatch, {**env, "RECON_DATABASE_URL": unwritable_url})
    assert refused.exit_code == 1
    assert "cannot store the spooled calls" in refused.output
    assert "run `recon callbacks spool-import` again" in refused.output
    assert "What to do:" in refused.output
    assert pending_lines(spool) == 2 and [p.name for p in spool.glob("*.jsonl")] == [
        files[0].name]

    done = _import(monkeypatch, env)
    assert done.exit_code == 0, done.output
    assert "Imported 2 spooled webhook calls" in done.stdout
    rows = _rows(database_url, "SELECT provider, outcome, outcome_detail, request_id, body, "
                               "headers, payment_id FROM callbacks ORDER BY id")
    assert [(r[0], r[1], r[3], r[6]) for r in rows] == [
        (intent.provider, "spooled", "req-spool-1", None),
        ("sepay", "spooled", second["request_id"], None)]
    assert "The provider was told to retry" in rows[0][2]
    assert rows[0][2].startswith(f"spool {first['id']}:")
    # the answer each provider was given is on record too (a spooled call is not an error)
    answers = _rows(database_url, "SELECT response_status, response_body FROM callbacks "
                                  "ORDER BY id")
    assert [(status, body) for status, body in answers] == [
        (first["response_status"], first["response_body"]),
        (second["response_status"], second["response_body"])]
    assert is_retry_answer(intent.provider, first["response_status"],
                           first["response_body"].encode())
    assert is_retry_answer("sepay", second["response_status"], second["response_body"].encode())
    assert MASKED.encode() in bytes(rows[1][4]) and PAN.encode() not in bytes(rows[1][4])
    assert "spool-test-secret" not in rows[1][5]
    assert _rows(database_url, "SELECT count(*) FROM payments") == [(0,)]  # nothing recorded
    assert pending_lines(spool) == 0
    assert len(list((spool / IMPORTED).glob("*.jsonl"))) == 1

    again = _import(monkeypatch, env)
    assert again.exit_code == 0 and "Nothing to import" in again.stdout
    # an import stopped half-way leaves its file in importing/: rerun, nothing twice
    imported = next((spool / IMPORTED).glob("*.jsonl"))
    shutil.copyfile(imported, spool / IMPORTING / imported.name)
    rerun = _import(monkeypatch, env)
    assert rerun.exit_code == 0, rerun.output
    assert "Imported 0 spooled webhook calls" in rerun.stdout
    assert "2 were there already" in rerun.stdout
    assert _rows(database_url, "SELECT count(*) FROM callbacks") == [(2,)]

    # the provider's retry records the payment, once
    writable = _app(env)
    status, body = _send(writable, paying)
    assert accepted_or_duplicate(intent.provider, status, body)
    writable.extensions["recon.db"].dispose()
    assert _rows(database_url, "SELECT outcome, count(*) FROM callbacks GROUP BY outcome "
                               "ORDER BY outcome") == [("accepted", 1), ("spooled", 2)]
    assert _rows(database_url, "SELECT count(*) FROM payments") == [(1,)]


def test_unreadable_lines_are_kept_and_said(database_url: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    settings = load_settings(_env(database_url, tmp_path, spool))
    assert spool_callback(settings, "sepay", _pan_call(), request_id=None, remote_addr="1.2.3.4",
                          reason="database read_only") is not None
    path = next(spool.glob("*.jsonl"))
    with path.open("ab") as f:
        f.write(b'{"v":1,"id":"cut short by a full di')  # no newline: the disk filled up
    # the next call's line is glued to the piece: it is saved all the same
    assert spool_callback(settings, "sepay", _pan_call(), request_id=None, remote_addr=None,
                          reason="database disk_full") == path
    with path.open("ab") as f:
        f.write(b"not json at all\n")
    result = _import(monkeypatch, _env(database_url, tmp_path, spool))
    assert result.exit_code == 0, result.output
    assert "Imported 2 spooled webhook calls" in result.stdout
    assert "2 unreadable" in result.stdout
    assert "line 2: not a JSON line" in result.stderr
    assert "line 3: not a JSON line" in result.stderr
    assert "What to do:" in result.stderr
    kept = list((spool / REJECTED).glob("*.jsonl"))
    assert len(kept) == 1
    assert kept[0].read_bytes() == b'{"v":1,"id":"cut short by a full di\nnot json at all\n'
    assert _rows(database_url, "SELECT count(*) FROM callbacks WHERE outcome = 'spooled'"
                 ) == [(2,)]


def test_healthz_counts_what_waits(env: dict[str, str], db: Database, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    env = {**env, "RECON_SPOOL_DIR": str(spool)}
    app = _app(env, db)
    client = app.test_client()
    assert client.get("/healthz").json["spool"] == {"pending": 0}
    assert "warnings" not in client.get("/healthz").json
    settings = load_settings(env)
    for _ in range(3):
        spool_callback(settings, "sepay", _pan_call(), request_id=None, remote_addr=None,
                       reason="test")
    health = client.get("/healthz")
    assert health.status_code == 200  # a warning, not a failure
    assert health.json["spool"] == {"pending": 3}
    assert health.json["warnings"][0]["code"] == "spooled_callbacks"
    spool_callback(settings, "sepay", _pan_call(), request_id=None, remote_addr=None,
                   reason="test")
    assert client.get("/healthz").json["spool"] == {"pending": 4}  # counted on from the cache
    assert _import(monkeypatch, env).exit_code == 0
    health = client.get("/healthz")
    assert health.json["spool"] == {"pending": 0} and "warnings" not in health.json


def test_spooling_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings = load_settings({"RECON_ENV": "test", "RECON_SPOOL_DIR": str(blocker)})
    with caplog.at_level(logging.ERROR, logger="recon.spool"):
        assert spool_callback(settings, "sepay", _pan_call(), request_id="r1",
                              remote_addr=None, reason="x") is None
    assert "could not spool" in caplog.text
    default = load_settings({"RECON_ENV": "test", "RECON_INSTANCE_PATH": str(tmp_path)})
    assert default.spool_path == tmp_path / "spool"


def _writer(spool: str, worker: int, count: int) -> None:
    settings = load_settings({"RECON_ENV": "test", "RECON_SPOOL_DIR": spool})

    def write(thread: int) -> None:
        for i in range(count):
            raw = _pan_call()
            assert spool_callback(settings, "sepay", raw, request_id=f"w{worker}t{thread}i{i}",
                                  remote_addr=None, reason="concurrency test") is not None

    threads = [threading.Thread(target=write, args=(t,)) for t in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_processes_threads_and_claims_lose_nothing(tmp_path: Path) -> None:
    """4 processes × 2 threads × 150 appends, while an import claims the files again and again:
    every line is whole, in exactly one file."""
    spool = tmp_path / "spool"
    spool.mkdir()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_writer, args=(str(spool), w, 150)) for w in range(4)]
    for p in workers:
        p.start()
    claims = 0
    while any(p.is_alive() for p in workers):
        claim(spool)
        claims += 1
    for p in workers:
        p.join()
        assert p.exitcode == 0
    lines = [line for path in [*spool.glob("*.jsonl"), *(spool / IMPORTING).glob("*.jsonl")]
             for line in path.read_bytes().splitlines()]
    records = [json.loads(line) for line in lines]
    assert len(records) == 4 * 2 * 150
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["request_id"] for r in records}) == len(records)
    print(f"{claims} claims during the appends")  # shown with -s
    assert pending_lines(spool) == len(records)


def test_a_line_without_an_answer_still_imports_and_a_bad_answer_is_refused() -> None:
    """Lines spooled before the answer was kept have none (imported with no status); a status
    that is not an HTTP status makes the line unreadable (kept in rejected/, said)."""
    from recon.clock import FixedClock
    from recon.payments.spool import _entry, spool_line

    raw = RawRequest(method="POST", path="/webhooks/pos", query_string="", headers={},
                     body=b"{}", received_at=datetime(2026, 11, 27, 3, 0, tzinfo=UTC))
    clock = FixedClock(datetime(2026, 11, 27, 4, 0, tzinfo=UTC))
    old = spool_line("pos", raw, request_id=None, remote_addr=None, reason="database down")
    assert "response_status" not in old
    values = _entry(json.dumps(old).encode(), clock).values
    assert (values["response_status"], values["response_body"]) == (None, None)
    for bad in (True, 99, 600, "503"):
        with pytest.raises(ValueError, match="response_status"):
            _entry(json.dumps({**old, "response_status": bad}).encode(), clock)
