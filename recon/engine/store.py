"""Storing: what a run writes, each statement in the caller's transaction.

- **Findings** (:func:`persist`): only what changed is written. Every current finding goes
  to an upsert by identity (``INSERT ... ON CONFLICT (identity) DO UPDATE ... WHERE``): new
  rows are inserted, open ones whose values changed refreshed, auto-resolved ones that hold
  again reopened, and a human resolution is never undone; an open finding found unchanged is
  not written at all (on PostgreSQL not even locked). Its ``last_run_id`` is the last run that
  wrote it; that a full run saw it is recorded once, on the run's row (``seen_open``,
  migration 0014, read by :func:`recon.models.reconciliation.last_seen_run`). Findings that no
  longer hold are set ``auto_resolved`` with the reason (vi/en).
- **The run's row** in ``recon_runs``: abandoned ``running`` rows failed
  (:func:`fail_abandoned_runs`), this run's row opened (:func:`insert_run`), closed with its
  counts (:func:`finish_run`) or failed (:func:`fail_run`), with its change mark; the last
  successful run (:func:`recon.engine.changes.last_success`) decides the next run's mode.
- The count of open discrepancies by kind after a run (:func:`open_by_kind`), and fresh
  statistics after a big one (:func:`analyze_discrepancies`).
"""

# ruff: noqa: S608 - every SQL string here is built from this module's constants; values are
# always bound parameters.
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, bindparam, text

from recon.db import Database, UTCDateTime
from recon.engine import closed
from recon.engine.kinds import KINDS
from recon.engine.lifecycle import Resolution
from recon.engine.load import chunks
from recon.engine.records import Discrepancy

SYSTEM_ACTOR: Final = "system:reconcile"

# --------------------------------------------------------------------------- findings

_DISC_COLS: Final = (
    "identity", "kind", "status", "dossier_id", "payment_id", "settlement_line_id", "provider",
    "expected_amount", "actual_amount", "delta", "explanation", "explanation_en",
    "within_tolerance", "detected_at", "first_run_id", "last_run_id", "updated_at",
)
_VALUE_COLS: Final = ("kind", "dossier_id", "payment_id", "settlement_line_id", "provider",
                      "expected_amount", "actual_amount", "delta", "explanation",
                      "explanation_en", "within_tolerance")
_REOPEN_NULLS: Final = ("auto_resolved_reason", "auto_resolved_reason_en", "resolved_at",
                        "resolved_by", "resolution_type")


def _changed(pg: bool, old: str = "discrepancies", new: str = "excluded") -> str:
    """SQL: a stored finding ``old`` differs from the incoming ``new`` in a value column."""
    op = "IS DISTINCT FROM" if pg else "IS NOT"
    return " OR ".join(f"{old}.{c} {op} {new}.{c}" for c in _VALUE_COLS)


def _upsert_tail(pg: bool) -> str:
    """Only what changes is written: a new finding, an open one whose values changed, an
    auto-resolved one that holds again. An open finding found unchanged is left alone (not
    even its ``last_run_id``: the run's row records that it saw it, ``seen_open``)."""
    sets = [f"{c} = excluded.{c}" for c in _VALUE_COLS]
    sets.append("status = 'open'")
    sets.append("last_run_id = excluded.last_run_id")
    sets += [f"{c} = CASE WHEN discrepancies.status = 'auto_resolved' THEN NULL "
             f"ELSE discrepancies.{c} END" for c in _REOPEN_NULLS]
    sets.append("updated_at = excluded.updated_at")
    return ("ON CONFLICT (identity) DO UPDATE SET " + ", ".join(sets)
            + " WHERE discrepancies.status = 'auto_resolved' OR (discrepancies.status = 'open' "
            f"AND ({_changed(pg)}))")


def _finding_rows(findings: Iterable[Discrepancy], run_id: int, now: datetime,
                  pg: bool) -> Iterator[tuple[Any, ...]]:
    stamp: Any = now if pg else now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for d in findings:
        yield (d.identity, d.kind, "open", d.dossier_id, d.payment_id, d.settlement_line_id,
               d.provider, d.expected_amount, d.actual_amount, d.delta, d.explanation,
               d.explanation_en, d.within_tolerance, stamp, run_id, run_id, stamp)


