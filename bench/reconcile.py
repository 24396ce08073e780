"""Reconciliation at scale: build N dossiers, run recon and the peers a user would pick instead.

    python bench/reconcile.py --dossiers 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/test

The URL names an *admin* database: the bench creates a scratch database beside it (SQLite: a
temporary file when the URL is ``sqlite``), builds the data there with set-based SQL
(``generate_series`` on PostgreSQL; SQLite gets the same rows through ``recon.bulk``), then, each
recon run in a child process: ``recon reconcile --full``; the same again with nothing changed
(the nightly rerun); the peers; 1,000 new events (400 late settlements, 300 new duplicate
payments, 300 refunds of settled payments) and ``recon reconcile --incremental``. It prints one
JSON line:

- ``full_seconds`` / ``steady_rerun_seconds`` / ``incremental_seconds``: each run's own time
  (load, reconcile, write, commit), as the command reports it; ``*_process_seconds`` add the
  child's interpreter start-up;
- ``peak_rss_mb``: the peak resident memory of the first full run's process;
- ``records_per_second``: (dossiers + payments + settlement lines) / ``full_seconds``;
- ``scan_ratio``: full run / the time to read the same rows with plain SELECTs (psycopg
  tuples, no processing; PostgreSQL);
- ``peers``: for each peer its ``seconds`` (read and count, library import excluded), its
  ``ratio`` (recon's full run / the peer) and whether its per-kind counts equal recon's
  (``counts_match``; a difference is also shouted on stderr). ``polars_adbc``: polars over
  Arrow tables read through ADBC; ``pandas_copy``: pandas reading ``COPY … TO STDOUT`` CSV
  (PostgreSQL); ``pandas_read_sql``: ``pandas.read_sql``, the old baseline. They need the
  ``bench`` extra (``pip install -e '.[bench]'``); a peer whose library is missing is skipped.
  A peer counts the nine kinds but writes nothing, explains nothing and has no incremental
  mode (see the comment above ``PEER_FEES`` for what it simplifies);
- ``targets``: issue 15's (full ≤ 6 s, incremental ≤ 0.3 s, steady rerun ≤ 60 % of the first
  run, peak ≤ 1.5 GB), each with ``met``; ``applies`` is true only for 1,000,000 dossiers on
  PostgreSQL without ``--history``, the size they are set for.

About 4.5% of the dossiers in the open months are faulty, covering every discrepancy kind.

``--history TOTAL`` (PostgreSQL) builds TOTAL dossiers of which the newest ``--dossiers`` lie in
the open months (from 2026-01-01, with the faults, the same as without the flag) and the older
ones in the months before, fully paid and settled: no discrepancies. The months before 2026 are
closed (``periods``), and a successful full run as of their close is recorded (the history was
reconciled before it was closed), so a full run reads the open months only (``open_from`` in
the output). The 1,000 events touch only open months. Compare its figures with a run of
``--dossiers`` alone.

``steady_rerun_findings_written``: the findings the nightly rerun wrote (0 when nothing
changed: a run writes only what changes, and records on its own row that it saw the rest).

To iterate without building again (a million dossiers take one to two minutes):
``--reuse-database NAME`` builds into PostgreSQL database ``NAME`` the first time and keeps it;
later runs reset it to as built (the previous run's discrepancies, runs and audit events and
the 1,000 events undone: a few seconds). ``--no-baselines`` skips the scan and the peers;
``--drop-database NAME`` drops the kept database.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bench.common import DEFAULT_PG, scratch_database
from bench.payout_credits import add_credits
from recon.cli.admin import upgrade_database
from recon.review import owed_store

AS_OF = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam
EVENTS_AT = AS_OF + timedelta(minutes=1)
INCREMENTAL_AS_OF = AS_OF + timedelta(minutes=2)
PROVIDERS = ("vnpay", "momo", "zalopay", "payos", "sepay", "cash")
CHANNELS = ("vnpay", "momo", "zalopay", "payos", "vietqr", "cash")
FAULT_EVERY = 200  # fault kinds 0..8 at i % 200: 4.5 % of dossiers
START = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)

# ---------------------------------------------------------------------------- PostgreSQL

PG_BUILD = """
INSERT INTO agencies (id, code, name, bank_bin, account_number, account_name, created_at)
VALUES (1, 'BENCH', 'Trung tâm bench', '970415', '113000000000', 'TTHCC BENCH', now());
INSERT INTO procedures (id, code, name, field, created_at)
SELECT p, '1.00' || lpad(p::text, 4, '0'), 'Thủ tục số ' || p, 'Lĩnh vực', now()
FROM generate_series(1, 40) p;
INSERT INTO settlement_files (id, provider, filename, sha256, size, content, source, profile,
                              imported_at, imported_by, row_count, total_amount)
SELECT k, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[k], 'bench-' || k || '.csv',
       lpad(k::text, 64, '0'), 0, ''::bytea, 'upload', NULL, now(), 'bench', 0, 0
FROM generate_series(1, 5) k;

-- all the dossiers, the newest in the open months (i minus the base >= 1, from 2026-01-01 on);
-- the base older ones (--history) lie in the months before, fully paid and settled
CREATE TEMP TABLE g AS
SELECT i,
       CASE WHEN i > :base AND (i - :base) % 200 < 9 THEN (i - :base) % 200 ELSE -1 END AS fault,
       CASE WHEN i > :base AND (i - :base) % 200 < 9 THEN 1 + i % 5 ELSE 1 + i % 6 END AS prov,
       150000 + (i % 7) * 1000 AS total,
       timestamptz '2026-01-01 01:00:00+00' + (i - :base) * interval '15 seconds' AS paid_at
FROM generate_series(1, :total) i;

-- each dossier written once, with its fee lines' sum (as the bulk importer does: 0039)
INSERT INTO dossiers (id, code, agency_id, procedure_id, applicant_name, received_at,
                      received_channel, status, created_at, updated_at, fee_total)
