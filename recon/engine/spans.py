"""``transaction_spans`` checked against its definition, and repaired.

Each transaction (provider, id) has one row holding the first and last Vietnam month of the
rows that name it: payments by their own id and their bank reference (the month of
``paid_at``), settlement lines by their own id and their sale's id (the later of the months of
``settled_on`` and ``transaction_at``). Triggers keep it (migration 0040) whatever writes the
rows; a full run with closed months behind reads, from before its horizon, the rows of the
spans across it (:mod:`recon.engine.load`).

Rows written with the triggers off (``session_replication_role = replica``, a logical
replica's apply, a restore that disabled them) get no span, and a bounded run would not read
them across its horizon. :func:`check` counts the transactions whose span is missing or too
narrow; :func:`repair` widens them. Both go through each table in ranges of ids (a progress
callback hears of each), compute the months on the server and never narrow a span: they are
safe to run at any time, beside the webhooks, as often as wanted.
"""

# ruff: noqa: S608 - SQL built from this module's constants (table names, month expressions) only
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, text

from recon.db import Database

#: ids per statement: a range's rows are grouped in memory on the server
RANGE: Final = 200_000

# a row's Vietnam month as a date (its first day), per dialect; SQLite's date() rounds
# fractional seconds, so only the first 19 characters are read (23:59:59.9999 stays in its day)
_MONTHS: Final = {
    "postgresql": {
        "payments": "date_trunc('month', r.paid_at AT TIME ZONE 'UTC' + interval '7 hours')::date",
        "settlement_lines": (
            "GREATEST(date_trunc('month', r.settled_on::timestamp)::date, date_trunc('month', "
            "r.transaction_at AT TIME ZONE 'UTC' + interval '7 hours')::date)"),
    },
    "sqlite": {
        "payments": "date(substr(r.paid_at, 1, 19), '+7 hours', 'start of month')",
        "settlement_lines": (
            "max(date(r.settled_on, 'start of month'), COALESCE(date(substr("
            "r.transaction_at, 1, 19), '+7 hours', 'start of month'), ''))"),
    },
}
#: each table's second column naming a transaction
_SECOND: Final = {"payments": "bank_reference", "settlement_lines": "original_txn_id"}
TABLES: Final = tuple(_SECOND)


def _spans(dialect: str, table: str) -> str:
    """(provider, txn_id, first_month, last_month) of the transactions the rows of ``table``
    with ids in [:lo, :hi) name, as those rows alone span them."""
    month = _MONTHS[dialect][table]
    rows = f"(SELECT * FROM {table} WHERE id >= :lo AND id < :hi)"
    second = _SECOND[table]
    return ("SELECT provider, txn_id, MIN(month) AS first_month, MAX(month) AS last_month "
            f"FROM (SELECT r.provider, r.provider_txn_id AS txn_id, {month} AS month "
            f"FROM {rows} r UNION ALL SELECT r.provider, r.{second}, {month} FROM {rows} r "
            f"WHERE r.{second} IS NOT NULL) n GROUP BY provider, txn_id")


def _uncovered(dialect: str, table: str) -> str:
    """The range's spans that ``transaction_spans`` lacks or holds narrower."""
    return (f"SELECT n.provider, n.txn_id, n.first_month, n.last_month "
            f"FROM ({_spans(dialect, table)}) n LEFT JOIN transaction_spans s "
            "ON s.provider = n.provider AND s.txn_id = n.txn_id WHERE s.txn_id IS NULL "
            "OR n.first_month < s.first_month OR n.last_month > s.last_month")


def _widen(dialect: str, table: str) -> str:
    """The upsert of the range's uncovered spans only (an upsert locks every row it meets,
    even one it leaves as it is: the spans already right are not met), in key order (as the
    triggers: no deadlock with them); the WHERE keeps SQLite's parser from reading the
    upsert's ON as a join's."""
    least, greatest = ("LEAST", "GREATEST") if dialect == "postgresql" else ("min", "max")
    return ("INSERT INTO transaction_spans (provider, txn_id, first_month, last_month) "
            f"SELECT * FROM ({_uncovered(dialect, table)}) u WHERE true "
            "ORDER BY provider, txn_id ON CONFLICT (provider, txn_id) DO UPDATE SET "
            f"first_month = {least}(transaction_spans.first_month, excluded.first_month), "
            f"last_month = {greatest}(transaction_spans.last_month, excluded.last_month) "
            "WHERE excluded.first_month < transaction_spans.first_month "
            "OR excluded.last_month > transaction_spans.last_month "
            "RETURNING provider, txn_id")


