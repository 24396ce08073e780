"""The runner: load rows, run the pure core, persist what changed -- one run at a time.

A run (:func:`run_reconciliation`) goes like this:

1. **Lock.** Only one run at a time across every process and host: on PostgreSQL a
   session-level ``pg_try_advisory_lock`` held on a dedicated connection for the whole run (the
   server drops it the moment that connection dies, so a ``kill -9`` never leaves it stuck); on
   SQLite an exclusive ``flock`` on a file beside the database (``<db>.reconlock``; the kernel
   drops it when the process dies). A runner that cannot get the lock raises
   :class:`RunInProgress` at once; it never waits.
2. **Open the run.** In one short write transaction: every ``ReconRun`` still ``running`` is
   marked ``failed`` (we hold the lock, so its process is dead), the mode and window are decided,
   and this run's row is inserted as ``running``.
3. **Load** in one read snapshot (PostgreSQL ``REPEATABLE READ READ ONLY``; SQLite one read
   transaction), with plain set-based ``SELECT``\\ s building the engine's NamedTuples
   positionally. A *full* run reads everything (on PostgreSQL through server-side cursors on the
   raw psycopg connection). An *incremental* run reads what changed since the last successful
   run in the order the database keeps (rows whose ``change_seq`` is at or above that run's
   ``change_mark``; see :mod:`recon.engine.changes`), plus the subjects of discrepancies
   reopened since, plus succeeded payments whose settlement deadline lies between the two
   runs' ``as_of`` (either way), and expands that to whole dossiers (every payment of each) and
   whole provider transactions (every settlement line of each), as the core requires of a
   partial run.
4. **Reconcile and classify** (pure; ``partial=True`` for incremental runs). A full run on
   PostgreSQL starts the core on the settlement lines and payments while the dossiers are
   still being read (see :class:`_FullLoad`).
5. **Persist in ONE write transaction**: every current finding is upserted by identity
   (``INSERT ... ON CONFLICT (identity) DO UPDATE ... WHERE status IN ('open',
   'auto_resolved')``: new rows are inserted, open ones refreshed, auto-resolved ones that hold
   again reopened, and a human resolution is never undone); findings that no longer hold are
   set ``auto_resolved`` with the reason (vi/en); the run row becomes ``succeeded`` with its
   counts; one audit event records the run's changes. A ``kill -9`` before the commit leaves
   nothing but a ``running`` row (failed by the next run); after it, a rerun finds everything
   already in place. Either way the discrepancy set ends up exactly as one uninterrupted run
   leaves it. A full run on PostgreSQL opens that transaction before the core starts and
   upserts the findings that need no dossier in it, on a worker thread, while the core walks
   the dossiers (:class:`_EarlyWrite`); the rest follows as above.

``dry_run=True`` takes no lock and writes nothing at all (no ``ReconRun`` row, no discrepancy,
no audit event): it loads, reconciles, classifies against the open discrepancies, and reports.

Modes: ``full`` reads everything; ``incremental`` reads what changed and falls back to a full
run when there is no successful run with a change mark yet; ``auto`` is incremental. The
opening transaction takes this run's mark (:func:`recon.engine.changes.take_mark`) and stores
it on the run row; ``recon_runs.window_start`` keeps the previous run's ``as_of``, from which
deadlines are re-judged.

What the incremental loader relies on: the database stamps ``change_seq`` on every write
(migration ``0009_change_seq``), the app never deletes payments, settlement lines, intents or
dossiers (a fee line's deletion stamps its dossier), and anything that moves a payment from one
dossier to another must leave an open discrepancy about it or touch the old dossier.
``as_of`` drives settlement deadlines only. The nightly full run re-derives everything in any
case.
"""

# ruff: noqa: S608 - every SQL string here is built from this module's constants; values are
# always bound parameters.
from __future__ import annotations

import contextlib
import fcntl
import functools
import gc
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, TypeVar

from sqlalchemy import Connection, Date, Engine, bindparam, text
from sqlalchemy.engine import make_url

from recon.audit import chain as audit
from recon.clock import Clock
from recon.db import Database, UTCDateTime
from recon.engine import changes
from recon.engine.core import Reconciliation, reconcile
from recon.engine.lifecycle import Classification, Resolution, classify
from recon.engine.records import (
    KINDS,
    Discrepancy,
    DossierRow,
    EngineConfig,
    IntentRow,
    PaymentRow,
    SettlementLineRow,
)
from recon.errors import Conflict

Mode = Literal["full", "incremental", "auto"]
Progress = Callable[[str], None]

LOCK_KEY: Final = 0x7265636F6E02  # "recon" + 2: the reconciliation run lock
DEFAULT_OVERLAP: Final = timedelta(minutes=5)
CHUNK: Final = 500  # ids per IN (...) list: well under SQLite's variable limit
SCAN_BATCH: Final = 10_000
SYSTEM_ACTOR: Final = "system:reconcile"
ANALYZE_AFTER: Final = 10_000  # new discrepancies after which a run refreshes the statistics

_R = TypeVar("_R", bound=tuple[Any, ...])


class RunInProgress(Conflict):
    """Another reconciliation run holds the lock."""

    code = "run_in_progress"

    def __init__(self) -> None:
        super().__init__(
            "another reconciliation run is in progress; this one did nothing",
            hint="Wait for it to finish (recon-runs shows it), then run again if needed.",
        )


# --------------------------------------------------------------------------- configuration

_DAYS_RE = re.compile(r"^RECON_([A-Z0-9]+)_SETTLEMENT_DAYS$")
_TOLERANCE_RE = re.compile(r"^RECON_([A-Z0-9]+)_TOLERANCE_VND$")