def _reopened(conn: Connection, identities: Sequence[str]) -> list[str]:
    out: list[str] = []
    for chunk in chunks(identities):
        out.extend(conn.execute(
            text("SELECT identity FROM discrepancies WHERE status = 'auto_resolved' "
                 "AND identity IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": chunk}).scalars())
    return out


def persist(conn: Connection, *, run_id: int, now: datetime,
            findings: Sequence[Discrepancy], resolved: Sequence[Resolution] = (),
            copy: bool = True, held: closed.Held | None = None) -> list[str]:
    """Upsert ``findings`` by identity and close ``resolved`` as ``auto_resolved`` (see the
    module docstring), in the caller's transaction. Returns the identities that were reopened,
    sorted. A run may call it more than once in its transaction, with disjoint findings.

    On PostgreSQL the findings are streamed with a binary ``COPY`` into a temporary table and
    upserted from it in one statement; elsewhere (or with ``copy=False``, which the tests use
    to hold the two to the same rows) one ``INSERT ... ON CONFLICT`` per finding. ``held``
    is told what a closed month held back (:func:`recon.engine.closed.hold`)."""
    # a closed month's findings are left as they are; late data is reported in the open month
    findings, resolved = closed.hold(conn, findings, resolved, now, held)
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
            # only the rows that change go into the upsert: an unchanged open finding is not
            # even locked (a lock dirties its page as much as an update)
            picked = ", ".join(f"i.{c}" for c in _DISC_COLS)
            cursor.execute(
                f"INSERT INTO discrepancies ({cols}) SELECT {picked} FROM recon_incoming i "
                "LEFT JOIN discrepancies d ON d.identity = i.identity "
                "WHERE d.identity IS NULL OR d.status = 'auto_resolved' "
                f"OR (d.status = 'open' AND ({_changed(pg, 'd', 'i')})) "
                "ORDER BY i.identity " + _upsert_tail(pg))
    elif findings:
        if any_auto is not None:
            reopened = _reopened(conn, [d.identity for d in findings])
        placeholders = ", ".join(("%s" if pg else "?") for _ in _DISC_COLS)
        conn.exec_driver_sql(
            f"INSERT INTO discrepancies ({cols}) VALUES ({placeholders}) " + _upsert_tail(pg),
            list(_finding_rows(findings, run_id, now, pg)))
    if resolved and pg:
        # one statement for them all (one per finding costs a round trip each)
        conn.execute(text(
            "UPDATE discrepancies d SET status = 'auto_resolved', auto_resolved_reason = r.vi, "
            "auto_resolved_reason_en = r.en, resolution_type = 'auto', resolved_by = :actor, "
            "resolved_at = :now, last_run_id = :run, updated_at = :now "
            "FROM unnest(CAST(:ids AS text[]), CAST(:vis AS text[]), CAST(:ens AS text[])) "
            "AS r(identity, vi, en) WHERE d.identity = r.identity AND d.status = 'open'"
        ).bindparams(bindparam("now", type_=UTCDateTime())), {
            "ids": [r.identity for r in resolved], "vis": [r.reason for r in resolved],
            "ens": [r.reason_en for r in resolved], "actor": SYSTEM_ACTOR, "now": now,
            "run": run_id})
    elif resolved:
        conn.execute(text(
            "UPDATE discrepancies SET status = 'auto_resolved', auto_resolved_reason = :vi, "
            "auto_resolved_reason_en = :en, resolution_type = 'auto', resolved_by = :actor, "
            "resolved_at = :now, last_run_id = :run, updated_at = :now "
            "WHERE identity = :identity AND status = 'open'"
        ).bindparams(bindparam("now", type_=UTCDateTime())), [
            {"vi": r.reason, "en": r.reason_en, "actor": SYSTEM_ACTOR, "now": now,
             "run": run_id, "identity": r.identity} for r in resolved])
    return sorted(reopened)


# --------------------------------------------------------------------------- the run's row