SELECT i, '000.00.21.H57-B-' || lpad(i::text, 8, '0'), 1, 1 + i % 40, 'Nguyễn Văn Bench',
       paid_at - interval '1 hour', 'counter', 'received', paid_at, paid_at, total
FROM g;

SET LOCAL recon.fee_total_by_writer = 'on';

INSERT INTO fee_lines (id, dossier_id, position, kind, name, amount)
SELECT 2 * i - 1, i, 1, 'le_phi', 'Lệ phí', 100000 + (i % 7) * 1000 FROM g
UNION ALL
SELECT 2 * i, i, 2, 'phi', 'Phí thẩm định', 50000 FROM g;

SET LOCAL recon.fee_total_by_writer = 'off';

INSERT INTO payment_intents (id, dossier_id, channel, amount, reference, status, created_by,
                             created_at, expires_at, paid_at, closed_at, updated_at)
SELECT i, i, (ARRAY['vnpay','momo','zalopay','payos','vietqr','cash'])[prov], total,
       'HSB' || i, 'paid', 'bench', paid_at - interval '5 minutes', paid_at + interval '10 minutes',
       paid_at, paid_at, paid_at
FROM g;

-- one payment per dossier (amounts off for underpaid / overpaid; refunded for status_mismatch;
-- no dossier, intent or reference for unmatched)
INSERT INTO payments (id, provider, provider_txn_id, channel, amount, status, paid_at,
                      received_at, reference, intent_id, dossier_id, recorded_by, updated_at)
SELECT i, (ARRAY['vnpay','momo','zalopay','payos','sepay','cash'])[prov], 'TX' || i,
       (ARRAY['vnpay','momo','zalopay','payos','vietqr','cash'])[prov],
       CASE fault WHEN 0 THEN total - 10000 WHEN 1 THEN total + 5000 ELSE total END,
       CASE fault WHEN 8 THEN 'refunded' ELSE 'succeeded' END,
       paid_at, paid_at,
       CASE WHEN fault = 3 THEN NULL ELSE 'HSB' || i END,
       CASE WHEN fault = 3 THEN NULL ELSE i END,
       CASE WHEN fault = 3 THEN NULL ELSE i END,
       'bench', paid_at
FROM g;
-- duplicate payments: the same dossier and intent paid again through another provider
INSERT INTO payments (id, provider, provider_txn_id, channel, amount, status, paid_at,
                      received_at, reference, intent_id, dossier_id, recorded_by, updated_at)
SELECT :total + i, 'momo', 'TXD' || i, 'momo', total, 'succeeded', paid_at + interval '1 hour',
       paid_at + interval '1 hour', 'HSB' || i, i, i, 'bench', paid_at + interval '1 hour'
FROM g WHERE fault = 2;

-- settlement lines: every non-cash payment except the missing ones, amounts off for
-- amount_mismatch; a second line for duplicate_settlement; lines nobody paid; lines for the
-- duplicate payments
INSERT INTO settlement_lines (id, file_id, line_no, provider, provider_txn_id, amount, fee, net,
                              transaction_at, settled_on, reference, created_at)
SELECT i, prov, i, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], 'TX' || i, a,
       a / 100, a - a / 100, paid_at, (paid_at + interval '1 day')::date, NULL,
       paid_at + interval '1 day'
FROM (SELECT g.*, CASE fault WHEN 0 THEN total - 10000 WHEN 1 THEN total + 5000
                             WHEN 6 THEN total + 1000 ELSE total END AS a FROM g) s
WHERE prov <> 6 AND fault <> 4
UNION ALL
SELECT :total + i, prov, :total + i, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov],
       'TX' || i, total, total / 100, total - total / 100, paid_at,
       (paid_at + interval '2 days')::date, NULL, paid_at + interval '2 days'
FROM g WHERE fault = 7
UNION ALL
SELECT 2 * :total + i, prov, 2 * :total + i,
       (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], 'TXU' || i, 77000, 770, 76230,
       paid_at, (paid_at + interval '1 day')::date, NULL, paid_at + interval '1 day'
FROM g WHERE fault = 5
UNION ALL
SELECT 3 * :total + i, 2, 3 * :total + i, 'momo', 'TXD' || i, total, total / 100,
       total - total / 100,
       paid_at + interval '1 hour', (paid_at + interval '1 day')::date, NULL,
       paid_at + interval '1 day'
FROM g WHERE fault = 2;
"""

PG_SEQUENCES = ("agencies", "procedures", "settlement_files", "dossiers", "fee_lines",
                "payment_intents", "payments", "settlement_lines")

# 1,000 events after the full run: 400 late settlements (missing -> auto-resolved),
# 300 new duplicate payments, 300 refunds of settled payments (-> status_mismatch)
PG_EVENTS = """
INSERT INTO settlement_lines (file_id, line_no, provider, provider_txn_id, amount, fee, net,
                              transaction_at, settled_on, reference, created_at)
SELECT 1, 10 * :total + p.id, p.provider, p.provider_txn_id, p.amount, p.amount / 100,
       p.amount - p.amount / 100, p.paid_at,
       DATE '2026-11-30', NULL, :at
FROM payments p
WHERE p.id IN (SELECT i FROM generate_series(:base + 4, :total, 200) i) ORDER BY p.id LIMIT 400;

INSERT INTO payments (provider, provider_txn_id, channel, amount, status, paid_at, received_at,
                      reference, intent_id, dossier_id, recorded_by, updated_at)
SELECT 'zalopay', 'TXN' || i, 'zalopay', 150000 + (i % 7) * 1000, 'succeeded', :at, :at,
       'HSB' || i, i, i, 'bench', :at
FROM generate_series(:base + 7, :total, :step) i LIMIT 300;

UPDATE payments SET status = 'refunded', updated_at = :at
WHERE id IN (SELECT i FROM generate_series(:base + 21, :total, 211) i
             WHERE (i - :base) % 200 >= 9 AND i % 6 <> 5
             ORDER BY i LIMIT 300);