def engine_config_from_env(env: Mapping[str, str]) -> EngineConfig:
    """``RECON_<PROVIDER>_SETTLEMENT_DAYS`` (default 2) and ``RECON_<PROVIDER>_TOLERANCE_VND``
    (default 0) for every provider named in the environment; ``RECON_SETTLEMENT_DAYS`` and
    ``RECON_TOLERANCE_VND`` change the defaults."""
    days: dict[str, int] = {}
    tolerances: dict[str, int] = {}
    default_days = 2
    default_tolerance = 0
    for name, raw in env.items():
        if raw is None or str(raw).strip() == "":
            continue
        if name == "RECON_SETTLEMENT_DAYS":
            default_days = _whole(name, raw)
        elif name == "RECON_TOLERANCE_VND":
            default_tolerance = _whole(name, raw)
        elif m := _DAYS_RE.match(name):
            days[m.group(1).lower()] = _whole(name, raw)
        elif m := _TOLERANCE_RE.match(name):
            tolerances[m.group(1).lower()] = _whole(name, raw)
    return EngineConfig(settlement_days=days, default_settlement_days=default_days,
                        tolerances=tolerances, default_tolerance=default_tolerance)


def _whole(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {raw!r}")
    return value


def overlap_from_env(env: Mapping[str, str]) -> timedelta:
    raw = env.get("RECON_RECONCILE_OVERLAP_SECONDS")
    if raw is None or raw.strip() == "":
        return DEFAULT_OVERLAP
    return timedelta(seconds=_whole("RECON_RECONCILE_OVERLAP_SECONDS", raw))


# --------------------------------------------------------------------------- the lock


class RunLock:
    """One reconciliation at a time, across processes and hosts. ``acquire()`` never waits."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Connection | None = None
        self._fd: int | None = None
        self._thread_lock: threading.Lock | None = None

    def acquire(self) -> bool:
        if self.db.dialect == "postgresql":
            conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                        {"k": LOCK_KEY}).scalar_one())
            except BaseException:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        path = _sqlite_lock_path(self.db.url)
        if path is None:  # in-memory database: only this process can see it
            lock = _MEMORY_LOCKS.setdefault(self.db.url, threading.Lock())
            if not lock.acquire(blocking=False):
                return False
            self._thread_lock = lock
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            except Exception:  # noqa: BLE001 - a broken connection: closing it drops the lock
                conn.invalidate()
            finally:
                conn.close()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if self._thread_lock is not None:
            lock, self._thread_lock = self._thread_lock, None
            lock.release()

    def __enter__(self) -> RunLock:
        if not self.acquire():
            raise RunInProgress()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


_MEMORY_LOCKS: dict[str, threading.Lock] = {}


def _sqlite_lock_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".reconlock")


# --------------------------------------------------------------------------- the summary


@dataclass
class RunSummary:
    """What one run found and changed; ``as_dict()`` is the CLI's JSON line."""

    run_id: int | None
    mode: str
    requested_mode: str
    as_of: datetime
    window_start: datetime | None
    dry_run: bool
    counts: dict[str, int]
    new: int
    still_open: int
    auto_resolved: int
    reopened: int
    untouched: int
    loaded: dict[str, int]
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    open_by_kind: dict[str, int] | None = None  # every open discrepancy after the run

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": "dry_run" if self.dry_run else "succeeded",
            "mode": self.mode,
            "as_of": self.as_of.isoformat(),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "dry_run": self.dry_run,
            "counts": self.counts,
            "total": self.total,
            "new": self.new,
            "still_open": self.still_open,
            "auto_resolved": self.auto_resolved,
            "reopened": self.reopened,
            "untouched": self.untouched,
            "open_by_kind": self.open_by_kind,
            "loaded": self.loaded,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 3),
        }

    def run_counts(self) -> dict[str, Any]:
        """What the ReconRun row keeps in ``counts``."""
        return {"by_kind": self.counts, "total": self.total, "new": self.new,
                "still_open": self.still_open, "auto_resolved": self.auto_resolved,
                "reopened": self.reopened, "untouched": self.untouched,
                "loaded": self.loaded, "open_by_kind": self.open_by_kind,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


class Loaded(NamedTuple):
    dossiers: list[DossierRow]
    intents: list[IntentRow]
    payments: list[PaymentRow]
    lines: list[SettlementLineRow]
    previous_open: list[str]


# --------------------------------------------------------------------------- SQL

# The loader reads only what the core reads. The core never looks at a payment's channel nor at
# a settlement line's fee, net or transaction time (the gross amount is what is reconciled), so
# those fields are filled with '' / 0 / NULL instead of being read: about 3.5 million fewer
# values to decode and keep at a million dossiers. tests/reconcile/test_loader_columns.py pins
# that the core's output does not depend on them; change both together.
_PAY_COLS = ("p.id, p.provider, p.provider_txn_id, '' AS channel, p.amount, p.status, "
             "p.paid_at, p.dossier_id, p.intent_id, p.reference, p.bank_reference")
_LINE_COLS = ("l.id, l.provider, l.provider_txn_id, l.amount, 0 AS fee, 0 AS net, l.settled_on, "
              "NULL AS transaction_at")
_INTENT_COLS = "i.id, i.dossier_id, i.reference, i.amount, i.channel, i.status"
_FEE_TOTAL = ("CAST(COALESCE((SELECT SUM(f.amount) FROM fee_lines f WHERE f.dossier_id = d.id),"
              " 0) AS BIGINT)")

_FULL_DOSSIERS = """
SELECT d.id, d.code, CAST(COALESCE(f.total, 0) AS BIGINT)
FROM dossiers d
LEFT JOIN (SELECT dossier_id, SUM(amount) AS total FROM fee_lines GROUP BY dossier_id) f
       ON f.dossier_id = d.id
WHERE d.id IN (SELECT dossier_id FROM payments WHERE dossier_id IS NOT NULL
               UNION SELECT i.dossier_id FROM payments p
                     JOIN payment_intents i ON i.id = p.intent_id WHERE p.dossier_id IS NULL
               UNION SELECT dossier_id FROM discrepancies
                     WHERE status = 'open' AND dossier_id IS NOT NULL)
"""
_FULL_PAYMENTS = f"SELECT {_PAY_COLS} FROM payments p"
_FULL_LINES = f"SELECT {_LINE_COLS} FROM settlement_lines l"
_FULL_INTENTS = (f"SELECT {_INTENT_COLS} FROM payment_intents i WHERE i.id IN "
                 "(SELECT intent_id FROM payments WHERE dossier_id IS NULL "
                 "AND intent_id IS NOT NULL)")
_OPEN_ALL = "SELECT identity FROM discrepancies WHERE status = 'open'"
_OPEN_ABOUT = ("SELECT dossier_id FROM discrepancies WHERE status = 'open' "
               "AND dossier_id IS NOT NULL AND {IN}")

_TYPES: dict[str, dict[str, Any]] = {
    "payment": {"paid_at": UTCDateTime()},
    "line": {"settled_on": Date(), "transaction_at": UTCDateTime()},
}
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f]+-[0-9A-Fa-f]+(-[0-9]+)?$")


