"""Loading: the rows the core reads, in one read snapshot, built straight into its NamedTuples.

Everything is read in one snapshot (:func:`read_snapshot`: PostgreSQL ``REPEATABLE READ READ
ONLY``; SQLite one read transaction), with plain set-based ``SELECT``\\ s building the engine's
NamedTuples positionally.

- A full run with closed months behind (:func:`horizon`) reads the open months
  (:func:`load_open`): the rows dated from the first month not closed on, and of the months
  before only what links to them, changed since the last successful run, fell due since its
  ``as_of`` or is the subject of an open discrepancy, widened to whole dossiers and
  transactions.
- A *full* load (:func:`load_full`, :class:`FullLoad`) reads everything; on PostgreSQL the
  three big tables through server-side cursors on the raw psycopg connection, at once on three
  connections sharing the snapshot, so the core can walk the settlement lines and payments while
  the dossiers still arrive.
- An *incremental* load (:func:`load_incremental`) reads what changed since the window start:
  payments by ``updated_at``, settlement lines by ``created_at``, dossiers and intents by
  ``updated_at``, plus succeeded payments whose settlement deadline passed between the two runs,
  and expands that to whole dossiers (every payment of each) and whole provider transactions
  (every settlement line of each), as the core requires of a partial run.

What the incremental loader relies on: every write to a payment sets ``payments.updated_at``
(``record_payment`` does), settlement lines are only ever inserted, and anything that moves a
payment from one dossier to another (nothing does today) must also touch the old dossier's
``updated_at``. ``as_of`` drives settlement deadlines only: which rows are read is "what is in
the database now". The nightly full run re-derives everything in any case.
"""

# ruff: noqa: S608 - every SQL string here is built from this module's constants; values are
# always bound parameters.
from __future__ import annotations

import contextlib
import functools
import json
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from itertools import chain, compress, filterfalse, islice, repeat
from operator import itemgetter
from typing import Any, Final, Generic, NamedTuple, TypeVar

import psycopg
from sqlalchemy import Connection, Date, Engine, bindparam, text

from recon.clock import VN_TZ
from recon.db import Database, UTCDateTime
from recon.engine import changes
from recon.engine.records import (
    AllocationRow,
    DossierRow,
    EngineConfig,
    IntentRow,
    PaymentRow,
    SettlementLineRow,
    UnsplitRow,
)

CHUNK: Final = 500  # ids per IN (...) list: well under SQLite's variable limit
SCAN_BATCH: Final = 10_000
#: whole-table reads on PostgreSQL streamed in chunks of :data:`SCAN_BATCH` rows, which
#: libpq 17 and later can do (psycopg's binary wheel brings its own); with an older libpq, a
#: server-side cursor. At 1M payments alone: 0.88 s against 1.55 s, the same CPU
STREAMED: Final = psycopg.pq.version() >= 170000

_R = TypeVar("_R", bound=tuple[Any, ...])
_T = TypeVar("_T")


class Loaded(NamedTuple):
    dossiers: list[DossierRow]
    intents: list[IntentRow]
    payments: list[PaymentRow]
    lines: list[SettlementLineRow]
    previous_open: list[str]


# --------------------------------------------------------------------------- SQL

#: a refund line's sale (SettlementLineRow.refund_of; NULL for a sale): what pairs it (0032)
REFUND_OF = ("CASE WHEN l.kind = 'refund' THEN COALESCE(l.original_txn_id, l.provider_txn_id) "
             "END AS refund_of")

# The loader reads only what the core reads. The gross amount is what is reconciled; a
# payment's channel and a line's fee, net and transaction time are read for fee_mismatch only
# (the contract of the provider and channel on the transaction's date; the net the file
# stated: ``stated_net`` when the file contradicts itself). tests/reconcile/test_loader_columns.py
# pins that no other kind depends on them.
_PAY_COLS = ("p.id, p.provider, p.provider_txn_id, p.channel, p.amount, p.status, "
             "p.paid_at, p.dossier_id, p.intent_id, p.reference, p.bank_reference, "
             "p.method, p.card_foreign")
_LINE_COLS = ("l.id, l.provider, l.provider_txn_id, l.amount, l.fee, "
              "COALESCE(l.stated_net, l.net) AS net, l.settled_on, l.transaction_at, "
              f"{REFUND_OF}")
_INTENT_COLS = "i.id, i.dossier_id, i.reference, i.amount, i.channel, i.status"
#: a dossier's assessed total: the sum of its fee lines, kept by the database (migration 0037)
_FEE_TOTAL = "d.fee_total AS fee_total"

# Every dossier with its fees' total; a full load keeps those its payments, their intents,
# open discrepancies and split payments' allocations name (FullLoad.dossiers). The filter used
# to be a semi-join on the server against the union of those ids: about twice the cost of
# this query at 1M dossiers. (The total was a join and an aggregate over every fee line until
# 0037: 1.86 s of the server's time at 1M dossiers, against 0.12 s for this scan.)
_FULL_DOSSIERS = "SELECT d.id, d.code, d.fee_total FROM dossiers d"
_LINKED_DOSSIERS = ("SELECT dossier_id FROM discrepancies WHERE status = 'open' "
                    "AND dossier_id IS NOT NULL UNION SELECT dossier_id FROM payment_allocations")
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


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
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


_first = itemgetter(0)


def _membership(wanted: Iterable[int], ids: Sequence[int]) -> Iterator[object]:
    """For each of ``ids``, whether ``wanted`` holds it (truthy or not), column by column in C.
    Dossier ids are a sequence's: below a bound proportional to the data, a byte per possible
    id (a million-id set's look-ups miss the CPU's caches; a megabyte of bytes does not);
    otherwise a set."""
    wanted = list(wanted)
    top = max(max(wanted, default=0), max(ids, default=0))
    low = min(min(wanted, default=0), min(ids, default=0))
    if low >= 0 and top <= _BITMAP_SLACK * (len(wanted) + len(ids)) + _BITMAP_MIN:
        marks = bytearray(top + 1)
        deque(map(marks.__setitem__, wanted, repeat(1)), maxlen=0)
        return map(marks.__getitem__, ids)
    return map(set(wanted).__contains__, ids)


