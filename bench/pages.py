"""Finance pages at scale: 100,000 discrepancies on PostgreSQL, server time of the queue and the
detail page.

    python bench/pages.py [--discrepancies 100000] [--requests 30] [--agency B2] \\
        [--database-url postgresql+psycopg://postgres@127.0.0.1/test]

``--agency CODE`` logs in a finance user of that agency only (issue 16): every query carries
the agency scope's conditions.

A scratch database is made beside the given (admin) URL and dropped afterwards. The data is
bulk-generated with set-based SQL: 100,000 dossiers (fee lines, a paid intent each), 100,000
payments with their raw callbacks, ~80,000 settlement lines in 60 files, 12 runs, the
discrepancies (every kind; 80 % open, 15 % resolved, 5 % auto-resolved; detected over 120
days) and 300,000 audit events. Then, with the Flask test client and a logged-in finance user
(server time: routing, policy, queries, template, no network), each page is requested N times
and the median and 95th percentile are printed, against a 300 ms target:

- the queue's first page (open, oldest first, with the total count);
- a filtered page (two kinds, a provider, a date range, an amount range, largest first);
- a page filtered by agency and payment channel;
- a deep page (keyset cursor three quarters of the way through the open queue);
- a search by provider transaction id, and one by dossier code;
- the detail page of a discrepancy (dossier, fee lines, intents, payments, callbacks,
  settlement lines and files, runs, related discrepancies, audit trail);
- the dashboard, for information.

Prints a table and one JSON line; exits 1 if a page misses the target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from bench.common import DEFAULT_PG, scratch_database

TARGET_MS = 300.0

BUILD = """
INSERT INTO agencies (id, code, name, bank_bin, account_number, account_name, created_at)
SELECT a, 'B' || a, 'Trung tâm bench ' || a, '970415', '11300000000' || a, 'TTHCC BENCH', now()
FROM generate_series(1, 6) a;
INSERT INTO procedures (id, code, name, field, created_at)
SELECT p, '1.00' || lpad(p::text, 4, '0'), 'Thủ tục số ' || p, 'Lĩnh vực ' || (p % 8), now()
FROM generate_series(1, 40) p;
INSERT INTO recon_runs (id, mode, as_of, window_start, started_at, finished_at, status,
                        triggered_by, dry_run, counts)
SELECT r, 'full', now() - (12 - r) * interval '10 days', NULL,
       now() - (12 - r) * interval '10 days', now() - (12 - r) * interval '10 days', 'succeeded',
       'bench', false, '{}'
FROM generate_series(1, 12) r;
INSERT INTO settlement_files (id, provider, filename, sha256, size, content, source, profile,
                              imported_at, imported_by, row_count, total_amount)
SELECT f, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[1 + f % 5], 'bench-' || f || '.csv',
       lpad(f::text, 64, '0'), 24, convert_to('provider_txn_id,amount', 'UTF8'), 'upload',
       'canonical', now(), 'bench', 0, 0
FROM generate_series(1, 60) f;

CREATE TEMP TABLE g AS
SELECT i, 1 + i % 5 AS prov, 100000 + (i % 9) * 5000 AS total,
       now() - (i % 120) * interval '1 day' - (i % 1440) * interval '1 minute' AS at
FROM generate_series(1, :n) i;

INSERT INTO dossiers (id, code, agency_id, procedure_id, applicant_name, received_at,
                      received_channel, status, created_at, updated_at)
SELECT i, '000.00.21.H57-B-' || lpad(i::text, 8, '0'), 1 + i % 6, 1 + i % 40,
       'Nguyễn Văn Bench', at - interval '1 hour',
       (ARRAY['counter','online','postal'])[1 + i % 3], 'received', at, at
FROM g;
INSERT INTO fee_lines (id, dossier_id, position, kind, name, amount)
SELECT i, i, 0, 'le_phi', 'Lệ phí', total FROM g;
INSERT INTO payment_intents (id, dossier_id, channel, amount, reference, status, created_by,
                             created_at, expires_at, paid_at, closed_at, updated_at, qr_payload)
SELECT i, i, (ARRAY['vnpay','momo','zalopay','payos','vietqr'])[prov], total,
       'HSB' || i, 'paid', 'bench', at - interval '5 minutes', at + interval '10 minutes',
       at, at, at, CASE WHEN prov = 5 THEN '00020101021238570010A000000727' || i END
FROM g;
INSERT INTO callbacks (id, provider, received_at, method, path, query_string, headers, body,
                       signature_valid, outcome, provider_txn_id, payment_id, response_status)
SELECT i, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], at, 'POST',
       '/webhooks/' || (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], '',
       '{"Content-Type": "application/json", "X-Signature": "abc"}',
       convert_to('{"id": ' || i || ', "amount": ' || total || ', "content": "HSB' || i ||
                  ' NGUYEN VAN A", "signature": "0123456789abcdef"}', 'UTF8'),
       true, 'accepted', 'TX' || i, i, 200
