# ruff: noqa: S608 - SQL built from this module's and declarations' constants; values are bound
"""What is owed the budget, kept between runs (migration 0034): each dossier's part.

:func:`recon.review.declarations.owed` sums, per Vietnam month, collector, kind, tiểu mục and
retention rate, the parts of every succeeded payment's fee lines -- one query over the whole
history. The remittance pass used to run it in every run. Instead:

- ``owed_parts`` keeps what each dossier contributes (its payments' parts summed per month,
  collector, kind, tiểu mục and rate: a part depends on the dossier's earlier payments, so a
  dossier is always recomputed whole), ``owed_totals`` their sums, and ``owed_state`` the
  change mark (:mod:`recon.engine.changes`) the tables are current to and the agency codes they
  were computed with.
- **Incremental** (:func:`update`): the dossiers changed since the state's mark -- the dossier
  row (its agency), a fee line (a deleted one stamps its dossier), a payment (any change of
  status, amount or time) -- and the dossiers of an agency whose code changed (its code is the
  collector of every fee line without one) are recomputed; the totals move by their new parts
  less their old. Its cost is that of the changed dossiers, not of the history.
- **Full**: the changed dossiers as above, then every dossier recomputed on the server and
  summed (:func:`whole_totals`, the reference query's work) and compared with the kept totals
  in the same snapshot; only if they differ (the tables drifted) are every dossier's parts
  rebuilt (:func:`rebuild`: into a temporary table, only the differences written). A steady
  rerun writes nothing. With closed months behind (``since``), only the open months are
  recomputed and compared. The first run after the upgrade builds the tables with :func:`rebuild`.

Both run in a transaction of their own (:func:`refresh`), which takes its own mark
(:func:`recon.engine.changes.take_mark`) before it reads and stores it in ``owed_state`` with
the tables: what the tables hold is always the parts as of a snapshot after which every change
is stamped at or above the stored mark, whether or not the run that called it succeeds, and
whichever runs came between (a run without the remittance pass, a dry run). Only a run (under
the run lock) writes them; anything else may read them with :func:`current`, which applies the
changed dossiers' delta in memory and writes nothing.

Exact, integers only; equal to :func:`~recon.review.declarations.owed` (the reference, kept):
tests/finance/test_owed_fast.py and tests/finance/test_owed_store.py.

Assumption (as the incremental loader's): payments, dossiers and agencies are never deleted,
and a payment's dossier is only ever set (a manual match attaches a payment that had none,
:func:`recon.review.actions.approve`), never moved from one dossier to another: the old
dossier of a moved payment would keep its part until the next full run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, text

from recon.db import UTCDateTime, by_ids, utcnow
from recon.engine import changes
from recon.engine.explain import vn_date
from recon.engine.load import first_open_dossier
from recon.engine.remittances import Key
from recon.review.declarations import _MONTH_PG, _MONTH_SQLITE
from recon.review.treasury import LE_PHI, split

#: (yyyymm, collector, kind, tiểu mục, retention rate): a row of the declarations
PartKey = tuple[int, str, str, str, int]
Parts = dict[int, dict[PartKey, int]]  # dossier id -> its parts

CHUNK: Final = 5_000
#: an incremental update with more changed dossiers than this rebuilds instead (one pass on
#: the server is cheaper than that many dossiers through Python)
REBUILD_ABOVE: Final = 200_000

_PARTS: Final = """
SELECT x.dossier_id, x.month, x.collector, x.kind, x.budget_code, x.retention_bp,
       CAST(SUM(x.part) AS BIGINT) AS amount
