"""The audit chain, sealed after commit (issue 4: writers no longer queue on one lock).

SQLite seals each event as it is written; PostgreSQL writes events unsealed and
:func:`recon.audit.chain.seal` chains them, in id order, under an advisory lock, once.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from recon import create_app
from recon.audit import chain as audit
from recon.audit import sealing
from recon.audit.sealing import Sealer, interval_from, request_seal, sealer_for
from recon.cli import cli
from recon.cli.admin import upgrade_database
from recon.clock import FixedClock
from recon.config import load_settings
from recon.db import Database
from recon.models import AuditEvent
from tests.conftest import PG_ENV, T0, _truncate_pg


def _record(db: Database, clock: FixedClock, n: int, action: str = "test.event") -> list[int]:
    ids = []
    with db.transaction() as s:
        for i in range(n):
            ids.append(audit.record(s, clock, actor="test", action=action, entity_type="t",
                                    entity_id=i, data={"i": i, "text": "Nguyễn"}).id)
            clock.advance(timedelta(microseconds=1))
    return ids


def _seal_all(db: Database) -> int:
    with db.transaction() as s:
        return audit.seal(s) or 0


def _events(db: Database) -> list[AuditEvent]:
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_events_sealed_as_written_on_sqlite_or_after_on_postgresql(
        db: Database, clock: FixedClock) -> None:
    ids = _record(db, clock, 3)
    with db.read() as s:
        report = audit.verify_chain(s)
    if db.dialect == "sqlite":
        assert report == audit.ChainReport(True, 3)
        assert _seal_all(db) == 0
    else:
        assert (report.ok, report.checked, report.unsealed) == (True, 0, 3)
        assert all(e.hash is None and e.seq is None for e in _events(db))
        assert _seal_all(db) == 3
        assert _seal_all(db) == 0
    events = _events(db)
    assert [e.id for e in events] == ids
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    with db.read() as s:
        assert audit.verify_chain(s) == audit.ChainReport(True, 3)


def test_late_commit_is_sealed_in_a_later_batch(pg_db: Database, clock: FixedClock) -> None:
    """An event whose transaction commits after a later one was sealed gets the next place in
    the chain: nothing is skipped, nothing forks."""
    first = _record(pg_db, clock, 1)
    with pg_db.transaction() as slow:
        late = audit.record(slow, clock, actor="test", action="late", entity_type="t",
                            entity_id="late").id
        after = _record(pg_db, clock, 2)  # committed while `slow` is still open
        assert _seal_all(pg_db) == 3  # the late one is not visible yet
    assert late < after[0]
    assert _seal_all(pg_db) == 1
    by_id = {e.id: e for e in _events(pg_db)}
    assert [by_id[i].seq for i in (*first, *after)] == [1, 2, 3]
    assert by_id[late].seq == 4
    with pg_db.read() as s:
        assert audit.verify_chain(s) == audit.ChainReport(True, 4)


def test_the_database_allows_sealing_once_and_nothing_else(pg_db: Database,
                                                          clock: FixedClock) -> None:
    (sealed,) = _record(pg_db, clock, 1)
    _seal_all(pg_db)
    (open_id,) = _record(pg_db, clock, 1)
    refused = [
        ("UPDATE audit_events SET data = '{}' WHERE id = :i", sealed),  # content, sealed
        ("UPDATE audit_events SET hash = 'x', seq = 99, prev_hash = 'y' WHERE id = :i",
         sealed),  # sealing twice
        ("UPDATE audit_events SET data = '{}', hash = 'x', seq = 99, prev_hash = 'y' "
         "WHERE id = :i", open_id),  # sealing while changing the content
        ("UPDATE audit_events SET hash = 'x' WHERE id = :i", open_id),  # a partial seal
        ("DELETE FROM audit_events WHERE id = :i", open_id),
        ("DELETE FROM audit_events WHERE id = :i", sealed),
    ]
    for statement, event_id in refused:
        with pytest.raises(DatabaseError, match="append-only"), pg_db.engine.begin() as conn:
            conn.execute(text(statement), {"i": event_id})
    assert _seal_all(pg_db) == 1
    with pg_db.read() as s:
        assert audit.verify_chain(s) == audit.ChainReport(True, 2)


def test_tampering_with_a_sealed_event_is_found(db: Database, clock: FixedClock) -> None:
    _record(db, clock, 4)
    _seal_all(db)
    with db.engine.begin() as conn:
        if db.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_events SET data = '{\"i\": 9}' WHERE id = 3"))
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    with db.read() as s:
        report = audit.verify_chain(s)
    assert (report.ok, report.first_broken_id, report.checked) == (False, 3, 2)


def test_concurrent_writers_and_sealers_make_one_chain(pg_db: Database) -> None:
    """Writers in several threads, two sealers that never wait for each other: in the end
    every event is sealed exactly once, in one unbroken chain."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        clock = FixedClock(T0 + timedelta(seconds=n))
        try:
            for _ in range(15):
                _record(pg_db, clock, 3, action=f"writer.{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def sealer() -> None:
        try:
            while not stop.is_set():
                with pg_db.transaction() as s:
                    audit.seal(s, wait=False, limit=7)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in (*sealers, *writers):
        thread.start()
    for thread in writers:
        thread.join(60)
    stop.set()
    for thread in sealers:
        thread.join(60)
    assert not errors, errors
    while _seal_all(pg_db):
        pass
    with pg_db.read() as s:
        report = audit.verify_chain(s)
        seqs = s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert report == audit.ChainReport(True, 4 * 15 * 3)
    assert seqs == list(range(1, 181))


def test_background_sealer(pg_db: Database, clock: FixedClock) -> None:
    sealer = Sealer(pg_db, interval=0.2)
    sealer.start()
    try:
        _record(pg_db, clock, 5)
        sealer.request()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with pg_db.read() as s:
                if audit.unsealed_count(s) == 0:
                    break
            time.sleep(0.05)
        _record(pg_db, clock, 2)  # no request: the periodic sweep finds them
        while time.monotonic() < deadline:
            with pg_db.read() as s:
                if audit.unsealed_count(s) == 0:
                    break
            time.sleep(0.05)
    finally:
        sealer.stop()
    assert sealer.sealed == 7
    with pg_db.read() as s:
        assert audit.verify_chain(s) == audit.ChainReport(True, 7)


def test_a_serving_process_starts_its_sealer_on_its_first_request(
        pg_db: Database, clock: FixedClock, tmp_path: object) -> None:
    """Only a real server's requests (gunicorn, ``recon serve``) start it; once per process."""
    settings = load_settings({"RECON_ENV": "test", "RECON_AUDIT_SEAL_SECONDS": "30",
                              "RECON_DATABASE_URL": pg_db.url,
                              "RECON_INSTANCE_PATH": str(tmp_path)})
    client = create_app(settings, clock=clock, database=pg_db).test_client()
    key = (os.getpid(), id(pg_db))
    assert client.get("/healthz").status_code == 200
    assert key not in sealing._sealers  # a test's request: no thread
    served = {"werkzeug.socket": object()}
    assert client.get("/healthz", environ_base=served).status_code == 200
    sealer = sealing._sealers[key]
    try:
        assert client.post("/webhooks/pos", environ_base=served).status_code == 503  # no secret
        assert sealing._sealers[key] is sealer
    finally:
        sealer.stop()
        del sealing._sealers[key]


def test_sealer_settings(db: Database) -> None:
    assert interval_from(load_settings({"RECON_ENV": "test"})) == 0
    assert interval_from(load_settings({"RECON_ENV": "development"})) == 2.0
    assert interval_from(load_settings({"RECON_ENV": "test",
                                        "RECON_AUDIT_SEAL_SECONDS": "0.5"})) == 0.5
    with pytest.raises(ValueError, match="RECON_AUDIT_SEAL_SECONDS"):
        interval_from(load_settings({"RECON_ENV": "test", "RECON_AUDIT_SEAL_SECONDS": "x"}))
    off = load_settings({"RECON_ENV": "test"})
    assert sealer_for(db, off) is None
    request_seal(db)  # no sealer here: a no-op, never an error
    on = load_settings({"RECON_ENV": "development"})
    if db.dialect == "sqlite":
        assert sealer_for(db, on) is None  # sealed as written: nothing to do
    else:
        sealer = sealer_for(db, on)
        assert sealer is not None and sealer_for(db, on) is sealer
        sealer.stop()


def test_cli_seal_and_verify(env: dict[str, str], db: Database, clock: FixedClock) -> None:
    _record(db, clock, 3)
    runner = CliRunner()
    sealed = runner.invoke(cli, ["audit", "seal"], catch_exceptions=False)
    assert sealed.exit_code == 0
    assert sealed.output.strip() == ("0 events sealed." if db.dialect == "sqlite"
                                     else "3 events sealed.")
    _record(db, clock, 1)
    verified = runner.invoke(cli, ["audit", "verify"], catch_exceptions=False)
    assert verified.exit_code == 0
    assert "4 events verified" in verified.output


# --------------------------------------------------------------------------------------------
# The migration: a chain made before it stays valid after it


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """PostgreSQL itself (fails, never skips, without it): sealing after commit is its case."""
    _truncate_pg(pg_url)
    database = Database(pg_url)
    yield database
    database.dispose()
    _truncate_pg(pg_url)


@pytest.fixture
def fresh_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """An empty database of the backend under test, no migration applied."""
    backend = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.fail(f"this test needs PostgreSQL: set {PG_ENV}")
    url = make_url(base)
    name = f"{url.database}_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.mark.parametrize("fresh_url", ["sqlite", "postgresql"], indirect=True)
def test_migration_keeps_an_existing_chain(fresh_url: str) -> None:
    upgrade_database(fresh_url, "0004")
    engine = create_engine(fresh_url)
    prev = audit.GENESIS_HASH
    with engine.begin() as conn:  # the chain as the code before 0005 wrote it
        for i in range(3):
            at = T0 + timedelta(seconds=i)
            digest = audit.event_hash(prev, at, "old", "old.event", "t", str(i), "{}")
            conn.execute(text(
                "INSERT INTO audit_events (occurred_at, actor, action, entity_type, entity_id, "
                "data, prev_hash, hash) VALUES (:at, 'old', 'old.event', 't', :e, '{}', :p, :h)"),
                {"at": at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at,
                 "e": str(i), "p": prev, "h": digest})
            prev = digest
    engine.dispose()
    upgrade_database(fresh_url)
    db = Database(fresh_url)
    try:
        with db.read() as s:
            assert audit.verify_chain(s) == audit.ChainReport(True, 3)
            assert s.scalars(select(AuditEvent.seq).order_by(AuditEvent.id)).all() == [1, 2, 3]
        clock = FixedClock(T0 + timedelta(minutes=1))
        _record(db, clock, 2)
        _seal_all(db)
        with db.read() as s:
            assert audit.verify_chain(s) == audit.ChainReport(True, 5)
            assert s.scalar(select(func.max(AuditEvent.seq))) == 5
        with pytest.raises(DatabaseError), db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 1"))
    finally:
        db.dispose()