FROM g;
INSERT INTO payments (id, provider, provider_txn_id, channel, amount, status, paid_at,
                      received_at, reference, intent_id, dossier_id, callback_id, recorded_by,
                      updated_at)
SELECT i, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], 'TX' || i,
       (ARRAY['vnpay','momo','zalopay','payos','vietqr'])[prov], total, 'succeeded', at, at,
       'HSB' || i, i, i, i, 'bench', at
FROM g;
INSERT INTO settlement_lines (id, file_id, line_no, provider, provider_txn_id, amount, fee, net,
                              transaction_at, settled_on, reference, created_at)
SELECT i, 1 + i % 60, i, (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], 'TX' || i,
       total, total / 100, total - total / 100, at, (at + interval '1 day')::date, 'HSB' || i,
       at + interval '1 day'
FROM g WHERE i % 5 <> 0;

INSERT INTO discrepancies (id, identity, kind, status, dossier_id, payment_id,
                           settlement_line_id, provider, expected_amount, actual_amount, delta,
                           explanation, explanation_en, within_tolerance, detected_at,
                           first_run_id, last_run_id, resolution_type, resolution_note,
                           resolved_by, resolved_at, updated_at)
SELECT i, k || '/bench/' || i, k,
       CASE WHEN i % 20 < 16 THEN 'open' WHEN i % 20 < 19 THEN 'resolved'
            ELSE 'auto_resolved' END,
       i, CASE WHEN k IN ('underpaid', 'overpaid') THEN NULL ELSE i END,
       CASE WHEN k IN ('amount_mismatch', 'duplicate_settlement', 'status_mismatch',
                       'unexpected_settlement') AND i % 5 <> 0 THEN i END,
       (ARRAY['vnpay','momo','zalopay','payos','sepay'])[prov], total,
       total + d, d,
       'Giao dịch TX' || i || ' chênh lệch ' || d || ' đồng so với số phải thu.',
       'Transaction TX' || i || ' differs by ' || d || ' VND.', false, at,
       1 + i % 6, 12,
       CASE WHEN i % 20 BETWEEN 16 AND 18 THEN 'provider_corrected' END,
       CASE WHEN i % 20 BETWEEN 16 AND 18 THEN 'bench' END,
       CASE WHEN i % 20 BETWEEN 16 AND 18 THEN 'user:bench' END,
       CASE WHEN i % 20 BETWEEN 16 AND 18 THEN at + interval '1 day' END, at
FROM (SELECT g.*,
             (ARRAY['underpaid','overpaid','duplicate_payment','unmatched_payment',
                    'missing_settlement','unexpected_settlement','amount_mismatch',
                    'duplicate_settlement','status_mismatch'])[1 + i % 9] AS k,
             ((i * 7919) % 400 - 200) * 1000 AS d
      FROM g) x;

INSERT INTO audit_events (id, occurred_at, actor, action, entity_type, entity_id, data,
                          prev_hash, hash)
SELECT e, now() - (e % 1000) * interval '1 minute', 'bench',
       (ARRAY['payment.recorded','intent.created','dossier.created'])[1 + e % 3],
       (ARRAY['payment','payment_intent','dossier'])[1 + e % 3],
       CASE WHEN e % 3 = 2 THEN '000.00.21.H57-B-' || lpad((1 + e / 3)::text, 8, '0')
            ELSE (1 + e / 3)::text END,
       '{}', md5((e - 1)::text) || md5((e - 1)::text), md5(e::text) || md5(e::text)