def fail_abandoned_runs(conn: Connection, now: datetime) -> int:
    """Every run still ``running`` is failed (the caller holds the run lock, so its process is
    dead); how many."""
    return int(conn.execute(text(
        "UPDATE recon_runs SET status = 'failed', finished_at = :now, error = :error "
        "WHERE status = 'running'"
    ).bindparams(bindparam("now", type_=UTCDateTime())), {
        "now": now,
        "error": "abandoned: the process running it stopped before it finished "
                 "(found by the next run, which holds the run lock)",
    }).rowcount)


def last_full_success(conn: Connection) -> datetime | None:
    """``as_of`` of the latest successful full run that was not a dry run, if any."""
    last: datetime | None = conn.execute(text(
        "SELECT as_of FROM recon_runs WHERE status = 'succeeded' AND mode = 'full' "
        "AND dry_run = :f ORDER BY as_of DESC LIMIT 1").columns(as_of=UTCDateTime()),
        {"f": False}).scalar()
    return last


def insert_run(conn: Connection, *, mode: str, as_of: datetime, window_start: datetime | None,
               now: datetime, triggered_by: str, mark: int) -> int:
    """This run's row, ``running``, with its change ``mark``; its id."""
    run_id = conn.execute(text(
        "INSERT INTO recon_runs (mode, as_of, window_start, started_at, status, "
        "triggered_by, dry_run, counts, change_mark) VALUES (:mode, :as_of, :ws, :now, "
        "'running', :by, :dry, '{}', :mark) RETURNING id"
    ).bindparams(bindparam("as_of", type_=UTCDateTime()),
                 bindparam("ws", type_=UTCDateTime()),
                 bindparam("now", type_=UTCDateTime())),
        {"mode": mode, "as_of": as_of, "ws": window_start, "now": now,
         "by": triggered_by[:100], "dry": False, "mark": mark}).scalar_one()
    return int(run_id)


def finish_run(conn: Connection, run_id: int, *, now: datetime, counts: str,
               seen_open: bool = False) -> None:
    """The run ``succeeded``, with its counts (JSON); ``seen_open``: it judged every
    discrepancy open after it (a full run), so each was seen by it (migration 0014)."""
    conn.execute(text(
        "UPDATE recon_runs SET status = 'succeeded', finished_at = :now, counts = :counts, "
        "seen_open = :seen WHERE id = :id"
    ).bindparams(bindparam("now", type_=UTCDateTime())),
        {"now": now, "counts": counts, "id": run_id, "seen": seen_open})


def fail_run(db: Database, run_id: int, *, now: datetime, error: str) -> None:
    """The run ``failed`` with ``error``, in a transaction of its own; never raises (the
    caller is already handling the error that failed the run)."""
    with contextlib.suppress(Exception), db.engine.begin() as conn:
        conn.execute(text(
            "UPDATE recon_runs SET status = 'failed', finished_at = :now, error = :error "
            "WHERE id = :id AND status = 'running'"
        ).bindparams(bindparam("now", type_=UTCDateTime())),
            {"now": now, "error": error, "id": run_id})


def open_by_kind(conn: Connection) -> dict[str, int]:
    """How many discrepancies are open, for every kind (0 included)."""
    out = dict.fromkeys(KINDS, 0)
    for kind, n in conn.execute(text(
            "SELECT kind, COUNT(*) FROM discrepancies WHERE status = 'open' GROUP BY kind")):
        out[kind] = int(n)
    return out


def analyze_discrepancies(db: Database) -> None:
    """PostgreSQL: fresh statistics, so the next incremental run's lookups use the indexes:
    only the columns those lookups filter on (a quarter of the time of every column; the row
    count is refreshed all the same, and autovacuum analyzes the rest soon)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE discrepancies (identity, status, kind, dossier_id, "
                             "payment_id, settlement_line_id)")


__all__ = [
    "SYSTEM_ACTOR",
    "analyze_discrepancies",
    "fail_abandoned_runs",
    "fail_run",
    "finish_run",
    "insert_run",
    "last_full_success",
    "open_by_kind",
    "persist",
]