_BITMAP_SLACK: Final = 8  # bytes per wanted id at most
_BITMAP_MIN: Final = 1 << 20
_dossier_of_payment = itemgetter(7)  # PaymentRow.dossier_id


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
                 params: Mapping[str, Any] | None = None, any_of: bool = False) -> list[_R]:
        """``sql`` with ``{IN}`` standing for "``column`` is one of ``values``" (all ints or all
        strings): one query with an array on PostgreSQL, chunked ``IN (...)`` on SQLite.
        ``any_of``: ``column = ANY(array)`` on PostgreSQL, for an indexed ``column`` only (an
        index condition, which leaves the planner free to hash a smaller table against it)."""
        wanted = list(values)
        if not wanted:
            return []
        if self.pg:
            # a semi-join on unnest(array), not "= ANY(array)": the planner can hash it or
            # walk an index, where ANY compares every row with every element
            pg_type = "text" if isinstance(wanted[0], str) else "bigint"
            clause = (f"{column} = ANY(CAST(:vals AS {pg_type}[]))" if any_of else
                      f"{column} IN (SELECT unnest(CAST(:vals AS {pg_type}[])))")
            return self.rows(sql.replace("{IN}", clause), make, kind=kind,
                             params={**(params or {}), "vals": wanted})
        out: list[_R] = []
        for chunk in chunks(wanted):
            out.extend(self.rows(sql.replace("{IN}", f"{column} IN :vals"), make, kind=kind,
                                 params={**(params or {}), "vals": chunk},
                                 expanding=("vals",)))
        return out

    def where_pairs(self, sql: str, columns: tuple[str, str],
                    pairs: Iterable[tuple[str, str]], make: Callable[[Sequence[Any]], _R], *,
                    kind: str | None = None) -> list[_R]:
        """``sql`` with ``{IN}`` standing for "``columns`` are one of ``pairs``" (strings):
        on PostgreSQL one query with two arrays (a probe of the two columns' index per pair);
        on SQLite one :meth:`where_in` per first value (the indexes lead with it)."""
        wanted = sorted(set(pairs))
        if not wanted:
            return []
        first, second = columns
        if self.pg:
            clause = (f"({first}, {second}) IN (SELECT * FROM unnest("
                      "CAST(:firsts AS text[]), CAST(:seconds AS text[])))")
            return self.rows(sql.replace("{IN}", clause), make, kind=kind,
                             params={"firsts": [a for a, _ in wanted],
                                     "seconds": [b for _, b in wanted]})
        by_first: dict[str, list[str]] = {}
        for a, b in wanted:
            by_first.setdefault(a, []).append(b)
        out: list[_R] = []
        for a, seconds in by_first.items():
            out.extend(self.where_in(sql.replace("{IN}", f"{first} = :first AND {{IN}}"),
                                     second, seconds, make, kind=kind, params={"first": a}))
        return out

    def scan(self, sql: str, make: Callable[[Sequence[Any]], _R], *,
             kind: str | None = None, params: Mapping[str, Any] | None = None) -> list[_R]:
        """A whole-table read. PostgreSQL: binary rows built straight into engine tuples
        (``params`` named ``%(name)s`` in ``sql``), streamed in chunks (:data:`STREAMED`:
        the server produces the next rows while these are built; a server-side cursor
        waited for each batch); SQLite: the SQLAlchemy path (``:name``)."""
        if not self.pg:
            return self.rows(sql, make, kind=kind, params=params)
        raw: Any = self.conn.connection.dbapi_connection
        shared = _SHARED.get(kind or "", ())
        cursor = (raw.cursor(binary=True) if STREAMED
                  else raw.cursor(name=f"recon_scan_{kind or 'x'}", binary=True))
        with cursor:
            if STREAMED:
                rows = cursor.stream(sql, params, size=SCAN_BATCH)
            else:
                cursor.itersize = SCAN_BATCH
                cursor.execute(sql, params)
                rows = iter(cursor)
            # closed however the reading ends: a stream left open mid-way holds the
            # connection, and the rollback after an error would wait for it forever
            with contextlib.closing(rows):
                if not shared:
                    return list(map(make, rows))
                out: list[_R] = []
                pool: dict[Any, Any] = {}
                while batch := list(islice(rows, SCAN_BATCH)):
                    out.extend(map(make, _sharing(batch, shared, pool)))
                return out


#: the columns of a scan's rows holding a handful of distinct strings (payments: provider,
#: channel, status; lines: provider), which psycopg makes one str per row of: a row keeps the
#: scan's one object per value instead (64 bytes a value: about 250 MB at a million dossiers,
#: for about 0.1 µs a column and row)
_SHARED: Final[dict[str, tuple[int, ...]]] = {"payment": (1, 3, 5), "line": (1,)}


def _sharing(batch: Sequence[Sequence[Any]], columns: tuple[int, ...],
             pool: dict[Any, Any]) -> Iterator[tuple[Any, ...]]:
    """``batch``'s rows, each value of ``columns`` replaced by the equal one ``pool`` holds
    (the first seen): column by column in C, no Python statement per row."""
    parts: list[Iterable[Any]] = [map(itemgetter(i), batch) for i in range(len(batch[0]))]
    for i in columns:
        parts[i] = map(pool.setdefault, map(itemgetter(i), batch), map(itemgetter(i), batch))
    return zip(*parts, strict=True)


@contextlib.contextmanager
def _snapshot_connection(engine: Engine, snapshot: str) -> Iterator[Connection]:
    """A read-only connection of its own, in the snapshot another transaction exported."""
    if not _SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    with engine.connect() as raw_conn:
        conn = raw_conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        with conn.begin():
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            _tune_scans(conn)
            yield conn


def _scan_in_snapshot(engine: Engine, snapshot: str, sql: str,
                      make: Callable[[Sequence[Any]], _R], kind: str,
                      params: Mapping[str, Any] | None = None) -> list[_R]:
    """One big scan on its own connection, in the snapshot another transaction exported."""
    with _snapshot_connection(engine, snapshot) as conn:
        return _Reader(conn).scan(sql, make, kind=kind, params=params)


def _call_in_snapshot(engine: Engine, snapshot: str, read: Callable[[Connection], _T]) -> _T:
    with _snapshot_connection(engine, snapshot) as conn:
        return read(conn)


def read_beside(conn: Connection, pool: ThreadPoolExecutor | None,
                read: Callable[[Connection], _T]) -> Future[_T] | None:
    """``read`` on ``pool``, on a connection of its own in ``conn``'s snapshot (PostgreSQL: a
    read whose work is the server's, such as the remittance pass's, while this connection
    loads); ``None`` without a pool or elsewhere (the caller reads in turn)."""
    if pool is None or conn.dialect.name != "postgresql":
        return None
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    return pool.submit(_call_in_snapshot, conn.engine, snapshot, read)


def _tune_scans(conn: Connection) -> None:
    """Plan whole-table cursors for every row, not the first 10 %; no JIT (compiling costs a
    streaming scan more than it saves); timestamps in UTC: under any other session time zone
    (Debian's default is ``Etc/UTC``, a zone, not UTC itself) psycopg converts every
    ``timestamptz`` through ``zoneinfo``, over twice the cost of the value itself. The values
    are the same instants either way."""
    conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
    # room for a load's hashes (the open months' intents, the splits) in memory
    conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")