"""


# --history: the months before 2026 are closed (for every agency), and were reconciled before
# they were closed: a successful full run as of the close, whose change mark lies after the
# build (what a centre's database holds after years of nightly runs and monthly closes)
PG_HISTORY = """
INSERT INTO periods (month, scope_key, status, proposed_by, proposed_at, approved_by,
                     approved_at, created_at, updated_at)
SELECT m::date, 0, 'closed', 'bench', timestamptz '2026-01-05 03:00+00', 'bench',
       timestamptz '2026-01-06 03:00+00', now(), now()
FROM generate_series(
       date_trunc('month', (SELECT MIN(received_at) FROM dossiers) AT TIME ZONE
                  'Asia/Ho_Chi_Minh'),
       timestamp '2025-12-01', interval '1 month') m;
"""
PG_PRIOR_RUN = """
INSERT INTO recon_runs (mode, as_of, started_at, finished_at, status, triggered_by, dry_run,
                        counts, change_mark, seen_open)
VALUES ('full', timestamptz '2026-01-06 03:00+00', now(), now(), 'succeeded', 'bench', false,
        '{}', pg_snapshot_xmin(pg_current_snapshot())::text::bigint, true)
"""


def history_postgresql(engine: Engine) -> None:
    """--history: the prior run the closed months were reconciled by (after a build or a
    reset; the periods are made by the build)."""
    with engine.begin() as conn:
        conn.execute(text(PG_PRIOR_RUN))


def build_postgresql(engine: Engine, n: int, total: int | None = None) -> None:
    """``total`` dossiers (``n`` when None), the newest ``n`` in the open months."""
    total = n if total is None else total
    statements = [s.strip() for s in PG_BUILD.split(";\n") if s.strip()]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"total": total, "base": total - n})
        for table in PG_SEQUENCES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT MAX(id) FROM {table}))"))
        if total > n:
            conn.execute(text(PG_HISTORY))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# Undo a finished bench run on a kept database (--reuse-database): its discrepancies, runs,
# audit events and kept owed parts (built again before the timed runs: build_owed_parts),
# and the 1,000 events. A scratch database only: session_replication_role =
# replica skips the audit table's append-only trigger (and the foreign-key triggers).
PG_RESET = """
SET LOCAL session_replication_role = replica;
TRUNCATE discrepancies, recon_runs, audit_events, period_snapshots;
TRUNCATE owed_parts, owed_totals, owed_state;
DELETE FROM settlement_lines WHERE created_at = :at;
DELETE FROM payments WHERE provider_txn_id LIKE 'TXN%' AND updated_at = :at;
UPDATE payments SET status = 'succeeded', updated_at = paid_at WHERE updated_at = :at
"""


def reset_postgresql(engine: Engine) -> None:
    """Bring a kept bench database back to what ``build_postgresql`` left."""
    with engine.begin() as conn:
        for statement in (s.strip() for s in PG_RESET.split(";\n") if s.strip()):
            conn.execute(text(statement), {"at": EVENTS_AT})
        for table in ("payments", "settlement_lines", "discrepancies", "recon_runs",
                      "audit_events"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE payments, settlement_lines, discrepancies, "
                          "recon_runs, audit_events"))


@contextmanager
def kept_database(pg_url: str, name: str, n: int,
                  total: int | None = None) -> Iterator[tuple[str, bool]]:
    """PostgreSQL database ``name`` beside ``pg_url``, kept afterwards: ``(url, built)``.
    Created, migrated and built with ``n`` dossiers the first time (``built`` true); later,
    migrated to the latest schema and reset to the as-built state (``built`` false). It must
    have been built with the same ``n`` (and ``total``, for --history)."""
    total = n if total is None else total
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"--reuse-database: {name!r} is not a plain lower-case identifier")
    base = make_url(pg_url)
    url = base.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).first() is not None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    try:
        if exists:
            with engine.connect() as conn:
                marker = conn.execute(text(
                    "SELECT to_regclass('bench_reconcile')")).scalar_one()
                row = None if marker is None else conn.execute(text(
                    "SELECT * FROM bench_reconcile")).first()
            # (dossiers) from before --history, (dossiers, total) since
            built = None if row is None else (row[0], row[1] if len(row) > 1 else row[0])
            if built != (n, total):
                raise SystemExit(
                    f"database {name!r} exists but was not built by this bench with --dossiers "
                    f"{n} and {total} in all (found {built}); drop it (--drop-database "
                    f"{name}) or pick another")
            upgrade_database(url)  # a database kept across a new migration catches up
            reset_postgresql(engine)
        else:
            upgrade_database(url)
            build_postgresql(engine, n, total)
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE bench_reconcile (dossiers INTEGER NOT NULL, "
                                  "total INTEGER NOT NULL)"))
                conn.execute(text("INSERT INTO bench_reconcile VALUES (:n, :t)"),
                             {"n": n, "t": total})
    finally:
        engine.dispose()
    yield url, not exists


def drop_database(pg_url: str, name: str) -> None:
    admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def events_postgresql(engine: Engine, n: int, total: int | None = None) -> None:
    """The 1,000 events, all on dossiers of the open months."""
    total = n if total is None else total
    with engine.begin() as conn:
        for statement in (s.strip() for s in PG_EVENTS.split(";\n") if s.strip()):
            conn.execute(text(statement), {"total": total, "base": total - n, "at": EVENTS_AT,
                                           "step": max(1, n // 300)})


# ---------------------------------------------------------------------------- SQLite


def _sqlite_rows(n: int) -> dict[str, Iterator[tuple[Any, ...]]]:
    def g() -> Iterator[tuple[int, int, int, int, datetime]]:
        for i in range(1, n + 1):
            fault = i % FAULT_EVERY if i % FAULT_EVERY < 9 else -1
            prov = 1 + i % 5 if fault >= 0 else 1 + i % 6
            yield i, fault, prov, 150000 + (i % 7) * 1000, START + timedelta(seconds=15 * i)

    def dossiers() -> Iterator[tuple[Any, ...]]:
        for i, _f, _p, _t, at in g():
            yield (i, f"000.00.21.H57-B-{i:08d}", 1, 1 + i % 40, "Nguyễn Văn Bench",
                   at - timedelta(hours=1), "counter", "received", at, at)

    def fee_lines() -> Iterator[tuple[Any, ...]]:
        for i, _f, _p, _t, _at in g():
            yield (2 * i - 1, i, 1, "le_phi", "Lệ phí", 100000 + (i % 7) * 1000)
            yield (2 * i, i, 2, "phi", "Phí thẩm định", 50000)

    def intents() -> Iterator[tuple[Any, ...]]:
        for i, _f, p, total, at in g():
            yield (i, i, CHANNELS[p - 1], total, f"HSB{i}", "paid", "bench",
                   at - timedelta(minutes=5), at + timedelta(minutes=10), at, at, at)

    def payments() -> Iterator[tuple[Any, ...]]:
        for i, f, p, total, at in g():
            amount = total - 10000 if f == 0 else total + 5000 if f == 1 else total
            matched = None if f == 3 else i
            yield (i, PROVIDERS[p - 1], f"TX{i}", CHANNELS[p - 1], amount,
                   "refunded" if f == 8 else "succeeded", at, at,
                   None if f == 3 else f"HSB{i}", matched, matched, "bench", at)
        for i, f, _p, total, at in g():
            if f == 2:
                later = at + timedelta(hours=1)
                yield (n + i, "momo", f"TXD{i}", "momo", total, "succeeded", later, later,
                       f"HSB{i}", i, i, "bench", later)

    def lines() -> Iterator[tuple[Any, ...]]:
        for i, f, p, total, at in g():
            day = (at + timedelta(days=1)).date()
            if p != 6 and f != 4:
                a = {0: total - 10000, 1: total + 5000, 6: total + 1000}.get(f, total)
                yield (i, p, i, PROVIDERS[p - 1], f"TX{i}", a, a // 100, a - a // 100, at, day,
                       None, at + timedelta(days=1))
            if f == 7:
                yield (n + i, p, n + i, PROVIDERS[p - 1], f"TX{i}", total, total // 100,
                       total - total // 100, at, day + timedelta(days=1), None,
                       at + timedelta(days=2))
            if f == 5:
                yield (2 * n + i, p, 2 * n + i, PROVIDERS[p - 1], f"TXU{i}", 77000, 770, 76230,
                       at, day, None, at + timedelta(days=1))
            if f == 2:
                yield (3 * n + i, 2, 3 * n + i, "momo", f"TXD{i}", total, total // 100,
                       total - total // 100, at + timedelta(hours=1), day, None,
                       at + timedelta(days=1))

    return {"dossiers": dossiers(), "fee_lines": fee_lines(), "payment_intents": intents(),
            "payments": payments(), "settlement_lines": lines()}


SQLITE_COLUMNS = {
    "dossiers": ("id", "code", "agency_id", "procedure_id", "applicant_name", "received_at",
                 "received_channel", "status", "created_at", "updated_at"),
    "fee_lines": ("id", "dossier_id", "position", "kind", "name", "amount"),
    "payment_intents": ("id", "dossier_id", "channel", "amount", "reference", "status",
                        "created_by", "created_at", "expires_at", "paid_at", "closed_at",
                        "updated_at"),
    "payments": ("id", "provider", "provider_txn_id", "channel", "amount", "status", "paid_at",
                 "received_at", "reference", "intent_id", "dossier_id", "recorded_by",
                 "updated_at"),
    "settlement_lines": ("id", "file_id", "line_no", "provider", "provider_txn_id", "amount",
                         "fee", "net", "transaction_at", "settled_on", "reference",
                         "created_at"),
}


def build_sqlite(engine: Engine, n: int) -> None:
    from sqlalchemy.orm import Session

    from recon.bulk import insert_rows

    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        insert_rows(session, "agencies", ("id", "code", "name", "bank_bin", "account_number",
                                          "account_name", "created_at"),
                    [(1, "BENCH", "Trung tâm bench", "970415", "113000000000", "TTHCC BENCH",
                      now)])
        insert_rows(session, "procedures", ("id", "code", "name", "field", "created_at"),
                    [(p, f"1.00{p:04d}", f"Thủ tục số {p}", "Lĩnh vực", now)
                     for p in range(1, 41)])
        insert_rows(session, "settlement_files", (
            "id", "provider", "filename", "sha256", "size", "content", "source", "imported_at",
            "imported_by", "row_count", "total_amount"),
            [(k, PROVIDERS[k - 1], f"bench-{k}.csv", f"{k:064d}", 0, b"", "upload", now,
              "bench", 0, 0) for k in range(1, 6)])
        for table, rows in _sqlite_rows(n).items():
            insert_rows(session, table, SQLITE_COLUMNS[table],
                        (tuple(v.isoformat() if isinstance(v, date) and not isinstance(
                            v, datetime) else v for v in row) for row in rows))


def events_sqlite(engine: Engine, n: int) -> None:
    from sqlalchemy.orm import Session

    from recon.bulk import insert_rows

    with engine.connect() as conn:
        missing = conn.execute(text(
            "SELECT id, provider, provider_txn_id, amount, paid_at FROM payments "
            "WHERE id % 200 = 4 ORDER BY id LIMIT 400")).all()
        refunds = [r[0] for r in conn.execute(text(
            "SELECT id FROM payments WHERE id % 211 = 21 AND id % 200 >= 9 AND id % 6 <> 5 "
            "AND id <= :n ORDER BY id LIMIT 300"), {"n": n})]
    with Session(engine) as session, session.begin():
        insert_rows(session, "settlement_lines", SQLITE_COLUMNS["settlement_lines"][1:], [
            (1, 10 * n + pid, prov, txn, amount, amount // 100, amount - amount // 100, paid_at,
             "2026-11-30", None,
             EVENTS_AT) for pid, prov, txn, amount, paid_at in missing])
        insert_rows(session, "payments", SQLITE_COLUMNS["payments"][1:], [
            ("zalopay", f"TXN{i}", "zalopay", 150000 + (i % 7) * 1000, "succeeded", EVENTS_AT,
             EVENTS_AT, f"HSB{i}", i, i, "bench", EVENTS_AT)
            for i in list(range(7, n + 1, max(1, n // 300)))[:300]])
        session.execute(text("UPDATE payments SET status = 'refunded', updated_at = :at "
                             "WHERE id IN (" + ",".join(map(str, refunds or [0])) + ")"),
                        {"at": EVENTS_AT.strftime("%Y-%m-%d %H:%M:%S.%f")})


# ---------------------------------------------------------------------------- measuring


# The bench's fee contracts: every provider's lines carry 1 % of the gross, rounded down (the
# data above: ``a / 100``), so fee_mismatch is judged on every line and finds nothing. Without
# them the children would judge the bench's fees by the demo's contracts (0.88 %, 1.10 %, ...)
# and find a false fee_mismatch on most lines, which is not the workload this bench measures.
BENCH_CONTRACTS = "version = 1\n" + "".join(
    f"""
