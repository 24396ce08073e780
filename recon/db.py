"""Engine, sessions and the declarative base. One session factory serves web, CLI and scheduler.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every write transaction
starts with ``BEGIN IMMEDIATE`` so it holds the write lock from its first statement: concurrent
writers queue behind the busy timeout instead of failing with "database is locked" when a read
transaction tries to upgrade. Read-only work uses :meth:`Database.read`, a plain deferred BEGIN.

Faults. :func:`retrying` reruns a whole unit of work that PostgreSQL aborted with a
serialization failure or a deadlock (SQLSTATE 40001 / 40P01) a bounded number of times with
jittered exponential backoff (:meth:`Database.run` is the same for a session's unit of work);
anything else is raised at once. :func:`classify_fault` names what a database error means for
the caller — unreachable, read-only, disk full, overloaded, busy, conflict, not migrated — so the
web answers 503 with what to do, and the provider is told to retry; anything it does not name (a
bug of ours, a constraint) stays an ordinary error. :meth:`Database.probe_write` is the health
check's real write, bounded in time (:meth:`Database.bounded_transaction`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    TextClause,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

#: the session type views hold while they call services (they import no SQLAlchemy)
DbSession = Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 30_000


def migrations_dir() -> Path:
    """The Alembic scripts, the only way the schema is made (``recon db upgrade``): the copy
    an installed wheel carries inside the package (``recon/migrations``, see setup.py), else
    the top-level ``migrations/`` of a checkout (an editable install too). When neither holds
    them, the checkout's path (``recon db upgrade`` then says they are missing)."""
    package = Path(__file__).resolve().parent
    candidates = (package / "migrations", package.parent / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    return candidates[-1]


#: where :func:`migrations_dir` found them when this module was imported
MIGRATIONS = migrations_dir()

log = logging.getLogger("recon.db")
_T = TypeVar("_T")

# Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC; SQLite gives it back aware, too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _install_sqlite_behaviour(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy, not the driver, decide when transactions begin
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        readonly = conn.get_execution_options().get("recon_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _make_folder_on_connect(engine: Engine, folder: Path) -> None:
    """The SQLite file's folder is made when a connection is first opened (SQLite then makes
    the file), never when an engine is merely built: a command that stops before it connects
    (`recon report` on a folder without a database) leaves nothing behind."""

    @event.listens_for(engine, "do_connect")
    def _before_connect(*_args: Any) -> None:
        folder.mkdir(parents=True, exist_ok=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # a URI filename: not a plain path
        return None
    return Path(parsed.database).resolve()


def database_location(url: str) -> str:
    """Where a database is, for messages, never with its password: "SQLite file
    /var/lib/recon/recon.db", "PostgreSQL at 127.0.0.1:5432/recon"."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        return f"SQLite file {path}" if path else f"SQLite database {parsed.database or ':memory:'}"
    name = "PostgreSQL" if parsed.get_backend_name() == "postgresql" else parsed.get_backend_name()
    host = parsed.host or "localhost (socket)"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{name} at {host}{port}/{parsed.database or ''}"


def build_engine(url: str, **kwargs: Any) -> Engine:
    ping_after = kwargs.pop("ping_after_seconds", PING_AFTER_SECONDS)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        if parsed.database in (None, "", ":memory:"):
            kwargs.setdefault("poolclass", NullPool)
        else:
            # Keep connections open: when the last connection to a WAL database closes, SQLite
            # checkpoints and deletes the WAL (an fsync each time), which doubled request time.
            kwargs.setdefault("pool_size", 5)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, **kwargs)
        _install_sqlite_behaviour(engine)
        if parsed.database and parsed.database != ":memory:":
            _make_folder_on_connect(engine, Path(parsed.database).parent)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # a host that drops packets silently fails a new connection in seconds, not minutes
    if "connect_timeout" not in parsed.query:  # one given in the URL wins
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_SECONDS)
    if ping_after <= 0:
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    engine = create_engine(url, **kwargs)
    _install_idle_ping(engine, ping_after)
    return engine


#: how long a new PostgreSQL connection may take (libpq ``connect_timeout``, whole seconds)
PG_CONNECT_TIMEOUT_SECONDS: Final = 10
#: a pooled PostgreSQL connection idle longer than this is pinged before use
#: (``RECON_DB_PING_AFTER_SECONDS``; 0 pings at every checkout)
PING_AFTER_SECONDS: Final = 1
_IDLE_SINCE = "recon_idle_since"


class _Disconnects:
    """When this process last saw a connection to the database die (monotonic seconds)."""

    last: float = float("-inf")


def note_disconnect() -> None:
    """A connection was found dead: ping every pooled connection before its next use."""
    _Disconnects.last = time.monotonic()


def _install_idle_ping(engine: Engine, after: float) -> None:
    """Pessimistic disconnect handling, without a round trip per checkout: a connection is
    pinged before use only when it sat in the pool longer than ``after`` seconds, or when a
    dead connection was seen since it was last used (a restart kills them all). Under load a
    connection comes back within milliseconds and goes out again unpinged; a failed ping makes
    the pool discard it and connect afresh (SQLAlchemy's ``DisconnectionError`` protocol)."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        now = time.monotonic()
        fresh = since is not None and now - since < after and since > _Disconnects.last
        if fresh and not (dbapi_connection.closed or dbapi_connection.broken):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            note_disconnect()
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        if context.is_disconnect:
            note_disconnect()


class Database:
    """The one place that makes sessions."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        """``engine_kwargs`` go to :func:`build_engine` (``ping_after_seconds`` among them)."""
        self.url = url
        self.engine = build_engine(url, **engine_kwargs)
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(
            self.engine.execution_options(recon_readonly=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write unit of work: commits on success, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (never commits)."""
        with self._read() as session:
            yield session  # closing releases the connection and ends the transaction

    def run(self, work: Callable[[Session], _T], *, attempts: int | None = None) -> _T:
        """``work(session)`` in a write transaction, committed; the whole unit is run again
        (a new transaction) when PostgreSQL aborts it with a serialization failure or a
        deadlock, at most ``attempts`` times in all (see :func:`retrying`). ``work`` must do
        nothing outside the database that cannot be repeated."""
        def once() -> _T:
            with self.transaction() as session:
                return work(session)

        return retrying(once, attempts=attempts or RETRY_ATTEMPTS)

    @contextlib.contextmanager
    def bounded_transaction(self, seconds: float) -> Iterator[Connection]:
        """A short write transaction that waits at most about ``seconds`` for a lock instead
        of the usual 30 s: on SQLite the connection's busy timeout (restored afterwards), on
        PostgreSQL ``lock_timeout`` and ``statement_timeout`` for this transaction only. When
        the time is up it raises what a busy database raises (:func:`classify_fault`:
        ``busy``). Commits on success, rolls back on any exception."""
        millis = max(1, int(seconds * 1000))
        with self.engine.connect() as conn:
            if self.dialect != "sqlite":
                with conn.begin():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{millis}ms'")
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = '{millis}ms'")
                    yield conn
                return
            raw = conn.connection.driver_connection  # no transaction: PRAGMAs run as they are
            assert raw is not None
            raw.execute(f"PRAGMA busy_timeout = {millis}")
            try:
                with conn.begin():  # BEGIN IMMEDIATE: waits for the write lock at most that long
                    yield conn
            finally:
                try:
                    raw.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                except Exception:  # noqa: BLE001 - never give a short timeout back to the pool
                    conn.invalidate()

    def probe_write(self, timeout: float = 2.0) -> None:
        """A real, committed write that changes nothing (the health check's): raises what a
        write raises now — read-only database, disk full, unreachable, or busy when a lock is
        not had within ``timeout`` seconds (a long writer on SQLite, a migration on
        PostgreSQL): the check answers at once instead of hanging behind it. The one-row
        ``alembic_version`` is rewritten with its own value (on PostgreSQL a HOT update)."""
        with self.bounded_transaction(timeout) as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")

    def ping(self, timeout: float | None = None) -> dict[str, Any]:
        """Can it be reached, and the schema's revision (None before the first migration). A
        read: on SQLite it never waits for a writer; on PostgreSQL, given a ``timeout``, it
        gives up after that many seconds (a migration's exclusive lock)."""
        with self.engine.execution_options(recon_readonly=True).connect() as conn:
            if timeout is not None and self.dialect == "postgresql":
                conn.exec_driver_sql(
                    f"SET LOCAL statement_timeout = '{max(1, int(timeout * 1000))}ms'")
            conn.execute(text("SELECT 1"))
            revision = self._revision(conn)
        return {"dialect": self.dialect, "revision": revision}

    @staticmethod
    def _revision(conn: Connection) -> str | None:
        """``alembic_version``'s revision; None when the table is missing. In a savepoint-free
        way: the query is the last one of its transaction."""
        try:
            value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as exc:
            if _missing_relation(exc):
                return None  # a database before its first migration
            raise
        return str(value) if value is not None else None

    def schema_status(self) -> str:
        """Where the schema stands against this code's migrations (:func:`revision_status`)."""
        with self.engine.execution_options(recon_readonly=True).connect() as conn:
            return revision_status(self._revision(conn))

    def dispose(self) -> None:
        self.engine.dispose()


def utcnow() -> datetime:
    return datetime.now(UTC)


def by_ids(conn: Connection, sql: str) -> TextClause:
    """``sql``, whose ``IN :ids`` takes a list of integer ids, as a statement: on PostgreSQL
    ``= ANY(:ids)`` with the list bound as one array (an index condition; 600 bound values
    planned and bound one by one took half as long again, and ninety thousand as 180 lists of
    500 took 1.4 s), elsewhere an expanded ``IN`` (bind at most a few thousand at a time:
    SQLite's variable limit)."""
    if conn.dialect.name == "postgresql":
        return text(sql.replace("IN :ids", "= ANY(CAST(:ids AS bigint[]))"))
    return text(sql).bindparams(bindparam("ids", expanding=True))


@functools.lru_cache(maxsize=1)
def _migration_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(heads, every revision) of the migrations shipped with this code."""
    scripts = ScriptDirectory(str(MIGRATIONS))
    return (frozenset(scripts.get_heads()),
            frozenset(r.revision for r in scripts.walk_revisions()))


def revision_status(revision: str | None) -> str:
    """``missing`` (no ``alembic_version``: never migrated), ``current`` (at a head of this
    code's migrations), ``behind`` (an older revision: `recon db upgrade` has not been run) or
    ``ahead`` (a revision this code does not know: the database was migrated by newer code)."""
    if revision is None:
        return "missing"
    heads, known = _migration_revisions()
    if revision in heads:
        return "current"
    return "behind" if revision in known else "ahead"


# --------------------------------------------------------------------------------------------
# Faults: what a database error means, and retrying the ones that a rerun cures

#: PostgreSQL aborts one of two conflicting transactions with these; rerunning it succeeds
RETRYABLE_SQLSTATES: Final = {"40001": "serialization failure", "40P01": "deadlock"}
RETRY_ATTEMPTS: Final = 4
RETRY_BASE_DELAY: Final = 0.02  # seconds; doubled per attempt, then jittered
RETRY_MAX_DELAY: Final = 0.5


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL SQLSTATE of a driver error (wrapped by SQLAlchemy or not), if any."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code) if code else None


def is_retryable(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the transaction was rolled back, rerun it."""
    return isinstance(exc, DBAPIError) and sqlstate(exc) in RETRYABLE_SQLSTATES


def retrying(work: Callable[[], _T], *, attempts: int = RETRY_ATTEMPTS,
             base_delay: float = RETRY_BASE_DELAY, max_delay: float = RETRY_MAX_DELAY,
             sleep: Callable[[float], None] = time.sleep,
             jitter: Callable[[], float] = random.random) -> _T:
    """Call ``work()`` (one whole transaction: it begins and commits it) until it returns, at
    most ``attempts`` times, while it fails with a retryable error (:func:`is_retryable`).
    Between attempts it sleeps ``base_delay * 2**n`` (at most ``max_delay``) times a random
    factor in [0.5, 1.5), so two transactions that collided do not collide again in step.
    Any other error, or the last attempt's, is raised as it is."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    attempt = 1
    while True:
        try:
            return work()
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt >= attempts:
                if is_retryable(exc):
                    log.error("%s persisted through %d attempts; giving up",
                              RETRYABLE_SQLSTATES[sqlstate(exc) or ""], attempts)
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + jitter())
            log.warning("%s (attempt %d of %d); retrying the transaction in %.3fs",
                        RETRYABLE_SQLSTATES[sqlstate(exc) or ""], attempt, attempts, delay)
            sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class DatabaseFault:
    """What a database error means for whoever is waiting: ``kind`` is one of
    ``unreachable``, ``read_only``, ``disk_full``, ``overloaded``, ``busy``, ``conflict``,
    ``not_migrated``."""

    kind: str
    detail: str


# PostgreSQL SQLSTATE classes and codes -> kind
_PG_KINDS: Final = {
    "25006": "read_only",  # read_only_sql_transaction (default_transaction_read_only, standby)
    "53100": "disk_full",
    "53200": "overloaded",  # out of memory
    "53300": "overloaded",  # too many connections
    "53400": "overloaded",  # configuration limit exceeded
    "57P01": "unreachable",  # admin shutdown (a restart)
    "57P02": "unreachable",  # crash shutdown
    "57P03": "unreachable",  # cannot connect now (starting up, shutting down)
    "57014": "busy",  # statement timeout / cancelled
    "55P03": "busy",  # lock not available (lock_timeout)
    "40001": "conflict",
    "40P01": "conflict",
    "58030": "disk_full",  # io_error
}
# a table or column the code expects is not there: a schema behind the code, or a bug of ours
_PG_SCHEMA_GAPS: Final = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
_SQLITE_SCHEMA_GAPS: Final = ("no such table", "no such column")
_SQLITE_SCHEMA_GAP_WORDS: Final = ("has no column named",)
# SQLite primary result codes -> kind
_SQLITE_KINDS: Final = {
    sqlite3.SQLITE_FULL: "disk_full",
    sqlite3.SQLITE_IOERR: "disk_full",  # a write refused by the file system (EFBIG, EIO)
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_CANTOPEN: "unreachable",
    sqlite3.SQLITE_BUSY: "busy",
    sqlite3.SQLITE_LOCKED: "busy",
    sqlite3.SQLITE_NOMEM: "overloaded",
}
#: PostgreSQL refusing a new connection for want of slots (too_many_connections, 53300)
_CONNECT_REFUSED_FULL: Final = re.compile(
    r"sorry, too many clients already|remaining connection slots are reserved")
MIGRATION_TABLE: Final = "alembic_version"
_MIGRATION_TABLE_NAMED: Final = re.compile(rf"(?<![\w.]){MIGRATION_TABLE}(?!\w)")


def _detail(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig).split())[:300]


def _schema_gap(exc: DBAPIError) -> bool:
    """A missing table or column (whatever the reason)."""
    if isinstance(exc.orig, sqlite3.Error):
        detail = _detail(exc)
        return detail.startswith(_SQLITE_SCHEMA_GAPS) or any(
            w in detail for w in _SQLITE_SCHEMA_GAP_WORDS)
    return sqlstate(exc) in _PG_SCHEMA_GAPS


def _missing_relation(exc: DBAPIError) -> bool:
    if isinstance(exc.orig, sqlite3.Error):
        return _detail(exc).startswith("no such table")
    return sqlstate(exc) == "42P01"


def _connection_lost(exc: DBAPIError) -> bool:
    """The connection itself failed: lost (SQLAlchemy invalidated it), or never made (the
    driver's connection is bad, or connecting timed out)."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, psycopg.errors.ConnectionTimeout):
        return True
    pgconn = getattr(orig, "pgconn", None) if isinstance(orig, psycopg.Error) else None
    return pgconn is not None and pgconn.status != psycopg.pq.ConnStatus.OK


def _not_migrated(exc: DBAPIError, db: Database | None) -> DatabaseFault | None:
    """A missing table or column means "not migrated" only when the migrations say so: the
    migration table itself is missing, or at an older revision than this code's. A schema
    that is current (or unknown) and still lacks it is a bug of ours: None."""
    detail = _detail(exc)
    if _MIGRATION_TABLE_NAMED.search(detail) and _missing_relation(exc):
        return DatabaseFault("not_migrated", detail)
    if db is None:
        return None  # nothing to check the schema against: not said to be the schema's fault
    try:
        status = db.schema_status()
    except Exception as check:  # noqa: BLE001 - the check failed: say why, if it is a fault
        return classify_fault(check)
    if status in ("missing", "behind"):
        return DatabaseFault("not_migrated", f"{detail} (schema {status})")
    return None


def classify_fault(exc: BaseException, db: Database | None = None) -> DatabaseFault | None:
    """The fault behind a database error, or None when it is not one of the database's
    availability (a constraint violation, a bug of ours: those are not 503s, they are 500s
    with a logged traceback).

    ``unreachable`` only when the connection was really lost or could not be made (SQLAlchemy
    invalidated it, the driver's connection is bad, SQLSTATE class 08, an administrator or
    crash shutdown 57P01–57P03, SQLite cannot open the file): an error without a SQLSTATE on
    a live connection (psycopg refusing more than 65,535 parameters) is not one.
    ``not_migrated`` only when ``db``'s migrations say so (:func:`_not_migrated`): a typo'd
    table name in a current schema is a bug."""
    if isinstance(exc, PoolTimeout):  # every connection of this process's pool is in use
        return DatabaseFault("overloaded", "no pooled database connection came free in time "
                             f"({' '.join(str(exc).split())[:200]})")
    if not isinstance(exc, DBAPIError):
        return None
    detail = _detail(exc)
    if _schema_gap(exc):
        return _not_migrated(exc, db)
    if isinstance(exc.orig, sqlite3.Error):
        code = getattr(exc.orig, "sqlite_errorcode", None)
        kind = _SQLITE_KINDS.get(code & 0xFF) if isinstance(code, int) else None
        if kind is None and exc.connection_invalidated:
            kind = "unreachable"
        return DatabaseFault(kind, detail) if kind else None
    state = sqlstate(exc)
    kind = _PG_KINDS.get(state) if state is not None else None
    if kind is None and state is None and _CONNECT_REFUSED_FULL.search(detail):
        kind = "overloaded"  # 53300 while connecting: libpq gives the message, no SQLSTATE
    if kind is None and state is not None and state.startswith("08"):
        kind = "unreachable"
    if kind is None and _connection_lost(exc):
        kind = "unreachable"
    return DatabaseFault(kind, detail) if kind else None