class FullLoad:
    """A full load under way. On PostgreSQL the three big tables are read at once on three
    connections sharing the caller's snapshot (``pg_export_snapshot``): the server produces one
    while Python builds the rows of another, and the core can walk the settlement lines and
    payments while the dossiers still arrive (each with the fee total the database keeps,
    0037). Elsewhere everything is read at once, in order."""

    def __init__(self, conn: Connection, pool: ThreadPoolExecutor | None,
                 side: ThreadPoolExecutor | None = None) -> None:
        reader = _Reader(conn)
        self.dossiers_done: float | None = None
        self._conn = conn
        self._side = side
        self._snapshot: str | None = None
        if pool is not None:
            snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
            self._snapshot = snapshot
            engine = conn.engine
            self._dossiers = pool.submit(self._timed, _scan_in_snapshot, engine, snapshot,
                                         _FULL_DOSSIERS, _make_dossier, "dossier")
            self._payments = pool.submit(_scan_in_snapshot, engine, snapshot, _FULL_PAYMENTS,
                                         _make_payment, "payment")
            self._lines = pool.submit(_scan_in_snapshot, engine, snapshot, _FULL_LINES,
                                      _make_line, "line")
            self.intents = reader.rows(_FULL_INTENTS, _make_intent)
            self.previous = reader.rows(_OPEN_ALL, _first)
            self._linked = reader.rows(_LINKED_DOSSIERS, _first)
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
            self._linked = reader.rows(_LINKED_DOSSIERS, _first)
        self._kept: list[DossierRow] | None = None

    def beside(self, read: Callable[[Connection], _T]) -> Future[_T]:
        """``read(conn)`` in the load's snapshot: on PostgreSQL on a connection and a thread of
        its own, while the scans run (a read whose work is the server's, such as the
        remittance pass's); elsewhere at once, on the load's connection."""
        if self._side is not None and self._snapshot is not None:
            return self._side.submit(_call_in_snapshot, self._conn.engine, self._snapshot, read)
        done: Future[_T] = Future()
        done.set_result(read(self._conn))
        return done

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
        """The dossiers the core needs: those a payment names (itself or through its
        intent), an open discrepancy names or a split payment's allocation names."""
        if self._kept is None:
            rows: list[DossierRow] = self._dossiers.result()
            named = [filter(None, map(_dossier_of_payment, self.payments())),
                     (i.dossier_id for i in self.intents), self._linked]
            self._kept = list(compress(rows, _membership(chain.from_iterable(named),
                                                         list(map(_first, rows)))))
        return self._kept

    def loaded(self) -> Loaded:
        return Loaded(self.dossiers(), self.intents, self.payments(), self.lines(),
                      self.previous)


@contextlib.contextmanager
def full_load(conn: Connection, *, parallel: bool = True) -> Iterator[FullLoad]:
    if conn.dialect.name == "postgresql" and parallel:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="recon-load") as pool, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="recon-beside") as side:
            yield FullLoad(conn, pool, side)
    else:
        yield FullLoad(conn, None)


def load_full(conn: Connection, *, parallel: bool = True) -> Loaded:
    """Everything (see :class:`FullLoad`)."""
    with full_load(conn, parallel=parallel) as load:
        return load.loaded()


def load_incremental(conn: Connection, *, mark: int, since: datetime, as_of: datetime,
                     config: EngineConfig) -> Loaded:
    """What changed at or after the change ``mark`` of the previous run (whose ``as_of`` was
    ``since``), expanded to whole dossiers and transactions (see :mod:`.changes`)."""
    reader = _Reader(conn)
    payments, seed_lines, dossier_ids = _changed_seeds(reader, mark=mark, since=since,
                                                       as_of=as_of, config=config)
    dossiers, intents, lines = _expand(reader, payments, seed_lines, set(dossier_ids))
    tiered = sorted({c.provider for c in config.contracts.contracts if c.tiers})
    counted: set[date] = set()
    while tiered:  # whole months of a tiered contract's provider (see _tier_months)
        months = _tier_months(tiered, payments.values(), lines) - counted
        if not months:
            break
        counted |= months
        seen = {ln.id for ln in seed_lines}
        for month in sorted(months):
            start, end = month_start(month), month_start(_next_month(month))
            window = {"tiered": tiered, "low": start - _TIER_MARGIN, "high": end + _TIER_MARGIN}
            for p in reader.rows(_TIER_PAYMENTS, _make_payment, kind="payment", params=window,
                                 expanding=("tiered",)):
                payments.setdefault(p.id, p)
            seed_lines += [ln for ln in reader.rows(_TIER_LINES, _make_line, kind="line",
                                                    params=window, expanding=("tiered",))
                           if ln.id not in seen]
        dossiers, intents, lines = _expand(reader, payments, seed_lines, set(dossier_ids))
    previous: set[str] = set()
    open_ids = "SELECT identity FROM discrepancies WHERE status = 'open' AND {IN}"
    previous.update(reader.where_in(open_ids, "dossier_id", [d.id for d in dossiers], _first))
    previous.update(reader.where_in(open_ids, "payment_id", payments, _first))
    previous.update(reader.where_in(open_ids, "settlement_line_id", [ln.id for ln in lines],
                                    _first))
    return Loaded(dossiers, intents, list(payments.values()), lines, sorted(previous))


# A contract with volume tiers judges a line by its place in its month's count of that
# contract's lines (core.detect_fee_mismatch), so an incremental run that judges any line or
# payment of such a provider reads every payment and line of that provider in the month (a
# margin of two days around it: a line's transaction time and its payment's paid_at may differ)
# and counts as a full run does.
_TIER_MARGIN = timedelta(days=2)
_TIER_PAYMENTS = (f"SELECT {_PAY_COLS} FROM payments p WHERE p.provider IN :tiered "
                  "AND p.paid_at >= :low AND p.paid_at < :high")
_TIER_LINES = (f"SELECT {_LINE_COLS} FROM settlement_lines l WHERE l.provider IN :tiered "
               "AND l.transaction_at >= :low AND l.transaction_at < :high")


def _tier_months(tiered: Sequence[str], payments: Iterable[PaymentRow],
                 lines: Iterable[SettlementLineRow]) -> set[date]:
    """The Vietnam months of the loaded payments and timed lines of the tiered providers."""
    out = {_vn_month(p.paid_at) for p in payments if p.provider in tiered}
    out.update(_vn_month(ln.transaction_at) for ln in lines
               if ln.provider in tiered and ln.transaction_at is not None)
    return out