#: distinct transactions :class:`Spans` counts at most (beyond, it says "more than")
COUNTED: Final = 100_000


@dataclass
class Spans:
    """What :func:`check` or :func:`repair` found: the transactions whose span was missing
    or too narrow (each once, up to :data:`COUNTED`), and the rows read per table."""

    rows: dict[str, int] = field(default_factory=dict)
    uncovered: set[tuple[str, str]] = field(default_factory=set)
    more: bool = False  # more than COUNTED of them

    @property
    def total(self) -> int:
        return len(self.uncovered)

    def add(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            if key in self.uncovered:
                continue
            if len(self.uncovered) >= COUNTED:
                self.more = True
            else:
                self.uncovered.add(key)


Progress = Callable[[str, int], None]  # (table, rows of the range just done; 0 as it starts)


def _ranges(conn: Connection, table: str) -> list[tuple[int, int, int]]:
    """[lo, hi) ranges of ``table``'s ids holding rows, each with its row count."""
    counts = conn.execute(text(f"SELECT id / {RANGE}, COUNT(*) FROM {table} "
                               f"GROUP BY id / {RANGE} ORDER BY 1")).all()
    return [(int(k) * RANGE, (int(k) + 1) * RANGE, int(n)) for k, n in counts]


def row_counts(db: Database) -> dict[str, int]:
    """How many rows :func:`check` and :func:`repair` go through, per table."""
    with _reading(db) as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                for t in TABLES}


def check(db: Database, progress: Progress | None = None) -> Spans:
    """The transactions whose span is missing or narrower than their rows' months, read in
    one snapshot that takes no write lock."""
    out = Spans()
    with _reading(db) as conn:
        for table in TABLES:
            sql = text(_uncovered(conn.dialect.name, table))
            for lo, hi in _walk(table, _ranges(conn, table), out, progress):
                out.add((str(r[0]), str(r[1])) for r in conn.execute(sql, {"lo": lo, "hi": hi}))
    return out


def repair(db: Database, progress: Progress | None = None) -> Spans:
    """Every span missing or too narrow widened to its rows' months (inserted when missing),
    one range of ids per transaction (each holds its few locks for a moment: writers beside
    it hardly wait; a range interrupted is done again by the next repair, which only widens);
    what it found is what it wrote."""
    out = Spans()
    with _reading(db) as conn:
        plan = {table: _ranges(conn, table) for table in TABLES}
    sql = {table: text(_widen(db.dialect, table)) for table in TABLES}
    for table, ranges in plan.items():
        for lo, hi in _walk(table, ranges, out, progress):
            with db.engine.begin() as conn:
                out.add((str(r[0]), str(r[1]))
                        for r in conn.execute(sql[table], {"lo": lo, "hi": hi}))
    return out


def _walk(table: str, ranges: list[tuple[int, int, int]], out: Spans,
          progress: Progress | None) -> Iterator[tuple[int, int]]:
    """``table``'s ``ranges`` of ids, counted into ``out`` and told to ``progress`` as each
    is done."""
    out.rows[table] = 0
    if progress is not None:
        progress(table, 0)  # the table's work starts
    for lo, hi, count in ranges:
        yield lo, hi
        out.rows[table] += count
        if progress is not None:
            progress(table, count)


@contextlib.contextmanager
def _reading(db: Database) -> Iterator[Connection]:
    """One snapshot for reading: no write lock on SQLite (a check beside the webhooks makes
    none of them wait), repeatable read on PostgreSQL."""
    engine = db.engine.execution_options(recon_readonly=True)
    if db.dialect == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as conn, conn.begin():
        yield conn
