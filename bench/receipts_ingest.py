"""Webhook ingest with e-receipts on against off, in one run (issue 19: at most 25 % slower).

    .venv/bin/python bench/receipts_ingest.py [--backends sqlite,postgresql] [--rounds 3]
        [--duration 8] [--connections 16] [--threads 8] [--intents 40000]

Per backend: two scratch databases seeded alike, two gunicorn servers (``-w 3``, gthread) on
them, one with ``RECON_RECEIPTS=off`` and one with ``RECON_RECEIPTS=on`` (a throw-away 2048-bit
key in a PKCS#12 file). wrk replays correctly signed POS sales, each paying a different open
intent of a dossier whose fees it pays in full, so with receipts on every request also draws a
number, builds, validates and signs a receipt in the payment's transaction. Rounds alternate
off and on (other work on the machine falls on both); the medians, the server CPU per request
and the ratio on/off are printed as one JSON line per backend. Afterwards every callback must
have made one payment, and with receipts on one issued receipt, numbered 1..N without a gap.
Uses bench/webhooks.py's seeding, payloads and wrk script.

A third server runs ``RECON_RECEIPTS=on`` with ``RECON_RECEIPTS_ISSUE=worker``: the webhook
keeps its fast path and issues nothing (no scheduler runs in the bench's gunicorn). After the
rounds, the sweep the scheduler would run (``issuing.sweep_owed``, batches of one block of
numbers each) issues the backlog of every payment of the worker's rounds in this process, timed:
``worker_catch_up`` gives its seconds and receipts per second, and that worker database must then
hold one receipt per payment, numbered 1..N without a gap. ``--modes off,on`` skips it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.common import DEFAULT_PG, scratch_database
from bench.procs import children
from bench.webhooks import (
    LUA,
    Endpoint,
    Payloads,
    _cpu_seconds,
    free_port,
    integrity,
    seed,
    start_server,
    stop_server,
    wrk,
)
from recon.clock import SystemClock
from recon.db import Database
from recon.models import Receipt
from recon.receipts.issuing import Receipting, sweep_owed
from recon.receipts.numbering import gaps
from recon.receipts.settings import ReceiptSettings
from tests.receipts.keys import PASSWORD, make_keys

INGEST = Endpoint("ingest", "/webhooks/pos")
MODES = ("off", "on", "worker")
#: the server environment of each mode (``worker``: receipts on, issued by the sweep)
MODE_ENV = {"off": {"RECON_RECEIPTS": "off"}, "on": {"RECON_RECEIPTS": "on"},
            "worker": {"RECON_RECEIPTS": "on", "RECON_RECEIPTS_ISSUE": "worker"}}


def server_cpu(pid: int, url: str) -> float:
    """CPU seconds of gunicorn (master and workers) and, on PostgreSQL, of the database's
    backends: a cost other load on the machine barely skews."""
    total = sum(_cpu_seconds(p) for p in [pid, *children(pid)])
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            pids = [int(r[0]) for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()").fetchall()]
        total += sum(_cpu_seconds(p) for p in pids)
    return total


def receipts_check(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        with db.read() as s:
            numbers = list(s.scalars(select(Receipt.number).where(Receipt.status == "issued")))
            other = s.scalar(select(func.count()).select_from(Receipt).where(
                Receipt.status != "issued")) or 0
    finally:
        db.dispose()
    return {"receipts": len(numbers), "not_issued": other, "gaps": len(gaps(numbers)),
            "reused": len(numbers) - len(set(numbers))}


def catch_up(url: str, p12: Path) -> dict[str, Any]:
    """Time the worker's sweep over the backlog the worker-mode rounds left (nothing issued)."""
    import time

    env = {"RECON_RECEIPTS": "on", "RECON_RECEIPTS_ISSUE": "worker",
           "RECON_RECEIPT_P12_FILE": str(p12), "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
           "RECON_RECEIPT_TAX_CODE": "3300101234"}
    receipts = Receipting(ReceiptSettings.from_env(env))
    receipts.signer()  # the key is loaded once per process, before the clock starts
    db = Database(url)
    try:
        start = time.perf_counter()
        issued = sweep_owed(db, SystemClock(), receipts, actor="bench:sweep")
        seconds = time.perf_counter() - start
    finally:
        db.dispose()
    return {"receipts": issued, "seconds": round(seconds, 2),
            "receipts_per_s": round(issued / seconds, 1) if seconds else None}