def _chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _maker(cls: type[_R]) -> Callable[[Sequence[Any]], _R]:
    """``cls(*row)`` without a Python-level call per row (NamedTuples are tuples)."""
    return functools.partial(tuple.__new__, cls)


_make_dossier = _maker(DossierRow)
_make_payment = _maker(PaymentRow)
_make_line = _maker(SettlementLineRow)
_make_intent = _maker(IntentRow)


def _first(row: Sequence[Any]) -> Any:
    return row[0]


class _Reader:
    """Runs the loader's SELECTs on one connection (one snapshot) and builds engine rows."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"

    def rows(self, sql: str, make: Callable[[Sequence[Any]], _R], *, kind: str | None = None,
             params: Mapping[str, Any] | None = None, expanding: Sequence[str] = ()) -> list[_R]:
        """Small or medium reads, through SQLAlchemy (typed columns give aware datetimes on
        SQLite too)."""
        stmt = text(sql)
        for name in expanding:
            stmt = stmt.bindparams(bindparam(name, expanding=True))
        columns = _TYPES.get(kind or "", {})
        if columns:
            typed = stmt.columns(**columns)  # only named columns get a type
            result = self.conn.execute(typed, dict(params or {}))
        else:
            result = self.conn.execute(stmt, dict(params or {}))
        return [make(r) for r in result]

    def where_in(self, sql: str, column: str, values: Iterable[Any],
                 make: Callable[[Sequence[Any]], _R], *, kind: str | None = None,
                 params: Mapping[str, Any] | None = None) -> list[_R]:
        """``sql`` with ``{IN}`` standing for "``column`` is one of ``values``" (all ints or all
        strings): one query with an array on PostgreSQL, chunked ``IN (...)`` on SQLite."""
        wanted = list(values)
        if not wanted:
            return []
        if self.pg:
            # a semi-join on unnest(array), not "= ANY(array)": the planner can hash it or
            # walk an index, where ANY compares every row with every element
            pg_type = "text" if isinstance(wanted[0], str) else "bigint"
            clause = f"{column} IN (SELECT unnest(CAST(:vals AS {pg_type}[])))"
            return self.rows(sql.replace("{IN}", clause), make, kind=kind,
                             params={**(params or {}), "vals": wanted})
        out: list[_R] = []
        for chunk in _chunks(wanted):
            out.extend(self.rows(sql.replace("{IN}", f"{column} IN :vals"), make, kind=kind,
                                 params={**(params or {}), "vals": chunk},
                                 expanding=("vals",)))
        return out

    def scan(self, sql: str, make: Callable[[Sequence[Any]], _R], *,
             kind: str | None = None) -> list[_R]:
        """A whole-table read. PostgreSQL: a server-side cursor on the raw psycopg connection,
        binary rows built straight into engine tuples; SQLite: the SQLAlchemy path."""
        if not self.pg:
            return self.rows(sql, make, kind=kind)
        raw: Any = self.conn.connection.dbapi_connection
        out: list[_R] = []
        with raw.cursor(name=f"recon_scan_{kind or 'x'}", binary=True) as cursor:
            cursor.itersize = SCAN_BATCH
            cursor.execute(sql)
            while batch := cursor.fetchmany(SCAN_BATCH):
                out.extend(map(make, batch))
        return out


def _scan_in_snapshot(engine: Engine, snapshot: str, sql: str,
                      make: Callable[[Sequence[Any]], _R], kind: str) -> list[_R]:
    """One big scan on its own connection, in the snapshot another transaction exported."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    with engine.connect() as raw_conn:
        conn = raw_conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        with conn.begin():
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            _tune_scans(conn)
            return _Reader(conn).scan(sql, make, kind=kind)


def _tune_scans(conn: Connection) -> None:
    """Plan whole-table cursors for every row, not the first 10 %; no JIT (compiling costs a
    streaming scan more than it saves); timestamps in UTC: under any other session time zone
    (Debian's default is ``Etc/UTC``, a zone, not UTC itself) psycopg converts every
    ``timestamptz`` through ``zoneinfo``, over twice the cost of the value itself. The values
    are the same instants either way."""
    conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")


class _FullLoad:
    """A full load under way. On PostgreSQL the three big tables are read at once on three
    connections sharing the caller's snapshot (``pg_export_snapshot``): the server produces one
    while Python builds the rows of another, and the core can walk the settlement lines and
    payments while the dossiers (the costliest query: every fee line summed) still arrive.
    Elsewhere everything is read at once, in order."""

    def __init__(self, conn: Connection, pool: ThreadPoolExecutor | None) -> None:
        reader = _Reader(conn)
        self.dossiers_done: float | None = None
        if pool is not None:
            snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            engine = conn.engine
            self._dossiers = pool.submit(self._timed, _scan_in_snapshot, engine, snapshot,
                                         _FULL_DOSSIERS, _make_dossier, "dossier")
            self._payments = pool.submit(_scan_in_snapshot, engine, snapshot, _FULL_PAYMENTS,
                                         _make_payment, "payment")
            self._lines = pool.submit(_scan_in_snapshot, engine, snapshot, _FULL_LINES,
                                      _make_line, "line")
            self.intents = reader.rows(_FULL_INTENTS, _make_intent)
            self.previous = reader.rows(_OPEN_ALL, _first)
        else:
            done: Future[Any] = Future()
            done.set_result(self._timed(reader.scan, _FULL_DOSSIERS, _make_dossier,
                                        kind="dossier"))
            self._dossiers = done
            self._payments = Future()
            self._payments.set_result(reader.scan(_FULL_PAYMENTS, _make_payment, kind="payment"))
            self._lines = Future()
            self._lines.set_result(reader.scan(_FULL_LINES, _make_line, kind="line"))
            self.intents = reader.rows(_FULL_INTENTS, _make_intent)
            self.previous = reader.rows(_OPEN_ALL, _first)

    def _timed(self, scan: Callable[..., list[DossierRow]], *args: Any,
               **kwargs: Any) -> list[DossierRow]:
        rows = scan(*args, **kwargs)
        self.dossiers_done = time.perf_counter()
        return rows

    def payments(self) -> list[PaymentRow]:
        rows: list[PaymentRow] = self._payments.result()
        return rows

    def lines(self) -> list[SettlementLineRow]:
        rows: list[SettlementLineRow] = self._lines.result()
        return rows

    def dossiers(self) -> list[DossierRow]:
        rows: list[DossierRow] = self._dossiers.result()
        return rows

    def loaded(self) -> Loaded:
        return Loaded(self.dossiers(), self.intents, self.payments(), self.lines(),
                      self.previous)