FROM (SELECT p.dossier_id, p.month, COALESCE(f.collector_code, p.receiver) AS collector,
             f.kind, COALESCE(f.budget_code, '') AS budget_code,
             CASE WHEN f.kind = 'le_phi' THEN 0 ELSE COALESCE(f.retention_bp, 0) END
               AS retention_bp,
             (CASE WHEN p.upto < f.upto THEN p.upto ELSE f.upto END)
             - (CASE WHEN p.upto - p.amount > f.upto - f.amount THEN p.upto - p.amount
                     ELSE f.upto - f.amount END) AS part
      FROM (SELECT p.dossier_id, p.amount, {MONTH} AS month, a.code AS receiver,
                   CAST(SUM(p.amount) OVER (PARTITION BY p.dossier_id ORDER BY p.paid_at, p.id
                                            ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto
            FROM payments p
            JOIN dossiers d ON d.id = p.dossier_id
            JOIN agencies a ON a.id = d.agency_id
            WHERE p.status = 'succeeded' AND p.paid_at IS NOT NULL {PAYMENTS}) p
      JOIN (SELECT f.dossier_id, f.amount, f.kind, f.budget_code, f.retention_bp,
                   f.collector_code,
                   CAST(SUM(f.amount) OVER (PARTITION BY f.dossier_id ORDER BY f.position
                                            ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto
            FROM fee_lines f {FEE_LINES}) f
        ON f.dossier_id = p.dossier_id AND f.upto - f.amount < p.upto
       AND p.upto - p.amount < f.upto) x
WHERE x.part > 0
GROUP BY x.dossier_id, x.month, x.collector, x.kind, x.budget_code, x.retention_bp
"""
_COLUMNS: Final = "dossier_id, month, collector, kind, budget_code, retention_bp, amount"
_KEY: Final = ("month", "collector", "kind", "budget_code", "retention_bp")
_SAME_KEY: Final = " AND ".join(f"n.{c} = o.{c}" for c in ("dossier_id", *_KEY))

#: the dossiers whose parts may have changed since the mark
_CHANGED: Final = (
    "SELECT id FROM dossiers WHERE change_seq >= :mark "
    "UNION SELECT dossier_id FROM fee_lines WHERE change_seq >= :mark "
    "UNION SELECT dossier_id FROM payments WHERE change_seq >= :mark "
    "AND dossier_id IS NOT NULL")


def _parts_sql(conn: Connection, restricted: bool) -> str:
    month = _MONTH_PG if conn.dialect.name == "postgresql" else _MONTH_SQLITE
    among = "dossier_id IN :ids"
    return (_PARTS.replace("{MONTH}", month)
            .replace("{PAYMENTS}", f"AND p.{among}" if restricted else "")
            .replace("{FEE_LINES}", f"WHERE f.{among}" if restricted else ""))


def _chunks(values: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(values), CHUNK):
        yield list(values[i:i + CHUNK])


def _key(row: Sequence[Any]) -> PartKey:
    return (int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]))


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class State:
    """``owed_state``: the mark the tables are current to and the agency codes they used."""

    mark: int
    agencies: dict[int, str]


def read_state(conn: Connection) -> State | None:
    row = conn.execute(text("SELECT change_mark, agencies FROM owed_state WHERE id = 1")).first()
    if row is None:
        return None
    return State(int(row[0]), {int(k): str(v) for k, v in json.loads(row[1]).items()})


def agency_codes(conn: Connection) -> dict[int, str]:
    return {int(i): str(c) for i, c in conn.execute(text("SELECT id, code FROM agencies"))}


def changed_dossiers(conn: Connection, state: State, agencies: Mapping[int, str]) -> list[int]:
    """The dossiers to recompute: changed since the state's mark, and those of an agency whose
    code is not the one the tables used."""
    found = {int(i) for i in conn.execute(text(_CHANGED), {"mark": state.mark}).scalars()}
    renamed = sorted(i for i, code in agencies.items()
                     if i in state.agencies and state.agencies[i] != code)
    if renamed:
        found.update(int(i) for i in conn.execute(
            text("SELECT id FROM dossiers WHERE agency_id IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": renamed}).scalars())
    return sorted(found)


def fresh_parts(conn: Connection, dossiers: Sequence[int]) -> Parts:
    """The parts of ``dossiers`` computed now from their payments and fee lines."""
    out: Parts = {}
    query = by_ids(conn, _parts_sql(conn, True))
    for ids in _chunks(dossiers):
        for row in conn.execute(query, {"ids": ids}):
            out.setdefault(int(row[0]), {})[_key(row[1:6])] = int(row[6])
    return out


def stored_parts(conn: Connection, dossiers: Sequence[int]) -> Parts:
    out: Parts = {}
    query = by_ids(conn, f"SELECT {_COLUMNS} FROM owed_parts WHERE dossier_id IN :ids")
    for ids in _chunks(dossiers):
        for row in conn.execute(query, {"ids": ids}):
            out.setdefault(int(row[0]), {})[_key(row[1:6])] = int(row[6])
    return out


def read_totals(conn: Connection) -> dict[PartKey, int]:
    return {_key(r[:5]): int(r[5]) for r in conn.execute(
        text(f"SELECT {', '.join(_KEY)}, amount FROM owed_totals"))}


def owed_of(collected: Mapping[PartKey, int], collectors: Sequence[str] | None = None
            ) -> dict[Key, int]:
    """What is owed per (collector, tiểu mục, month): each row's split, as
    :func:`recon.review.declarations.owed` applies it."""
    out: dict[Key, int] = {}
    for (yyyymm, collector, kind, code, bp), amount in sorted(collected.items()):
        if amount == 0 or (collectors is not None and collector not in collectors):
            continue
        _kept, to_remit = split(amount, kind, 0 if kind == LE_PHI else bp)
        key = (collector, code, date(yyyymm // 100, yyyymm % 100, 1))
        out[key] = out.get(key, 0) + to_remit
    return out


def _moved(totals: Mapping[PartKey, int], old: Parts, new: Parts,
           dossiers: Iterable[int]) -> dict[PartKey, int]:
    """``totals`` less the old parts and plus the new parts of ``dossiers``."""
    out = dict(totals)
    for d in dossiers:
        for k, v in old.get(d, {}).items():
            out[k] = out.get(k, 0) - v
        for k, v in new.get(d, {}).items():
            out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


def current(conn: Connection) -> dict[PartKey, int] | None:
    """The collected amounts now, from the tables and the changed dossiers (read only; call it
    in one snapshot), or None when the tables were never built."""
    state = read_state(conn)
    if state is None:
        return None
    dossiers = changed_dossiers(conn, state, agency_codes(conn))
    return _moved(read_totals(conn), stored_parts(conn, dossiers),
                  fresh_parts(conn, dossiers), dossiers)


# --------------------------------------------------------------------------- writes


@dataclass
class Refreshed:
    """What :func:`refresh` did: the collected amounts, how, and the rows it wrote."""

    collected: dict[PartKey, int]
    #: "incremental", "full" (and every dossier checked: in line), "built" (the tables were
    #: never built), "rebuilt" (too many changed dossiers), "repaired" (a full run found the
    #: tables drifted and rebuilt them)
    how: str
    count: int  # incremental and full: the changed dossiers recomputed; else the parts built
    written: int  # part and total rows inserted, updated or deleted

    def describe(self) -> str:
        what = {"incremental": f"{self.count:,} changed dossiers recomputed",
                "full": f"{self.count:,} changed dossiers recomputed, every dossier's sums "
                        "checked against the kept totals: in line",
                "built": "the tables were never built: built them from every dossier "
                         f"({self.count:,} parts)",
                "rebuilt": f"more than {REBUILD_ABOVE:,} dossiers changed: rebuilt from "
                           f"every dossier ({self.count:,} parts)",
                "repaired": "the kept totals differed from every dossier's sums: rebuilt "
                            f"from every dossier ({self.count:,} parts)"}[self.how]
        return f"owed parts: {what}, {self.written:,} rows written"


def _write_totals(conn: Connection, before: Mapping[PartKey, int],
                  after: Mapping[PartKey, int]) -> int:
    gone = [k for k in before if k not in after]
    changed = [(k, v) for k, v in after.items() if before.get(k) != v]
    where = " AND ".join(f"{c} = :{c}" for c in _KEY)
    if gone:
        conn.execute(text(f"DELETE FROM owed_totals WHERE {where}"),
                     [dict(zip(_KEY, k, strict=True)) for k in gone])
    updates = [(k, v) for k, v in changed if k in before]
    inserts = [(k, v) for k, v in changed if k not in before]
    if updates:
        conn.execute(text(f"UPDATE owed_totals SET amount = :amount WHERE {where}"),
                     [{**dict(zip(_KEY, k, strict=True)), "amount": v} for k, v in updates])
    if inserts:
        conn.execute(text(f"INSERT INTO owed_totals ({', '.join(_KEY)}, amount) VALUES "
                          f"({', '.join(':' + c for c in _KEY)}, :amount)"),
                     [{**dict(zip(_KEY, k, strict=True)), "amount": v} for k, v in inserts])
    return len(gone) + len(changed)


def _write_state(conn: Connection, mark: int, agencies: Mapping[int, str], *,
                 built: bool) -> None:
    now = utcnow()  # when the tables were written: a record, it judges nothing
    codes = json.dumps({str(k): v for k, v in sorted(agencies.items())}, ensure_ascii=False)
    done = conn.execute(text(
        "UPDATE owed_state SET change_mark = :mark, agencies = :agencies, updated_at = :now"
        + (", built_at = :now" if built else "") + " WHERE id = 1"),
        {"mark": mark, "agencies": codes, "now": now}).rowcount
    if not done:
        conn.execute(text(
            "INSERT INTO owed_state (id, change_mark, agencies, built_at, updated_at) "
            "VALUES (1, :mark, :agencies, :now, :now)"),
            {"mark": mark, "agencies": codes, "now": now})


def update(conn: Connection, *, mark: int, agencies: Mapping[int, str],
           dossiers: Sequence[int]) -> Refreshed:
    """Recompute ``dossiers`` and write what differs, in the caller's write transaction."""
    old, new = stored_parts(conn, dossiers), fresh_parts(conn, dossiers)
    before = read_totals(conn)
    after = _moved(before, old, new, dossiers)
    written = 0
    gone: list[dict[str, Any]] = []
    put: list[dict[str, Any]] = []
    for d in dossiers:
        was, now = old.get(d, {}), new.get(d, {})
        gone += [{"dossier_id": d, **dict(zip(_KEY, k, strict=True))}
                 for k, v in was.items() if now.get(k) != v]
        put += [{"dossier_id": d, **dict(zip(_KEY, k, strict=True)), "amount": v}
                for k, v in now.items() if was.get(k) != v]
    if gone:
        _delete_parts(conn, gone)
    if put:
        conn.execute(text(f"INSERT INTO owed_parts ({_COLUMNS}) VALUES "
                          f"({', '.join(':' + c for c in _COLUMNS.split(', '))})"), put)
    written += len(gone) + len(put) + _write_totals(conn, before, after)
    _write_state(conn, mark, agencies, built=False)
    return Refreshed(after, "incremental", len(dossiers), written)


#: the parts ``gone`` lists, in one statement (PostgreSQL): a row per part from the arrays,
#: each deleted through the primary key (statement by statement, 600 parts took 10 ms)
_DELETE_LISTED: Final = (
    "DELETE FROM owed_parts o USING unnest(CAST(:dossier_id AS bigint[]), "
    "CAST(:month AS integer[]), CAST(:collector AS text[]), CAST(:kind AS text[]), "
    "CAST(:budget_code AS text[]), CAST(:retention_bp AS integer[])) "
    "AS g(dossier_id, month, collector, kind, budget_code, retention_bp) WHERE "
    + " AND ".join(f"o.{c} = g.{c}" for c in ("dossier_id", *_KEY)))


def _delete_parts(conn: Connection, gone: Sequence[Mapping[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(_DELETE_LISTED),
                     {c: [g[c] for g in gone] for c in ("dossier_id", *_KEY)})
        return
    where = " AND ".join(f"{c} = :{c}" for c in ("dossier_id", *_KEY))
    conn.execute(text(f"DELETE FROM owed_parts WHERE {where}"), list(gone))


def rebuild(conn: Connection, *, mark: int, agencies: Mapping[int, str],
            how: str = "rebuilt") -> Refreshed:
    """Recompute every dossier on the server and write only what differs, in the caller's
    write transaction."""
    pg = conn.dialect.name == "postgresql"
    if how == "built":  # nothing to compare with: straight in
        conn.execute(text("DELETE FROM owed_parts"))
        conn.execute(text("DELETE FROM owed_totals"))
        parts = conn.execute(text(
            f"INSERT INTO owed_parts ({_COLUMNS}) {_parts_sql(conn, False)}")).rowcount or 0
        after = {_key(r[:5]): int(r[5]) for r in conn.execute(text(
            f"SELECT {', '.join(_KEY)}, CAST(SUM(amount) AS BIGINT) FROM owed_parts "
            f"GROUP BY {', '.join(_KEY)}"))}
        written = parts + _write_totals(conn, {}, after)
        _write_state(conn, mark, agencies, built=True)
        _analyze(conn)
        return Refreshed(after, how, parts, written)
    if not pg:
        conn.exec_driver_sql("DROP TABLE IF EXISTS temp.owed_fresh")
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE owed_fresh (dossier_id BIGINT NOT NULL, month INTEGER NOT NULL,"
        " collector VARCHAR(40) NOT NULL, kind VARCHAR(10) NOT NULL, budget_code VARCHAR(4) "
        "NOT NULL, retention_bp INTEGER NOT NULL, amount BIGINT NOT NULL"
        + (") ON COMMIT DROP" if pg else
           ", PRIMARY KEY (dossier_id, month, collector, kind, budget_code, retention_bp))"))
    parts = conn.execute(text(
        f"INSERT INTO owed_fresh ({_COLUMNS}) {_parts_sql(conn, False)}")).rowcount or 0
    if pg:
        conn.exec_driver_sql("ANALYZE owed_fresh")
    written = conn.execute(text(
        "DELETE FROM owed_parts AS o WHERE NOT EXISTS (SELECT 1 FROM owed_fresh n WHERE "
        f"{_SAME_KEY} AND n.amount = o.amount)")).rowcount or 0
    # what is left of a key has its amount: the rest of the fresh rows are new
    written += conn.execute(text(
        f"INSERT INTO owed_parts ({_COLUMNS}) SELECT {_COLUMNS} FROM owed_fresh n "
        f"WHERE NOT EXISTS (SELECT 1 FROM owed_parts o WHERE {_SAME_KEY})")).rowcount or 0
    after = {_key(r[:5]): int(r[5]) for r in conn.execute(text(
        f"SELECT {', '.join(_KEY)}, CAST(SUM(amount) AS BIGINT) FROM owed_fresh "
        f"GROUP BY {', '.join(_KEY)}"))}
    written += _write_totals(conn, read_totals(conn), after)
    if not pg:
        conn.exec_driver_sql("DROP TABLE temp.owed_fresh")
    _write_state(conn, mark, agencies, built=True)
    _analyze(conn)
    return Refreshed(after, how, parts, written)


def _analyze(conn: Connection) -> None:
    """Fresh statistics after a build (PostgreSQL): planned with those of the empty table
    (or none at all), the next incremental update read 600 dossiers' parts by a scan of all
    two million (0.11 s at 1M) instead of its primary key (2 ms), until autovacuum came by
    (never, where it is off). In the write transaction: the statistics are the rows it
    commits."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE owed_parts, owed_totals")


#: the dossiers below the open months' first (:func:`~recon.engine.load.first_open_dossier`)
#: with a payment from ``since`` on (a few)
_BELOW_SINCE: Final = ("SELECT DISTINCT dossier_id FROM payments WHERE paid_at >= :since "
                       "AND dossier_id < :lo")


def whole_totals(conn: Connection, since: datetime | None = None) -> dict[PartKey, int]:
    """Every dossier's parts summed per row of the declarations, on the server: the work of
    :func:`~recon.review.declarations.owed`, at the grain of ``owed_totals``. With ``since``
    (the first instant of the first open month), only the rows of the months from then on:
    those of the dossiers with a payment since (a part's month is its payment's), each still
    recomputed whole. They are read by the dossier indexes' range from the first dossier
    received since, and by id below it, never hashed against the whole history (at 5M
    dossiers with 1M open: 13 s on three processes before, 9 s on one)."""
    month = _MONTH_PG if conn.dialect.name == "postgresql" else _MONTH_SQLITE
    sql = (_PARTS.replace("{MONTH}", month)
           .replace("SELECT x.dossier_id, x.month", "SELECT x.month", 1)
           .replace("GROUP BY x.dossier_id, x.month", "GROUP BY x.month", 1))
    if since is None:
        return _summed(conn, sql.replace("{PAYMENTS}", "").replace("{FEE_LINES}", ""), {}, 0)
    first = _yyyymm(since)
    lo = first_open_dossier(conn, since)
    below = sorted(int(r[0]) for r in conn.execute(
        text(_BELOW_SINCE).bindparams(bindparam("since", type_=UTCDateTime())),
        {"since": since, "lo": lo}))
    # (the dossiers' range named too: the planner otherwise walks all of their index)
    totals = _summed(conn, sql.replace("{PAYMENTS}", "AND p.dossier_id >= :lo AND d.id >= :lo")
                     .replace("{FEE_LINES}", "WHERE f.dossier_id >= :lo"), {"lo": lo}, first)
    among = "dossier_id IN :ids"
    by_id = (sql.replace("{PAYMENTS}", f"AND p.{among}")
             .replace("{FEE_LINES}", f"WHERE f.{among}"))
    for chunk in _chunks(below):
        for key, amount in _summed(conn, by_id, {"ids": chunk}, first).items():
            totals[key] = totals.get(key, 0) + amount
    return {k: v for k, v in totals.items() if v}


def _summed(conn: Connection, sql: str, params: Mapping[str, Any],
            first: int) -> dict[PartKey, int]:
    """``sql`` (a :data:`_PARTS` summed per row of the declarations) run, the rows of the
    months from ``first`` (yyyymm) on. On PostgreSQL, for the open months (``first``), the
    indexes are walked in dossier order in one process (10.6 s at 1M open dossiers of 5M,
    EXPLAIN ANALYZE, 2026-12-07): the planner's own plan sorts in three parallel processes
    (10.5 s, and every core, while the run's load needs one), and without sorts but in
    parallel it takes 6.7 s and about 12 s of the cores. Over the whole history its own
    plan is the better one (31.9 s against 48.4 s at 5M)."""
    pg = conn.dialect.name == "postgresql"
    query = by_ids(conn, sql) if "ids" in params else text(sql)
    if pg and first:
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    # (a failure aborts the transaction, which drops the settings with it)
    summed = {_key(r[:5]): int(r[5]) for r in conn.execute(query, dict(params))
              if int(r[5]) and int(r[0]) >= first}
    if pg and first:
        conn.exec_driver_sql("SET LOCAL enable_sort = DEFAULT")
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = DEFAULT")
    return summed


def _yyyymm(since: datetime | None) -> int:
    """The Vietnam month of ``since`` as yyyymm (0 for None: every month)."""
    if since is None:
        return 0
    day = vn_date(since)
    return day.year * 100 + day.month


def refresh(conn: Connection, *, full: bool, since: datetime | None = None) -> Refreshed:
    """Bring the tables up to date in ``conn``'s transaction, which must be a fresh write
    transaction (on PostgreSQL ``REPEATABLE READ``): the mark is taken first, before anything
    is read. The changed dossiers are recomputed (every one when the tables were never built,
    or when more than :data:`REBUILD_ABOVE` changed). ``full``: every dossier is recomputed
    too, on the server, and its sums compared with the kept totals (in one snapshot): when
    they differ (the tables drifted: a payment moved to another dossier, rows changed by hand
    with the triggers off), every dossier's parts are rebuilt, only the differences
    written. A steady full run so costs the whole-history query the pass always ran, and
    writes nothing. ``since`` (a full run with closed months behind: the first instant of the
    first open month): only the open months are recomputed and compared (the dossiers with a
    payment since); the closed months' parts stay as the incremental updates keep them."""
    mark = changes.take_mark(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")  # compiling costs these scans more
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")  # the window sums' sorts
    state = read_state(conn)
    agencies = agency_codes(conn)
    if state is None:
        return rebuild(conn, mark=mark, agencies=agencies, how="built")
    dossiers = changed_dossiers(conn, state, agencies)
    if len(dossiers) > REBUILD_ABOVE:
        return rebuild(conn, mark=mark, agencies=agencies, how="rebuilt")
    done = update(conn, mark=mark, agencies=agencies, dossiers=dossiers)
    if not full:
        return done
    first = _yyyymm(since)
    if whole_totals(conn, since) == {k: v for k, v in done.collected.items() if k[0] >= first}:
        return Refreshed(done.collected, "full", done.count, done.written)
    again = rebuild(conn, mark=mark, agencies=agencies, how="repaired")
    again.written += done.written
    return again


def refresh_on(conn: Connection, *, full: bool, say: Callable[[str], None] | None = None,
               since: datetime | None = None) -> Refreshed:
    """:func:`refresh` in a transaction of its own on a connection of ``conn``'s engine."""
    engine = conn.engine
    with engine.connect() as raw:
        own = (raw.execution_options(isolation_level="REPEATABLE READ")
               if engine.dialect.name == "postgresql" else raw)
        with own.begin():
            done = refresh(own, full=full, since=since)
    if say is not None:
        say(done.describe())
    return done


__all__ = ["CHUNK", "REBUILD_ABOVE", "PartKey", "Parts", "Refreshed", "State",
           "agency_codes", "changed_dossiers", "current", "fresh_parts", "owed_of",
           "read_state", "read_totals", "rebuild", "refresh", "refresh_on", "stored_parts",
           "update", "whole_totals"]