def run_backend(kind: str, args: argparse.Namespace, tmp: Path, script: Path,
                p12: Path) -> dict[str, Any]:
    modes = tuple(args.modes.split(","))
    load_before = round(os.getloadavg()[0], 2)
    with ExitStack() as stack:
        urls = {mode: stack.enter_context(scratch_database(kind, args.pg_url)) for mode in modes}
        payloads = {mode: Payloads(tmp, seed(urls[mode], args.intents), "pos")
                    for mode in modes}
        servers: dict[str, Any] = {}
        ports: dict[str, int] = {}
        try:
            for mode in modes:
                ports[mode] = free_port()
                extra = {**MODE_ENV[mode], "RECON_RECEIPT_P12_FILE": str(p12),
                         "RECON_RECEIPT_P12_PASSWORD": PASSWORD,
                         "RECON_RECEIPT_TAX_CODE": "3300101234"}
                servers[mode] = start_server(urls[mode], ports[mode], args.threads,
                                             tmp / f"gunicorn-{kind}-{mode}.log", extra)
            expected = {mode: 1500.0 for mode in modes}
            for mode in modes:  # warm every worker, pool, prepared statement and the key
                warm = wrk(f"http://127.0.0.1:{ports[mode]}", INGEST,
                           payloads[mode].write(f"{kind}-{mode}", int(expected[mode] * 3)),
                           script, connections=args.connections, seconds=2)
                expected[mode] = max(warm["rps"] * 1.5, 100.0)
            runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
            for round_no in range(args.rounds):
                for mode in modes:
                    count = int(expected[mode] * args.duration * 1.6)
                    payload = payloads[mode].write(f"{kind}-{mode}", count)
                    before = server_cpu(servers[mode].pid, urls[mode])
                    peak = wrk(f"http://127.0.0.1:{ports[mode]}", INGEST, payload, script,
                               connections=args.connections, seconds=args.duration)
                    spent = server_cpu(servers[mode].pid, urls[mode]) - before
                    peak["server_cpu_ms_per_request"] = round(
                        1000 * spent / max(peak["requests"], 1), 3)
                    runs[mode].append(peak)
                    expected[mode] = max(expected[mode], peak["rps"] * 1.2)
                    print(json.dumps({"bench": "receipts_ingest", "backend": kind,
                                      "receipts": mode, "round": round_no + 1,
                                      "rps": peak["rps"], "p50_ms": peak["p50_ms"],
                                      "p99_ms": peak["p99_ms"],
                                      "status_errors": peak["status_errors"],
                                      "cpu_ms": peak["server_cpu_ms_per_request"]}),
                          flush=True)
        finally:
            for server in servers.values():
                stop_server(server)
        checks = {mode: integrity(urls[mode]) for mode in modes}
        issued = receipts_check(urls["on"])
        worker: dict[str, Any] | None = None
        if "worker" in modes:
            left = receipts_check(urls["worker"])["receipts"]  # the webhook issued none
            worker = {"issued_by_webhook": left, **catch_up(urls["worker"], p12)}
            worker["after"] = after = receipts_check(urls["worker"])
            worker["receipt_per_payment"] = (after["receipts"] == checks["worker"]["payments"]
                                             and after["gaps"] == 0 and after["reused"] == 0)
    summary: dict[str, Any] = {
        "bench": "receipts_ingest", "summary": True, "backend": kind,
        "server": f"gunicorn -w 3 -k gthread --threads {args.threads}",
        "connections": args.connections, "duration_s": args.duration, "rounds": args.rounds,
        "cpus": os.cpu_count(), "load_avg_1m": load_before,
        "load_avg_1m_after": round(os.getloadavg()[0], 2)}
    for mode in modes:
        summary[f"receipts_{mode}_rps"] = statistics.median(r["rps"] for r in runs[mode])
        summary[f"receipts_{mode}_rps_runs"] = [r["rps"] for r in runs[mode]]
        summary[f"receipts_{mode}_p99_ms"] = statistics.median(r["p99_ms"] for r in runs[mode])
        summary[f"receipts_{mode}_cpu_ms_per_request"] = statistics.median(
            r["server_cpu_ms_per_request"] for r in runs[mode])
        summary[f"receipts_{mode}_status_errors"] = sum(r["status_errors"] for r in runs[mode])
        summary[f"integrity_{mode}"] = checks[mode]
    # per round, then the median: both modes of a round saw the same load
    ratio = statistics.median(on["rps"] / off["rps"]
                              for off, on in zip(runs["off"], runs["on"], strict=True))
    summary["on_over_off"] = round(ratio, 3)
    summary["slower_pct"] = round(100 * (1 - ratio), 1)
    summary["cpu_on_over_off"] = round(summary["receipts_on_cpu_ms_per_request"]
                                       / summary["receipts_off_cpu_ms_per_request"], 2)
    summary["receipts_issued"] = issued
    summary["target_at_most_25pct_slower"] = ratio >= 0.75
    summary["receipt_per_payment"] = issued["receipts"] == checks["on"]["payments"] and \
        issued["gaps"] == 0 and issued["reused"] == 0
    if worker is not None:
        ratio = statistics.median(on["rps"] / off["rps"]
                                  for off, on in zip(runs["off"], runs["worker"], strict=True))
        summary["worker_over_off"] = round(ratio, 3)
        summary["worker_slower_pct"] = round(100 * (1 - ratio), 1)
        summary["worker_target_at_most_25pct_slower"] = ratio >= 0.75
        summary["worker_catch_up"] = worker
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="off,on (the issue's comparison) and worker (RECON_RECEIPTS_ISSUE)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8,
                        help="gthread threads per worker (1 = sync workers)")
    parser.add_argument("--intents", type=int, default=40_000,
                        help="open intents seeded per database (each request uses one)")
    parser.add_argument("--pg-url", default=os.environ.get("RECON_BENCH_PG_URL", DEFAULT_PG))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "signed.lua"
        script.write_text(LUA)
        p12, _ = make_keys(tmp)
        for kind in args.backends.split(","):
            print(json.dumps(run_backend(kind, args, tmp, script, p12)), flush=True)


if __name__ == "__main__":
    main()