def _vn_month(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date().replace(day=1)


def _changed_seeds(reader: _Reader, *, mark: int, since: datetime, as_of: datetime,
                   config: EngineConfig, before: datetime | None = None,
                   ) -> tuple[dict[int, PaymentRow], list[SettlementLineRow], set[int]]:
    """What changed at or after ``mark``, the subjects of discrepancies opened again since,
    and the payments whose settlement deadline lies between ``since`` and ``as_of`` (paid
    before ``before``, if given): payments by id, settlement lines, dossier ids."""
    ws = {"mark": mark}
    payments: dict[int, PaymentRow] = {}

    def add_payments(rows: Iterable[PaymentRow]) -> None:
        for p in rows:
            payments.setdefault(p.id, p)

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
    for condition, params, names in changes.fell_due(since, as_of, config, before=before):
        add_payments(reader.rows(f"SELECT {_PAY_COLS} FROM payments p WHERE {condition}",
                                 _make_payment, kind="payment", params=params,
                                 expanding=names))
    return payments, seed_lines, dossier_ids


def _expand(reader: _Reader, payments: dict[int, PaymentRow],
            seed_lines: list[SettlementLineRow], dossier_ids: set[int],
            ) -> tuple[list[DossierRow], list[IntentRow], list[SettlementLineRow]]:
    """Seeds (``payments``, updated in place, ``seed_lines``, ``dossier_ids``) expanded to
    whole dossiers (every payment of each) and whole provider transactions (every settlement
    line of each, every payment they may go to): the dossiers, the intents, the lines."""

    def add_payments(rows: Iterable[PaymentRow]) -> None:
        for p in rows:
            payments.setdefault(p.id, p)

    # payments of the transactions the new lines settle: by their own id, or by the bank's
    # reference (a bank statement line)
    seed_keys = {(ln.provider, ln.provider_txn_id) for ln in seed_lines}
    seed_keys |= {(ln.provider, ln.refund_of) for ln in seed_lines if ln.refund_of is not None}
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
        # (the few payments without a dossier of their own, through their partial index
        # (0038), hashed against the dossiers' intents: none, and the intents are not read;
        # the semi-join probed every payment of each intent, 13 ms for 999 dossiers at 1M)
        add_payments(reader.where_in(_THROUGH_INTENTS_OF, "i.dossier_id", todo, _make_payment,
                                     kind="payment", any_of=True))
        _add_intents_for(reader, payments.values(), intents)

    # every payment of those dossiers ---------------------------------------------------
    whole_dossiers(list(payments.values()))

    # bank references: the lines a payment may take by its bank reference go to whichever
    # payment the core gives them (one whose own id is theirs, else the lowest id carrying the
    # reference), so those payments are read too, with their whole dossiers; rarely any
    bank_keys: set[tuple[str, str]] = set()
    # the line keys whose bank-reference payments are read (the seed lines' above)
    line_keys_read = set(seed_keys)
    while True:
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

        # every settlement line of their transactions -----------------------------------
        keys = (seed_keys | bank_keys
                | {(p.provider, p.provider_txn_id) for p in payments.values()})
        lines = _by_keys(reader, "settlement_lines l", _LINE_COLS, "l", keys, _make_line,
                         "line")
        lines += _refunds_by_original(reader, keys, {ln.id for ln in lines})
        # a line read through a payment's own id may go to another payment that carries that
        # id as its bank reference (the core gives it to the own id's payment, which may
        # have just arrived): that payment and its open findings about the line are read too
        new_keys = {(ln.provider, ln.provider_txn_id) for ln in lines} - line_keys_read
        line_keys_read |= new_keys
        holders = [p for p in _by_bank_references(reader, new_keys) if p.id not in payments]
        if not holders:
            break
        add_payments(holders)
        whole_dossiers(holders)
    ordered_dossiers = sorted(dossier_ids)

    dossiers = reader.where_in(f"SELECT d.id, d.code, {_FEE_TOTAL} FROM dossiers d WHERE {{IN}}",
                               "d.id", ordered_dossiers, _make_dossier)
    return dossiers, list(intents.values()), lines


# --------------------------------------------------------------------------- open months

# A full run reads the open months: the rows dated from the *horizon* on (the first Vietnam
# month, from the earliest month holding data, that is not closed for every agency), and of the
# rows before it only those linked to them or to open work. ``{h}`` is the horizon as an instant
# (payments' ``paid_at``, lines' ``transaction_at``), ``{hd}`` as a date (lines' ``settled_on``),
# ``{lo}`` the first dossier id of the open months' dense range (:func:`first_open_dossier`).
#
# Nothing here joins the open months against the history on the server: hashing a million
# open ids or keys against every older row made each such read cost the history's size (4-5 s
# each at 5M dossiers with 1M open). The open rows are read by their indexes' ranges; the rows
# before the horizon that link to them by the dossiers' ids (a range, and a few below it), by
# intents, and through the transactions whose rows lie on both sides of the horizon, which
# ``transaction_spans`` holds (migration 0040).
_OPEN_PAYMENTS = f"SELECT {_PAY_COLS} FROM payments p WHERE p.paid_at >= {{h}}"
_OPEN_LINE = "(l.settled_on >= {hd} OR l.transaction_at >= {h})"
_OPEN_LINES = f"SELECT {_LINE_COLS} FROM settlement_lines l WHERE {_OPEN_LINE}"
_OPEN_INTENTS = (f"SELECT {_INTENT_COLS} FROM payment_intents i WHERE i.id IN "
                 "(SELECT intent_id FROM payments WHERE paid_at >= {h} AND dossier_id IS NULL "
                 "AND intent_id IS NOT NULL)")
#: the dossiers from that id on (all read whole: see _read_open)
_DOSSIERS_FROM = f"SELECT d.id, d.code, {_FEE_TOTAL} FROM dossiers d WHERE d.id >= {{lo}}"
#: payments before the horizon of the dossiers from that id on,
#: by the dossier index's range
_EARLIER_FROM = (f"SELECT {_PAY_COLS} FROM payments p WHERE p.dossier_id >= {{lo}} "
                 "AND p.paid_at < {h}")
#: payments before the horizon reaching a dossier only through their intent (their partial
#: index, 0038: few), with that dossier (kept: those of the dossiers the load reads whole)
_EARLIER_THROUGH_INTENTS = (
    f"SELECT {_PAY_COLS}, i.dossier_id FROM payments p "
    "JOIN payment_intents i ON i.id = p.intent_id "
    "WHERE p.dossier_id IS NULL AND p.intent_id IS NOT NULL AND p.paid_at < {h}")
#: the payments reaching the dossiers ``{IN}`` only through their intent
_THROUGH_INTENTS_OF = (f"SELECT {_PAY_COLS} FROM payments p "
                       "JOIN payment_intents i ON i.id = p.intent_id "
                       "WHERE p.dossier_id IS NULL AND p.intent_id IS NOT NULL AND {IN}")
#: the transactions whose rows lie on both sides of the horizon: of ``transaction_spans``
#: (migration 0040: each transaction's first and last month, kept by triggers), those whose
#: first month is before the horizon and last month from it on, by the partial index of the
#: spans of more than one month; a few thousand. Their rows are then probed by key
#: (:func:`_across_rows`), never joined here: the planner cannot estimate how few spans
#: cross a horizon (it guessed 335,000 for 3,400 at 5M dossiers) and hashed every older
#: payment and line against them, 0.5 s each alone and 1.7 s each beside the scans.
_ACROSS = ("SELECT s.provider, s.txn_id FROM transaction_spans s "
           "WHERE s.first_month < s.last_month AND s.last_month >= {hd} "
           "AND s.first_month < {hd}")
_OPEN_SUBJECTS = ("SELECT identity, dossier_id, payment_id, settlement_line_id "
                  "FROM discrepancies WHERE status = 'open'")


def _next_month(month: date) -> date:
    return (month.replace(year=month.year + 1, month=1) if month.month == 12
            else month.replace(month=month.month + 1))


def _month_of(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (datetime.fromisoformat(value) if " " in value or "T" in value
                 else date.fromisoformat(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(VN_TZ).date()
    first: date = value.replace(day=1)
    return first


def horizon(conn: Connection) -> date | None:
    """The first open month a full run must read from, or ``None`` when it must read
    everything: from the earliest month holding any data (a dossier received, a payment paid,
    a line settled or transacted), the first month that is not closed, for every agency or
    for each of them (Vietnam time). ``None`` when that earliest month is itself open."""
    closed: dict[date, set[int | None]] = {}
    for month, agency in conn.execute(text(
            "SELECT month, agency_id FROM periods WHERE status = 'closed'")):
        m = _month_of(month)
        if m is not None:
            closed.setdefault(m, set()).add(agency)
    if not closed:
        return None
    agencies = {int(a) for a in conn.execute(text("SELECT id FROM agencies")).scalars()}

    def is_closed(month: date) -> bool:
        who = closed.get(month, set())
        return None in who or (bool(agencies) and agencies <= who)

    firsts = conn.execute(text(
        "SELECT (SELECT MIN(received_at) FROM dossiers), (SELECT MIN(paid_at) FROM payments), "
        "(SELECT MIN(settled_on) FROM settlement_lines), "
        "(SELECT MIN(transaction_at) FROM settlement_lines)")).one()
    months = [m for m in map(_month_of, firsts) if m is not None]
    if not months:
        return None
    first = month = min(months)
    while is_closed(month):
        month = _next_month(month)
    return None if month == first else month


def month_start(month: date) -> datetime:
    """The first instant (UTC) of the Vietnam month ``month`` (its first day)."""
    return datetime.combine(month, day_time(), VN_TZ).astimezone(UTC)


def first_open_dossier(conn: Connection, since: datetime) -> int:
    """The id from which the dossiers received from ``since`` on lie (almost all: dossier ids
    are a sequence's): the first one received since, else one past the last. A read of the
    open months takes the range from it, and the few below it by id."""
    first = conn.execute(text("SELECT id FROM dossiers WHERE received_at >= :since "
                              "ORDER BY received_at LIMIT 1")
                         .bindparams(bindparam("since", type_=UTCDateTime())),
                         {"since": since}).first()
    if first is not None:
        return int(first[0])
    return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) + 1 FROM dossiers")).scalar_one())


def _horizon_params(month: date, pg: bool) -> tuple[dict[str, str], dict[str, Any]]:
    """The placeholders ``{h}``/``{hd}``/``{lo}`` for ``month`` on this dialect, and the
    values of the first two (``lo`` is bound once known)."""
    start = month_start(month)
    if pg:
        return {"h": "%(h)s", "hd": "%(hd)s", "lo": "%(lo)s"}, {"h": start, "hd": month}
    return ({"h": ":h", "hd": ":hd", "lo": ":lo"},
            {"h": start.strftime("%Y-%m-%d %H:%M:%S.%f"), "hd": month.isoformat()})


class _OpenReads:
    """The open months' reads, on PostgreSQL each on a connection of its own in the caller's
    snapshot (at most four at once: the server produces one while Python builds the rows of
    another), elsewhere one after the other on the caller's connection."""

    def __init__(self, reader: _Reader, pool: ThreadPoolExecutor | None,
                 names: Mapping[str, str], values: Mapping[str, Any]) -> None:
        self.reader, self.pool, self.names, self.values = reader, pool, names, values
        self.snapshot = (str(reader.conn.exec_driver_sql("SELECT pg_export_snapshot()")
                             .scalar_one()) if pool is not None else None)

    def sql(self, template: str) -> str:
        return template.format(**self.names)

    def scan(self, template: str, make: Callable[[Sequence[Any]], _R], kind: str,
             **params: Any) -> Future[list[_R]]:
        values = {**self.values, **params}
        if self.pool is not None and self.snapshot is not None:
            return self.pool.submit(_scan_in_snapshot, self.reader.conn.engine, self.snapshot,
                                    self.sql(template), make, kind, values)
        done: Future[list[_R]] = Future()
        done.set_result(self.reader.scan(self.sql(template), make, kind=kind, params=values))
        return done

    def rows(self, template: str, make: Callable[[Sequence[Any]], _R], *,
             kind: str | None = None) -> list[_R]:
        """A small read on the caller's connection (SQLAlchemy's ``:name`` placeholders)."""
        sql = self.sql(template)
        for name in self.names:
            sql = sql.replace(f"%({name})s", f":{name}")
        return self.reader.rows(sql, make, kind=kind, params=self.values)


def _by_id(rows: Sequence[_R]) -> dict[Any, _R]:
    """``rows`` by their first column (the id), built in C."""
    return dict(zip(map(_first, rows), rows, strict=True))


class _Held(Generic[_R]):
    """A partial load's payments or settlement lines: in a bounded full load, every row of its
    open months' scan (exactly the rows ``is_open`` holds: read in the load's snapshot), and
    those added to them. A row is looked up by its own dates, never hashed (a million rows by
    id cost a bounded run 0.15 s on its critical path); ids alone are looked up by walking the
    scan's once (:meth:`missing`). On SQLite, where the scans compare timestamps as text, the
    rows are held by id (:meth:`of`)."""

    __slots__ = ("_added", "_is_open", "_scanned")

    def __init__(self, scanned: list[_R], is_open: Callable[[_R], bool] | None = None,
                 added: dict[Any, _R] | None = None) -> None:
        self._scanned, self._is_open = scanned, is_open
        self._added: dict[Any, _R] = {} if added is None else added

    @classmethod
    def of(cls, rows: Sequence[_R]) -> _Held[_R]:
        """``rows``, by id (a load without a scan)."""
        return cls([], None, _by_id(rows))

    def holds(self, row: _R) -> bool:
        return (self._is_open is not None and self._is_open(row)) or row[0] in self._added

    def add(self, row: _R) -> bool:
        """Hold ``row`` unless it is held already; whether it was added."""
        if self.holds(row):
            return False
        self._added[row[0]] = row
        return True

    def missing(self, ids: set[Any]) -> set[Any]:
        """Those of ``ids`` not held (the scan's ids walked once, in C, not hashed)."""
        if not ids:
            return set()
        return ids - ids.intersection(map(_first, self._scanned)) - self._added.keys()

    def __iter__(self) -> Iterator[_R]:
        return chain(self._scanned, self._added.values())

    def rows(self) -> list[_R]:
        return [*self._scanned, *self._added.values()]


class _Dossiers:
    """The dossiers a partial load holds, looked up and added to by id: those read by id and,
    in a bounded full load, every one numbered from ``lo`` on, from a scan that may still be
    under way. Lookups never wait for that scan (an id from ``lo`` on is in it: it reads them
    all in the load's snapshot), so the load completes, and the core walks the payments and
    lines, while the dossiers' rows are still being built; :meth:`rows` waits for them."""

    __slots__ = ("_by_id", "_lo", "_scan", "_span", "done_at")

    def __init__(self, by_id: dict[int, DossierRow], *, lo: int | None = None,
                 scan: Future[list[DossierRow]] | None = None, span: int = 0) -> None:
        self._by_id, self._lo, self._scan, self._span = by_id, lo, scan, span
        #: when the scan's rows were all in (``perf_counter``; without a scan, when asked for)
        self.done_at: float | None = None
        if scan is not None:
            scan.add_done_callback(self._scanned)

    def _scanned(self, _scan: Future[list[DossierRow]]) -> None:
        self.done_at = time.perf_counter()

    def __contains__(self, dossier_id: object) -> bool:
        return dossier_id in self._by_id or (
            self._lo is not None and isinstance(dossier_id, int) and dossier_id >= self._lo)

    def add(self, row: DossierRow) -> bool:
        """Hold ``row`` unless its dossier is held already; whether it was added."""
        if row.id in self:
            return False
        self._by_id[row.id] = row
        return True

    def at_most(self) -> int:
        """How many dossiers are held, at most (the scan's ids are a range)."""
        return len(self._by_id) + self._span

    def ids(self) -> list[int]:
        """Every held dossier's id (waits for the scan)."""
        return [d.id for d in self.rows()]

    def rows(self) -> list[DossierRow]:
        """Every held dossier (waits for the scan, the first time)."""
        # (those held by id are all below ``lo``: :meth:`add` refuses the scan's)
        scanned = self._scan.result() if self._scan is not None else []
        if self.done_at is None:
            self.done_at = time.perf_counter()
        return [*scanned, *self._by_id.values()]


def _payment_and_dossier(row: Sequence[Any]) -> tuple[PaymentRow, int | None]:
    return _make_payment(row[:-1]), row[-1]


#: what a bounded load runs on its own connection while its scans go on, handed the open
#: months' settlement lines (a call that waits for their scan)
WhileScanning = Callable[[Callable[[], list[SettlementLineRow]]], None]


def _read_open(reader: _Reader, month: date, pool: ThreadPoolExecutor | None,
               while_scanning: WhileScanning | None = None,
               ) -> tuple[list[PaymentRow], list[SettlementLineRow], _Dossiers,
                          list[IntentRow], list[PaymentRow], list[SettlementLineRow]]:
    """The open months' payments, lines and intents, the dossiers from the first one received
    in them on (every one, read whole) and those below it the open payments name, and the
    payments and lines before the horizon that link to them (the seeds of :func:`_expand`).
    ``while_scanning`` runs on the caller's connection once its own reads are done, while the
    scans (on ``pool``, PostgreSQL) still build their rows. The dossiers' scan is left under
    way (see :class:`_Dossiers`)."""
    names, values = _horizon_params(month, reader.pg)
    reads = _OpenReads(reader, pool, names, values)
    lo = first_open_dossier(reader.conn, month_start(month))
    span = max(0, int(reader.conn.execute(text(
        "SELECT COALESCE(MAX(id), 0) FROM dossiers")).scalar_one()) - lo + 1)
    payments_f = reads.scan(_OPEN_PAYMENTS, _make_payment, "payment")
    lines_f = reads.scan(_OPEN_LINES, _make_line, "line")
    from_lo_f = reads.scan(_DOSSIERS_FROM, _make_dossier, "dossier", lo=lo)
    earlier_from_f = reads.scan(_EARLIER_FROM, _make_payment, "payment", lo=lo)
    intents = reads.rows(_OPEN_INTENTS, _make_intent)
    through_intents = reads.rows(_EARLIER_THROUGH_INTENTS, _payment_and_dossier,
                                 kind="payment")
    across, lines_across = _across_rows(reader, month, reads.rows(_ACROSS, _pair))
    if while_scanning is not None:
        while_scanning(lines_f.result)
    open_payments = payments_f.result()
    # every dossier from ``lo`` on is read whole (its payments before the horizon too):
    # the open months' dossiers, paid or not, and the few of older months numbered among
    # them; below ``lo``, those the open payments name, directly or through their intent
    # (walked in C: no Python statement per payment)
    below_ids = {*filter(lo.__gt__, filter(None, map(_dossier_of_payment, open_payments))),
                 *(i.dossier_id for i in intents
                   if i.dossier_id is not None and i.dossier_id < lo)}
    below = sorted(below_ids)
    dossiers = _Dossiers(_by_id(reader.where_in(
        f"SELECT d.id, d.code, {_FEE_TOTAL} FROM dossiers d WHERE {{IN}}", "d.id", below,
        _make_dossier, any_of=True)), lo=lo, scan=from_lo_f, span=span)
    # their payments before the horizon
    horizon_at = month_start(month)
    earlier = earlier_from_f.result()
    earlier += [p for p in reader.where_in(f"SELECT {_PAY_COLS} FROM payments p WHERE {{IN}}",
                                           "p.dossier_id", below, _make_payment,
                                           kind="payment", any_of=True)
                if p.paid_at is not None and p.paid_at < horizon_at]
    earlier += [p for p, dossier in through_intents
                if dossier is not None and (dossier >= lo or dossier in below_ids)]
    earlier += across
    return open_payments, lines_f.result(), dossiers, intents, earlier, lines_across


def _pair(row: Sequence[Any]) -> tuple[str, str]:
    return str(row[0]), str(row[1])


def _across_rows(reader: _Reader, month: date, keys: Sequence[tuple[str, str]],
                 ) -> tuple[list[PaymentRow], list[SettlementLineRow]]:
    """The payments and settlement lines before the horizon ``month`` of the transactions
    ``keys`` (those across it): payments by their own id or their bank reference, lines by
    their own id or their sale's id, each probed in its index and each row once."""
    wanted = set(keys)
    horizon_at = month_start(month)
    payments = _by_id([p for p in (*_by_keys(reader, "payments p", _PAY_COLS, "p", wanted,
                                             _make_payment, "payment"),
                                   *_by_bank_references(reader, wanted))
                       if p.paid_at < horizon_at])
    lines = _by_id([ln for ln in (*_by_keys(reader, "settlement_lines l", _LINE_COLS, "l",
                                            wanted, _make_line, "line"),
                                  *_by_keys(reader, "settlement_lines l", _LINE_COLS, "l",
                                            wanted, _make_line, "line",
                                            column="original_txn_id"))
                    if ln.settled_on < month
                    and (ln.transaction_at is None or ln.transaction_at < horizon_at)])
    return list(payments.values()), list(lines.values())


def load_open(conn: Connection, *, month: date, previous: changes.Previous | None,
              as_of: datetime, config: EngineConfig, parallel: bool = True) -> Loaded:
    """A full run's rows when the months before ``month`` are closed (:func:`horizon`): the
    open months' payments and settlement lines, every dossier numbered from the first one
    received in them on (paid or not) and those below it the open payments name (on
    PostgreSQL read at once on connections sharing the snapshot), and, expanded to whole
    dossiers and transactions, what links to them from before, what changed since the
    ``previous`` run's mark, what fell due since its ``as_of``, and the subjects of every open
    discrepancy. What is left unread is closed, unchanged and judged already: the run would
    write nothing about it."""
    reader = _Reader(conn)
    with _scan_pool(reader, parallel) as pool:
        return _read_open_rows(reader, month=month, previous=previous, as_of=as_of,
                               config=config, pool=pool).loaded()


def load_open_with_splits(conn: Connection, *, month: date,
                          previous: changes.Previous | None, as_of: datetime,
                          config: EngineConfig, parallel: bool = True,
                          ) -> tuple[Loaded, Splits]:
    """:func:`with_splits` of :func:`load_open`, the rows by id built once."""
    with open_load(conn, month=month, previous=previous, as_of=as_of, config=config,
                   parallel=parallel) as load:
        return load.loaded(), load.splits


class OpenLoad:
    """A bounded full load completed for split payments (:func:`open_load`): everything but
    the dossiers' rows, which :meth:`dossiers` waits for (the core asks for them only after
    walking the payments and lines, as with :class:`FullLoad`)."""

    def __init__(self, completed: _Completed) -> None:
        self._completed = completed
        self.payments, self.lines = completed.payments, completed.lines
        self.intents, self.previous_open = completed.intents, completed.previous_open
        self.splits = completed.splits

    def dossiers(self) -> list[DossierRow]:
        return self._completed.dossiers.rows()

    @property
    def dossiers_done(self) -> float | None:
        """When the dossiers' scan was done (``perf_counter``; ``None`` while it goes on)."""
        return self._completed.dossiers.done_at

    def loaded(self) -> Loaded:
        return self._completed.loaded()


@contextlib.contextmanager
def open_load(conn: Connection, *, month: date, previous: changes.Previous | None,
              as_of: datetime, config: EngineConfig, parallel: bool = True,
              while_scanning: WhileScanning | None = None) -> Iterator[OpenLoad]:
    """:func:`load_open_with_splits` whose dossiers' scan (PostgreSQL) goes on while the
    caller reconciles: the block runs once the rest is read and completed, and its end waits
    for the scan. ``while_scanning`` is handed the open months' lines, every line settled from
    the first day of ``month`` on (those the load adds to them are all settled before it),
    and runs on ``conn`` while the other scans go on."""
    reader = _Reader(conn)
    with _scan_pool(reader, parallel) as pool:
        rows = _read_open_rows(reader, month=month, previous=previous, as_of=as_of,
                               config=config, pool=pool, while_scanning=while_scanning)
        yield OpenLoad(_completed_for_splits(
            reader, rows.payments, rows.dossiers, rows.lines.rows(),
            list(rows.intents.values()), rows.previous_open))


@contextlib.contextmanager
def _scan_pool(reader: _Reader, parallel: bool) -> Iterator[ThreadPoolExecutor | None]:
    """The open months' scans' threads (PostgreSQL: at most four at once, each on a connection
    of its own in the caller's snapshot), shut down when their rows are all in."""
    if not (reader.pg and parallel):
        yield None
        return
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="recon-load") as pool:
        yield pool


class _OpenRows(NamedTuple):
    """The rows of a bounded full load, by id."""

    dossiers: _Dossiers
    intents: dict[int, IntentRow]
    payments: _Held[PaymentRow]
    lines: _Held[SettlementLineRow]
    previous_open: list[str]

    def loaded(self) -> Loaded:
        return Loaded(self.dossiers.rows(), list(self.intents.values()), self.payments.rows(),
                      self.lines.rows(), self.previous_open)


def _read_open_rows(reader: _Reader, *, month: date, previous: changes.Previous | None,
                    as_of: datetime, config: EngineConfig, pool: ThreadPoolExecutor | None,
                    while_scanning: WhileScanning | None = None) -> _OpenRows:
    """:func:`load_open`'s rows, by id."""
    open_payments, open_lines, dossiers, intents, earlier, earlier_lines = _read_open(
        reader, month, pool, while_scanning)
    horizon_at = month_start(month)

    def open_payment(p: PaymentRow) -> bool:  # (the open payments' scan's condition)
        return p.paid_at is not None and p.paid_at >= horizon_at

    def open_line(ln: SettlementLineRow) -> bool:  # (the open lines' scan's condition)
        return ln.settled_on >= month or (ln.transaction_at is not None
                                          and ln.transaction_at >= horizon_at)

    # (on SQLite the scans compare timestamps as text: a value stored in another format than
    # the application writes would be judged otherwise by Python, so they are held by id;
    # PostgreSQL compares the values themselves, as Python does)
    payments = (_Held(open_payments, open_payment) if reader.pg
                else _Held.of(open_payments))
    lines = _Held(open_lines, open_line) if reader.pg else _Held.of(open_lines)
    intent_rows: dict[int, IntentRow] = _by_id(intents)

    # the seeds of the expansion: linked from before the horizon, changed, fallen due, and
    # the subjects of open discrepancies, each unless the open months hold it already
    seed_payments: dict[int, PaymentRow] = {p.id: p for p in earlier}
    seed_lines: list[SettlementLineRow] = list(earlier_lines)
    seed_dossiers: set[int] = set()
    if previous is not None and previous.mark is not None:
        # (what fell due from the horizon on is read by the scans: only earlier payments)
        changed, changed_lines, changed_dossiers = _changed_seeds(
            reader, mark=previous.mark, since=previous.as_of, as_of=as_of, config=config,
            before=month_start(month))
        seed_payments.update((i, p) for i, p in changed.items() if not payments.holds(p))
        seed_lines += [ln for ln in changed_lines if not lines.holds(ln)]
        seed_dossiers |= {d for d in changed_dossiers if d not in dossiers}
    subjects = reader.scan(_OPEN_SUBJECTS, tuple)  # (tens of thousands: binary rows)
    previous_open = sorted(r[0] for r in subjects)
    seed_dossiers |= {r[1] for r in subjects if r[1] is not None and r[1] not in dossiers}
    want_payments = payments.missing({r[2] for r in subjects if r[2] is not None})
    want_lines = lines.missing({r[3] for r in subjects if r[3] is not None})
    seed_payments.update((p.id, p) for p in reader.where_in(
        f"SELECT {_PAY_COLS} FROM payments p WHERE {{IN}}", "p.id", sorted(want_payments),
        _make_payment, kind="payment"))
    seed_lines += reader.where_in(f"SELECT {_LINE_COLS} FROM settlement_lines l WHERE {{IN}}",
                                  "l.id", sorted(want_lines), _make_line, kind="line")
    for known in [i for i, p in seed_payments.items() if payments.holds(p)]:
        del seed_payments[known]
    if seed_payments or seed_lines or seed_dossiers:
        more_dossiers, more_intents, more_lines = _expand(reader, seed_payments, seed_lines,
                                                          seed_dossiers)
        for p in seed_payments.values():
            payments.add(p)
        for ln in more_lines:
            lines.add(ln)
        for d in more_dossiers:
            dossiers.add(d)
        for i in more_intents:
            intent_rows.setdefault(i.id, i)
    return _OpenRows(dossiers, intent_rows, payments, lines, previous_open)


def _by_keys(reader: _Reader, table: str, cols: str, alias: str, keys: set[tuple[str, str]],
             make: Callable[[Sequence[Any]], _R], kind: str,
             column: str = "provider_txn_id") -> list[_R]:
    """Rows of ``table`` whose (provider, ``column``) is in ``keys`` (the index is on both
    columns): one query on PostgreSQL, one per provider on SQLite."""
    return reader.where_pairs(f"SELECT {cols} FROM {table} WHERE {{IN}}",
                              (f"{alias}.provider", f"{alias}.{column}"), keys, make, kind=kind)


def _refunds_by_original(reader: _Reader, keys: set[tuple[str, str]],
                         known: set[int]) -> list[SettlementLineRow]:
    """The refund lines that name one of ``keys`` as their sale's original id (those whose
    own id is the sale's come with the sale's key)."""
    return [ln for ln in _by_keys(reader, "settlement_lines l", _LINE_COLS, "l", keys,
                                  _make_line, "line", column="original_txn_id")
            if ln.id not in known]


def _by_bank_references(reader: _Reader, keys: set[tuple[str, str]]) -> list[PaymentRow]:
    """Payments whose (provider, bank_reference) is in ``keys`` (the partial index on both
    columns holds only payments with a reference)."""
    return reader.where_pairs(
        f"SELECT {_PAY_COLS} FROM payments p WHERE p.bank_reference IS NOT NULL AND {{IN}}",
        ("p.provider", "p.bank_reference"), keys, _make_payment, kind="payment")


def _add_intents_for(reader: _Reader, payments: Iterable[PaymentRow],
                     intents: dict[int, IntentRow]) -> None:
    """The intents the core needs: those of payments that carry no dossier of their own."""
    wanted = sorted({p.intent_id for p in payments
                     if p.dossier_id is None and p.intent_id is not None} - set(intents))
    for row in reader.where_in(f"SELECT {_INTENT_COLS} FROM payment_intents i WHERE {{IN}}",
                               "i.id", wanted, _make_intent):
        intents[row.id] = row


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


__all__ = [
    "CHUNK",
    "FullLoad",
    "Loaded",
    "OpenLoad",
    "Splits",
    "chunks",
    "full_load",
    "horizon",
    "load_full",
    "load_incremental",
    "load_open",
    "load_open_with_splits",
    "load_splits_full",
    "open_load",
    "read_snapshot",
    "with_splits",
]


# --------------------------------------------------------------------------- split payments

_ALLOC_COLS = "a.payment_id, a.dossier_id, a.amount"
_ALL_ALLOCATIONS = f"SELECT {_ALLOC_COLS} FROM payment_allocations a"
_REFUSALS = ("SELECT p.id, p.split_refusal FROM payments p WHERE p.split_refusal IS NOT NULL "
             "AND p.dossier_id IS NULL")
_make_allocation = _maker(AllocationRow)
#: :func:`with_splits` for more dossiers than this reads every allocation
_ALL_ALLOCATIONS_ABOVE: Final = 50_000


class Splits(NamedTuple):
    """The split payments' allocations and the refusals of the loaded payments, for
    ``reconcile(allocations=..., unsplit=...)``."""

    allocations: list[AllocationRow]
    unsplit: list[UnsplitRow]


def _unsplit_row(row: Sequence[Any]) -> UnsplitRow:
    data = json.loads(row[1])
    return UnsplitRow(int(row[0]), str(data["reason"]), tuple(data["references"]),
                      tuple(data.get("culprits", ())), int(data.get("difference", 0)))


def load_splits_full(conn: Connection) -> Splits:
    """Every allocation and every refusal (a full run over everything)."""
    reader = _Reader(conn)
    return Splits(reader.rows(_ALL_ALLOCATIONS, _make_allocation),
                  reader.rows(_REFUSALS, _unsplit_row))


def with_splits(conn: Connection, loaded: Loaded) -> tuple[Loaded, Splits]:
    """A partial load (open months, incremental) completed for split payments: every
    allocation of a loaded payment with its dossier, every allocation to a loaded dossier with
    its payment, each read whole as the expansion reads its seeds (every payment of a dossier,
    through its intent alone too; every line of a transaction; the payments a bank reference
    may go to, with their dossiers), to a fixed point; and the refusals of the loaded
    payments. A reassessed dossier so sees the share a split payment gave it."""
    completed = _completed_for_splits(_Reader(conn), _Held.of(loaded.payments),
                                      _Dossiers(_by_id(loaded.dossiers)), loaded.lines,
                                      loaded.intents, loaded.previous_open)
    return completed.loaded(), completed.splits


class _Completed(NamedTuple):
    """A partial load completed for split payments (:func:`_completed_for_splits`)."""

    dossiers: _Dossiers
    intents: list[IntentRow]
    payments: list[PaymentRow]
    lines: list[SettlementLineRow]
    previous_open: list[str]
    splits: Splits

    def loaded(self) -> Loaded:
        return Loaded(self.dossiers.rows(), self.intents, self.payments, self.lines,
                      self.previous_open)


def _completed_for_splits(reader: _Reader, payments: _Held[PaymentRow],
                          dossiers: _Dossiers, loaded_lines: list[SettlementLineRow],
                          intents: list[IntentRow], previous_open: list[str]) -> _Completed:
    """:func:`with_splits` of the rows by id (``payments`` and ``dossiers`` are added to in
    place; a load that keeps them so need not build them again). Never waits for the
    dossiers' scan of a bounded load, but where it holds few (their ids are read then)."""
    added_dossiers: list[int] = []
    allocations: dict[tuple[int, int], AllocationRow] = {}
    # (a million payments each walked once, in C: those with no dossier of their own)
    dossierless = list(filterfalse(_dossier_of_payment, payments))
    new_payments = dossierless
    first = True  # the first round's dossiers: the load's
    added: list[PaymentRow] = []
    by = f"SELECT {_ALLOC_COLS} FROM payment_allocations a WHERE {{IN}}"
    # a load of many dossiers (the open months) takes every allocation at once (split
    # payments are few: a million dossier ids bound and hashed cost seconds)
    every = (reader.rows(_ALL_ALLOCATIONS, _make_allocation)
             if dossiers.at_most() > _ALL_ALLOCATIONS_ABOVE else None)
    new_dossiers: Collection[int] = ()
    lines = list(loaded_lines)
    known_lines: set[int] | None = None
    intent_rows: dict[int, IntentRow] | None = None
    while first or new_payments or new_dossiers:
        if every is not None:
            # (the first round's dossiers are the load's: looked up in place, a million)
            of_dossiers: Collection[int] | _Dossiers = dossiers if first else set(new_dossiers)
            of_payments = {p.id for p in new_payments}
            found = [r for r in every
                     if r.payment_id in of_payments or r.dossier_id in of_dossiers]
        else:
            found = [*reader.where_in(by, "a.payment_id", [p.id for p in new_payments],
                                      _make_allocation),
                     *reader.where_in(by, "a.dossier_id",
                                      dossiers.ids() if first else new_dossiers,
                                      _make_allocation)]
        first = False
        for row in found:
            allocations.setdefault((row.payment_id, row.dossier_id), row)
        want_payments = sorted(payments.missing({r.payment_id for r in found}))
        want_dossiers = {r.dossier_id for r in found if r.dossier_id not in dossiers}
        new_payments, new_dossiers = [], []
        if not want_payments and not want_dossiers:
            break
        # what the shares reach, read whole as the open months' seeds are (_expand): every
        # payment of their dossiers (those through their intent alone too), every line of
        # their transactions, the payments a bank reference may go to, each with its
        # dossier, and the intents of those with no dossier of their own
        reached = {p.id: p for p in reader.where_in(
            f"SELECT {_PAY_COLS} FROM payments p WHERE {{IN}}", "p.id", want_payments,
            _make_payment, kind="payment")}
        more_dossiers, more_intents, more_lines = _expand(reader, reached, [], want_dossiers)
        for p in reached.values():
            if payments.add(p):
                added.append(p)
                if p.dossier_id is None:
                    new_payments.append(p)
        for d in more_dossiers:
            if dossiers.add(d):
                added_dossiers.append(d.id)
                new_dossiers.append(d.id)
        if more_intents:
            intent_rows = intent_rows if intent_rows is not None else _by_id(intents)
            for i in more_intents:
                intent_rows.setdefault(i.id, i)
        if more_lines:
            known_lines = known_lines if known_lines is not None else {ln.id for ln in lines}
            for ln in more_lines:
                if ln.id not in known_lines:
                    known_lines.add(ln.id)
                    lines.append(ln)
    if intent_rows is not None:
        intents = list(intent_rows.values())
    previous = set(previous_open)
    open_ids = "SELECT identity FROM discrepancies WHERE status = 'open' AND {IN}"
    if added_dossiers:
        previous.update(reader.where_in(open_ids, "dossier_id", sorted(added_dossiers), _first))
    previous.update(reader.where_in(open_ids, "payment_id", [p.id for p in added], _first))
    unsplit = reader.where_in(f"{_REFUSALS} AND {{IN}}", "p.id",
                              sorted(p.id for p in chain(dossierless, added)
                                     if p.dossier_id is None),
                              _unsplit_row)
    return _Completed(dossiers, intents, payments.rows(), lines, sorted(previous),
                      Splits(sorted(allocations.values()), unsplit))