[[contract]]
id = "{provider}-bench"
provider = "{provider}"
channel = "*"
valid_from = 2021-01-01
kind = "per_transaction"
rate_bp = 100
rounding = "down"
vat_included = true
""" for provider in PROVIDERS if provider != "cash")


def _contracts_file() -> str:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"recon-bench-contracts-{os.getpid()}.toml"
    path.write_text(BENCH_CONTRACTS, encoding="utf-8")
    return str(path)


def _child_env(url: str) -> dict[str, str]:
    return {**os.environ, "RECON_DATABASE_URL": url, "RECON_ENV": "development"}


def settle(engine: Engine) -> float:
    """PostgreSQL: the database left as a nightly run finds it, before a timed run: the dead
    rows of the bench's own bulk writes (the reset, the owed parts' build, the first run's
    findings) vacuumed and the tables analysed, then a checkpoint, so that neither autovacuum
    nor the checkpointer's writes land inside the timed run (on a slow disk they added 2-5 s to
    the run right after a bulk write). Seconds taken; nothing on SQLite."""
    if engine.dialect.name != "postgresql":
        return 0.0
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
        conn.execute(text("CHECKPOINT"))
    return time.perf_counter() - started


def build_owed_parts(engine: Engine) -> float:
    """The remittance pass's kept parts (migration 0034) built as the first run after the
    upgrade builds them, so that the timed runs find them in place, as a deployment's nightly
    run does; the build's own time is reported apart (``owed_build_seconds``)."""
    started = time.perf_counter()
    with engine.connect() as raw:
        conn = (raw.execution_options(isolation_level="REPEATABLE READ")
                if engine.dialect.name == "postgresql" else raw)
        with conn.begin():
            owed_store.refresh(conn, full=True)
    return time.perf_counter() - started


