"""What changed since a run, in the order the database itself keeps (migration 0009).

Application clocks cannot say what changed: ``as_of`` may lie in the future (a run "as of next
week" to see what falls due), a writer's clock may run behind, and a transaction may commit
after a run has read past its timestamp. So every row the engine reads carries ``change_seq``,
stamped by the database on every insert and update (by triggers and defaults; no code has to
remember), and each run records a *mark*: every change stamped below it was visible to the run.
The next incremental run reads the rows stamped at or above the previous run's mark (a
superset of what it has not seen; re-reading a row is harmless).

- **PostgreSQL** stamps the writing transaction's id (``pg_current_xact_id()``). A run's mark
  is the oldest id that a transaction *of this database* still running at a snapshot taken
  before the run loads holds (else the snapshot's ``xmax``; :func:`take_mark`, in the
  transaction that opens the run): every writer of recon's tables below the mark had finished
  by then, so what it committed was in the run's later read snapshot. A transaction still
  running then (even one that began writing long before) has an id at or above the mark and is
  read next time. Transactions of other databases on the same server are left out: they
  cannot write recon's tables, and a long one would otherwise hold every mark back.
- **SQLite** has one writer at a time. Triggers stamp the value of a one-row counter
  (``recon_change_counter``); :func:`take_mark` bumps it in the run's opening write
  transaction and the mark is the new value. A row stamped below it was committed before the
  bump (a writer stamps while holding the write lock), hence before the run's read snapshot.

What counts as a change of a dossier: the dossier row, any of its fee lines (inserted,
updated, or deleted: a deletion stamps the dossier), any of its intents. A discrepancy counts
when it becomes ``open`` again (reopened by hand, or by a run): its subjects are read again.
Discrepancies resolved by hand need nothing: no run ever touches them again.

``as_of`` judges settlement deadlines only: a payment's ``missing_settlement`` turns on or off
when the cutoff moves past its ``paid_at``, forwards or backwards, so an incremental run also
reads the payments whose deadline lies between the previous run's ``as_of`` and its own
(:func:`fell_due`).

A run recorded before migration 0009 has no mark: the next run is a full one.
"""

# ruff: noqa: S608 - the SQL here is built from this module's constants; values are bound.
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple

from sqlalchemy import Connection, text

from recon.db import UTCDateTime
from recon.engine.core import settlement_cutoff
from recon.engine.records import EngineConfig

Mode = Literal["full", "incremental", "auto"]

#: a row the previous run may not have seen (``alias`` is the table's alias, with its dot)
CHANGED: Final = "{alias}change_seq >= :mark"

#: dossiers changed: the row itself (a fee line's deletion stamps it too), its fee lines, its
#: intents
CHANGED_DOSSIERS: Final = (
    "SELECT id FROM dossiers WHERE change_seq >= :mark "
    "UNION SELECT dossier_id FROM fee_lines WHERE change_seq >= :mark "
    "UNION SELECT dossier_id FROM payment_intents WHERE change_seq >= :mark"
)

#: open discrepancies that became open again since the mark: (dossier, payment, line) ids
REOPENED: Final = (
    "SELECT dossier_id, payment_id, settlement_line_id FROM discrepancies "
    "WHERE change_seq >= :mark AND status = 'open'"
)


class Previous(NamedTuple):
    """The last successful (non dry) run: its ``as_of`` and its mark (``None`` before 0009)."""

    run_id: int
    as_of: datetime
    mark: int | None


def take_mark(conn: Connection) -> int:
    """This run's mark, in the transaction that opens the run (before its read snapshot)."""
    if conn.dialect.name == "postgresql":
        return _pg_mark(conn)
    conn.exec_driver_sql(
        "INSERT INTO recon_change_counter (id, value) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET value = recon_change_counter.value + 1")
    return int(conn.exec_driver_sql(
        "SELECT value FROM recon_change_counter WHERE id = 1").scalar_one())


#: the ids of the transactions running in this database (read after the snapshot): each
#: session's ``backend_xid``, and, should a role see no other role's ``backend_xid``, the
#: transaction-id locks every writing transaction holds on its own id (``pg_locks`` shows
#: every session's), and the prepared transactions'
_PG_RUNNING_HERE: Final = (
    "SELECT backend_xid::text::bigint FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL "
    "UNION SELECT l.transactionid::text::bigint FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'transactionid' "
    "AND l.granted AND a.datname = current_database() "
    "UNION SELECT transaction::text::bigint FROM pg_prepared_xacts "
    "WHERE database = current_database()")