@contextlib.contextmanager
def _full_load(conn: Connection, *, parallel: bool = True) -> Iterator[_FullLoad]:
    if conn.dialect.name == "postgresql" and parallel:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="recon-load") as pool:
            yield _FullLoad(conn, pool)
    else:
        yield _FullLoad(conn, None)


def load_full(conn: Connection, *, parallel: bool = True) -> Loaded:
    """Everything (see :class:`_FullLoad`)."""
    with _full_load(conn, parallel=parallel) as load:
        return load.loaded()


def load_incremental(conn: Connection, *, mark: int, since: datetime, as_of: datetime,
                     config: EngineConfig) -> Loaded:
    """What changed at or after the change ``mark`` of the previous run (whose ``as_of`` was
    ``since``), expanded to whole dossiers and transactions (see :mod:`.changes`)."""
    reader = _Reader(conn)
    ws = {"mark": mark}
    payments: dict[int, PaymentRow] = {}

    def add_payments(rows: Iterable[PaymentRow]) -> None:
        for p in rows:
            payments.setdefault(p.id, p)

    # seeds: what changed ---------------------------------------------------------------
    add_payments(reader.rows(
        f"SELECT {_PAY_COLS} FROM payments p WHERE {changes.CHANGED.format(alias='p.')}",
        _make_payment, kind="payment", params=ws))
    seed_lines = reader.rows(
        f"SELECT {_LINE_COLS} FROM settlement_lines l WHERE {changes.CHANGED.format(alias='l.')}",
        _make_line, kind="line", params=ws)
    dossier_ids: set[int] = set(reader.rows(changes.CHANGED_DOSSIERS, _first, params=ws))
    # the subjects of discrepancies opened again (by hand) since
    reopened = reader.rows(changes.REOPENED, tuple, params=ws)
    dossier_ids.update(r[0] for r in reopened if r[0] is not None)
    add_payments(reader.where_in(f"SELECT {_PAY_COLS} FROM payments p WHERE {{IN}}", "p.id",
                                 sorted({r[1] for r in reopened if r[1] is not None}),
                                 _make_payment, kind="payment"))
    known_lines = {ln.id for ln in seed_lines}
    seed_lines += [ln for ln in reader.where_in(
        f"SELECT {_LINE_COLS} FROM settlement_lines l WHERE {{IN}}", "l.id",
        sorted({r[2] for r in reopened if r[2] is not None} - known_lines), _make_line,
        kind="line")]
    # ... and what fell due, or stopped being due: succeeded payments, still without a
    # settlement line, whose deadline lies between the previous as_of and this one
    for condition, params, names in changes.fell_due(since, as_of, config):
        add_payments(reader.rows(f"SELECT {_PAY_COLS} FROM payments p WHERE {condition}",
                                 _make_payment, kind="payment", params=params,
                                 expanding=names))
    # payments of the transactions the new lines settle: by their own id, or by the bank's
    # reference (a bank statement line)
    seed_keys = {(ln.provider, ln.provider_txn_id) for ln in seed_lines}
    add_payments(_by_keys(reader, "payments p", _PAY_COLS, "p", seed_keys, _make_payment,
                          "payment"))
    add_payments(_by_bank_references(reader, seed_keys))

    # dossiers: of every seed payment (directly or through its intent), and of any open
    # discrepancy about a seed payment or line (a payment that moved keeps its old dossier's
    # findings in view)
    intents: dict[int, IntentRow] = {}
    dossier_ids.update(reader.where_in(_OPEN_ABOUT, "settlement_line_id",
                                       [ln.id for ln in seed_lines], _first))
    expanded: set[int] = set()

    def whole_dossiers(of: Sequence[PaymentRow]) -> None:
        """The dossiers of ``of`` (and those already wanted), each with every payment."""
        _add_intents_for(reader, of, intents)
        for p in of:
            did = p.dossier_id
            if did is None and p.intent_id is not None:
                did = intents[p.intent_id].dossier_id
            if did is not None:
                dossier_ids.add(did)
        dossier_ids.update(reader.where_in(_OPEN_ABOUT, "payment_id", [p.id for p in of],
                                           _first))
        todo = sorted(dossier_ids - expanded)
        expanded.update(todo)
        add_payments(reader.where_in(f"SELECT {_PAY_COLS} FROM payments p WHERE {{IN}}",
                                     "p.dossier_id", todo, _make_payment, kind="payment"))
        add_payments(reader.where_in(
            f"SELECT {_PAY_COLS} FROM payments p WHERE p.dossier_id IS NULL AND p.intent_id IN "
            "(SELECT i.id FROM payment_intents i WHERE {IN})", "i.dossier_id", todo,
            _make_payment, kind="payment"))
        _add_intents_for(reader, payments.values(), intents)

    # every payment of those dossiers ---------------------------------------------------
    whole_dossiers(list(payments.values()))

    # bank references: the lines a payment may take by its bank reference go to whichever
    # payment the core gives them (one whose own id is theirs, else the lowest id carrying the
    # reference), so those payments are read too, with their whole dossiers; rarely any
    bank_keys: set[tuple[str, str]] = set()
    while True:
        wanted = {(p.provider, p.bank_reference) for p in payments.values()
                  if p.bank_reference is not None and p.bank_reference != p.provider_txn_id}
        wanted -= bank_keys
        if not wanted:
            break
        bank_keys |= wanted
        rivals = [p for p in (*_by_keys(reader, "payments p", _PAY_COLS, "p", wanted,
                                        _make_payment, "payment"),
                              *_by_bank_references(reader, wanted)) if p.id not in payments]
        if not rivals:
            break
        add_payments(rivals)
        whole_dossiers(rivals)
    ordered_dossiers = sorted(dossier_ids)

    # every settlement line of their transactions ---------------------------------------
    keys = seed_keys | bank_keys | {(p.provider, p.provider_txn_id) for p in payments.values()}
    lines = _by_keys(reader, "settlement_lines l", _LINE_COLS, "l", keys, _make_line, "line")

    dossiers = reader.where_in(f"SELECT d.id, d.code, {_FEE_TOTAL} FROM dossiers d WHERE {{IN}}",
                               "d.id", ordered_dossiers, _make_dossier)

    previous: set[str] = set()
    open_ids = "SELECT identity FROM discrepancies WHERE status = 'open' AND {IN}"
    previous.update(reader.where_in(open_ids, "dossier_id", ordered_dossiers, _first))
    previous.update(reader.where_in(open_ids, "payment_id", payments, _first))
    previous.update(reader.where_in(open_ids, "settlement_line_id", [ln.id for ln in lines],
                                    _first))
    return Loaded(dossiers, list(intents.values()), list(payments.values()), lines,
                  sorted(previous))