FROM generate_series(1, 3 * :n) e
"""

SEQUENCES = ("agencies", "procedures", "recon_runs", "settlement_files", "dossiers",
             "fee_lines", "payment_intents", "callbacks", "payments", "settlement_lines",
             "discrepancies", "audit_events")


def build(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        for statement in (s.strip() for s in BUILD.split(";\n") if s.strip()):
            conn.execute(text(statement), {"n": n})
        for table in SEQUENCES:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT MAX(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


def measure(url: str, n: int, requests: int,
            agency: str | None = None) -> dict[str, dict[str, float]]:
    os.environ.update({"RECON_DATABASE_URL": url, "RECON_ENV": "test",
                       "RECON_SECRET_KEY": "bench-pages-secret-0123456789abcdef",
                       "RECON_INSTANCE_PATH": "/tmp/recon-bench-pages"})
    from recon import create_app
    from recon.accounts.auth import create_user
    from recon.accounts.scopes import set_user_scope
    from recon.clock import SystemClock
    from recon.models import User

    app = create_app()
    db = app.extensions["recon.db"]
    with db.transaction() as s:
        if not s.scalar(select(User.id).where(User.username == "bench")):
            user = create_user(s, SystemClock(), username="bench", role="finance",
                               password="bench-password-2021")
            if agency is not None:  # issue 16: a finance officer of one agency
                set_user_scope(s, SystemClock(), user.id, [agency])
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        csrf = sess["csrf"]
    assert client.post("/login", data={"username": "bench", "password": "bench-password-2021",
                                       "csrf_token": csrf}).status_code == 302
    engine = create_engine(url)
    with engine.connect() as conn:
        at, deep_id = conn.execute(text(
            "SELECT detected_at, id FROM discrepancies WHERE status = 'open' "
            "ORDER BY detected_at, id OFFSET :o LIMIT 1"), {"o": int(n * 0.8 * 0.75)}).one()
        mine = ("" if agency is None else
                "AND (dossier_id IN (SELECT d.id FROM dossiers d JOIN agencies a "
                "ON a.id = d.agency_id WHERE a.code = :agency) OR payment_id IN (SELECT p.id "
                "FROM payments p JOIN dossiers d ON d.id = p.dossier_id JOIN agencies a "
                "ON a.id = d.agency_id WHERE a.code = :agency)) ")
        which = ("kind = 'amount_mismatch' AND settlement_line_id IS NOT NULL"
                 if agency is None else "TRUE")  # of the agency: whatever kind it has
        detail_id = conn.execute(text(
            f"SELECT id FROM discrepancies WHERE {which} {mine}ORDER BY id "
            f"OFFSET {1000 if agency is None else 100} LIMIT 1"),
            {"agency": agency}).scalar_one()
        since, until = conn.execute(text(
            "SELECT (now() - interval '40 days')::date, (now() - interval '10 days')::date")).one()
    engine.dispose()
    from urllib.parse import quote

    cursor = quote(f"{at.isoformat()}~{deep_id}")
    probe = n // 2 + 17
    pages = {
        "queue: first page": "/finance/discrepancies",
        "queue: filtered": (f"/finance/discrepancies?kind=missing_settlement&kind=amount_mismatch"
                            f"&provider=vnpay&from={since}&to={until}&min=10000&max=150000"
                            "&sort=amount_desc"),
        "queue: agency + channel": "/finance/discrepancies?agency=B2&channel=momo&sort=newest",
        "queue: deep page": f"/finance/discrepancies?after={cursor}",
        "queue: search txn id": f"/finance/discrepancies?q=TX{probe}&status=all",
        "queue: search dossier": (f"/finance/discrepancies?q=000.00.21.H57-B-{probe:08d}"
                                  "&status=all"),
        "detail page": f"/finance/discrepancies/{detail_id}",
        "dashboard (info)": "/finance",
    }
    out: dict[str, dict[str, float]] = {}
    for name, path in pages.items():
        first = client.get(path)
        assert first.status_code == 200, (path, first.status_code, first.data[:300])
        if "search" in name and agency is None:  # the probe may be of another agency
            assert b"queue-row" in first.data, name
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            response = client.get(path)
            response.get_data()
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        out[name] = {"median_ms": round(statistics.median(times), 1), "p95_ms": round(p95, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--discrepancies", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("RECON_BENCH_PG_URL",
                                                                 DEFAULT_PG),
                        help="admin URL of a PostgreSQL server (a scratch database is made "
                             "beside it)")
    parser.add_argument("--agency", default=None, metavar="CODE",
                        help="measure as a finance user of this agency only (B1…B6; issue 16)")
    args = parser.parse_args()
    n = args.discrepancies
    with scratch_database("postgresql", args.database_url) as url:
        engine = create_engine(url)
        t0 = time.perf_counter()
        build(engine, n)
        engine.dispose()
        build_seconds = time.perf_counter() - t0
        print(f"built {n:,} discrepancies (and their world) in {build_seconds:.1f}s",
              file=sys.stderr)
        results = measure(url, n, args.requests, args.agency)
    slow = []
    print(f"{'page':<26} {'median':>9} {'p95':>9}", file=sys.stderr)
    for name, r in results.items():
        over = r["p95_ms"] > TARGET_MS and "info" not in name
        print(f"{name:<26} {r['median_ms']:>7.1f}ms {r['p95_ms']:>7.1f}ms"
              f"{'  > 300 ms' if over else ''}", file=sys.stderr)
        if over:
            slow.append(name)
    summary: dict[str, Any] = {"bench": "pages", "backend": "postgresql", "discrepancies": n,
                               "requests": args.requests, "target_ms": TARGET_MS,
                               "agency": args.agency,
                               "pages": results, "build_seconds": round(build_seconds, 1),
                               "ok": not slow}
    print(json.dumps(summary, ensure_ascii=False))
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