def reconcile_in_child(url: str, *args: str) -> tuple[dict[str, Any], float, float]:
    """``recon reconcile ARGS`` in a child: its JSON summary (with the child's CPU seconds
    added), wall seconds, peak RSS MiB."""
    contracts = _contracts_file()
    env = {**_child_env(url), "RECON_CONTRACTS_FILE": contracts}
    started = time.perf_counter()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "recon.cli", "reconcile", *args],
                                env=env, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        Path(contracts).unlink(missing_ok=True)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"recon reconcile {' '.join(args)} failed (wait status {status})")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    summary["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    return summary, wall, usage.ru_maxrss / 1024


SCAN_QUERIES = (
    "SELECT id, code FROM dossiers",
    "SELECT dossier_id, amount FROM fee_lines",
    "SELECT id, provider, provider_txn_id, channel, amount, status, paid_at, dossier_id, "
    "intent_id, reference FROM payments",
    "SELECT id, provider, provider_txn_id, amount, fee, net, settled_on, transaction_at "
    "FROM settlement_lines",
)


def plain_scan_seconds(engine: Engine) -> float:
    """Read the rows a full run reads with plain SELECTs into Python tuples, nothing more."""
    started = time.perf_counter()
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        for sql in SCAN_QUERIES:
            cursor = raw.cursor()
            cursor.execute(sql)
            rows = cursor.fetchall()
            del rows
            cursor.close()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- the peers
#
# What a user would write instead of recon: read the rows into a dataframe library and count
# the differences. Each peer computes, per kind, the counts recon's full run finds on the bench's
# data (underpaid, overpaid, duplicate_payment, unmatched_payment, missing_settlement,
# amount_mismatch, status_mismatch, unexpected_settlement, duplicate_settlement), with these
# simplifications: a payment's dossier is its own ``dossier_id`` (no fallback to its intent's),
# a repeat is any later succeeded payment of the same amount on an overpaid dossier (recon's
# greedy fit of repeats into the excess is left out), one settlement deadline for every
# provider but cash, no bank references, no tolerance flag, no payout pass (batches and bank
# credits). A peer writes nothing, explains nothing and has no incremental mode: it is a lower
# bound on the work, not a replacement.

PEER_FEES = "SELECT dossier_id, amount FROM fee_lines"
PEER_PAYMENTS = ("SELECT id, provider, provider_txn_id, amount, status, paid_at, dossier_id "
                 "FROM payments")
# the providers' reports only: the centre's bank statement (the payout credits,
# bench/payout_credits.py) is the payout pass's, which no peer does
PEER_LINES = ("SELECT id, provider, provider_txn_id, amount, settled_on FROM settlement_lines "
              "WHERE file_id IN (SELECT id FROM settlement_files WHERE profile IS NULL)")


def _peer_cutoff(as_of: datetime) -> datetime:
    from recon.engine.core import settlement_cutoff
    from recon.engine.records import EngineConfig

    return settlement_cutoff(as_of, EngineConfig().default_settlement_days)


def _pandas_counts(fees: Any, pays: Any, lines: Any, as_of: datetime) -> dict[str, int]:
    """The differences, per kind, from three pandas frames."""
    import pandas as pd

    assessed = fees.groupby("dossier_id")["amount"].sum().rename("assessed")
    ok = pays[pays["status"] == "succeeded"]
    matched = ok[ok["dossier_id"].notna()]
    repeat = (matched.sort_values(["paid_at", "id"]).duplicated(["dossier_id", "amount"])
              .reindex(matched.index))
    per_dossier = pd.concat([
        matched.groupby("dossier_id")["amount"].sum().rename("paid"),
        matched[repeat].groupby("dossier_id")["amount"].agg(["sum", "count"]),
    ], axis=1).fillna(0).join(assessed, how="left")
    over = per_dossier["paid"] > per_dossier["assessed"]
    lines = lines.sort_values(["settled_on", "id"])
    first = lines.drop_duplicates(["provider", "provider_txn_id"])
    merged = pays.merge(first, on=["provider", "provider_txn_id"], how="outer",
                        suffixes=("_p", "_l"), indicator=True)
    paid_at = pd.to_datetime(merged["paid_at"], utc=True, format="ISO8601")
    succeeded = merged["status"] == "succeeded"
    both = merged["_merge"] == "both"
    return {
        "underpaid": int((per_dossier["paid"] < per_dossier["assessed"]).sum()),
        "overpaid": int((over & (per_dossier["paid"] - per_dossier["sum"]
                                 > per_dossier["assessed"])).sum()),
        "duplicate_payment": int(per_dossier.loc[over, "count"].sum()),
        "unmatched_payment": int(ok["dossier_id"].isna().sum()),
        "missing_settlement": int(((merged["_merge"] == "left_only") & succeeded
                                   & (merged["provider"] != "cash")
                                   & (paid_at < pd.Timestamp(_peer_cutoff(as_of)))).sum()),
        "unexpected_settlement": int((merged["_merge"] == "right_only").sum()),
        "amount_mismatch": int((both & succeeded
                                & (merged["amount_p"] != merged["amount_l"])).sum()),
        "status_mismatch": int((both & ~succeeded).sum()),
        "duplicate_settlement": int(len(lines) - len(first)),
    }


def _polars_counts(fees: Any, pays: Any, lines: Any, as_of: datetime) -> dict[str, int]:
    """The differences, per kind, from three polars frames (lazy, one plan per figure)."""
    import polars as pl

    if pays.schema["paid_at"] == pl.String:  # SQLite hands timestamps over as text
        pays = pays.with_columns(pl.col("paid_at").str.to_datetime(time_unit="us")
                                 .dt.replace_time_zone("UTC"))
    if lines.schema["settled_on"] == pl.String:
        lines = lines.with_columns(pl.col("settled_on").str.to_date())
    assessed = fees.lazy().group_by("dossier_id").agg(pl.col("amount").sum().alias("assessed"))
    ok = pays.lazy().filter(pl.col("status") == "succeeded")
    per_dossier = (
        ok.filter(pl.col("dossier_id").is_not_null())
        .sort("paid_at", "id")
        .with_columns(pl.col("id").cum_count().over("dossier_id", "amount").alias("nth"))
        .group_by("dossier_id")
        .agg(pl.col("amount").sum().alias("paid"),
             pl.col("amount").filter(pl.col("nth") > 1).sum().alias("repeats"),
             (pl.col("nth") > 1).sum().alias("repeat_count"))
        .join(assessed, on="dossier_id", how="left")
    )
    over = pl.col("paid") > pl.col("assessed")
    ranked = lines.lazy().sort("settled_on", "id")
    first = ranked.unique(["provider", "provider_txn_id"], keep="first", maintain_order=True)
    key = ["provider", "provider_txn_id"]
    settled = pays.lazy().join(first, on=key, how="inner", suffix="_l")
    cutoff = _peer_cutoff(as_of)
    dossier_counts = per_dossier.select(
        (pl.col("paid") < pl.col("assessed")).sum().alias("underpaid"),
        (over & (pl.col("paid") - pl.col("repeats") > pl.col("assessed"))).sum()
        .alias("overpaid"),
        pl.col("repeat_count").filter(over).sum().alias("duplicate_payment"),
    ).collect().row(0, named=True)
    line_counts = settled.select(
        ((pl.col("status") == "succeeded") & (pl.col("amount") != pl.col("amount_l"))).sum()
        .alias("amount_mismatch"),
        (pl.col("status") != "succeeded").sum().alias("status_mismatch"),
    ).collect().row(0, named=True)
    missing = ok.filter((pl.col("provider") != "cash") & (pl.col("paid_at") < cutoff)).join(
        first, on=key, how="anti").select(pl.len()).collect().item()
    unexpected = first.join(pays.lazy(), on=key, how="anti").select(pl.len()).collect().item()
    unmatched = ok.filter(pl.col("dossier_id").is_null()).select(pl.len()).collect().item()
    duplicates = lines.height - first.select(pl.len()).collect().item()
    counts = {**dossier_counts, **line_counts, "unmatched_payment": unmatched,
              "missing_settlement": missing, "unexpected_settlement": unexpected,
              "duplicate_settlement": duplicates}
    return {k: int(v or 0) for k, v in counts.items()}


def _libpq_uri(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url: str) -> str:
    return str(make_url(url).database)


def polars_adbc_seconds(url: str, kind: str, as_of: datetime) -> tuple[float, dict[str, int]]:
    """Peer (a): polars over Arrow, read through ADBC (libpq's binary COPY on PostgreSQL)."""
    import polars as pl

    if kind == "postgresql":
        from adbc_driver_postgresql import dbapi as adbc
        connect: Any = lambda: adbc.connect(_libpq_uri(url))  # noqa: E731
    else:
        from adbc_driver_sqlite import dbapi as adbc_sqlite
        connect = lambda: adbc_sqlite.connect(_sqlite_path(url))  # noqa: E731
    started = time.perf_counter()  # the libraries' import is not counted, for any peer
    frames: list[Any] = []
    with connect() as conn, conn.cursor() as cursor:
        for sql in (PEER_FEES, PEER_PAYMENTS, PEER_LINES):
            cursor.execute(sql)
            frames.append(pl.from_arrow(cursor.fetch_arrow_table()))
    counts = _polars_counts(frames[0], frames[1], frames[2], as_of)
    return time.perf_counter() - started, counts


def pandas_copy_seconds(engine: Engine, as_of: datetime) -> tuple[float, dict[str, int]]:
    """Peer (b): pandas reading ``COPY (…) TO STDOUT`` CSV (PostgreSQL only)."""
    import io

    import pandas as pd

    started = time.perf_counter()
    frames: list[Any] = []
    with engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
            for sql in (PEER_FEES, PEER_PAYMENTS, PEER_LINES):
                buffer = io.BytesIO()
                with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                    for chunk in copy:
                        buffer.write(chunk)
                buffer.seek(0)
                frames.append(pd.read_csv(buffer, dtype={"dossier_id": "Int64"}))
        conn.rollback()
    counts = _pandas_counts(frames[0], frames[1], frames[2], as_of)
    return time.perf_counter() - started, counts


def pandas_read_sql_seconds(engine: Engine, as_of: datetime) -> tuple[float, dict[str, int]]:
    """Peer (c): ``pandas.read_sql``, the bench's old baseline."""
    import pandas as pd

    started = time.perf_counter()
    with engine.connect() as conn:
        frames = [pd.read_sql(sql, conn) for sql in (PEER_FEES, PEER_PAYMENTS, PEER_LINES)]
    counts = _pandas_counts(frames[0], frames[1], frames[2], as_of)
    return time.perf_counter() - started, counts


def run_peers(url: str, engine: Engine, kind: str, as_of: datetime,
              recon_counts: dict[str, int], full_seconds: float) -> dict[str, Any]:
    """Each peer's seconds, ratio (recon full / peer) and whether its counts equal recon's; a
    peer whose libraries are missing is reported as such."""
    peers: dict[str, Any] = {}
    runs: list[tuple[str, Any]] = [
        ("polars_adbc", lambda: polars_adbc_seconds(url, kind, as_of)),
        ("pandas_copy", (lambda: pandas_copy_seconds(engine, as_of))
         if kind == "postgresql" else None),
        ("pandas_read_sql", lambda: pandas_read_sql_seconds(engine, as_of)),
    ]
    for name, run in runs:
        if run is None:
            peers[name] = {"skipped": "PostgreSQL only"}
            continue
        if kind == "sqlite":
            # ADBC's SQLite driver carries its own copy of SQLite. Two copies in one process
            # do not see each other's file locks: closing its connection, ADBC's copy thinks
            # it is the last one, checkpoints and deletes the WAL file that this process's
            # pooled sqlite3 connections still hold open, and what they write next goes to the
            # deleted file, unseen by any other process (the next incremental run, in a child,
            # loaded nothing). So no sqlite3 connection stays open across a peer.
            engine.dispose()
        try:
            seconds, counts = run()
        except ImportError as exc:
            peers[name] = {"skipped": f"{exc.name} not installed: pip install -e '.[bench]'"}
            continue
        finally:
            if kind == "sqlite":
                engine.dispose()
        expected = {k: recon_counts.get(k, 0) for k in counts}
        differs = {k: [counts[k], expected[k]] for k in counts if counts[k] != expected[k]}
        if differs:
            print(f"!!! PEER MISMATCH: {name} counts differ from recon's (peer, recon): "
                  f"{differs}", file=sys.stderr)
        peers[name] = {"seconds": round(seconds, 2), "ratio": round(full_seconds / seconds, 2),
                       "counts_match": not differs, "mismatches": differs}
        print(f"peer {name}: {seconds:.2f}s, counts {'match' if not differs else 'DIFFER'}",
              file=sys.stderr)
    return peers


# the targets of issue 15, for 1,000,000 dossiers on PostgreSQL on the idle 2-core machine
TARGET_FULL_SECONDS = 6.0
TARGET_INCREMENTAL_SECONDS = 0.3
TARGET_STEADY_SHARE = 0.6
TARGET_PEAK_RSS_MB = 1536.0


def targets(full: float, incremental: float, steady: float, peak: float,
            applies: bool) -> dict[str, Any]:
    return {
        "applies": applies,  # the figures are set for 1M dossiers on PostgreSQL
        "full_seconds": {"target": TARGET_FULL_SECONDS, "met": full <= TARGET_FULL_SECONDS},
        "incremental_seconds": {"target": TARGET_INCREMENTAL_SECONDS,
                                "met": incremental <= TARGET_INCREMENTAL_SECONDS},
        "steady_rerun_share": {"target": TARGET_STEADY_SHARE,
                               "value": round(steady / full, 2),
                               "met": steady <= TARGET_STEADY_SHARE * full},
        "peak_rss_mb": {"target": TARGET_PEAK_RSS_MB, "met": peak <= TARGET_PEAK_RSS_MB},
    }


@contextmanager
def _built_scratch(kind: str, pg_url: str, n: int,
                   total: int | None = None) -> Iterator[tuple[str, bool]]:
    with scratch_database(kind, pg_url) as url:
        engine = create_engine(url)
        if kind == "postgresql":
            build_postgresql(engine, n, total)
        else:
            build_sqlite(engine, n)
        engine.dispose()
        yield url, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("RECON_BENCH_PG_URL",
                                                                 DEFAULT_PG),
                        help="admin URL of a PostgreSQL server (a scratch database is made "
                             "beside it), or 'sqlite' for a temporary SQLite file")
    parser.add_argument("--reuse-database", metavar="NAME",
                        help="PostgreSQL: build into database NAME beside the admin URL and "
                             "keep it; a later run with the same NAME and --dossiers resets it "
                             "to as built (a few seconds) instead of building again")
    parser.add_argument("--drop-database", metavar="NAME",
                        help="drop a database kept by --reuse-database, and do nothing else")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the plain scan and the peers (quicker, no ratios)")
    parser.add_argument("--history", type=int, metavar="TOTAL",
                        help="PostgreSQL: build TOTAL dossiers of which the newest --dossiers "
                             "are in the open months (from 2026-01-01) and the older ones, in "
                             "the months before, fully paid and settled (no discrepancies)")
    args = parser.parse_args()
    n = args.dossiers
    total = n if args.history is None else args.history
    if total < n:
        raise SystemExit("--history: TOTAL must be at least --dossiers")
    kind = "sqlite" if args.database_url.startswith("sqlite") else "postgresql"
    if kind == "postgresql":
        make_url(args.database_url)  # fail early on a malformed URL
    if args.drop_database:
        drop_database(args.database_url, args.drop_database)
        return
    if args.reuse_database and kind != "postgresql":
        raise SystemExit("--reuse-database is for PostgreSQL")
    if args.history is not None and kind != "postgresql":
        raise SystemExit("--history is for PostgreSQL")
    load_before = round(os.getloadavg()[0], 2)
    t0 = time.perf_counter()
    database: contextlib.AbstractContextManager[tuple[str, bool]] = (
        kept_database(args.database_url, args.reuse_database, n, total) if args.reuse_database
        else _built_scratch(kind, args.database_url, n, total))
    with database as (url, built):
        engine = create_engine(url)
        credited = add_credits(engine, _child_env(url))
        build_seconds = time.perf_counter() - t0
        print(f"{'built' if built else 'reset'} {total:,} dossiers ({n:,} open) in "
              f"{build_seconds:.1f}s" + (f", {credited:,} bank credits added" if credited
                                         else ""), file=sys.stderr)
        with engine.connect() as conn:
            sizes = {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                     for t in ("dossiers", "fee_lines", "payment_intents", "payments",
                               "settlement_lines")}
        if total > n:
            history_postgresql(engine)
        owed_build = build_owed_parts(engine)
        print(f"owed parts built in {owed_build:.1f}s; settling (vacuum, analyse, "
              "checkpoint) before each timed run", file=sys.stderr)
        settled = settle(engine)
        full, full_wall, peak = reconcile_in_child(url, "--full", "--as-of", AS_OF.isoformat())
        print(f"full: {full['seconds']}s, {full['total']:,} discrepancies", file=sys.stderr)
        # the nightly rerun with nothing changed: a second full run at the same as_of (before
        # the peers: a child forked from a parent holding their frames would report its RSS)
        settled += settle(engine)
        steady, _, steady_peak = reconcile_in_child(url, "--full", "--as-of",
                                                    AS_OF.isoformat())
        print(f"steady rerun: {steady['seconds']}s", file=sys.stderr)
        with engine.connect() as conn:  # what the rerun wrote: findings it changed
            steady_written = int(conn.execute(text(
                "SELECT COUNT(*) FROM discrepancies WHERE last_run_id = :r"),
                {"r": steady["run_id"]}).scalar_one())
        # the baselines read the very rows the full runs read (before the new events)
        baselines = not args.no_baselines
        scan = plain_scan_seconds(engine) if kind == "postgresql" and baselines else None
        peers = (run_peers(url, engine, kind, AS_OF, full["counts"], float(full["seconds"]))
                 if baselines else {})
        if kind == "postgresql":
            events_postgresql(engine, n, total)
        else:
            events_sqlite(engine, n)
        settled += settle(engine)
        inc, inc_wall, _ = reconcile_in_child(url, "--incremental", "--as-of",
                                              INCREMENTAL_AS_OF.isoformat())
        print(f"incremental: {inc['seconds']}s", file=sys.stderr)
        engine.dispose()
    records = sizes["dossiers"] + sizes["payments"] + sizes["settlement_lines"]
    full_seconds = float(full["seconds"])
    incremental_seconds = float(inc["seconds"])
    steady_seconds = float(steady["seconds"])
    print(json.dumps({
        "bench": "reconcile",
        "backend": kind,
        "dossiers": n,
        "dossiers_in_all": total,  # more than dossiers with --history
        "rows": sizes,
        "records": records,
        "records_per_second": round(records / full_seconds),
        "full_seconds": full_seconds,
        "full_process_seconds": round(full_wall, 2),
        "full_timings": full.get("timings", {}),
        "full_process_cpu_seconds": full["cpu_seconds"],
        "incremental_seconds": incremental_seconds,
        "incremental_process_seconds": round(inc_wall, 2),
        "steady_rerun_seconds": steady_seconds,
        "steady_rerun_timings": steady.get("timings", {}),
        "steady_rerun_findings_written": steady_written,
        "open_from": full.get("open_from"),
        "peak_rss_mb": round(peak, 1),
        "steady_rerun_peak_rss_mb": round(steady_peak, 1),
        "scan_seconds": None if scan is None else round(scan, 2),
        "scan_ratio": None if scan is None else round(full_seconds / scan, 2),
        "peers": peers,
        "targets": targets(full_seconds, incremental_seconds, steady_seconds, peak,
                           applies=kind == "postgresql" and n == 1_000_000 and total == n),
        "discrepancies": full["counts"],
        "steady_rerun_discrepancies": steady["counts"],
        "incremental": {k: inc[k] for k in ("new", "still_open", "auto_resolved", "loaded")},
        "build_seconds": round(build_seconds, 1),
        "settle_seconds": round(settled, 1),  # vacuum, analyse, checkpoint before each run
        "owed_build_seconds": round(owed_build, 2),
        "database_built": built,
        # the machine is shared: how busy it was (1-minute load average, 2 cores here)
        "load_average": [load_before, round(os.getloadavg()[0], 2)],
    }))


if __name__ == "__main__":
    main()