def _by_keys(reader: _Reader, table: str, cols: str, alias: str, keys: set[tuple[str, str]],
             make: Callable[[Sequence[Any]], _R], kind: str) -> list[_R]:
    """Rows of ``table`` whose (provider, provider_txn_id) is in ``keys``, per provider (the
    index is on both columns)."""
    by_provider: dict[str, list[str]] = {}
    for provider, txn in sorted(keys):
        by_provider.setdefault(provider, []).append(txn)
    out: list[_R] = []
    for provider, txns in by_provider.items():
        out.extend(reader.where_in(
            f"SELECT {cols} FROM {table} WHERE {alias}.provider = :provider AND {{IN}}",
            f"{alias}.provider_txn_id", txns, make, kind=kind, params={"provider": provider}))
    return out


def _by_bank_references(reader: _Reader, keys: set[tuple[str, str]]) -> list[PaymentRow]:
    """Payments whose (provider, bank_reference) is in ``keys`` (the partial index on both
    columns holds only payments with a reference)."""
    by_provider: dict[str, list[str]] = {}
    for provider, reference in sorted(keys):
        by_provider.setdefault(provider, []).append(reference)
    out: list[PaymentRow] = []
    for provider, references in by_provider.items():
        out.extend(reader.where_in(
            f"SELECT {_PAY_COLS} FROM payments p WHERE p.provider = :provider "
            "AND p.bank_reference IS NOT NULL AND {IN}", "p.bank_reference", references,
            _make_payment, kind="payment", params={"provider": provider}))
    return out


def _add_intents_for(reader: _Reader, payments: Iterable[PaymentRow],
                     intents: dict[int, IntentRow]) -> None:
    """The intents the core needs: those of payments that carry no dossier of their own."""
    wanted = sorted({p.intent_id for p in payments
                     if p.dossier_id is None and p.intent_id is not None} - set(intents))
    for row in reader.where_in(f"SELECT {_INTENT_COLS} FROM payment_intents i WHERE {{IN}}",
                               "i.id", wanted, _make_intent):
        intents[row.id] = row


# --------------------------------------------------------------------------- snapshots


@contextlib.contextmanager
def read_snapshot(db: Database) -> Iterator[Connection]:
    """One consistent view of the database for the whole load."""
    with db.engine.connect() as raw_conn:
        if db.dialect == "postgresql":
            conn = raw_conn.execution_options(isolation_level="REPEATABLE READ",
                                              postgresql_readonly=True)
        else:
            conn = raw_conn.execution_options(recon_readonly=True)
        with conn.begin():
            if db.dialect == "postgresql":
                _tune_scans(conn)
            yield conn


# --------------------------------------------------------------------------- persisting

_DISC_COLS: Final = (
    "identity", "kind", "status", "dossier_id", "payment_id", "settlement_line_id", "provider",
    "expected_amount", "actual_amount", "delta", "explanation", "explanation_en",
    "within_tolerance", "detected_at", "first_run_id", "last_run_id", "updated_at",
)
_VALUE_COLS: Final = ("kind", "dossier_id", "payment_id", "settlement_line_id", "provider",
                      "expected_amount", "actual_amount", "delta", "explanation",
                      "explanation_en", "within_tolerance")
_CHANGED = " OR ".join(f"discrepancies.{c} IS NOT excluded.{c}" for c in _VALUE_COLS)
_CHANGED_PG = " OR ".join(f"discrepancies.{c} IS DISTINCT FROM excluded.{c}"
                          for c in _VALUE_COLS)
_REOPEN_NULLS: Final = ("auto_resolved_reason", "auto_resolved_reason_en", "resolved_at",
                        "resolved_by", "resolution_type")


def _upsert_tail(pg: bool) -> str:
    changed = _CHANGED_PG if pg else _CHANGED
    sets = [f"{c} = excluded.{c}" for c in _VALUE_COLS]
    sets.append("status = 'open'")
    sets.append("last_run_id = excluded.last_run_id")
    sets += [f"{c} = CASE WHEN discrepancies.status = 'auto_resolved' THEN NULL "
             f"ELSE discrepancies.{c} END" for c in _REOPEN_NULLS]
    sets.append(f"updated_at = CASE WHEN discrepancies.status <> 'open' OR {changed} "
                "THEN excluded.updated_at ELSE discrepancies.updated_at END")
    return ("ON CONFLICT (identity) DO UPDATE SET " + ", ".join(sets)
            + " WHERE discrepancies.status IN ('open', 'auto_resolved')")


