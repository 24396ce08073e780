"""The cost of 0040's span triggers on a settlement import (PostgreSQL).

    .venv/bin/python bench/import_spans.py [--rows 100000] [--pg-url URL]

A scratch database holds 2 × ROWS VNPay payments of November; four canonical CSV files of ROWS
lines each (their transactions, settled in December: most lines widen their transaction's
span) are imported with ``import_settlement`` in turn, the insert trigger of
``settlement_lines`` on, off, on, off (``ALTER TABLE … DISABLE TRIGGER``). Prints each import's
seconds and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.common import DEFAULT_PG, scratch_database
from recon.clock import FixedClock
from recon.db import Database
from recon.settlements.importer import import_settlement

HEADER = "provider_txn_id,amount,fee,transaction_at,settled_on,net_amount,reference\n"
PAYMENTS = """
INSERT INTO payments (provider, provider_txn_id, channel, amount, status, paid_at, received_at,
                      recorded_by, updated_at)
SELECT 'vnpay', 'T' || i, 'vnpay', 100000, 'succeeded',
       timestamptz '2026-11-20 03:00+00' + (i || ' seconds')::interval, now(), 'bench', now()
FROM generate_series(0, :n * 2) i
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    args = parser.parse_args()
    rows: int = args.rows
    seconds: dict[str, list[float]] = {"on": [], "off": []}
    with scratch_database("postgresql", args.pg_url) as url:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(PAYMENTS), {"n": rows})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        db = Database(url)
        clock = FixedClock(datetime(2026, 12, 10, 3, tzinfo=UTC))
        for n, on in enumerate((True, False, True, False)):
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE settlement_lines {'ENABLE' if on else 'DISABLE'} "
                                  "TRIGGER settlement_lines_spans_insert"))
            low = n * (rows // 2)
            body = "".join(f"T{i},100000,1000,2026-11-20 10:00:00,2026-12-0{n + 1},99000,\n"
                           for i in range(low, low + rows))
            started = time.perf_counter()
            import_settlement(db, clock, "vnpay", (HEADER + body).encode(), f"f{n}.csv",
                              actor="bench")
            took = time.perf_counter() - started
            seconds["on" if on else "off"].append(round(took, 2))
            print(f"import {n + 1} of 4, triggers {'on' if on else 'off'}: {took:.2f} s",
                  flush=True)
        db.dispose()
        engine.dispose()
    print(json.dumps({"bench": "import_spans", "rows": rows, "seconds": seconds}))


if __name__ == "__main__":
    main()