def _pg_mark(conn: Connection) -> int:
    """The oldest transaction of *this database* still running at a snapshot taken now, else
    the snapshot's ``xmax`` (the next id to be given out).

    ``pg_snapshot_xmin`` alone would be the oldest transaction running on the whole server:
    a long one in another database (which cannot write recon's tables) would hold every mark
    back and make each incremental run re-read all changes since. So the snapshot's running
    ids (``xip``, full 64-bit ids) are kept only where a transaction of this database holds
    one, as ``pg_stat_activity`` and ``pg_prepared_xacts`` show them *after* the snapshot (the
    statistics snapshot is cleared first): a transaction running at the snapshot is either
    still listed then, and kept, or finished, and then committed before this run's read
    snapshot, which sees it. ``backend_xid`` is a 32-bit id: it is compared with the low 32
    bits of each running id."""
    snapshot, own = conn.exec_driver_sql(
        "SELECT pg_current_snapshot()::text, "
        "pg_current_xact_id_if_assigned()::text::bigint").one()
    conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
    here = {int(x) for x in conn.exec_driver_sql(_PG_RUNNING_HERE).scalars()}
    _xmin, xmax, running = str(snapshot).split(":")
    mine = [int(x) for x in running.split(",") if x and (int(x) & 0xFFFFFFFF) in here]
    if own is not None:  # the opening transaction's own writes count too
        mine.append(int(own))
    return min([*mine, int(xmax)])


def last_success(conn: Connection) -> Previous | None:
    row = conn.execute(text(
        "SELECT id, as_of, change_mark FROM recon_runs WHERE status = 'succeeded' "
        "AND dry_run = :f ORDER BY id DESC LIMIT 1").columns(as_of=UTCDateTime()),
        {"f": False}).first()
    if row is None:
        return None
    return Previous(int(row[0]), row[1], None if row[2] is None else int(row[2]))


def decide(requested: Mode, previous: Previous | None) -> str:
    """``full`` when asked, or when there is no previous mark to start from; else
    ``incremental`` (whichever way ``as_of`` moved: :func:`fell_due` covers both)."""
    if requested == "full" or previous is None or previous.mark is None:
        return "full"
    return "incremental"


def fell_due(since: datetime, as_of: datetime, config: EngineConfig, *,
             before: datetime | None = None,
             ) -> Iterator[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """Conditions on payments ``p`` (with their parameters and the names to expand) for the
    payments whose ``missing_settlement`` may differ between ``since`` (the previous run's
    ``as_of``) and ``as_of``: paid between the two cutoffs of their provider's deadline,
    succeeded, of a provider that settles, without a sale line under their own id (a refund
    line settles nothing). One
    condition per distinct number of settlement days; none when the cutoffs are equal.
    ``before``: only those paid before it (a bounded full run reads every payment from its
    horizon on anyway; what fell due among them needs no look-up of its own)."""
    explicit = dict(config.settlement_days)
    exempt = sorted(config.no_settlement_providers) or [""]
    for days in sorted({config.default_settlement_days, *explicit.values()}):
        a = settlement_cutoff(since, days, config.calendar)
        b = settlement_cutoff(as_of, days, config.calendar)
        low, high = min(a, b), max(a, b)
        if before is not None:
            high = min(high, before)
        if low >= high:
            continue
        params: dict[str, Any] = {"low": low, "high": high, "exempt": exempt}
        if days == config.default_settlement_days:
            others = sorted(p for p, d in explicit.items() if d != days) or [""]
            providers = "p.provider NOT IN :others"
            params["others"] = others
            names: tuple[str, ...] = ("exempt", "others")
        else:
            providers = "p.provider IN :these"
            params["these"] = sorted(p for p, d in explicit.items() if d == days)
            names = ("exempt", "these")
        yield (f"p.paid_at >= :low AND p.paid_at < :high AND {providers} "
               "AND p.status = 'succeeded' AND p.provider NOT IN :exempt AND NOT EXISTS ("
               "SELECT 1 FROM settlement_lines l WHERE l.provider = p.provider "
               "AND l.provider_txn_id = p.provider_txn_id AND l.kind = 'sale')", params, names)


__all__ = ["CHANGED", "CHANGED_DOSSIERS", "REOPENED", "Previous", "decide", "fell_due",
           "last_success", "take_mark"]