def _finding_rows(findings: Iterable[Discrepancy], run_id: int, now: datetime,
                  pg: bool) -> Iterator[tuple[Any, ...]]:
    stamp: Any = now if pg else now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for d in findings:
        yield (d.identity, d.kind, "open", d.dossier_id, d.payment_id, d.settlement_line_id,
               d.provider, d.expected_amount, d.actual_amount, d.delta, d.explanation,
               d.explanation_en, d.within_tolerance, stamp, run_id, run_id, stamp)


def _reopened(conn: Connection, identities: Sequence[str]) -> list[str]:
    out: list[str] = []
    for chunk in _chunks(identities):
        out.extend(conn.execute(
            text("SELECT identity FROM discrepancies WHERE status = 'auto_resolved' "
                 "AND identity IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": chunk}).scalars())
    return out


def persist(conn: Connection, *, run_id: int, now: datetime,
            findings: Sequence[Discrepancy], resolved: Sequence[Resolution] = (),
            copy: bool = True) -> list[str]:
    """Upsert ``findings`` by identity and close ``resolved`` as ``auto_resolved`` (see the
    module docstring), in the caller's transaction. Returns the identities that were reopened,
    sorted. A run may call it more than once in its transaction, with disjoint findings.

    On PostgreSQL the findings are streamed with a binary ``COPY`` into a temporary table and
    upserted from it in one statement; elsewhere (or with ``copy=False``, which the tests use
    to hold the two to the same rows) one ``INSERT ... ON CONFLICT`` per finding."""
    pg = conn.dialect.name == "postgresql"
    cols = ", ".join(_DISC_COLS)
    any_auto = conn.execute(text(
        "SELECT 1 FROM discrepancies WHERE status = 'auto_resolved' LIMIT 1")).first()
    reopened: list[str] = []
    if pg and copy and findings:
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            # room to sort the findings in memory (4 MB would spill 45,000 of them to disk)
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("DROP TABLE IF EXISTS pg_temp.recon_incoming")
            cursor.execute(f"CREATE TEMP TABLE recon_incoming ON COMMIT DROP AS "
                           f"SELECT {cols} FROM discrepancies WITH NO DATA")
            cursor.execute("SELECT format_type(atttypid, NULL) FROM pg_attribute "
                           "WHERE attrelid = 'recon_incoming'::regclass AND attnum > 0 "
                           "AND NOT attisdropped ORDER BY attnum")
            types = [r[0] for r in cursor.fetchall()]
            # binary, with the column types given: a third of the time of text COPY
            with cursor.copy(f"COPY recon_incoming ({cols}) FROM STDIN (FORMAT BINARY)") as out:
                out.set_types(types)
                for row in _finding_rows(findings, run_id, now, pg):
                    out.write_row(row)
            if any_auto is not None:
                cursor.execute("SELECT i.identity FROM recon_incoming i JOIN discrepancies d "
                               "ON d.identity = i.identity WHERE d.status = 'auto_resolved'")
                reopened = [r[0] for r in cursor.fetchall()]
            cursor.execute(f"INSERT INTO discrepancies ({cols}) SELECT {cols} "
                           f"FROM recon_incoming ORDER BY identity " + _upsert_tail(pg))
    elif findings:
        if any_auto is not None:
            reopened = _reopened(conn, [d.identity for d in findings])
        placeholders = ", ".join(("%s" if pg else "?") for _ in _DISC_COLS)
        conn.exec_driver_sql(
            f"INSERT INTO discrepancies ({cols}) VALUES ({placeholders}) " + _upsert_tail(pg),
            list(_finding_rows(findings, run_id, now, pg)))
    if resolved:
        conn.execute(text(
            "UPDATE discrepancies SET status = 'auto_resolved', auto_resolved_reason = :vi, "
            "auto_resolved_reason_en = :en, resolution_type = 'auto', resolved_by = :actor, "
            "resolved_at = :now, last_run_id = :run, updated_at = :now "
            "WHERE identity = :identity AND status = 'open'"
        ).bindparams(bindparam("now", type_=UTCDateTime())), [
            {"vi": r.reason, "en": r.reason_en, "actor": SYSTEM_ACTOR, "now": now,
             "run": run_id, "identity": r.identity} for r in resolved])
    return sorted(reopened)


# --------------------------------------------------------------------------- a run


_last_success = changes.last_success


def _decide(requested: Mode, last: changes.Previous | None, as_of: datetime,
            overlap: timedelta) -> tuple[str, datetime | None, int | None]:
    """The mode, and for an incremental run the previous run's ``as_of`` (recorded as the
    window start: deadlines are re-judged from it) and its change mark (what is read). Neither
    ``as_of`` nor ``overlap`` (kept for callers; no longer needed) decides what is read."""
    del as_of, overlap
    if changes.decide(requested, last) == "full" or last is None:
        return "full", None, None
    return "incremental", last.as_of, last.mark


def run_reconciliation(
    db: Database,
    *,
    clock: Clock,
    config: EngineConfig | None = None,
    as_of: datetime | None = None,
    mode: Mode = "auto",
    dry_run: bool = False,
    triggered_by: str = "cli",
    overlap: timedelta = DEFAULT_OVERLAP,
    progress: Progress | None = None,
) -> RunSummary:
    """One reconciliation run (see the module docstring). Raises :class:`RunInProgress` when
    another run holds the lock (nothing is written then)."""
    # Millions of fresh tuples and no cycles among them: the cyclic collector would rescan
    # them again and again while they are built, and all of them in one pass (half a second
    # at a million dossiers) as soon as it is switched back on. So it stays off until the run
    # is over and its rows are freed (by reference counting, which also takes them back off
    # the collector's count).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_reconciliation(db, clock=clock, config=config, as_of=as_of, mode=mode,
                                   dry_run=dry_run, triggered_by=triggered_by,
                                   overlap=overlap, progress=progress)
    finally:
        if collecting:
            gc.enable()


def _run_reconciliation(
    db: Database,
    *,
    clock: Clock,
    config: EngineConfig | None,
    as_of: datetime | None,
    mode: Mode,
    dry_run: bool,
    triggered_by: str,
    overlap: timedelta,
    progress: Progress | None,
) -> RunSummary:
    cfg = config if config is not None else EngineConfig()
    at = as_of if as_of is not None else clock.now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    at = at.astimezone(UTC)
    say = progress or (lambda _message: None)
    if dry_run:
        with read_snapshot(db) as conn:
            actual, window, since_mark = _decide(mode, _last_success(conn), at, overlap)
            summary, _result, _classification = _compute(
                conn, run_id=None, mode=actual, requested=mode, as_of=at, window_start=window,
                config=cfg, dry_run=True, say=say, since_mark=since_mark)
            return summary

    with RunLock(db):
        started = time.perf_counter()
        run_id, actual, window, since_mark = _open_run(
            db, clock, requested=mode, as_of=at, overlap=overlap, triggered_by=triggered_by,
            say=say)
        try:
            with contextlib.ExitStack() as stack:
                early: _EarlyWrite | None = None
                if db.dialect == "postgresql" and actual == "full":
                    # the write transaction opens first: the findings that need no dossier
                    # are upserted in it (on another thread) while the core walks the dossiers
                    wconn = stack.enter_context(db.engine.begin())
                    early = stack.enter_context(_EarlyWrite(wconn, run_id=run_id,
                                                            now=clock.now()))
                with read_snapshot(db) as conn:
                    summary, result, classification = _compute(
                        conn, run_id=run_id, mode=actual, requested=mode, as_of=at,
                        window_start=window, config=cfg, dry_run=False, say=say,
                        settled=None if early is None else early.submit, since_mark=since_mark)
                t0 = time.perf_counter()
                say(f"writing {summary.new} new, {summary.still_open} still open, "
                    f"{summary.auto_resolved} auto-resolved")
                if early is None:
                    wconn = stack.enter_context(db.engine.begin())
                    now = clock.now()
                    written: set[str] = set()
                    reopened: list[str] = []
                else:
                    now = early.now
                    written, reopened = early.result()
                    summary.timings["write_early"] = early.seconds
                rest = [d for d in result.discrepancies if d.identity not in written]
                reopened = sorted(reopened + persist(wconn, run_id=run_id, now=now,
                                                     findings=rest,
                                                     resolved=classification.resolved))
                summary.reopened = len(reopened)
                summary.open_by_kind = _open_by_kind(wconn)
                summary.timings["write"] = time.perf_counter() - t0
                summary.seconds = time.perf_counter() - started
                _close_run(wconn, clock, run_id, summary, classification, reopened)
                t1 = time.perf_counter()
            # (the run row keeps the timings up to here; the summary adds the commit's)
            summary.timings["commit"] = time.perf_counter() - t1
        except BaseException as exc:
            _fail_run(db, clock, run_id, exc)
            raise
        if summary.new >= ANALYZE_AFTER and db.dialect == "postgresql":
            # fresh statistics, so the next incremental run's lookups use the indexes: only
            # the columns those lookups filter on (a quarter of the time of every column; the
            # row count is refreshed all the same, and autovacuum analyzes the rest soon)
            t2 = time.perf_counter()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE discrepancies (identity, status, kind, dossier_id, "
                                     "payment_id, settlement_line_id)")
            summary.timings["analyze"] = time.perf_counter() - t2
        summary.seconds = time.perf_counter() - started
    return summary


class _EarlyWrite:
    """Upserts the findings the core hands over before it walks the dossiers, on a worker
    thread, in the run's write transaction (``conn``, which nothing else touches until
    :meth:`result`). Leaving the context waits for the worker, so an error elsewhere rolls the
    transaction back only once it is idle."""

    def __init__(self, conn: Connection, *, run_id: int, now: datetime) -> None:
        self.conn = conn
        self.run_id = run_id
        self.now = now
        self.seconds = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-write")
        self._future: Future[list[str]] | None = None
        self._identities: set[str] = set()

    def submit(self, findings: list[Discrepancy]) -> None:
        if self._future is not None:
            raise RuntimeError("the early findings come once")
        self._identities = {d.identity for d in findings}
        self._future = self._pool.submit(self._write, findings)

    def _write(self, findings: list[Discrepancy]) -> list[str]:
        started = time.perf_counter()
        try:
            return persist(self.conn, run_id=self.run_id, now=self.now, findings=findings)
        finally:
            self.seconds = time.perf_counter() - started

    def result(self) -> tuple[set[str], list[str]]:
        """The identities written, and those of them reopened."""
        if self._future is None:
            return set(), []
        return self._identities, self._future.result()

    def __enter__(self) -> _EarlyWrite:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._pool.shutdown(wait=True)


def _open_run(db: Database, clock: Clock, *, requested: Mode, as_of: datetime,
              overlap: timedelta, triggered_by: str,
              say: Progress) -> tuple[int, str, datetime | None, int | None]:
    with db.engine.begin() as conn:
        now = clock.now()
        stale = conn.execute(text(
            "UPDATE recon_runs SET status = 'failed', finished_at = :now, error = :error "
            "WHERE status = 'running'"
        ).bindparams(bindparam("now", type_=UTCDateTime())), {
            "now": now,
            "error": "abandoned: the process running it stopped before it finished "
                     "(found by the next run, which holds the run lock)",
        }).rowcount
        if stale:
            say(f"marked {stale} abandoned run(s) failed")
        actual, window, since_mark = _decide(requested, _last_success(conn), as_of, overlap)
        mark = changes.take_mark(conn)
        run_id = conn.execute(text(
            "INSERT INTO recon_runs (mode, as_of, window_start, started_at, status, "
            "triggered_by, dry_run, counts, change_mark) VALUES (:mode, :as_of, :ws, :now, "
            "'running', :by, :dry, '{}', :mark) RETURNING id"
        ).bindparams(bindparam("as_of", type_=UTCDateTime()),
                     bindparam("ws", type_=UTCDateTime()),
                     bindparam("now", type_=UTCDateTime())),
            {"mode": actual, "as_of": as_of, "ws": window, "now": now,
             "by": triggered_by[:100], "dry": False, "mark": mark}).scalar_one()
    say(f"run {run_id}: {actual}, as of {as_of.isoformat()}"
        + (f", changes since mark {since_mark}, deadlines since {window.isoformat()}"
           if window else ""))
    return int(run_id), actual, window, since_mark


def _compute(conn: Connection, *, run_id: int | None, mode: str, requested: str,
             as_of: datetime, window_start: datetime | None, config: EngineConfig,
             dry_run: bool, say: Progress,
             settled: Callable[[list[Discrepancy]], None] | None = None,
             since_mark: int | None = None,
             ) -> tuple[RunSummary, Reconciliation, Classification]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("loading" + (" everything" if mode == "full" else " recent activity"))
    return _load_and_reconcile(conn, run_id=run_id, mode=mode, requested=requested,
                               as_of=as_of, window_start=window_start, config=config,
                               dry_run=dry_run, say=say, t0=t0, timings=timings,
                               settled=settled, since_mark=since_mark)


def _load_and_reconcile(conn: Connection, *, run_id: int | None, mode: str, requested: str,
                        as_of: datetime, window_start: datetime | None, config: EngineConfig,
                        dry_run: bool, say: Progress, t0: float, timings: dict[str, float],
                        settled: Callable[[list[Discrepancy]], None] | None = None,
                        since_mark: int | None = None,
                        ) -> tuple[RunSummary, Reconciliation, Classification]:
    if mode == "full":
        with _full_load(conn) as load:
            payments, lines = load.payments(), load.lines()
            t1 = time.perf_counter()
            say(f"loaded {len(payments):,} payments, {len(lines):,} settlement lines in "
                f"{t1 - t0:.2f}s; reconciling while the dossiers load")
            # the core walks lines and payments first, and asks for the dossiers only then
            result = reconcile(dossiers=load.dossiers, intents=load.intents,
                               payments=payments, settlement_lines=lines, as_of=as_of,
                               config=config, settled=settled)
            loaded = load.loaded()
            loaded_at = load.dossiers_done or time.perf_counter()
    else:
        assert window_start is not None and since_mark is not None
        loaded = load_incremental(conn, mark=since_mark, since=window_start, as_of=as_of,
                                  config=config)
        loaded_at = t1 = time.perf_counter()
        result = reconcile(dossiers=loaded.dossiers, intents=loaded.intents,
                           payments=loaded.payments, settlement_lines=loaded.lines,
                           as_of=as_of, config=config)
    timings["load"] = loaded_at - t0
    say(f"loaded {len(loaded.dossiers):,} dossiers, {len(loaded.payments):,} payments, "
        f"{len(loaded.lines):,} settlement lines in {loaded_at - t0:.2f}s")
    classification = classify(loaded.previous_open, result, partial=mode != "full")
    t2 = time.perf_counter()
    timings["reconcile"] = t2 - t1  # from the core's start: in a full run, overlaps the load
    timings["load_and_reconcile"] = t2 - t0
    say(f"reconciled: {len(result.discrepancies):,} discrepancies in {t2 - t1:.2f}s")
    summary = RunSummary(
        run_id=run_id, mode=mode, requested_mode=requested, as_of=as_of,
        window_start=window_start, dry_run=dry_run, counts=result.counts(),
        new=len(classification.new), still_open=len(classification.still_open),
        auto_resolved=len(classification.resolved), reopened=0,
        untouched=len(classification.untouched),
        loaded={"dossiers": len(loaded.dossiers), "payments": len(loaded.payments),
                "settlement_lines": len(loaded.lines), "intents": len(loaded.intents)},
        timings=timings,
    )
    summary.seconds = t2 - t0
    return summary, result, classification


def _close_run(conn: Connection, clock: Clock, run_id: int, summary: RunSummary,
               classification: Classification, reopened: list[str]) -> None:
    now = clock.now()
    conn.execute(text(
        "UPDATE recon_runs SET status = 'succeeded', finished_at = :now, counts = :counts "
        "WHERE id = :id"
    ).bindparams(bindparam("now", type_=UTCDateTime())),
        {"now": now, "counts": json.dumps(summary.run_counts(), sort_keys=True), "id": run_id})
    if classification.new or classification.resolved or reopened:
        from sqlalchemy.orm import Session  # noqa: PLC0415 - audit.record wants a Session

        with Session(bind=conn) as session:
            audit.record(session, clock, actor=SYSTEM_ACTOR, action="reconcile.run",
                         entity_type="recon_run", entity_id=run_id, data={
                             "mode": summary.mode,
                             "as_of": summary.as_of.isoformat(),
                             "counts": summary.counts,
                             "new": summary.new,
                             "new_by_kind": _by_kind(d.kind for d in classification.new),
                             "auto_resolved": [r.identity for r in classification.resolved],
                             "reopened": reopened,
                         })
            session.flush()


def _open_by_kind(conn: Connection) -> dict[str, int]:
    out = dict.fromkeys(KINDS, 0)
    for kind, n in conn.execute(text(
            "SELECT kind, COUNT(*) FROM discrepancies WHERE status = 'open' GROUP BY kind")):
        out[kind] = int(n)
    return out


def _by_kind(kinds: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(KINDS, 0)
    for kind in kinds:
        out[kind] += 1
    return {k: v for k, v in out.items() if v}


def _fail_run(db: Database, clock: Clock, run_id: int, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with contextlib.suppress(Exception), db.engine.begin() as conn:
        conn.execute(text(
            "UPDATE recon_runs SET status = 'failed', finished_at = :now, error = :error "
            "WHERE id = :id AND status = 'running'"
        ).bindparams(bindparam("now", type_=UTCDateTime())),
            {"now": clock.now(), "error": message, "id": run_id})


__all__ = [
    "DEFAULT_OVERLAP",
    "LOCK_KEY",
    "Loaded",
    "RunInProgress",
    "RunLock",
    "RunSummary",
    "engine_config_from_env",
    "load_full",
    "load_incremental",
    "overlap_from_env",
    "persist",
    "read_snapshot",
    "run_reconciliation",
]
